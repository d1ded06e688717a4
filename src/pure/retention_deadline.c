/*
 * retention_deadline.c
 *		Deadline arithmetic of retention rules: periods, financial years,
 *		legal minimums and the newest due anchor (see retention_deadline.h).
 *
 * Pure C: linked into the extension and into the standalone unit tests.
 * Calendar conversions use the proleptic Gregorian calendar, like
 * PostgreSQL; dates are counted in days since 2000-01-01.
 */
#include <stdio.h>
#include <string.h>

#include "pure/retention_deadline.h"

/* Days from 0000-03-01 to 2000-01-01 in the civil-day count below. */
#define RD_DAYS_TO_2000 730425

/* Floor division and its remainder, for negative day counts. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static bool
is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

int32_t
rd_days_from_civil(int year, int month, int day)
{
	int64_t		y = year - (month <= 2);
	int64_t		era = floor_div(y, 400);
	int64_t		yoe = y - era * 400;
	int64_t		mp = (month + 9) % 12;
	int64_t		doy = (153 * mp + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t) (era * 146097 + doe - RD_DAYS_TO_2000);
}

void
rd_civil_from_days(int32_t days, int *year, int *month, int *day)
{
	int64_t		z = (int64_t) days + RD_DAYS_TO_2000;
	int64_t		era = floor_div(z, 146097);
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = (int) (yoe + era * 400 + (m <= 2));
}

bool
rd_parse_period(const char *text, RdPeriod *period)
{
	static const struct
	{
		const char *name;
		int			months;
		int			days;
	}			units[] = {
		{"day", 0, 1}, {"days", 0, 1}, {"week", 0, 7}, {"weeks", 0, 7},
		{"month", 1, 0}, {"months", 1, 0}, {"year", 12, 0}, {"years", 12, 0},
	};
	const char *p = text;
	int			n = 0;
	int			digits = 0;
	size_t		i;

	if (text == NULL || *p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
	{
		n = n * 10 + (*p++ - '0');
		if (++digits > 4)
			return false;
	}
	if (*p++ != ' ')
		return false;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
	{
		if (strcmp(p, units[i].name) == 0)
		{
			period->months = n * units[i].months;
			period->days = n * units[i].days;
			return true;
		}
	}
	return false;
}

bool
rd_parse_fy_end(const char *text, int *month, int *day)
{
	int			m,
				d;

	if (text == NULL || strlen(text) != 5 || text[2] != '-' ||
		text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9' ||
		text[3] < '0' || text[3] > '9' || text[4] < '0' || text[4] > '9')
		return false;
	m = (text[0] - '0') * 10 + (text[1] - '0');
	d = (text[3] - '0') * 10 + (text[4] - '0');
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(2001, m))
		return false;
	*month = m;
	*day = d;
	return true;
}

/* Splits a timestamp into its day count and the microseconds into the day. */
static void
split(int64_t ts, int32_t *days, int64_t *time)
{
	*days = (int32_t) floor_div(ts, RD_USECS_PER_DAY);
	*time = ts - (int64_t) *days * RD_USECS_PER_DAY;
}

/*
 * The local timestamp of a day count and a time into the day, or RD_NEVER
 * if it is at or after RD_TIMESTAMP_END (where the product would also
 * overflow).
 */
static int64_t
from_days(int64_t days, int64_t time)
{
	if (days >= RD_TIMESTAMP_END / RD_USECS_PER_DAY)
		return RD_NEVER;
	return days * RD_USECS_PER_DAY + time;
}

int64_t
rd_add_period(int64_t ts, const RdPeriod *period)
{
	int32_t		days;
	int64_t		time;
	int			y,
				m,
				d;
	int64_t		month_index;

	if (ts >= RD_TIMESTAMP_END)
		return RD_NEVER;
	split(ts, &days, &time);
	rd_civil_from_days(days, &y, &m, &d);
	month_index = (int64_t) y * 12 + (m - 1) + period->months;
	y = (int) floor_div(month_index, 12);
	m = (int) (month_index - (int64_t) y * 12) + 1;
	if (d > days_in_month(y, m))
	{
		/* A day the month lacks rolls over to the start of the next month. */
		return from_days((int64_t) rd_days_from_civil(y, m, days_in_month(y, m)) + 1 +
						 period->days, 0);
	}
	return from_days((int64_t) rd_days_from_civil(y, m, d) + period->days, time);
}

int64_t
rd_end_of_financial_year(int64_t ts, int fy_month, int fy_day)
{
	int32_t		days;
	int64_t		time;
	int			y,
				m,
				d;
	int			end_year;

	if (ts >= RD_TIMESTAMP_END)
		return RD_NEVER;
	split(ts, &days, &time);
	rd_civil_from_days(days, &y, &m, &d);
	/* The financial year ends on the first fy_month-fy_day on or after ts. */
	end_year = (m < fy_month || (m == fy_month && d <= fy_day)) ? y : y + 1;
	return from_days((int64_t) rd_days_from_civil(end_year, fy_month, fy_day) + 1, 0);
}

int64_t
rd_minimum_end(const RdRule *rule, int64_t anchor)
{
	int64_t		from = anchor;

	if (rule->minimum_from_fy)
		from = rd_end_of_financial_year(anchor, rule->fy_month, rule->fy_day);
	return rd_add_period(from, &rule->minimum);
}

int64_t
rd_due_at(const RdRule *rule, int64_t anchor)
{
	int64_t		due = rd_add_period(anchor, &rule->period);

	if (rule->has_minimum)
	{
		int64_t		minimum_end = rd_minimum_end(rule, anchor);

		if (minimum_end > due)
			due = minimum_end;
	}
	return due;
}

/* An upper bound, in days, of how far a period can move a time forward. */
static int64_t
period_span_days(const RdPeriod *period)
{
	return (int64_t) period->months * 31 + period->days + 1;
}

int64_t
rd_due_cutoff(const RdRule *rule, int64_t now)
{
	int64_t		span = period_span_days(&rule->period);
	int64_t		lo,
				hi;

	if (rule->has_minimum)
	{
		int64_t		minimum_span = period_span_days(&rule->minimum) + 366;

		if (minimum_span > span)
			span = minimum_span;
	}

	/*
	 * Every period is positive, so an anchor at now is not due, and one more
	 * than span days before now is: bisect between the two for the newest
	 * anchor that is due.
	 */
	lo = now - (span + 1) * RD_USECS_PER_DAY;
	hi = now;
	while (hi - lo > 1)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (rd_due_at(rule, mid) <= now)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void
rd_format(int64_t ts, char *buf)
{
	int32_t		days;
	int64_t		time;
	int			y,
				m,
				d;

	split(ts, &days, &time);
	rd_civil_from_days(days, &y, &m, &d);
	if (time == 0)
		snprintf(buf, RD_FORMAT_BUFSIZE, "%04d-%02d-%02d", y, m, d);
	else
	{
		int64_t		secs = time / INT64_C(1000000);

		snprintf(buf, RD_FORMAT_BUFSIZE, "%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
				 (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
	}
}
