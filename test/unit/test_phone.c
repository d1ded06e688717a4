/*
 * test_phone.c
 *		Unit tests of phone_syntax.c: parsing of international and national
 *		formats, error details, the E.164 encoding and its order, the
 *		binary value and masking.
 */
#include <stdint.h>

#include "unit.h"
#include "syntax_cases.h"
#include "pure/phone_syntax.h"

typedef struct ValidCase
{
	const char *input;
	int			default_cc;
	const char *e164;
} ValidCase;

static const ValidCase valid_cases[] = {
	{"+4512345678", 0, "+4512345678"},
	{"+45 12 34 56 78", 0, "+4512345678"},
	{"+45 12345678", 46, "+4512345678"},
	{"  +45-12-34-56-78\t", 0, "+4512345678"},
	{"+ 45 12 34 56 78", 0, "+4512345678"},
	{"+45.12.34.56.78", 0, "+4512345678"},
	{"0045 12 34 56 78", 0, "+4512345678"},
	{"0045/12345678", 49, "+4512345678"},
	{"12 34 56 78", 45, "+4512345678"},
	{"12-34-56-78", 45, "+4512345678"},
	{"(212) 555-0100", 1, "+12125550100"},
	{"212.555.0100", 1, "+12125550100"},
	{"1 212 555 0100", 1, "+12125550100"},
	{"1-212-555-0100", 1, "+12125550100"},
	{"+1 (212) 555-0100", 0, "+12125550100"},
	{"+1 212-555-0100", 44, "+12125550100"},
	{"020 7946 0000", 44, "+442079460000"},
	{"+44 (0)20 7946 0000", 0, "+442079460000"},
	{"+44(0)2079460000", 0, "+442079460000"},
	{"(0)20 7946 0000", 44, "+442079460000"},
	{"0044 (0)20 7946 0000", 0, "+442079460000"},
	{"030/12345678", 49, "+493012345678"},
	{"030 / 1234 5678", 49, "+493012345678"},
	{"06 30 123 4567", 36, "+36301234567"},
	{"8 495 123-45-67", 7, "+74951234567"},
	{"800 123 45 67", 7, "+78001234567"},
	{"8 800 123 45 67", 7, "+78001234567"},
	{"06 1234 5678", 39, "+390612345678"},
	{"+39 06 1234 5678", 0, "+390612345678"},
	{"07 07 12 34 56", 225, "+2250707123456"},
	{"+683 4002", 0, "+6834002"},
	{"4002", 683, "+6834002"},
	{"+86 138 0013 8000", 0, "+8613800138000"},
	{"+882 1234 5678 9012", 0, "+882123456789012"},
	{"+882123456789012", 0, "+882123456789012"},
	{"  +6834002 ", 0, "+6834002"},
	{"+7 495 123 45 67", 0, "+74951234567"},
	{"+298 123456", 0, "+298123456"},
	{"+800 1234 5678", 0, "+80012345678"},
	{"(+45) 12 34 56 78", 0, "+4512345678"},
};

typedef struct InvalidCase
{
	const char *input;
	int			default_cc;
	PhoneSyntaxError error;
	size_t		errpos;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{"", 45, PHONE_EMPTY, 0},
	{" \t ", 45, PHONE_EMPTY, 3},
	{"+45 1234 5678 ext 12", 45, PHONE_LETTER, 14},
	{"+45 12345678x", 45, PHONE_LETTER, 12},
	{"1-800-FLOWERS", 1, PHONE_LETTER, 6},
	{"+45 12#345678", 45, PHONE_CHAR, 6},
	{"+45 12345678;", 45, PHONE_CHAR, 12},
	{"+45 1234\x01" "5678", 45, PHONE_CHAR, 8},
	{"+45 1234\xc2\xa0" "5678", 45, PHONE_CHAR, 8},
	{"45+12345678", 45, PHONE_PLUS, 2},
	{"++4512345678", 45, PHONE_PLUS, 1},
	{"(45+) 12345678", 45, PHONE_PLUS, 3},
	{"(+4+5) 12345678", 45, PHONE_PLUS, 3},
	{"+45 12--34 56 78", 45, PHONE_SEPARATOR, 7},
	{"+45 12 - - 34 56 78", 45, PHONE_SEPARATOR, 9},
	{"-4512345678", 45, PHONE_SEPARATOR, 0},
	{"+-4512345678", 45, PHONE_SEPARATOR, 1},
	{"+45 12345678-", 45, PHONE_SEPARATOR, 12},
	{"+45 (12 34 56 78", 45, PHONE_PARENTHESES, 4},
	{"+45 12) 34 56 78", 45, PHONE_PARENTHESES, 6},
	{"+45 () 12345678", 45, PHONE_PARENTHESES, 5},
	{"+45 ((12)) 345678", 45, PHONE_PARENTHESES, 5},
	{"+45 (12)(34) 5678", 45, PHONE_PARENTHESES, 8},
	{"+45 (12-) 345678", 45, PHONE_PARENTHESES, 8},
	{"+45 12 (0)34 5678", 45, PHONE_TRUNK_ZERO, 0},
	{"+44 (0)20 (0)7946 0000", 0, PHONE_TRUNK_ZERO, 12},
	{"20 (0)7946 0000", 44, PHONE_TRUNK_ZERO, 0},
	{"+", 45, PHONE_NO_DIGITS, 0},
	{"+ ", 45, PHONE_NO_DIGITS, 0},
	{"12345678", 0, PHONE_NO_COUNTRY_CODE, 0},
	{"12345678", 999, PHONE_COUNTRY_CODE, 0},
	{"+999 12345678", 45, PHONE_COUNTRY_CODE, 0},
	{"+99912345678", 45, PHONE_COUNTRY_CODE, 0},
	{" +4512", 45, PHONE_TOO_FEW_DIGITS, 1},
	{"+4512345678901234", 45, PHONE_TOO_MANY_DIGITS, 0},
	{"+0 12345678", 45, PHONE_COUNTRY_CODE, 0},
	{"+259 1234567", 45, PHONE_COUNTRY_CODE, 0},
	{"+280 1234567", 45, PHONE_COUNTRY_CODE, 0},
	{"00", 45, PHONE_COUNTRY_CODE, 0},
	{"0045", 45, PHONE_TOO_FEW_DIGITS, 0},
	{"+45 123", 45, PHONE_TOO_FEW_DIGITS, 0},
	{"+683 400", 45, PHONE_TOO_FEW_DIGITS, 0},
	{"12", 45, PHONE_TOO_FEW_DIGITS, 0},
	{"+45 1234 5678 9012 34", 45, PHONE_TOO_MANY_DIGITS, 0},
	{"+45 1234 5678 9012 3456 7890", 45, PHONE_TOO_MANY_DIGITS, 24},
	{"123456789012345", 45, PHONE_TOO_MANY_DIGITS, 0},
};

