/*
 * test_pii_scan.c
 *		Unit tests of the personal-data scanner (src/pii_scan.c): each
 *		pattern, CPR dates and centuries, the Luhn check, word boundaries,
 *		the spellings people type (Unicode dashes and spaces, full-width
 *		digits), spans, whole-value classification and the kind names.
 */
#include <stdlib.h>
#include <string.h>

#include "pure/pii_scan.h"
#include "unit.h"

typedef struct Found
{
	const char *text;
	char		buf[1024];
	size_t		used;
} Found;

static const char *
short_name(PiiKind kind)
{
	switch (kind)
	{
		case PII_EMAIL:
			return "email";
		case PII_PHONE:
			return "phone";
		case PII_IP:
			return "ip";
		case PII_CPR:
			return "cpr";
		case PII_CARD:
			return "card";
		case PII_NONE:
			break;
	}
	return "none";
}

static bool
append_span(const PiiSpan *span, void *arg)
{
	Found	   *f = (Found *) arg;
	int			n;

	n = snprintf(f->buf + f->used, sizeof(f->buf) - f->used, "%s%s=%.*s",
				 f->used ? "|" : "", short_name(span->kind),
				 (int) (span->end - span->start), f->text + span->start);
	if (n > 0)
		f->used += (size_t) n;
	return true;
}

/* The matches in text as "kind=matched text|...", "" if none. */
static const char *
scan_kinds(const char *text, unsigned kinds)
{
	static Found f;

	f.text = text;
	f.buf[0] = '\0';
	f.used = 0;
	pii_scan(text, strlen(text), kinds, append_span, &f);
	return f.buf;
}

static const char *
scan(const char *text)
{
	return scan_kinds(text, PII_ALL_KINDS);
}

typedef struct SpanList
{
	PiiSpan		spans[16];
	int			n;
} SpanList;

static bool
collect_span(const PiiSpan *span, void *arg)
{
	SpanList   *l = (SpanList *) arg;

	if (l->n < 16)
		l->spans[l->n] = *span;
	l->n++;
	return true;
}

static bool
stop_after_one(const PiiSpan *span, void *arg)
{
	(void) span;
	(*(int *) arg)++;
	return false;
}

static void
test_cpr_dates(void)
{
	CHECK(pii_cpr_valid("0101901234"), "1 January 1990 is a CPR date");
	CHECK(pii_cpr_valid("3112991234"), "31 December 1999");
	CHECK(!pii_cpr_valid("3201901234"), "day 32 is not a date");
	CHECK(!pii_cpr_valid("0001901234"), "day 0 is not a date");
	CHECK(!pii_cpr_valid("0113901234"), "month 13 is not a date");
	CHECK(!pii_cpr_valid("0100901234"), "month 0 is not a date");
	CHECK(!pii_cpr_valid("3104901234"), "31 April does not exist");
	CHECK(pii_cpr_valid("3004901234"), "30 April exists");
	CHECK(!pii_cpr_valid("010190123x"), "a letter is not a digit");

	/* The century: seventh digit and year (CPR-kontoret's table). */
	CHECK(pii_cpr_birth_year("0101000123") == 1900, "seventh digit 0, year 00: 1900");
	CHECK(pii_cpr_birth_year("0101993123") == 1999, "seventh digit 3, year 99: 1999");
	CHECK(pii_cpr_birth_year("0101364123") == 2036, "seventh digit 4, year 36: 2036");
	CHECK(pii_cpr_birth_year("0101374123") == 1937, "seventh digit 4, year 37: 1937");
	CHECK(pii_cpr_birth_year("0101369123") == 2036, "seventh digit 9, year 36: 2036");
	CHECK(pii_cpr_birth_year("0101379123") == 1937, "seventh digit 9, year 37: 1937");
	CHECK(pii_cpr_birth_year("0101575123") == 2057, "seventh digit 5, year 57: 2057");
	CHECK(pii_cpr_birth_year("0101585123") == 1858, "seventh digit 5, year 58: 1858");
	CHECK(pii_cpr_birth_year("0101008123") == 2000, "seventh digit 8, year 00: 2000");
	CHECK(pii_cpr_birth_year("0101998123") == 1899, "seventh digit 8, year 99: 1899");
	CHECK(pii_cpr_birth_year("0101206123") == 2020, "seventh digit 6, year 20: 2020");
	CHECK(pii_cpr_birth_year("0101707123") == 1870, "seventh digit 7, year 70: 1870");
	CHECK(pii_cpr_birth_year("3201901234") == 0, "no year for an invalid date");

	/* 29 February exists in leap years only: the century decides. */
	CHECK(!pii_cpr_valid("2902001123"), "29-02-1900 (seventh digit 1) does not exist");
	CHECK(pii_cpr_valid("2902004123"), "29-02-2000 (seventh digit 4) exists");
	CHECK(pii_cpr_valid("2902009123"), "29-02-2000 (seventh digit 9) exists");
	CHECK(pii_cpr_valid("2902005123"), "29-02-2000 (seventh digit 5) exists");
	CHECK(pii_cpr_valid("2902964123"), "29-02-1996 exists");
	CHECK(!pii_cpr_valid("2902971123"), "29-02-1997 does not exist");
	CHECK(pii_cpr_valid("2902608123"), "29-02-1860 exists");
	CHECK(!pii_cpr_valid("2902586123"), "29-02-1858 does not exist");
	CHECK(!pii_cpr_valid("3002964123"), "30-02 never exists");

	/* The modulus-11 check is not required. */
	CHECK(pii_cpr_valid("0101901235"), "a CPR number failing modulus 11 is still one");
}

