/*
 * hmac_sha256.c
 *		HMAC-SHA-256 through OpenSSL, the library pgcrypto is built on.
 *
 * Pure C: linked into the extension and into the standalone unit tests.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pure/hmac_sha256.h"

bool
privacy_hmac_sha256(const uint8_t *key, size_t keylen,
					const uint8_t *msg, size_t msglen,
					uint8_t out[PRIVACY_HMAC_LEN])
{
	unsigned int outlen = 0;

	if (keylen > (size_t) 0x7fffffff)
		return false;
	if (HMAC(EVP_sha256(), key, (int) keylen, msg, msglen, out, &outlen) == NULL)
		return false;
	return outlen == PRIVACY_HMAC_LEN;
}

bool
privacy_mac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
