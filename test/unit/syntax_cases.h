/*
 * syntax_cases.h
 *		Helpers shared by the unit tests of the personal-data type parsers
 *		(test_email.c, test_phone.c, test_ip.c).
 */
#ifndef SYNTAX_CASES_H
#define SYNTAX_CASES_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The input for a test name, with control and non-ASCII bytes escaped. */
static const char *
show(const char *s)
{
	static char buf[4][128];
	static int	next = 0;
	char	   *out = buf[next++ % 4];
	size_t		n = 0;

	for (; *s && n + 5 < sizeof(buf[0]); s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c >= ' ' && c < 0x7f)
			out[n++] = (char) c;
		else
			n += (size_t) snprintf(out + n, 5, "\\x%02x", c);
	}
	out[n] = '\0';
	return out;
}

/* An error detail is one sentence: a capital first and a period last. */
static int
is_sentence(const char *s)
{
	size_t		n = strlen(s);

	return n > 2 && isupper((unsigned char) s[0]) && s[n - 1] == '.';
}

#endif							/* SYNTAX_CASES_H */
