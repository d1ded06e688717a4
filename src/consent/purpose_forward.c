/*
 * purpose_forward.c
 *		Carries the session's purpose and the consent state version from the
 *		Citus coordinator to the workers that check the rows of a protected
 *		distributed or reference table.
 *
 * Citus sends each worker a query it deparses from the coordinator's query
 * tree, and the worker checks the shard's row policies in a session of its
 * own, where privacy.purpose is not set. Before Citus plans a query on the
 * coordinator, every query level that reads a protected table Citus manages
 * gets one more condition, true wherever it is evaluated:
 *
 *     privacy_internal._statement_context(purpose, state_version, signature)
 *
 * with the purpose in force, checked on the coordinator (a declared
 * purpose by its name; the coordinator's privacy.default_purpose as "="
 * and its name, which no purpose name starts with; "" for none, and the
 * worker then assumes none either, whatever its own settings), the
 * coordinator's
 * consent state version (node_state.c), and an HMAC of both and of the
 * current role's name under the cluster's token key, which every node
 * shares and no ordinary role can read. The worker's planner hook accepts
 * the condition as it plans the statement and removes it from the plan
 * (accept_markers_walker()); where it is left, it references no column and
 * is stable, so the worker's planner makes it a one-time filter at the top
 * of the query level, evaluated before any row of the level is read.
 * Accepted on a worker it verifies the signature for the role the
 * statement runs as there, copies the coordinator's state again if its
 * version changed, and makes the purpose that of the worker's transaction;
 * the purpose is then checked there against the coordinator's purpose
 * grants for that role, as on the coordinator. A forged or altered
 * condition is an error; a statement without one sees no purpose.
 *
 * The condition is a constant of the plan: a cached plan carrying it is
 * invalidated when the purpose settings or the consent state change.
 * A query the user wrote with such a condition is refused on the
 * coordinator. SELECT, UPDATE and DELETE query levels carry it. Citus
 * evaluates on the coordinator every function of a statement that writes
 * unless its arguments read a column, so there the signature is read from
 * a one-row VALUES list in a subquery (signature_sublink()), which Citus
 * leaves to the worker and the worker's planner makes an initial plan of
 * the one-time filter. An INSERT under row security into a protected
 * table Citus manages is refused here, before Citus plans it: Citus
 * evaluates all of its expressions on the coordinator and allows no
 * subquery in it, so no purpose could reach the worker.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "parser/parse_func.h"
#include "rewrite/rowsecurity.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"

#include "base/citus.h"
#include "base/extension_objects.h"
#include "base/keys.h"
#include "base/qualified_name.h"
#include "base/relcache_callbacks.h"
#include "consent/consent_shared.h"
#include "consent/node_state.h"
#include "protection/protection.h"

PG_FUNCTION_INFO_V1(privacy_statement_context);

static planner_hook_type prev_planner = NULL;

static void accept_context(const char *claim, const char *version, const char *signature);

/* Whether this session made a plan carrying a forwarded purpose. */
static bool forwarded_plans = false;

/* Per relation: whether it is a protected table Citus manages. */
typedef struct ForwardedRel
{
	Oid			relid;
	bool		forwarded;
} ForwardedRel;

static HTAB *forwarded_rels = NULL;

/* The marker function's OID, looked up once a relation needs it. */
static Oid	marker_oid = InvalidOid;

/*
 * The marker of the query being planned, while it is: Citus plans parts of
 * a query (its subqueries, for one) as queries of their own, which carry
 * that marker already.
 */
static Node *active_marker = NULL;

/* What a walk of a query tree found or did. */
typedef struct ForwardContext
{
	bool		user_marker;	/* the query calls the marker itself */
	bool		needed;			/* some level reads a protected Citus table */
	Oid			written;		/* a protected Citus table the query inserts into */
	CmdType		written_by;		/* with INSERT or MERGE */
	Node	   *marker;			/* when set: added to each such level */
} ForwardContext;

