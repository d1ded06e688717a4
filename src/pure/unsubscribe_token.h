/*
 * unsubscribe_token.h
 *		Signed unsubscribe tokens: encoding, signing and verification. Pure:
 *		no backend needed (unit-tested and fuzzed on its own).
 *
 * A token is the URL-safe base64 (RFC 4648 section 5, no padding) of
 *
 *	 version (1 byte, 1)
 *	 kind length (1 byte, 1..63)      kind
 *	 subject length (2 bytes, big-endian, 1..512)   subject
 *	 purpose length (1 byte, 1..63)   purpose
 *	 HMAC-SHA-256 (32 bytes) of "opendims_privacy unsubscribe" NUL and all
 *	 the bytes above, under the extension's token key.
 *
 * Anyone holding the key can verify a token without looking anything up;
 * nobody without it can make or change one. Decoding is strict (no padding,
 * no characters outside the alphabet, unused bits zero), so that one token
 * has exactly one spelling.
 */
#ifndef PRIVACY_UNSUBSCRIBE_TOKEN_H
#define PRIVACY_UNSUBSCRIBE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UNSUBSCRIBE_TOKEN_VERSION 1
#define UNSUBSCRIBE_MAX_NAME 63
#define UNSUBSCRIBE_MAX_SUBJECT 512
#define UNSUBSCRIBE_MAC_LEN 32
#define UNSUBSCRIBE_MIN_RAW (1 + 1 + 1 + 2 + 1 + 1 + 1 + UNSUBSCRIBE_MAC_LEN)
#define UNSUBSCRIBE_MAX_RAW (1 + 1 + UNSUBSCRIBE_MAX_NAME + 2 + UNSUBSCRIBE_MAX_SUBJECT + \
							 1 + UNSUBSCRIBE_MAX_NAME + UNSUBSCRIBE_MAC_LEN)
/* Longest token text, and a buffer that holds it with its terminator. */
#define UNSUBSCRIBE_MAX_TOKEN ((UNSUBSCRIBE_MAX_RAW * 4 + 2) / 3)
#define UNSUBSCRIBE_TOKEN_BUFSIZE (UNSUBSCRIBE_MAX_TOKEN + 1)

/* What a token names; the strings are not NUL-terminated. */
typedef struct UnsubscribeClaim
{
	const char *kind;
	size_t		kind_len;
	const char *subject;
	size_t		subject_len;
	const char *purpose;
	size_t		purpose_len;
} UnsubscribeClaim;

typedef enum UnsubscribeTokenError
{
	UNSUBSCRIBE_OK = 0,
	UNSUBSCRIBE_EMPTY,
	UNSUBSCRIBE_TOO_LONG,
	UNSUBSCRIBE_BAD_CHARACTER,
	UNSUBSCRIBE_BAD_LENGTH,
	UNSUBSCRIBE_NONCANONICAL,
	UNSUBSCRIBE_TOO_SHORT,
	UNSUBSCRIBE_BAD_SIGNATURE,
	UNSUBSCRIBE_BAD_VERSION,
	UNSUBSCRIBE_MALFORMED,
	UNSUBSCRIBE_FIELD_LENGTH,
	UNSUBSCRIBE_NO_KEY,
	UNSUBSCRIBE_CRYPTO_FAILED
} UnsubscribeTokenError;

/*
 * Signs claim under key and writes the token, NUL-terminated, to out
 * (outsize at least UNSUBSCRIBE_TOKEN_BUFSIZE); *outlen gets its length.
 */
extern UnsubscribeTokenError unsubscribe_token_sign(const uint8_t *key, size_t keylen,
													const UnsubscribeClaim *claim,
													char *out, size_t outsize, size_t *outlen);

/*
 * Verifies token[0..len) under key. On success the claim's strings point
 * into raw, which must hold UNSUBSCRIBE_MAX_RAW bytes.
 */
extern UnsubscribeTokenError unsubscribe_token_verify(const uint8_t *key, size_t keylen,
													  const char *token, size_t len,
													  uint8_t *raw, UnsubscribeClaim *claim);

/* A sentence saying what is wrong, for errdetail. */
extern const char *unsubscribe_token_error_detail(UnsubscribeTokenError err);

#endif							/* PRIVACY_UNSUBSCRIBE_TOKEN_H */
