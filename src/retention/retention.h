/*
 * retention.h
 *		What the retention subsystem's backend files share: reading a rule's
 *		time settings and converting anchor values to the local timestamps
 *		the deadline arithmetic (retention_deadline.h) works on.
 */
#ifndef PRIVACY_RETENTION_H
#define PRIVACY_RETENTION_H

#include "datatype/timestamp.h"

#include "pure/retention_deadline.h"

/*
 * Fills rule from the text settings of a retention rule: period (may be NULL
 * when only the minimum matters), minimum (NULL for none), minimum_from
 * ("anchor" or "end_of_financial_year") and the controller's financial year
 * end ("MM-DD"). Raises an error if a setting is invalid, naming rule_name
 * unless it is NULL.
 */
extern void retention_rule_from_text(RdRule *rule, const char *rule_name,
									 const char *period, const char *minimum,
									 const char *minimum_from, const char *fy_end);

/*
 * The local timestamp of an anchor value of type typid (date, timestamp or
 * timestamptz). Returns false for -infinity and +infinity, setting
 * *infinite to -1 or 1; an error for another type. A date after the last
 * representable timestamp is RD_NEVER.
 */
extern bool retention_local_from_datum(Datum value, Oid typid, int64 *local, int *infinite);

/* The timestamptz of a local timestamp, in the session's time zone. */
extern TimestampTz retention_local_to_timestamptz(int64 local);

/* The local timestamp of a timestamptz, in the session's time zone. */
extern int64 retention_timestamptz_to_local(TimestampTz t);

/*
 * Defines the privacy.retention_nice and privacy.retention_lock_timeout
 * settings (retention_job.c).
 */
extern void RetentionInit(void);

#endif							/* PRIVACY_RETENTION_H */