/*
 * The relations whose invalidation means that the consent state version
 * changed (privacy.consent_state, which a change of the ledger state
 * invalidates, privacy.purposes, privacy.purpose_grants and
 * privacy.erasures) or the key that signs markers may have (privacy._keys).
 */
#define N_STATE_RELS 5
static const char *const state_rel_names[N_STATE_RELS] = {
	"consent_state", "purposes", "purpose_grants", "erasures", "_keys"
};
static Oid	state_rels[N_STATE_RELS];

static void
forwarded_rels_callback(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < N_STATE_RELS; i++)
		if (!OidIsValid(relid) || state_rels[i] == relid)
		{
			privacy_forwarded_plans_reset();
			break;
		}
	if (forwarded_rels == NULL)
		return;
	if (OidIsValid(relid))
		hash_search(forwarded_rels, &relid, HASH_REMOVE, NULL);
	else
	{
		hash_destroy(forwarded_rels);
		forwarded_rels = NULL;
	}
}

/* Whether a relation has the purpose policy protect() installs. */
static bool
has_purpose_policy(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		found = false;
	ListCell   *lc;

	if (rel == NULL)
		return false;
	if (rel->rd_rsdesc != NULL)
		foreach(lc, rel->rd_rsdesc->policies)
			if (strcmp(((RowSecurityPolicy *) lfirst(lc))->policy_name, PROTECTION_PURPOSE_POLICY) == 0)
			{
				found = true;
				break;
			}
	RelationClose(rel);
	return found;
}

/* Whether a relation read under row security is a protected table Citus manages. */
static bool
forwarded_relation(Oid relid)
{
	ForwardedRel *entry;
	bool		found;

	if (forwarded_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ForwardedRel);
		ctl.hcxt = CacheMemoryContext;
		forwarded_rels = hash_create("privacy forwarded relations", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(forwarded_rels, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->forwarded;
	found = has_purpose_policy(relid) && privacy_citus_table(relid);
	entry = hash_search(forwarded_rels, &relid, HASH_ENTER, NULL);
	entry->forwarded = found;
	return found;
}

static bool
is_marker(Node *node)
{
	return node != NULL && IsA(node, FuncExpr) && OidIsValid(marker_oid) &&
		((FuncExpr *) node)->funcid == marker_oid;
}

static bool forward_walker(Node *node, ForwardContext *context);
static bool marker_is_ours(FuncExpr *marker);
static bool contain_sublink_marker(Node *marker);

/* Whether a query level reads a protected Citus table under row security. */
static bool
level_needs_marker(Query *query)
{
	ListCell   *lc;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_RELATION && rte->securityQuals != NIL &&
			forwarded_relation(rte->relid))
			return true;
	}
	return false;
}

/* Whether a query level's own conditions hold a marker already. */
static bool
level_has_marker(Query *query)
{
	Node	   *quals = query->jointree->quals;
	ListCell   *lc;

	if (is_marker(quals))
		return true;
	if (quals != NULL && IsA(quals, BoolExpr) && ((BoolExpr *) quals)->boolop == AND_EXPR)
		foreach(lc, ((BoolExpr *) quals)->args)
			if (is_marker(lfirst(lc)))
				return true;
	return false;
}

static bool
forward_walker(Node *node, ForwardContext *context)
{
	if (node == NULL)
		return false;
	if (is_marker(node) && context->marker == NULL && !context->user_marker &&
		privacy_citus_installed() &&
		!marker_is_ours((FuncExpr *) node))
		context->user_marker = true;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;

		bool		reads_or_changes = query->commandType == CMD_SELECT ||
			query->commandType == CMD_UPDATE || query->commandType == CMD_DELETE;

		if (query->resultRelation > 0 && !reads_or_changes)
		{
			RangeTblEntry *target = rt_fetch(query->resultRelation, query->rtable);

			if ((target->securityQuals != NIL || query->withCheckOptions != NIL) &&
				forwarded_relation(target->relid))
			{
				context->written = target->relid;
				context->written_by = query->commandType;
			}
		}
		if (reads_or_changes && !level_has_marker(query) && level_needs_marker(query))
		{
			context->needed = true;
			if (context->marker != NULL)
			{
				Node	   *marker = copyObject(context->marker);

				query->jointree->quals = query->jointree->quals == NULL ? marker :
					(Node *) makeBoolExpr(AND_EXPR, list_make2(query->jointree->quals, marker), -1);
				if (contain_sublink_marker(marker))
					query->hasSubLinks = true;
			}
		}
		return query_tree_walker(query, forward_walker, context, 0);
	}
	return expression_tree_walker(node, forward_walker, context);
}

