/*
 * fuzz_phone.c
 *		libFuzzer harness for phone_syntax.c: the first byte picks the
 *		default country code, the rest is the input; a number that parses
 *		formats to E.164 that parses back to the same number, survives its
 *		binary value, and masks within its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pure/phone_syntax.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int default_codes[] = {0, 1, 7, 36, 39, 44, 45, 49, 225, 683, 999};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	int			default_cc;
	PhoneNumber p = 0;
	PhoneNumber again = 0;
	char		text[PHONE_TEXT_BUFSIZE];
	char		masked[PHONE_MASK_BUFSIZE];
	char		detail[PHONE_DETAIL_BUFSIZE];
	size_t		errpos = 0;
	size_t		n;
	PhoneSyntaxError err;

	if (size == 0)
		return 0;
	default_cc = default_codes[data[0] % (sizeof(default_codes) / sizeof(default_codes[0]))];
	in = (const char *) data + 1;
	size--;

	err = phone_parse(in, size, default_cc, &p, &errpos);
	if (err != PHONE_OK)
	{
		REQUIRE(errpos <= size);
		phone_error_detail(err, in, size, errpos, detail, sizeof(detail));
		REQUIRE(strlen(detail) > 0 && detail[strlen(detail) - 1] == '.');
		return 0;
	}

	/* the E.164 text parses back, with any default, to the same number */
	n = phone_format(p, text);
	REQUIRE(n == strlen(text) && text[0] == '+');
	REQUIRE(n - 1 >= PHONE_MIN_DIGITS && n - 1 <= PHONE_MAX_DIGITS);
	REQUIRE(phone_parse(text, n, 0, &again, &errpos) == PHONE_OK && again == p);
	REQUIRE(phone_parse(text, n, 45, &again, &errpos) == PHONE_OK && again == p);

	/* the binary value round-trips */
	REQUIRE(phone_from_value(phone_value(p), &again) == PHONE_OK && again == p);

	/* the mask keeps "+", the country code and the last two digits */
	n = phone_mask(p, masked);
	REQUIRE(n < PHONE_MASK_BUFSIZE && n == strlen(masked));
	REQUIRE(masked[n - 1] == text[strlen(text) - 1]);
	REQUIRE(masked[n - 2] == text[strlen(text) - 2]);
	REQUIRE(strncmp(masked, text, strcspn(masked, " ")) == 0);
	return 0;
}
