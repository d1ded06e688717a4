/*
 * syntax_util.c
 *		Character helpers shared by the pure parsers of the personal-data
 *		types.
 *
 * Pure C: linked into the extension and into the standalone unit tests and
 * fuzzers.
 */
#include <stdio.h>

#include "pure/syntax_util.h"

void
syntax_trim(const char *in, size_t len, size_t *start, size_t *end)
{
	size_t		s = 0;
	size_t		e = len;

	while (s < e && syntax_is_space((unsigned char) in[s]))
		s++;
	while (e > s && syntax_is_space((unsigned char) in[e - 1]))
		e--;
	*start = s;
	*end = e;
}

void
syntax_describe_byte(unsigned char c, char *buf, size_t size)
{
	if (c == ' ')
		snprintf(buf, size, "a space");
	else if (c > ' ' && c < 0x7f)
		snprintf(buf, size, "\"%c\"", c);
	else
		snprintf(buf, size, "byte 0x%02X", (unsigned int) c);
}
