/*
 * pii_scan.c
 *		One-pass scanner for personal data in free text (see pii_scan.h for
 *		the patterns). Pure: no backend needed.
 *
 * The scan walks the text once, without copying it: the few multibyte
 * characters people type in numbers (Unicode dashes and spaces, full-width
 * and Arabic-Indic digits) are read in place as the ASCII character they
 * stand for, and invisible format characters (zero-width space and joiners,
 * word joiner, byte order mark, soft hyphen, direction marks) are skipped as
 * if absent (char_at, char_before), so a match's span is in the bytes of
 * the text as given and covers every invisible character inside it. At a byte that can start a match and whose left
 * context is a word boundary, each pattern is tried in a fixed order
 * (e-mail, IPv6, IPv4, card, CPR, Danish telephone, international
 * telephone); each reads at most a few hundred bytes forward, so the scan is
 * linear. The first pattern that matches and is followed by a word boundary
 * wins, and the scan resumes after it.
 *
 * Word boundaries are what make redaction safe. The left context of a
 * candidate is read as if every earlier match had already been replaced by a
 * marker (bytes of an earlier match count as no byte at all), and a right
 * context that rejects a candidate also rejects, as left context, every
 * candidate that could start after it. So replacing each match with a marker
 * that starts with "[" and ends with "]" never makes new text match.
 */
#include <string.h>

#include "pure/pii_scan.h"

/* Local-part and domain limits of RFC 5321. */
#define EMAIL_LOCAL_MAX		64
#define EMAIL_LABEL_MAX		63
#define EMAIL_DOMAIN_MAX	253

/* E.164: at most 15 digits; fewer than 8 is not a subscriber number. */
#define PHONE_DIGITS_MIN	8
#define PHONE_DIGITS_MAX	15

#define CARD_DIGITS_MIN		13
#define CARD_DIGITS_MAX		19

typedef struct Scan
{
	const unsigned char *text;
	size_t		len;
	size_t		floor;			/* end of the last match */
} Scan;

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A letter or digit, counting every byte of a multibyte character as one. */
static inline bool
is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c) || c >= 0x80;
}

static inline bool
is_word(unsigned char c)
{
	return is_alnum(c) || c == '_';
}

/* A byte that may appear in the local part of an e-mail address. */
static inline bool
is_local(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The byte at i, or 0 past the end. */
static inline unsigned char
at(const Scan *sc, size_t i)
{
	return i < sc->len ? sc->text[i] : 0;
}

/*
 * A character as word boundaries and the CPR and card patterns see it: c is
 * an ASCII byte itself, the ASCII equivalent of a character people type in
 * numbers (see special_char), or 0x80, a letter, for any other byte above
 * 0x7f, taken one byte at a time; width is its length in bytes, counting
 * the invisible format characters read over to reach it (see ignorable).
 * None (past the end, or before the text or inside a match) is {0, 0}.
 */
typedef struct Char
{
	unsigned char c;
	size_t		width;
} Char;

static inline Char
make_char(unsigned char c, size_t width)
{
	Char		ch = {c, width};

	return ch;
}

/*
 * The UTF-8 character of exactly width bytes at s that stands for an ASCII
 * character in a number, or {0, 0}:
 *	- digits: full-width U+FF10..FF19, Arabic-Indic U+0660..0669 and
 *	  extended Arabic-Indic U+06F0..06F9;
 *	- dashes: U+2010..2015 (hyphen, non-breaking hyphen, figure dash, en and
 *	  em dash, horizontal bar), U+2212 minus, U+FE63 small and U+FF0D
 *	  full-width hyphen-minus;
 *	- spaces: U+00A0 no-break space, U+2000..200A (en, em, figure, thin,
 *	  hair space and the like), U+202F narrow no-break space, U+205F medium
 *	  mathematical space, U+3000 ideographic space;
 *	- full-width full stop U+FF0E and solidus U+FF0F.
 * No recognised sequence is the start or the end of another, so reading
 * forwards and backwards agrees on any bytes.
 */
static Char
special_char(const unsigned char *s, size_t width)
{
	if (width == 2)
	{
		if (s[0] == 0xC2 && s[1] == 0xA0)
			return make_char(' ', 2);
		if (s[0] == 0xD9 && s[1] >= 0xA0 && s[1] <= 0xA9)
			return make_char('0' + (s[1] - 0xA0), 2);
		if (s[0] == 0xDB && s[1] >= 0xB0 && s[1] <= 0xB9)
			return make_char('0' + (s[1] - 0xB0), 2);
	}
	else if (width == 3)
	{
		if (s[0] == 0xE2 && s[1] == 0x80)
		{
			if ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xAF)
				return make_char(' ', 3);
			if (s[2] >= 0x90 && s[2] <= 0x95)
				return make_char('-', 3);
		}
		else if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
			return make_char(' ', 3);
		else if (s[0] == 0xE2 && s[1] == 0x88 && s[2] == 0x92)
			return make_char('-', 3);
		else if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
			return make_char(' ', 3);
		else if (s[0] == 0xEF && s[1] == 0xB9 && s[2] == 0xA3)
			return make_char('-', 3);
		else if (s[0] == 0xEF && s[1] == 0xBC)
		{
			if (s[2] == 0x8D)
				return make_char('-', 3);
			if (s[2] == 0x8E)
				return make_char('.', 3);
			if (s[2] == 0x8F)
				return make_char('/', 3);
			if (s[2] >= 0x90 && s[2] <= 0x99)
				return make_char('0' + (s[2] - 0x90), 3);
		}
	}
	return make_char(0, 0);
}

