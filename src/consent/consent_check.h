/*
 * consent_check.h
 *		The per-row check of protected tables (consent_check.c) as the scan
 *		filters that consist of it alone call it (consent_qual.c).
 */
#ifndef PRIVACY_CONSENT_CHECK_H
#define PRIVACY_CONSENT_CHECK_H

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

/* The SQL-callable checks, privacy_internal._may_process(kind, subject, owned). */
extern PGDLLEXPORT Datum privacy_may_process_int8(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum privacy_may_process_text(PG_FUNCTION_ARGS);

/*
 * What privacy_may_process_int8 (text_key false) or _text returns for the
 * arguments in fcinfo, without a call through fmgr.
 */
extern bool consent_row_may_process(FunctionCallInfo fcinfo, bool text_key);

/*
 * What the statement trigger privacy_internal._invalidate_consent_cache()
 * does after a statement wrote rel, one of the tables the check is derived
 * from; for a writer that appends to it without firing the trigger
 * (base/bulk_insert.h).
 */
extern void consent_cache_table_written(Relation rel);

/*
 * Makes every scan filter in the tree that consists of checks alone
 * evaluate them without the expression interpreter; before the executor
 * runs.
 */
extern void consent_qual_prepare(PlanState *planstate);

#endif							/* PRIVACY_CONSENT_CHECK_H */