static void
test_cpr_in_text(void)
{
	CHECK_STR(scan("CPR: 010190-1234."), "cpr=010190-1234", "ddmmyy-ssss in a sentence");
	CHECK_STR(scan("cpr 0101901234"), "cpr=0101901234", "ddmmyyssss");
	CHECK_STR(scan("0101901234"), "cpr=0101901234", "a whole value");
	CHECK_STR(scan("320190-1234"), "", "no CPR with day 32");
	CHECK_STR(scan("290201-1234"), "", "no CPR for 29-02-1901");
	CHECK_STR(scan("290200-4234"), "cpr=290200-4234", "29-02-2000 exists");
	CHECK_STR(scan("x010190-1234"), "", "not after a letter");
	CHECK_STR(scan("010190-12345"), "", "not before a fifth serial digit");
	CHECK_STR(scan("9010190-1234"), "", "not after a digit");
	CHECK_STR(scan("01019012345"), "", "not inside eleven digits");
	CHECK_STR(scan("5-010190-1234"), "", "not inside a dash-joined digit run");
	CHECK_STR(scan("010190-1234-5"), "", "not before a dash and a digit");
	CHECK_STR(scan("010190  1234"), "", "two spaces do not join date and serial");
	CHECK_STR(scan("(010190-1234)"), "cpr=010190-1234", "in parentheses");
	CHECK_STR(scan("a,010190-1234,b"), "cpr=010190-1234", "between commas");
	CHECK_STR(scan("010190-1234 2 children"), "cpr=010190-1234", "a separate number after a space");
	CHECK_STR(scan("3,0101901234"), "", "not the decimals of a number");
	CHECK_STR(scan("010190-1234@example.com"), "email=010190-1234@example.com",
			  "an e-mail address whose local part looks like a CPR number is an e-mail address");
	CHECK_STR(scan_kinds("010190-1234@example.com", PII_SENSITIVE_KINDS), "",
			  "scanning for CPR only, the local part of an address is not a CPR number");
	CHECK_STR(scan("170349-5678 og 250505-9876"), "cpr=170349-5678|cpr=250505-9876", "two numbers");
}

static void
test_luhn(void)
{
	CHECK(pii_luhn_valid("4111111111111111", 16), "the Visa test number passes");
	CHECK(pii_luhn_valid("79927398713", 11), "the textbook Luhn example passes");
	CHECK(!pii_luhn_valid("79927398710", 11), "a wrong check digit fails");
	CHECK(!pii_luhn_valid("4111111111111112", 16), "one changed digit fails");
	CHECK(pii_luhn_valid("0", 1), "a single zero passes");
	CHECK(!pii_luhn_valid("", 0), "no digits fail");
	CHECK(!pii_luhn_valid("41111111111x1111", 16), "a letter fails");
}

static void
test_cards(void)
{
	CHECK_STR(scan("card 4111111111111111 exp"), "card=4111111111111111", "16 digits");
	CHECK_STR(scan("4111 1111 1111 1111"), "card=4111 1111 1111 1111", "groups of four, spaces");
	CHECK_STR(scan("4111-1111-1111-1111"), "card=4111-1111-1111-1111", "groups of four, dashes");
	CHECK_STR(scan("3782 822463 10005"), "card=3782 822463 10005", "American Express 4-6-5");
	CHECK_STR(scan("5555555555554444"), "card=5555555555554444", "Mastercard");
	CHECK_STR(scan("2221000000000009"), "card=2221000000000009", "Mastercard 2-series");
	CHECK_STR(scan("4571000000000001"), "card=4571000000000001", "Visa/Dankort");
	CHECK_STR(scan("4222222222222"), "card=4222222222222", "13-digit Visa");
	CHECK_STR(scan("6011000990139424"), "card=6011000990139424", "Discover");
	CHECK_STR(scan("4111111111111112"), "", "a failing Luhn check is no card");
	CHECK_STR(scan("1111111111111117"), "", "prefix 1 is no issuer");
	CHECK_STR(scan("9111111111111110"), "", "prefix 9 is no issuer");
	CHECK_STR(scan("2000000000000008"), "", "prefix 2000 is no issuer");
	CHECK_STR(scan("3000000000000004"), "card=3000000000000004", "Diners Club 300");
	CHECK_STR(scan("3100000000000006"), "", "prefix 31 is no issuer");
	CHECK_STR(scan("411111111111"), "", "12 digits are too few");
	CHECK_STR(scan("41111111111111111111"), "", "20 digits are too many");
	CHECK_STR(scan("x4111111111111111"), "", "not after a letter");
	CHECK_STR(scan("4111111111111111x"), "", "not before a letter");
	CHECK_STR(scan("94111111111111111"), "", "not inside a longer digit run");
	CHECK_STR(scan("4111  1111 1111 1111"), "", "two spaces end the number");
	CHECK_STR(scan("4111-1111-1111-1111-1"), "", "not inside a dash-joined run");
	CHECK_STR(scan("4111 1111 1111 1111 12/27"), "card=4111 1111 1111 1111",
			  "the longest valid grouping, before an expiry date");
	CHECK_STR(scan("ref 12 4111 1111 1111 1111"), "card=4111 1111 1111 1111",
			  "a number after a separate number");
}

