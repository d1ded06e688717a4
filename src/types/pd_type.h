/*
 * pd_type.h
 *		What the personal-data column types (privacy.email, privacy.phone,
 *		privacy.ip_address) share: their errors, binary input, pseudonyms
 *		and comparison functions.
 */
#ifndef PRIVACY_PD_TYPE_H
#define PRIVACY_PD_TYPE_H

#include "fmgr.h"
#include "lib/stringinfo.h"

/*
 * Raises "invalid input syntax for type typname" (22P02) for a text input,
 * with detail saying what is wrong and an optional hint. The input itself
 * is personal data and never part of the error: errors reach the server log.
 */
extern void pd_type_invalid_input(const char *typname,
								  const char *detail, const char *hint) pg_attribute_noreturn();

/* Raises an invalid binary representation error (22P03) for typname. */
extern void pd_type_invalid_binary(const char *typname, const char *detail) pg_attribute_noreturn();

/*
 * Returns the next n bytes of a binary value of type typname and advances
 * the cursor past them; raises 22P03 if fewer are left.
 */
extern const char *pd_type_recv_bytes(StringInfo buf, int n, const char *typname);

/*
 * The pseudonym of a value: HMAC-SHA-256 under the key PRIVACY_KEY_PSEUDONYM
 * of typname, a NUL and the value's canonical text, in hexadecimal.
 */
extern text *pd_type_pseudonym(const char *typname, const char *canonical, size_t len);

/*
 * Defines the SQL-callable comparison functions privacy_TYPE_eq, _ne, _lt,
 * _le, _gt, _ge and _cmp from a function
 *		static int TYPE_compare_args(FunctionCallInfo fcinfo)
 * that the type's file defines to compare its first two arguments.
 */
#define PD_TYPE_COMPARISON_FUNCTIONS(type) \
PG_FUNCTION_INFO_V1(privacy_##type##_eq); \
PG_FUNCTION_INFO_V1(privacy_##type##_ne); \
PG_FUNCTION_INFO_V1(privacy_##type##_lt); \
PG_FUNCTION_INFO_V1(privacy_##type##_le); \
PG_FUNCTION_INFO_V1(privacy_##type##_gt); \
PG_FUNCTION_INFO_V1(privacy_##type##_ge); \
PG_FUNCTION_INFO_V1(privacy_##type##_cmp); \
Datum \
privacy_##type##_eq(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) == 0); \
} \
Datum \
privacy_##type##_ne(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) != 0); \
} \
Datum \
privacy_##type##_lt(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) < 0); \
} \
Datum \
privacy_##type##_le(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) <= 0); \
} \
Datum \
privacy_##type##_gt(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) > 0); \
} \
Datum \
privacy_##type##_ge(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(type##_compare_args(fcinfo) >= 0); \
} \
Datum \
privacy_##type##_cmp(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_INT32(type##_compare_args(fcinfo)); \
} \
extern int	no_such_variable

#endif							/* PRIVACY_PD_TYPE_H */
