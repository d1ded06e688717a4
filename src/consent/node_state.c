/*
 * node_state.c
 *		On a Citus worker, the coordinator's purposes, purpose grants,
 *		consent state and erasures, as the row check of a statement that the
 *		coordinator forwarded reads them.
 *
 * Citus checks a distributed table's row policies on the workers, while
 * consent is recorded, and purposes are allowed, on the coordinator. Each
 * statement the coordinator sends for a protected table carries the
 * coordinator's state version (purpose_forward.c); a worker session whose
 * copy of the state has another version reads the state again from the
 * coordinator, through Citus's connection to it, as the extension's owner,
 * before it checks a row. The copy is read with a snapshot taken after the
 * version: it holds every change counted in its version. Since the version
 * changes when a change commits, before the recording session is told of
 * its commit, every statement sent afterwards finds every worker's copy out
 * of date and has it read again: a withdrawal is honoured on every node,
 * also on a node added later, by the next statement after its commit.
 *
 * The first session of a worker's database that needs a version reads it
 * from the coordinator (one JSON array of subjects per kind, purpose and
 * status) and publishes it in shared memory (consent_shared.c); the
 * others copy it from there instead of asking the coordinator again. A
 * session that holds a copy of an earlier version asks only for the
 * subjects whose state changed since, with their rows now, and brings its
 * copy up to date (consent_state.h); the coordinator answers with its
 * whole state when it no longer knows every change since that version
 * (it restarted, a change touched subjects it did not name, or its ring
 * of recent changes has moved past them).
 *
 * The erasures, which only a check of a row to write needs, are read last:
 * a session copies them from shared memory when such a check first asks
 * (read_pending_erasures()). The coordinator sends the erasures added
 * since a version by name; a session that never read its copy's erasures
 * merges those into the published ones where they are, in shared memory,
 * and a consent change leaves the published ones as they were.
 *
 * The copy stays in the session for the statements that follow; it is used
 * only by transactions that run such a statement (privacy_node_state_active),
 * until they end. A statement sent to a worker directly reads the worker's
 * own (empty) tables: it sees no purpose and so no personal row.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "base/citus.h"
#include "base/extension_objects.h"
#include "consent/consent_shared.h"
#include "consent/node_state.h"

PG_FUNCTION_INFO_V1(privacy_state_version_sql);
PG_FUNCTION_INFO_V1(privacy_state_changes_since);

typedef struct NodePurpose
{
	char	   *name;
	PurposeBasis basis;
	bool		allowed_under_restriction;
} NodePurpose;

typedef struct NodeGrant
{
	char	   *purpose;
	char	   *role;			/* by name: role OIDs differ between nodes */
} NodeGrant;

/* The copy of the coordinator's state, in node_context. */
static MemoryContext node_context = NULL;
static char *node_version = NULL;
static StateImage *node_image = NULL;
static NodePurpose *node_purposes = NULL;
static int	n_node_purposes = 0;
static NodeGrant *node_grants = NULL;
static int	n_node_grants = 0;
/*
 * The copy's erasures, "kind\x1fsubject_ref", sorted, in a context of their
 * own: a copy brought up to date keeps them where they are.
 */
static MemoryContext erasures_context = NULL;
static char **node_erasures = NULL;
static int	n_node_erasures = 0;

/*
 * Whether the erasures of the copy are still to be read: a session that
 * copied the rest of the state from shared memory copies the erasures, which
 * only a check of a row to write needs, when one first does.
 */
static bool node_erasures_pending = false;

/* The forwarded purpose of the current transaction. */
static bool forwarded_active = false;
static char forwarded_claim[PRIVACY_CLAIM_LEN];

/* Every call site and purpose resolution starts again. */
static void
state_changed(void)
{
	consent_cache_invalidate();
	privacy_purpose_generation++;
}

static void
node_xact_callback(XactEvent event, void *arg)
{
	if (forwarded_active &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE))
	{
		forwarded_active = false;
		state_changed();
	}
}

