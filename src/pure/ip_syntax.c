/*
 * ip_syntax.c
 *		Parsing, formatting, truncation and masking of IPv4 and IPv6 host
 *		addresses for the privacy.ip_address type; the accepted input and
 *		the canonical output are described in ip_syntax.h.
 *
 * Pure C: linked into the extension and into the standalone unit tests and
 * fuzzers.
 */
#include <stdio.h>
#include <string.h>

#include "pure/ip_syntax.h"
#include "pure/syntax_util.h"

_Static_assert(sizeof(IpAddress) == IP_ADDRESS_SIZE,
			   "IpAddress must have no padding");

/* Parses the dotted quad in[s..e) into out[0..3]. */
static IpSyntaxError
parse_ipv4(const char *in, size_t s, size_t e, uint8_t *out, size_t *errpos)
{
	size_t		i = s;
	int			part;

	for (part = 0; part < 4; part++)
	{
		size_t		start = i;
		int			value = 0;

		while (i < e && syntax_is_digit((unsigned char) in[i]))
		{
			*errpos = start;
			if (i - start == 3)
				return IP_V4_RANGE;
			value = value * 10 + (in[i] - '0');
			i++;
		}
		*errpos = i;
		if (i == start)
			return (i < e && in[i] != '.') ? IP_CHAR : IP_V4_PARTS;
		*errpos = start;
		if (value > 255)
			return IP_V4_RANGE;
		if (in[start] == '0' && i - start > 1)
			return IP_V4_LEADING_ZERO;
		out[part] = (uint8_t) value;
		*errpos = i;
		if (part < 3)
		{
			if (i == e)
				return IP_V4_PARTS;
			if (in[i] != '.')
				return IP_CHAR;
			i++;
		}
	}
	*errpos = i;
	if (i != e)
		return in[i] == '.' ? IP_V4_PARTS : IP_CHAR;
	return IP_OK;
}

/* Parses the IPv6 address in[s..e) into out[0..15]. */
static IpSyntaxError
parse_ipv6(const char *in, size_t s, size_t e, uint8_t *out, size_t *errpos)
{
	uint16_t	groups[8];
	int			ngroups = 0;
	int			gap = -1;
	size_t		i = s;
	int			k;

	*errpos = s;
	if (e - s >= 2 && in[s] == ':' && in[s + 1] == ':')
	{
		gap = 0;
		i = s + 2;
		if (i < e && in[i] == ':')
		{
			*errpos = i;
			return IP_V6_COLON;
		}
	}
	else if (in[s] == ':')
		return IP_V6_COLON;

	while (i < e)
	{
		size_t		start = i;
		unsigned int value = 0;
		int			digit;

		while (i < e && (digit = syntax_hex_value((unsigned char) in[i])) >= 0)
		{
			*errpos = start;
			if (i - start == 4)
				return IP_V6_GROUP;
			value = value * 16 + (unsigned int) digit;
			i++;
		}
		if (i < e && in[i] == '.')
		{
			IpSyntaxError err;
			uint8_t		v4[4];

			*errpos = start;
			if (memchr(in + i, ':', e - i) != NULL)
				return IP_V6_EMBEDDED;
			if (ngroups > 6)
				return IP_V6_GROUPS;
			if ((err = parse_ipv4(in, start, e, v4, errpos)) != IP_OK)
				return err;
			groups[ngroups++] = (uint16_t) (v4[0] << 8 | v4[1]);
			groups[ngroups++] = (uint16_t) (v4[2] << 8 | v4[3]);
			i = e;
			break;
		}
		*errpos = start;
		if (ngroups == 8)
			return IP_V6_GROUPS;
		groups[ngroups++] = (uint16_t) value;
		if (i == e)
			break;
		/* in[i] is a colon: ip_parse() let through nothing else. */
		*errpos = i;
		i++;
		if (i == e)
			return IP_V6_COLON;
		if (in[i] == ':')
		{
			if (gap >= 0)
				return IP_V6_DOUBLE_COLON;
			gap = ngroups;
			i++;
			if (i < e && in[i] == ':')
			{
				*errpos = i;
				return IP_V6_COLON;
			}
		}
	}

	*errpos = s;
	if (gap < 0 ? ngroups != 8 : ngroups > 7)
		return IP_V6_GROUPS;
	memset(out, 0, 16);
	for (k = 0; k < ngroups; k++)
	{
		int			slot = (gap >= 0 && k >= gap) ? 8 - (ngroups - k) : k;

		out[2 * slot] = (uint8_t) (groups[k] >> 8);
		out[2 * slot + 1] = (uint8_t) (groups[k] & 0xff);
	}
	return IP_OK;
}