static void
test_phones(void)
{
	CHECK_STR(scan("ring 12345678"), "", "a Danish number starts with 2-9");
	CHECK_STR(scan("ring 22345678"), "phone=22345678", "eight digits");
	CHECK_STR(scan("ring 2234 5678 i dag"), "phone=2234 5678", "four and four");
	CHECK_STR(scan("ring 22 34 56 78."), "phone=22 34 56 78", "pairs, with spaces");
	CHECK_STR(scan("ring 22-34-56-78"), "phone=22-34-56-78", "pairs, with dashes");
	CHECK_STR(scan("ring 22 34-56 78"), "", "mixed separators are not a grouping");
	CHECK_STR(scan("ring 223 45 678"), "", "3-2-3 is not a Danish grouping");
	CHECK_STR(scan("223456789"), "", "nine digits are no Danish number");
	CHECK_STR(scan("2234567"), "", "seven digits are no Danish number");
	CHECK_STR(scan("22 34 56 789"), "", "not before a longer group");
	CHECK_STR(scan("22-34-56-78-90"), "", "not inside a dash-joined run");
	CHECK_STR(scan("3,25000000 kr"), "", "not the decimals of a number");
	CHECK_STR(scan("+4522345678"), "phone=+4522345678", "+45 and eight digits");
	CHECK_STR(scan("tlf: +45 22 34 56 78"), "phone=+45 22 34 56 78", "+45 with pairs");
	CHECK_STR(scan("+44 (0)20 7946 0958"), "phone=+44 (0)20 7946 0958", "a trunk prefix in parentheses");
	CHECK_STR(scan("+1 (555) 123-4567"), "phone=+1 (555) 123-4567", "an area code in parentheses");
	CHECK_STR(scan("+49.30.1234567"), "phone=+49.30.1234567", "dots between groups");
	CHECK_STR(scan("+45 1234"), "", "too few digits");
	CHECK_STR(scan("+1234567890123456"), "", "more than 15 digits in one group");
	CHECK_STR(scan("+45 22345678 87654321"), "phone=+45 22345678|phone=87654321",
			  "at most 15 digits; a following number stands alone");
	CHECK_STR(scan("x+4522345678"), "", "not after a letter");
	CHECK_STR(scan("+0452234567"), "", "no country code starts with 0");
	CHECK_STR(scan("22345678, 33445566"), "phone=22345678|phone=33445566", "a list");
}