static Const *
text_const(const char *value)
{
	return makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(value), false, false);
}

/* The hex HMAC binding a forwarded purpose and state version to a role. */
static char *
context_signature(Oid role, const char *claim, const char *version)
{
	StringInfoData buf;
	uint8_t		mac[PRIVACY_HMAC_LEN];
	char	   *hex = palloc(PRIVACY_HMAC_LEN * 2 + 1);
	char	   *role_name = GetUserNameFromId(role, false);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "privacy.statement_context");
	appendBinaryStringInfo(&buf, role_name, strlen(role_name) + 1);
	appendBinaryStringInfo(&buf, claim, strlen(claim) + 1);
	appendStringInfoString(&buf, version);
	privacy_keyed_hash(PRIVACY_KEY_TOKEN, buf.data, buf.len, mac);
	hex[hex_encode((const char *) mac, PRIVACY_HMAC_LEN, hex)] = '\0';
	pfree(buf.data);
	return hex;
}

/* Whether signature is the one the coordinator makes for role, claim and version. */
static bool
signature_matches(const char *signature, Oid role, const char *claim, const char *version)
{
	char	   *expected = context_signature(role, claim, version);

	return strlen(signature) == strlen(expected) &&
		privacy_mac_equal((const uint8_t *) signature, (const uint8_t *) expected, strlen(expected));
}

/*
 * Counts the changes of what a marker depends on besides the settings and
 * roles a PurposeStamp describes: the purposes, the grants, role
 * memberships (see privacy_forwarded_plans_reset).
 */
static uint64 forward_generation = 1;

/* The last marker's inputs and signature, reused while they hold. */
static struct
{
	bool		valid;
	uint64		generation;
	PurposeStamp stamp;
	char		claim[PRIVACY_CLAIM_LEN];
	char		version[64];
	char		signature[PRIVACY_HMAC_LEN * 2 + 1];
}			last_marker;

/*
 * Brings last_marker's purpose up to date with the current settings, role
 * and catalog, checking the purpose as the row check would.
 */
static void
refresh_claim(void)
{
	PurposeStamp stamp;

	if (!consent_shared_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot read a protected table that Citus manages without opendims_privacy in shared_preload_libraries"),
				 errdetail("The workers learn of consent changes through a version the coordinator keeps in shared memory."),
				 errhint("Add opendims_privacy to shared_preload_libraries after citus and restart the server.")));
	privacy_purpose_stamp(&stamp);
	if (!last_marker.valid || last_marker.generation != forward_generation ||
		!privacy_purpose_stamp_equal(&last_marker.stamp, &stamp))
	{
		ResolvedPurpose rp;
		Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
		int			i;

		last_marker.valid = false;
		for (i = 0; i < N_STATE_RELS; i++)
			state_rels[i] = get_relname_relid(state_rel_names[i], nsp);
		privacy_resolve_purpose(&rp);
		if (rp.none)
			last_marker.claim[0] = '\0';
		else if (rp.is_default)
			snprintf(last_marker.claim, PRIVACY_CLAIM_LEN, "%c%s", PRIVACY_FORWARDED_DEFAULT, rp.name);
		else
			strlcpy(last_marker.claim, rp.name, PRIVACY_CLAIM_LEN);
		last_marker.version[0] = '\0';
		last_marker.stamp = stamp;
		last_marker.generation = forward_generation;
		last_marker.valid = true;
	}
	else if (last_marker.claim[0] != '\0' && last_marker.claim[0] != PRIVACY_FORWARDED_DEFAULT)
		privacy_purpose_check_scope();	/* as privacy_resolve_purpose() does */
}

