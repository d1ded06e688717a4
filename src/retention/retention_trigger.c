/*
 * retention_trigger.c
 *		The guard trigger of retention rules with a legal minimum, and the
 *		transaction-scoped permission that lets the extension's erasure and
 *		anonymisation paths past it.
 *
 * privacy.install_retention_triggers() puts privacy_internal._retention_guard() on
 * every table with such a rule: BEFORE UPDATE OR DELETE FOR EACH ROW and
 * BEFORE TRUNCATE FOR EACH STATEMENT. Its arguments carry the rules, one
 * group each:
 *
 *		name, anchor, minimum, minimum_from, financial year end,
 *		n, n columns the rule's own action may change early,
 *		m, m guarded columns (the table's personal columns)
 *
 * A row whose minimum has not ended cannot be deleted, nor its guarded
 * columns changed, nor its anchor moved to an earlier minimum end. Within a
 * transaction that called privacy_internal._allow_protected_changes() (only the
 * extension's own erasure and anonymisation paths can), the columns that an
 * anonymize or truncate_ip rule names may be changed; deleting stays refused
 * until the minimum ends, whoever asks. The permission is a backend-local
 * variable, not a setting: SET cannot reach it, and it ends with the
 * (sub)transaction that granted it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/extension_objects.h"
#include "base/qualified_name.h"
#include "retention/retention.h"

PG_FUNCTION_INFO_V1(privacy_retention_guard);
PG_FUNCTION_INFO_V1(privacy_allow_protected_changes);

/* The subtransaction nesting level that granted the permission, or 0. */
static int	protected_changes_level = 0;
static bool callbacks_registered = false;

/* Drops the permission at the end of the transaction. */
static void
protected_changes_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			protected_changes_level = 0;
			break;
		default:
			break;
	}
}

/* Drops the permission when the subtransaction that granted it aborts. */
static void
protected_changes_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB &&
		protected_changes_level >= GetCurrentTransactionNestLevel())
		protected_changes_level = 0;
	else if (event == SUBXACT_EVENT_COMMIT_SUB &&
			 protected_changes_level >= GetCurrentTransactionNestLevel())
		protected_changes_level = GetCurrentTransactionNestLevel() - 1;
}

/*
 * privacy_internal._allow_protected_changes(): lets the rest of the current
 * transaction make the changes that rules allow their erasure and
 * anonymisation paths (see above).
 */
Datum
privacy_allow_protected_changes(PG_FUNCTION_ARGS)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(protected_changes_xact_callback, NULL);
		RegisterSubXactCallback(protected_changes_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (protected_changes_level == 0 || protected_changes_level > GetCurrentTransactionNestLevel())
		protected_changes_level = GetCurrentTransactionNestLevel();
	PG_RETURN_VOID();
}

/* One rule of the trigger's arguments. */
typedef struct GuardRule
{
	const char *name;
	const char *anchor;
	const char *minimum;
	RdRule		time;
	int			nallowed;
	char	  **allowed;
	int			nguarded;
	char	  **guarded;
} GuardRule;

/* Parses the trigger's arguments into rules; returns how many. */
static int
parse_guard_rules(Trigger *trigger, const char *relname, GuardRule **rules_out)
{
	char	  **args = trigger->tgargs;
	int			nargs = trigger->tgnargs;
	int			i = 0;
	int			n = 0;
	GuardRule  *rules = palloc0(sizeof(GuardRule) * (nargs / 7 + 1));

	while (i < nargs)
	{
		GuardRule  *r = &rules[n++];

		if (i + 6 > nargs)
			goto malformed;
		r->name = args[i];
		r->anchor = args[i + 1];
		r->minimum = args[i + 2];
		retention_rule_from_text(&r->time, r->name, NULL, args[i + 2], args[i + 3], args[i + 4]);
		r->nallowed = pg_strtoint32(args[i + 5]);
		i += 6;
		if (r->nallowed < 0 || i + r->nallowed + 1 > nargs)
			goto malformed;
		r->allowed = &args[i];
		i += r->nallowed;
		r->nguarded = pg_strtoint32(args[i]);
		i++;
		if (r->nguarded < 0 || i + r->nguarded > nargs)
			goto malformed;
		r->guarded = &args[i];
		i += r->nguarded;
	}
	*rules_out = rules;
	return n;

malformed:
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("retention guard trigger \"%s\" on table \"%s\" has malformed arguments",
					trigger->tgname, relname),
			 errhint("Run SELECT privacy.install_retention_triggers(); to reinstall the triggers.")));
	return 0;
}

