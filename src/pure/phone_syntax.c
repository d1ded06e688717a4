/*
 * phone_syntax.c
 *		Parsing, validation, formatting and masking of telephone numbers in
 *		E.164 form for the privacy.phone type; the accepted input and the
 *		encoding are described in phone_syntax.h.
 *
 * Pure C: linked into the extension and into the standalone unit tests and
 * fuzzers.
 */
#include <stdio.h>
#include <string.h>

#include "pure/phone_syntax.h"
#include "pure/syntax_util.h"

/*
 * Country calling codes assigned in ITU-T E.164 (geographic areas and the
 * global services 800, 808, 870, 881-883, 888 and 979), in ascending order.
 * Spare and reserved codes are left out. The codes form a prefix-free set,
 * so at most one of a number's first one, two or three digits is a code.
 */
static const uint16_t country_codes[] = {
	1, 7,
	20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
	51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84,
	86, 90, 91, 92, 93, 94, 95, 98,
	211, 212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
	230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244,
	245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 260,
	261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299,
	350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374,
	375, 376, 377, 378, 379, 380, 381, 382, 383, 385, 386, 387, 389,
	420, 421, 423,
	500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591, 592, 593, 594,
	595, 596, 597, 598, 599,
	670, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686,
	687, 688, 689, 690, 691, 692,
	800, 808, 850, 852, 853, 855, 856, 870, 880, 881, 882, 883, 886, 888,
	960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975,
	976, 977, 979, 992, 993, 994, 995, 996, 998
};

/*
 * Trunk prefixes other than "0", dialled before a national number within
 * the country and dropped from its international form. national_digits,
 * where not 0, is the length of every national number there: the prefix is
 * dropped only from a number that is one prefix longer, since "8" also
 * begins Russian numbers such as 800 toll-free ones.
 */
typedef struct TrunkPrefix
{
	uint16_t	country_code;
	const char *prefix;
	int			national_digits;
} TrunkPrefix;

static const TrunkPrefix trunk_prefixes[] = {
	{1, "1", 10},				/* North American Numbering Plan */
	{7, "8", 10},				/* Russia, Kazakhstan */
	{36, "06", 0},				/* Hungary */
	{39, "", 0},				/* Italy: the leading 0 is part of the number */
	{225, "", 0},				/* Côte d'Ivoire: likewise, since 2021 */
	{378, "", 0},				/* San Marino */
	{379, "", 0}				/* Vatican City */
};

/* 10^0 .. 10^15 */
static const int64_t powers_of_ten[PHONE_MAX_DIGITS + 1] = {
	1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
	100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
	1000000000000LL, 10000000000000LL, 100000000000000LL,
	1000000000000000LL
};

/* Digits collected while scanning: the number, a "00" and a trunk prefix. */
#define PHONE_SCAN_DIGITS		(PHONE_MAX_DIGITS + 3)

/* Whether each of 0..PHONE_MAX_COUNTRY_CODE is assigned, filled on first use. */
static const bool *
assigned_codes(void)
{
	static bool assigned[PHONE_MAX_COUNTRY_CODE + 1];
	static bool ready = false;

	if (!ready)
	{
		size_t		i;

		for (i = 0; i < sizeof(country_codes) / sizeof(country_codes[0]); i++)
			assigned[country_codes[i]] = true;
		ready = true;
	}
	return assigned;
}

bool
phone_is_country_code(int cc)
{
	return cc >= 1 && cc <= PHONE_MAX_COUNTRY_CODE && assigned_codes()[cc];
}

/* Length (1 to 3) of the country code digits begin with, or 0 if none. */
static int
country_code_length(const char *digits, size_t n)
{
	int			cc = 0;
	size_t		k;

	for (k = 0; k < 3 && k < n; k++)
	{
		cc = cc * 10 + (digits[k] - '0');
		if (cc == 0)
			return 0;
		if (phone_is_country_code(cc))
			return (int) k + 1;
	}
	return 0;
}

/* The trunk prefix rule of country cc ("0" unless listed). */
static TrunkPrefix
trunk_prefix_of(int cc)
{
	TrunkPrefix result = {(uint16_t) cc, "0", 0};
	size_t		i;

	for (i = 0; i < sizeof(trunk_prefixes) / sizeof(trunk_prefixes[0]); i++)
		if (trunk_prefixes[i].country_code == cc)
			return trunk_prefixes[i];
	return result;
}

/* Validates the digits (country code first) of an E.164 number. */
static PhoneSyntaxError
phone_from_digits(const char *digits, size_t n, PhoneNumber *out)
{
	int64_t		value = 0;
	size_t		i;

	if (country_code_length(digits, n) == 0)
		return PHONE_COUNTRY_CODE;
	if (n > PHONE_MAX_DIGITS)
		return PHONE_TOO_MANY_DIGITS;
	if (n < PHONE_MIN_DIGITS)
		return PHONE_TOO_FEW_DIGITS;
	for (i = 0; i < n; i++)
		value = value * 10 + (digits[i] - '0');
	*out = value * powers_of_ten[PHONE_MAX_DIGITS - n] * 16 + (int64_t) n;
	return PHONE_OK;
}