/*
 * Whether the width bytes at s are an invisible format character, one that
 * is typed or pasted into a number without showing: U+00AD soft hyphen,
 * U+200B zero-width space, U+200C/200D zero-width non-joiner and joiner,
 * U+200E/200F direction marks, U+202A..202E direction embeddings and
 * overrides, U+2060 word joiner, U+2061..2064 invisible operators,
 * U+2066..2069 direction isolates, U+FEFF zero-width no-break space (byte
 * order mark). Like special_char's, no sequence is the start or the end of
 * another recognised one.
 */
static bool
ignorable(const unsigned char *s, size_t width)
{
	if (width == 2)
		return s[0] == 0xC2 && s[1] == 0xAD;
	if (width != 3)
		return false;
	if (s[0] == 0xE2 && s[1] == 0x80)
		return (s[2] >= 0x8B && s[2] <= 0x8F) || (s[2] >= 0xAA && s[2] <= 0xAE);
	if (s[0] == 0xE2 && s[1] == 0x81)
		return (s[2] >= 0xA0 && s[2] <= 0xA4) || (s[2] >= 0xA6 && s[2] <= 0xA9);
	return s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF;
}

/* The length of the invisible format character at i, or 0. */
static size_t
ignorable_at(const Scan *sc, size_t i)
{
	for (size_t width = 2; width <= 3; width++)
		if (sc->len - i >= width && ignorable(sc->text + i, width))
			return width;
	return 0;
}

/* The length of the invisible format character ending at pos, or 0. */
static size_t
ignorable_before(const Scan *sc, size_t pos)
{
	for (size_t width = 3; width >= 2; width--)
		if (pos - sc->floor >= width && ignorable(sc->text + pos - width, width))
			return width;
	return 0;
}

/*
 * The character at i, after any invisible format characters, whose width
 * counts them too; none past the end.
 */
static Char
char_at(const Scan *sc, size_t i)
{
	Char		ch;
	size_t		skipped = 0;
	size_t		w;

	while (i < sc->len && (w = ignorable_at(sc, i)) != 0)
	{
		i += w;
		skipped += w;
	}
	if (i >= sc->len)
		return make_char(0, 0);
	if (sc->text[i] < 0x80)
		return make_char(sc->text[i], 1 + skipped);
	for (size_t width = 2; width <= 3; width++)
	{
		if (sc->len - i >= width &&
			(ch = special_char(sc->text + i, width)).width != 0)
			return make_char(ch.c, ch.width + skipped);
	}
	return make_char(0x80, 1 + skipped);
}

/*
 * The character ending at pos, before any invisible format characters,
 * whose width counts them too; none before the text or inside a match.
 */
