/*
 * test_retention_deadline.c
 *		Unit tests of retention_deadline.c: durations, calendar conversion,
 *		adding periods the way PostgreSQL adds intervals, the end of the
 *		financial year, legal minimums, due times and the due cutoff.
 */
#include "unit.h"
#include "pure/retention_deadline.h"

/* A local timestamp from a date and a time of day. */
static int64_t
ts(int y, int m, int d, int hh, int mi, int ss)
{
	return (int64_t) rd_days_from_civil(y, m, d) * RD_USECS_PER_DAY +
		((int64_t) hh * 3600 + mi * 60 + ss) * INT64_C(1000000);
}

static const char *
fmt(int64_t t)
{
	static char buf[4][RD_FORMAT_BUFSIZE];
	static int	next = 0;
	char	   *b = buf[next++ % 4];

	rd_format(t, b);
	return b;
}

static RdPeriod
period(const char *text)
{
	RdPeriod	p = {-1, -1};

	rd_parse_period(text, &p);
	return p;
}

static void
test_parse(void)
{
	RdPeriod	p;
	int			m,
				d;
	static const char *const bad[] = {
		"", "5", "5 ", "05 years", "0 days", "10000 days", "5  years",
		"5 yrs", " 5 years", "5 years ", "-5 years", "5 Years", "1 fortnight",
	};
	size_t		i;

	CHECK(rd_parse_period("5 years", &p) && p.months == 60 && p.days == 0, "5 years is 60 months");
	CHECK(rd_parse_period("1 year", &p) && p.months == 12, "1 year is 12 months");
	CHECK(rd_parse_period("13 months", &p) && p.months == 13 && p.days == 0, "13 months");
	CHECK(rd_parse_period("2 weeks", &p) && p.months == 0 && p.days == 14, "2 weeks is 14 days");
	CHECK(rd_parse_period("90 days", &p) && p.days == 90, "90 days");
	CHECK(rd_parse_period("9999 days", &p) && p.days == 9999, "9999 days is the largest");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!rd_parse_period(bad[i], &p), "\"%s\" is not a duration", bad[i]);
	CHECK(!rd_parse_period(NULL, &p), "NULL is not a duration");

	CHECK(rd_parse_fy_end("12-31", &m, &d) && m == 12 && d == 31, "12-31");
	CHECK(rd_parse_fy_end("06-30", &m, &d) && m == 6 && d == 30, "06-30");
	CHECK(rd_parse_fy_end("02-28", &m, &d) && m == 2 && d == 28, "02-28");
	CHECK(!rd_parse_fy_end("02-29", &m, &d), "02-29 is not a day of a non-leap year");
	CHECK(!rd_parse_fy_end("04-31", &m, &d), "04-31 does not exist");
	CHECK(!rd_parse_fy_end("13-01", &m, &d), "month 13 does not exist");
	CHECK(!rd_parse_fy_end("12-31x", &m, &d), "trailing characters");
	CHECK(!rd_parse_fy_end("1-31", &m, &d), "one-digit month");
}

static void
test_calendar(void)
{
	int			y,
				m,
				d;
	int32_t		day;
	int			ok = 1;

	CHECK(rd_days_from_civil(2000, 1, 1) == 0, "2000-01-01 is day 0");
	CHECK(rd_days_from_civil(1970, 1, 1) == -10957, "1970-01-01 is day -10957");
	CHECK(rd_days_from_civil(2000, 3, 1) == 60, "2000 is a leap year");
	CHECK(rd_days_from_civil(2100, 3, 1) - rd_days_from_civil(2100, 2, 28) == 1, "2100 is not a leap year");
	for (day = -800000; day <= 800000 && ok; day += 37)
	{
		rd_civil_from_days(day, &y, &m, &d);
		ok = rd_days_from_civil(y, m, d) == day;
	}
	CHECK(ok, "days to date and back agree over 4000 years");
	rd_civil_from_days(-1, &y, &m, &d);
	CHECK(y == 1999 && m == 12 && d == 31, "day -1 is 1999-12-31");
}

