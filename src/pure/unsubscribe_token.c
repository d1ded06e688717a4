/*
 * unsubscribe_token.c
 *		Signed unsubscribe tokens (format in unsubscribe_token.h): URL-safe
 *		base64 and the HMAC-SHA-256 signature. Pure: no backend needed.
 */
#include <string.h>

#include "pure/hmac_sha256.h"
#include "pure/unsubscribe_token.h"

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The message the signature covers: a domain label, then the payload. */
static const char mac_label[] = "opendims_privacy unsubscribe";

/* Writes the URL-safe base64 of in[0..len) without padding; returns length. */
static size_t
b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t		o = 0;
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) in[i] << 16;

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);

		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	return o;
}

static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strictly decodes URL-safe base64 without padding into out. */
static UnsubscribeTokenError
b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	size_t		o = 0;
	size_t		i;
	uint32_t	acc = 0;
	int			bits = 0;

	if (len % 4 == 1)
		return UNSUBSCRIBE_BAD_LENGTH;
	for (i = 0; i < len; i++)
	{
		int			v = b64url_value(in[i]);

		if (v < 0)
			return UNSUBSCRIBE_BAD_CHARACTER;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (uint8_t) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return UNSUBSCRIBE_NONCANONICAL;
	*outlen = o;
	return UNSUBSCRIBE_OK;
}

/* The signature of payload[0..len) under key. */
static bool
sign_payload(const uint8_t *key, size_t keylen, const uint8_t *payload, size_t len,
			 uint8_t mac[UNSUBSCRIBE_MAC_LEN])
{
	uint8_t		msg[sizeof(mac_label) + UNSUBSCRIBE_MAX_RAW];

	memcpy(msg, mac_label, sizeof(mac_label));
	memcpy(msg + sizeof(mac_label), payload, len);
	return privacy_hmac_sha256(key, keylen, msg, sizeof(mac_label) + len, mac);
}

UnsubscribeTokenError
unsubscribe_token_sign(const uint8_t *key, size_t keylen, const UnsubscribeClaim *claim,
					   char *out, size_t outsize, size_t *outlen)
{
	uint8_t		raw[UNSUBSCRIBE_MAX_RAW];
	size_t		n = 0;

	if (key == NULL || keylen == 0)
		return UNSUBSCRIBE_NO_KEY;
	if (claim->kind_len < 1 || claim->kind_len > UNSUBSCRIBE_MAX_NAME ||
		claim->purpose_len < 1 || claim->purpose_len > UNSUBSCRIBE_MAX_NAME ||
		claim->subject_len < 1 || claim->subject_len > UNSUBSCRIBE_MAX_SUBJECT)
		return UNSUBSCRIBE_FIELD_LENGTH;
	if (outsize < UNSUBSCRIBE_TOKEN_BUFSIZE)
		return UNSUBSCRIBE_TOO_LONG;

	raw[n++] = UNSUBSCRIBE_TOKEN_VERSION;
	raw[n++] = (uint8_t) claim->kind_len;
	memcpy(raw + n, claim->kind, claim->kind_len);
	n += claim->kind_len;
	raw[n++] = (uint8_t) (claim->subject_len >> 8);
	raw[n++] = (uint8_t) (claim->subject_len & 0xff);
	memcpy(raw + n, claim->subject, claim->subject_len);
	n += claim->subject_len;
	raw[n++] = (uint8_t) claim->purpose_len;
	memcpy(raw + n, claim->purpose, claim->purpose_len);
	n += claim->purpose_len;
	if (!sign_payload(key, keylen, raw, n, raw + n))
		return UNSUBSCRIBE_CRYPTO_FAILED;
	n += UNSUBSCRIBE_MAC_LEN;

	*outlen = b64url_encode(raw, n, out);
	out[*outlen] = '\0';
	return UNSUBSCRIBE_OK;
}

