/*
 * ip_address.c
 *		The privacy.ip_address type: one IPv4 or IPv6 host address, with
 *		truncation to a network for data minimisation.
 *
 * Parsing, formatting, truncation and masking are in ip_syntax.c. A value
 * is the 17-byte IpAddress (family, then 16 address bytes) described in
 * ip_syntax.h, compared byte by byte. The binary format is the family (4 or
 * 6) in one byte followed by the 4 or 16 address bytes in network order.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/inet.h"

#include "base/compat.h"
#include "pure/ip_syntax.h"
#include "types/pd_type.h"

PG_FUNCTION_INFO_V1(privacy_ip_address_in);
PG_FUNCTION_INFO_V1(privacy_ip_address_out);
PG_FUNCTION_INFO_V1(privacy_ip_address_recv);
PG_FUNCTION_INFO_V1(privacy_ip_address_send);
PG_FUNCTION_INFO_V1(privacy_ip_address_hash);
PG_FUNCTION_INFO_V1(privacy_ip_address_hash_extended);
PG_FUNCTION_INFO_V1(privacy_ip_address_to_inet);
PG_FUNCTION_INFO_V1(privacy_inet_to_ip_address);
PG_FUNCTION_INFO_V1(privacy_ip_address_mask);
PG_FUNCTION_INFO_V1(privacy_ip_address_pseudonymize);
PG_FUNCTION_INFO_V1(privacy_ip_address_truncate);

#define PG_GETARG_IP_ADDRESS(n)	((const IpAddress *) PG_GETARG_POINTER(n))

/* A palloc'd copy of ip, to return. */
static IpAddress *
ip_datum(const IpAddress *ip)
{
	IpAddress  *result = palloc(sizeof(IpAddress));

	*result = *ip;
	return result;
}

Datum
privacy_ip_address_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	IpAddress	ip;
	size_t		errpos;
	IpSyntaxError err;

	err = ip_parse(str, strlen(str), &ip, &errpos);
	if (err != IP_OK)
	{
		char		detail[IP_DETAIL_BUFSIZE];

		ip_error_detail(err, str, strlen(str), errpos, detail, sizeof(detail));
		pd_type_invalid_input("ip_address", detail,
							  err == IP_PREFIX ?
							  "Use the inet type for an address with a netmask, or privacy.truncate_ip() to keep only a network." :
							  NULL);
	}
	PG_RETURN_POINTER(ip_datum(&ip));
}

Datum
privacy_ip_address_out(PG_FUNCTION_ARGS)
{
	char	   *buf = palloc(IP_TEXT_BUFSIZE);

	ip_format(PG_GETARG_IP_ADDRESS(0), buf);
	PG_RETURN_CSTRING(buf);
}

Datum
privacy_ip_address_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			family = (unsigned char) *pd_type_recv_bytes(buf, 1, "ip_address");
	int			n = family == IP_FAMILY_V4 ? 4 : 16;
	IpAddress	ip;

	if (family != IP_FAMILY_V4 && family != IP_FAMILY_V6)
		pd_type_invalid_binary("ip_address",
							   psprintf("The address family is %d; it must be 4 (IPv4) or 6 (IPv6).",
										family));
	ip_from_bytes(family, (const uint8_t *) pd_type_recv_bytes(buf, n, "ip_address"), n, &ip);
	PG_RETURN_POINTER(ip_datum(&ip));
}

Datum
privacy_ip_address_send(PG_FUNCTION_ARGS)
{
	const IpAddress *ip = PG_GETARG_IP_ADDRESS(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, ip->family);
	pq_sendbytes(&buf, (const char *) ip->addr, (int) ip_address_length(ip));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Compares the first two arguments for PD_TYPE_COMPARISON_FUNCTIONS. */
static inline int
ip_address_compare_args(FunctionCallInfo fcinfo)
{
	return ip_compare(PG_GETARG_IP_ADDRESS(0), PG_GETARG_IP_ADDRESS(1));
}

PD_TYPE_COMPARISON_FUNCTIONS(ip_address);

Datum
privacy_ip_address_hash(PG_FUNCTION_ARGS)
{
	return hash_any((const unsigned char *) PG_GETARG_IP_ADDRESS(0), sizeof(IpAddress));
}

Datum
privacy_ip_address_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_any_extended((const unsigned char *) PG_GETARG_IP_ADDRESS(0),
							 sizeof(IpAddress), PG_GETARG_INT64(1));
}

/* The cast to inet: a host address with a full netmask (/32 or /128). */
Datum
privacy_ip_address_to_inet(PG_FUNCTION_ARGS)
{
	const IpAddress *ip = PG_GETARG_IP_ADDRESS(0);
	inet	   *result = palloc0(sizeof(inet));

	ip_family(result) = ip->family == IP_FAMILY_V4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
	ip_bits(result) = (unsigned char) ip_max_bits(ip);
	memcpy(ip_addr(result), ip->addr, ip_address_length(ip));
	SET_INET_VARSIZE(result);
	PG_RETURN_INET_P(result);
}

/* The cast from inet: its address, whatever its netmask, as host() does. */
Datum
privacy_inet_to_ip_address(PG_FUNCTION_ARGS)
{
	inet	   *addr = PG_GETARG_INET_PP(0);
	IpAddress	ip;

	ip_from_bytes(ip_family(addr) == PGSQL_AF_INET ? IP_FAMILY_V4 : IP_FAMILY_V6,
				  ip_addr(addr), ip_addrsize(addr), &ip);
	PG_RETURN_POINTER(ip_datum(&ip));
}

/* privacy.mask(ip_address) → text: the /24 (IPv4) or /48 (IPv6) network. */
Datum
privacy_ip_address_mask(PG_FUNCTION_ARGS)
{
	char		buf[IP_NETWORK_BUFSIZE];
	size_t		n = ip_mask(PG_GETARG_IP_ADDRESS(0), buf);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int) n));
}

/* privacy.pseudonymize(ip_address) → text: the keyed hash of the address. */
Datum
privacy_ip_address_pseudonymize(PG_FUNCTION_ARGS)
{
	char		buf[IP_TEXT_BUFSIZE];
	size_t		n = ip_format(PG_GETARG_IP_ADDRESS(0), buf);

	PG_RETURN_TEXT_P(pd_type_pseudonym("ip_address", buf, n));
}

/* privacy.truncate_ip(ip_address, bits) → ip_address: host bits zeroed. */
Datum
privacy_ip_address_truncate(PG_FUNCTION_ARGS)
{
	const IpAddress *ip = PG_GETARG_IP_ADDRESS(0);
	int32		bits = PG_GETARG_INT32(1);
	IpAddress	result;

	if (!ip_truncate(ip, bits, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prefix length %d is out of range for an %s address",
						bits, ip->family == IP_FAMILY_V4 ? "IPv4" : "IPv6"),
				 errdetail("The prefix length must be between 0 and %d.", ip_max_bits(ip))));
	PG_RETURN_POINTER(ip_datum(&result));
}