static void
test_add_period(void)
{
	RdPeriod	p;

	p = period("1 year");
	CHECK_STR(fmt(rd_add_period(ts(2020, 2, 29, 0, 0, 0), &p)), "2021-03-01",
			  "2020-02-29 + 1 year ends at the start of 2021-03-01");
	p = period("1 month");
	CHECK_STR(fmt(rd_add_period(ts(2021, 1, 31, 10, 30, 0), &p)), "2021-03-01",
			  "2021-01-31 10:30 + 1 month ends at the start of 2021-03-01");
	CHECK_STR(fmt(rd_add_period(ts(2021, 1, 28, 10, 30, 0), &p)), "2021-02-28 10:30:00",
			  "2021-01-28 10:30 + 1 month keeps the day and the time");
	CHECK(rd_add_period(ts(2021, 1, 28, 23, 59, 59), &p) < rd_add_period(ts(2021, 1, 29, 0, 0, 0), &p) &&
		  rd_add_period(ts(2021, 1, 31, 23, 59, 59), &p) <= rd_add_period(ts(2021, 2, 1, 0, 0, 0), &p),
		  "adding a period is monotonic across the days a month lacks");
	p = period("13 months");
	CHECK_STR(fmt(rd_add_period(ts(2024, 12, 15, 0, 0, 0), &p)), "2026-01-15",
			  "13 months cross a year boundary");
	p = period("90 days");
	CHECK_STR(fmt(rd_add_period(ts(2024, 1, 1, 0, 0, 0), &p)), "2024-03-31",
			  "90 days from 2024-01-01 (a leap year)");
	p = period("2 weeks");
	CHECK_STR(fmt(rd_add_period(ts(1999, 12, 25, 23, 59, 59), &p)), "2000-01-08 23:59:59",
			  "2 weeks across 2000-01-01");
}

static void
test_financial_year(void)
{
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2020, 3, 15, 0, 0, 0), 12, 31)), "2021-01-01",
			  "calendar financial year: over at the start of the next year");
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2020, 12, 31, 23, 0, 0), 12, 31)), "2021-01-01",
			  "the last day belongs to its year");
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2021, 1, 1, 0, 0, 0), 12, 31)), "2022-01-01",
			  "the first day belongs to the new year");
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2020, 6, 30, 0, 0, 0), 6, 30)), "2020-07-01",
			  "financial year ending 06-30, on its last day");
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2020, 7, 1, 0, 0, 0), 6, 30)), "2021-07-01",
			  "financial year ending 06-30, on the day after");
	CHECK_STR(fmt(rd_end_of_financial_year(ts(2024, 2, 29, 0, 0, 0), 2, 28)), "2025-03-01",
			  "financial year ending 02-28: 29 February of a leap year starts the next year");
}

static void
test_rules(void)
{
	RdRule		bookkeeping = {period("5 years"), true, period("5 years"), true, 12, 31};
	RdRule		plain = {period("3 years"), false, {0, 0}, false, 12, 31};
	RdRule		long_minimum = {period("1 year"), true, period("2 years"), false, 12, 31};
	int64_t		now;
	int64_t		cutoff;

	CHECK_STR(fmt(rd_minimum_end(&bookkeeping, ts(2020, 3, 15, 0, 0, 0))), "2026-01-01",
			  "an invoice of 2020-03-15 is kept until the end of 2025");
	CHECK_STR(fmt(rd_due_at(&bookkeeping, ts(2020, 3, 15, 0, 0, 0))), "2026-01-01",
			  "and is due when the minimum ends, after its period");
	CHECK_STR(fmt(rd_due_at(&plain, ts(2020, 3, 15, 8, 0, 0))), "2023-03-15 08:00:00",
			  "without a minimum, due when the period ends");
	CHECK_STR(fmt(rd_due_at(&long_minimum, ts(2020, 3, 15, 0, 0, 0))), "2022-03-15",
			  "a minimum longer than the period wins");

	now = ts(2026, 6, 1, 12, 0, 0);
	cutoff = rd_due_cutoff(&bookkeeping, now);
	CHECK_STR(fmt(cutoff + 1), "2021-01-01",
			  "on 2026-06-01 every invoice of 2020 and before is due, none of 2021");
	CHECK(rd_due_at(&bookkeeping, cutoff) <= now && rd_due_at(&bookkeeping, cutoff + 1) > now,
		  "the cutoff is the newest anchor that is due");

	now = ts(2021, 2, 28, 0, 0, 0);
	cutoff = rd_due_cutoff(&(RdRule) {period("1 year"), false, {0, 0}, false, 12, 31}, now);
	CHECK_STR(fmt(cutoff), "2020-02-28",
			  "on 2021-02-28 00:00 a 1-year rule has reached 2020-02-28 00:00");
	now = ts(2021, 3, 1, 0, 0, 0);
	cutoff = rd_due_cutoff(&(RdRule) {period("1 year"), false, {0, 0}, false, 12, 31}, now);
	CHECK_STR(fmt(cutoff), "2020-03-01",
			  "on 2021-03-01 00:00 it has reached 2020-03-01 00:00, 2020-02-29 included");

	now = ts(2026, 6, 1, 12, 0, 0);
	cutoff = rd_due_cutoff(&plain, now);
	CHECK_STR(fmt(cutoff), "2023-06-01 12:00:00", "3 years before now, to the microsecond");
	CHECK(rd_due_at(&plain, cutoff) <= now && rd_due_at(&plain, cutoff + 1) > now,
		  "and nothing newer is due");
}