UnsubscribeTokenError
unsubscribe_token_verify(const uint8_t *key, size_t keylen, const char *token, size_t len,
						 uint8_t *raw, UnsubscribeClaim *claim)
{
	size_t		n;
	size_t		payload_len;
	size_t		p = 0;
	uint8_t		mac[UNSUBSCRIBE_MAC_LEN];
	UnsubscribeTokenError err;

	if (key == NULL || keylen == 0)
		return UNSUBSCRIBE_NO_KEY;
	if (len == 0)
		return UNSUBSCRIBE_EMPTY;
	if (len > UNSUBSCRIBE_MAX_TOKEN)
		return UNSUBSCRIBE_TOO_LONG;
	err = b64url_decode(token, len, raw, &n);
	if (err != UNSUBSCRIBE_OK)
		return err;
	if (n < UNSUBSCRIBE_MIN_RAW)
		return UNSUBSCRIBE_TOO_SHORT;

	/* Nothing but the signature is looked at before it is verified. */
	payload_len = n - UNSUBSCRIBE_MAC_LEN;
	if (!sign_payload(key, keylen, raw, payload_len, mac))
		return UNSUBSCRIBE_CRYPTO_FAILED;
	if (!privacy_mac_equal(mac, raw + payload_len, UNSUBSCRIBE_MAC_LEN))
		return UNSUBSCRIBE_BAD_SIGNATURE;

	if (raw[p++] != UNSUBSCRIBE_TOKEN_VERSION)
		return UNSUBSCRIBE_BAD_VERSION;
	claim->kind_len = raw[p++];
	if (claim->kind_len < 1 || claim->kind_len > UNSUBSCRIBE_MAX_NAME ||
		p + claim->kind_len + 2 > payload_len)
		return UNSUBSCRIBE_MALFORMED;
	claim->kind = (const char *) raw + p;
	p += claim->kind_len;
	claim->subject_len = ((size_t) raw[p] << 8) | raw[p + 1];
	p += 2;
	if (claim->subject_len < 1 || claim->subject_len > UNSUBSCRIBE_MAX_SUBJECT ||
		p + claim->subject_len + 1 > payload_len)
		return UNSUBSCRIBE_MALFORMED;
	claim->subject = (const char *) raw + p;
	p += claim->subject_len;
	claim->purpose_len = raw[p++];
	if (claim->purpose_len < 1 || claim->purpose_len > UNSUBSCRIBE_MAX_NAME ||
		p + claim->purpose_len != payload_len)
		return UNSUBSCRIBE_MALFORMED;
	claim->purpose = (const char *) raw + p;
	return UNSUBSCRIBE_OK;
}

const char *
unsubscribe_token_error_detail(UnsubscribeTokenError err)
{
	switch (err)
	{
		case UNSUBSCRIBE_OK:
			return "The token is valid.";
		case UNSUBSCRIBE_EMPTY:
			return "The token is empty.";
		case UNSUBSCRIBE_TOO_LONG:
			return "The token is longer than any valid token.";
		case UNSUBSCRIBE_BAD_CHARACTER:
			return "The token contains a character that is not in the URL-safe base64 alphabet.";
		case UNSUBSCRIBE_BAD_LENGTH:
			return "The token's length is not a possible length of URL-safe base64.";
		case UNSUBSCRIBE_NONCANONICAL:
			return "The token's last character has bits set that no valid token has.";
		case UNSUBSCRIBE_TOO_SHORT:
			return "The token is shorter than any valid token.";
		case UNSUBSCRIBE_BAD_SIGNATURE:
			return "The token's signature does not match its contents.";
		case UNSUBSCRIBE_BAD_VERSION:
			return "The token has a format version this server does not know.";
		case UNSUBSCRIBE_MALFORMED:
			return "The token's contents are not laid out as a token's are.";
		case UNSUBSCRIBE_FIELD_LENGTH:
			return "Subject kinds and purposes must be 1 to 63 bytes long and subject keys 1 to 512 bytes.";
		case UNSUBSCRIBE_NO_KEY:
			return "No signing key is available.";
		case UNSUBSCRIBE_CRYPTO_FAILED:
			return "Computing the signature failed.";
	}
	return "The token is invalid.";
}
