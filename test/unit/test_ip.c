/*
 * test_ip.c
 *		Unit tests of ip_syntax.c: parsing of IPv4 and IPv6 addresses, error
 *		details, canonical output (PostgreSQL's inet host form), order,
 *		truncation and masking.
 */
#include "unit.h"
#include "syntax_cases.h"
#include "pure/ip_syntax.h"

typedef struct ValidCase
{
	const char *input;
	const char *canonical;
} ValidCase;

/*
 * The canonical forms are what PostgreSQL 15 prints for host(input::inet),
 * where inet accepts the input.
 */
static const ValidCase valid_cases[] = {
	{"192.168.1.20", "192.168.1.20"},
	{"0.0.0.0", "0.0.0.0"},
	{"255.255.255.255", "255.255.255.255"},
	{" 10.0.0.1\t", "10.0.0.1"},
	{"::", "::"},
	{"::1", "::1"},
	{"1::", "1::"},
	{"2001:DB8::1", "2001:db8::1"},
	{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
	{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
	{"1:0:0:1:0:0:0:1", "1:0:0:1::1"},
	{"1:0:0:1:0:0:1:1", "1::1:0:0:1:1"},
	{"0:0:1::", "0:0:1::"},
	{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
	{"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
	{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	{"ABCD::EF", "abcd::ef"},
	{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
	{"::FFFF:102:304", "::ffff:1.2.3.4"},
	{"::ffff:0:0", "::ffff:0.0.0.0"},
	{"::ffff:1:2", "::ffff:0.1.0.2"},
	{"::1.2.3.4", "::1.2.3.4"},
	{"::0.0.1.2", "::102"},
	{"::0.1.0.0", "::0.1.0.0"},
	{"::fffe:1.2.3.4", "::fffe:102:304"},
	{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
	{"1::1.2.3.4", "1::102:304"},
	{"fe80::1:2", "fe80::1:2"},
	{"2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234:5678:9abc:def0:1234:5678"},
	{"0:0:0:0:0:0:0:0", "::"},
	{"0:0:0:0:0:1:0:0", "::1:0:0"},
};

typedef struct InvalidCase
{
	const char *input;
	IpSyntaxError error;
	size_t		errpos;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
	{"", IP_EMPTY, 0},
	{"  ", IP_EMPTY, 2},
	{"192.168.1.20/24", IP_PREFIX, 12},
	{"::1/128", IP_PREFIX, 3},
	{"fe80::1%eth0", IP_ZONE, 7},
	{"192.168.1.x", IP_CHAR, 10},
	{"192.168.1.a", IP_CHAR, 10},
	{"192.168.1 .20", IP_CHAR, 9},
	{"1.2.3.4 5", IP_CHAR, 7},
	{"::g", IP_CHAR, 2},
	{"0x1.2.3.4", IP_CHAR, 1},
	{"1.2.3.\xc3\xa6", IP_CHAR, 6},
	{"1.2.3", IP_V4_PARTS, 5},
	{"1.2.3.4.5", IP_V4_PARTS, 7},
	{"1..3.4", IP_V4_PARTS, 2},
	{".1.2.3", IP_V4_PARTS, 0},
	{"1.2.3.", IP_V4_PARTS, 6},
	{"1.2.3.256", IP_V4_RANGE, 6},
	{"1.2.3.1000", IP_V4_RANGE, 6},
	{"300.2.3.4", IP_V4_RANGE, 0},
	{"010.1.1.1", IP_V4_LEADING_ZERO, 0},
	{"1.2.3.00", IP_V4_LEADING_ZERO, 6},
	{"12345::", IP_V6_GROUP, 0},
	{"1:00000::", IP_V6_GROUP, 2},
	{"1::2::3", IP_V6_DOUBLE_COLON, 4},
	{"::1::", IP_V6_DOUBLE_COLON, 3},
	{":1:2:3:4:5:6:7", IP_V6_COLON, 0},
	{"1:2:3:4:5:6:7:", IP_V6_COLON, 13},
	{":::", IP_V6_COLON, 2},
	{"1:::2", IP_V6_COLON, 3},
	{":", IP_V6_COLON, 0},
	{"1:2:3:4:5:6:7", IP_V6_GROUPS, 0},
	{"1:2:3:4:5:6:7:8:9", IP_V6_GROUPS, 16},
	{"1:2:3:4:5:6:7:8::", IP_V6_GROUPS, 0},
	{"::1:2:3:4:5:6:7:8", IP_V6_GROUPS, 0},
	{"1:2:3:4:5:6:7:1.2.3.4", IP_V6_GROUPS, 14},
	{"1.2.3.4::", IP_V6_EMBEDDED, 0},
	{"::1.2.3.4:1", IP_V6_EMBEDDED, 2},
	{"::1.2.3", IP_V4_PARTS, 7},
	{"::1.2.3.256", IP_V4_RANGE, 8},
	{"::ffff:1.2.3.04", IP_V4_LEADING_ZERO, 13},
};

/* Runs ip_parse() on a C string. */
static IpSyntaxError
parse(const char *input, IpAddress *out, size_t *errpos)
{
	return ip_parse(input, strlen(input), out, errpos);
}

/* Parses a known-good address. */
static IpAddress
address(const char *text)
{
	IpAddress	ip;
	size_t		errpos;

	if (parse(text, &ip, &errpos) != IP_OK)
		printf("# cannot parse %s\n", text);
	return ip;
}

static void
test_valid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++)
	{
		const ValidCase *c = &valid_cases[i];
		IpAddress	ip;
		IpAddress	again;
		char		text[IP_TEXT_BUFSIZE];
		size_t		errpos;
		size_t		n;
		IpSyntaxError err = parse(c->input, &ip, &errpos);

		CHECK(err == IP_OK, "valid: \"%s\" is accepted (got %d)", show(c->input), (int) err);
		if (err != IP_OK)
			continue;
		n = ip_format(&ip, text);
		CHECK_STR(text, c->canonical, "valid: \"%s\" prints as %s", show(c->input), c->canonical);
		CHECK(n == strlen(c->canonical), "valid: \"%s\" length", show(c->input));
		CHECK(parse(text, &again, &errpos) == IP_OK && ip_compare(&ip, &again) == 0,
			  "valid: %s reads back to the same address", text);
		CHECK(ip.family == (strchr(c->input, ':') ? IP_FAMILY_V6 : IP_FAMILY_V4),
			  "valid: \"%s\" family", show(c->input));
	}
}

static void
test_invalid(void)
{
	size_t		i;

	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
	{
		const InvalidCase *c = &invalid_cases[i];
		IpAddress	ip;
		char		detail[IP_DETAIL_BUFSIZE];
		size_t		errpos = 999;
		IpSyntaxError err = parse(c->input, &ip, &errpos);

		CHECK(err == c->error, "invalid: \"%s\" rejected with error %d (got %d)",
			  show(c->input), (int) c->error, (int) err);
		CHECK(errpos == c->errpos, "invalid: \"%s\" error position %zu (got %zu)",
			  show(c->input), c->errpos, errpos);
		ip_error_detail(err, c->input, strlen(c->input), errpos, detail, sizeof(detail));
		CHECK(is_sentence(detail), "invalid: \"%s\" detail is a sentence: %s",
			  show(c->input), detail);
	}

	/* strlen() stops at the NUL: give the whole input */
	{
		IpAddress	ip;
		size_t		errpos;

		CHECK(ip_parse("1.2\0.3.4", 8, &ip, &errpos) == IP_CHAR && errpos == 3,
			  "a NUL inside the input is rejected");
	}
}

static void
test_details(void)
{
	char		detail[IP_DETAIL_BUFSIZE];
	const char *in = "192.168.1.x";

	ip_error_detail(IP_CHAR, in, strlen(in), 10, detail, sizeof(detail));
	CHECK_STR(detail, "The address contains \"x\", which is not allowed there.",
			  "detail names the character");
	ip_error_detail(IP_ZONE, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "Zone identifiers such as %eth0 are not supported.",
			  "detail of a zone identifier");
	ip_error_detail(IP_PREFIX, "", 0, 0, detail, sizeof(detail));
	CHECK_STR(detail, "A prefix length is not allowed: an ip_address holds one host address.",
			  "detail of a prefix length");
}

static void
test_bytes(void)
{
	static const uint8_t v4[4] = {192, 0, 2, 1};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	IpAddress	ip;
	char		text[IP_TEXT_BUFSIZE];

	CHECK(ip_from_bytes(IP_FAMILY_V4, v4, 4, &ip) && ip_address_length(&ip) == 4,
		  "IPv4 from 4 bytes");
	ip_format(&ip, text);
	CHECK_STR(text, "192.0.2.1", "IPv4 from bytes prints");
	CHECK(ip_from_bytes(IP_FAMILY_V6, v6, 16, &ip) && ip_address_length(&ip) == 16,
		  "IPv6 from 16 bytes");
	ip_format(&ip, text);
	CHECK_STR(text, "2001:db8::1", "IPv6 from bytes prints");
	CHECK(!ip_from_bytes(IP_FAMILY_V4, v6, 16, &ip), "IPv4 from 16 bytes is refused");
	CHECK(!ip_from_bytes(IP_FAMILY_V6, v4, 4, &ip), "IPv6 from 4 bytes is refused");
	CHECK(!ip_from_bytes(5, v4, 4, &ip), "family 5 is refused");
	CHECK(!ip_from_bytes(IP_FAMILY_V4, v4, 3, &ip), "IPv4 from 3 bytes is refused");
}

static void
test_order(void)
{
	static const char *sorted[] = {"0.0.0.0", "1.2.3.4", "9.255.255.255", "10.0.0.0",
		"192.168.1.20", "255.255.255.255", "::", "::1", "::ffff:0.0.0.0", "1::",
	"2001:db8::1", "fe80::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
	size_t		n = sizeof(sorted) / sizeof(sorted[0]);
	size_t		i;
	size_t		j;
	int			consistent = 1;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			IpAddress	a = address(sorted[i]);
			IpAddress	b = address(sorted[j]);
			int			got = ip_compare(&a, &b);
			int			want = (i > j) - (i < j);

			if ((got > 0) - (got < 0) != want)
			{
				consistent = 0;
				printf("# %s vs %s: got %d\n", sorted[i], sorted[j], got);
			}
		}
	CHECK(consistent, "IPv4 sorts before IPv6, addresses numerically");
	{
		IpAddress	a = address("10.0.0.1");
		IpAddress	b = address("9.255.255.255");

		CHECK(ip_compare(&a, &b) == 1 && ip_compare(&b, &a) == -1 && ip_compare(&a, &a) == 0,
			  "comparison returns -1, 0 or 1");
	}
}

static void
test_truncate(void)
{
	static const struct
	{
		const char *input;
		int			bits;
		const char *result;
	}			cases[] = {
		{"192.168.1.20", 24, "192.168.1.0"},
		{"192.168.1.20", 32, "192.168.1.20"},
		{"192.168.1.20", 0, "0.0.0.0"},
		{"192.168.1.255", 25, "192.168.1.128"},
		{"192.168.255.255", 17, "192.168.128.0"},
		{"255.255.255.255", 1, "128.0.0.0"},
		{"2001:db8:1234:5678::1", 48, "2001:db8:1234::"},
		{"2001:db8:1234:5678::1", 64, "2001:db8:1234:5678::"},
		{"2001:db8:1234:5678::1", 128, "2001:db8:1234:5678::1"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 127, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3, "e000::"},
		{"::ffff:1.2.3.4", 120, "::ffff:1.2.3.0"},
	};
	size_t		i;
	IpAddress	ip;
	IpAddress	out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		text[IP_TEXT_BUFSIZE];

		ip = address(cases[i].input);
		CHECK(ip_truncate(&ip, cases[i].bits, &out), "truncate %s to %d bits",
			  cases[i].input, cases[i].bits);
		ip_format(&out, text);
		CHECK_STR(text, cases[i].result, "%s truncated to %d bits", cases[i].input, cases[i].bits);
	}
	ip = address("1.2.3.4");
	CHECK(!ip_truncate(&ip, 33, &out), "33 bits is out of range for IPv4");
	CHECK(!ip_truncate(&ip, -1, &out), "-1 bits is out of range");
	ip = address("::1");
	CHECK(ip_truncate(&ip, 33, &out), "33 bits is in range for IPv6");
	CHECK(!ip_truncate(&ip, 129, &out), "129 bits is out of range for IPv6");
	CHECK(ip_max_bits(&ip) == 128, "IPv6 has 128 bits");
}

static void
test_mask(void)
{
	static const ValidCase cases[] = {
		{"192.168.1.20", "192.168.1.0/24"},
		{"10.20.30.40", "10.20.30.0/24"},
		{"2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234::/48"},
		{"::1", "::/48"},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.0/120"},
		{"::fffe:1.2.3.4", "::/48"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff::/48"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		IpAddress	ip = address(cases[i].input);
		char		out[IP_NETWORK_BUFSIZE];
		size_t		n = ip_mask(&ip, out);

		CHECK_STR(out, cases[i].canonical, "mask of %s", cases[i].input);
		CHECK(n == strlen(cases[i].canonical), "mask of %s length", cases[i].input);
	}
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_details();
	test_bytes();
	test_order();
	test_truncate();
	test_mask();
	return unit_done();
}
