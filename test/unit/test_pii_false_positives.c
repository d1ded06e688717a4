/*
 * test_pii_false_positives.c
 *		Measures how often the sensitive-data scan (CPR and payment card
 *		numbers, as the guard and discovery look for them) fires on ordinary
 *		text, and fails if it fires more often than measured when the
 *		ceilings below were set.
 *
 * Families of 10,000 deterministic samples each (dates, timestamps,
 * telephone numbers, order and reference numbers, bank accounts, version
 * numbers, IP addresses, prices, ISBNs, EAN barcodes, tracking numbers,
 * random digit groups) and the lines of test/fixtures/benign_text.txt, a
 * page of everyday Danish and English business prose full of numbers. Each
 * family prints its positives per 10,000 samples. With file arguments, the
 * lines of those files are measured and reported too, without a ceiling
 * (e.g. the files in /usr/share/common-licenses).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pure/pii_scan.h"
#include "unit.h"

#define SAMPLES			10000
#define PROSE_FILE		"../fixtures/benign_text.txt"

/* A deterministic generator (xorshift64*), the same on every machine. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

/* A number in [lo, hi]. */
static int
rnd(int lo, int hi)
{
	return lo + (int) (rng_next() % (uint64_t) (hi - lo + 1));
}

static const char *
pick(const char *const *choices, int n)
{
	return choices[rnd(0, n - 1)];
}

#define PICK(array) pick(array, (int) (sizeof(array) / sizeof(array[0])))

/* n random digits, the first not 0 unless lead_zero. */
static void
digits(char *out, int n, int lead_zero)
{
	for (int k = 0; k < n; k++)
		out[k] = (char) ('0' + (k == 0 && !lead_zero ? rnd(1, 9) : rnd(0, 9)));
	out[n] = '\0';
}

static const char *const months[] = {
	"januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
	"september", "oktober", "november", "december"
};

static void
gen_date(char *buf, size_t size)
{
	int			d = rnd(1, 28),
				m = rnd(1, 12),
				y = rnd(1950, 2030);

	switch (rnd(0, 9))
	{
		case 9:
			snprintf(buf, size, "%02d.%02d.%04d\u2013%02d.%02d.%04d", d, m, y, rnd(1, 28), rnd(1, 12), y);
			break;
		case 0:
			snprintf(buf, size, "Leveret den %02d.%02d.%04d.", d, m, y);
			break;
		case 1:
			snprintf(buf, size, "Dato: %02d-%02d-%04d", d, m, y);
			break;
		case 2:
			snprintf(buf, size, "due %02d/%02d/%04d", d, m, y);
			break;
		case 3:
			snprintf(buf, size, "created %04d-%02d-%02d", y, m, d);
			break;
		case 4:
			snprintf(buf, size, "gyldig til %02d.%02d.%02d", d, m, y % 100);
			break;
		case 5:
			snprintf(buf, size, "den %d. %s %d", d, months[m - 1], y);
			break;
		case 6:
			snprintf(buf, size, "fra %d/%d til %d/%d", d, m, rnd(1, 28), rnd(1, 12));
			break;
		case 7:
			snprintf(buf, size, "periode %02d.%02d.%04d-%02d.%02d.%04d", d, m, y, rnd(1, 28), rnd(1, 12), y + 1);
			break;
		default:
			snprintf(buf, size, "uge %d, %d.%d.%d", rnd(1, 52), d, m, y);
			break;
	}
}

static void
gen_timestamp(char *buf, size_t size)
{
	int			d = rnd(1, 28),
				m = rnd(1, 12),
				y = rnd(2000, 2030),
				h = rnd(0, 23),
				mi = rnd(0, 59),
				s = rnd(0, 59);

	switch (rnd(0, 7))
	{
		case 7:
			snprintf(buf, size, "%02d.%02d.%02d kl. %02d.%02d\u2013%02d.%02d", d, m, y % 100, h, mi, rnd(0, 23), rnd(0, 59));
			break;
		case 0:
			snprintf(buf, size, "%02d.%02d.%04d %02d:%02d", d, m, y, h, mi);
			break;
		case 1:
			snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, h, mi, s);
			break;
		case 2:
			snprintf(buf, size, "den %02d.%02d.%02d kl. %02d.%02d", d, m, y % 100, h, mi);
			break;
		case 3:
			snprintf(buf, size, "%02d/%02d/%04d %02d:%02d:%02d", m, d, y, h, mi, s);
			break;
		case 4:
			snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03d", y, m, d, h, mi, s, rnd(0, 999));
			break;
		case 5:
			snprintf(buf, size, "log %04d%02d%02d-%02d%02d%02d.txt", y, m, d, h, mi, s);
			break;
		default:
			snprintf(buf, size, "%02d-%02d-%04d kl. %02d:%02d", d, m, y, h, mi);
			break;
	}
}

