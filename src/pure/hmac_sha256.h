/*
 * hmac_sha256.h
 *		Keyed hashing (HMAC-SHA-256 from OpenSSL) used for pseudonyms, subject
 *		references and signed tokens. Pure: no backend needed.
 */
#ifndef PRIVACY_HMAC_SHA256_H
#define PRIVACY_HMAC_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIVACY_HMAC_LEN 32

/* Computes HMAC-SHA-256 of msg under key into out; false if OpenSSL failed. */
extern bool privacy_hmac_sha256(const uint8_t *key, size_t keylen,
								const uint8_t *msg, size_t msglen,
								uint8_t out[PRIVACY_HMAC_LEN]);

/* Compares two MACs in constant time. */
extern bool privacy_mac_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif							/* PRIVACY_HMAC_SHA256_H */
