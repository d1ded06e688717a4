/*
 * test_email.c
 *		Unit tests of email_syntax.c: validation, normalisation, error
 *		details, comparison, folding and masking of e-mail addresses.
 */
#include <stdlib.h>

#include "unit.h"
#include "syntax_cases.h"
#include "pure/email_syntax.h"

typedef struct ValidCase
{
	const char *input;
	const char *normal;
} ValidCase;

static const ValidCase valid_cases[] = {
	{"jens@example.dk", "jens@example.dk"},
	{"Jens.Hansen@Example.DK", "Jens.Hansen@example.dk"},
	{"  jens@example.dk\t\n", "jens@example.dk"},
	{"j@x.io", "j@x.io"},
	{"first.middle.last@sub.domain.example.com", "first.middle.last@sub.domain.example.com"},
	{"user+tag@example.org", "user+tag@example.org"},
	{"!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~@example.org"},
	{"o'brien@example.ie", "o'brien@example.ie"},
	{"x@a-b.c-d.example", "x@a-b.c-d.example"},
	{"x@123.example.com", "x@123.example.com"},
	{"x@example.c0m", "x@example.c0m"},
	{"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
	{"1234567890@example.com", "1234567890@example.com"},
	{"UPPER@UPPER.COM", "UPPER@upper.com"},
	{"a@b.co", "a@b.co"},
	{"a@1.2.3.example", "a@1.2.3.example"},
	{"_@example.com", "_@example.com"},
	{"-@example.com", "-@example.com"},
};

typedef struct InvalidCase
{
	const char *input;
	EmailSyntaxError error;
	size_t		errpos;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{"", EMAIL_EMPTY, 0},
	{"   \t ", EMAIL_EMPTY, 5},
	{"jens.example.dk", EMAIL_NO_AT, 0},
	{"jens@@example.dk", EMAIL_MANY_AT, 5},
	{"a@b@example.dk", EMAIL_MANY_AT, 3},
	{"\"jens\"@example.dk", EMAIL_QUOTED, 0},
	{"\"a@b\"@example.dk", EMAIL_QUOTED, 0},
	{"je\"ns@example.dk", EMAIL_QUOTED, 2},
	{"@example.dk", EMAIL_LOCAL_EMPTY, 0},
	{".jens@example.dk", EMAIL_LOCAL_LEADING_DOT, 0},
	{"jens.@example.dk", EMAIL_LOCAL_TRAILING_DOT, 4},
	{"je..ns@example.dk", EMAIL_LOCAL_DOUBLE_DOT, 3},
	{".@example.dk", EMAIL_LOCAL_LEADING_DOT, 0},
	{"je ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je,ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je(ns)@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"jens<x>@example.dk", EMAIL_LOCAL_CHAR, 4},
	{"je\\ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je;ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je:ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je[ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"je\x01ns@example.dk", EMAIL_LOCAL_CHAR, 2},
	{"j\xc3\xa6ns@example.dk", EMAIL_NON_ASCII, 1},
	{"jens@\xc3\xa6x.dk", EMAIL_NON_ASCII, 5},
	{"jens@", EMAIL_DOMAIN_EMPTY, 4},
	{"jens@[192.0.2.1]", EMAIL_DOMAIN_LITERAL, 5},
	{"jens@example", EMAIL_SINGLE_LABEL, 5},
	{"jens@localhost", EMAIL_SINGLE_LABEL, 5},
	{"jens@.example.dk", EMAIL_LABEL_EMPTY, 5},
	{"jens@example.dk.", EMAIL_LABEL_EMPTY, 15},
	{"jens@example..dk", EMAIL_LABEL_EMPTY, 13},
	{"jens@-example.dk", EMAIL_LABEL_HYPHEN, 5},
	{"jens@example-.dk", EMAIL_LABEL_HYPHEN, 5},
	{"jens@example.dk-", EMAIL_LABEL_HYPHEN, 13},
	{"jens@exa_mple.dk", EMAIL_DOMAIN_CHAR, 8},
	{"jens@exa mple.dk", EMAIL_DOMAIN_CHAR, 8},
	{"jens@example.dk/x", EMAIL_DOMAIN_CHAR, 15},
	{"jens@192.0.2.1", EMAIL_NUMERIC_TLD, 13},
	{"jens@example.123", EMAIL_NUMERIC_TLD, 13},
	{"jens @example.dk", EMAIL_LOCAL_CHAR, 4},
	{"je ns.example.dk", EMAIL_NO_AT, 0},
	{"a@exa\"mple.com", EMAIL_QUOTED, 5},
	{"a@b.c@d.dk", EMAIL_MANY_AT, 5},
	{"a.@b@c.dk", EMAIL_LOCAL_TRAILING_DOT, 1},
	{"ab@x.dk-", EMAIL_LABEL_HYPHEN, 5},
	{"jens@ example.dk", EMAIL_DOMAIN_CHAR, 5},
};

/* Runs email_parse() on a C string. */
static EmailSyntaxError
parse(const char *input, char *out, size_t *outlen, size_t *errpos)
{
	return email_parse(input, strlen(input), out, outlen, errpos);
}

static void
test_valid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
	{
		char		out[EMAIL_BUFSIZE];
		char		again[EMAIL_BUFSIZE];
		size_t		outlen = 0;
		size_t		againlen = 0;
		size_t		errpos;
		EmailSyntaxError err = parse(valid_cases[i].input, out, &outlen, &errpos);

		CHECK(err == EMAIL_OK, "valid: \"%s\" is accepted", show(valid_cases[i].input));
		if (err != EMAIL_OK)
			continue;
		CHECK_STR(out, valid_cases[i].normal, "valid: \"%s\" normalises", show(valid_cases[i].input));
		CHECK(outlen == strlen(valid_cases[i].normal), "valid: \"%s\" length", show(valid_cases[i].input));
		CHECK(email_parse(out, outlen, again, &againlen, &errpos) == EMAIL_OK &&
			  againlen == outlen && memcmp(out, again, outlen) == 0,
			  "valid: normal form of \"%s\" is a fixed point", show(valid_cases[i].input));
	}
}

static void
test_invalid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
	{
		const InvalidCase *c = &invalid_cases[i];
		char		out[EMAIL_BUFSIZE];
		char		detail[EMAIL_DETAIL_BUFSIZE];
		size_t		outlen;
		size_t		errpos = 999;
		EmailSyntaxError err = parse(c->input, out, &outlen, &errpos);

		CHECK(err == c->error, "invalid: \"%s\" rejected with error %d (got %d)",
			  show(c->input), (int) c->error, (int) err);
		CHECK(errpos == c->errpos, "invalid: \"%s\" error position %zu (got %zu)",
			  show(c->input), c->errpos, errpos);
		email_error_detail(err, c->input, strlen(c->input), errpos, detail, sizeof(detail));
		CHECK(is_sentence(detail), "invalid: \"%s\" detail is a sentence: %s",
			  show(c->input), detail);
	}
}

/* The length limits, exactly at and one past each. */
static void
test_lengths(void)
{
	char		in[600];
	char		out[EMAIL_BUFSIZE];
	size_t		outlen;
	size_t		errpos;
	size_t		n;

	/* local part: 64 accepted, 65 rejected */
	memset(in, 'a', 64);
	strcpy(in + 64, "@example.com");
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_OK, "local part of 64 accepted");
	memset(in, 'a', 65);
	strcpy(in + 65, "@example.com");
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_LOCAL_TOO_LONG && errpos == 64,
		  "local part of 65 rejected at 64");

	/* label: 63 accepted, 64 rejected */
	strcpy(in, "a@");
	memset(in + 2, 'b', 63);
	strcpy(in + 65, ".com");
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_OK, "label of 63 accepted");
	memset(in + 2, 'b', 64);
	strcpy(in + 66, ".com");
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_LABEL_TOO_LONG && errpos == 2,
		  "label of 64 rejected");
	strcpy(in, "a@example.");
	memset(in + 10, 'c', 64);
	in[74] = '\0';
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_LABEL_TOO_LONG && errpos == 10,
		  "top-level label of 64 rejected");

	/* total: 254 accepted, 255 rejected (labels of 63 joined by dots) */
	strcpy(in, "a@");
	n = 2;
	while (n + 64 <= 254)
	{
		memset(in + n, 'd', 63);
		n += 63;
		in[n++] = '.';
	}
	while (n < 254)
		in[n++] = 'e';
	in[n] = '\0';
	CHECK(n == 254 && parse(in, out, &outlen, &errpos) == EMAIL_OK && outlen == 254,
		  "address of 254 accepted");

	/* white space around a maximal address does not count */
	{
		char		padded[sizeof(in) + 4];

		snprintf(padded, sizeof(padded), "  %s\t", in);
		CHECK(parse(padded, out, &outlen, &errpos) == EMAIL_OK && outlen == 254 &&
			  strcmp(out, in) == 0,
			  "white space around an address of 254 is ignored");
	}

	in[n++] = 'e';
	in[n] = '\0';
	CHECK(parse(in, out, &outlen, &errpos) == EMAIL_TOO_LONG && errpos == 254,
		  "address of 255 rejected");

	/* a very long input is rejected without reading past its length */
	{
		size_t		big = 1 << 20;
		char	   *huge = malloc(big);

		memset(huge, 'x', big);
		CHECK(email_parse(huge, big, out, &outlen, &errpos) == EMAIL_TOO_LONG,
			  "a megabyte of input is rejected as too long");
		free(huge);
	}

	/* embedded NUL bytes are characters like any other */
	CHECK(email_parse("a\0b@example.com", 15, out, &outlen, &errpos) == EMAIL_LOCAL_CHAR &&
		  errpos == 1, "a NUL in the local part is rejected");
	CHECK(email_parse("ab@example.com\0", 15, out, &outlen, &errpos) == EMAIL_DOMAIN_CHAR &&
		  errpos == 14, "a trailing NUL is rejected");
}