/* Runs phone_parse() on a C string. */
static PhoneSyntaxError
parse(const char *input, int default_cc, PhoneNumber *out, size_t *errpos)
{
	return phone_parse(input, strlen(input), default_cc, out, errpos);
}

static void
test_valid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
	{
		const ValidCase *c = &valid_cases[i];
		PhoneNumber p = -1;
		PhoneNumber again = -1;
		char		text[PHONE_TEXT_BUFSIZE];
		size_t		errpos;
		size_t		n;
		PhoneSyntaxError err = parse(c->input, c->default_cc, &p, &errpos);

		CHECK(err == PHONE_OK, "valid: \"%s\" (default %d) is accepted (got %d)",
			  show(c->input), c->default_cc, (int) err);
		if (err != PHONE_OK)
			continue;
		n = phone_format(p, text);
		CHECK_STR(text, c->e164, "valid: \"%s\" (default %d) is %s",
				  show(c->input), c->default_cc, c->e164);
		CHECK(n == strlen(c->e164), "valid: \"%s\" length", show(c->input));
		CHECK(parse(text, 0, &again, &errpos) == PHONE_OK && again == p,
			  "valid: %s reads back to the same number", text);
		CHECK(phone_from_value(phone_value(p), &again) == PHONE_OK && again == p,
			  "valid: %s survives its binary value", text);
	}
}

static void
test_invalid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
	{
		const InvalidCase *c = &invalid_cases[i];
		PhoneNumber p;
		char		detail[PHONE_DETAIL_BUFSIZE];
		size_t		errpos = 999;
		PhoneSyntaxError err = parse(c->input, c->default_cc, &p, &errpos);

		CHECK(err == c->error, "invalid: \"%s\" (default %d) rejected with error %d (got %d)",
			  show(c->input), c->default_cc, (int) c->error, (int) err);
		CHECK(errpos == c->errpos, "invalid: \"%s\" error position %zu (got %zu)",
			  show(c->input), c->errpos, errpos);
		phone_error_detail(err, c->input, strlen(c->input), errpos, detail, sizeof(detail));
		CHECK(is_sentence(detail), "invalid: \"%s\" detail is a sentence: %s",
			  show(c->input), detail);
	}
}

static void
test_details(void)
{
	char		detail[PHONE_DETAIL_BUFSIZE];
	const char *in;

	in = "+45 1234 5678 ext 12";
	phone_error_detail(PHONE_LETTER, in, strlen(in), 14, detail, sizeof(detail));
	CHECK_STR(detail, "The number contains the letter \"e\"; letters and extensions are not supported.",
			  "detail names the letter");
	in = "+45 12#345678";
	phone_error_detail(PHONE_CHAR, in, strlen(in), 6, detail, sizeof(detail));
	CHECK_STR(detail, "The number contains \"#\", which is not allowed in a phone number.",
			  "detail names the character");
	in = "+45 12--34";
	phone_error_detail(PHONE_SEPARATOR, in, strlen(in), 7, detail, sizeof(detail));
	CHECK_STR(detail, "The separator \"-\" does not stand between two groups of digits.",
			  "detail names the separator");
	phone_error_detail(PHONE_TOO_MANY_DIGITS, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "The number has more than 15 digits with its country code, the most E.164 allows.",
			  "detail of too many digits");
	phone_error_detail(PHONE_TOO_FEW_DIGITS, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "The number has fewer than 7 digits with its country code.",
			  "detail of too few digits");
}

