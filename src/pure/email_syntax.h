/*
 * email_syntax.h
 *		Validation, normalisation, comparison and masking of e-mail addresses
 *		for the privacy.email type. Pure: no backend needed.
 *
 * Accepted syntax (a practical subset of RFC 5321/5322):
 *	- local part: a dot-atom (RFC 5322 atext characters in runs separated by
 *	  single dots), 1 to 64 characters; quoted local parts, comments and
 *	  folding white space are not supported;
 *	- domain: at least two labels of letters, digits and hyphens (LDH), each
 *	  1 to 63 characters, not beginning or ending with a hyphen, the last
 *	  label not all digits; domain literals ([192.0.2.1]) are not supported;
 *	- at most 254 characters in all, so the domain stays within RFC 1035's
 *	  253 too;
 *	- ASCII only: internationalised addresses (RFC 6531) are not supported.
 * White space around the address is ignored.
 *
 * Normal form: the local part as written and the domain in lower case.
 * Domains are case-insensitive (RFC 1035); the local part is, strictly,
 * interpreted only by the receiving host, but practically every mail system
 * treats it as case-insensitive, and a column that let John@x.dk and
 * john@x.dk stand for two people would defeat erasure and uniqueness. So
 * the address is kept as the person wrote it, while equality, ordering,
 * hashing and pseudonyms use the address folded to lower case.
 */
#ifndef PRIVACY_EMAIL_SYNTAX_H
#define PRIVACY_EMAIL_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

#define EMAIL_MAX_LENGTH		254
#define EMAIL_MAX_LOCAL_LENGTH	64
#define EMAIL_MAX_LABEL_LENGTH	63

/* Room for a normalised address and its terminating NUL. */
#define EMAIL_BUFSIZE			(EMAIL_MAX_LENGTH + 1)

/* Room for an error detail from email_error_detail(). */
#define EMAIL_DETAIL_BUFSIZE	160

typedef enum EmailSyntaxError
{
	EMAIL_OK = 0,
	EMAIL_EMPTY,
	EMAIL_TOO_LONG,
	EMAIL_NON_ASCII,
	EMAIL_NO_AT,
	EMAIL_MANY_AT,
	EMAIL_QUOTED,
	EMAIL_LOCAL_EMPTY,
	EMAIL_LOCAL_TOO_LONG,
	EMAIL_LOCAL_CHAR,
	EMAIL_LOCAL_LEADING_DOT,
	EMAIL_LOCAL_TRAILING_DOT,
	EMAIL_LOCAL_DOUBLE_DOT,
	EMAIL_DOMAIN_EMPTY,
	EMAIL_DOMAIN_LITERAL,
	EMAIL_DOMAIN_CHAR,
	EMAIL_LABEL_EMPTY,
	EMAIL_LABEL_TOO_LONG,
	EMAIL_LABEL_HYPHEN,
	EMAIL_SINGLE_LABEL,
	EMAIL_NUMERIC_TLD
} EmailSyntaxError;

/*
 * Validates the len bytes at in (no NUL needed) and, if they form an
 * address, writes its normal form with a NUL to out (EMAIL_BUFSIZE bytes)
 * and its length to *outlen. Otherwise returns the first problem found and
 * sets *errpos to the offset in in of the byte it concerns; out may then
 * hold part of the address.
 */
extern EmailSyntaxError email_parse(const char *in, size_t len,
									char *out, size_t *outlen, size_t *errpos);

/*
 * Writes a full-sentence description of err to buf (EMAIL_DETAIL_BUFSIZE
 * bytes); in, len and errpos are what email_parse() was given and set.
 */
extern void email_error_detail(EmailSyntaxError err, const char *in, size_t len,
							   size_t errpos, char *buf, size_t size);

/*
 * Orders two normalised addresses the way the type does (byte order of the
 * addresses folded to lower case): negative, zero or positive.
 */
extern int	email_compare(const char *a, size_t alen, const char *b, size_t blen);

/* Folds a normalised address to lower case into out (len bytes, no NUL). */
extern void email_fold(const char *in, size_t len, char *out);

/*
 * Masks a normalised address into out (EMAIL_BUFSIZE bytes, NUL-terminated):
 * keeps the first character of the local part and of the domain and the
 * top-level label, and replaces every other character by '*', so that
 * jens@example.dk becomes j***@e******.dk. A one-character local part, or
 * domain before the top-level label, is masked completely. Returns the
 * length, which is that of the address.
 */
extern size_t email_mask(const char *in, size_t len, char *out);

#endif							/* PRIVACY_EMAIL_SYNTAX_H */
