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
 * others copy it from there instead of asking the coordinator again.
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
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "base/citus.h"
#include "base/extension_objects.h"
#include "consent/consent_shared.h"
#include "consent/node_state.h"

PG_FUNCTION_INFO_V1(privacy_state_version_sql);

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
static char **node_erasures = NULL; /* "kind\x1fsubject_ref", sorted */
static int	n_node_erasures = 0;

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

/* Runs one statement over the state document $1 (jsonb); returns the rows. */
static SPITupleTable *
read_part(const char *sql, Datum document)
{
	Oid			argtype = JSONBOID;

	if (SPI_execute_with_args(sql, 1, &argtype, &document, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the coordinator's consent state");
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

/* The coordinator's state document (privacy_internal._node_state()), as jsonb. */
static Datum
fetch_coordinator_document(void)
{
	char	   *document = privacy_citus_coordinator_result("SELECT privacy_internal._node_state()",
															"read the consent state");

	if (document == NULL)
		elog(ERROR, "the Citus coordinator returned no consent state");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(document));
}

/* Reads the version, purposes, grants and erasures of a state document. */
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

	rows = read_part("SELECT e.kind OPERATOR(pg_catalog.||) E'\\x1f' OPERATOR(pg_catalog.||) e.subject_ref"
					 " FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'erasures')"
					 " AS e(kind text, subject_ref text)", document);
	node_erasures = MemoryContextAlloc(node_context, sizeof(char *) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
		node_erasures[n_node_erasures++] = copy_value(rows, i, 1);
	qsort(node_erasures, n_node_erasures, sizeof(char *), compare_strings);
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

/*
 * Makes the copy of the coordinator's state of version (or later): from
 * another session of this database that published that version, else
 * read from the coordinator and published; called as the extension's
 * owner, inside an SPI connection.
 */
static void
read_coordinator_state(const char *version)
{
	char	   *rest;
	StateImage *image;
	Datum		document;
	SPITupleTable *rows;

	if (node_context == NULL)
		node_context = AllocSetContextCreate(TopMemoryContext, "privacy coordinator state",
											 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(node_context);
	node_version = NULL;
	node_image = NULL;
	n_node_purposes = n_node_grants = n_node_erasures = 0;

	if (consent_shared_fetch_node_copy(version, node_context, &rest, &image))
	{
		read_small_parts(DirectFunctionCall1(jsonb_in, CStringGetDatum(rest)));
		node_image = image;
		elog(DEBUG1, "copied the coordinator's consent state of version %s from another session", version);
		return;
	}
	document = fetch_coordinator_document();
	read_small_parts(document);
	node_image = build_state_image(document);
	rows = read_part("SELECT ($1 OPERATOR(pg_catalog.-) 'state')::pg_catalog.text", document);
	consent_shared_publish_node_copy(node_version, SPI_getvalue(rows->vals[0], rows->tupdesc, 1), node_image);
	elog(DEBUG1, "read the coordinator's consent state of version %s", node_version);
}

/* Copies the coordinator's state, as the extension's owner. */
static void
copy_coordinator_state(const char *version)
{
	PrivacyUserContext save;

	privacy_begin_as_owner("_ledger_state", &save);
	PG_TRY();
	{
		SPI_connect();
		PG_TRY();
		{
			read_coordinator_state(version);
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
			n_node_purposes = n_node_grants = n_node_erasures = 0;
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
		copy_coordinator_state(version);
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

char *
privacy_state_version(void)
{
	return psprintf(INT64_FORMAT ":" UINT64_FORMAT, (int64) PgStartTime,
					consent_shared_changes());
}

/* privacy_internal._state_version() → text: this server's consent state version. */
Datum
privacy_state_version_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(privacy_state_version()));
}