void
NodeStateInit(void)
{
	RegisterXactCallback(node_xact_callback, NULL);
}

bool
privacy_node_state_active(void)
{
	return forwarded_active;
}

const char *
privacy_node_claim(void)
{
	return forwarded_claim;
}

StateImage *
privacy_node_image(void)
{
	return node_image;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Runs one statement over the state document $1 (jsonb); returns the rows.
 * Its plan is generic: a custom plan would fold $1's operators into
 * constants, copying the whole document (megabytes) at each.
 */
static SPITupleTable *
read_part(const char *sql, Datum document)
{
	Oid			argtype = JSONBOID;
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, 1, &argtype, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL || SPI_execute_plan(plan, &document, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the coordinator's consent state");
	SPI_freeplan(plan);
	return SPI_tuptable;
}

static char *
copy_value(SPITupleTable *rows, uint64 row, int column)
{
	char	   *value = SPI_getvalue(rows->vals[row], rows->tupdesc, column);

	return MemoryContextStrdup(node_context, value ? value : "");
}

/* Adds each string of a jsonb array as a subject with that kind, purpose and status. */
static void
add_subjects(StateImageBuilder *builder, const char *kind, const char *purpose,
			 const char *status, Jsonb *subjects)
{
	JsonbIterator *it = JsonbIteratorInit(&subjects->root);
	JsonbValue	v;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (token == WJB_ELEM && v.type == jbvString)
			state_image_builder_add(builder, kind, strlen(kind), purpose, strlen(purpose),
									status, strlen(status), v.val.string.val, v.val.string.len);
}

/*
 * The coordinator's state document (privacy_internal._node_state_since()),
 * as jsonb: given the version of the copy this session holds, with only the
 * subjects changed since, when the coordinator still knows them.
 */
static Datum
fetch_coordinator_document(const char *since)
{
	char	   *document = privacy_citus_coordinator_result(psprintf("SELECT privacy_internal._node_state_since(%s)",
																	 since ? quote_literal_cstr(since) : "NULL"),
															"read the consent state");

	if (document == NULL)
		elog(ERROR, "the Citus coordinator returned no consent state");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(document));
}

/* Reads the version, purposes and grants of a state document. */
static void
read_small_parts(Datum document)
{
	SPITupleTable *rows;
	uint64		i;

	rows = read_part("SELECT $1 OPERATOR(pg_catalog.->>) 'version'", document);
	node_version = copy_value(rows, 0, 1);

	rows = read_part("SELECT p.name, p.legal_basis, p.allowed_under_restriction"
					 " FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'purposes')"
					 " AS p(name text, legal_basis text, allowed_under_restriction boolean)", document);
	node_purposes = MemoryContextAlloc(node_context, sizeof(NodePurpose) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		NodePurpose *p = &node_purposes[n_node_purposes++];

		p->name = copy_value(rows, i, 1);
		p->basis = privacy_purpose_basis(copy_value(rows, i, 2));
		p->allowed_under_restriction = strcmp(copy_value(rows, i, 3), "t") == 0;
	}

	rows = read_part("SELECT g.purpose, g.role"
					 " FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'grants')"
					 " AS g(purpose text, role text)", document);
	node_grants = MemoryContextAlloc(node_context, sizeof(NodeGrant) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		NodeGrant  *g = &node_grants[n_node_grants++];

		g->purpose = copy_value(rows, i, 1);
		g->role = copy_value(rows, i, 2);
	}
}

/* Forgets the copy's erasures. */
static void
forget_erasures(void)
{
	if (erasures_context == NULL)
		erasures_context = AllocSetContextCreate(TopMemoryContext, "privacy coordinator erasures",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(erasures_context);
	node_erasures = NULL;
	n_node_erasures = 0;
}

/* The array member key of a state document, or NULL if it is not an array. */
static JsonbContainer *
document_array(Datum document, const char *key)
{
	JsonbValue *member = getKeyJsonValueFromContainer(&DatumGetJsonbP(document)->root, key, strlen(key), NULL);

	if (member == NULL || member->type != jbvBinary || !JsonContainerIsArray(member->val.binary.data))
		return NULL;
	return member->val.binary.data;
}

/*
 * The strings of an array of erasures, copied into context, and through n
 * how many. An element that is not a string is an error: an erasure left
 * out would let a worker write a row of its subject.
 */
static char **
array_strings(JsonbContainer *array, MemoryContext context, int *n)
{
	int			count = JsonContainerSize(array);
	char	  **strings = MemoryContextAllocHuge(context, sizeof(char *) * Max(count, 1));
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue	v;
	JsonbIteratorToken token;

	*n = 0;
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token != WJB_ELEM)
			continue;
		if (v.type != jbvString || *n >= count)
			elog(ERROR, "the Citus coordinator returned an erasure that is not a string");
		strings[*n] = MemoryContextAlloc(context, v.val.string.len + 1);
		memcpy(strings[*n], v.val.string.val, v.val.string.len);
		strings[(*n)++][v.val.string.len] = '\0';
	}
	return strings;
}

