/*
 * email_syntax.c
 *		Validation, normalisation, comparison and masking of e-mail addresses
 *		for the privacy.email type; the accepted syntax and the normal form
 *		are described in email_syntax.h.
 *
 * Pure C: linked into the extension and into the standalone unit tests and
 * fuzzers.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pure/email_syntax.h"
#include "pure/syntax_util.h"

/* Classes of the bytes of an address, in the table char_classes() fills. */
#define CLASS_ATEXT		0x01	/* RFC 5322 atext: a dot-atom's characters but
								 * the dot */
#define CLASS_LDH		0x02	/* letter, digit or hyphen: a label's characters */

/* The class of every byte, filled on first use. */
static const uint8_t *
char_classes(void)
{
	static uint8_t classes[256];
	static bool ready = false;

	if (!ready)
	{
		int			c;

		for (c = 0; c < 256; c++)
		{
			uint8_t		k = 0;

			if (syntax_is_alpha((unsigned char) c) || syntax_is_digit((unsigned char) c))
				k |= CLASS_ATEXT | CLASS_LDH;
			else if (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL)
				k |= CLASS_ATEXT;
			if (c == '-')
				k |= CLASS_LDH;
			classes[c] = k;
		}
		ready = true;
	}
	return classes;
}

/*
 * The error for a byte c that is not allowed where it stands: the problems
 * that make the address's parts meaningless have their own errors, others
 * get the error of the part (other).
 */
static EmailSyntaxError
stray_byte_error(unsigned char c, EmailSyntaxError other)
{
	if (c >= 0x80)
		return EMAIL_NON_ASCII;
	if (c == '"')
		return EMAIL_QUOTED;
	if (c == '@')
		return EMAIL_MANY_AT;
	return other;
}

/* Validates the local part in[s..at). */
static EmailSyntaxError
parse_local(const char *in, size_t s, size_t at, const uint8_t *classes,
			size_t *errpos)
{
	size_t		i = s;

	*errpos = at;
	if (at == s)
		return EMAIL_LOCAL_EMPTY;
	if (at - s > EMAIL_MAX_LOCAL_LENGTH)
	{
		*errpos = s + EMAIL_MAX_LOCAL_LENGTH;
		return EMAIL_LOCAL_TOO_LONG;
	}
	for (;;)
	{
		size_t		atom = i;
		unsigned char c;

		while (i < at && (classes[(unsigned char) in[i]] & CLASS_ATEXT))
			i++;
		if (i == at)
		{
			if (i > atom)
				return EMAIL_OK;
			*errpos = i - 1;
			return EMAIL_LOCAL_TRAILING_DOT;
		}
		*errpos = i;
		c = (unsigned char) in[i];
		if (c != '.')
			return stray_byte_error(c, EMAIL_LOCAL_CHAR);
		if (i == s)
			return EMAIL_LOCAL_LEADING_DOT;
		if (i == atom)
			return EMAIL_LOCAL_DOUBLE_DOT;
		i++;
	}
}

/*
 * Validates the domain in[d..e), d > 0 being just after the "@", and writes
 * it in lower case to out[0..e-d).
 */
static EmailSyntaxError
parse_domain(const char *in, size_t d, size_t e, const uint8_t *classes,
			 char *out, size_t *errpos)
{
	size_t		i = d;
	size_t		label;
	int			labels = 0;

	*errpos = d - 1;
	if (d == e)
		return EMAIL_DOMAIN_EMPTY;
	*errpos = d;
	if (in[d] == '[')
		return EMAIL_DOMAIN_LITERAL;
	for (;;)
	{
		label = i;
		/* lower case: of letters, digits and '-' only A-Z lack 0x20 */
		while (i < e && (classes[(unsigned char) in[i]] & CLASS_LDH))
		{
			out[i - d] = (char) (in[i] | 0x20);
			i++;
		}
		if (i < e && in[i] != '.')
		{
			*errpos = i;
			return stray_byte_error((unsigned char) in[i], EMAIL_DOMAIN_CHAR);
		}
		*errpos = (i < e) ? i : e - 1;
		if (i == label)
			return EMAIL_LABEL_EMPTY;
		*errpos = label;
		if (i - label > EMAIL_MAX_LABEL_LENGTH)
			return EMAIL_LABEL_TOO_LONG;
		if (in[label] == '-' || in[i - 1] == '-')
			return EMAIL_LABEL_HYPHEN;
		labels++;
		if (i == e)
			break;
		out[i - d] = '.';
		i++;
	}
	*errpos = d;
	if (labels < 2)
		return EMAIL_SINGLE_LABEL;
	*errpos = label;
	for (i = label; i < e; i++)
		if (!syntax_is_digit((unsigned char) in[i]))
			return EMAIL_OK;
	return EMAIL_NUMERIC_TLD;
}

EmailSyntaxError
email_parse(const char *in, size_t len, char *out, size_t *outlen, size_t *errpos)
{
	const uint8_t *classes = char_classes();
	size_t		s;
	size_t		e;
	const char *at_sign;
	size_t		at;
	EmailSyntaxError err;

	syntax_trim(in, len, &s, &e);
	*errpos = s;
	if (s == e)
		return EMAIL_EMPTY;
	if (e - s > EMAIL_MAX_LENGTH)
	{
		*errpos = s + EMAIL_MAX_LENGTH;
		return EMAIL_TOO_LONG;
	}

	at_sign = memchr(in + s, '@', e - s);
	if (at_sign == NULL)
		return EMAIL_NO_AT;
	at = (size_t) (at_sign - in);

	if ((err = parse_local(in, s, at, classes, errpos)) != EMAIL_OK)
		return err;
	if ((err = parse_domain(in, at + 1, e, classes, out + (at - s) + 1, errpos)) != EMAIL_OK)
		return err;

	memcpy(out, in + s, at - s + 1);
	out[e - s] = '\0';
	*outlen = e - s;
	return EMAIL_OK;
}

