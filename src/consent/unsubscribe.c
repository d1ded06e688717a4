/*
 * unsubscribe.c
 *		SQL wrappers around the pure token code in unsubscribe_token.c:
 *		signing and verifying unsubscribe tokens with the extension's token
 *		key. The checks (does the subject exist, is the purpose a consent
 *		purpose) and the withdrawal itself are in SQL, in
 *		privacy.unsubscribe_token() and privacy.unsubscribe().
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "base/compat.h"
#include "base/keys.h"
#include "pure/unsubscribe_token.h"

PG_FUNCTION_INFO_V1(privacy_sign_unsubscribe_token);
PG_FUNCTION_INFO_V1(privacy_verify_unsubscribe_token);

/* privacy_internal._sign_unsubscribe_token(kind, subject, purpose) → text */
Datum
privacy_sign_unsubscribe_token(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);
	text	   *subject = PG_GETARG_TEXT_PP(1);
	text	   *purpose = PG_GETARG_TEXT_PP(2);
	const bytea *key = privacy_get_key(PRIVACY_KEY_TOKEN);
	UnsubscribeClaim claim;
	char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		len;
	UnsubscribeTokenError err;

	claim.kind = VARDATA_ANY(kind);
	claim.kind_len = VARSIZE_ANY_EXHDR(kind);
	claim.subject = VARDATA_ANY(subject);
	claim.subject_len = VARSIZE_ANY_EXHDR(subject);
	claim.purpose = VARDATA_ANY(purpose);
	claim.purpose_len = VARSIZE_ANY_EXHDR(purpose);
	err = unsubscribe_token_sign((const uint8_t *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
								 &claim, token, sizeof(token), &len);
	if (err != UNSUBSCRIBE_OK)
		ereport(ERROR,
				(errcode(err == UNSUBSCRIBE_FIELD_LENGTH ? ERRCODE_INVALID_PARAMETER_VALUE
						 : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not make an unsubscribe token"),
				 errdetail("%s", unsubscribe_token_error_detail(err))));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(token, len));
}

/*
 * privacy_internal._verify_unsubscribe_token(token, OUT kind, OUT subject,
 * OUT purpose): what a valid token names; an error for any other input.
 */
Datum
privacy_verify_unsubscribe_token(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	const bytea *key = privacy_get_key(PRIVACY_KEY_TOKEN);
	uint8_t		raw[UNSUBSCRIBE_MAX_RAW];
	UnsubscribeClaim claim;
	UnsubscribeTokenError err;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	err = unsubscribe_token_verify((const uint8_t *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
								   VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), raw, &claim);
	if (err != UNSUBSCRIBE_OK)
		ereport(ERROR,
				(errcode(err == UNSUBSCRIBE_BAD_SIGNATURE ? ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
						 : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid unsubscribe token"),
				 errdetail("%s", unsubscribe_token_error_detail(err)),
				 errhint("Use the link exactly as it was sent; nothing was changed.")));

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	values[0] = PointerGetDatum(cstring_to_text_with_len(claim.kind, claim.kind_len));
	values[1] = PointerGetDatum(cstring_to_text_with_len(claim.subject, claim.subject_len));
	values[2] = PointerGetDatum(cstring_to_text_with_len(claim.purpose, claim.purpose_len));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