/*
 * Adds the n erasures of candidates that the copy does not hold yet: the
 * sorted ones held and the sorted new ones merged into one array.
 */
static void
add_erasures(char **candidates, int n)
{
	char	  **added = palloc(sizeof(char *) * Max(n, 1));
	int			n_added = 0;
	char	  **merged;
	int			i = 0;
	int			j = 0;
	int			k = 0;

	for (int c = 0; c < n; c++)
		if (bsearch(&candidates[c], node_erasures, n_node_erasures, sizeof(char *), compare_strings) == NULL)
			added[n_added++] = MemoryContextStrdup(erasures_context, candidates[c]);
	if (n_added == 0)
		return;
	qsort(added, n_added, sizeof(char *), compare_strings);
	merged = MemoryContextAllocHuge(erasures_context, sizeof(char *) * (n_node_erasures + n_added));
	while (i < n_node_erasures || j < n_added)
		merged[k++] = j == n_added || (i < n_node_erasures && strcmp(node_erasures[i], added[j]) <= 0) ?
			node_erasures[i++] : added[j++];
	if (node_erasures != NULL)
		pfree(node_erasures);
	node_erasures = merged;
	n_node_erasures = k;
	elog(DEBUG1, "added %d erasures to the copy of the coordinator's consent state", n_added);
}

/*
 * Reads the erasures of a state document from the coordinator: all of
 * them, each "kind\x1fsubject_ref" (one array of strings, read in place:
 * 100,000 erasures read as a row each took a second), or, where the
 * document brings the copy held up to date (held) and the coordinator could
 * name the erasures written since, those added (erasures_added) to the ones
 * the copy keeps.
 */
static void
read_erasures(Datum document, bool held)
{
	JsonbContainer *all = document_array(document, "erasures");
	JsonbContainer *added;
	char	  **candidates;
	int			n;

	if (all == NULL)
	{
		if (!held)
			elog(ERROR, "the Citus coordinator returned no erasures for a copy that holds none");
		added = document_array(document, "erasures_added");
		if (added != NULL)
		{
			candidates = array_strings(added, CurrentMemoryContext, &n);
			add_erasures(candidates, n);
		}
		return;
	}
	forget_erasures();
	node_erasures = array_strings(all, erasures_context, &n_node_erasures);
	qsort(node_erasures, n_node_erasures, sizeof(char *), compare_strings);
}

/*
 * Reads the erasures of the copy held (of version) if they are still to be
 * read: from shared memory while that version is published there (strings
 * one after the other, each NUL-terminated, sorted, which stay where they
 * are), else from the coordinator, whose erasures now hold all of that
 * version's (its table of erasures only grows); called as the extension's
 * owner, inside an SPI connection.
 */
