/*
 * syntax_util.h
 *		Character helpers shared by the pure parsers of the personal-data
 *		types (email_syntax.c, phone_syntax.c, ip_syntax.c).
 *
 * Pure C: no backend needed. The parsers work on ASCII only, byte by byte,
 * so these helpers never depend on the locale.
 */
#ifndef PRIVACY_SYNTAX_UTIL_H
#define PRIVACY_SYNTAX_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Room for the description of one byte made by syntax_describe_byte(). */
#define SYNTAX_BYTE_DESCRIPTION_SIZE 16

static inline bool
syntax_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool
syntax_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
syntax_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline unsigned char
syntax_to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + ('a' - 'A')) : c;
}

/* Value of a hexadecimal digit, or -1 if c is not one. */
static inline int
syntax_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Narrows [*start, *end) of in to exclude leading and trailing ASCII
 * white space; *start == *end when nothing else is left.
 */
extern void syntax_trim(const char *in, size_t len, size_t *start, size_t *end);

/*
 * Describes one byte for an error detail: "x" in double quotes when it is a
 * printable ASCII character, "a space", or "byte 0x1F" otherwise.
 */
extern void syntax_describe_byte(unsigned char c, char *buf, size_t size);

#endif							/* PRIVACY_SYNTAX_UTIL_H */
