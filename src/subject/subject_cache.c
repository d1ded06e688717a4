/*
 * subject_cache.c
 *		The backend-local cache of subject kinds: each kind's anchor and key,
 *		its subject map and the statements generated from it, with their
 *		plans kept for the session.
 *
 * A kind is read from the catalog (subject_paths.c) the first time a call
 * needs it, as the owner of privacy.subject_kinds with search_path pinned,
 * and with the latest snapshot, like a catalog cache. It stays until
 * something it was built from changes:
 *
 *	- the extension's own tables it reads (subject kinds and paths,
 *	  classifications, categories, sources, retention rules, purposes,
 *	  recipients, policy versions, personal types): each has a statement
 *	  trigger, privacy_internal._invalidate_subject_cache() (or the consent cache's
 *	  for the tables that already had one), that invalidates the table's
 *	  relcache entry, and the relcache callback here empties the cache; a
 *	  security label of the privacy provider does the same through the
 *	  entry of privacy.classifications (security_label.c);
 *	- the tables of the kind's subject map, the tables their rows' paths
 *	  join, the tables referencing them and their partitions: a relcache
 *	  invalidation of one of them makes the kind suspect, and the next call
 *	  compares the relation's signature (names, owner, columns, triggers,
 *	  foreign keys, indexes, statistics objects, children) with the one it
 *	  was built with. VACUUM and ANALYZE invalidate a table's relcache entry
 *	  too, without changing what a kind is built from; they cost a
 *	  signature, not a rebuild;
 *	- the schemas of those tables and the constraints of their paths
 *	  (syscache callbacks, for the hash values of those only), which a
 *	  RENAME changes without a relcache invalidation of every table.
 *
 * Nothing else invalidates a kind: a CREATE TEMP TABLE or any DDL on tables
 * outside its subject map leaves it, and its plans, as they were.
 *
 * Invalidations are accepted at the start of every call, so a change
 * committed by another session is seen by the next call of every session,
 * and one made by the same transaction by its next command. A kind in use
 * when it is found stale (a call nested in another, through a trigger) is
 * kept until the last call using it ends.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/citus.h"
#include "base/extension_objects.h"
#include "base/relcache_callbacks.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_invalidate_subject_cache);
PG_FUNCTION_INFO_V1(privacy_subject_plan);
PG_FUNCTION_INFO_V1(privacy_export_statement);

/* What one kind was built from, besides the extension's tables. */
typedef struct KindDependencies
{
	int			nrelations;
	int			relations_size;
	Oid		   *relids;
	uint64	   *signatures;
	bool	   *suspect;
	bool		any_suspect;
	int			nhashes;
	int			hashes_size;
	uint32	   *hashes;			/* NAMESPACEOID and CONSTROID hash values */
	int		   *hash_caches;
} KindDependencies;

typedef struct CachedKind
{
	SubjectKind kind;
	KindDependencies deps;
	struct CachedKind *next;
} CachedKind;

static MemoryContext subject_cache_context = NULL;
static CachedKind *cached_kinds = NULL;

/*
 * The kind being read from the catalog, if any: the callbacks mark it like
 * the cached ones, so that an invalidation that arrives while it is read
 * (of something it has read already) means reading it again.
 */
static CachedKind *building_kind = NULL;

/* How many kinds this backend has built: each entry's number (generation). */
static uint64 kinds_built = 0;
static CachedKind *retired_kinds = NULL;

/* The extension's tables whose changes empty the cache, as last looked up. */
#define N_WATCHED 10
static const char *const watched_names[N_WATCHED] = {
	"subject_kinds", "subject_paths", "classifications", "categories", "sources",
	"retention_rules", "purposes", "recipients", "policy_versions", "_type_categories"
};
static Oid	watched_oids[N_WATCHED];

/* Marks every kind stale. */
static void
invalidate_all(void)
{
	CachedKind *c;

	for (c = cached_kinds; c != NULL; c = c->next)
		c->kind.stale = true;
	if (building_kind != NULL)
		building_kind->kind.stale = true;
}

/* Marks a kind suspect if it was built from relation relid. */
static void
suspect_relation(CachedKind *c, Oid relid)
{
	KindDependencies *deps = &c->deps;

	for (int i = 0; i < deps->nrelations; i++)
		if (deps->relids[i] == relid)
		{
			deps->suspect[i] = true;
			deps->any_suspect = true;
		}
}

