/*
 * fuzz_email.c
 *		libFuzzer harness for email_syntax.c: any input is either rejected
 *		with a describable error or normalised to a fixed point that sorts,
 *		folds and masks consistently.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pure/email_syntax.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	char		out[EMAIL_BUFSIZE];
	char		again[EMAIL_BUFSIZE];
	char		folded[EMAIL_BUFSIZE];
	char		masked[EMAIL_BUFSIZE];
	char		detail[EMAIL_DETAIL_BUFSIZE];
	size_t		outlen = 0;
	size_t		againlen = 0;
	size_t		errpos = 0;
	EmailSyntaxError err;

	err = email_parse(in, size, out, &outlen, &errpos);
	if (err != EMAIL_OK)
	{
		REQUIRE(errpos <= size);
		email_error_detail(err, in, size, errpos, detail, sizeof(detail));
		REQUIRE(strlen(detail) > 0 && detail[strlen(detail) - 1] == '.');
		return 0;
	}

	/* normalise(normalise(x)) == normalise(x), and the output parses */
	REQUIRE(outlen > 0 && outlen <= EMAIL_MAX_LENGTH && out[outlen] == '\0');
	REQUIRE(email_parse(out, outlen, again, &againlen, &errpos) == EMAIL_OK);
	REQUIRE(againlen == outlen && memcmp(out, again, outlen) == 0);

	/* the folded form is equal under the type's comparison, and valid */
	email_fold(out, outlen, folded);
	REQUIRE(email_compare(out, outlen, folded, outlen) == 0);
	REQUIRE(email_parse(folded, outlen, again, &againlen, &errpos) == EMAIL_OK);
	REQUIRE(againlen == outlen && memcmp(folded, again, outlen) == 0);

	/* comparison against the raw input agrees in sign both ways */
	{
		int			ab = email_compare(out, outlen, in, size);
		int			ba = email_compare(in, size, out, outlen);

		REQUIRE((ab > 0) - (ab < 0) == -((ba > 0) - (ba < 0)));
	}

	/* masking keeps the length, the "@" and the top-level label */
	REQUIRE(email_mask(out, outlen, masked) == outlen);
	REQUIRE(strlen(masked) == outlen);
	REQUIRE(strchr(masked, '@') != NULL);
	REQUIRE(strcmp(strrchr(masked, '.'), strrchr(out, '.')) == 0);
	return 0;
}
