/*
 * retention_deadline.h
 *		Deadline arithmetic of retention rules, without a backend: periods,
 *		the end of the financial year, when a row's legal minimum ends, when
 *		it is due, and the newest anchor value that is due at a given time.
 *
 * Times are local timestamps in microseconds since 2000-01-01 00:00 (the
 * representation of PostgreSQL's timestamp type); the backend wrappers
 * convert timestamptz values with the session's time zone, as PostgreSQL
 * itself does when it adds an interval to a timestamptz. Periods are added
 * the way PostgreSQL adds an interval, months first and then days, with one
 * difference: where PostgreSQL clamps a day the resulting month lacks to
 * its last day (2020-02-29 + 1 year = 2021-02-28), the period here ends at
 * the start of the next month (2021-03-01 00:00). That keeps a row's due
 * time monotonic in its anchor, so that the rows due at any moment are
 * exactly those whose anchor is at most one cutoff value, and it never ends
 * a period earlier than the calendar reading of it.
 */
#ifndef PRIVACY_RETENTION_DEADLINE_H
#define PRIVACY_RETENTION_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#define RD_USECS_PER_DAY INT64_C(86400000000)

/*
 * The first local timestamp PostgreSQL cannot represent, 294277-01-01
 * 00:00 (its END_TIMESTAMP). A period, a minimum or a due time that would
 * end at or after it ends never: the functions below return RD_NEVER (the
 * representation of timestamp 'infinity'), which no time reaches, and take
 * RD_NEVER as an input that stays RD_NEVER.
 */
#define RD_TIMESTAMP_END INT64_C(9223371331200000000)
#define RD_NEVER INT64_MAX

/* A retention period: a number of months and a number of days. */
typedef struct RdPeriod
{
	int32_t		months;
	int32_t		days;
} RdPeriod;

/* What a rule says about time: its period and its optional minimum. */
typedef struct RdRule
{
	RdPeriod	period;
	bool		has_minimum;
	RdPeriod	minimum;
	bool		minimum_from_fy;	/* counted from the end of the financial
									 * year of the anchor, not the anchor */
	int			fy_month;		/* the financial year ends on fy_month-fy_day */
	int			fy_day;
} RdRule;

/*
 * Parses a duration of the policy format, "<n> <unit>" with n from 1 to 9999
 * and unit one of day(s), week(s), month(s), year(s). Returns false if text
 * is not such a duration.
 */
extern bool rd_parse_period(const char *text, RdPeriod *period);

/* Parses a financial year end "MM-DD" (a day of a non-leap year). */
extern bool rd_parse_fy_end(const char *text, int *month, int *day);

/* Days since 2000-01-01 of a proleptic Gregorian date, and back. */
extern int32_t rd_days_from_civil(int year, int month, int day);
extern void rd_civil_from_days(int32_t days, int *year, int *month, int *day);

/* ts plus period (see above for days a month lacks); RD_NEVER past the end. */
extern int64_t rd_add_period(int64_t ts, const RdPeriod *period);

/*
 * The start of the day after the last day of the financial year that ts
 * falls in: the moment the financial year is over.
 */
extern int64_t rd_end_of_financial_year(int64_t ts, int fy_month, int fy_day);

/*
 * When the legal minimum of rule ends for a row with this anchor; RD_NEVER
 * if that is past the last representable timestamp.
 */
extern int64_t rd_minimum_end(const RdRule *rule, int64_t anchor);

/*
 * When a row with this anchor is due: its period has passed and so has its
 * minimum, if the rule has one.
 */
extern int64_t rd_due_at(const RdRule *rule, int64_t anchor);

/*
 * The newest anchor value that is due at now: a row is due exactly when its
 * anchor is at most the result. Found by bisection, since rd_due_at() is
 * monotonic in the anchor but, with months and financial years, has no
 * simple inverse.
 */
extern int64_t rd_due_cutoff(const RdRule *rule, int64_t now);

/*
 * Formats ts as "YYYY-MM-DD", or "YYYY-MM-DD HH:MM:SS" when it is not
 * midnight; buf must hold RD_FORMAT_BUFSIZE bytes.
 */
#define RD_FORMAT_BUFSIZE 32
extern void rd_format(int64_t ts, char *buf);

#endif							/* PRIVACY_RETENTION_DEADLINE_H */