/*
 * The signature argument of a marker in a statement that writes: an
 * uncorrelated subquery reading it from a VALUES list,
 *
 *     (SELECT s.signature FROM (VALUES ('...'::text)) s(signature))
 *
 * Citus evaluates on the coordinator every function of an INSERT, UPDATE or
 * DELETE (and of their subqueries) whose arguments read no column; a
 * subquery whose result reads one is left for the worker, which makes it an
 * initial plan of its one-time filter, still evaluated before any row of
 * the level is read. Kept per signature.
 */
static MemoryContext sublink_context = NULL;
static Node *last_sublink = NULL;
static char last_sublink_signature[PRIVACY_HMAC_LEN * 2 + 1];

static Node *
signature_sublink(const char *signature)
{
	if (last_sublink == NULL || strcmp(last_sublink_signature, signature) != 0)
	{
		char	   *sql = psprintf("SELECT (SELECT s.signature FROM (VALUES (%s::pg_catalog.text)) s(signature))",
								   quote_literal_cstr(signature));
		List	   *raw = pg_parse_query(sql);
		Query	   *query;
		MemoryContext old;

		if (sublink_context == NULL)
			sublink_context = AllocSetContextCreate(CacheMemoryContext, "privacy forwarded signature",
													ALLOCSET_SMALL_SIZES);
		query = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql, NULL, 0, NULL);
		MemoryContextReset(sublink_context);
		last_sublink = NULL;
		old = MemoryContextSwitchTo(sublink_context);
		last_sublink = copyObject((Node *) linitial_node(TargetEntry, query->targetList)->expr);
		MemoryContextSwitchTo(old);
		strlcpy(last_sublink_signature, signature, sizeof(last_sublink_signature));
	}
	return copyObject(last_sublink);
}

/*
 * The signature a marker's third argument holds: the constant itself, or the
 * one constant of signature_sublink()'s VALUES list; NULL for anything else.
 */
static Const *
signature_arg(Node *arg)
{
	SubLink    *sublink;
	Query	   *sub;
	RangeTblEntry *values;
	List	   *row;

	if (IsA(arg, Const))
		return (Const *) arg;
	if (!IsA(arg, SubLink))
		return NULL;
	sublink = (SubLink *) arg;
	sub = (Query *) sublink->subselect;
	if (sublink->subLinkType != EXPR_SUBLINK || sub == NULL || !IsA(sub, Query) ||
		list_length(sub->rtable) != 1)
		return NULL;
	values = linitial_node(RangeTblEntry, sub->rtable);
	if (values->rtekind != RTE_VALUES || list_length(values->values_lists) != 1)
		return NULL;
	row = linitial(values->values_lists);
	if (list_length(row) != 1 || !IsA(linitial(row), Const))
		return NULL;
	return linitial_node(Const, row);
}

static bool
contain_sublink_marker(Node *marker)
{
	return is_marker(marker) && IsA(lthird(((FuncExpr *) marker)->args), SubLink);
}

/*
 * The marker for the current purpose, role and state version; with its
 * signature in a subquery (signature_sublink()) for a statement that writes.
 */
static Node *
make_marker(bool writes)
{
	char	   *version;

	refresh_claim();
	version = privacy_state_version();
	if (strcmp(version, last_marker.version) != 0)
	{
		strlcpy(last_marker.signature, context_signature(GetUserId(), last_marker.claim, version),
				sizeof(last_marker.signature));
		strlcpy(last_marker.version, version, sizeof(last_marker.version));
	}
	forwarded_plans = true;
	return (Node *) makeFuncExpr(marker_oid, BOOLOID,
								 list_make3(text_const(last_marker.claim), text_const(version),
											writes ? signature_sublink(last_marker.signature) :
											(Node *) text_const(last_marker.signature)),
								 InvalidOid, DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL);
}

