/*
 * purpose.c
 *		The purpose a session processes personal data for: the settings
 *		privacy.purpose and privacy.default_purpose, and the roles allowed
 *		each purpose (privacy.purpose_grants, written by allow_purpose).
 *
 * A role must not be able to give itself a purpose it was not allowed, by
 * any route a setting can take: SET, set_config(), SET LOCAL, ALTER ROLE or
 * ALTER DATABASE ... SET, a function's SET clause, a startup option, the
 * configuration file, a placeholder set before the library was loaded, or
 * RESET back to one of those. Two defences cover them:
 *
 * 1. The check hook validates a new value against the current role when it
 *    can (inside a transaction, in a database with the extension, not while
 *    the library is being loaded), and records in the value's "extra" the
 *    role it was validated for. GUC keeps extra with the value through SET
 *    LOCAL, function SET clauses and RESET, so the record always belongs to
 *    the value in force.
 * 2. At the point of use (privacy_resolve_purpose, called by the row check
 *    and current_purpose()) the purpose is checked again: the current role
 *    must be allowed it, and so must the role that set it; for a value that
 *    could not be validated when set (a placeholder, a startup option, the
 *    configuration file), the role outside any SECURITY DEFINER function
 *    stands in for the role that set it. Anything else is an error: the
 *    check fails closed.
 *
 * Where a pooler passes server connections between clients,
 * privacy.purpose_scope = transaction also refuses a purpose that outlives
 * its transaction (purpose_scope.c).
 *
 * privacy.default_purpose is superuser-only (so PostgreSQL itself discards a
 * placeholder for it set by anyone else) and may only name a purpose whose
 * legal basis is contract: what is needed to serve the subjects themselves.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/extension_objects.h"
#include "consent/consent.h"
#include "consent/consent_shared.h"
#include "consent/node_state.h"
#include "consent/purpose.h"

PG_FUNCTION_INFO_V1(privacy_current_purpose);

/* What the check hook learnt about a value of privacy.purpose. */
typedef struct PurposeExtra
{
	Oid			validated_role; /* role it was validated for, or InvalidOid */
} PurposeExtra;

static char *purpose_setting = NULL;
static char *default_purpose_setting = NULL;
static const PurposeExtra *purpose_extra = NULL;
uint64		privacy_purpose_generation = 1;

/* True while the settings are being defined (placeholders re-applied). */
static bool defining_settings = false;

/* Whether the extension's purpose tables exist in the current database. */
static bool
purpose_tables_exist(void)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("purpose_grants", nsp));
}

/* Whether a value can be validated now, by catalog lookups. */
static bool
can_validate(GucSource source)
{
	return !defining_settings && source != PGC_S_TEST && IsTransactionState() &&
		!IsParallelWorker() && !InitializingParallelWorker && purpose_tables_exist();
}

PurposeBasis
privacy_purpose_basis(const char *basis)
{
	if (strcmp(basis, "consent") == 0)
		return PURPOSE_BASIS_CONSENT;
	if (strcmp(basis, "legitimate_interest") == 0)
		return PURPOSE_BASIS_LEGITIMATE_INTEREST;
	if (strcmp(basis, "legal_obligation") == 0)
		return PURPOSE_BASIS_LEGAL_OBLIGATION;
	return PURPOSE_BASIS_CONTRACT;
}

/*
 * Opens table name of the extension's schema and starts an index scan of
 * it by index, on the first column of the index equal to value (text);
 * *rel is the open table, key the scan key (both the caller ends).
 */
static SysScanDesc
scan_by_text(const char *name, const char *index, const char *column, const char *value,
			 Relation *rel, ScanKey key)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			relid = get_relname_relid(name, nsp);
	Oid			indexid = get_relname_relid(index, nsp);
	AttrNumber	attnum;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		elog(ERROR, "table privacy.%s or its index %s is missing", name, index);
	*rel = table_open(relid, AccessShareLock);
	attnum = get_attnum(relid, column);
	ScanKeyInit(key, attnum, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(value));
	key->sk_collation = TupleDescAttr(RelationGetDescr(*rel), attnum - 1)->attcollation;
	return systable_beginscan(*rel, indexid, true, GetActiveSnapshot(), 1, key);
}

/* Column name of a tuple of rel (NULL: *isnull). */
static Datum
column_value(Relation rel, HeapTuple tuple, const char *name, bool *isnull)
{
	return heap_getattr(tuple, get_attnum(RelationGetRelid(rel), name), RelationGetDescr(rel), isnull);
}

