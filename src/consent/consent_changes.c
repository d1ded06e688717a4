/*
 * consent_changes.c
 *		Notes which subjects' consent state the current transaction changed,
 *		so that, once it commits, the other sessions bring their image of the
 *		state up to date by looking up those subjects only, rather than by
 *		reading the whole state again (consent_check.c, consent_shared.c).
 *
 * The extension's writer of one subject's event (consent_record.c) names
 * the subject around the statement that writes its state; an erasure
 * (erasure_ledgers.c), which moves the state from the subject's key to its
 * reference, names both. Any other write of privacy._ledger_state fires
 * the state's invalidation trigger outside such a bracket and marks the
 * transaction as having touched any subject: an import, a DBA's INSERT
 * into the ledger, logical replication's apply, TRUNCATE. So does naming
 * more than MAX_NAMED subjects. A write of privacy.erasures is noted too
 * (a Citus worker's copy of the coordinator's state holds the erasures): the
 * erasure's own statement (erasure.c) names the erasure it records, so that
 * a worker asks for that one only; any other write of the table may have
 * written any. An erasure named for a write that was rolled back costs a
 * worker one lookup of an erasure that is not there.
 * A subject named for a write that a subtransaction then rolled back is
 * only looked up again, needlessly; no write of the state can go
 * unreported.
 */
#include "postgres.h"

#include "consent/consent_changes.h"
#include "consent/consent_shared.h"

/* More subjects than this in one transaction count as any. */
#define MAX_NAMED 64

static ConsentChangedSubject named[MAX_NAMED];
static int	n_named = 0;
static bool any_subject = false;
static bool bracket_open = false;

/* The erasures written, by kind and reference; any_erasure: unknown ones. */
static ConsentChangedSubject named_erasures[MAX_NAMED];
static int	n_named_erasures = 0;
static bool any_erasure = false;
static bool erasure_bracket_open = false;

/*
 * Adds kind and subject (of those lengths) to the n named ones in list,
 * unless named already; sets *any instead when they do not fit.
 */
static void
name_in(ConsentChangedSubject *list, int *n, bool *any,
		const char *kind, size_t kind_len, const char *subject, size_t subject_len)
{
	ConsentChangedSubject entry;
	int			i;

	if (*any)
		return;
	if (kind_len >= NAMEDATALEN || subject_len >= CONSENT_CHANGED_SUBJECT_LEN)
	{
		*any = true;
		return;
	}
	memset(&entry, 0, sizeof(entry));
	memcpy(entry.kind, kind, kind_len);
	memcpy(entry.subject, subject, subject_len);
	for (i = 0; i < *n; i++)
		if (strcmp(list[i].kind, entry.kind) == 0 && strcmp(list[i].subject, entry.subject) == 0)
			return;
	if (*n == MAX_NAMED)
	{
		*any = true;
		return;
	}
	list[(*n)++] = entry;
}

void
consent_changes_begin_subject(const text *kind, const text *subject)
{
	name_in(named, &n_named, &any_subject, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind),
			VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject));
	bracket_open = true;
}

void
consent_changes_end_subject(void)
{
	bracket_open = false;
}

void
consent_changes_state_written(void)
{
	if (!bracket_open)
		any_subject = true;
}

void
consent_changes_begin_erasure(const char *kind, const char *subject_ref)
{
	name_in(named_erasures, &n_named_erasures, &any_erasure, kind, strlen(kind),
			subject_ref, strlen(subject_ref));
	erasure_bracket_open = true;
}

void
consent_changes_end_erasure(void)
{
	erasure_bracket_open = false;
}

void
consent_changes_erasures_written(void)
{
	if (!erasure_bracket_open)
		any_erasure = true;
}

void
consent_changes_count(void)
{
	consent_shared_count_change(named, n_named, any_subject, named_erasures, n_named_erasures, any_erasure);
}

void
consent_changes_reset(void)
{
	n_named = 0;
	any_subject = false;
	bracket_open = false;
	n_named_erasures = 0;
	any_erasure = false;
	erasure_bracket_open = false;
}
