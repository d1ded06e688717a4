/*
 * rights.h
 *		The data-subject rights that run on the subject module: export
 *		(export.c, export_history.c) and erasure (erasure.c, erasure_table.c,
 *		erasure_statistics.c, erasure_ledgers.c), and what they share:
 *		running a statement as a table's owner (owner_run.c), the session's
 *		kept plans of the generated statements (cached_query.c) and
 *		building JSON and audit entries (rights_json.c).
 */
#ifndef PRIVACY_RIGHTS_H
#define PRIVACY_RIGHTS_H

#include "executor/spi.h"
#include "utils/jsonb.h"

#include "subject/subject.h"

/* owner_run.c */

/*
 * Runs a statement of the kind as role owner (the owner of the tables it
 * is about, named by tables for the error context; single: one table), in
 * a restricted security context that does not force row security on the
 * owner's tables, with search_path pinned; an error if row security of
 * another table applied to it. keep: the plan is kept for the session
 * (else prepared for this run only). Must be called inside SPI_connect;
 * returns SPI's result code.
 */
extern int	rights_run_as_owner(SubjectKind *kind, SubjectStatement *statement, bool keep,
								Oid owner, const char *tables, bool single,
								Datum *values, const char *nulls, bool read_only, long tcount);

/*
 * Who runs a statement as an owner, and what its error context names: the
 * tables, or the table relid.
 */
typedef struct RightsOwnerRun
{
	Oid			owner;
	Oid			relid;
	const char *tables;
	bool		single;
} RightsOwnerRun;

/* Runs fn(arg), which runs one statement and returns its plan, as run->owner. */
extern void rights_as_owner(RightsOwnerRun *run, SPIPlanPtr (*fn) (void *arg), void *arg);

/* Runs a kept statement of the kind as the current user; SPI's result code. */
extern int	rights_run(SubjectKind *kind, SubjectStatement *statement,
					   Datum *values, const char *nulls, bool read_only, long tcount);

/* Runs a statement of the rights module's own, kept for the session. */
extern int	rights_run_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
							Datum *values, const char *nulls, bool read_only, long tcount);

/*
 * export_history.c: a subject's consent history (its key's events not
 * forgotten, its reference's forgotten) and disclosures (by its
 * reference), oldest first, as jsonb arrays; the export's time as JSON.
 */
extern Jsonb *rights_consent_history(const char *kind, const char *key, text *ref);
extern Jsonb *rights_disclosures(const char *kind, text *ref);
extern char *rights_generated_at(void);

/* rights_json.c: building jsonb values */
extern void rights_push_key(JsonbParseState **state, const char *key);
extern void rights_push_string(JsonbParseState **state, JsonbIteratorToken seq, const char *value);
extern void rights_push_int(JsonbParseState **state, JsonbIteratorToken seq, int64 value);
extern void rights_push_bool(JsonbParseState **state, JsonbIteratorToken seq, bool value);
extern void rights_push_null(JsonbParseState **state, JsonbIteratorToken seq);
extern void rights_push_jsonb(JsonbParseState **state, JsonbIteratorToken seq, Jsonb *value);
extern void rights_push_pair_string(JsonbParseState **state, const char *key, const char *value);
extern void rights_push_pair_int(JsonbParseState **state, const char *key, int64 value);
extern void rights_push_pair_bool(JsonbParseState **state, const char *key, bool value);
extern void rights_push_pair_jsonb(JsonbParseState **state, const char *key, Jsonb *value);
extern void rights_push_pairs(JsonbParseState **state, Jsonb *object);
extern Jsonb *rights_finish_object(JsonbParseState **state);

/* the first column of the only row SPI returned, or NULL */
extern Datum rights_result(int col, bool *isnull);

/*
 * Queues an audit entry (appended to the log when the transaction commits)
 * as privacy_internal._audit() writes one for the session's user: the subject by
 * its reference (NULL for none), the request if any.
 */
extern void rights_audit(const char *action, text *subject_ref, bool has_request,
						 int64 request_id, Jsonb *summary);

/*
 * erasure_ledgers.c: forgetting a subject in the ledgers, and for an
 * erasure releasing its requests and holds (they keep its reference only),
 * and redacting their free text (as privacy_internal._redact_erased_subject_text()).
 */
typedef enum ForgetRelease
{
	FORGET_ONLY,
	FORGET_RELEASE,
	FORGET_RELEASE_REDACT
} ForgetRelease;

extern Jsonb *rights_forget_in_ledgers(const char *kind, const char *key, text *ref,
									   ForgetRelease release, bool locked);

/* What rights_forget_in_ledgers() returns for these counts. */
extern Jsonb *rights_ledger_counts(int64 events, int64 moved, int64 disclosures);

/* cached_query.c */

/*
 * The session's kept plan of one of the extension's generated statements
 * (sql, with nargs arguments of argtypes), prepared on its first use, as
 * privacy_internal._cached_value() runs them; as_owner: it runs as a
 * table's owner; local: it reads no table Citus manages, and has one
 * generic plan also where Citus is installed. Inside SPI_connect.
 */
extern SPIPlanPtr privacy_cached_plan(const char *sql, bool as_owner, bool local, int nargs, Oid *argtypes);

/* erasure.c */
extern void rights_lock_subject(const char *scope, const char *kind, const char *subject);

#endif							/* PRIVACY_RIGHTS_H */