IpSyntaxError
ip_parse(const char *in, size_t len, IpAddress *out, size_t *errpos)
{
	size_t		s;
	size_t		e;
	size_t		i;
	bool		colon = false;

	syntax_trim(in, len, &s, &e);
	*errpos = s;
	if (s == e)
		return IP_EMPTY;
	for (i = s; i < e; i++)
	{
		unsigned char c = (unsigned char) in[i];

		*errpos = i;
		if (c == '/')
			return IP_PREFIX;
		if (c == '%')
			return IP_ZONE;
		if (c == ':')
			colon = true;
		else if (c != '.' && syntax_hex_value(c) < 0)
			return IP_CHAR;
	}
	memset(out, 0, sizeof(*out));
	if (colon)
	{
		out->family = IP_FAMILY_V6;
		return parse_ipv6(in, s, e, out->addr, errpos);
	}
	out->family = IP_FAMILY_V4;
	return parse_ipv4(in, s, e, out->addr, errpos);
}

bool
ip_from_bytes(int family, const uint8_t *bytes, size_t n, IpAddress *out)
{
	if (!((family == IP_FAMILY_V4 && n == 4) || (family == IP_FAMILY_V6 && n == 16)))
		return false;
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t) family;
	memcpy(out->addr, bytes, n);
	return true;
}

size_t
ip_address_length(const IpAddress *ip)
{
	return ip->family == IP_FAMILY_V4 ? 4 : 16;
}

int
ip_max_bits(const IpAddress *ip)
{
	return ip->family == IP_FAMILY_V4 ? 32 : 128;
}

/* Writes the decimal digits of v (0 to 255) to p; returns how many. */
static size_t
put_decimal(char *p, unsigned int v)
{
	size_t		n = 0;

	if (v >= 100)
		p[n++] = (char) ('0' + v / 100);
	if (v >= 10)
		p[n++] = (char) ('0' + v / 10 % 10);
	p[n++] = (char) ('0' + v % 10);
	return n;
}

/* Writes v in lower-case hexadecimal without leading zeros; returns length. */
static size_t
put_hex(char *p, unsigned int v)
{
	static const char hex[] = "0123456789abcdef";
	size_t		n = 0;
	int			shift;
	bool		started = false;

	for (shift = 12; shift >= 0; shift -= 4)
	{
		unsigned int d = (v >> shift) & 0xf;

		if (d != 0 || started || shift == 0)
		{
			p[n++] = hex[d];
			started = true;
		}
	}
	return n;
}

/* Writes the dotted quad of a[0..3] to p; returns its length. */
static size_t
put_dotted_quad(char *p, const uint8_t *a)
{
	size_t		n = 0;
	int			k;

	for (k = 0; k < 4; k++)
	{
		if (k > 0)
			p[n++] = '.';
		n += put_decimal(p + n, a[k]);
	}
	return n;
}

size_t
ip_format(const IpAddress *ip, char *buf)
{
	unsigned int words[8];
	int			best_base = -1;
	int			best_len = 0;
	int			run_base = -1;
	size_t		n = 0;
	int			k;

	if (ip->family == IP_FAMILY_V4)
	{
		n = put_dotted_quad(buf, ip->addr);
		buf[n] = '\0';
		return n;
	}

	for (k = 0; k < 8; k++)
		words[k] = (unsigned int) ip->addr[2 * k] << 8 | ip->addr[2 * k + 1];

	/* The first longest run of zero groups, if two or more long. */
	for (k = 0; k <= 8; k++)
	{
		if (k < 8 && words[k] == 0)
		{
			if (run_base < 0)
				run_base = k;
		}
		else if (run_base >= 0)
		{
			if (k - run_base > best_len)
			{
				best_base = run_base;
				best_len = k - run_base;
			}
			run_base = -1;
		}
	}
	if (best_len < 2)
		best_base = -1;

	/* IPv4-compatible and IPv4-mapped addresses end in a dotted quad. */
	if (best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)))
	{
		memcpy(buf, best_len == 6 ? "::" : "::ffff:", best_len == 6 ? 2 : 7);
		n = best_len == 6 ? 2 : 7;
		n += put_dotted_quad(buf + n, ip->addr + 12);
		buf[n] = '\0';
		return n;
	}

	for (k = 0; k < 8; k++)
	{
		if (best_base >= 0 && k >= best_base && k < best_base + best_len)
		{
			if (k == best_base)
				buf[n++] = ':';
			continue;
		}
		if (k > 0)
			buf[n++] = ':';
		n += put_hex(buf + n, words[k]);
	}
	if (best_base >= 0 && best_base + best_len == 8)
		buf[n++] = ':';
	buf[n] = '\0';
	return n;
}

