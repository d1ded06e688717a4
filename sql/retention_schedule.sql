-- Scheduling the retention job with pg_cron: a clear error without it,
-- the job registered in cron.job with a command holding no personal data,
-- rescheduling, unscheduling, audit entries, the status view, a delegated
-- role, and a second database scheduling its job in pg_cron's database.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Without pg_cron in this database.
SELECT privacy.schedule_retention();
SELECT privacy.unschedule_retention();

-- pg_cron is preloaded in the test cluster, and this is its database
-- (cron.database_name). On a server set up otherwise (make installcheck
-- against an existing server) the rest is skipped with a notice, and the
-- output is expected/retention_schedule_1.out.
SELECT coalesce(current_setting('cron.database_name', true) = current_database(), false) AS cron_here \gset
\if :cron_here
\else
\echo 'NOTICE:  skipped: pg_cron is not preloaded with cron.database_name set to this database'
DROP EXTENSION opendims_privacy CASCADE;
\quit
\endif
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
SELECT action, summary - 'job_id' - 'role' - 'cron_database' AS summary, summary ->> 'role' = current_user AS by_caller FROM privacy.audit_log
 WHERE action LIKE 'retention.%schedule' ORDER BY id;

-- Only privileged roles schedule the job.
CREATE ROLE cron_clerk;
SET ROLE cron_clerk;
SELECT privacy.schedule_retention();
RESET ROLE;
DROP ROLE cron_clerk;

-- What the status view shows (the job lives in pg_cron's database, which
-- is this one here).
SELECT privacy.schedule_retention('0 2 * * *') > 0 AS scheduled;
SELECT job_name, schedule, username = current_user AS as_caller, active, last_run_status,
	   cron_database = current_database() AS in_this_database
  FROM privacy.retention_schedule;

-- Delegated: a role granted the job, its schedule and the view schedules
-- the job as itself; one that cannot log in could never run it.
CREATE ROLE cron_operator LOGIN;
CREATE ROLE cron_nologin NOLOGIN;
GRANT EXECUTE ON PROCEDURE privacy.enforce_retention(integer, interval) TO cron_operator, cron_nologin;
GRANT EXECUTE ON FUNCTION privacy.schedule_retention(text), privacy.unschedule_retention() TO cron_operator, cron_nologin;
GRANT SELECT ON privacy.retention_schedule TO cron_operator;
SET ROLE cron_operator;
SELECT privacy.schedule_retention('30 1 * * *') > 0 AS scheduled_by_operator;
SELECT job_name, schedule, username = 'cron_operator' AS by_operator FROM privacy.retention_schedule ORDER BY schedule;
RESET ROLE;
SELECT jobname, schedule, command, username FROM cron.job WHERE username = 'cron_operator';
SET ROLE cron_nologin;
SELECT privacy.schedule_retention();
SELECT * FROM privacy.retention_schedule;
RESET ROLE;
SET ROLE cron_operator;
SELECT privacy.unschedule_retention() AS unscheduled_by_operator;
RESET ROLE;
SELECT privacy.unschedule_retention() AS unscheduled;

-- Another database schedules its own job from there: it is registered in
-- pg_cron's database (this one), under a name that carries the database's.
SELECT current_database() AS cron_database \gset
CREATE DATABASE privacy_schedule_elsewhere;
\c privacy_schedule_elsewhere
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy;
RESET client_min_messages;
\set SHOW_CONTEXT never
SELECT privacy.schedule_retention('45 3 * * *') > 0 AS scheduled_elsewhere;
SELECT privacy.schedule_retention('15 4 * * *') > 0 AS rescheduled_elsewhere;
SELECT job_name, schedule, active, cron_database = :'cron_database' AS in_cron_database
  FROM privacy.retention_schedule;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ->> 'schedule' AS schedule, summary ->> 'cron_database' = :'cron_database' AS in_cron_database
  FROM privacy.audit_log WHERE action LIKE 'retention.%schedule' ORDER BY id;
\c :cron_database
SELECT jobname, schedule, command, database, username = current_user AS as_caller
  FROM cron.job ORDER BY jobid;
-- This database's own job is not the other database's.
SELECT count(*) AS jobs_here FROM privacy.retention_schedule;
\c privacy_schedule_elsewhere
SELECT privacy.unschedule_retention() AS unscheduled_elsewhere;
SELECT count(*) AS jobs FROM privacy.retention_schedule;
\c :cron_database
SELECT count(*) AS jobs FROM cron.job;
DROP DATABASE privacy_schedule_elsewhere;

-- The internal function behind them refuses bad input with a clear error.
SELECT * FROM privacy_internal._retention_cron(NULL, NULL, NULL);
SELECT * FROM privacy_internal._retention_cron('reschedule', NULL, NULL);
SELECT * FROM privacy_internal._retention_cron('schedule', NULL, '5 * * * *');

DROP OWNED BY cron_operator, cron_nologin;
DROP ROLE cron_operator;
DROP ROLE cron_nologin;

DROP EXTENSION pg_cron;
DROP EXTENSION opendims_privacy CASCADE;