/* The attribute number of column name of the trigger's table. */
static int
guard_fnumber(TupleDesc tupdesc, const char *column, const GuardRule *rule, const char *relname)
{
	int			attnum = SPI_fnumber(tupdesc, column);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of retention rule \"%s\" does not exist in table \"%s\"",
						column, rule->name, relname),
				 errhint("Apply a policy document that matches the table, then run SELECT privacy.install_retention_triggers();.")));
	return attnum;
}

/*
 * When the minimum of rule ends for the row tuple, as a local timestamp;
 * false if it has no end to wait for (a NULL or -infinity anchor), with
 * *forever set for a +infinity anchor (*end untouched) and for a minimum
 * that would end after the last representable timestamp (*end RD_NEVER).
 */
static bool
row_minimum_end(const GuardRule *rule, HeapTuple tuple, TupleDesc tupdesc, const char *relname,
				int64 *end, bool *forever)
{
	int			attnum = guard_fnumber(tupdesc, rule->anchor, rule, relname);
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	int64		local;
	int			infinite;

	*forever = false;
	if (isnull)
		return false;
	if (!retention_local_from_datum(value, TupleDescAttr(tupdesc, attnum - 1)->atttypid,
									&local, &infinite))
	{
		*forever = infinite > 0;
		return *forever;
	}
	*end = rd_minimum_end(&rule->time, local);
	*forever = (*end == RD_NEVER);
	return true;
}

/* Whether the value of attnum differs between two versions of a row. */
static bool
column_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc tupdesc, int attnum)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	bool		oldnull,
				newnull;
	Datum		oldval = heap_getattr(oldtup, attnum, tupdesc, &oldnull);
	Datum		newval = heap_getattr(newtup, attnum, tupdesc, &newnull);

	if (oldnull || newnull)
		return oldnull != newnull;
	return !datumIsEqual(oldval, newval, att->attbyval, att->attlen);
}

static bool
name_in(const char *name, char **names, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The end of a minimum as text for messages. */
static char *
format_end(int64 end, bool forever)
{
	char		buf[RD_FORMAT_BUFSIZE];

	if (forever && end == RD_NEVER)
		return pstrdup("never (it would end after the last date PostgreSQL can represent)");
	if (forever)
		return pstrdup("never (the anchor is infinity)");
	rd_format(end, buf);
	return pstrdup(buf);
}

/* The detail of a refusal: what the rule keeps and until when. */
static char *
refusal_detail(const GuardRule *rule, int64 end, bool forever)
{
	return psprintf("Retention rule \"%s\" keeps rows for at least %s from %s; this row's minimum ends %s%s.",
					rule->name, rule->minimum,
					rule->time.minimum_from_fy ? psprintf("the end of the financial year of %s", rule->anchor) :
					psprintf("%s", rule->anchor),
					forever ? "" : "on ", format_end(end, forever));
}

/* Checks a row about to be deleted or updated against every rule. */
static void
guard_row(TriggerData *trigdata, GuardRule *rules, int nrules, const char *relname)
{
	TupleDesc	tupdesc = trigdata->tg_relation->rd_att;
	HeapTuple	oldtup = trigdata->tg_trigtuple;
	bool		is_delete = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	int64		now = retention_timestamptz_to_local(GetCurrentTransactionStartTimestamp());
	bool		allowed_paths = protected_changes_level > 0;
	int			r;

	for (r = 0; r < nrules; r++)
	{
		GuardRule  *rule = &rules[r];
		int64		end = 0;
		bool		forever;
		int			c;

		if (!row_minimum_end(rule, oldtup, tupdesc, relname, &end, &forever))
			continue;
		if (!forever && end <= now)
			continue;

		if (is_delete)
			ereport(ERROR,
					(errcode(ERRCODE_RESTRICT_VIOLATION),
					 errmsg("cannot delete a row of table \"%s\" before the legal minimum of retention rule \"%s\" ends",
							relname, rule->name),
					 errdetail("%s", refusal_detail(rule, end, forever)),
					 errhint("The row can be deleted once its minimum has ended; the retention job does so when the rule's period has also passed.")));

		for (c = 0; c < rule->nguarded; c++)
		{
			int			attnum = guard_fnumber(tupdesc, rule->guarded[c], rule, relname);

			if (!column_changed(oldtup, trigdata->tg_newtuple, tupdesc, attnum))
				continue;
			if (allowed_paths && name_in(rule->guarded[c], rule->allowed, rule->nallowed))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_RESTRICT_VIOLATION),
					 errmsg("cannot change column \"%s\" of table \"%s\" before the legal minimum of retention rule \"%s\" ends",
							rule->guarded[c], relname, rule->name),
					 errdetail("%s", refusal_detail(rule, end, forever)),
					 errhint("Personal data kept under a legal minimum stays as it was recorded until the minimum ends.")));
		}

		/* Moving the anchor may lengthen the minimum, never shorten it. */
		if (column_changed(oldtup, trigdata->tg_newtuple, tupdesc,
						   guard_fnumber(tupdesc, rule->anchor, rule, relname)))
		{
			int64		new_end = 0;
			bool		new_forever;
			bool		has_end = row_minimum_end(rule, trigdata->tg_newtuple, tupdesc, relname,
												  &new_end, &new_forever);

			if (!(new_forever || (has_end && !forever && new_end >= end)))
				ereport(ERROR,
						(errcode(ERRCODE_RESTRICT_VIOLATION),
						 errmsg("cannot move anchor column \"%s\" of table \"%s\" to an earlier end of the legal minimum of retention rule \"%s\"",
								rule->anchor, relname, rule->name),
						 errdetail("%s", refusal_detail(rule, end, forever)),
						 errhint("An anchor may only be moved so that the minimum ends at the same time or later.")));
		}
	}
}