/*
 * Looks a purpose up in privacy.purposes; false if it does not exist. With
 * role valid, *allowed says whether that role (or a role whose privileges
 * it has) was allowed the purpose. Both are index lookups, not statements:
 * a parallel worker, which starts with empty caches, resolves the purpose
 * again for every statement it serves.
 */
static bool
purpose_lookup(const char *name, Oid role, PurposeBasis *basis,
			   bool *allowed_under_restriction, bool *allowed)
{
	bool		found = false;
	bool		pushed_snapshot = false;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		isnull;

	/* A statement the Citus coordinator forwarded: the coordinator's purposes. */
	if (privacy_node_state_active())
		return privacy_node_purpose_lookup(name, role, basis, allowed_under_restriction, allowed);

	/* SET and startup options run without a snapshot; the lookup needs one. */
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed_snapshot = true;
	}
	scan = scan_by_text("purposes", "purposes_pkey", "name", name, &rel, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Datum		d = column_value(rel, tuple, "legal_basis", &isnull);

		found = true;
		*basis = privacy_purpose_basis(isnull ? "" : TextDatumGetCString(d));
		d = column_value(rel, tuple, "allowed_under_restriction", &isnull);
		*allowed_under_restriction = !isnull && DatumGetBool(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (found && OidIsValid(role))
	{
		*allowed = superuser_arg(role);
		scan = scan_by_text("purpose_grants", "purpose_grants_pkey", "purpose", name, &rel, &key);
		while (!*allowed && HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			Datum		d = column_value(rel, tuple, "role", &isnull);

			*allowed = !isnull && has_privs_of_role(role, DatumGetObjectId(d));
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	if (pushed_snapshot)
		PopActiveSnapshot();

	return found;
}

/* The role's name for a message, or its OID if it was dropped. */
static const char *
role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("%u", role);
}

/* GUC check hook for privacy.purpose. */
static bool
check_purpose(char **newval, void **extra, GucSource source)
{
	PurposeExtra *result;
	Oid			role = InvalidOid;

	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("Purpose names are at most %d bytes long.", NAMEDATALEN - 1);
		return false;
	}
	if (**newval != '\0' && can_validate(source))
	{
		PurposeBasis basis;
		bool		under_restriction;
		bool		allowed = false;

		role = GetUserId();
		if (!purpose_lookup(*newval, role, &basis, &under_restriction, &allowed))
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errmsg("unrecognized purpose \"%s\"", *newval);
			GUC_check_errhint("Purposes are declared by the policy document; privacy.purposes lists them.");
			return false;
		}
		if (!allowed)
		{
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			GUC_check_errmsg("role \"%s\" is not allowed to process personal data for purpose \"%s\"",
							 role_name(role), *newval);
			GUC_check_errhint("A superuser allows purposes to roles with privacy.allow_purpose().");
			return false;
		}
	}

	result = malloc(sizeof(PurposeExtra));
	if (result == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	result->validated_role = role;
	*extra = result;
	return true;
}

static void
assign_purpose(const char *newval, void *extra)
{
	purpose_extra = (const PurposeExtra *) extra;
	privacy_purpose_generation++;
	privacy_forwarded_plans_reset();
}

/* GUC check hook for privacy.default_purpose: a purpose resting on contract. */
static bool
check_default_purpose(char **newval, void **extra, GucSource source)
{
	PurposeBasis basis;
	bool		under_restriction;
	bool		allowed;

	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("Purpose names are at most %d bytes long.", NAMEDATALEN - 1);
		return false;
	}
	if (**newval == '\0' || !can_validate(source))
		return true;
	if (!purpose_lookup(*newval, InvalidOid, &basis, &under_restriction, &allowed))
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("unrecognized purpose \"%s\"", *newval);
		GUC_check_errhint("Purposes are declared by the policy document; privacy.purposes lists them.");
		return false;
	}
	if (basis != PURPOSE_BASIS_CONTRACT)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("purpose \"%s\" cannot be the default purpose", *newval);
		GUC_check_errdetail("Only a purpose whose legal basis is contract, needed to provide the service to the data subjects themselves, may be assumed without a declaration.");
		return false;
	}
	return true;
}

static void
assign_default_purpose(const char *newval, void *extra)
{
	privacy_purpose_generation++;
	privacy_forwarded_plans_reset();
}