static void
gen_epoch(char *buf, size_t size)
{
	/* Unix times in seconds from 2001 to 2033: ten digits. */
	snprintf(buf, size, "ts=%d", rnd(1000000000, 2000000000));
}

static void
gen_phone(char *buf, size_t size)
{
	char		a[16],
				b[16];

	switch (rnd(0, 8))
	{
		case 8:
			snprintf(buf, size, "+45\u00A0%d\u00A0%02d\u00A0%02d\u00A0%02d", rnd(20, 99), rnd(0, 99), rnd(0, 99), rnd(0, 99));
			break;
		case 0:
			snprintf(buf, size, "Ring %d %02d %02d %02d", rnd(20, 99), rnd(0, 99), rnd(0, 99), rnd(0, 99));
			break;
		case 1:
			snprintf(buf, size, "tlf. %d %04d", rnd(2000, 9999), rnd(0, 9999));
			break;
		case 2:
			snprintf(buf, size, "+45 %d %02d %02d %02d", rnd(20, 99), rnd(0, 99), rnd(0, 99), rnd(0, 99));
			break;
		case 3:
			snprintf(buf, size, "+44 20 %04d %04d", rnd(0, 9999), rnd(0, 9999));
			break;
		case 4:
			snprintf(buf, size, "(%03d) %03d-%04d", rnd(200, 999), rnd(200, 999), rnd(0, 9999));
			break;
		case 5:
			snprintf(buf, size, "%03d-%03d-%04d", rnd(200, 999), rnd(200, 999), rnd(0, 9999));
			break;
		case 6:
			digits(a, rnd(6, 8), 0);
			snprintf(buf, size, "Tel. 0%d %s", rnd(30, 89), a);
			break;
		default:
			digits(a, 3, 0);
			digits(b, 7, 0);
			snprintf(buf, size, "+49 %s %s", a, b);
			break;
	}
}

static void
gen_order(char *buf, size_t size)
{
	char		a[24];

	switch (rnd(0, 6))
	{
		case 6:
			snprintf(buf, size, "sider %d\u2013%d, bilag %d\u2013%d", rnd(1, 400), rnd(400, 900), rnd(1, 20), rnd(20, 40));
			break;
		case 0:
			digits(a, rnd(5, 9), 0);
			snprintf(buf, size, "Ordre nr. %s", a);
			break;
		case 1:
			snprintf(buf, size, "#%06d", rnd(0, 999999));
			break;
		case 2:
			snprintf(buf, size, "SO-%04d-%06d", rnd(2015, 2030), rnd(0, 999999));
			break;
		case 3:
			snprintf(buf, size, "Faktura %d-%04d", rnd(2015, 2030), rnd(1, 9999));
			break;
		case 4:
			snprintf(buf, size, "sag %d/%05d", rnd(10, 30), rnd(0, 99999));
			break;
		default:
			snprintf(buf, size, "ref %04d-%04d-%04d", rnd(0, 9999), rnd(0, 9999), rnd(0, 9999));
			break;
	}
}

static void
gen_bank(char *buf, size_t size)
{
	char		a[24];

	switch (rnd(0, 2))
	{
		case 0:
			digits(a, 10, 1);
			snprintf(buf, size, "reg.nr. %04d konto %s", rnd(1000, 9999), a);
			break;
		case 1:
			snprintf(buf, size, "IBAN DK%02d %04d %04d %04d %02d", rnd(10, 99), rnd(0, 9999),
					 rnd(0, 9999), rnd(0, 9999), rnd(0, 99));
			break;
		default:
			digits(a, rnd(6, 10), 1);
			snprintf(buf, size, "konto %04d-%s", rnd(1000, 9999), a);
			break;
	}
}

static void
gen_version(char *buf, size_t size)
{
	switch (rnd(0, 4))
	{
		case 0:
			snprintf(buf, size, "v%d.%d.%d", rnd(0, 20), rnd(0, 40), rnd(0, 200));
			break;
		case 1:
			snprintf(buf, size, "kernel %d.%d.%d-%d-amd64", rnd(2, 6), rnd(0, 19), rnd(0, 300), rnd(1, 40));
			break;
		case 2:
			snprintf(buf, size, "build %d.%d.%d.%d", rnd(1, 12), rnd(0, 9), rnd(10000, 22999), rnd(0, 9999));
			break;
		case 3:
			snprintf(buf, size, "%d.%d.%d-%d+deb%du%d", rnd(1, 9), rnd(0, 50), rnd(0, 20), rnd(1, 9), rnd(9, 13), rnd(1, 9));
			break;
		default:
			snprintf(buf, size, "%04d.%02d.%d", rnd(2015, 2030), rnd(1, 12), rnd(0, 9999));
			break;
	}
}