/* Refuses TRUNCATE while any row of the table is under a minimum. */
static void
guard_truncate(TriggerData *trigdata, GuardRule *rules, int nrules, const char *relname)
{
	Relation	rel = trigdata->tg_relation;
	char	   *qualified = privacy_qualified_name(RelationGetRelid(rel));
	int64		now = retention_timestamptz_to_local(GetCurrentTransactionStartTimestamp());
	PrivacyUserContext save;
	int			r;

	for (r = 0; r < nrules; r++)
	{
		GuardRule  *rule = &rules[r];
		RdRule		minimum_only = rule->time;
		int			attnum = guard_fnumber(rel->rd_att, rule->anchor, rule, relname);
		Oid			anchor_type = TupleDescAttr(rel->rd_att, attnum - 1)->atttypid;
		TimestampTz cutoff;
		Datum		arg;
		Oid			argtype = TIMESTAMPTZOID;
		bool		found = false;

		/* With a period of one day, a row is due exactly when its minimum ends. */
		minimum_only.period.months = 0;
		minimum_only.period.days = 1;
		cutoff = retention_local_to_timestamptz(rd_due_cutoff(&minimum_only, now));
		arg = TimestampTzGetDatum(cutoff);

		privacy_begin_as_owner("retention_rules", &save);
		PG_TRY();
		{
			char	   *sql = psprintf("SELECT 1 FROM %s t WHERE t.%s OPERATOR(pg_catalog.>) $1::%s LIMIT 1",
									   qualified, quote_identifier(rule->anchor),
									   format_type_be_qualified(anchor_type));

			SPI_connect();
			if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not look for rows under a legal minimum");
			found = SPI_processed > 0;
			SPI_finish();
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();

		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_RESTRICT_VIOLATION),
					 errmsg("cannot truncate table \"%s\" while it holds rows under the legal minimum of retention rule \"%s\"",
							relname, rule->name),
					 errdetail("Retention rule \"%s\" keeps rows for at least %s.", rule->name, rule->minimum),
					 errhint("Delete the rows whose minimum has ended instead; privacy.enforce_retention() does so when they are due.")));
	}
}

/*
 * privacy_internal._retention_guard(): the trigger function described at the top of
 * this file.
 */
Datum
privacy_retention_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	GuardRule  *rules;
	int			nrules;
	char	   *relname;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("privacy_internal._retention_guard() was not called by a trigger")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("privacy_internal._retention_guard() must be fired BEFORE")));

	relname = privacy_qualified_name(RelationGetRelid(trigdata->tg_relation));
	nrules = parse_guard_rules(trigdata->tg_trigger, relname, &rules);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		guard_truncate(trigdata, rules, nrules, relname);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("privacy_internal._retention_guard() must be fired for UPDATE or DELETE of rows, or for TRUNCATE")));

	guard_row(trigdata, rules, nrules, relname);
	return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
						   trigdata->tg_newtuple : trigdata->tg_trigtuple);
}