void
ConsentInit(void)
{
	defining_settings = true;
	PG_TRY();
	{
		DefineCustomStringVariable("privacy.purpose",
								   "Purpose the session processes personal data for.",
								   "Protected tables show each purpose only the rows it may lawfully process. "
								   "Only purposes allowed to the current role with privacy.allow_purpose() are accepted; "
								   "empty means that no purpose is declared.",
								   &purpose_setting,
								   "",
								   PGC_USERSET, 0,
								   check_purpose, assign_purpose, NULL);
		DefineCustomStringVariable("privacy.default_purpose",
								   "Purpose assumed when a session declares none.",
								   "Must be a purpose whose legal basis is contract; empty means that "
								   "protected tables show nothing personal until a purpose is declared.",
								   &default_purpose_setting,
								   "",
								   PGC_SUSET, 0,
								   check_default_purpose, assign_default_purpose, NULL);
	}
	PG_FINALLY();
	{
		defining_settings = false;
	}
	PG_END_TRY();

	PurposeScopeInit();
	ConsentCheckInit();
	ConsentSharedInit();
	NodeStateInit();
	PurposeForwardInit();
}

void
privacy_purpose_stamp(PurposeStamp *stamp)
{
	stamp->generation = privacy_purpose_generation;
	stamp->userid = GetUserId();
	stamp->outer_userid = GetOuterUserId();
}

bool
privacy_purpose_stamp_equal(const PurposeStamp *a, const PurposeStamp *b)
{
	return a->generation == b->generation && a->userid == b->userid &&
		a->outer_userid == b->outer_userid;
}

void
privacy_resolve_purpose(ResolvedPurpose *out)
{
	bool		forwarded = privacy_node_state_active();
	const char *claim = forwarded ? privacy_node_claim() : purpose_setting ? purpose_setting : "";
	bool		allowed = false;
	Oid			user = GetUserId();

	memset(out, 0, sizeof(ResolvedPurpose));
	if (forwarded)
	{
		/* the coordinator's purpose, its default purpose included */
		if (*claim == PRIVACY_FORWARDED_DEFAULT)
		{
			claim++;
			out->is_default = true;
		}
	}
	else if (*claim == '\0')
	{
		claim = default_purpose_setting ? default_purpose_setting : "";
		out->is_default = true;
	}
	if (*claim == '\0')
	{
		out->none = true;
		return;
	}
	/* A forwarded purpose was checked for its scope on the coordinator. */
	if (!out->is_default && !forwarded)
		privacy_purpose_check_scope();
	if (!purpose_lookup(claim, out->is_default ? InvalidOid : user, &out->basis,
						&out->allowed_under_restriction, &allowed))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized purpose \"%s\"", claim),
				 errdetail("The setting %s names a purpose that the policy in force does not declare.",
						   out->is_default ? "privacy.default_purpose" : "privacy.purpose"),
				 errhint("privacy.purposes lists the purposes of the policy in force.")));
	strlcpy(out->name, claim, NAMEDATALEN);

	if (out->is_default)
	{
		if (out->basis != PURPOSE_BASIS_CONTRACT)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("purpose \"%s\" cannot be the default purpose", claim),
					 errdetail("Only a purpose whose legal basis is contract may be assumed without a declaration."),
					 errhint("Declare the purpose with SET privacy.purpose, or change privacy.default_purpose.")));
		return;
	}

	if (!allowed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" is not allowed to process personal data for purpose \"%s\"",
						role_name(user), claim),
				 errhint("A superuser allows purposes to roles with privacy.allow_purpose().")));
	{
		Oid			setter = (purpose_extra && OidIsValid(purpose_extra->validated_role)) ?
			purpose_extra->validated_role : GetOuterUserId();
		PurposeBasis basis;
		bool		under_restriction;

		/* The coordinator signed a forwarded purpose for the current role. */
		if (!forwarded && setter != user &&
			(!purpose_lookup(claim, setter, &basis, &under_restriction, &allowed) || !allowed))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" is not allowed to process personal data for purpose \"%s\"",
							role_name(setter), claim),
					 errdetail("The purpose was declared by or for this role; it is honoured only if both that role and the current role are allowed it."),
					 errhint("A superuser allows purposes to roles with privacy.allow_purpose().")));
	}
}

/* privacy.current_purpose() → text: the checked purpose in force, or NULL. */
Datum
privacy_current_purpose(PG_FUNCTION_ARGS)
{
	ResolvedPurpose rp;

	privacy_resolve_purpose(&rp);
	if (rp.none)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(rp.name));
}
