/*
 * operator_hint.c
 *		The hint of "operator does not exist" for the personal-data types:
 *		their operators live in schema privacy, where PostgreSQL looks for
 *		operators only if it is on the search_path.
 *
 * PostgreSQL looks operators up in pg_catalog and the schemas of the
 * search_path, never in the schema of their operands' types (citext works
 * without a search_path change only because it is usually installed in
 * public, and extensions may not add operators to pg_catalog). An implicit
 * cast of email or phone to text would let text's operators match instead,
 * with text's meaning: a case-sensitive local part, an unnormalised number,
 * wrong answers rather than an error (ip_address casts implicitly to inet,
 * whose operators mean the same). So the error stays, and an emit_log_hook
 * replaces its generic hint with what to do. It runs wherever the library is
 * loaded (preloading loads it in every session) for errors the server logs.
 */
#include "postgres.h"

#include "utils/elog.h"

#include "types/types.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

static const char *const type_names[] = {
	"privacy.email", "privacy.phone", "privacy.ip_address"
};

/* The operators the types define in schema privacy. */
static const char *const operator_names[] = {"=", "<>", "<", "<=", ">", ">="};

/*
 * The operator of an "operator does not exist" message whose signature
 * names one of the types (as "privacy.email = unknown", "- privacy.phone"):
 * the word beside the first such type name, or NULL if there is none.
 */
static char *
operator_beside_type(const char *message)
{
	const char *type = NULL;
	const char *end;
	const char *start;
	int			i;

	for (i = 0; i < lengthof(type_names); i++)
	{
		const char *found = strstr(message, type_names[i]);

		if (found && (type == NULL || found < type))
		{
			type = found;
			end = found + strlen(type_names[i]);
		}
	}
	if (type == NULL)
		return NULL;
	if (end[0] == ' ' && end[1] != '\0' && end[1] != ' ')
		return pnstrdup(end + 1, strcspn(end + 1, " "));
	if (type - message >= 2 && type[-1] == ' ' && type[-2] != ' ')
	{
		for (start = type - 1; start > message && start[-1] != ' '; start--)
			;
		return pnstrdup(start, type - 1 - start);
	}
	return NULL;
}

/* The operator of such a message if schema privacy defines it, else NULL. */
static char *
missing_operator(const char *message)
{
	char	   *operator = operator_beside_type(message);
	int			i;

	for (i = 0; operator != NULL && i < lengthof(operator_names); i++)
		if (strcmp(operator, operator_names[i]) == 0)
			return operator;
	return NULL;
}

static void
operator_hint(ErrorData *edata)
{
	char	   *operator;

	if (edata->elevel == ERROR && edata->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION &&
		edata->message_id != NULL &&
		strcmp(edata->message_id, "operator does not exist: %s") == 0 &&
		edata->message != NULL &&
		(operator = missing_operator(edata->message)) != NULL)
		edata->hint = psprintf("The operators of the privacy types are in schema \"privacy\": "
							   "put it on the search_path (ALTER DATABASE ... SET search_path = \"$user\", public, privacy, "
							   "or the same per role), or name the operator with its schema: OPERATOR(privacy.%s).",
							   operator);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
OperatorHintInit(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = operator_hint;
}