static Char
char_before(const Scan *sc, size_t pos)
{
	Char		ch;
	size_t		skipped = 0;
	size_t		w;

	while (pos > sc->floor && (w = ignorable_before(sc, pos)) != 0)
	{
		pos -= w;
		skipped += w;
	}
	if (pos <= sc->floor)
		return make_char(0, 0);
	if (sc->text[pos - 1] < 0x80)
		return make_char(sc->text[pos - 1], 1 + skipped);
	for (size_t width = 3; width >= 2; width--)
	{
		if (pos - sc->floor >= width &&
			(ch = special_char(sc->text + pos - width, width)).width != 0)
			return make_char(ch.c, ch.width + skipped);
	}
	return make_char(0x80, 1 + skipped);
}

/* Whether a match may start at pos: no word, address or number ends there. */
static bool
left_ok(const Scan *sc, size_t pos)
{
	Char		p1 = char_before(sc, pos);
	Char		p2 = char_before(sc, pos - p1.width);

	if (is_word(p1.c) || p1.c == '@')
		return false;
	if ((p1.c == '.' || p1.c == '-') && (is_word(p2.c) || p2.c == ':'))
		return false;
	if (p1.c == ':' && p2.c == ':')
		return false;
	return true;
}

/* left_ok, and not the digits after a "+" or a decimal comma. */
static bool
left_ok_number(const Scan *sc, size_t pos)
{
	Char		p1 = char_before(sc, pos);

	if (!left_ok(sc, pos) || p1.c == '+')
		return false;
	if (p1.c == ',' && is_digit(char_before(sc, pos - p1.width).c))
		return false;
	return true;
}

/*
 * Whether a match may end at end: no word, address or number goes on. Every
 * right context rejected here is rejected by left_ok too, for any match
 * ending in a letter, a digit or ":".
 */
static bool
right_ok(const Scan *sc, size_t end)
{
	Char		c1 = char_at(sc, end);
	Char		c2 = char_at(sc, end + c1.width);

	if (is_word(c1.c) || c1.c == '@')
		return false;
	if ((c1.c == '.' || c1.c == '-') && is_word(c2.c))
		return false;
	return true;
}

/* The number of digits from pos, counting at most max. */
static size_t
digit_run(const Scan *sc, size_t pos, size_t max)
{
	size_t		n = 0;

	while (n < max && is_digit(at(sc, pos + n)))
		n++;
	return n;
}

/* One dotted-quad IPv4 address at pos: its end, or 0. */
static size_t
parse_ipv4(const Scan *sc, size_t pos)
{
	size_t		i = pos;

	for (int octet = 0; octet < 4; octet++)
	{
		size_t		n;
		int			value = 0;

		if (octet > 0)
		{
			if (at(sc, i) != '.')
				return 0;
			i++;
		}
		n = digit_run(sc, i, 4);
		if (n == 0 || n > 3 || (n > 1 && at(sc, i) == '0'))
			return 0;
		for (size_t k = 0; k < n; k++)
			value = value * 10 + (at(sc, i + k) - '0');
		if (value > 255)
			return 0;
		i += n;
	}
	return i;
}

/*
 * The longest IPv6 address at pos in the forms of RFC 4291 (eight groups of
 * one to four hex digits, or fewer around one "::", the last two groups
 * possibly written as an IPv4 address) that ends at a word boundary. Returns
 * its end, or 0.
 */
static size_t
parse_ipv6(const Scan *sc, size_t pos)
{
	size_t		ends[10];
	int			nends = 0;
	size_t		i = pos;
	int			groups = 0;
	bool		compressed = false;

	if (at(sc, i) == ':')
	{
		if (at(sc, i + 1) != ':')
			return 0;
		compressed = true;
		i += 2;
	}
	for (;;)
	{
		size_t		n = 0;
		size_t		v4;

		while (n < 5 && is_hex(at(sc, i + n)))
			n++;
		if (n == 0 || n > 4)
			break;

		/* An IPv4 address in place of the last two groups ends the address. */
		if (at(sc, i + n) == '.' && (compressed ? groups <= 5 : groups == 6) &&
			(v4 = parse_ipv4(sc, i)) != 0)
		{
			ends[nends++] = v4;
			break;
		}

		groups++;
		i += n;
		if (compressed ? groups > 7 : groups > 8)
			break;
		if (compressed || groups == 8)
			ends[nends++] = i;
		if (groups == 8)
			break;

		if (at(sc, i) == ':' && at(sc, i + 1) == ':' && !compressed)
		{
			compressed = true;
			i += 2;
			ends[nends++] = i;
		}
		else if (at(sc, i) == ':' && is_hex(at(sc, i + 1)))
			i++;
		else
			break;
	}
	while (--nends >= 0)
	{
		if (right_ok(sc, ends[nends]))
			return ends[nends];
	}
	return 0;
}