int
ip_compare(const IpAddress *a, const IpAddress *b)
{
	int			c = memcmp(a, b, sizeof(IpAddress));

	return (c > 0) - (c < 0);
}

bool
ip_truncate(const IpAddress *ip, int bits, IpAddress *out)
{
	int			k;

	if (bits < 0 || bits > ip_max_bits(ip))
		return false;
	*out = *ip;
	for (k = 0; k < 16; k++)
	{
		int			keep = bits - 8 * k;

		if (keep <= 0)
			out->addr[k] = 0;
		else if (keep < 8)
			out->addr[k] &= (uint8_t) (0xff << (8 - keep));
	}
	return true;
}

/* True for an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static bool
is_v4_mapped(const IpAddress *ip)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return ip->family == IP_FAMILY_V6 && memcmp(ip->addr, prefix, sizeof(prefix)) == 0;
}

size_t
ip_mask(const IpAddress *ip, char *buf)
{
	int			bits = ip->family == IP_FAMILY_V4 ? IP_MASK_BITS_V4 :
		is_v4_mapped(ip) ? 96 + IP_MASK_BITS_V4 : IP_MASK_BITS_V6;
	IpAddress	network;
	size_t		n;

	ip_truncate(ip, bits, &network);
	n = ip_format(&network, buf);
	buf[n++] = '/';
	n += put_decimal(buf + n, (unsigned int) bits);
	buf[n] = '\0';
	return n;
}

void
ip_error_detail(IpSyntaxError err, const char *in, size_t len,
				size_t errpos, char *buf, size_t size)
{
	char		what[SYNTAX_BYTE_DESCRIPTION_SIZE];

	syntax_describe_byte(errpos < len ? (unsigned char) in[errpos] : 0,
						 what, sizeof(what));
	switch (err)
	{
		case IP_OK:
			snprintf(buf, size, "The address is valid.");
			break;
		case IP_EMPTY:
			snprintf(buf, size, "The address is empty.");
			break;
		case IP_CHAR:
			snprintf(buf, size, "The address contains %s, which is not allowed there.",
					 what);
			break;
		case IP_PREFIX:
			snprintf(buf, size, "A prefix length is not allowed: an ip_address holds one host address.");
			break;
		case IP_ZONE:
			snprintf(buf, size, "Zone identifiers such as %%eth0 are not supported.");
			break;
		case IP_V4_PARTS:
			snprintf(buf, size, "An IPv4 address must have four decimal parts separated by dots.");
			break;
		case IP_V4_RANGE:
			snprintf(buf, size, "A part of the IPv4 address is greater than 255.");
			break;
		case IP_V4_LEADING_ZERO:
			snprintf(buf, size, "A part of the IPv4 address has a leading zero, which some tools read as octal.");
			break;
		case IP_V6_GROUP:
			snprintf(buf, size, "A group of the IPv6 address has more than four hexadecimal digits.");
			break;
		case IP_V6_DOUBLE_COLON:
			snprintf(buf, size, "The IPv6 address contains \"::\" more than once.");
			break;
		case IP_V6_COLON:
			snprintf(buf, size, "The IPv6 address has a misplaced colon.");
			break;
		case IP_V6_GROUPS:
			snprintf(buf, size, "The IPv6 address does not have eight groups.");
			break;
		case IP_V6_EMBEDDED:
			snprintf(buf, size, "An embedded IPv4 address may only stand at the end of an IPv6 address.");
			break;
		default:
			snprintf(buf, size, "The address is not valid.");
			break;
	}
}