/* Writes the digits of p with a NUL to buf; returns how many there are. */
static size_t
phone_digits(PhoneNumber p, char *buf)
{
	size_t		n = (size_t) (p & 15);
	int64_t		value = phone_value(p);
	size_t		i;

	for (i = n; i > 0; i--)
	{
		buf[i - 1] = (char) ('0' + value % 10);
		value /= 10;
	}
	buf[n] = '\0';
	return n;
}

typedef enum PhoneToken
{
	TOKEN_START,
	TOKEN_PLUS,
	TOKEN_DIGIT,
	TOKEN_SEPARATOR,
	TOKEN_OPEN,
	TOKEN_CLOSE
} PhoneToken;

PhoneSyntaxError
phone_parse(const char *in, size_t len, int default_cc, PhoneNumber *out,
			size_t *errpos)
{
	char		digits[PHONE_SCAN_DIGITS + 4];
	size_t		n = 0;
	bool		plus = false;
	bool		in_parens = false;
	size_t		open_pos = 0;
	size_t		open_n = 0;
	bool		have_trunk_zero = false;
	size_t		trunk_zero_at = 0;
	PhoneToken	prev = TOKEN_START;
	size_t		s;
	size_t		e;
	size_t		i;

	syntax_trim(in, len, &s, &e);
	*errpos = s;
	if (s == e)
		return PHONE_EMPTY;

	/* The E.164 form, which the type prints, needs no grouping rules. */
	if (in[s] == '+' && e - s - 1 <= PHONE_MAX_DIGITS)
	{
		for (i = s + 1; i < e && syntax_is_digit((unsigned char) in[i]); i++)
			;
		if (i == e && e - s > 1)
			return phone_from_digits(in + s + 1, e - s - 1, out);
	}

	for (i = s; i < e; i++)
	{
		unsigned char c = (unsigned char) in[i];

		*errpos = i;
		if (syntax_is_digit(c))
		{
			if (n == PHONE_SCAN_DIGITS)
				return PHONE_TOO_MANY_DIGITS;
			digits[n++] = (char) c;
			prev = TOKEN_DIGIT;
			continue;
		}
		if (syntax_is_space(c))
			continue;
		switch (c)
		{
			case '+':
				/* first, or first in parentheses: "(+45) 12 34 56 78" */
				if (!(prev == TOKEN_START || (prev == TOKEN_OPEN && n == 0 && !plus)))
					return PHONE_PLUS;
				plus = true;
				prev = TOKEN_PLUS;
				break;
			case '-':
			case '.':
			case '/':
				if (prev != TOKEN_DIGIT && prev != TOKEN_CLOSE)
					return PHONE_SEPARATOR;
				prev = TOKEN_SEPARATOR;
				break;
			case '(':
				if (in_parens || prev == TOKEN_CLOSE)
					return PHONE_PARENTHESES;
				in_parens = true;
				open_pos = i;
				open_n = n;
				prev = TOKEN_OPEN;
				break;
			case ')':
				if (!in_parens || prev != TOKEN_DIGIT)
					return PHONE_PARENTHESES;
				in_parens = false;
				if (n - open_n == 1 && digits[n - 1] == '0')
				{
					if (have_trunk_zero)
						return PHONE_TRUNK_ZERO;
					have_trunk_zero = true;
					trunk_zero_at = --n;
				}
				prev = TOKEN_CLOSE;
				break;
			default:
				return syntax_is_alpha(c) ? PHONE_LETTER : PHONE_CHAR;
		}
	}
	if (in_parens)
	{
		*errpos = open_pos;
		return PHONE_PARENTHESES;
	}
	if (prev == TOKEN_SEPARATOR)
		return PHONE_SEPARATOR;
	*errpos = s;
	if (n == 0)
		return PHONE_NO_DIGITS;

	if (!plus && n >= 2 && digits[0] == '0' && digits[1] == '0' &&
		!(have_trunk_zero && trunk_zero_at < 2))
	{
		/* The "00" international prefix. */
		memmove(digits, digits + 2, n - 2);
		n -= 2;
		if (have_trunk_zero)
			trunk_zero_at -= 2;
		plus = true;
	}

	if (plus)
	{
		if (have_trunk_zero)
		{
			int			cc_len = country_code_length(digits, n);

			if (cc_len == 0 || trunk_zero_at != (size_t) cc_len)
				return PHONE_TRUNK_ZERO;
		}
		return phone_from_digits(digits, n, out);
	}

	/* A national number: drop its trunk prefix, prepend the default code. */
	if (default_cc == 0)
		return PHONE_NO_COUNTRY_CODE;
	if (!phone_is_country_code(default_cc))
		return PHONE_COUNTRY_CODE;
	if (have_trunk_zero && trunk_zero_at != 0)
		return PHONE_TRUNK_ZERO;
	if (!have_trunk_zero)
	{
		TrunkPrefix trunk = trunk_prefix_of(default_cc);
		size_t		plen = strlen(trunk.prefix);

		if (plen > 0 && n > plen && memcmp(digits, trunk.prefix, plen) == 0 &&
			(trunk.national_digits == 0 || n == plen + (size_t) trunk.national_digits))
		{
			memmove(digits, digits + plen, n - plen);
			n -= plen;
		}
	}
	{
		char		cc_digits[4];
		int			cc_n = snprintf(cc_digits, sizeof(cc_digits), "%d", default_cc);

		memmove(digits + cc_n, digits, n);
		memcpy(digits, cc_digits, cc_n);
		n += cc_n;
	}
	return phone_from_digits(digits, n, out);
}