/* Marks a kind stale if it was built from the syscache entry of this hash. */
static void
suspect_hash(CachedKind *c, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < c->deps.nhashes; i++)
		if (c->deps.hash_caches[i] == cacheid && c->deps.hashes[i] == hashvalue)
		{
			c->kind.stale = true;
			return;
		}
}

static void
subject_relcache_callback(Datum arg, Oid relid)
{
	CachedKind *c;

	if (!OidIsValid(relid))
	{
		invalidate_all();
		return;
	}
	for (int i = 0; i < N_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			invalidate_all();
			return;
		}
	for (c = cached_kinds; c != NULL; c = c->next)
		suspect_relation(c, relid);
	if (building_kind != NULL)
		suspect_relation(building_kind, relid);
}

static void
subject_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	CachedKind *c;

	if (hashvalue == 0)
	{
		invalidate_all();
		return;
	}
	for (c = cached_kinds; c != NULL; c = c->next)
		suspect_hash(c, cacheid, hashvalue);
	if (building_kind != NULL)
		suspect_hash(building_kind, cacheid, hashvalue);
}

void
SubjectInit(void)
{
	privacy_register_relcache_callback(subject_relcache_callback);
	CacheRegisterSyscacheCallback(NAMESPACEOID, subject_syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(CONSTROID, subject_syscache_callback, (Datum) 0);
}

static CachedKind *
cached_of(SubjectKind *kind)
{
	return (CachedKind *) kind;
}

static void
add_hash(KindDependencies *deps, int cacheid, uint32 hash, MemoryContext context)
{
	for (int i = 0; i < deps->nhashes; i++)
		if (deps->hashes[i] == hash && deps->hash_caches[i] == cacheid)
			return;
	if (deps->nhashes == deps->hashes_size)
	{
		deps->hashes_size = Max(16, deps->hashes_size * 2);
		if (deps->hashes == NULL)
		{
			deps->hashes = MemoryContextAlloc(context, sizeof(uint32) * deps->hashes_size);
			deps->hash_caches = MemoryContextAlloc(context, sizeof(int) * deps->hashes_size);
		}
		else
		{
			deps->hashes = repalloc(deps->hashes, sizeof(uint32) * deps->hashes_size);
			deps->hash_caches = repalloc(deps->hash_caches, sizeof(int) * deps->hashes_size);
		}
	}
	deps->hashes[deps->nhashes] = hash;
	deps->hash_caches[deps->nhashes] = cacheid;
	deps->nhashes++;
}

/*
 * Records that the kind was built from relation relid (and its schema):
 * see the file's header.
 */
void
subject_depend_on_relation(SubjectKind *kind, Oid relid)
{
	KindDependencies *deps = &cached_of(kind)->deps;
	Oid			nsp;

	for (int i = 0; i < deps->nrelations; i++)
		if (deps->relids[i] == relid)
			return;
	if (deps->nrelations == deps->relations_size)
	{
		deps->relations_size = Max(16, deps->relations_size * 2);
		if (deps->relids == NULL)
		{
			deps->relids = MemoryContextAlloc(kind->context, sizeof(Oid) * deps->relations_size);
			deps->signatures = MemoryContextAlloc(kind->context, sizeof(uint64) * deps->relations_size);
			deps->suspect = MemoryContextAlloc(kind->context, sizeof(bool) * deps->relations_size);
		}
		else
		{
			deps->relids = repalloc(deps->relids, sizeof(Oid) * deps->relations_size);
			deps->signatures = repalloc(deps->signatures, sizeof(uint64) * deps->relations_size);
			deps->suspect = repalloc(deps->suspect, sizeof(bool) * deps->relations_size);
		}
	}
	deps->relids[deps->nrelations] = relid;
	deps->signatures[deps->nrelations] = subject_relation_signature(relid);
	deps->suspect[deps->nrelations] = false;
	deps->nrelations++;
	nsp = get_rel_namespace(relid);
	if (OidIsValid(nsp))
		add_hash(deps, NAMESPACEOID, GetSysCacheHashValue1(NAMESPACEOID, ObjectIdGetDatum(nsp)),
				 kind->context);
}

/* Records that the kind's statements name constraint conoid's columns. */
void
subject_depend_on_constraint(SubjectKind *kind, Oid conoid)
{
	add_hash(&cached_of(kind)->deps, CONSTROID,
			 GetSysCacheHashValue1(CONSTROID, ObjectIdGetDatum(conoid)), kind->context);
}

/*
 * Whether a suspect kind is still current: every relation whose relcache
 * entry was invalidated still has the signature it was built with.
 */
static bool
dependencies_unchanged(KindDependencies *deps)
{
	bool		unchanged = true;

	for (int i = 0; i < deps->nrelations; i++)
	{
		if (!deps->suspect[i])
			continue;
		deps->suspect[i] = false;
		if (subject_relation_signature(deps->relids[i]) != deps->signatures[i])
			unchanged = false;
	}
	deps->any_suspect = false;
	return unchanged;
}

/* Looks up the watched tables' oids (InvalidOid where missing). */
static void
refresh_watched(void)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, true);

	for (int i = 0; i < N_WATCHED; i++)
		watched_oids[i] = OidIsValid(nsp) ? get_relname_relid(watched_names[i], nsp) : InvalidOid;
}

