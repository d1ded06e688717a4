/*
 * fuzz_policy_json.c
 *		libFuzzer harness for policy_json.c and json_position.c: any input is
 *		either rejected with a complete error or accepted with a canonical
 *		form that parses again to itself and names the same catalog objects.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pure/json_position.h"
#include "pure/policy_json.h"

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static const char *const categories[] = {"contact", "contact.email", "identity"};
static const char *const special[] = {"health", "national_id"};
static const char *const sources[] = {"direct", "automatic"};

static const PolicyBuiltins builtins = {
	categories, 3, special, 2, sources, 2
};

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A rejection says what, and where whenever it names a path. */
static void
check_error(const PolicyParsed *out, const PolicyParseError *err)
{
	size_t		seqlen;

	REQUIRE(out->canonical == NULL && out->refs == NULL && out->nrefs == 0);
	REQUIRE(err->message[0] != '\0');
	REQUIRE(memchr(err->message, '\0', sizeof(err->message)) != NULL);
	REQUIRE(json_position_first_bad_byte(err->message, strlen(err->message),
										 &seqlen) == strlen(err->message));
	REQUIRE(err->path[0] == '\0' || err->path[0] == '$');
	REQUIRE(err->path[0] == '\0' || strcmp(err->message, "out of memory") == 0 ||
			err->line >= 1);
	REQUIRE(err->line >= 0 && err->column >= 0);
	REQUIRE((err->line == 0) == (err->column == 0));
}

/* Two parses name the same objects in the same order. */
static void
check_same_refs(const PolicyParsed *a, const PolicyParsed *b)
{
	int			i;

	REQUIRE(a->nrefs == b->nrefs);
	for (i = 0; i < a->nrefs; i++)
	{
		REQUIRE(a->refs[i].kind == b->refs[i].kind);
		REQUIRE(strcmp(a->refs[i].table, b->refs[i].table) == 0);
		REQUIRE((a->refs[i].column == NULL) == (b->refs[i].column == NULL));
		REQUIRE(a->refs[i].column == NULL ||
				strcmp(a->refs[i].column, b->refs[i].column) == 0);
		REQUIRE(strcmp(a->refs[i].path, b->refs[i].path) == 0);
		REQUIRE(a->refs[i].line >= 1 && b->refs[i].line >= 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	PolicyParsed out;
	PolicyParsed again;
	PolicyParseError err;
	JsonProblem problem;
	JsonPosition pos;

	/* the scanner copes with any bytes on its own */
	json_position_check(text, size, &problem);
	REQUIRE(problem.offset <= size);
	json_problem_free(&problem);
	json_position_find(text, size, "$.purposes[0].name", false, &pos);
	pos = json_position_of_offset(text, size, size / 2);
	REQUIRE(pos.line >= 1 && pos.column >= 1);

	if (!policy_parse(text, size, &builtins, &out, &err))
	{
		check_error(&out, &err);
		return 0;
	}

	/* parse(canonical(x)) == canonical(x), naming the same objects */
	REQUIRE(out.canonical != NULL);
	if (!policy_parse(out.canonical, strlen(out.canonical), &builtins, &again,
					  &err))
		abort();
	REQUIRE(strcmp(out.canonical, again.canonical) == 0);
	check_same_refs(&out, &again);
	policy_parsed_free(&again);
	policy_parsed_free(&out);
	return 0;
}