static void
read_pending_erasures(const char *version)
{
	char	   *erasures;
	int			n;

	if (!node_erasures_pending)
		return;
	forget_erasures();
	if (consent_shared_fetch_node_erasures(version, erasures_context, &erasures, &n))
	{
		node_erasures = MemoryContextAllocHuge(erasures_context, sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			node_erasures[n_node_erasures++] = erasures;
			erasures += strlen(erasures) + 1;
		}
		elog(DEBUG1, "copied the erasures of the coordinator's consent state of version %s from another session",
			 version);
	}
	else
	{
		read_erasures(fetch_coordinator_document(NULL), false);
		elog(DEBUG1, "read the erasures of the coordinator's consent state again for version %s", version);
	}
	node_erasures_pending = false;
}

/*
 * The image of a state document that holds the subjects changed since the
 * version of previous (the copy this session held), with their rows: the
 * previous image brought up to date; NULL if the document holds the whole
 * state instead.
 */
static StateImage *
update_state_image(Datum document, const char *previous_version, StateImage *previous)
{
	SPITupleTable *rows;
	StateImageSubject *subjects;
	bool		isnull;
	uint64		i;

	rows = read_part("SELECT $1 OPERATOR(pg_catalog.->>) 'since'", document);
	if (previous == NULL || previous_version == NULL ||
		SPI_getvalue(rows->vals[0], rows->tupdesc, 1) == NULL ||
		strcmp(SPI_getvalue(rows->vals[0], rows->tupdesc, 1), previous_version) != 0)
		return NULL;
	rows = read_part("SELECT c.kind, c.subject,"
					 " ARRAY(SELECT r.purpose FROM pg_catalog.jsonb_to_recordset(c.rows) AS r(purpose text, status text)),"
					 " ARRAY(SELECT r.status FROM pg_catalog.jsonb_to_recordset(c.rows) AS r(purpose text, status text))"
					 " FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'changed')"
					 " AS c(kind text, subject text, rows jsonb)", document);
	subjects = palloc0(sizeof(StateImageSubject) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		StateImageSubject *subject = &subjects[i];
		Datum	   *purposes;
		Datum	   *statuses;
		int			n_purposes;
		int			n_statuses;
		int			j;

		subject->kind = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
		subject->subject = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		if (subject->kind == NULL || subject->subject == NULL)
			elog(ERROR, "the Citus coordinator returned a changed subject without its kind or key");
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(rows->vals[i], rows->tupdesc, 3, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &purposes, NULL, &n_purposes);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(rows->vals[i], rows->tupdesc, 4, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &statuses, NULL, &n_statuses);
		subject->n_rows = Min(n_purposes, n_statuses);
		subject->purposes = palloc(sizeof(char *) * Max(subject->n_rows, 1));
		subject->statuses = palloc(sizeof(char *) * Max(subject->n_rows, 1));
		for (j = 0; j < subject->n_rows; j++)
		{
			subject->purposes[j] = TextDatumGetCString(purposes[j]);
			subject->statuses[j] = TextDatumGetCString(statuses[j]);
		}
	}
	if (state_image_patch(previous, subjects, (int) SPI_processed))
	{
		StateImage *copy = MemoryContextAllocHuge(node_context, previous->size);

		memcpy(copy, previous, previous->size);
		return copy;
	}
	return state_image_rebuild(previous, subjects, (int) SPI_processed, node_context);
}

/* Builds the image of a state document's consent state. */
static StateImage *
build_state_image(Datum document)
{
	SPITupleTable *rows;
	StateImageBuilder *builder;
	bool		isnull;
	uint64		i;

	/* one row per kind, purpose and status; its subjects a jsonb array */
	rows = read_part("SELECT g.kind, g.purpose, g.status, g.subjects"
					 " FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'state')"
					 " AS g(kind text, purpose text, status text, subjects jsonb)", document);
	builder = state_image_builder_create();
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *kind = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
		char	   *purpose = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		char	   *status = SPI_getvalue(rows->vals[i], rows->tupdesc, 3);
		Datum		subjects = SPI_getbinval(rows->vals[i], rows->tupdesc, 4, &isnull);

		if (kind == NULL || purpose == NULL || status == NULL || isnull)
			continue;
		add_subjects(builder, kind, purpose, status, DatumGetJsonbP(subjects));
	}
	return state_image_builder_finish(builder, node_context);
}