static void
test_details(void)
{
	char		detail[EMAIL_DETAIL_BUFSIZE];
	const char *in;

	in = "je,ns@example.dk";
	email_error_detail(EMAIL_LOCAL_CHAR, in, strlen(in), 2, detail, sizeof(detail));
	CHECK_STR(detail, "The local part contains \",\", which is not allowed there.",
			  "detail names the offending character");
	in = "je ns@example.dk";
	email_error_detail(EMAIL_LOCAL_CHAR, in, strlen(in), 2, detail, sizeof(detail));
	CHECK_STR(detail, "The local part contains a space, which is not allowed there.",
			  "detail names a space");
	in = "j\xc3\xa6ns@example.dk";
	email_error_detail(EMAIL_NON_ASCII, in, strlen(in), 1, detail, sizeof(detail));
	CHECK_STR(detail, "The address contains byte 0xC3, which is not ASCII; internationalized addresses are not supported.",
			  "detail names a non-ASCII byte");
	email_error_detail(EMAIL_TOO_LONG, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "The address is longer than 254 characters.", "detail of a long address");
	email_error_detail(EMAIL_LOCAL_TOO_LONG, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "The local part is longer than 64 characters.", "detail of a long local part");
	email_error_detail(EMAIL_LABEL_TOO_LONG, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "A label of the domain is longer than 63 characters.", "detail of a long label");
	email_error_detail(EMAIL_SINGLE_LABEL, "", 0, 0, detail, sizeof(detail));
	CHECK(is_sentence(detail), "detail of a single label is a sentence");
	email_error_detail(EMAIL_LOCAL_CHAR, "x", 1, 5, detail, sizeof(detail));
	CHECK_STR(detail, "The local part contains byte 0x00, which is not allowed there.",
			  "detail with a position past the input does not read past it");
}