/*
 * The longest e-mail address at pos that ends at a word boundary: its end,
 * or 0. Every end of a label (or of its part before a dash) from the second
 * label on is a possible end, so that an address followed by "-" or "." and
 * more text is still found. Characters are read as word boundaries read
 * them, so a Unicode space ends an address and a Unicode dash is a dash.
 */
static size_t
parse_email(const Scan *sc, size_t pos)
{
	size_t		ends[EMAIL_DOMAIN_MAX + 1];
	int			nends = 0;
	size_t		i = pos;
	size_t		domain;
	int			labels = 0;
	Char		ch = char_at(sc, i);
	unsigned char last = 0;

	/* The local part: starts with a letter or digit, no "..", no final ".". */
	if (!is_alnum(ch.c))
		return 0;
	while (is_local(ch.c))
	{
		Char		next = char_at(sc, i + ch.width);

		if (ch.c == '.' && next.c == '.')
			return 0;
		last = ch.c;
		i += ch.width;
		if (i - pos > EMAIL_LOCAL_MAX)
			return 0;
		ch = next;
	}
	if (ch.c != '@' || last == '.')
		return 0;
	domain = ++i;

	/* Labels: letters and digits, with dashes inside but not at either end. */
	while (is_alnum((ch = char_at(sc, i)).c))
	{
		size_t		label = i;
		bool		top_ok = labels >= 1 && !is_digit(ch.c);

		i += ch.width;
		for (;;)
		{
			size_t		j = i;

			/* The address may also end before a dash inside the label. */
			if (top_ok && i - label >= 2 && char_at(sc, i).c == '-' &&
				i - domain <= EMAIL_DOMAIN_MAX)
				ends[nends++] = i;
			while ((ch = char_at(sc, j)).c == '-' && j - label <= EMAIL_LABEL_MAX)
				j += ch.width;
			if (!is_alnum(ch.c))
				break;
			i = j + ch.width;
			if (i - label > EMAIL_LABEL_MAX)
				break;
		}
		if (i - label > EMAIL_LABEL_MAX || i - domain > EMAIL_DOMAIN_MAX)
			break;
		labels++;

		/* After two labels, a top-level label that is not numeric ends one. */
		if (top_ok && i - label >= 2 && (nends == 0 || ends[nends - 1] != i))
			ends[nends++] = i;
		ch = char_at(sc, i);
		if (ch.c != '.' || !is_alnum(char_at(sc, i + ch.width).c))
			break;
		i += ch.width;
	}
	while (--nends >= 0)
	{
		if (right_ok(sc, ends[nends]))
			return ends[nends];
	}
	return 0;
}

/* Whether a card number starts with a prefix some issuer uses. */
static bool
card_prefix_ok(const char *d)
{
	int			two = (d[0] - '0') * 10 + (d[1] - '0');
	int			three = two * 10 + (d[2] - '0');
	int			four = three * 10 + (d[3] - '0');

	switch (d[0])
	{
		case '2':				/* Mastercard 2-series */
			return four >= 2221 && four <= 2720;
		case '3':				/* American Express, Diners Club, JCB */
			return two == 34 || two == 37 || two == 36 || two == 38 ||
				two == 39 || (three >= 300 && three <= 305) ||
				(four >= 3528 && four <= 3589);
		case '4':				/* Visa, Visa/Dankort */
		case '5':				/* Mastercard, Maestro, Dankort */
		case '6':				/* Discover, Maestro, UnionPay */
			return true;
		default:
			return false;
	}
}

/*
 * Reads up to max digits at pos, in any script special_char knows, into
 * digits as ASCII; returns how many and sets *end past the last.
 */