/*
 * Periods and minimums that would end after the last timestamp PostgreSQL
 * can represent (294276-12-31) end never, instead of overflowing into the
 * past.
 */
static void
test_far_future(void)
{
	RdRule		bookkeeping = {period("5 years"), true, period("5 years"), true, 12, 31};
	RdRule		from_anchor = {period("1 day"), true, period("5 years"), false, 12, 31};
	RdPeriod	day = period("1 day");
	RdPeriod	longest = period("9999 years");
	int64_t		now;
	int64_t		cutoff;

	CHECK(RD_TIMESTAMP_END == (int64_t) rd_days_from_civil(294277, 1, 1) * RD_USECS_PER_DAY,
		  "the end of representable time is 294277-01-01 00:00");
	CHECK_STR(fmt(rd_add_period(ts(294276, 12, 30, 23, 59, 59), &day)), "294276-12-31 23:59:59",
			  "a period ending on the last representable day still ends");
	CHECK(rd_add_period(ts(294276, 12, 31, 0, 0, 0), &day) == RD_NEVER,
		  "a period ending at 294277-01-01 ends never");
	CHECK(rd_add_period(ts(294270, 6, 1, 0, 0, 0), &longest) == RD_NEVER,
		  "9999 years from 294270 end never");
	CHECK(rd_add_period(RD_NEVER, &day) == RD_NEVER, "never plus a period is never");
	CHECK(rd_minimum_end(&from_anchor, ts(294273, 6, 1, 0, 0, 0)) == RD_NEVER,
		  "a 5-year minimum from 294273-06-01 ends never");
	CHECK_STR(fmt(rd_minimum_end(&from_anchor, ts(294271, 6, 1, 0, 0, 0))), "294276-06-01",
			  "a 5-year minimum from 294271-06-01 ends on 294276-06-01");
	CHECK(rd_end_of_financial_year(ts(294276, 6, 1, 0, 0, 0), 12, 31) == RD_NEVER,
		  "the financial year of 294276 is over only at the end of time");
	CHECK(rd_minimum_end(&bookkeeping, ts(294272, 6, 1, 0, 0, 0)) == RD_NEVER &&
		  rd_due_at(&bookkeeping, ts(294272, 6, 1, 0, 0, 0)) == RD_NEVER,
		  "an invoice of 294272 under the bookkeeping rule is never due");
	CHECK(rd_minimum_end(&bookkeeping, RD_NEVER) == RD_NEVER &&
		  rd_due_at(&bookkeeping, RD_NEVER) == RD_NEVER,
		  "an anchor after the end of time is never due");

	now = ts(294276, 12, 1, 0, 0, 0);
	cutoff = rd_due_cutoff(&bookkeeping, now);
	CHECK_STR(fmt(cutoff + 1), "294271-01-01",
			  "near the end of time the cutoff is still exact");
	CHECK(rd_due_at(&bookkeeping, cutoff) <= now && rd_due_at(&bookkeeping, cutoff + 1) > now,
		  "and nothing newer is due");
}

int
main(void)
{
	test_parse();
	test_calendar();
	test_add_period();
	test_financial_year();
	test_rules();
	test_far_future();
	return unit_done();
}