void
email_error_detail(EmailSyntaxError err, const char *in, size_t len,
				   size_t errpos, char *buf, size_t size)
{
	char		what[SYNTAX_BYTE_DESCRIPTION_SIZE];

	syntax_describe_byte(errpos < len ? (unsigned char) in[errpos] : 0,
						 what, sizeof(what));
	switch (err)
	{
		case EMAIL_OK:
			snprintf(buf, size, "The address is valid.");
			break;
		case EMAIL_EMPTY:
			snprintf(buf, size, "The address is empty.");
			break;
		case EMAIL_TOO_LONG:
			snprintf(buf, size, "The address is longer than %d characters.",
					 EMAIL_MAX_LENGTH);
			break;
		case EMAIL_NON_ASCII:
			snprintf(buf, size, "The address contains %s, which is not ASCII; internationalized addresses are not supported.",
					 what);
			break;
		case EMAIL_NO_AT:
			snprintf(buf, size, "The address has no \"@\" sign.");
			break;
		case EMAIL_MANY_AT:
			snprintf(buf, size, "The address has more than one \"@\" sign.");
			break;
		case EMAIL_QUOTED:
			snprintf(buf, size, "The address contains a double quote; quoted local parts are not supported.");
			break;
		case EMAIL_LOCAL_EMPTY:
			snprintf(buf, size, "The local part (before the \"@\") is empty.");
			break;
		case EMAIL_LOCAL_TOO_LONG:
			snprintf(buf, size, "The local part is longer than %d characters.",
					 EMAIL_MAX_LOCAL_LENGTH);
			break;
		case EMAIL_LOCAL_CHAR:
			snprintf(buf, size, "The local part contains %s, which is not allowed there.",
					 what);
			break;
		case EMAIL_LOCAL_LEADING_DOT:
			snprintf(buf, size, "The local part begins with a dot.");
			break;
		case EMAIL_LOCAL_TRAILING_DOT:
			snprintf(buf, size, "The local part ends with a dot.");
			break;
		case EMAIL_LOCAL_DOUBLE_DOT:
			snprintf(buf, size, "The local part contains two consecutive dots.");
			break;
		case EMAIL_DOMAIN_EMPTY:
			snprintf(buf, size, "The domain (after the \"@\") is empty.");
			break;
		case EMAIL_DOMAIN_LITERAL:
			snprintf(buf, size, "Domain literals such as [192.0.2.1] are not supported.");
			break;
		case EMAIL_DOMAIN_CHAR:
			snprintf(buf, size, "The domain contains %s; only letters, digits, hyphens and dots are allowed there.",
					 what);
			break;
		case EMAIL_LABEL_EMPTY:
			snprintf(buf, size, "The domain has an empty label (a leading, trailing or doubled dot).");
			break;
		case EMAIL_LABEL_TOO_LONG:
			snprintf(buf, size, "A label of the domain is longer than %d characters.",
					 EMAIL_MAX_LABEL_LENGTH);
			break;
		case EMAIL_LABEL_HYPHEN:
			snprintf(buf, size, "A label of the domain begins or ends with a hyphen.");
			break;
		case EMAIL_SINGLE_LABEL:
			snprintf(buf, size, "The domain has a single label; a fully qualified domain such as example.com is required.");
			break;
		case EMAIL_NUMERIC_TLD:
			snprintf(buf, size, "The top-level domain consists of digits only.");
			break;
		default:
			snprintf(buf, size, "The address is not valid.");
			break;
	}
}

int
email_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		n = alen < blen ? alen : blen;
	size_t		i = 0;

	/* Stretches that are equal byte for byte need no folding. */
	while (i + 8 <= n && memcmp(a + i, b + i, 8) == 0)
		i += 8;
	for (; i < n; i++)
	{
		unsigned char ca = syntax_to_lower((unsigned char) a[i]);
		unsigned char cb = syntax_to_lower((unsigned char) b[i]);

		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return 0;
}

void
email_fold(const char *in, size_t len, char *out)
{
	size_t		i;

	for (i = 0; i < len; i++)
		out[i] = (char) syntax_to_lower((unsigned char) in[i]);
}

/* Masks in[s..e) into out[s..e), keeping its first character if e - s > 1. */
static void
mask_span(const char *in, size_t s, size_t e, char *out)
{
	size_t		i;

	for (i = s; i < e; i++)
		out[i] = (i == s && e - s > 1) ? in[i] : '*';
}

size_t
email_mask(const char *in, size_t len, char *out)
{
	size_t		at;
	size_t		dot;
	size_t		i;

	if (len > EMAIL_MAX_LENGTH)
		len = EMAIL_MAX_LENGTH;
	at = dot = len;
	for (i = len; i > 0; i--)
	{
		if (in[i - 1] == '@')
		{
			at = i - 1;
			break;
		}
		if (in[i - 1] == '.' && dot == len)
			dot = i - 1;
	}
	if (at == len)
	{
		memset(out, '*', len);
		out[len] = '\0';
		return len;
	}
	mask_span(in, 0, at, out);
	out[at] = '@';
	mask_span(in, at + 1, dot, out);
	memcpy(out + dot, in + dot, len - dot);
	out[len] = '\0';
	return len;
}