/*
 * The purpose, state version and signature a marker holds as text
 * constants (the signature also in signature_sublink()'s subquery if
 * in_sublink), into values; false if it holds anything else.
 */
static bool
marker_values(FuncExpr *marker, bool in_sublink, char *values[3])
{
	if (list_length(marker->args) != 3)
		return false;
	for (int i = 0; i < 3; i++)
	{
		Node	   *arg = list_nth(marker->args, i);
		Const	   *value = i == 2 && in_sublink ? signature_arg(arg) : (Const *) arg;

		if (value == NULL || !IsA(value, Const) || value->constisnull || value->consttype != TEXTOID)
			return false;
		values[i] = TextDatumGetCString(value->constvalue);
	}
	return true;
}

/*
 * Whether a marker found in a query is one the extension made for the
 * current role and purpose: Citus plans the query it sends to a shard on
 * this node (local execution) as a query of its own, with the marker in
 * it. Anything else is a marker the user wrote.
 */
static bool
marker_is_ours(FuncExpr *marker)
{
	char	   *values[3];

	if (active_marker != NULL && equal(marker, active_marker))
		return true;
	if (!marker_values(marker, true, values))
		return false;
	refresh_claim();
	return strcmp(values[0], last_marker.claim) == 0 &&
		signature_matches(values[2], GetUserId(), values[0], values[1]);
}

static void
lookup_marker(void)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};

	if (!OidIsValid(marker_oid))
		marker_oid = LookupFuncName(list_make2(makeString(PRIVACY_INTERNAL_SCHEMA),
											   makeString("_statement_context")),
									3, argtypes, true);
}

/*
 * On a worker: accepts the forwarded purpose of each marker that is one of
 * its level's conditions and whose arguments are constants (those of a
 * SELECT; a statement that writes reads its signature from a subquery,
 * left for the executor), and removes the marker, so that the plan needs
 * no one-time filter. The purpose is then that of the transaction before
 * the plan reads any row, as with the filter; a plan kept and run again in
 * a later transaction finds no forwarded purpose there, and reads no
 * personal row.
 */
static bool
accept_markers_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		Node	   *quals = query->jointree ? query->jointree->quals : NULL;
		List	   *conditions;
		List	   *kept = NIL;
		ListCell   *lc;

		if (quals != NULL && IsA(quals, BoolExpr) && ((BoolExpr *) quals)->boolop == AND_EXPR)
			conditions = ((BoolExpr *) quals)->args;
		else
			conditions = quals != NULL ? list_make1(quals) : NIL;
		foreach(lc, conditions)
		{
			Node	   *condition = lfirst(lc);
			char	   *values[3];

			if (is_marker(condition) && marker_values((FuncExpr *) condition, false, values))
				accept_context(values[0], values[1], values[2]);
			else
				kept = lappend(kept, condition);
		}
		if (list_length(kept) != list_length(conditions))
			query->jointree->quals = kept == NIL ? NULL :
				list_length(kept) == 1 ? linitial(kept) : (Node *) makeBoolExpr(AND_EXPR, kept, -1);
		return query_tree_walker(query, accept_markers_walker, context, 0);
	}
	return expression_tree_walker(node, accept_markers_walker, context);
}