/*
 * The plans of a kind are freed with it; they are found through this list,
 * which subject_statement_plan() extends, kept per kind in its context.
 */
typedef struct KeptPlan
{
	SubjectKind *kind;
	SPIPlanPtr	plan;
	struct KeptPlan *next;
} KeptPlan;

static KeptPlan *kept_plans = NULL;

static void
free_plans_of(SubjectKind *kind)
{
	KeptPlan  **link = &kept_plans;

	while (*link != NULL)
	{
		KeptPlan   *kp = *link;

		if (kp->kind == kind)
		{
			*link = kp->next;
			SPI_freeplan(kp->plan);
			pfree(kp);
		}
		else
			link = &kp->next;
	}
}

/* Discards kinds retired while in use, once no call uses them. */
static void
free_retired(void)
{
	CachedKind **link = &retired_kinds;

	while (*link != NULL)
	{
		CachedKind *c = *link;

		if (c->kind.pins == 0)
		{
			*link = c->next;
			free_plans_of(&c->kind);
			MemoryContextDelete(c->kind.context);
		}
		else
			link = &c->next;
	}
}

/* Takes a stale kind out of the cache, freeing it unless in use. */
static void
retire(CachedKind *c)
{
	CachedKind **link = &cached_kinds;

	while (*link != NULL && *link != c)
		link = &(*link)->next;
	if (*link == c)
		*link = c->next;
	c->next = retired_kinds;
	retired_kinds = c;
	free_retired();
}

/* A new, empty cache entry for the kind. */
static CachedKind *
new_kind(const char *name)
{
	MemoryContext context;
	CachedKind *c;

	if (subject_cache_context == NULL)
		subject_cache_context = AllocSetContextCreate(CacheMemoryContext, "privacy subject cache",
													  ALLOCSET_SMALL_SIZES);
	context = AllocSetContextCreate(subject_cache_context, "privacy subject kind",
									ALLOCSET_SMALL_SIZES);
	c = MemoryContextAllocZero(context, sizeof(CachedKind));
	c->kind.context = context;
	c->kind.name = MemoryContextStrdup(context, name);
	return c;
}

/*
 * Reads what the kind needs from the catalog into c, as the owner of the
 * extension's catalog, with search_path pinned. On error the entry is freed
 * and the error passed on.
 */
static void
build(CachedKind *c, bool with_tables)
{
	PrivacyUserContext save;
	MemoryContext old = MemoryContextSwitchTo(c->kind.context);

	privacy_begin_as_owner("subject_kinds", &save);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		MemoryContextSwitchTo(c->kind.context);
		refresh_watched();
		if (c->kind.anchor == InvalidOid)
		{
			subject_read_kind(&c->kind);
			subject_build_key_statements(&c->kind);
		}
		if (with_tables && !c->kind.tables_built)
		{
			subject_read_tables(&c->kind);
			subject_build_statements(&c->kind);
			c->kind.tables_built = true;
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
		MemoryContextSwitchTo(old);
	}
	PG_END_TRY();
}

/*
 * The current cache entry of the kind, read from the catalog if needed,
 * with its subject map and statements if with_tables; an error if the kind
 * does not exist. The caller must release it with subject_kind_release()
 * (also on error: see rights_call in src/rights).
 */
