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
 * (a Citus worker's copy of the coordinator's state holds the erasures).
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
static bool erasures_written = false;

/* Adds kind and subject to the named ones, unless named already. */
static void
name_subject(const text *kind, const text *subject)
{
	size_t		kind_len = VARSIZE_ANY_EXHDR(kind);
	size_t		subject_len = VARSIZE_ANY_EXHDR(subject);
	ConsentChangedSubject entry;
	int			i;

	if (any_subject)
		return;
	if (kind_len >= NAMEDATALEN || subject_len >= CONSENT_CHANGED_SUBJECT_LEN)
	{
		any_subject = true;
		return;
	}
	memset(&entry, 0, sizeof(entry));
	memcpy(entry.kind, VARDATA_ANY(kind), kind_len);
	memcpy(entry.subject, VARDATA_ANY(subject), subject_len);
	for (i = 0; i < n_named; i++)
		if (strcmp(named[i].kind, entry.kind) == 0 && strcmp(named[i].subject, entry.subject) == 0)
			return;
	if (n_named == MAX_NAMED)
	{
		any_subject = true;
		return;
	}
	named[n_named++] = entry;
}

void
consent_changes_begin_subject(const text *kind, const text *subject)
{
	name_subject(kind, subject);
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
consent_changes_erasures_written(void)
{
	erasures_written = true;
}

void
consent_changes_count(void)
{
	consent_shared_count_change(named, n_named, any_subject, erasures_written);
}

void
consent_changes_reset(void)
{
	n_named = 0;
	any_subject = false;
	bracket_open = false;
	erasures_written = false;
}