static void
test_compare(void)
{
	const char *a = "John.Doe@example.com";
	const char *b = "john.doe@example.com";
	const char *c = "john.doe@example.org";
	const char *d = "john@example.com";
	char		folded[EMAIL_BUFSIZE];

	CHECK(email_compare(a, strlen(a), b, strlen(b)) == 0, "case variants are equal");
	CHECK(email_compare(b, strlen(b), c, strlen(c)) < 0, ".com sorts before .org");
	CHECK(email_compare(c, strlen(c), b, strlen(b)) > 0, "comparison is antisymmetric");
	CHECK(email_compare(a, strlen(a), d, strlen(d)) < 0, "\".\" (0x2E) sorts before \"@\" (0x40)");
	CHECK(email_compare("ab@x.dk", 7, "ab@x.dkk", 8) < 0, "a prefix sorts first");
	CHECK(email_compare("ab@x.dkk", 8, "ab@x.dk", 7) > 0, "a longer one sorts after its prefix");
	CHECK(email_compare("Z@x.dk", 6, "a@x.dk", 6) > 0, "order ignores case: z after a");
	CHECK(email_compare("_@x.dk", 6, "a@x.dk", 6) < 0, "\"_\" (0x5F) sorts before folded \"a\" (0x61)");
	CHECK(email_compare("abcdefghIJ@x.dk", 15, "abcdefghij@x.dk", 15) == 0,
		  "case differing after the first 8 bytes is ignored");
	CHECK(email_compare("ABCDEFGHIJK@x.dk", 16, "abcdefghijl@x.dk", 16) < 0,
		  "case differing in every byte is ignored up to the real difference");
	CHECK(email_compare("abcdefghijklmnopq@x.dk", 22, "abcdefghijklmnopP@x.dk", 22) > 0,
		  "a difference in a later 8-byte stretch is found");
	email_fold(a, strlen(a), folded);
	folded[strlen(a)] = '\0';
	CHECK_STR(folded, "john.doe@example.com", "fold lower-cases the local part");
}

static void
test_mask(void)
{
	static const ValidCase cases[] = {
		{"jens@example.dk", "j***@e******.dk"},
		{"Jens.Hansen@mail.example.co.uk", "J**********@m**************.uk"},
		{"j@example.dk", "*@e******.dk"},
		{"jo@x.dk", "j*@*.dk"},
		{"a@bc.io", "*@b*.io"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		out[EMAIL_BUFSIZE];
		size_t		n = email_mask(cases[i].input, strlen(cases[i].input), out);

		CHECK_STR(out, cases[i].normal, "mask of \"%s\"", cases[i].input);
		CHECK(n == strlen(cases[i].input), "mask of \"%s\" keeps the length", cases[i].input);
	}
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_lengths();
	test_details();
	test_compare();
	test_mask();
	return unit_done();
}
