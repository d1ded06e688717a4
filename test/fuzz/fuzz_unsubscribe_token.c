/*
 * fuzz_unsubscribe_token.c
 *		libFuzzer harness for unsubscribe_token.c: any input is either
 *		rejected with a describable error or is a token that names a claim
 *		which signs back to exactly the same text; and any input split into
 *		a claim signs to a token that verifies to that claim.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pure/unsubscribe_token.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = "fuzzing-key-fuzzing-key-fuzzing!";

/* The input as a token: rejected cleanly, or canonical. */
static void
fuzz_verify(const uint8_t *data, size_t size)
{
	uint8_t		raw[UNSUBSCRIBE_MAX_RAW];
	char		again[UNSUBSCRIBE_TOKEN_BUFSIZE];
	size_t		againlen = 0;
	UnsubscribeClaim claim;
	UnsubscribeTokenError err;
	const char *detail;

	err = unsubscribe_token_verify(key, sizeof(key), (const char *) data, size, raw, &claim);
	detail = unsubscribe_token_error_detail(err);
	REQUIRE(strlen(detail) > 1 && detail[strlen(detail) - 1] == '.');
	if (err != UNSUBSCRIBE_OK)
		return;
	REQUIRE(claim.kind_len >= 1 && claim.kind_len <= UNSUBSCRIBE_MAX_NAME);
	REQUIRE(claim.purpose_len >= 1 && claim.purpose_len <= UNSUBSCRIBE_MAX_NAME);
	REQUIRE(claim.subject_len >= 1 && claim.subject_len <= UNSUBSCRIBE_MAX_SUBJECT);
	REQUIRE(unsubscribe_token_sign(key, sizeof(key), &claim, again, sizeof(again), &againlen) == UNSUBSCRIBE_OK);
	REQUIRE(againlen == size && memcmp(again, data, size) == 0);
}

/* The input as a claim (kind, subject, purpose split at two NUL bytes). */
static void
fuzz_sign(const uint8_t *data, size_t size)
{
	const uint8_t *first = memchr(data, 0, size);
	const uint8_t *second;
	UnsubscribeClaim claim;
	UnsubscribeClaim back;
	char		token[UNSUBSCRIBE_TOKEN_BUFSIZE];
	uint8_t		raw[UNSUBSCRIBE_MAX_RAW];
	size_t		len = 0;

	if (first == NULL)
		return;
	second = memchr(first + 1, 0, size - (size_t) (first + 1 - data));
	if (second == NULL)
		return;
	claim.kind = (const char *) data;
	claim.kind_len = (size_t) (first - data);
	claim.subject = (const char *) first + 1;
	claim.subject_len = (size_t) (second - first - 1);
	claim.purpose = (const char *) second + 1;
	claim.purpose_len = size - (size_t) (second + 1 - data);
	if (unsubscribe_token_sign(key, sizeof(key), &claim, token, sizeof(token), &len) != UNSUBSCRIBE_OK)
		return;
	REQUIRE(len == strlen(token) && len <= UNSUBSCRIBE_MAX_TOKEN);
	REQUIRE(unsubscribe_token_verify(key, sizeof(key), token, len, raw, &back) == UNSUBSCRIBE_OK);
	REQUIRE(back.kind_len == claim.kind_len && memcmp(back.kind, claim.kind, claim.kind_len) == 0);
	REQUIRE(back.subject_len == claim.subject_len && memcmp(back.subject, claim.subject, claim.subject_len) == 0);
	REQUIRE(back.purpose_len == claim.purpose_len && memcmp(back.purpose, claim.purpose, claim.purpose_len) == 0);
	/* flipping the first character breaks it */
	token[0] = token[0] == 'A' ? 'B' : 'A';
	REQUIRE(unsubscribe_token_verify(key, sizeof(key), token, len, raw, &back) != UNSUBSCRIBE_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verify(data, size);
	fuzz_sign(data, size);
	return 0;
}
