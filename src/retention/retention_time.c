/*
 * retention_time.c
 *		The SQL face of the retention deadline arithmetic: reading rules'
 *		time settings, converting anchors to local time, and the functions
 *		privacy_internal._retention_cutoff(), privacy_internal._retention_due_at() and
 *		privacy_internal._retention_minimum_end() that the job, the status view and
 *		erasure use.
 *
 * The arithmetic itself is pure (retention_deadline.c). Local time is the
 * session's TimeZone, as for PostgreSQL's own timestamptz + interval; the
 * retention job and the guard trigger therefore agree whenever they run
 * with the same TimeZone, which is the server's unless a session changes it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "retention/retention.h"

PG_FUNCTION_INFO_V1(privacy_retention_cutoff);
PG_FUNCTION_INFO_V1(privacy_retention_due_at);
PG_FUNCTION_INFO_V1(privacy_retention_minimum_end);

/* Raises the error for an invalid time setting of a rule (rule_name may be NULL). */
static void
invalid_setting(const char *rule_name, const char *setting, const char *value, const char *hint)
{
	if (rule_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retention %s \"%s\"", setting, value),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\" in retention rule \"%s\"", setting, value, rule_name),
			 errhint("%s", hint)));
}

void
retention_rule_from_text(RdRule *rule, const char *rule_name,
						 const char *period, const char *minimum,
						 const char *minimum_from, const char *fy_end)
{
	static const char *duration_hint =
		"A duration is \"<n> <unit>\" with n from 1 to 9999 and unit one of day, week, month, year (or their plurals).";

	memset(rule, 0, sizeof(RdRule));
	rule->period.days = 1;
	if (period != NULL && !rd_parse_period(period, &rule->period))
		invalid_setting(rule_name, "period", period, duration_hint);
	rule->has_minimum = minimum != NULL;
	if (minimum != NULL && !rd_parse_period(minimum, &rule->minimum))
		invalid_setting(rule_name, "minimum", minimum, duration_hint);
	if (minimum_from == NULL || strcmp(minimum_from, "anchor") == 0)
		rule->minimum_from_fy = false;
	else if (strcmp(minimum_from, "end_of_financial_year") == 0)
		rule->minimum_from_fy = true;
	else
		invalid_setting(rule_name, "minimum_from", minimum_from,
						"Valid values are \"anchor\" and \"end_of_financial_year\".");
	if (!rd_parse_fy_end(fy_end ? fy_end : "12-31", &rule->fy_month, &rule->fy_day))
		invalid_setting(rule_name, "financial year end", fy_end ? fy_end : "12-31",
						"The controller's \"financial_year_end\" is \"MM-DD\", a day of a non-leap year.");
}

bool
retention_local_from_datum(Datum value, Oid typid, int64 *local, int *infinite)
{
	*infinite = 0;
	switch (typid)
	{
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(d))
				{
					*infinite = DATE_IS_NOBEGIN(d) ? -1 : 1;
					return false;
				}
				/* A date after the last timestamp is after every deadline. */
				*local = (d >= (DateADT) (RD_TIMESTAMP_END / USECS_PER_DAY)) ?
					RD_NEVER : (int64) d * USECS_PER_DAY;
				return true;
			}
		case TIMESTAMPOID:
			{
				Timestamp	t = DatumGetTimestamp(value);

				if (TIMESTAMP_NOT_FINITE(t))
				{
					*infinite = TIMESTAMP_IS_NOBEGIN(t) ? -1 : 1;
					return false;
				}
				*local = t;
				return true;
			}
		case TIMESTAMPTZOID:
			{
				TimestampTz t = DatumGetTimestampTz(value);

				if (TIMESTAMP_NOT_FINITE(t))
				{
					*infinite = TIMESTAMP_IS_NOBEGIN(t) ? -1 : 1;
					return false;
				}
				*local = retention_timestamptz_to_local(t);
				return true;
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("retention anchor of type %s is not supported", format_type_be(typid)),
					 errhint("An anchor column is of type date, timestamp or timestamp with time zone.")));
	}
	return false;
}

TimestampTz
retention_local_to_timestamptz(int64 local)
{
	return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, TimestampGetDatum(local)));
}

int64
retention_timestamptz_to_local(TimestampTz t)
{
	return DatumGetTimestamp(DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(t)));
}

/* The text argument n, or NULL. */
static const char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * privacy_internal._retention_cutoff(period, minimum, minimum_from, fy_end, at)
 * → timestamptz: the newest anchor that is due at "at"; rows whose anchor is
 * at most this are due.
 */
Datum
privacy_retention_cutoff(PG_FUNCTION_ARGS)
{
	RdRule		rule;
	TimestampTz at;
	int64		cutoff;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	retention_rule_from_text(&rule, NULL, text_arg(fcinfo, 0), text_arg(fcinfo, 1),
							 text_arg(fcinfo, 2), text_arg(fcinfo, 3));
	at = PG_GETARG_TIMESTAMPTZ(4);
	if (TIMESTAMP_NOT_FINITE(at))
		PG_RETURN_TIMESTAMPTZ(at);
	cutoff = rd_due_cutoff(&rule, retention_timestamptz_to_local(at));

	/*
	 * A long period counted back from now can pass the first representable
	 * timestamp (4714 BC, a day's margin for the time zone): no anchor is
	 * due then.
	 */
	if (cutoff < MIN_TIMESTAMP + USECS_PER_DAY)
	{
		TimestampTz nobegin;

		TIMESTAMP_NOBEGIN(nobegin);
		PG_RETURN_TIMESTAMPTZ(nobegin);
	}
	PG_RETURN_TIMESTAMPTZ(retention_local_to_timestamptz(cutoff));
}

/*
 * privacy_internal._retention_due_at(period, minimum, minimum_from, fy_end, anchor)
 * → timestamptz: when a row with this anchor is due.
 */
Datum
privacy_retention_due_at(PG_FUNCTION_ARGS)
{
	RdRule		rule;
	TimestampTz anchor;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
		PG_RETURN_NULL();
	retention_rule_from_text(&rule, NULL, text_arg(fcinfo, 0), text_arg(fcinfo, 1),
							 text_arg(fcinfo, 2), text_arg(fcinfo, 3));
	anchor = PG_GETARG_TIMESTAMPTZ(4);
	if (TIMESTAMP_NOT_FINITE(anchor))
		PG_RETURN_TIMESTAMPTZ(anchor);
	PG_RETURN_TIMESTAMPTZ(retention_local_to_timestamptz(
							  rd_due_at(&rule, retention_timestamptz_to_local(anchor))));
}

/*
 * privacy_internal._retention_minimum_end(minimum, minimum_from, fy_end, anchor)
 * → timestamptz: when the legal minimum ends for a row with this anchor;
 * NULL when there is no minimum.
 */
Datum
privacy_retention_minimum_end(PG_FUNCTION_ARGS)
{
	RdRule		rule;
	TimestampTz anchor;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	retention_rule_from_text(&rule, NULL, NULL, text_arg(fcinfo, 0),
							 text_arg(fcinfo, 1), text_arg(fcinfo, 2));
	anchor = PG_GETARG_TIMESTAMPTZ(3);
	if (TIMESTAMP_NOT_FINITE(anchor))
		PG_RETURN_TIMESTAMPTZ(anchor);
	PG_RETURN_TIMESTAMPTZ(retention_local_to_timestamptz(
							  rd_minimum_end(&rule, retention_timestamptz_to_local(anchor))));
}