static void read_changes_since_copy(void);

/*
 * The server start and the count of changes a state version names, as
 * version_at() writes it; false if version is not one.
 */
static bool
parse_version(const char *version, int64 *start, uint64 *changes)
{
	char		rest;

	return sscanf(version, INT64_FORMAT ":" UINT64_FORMAT "%c", start, changes, &rest) == 2;
}

/*
 * Whether version held reflects every change counted in version wanted: of
 * the same start of the coordinator, and counting as many changes or more.
 */
static bool
version_reaches(const char *held, const char *wanted)
{
	int64		held_start;
	int64		wanted_start;
	uint64		held_changes;
	uint64		wanted_changes;

	return held != NULL &&
		parse_version(held, &held_start, &held_changes) &&
		parse_version(wanted, &wanted_start, &wanted_changes) &&
		held_start == wanted_start && held_changes >= wanted_changes;
}

/*
 * Takes the copy of the coordinator's state of version (NULL: of whichever
 * version) that another session of this database published, if there is
 * one, in place of the copy held; its erasures are read when a check needs
 * them (read_pending_erasures()). Whether there was one.
 */
static bool
copy_published_state(const char *version)
{
	MemoryContext context = AllocSetContextCreate(TopMemoryContext, "privacy coordinator state",
												  ALLOCSET_DEFAULT_SIZES);
	char	   *rest;
	StateImage *image;

	if (!consent_shared_fetch_node_copy(version, context, &rest, &image))
	{
		MemoryContextDelete(context);
		return false;
	}
	if (node_context != NULL)
		MemoryContextDelete(node_context);
	node_context = context;
	node_version = NULL;
	node_image = NULL;
	n_node_purposes = n_node_grants = 0;
	forget_erasures();
	read_small_parts(DirectFunctionCall1(jsonb_in, CStringGetDatum(rest)));
	node_erasures_pending = true;
	node_image = image;
	elog(DEBUG1, "copied the coordinator's consent state of version %s from another session", node_version);
	return true;
}

/*
 * Makes the copy of the coordinator's state of version (or later): from
 * another session of this database that published that version, else
 * read from the coordinator and published: only the changes since the
 * copy this session holds, or since one published earlier, when the
 * coordinator still knows them. Called as the extension's owner, inside an
 * SPI connection.
 */
static void
read_coordinator_state(const char *version)
{
	if (copy_published_state(version))
		return;

	/*
	 * When another session of this database is reading that version, wait
	 * for it, and take what it published: that version, or a later one.
	 */
	while (!consent_shared_begin_node_read(version))
		if (copy_published_state(NULL) && version_reaches(node_version, version))
			return;
	PG_TRY();
	{
		read_changes_since_copy();
	}
	PG_FINALLY();
	{
		consent_shared_end_node_read();
	}
	PG_END_TRY();
}

/*
 * The body of read_coordinator_state(): reads the coordinator's state into
 * the copy, only the changes since the copy held (or the one published)
 * where it can, and publishes it.
 */
