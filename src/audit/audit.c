/*
 * audit.c
 *		Appends entries to the audit log from C code (triggers, the policy
 *		loader), by calling privacy_internal._audit() as the log's owner.
 *
 * C and SQL callers share one definition of an entry: privacy_internal._audit()
 * computes its fields, and the entry is appended to the hash chain when the
 * transaction commits (audit_pending.c). The entry names the calling role as
 * its actor.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "audit/audit.h"
#include "base/extension_objects.h"

void
privacy_audit_event(const char *action, const char *kind,
					const char *subject, const char *summary_json)
{
	PrivacyUserContext save;
	char	   *actor = GetUserNameFromId(GetUserId(), false);
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(actor);
	values[1] = CStringGetTextDatum(action);
	values[2] = kind ? CStringGetTextDatum(kind) : (Datum) 0;
	values[3] = subject ? CStringGetTextDatum(subject) : (Datum) 0;
	values[4] = CStringGetTextDatum(summary_json ? summary_json : "{}");
	if (kind == NULL)
		nulls[2] = 'n';
	if (subject == NULL)
		nulls[3] = 'n';

	privacy_begin_as_owner("audit_log", &save);
	PG_TRY();
	{
		SPI_connect();
		if (SPI_execute_with_args("SELECT privacy_internal._audit($1::pg_catalog.name, $2, $3, $4, NULL, $5::pg_catalog.jsonb)",
								  5, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not write audit log entry");
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
}