PhoneSyntaxError
phone_from_value(int64_t value, PhoneNumber *out)
{
	char		digits[PHONE_MAX_DIGITS + 1];
	size_t		n = 0;
	size_t		i;

	if (value <= 0)
		return PHONE_COUNTRY_CODE;
	if (value >= powers_of_ten[PHONE_MAX_DIGITS])
		return PHONE_TOO_MANY_DIGITS;
	while (value > 0)
	{
		digits[n++] = (char) ('0' + value % 10);
		value /= 10;
	}
	for (i = 0; i < n / 2; i++)
	{
		char		t = digits[i];

		digits[i] = digits[n - 1 - i];
		digits[n - 1 - i] = t;
	}
	return phone_from_digits(digits, n, out);
}

int64_t
phone_value(PhoneNumber p)
{
	int			n = (int) (p & 15);

	return (p >> 4) / powers_of_ten[PHONE_MAX_DIGITS - n];
}

size_t
phone_format(PhoneNumber p, char *buf)
{
	buf[0] = '+';
	return phone_digits(p, buf + 1) + 1;
}

size_t
phone_mask(PhoneNumber p, char *buf)
{
	char		digits[PHONE_MAX_DIGITS + 1];
	size_t		n = phone_digits(p, digits);
	size_t		cc_len = (size_t) country_code_length(digits, n);
	size_t		nsn = n - cc_len;
	size_t		len = 0;
	size_t		j;

	buf[len++] = '+';
	memcpy(buf + len, digits, cc_len);
	len += cc_len;
	for (j = 0; j < nsn; j++)
	{
		if (j == 0 || (nsn - j) % 2 == 0)
			buf[len++] = ' ';
		buf[len++] = (j + 2 >= nsn) ? digits[cc_len + j] : '*';
	}
	buf[len] = '\0';
	return len;
}

void
phone_error_detail(PhoneSyntaxError err, const char *in, size_t len,
				   size_t errpos, char *buf, size_t size)
{
	char		what[SYNTAX_BYTE_DESCRIPTION_SIZE];

	syntax_describe_byte(errpos < len ? (unsigned char) in[errpos] : 0,
						 what, sizeof(what));
	switch (err)
	{
		case PHONE_OK:
			snprintf(buf, size, "The number is valid.");
			break;
		case PHONE_EMPTY:
			snprintf(buf, size, "The number is empty.");
			break;
		case PHONE_LETTER:
			snprintf(buf, size, "The number contains the letter %s; letters and extensions are not supported.",
					 what);
			break;
		case PHONE_CHAR:
			snprintf(buf, size, "The number contains %s, which is not allowed in a phone number.",
					 what);
			break;
		case PHONE_PLUS:
			snprintf(buf, size, "The \"+\" sign may only stand at the beginning of the number.");
			break;
		case PHONE_SEPARATOR:
			snprintf(buf, size, "The separator %s does not stand between two groups of digits.",
					 what);
			break;
		case PHONE_PARENTHESES:
			snprintf(buf, size, "The number has unbalanced, nested or empty parentheses.");
			break;
		case PHONE_TRUNK_ZERO:
			snprintf(buf, size, "A \"(0)\" may only follow the country code, or begin a national number.");
			break;
		case PHONE_NO_DIGITS:
			snprintf(buf, size, "The number has no digits.");
			break;
		case PHONE_NO_COUNTRY_CODE:
			snprintf(buf, size, "The number has no country code, and no default country code is set.");
			break;
		case PHONE_COUNTRY_CODE:
			snprintf(buf, size, "The number does not begin with an assigned country calling code.");
			break;
		case PHONE_TOO_FEW_DIGITS:
			snprintf(buf, size, "The number has fewer than %d digits with its country code.",
					 PHONE_MIN_DIGITS);
			break;
		case PHONE_TOO_MANY_DIGITS:
			snprintf(buf, size, "The number has more than %d digits with its country code, the most E.164 allows.",
					 PHONE_MAX_DIGITS);
			break;
		default:
			snprintf(buf, size, "The number is not valid.");
			break;
	}
}
