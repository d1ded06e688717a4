/*
 * ip_syntax.h
 *		Parsing, formatting, truncation and masking of IPv4 and IPv6 host
 *		addresses for the privacy.ip_address type. Pure: no backend needed.
 *
 * Accepted input: an IPv4 address in dotted-quad form (four decimal parts
 * from 0 to 255, without leading zeros, which some tools read as octal), or
 * an IPv6 address in the text forms of RFC 4291 (groups of up to four
 * hexadecimal digits, one "::", an embedded IPv4 address at the end), with
 * white space around it ignored. Prefix lengths ("/24") and zone identifiers
 * ("%eth0") are rejected: a value is one host address.
 *
 * Output is that of PostgreSQL's inet for a host: dotted quad, or IPv6 in
 * lower case with the first longest run of two or more zero groups written
 * as "::", and the IPv4-compatible (::a.b.c.d) and IPv4-mapped
 * (::ffff:a.b.c.d) forms written with a dotted quad.
 */
#ifndef PRIVACY_IP_SYNTAX_H
#define PRIVACY_IP_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP_FAMILY_V4			4
#define IP_FAMILY_V6			6

/*
 * A host address: the family, then the address in network byte order,
 * IPv4 in the first four bytes with the other twelve zero. Byte-wise
 * comparison orders IPv4 before IPv6 and addresses numerically, as inet
 * does.
 */
typedef struct IpAddress
{
	uint8_t		family;
	uint8_t		addr[16];
} IpAddress;

#define IP_ADDRESS_SIZE			17

/* Room for the longest address text, with a NUL. */
#define IP_TEXT_BUFSIZE			46
/* Room for a network such as "2001:db8:1234::/48", with a NUL. */
#define IP_NETWORK_BUFSIZE		(IP_TEXT_BUFSIZE + 4)
/* Room for an error detail from ip_error_detail(). */
#define IP_DETAIL_BUFSIZE		160

/* Prefix lengths privacy.mask() keeps. */
#define IP_MASK_BITS_V4			24
#define IP_MASK_BITS_V6			48

typedef enum IpSyntaxError
{
	IP_OK = 0,
	IP_EMPTY,
	IP_CHAR,
	IP_PREFIX,
	IP_ZONE,
	IP_V4_PARTS,
	IP_V4_RANGE,
	IP_V4_LEADING_ZERO,
	IP_V6_GROUP,
	IP_V6_DOUBLE_COLON,
	IP_V6_COLON,
	IP_V6_GROUPS,
	IP_V6_EMBEDDED
} IpSyntaxError;

/*
 * Parses the len bytes at in (no NUL needed) into *out; otherwise returns
 * the first problem found and sets *errpos to the offset in in of the byte
 * it concerns.
 */
extern IpSyntaxError ip_parse(const char *in, size_t len, IpAddress *out,
							  size_t *errpos);

/*
 * Makes an address from family (IP_FAMILY_V4 or IP_FAMILY_V6) and its n
 * bytes; false if n is not the family's address length.
 */
extern bool ip_from_bytes(int family, const uint8_t *bytes, size_t n,
						  IpAddress *out);

/* Length in bytes (4 or 16) of the address of ip's family. */
extern size_t ip_address_length(const IpAddress *ip);

/* Writes the canonical text with a NUL to buf (IP_TEXT_BUFSIZE bytes). */
extern size_t ip_format(const IpAddress *ip, char *buf);

/* Orders two addresses: IPv4 before IPv6, then numerically (-1, 0 or 1). */
extern int	ip_compare(const IpAddress *a, const IpAddress *b);

/* Number of bits in an address of ip's family: 32 or 128. */
extern int	ip_max_bits(const IpAddress *ip);

/*
 * Stores in *out ip with every bit after the first bits set to zero; false
 * if bits is not between 0 and ip_max_bits(ip).
 */
extern bool ip_truncate(const IpAddress *ip, int bits, IpAddress *out);

/*
 * Writes the network ip belongs to, as "192.168.1.0/24" (IPv4, 24 bits) or
 * "2001:db8:1234::/48" (IPv6, 48 bits), with a NUL to buf
 * (IP_NETWORK_BUFSIZE bytes). An IPv4-mapped IPv6 address, which stands for
 * an IPv4 client, keeps the 24 bits of its IPv4 address:
 * "::ffff:192.168.1.0/120".
 */
extern size_t ip_mask(const IpAddress *ip, char *buf);

/*
 * Writes a full-sentence description of err to buf (IP_DETAIL_BUFSIZE
 * bytes); in, len and errpos are what ip_parse() was given and set.
 */
extern void ip_error_detail(IpSyntaxError err, const char *in, size_t len,
							size_t errpos, char *buf, size_t size);

#endif							/* PRIVACY_IP_SYNTAX_H */
