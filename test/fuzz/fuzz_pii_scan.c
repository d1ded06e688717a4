/*
 * fuzz_pii_scan.c
 *		libFuzzer harness for the personal-data scanner (src/pii_scan.c).
 *
 * The first input byte chooses the kinds scanned for, the rest is the text.
 * Asserts that every span lies within the text, is non-empty, of a kind
 * asked for, and after the one before it; and that replacing every span with
 * its marker, as the guard's redact mode does, leaves text in which the same
 * scan finds nothing. Also asserts that a value classified as one kind is
 * exactly one match when scanned.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pure/pii_scan.h"

typedef struct Spans
{
	PiiSpan    *spans;
	size_t		n;
	size_t		cap;
} Spans;

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "assertion failed: %s\n", #cond); \
			abort(); \
		} \
	} while (0)

static bool
keep_span(const PiiSpan *span, void *arg)
{
	Spans	   *s = (Spans *) arg;

	if (s->n == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 16;
		s->spans = realloc(s->spans, s->cap * sizeof(PiiSpan));
		REQUIRE(s->spans != NULL);
	}
	s->spans[s->n++] = *span;
	return true;
}

static bool
count_span(const PiiSpan *span, void *arg)
{
	(void) span;
	(*(size_t *) arg)++;
	return true;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	kinds;
	const char *text;
	size_t		len;
	Spans		s = {NULL, 0, 0};
	size_t		prev_end = 0;
	size_t		found;
	char	   *redacted;
	size_t		rlen = 0;
	size_t		again = 0;
	PiiKind		kind;

	if (size == 0)
		return 0;
	kinds = data[0] & PII_ALL_KINDS;
	if (data[0] & 0x80)
		kinds = PII_ALL_KINDS;
	text = (const char *) data + 1;
	len = size - 1;

	found = pii_scan(text, len, kinds, keep_span, &s);
	REQUIRE(found == s.n);
	for (size_t k = 0; k < s.n; k++)
	{
		REQUIRE(s.spans[k].start < s.spans[k].end);
		REQUIRE(s.spans[k].end <= len);
		REQUIRE(s.spans[k].start >= prev_end);
		REQUIRE(kinds & PII_MASK(s.spans[k].kind));
		prev_end = s.spans[k].end;
	}
	REQUIRE(pii_scan_kinds(text, len, kinds) == 0 || s.n > 0);

	/* Redact every span; the result must hold no match. */
	redacted = malloc(len + s.n * 40 + 1);
	REQUIRE(redacted != NULL);
	prev_end = 0;
	for (size_t k = 0; k < s.n; k++)
	{
		const char *marker = pii_kind_marker(s.spans[k].kind);

		memcpy(redacted + rlen, text + prev_end, s.spans[k].start - prev_end);
		rlen += s.spans[k].start - prev_end;
		memcpy(redacted + rlen, marker, strlen(marker));
		rlen += strlen(marker);
		prev_end = s.spans[k].end;
	}
	memcpy(redacted + rlen, text + prev_end, len - prev_end);
	rlen += len - prev_end;
	pii_scan(redacted, rlen, kinds, count_span, &again);
	if (again != 0)
	{
		fprintf(stderr, "redacted text still matches: \"%.*s\"\n", (int) rlen, redacted);
		abort();
	}

	/* A classified value is one match of that kind. */
	kind = pii_classify(text, len);
	if (kind != PII_NONE)
	{
		Spans		all = {NULL, 0, 0};

		pii_scan(text, len, PII_ALL_KINDS, keep_span, &all);
		REQUIRE(all.n == 1 && all.spans[0].kind == kind);
		free(all.spans);
	}

	free(redacted);
	free(s.spans);
	return 0;
}
