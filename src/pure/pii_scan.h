/*
 * pii_scan.h
 *		Finds personal data in free text: e-mail addresses, telephone numbers,
 *		IP addresses, Danish CPR numbers and payment card numbers. Pure: no
 *		backend needed.
 *
 * The scanner makes one left-to-right pass over the bytes, without a regular
 * expression library, in time linear in the length of the text: every
 * pattern is tried only where a word starts and reads a bounded number of
 * bytes from there. Reported spans are ordered and do not overlap. A match
 * never starts or ends inside a longer word or digit run ("x12345678",
 * "1.2.3.4.5" and "010190-12345" hold none), so that replacing every
 * reported span with its marker leaves text in which nothing is found.
 *
 * The patterns:
 *	- e-mail: local part of letters, digits and "._%+-" (starting with a
 *	  letter or digit, at most 64 bytes, no "..") "@" a domain of at least two
 *	  labels whose last is not numeric; bytes above 0x7f count as letters;
 *	- telephone: "+" and 8 to 15 digits in groups separated by single spaces,
 *	  dashes or dots (one group may be in parentheses), or a Danish
 *	  8-digit number (first digit 2-9) written 12345678, 1234 5678 or
 *	  12 34 56 78, with spaces or dashes;
 *	- IP address: a dotted-quad IPv4 address (no leading zeros), or an IPv6
 *	  address in the forms of RFC 4291 (with "::" and an IPv4 tail);
 *	- CPR number: ddmmyy-ssss, ddmmyyssss, dd.mm.yy-ssss (also with "-" or
 *	  "/" in the date), or ddmmyy ssss unless another number and a space
 *	  come just before it, whose date exists, the century following from
 *	  the year and the seventh digit; the modulus-11 check is not applied,
 *	  since numbers without it have been issued since 2007;
 *	- payment card: 13 to 19 digits with a known issuer prefix and a valid
 *	  Luhn check digit, in groups separated by single spaces or dashes, or by
 *	  single dots or single slashes throughout in a card layout (4-4-4-4,
 *	  4-6-5, 4-6-4, 4-4-4-4-3: four digits, groups of four or six, a last
 *	  group of three to six).
 *
 * CPR and card numbers are read as people type them: a "dash" is also any
 * Unicode hyphen or dash, the minus sign or a full-width hyphen-minus; a
 * "space" also a no-break, narrow, thin, figure or other fixed-width space;
 * digits may be full-width (U+FF10..FF19) or Arabic-Indic, and dots and
 * slashes full-width. These characters also count as the spaces and dashes
 * they stand for in word boundaries. Spans are byte offsets into the text as
 * given, covering every byte of such a spelling.
 */
#ifndef PRIVACY_PII_SCAN_H
#define PRIVACY_PII_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef enum PiiKind
{
	PII_NONE = 0,
	PII_EMAIL,
	PII_PHONE,
	PII_IP,
	PII_CPR,
	PII_CARD
} PiiKind;

#define PII_NUM_KINDS		6

/* Sets of kinds, as bit masks, to choose what a scan looks for. */
#define PII_MASK(kind)		(1u << (kind))
#define PII_ALL_KINDS \
	(PII_MASK(PII_EMAIL) | PII_MASK(PII_PHONE) | PII_MASK(PII_IP) | \
	 PII_MASK(PII_CPR) | PII_MASK(PII_CARD))
#define PII_SENSITIVE_KINDS	(PII_MASK(PII_CPR) | PII_MASK(PII_CARD))

/* One match: the bytes [start, end) of the text. */
typedef struct PiiSpan
{
	size_t		start;
	size_t		end;
	PiiKind		kind;
} PiiSpan;

/* Called for each match in order; returning false ends the scan. */
typedef bool (*PiiVisitor) (const PiiSpan *span, void *arg);

/*
 * Scans text[0, len) for the kinds in the mask kinds and calls visit for each
 * match; returns the number of matches visited.
 */
extern size_t pii_scan(const char *text, size_t len, unsigned kinds,
					   PiiVisitor visit, void *arg);

/* The mask of the kinds found in the text, stopping early once all are. */
extern unsigned pii_scan_kinds(const char *text, size_t len, unsigned kinds);

/*
 * The kind of a whole value: a value that, without surrounding white space,
 * is exactly one match; PII_NONE otherwise.
 */
extern PiiKind pii_classify(const char *text, size_t len);

/* The policy category of a kind, e.g. "contact.email". */
extern const char *pii_kind_category(PiiKind kind);

/* A kind in words, for messages, e.g. "a Danish CPR number". */
extern const char *pii_kind_description(PiiKind kind);

/* What a redacted match is replaced with, e.g. "[redacted national_id]". */
extern const char *pii_kind_marker(PiiKind kind);

/*
 * The year of birth of the CPR number in ten digits, or 0 if they are not
 * one: its date does not exist.
 */
extern int	pii_cpr_birth_year(const char *digits);

/* Whether ten digits are a CPR number with an existing date of birth. */
extern bool pii_cpr_valid(const char *digits);

/* Whether n digits pass the Luhn check. */
extern bool pii_luhn_valid(const char *digits, size_t n);

#endif							/* PRIVACY_PII_SCAN_H */
