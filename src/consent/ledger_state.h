/*
 * ledger_state.h
 *		Keeping privacy._ledger_state, the current state derived from the
 *		consent ledger, in step with the events inserted into the ledger.
 *
 * Every statement that inserts events fires the ledger's statement trigger
 * (privacy_internal._maintain_ledger_state()), which applies them to the
 * state. The extension's single events (consent_record.c) write the state
 * in the same statement as their events instead: they run that one
 * statement between
 * ledger_state_begin_own_write() and ledger_state_end_own_write(), during
 * which the trigger only counts what it would have applied. The end checks
 * that the trigger fired exactly once, for exactly the events the statement
 * says it inserted; anything else (another statement inserting events
 * while the writer's runs) is an error, so no event can escape the state.
 * The consent import appends its events without firing the trigger and
 * writes their state itself (ledger_append.h).
 */
#ifndef PRIVACY_LEDGER_STATE_H
#define PRIVACY_LEDGER_STATE_H

/* Starts a statement that writes the state of the events it inserts. */
extern void ledger_state_begin_own_write(void);

/*
 * Ends it after it ran: an error unless the ledger's trigger fired once,
 * for nevents events.
 */
extern void ledger_state_end_own_write(uint64 nevents);

/* Ends it when the statement failed (from PG_CATCH or PG_FINALLY). */
extern void ledger_state_cancel_own_write(void);

#endif							/* PRIVACY_LEDGER_STATE_H */
