-- Scheduling the retention job with pg_cron: a clear error without it,
-- the job registered in cron.job with a command holding no personal data,
-- rescheduling, unscheduling, audit entries.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Without pg_cron in this database.
SELECT privacy.schedule_retention();
SELECT privacy.unschedule_retention();

-- pg_cron is preloaded in the test cluster, and this is its database.
CREATE EXTENSION pg_cron;
SELECT privacy.schedule_retention() > 0 AS scheduled;
SELECT jobname, schedule, command, database = current_database() AS this_database,
	   username = current_user AS as_caller, active
  FROM cron.job WHERE jobname = 'opendims_privacy_retention';

-- Scheduling again changes the schedule of the same job.
SELECT privacy.schedule_retention('0 3 * * *') = jobid AS same_job
  FROM cron.job WHERE jobname = 'opendims_privacy_retention';
SELECT count(*) AS jobs, min(schedule) AS schedule FROM cron.job WHERE jobname = 'opendims_privacy_retention';

-- A schedule pg_cron does not understand.
SELECT privacy.schedule_retention('every now and then');

SELECT privacy.unschedule_retention() AS unscheduled;
SELECT count(*) AS jobs FROM cron.job WHERE jobname = 'opendims_privacy_retention';
SELECT privacy.unschedule_retention() AS unscheduled_again;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary - 'job_id' AS summary FROM privacy.audit_log
 WHERE action LIKE 'retention.%schedule' ORDER BY id;

-- Only privileged roles schedule the job.
CREATE ROLE cron_clerk;
SET ROLE cron_clerk;
SELECT privacy.schedule_retention();
RESET ROLE;
DROP ROLE cron_clerk;

DROP EXTENSION pg_cron;
DROP EXTENSION opendims_privacy CASCADE;
