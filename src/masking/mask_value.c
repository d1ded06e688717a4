/*
 * mask_value.c
 *		The masking functions that masking views and anonymised copies call
 *		on text columns: a mask that never fails on the value it is given,
 *		and the keyed pseudonym of any value.
 *
 * Neither function raises an error that could carry the value: a value that
 * is not an address or a number is masked by the generic rule instead.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "pure/email_syntax.h"
#include "pure/ip_syntax.h"
#include "pure/phone_syntax.h"
#include "types/pd_type.h"

PG_FUNCTION_INFO_V1(privacy_mask_text);
PG_FUNCTION_INFO_V1(privacy_mask_pseudonym);

/* Characters kept by the generic mask; the rest becomes GENERIC_MASK. */
#define GENERIC_MASK "***"

/*
 * The mask of a text: as privacy.mask() masks it if it reads as an e-mail
 * address, an international phone number or an IP address, otherwise its
 * first character followed by "***".
 */
Datum
privacy_mask_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *in = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	char		email[EMAIL_BUFSIZE];
	char		buf[Max(EMAIL_BUFSIZE, Max(PHONE_MASK_BUFSIZE, IP_NETWORK_BUFSIZE))];
	size_t		outlen;
	size_t		errpos;
	PhoneNumber phone;
	IpAddress	ip;
	int			first;

	if (email_parse(in, len, email, &outlen, &errpos) == EMAIL_OK)
	{
		outlen = email_mask(email, outlen, buf);
		PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int) outlen));
	}
	if (phone_parse(in, len, 0, &phone, &errpos) == PHONE_OK)
	{
		outlen = phone_mask(phone, buf);
		PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int) outlen));
	}
	if (ip_parse(in, len, &ip, &errpos) == IP_OK)
	{
		outlen = ip_mask(&ip, buf);
		PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int) outlen));
	}
	if (len == 0)
		PG_RETURN_TEXT_P(cstring_to_text(""));
	first = pg_mblen(in);
	memcpy(buf, in, first);
	memcpy(buf + first, GENERIC_MASK, sizeof(GENERIC_MASK) - 1);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, first + (int) sizeof(GENERIC_MASK) - 1));
}

/*
 * The keyed pseudonym of a value given as text: HMAC-SHA-256 under the
 * pseudonym key, in hex, distinct from the personal-data types' own.
 */
Datum
privacy_mask_pseudonym(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(pd_type_pseudonym("text", VARDATA_ANY(t),
									   VARSIZE_ANY_EXHDR(t)));
}