static void
gen_ip(char *buf, size_t size)
{
	if (rnd(0, 1))
		snprintf(buf, size, "from %d.%d.%d.%d", rnd(1, 255), rnd(0, 255), rnd(0, 255), rnd(0, 255));
	else
		snprintf(buf, size, "%d.%d.%d.%d:%d %d.%d.%d.%d", rnd(1, 255), rnd(0, 255), rnd(0, 255),
				 rnd(0, 255), rnd(1, 65535), rnd(1, 255), rnd(0, 255), rnd(0, 255), rnd(0, 255));
}

static void
gen_price(char *buf, size_t size)
{
	switch (rnd(0, 7))
	{
		case 6:
			snprintf(buf, size, "%d\u00A0%03d\u00A0%03d,%02d\u00A0kr.", rnd(1, 999), rnd(0, 999), rnd(0, 999), rnd(0, 99));
			break;
		case 7:
			snprintf(buf, size, "%d\u202F%03d\u202F%03d\u202F%03d\u00A0\u20AC", rnd(1, 999), rnd(0, 999), rnd(0, 999), rnd(0, 999));
			break;
		case 0:
			snprintf(buf, size, "%d.%03d,%02d kr.", rnd(1, 999), rnd(0, 999), rnd(0, 99));
			break;
		case 1:
			snprintf(buf, size, "kr. %d.%03d.%03d,00", rnd(1, 999), rnd(0, 999), rnd(0, 999));
			break;
		case 2:
			snprintf(buf, size, "$%d,%03d,%03d.%02d", rnd(1, 999), rnd(0, 999), rnd(0, 999), rnd(0, 99));
			break;
		case 3:
			snprintf(buf, size, "EUR %d %03d %03d,%02d", rnd(1, 999), rnd(0, 999), rnd(0, 999), rnd(0, 99));
			break;
		case 4:
			snprintf(buf, size, "%d,-", rnd(1, 99999));
			break;
		default:
			snprintf(buf, size, "%d.%03d.%03d.%03d kr", rnd(1, 999), rnd(0, 999), rnd(0, 999), rnd(0, 999));
			break;
	}
}

/* An ISBN-13 with its check digit, hyphenated or not. */
static void
gen_isbn(char *buf, size_t size)
{
	char		d[14];
	int			sum = 0;

	snprintf(d, sizeof(d), "97%d%02d%07d", rnd(8, 9), rnd(0, 99), rnd(0, 9999999));
	for (int k = 0; k < 12; k++)
		sum += (d[k] - '0') * (k % 2 ? 3 : 1);
	d[12] = (char) ('0' + (10 - sum % 10) % 10);
	d[13] = '\0';
	if (rnd(0, 1))
		snprintf(buf, size, "ISBN %s", d);
	else
		snprintf(buf, size, "ISBN %.3s-%.2s-%.2s-%.5s-%c", d, d + 3, d + 5, d + 7, d[12]);
}

/* An EAN-13 barcode with its check digit, Danish prefix 57. */
static void
gen_ean(char *buf, size_t size)
{
	char		d[14];
	int			sum = 0;

	snprintf(d, sizeof(d), "57%05d%05d", rnd(0, 99999), rnd(0, 99999));
	for (int k = 0; k < 12; k++)
		sum += (d[k] - '0') * (k % 2 ? 3 : 1);
	d[12] = (char) ('0' + (10 - sum % 10) % 10);
	d[13] = '\0';
	snprintf(buf, size, "EAN %s", d);
}

static void
gen_tracking(char *buf, size_t size)
{
	char		a[32],
				b[32];

	switch (rnd(0, 5))
	{
		case 0:
			digits(a, 8, 1);
			digits(b, 8, 1);
			snprintf(buf, size, "UPS 1Z%03dAA1%s%s", rnd(0, 999), a, b + 3);
			break;
		case 1:
			digits(a, 18, 1);
			snprintf(buf, size, "PostNord 00%s", a);
			break;
		case 2:
			snprintf(buf, size, "RR%09dDK", rnd(0, 999999999));
			break;
		case 3:
			digits(a, 10, 0);
			snprintf(buf, size, "DHL %s", a);
			break;
		case 4:
			snprintf(buf, size, "USPS 9400 %04d %04d %04d %04d %02d", rnd(0, 9999), rnd(0, 9999),
					 rnd(0, 9999), rnd(0, 9999), rnd(0, 99));
			break;
		default:
			digits(a, rnd(11, 12), 0);
			snprintf(buf, size, "GLS %s", a);
			break;
	}
}

