/*
 * phone_syntax.h
 *		Parsing, validation, formatting and masking of telephone numbers in
 *		E.164 form for the privacy.phone type. Pure: no backend needed.
 *
 * Accepted input:
 *	- international numbers: "+" or the "00" international prefix, then the
 *	  country calling code and the national number (+45 12 34 56 78,
 *	  0045 12345678);
 *	- national numbers, which get the default country code the caller passes
 *	  (the privacy.default_country_code setting); a leading trunk prefix ("0"
 *	  in most countries, "1" in North America, "8" in Russia and Kazakhstan,
 *	  "06" in Hungary) is dropped, except in the countries whose numbers keep
 *	  their leading zero (Italy, San Marino, Vatican City, Côte d'Ivoire);
 *	- digits grouped by spaces, "-", "." or "/" (each separator between two
 *	  groups), and by parentheses around a group, as in (212) 555-0100; a
 *	  "(0)" group, as in +44 (0)20 7946 0000, stands for the trunk prefix and
 *	  is dropped.
 * The country calling code must be one assigned in ITU-T E.164, and the
 * whole number must have 7 to 15 digits. Letters (vanity numbers,
 * extensions) are rejected.
 *
 * A number is held as a PhoneNumber: its digits (country code first) read
 * as a decimal number padded with zeros on the right to 15 digits, times 16,
 * plus the number of digits. Integer order is then the order of the digit
 * strings, and equal numbers have equal encodings.
 */
#ifndef PRIVACY_PHONE_SYNTAX_H
#define PRIVACY_PHONE_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PHONE_MIN_DIGITS		7
#define PHONE_MAX_DIGITS		15
#define PHONE_MAX_COUNTRY_CODE	999

/* Room for "+" and the digits, with a NUL. */
#define PHONE_TEXT_BUFSIZE		(PHONE_MAX_DIGITS + 2)
/* Room for a masked number such as "+45 ** ** ** 78", with a NUL. */
#define PHONE_MASK_BUFSIZE		40
/* Room for an error detail from phone_error_detail(). */
#define PHONE_DETAIL_BUFSIZE	160

typedef int64_t PhoneNumber;

typedef enum PhoneSyntaxError
{
	PHONE_OK = 0,
	PHONE_EMPTY,
	PHONE_LETTER,
	PHONE_CHAR,
	PHONE_PLUS,
	PHONE_SEPARATOR,
	PHONE_PARENTHESES,
	PHONE_TRUNK_ZERO,
	PHONE_NO_DIGITS,
	PHONE_NO_COUNTRY_CODE,
	PHONE_COUNTRY_CODE,
	PHONE_TOO_FEW_DIGITS,
	PHONE_TOO_MANY_DIGITS
} PhoneSyntaxError;

/*
 * Parses the len bytes at in (no NUL needed); default_cc is the country code
 * of national numbers, or 0 if they are to be rejected. On success stores
 * the number in *out; otherwise returns the first problem found and sets
 * *errpos to the offset in in of the byte it concerns.
 */
extern PhoneSyntaxError phone_parse(const char *in, size_t len, int default_cc,
									PhoneNumber *out, size_t *errpos);

/*
 * Validates an E.164 number given as its value (4512345678 for
 * +4512345678), as in the binary format, and stores it in *out.
 */
extern PhoneSyntaxError phone_from_value(int64_t value, PhoneNumber *out);

/* The E.164 number as an integer: 4512345678 for +4512345678. */
extern int64_t phone_value(PhoneNumber p);

/* Writes "+" and the digits with a NUL to buf (PHONE_TEXT_BUFSIZE bytes). */
extern size_t phone_format(PhoneNumber p, char *buf);

/*
 * Writes the masked number to buf (PHONE_MASK_BUFSIZE bytes): the country
 * code and the last two digits, the other digits as '*' in pairs from the
 * right, as in "+45 ** ** ** 78".
 */
extern size_t phone_mask(PhoneNumber p, char *buf);

/* True if cc is a country calling code assigned in ITU-T E.164. */
extern bool phone_is_country_code(int cc);

/*
 * Writes a full-sentence description of err to buf (PHONE_DETAIL_BUFSIZE
 * bytes); in, len and errpos are what phone_parse() was given and set.
 */
extern void phone_error_detail(PhoneSyntaxError err, const char *in, size_t len,
							   size_t errpos, char *buf, size_t size);

#endif							/* PRIVACY_PHONE_SYNTAX_H */