static PlannedStmt *
forward_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	ForwardContext context = {false, false, InvalidOid, CMD_UNKNOWN, NULL};
	Node	   *outer_marker = active_marker;
	PlannedStmt *result;

	/*
	 * Cheap tests first: only a query that reads a table under row security
	 * is looked at further, and whether it reads a protected table Citus
	 * manages is known per table. On a worker (whose group is known once
	 * read) no marker is added: the markers in the query are the
	 * coordinator's, and are accepted here.
	 */
	if (parse->hasRowSecurity && privacy_citus_worker())
	{
		lookup_marker();
		if (OidIsValid(marker_oid))
			accept_markers_walker((Node *) parse, NULL);
	}
	else if (parse->hasRowSecurity)
	{
		lookup_marker();
		forward_walker((Node *) parse, &context);
		if (OidIsValid(context.written))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 context.written_by == CMD_MERGE ?
					 errmsg("cannot merge into protected table %s because Citus distributes it",
							privacy_qualified_name(context.written)) :
					 errmsg("cannot insert into protected table %s because Citus distributes it",
							privacy_qualified_name(context.written)),
					 errdetail("Citus evaluates every expression of an INSERT on the coordinator and allows no subquery in it, so the purpose cannot reach the worker nodes that check the new rows against the table's row policies."),
					 errhint("Insert such rows as a role that row security does not restrict (UPDATE and DELETE work under row security), or keep the table on the coordinator (undistribute_table()).")));
		if (context.user_marker)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("privacy_internal._statement_context() may only be called by the extension")));
		if (context.needed)
		{
			if (!OidIsValid(marker_oid))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("function privacy_internal._statement_context(text, text, text) does not exist"),
						 errhint("Update the extension with ALTER EXTENSION opendims_privacy UPDATE.")));
			context.marker = active_marker != NULL ? active_marker :
				make_marker(parse->commandType != CMD_SELECT || parse->hasModifyingCTE);
			forward_walker((Node *) parse, &context);
			active_marker = context.marker;
		}
	}
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		active_marker = outer_marker;
	}
	PG_END_TRY();
	return result;
}

void
privacy_forwarded_plans_reset(void)
{
	forward_generation++;
	if (forwarded_plans)
	{
		forwarded_plans = false;
		ResetPlanCache();
	}
}

/* On a worker, the last forwarded condition whose signature was verified. */
static struct
{
	Oid			role;
	char		claim[PRIVACY_CLAIM_LEN];
	char		version[64];
	char		signature[PRIVACY_HMAC_LEN * 2 + 1];
}			verified;

/*
 * privacy_internal._statement_context(purpose text, state_version text,
 * signature text) → true: on a Citus worker, makes the forwarded purpose
 * that of the transaction and brings the copy of the coordinator's state
 * up to the version; elsewhere nothing.
 */
Datum
privacy_statement_context(PG_FUNCTION_ARGS)
{
	if (privacy_citus_worker())
		accept_context(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)),
					   text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_BOOL(true);
}

/*
 * On a worker: verifies a forwarded purpose's signature for the current
 * role and makes it the purpose of the transaction.
 */
static void
accept_context(const char *claim, const char *version, const char *signature)
{
	if (strlen(claim) >= PRIVACY_CLAIM_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose name is too long"),
				 errdetail("Purpose names are at most %d bytes long.", NAMEDATALEN - 1)));
	/* The signature last verified for the same role, purpose and version holds. */
	if (verified.role == GetUserId() && strcmp(verified.claim, claim) == 0 &&
		strcmp(verified.version, version) == 0 && strcmp(verified.signature, signature) == 0)
	{
		privacy_node_state_accept(claim, version);
		return;
	}
	/*
	 * A signature that does not match may be under a key the coordinator
	 * changed since this node read it: checked once more under the
	 * coordinator's key read again.
	 */
	if (!signature_matches(signature, GetUserId(), claim, version) &&
		(!privacy_refresh_coordinator_key(PRIVACY_KEY_TOKEN) ||
		 !signature_matches(signature, GetUserId(), claim, version)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the purpose of this statement was not forwarded by the Citus coordinator for role \"%s\"",
						GetUserNameFromId(GetUserId(), false)),
				 errdetail("A worker honours only the purpose the coordinator signed for the role the statement runs as.")));
	if (strlen(version) < sizeof(verified.version))
	{
		verified.role = GetUserId();
		strlcpy(verified.claim, claim, sizeof(verified.claim));
		strlcpy(verified.version, version, sizeof(verified.version));
		strlcpy(verified.signature, signature, sizeof(verified.signature));
	}
	privacy_node_state_accept(claim, version);
}

void
PurposeForwardInit(void)
{
	privacy_register_relcache_callback(forwarded_rels_callback);
	prev_planner = planner_hook;
	planner_hook = forward_planner;
}