/* Two to four groups of two to six digits, one separator throughout. */
static void
gen_digit_groups(char *buf, size_t size)
{
	static const char *const seps[] = {" ", "-", ".", "/", ", ", ":"};
	const char *sep = PICK(seps);
	int			groups = rnd(2, 4);
	size_t		used = 0;

	for (int g = 0; g < groups; g++)
	{
		char		d[8];

		digits(d, rnd(2, 6), 1);
		used += snprintf(buf + used, size - used, "%s%s", g ? sep : "", d);
	}
}

typedef void (*Generator) (char *buf, size_t size);

typedef struct Family
{
	const char *name;
	Generator	gen;
	int			ceiling;		/* positives allowed in SAMPLES samples */
} Family;

/*
 * The ceilings are the counts measured when the scanner last changed; a
 * change that makes the scan fire more often on ordinary text fails here.
 * The ten-digit families (Unix times, bank account numbers) hold dates that
 * exist as CPR numbers written without a dash; 13-digit EAN barcodes and
 * the groups of tracking numbers and IBANs pass the card prefix and Luhn
 * checks one time in ten; random digit groups are shaped like numbers by
 * construction. Those are what digits alone cannot tell apart.
 */
static const Family families[] = {
	{"dates", gen_date, 0},
	{"timestamps", gen_timestamp, 0},
	{"Unix times (ten digits)", gen_epoch, 1226},
	{"telephone numbers", gen_phone, 0},
	{"order and reference numbers", gen_order, 0},
	{"bank accounts", gen_bank, 312},
	{"version numbers", gen_version, 0},
	{"IP addresses", gen_ip, 0},
	{"prices", gen_price, 0},
	{"ISBNs", gen_isbn, 0},
	{"EAN barcodes", gen_ean, 1020},
	{"tracking numbers", gen_tracking, 247},
	{"random digit groups", gen_digit_groups, 92},
};

#define PROSE_CEILING	0

static bool
any(const PiiSpan *span, void *arg)
{
	(void) span;
	*(int *) arg = 1;
	return false;
}

static int
positive(const char *text, size_t len)
{
	int			found = 0;

	pii_scan(text, len, PII_SENSITIVE_KINDS, any, &found);
	return found;
}

/* Counts the lines of a file the scan fires on; -1 if it cannot be read. */
static int
measure_file(const char *path, int *lines)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			hits = 0;

	*lines = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		size_t		len = strcspn(line, "\n");

		(*lines)++;
		if (positive(line, len))
		{
			hits++;
			printf("#   positive: %.*s\n", (int) len, line);
		}
	}
	fclose(f);
	return hits;
}

int
main(int argc, char **argv)
{
	int			total = 0;
	int			hits;
	int			lines;

	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++)
	{
		const Family *fam = &families[k];
		char		buf[256];
		int			n = 0;

		rng_state = UINT64_C(0x9E3779B97F4A7C15) + k;
		for (int s = 0; s < SAMPLES; s++)
		{
			fam->gen(buf, sizeof(buf));
			if (positive(buf, strlen(buf)))
			{
				if (n < 3 || getenv("FP_SHOW_ALL"))
					printf("#   positive: %s\n", buf);
				n++;
			}
		}
		total += n;
		printf("# %-28s %5d per 10k samples\n", fam->name, n);
		CHECK(n <= fam->ceiling, "%s: at most %d positives in %d samples (got %d)",
			  fam->name, fam->ceiling, SAMPLES, n);
	}
	printf("# %-28s %5d in %zu x 10k samples\n", "all generated families", total,
		   sizeof(families) / sizeof(families[0]));

	hits = measure_file(PROSE_FILE, &lines);
	CHECK(hits >= 0 && lines > 0, "the prose corpus %s can be read", PROSE_FILE);
	printf("# %-28s %5d positives in %d lines\n", "prose corpus", hits, lines);
	CHECK(hits <= PROSE_CEILING, "prose corpus: at most %d positives (got %d)",
		  PROSE_CEILING, hits);

	for (int a = 1; a < argc; a++)
	{
		hits = measure_file(argv[a], &lines);
		if (hits >= 0)
			printf("# %-28s %5d positives in %d lines\n", argv[a], hits, lines);
	}
	return unit_done();
}
