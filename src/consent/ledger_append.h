/*
 * ledger_append.h
 *		Appending many consents to the consent ledger with their state, in
 *		one pass, for the consent import (consent_import.c).
 *
 * Each event goes into privacy.consent_ledger and its state into
 * privacy._ledger_state as COPY appends rows (base/bulk_insert.h), which
 * fires no trigger: this file does the work of the triggers it stands in
 * for, the ledger's state trigger (it writes the state itself) and the
 * state's cache invalidation (consent_cache_table_written()). A state row
 * already there is a unique violation of _ledger_state_pkey, as an INSERT
 * of it would be. Must be called with the ledger locked against other
 * writers, as the owner of both tables.
 */
#ifndef PRIVACY_LEDGER_APPEND_H
#define PRIVACY_LEDGER_APPEND_H

#include "postgres.h"

/* The part of a granted consent that all the events of an append share. */
typedef struct LedgerGrants
{
	text	   *actor;
	text	   *kind;
	text	   *purpose;
	text	   *source;
	text	   *policy_version; /* NULL for none */
} LedgerGrants;

typedef struct LedgerAppend LedgerAppend;

extern LedgerAppend *ledger_append_begin(const LedgerGrants *grants);

/*
 * Buffers the grant of the consent of subject with evidence (jsonb) and
 * its state, and returns the event's id: the next of the ledger's
 * identity sequence. Its time is the clock's, as the column's default
 * gives it to an INSERT.
 */
extern int64 ledger_append_grant(LedgerAppend *append, Datum subject, Datum evidence);

/* Flushes and closes. */
extern void ledger_append_end(LedgerAppend *append);

#endif							/* PRIVACY_LEDGER_APPEND_H */