static void
read_changes_since_copy(void)
{
	Datum		document;
	SPITupleTable *rows;
	char	   *previous_version = NULL;
	StateImage *previous = NULL;
	bool		erasures_unread = false;	/* those of the copy held */
	char	  **added = NULL;	/* with erasures_unread: the named ones added */
	int			n_added = 0;
	int			n_new;

	/*
	 * A session that holds no copy, or one whose erasures it never read,
	 * starts from the one published, of an earlier version.
	 */
	if (node_version == NULL || node_image == NULL || node_erasures_pending)
		(void) copy_published_state(NULL);
	if (node_context == NULL)
		node_context = AllocSetContextCreate(TopMemoryContext, "privacy coordinator state",
											 ALLOCSET_DEFAULT_SIZES);

	/*
	 * The copy held, to bring up to date (it keeps its erasures when none
	 * changed, and leaves them unread where they were): its context becomes
	 * the caller's (freed with it, also on an error), and a new one holds
	 * the new copy.
	 */
	if (node_version != NULL && node_image != NULL)
	{
		erasures_unread = node_erasures_pending;
		previous_version = node_version;
		previous = node_image;
		MemoryContextSetParent(node_context, CurrentMemoryContext);
		node_context = AllocSetContextCreate(TopMemoryContext, "privacy coordinator state",
											 ALLOCSET_DEFAULT_SIZES);
	}
	MemoryContextReset(node_context);
	node_version = NULL;
	node_image = NULL;
	n_node_purposes = n_node_grants = 0;

	document = fetch_coordinator_document(previous_version);
	read_small_parts(document);
	if (erasures_unread && document_array(document, "erasures") == NULL)
	{
		JsonbContainer *named = document_array(document, "erasures_added");

		/* merged into the published copy's erasures below, where they are */
		if (named != NULL)
		{
			added = array_strings(named, CurrentMemoryContext, &n_added);
			qsort(added, n_added, sizeof(char *), compare_strings);
		}
	}
	else
	{
		/* all of them, or the named ones added to those held */
		read_erasures(document, previous != NULL);
		erasures_unread = false;
	}
	node_image = update_state_image(document, previous_version, previous);
	if (node_image != NULL)
		elog(DEBUG1, "brought the copy of the coordinator's consent state from version %s up to %s",
			 previous_version, node_version);
	else
	{
		node_image = build_state_image(document);
		elog(DEBUG1, "read the coordinator's consent state of version %s", node_version);
	}
	/* What other sessions copy: the document's other parts, the erasures, the image. */
	rows = read_part("SELECT ($1 OPERATOR(pg_catalog.-) ARRAY['state', 'since', 'changed', 'erasures'])::pg_catalog.text",
					 document);
	if (!erasures_unread)
	{
		node_erasures_pending = false;
		consent_shared_publish_node_copy(node_version, SPI_getvalue(rows->vals[0], rows->tupdesc, 1),
										 node_erasures, n_node_erasures, node_image);
	}
	else
	{
		/*
		 * Still unread, now those of this version: in shared memory once it
		 * is published, else (another session published a later version
		 * meanwhile) read from the coordinator when a check needs them.
		 */
		node_erasures_pending = true;
		if (consent_shared_publish_node_update(previous_version, node_version,
											   SPI_getvalue(rows->vals[0], rows->tupdesc, 1),
											   added, n_added, node_image, &n_new) &&
			n_new >= 0)
			elog(DEBUG1, "merged %d erasures into the shared copy of the coordinator's consent state of version %s",
				 n_new, node_version);
	}
}

/*
 * Runs read(version), which reads the coordinator's state or a part of it
 * into the copy, as the extension's owner, inside an SPI connection.
 */
