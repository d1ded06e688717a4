/*
 * export.c
 *		privacy.export_subject(kind, subject) and
 *		privacy_internal._export_subject(kind, subject, request_id): every personal
 *		row of a subject across its kind's subject map, with what GDPR Art.
 *		15 requires besides (purposes, legal bases, categories, sources,
 *		recipients, retention periods, consent history, disclosures,
 *		rights), as one jsonb document; audited.
 *
 * The subject's canonical key is computed once; then one statement per
 * owner of the kind's personal tables reads those tables' rows of the
 * subject as that owner (owner_run.c), the first, as the anchor's owner,
 * finding the subject (by the anchor's rows, or by its own test where the
 * anchor holds no personal data); then its consent history and
 * disclosures are read through their indexes (export_history.c). All of
 * them read with the snapshot of the statement that called the export, so
 * the export sees the subject whole or not at all, never a mix of rows
 * before and after another transaction's erasure or update. Everything
 * else in the document (the policy's sections, each table's categories,
 * the entries of the categories, sources and retention sections with the
 * tables they concern) is read once per kind into the subject cache; the
 * document keeps the entries that concern a table with rows.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "rights/rights.h"

PG_FUNCTION_INFO_V1(privacy_export_subject);
PG_FUNCTION_INFO_V1(privacy_export_subject_for_request);

/* The rows read for each personal table (NULL: none). */
typedef struct ExportRows
{
	Jsonb	  **rows;
	int			tables;
	int64		row_count;
} ExportRows;

/*
 * Reads every personal table's rows of the subject, one statement per
 * owner; the first, as the anchor's owner, finds the subject first (an
 * error if it does not exist).
 */
static void
read_rows(SubjectKind *kind, const char *key, ExportRows *result)
{
	Datum		values[1] = {CStringGetTextDatum(key)};

	result->rows = palloc0(sizeof(Jsonb *) * Max(kind->npersonal, 1));
	result->tables = 0;
	result->row_count = 0;
	for (int g = 0; g < kind->ngroups; g++)
	{
		ExportGroup *group = &kind->groups[g];
		int			first = group->exists_column ? 2 : 1;
		bool		isnull;
		bool		found = true;

		/*
		 * Where Citus manages an anchor that holds no personal data, a
		 * statement of its own asks whether the subject exists, which Citus
		 * routes to the subject's shard.
		 */
		if (group->finds_subject && group->anchor_table < 0 && !group->exists_column)
			found = subject_exists(kind, key, false);
		if (found &&
			(rights_run_as_owner(kind, &group->read, true, group->owner, group->description,
								 group->single, values, NULL, true, 0) != SPI_OK_SELECT ||
			 SPI_processed != 1))
			elog(ERROR, "the export read no row");
		if (found && group->finds_subject && group->anchor_table >= 0)
		{
			/* the anchor's rows: none, no subject */
			(void) rights_result(first + group->anchor_table, &isnull);
			found = !isnull;
		}
		else if (found && group->exists_column)
			found = DatumGetBool(rights_result(1, &isnull));
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("subject of kind \"%s\" does not exist", kind->name)));
		for (int j = 0; j < group->ntables; j++)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, j + first, &isnull);
			Jsonb	   *rows;

			if (isnull)
				continue;
			rows = DatumGetJsonbP(d);
			result->rows[group->tables[j]] = rows;
			result->tables++;
			result->row_count += JsonContainerSize(&rows->root);
		}
	}
}

/* One of the categories, sources and retention sections: the entries of tables with rows. */
static void
push_section(JsonbParseState **state, SubjectKind *kind, ExportSection section, const ExportRows *rows)
{
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < kind->nentries[section]; i++)
	{
		ExportEntry *e = &kind->entries[section][i];

		for (int k = 0; k < e->ntables; k++)
			if (rows->rows[e->tables[k]] != NULL)
			{
				rights_push_jsonb(state, WJB_ELEM, e->entry);
				break;
			}
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* The export document. */
static Jsonb *
build_document(SubjectKind *kind, const char *key, const char *generated_at, Jsonb *history,
			   Jsonb *disclosures, const ExportRows *rows)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pairs(&state, kind->policy_sections);
	rights_push_key(&state, "subject");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_string(&state, "kind", kind->name);
	rights_push_pair_string(&state, "key", key);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	rights_push_pair_string(&state, "generated_at", generated_at);
	rights_push_key(&state, "data");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < kind->npersonal; i++)
	{
		if (rows->rows[i] == NULL)
			continue;
		rights_push_key(&state, kind->personal[i]->name);
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		rights_push_pair_jsonb(&state, "categories", kind->personal[i]->categories);
		rights_push_pair_jsonb(&state, "rows", rows->rows[i]);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	rights_push_key(&state, "categories");
	push_section(&state, kind, EXPORT_CATEGORIES, rows);
	rights_push_key(&state, "sources");
	push_section(&state, kind, EXPORT_SOURCES, rows);
	rights_push_key(&state, "retention");
	push_section(&state, kind, EXPORT_RETENTION, rows);
	rights_push_pair_jsonb(&state, "consent_history", history);
	rights_push_pair_jsonb(&state, "disclosures", disclosures);
	return rights_finish_object(&state);
}

/* The audit entry's summary: how many tables and rows were exported. */
static Jsonb *
export_summary(const ExportRows *rows)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_int(&state, "tables", rows->tables);
	rights_push_pair_int(&state, "rows", rows->row_count);
	return rights_finish_object(&state);
}

/* The export of a subject, audited (see the file's header). */
static Jsonb *
export_subject(FunctionCallInfo fcinfo, bool has_request, int64 request_id)
{
	MemoryContext context = CurrentMemoryContext;
	char	   *name;
	char	   *subject;
	SubjectKind *kind = NULL;
	Jsonb	   *document = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind and subject must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	subject = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_TRY();
	{
		char	   *key;
		text	   *ref;
		Jsonb	   *history;
		Jsonb	   *disclosures;
		ExportRows	rows;

		/* the key is checked before the kind's tables are read */
		kind = subject_kind_acquire(name, false);
		key = subject_canonical_key(kind, subject);
		if (!kind->tables_built)
		{
			subject_kind_release(kind);
			kind = NULL;
			kind = subject_kind_acquire(name, true);
		}

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		read_rows(kind, key, &rows);
		ref = subject_reference(kind->name, key);
		history = rights_consent_history(kind->name, key, ref);
		disclosures = rights_disclosures(kind->name, ref);

		MemoryContextSwitchTo(context);
		document = build_document(kind, key, rights_generated_at(), history, disclosures, &rows);
		rights_audit("export", ref, has_request, request_id, export_summary(&rows));
		SPI_finish();
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	return document;
}

/* privacy.export_subject(kind text, subject text) → jsonb */
Datum
privacy_export_subject(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(export_subject(fcinfo, false, 0));
}

/*
 * privacy_internal._export_subject(kind text, subject text, request_id bigint) →
 * jsonb: the export, audited as fulfilling the request (NULL: none).
 */
Datum
privacy_export_subject_for_request(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(export_subject(fcinfo, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2)));
}