SubjectKind *
subject_kind_acquire(const char *name, bool with_tables)
{
	CachedKind *c;

	AcceptInvalidationMessages();
	for (c = cached_kinds; c != NULL; c = c->next)
		if (strcmp(c->kind.name, name) == 0)
			break;
	if (c != NULL && !c->kind.stale && c->deps.any_suspect &&
		!dependencies_unchanged(&c->deps))
		c->kind.stale = true;
	if (c != NULL && c->kind.stale)
	{
		retire(c);
		c = NULL;
	}

	if (c == NULL || (with_tables && !c->kind.tables_built))
	{
		CachedKind *fresh = new_kind(name);

		/*
		 * A kind is built anew rather than extended, so that an error leaves
		 * the cache as it was; an invalidation that arrives while it is read
		 * means reading it again.
		 */
		for (int attempt = 1;; attempt++)
		{
			building_kind = fresh;
			PG_TRY();
			{
				build(fresh, with_tables);
			}
			PG_CATCH();
			{
				building_kind = NULL;
				free_plans_of(&fresh->kind);
				MemoryContextDelete(fresh->kind.context);
				PG_RE_THROW();
			}
			PG_END_TRY();
			building_kind = NULL;
			if (!fresh->kind.stale &&
				(!fresh->deps.any_suspect || dependencies_unchanged(&fresh->deps)))
				break;
			/* under a stream of changes: used once, read again next time */
			if (attempt == 3)
			{
				fresh->kind.stale = true;
				break;
			}
			free_plans_of(&fresh->kind);
			MemoryContextDelete(fresh->kind.context);
			fresh = new_kind(name);
		}
		if (c != NULL)
			retire(c);
		fresh->kind.generation = ++kinds_built;
		c = fresh;
		c->next = cached_kinds;
		cached_kinds = c;
	}
	c->kind.pins++;
	return &c->kind;
}

/* Ends a call's use of a kind. */
void
subject_kind_release(SubjectKind *kind)
{
	if (kind == NULL)
		return;
	Assert(kind->pins > 0);
	kind->pins--;
	if (kind->pins == 0 && retired_kinds != NULL)
		free_retired();
}

void
subject_statement_init(SubjectStatement *statement, char *sql, int nargs, const Oid *argtypes)
{
	Assert(nargs <= SUBJECT_MAX_ARGS);
	statement->sql = sql;
	statement->nargs = nargs;
	memcpy(statement->argtypes, argtypes, sizeof(Oid) * nargs);
	statement->plan = NULL;
	statement->key_typed = false;
	statement->free_plan = false;
}

/*
 * subject_statement_init() for a statement whose $1 is only the subject's
 * key cast to the key's type (see SubjectStatement.key_typed).
 */
void
subject_key_statement_init(SubjectKind *kind, SubjectStatement *statement, char *sql,
						   int nargs, const Oid *argtypes)
{
	subject_statement_init(statement, sql, nargs, argtypes);
	if (privacy_citus_installed())
	{
		statement->argtypes[0] = kind->key_type;
		statement->key_typed = true;
		statement->free_plan = true;
	}
}

/*
 * The arguments to execute a statement with: values, or for a key_typed
 * statement a copy whose first, the canonical key as text, is converted to
 * the key's type.
 */
Datum *
subject_statement_arguments(SubjectKind *kind, SubjectStatement *statement, Datum *values)
{
	Datum	   *typed;
	Oid			input;
	Oid			ioparam;

	if (!statement->key_typed)
		return values;
	typed = palloc(sizeof(Datum) * statement->nargs);
	memcpy(typed, values, sizeof(Datum) * statement->nargs);
	getTypeInputInfo(kind->key_type, &input, &ioparam);
	typed[0] = OidInputFunctionCall(input, TextDatumGetCString(values[0]), ioparam, kind->key_typmod);
	return typed;
}

/*
 * The plan of a statement of the kind, prepared the first time it runs and
 * kept until the kind is discarded. Must be called inside SPI_connect, as
 * the role that runs the statement. A generated statement looks a
 * subject's rows up by key, so one generic plan serves every call, except
 * where Citus plans it (privacy_statement_plan_options()): there a
 * free_plan statement is left to the plan cache, which keeps a generic plan
 * where Citus can route one and plans each call of another query again.
 */