static void
read_as_owner(void (*read) (const char *version), const char *version)
{
	PrivacyUserContext save;

	privacy_begin_as_owner("_ledger_state", &save);
	PG_TRY();
	{
		SPI_connect();
		PG_TRY();
		{
			read(version);
		}
		PG_CATCH();
		{
			/*
			 * A half-read copy is no copy, and a transaction that goes on
			 * after the error (to a savepoint) has no forwarded purpose.
			 */
			if (node_context != NULL)
				MemoryContextReset(node_context);
			node_version = NULL;
			node_image = NULL;
			n_node_purposes = n_node_grants = 0;
			forget_erasures();
			node_erasures_pending = false;
			if (forwarded_active)
			{
				forwarded_active = false;
				state_changed();
			}
			PG_RE_THROW();
		}
		PG_END_TRY();
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
}

void
privacy_node_state_accept(const char *claim, const char *version)
{
	bool		changed = !forwarded_active || strcmp(forwarded_claim, claim) != 0;

	if (node_version == NULL || strcmp(node_version, version) != 0)
	{
		read_as_owner(read_coordinator_state, version);
		changed = true;
	}
	strlcpy(forwarded_claim, claim, PRIVACY_CLAIM_LEN);
	forwarded_active = true;
	if (changed)
		state_changed();
}

bool
privacy_node_purpose_lookup(const char *name, Oid role, PurposeBasis *basis,
							bool *allowed_under_restriction, bool *allowed)
{
	int			i;

	for (i = 0; i < n_node_purposes; i++)
		if (strcmp(node_purposes[i].name, name) == 0)
			break;
	if (i == n_node_purposes)
		return false;
	*basis = node_purposes[i].basis;
	*allowed_under_restriction = node_purposes[i].allowed_under_restriction;
	if (OidIsValid(role))
	{
		*allowed = superuser_arg(role);
		for (i = 0; i < n_node_grants && !*allowed; i++)
		{
			Oid			grantee;

			if (strcmp(node_grants[i].purpose, name) != 0)
				continue;
			grantee = get_role_oid(node_grants[i].role, true);
			*allowed = OidIsValid(grantee) && has_privs_of_role(role, grantee);
		}
	}
	return true;
}

bool
privacy_node_erased(const char *kind, const char *subject_ref)
{
	int			i;
	size_t		kind_len = strlen(kind);

	if (node_erasures_pending)
		read_as_owner(read_pending_erasures, node_version);

	if (subject_ref != NULL)
	{
		char	   *key = psprintf("%s\x1f%s", kind, subject_ref);
		bool		found = bsearch(&key, node_erasures, n_node_erasures, sizeof(char *),
									compare_strings) != NULL;

		pfree(key);
		return found;
	}
	for (i = 0; i < n_node_erasures; i++)
		if (strncmp(node_erasures[i], kind, kind_len) == 0 && node_erasures[i][kind_len] == '\x1f')
			return true;
	return false;
}

/* The version of this server's state after changes counted changes. */
static char *
version_at(uint64 changes)
{
	return psprintf(INT64_FORMAT ":" UINT64_FORMAT, (int64) PgStartTime, changes);
}

char *
privacy_state_version(void)
{
	return version_at(consent_shared_changes());
}

/* privacy_internal._state_version() → text: this server's consent state version. */
Datum
privacy_state_version_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(privacy_state_version()));
}

/* The text[] of one field of n changed subjects (kind or subject). */
static Datum
changed_field(const ConsentChangedSubject *changed, int n, bool kind)
{
	Datum	   *texts = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		texts[i] = CStringGetTextDatum(kind ? changed[i].kind : changed[i].subject);
	return PointerGetDatum(construct_array(texts, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * privacy_internal._state_changes_since(since text, OUT version text,
 * OUT kinds text[], OUT subjects text[], OUT erasures_changed boolean,
 * OUT erased_kinds text[], OUT erased_refs text[]): this server's state
 * version and, when since is an earlier version of this server (the same
 * start) whose changes since are all known (consent_shared.h), the
 * subjects they touched, whether they may have written any erasure to
 * privacy.erasures, and the erasures they wrote (by kind and reference;
 * an erasure rolled back may be among them); the last five NULL otherwise.
 */
Datum
privacy_state_changes_since(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false, true, true, true, true, true};
	int64		start;
	uint64		since;
	uint64		upto = consent_shared_changes();
	ConsentChangedSubject *changed;
	int			n;
	ConsentChangedSubject *erased;
	int			n_erased;
	bool		any_erasure;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!PG_ARGISNULL(0) &&
		parse_version(text_to_cstring(PG_GETARG_TEXT_PP(0)), &start, &since) &&
		start == (int64) PgStartTime &&
		consent_shared_changed_since(since, &upto, &changed, &n, &erased, &n_erased, &any_erasure))
	{
		values[1] = changed_field(changed, n, true);
		values[2] = changed_field(changed, n, false);
		values[3] = BoolGetDatum(any_erasure);
		values[4] = changed_field(erased, n_erased, true);
		values[5] = changed_field(erased, n_erased, false);
		for (int i = 1; i < 6; i++)
			nulls[i] = false;
	}
	values[0] = CStringGetTextDatum(version_at(upto));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
