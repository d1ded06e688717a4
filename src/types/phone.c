/*
 * phone.c
 *		The privacy.phone type: a telephone number in E.164 form, and the
 *		privacy.default_country_code setting for numbers written without a
 *		country code.
 *
 * Parsing, formatting and masking are in phone_syntax.c. A value is the
 * 8-byte PhoneNumber encoding described in phone_syntax.h, stored like
 * int8, whose integer order is the order of the E.164 digit strings. The
 * binary format is the E.164 number as an int8 (4512345678 for
 * +4512345678).
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "types/types.h"
#include "types/pd_type.h"
#include "pure/phone_syntax.h"

PG_FUNCTION_INFO_V1(privacy_phone_in);
PG_FUNCTION_INFO_V1(privacy_phone_out);
PG_FUNCTION_INFO_V1(privacy_phone_recv);
PG_FUNCTION_INFO_V1(privacy_phone_send);
PG_FUNCTION_INFO_V1(privacy_phone_hash);
PG_FUNCTION_INFO_V1(privacy_phone_hash_extended);
PG_FUNCTION_INFO_V1(privacy_phone_mask);
PG_FUNCTION_INFO_V1(privacy_phone_pseudonymize);

static int	default_country_code = 0;

/* GUC check hook: 0 or an assigned country calling code. */
static bool
check_default_country_code(int *newval, void **extra, GucSource source)
{
	if (*newval == 0 || phone_is_country_code(*newval))
		return true;
	GUC_check_errdetail("%d is not a country calling code assigned in ITU-T E.164.", *newval);
	return false;
}

void
TypesInit(void)
{
	DefineCustomIntVariable("privacy.default_country_code",
							"Country calling code given to phone numbers written without one.",
							"0 means that such numbers are rejected.",
							&default_country_code,
							0, 0, PHONE_MAX_COUNTRY_CODE,
							PGC_USERSET, 0,
							check_default_country_code, NULL, NULL);
	OperatorHintInit();
}

Datum
privacy_phone_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	PhoneNumber p;
	size_t		errpos;
	PhoneSyntaxError err;

	err = phone_parse(str, strlen(str), default_country_code, &p, &errpos);
	if (err != PHONE_OK)
	{
		char		detail[PHONE_DETAIL_BUFSIZE];

		phone_error_detail(err, str, strlen(str), errpos, detail, sizeof(detail));
		pd_type_invalid_input("phone", detail,
							  err == PHONE_NO_COUNTRY_CODE ?
							  "Write the number with its country code, as in +4512345678, or set privacy.default_country_code." :
							  NULL);
	}
	PG_RETURN_INT64(p);
}

Datum
privacy_phone_out(PG_FUNCTION_ARGS)
{
	char	   *buf = palloc(PHONE_TEXT_BUFSIZE);

	phone_format(PG_GETARG_INT64(0), buf);
	PG_RETURN_CSTRING(buf);
}

Datum
privacy_phone_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		value;
	PhoneNumber p;
	PhoneSyntaxError err;

	memcpy(&value, pd_type_recv_bytes(buf, sizeof(int64), "phone"), sizeof(int64));
	value = (int64) pg_ntoh64((uint64) value);
	err = phone_from_value(value, &p);
	if (err != PHONE_OK)
	{
		char		detail[PHONE_DETAIL_BUFSIZE];

		phone_error_detail(err, "", 0, 0, detail, sizeof(detail));
		pd_type_invalid_binary("phone", detail);
	}
	PG_RETURN_INT64(p);
}

Datum
privacy_phone_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, phone_value(PG_GETARG_INT64(0)));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Compares the first two arguments for PD_TYPE_COMPARISON_FUNCTIONS. */
static inline int
phone_compare_args(FunctionCallInfo fcinfo)
{
	PhoneNumber a = PG_GETARG_INT64(0);
	PhoneNumber b = PG_GETARG_INT64(1);

	return (a > b) - (a < b);
}

PD_TYPE_COMPARISON_FUNCTIONS(phone);

/* Folds the 64-bit encoding into the 32 bits hashed, as int8 does. */
static inline uint32
phone_hash_key(PhoneNumber p)
{
	return (uint32) p ^ (uint32) ((uint64) p >> 32);
}

Datum
privacy_phone_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32(phone_hash_key(PG_GETARG_INT64(0)));
}

Datum
privacy_phone_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended(phone_hash_key(PG_GETARG_INT64(0)), PG_GETARG_INT64(1));
}

/* privacy.mask(phone) → text: the country code and the last two digits. */
Datum
privacy_phone_mask(PG_FUNCTION_ARGS)
{
	char		buf[PHONE_MASK_BUFSIZE];
	size_t		n = phone_mask(PG_GETARG_INT64(0), buf);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int) n));
}

/* privacy.pseudonymize(phone) → text: the keyed hash of the E.164 text. */
Datum
privacy_phone_pseudonymize(PG_FUNCTION_ARGS)
{
	char		buf[PHONE_TEXT_BUFSIZE];
	size_t		n = phone_format(PG_GETARG_INT64(0), buf);

	PG_RETURN_TEXT_P(pd_type_pseudonym("phone", buf, n));
}
