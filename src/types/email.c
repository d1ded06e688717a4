/*
 * email.c
 *		The privacy.email type: an e-mail address, validated and normalised,
 *		compared without regard to case.
 *
 * Validation, normalisation, comparison and masking are in email_syntax.c,
 * which also explains the choice of case-insensitive equality. A value is a
 * varlena holding the normalised address (local part as written, domain in
 * lower case); the binary format is the same ASCII text.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "base/compat.h"
#include "pure/email_syntax.h"
#include "types/pd_type.h"

PG_FUNCTION_INFO_V1(privacy_email_in);
PG_FUNCTION_INFO_V1(privacy_email_out);
PG_FUNCTION_INFO_V1(privacy_email_recv);
PG_FUNCTION_INFO_V1(privacy_email_send);
PG_FUNCTION_INFO_V1(privacy_email_hash);
PG_FUNCTION_INFO_V1(privacy_email_hash_extended);
PG_FUNCTION_INFO_V1(privacy_email_mask);
PG_FUNCTION_INFO_V1(privacy_email_pseudonymize);

/*
 * Makes a value from len bytes of input; a syntax error is reported as
 * invalid text or, for binary input, invalid binary data.
 */
static text *
email_make(const char *in, size_t len, bool binary)
{
	char		out[EMAIL_BUFSIZE];
	size_t		outlen;
	size_t		errpos;
	EmailSyntaxError err;

	err = email_parse(in, len, out, &outlen, &errpos);
	if (err != EMAIL_OK)
	{
		char		detail[EMAIL_DETAIL_BUFSIZE];

		email_error_detail(err, in, len, errpos, detail, sizeof(detail));
		if (binary)
			pd_type_invalid_binary("email", detail);
		pd_type_invalid_input("email", detail, NULL);
	}
	return cstring_to_text_with_len(out, (int) outlen);
}

Datum
privacy_email_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);

	PG_RETURN_TEXT_P(email_make(str, strlen(str), false));
}

Datum
privacy_email_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

Datum
privacy_email_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = buf->len - buf->cursor;

	PG_RETURN_TEXT_P(email_make(pd_type_recv_bytes(buf, n, "email"), n, true));
}

Datum
privacy_email_send(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Compares the first two arguments for PD_TYPE_COMPARISON_FUNCTIONS. */
static inline int
email_compare_args(FunctionCallInfo fcinfo)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	int			result;

	result = email_compare(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
						   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return result;
}

PD_TYPE_COMPARISON_FUNCTIONS(email);

/* Folds the address in t to lower case into buf; returns its length. */
static size_t
email_fold_value(text *t, char *buf)
{
	size_t		len = Min(VARSIZE_ANY_EXHDR(t), EMAIL_MAX_LENGTH);

	email_fold(VARDATA_ANY(t), len, buf);
	return len;
}

Datum
privacy_email_hash(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		folded[EMAIL_BUFSIZE];
	size_t		len = email_fold_value(t, folded);
	Datum		result = hash_any((const unsigned char *) folded, (int) len);

	PG_FREE_IF_COPY(t, 0);
	return result;
}

Datum
privacy_email_hash_extended(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		folded[EMAIL_BUFSIZE];
	size_t		len = email_fold_value(t, folded);
	Datum		result = hash_any_extended((const unsigned char *) folded, (int) len,
										   PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(t, 0);
	return result;
}

/* privacy.mask(email) → text, as in j***@e******.dk. */
Datum
privacy_email_mask(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		masked[EMAIL_BUFSIZE];
	size_t		n = email_mask(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), masked);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(masked, (int) n));
}

/* privacy.pseudonymize(email) → text: the keyed hash of the folded address. */
Datum
privacy_email_pseudonymize(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		folded[EMAIL_BUFSIZE];
	size_t		len = email_fold_value(t, folded);

	PG_RETURN_TEXT_P(pd_type_pseudonym("email", folded, len));
}
