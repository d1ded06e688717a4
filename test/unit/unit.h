/*
 * unit.h
 *		A tiny TAP-producing assertion kit for the standalone C unit tests of
 *		the pure (backend-free) code in src/.
 *
 * Each CHECK evaluates its condition once and prints "ok N - what" or
 * "not ok N - what"; unit_done() prints
 * the plan and returns the exit status for main().
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int	unit_count = 0;
static int	unit_failed = 0;

#define CHECK(cond, ...) \
	do { \
		int			unit_ok_ = (cond) ? 1 : 0; \
		unit_count++; \
		if (!unit_ok_) \
		{ \
			unit_failed++; \
			printf("not ok %d - ", unit_count); \
		} \
		else \
			printf("ok %d - ", unit_count); \
		printf(__VA_ARGS__); \
		printf("\n"); \
		if (!unit_ok_) \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} while (0)

/* CHECK_STR: two C strings (either may be NULL) are equal. */
#define CHECK_STR(got, want, ...) \
	do { \
		const char *unit_got_ = (got); \
		const char *unit_want_ = (want); \
		int			unit_same_ = (unit_got_ == NULL && unit_want_ == NULL) || \
			(unit_got_ && unit_want_ && strcmp(unit_got_, unit_want_) == 0); \
		CHECK(unit_same_, __VA_ARGS__); \
		if (!unit_same_) \
			printf("#   got \"%s\", want \"%s\"\n", \
				   unit_got_ ? unit_got_ : "(null)", \
				   unit_want_ ? unit_want_ : "(null)"); \
	} while (0)

static inline int
unit_done(void)
{
	printf("1..%d\n", unit_count);
	if (unit_failed)
		printf("# %d of %d checks failed\n", unit_failed, unit_count);
	return unit_failed ? 1 : 0;
}

#endif							/* UNIT_H */
