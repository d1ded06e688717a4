/*
 * rights_json.c
 *		What export and erasure build their documents and audit entries
 *		with: jsonb values pushed piece by piece, and an audit entry queued
 *		the way privacy_internal._audit() queues one.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "rights/rights.h"

extern PGDLLEXPORT Datum privacy_audit_append(PG_FUNCTION_ARGS);

void
rights_push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

void
rights_push_string(JsonbParseState **state, JsonbIteratorToken seq, const char *value)
{
	JsonbValue	v;

	if (value == NULL)
	{
		rights_push_null(state, seq);
		return;
	}
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, seq, &v);
}

void
rights_push_int(JsonbParseState **state, JsonbIteratorToken seq, int64 value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	pushJsonbValue(state, seq, &v);
}

void
rights_push_bool(JsonbParseState **state, JsonbIteratorToken seq, bool value)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(state, seq, &v);
}

void
rights_push_null(JsonbParseState **state, JsonbIteratorToken seq)
{
	JsonbValue	v;

	v.type = jbvNull;
	pushJsonbValue(state, seq, &v);
}

/* Pushes a whole jsonb value (NULL: JSON null) as one value or element. */
void
rights_push_jsonb(JsonbParseState **state, JsonbIteratorToken seq, Jsonb *value)
{
	JsonbValue	v;

	if (value == NULL)
	{
		rights_push_null(state, seq);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	pushJsonbValue(state, seq, &v);
}

/* A key and its value, in the object being built. */
void
rights_push_pair_string(JsonbParseState **state, const char *key, const char *value)
{
	rights_push_key(state, key);
	rights_push_string(state, WJB_VALUE, value);
}

void
rights_push_pair_int(JsonbParseState **state, const char *key, int64 value)
{
	rights_push_key(state, key);
	rights_push_int(state, WJB_VALUE, value);
}

void
rights_push_pair_bool(JsonbParseState **state, const char *key, bool value)
{
	rights_push_key(state, key);
	rights_push_bool(state, WJB_VALUE, value);
}

void
rights_push_pair_jsonb(JsonbParseState **state, const char *key, Jsonb *value)
{
	rights_push_key(state, key);
	rights_push_jsonb(state, WJB_VALUE, value);
}

/* Pushes the key/value pairs of a jsonb object into the object being built. */
void
rights_push_pairs(JsonbParseState **state, Jsonb *object)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (object == NULL || !JB_ROOT_IS_OBJECT(object))
		return;
	it = JsonbIteratorInit(&object->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY || tok == WJB_VALUE)
			pushJsonbValue(state, tok, &v);
	}
}

/* Ends the object being built and returns it. */
Jsonb *
rights_finish_object(JsonbParseState **state)
{
	return JsonbValueToJsonb(pushJsonbValue(state, WJB_END_OBJECT, NULL));
}

Datum
rights_result(int col, bool *isnull)
{
	if (SPI_processed < 1)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Queues an audit entry through privacy_internal._audit_append(), with what
 * privacy_internal._audit(SESSION_USER, ...) gives it: the time now, the session's
 * user as actor and session role.
 */
void
rights_audit(const char *action, text *subject_ref, bool has_request, int64 request_id,
			 Jsonb *summary)
{
	LOCAL_FCINFO(fcinfo, 7);
	NameData	actor;

	namestrcpy(&actor, GetUserNameFromId(GetSessionUserId(), false));
	InitFunctionCallInfoData(*fcinfo, NULL, 7, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = TimestampTzGetDatum(GetCurrentTimestamp());
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = NameGetDatum(&actor);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = NameGetDatum(&actor);
	fcinfo->args[2].isnull = false;
	fcinfo->args[3].value = CStringGetTextDatum(action);
	fcinfo->args[3].isnull = false;
	fcinfo->args[4].value = PointerGetDatum(subject_ref);
	fcinfo->args[4].isnull = subject_ref == NULL;
	fcinfo->args[5].value = Int64GetDatum(request_id);
	fcinfo->args[5].isnull = !has_request;
	fcinfo->args[6].value = JsonbPGetDatum(summary);
	fcinfo->args[6].isnull = false;
	(void) privacy_audit_append(fcinfo);
}