SPIPlanPtr
subject_statement_plan(SubjectKind *kind, SubjectStatement *statement)
{
	SPIPlanPtr	plan;
	KeptPlan   *kp;

	if (statement->plan != NULL)
		return statement->plan;
	plan = SPI_prepare_cursor(statement->sql, statement->nargs, statement->argtypes,
							  statement->free_plan ? 0 : privacy_statement_plan_options());
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for a generated statement: %s",
			 SPI_result_code_string(SPI_result));
	kp = MemoryContextAlloc(kind->context, sizeof(KeptPlan));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for a generated statement");
	kp->kind = kind;
	kp->plan = plan;
	kp->next = kept_plans;
	kept_plans = kp;
	statement->plan = plan;
	return plan;
}

/*
 * Statement trigger on the extension's tables that kinds are built from:
 * queues a relcache invalidation of the table, which every backend turns
 * into an empty subject cache (this one at its next command, the others
 * once the change commits).
 */
Datum
privacy_invalidate_subject_cache(PG_FUNCTION_ARGS)
{
	privacy_invalidate_trigger_relation(fcinfo, "privacy_internal._invalidate_subject_cache()");
	return PointerGetDatum(NULL);
}

/* The text of the kind argument, which must not be null. */
static char *
kind_argument(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject kind must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/* The oids of an array of hops, as oid[]. */
static Datum
hops_array(const SubjectTable *table)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(table->nhops, 1));

	for (int i = 0; i < table->nhops; i++)
		elems[i] = ObjectIdGetDatum(table->hops[i]);
	return PointerGetDatum(construct_array(elems, table->nhops, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

static Datum
text_or_null(const SubjectStatement *statement, bool *isnull)
{
	*isnull = statement->sql == NULL;
	return *isnull ? (Datum) 0 : CStringGetTextDatum(statement->sql);
}

/*
 * privacy_internal._subject_plan(kind text) → TABLE (kind, table_name, depth,
 * personal, hops, rows_sql, erase_sql, lock_sql, delete_sql,
 * statistics_sql, build): the subject map of the kind and the statements
 * the export and the erasure generate from it, as this session's cache
 * holds them, in the order of the map (depth, then name); build numbers
 * the kinds this session has read from the catalog, so that a new number
 * shows the kind was read again.
 */
Datum
privacy_subject_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = kind_argument(fcinfo);
	SubjectKind *kind;

	InitMaterializedSRF(fcinfo, 0);
	kind = subject_kind_acquire(name, true);
	PG_TRY();
	{
		for (int i = 0; i < kind->ntables; i++)
		{
			SubjectTable *t = &kind->tables[i];
			Datum		values[11];
			bool		nulls[11] = {false};

			values[0] = CStringGetTextDatum(kind->name);
			values[1] = ObjectIdGetDatum(t->relid);
			values[2] = Int32GetDatum(t->depth);
			values[3] = BoolGetDatum(t->personal);
			values[4] = hops_array(t);
			values[5] = CStringGetTextDatum(t->rows_sql);
			values[6] = text_or_null(&t->erase, &nulls[6]);
			values[7] = text_or_null(&t->lock_rows, &nulls[7]);
			values[8] = text_or_null(&t->delete_unreferenced, &nulls[8]);
			values[9] = text_or_null(&t->statistics_values, &nulls[9]);
			values[10] = Int64GetDatum((int64) kind->generation);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	return (Datum) 0;
}

/*
 * privacy_internal._export_statement(kind text) → text: the statement the export of
 * a subject of the kind runs first, as the anchor's owner, with the
 * canonical key as $1 (text): whether the subject exists, and the rows of
 * the personal tables of that owner; the tables of other owners are read by
 * statements of the same form, as their owners. (The consent history and
 * the disclosures are read through their indexes by export_history.c.)
 */
Datum
privacy_export_statement(PG_FUNCTION_ARGS)
{
	char	   *name = kind_argument(fcinfo);
	SubjectKind *kind = subject_kind_acquire(name, true);
	text	   *result;

	result = cstring_to_text(kind->groups[0].read.sql);
	subject_kind_release(kind);
	PG_RETURN_TEXT_P(result);
}