static void
test_ips(void)
{
	CHECK_STR(scan("from 192.168.1.20 at"), "ip=192.168.1.20", "IPv4");
	CHECK_STR(scan("0.0.0.0"), "ip=0.0.0.0", "all zeros");
	CHECK_STR(scan("255.255.255.255"), "ip=255.255.255.255", "all ones");
	CHECK_STR(scan("256.1.1.1"), "", "an octet above 255");
	CHECK_STR(scan("01.1.1.1"), "", "a leading zero");
	CHECK_STR(scan("1.2.3"), "", "three octets");
	CHECK_STR(scan("1.2.3.4.5"), "", "not inside a longer dotted run");
	CHECK_STR(scan("v1.2.3.4"), "", "not after a letter");
	CHECK_STR(scan("10.0.0.1:8080"), "ip=10.0.0.1", "before a port");
	CHECK_STR(scan("10.0.0.0/8"), "ip=10.0.0.0", "before a prefix length");
	CHECK_STR(scan("host 10.0.0.1."), "ip=10.0.0.1", "at the end of a sentence");

	CHECK_STR(scan("2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
			  "ip=2001:0db8:85a3:0000:0000:8a2e:0370:7334", "IPv6, eight groups");
	CHECK_STR(scan("addr 2001:db8::1 up"), "ip=2001:db8::1", "IPv6 with ::");
	CHECK_STR(scan("::1"), "ip=::1", "the loopback address");
	CHECK_STR(scan("fe80::"), "ip=fe80::", "ending in ::");
	CHECK_STR(scan("::ffff:192.0.2.1"), "ip=::ffff:192.0.2.1", "IPv4-mapped");
	CHECK_STR(scan("64:ff9b::192.0.2.33"), "ip=64:ff9b::192.0.2.33", "IPv4 tail after ::");
	CHECK_STR(scan("1:2:3:4:5:6:1.2.3.4"), "ip=1:2:3:4:5:6:1.2.3.4", "IPv4 tail, six groups");
	CHECK_STR(scan("[2001:DB8::A]:443"), "ip=2001:DB8::A", "upper case, in brackets");
	CHECK_STR(scan("fe80::1%eth0"), "ip=fe80::1", "the zone is not part of it");
	CHECK_STR(scan("::"), "", ":: alone is not reported");
	CHECK_STR(scan("1:2:3:4:5:6:7"), "", "seven groups without ::");
	CHECK_STR(scan("1::2::3"), "ip=1::2|ip=::3", "a second :: starts a new address");
	CHECK_STR(scan("12345::1"), "", "a group of five digits");
	CHECK_STR(scan("at 12:30:45"), "", "a time of day");
	CHECK_STR(scan("00:1a:2b:3c:4d:5e"), "", "a MAC address");
	CHECK_STR(scan("std::vector"), "", "a C++ name");
}

static void
test_emails(void)
{
	CHECK_STR(scan("Write to john.doe+tag@example.co.uk today."),
			  "email=john.doe+tag@example.co.uk", "in a sentence");
	CHECK_STR(scan("<anna@firma.dk>"), "email=anna@firma.dk", "in angle brackets");
	CHECK_STR(scan("mailto:anna@firma.dk"), "email=anna@firma.dk", "after mailto:");
	CHECK_STR(scan("s\xc3\xb8ren@b\xc3\xa6k.dk"), "email=s\xc3\xb8ren@b\xc3\xa6k.dk",
			  "non-ASCII letters");
	CHECK_STR(scan("a@b.dk, c@d-e.com"), "email=a@b.dk|email=c@d-e.com", "two addresses");
	CHECK_STR(scan("anna@localhost"), "", "one label is not a domain");
	CHECK_STR(scan("anna@10.0.0.1"), "", "a numeric domain: neither an address nor, after @, an IP");
	CHECK_STR(scan("anna@firma.d"), "", "a one-letter top-level label");
	CHECK_STR(scan("anna..b@firma.dk"), "", "two dots in the local part");
	CHECK_STR(scan("anna.@firma.dk"), "", "a dot ending the local part");
	CHECK_STR(scan(".anna@firma.dk"), "", "a dot starting the local part");
	CHECK_STR(scan("anna@-firma.dk"), "", "a label starting with a dash");
	CHECK_STR(scan("anna@firma-.dk"), "", "a label ending with a dash");
	CHECK_STR(scan("anna@@firma.dk"), "", "two at signs");
	CHECK_STR(scan("a@b@firma.dk"), "", "no address inside a longer one");
	CHECK_STR(scan("@firma.dk"), "", "no local part");
	CHECK_STR(scan("anna@firma.dk_x"), "", "not before an underscore");
	CHECK_STR(scan("user@xn--bcher-kva.example"), "email=user@xn--bcher-kva.example",
			  "a punycode label");
	CHECK_STR(scan("22345678@sms.dk"), "email=22345678@sms.dk", "digits before @ are an address");
	CHECK_STR(scan("x.y+z@firma.co.uk--1.2.3.4"), "email=x.y+z@firma.co.uk|ip=1.2.3.4",
			  "an address ends before a dash that leads into other text");
	CHECK_STR(scan("a@b.dk--10.0.0.1"), "email=a@b.dk|ip=10.0.0.1",
			  "the longest valid domain is kept when a longer one fails");
	CHECK_STR(scan("anna@firma.dk\u00A0ring"), "email=anna@firma.dk",
			  "a no-break space ends an address");
	CHECK_STR(scan("a@b.dk.\u20104111111111111111\u2010@"), "email=a@b.dk|card=4111111111111111",
			  "a Unicode dash does not start a label");
	CHECK_STR(scan("1::2:3a@x.dk"), "ip=1::2|email=3a@x.dk",
			  "an IPv6 address ends where an address starts after a colon");
	{
		char		local[80];
		char		text[120];

		memset(local, 'a', 65);
		local[65] = '\0';
		snprintf(text, sizeof(text), "%s@firma.dk", local);
		CHECK_STR(scan(text), "", "a local part of 65 bytes");
		local[64] = '\0';
		snprintf(text, sizeof(text), "%s@firma.dk", local);
		CHECK(strlen(scan(text)) == strlen("email=") + 64 + strlen("@firma.dk"),
			  "a local part of 64 bytes");
	}
}

static void
test_spans(void)
{
	const char *text = "Mail a@b.dk, ring 22 34 56 78, CPR 010190-1234, IP ::1";
	SpanList	l = {.n = 0};
	int			calls = 0;
	size_t		visited;

	pii_scan(text, strlen(text), PII_ALL_KINDS, collect_span, &l);
	CHECK(l.n == 4, "four matches in a mixed sentence (got %d)", l.n);
	CHECK(l.spans[0].kind == PII_EMAIL && l.spans[0].start == 5 && l.spans[0].end == 11,
		  "the e-mail span is [5, 11)");
	CHECK(l.spans[1].kind == PII_PHONE && l.spans[1].start == 18 && l.spans[1].end == 29,
		  "the telephone span is [18, 29)");
	CHECK(l.spans[2].kind == PII_CPR && l.spans[2].start == 35 && l.spans[2].end == 46,
		  "the CPR span is [35, 46)");
	CHECK(l.spans[3].kind == PII_IP && l.spans[3].start == 51 && l.spans[3].end == 54,
		  "the IP span is [51, 54)");

	l.n = 0;
	pii_scan(text, strlen(text), PII_SENSITIVE_KINDS, collect_span, &l);
	CHECK(l.n == 1 && l.spans[0].kind == PII_CPR, "the sensitive kinds only: the CPR number");

	visited = pii_scan(text, strlen(text), PII_ALL_KINDS, stop_after_one, &calls);
	CHECK(visited == 1 && calls == 1, "a visitor returning false ends the scan");

	/* A length shorter than the string: nothing past it is read. */
	CHECK_STR(scan_kinds("", PII_ALL_KINDS), "", "empty text");
	l.n = 0;
	pii_scan("010190-1234", 10, PII_ALL_KINDS, collect_span, &l);
	CHECK(l.n == 0, "a number cut short by the length is not found");
	l.n = 0;
	pii_scan("a@b.dk.", 6, PII_ALL_KINDS, collect_span, &l);
	CHECK(l.n == 1 && l.spans[0].end == 6, "the text ends at len");

	CHECK(pii_scan_kinds(text, strlen(text), PII_ALL_KINDS) ==
		  (PII_MASK(PII_EMAIL) | PII_MASK(PII_PHONE) | PII_MASK(PII_CPR) | PII_MASK(PII_IP)),
		  "pii_scan_kinds reports the kinds found");
	CHECK(pii_scan_kinds(text, strlen(text), PII_MASK(PII_CARD)) == 0,
		  "pii_scan_kinds looks only for the kinds asked for");
}

/* The text with each sensitive match replaced by its marker, as redact mode does. */
static const char *
redact(const char *text)
{
	static char out[1024];
	SpanList	l = {.n = 0};
	size_t		done = 0;
	size_t		used = 0;

	pii_scan(text, strlen(text), PII_SENSITIVE_KINDS, collect_span, &l);
	for (int k = 0; k < l.n && k < 16; k++)
	{
		used += snprintf(out + used, sizeof(out) - used, "%.*s%s",
						 (int) (l.spans[k].start - done), text + done,
						 pii_kind_marker(l.spans[k].kind));
		done = l.spans[k].end;
	}
	snprintf(out + used, sizeof(out) - used, "%s", text + done);
	return out;
}

typedef struct Spelling
{
	const char *text;
	const char *what;
} Spelling;

/* CPR number 010190-1234 as people type it; each must be found whole. */
static const Spelling cpr_spellings[] = {
	{"010190 1234", "a space"},
	{"010190\u20101234", "U+2010 hyphen"},
	{"010190\u20111234", "U+2011 non-breaking hyphen"},
	{"010190\u20121234", "U+2012 figure dash"},
	{"010190\u20131234", "U+2013 en dash"},
	{"010190\u20141234", "U+2014 em dash"},
	{"010190\u22121234", "U+2212 minus sign"},
	{"010190\uFE631234", "U+FE63 small hyphen-minus"},
	{"010190\uFF0D1234", "U+FF0D full-width hyphen-minus"},
	{"010190\u00A01234", "U+00A0 no-break space"},
	{"010190\u202F1234", "U+202F narrow no-break space"},
	{"010190\u20091234", "U+2009 thin space"},
	{"010190\u20071234", "U+2007 figure space"},
	{"010190\u30001234", "U+3000 ideographic space"},
	{"01.01.90-1234", "dd.mm.yy-ssss"},
	{"01-01-90-1234", "dd-mm-yy-ssss"},
	{"01/01/90-1234", "dd/mm/yy-ssss"},
	{"01.01.90\u20131234", "dd.mm.yy, en dash"},
	{"01\uFF0E01\uFF0E90\uFF0D1234", "full-width full stops and hyphen-minus"},
	{"\uFF10\uFF11\uFF10\uFF11\uFF19\uFF10\uFF0D\uFF11\uFF12\uFF13\uFF14",
	"full-width digits and hyphen-minus"},
	{"\uFF10\uFF11\uFF10\uFF11\uFF19\uFF10\uFF11\uFF12\uFF13\uFF14", "ten full-width digits"},
	{"\uFF10\uFF11\uFF10\uFF11\uFF19\uFF10-\uFF11\uFF12\uFF13\uFF14", "full-width digits, ASCII dash"},
	{"\u0660\u0661\u0660\u0661\u0669\u0660-\u0661\u0662\u0663\u0664", "Arabic-Indic digits"},
	{"\u06F0\u06F1\u06F0\u06F1\u06F9\u06F0-\u06F1\u06F2\u06F3\u06F4", "extended Arabic-Indic digits"},
	{"0101\uFF19\uFF10-1234", "digits of two scripts"},
	{"010190\u200B-1234", "U+200B zero-width space before the dash"},
	{"0101\u00AD90-1234", "U+00AD soft hyphen inside the date"},
	{"01\u200C01\u200D90\u20601234", "U+200C, U+200D, U+2060 between the digits"},
	{"0\uFEFF1\uFEFF0\uFEFF1\uFEFF9\uFEFF0\uFEFF1\uFEFF2\uFEFF3\uFEFF4",
	"U+FEFF between every two digits"},
	{"010190-\u200E1234", "U+200E direction mark after the dash"},
	{"010190_1234", "an underscore"},
	{"01 01 90 12 34", "a date and the four digits in spaced pairs"},
	{"01 01 90-1234", "a date in spaced pairs, then a dash"},
	{"01 01 90 1234", "a date in spaced pairs, then a space"},
};

/* Card number 4111111111111111 as people type it; each must be found whole. */
static const Spelling card_spellings[] = {
	{"4111.1111.1111.1111", "dots"},
	{"4111/1111/1111/1111", "slashes"},
	{"4111\u20131111\u20131111\u20131111", "en dashes"},
	{"4111\u20101111\u20101111\u20101111", "U+2010 hyphens"},
	{"4111\u20111111\u20111111\u20111111", "U+2011 non-breaking hyphens"},
	{"4111\u20121111\u20121111\u20121111", "U+2012 figure dashes"},
	{"4111\u22121111\u22121111\u22121111", "minus signs"},
	{"4111\u00A01111\u00A01111\u00A01111", "no-break spaces"},
	{"4111\u202F1111\u202F1111\u202F1111", "narrow no-break spaces"},
	{"4111\u20091111\u20091111\u20091111", "thin spaces"},
	{"4111 1111\u00A01111-1111", "spaces and dashes mixed"},
	{"\uFF14\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11",
	"sixteen full-width digits"},
	{"\uFF14\uFF11\uFF11\uFF11\uFF0D\uFF11\uFF11\uFF11\uFF11\uFF0D\uFF11\uFF11\uFF11\uFF11\uFF0D\uFF11\uFF11\uFF11\uFF11",
	"full-width digits and hyphen-minus"},
	{"4111\uFF0E1111\uFF0E1111\uFF0E1111", "full-width full stops"},
	{"4111\uFF0F1111\uFF0F1111\uFF0F1111", "full-width solidus"},
	{"\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661",
	"Arabic-Indic digits"},
	{"3782.822463.10005", "American Express 4-6-5, dots"},
	{"4111\u200B1111\u200B1111\u200B1111", "U+200B zero-width spaces"},
	{"4111\u00AD1111\u00AD1111\u00AD1111", "U+00AD soft hyphens"},
	{"4111\u20601111\uFEFF1111\u200D1111", "word joiner, U+FEFF, U+200D"},
	{"4111 \u200B1111\u200B-1111\u200C\u20601111", "invisible characters next to separators"},
	{"4\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1\u200B1",
	"U+200B between every two digits"},
};

static void
check_spellings(const Spelling *spellings, int n, const char *want_kind,
				const char *marker)
{
	for (int k = 0; k < n; k++)
	{
		char		text[256];
		char		want[256];
		char		redacted[256];

		snprintf(text, sizeof(text), "Ref: %s, tak.", spellings[k].text);
		snprintf(want, sizeof(want), "%s=%s", want_kind, spellings[k].text);
		CHECK_STR(scan(text), want, "%s, %s: found whole", want_kind, spellings[k].what);
		snprintf(redacted, sizeof(redacted), "Ref: %s, tak.", marker);
		CHECK_STR(redact(text), redacted, "%s, %s: the marker replaces every byte",
				  want_kind, spellings[k].what);
		CHECK(pii_classify(spellings[k].text, strlen(spellings[k].text)) ==
			  (strcmp(want_kind, "cpr") == 0 ? PII_CPR : PII_CARD),
			  "%s, %s: classified as a whole value", want_kind, spellings[k].what);
	}
}

static void
test_spellings(void)
{
	check_spellings(cpr_spellings, (int) (sizeof(cpr_spellings) / sizeof(cpr_spellings[0])),
					"cpr", "[redacted national_id]");
	check_spellings(card_spellings, (int) (sizeof(card_spellings) / sizeof(card_spellings[0])),
					"card", "[redacted payment_card]");

	/* Spans are byte offsets into the text as given. */
	{
		const char *text = "CPR\u00A0\uFF10\uFF11\uFF10\uFF11\uFF19\uFF10\u2013\uFF11\uFF12\uFF13\uFF14!";
		SpanList	l = {.n = 0};

		pii_scan(text, strlen(text), PII_SENSITIVE_KINDS, collect_span, &l);
		CHECK(l.n == 1 && l.spans[0].kind == PII_CPR && l.spans[0].start == 5 &&
			  l.spans[0].end == 5 + 10 * 3 + 3 && l.spans[0].end == strlen(text) - 1,
			  "a full-width CPR number after a no-break space spans bytes [5, 38)");
	}

	/* The new separators join digits at word boundaries as ASCII ones do. */
	CHECK_STR(scan("x010190\u20131234"), "", "not after a letter");
	CHECK_STR(scan("5\u2013010190\u20131234"), "", "not inside an en-dash-joined digit run");
	CHECK_STR(scan("010190\u20131234\u20135"), "", "not before an en dash and a digit");
	CHECK_STR(scan("010190-1234\uFF15"), "", "not before a full-width digit");
	CHECK_STR(scan("\uFF15010190-1234"), "", "not after a full-width digit");
	CHECK_STR(scan("4111\u00A01111\u00A01111\u00A01111\u2010\uFF11"), "",
			  "not inside a longer run joined by Unicode dashes");
	CHECK_STR(scan("CPR\u00A0010190-1234"), "cpr=010190-1234", "after a no-break space");

	/* Invisible format characters are read as if absent, boundaries too. */
	CHECK_STR(scan("x\u200B010190-1234"), "", "not after a letter and a zero-width space");
	CHECK_STR(scan("010190-1234\u200B5"), "", "not before a zero-width space and a digit");
	CHECK_STR(scan("5\u00AD4111111111111111"), "", "not after a digit and a soft hyphen");
	CHECK_STR(scan("\u200B\u200B\u200B"), "", "invisible characters alone are nothing");
	{
		const char *text = "CPR \u200B010190\u200B-1234\uFEFF.";
		SpanList	l = {.n = 0};

		pii_scan(text, strlen(text), PII_SENSITIVE_KINDS, collect_span, &l);
		CHECK(l.n == 1 && l.spans[0].kind == PII_CPR && l.spans[0].start == 4 + 3 &&
			  l.spans[0].end == 7 + 6 + 3 + 1 + 4,
			  "a span covers the invisible characters inside the number, not around it");
	}
	{
		/* A long run of invisible characters still joins the groups. */
		char		text[4096];
		size_t		used = (size_t) snprintf(text, sizeof(text), "4111");

		for (int k = 0; k < 3; k++)
		{
			for (int z = 0; z < 300; z++)
				used += (size_t) snprintf(text + used, sizeof(text) - used, "\u200B");
			used += (size_t) snprintf(text + used, sizeof(text) - used, "1111");
		}
		CHECK(pii_scan_kinds(text, used, PII_SENSITIVE_KINDS) == PII_MASK(PII_CARD),
			  "a card number with 300 zero-width spaces between groups is found");
		CHECK(pii_classify(text, used) == PII_CARD,
			  "a card number with 300 zero-width spaces between groups is one value");
	}

	/* The spaced-pair and underscore CPR spellings keep the number rules. */
	CHECK_STR(scan("7 01 01 90 12 34"), "", "spaced pairs not taken after another number");
	CHECK_STR(scan("01 01 90 12 345"), "", "spaced pairs need a final pair");
	CHECK_STR(scan("32 01 90-1234"), "", "spaced pairs must be a date");
	CHECK_STR(scan("x010190_1234"), "", "underscore form not after a letter");
	CHECK_STR(scan("010190_1234_5"), "", "underscore form not before an underscore and more");
	CHECK_STR(scan("kort\u202F4111111111111111."), "card=4111111111111111",
			  "after a narrow no-break space");
	CHECK_STR(scan("\u00E6010190-1234"), "", "not after a non-ASCII letter");
	CHECK_STR(scan("010190\u00A0\u00A01234"), "", "two no-break spaces do not join");

	/* What the wider spellings still leave alone. */
	CHECK_STR(scan_kinds("01.01.90 1234", PII_SENSITIVE_KINDS), "",
			  "a dotted date before a space and four digits (a date and a time)");
	CHECK_STR(scan_kinds("01.01.2024 12:34", PII_SENSITIVE_KINDS), "", "a date and a time");
	CHECK_STR(scan_kinds("01.01-90-1234", PII_SENSITIVE_KINDS), "", "a date with mixed separators");
	CHECK_STR(scan_kinds("01.01.90.1234", PII_SENSITIVE_KINDS), "", "a dot before the serial");
	CHECK_STR(scan_kinds("1.1.90-1234", PII_SENSITIVE_KINDS), "", "one-digit day and month");
	CHECK_STR(scan_kinds("32.01.90-1234", PII_SENSITIVE_KINDS), "", "no CPR with day 32, dotted");
	CHECK_STR(scan_kinds("4111.1111.1111.1111.1", PII_SENSITIVE_KINDS), "",
			  "not inside a longer dotted run");
	CHECK_STR(scan_kinds("4111.1111-1111.1111", PII_SENSITIVE_KINDS), "",
			  "dots do not mix with other separators");
	CHECK_STR(scan_kinds("4111/1111/1111/1111 12/27", PII_SENSITIVE_KINDS),
			  "card=4111/1111/1111/1111", "slashes, before an expiry date");
	CHECK_STR(scan_kinds("6.283185307179586", PII_SENSITIVE_KINDS), "",
			  "a decimal number is no dotted card number");
	CHECK_STR(scan_kinds("4111111.111111111", PII_SENSITIVE_KINDS), "",
			  "two dotted groups are too few");
	CHECK_STR(scan_kinds("41.1111.1111.1111.11", PII_SENSITIVE_KINDS), "",
			  "dotted groups of two digits are too short");
	CHECK_STR(scan_kinds("4711 120390 1234", PII_SENSITIVE_KINDS), "",
			  "six and four digits after another number and a space (a list of numbers)");
	CHECK_STR(scan_kinds("4711\u00A0120390\u00A01234", PII_SENSITIVE_KINDS), "",
			  "the same with no-break spaces");
	CHECK_STR(scan_kinds("nr. 12, 010190 1234", PII_SENSITIVE_KINDS), "cpr=010190 1234",
			  "six and four digits after a comma");
	CHECK_STR(scan_kinds("4711 010190-1234", PII_SENSITIVE_KINDS), "cpr=010190-1234",
			  "after another number, a dash still joins date and serial");
	CHECK_STR(scan_kinds("4433/969067/4675/465", PII_SENSITIVE_KINDS), "card=4433/969067/4675/465",
			  "slashes in a card layout (4-6-4-3)");
	CHECK_STR(scan_kinds("4111.11111.1111111", PII_SENSITIVE_KINDS), "",
			  "dotted groups not laid out as a card (4-5-7)");
	CHECK_STR(scan_kinds("4111/111/111111111", PII_SENSITIVE_KINDS), "",
			  "slashed groups not laid out as a card (4-3-9)");
	CHECK_STR(scan_kinds("411.1111.1111.11111", PII_SENSITIVE_KINDS), "",
			  "a dotted first group of three digits");
	CHECK_STR(scan_kinds("4111.1111.1111.1112", PII_SENSITIVE_KINDS), "",
			  "a failing Luhn check, dotted");
	CHECK_STR(scan_kinds("\uFF13\uFF12\uFF10\uFF11\uFF19\uFF10-1234", PII_SENSITIVE_KINDS), "",
			  "no CPR with day 32 in full-width digits");
}

static void
test_classify(void)
{
	CHECK(pii_classify("anna@firma.dk", 13) == PII_EMAIL, "an e-mail address");
	CHECK(pii_classify("  +45 22 34 56 78\n", 18) == PII_PHONE, "a telephone number, padded");
	CHECK(pii_classify("10.1.2.3", 8) == PII_IP, "an IPv4 address");
	CHECK(pii_classify("2001:db8::1", 11) == PII_IP, "an IPv6 address");
	CHECK(pii_classify("010190-1234", 11) == PII_CPR, "a CPR number");
	CHECK(pii_classify("4111 1111 1111 1111", 19) == PII_CARD, "a card number");
	CHECK(pii_classify("mail anna@firma.dk", 18) == PII_NONE, "text around an address");
	CHECK(pii_classify("a@b.dk c@d.dk", 13) == PII_NONE, "two addresses");
	CHECK(pii_classify("   ", 3) == PII_NONE, "blank");
	CHECK(pii_classify("", 0) == PII_NONE, "empty");
}

static void
test_names(void)
{
	CHECK_STR(pii_kind_category(PII_EMAIL), "contact.email", "e-mail category");
	CHECK_STR(pii_kind_category(PII_PHONE), "contact.phone", "telephone category");
	CHECK_STR(pii_kind_category(PII_IP), "credentials.ip_address", "IP category");
	CHECK_STR(pii_kind_category(PII_CPR), "national_id", "CPR category");
	CHECK_STR(pii_kind_category(PII_CARD), "payment_card", "card category");
	CHECK_STR(pii_kind_category(PII_NONE), NULL, "no category for none");
	CHECK_STR(pii_kind_marker(PII_CPR), "[redacted national_id]", "CPR marker");
	CHECK_STR(pii_kind_description(PII_CARD), "a payment card number", "card description");
	for (int k = PII_EMAIL; k < PII_NUM_KINDS; k++)
		CHECK(strcmp(scan(pii_kind_marker((PiiKind) k)), "") == 0,
			  "marker %s matches nothing", pii_kind_marker((PiiKind) k));
}

int
main(void)
{
	test_cpr_dates();
	test_cpr_in_text();
	test_luhn();
	test_cards();
	test_phones();
	test_ips();
	test_emails();
	test_spans();
	test_spellings();
	test_classify();
	test_names();
	return unit_done();
}