static size_t
read_digits(const Scan *sc, size_t pos, char *digits, size_t max, size_t *end)
{
	size_t		n = 0;
	Char		ch;

	while (n < max && is_digit((ch = char_at(sc, pos)).c))
	{
		digits[n++] = (char) ch.c;
		pos += ch.width;
	}
	*end = pos;
	return n;
}

/* How the groups of a card number may be separated. */
typedef enum CardSeparator
{
	CARD_SEP_NONE,
	CARD_SEP_SPACE_DASH,		/* spaces and dashes, mixed as they come */
	CARD_SEP_DOT,
	CARD_SEP_SLASH
} CardSeparator;

static CardSeparator
card_separator(unsigned char c)
{
	switch (c)
	{
		case ' ':
		case '-':
			return CARD_SEP_SPACE_DASH;
		case '.':
			return CARD_SEP_DOT;
		case '/':
			return CARD_SEP_SLASH;
		default:
			return CARD_SEP_NONE;
	}
}

/*
 * Whether groups of these sizes, separated by dots or slashes, are laid out
 * as card numbers are printed: four digits, then groups of four or six, and
 * a last group of three to six (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4), at least
 * three groups in all. Version numbers and decimals rarely are.
 */
static bool
card_dotted_layout_ok(const size_t *sizes, int ngroups)
{
	if (ngroups < 3 || sizes[0] != 4 || sizes[ngroups - 1] < 3 ||
		sizes[ngroups - 1] > 6)
		return false;
	for (int k = 1; k < ngroups - 1; k++)
		if (sizes[k] != 4 && sizes[k] != 6)
			return false;
	return true;
}

/*
 * The longest card number at pos, ending where a word boundary follows:
 * digit groups separated by single spaces or dashes, or by single dots or
 * single slashes throughout (then laid out as card_dotted_layout_ok says).
 * Returns its end, or 0.
 */
static size_t
parse_card(const Scan *sc, size_t pos)
{
	char		digits[CARD_DIGITS_MAX + 1];
	size_t		ends[CARD_DIGITS_MAX];
	size_t		counts[CARD_DIGITS_MAX];
	size_t		sizes[CARD_DIGITS_MAX];
	int			groups = 0;
	size_t		n = 0;
	size_t		i = pos;
	CardSeparator separator = CARD_SEP_NONE;

	for (;;)
	{
		size_t		g = read_digits(sc, i, digits + n, CARD_DIGITS_MAX - n + 1, &i);
		Char		sep;
		CardSeparator kind;

		if (n + g > CARD_DIGITS_MAX)
			break;
		n += g;
		ends[groups] = i;
		counts[groups] = n;
		sizes[groups] = g;
		groups++;
		sep = char_at(sc, i);
		kind = card_separator(sep.c);
		if (kind == CARD_SEP_NONE || (separator != CARD_SEP_NONE && kind != separator) ||
			!is_digit(char_at(sc, i + sep.width).c))
			break;
		separator = kind;
		i += sep.width;
	}
	while (--groups >= 0)
	{
		if (groups > 0 && separator != CARD_SEP_SPACE_DASH &&
			!card_dotted_layout_ok(sizes, groups + 1))
			continue;
		if (counts[groups] >= CARD_DIGITS_MIN && card_prefix_ok(digits) &&
			pii_luhn_valid(digits, counts[groups]) && right_ok(sc, ends[groups]))
			return ends[groups];
	}
	return 0;
}

/*
 * Whether a digit and a space come just before pos, as in a list of numbers
 * written with spaces ("4711 120324 1530").
 */
static bool
preceded_by_number(const Scan *sc, size_t pos)
{
	Char		p1 = char_before(sc, pos);

	return p1.c == ' ' && is_digit(char_before(sc, pos - p1.width).c);
}

/*
 * A CPR number at pos, its end or 0: ten digits, or a date and four digits,
 * the date written ddmmyy before a dash, a space or an underscore, dd.mm.yy,
 * dd-mm-yy or dd/mm/yy before a dash, or dd mm yy before a dash, a space or
 * the four digits in two pairs ("01 01 90 12 34"). Dashes and spaces are
 * any that special_char knows. Numbers separated by a space are also a date
 * and a time, or two of many numbers, so they are not taken after another
 * number.
 */