static void
test_country_codes(void)
{
	static const int assigned[] = {1, 7, 20, 27, 33, 44, 45, 46, 47, 49, 86, 98,
	211, 290, 298, 299, 354, 379, 383, 423, 599, 683, 692, 800, 808, 870, 881,
	888, 979, 998};
	static const int unassigned[] = {0, -1, 2, 10, 21, 28, 37, 42, 50, 59, 80, 99,
	259, 280, 292, 384, 422, 671, 684, 693, 801, 878, 997, 999, 1000, 4500};
	size_t		i;
	int			cc;
	int			count = 0;
	int			prefix_free = 1;

	for (i = 0; i < sizeof(assigned) / sizeof(assigned[0]); i++)
		CHECK(phone_is_country_code(assigned[i]), "+%d is an assigned country code", assigned[i]);
	for (i = 0; i < sizeof(unassigned) / sizeof(unassigned[0]); i++)
		CHECK(!phone_is_country_code(unassigned[i]), "+%d is not an assigned country code",
			  unassigned[i]);

	/* No code is a prefix of another, so a number has at most one. */
	for (cc = 1; cc <= PHONE_MAX_COUNTRY_CODE; cc++)
	{
		if (!phone_is_country_code(cc))
			continue;
		count++;
		if ((cc >= 10 && phone_is_country_code(cc / 10)) ||
			(cc >= 100 && phone_is_country_code(cc / 100)))
		{
			prefix_free = 0;
			printf("# +%d has an assigned prefix\n", cc);
		}
	}
	CHECK(prefix_free, "the country codes are prefix-free");
	CHECK(count > 200 && count < 250, "a plausible number of country codes (%d)", count);
}

/* The encoding orders numbers as their digit strings. */
static void
test_order(void)
{
	static const char *numbers[] = {"+12125550100", "+4512345678", "+45123456789",
		"+4598765432", "+442079460000", "+6834002", "+882123456789012",
	"+4412345678", "+74951234567", "+390612345678"};
	size_t		n = sizeof(numbers) / sizeof(numbers[0]);
	size_t		i;
	size_t		j;
	int			consistent = 1;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			PhoneNumber a;
			PhoneNumber b;
			size_t		errpos;
			int			want = strcmp(numbers[i], numbers[j]);
			int			got;

			if (parse(numbers[i], 0, &a, &errpos) != PHONE_OK ||
				parse(numbers[j], 0, &b, &errpos) != PHONE_OK)
			{
				consistent = 0;
				continue;
			}
			got = (a > b) - (a < b);
			if ((want > 0) - (want < 0) != got)
			{
				consistent = 0;
				printf("# %s vs %s: got %d\n", numbers[i], numbers[j], got);
			}
		}
	CHECK(consistent, "integer order of the encoding is the order of the digit strings");
}

static void
test_values(void)
{
	PhoneNumber p;

	CHECK(phone_from_value(4512345678LL, &p) == PHONE_OK && phone_value(p) == 4512345678LL,
		  "value 4512345678 is +4512345678");
	CHECK(phone_from_value(999999999999999LL, &p) == PHONE_COUNTRY_CODE,
		  "value with 15 nines has no country code");
	CHECK(phone_from_value(882123456789012LL, &p) == PHONE_OK,
		  "a 15-digit value is accepted");
	CHECK(phone_from_value(1000000000000000LL, &p) == PHONE_TOO_MANY_DIGITS,
		  "a 16-digit value is rejected");
	CHECK(phone_from_value(INT64_MAX, &p) == PHONE_TOO_MANY_DIGITS,
		  "the largest value is rejected");
	CHECK(phone_from_value(0, &p) == PHONE_COUNTRY_CODE, "value 0 is rejected");
	CHECK(phone_from_value(-4512345678LL, &p) == PHONE_COUNTRY_CODE,
		  "a negative value is rejected");
	CHECK(phone_from_value(451234, &p) == PHONE_TOO_FEW_DIGITS, "a 6-digit value is rejected");
}

static void
test_mask(void)
{
	static const char *cases[][2] = {
		{"+4512345678", "+45 ** ** ** 78"},
		{"+12125550100", "+1 ** ** ** ** 00"},
		{"+33612345678", "+33 * ** ** ** 78"},
		{"+6834002", "+683 ** 02"},
		{"+298123456", "+298 ** ** 56"},
		{"+882123456789012", "+882 ** ** ** ** ** 12"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		PhoneNumber p;
		size_t		errpos;
		char		out[PHONE_MASK_BUFSIZE];
		size_t		n;

		CHECK(parse(cases[i][0], 0, &p, &errpos) == PHONE_OK, "mask: %s parses", cases[i][0]);
		n = phone_mask(p, out);
		CHECK_STR(out, cases[i][1], "mask of %s", cases[i][0]);
		CHECK(n == strlen(cases[i][1]), "mask of %s length", cases[i][0]);
	}
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_details();
	test_country_codes();
	test_order();
	test_values();
	test_mask();
	return unit_done();
}
