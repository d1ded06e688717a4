/*
 * test_unsubscribe_token.c
 *		Unit tests of unsubscribe_token.c: round trips, the exact encoding,
 *		and rejection of every forged, truncated, altered or malformed token.
 */
#include <stdint.h>
#include <stdlib.h>

#include "unit.h"
#include "pure/unsubscribe_token.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t other_key[32] = "fedcba9876543210fedcba9876543210";

static UnsubscribeClaim
claim_of(const char *kind, const char *subject, const char *purpose)
{
	UnsubscribeClaim c;

	c.kind = kind;
	c.kind_len = strlen(kind);
	c.subject = subject;
	c.subject_len = strlen(subject);
	c.purpose = purpose;
	c.purpose_len = strlen(purpose);
	return c;
}

static int
same_field(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Signs a claim; the token goes to out. */
static UnsubscribeTokenError
sign(const char *kind, const char *subject, const char *purpose, char *out, size_t *len)
{
	UnsubscribeClaim c = claim_of(kind, subject, purpose);

	return unsubscribe_token_sign(key, sizeof(key), &c, out, UNSUBSCRIBE_TOKEN_BUFSIZE, len);
}

/* Verifies a token; the claim points into a buffer that outlives the call. */
static UnsubscribeTokenError
verify(const char *token, size_t len, UnsubscribeClaim *claim)
{
	static uint8_t raw[UNSUBSCRIBE_MAX_RAW];

	return unsubscribe_token_verify(key, sizeof(key), token, len, raw, claim);
}

static void
test_round_trips(void)
{
	static const char *const cases[][3] = {
		{"customer", "1", "marketing"},
		{"user", "42", "newsletter"},
		{"member", "ada.lovelace@example.com", "marketing"},
		{"k", "x", "p"},
		{"customer", "-9223372036854775808", "marketing"},
		{"kind_with_a_name_of_exactly_sixty_three_bytes_0123456789abcdefg",
		 "s", "purpose_with_a_name_of_exactly_sixty_three_bytes_0123456789abc"},
		{"member", "ünïcödé ☃ subject", "marketing"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
		size_t		len = 0;
		UnsubscribeClaim c;
		size_t		j;
		int			url_safe = 1;

		CHECK(sign(cases[i][0], cases[i][1], cases[i][2], token, &len) == UNSUBSCRIBE_OK,
			  "sign %s/%s/%s", cases[i][0], cases[i][1], cases[i][2]);
		CHECK(len == strlen(token) && len <= UNSUBSCRIBE_MAX_TOKEN, "token %zu is NUL-terminated and bounded", i);
		for (j = 0; j < len; j++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", token[j]))
				url_safe = 0;
		CHECK(url_safe, "token %zu is URL-safe", i);
		CHECK(verify(token, len, &c) == UNSUBSCRIBE_OK, "token %zu verifies", i);
		CHECK(same_field(c.kind, c.kind_len, cases[i][0], strlen(cases[i][0])) &&
			  same_field(c.subject, c.subject_len, cases[i][1], strlen(cases[i][1])) &&
			  same_field(c.purpose, c.purpose_len, cases[i][2], strlen(cases[i][2])),
			  "token %zu names what was signed", i);
	}
}

static void
test_longest(void)
{
	char		kind[UNSUBSCRIBE_MAX_NAME + 1];
	char		purpose[UNSUBSCRIBE_MAX_NAME + 1];
	char		subject[UNSUBSCRIBE_MAX_SUBJECT + 2];
	char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		len = 0;
	UnsubscribeClaim c;

	memset(kind, 'k', UNSUBSCRIBE_MAX_NAME);
	kind[UNSUBSCRIBE_MAX_NAME] = '\0';
	memset(purpose, 'p', UNSUBSCRIBE_MAX_NAME);
	purpose[UNSUBSCRIBE_MAX_NAME] = '\0';
	memset(subject, 's', UNSUBSCRIBE_MAX_SUBJECT);
	subject[UNSUBSCRIBE_MAX_SUBJECT] = '\0';
	CHECK(sign(kind, subject, purpose, token, &len) == UNSUBSCRIBE_OK, "the longest claim signs");
	CHECK(len == UNSUBSCRIBE_MAX_TOKEN, "the longest token is UNSUBSCRIBE_MAX_TOKEN long");
	CHECK(verify(token, len, &c) == UNSUBSCRIBE_OK && c.subject_len == UNSUBSCRIBE_MAX_SUBJECT,
		  "the longest token verifies");

	subject[UNSUBSCRIBE_MAX_SUBJECT] = 's';
	subject[UNSUBSCRIBE_MAX_SUBJECT + 1] = '\0';
	CHECK(sign(kind, subject, purpose, token, &len) == UNSUBSCRIBE_FIELD_LENGTH, "a 513-byte subject is refused");
	CHECK(sign("", "1", "marketing", token, &len) == UNSUBSCRIBE_FIELD_LENGTH, "an empty kind is refused");
	CHECK(sign("customer", "", "marketing", token, &len) == UNSUBSCRIBE_FIELD_LENGTH, "an empty subject is refused");
	CHECK(sign("customer", "1", "", token, &len) == UNSUBSCRIBE_FIELD_LENGTH, "an empty purpose is refused");
	kind[0] = 'k';
	{
		char		long_kind[UNSUBSCRIBE_MAX_NAME + 2];

		memset(long_kind, 'k', UNSUBSCRIBE_MAX_NAME + 1);
		long_kind[UNSUBSCRIBE_MAX_NAME + 1] = '\0';
		CHECK(sign(long_kind, "1", "marketing", token, &len) == UNSUBSCRIBE_FIELD_LENGTH, "a 64-byte kind is refused");
	}
	{
		UnsubscribeClaim small = claim_of("customer", "1", "marketing");

		CHECK(unsubscribe_token_sign(key, sizeof(key), &small, token, 10, &len) == UNSUBSCRIBE_TOO_LONG,
			  "a buffer smaller than UNSUBSCRIBE_TOKEN_BUFSIZE is refused");
		CHECK(unsubscribe_token_sign(NULL, 0, &small, token, sizeof(token), &len) == UNSUBSCRIBE_NO_KEY,
			  "signing without a key is refused");
	}
}

static void
test_deterministic_and_keyed(void)
{
	char		a[UNSUBSCRIBE_TOKEN_BUFSIZE];
	char		b[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		alen = 0;
	size_t		blen = 0;
	uint8_t		raw[UNSUBSCRIBE_MAX_RAW];
	UnsubscribeClaim c = claim_of("customer", "1", "marketing");

	sign("customer", "1", "marketing", a, &alen);
	sign("customer", "1", "marketing", b, &blen);
	CHECK(alen == blen && strcmp(a, b) == 0, "the same claim gives the same token");
	sign("customer", "2", "marketing", b, &blen);
	CHECK(strcmp(a, b) != 0, "another subject gives another token");
	sign("customer", "1", "newsletter", b, &blen);
	CHECK(strcmp(a, b) != 0, "another purpose gives another token");
	unsubscribe_token_sign(other_key, sizeof(other_key), &c, b, sizeof(b), &blen);
	CHECK(strcmp(a, b) != 0, "another key gives another token");
	CHECK(unsubscribe_token_verify(other_key, sizeof(other_key), a, alen, raw, &c) == UNSUBSCRIBE_BAD_SIGNATURE,
		  "a token does not verify under another key");
	CHECK(unsubscribe_token_verify(NULL, 0, a, alen, raw, &c) == UNSUBSCRIBE_NO_KEY,
		  "verifying without a key is refused");
	/* The known encoding of the payload of customer/1/marketing. */
	CHECK(strncmp(a, "AQhjdXN0b21lcgABMQltYXJrZXRpbm", 30) == 0,
		  "the payload is laid out as documented (got %.30s)", a);
}

static void
test_every_alteration(void)
{
	char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
	char		altered[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		len = 0;
	size_t		i;
	int			accepted = 0;
	int			truncations_accepted = 0;
	UnsubscribeClaim c;
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	sign("customer", "12345", "marketing", token, &len);
	for (i = 0; i < len; i++)
	{
		size_t		a;

		for (a = 0; a < 64; a++)
		{
			if (alphabet[a] == token[i])
				continue;
			memcpy(altered, token, len + 1);
			altered[i] = alphabet[a];
			if (verify(altered, len, &c) == UNSUBSCRIBE_OK)
				accepted++;
		}
	}
	CHECK(accepted == 0, "none of the %zu single-character alterations verifies", len * 63);

	for (i = 0; i < len; i++)
		if (verify(token, i, &c) == UNSUBSCRIBE_OK)
			truncations_accepted++;
	CHECK(truncations_accepted == 0, "no truncation verifies");
	CHECK(verify(token, 0, &c) == UNSUBSCRIBE_EMPTY, "the empty token is reported as empty");
	CHECK(verify(token, len - 1, &c) == UNSUBSCRIBE_BAD_LENGTH ||
		  verify(token, len - 1, &c) == UNSUBSCRIBE_NONCANONICAL ||
		  verify(token, len - 1, &c) == UNSUBSCRIBE_BAD_SIGNATURE,
		  "dropping the last character is detected");
	CHECK(verify(token, 20, &c) == UNSUBSCRIBE_TOO_SHORT, "a 20-character prefix is too short");

	memcpy(altered, token, len + 1);
	altered[len] = 'A';
	altered[len + 1] = '\0';
	CHECK(verify(altered, len + 1, &c) != UNSUBSCRIBE_OK, "an appended character is detected");
	memcpy(altered, token, len + 1);
	altered[3] = '+';
	CHECK(verify(altered, len, &c) == UNSUBSCRIBE_BAD_CHARACTER, "standard base64 '+' is not accepted");
	altered[3] = '=';
	CHECK(verify(altered, len, &c) == UNSUBSCRIBE_BAD_CHARACTER, "padding is not accepted");
	altered[3] = '\0';
	CHECK(verify(altered, len, &c) == UNSUBSCRIBE_BAD_CHARACTER, "an embedded NUL is not accepted");
	{
		char		huge[UNSUBSCRIBE_MAX_TOKEN + 2];

		memset(huge, 'A', sizeof(huge));
		CHECK(verify(huge, sizeof(huge), &c) == UNSUBSCRIBE_TOO_LONG, "an overlong token is refused before decoding");
	}
}

/* A token whose last character carries bits the encoding never sets. */
static void
test_noncanonical(void)
{
	char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		len = 0;
	UnsubscribeClaim c;

	/* 74 characters for 55 bytes: the last character holds 4 spare bits */
	sign("customer", "1", "marketing", token, &len);
	CHECK(len % 4 != 0, "this token has spare bits in its last character (length %zu)", len);
	token[len - 1] = token[len - 1] == 'B' ? 'C' : 'B';
	CHECK(verify(token, len, &c) == UNSUBSCRIBE_NONCANONICAL || verify(token, len, &c) == UNSUBSCRIBE_BAD_SIGNATURE,
		  "spare bits set, or a changed last byte, are rejected");
}

static void
test_error_details(void)
{
	int			e;
	int			sentences = 1;

	for (e = UNSUBSCRIBE_OK; e <= UNSUBSCRIBE_CRYPTO_FAILED; e++)
	{
		const char *d = unsubscribe_token_error_detail((UnsubscribeTokenError) e);
		size_t		n = strlen(d);

		if (n == 0 || d[0] < 'A' || d[0] > 'Z' || d[n - 1] != '.')
			sentences = 0;
	}
	CHECK(sentences, "every error detail is a sentence");
}

int
main(void)
{
	test_round_trips();
	test_longest();
	test_deterministic_and_keyed();
	test_every_alteration();
	test_noncanonical();
	test_error_details();
	return unit_done();
}