static size_t
parse_cpr(const Scan *sc, size_t pos)
{
	char		digits[10];
	size_t		i;
	size_t		n = read_digits(sc, pos, digits, 10, &i);
	Char		sep;
	bool		pairs = false;

	if (n == 10)
		return pii_cpr_valid(digits) ? i : 0;
	sep = char_at(sc, i);
	if (n == 2 && (sep.c == '.' || sep.c == '-' || sep.c == '/' || sep.c == ' '))
	{
		unsigned char date_sep = sep.c;

		for (int part = 1; part <= 2; part++)
		{
			if (char_at(sc, i).c != date_sep ||
				read_digits(sc, i + char_at(sc, i).width, digits + 2 * part, 2, &i) != 2 ||
				is_digit(char_at(sc, i).c))
				return 0;
		}
		sep = char_at(sc, i);
		pairs = date_sep == ' ';
		if (sep.c != '-' && !(pairs && sep.c == ' '))
			return 0;
	}
	else if (n != 6 || (sep.c != '-' && sep.c != ' ' && sep.c != '_'))
		return 0;
	if ((pairs || sep.c == ' ') && preceded_by_number(sc, pos))
		return 0;
	i += sep.width;
	if (pairs && sep.c == ' ')
	{
		/* The four digits in two pairs, or together. */
		if (read_digits(sc, i, digits + 6, 2, &i) != 2)
			return 0;
		if (char_at(sc, i).c == ' ')
			i += char_at(sc, i).width;
		if (read_digits(sc, i, digits + 8, 2, &i) != 2)
			return 0;
	}
	else if (read_digits(sc, i, digits + 6, 4, &i) != 4)
		return 0;
	return pii_cpr_valid(digits) ? i : 0;
}

/*
 * A Danish telephone number at pos: 12345678, or 1234 5678 or 12 34 56 78
 * with spaces or dashes. Returns its end, or 0.
 */
static size_t
parse_phone_dk(const Scan *sc, size_t pos)
{
	size_t		first = digit_run(sc, pos, 9);
	unsigned char sep;

	if (at(sc, pos) < '2')
		return 0;
	if (first == 8)
		return pos + 8;
	sep = at(sc, pos + first);
	if (sep != ' ' && sep != '-')
		return 0;
	if (first == 4 && digit_run(sc, pos + 5, 5) == 4)
		return pos + 9;
	if (first == 2)
	{
		size_t		i = pos + 2;

		for (int group = 1; group < 4; group++)
		{
			if (at(sc, i) != sep || digit_run(sc, i + 1, 3) != 2)
				return 0;
			i += 3;
		}
		return i;
	}
	return 0;
}

/*
 * The longest international telephone number at pos ("+" then 8 to 15
 * digits in groups separated by single spaces, dashes or dots; one group may
 * be in parentheses, as in "+44 (0)20 7946 0958"). Returns its end, or 0.
 */
static size_t
parse_phone_intl(const Scan *sc, size_t pos)
{
	size_t		i = pos + 1;
	size_t		n = 0;
	size_t		best = 0;
	bool		paren_seen = false;

	if (at(sc, i) < '1' || at(sc, i) > '9')
		return 0;
	for (;;)
	{
		size_t		j = i;
		size_t		g;
		bool		paren = false;

		if (at(sc, j) == '(' && !paren_seen)
		{
			paren = paren_seen = true;
			j++;
		}
		g = digit_run(sc, j, PHONE_DIGITS_MAX - n + 1);
		if (g == 0 || n + g > PHONE_DIGITS_MAX)
			break;
		j += g;
		if (paren)
		{
			if (at(sc, j) != ')')
				break;
			j++;
		}
		n += g;
		i = j;
		if (!paren && n >= PHONE_DIGITS_MIN && right_ok(sc, i))
			best = i;

		/* The separator: one space, dash or dot, or none next to a "(" group */
		if ((at(sc, i) == ' ' || at(sc, i) == '-' || at(sc, i) == '.') &&
			(is_digit(at(sc, i + 1)) || (at(sc, i + 1) == '(' && !paren_seen)))
			i++;
		else if (!(paren && is_digit(at(sc, i))) &&
				 !(at(sc, i) == '(' && !paren_seen))
			break;
	}
	return best;
}

