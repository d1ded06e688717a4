/*
 * consent_check.h
 *		The per-row check of protected tables (consent_check.c) as the scan
 *		filters that consist of it alone call it (consent_qual.c).
 */
#ifndef PRIVACY_CONSENT_CHECK_H
#define PRIVACY_CONSENT_CHECK_H

#include "fmgr.h"
#include "nodes/execnodes.h"

/* The SQL-callable checks, privacy_internal._may_process(kind, subject, owned). */
extern PGDLLEXPORT Datum privacy_may_process_int8(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum privacy_may_process_text(PG_FUNCTION_ARGS);

/*
 * What privacy_may_process_int8 (text_key false) or _text returns for the
 * arguments in fcinfo, without a call through fmgr.
 */
extern bool consent_row_may_process(FunctionCallInfo fcinfo, bool text_key);

/*
 * Makes every scan filter in the tree that consists of checks alone
 * evaluate them without the expression interpreter; before the executor
 * runs.
 */
extern void consent_qual_prepare(PlanState *planstate);

#endif							/* PRIVACY_CONSENT_CHECK_H */
