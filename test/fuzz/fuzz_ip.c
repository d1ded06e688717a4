/*
 * fuzz_ip.c
 *		libFuzzer harness for ip_syntax.c: an address that parses prints in
 *		a canonical form that parses back to the same address, round-trips
 *		through its bytes, and truncates and masks to addresses that parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pure/ip_syntax.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	IpAddress	ip;
	IpAddress	again;
	IpAddress	truncated;
	char		text[IP_TEXT_BUFSIZE];
	char		text2[IP_TEXT_BUFSIZE];
	char		network[IP_NETWORK_BUFSIZE];
	char		detail[IP_DETAIL_BUFSIZE];
	size_t		errpos = 0;
	size_t		n;
	int			bits;
	char	   *slash;
	IpSyntaxError err;

	err = ip_parse(in, size, &ip, &errpos);
	if (err != IP_OK)
	{
		REQUIRE(errpos <= size);
		ip_error_detail(err, in, size, errpos, detail, sizeof(detail));
		REQUIRE(strlen(detail) > 0 && detail[strlen(detail) - 1] == '.');
		return 0;
	}
	REQUIRE(ip.family == IP_FAMILY_V4 || ip.family == IP_FAMILY_V6);

	/* canonical text parses back to the same address and is a fixed point */
	n = ip_format(&ip, text);
	REQUIRE(n < IP_TEXT_BUFSIZE && n == strlen(text));
	REQUIRE(ip_parse(text, n, &again, &errpos) == IP_OK);
	REQUIRE(ip_compare(&ip, &again) == 0);
	ip_format(&again, text2);
	REQUIRE(strcmp(text, text2) == 0);

	/* bytes round-trip */
	REQUIRE(ip_from_bytes(ip.family, ip.addr, ip_address_length(&ip), &again));
	REQUIRE(ip_compare(&ip, &again) == 0);

	/* truncation never raises the address and is idempotent */
	bits = size > 0 ? data[size - 1] % (ip_max_bits(&ip) + 1) : 0;
	REQUIRE(ip_truncate(&ip, bits, &truncated));
	REQUIRE(ip_compare(&truncated, &ip) <= 0);
	REQUIRE(ip_truncate(&truncated, bits, &again) && ip_compare(&truncated, &again) == 0);
	REQUIRE(!ip_truncate(&ip, ip_max_bits(&ip) + 1, &again));

	/* the masked network's address parses and is its own truncation */
	n = ip_mask(&ip, network);
	REQUIRE(n < IP_NETWORK_BUFSIZE && n == strlen(network));
	slash = strchr(network, '/');
	REQUIRE(slash != NULL);
	REQUIRE(ip_parse(network, (size_t) (slash - network), &again, &errpos) == IP_OK);
	REQUIRE(ip_truncate(&again, atoi(slash + 1), &truncated));
	REQUIRE(ip_compare(&truncated, &again) == 0);
	return 0;
}