/* Tries every pattern in kinds at pos; sets *kind and returns the end. */
static size_t
match_at(const Scan *sc, size_t pos, unsigned kinds, PiiKind *kind)
{
	unsigned char c = sc->text[pos];
	unsigned char p1;
	size_t		end;

	/*
	 * Only a digit starts a CPR or card number: skip other bytes quickly
	 * (0xD9, 0xDB and 0xEF lead the multibyte digits of special_char).
	 */
	if ((kinds & ~PII_SENSITIVE_KINDS) == 0 && !is_digit(c) &&
		c != 0xD9 && c != 0xDB && c != 0xEF)
		return 0;
	p1 = char_before(sc, pos).c;

	if ((kinds & PII_MASK(PII_EMAIL)) && is_alnum(char_at(sc, pos).c) && !is_local(p1) &&
		left_ok(sc, pos) && (end = parse_email(sc, pos)) != 0)
	{
		*kind = PII_EMAIL;
		return end;
	}
	if (!left_ok(sc, pos))
		return 0;
	if ((kinds & PII_MASK(PII_IP)) && (is_hex(c) || c == ':') && p1 != ':' &&
		(end = parse_ipv6(sc, pos)) != 0)
	{
		*kind = PII_IP;
		return end;
	}
	if (c == '+')
	{
		if ((kinds & PII_MASK(PII_PHONE)) && (end = parse_phone_intl(sc, pos)) != 0)
		{
			*kind = PII_PHONE;
			return end;
		}
		return 0;
	}
	if (!is_digit(char_at(sc, pos).c) || !left_ok_number(sc, pos))
		return 0;
	if ((kinds & PII_MASK(PII_IP)) &&
		(end = parse_ipv4(sc, pos)) != 0 && right_ok(sc, end))
	{
		*kind = PII_IP;
		return end;
	}
	if ((kinds & PII_MASK(PII_CARD)) && (end = parse_card(sc, pos)) != 0)
	{
		*kind = PII_CARD;
		return end;
	}
	if ((kinds & PII_MASK(PII_CPR)) &&
		(end = parse_cpr(sc, pos)) != 0 && right_ok(sc, end))
	{
		*kind = PII_CPR;
		return end;
	}
	if ((kinds & PII_MASK(PII_PHONE)) &&
		(end = parse_phone_dk(sc, pos)) != 0 && right_ok(sc, end))
	{
		*kind = PII_PHONE;
		return end;
	}
	return 0;
}

size_t
pii_scan(const char *text, size_t len, unsigned kinds,
		 PiiVisitor visit, void *arg)
{
	Scan		sc = {(const unsigned char *) text, len, 0};
	size_t		pos = 0;
	size_t		found = 0;

	while (pos < len)
	{
		unsigned char c = sc.text[pos];
		PiiKind		kind = PII_NONE;
		size_t		end = 0;
		size_t		skip = ignorable_at(&sc, pos);

		/* No match starts with an invisible character; step over it whole. */
		if (skip != 0)
		{
			pos += skip;
			continue;
		}
		if (is_alnum(c) || c == '+' || c == ':')
			end = match_at(&sc, pos, kinds, &kind);
		if (end == 0)
		{
			pos++;
			continue;
		}
		{
			PiiSpan		span = {pos, end, kind};

			found++;
			if (!visit(&span, arg))
				break;
		}
		sc.floor = pos = end;
	}
	return found;
}

typedef struct KindsSeen
{
	unsigned	wanted;
	unsigned	seen;
} KindsSeen;

/* Visitor of pii_scan_kinds(): notes the kind, stops once all are seen. */
static bool
note_kind(const PiiSpan *span, void *arg)
{
	KindsSeen  *ks = (KindsSeen *) arg;

	ks->seen |= PII_MASK(span->kind);
	return ks->seen != ks->wanted;
}

unsigned
pii_scan_kinds(const char *text, size_t len, unsigned kinds)
{
	KindsSeen	ks = {kinds & PII_ALL_KINDS, 0};

	if (ks.wanted != 0)
		pii_scan(text, len, ks.wanted, note_kind, &ks);
	return ks.seen;
}

typedef struct FirstSpans
{
	int			count;
	PiiSpan		first;
} FirstSpans;

/* Visitor of pii_classify(): keeps the first match, stops at the second. */
static bool
keep_first(const PiiSpan *span, void *arg)
{
	FirstSpans *fs = (FirstSpans *) arg;

	if (fs->count++ == 0)
		fs->first = *span;
	return fs->count < 2;
}

static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

PiiKind
pii_classify(const char *text, size_t len)
{
	size_t		start = 0;
	FirstSpans	fs = {0, {0, 0, PII_NONE}};

	while (start < len && is_space((unsigned char) text[start]))
		start++;
	while (len > start && is_space((unsigned char) text[len - 1]))
		len--;
	if (start == len)
		return PII_NONE;
	pii_scan(text + start, len - start, PII_ALL_KINDS, keep_first, &fs);
	if (fs.count == 1 && fs.first.start == 0 && fs.first.end == len - start)
		return fs.first.kind;
	return PII_NONE;
}

const char *
pii_kind_category(PiiKind kind)
{
	switch (kind)
	{
		case PII_EMAIL:
			return "contact.email";
		case PII_PHONE:
			return "contact.phone";
		case PII_IP:
			return "credentials.ip_address";
		case PII_CPR:
			return "national_id";
		case PII_CARD:
			return "payment_card";
		case PII_NONE:
			break;
	}
	return NULL;
}

const char *
pii_kind_description(PiiKind kind)
{
	switch (kind)
	{
		case PII_EMAIL:
			return "an e-mail address";
		case PII_PHONE:
			return "a telephone number";
		case PII_IP:
			return "an IP address";
		case PII_CPR:
			return "a Danish CPR number";
		case PII_CARD:
			return "a payment card number";
		case PII_NONE:
			break;
	}
	return NULL;
}

const char *
pii_kind_marker(PiiKind kind)
{
	switch (kind)
	{
		case PII_EMAIL:
			return "[redacted contact.email]";
		case PII_PHONE:
			return "[redacted contact.phone]";
		case PII_IP:
			return "[redacted credentials.ip_address]";
		case PII_CPR:
			return "[redacted national_id]";
		case PII_CARD:
			return "[redacted payment_card]";
		case PII_NONE:
			break;
	}
	return NULL;
}

static bool
is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/*
 * The century of a CPR number follows from the seventh digit and the year
 * (CPR-kontoret's table): 0-3 1900s; 4 and 9 2000s up to 36, else 1900s;
 * 5-8 2000s up to 57, else 1800s.
 */
int
pii_cpr_birth_year(const char *digits)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			day,
				month,
				yy,
				seventh,
				year,
				last;

	for (int k = 0; k < 10; k++)
		if (!is_digit((unsigned char) digits[k]))
			return 0;
	day = (digits[0] - '0') * 10 + (digits[1] - '0');
	month = (digits[2] - '0') * 10 + (digits[3] - '0');
	yy = (digits[4] - '0') * 10 + (digits[5] - '0');
	seventh = digits[6] - '0';

	if (seventh <= 3)
		year = 1900 + yy;
	else if (seventh == 4 || seventh == 9)
		year = (yy <= 36 ? 2000 : 1900) + yy;
	else
		year = (yy <= 57 ? 2000 : 1800) + yy;

	if (month < 1 || month > 12 || day < 1)
		return 0;
	last = days[month - 1] + (month == 2 && is_leap_year(year) ? 1 : 0);
	return day <= last ? year : 0;
}

bool
pii_cpr_valid(const char *digits)
{
	return pii_cpr_birth_year(digits) != 0;
}

bool
pii_luhn_valid(const char *digits, size_t n)
{
	unsigned	sum = 0;
	bool		twice = false;

	if (n == 0)
		return false;
	while (n-- > 0)
	{
		unsigned	d = (unsigned) (digits[n] - '0');

		if (d > 9)
			return false;
		if (twice)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		twice = !twice;
	}
	return sum % 10 == 0;
}
