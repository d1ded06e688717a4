/*
 * test_policy_json.c
 *		Unit tests of the policy document parser (policy_json.c) and of the
 *		raw JSON text scanner under it (json_position.c): canonical output,
 *		references, every class of error with its message, path, line and
 *		column, and hostile input.
 */
#include <stdlib.h>

#include "unit.h"
#include "pure/json_position.h"
#include "pure/policy_json.h"

static const char *const builtin_categories[] = {
	"contact", "contact.email", "identity"
};
static const char *const builtin_special[] = {"health", "national_id"};
static const char *const builtin_sources[] = {"direct", "automatic"};

static const PolicyBuiltins builtins = {
	builtin_categories, 3, builtin_special, 2, builtin_sources, 2
};

static const char full_document[] =
	"{\n"
	"  \"format\": 1,\n"
	"  \"version\": \"2026-06-24\",\n"
	"  \"effective_date\": \"2026-06-24\",\n"
	"  \"controller\": {\"name\": \"Café Ørsted ApS\", \"contact\": \"privacy@opendims.example\", \"trading_as\": \"OpenDIMS\"},\n"
	"  \"purposes\": [\n"
	"    {\"name\": \"service\", \"legal_basis\": \"contract\", \"description\": \"Run the \\\"service\\\" \\u00e9 a/b\"},\n"
	"    {\"name\": \"bookkeeping\", \"legal_basis\": \"legal_obligation\", \"allowed_under_restriction\": true}\n"
	"  ],\n"
	"  \"categories\": [{\"name\": \"contact.phone\"}, {\"name\": \"contact\", \"description\": \"Ways to reach a person\"}],\n"
	"  \"special_categories\": [{\"name\": \"health.genetic\"}],\n"
	"  \"sources\": [{\"name\": \"partner\"}],\n"
	"  \"recipients\": [\n"
	"    {\"name\": \"staff\", \"kind\": \"internal\", \"purposes\": [\"service\"]},\n"
	"    {\"name\": \"mailer\", \"kind\": \"processor\", \"dpa_reference\": \"DPA-2026-01\"}\n"
	"  ],\n"
	"  \"subject_kinds\": [\n"
	"    {\"name\": \"customer\", \"table\": \"app.customers\", \"key\": \"id\",\n"
	"     \"paths\": [{\"table\": \"app.orders\", \"via\": [\"orders_customer_fk\"]}]}\n"
	"  ],\n"
	"  \"classifications\": [\n"
	"    {\"table\": \"app.customers\", \"column\": \"email\", \"category\": \"contact.email\"},\n"
	"    {\"table\": \"app.customers\", \"column\": \"phone\", \"category\": \"contact.phone\", \"source\": \"partner\"}\n"
	"  ],\n"
	"  \"retention_rules\": [\n"
	"    {\"name\": \"orders\", \"table\": \"app.orders\", \"anchor\": \"closed_at\", \"period\": \"5 year\",\n"
	"     \"action\": \"anonymize\", \"columns\": [\"note\", \"ip\"], \"legal_basis\": \"legal_obligation\",\n"
	"     \"minimum\": \"1 years\", \"minimum_from\": \"end_of_financial_year\"},\n"
	"    {\"name\": \"sessions\", \"table\": \"app.sessions\", \"anchor\": \"created_at\", \"period\": \"30 days\",\n"
	"     \"action\": \"delete\", \"legal_basis\": \"legitimate_interest\"}\n"
	"  ]\n"
	"}\n";

static const char full_canonical[] =
	"{\n"
	"  \"format\": 1,\n"
	"  \"version\": \"2026-06-24\",\n"
	"  \"effective_date\": \"2026-06-24\",\n"
	"  \"controller\": {\n"
	"    \"name\": \"Café Ørsted ApS\",\n"
	"    \"contact\": \"privacy@opendims.example\",\n"
	"    \"trading_as\": \"OpenDIMS\",\n"
	"    \"financial_year_end\": \"12-31\"\n"
	"  },\n"
	"  \"purposes\": [\n"
	"    {\n"
	"      \"name\": \"service\",\n"
	"      \"legal_basis\": \"contract\",\n"
	"      \"description\": \"Run the \\\"service\\\" é a/b\",\n"
	"      \"allowed_under_restriction\": false\n"
	"    },\n"
	"    {\n"
	"      \"name\": \"bookkeeping\",\n"
	"      \"legal_basis\": \"legal_obligation\",\n"
	"      \"description\": \"\",\n"
	"      \"allowed_under_restriction\": true\n"
	"    }\n"
	"  ],\n"
	"  \"categories\": [\n"
	"    {\n"
	"      \"name\": \"contact.phone\",\n"
	"      \"description\": \"\"\n"
	"    },\n"
	"    {\n"
	"      \"name\": \"contact\",\n"
	"      \"description\": \"Ways to reach a person\"\n"
	"    }\n"
	"  ],\n"
	"  \"special_categories\": [\n"
	"    {\n"
	"      \"name\": \"health.genetic\",\n"
	"      \"description\": \"\"\n"
	"    }\n"
	"  ],\n"
	"  \"sources\": [\n"
	"    {\n"
	"      \"name\": \"partner\",\n"
	"      \"description\": \"\"\n"
	"    }\n"
	"  ],\n"
	"  \"recipients\": [\n"
	"    {\n"
	"      \"name\": \"staff\",\n"
	"      \"kind\": \"internal\",\n"
	"      \"purposes\": [\"service\"],\n"
	"      \"description\": \"\"\n"
	"    },\n"
	"    {\n"
	"      \"name\": \"mailer\",\n"
	"      \"kind\": \"processor\",\n"
	"      \"dpa_reference\": \"DPA-2026-01\",\n"
	"      \"purposes\": [],\n"
	"      \"description\": \"\"\n"
	"    }\n"
	"  ],\n"
	"  \"subject_kinds\": [\n"
	"    {\n"
	"      \"name\": \"customer\",\n"
	"      \"table\": \"app.customers\",\n"
	"      \"key\": \"id\",\n"
	"      \"description\": \"\",\n"
	"      \"paths\": [\n"
	"        {\n"
	"          \"table\": \"app.orders\",\n"
	"          \"via\": [\"orders_customer_fk\"]\n"
	"        }\n"
	"      ]\n"
	"    }\n"
	"  ],\n"
	"  \"classifications\": [\n"
	"    {\n"
	"      \"table\": \"app.customers\",\n"
	"      \"column\": \"email\",\n"
	"      \"category\": \"contact.email\",\n"
	"      \"source\": \"direct\"\n"
	"    },\n"
	"    {\n"
	"      \"table\": \"app.customers\",\n"
	"      \"column\": \"phone\",\n"
	"      \"category\": \"contact.phone\",\n"
	"      \"source\": \"partner\"\n"
	"    }\n"
	"  ],\n"
	"  \"retention_rules\": [\n"
	"    {\n"
	"      \"name\": \"orders\",\n"
	"      \"table\": \"app.orders\",\n"
	"      \"anchor\": \"closed_at\",\n"
	"      \"period\": \"5 years\",\n"
	"      \"action\": \"anonymize\",\n"
	"      \"columns\": [\"note\", \"ip\"],\n"
	"      \"legal_basis\": \"legal_obligation\",\n"
	"      \"minimum\": \"1 year\",\n"
	"      \"minimum_from\": \"end_of_financial_year\",\n"
	"      \"description\": \"\"\n"
	"    },\n"
	"    {\n"
	"      \"name\": \"sessions\",\n"
	"      \"table\": \"app.sessions\",\n"
	"      \"anchor\": \"created_at\",\n"
	"      \"period\": \"30 days\",\n"
	"      \"action\": \"delete\",\n"
	"      \"columns\": [],\n"
	"      \"legal_basis\": \"legitimate_interest\",\n"
	"      \"minimum\": null,\n"
	"      \"description\": \"\"\n"
	"    }\n"
	"  ],\n"
	"  \"masking\": {\n"
	"    \"roles\": [],\n"
	"    \"recipients\": [],\n"
	"    \"rules\": []\n"
	"  }\n"
	"}";

typedef struct RefCase
{
	PolicyRefKind kind;
	const char *table;
	const char *column;
	const char *path;
	int			line;
	int			column_no;
} RefCase;

static const RefCase full_refs[] = {
	{POLICY_REF_TABLE, "app.customers", NULL, "$.subject_kinds[0].table", 18, 35},
	{POLICY_REF_COLUMN, "app.customers", "id", "$.subject_kinds[0].key", 18, 59},
	{POLICY_REF_TABLE, "app.orders", NULL, "$.subject_kinds[0].paths[0].table", 19, 26},
	{POLICY_REF_TABLE, "app.customers", NULL, "$.classifications[0].table", 22, 15},
	{POLICY_REF_COLUMN, "app.customers", "email", "$.classifications[0].column", 22, 42},
	{POLICY_REF_TABLE, "app.customers", NULL, "$.classifications[1].table", 23, 15},
	{POLICY_REF_COLUMN, "app.customers", "phone", "$.classifications[1].column", 23, 42},
	{POLICY_REF_TABLE, "app.orders", NULL, "$.retention_rules[0].table", 26, 33},
	{POLICY_REF_COLUMN, "app.orders", "closed_at", "$.retention_rules[0].anchor", 26, 57},
	{POLICY_REF_COLUMN, "app.orders", "note", "$.retention_rules[0].columns[0]", 27, 41},
	{POLICY_REF_COLUMN, "app.orders", "ip", "$.retention_rules[0].columns[1]", 27, 49},
	{POLICY_REF_TABLE, "app.sessions", NULL, "$.retention_rules[1].table", 29, 35},
	{POLICY_REF_COLUMN, "app.sessions", "created_at", "$.retention_rules[1].anchor", 29, 61},
};

/*
 * Error cases.  Most documents start with HEAD (lines 1 and 2) and put what
 * is wrong on line 3 or later, so that columns are easy to count.
 */
#define HEAD \
	"{\"format\": 1, \"version\": \"v1\", \"effective_date\": \"2026-06-24\",\n" \
	" \"controller\": {\"name\": \"Acme\", \"contact\": \"dpo@acme.example\"}"
#define DOC(rest) HEAD ",\n" rest "}"
#define PURPOSE_SALES "{\"name\": \"sales\", \"legal_basis\": \"consent\"}"
#define RULE "{\"name\": \"r\", \"table\": \"t\", \"anchor\": \"a\", "

typedef struct ErrorCase
{
	const char *what;
	const char *doc;
	const char *message;
	const char *path;
	int			line;
	int			column;
	const char *hint;			/* NULL: not checked */
} ErrorCase;

static const ErrorCase error_cases[] = {
	/* syntax, as json-c or the strict scanner reports it */
	{"empty input", "", "invalid JSON: unexpected end of input", "", 1, 1, ""},
	{"only whitespace", "  \n  ", "invalid JSON: unexpected end of input", "", 2, 3, NULL},
	{"truncated document", "{\"format\": 1, \"version\": \"v",
	"invalid JSON: unexpected end of input", "", 1, 28, NULL},
	{"trailing comma", "{\"format\": 1,}", "invalid JSON: unexpected character", "", 1, 14, NULL},
	{"missing colon", "{\"format\" 1}",
	"invalid JSON: object property name separator ':' expected", "", 1, 11, NULL},
	{"missing comma", "{\"format\": 1 \"version\": \"v\"}",
	"invalid JSON: object value separator ',' expected", "", 1, 14, NULL},
	{"unquoted key", "{format: 1}",
	"invalid JSON: quoted object property name expected", "", 1, 2, NULL},
	{"trailing garbage", "{} {}",
	"invalid JSON: unexpected character after the document", "", 1, 4, NULL},
	{"trailing garbage on a later line", "{}\n\n  x",
	"invalid JSON: unexpected character after the document", "", 3, 3, NULL},
	{"single-quoted string", "{'format': 1}", "invalid JSON: unexpected character", "", 1, 2, NULL},
	{"NaN", "{\"format\": NaN}", "invalid JSON: unexpected character", "", 1, 12, NULL},
	{"leading zero", "{\"format\": 01}", "invalid JSON: unexpected character", "", 1, 13, NULL},
	{"number without fraction digits", "{\"format\": 1.}", "invalid JSON: invalid number", "", 1, 14, NULL},
	{"comment", "{\"format\": /* one */ 1}", "invalid JSON: unexpected character", "", 1, 12, NULL},
	{"raw tab in a string", "{\"version\": \"a\tb\"}",
	"invalid JSON: unescaped control character in string", "", 1, 15, NULL},
	{"bad escape", "{\"version\": \"a\\qb\"}",
	"invalid JSON: invalid escape sequence in string", "", 1, 15, NULL},
	{"lone high surrogate", "{\"version\": \"\\ud800x\"}",
	"invalid JSON: unpaired Unicode surrogate in string", "", 1, 14, NULL},
	{"lone low surrogate", "{\"version\": \"\\udc00\"}",
	"invalid JSON: unpaired Unicode surrogate in string", "", 1, 14, NULL},
	{"\\u0000 in a value", "{\"version\": \"a\\u0000b\"}",
	"unsupported Unicode escape sequence", "$.version", 1, 13,
	"Strings in a policy document cannot contain \\u0000."},
	{"\\u0000 in a key", "{\"format\": 1, \"form\\u0000at\": 2}",
	"unsupported Unicode escape sequence", "$[\"form\\u0000at\"]", 1, 15, NULL},

	/* duplicate keys, found in the text since json-c keeps only one */
	{"duplicate top-level key", "{\"format\": 1, \"format\": 1}",
	"duplicate key \"format\"", "$.format", 1, 15,
	"Each key may appear only once in an object."},
	{"duplicate key spelt with an escape", "{\"format\": 1, \"\\u0066ormat\": 1}",
	"duplicate key \"format\"", "$.format", 1, 15, NULL},
	{"duplicate nested key", DOC(" \"purposes\": [" PURPOSE_SALES ",\n"
								 "  {\"name\": \"x\", \"name\": \"y\"}]"),
	"duplicate key \"name\"", "$.purposes[1].name", 4, 17, NULL},
	{"duplicate key reported where it first occurs", "{\"a\": {\"b\": 1, \"b\": 2}, \"a\": 3}",
	"duplicate key \"b\"", "$.a.b", 1, 16, NULL},

	/* the root */
	{"root is an array", "[]", "expected an object", "$", 1, 1,
	"A policy document is a JSON object, e.g. {\"format\": 1, ...}."},
	{"root is null", "  null", "expected an object", "$", 1, 3, NULL},
	{"root is a string", "\"policy\"", "expected an object", "$", 1, 1, NULL},

	/* top level and controller */
	{"missing version", "{\"format\": 1, \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"missing required key \"version\"", "$", 1, 1, NULL},
	{"unrecognized top-level key", DOC(" \"colour\": \"red\""),
	"unrecognized key \"colour\"", "$.colour", 3, 2,
	"Valid keys here are \"format\", \"version\", \"effective_date\", \"controller\", "
	"\"purposes\", \"categories\", \"special_categories\", \"sources\", \"recipients\", "
	"\"subject_kinds\", \"classifications\", \"retention_rules\" and \"masking\"."},
	{"format 2", "{\"format\": 2, \"version\": \"v\", \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"unsupported format 2", "$.format", 1, 12,
	"This version of opendims_privacy reads format 1."},
	{"format as a string",
		"{\"format\": \"1\", \"version\": \"v\", \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"expected an integer", "$.format", 1, 12, NULL},
	{"format as a double",
		"{\"format\": 1.0, \"version\": \"v\", \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"expected an integer", "$.format", 1, 12, NULL},
	{"empty version",
		"{\"format\": 1, \"version\": \"\", \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"version must not be empty", "$.version", 1, 26,
	"A version is 1 to 64 characters long, e.g. \"2026-06-24\"."},
	{"version of 65 characters",
		"{\"format\": 1, \"version\": \"12345678901234567890123456789012345678901234567890123456789012345\", "
		"\"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"version is too long", "$.version", 1, 26, NULL},
	{"version not a string",
		"{\"format\": 1, \"version\": 5, \"effective_date\": \"2026-06-24\", \"controller\": {}}",
	"expected a string", "$.version", 1, 26, NULL},
	{"date not a string", "{\"format\": 1, \"version\": \"v\", \"effective_date\": true, \"controller\": {}}",
	"expected a string", "$.effective_date", 1, 49, NULL},
	{"no such day", "{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-02-29\", \"controller\": {}}",
	"invalid date \"2026-02-29\"", "$.effective_date", 1, 49,
	"Write dates as YYYY-MM-DD, e.g. \"2026-06-24\"; the day must exist."},
	{"no such month", "{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-13-01\", \"controller\": {}}",
	"invalid date \"2026-13-01\"", "$.effective_date", 1, 49, NULL},
	{"year zero", "{\"format\": 1, \"version\": \"v\", \"effective_date\": \"0000-01-01\", \"controller\": {}}",
	"invalid date \"0000-01-01\"", "$.effective_date", 1, 49, NULL},
	{"date not zero-padded", "{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-6-24\", \"controller\": {}}",
	"invalid date \"2026-6-24\"", "$.effective_date", 1, 49, NULL},
	{"controller missing contact",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n \"controller\": {\"name\": \"n\"}}",
	"missing required key \"contact\"", "$.controller", 2, 16, NULL},
	{"controller not an object",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n \"controller\": \"Acme\"}",
	"expected an object", "$.controller", 2, 16, NULL},
	{"controller with an unrecognized key",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n \"controller\": {\"name\": \"n\", \"contact\": \"c\", \"vat\": 1}}",
	"unrecognized key \"vat\"", "$.controller.vat", 2, 46,
	"Valid keys here are \"name\", \"contact\", \"trading_as\" and \"financial_year_end\"."},
	{"financial year ending on February 29",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n"
		" \"controller\": {\"name\": \"n\", \"contact\": \"c\", \"financial_year_end\": \"02-29\"}}",
	"invalid financial year end \"02-29\"", "$.controller.financial_year_end", 2, 68, NULL},
	{"financial year end not a string",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n"
		" \"controller\": {\"name\": \"n\", \"contact\": \"c\", \"financial_year_end\": 1231}}",
	"expected a string", "$.controller.financial_year_end", 2, 68, NULL},
	{"trading_as a number",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n"
		" \"controller\": {\"name\": \"n\", \"contact\": \"c\", \"trading_as\": 7}}",
	"expected a string or null", "$.controller.trading_as", 2, 60, NULL},
	{"position counted in characters",
		"{\"format\": 1, \"version\": \"v\", \"effective_date\": \"2026-06-24\",\n"
		" \"controller\": {\"name\": \"Café 日本 😀\", \"contact\": 5}}",
	"expected a string", "$.controller.contact", 2, 49, NULL},

	/* purposes */
	{"purposes not an array", DOC(" \"purposes\": {}"),
	"expected an array", "$.purposes", 3, 14, NULL},
	{"purpose not an object", DOC(" \"purposes\": [1]"),
	"expected an object", "$.purposes[0]", 3, 15, NULL},
	{"purpose without legal basis", DOC(" \"purposes\": [{\"name\": \"service\"}]"),
	"missing required key \"legal_basis\"", "$.purposes[0]", 3, 15, NULL},
	{"unrecognized legal basis", DOC(" \"purposes\": [{\"name\": \"service\", \"legal_basis\": \"foo\"}]"),
	"unrecognized legal basis \"foo\"", "$.purposes[0].legal_basis", 3, 50,
	"Valid values are \"contract\", \"legitimate_interest\", \"consent\" and \"legal_obligation\"."},
	{"purpose name with a capital", DOC(" \"purposes\": [{\"name\": \"Service\", \"legal_basis\": \"consent\"}]"),
	"invalid purpose name \"Service\"", "$.purposes[0].name", 3, 24,
	"A name starts with a lower-case letter and has only lower-case letters, digits and underscores."},
	{"purpose name starting with a digit", DOC(" \"purposes\": [{\"name\": \"1st\", \"legal_basis\": \"consent\"}]"),
	"invalid purpose name \"1st\"", "$.purposes[0].name", 3, 24, NULL},
	{"purpose name with a hyphen", DOC(" \"purposes\": [{\"name\": \"ser-vice\", \"legal_basis\": \"consent\"}]"),
	"invalid purpose name \"ser-vice\"", "$.purposes[0].name", 3, 24, NULL},
	{"purpose name not a string", DOC(" \"purposes\": [{\"name\": 5, \"legal_basis\": \"consent\"}]"),
	"expected a string", "$.purposes[0].name", 3, 24, NULL},
	{"legal basis not a string", DOC(" \"purposes\": [{\"name\": \"service\", \"legal_basis\": 1}]"),
	"expected a string", "$.purposes[0].legal_basis", 3, 50, NULL},
	{"purpose name of 64 bytes",
		DOC(" \"purposes\": [{\"name\": \"a123456789012345678901234567890123456789012345678901234567890123\", "
			"\"legal_basis\": \"consent\"}]"),
	"purpose name \"a123456789012345678901234567890123456789012345678901234567890123\" is too long",
	"$.purposes[0].name", 3, 24, "Names are at most 63 bytes long."},
	{"duplicate purpose name",
		DOC(" \"purposes\": [{\"name\": \"service\", \"legal_basis\": \"contract\"},\n"
			"  {\"name\": \"service\", \"legal_basis\": \"consent\"}]"),
	"duplicate purpose name \"service\"", "$.purposes[1].name", 4, 12, ""},
	{"allowed_under_restriction not a boolean",
		DOC(" \"purposes\": [{\"name\": \"service\", \"legal_basis\": \"consent\", \"allowed_under_restriction\": \"yes\"}]"),
	"expected a boolean", "$.purposes[0].allowed_under_restriction", 3, 90, NULL},
	{"unrecognized key in a purpose",
		DOC(" \"purposes\": [{\"name\": \"service\", \"legal_basis\": \"consent\", \"colour\": 1}]"),
	"unrecognized key \"colour\"", "$.purposes[0].colour", 3, 61,
	"Valid keys here are \"name\", \"legal_basis\", \"description\" and \"allowed_under_restriction\"."},

	/* categories */
	{"undeclared parent category", DOC(" \"categories\": [{\"name\": \"contact.work.email\"}]"),
	"unrecognized parent category \"contact.work\" of \"contact.work.email\"",
	"$.categories[0].name", 3, 26,
	"Declare \"contact.work\" in \"categories\" or use a built-in category."},
	{"empty segment in a category name", DOC(" \"categories\": [{\"name\": \"contact..email\"}]"),
	"invalid category name \"contact..email\"", "$.categories[0].name", 3, 26, NULL},
	{"category under a special category", DOC(" \"categories\": [{\"name\": \"health.dental\"}]"),
	"category \"health.dental\" is under the special category \"health\"",
	"$.categories[0].name", 3, 26, NULL},
	{"category and special category at once",
		DOC(" \"categories\": [{\"name\": \"sleep\"}], \"special_categories\": [{\"name\": \"sleep\"}]"),
	"special category \"sleep\" is also declared as a category",
	"$.special_categories[0].name", 3, 69,
	"A name cannot be both a category and a special category."},
	{"built-in special category declared as a category", DOC(" \"categories\": [{\"name\": \"health\"}]"),
	"category \"health\" is a built-in special category", "$.categories[0].name", 3, 26, NULL},
	{"built-in category declared as special", DOC(" \"special_categories\": [{\"name\": \"identity\"}]"),
	"special category \"identity\" is a built-in category",
	"$.special_categories[0].name", 3, 34, NULL},
	{"duplicate category", DOC(" \"categories\": [{\"name\": \"sleep\"}, {\"name\": \"sleep\"}]"),
	"duplicate category name \"sleep\"", "$.categories[1].name", 3, 45, NULL},
	{"built-in category listed twice",
		DOC(" \"categories\": [{\"name\": \"contact\"}, {\"name\": \"contact\"}]"),
	"duplicate category name \"contact\"", "$.categories[1].name", 3, 47, NULL},

	/* sources */
	{"duplicate source", DOC(" \"sources\": [{\"name\": \"partner\"}, {\"name\": \"partner\"}]"),
	"duplicate source name \"partner\"", "$.sources[1].name", 3, 44, NULL},

	/* recipients */
	{"processor without a DPA", DOC(" \"recipients\": [{\"name\": \"mailer\", \"kind\": \"processor\"}]"),
	"missing required key \"dpa_reference\"", "$.recipients[0]", 3, 17,
	"A recipient of kind \"processor\" needs the reference of its data processing agreement."},
	{"DPA for an internal recipient",
		DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\", \"dpa_reference\": \"X\"}]"),
	"unexpected key \"dpa_reference\" for a recipient of kind \"internal\"",
	"$.recipients[0].dpa_reference", 3, 55,
	"Only recipients of kind \"processor\" have a data processing agreement reference."},
	{"unrecognized recipient kind", DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"friend\"}]"),
	"unrecognized recipient kind \"friend\"", "$.recipients[0].kind", 3, 43,
	"Valid values are \"internal\", \"processor\" and \"authority\"."},
	{"undeclared purpose of a recipient",
		DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\", \"purposes\": [\"sales\"]}]"),
	"unrecognized purpose \"sales\"", "$.recipients[0].purposes[0]", 3, 68,
	"Declare the purpose in \"purposes\"."},
	{"purpose listed twice for a recipient",
		DOC(" \"purposes\": [" PURPOSE_SALES "],\n"
			" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\", \"purposes\": [\"sales\", \"sales\"]}]"),
	"duplicate purpose \"sales\"", "$.recipients[0].purposes[1]", 4, 77, NULL},
	{"recipient purposes not an array",
		DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\", \"purposes\": \"sales\"}]"),
	"expected an array", "$.recipients[0].purposes", 3, 67, NULL},
	{"recipient purpose not a string",
		DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\", \"purposes\": [1]}]"),
	"expected a string", "$.recipients[0].purposes[0]", 3, 68, NULL},
	{"duplicate recipient",
		DOC(" \"recipients\": [{\"name\": \"staff\", \"kind\": \"internal\"},\n"
			"  {\"name\": \"staff\", \"kind\": \"authority\"}]"),
	"duplicate recipient name \"staff\"", "$.recipients[1].name", 4, 12, NULL},

	/* subject kinds */
	{"empty via",
		DOC(" \"subject_kinds\": [{\"name\": \"customer\", \"table\": \"customers\", \"key\": \"id\", \"paths\": [\n"
			"  {\"table\": \"orders\", \"via\": []}]}]"),
	"expected a non-empty array", "$.subject_kinds[0].paths[0].via", 4, 30, NULL},
	{"duplicate path table",
		DOC(" \"subject_kinds\": [{\"name\": \"customer\", \"table\": \"customers\", \"key\": \"id\", \"paths\": [\n"
			"  {\"table\": \"orders\", \"via\": [\"a\"]},\n"
			"  {\"table\": \"orders\", \"via\": [\"b\"]}]}]"),
	"duplicate path for table \"orders\"", "$.subject_kinds[0].paths[1].table", 5, 13, NULL},
	{"duplicate constraint in via",
		DOC(" \"subject_kinds\": [{\"name\": \"customer\", \"table\": \"customers\", \"key\": \"id\", \"paths\": [\n"
			"  {\"table\": \"orders\", \"via\": [\"a\", \"a\"]}]}]"),
	"duplicate constraint name \"a\"", "$.subject_kinds[0].paths[0].via[1]", 4, 36, NULL},
	{"key not a string",
		DOC(" \"subject_kinds\": [{\"name\": \"customer\", \"table\": \"customers\", \"key\": 1}]"),
	"expected a string", "$.subject_kinds[0].key", 3, 70, NULL},
	{"duplicate subject kind",
		DOC(" \"subject_kinds\": [{\"name\": \"customer\", \"table\": \"a\", \"key\": \"id\"},\n"
			"  {\"name\": \"customer\", \"table\": \"b\", \"key\": \"id\"}]"),
	"duplicate subject kind name \"customer\"", "$.subject_kinds[1].name", 4, 12, NULL},

	/* classifications */
	{"classified into a special category",
		DOC(" \"classifications\": [{\"table\": \"patients\", \"column\": \"diagnosis\", \"category\": \"health\"}]"),
	"category \"health\" is a special category", "$.classifications[0].category", 3, 79,
	"The policy refuses to hold special categories of data, so nothing may be classified into them."},
	{"classified into an undeclared category",
		DOC(" \"classifications\": [{\"table\": \"patients\", \"column\": \"diagnosis\", \"category\": \"nope\"}]"),
	"unrecognized category \"nope\"", "$.classifications[0].category", 3, 79,
	"Declare the category in \"categories\" or use a built-in category."},
	{"undeclared source",
		DOC(" \"classifications\": [{\"table\": \"t\", \"column\": \"c\", \"category\": \"contact\", \"source\": \"crm\"}]"),
	"unrecognized source \"crm\"", "$.classifications[0].source", 3, 85,
	"Declare the source in \"sources\" or use a built-in source."},
	{"column classified twice",
		DOC(" \"classifications\": [{\"table\": \"t\", \"column\": \"c\", \"category\": \"contact\"},\n"
			"  {\"table\": \"t\", \"column\": \"c\", \"category\": \"identity\"}]"),
	"duplicate classification of column \"c\" of table \"t\"", "$.classifications[1]", 4, 3, NULL},
	{"classification without a column",
		DOC(" \"classifications\": [{\"table\": \"t\", \"category\": \"contact\"}]"),
	"missing required key \"column\"", "$.classifications[0]", 3, 22, NULL},

	/* retention rules */
	{"unrecognized duration unit",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 yrs\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"invalid duration \"5 yrs\"", "$.retention_rules[0].period", 3, 75,
	"Write a duration as \"<n> <unit>\" with n from 1 to 9999 and unit day, week, month or year, e.g. \"5 years\"."},
	{"duration with a leading zero",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"05 years\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"invalid duration \"05 years\"", "$.retention_rules[0].period", 3, 75, NULL},
	{"duration of zero",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"0 days\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"invalid duration \"0 days\"", "$.retention_rules[0].period", 3, 75, NULL},
	{"duration of five digits",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"10000 days\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"invalid duration \"10000 days\"", "$.retention_rules[0].period", 3, 75, NULL},
	{"duration with two spaces",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5  years\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"invalid duration \"5  years\"", "$.retention_rules[0].period", 3, 75, NULL},
	{"period not a string",
		DOC(" \"retention_rules\": [" RULE "\"period\": 5, \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"expected a string", "$.retention_rules[0].period", 3, 75, NULL},
	{"delete with columns",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", \"columns\": [\"x\"], "
			"\"legal_basis\": \"consent\"}]"),
	"action \"delete\" does not take columns", "$.retention_rules[0].columns", 3, 117,
	"A \"delete\" rule removes whole rows; remove \"columns\" or choose another action."},
	{"anonymize without columns",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"anonymize\", \"legal_basis\": \"consent\"}]"),
	"missing required key \"columns\"", "$.retention_rules[0]", 3, 22,
	"A rule with action \"anonymize\" lists the columns it changes."},
	{"truncate_ip with no columns",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"truncate_ip\", \"columns\": [], "
			"\"legal_basis\": \"consent\"}]"),
	"action \"truncate_ip\" needs at least one column", "$.retention_rules[0].columns", 3, 122, NULL},
	{"column listed twice",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"anonymize\", \"columns\": [\"x\", \"x\"], "
			"\"legal_basis\": \"consent\"}]"),
	"duplicate column \"x\"", "$.retention_rules[0].columns[1]", 3, 126, NULL},
	{"minimum_from without minimum",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", \"legal_basis\": \"consent\", "
			"\"minimum_from\": \"anchor\"}]"),
	"key \"minimum_from\" requires \"minimum\"", "$.retention_rules[0].minimum_from", 3, 132,
	"Add a \"minimum\" duration or remove \"minimum_from\"."},
	{"unrecognized minimum_from",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", \"legal_basis\": \"consent\", "
			"\"minimum\": \"1 year\", \"minimum_from\": \"start\"}]"),
	"unrecognized minimum start \"start\"", "$.retention_rules[0].minimum_from", 3, 169,
	"Valid values are \"anchor\" and \"end_of_financial_year\"."},
	{"minimum not a string",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", \"legal_basis\": \"consent\", "
			"\"minimum\": 5}]"),
	"expected a string or null", "$.retention_rules[0].minimum", 3, 143, NULL},
	{"unrecognized retention action",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"shred\", \"legal_basis\": \"consent\"}]"),
	"unrecognized retention action \"shred\"", "$.retention_rules[0].action", 3, 96,
	"Valid values are \"delete\", \"anonymize\" and \"truncate_ip\"."},
	{"duplicate retention rule",
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", \"legal_basis\": \"consent\"},\n"
			"  " RULE "\"period\": \"1 year\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
	"duplicate retention rule name \"r\"", "$.retention_rules[1].name", 4, 12, NULL},
};

/* Parse and compare the error with what the case expects (5 checks). */
static void
check_error_case(const ErrorCase *c)
{
	PolicyParsed out;
	PolicyParseError err;
	bool		ok = policy_parse(c->doc, strlen(c->doc), &builtins, &out, &err);

	CHECK(!ok && out.canonical == NULL && out.refs == NULL && out.nrefs == 0,
		  "%s: rejected, nothing returned", c->what);
	CHECK_STR(err.message, c->message, "%s: message", c->what);
	CHECK_STR(err.path, c->path, "%s: path", c->what);
	CHECK(err.line == c->line && err.column == c->column,
		  "%s: at %d:%d (got %d:%d)", c->what, c->line, c->column,
		  err.line, err.column);
	if (c->hint != NULL)
		CHECK_STR(err.hint, c->hint, "%s: hint", c->what);
}

/* Parse a document that must be accepted; the caller frees *out. */
static bool
parse_ok(const char *doc, size_t len, PolicyParsed *out)
{
	PolicyParseError err;
	bool		ok = policy_parse(doc, len, &builtins, out, &err);

	if (!ok)
		printf("#   rejected: %s at %d:%d %s\n", err.message, err.line,
			   err.column, err.path);
	return ok;
}

static void
test_full_document(void)
{
	PolicyParsed out;
	PolicyParsed again;
	bool		ok;
	bool		same_refs;
	int			i;

	ok = parse_ok(full_document, strlen(full_document), &out);
	CHECK(ok, "full document: accepted");
	CHECK_STR(out.canonical, full_canonical, "full document: canonical form");
	CHECK(out.nrefs == (int) (sizeof(full_refs) / sizeof(full_refs[0])),
		  "full document: %d references", out.nrefs);
	for (i = 0; i < out.nrefs && i < (int) (sizeof(full_refs) / sizeof(full_refs[0])); i++)
	{
		const RefCase *want = &full_refs[i];
		const PolicyRef *got = &out.refs[i];

		CHECK(got->kind == want->kind, "reference %d: kind", i);
		CHECK_STR(got->table, want->table, "reference %d: table", i);
		CHECK_STR(got->column, want->column, "reference %d: column", i);
		CHECK_STR(got->path, want->path, "reference %d: path", i);
		CHECK(got->line == want->line && got->column_no == want->column_no,
			  "reference %d: at %d:%d (got %d:%d)", i, want->line,
			  want->column_no, got->line, got->column_no);
	}

	/* the canonical form is a fixed point and names the same objects */
	ok = out.canonical != NULL &&
		parse_ok(out.canonical, strlen(out.canonical), &again);
	CHECK(ok, "canonical form: accepted");
	CHECK_STR(again.canonical, out.canonical, "canonical form: idempotent");
	same_refs = again.nrefs == out.nrefs;
	for (i = 0; same_refs && i < out.nrefs; i++)
		same_refs = again.refs[i].kind == out.refs[i].kind &&
			strcmp(again.refs[i].table, out.refs[i].table) == 0 &&
			strcmp(again.refs[i].path, out.refs[i].path) == 0 &&
			again.refs[i].line > 0;
	CHECK(same_refs, "canonical form: same references, located");
	policy_parsed_free(&again);
	policy_parsed_free(&out);
	CHECK(out.canonical == NULL && out.refs == NULL && out.nrefs == 0,
		  "policy_parsed_free empties the result");
}

static void
test_minimal_document(void)
{
	static const char doc[] = DOC(" \"special_categories\": [{\"name\": \"health\", \"description\": \"Never kept\"}]");
	static const char canonical[] =
		"{\n"
		"  \"format\": 1,\n"
		"  \"version\": \"v1\",\n"
		"  \"effective_date\": \"2026-06-24\",\n"
		"  \"controller\": {\n"
		"    \"name\": \"Acme\",\n"
		"    \"contact\": \"dpo@acme.example\",\n"
		"    \"trading_as\": null,\n"
		"    \"financial_year_end\": \"12-31\"\n"
		"  },\n"
		"  \"purposes\": [],\n"
		"  \"categories\": [],\n"
		"  \"special_categories\": [\n"
		"    {\n"
		"      \"name\": \"health\",\n"
		"      \"description\": \"Never kept\"\n"
		"    }\n"
		"  ],\n"
		"  \"sources\": [],\n"
		"  \"recipients\": [],\n"
		"  \"subject_kinds\": [],\n"
		"  \"classifications\": [],\n"
		"  \"retention_rules\": [],\n"
		"  \"masking\": {\n"
		"    \"roles\": [],\n"
		"    \"recipients\": [],\n"
		"    \"rules\": []\n"
		"  }\n"
		"}";
	PolicyParsed out;
	bool		ok = parse_ok(doc, strlen(doc), &out);

	CHECK(ok, "minimal document with a built-in special category described: accepted");
	CHECK_STR(out.canonical, canonical, "minimal document: defaults filled in");
	CHECK(out.nrefs == 0 && out.refs == NULL, "minimal document: no references");
	policy_parsed_free(&out);
}

#define EIGHT_E "éééééééé"
#define SIXTY_FOUR_E EIGHT_E EIGHT_E EIGHT_E EIGHT_E EIGHT_E EIGHT_E EIGHT_E EIGHT_E

/* Documents that are valid in ways worth pinning down. */
static void
test_accepted_edge_cases(void)
{
	static const char *const docs[] = {
		"{\"format\": 1, \"version\": \"" SIXTY_FOUR_E "\", "
		"\"effective_date\": \"2024-02-29\", \"controller\": {\"name\": \"n\", \"contact\": \"c\", "
		"\"trading_as\": null, \"financial_year_end\": \"02-28\"}}",
		DOC(" \"categories\": [{\"name\": \"a.b\"}, {\"name\": \"a\"}]"),
		DOC(" \"special_categories\": [{\"name\": \"health.genetic.raw\"}, {\"name\": \"health.genetic\"}]"),
		DOC(" \"recipients\": [{\"name\": \"court\", \"kind\": \"authority\"}]"),
		DOC(" \"retention_rules\": [" RULE "\"period\": \"9999 weeks\", \"action\": \"delete\", "
			"\"columns\": [], \"legal_basis\": \"consent\", \"minimum\": null}]"),
		"\t\r\n" HEAD "}\r\n\t ",
	};
	int			i;

	for (i = 0; i < (int) (sizeof(docs) / sizeof(docs[0])); i++)
	{
		PolicyParsed out;
		bool		ok = parse_ok(docs[i], strlen(docs[i]), &out);

		CHECK(ok, "edge case %d accepted", i);
		policy_parsed_free(&out);
	}
}

/* Canonical durations: singular for one, plural otherwise. */
static void
test_durations(void)
{
	static const struct
	{
		const char *in;
		const char *out;
	}			cases[] = {
		{"1 days", "\"period\": \"1 day\""},
		{"1 week", "\"period\": \"1 week\""},
		{"2 month", "\"period\": \"2 months\""},
		{"9999 years", "\"period\": \"9999 years\""},
	};
	int			i;

	for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++)
	{
		char		doc[512];
		PolicyParsed out;
		bool		ok;

		snprintf(doc, sizeof(doc),
				 DOC(" \"retention_rules\": [" RULE "\"period\": \"%s\", \"action\": \"delete\", \"legal_basis\": \"consent\"}]"),
				 cases[i].in);
		ok = parse_ok(doc, strlen(doc), &out);
		CHECK(ok && strstr(out.canonical, cases[i].out) != NULL,
			  "duration \"%s\" becomes %s", cases[i].in, cases[i].out);
		policy_parsed_free(&out);
	}
}

/* minimum_from defaults to "anchor", but only for a rule with a minimum. */
static void
test_minimum_from(void)
{
	static const char doc[] =
		DOC(" \"retention_rules\": [" RULE "\"period\": \"5 years\", \"action\": \"delete\", "
			"\"legal_basis\": \"legal_obligation\", \"minimum\": \"5 years\"}]");
	PolicyParsed out;
	bool		ok = parse_ok(doc, strlen(doc), &out);

	CHECK(ok && strstr(out.canonical,
					   "      \"minimum\": \"5 years\",\n"
					   "      \"minimum_from\": \"anchor\",\n") != NULL,
		  "minimum_from defaults to \"anchor\" when there is a minimum");
	policy_parsed_free(&out);
}

/* Built-in sources and the default source come from the builtins given. */
static void
test_builtins(void)
{
	static const char doc[] =
		DOC(" \"classifications\": [{\"table\": \"t\", \"column\": \"c\", \"category\": \"contact\"}]");
	PolicyBuiltins none = {0};
	PolicyParsed out;
	PolicyParseError err;
	bool		ok;

	ok = policy_parse(doc, strlen(doc), &none, &out, &err);
	CHECK(!ok && strcmp(err.message, "unrecognized category \"contact\"") == 0,
		  "without built-ins, a built-in category is unknown");
	none.categories = builtin_categories;
	none.ncategories = 3;
	ok = policy_parse(doc, strlen(doc), &none, &out, &err);
	CHECK(!ok, "without built-in sources, the default source is unknown");
	CHECK_STR(err.message, "unrecognized source \"direct\"", "default source: message");
	CHECK_STR(err.path, "$.classifications[0].source", "default source: path");
	CHECK(err.line == 3 && err.column == 22,
		  "default source: placed at its classification (got %d:%d)",
		  err.line, err.column);
	ok = policy_parse(doc, strlen(doc), NULL, &out, &err);
	CHECK(!ok, "NULL builtins are no builtins");
}

/* A string literal and its length, NUL bytes included. */
#define BYTES(s) s, sizeof(s) - 1

/* Input that is not text: NUL bytes within the length, invalid UTF-8. */
static void
test_hostile_bytes(void)
{
	static const struct
	{
		const char *what;
		const char *bytes;
		size_t		len;
		const char *message;
		int			line;
		int			column;
	}			cases[] = {
		{"NUL after the document", BYTES("{}\0"),
		"invalid byte sequence for encoding \"UTF8\": 0x00", 1, 3},
		{"NUL inside a number", BYTES("{\"format\": 1\0}"),
		"invalid byte sequence for encoding \"UTF8\": 0x00", 1, 13},
		{"NUL inside a string", BYTES("{\"version\": \"ab\0\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0x00", 1, 16},
		{"NUL first", BYTES("\0{}"),
		"invalid byte sequence for encoding \"UTF8\": 0x00", 1, 1},
		{"syntax error before a NUL", BYTES("{\"a\" 1}\0"),
		"invalid JSON: object property name separator ':' expected", 1, 6},
		{"stray continuation byte", BYTES("{\"version\": \"\x80\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0x80", 1, 14},
		{"0xff", BYTES("{\"version\": \"\xff\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0xff", 1, 14},
		{"overlong slash", BYTES("{\"version\": \"\xc0\xaf\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0xc0", 1, 14},
		{"encoded surrogate", BYTES("{\"version\": \"é\xed\xa0\x80\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0xed 0xa0 0x80", 1, 15},
		{"above U+10FFFF", BYTES("{\"version\": \"\xf4\x90\x80\x80\"}"),
		"invalid byte sequence for encoding \"UTF8\": 0xf4 0x90 0x80 0x80", 1, 14},
		{"truncated sequence at the end", BYTES("{\"version\": \"\xe2\x82"),
		"invalid byte sequence for encoding \"UTF8\": 0xe2 0x82", 1, 14},
		{"byte order mark", BYTES("\xef\xbb\xbf{}"),
		"invalid JSON: unexpected character", 1, 1},
	};
	int			i;

	for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++)
	{
		PolicyParsed out;
		PolicyParseError err;
		bool		ok = policy_parse(cases[i].bytes, cases[i].len, &builtins,
									  &out, &err);

		CHECK(!ok, "%s: rejected", cases[i].what);
		CHECK_STR(err.message, cases[i].message, "%s: message", cases[i].what);
		CHECK(err.line == cases[i].line && err.column == cases[i].column &&
			  err.path[0] == '\0',
			  "%s: at %d:%d, no path (got %d:%d)", cases[i].what,
			  cases[i].line, cases[i].column, err.line, err.column);
	}
}

/* A NULL text is an empty document, not a crash. */
static void
test_null_text(void)
{
	PolicyParsed out;
	PolicyParseError err;
	bool		ok = policy_parse(NULL, 0, &builtins, &out, &err);

	CHECK(!ok && strcmp(err.message, "invalid JSON: unexpected end of input") == 0 &&
		  err.line == 1 && err.column == 1 && out.canonical == NULL,
		  "NULL text: rejected as empty input at 1:1");
}

/* Parse a deeply nested document: depth arrays inside the "purposes" key. */
static bool
parse_nested(int depth, PolicyParseError *err)
{
	size_t		prefix = strlen("{\"purposes\": ");
	size_t		len = prefix + 2 * (size_t) depth + 1;
	char	   *doc = malloc(len);
	PolicyParsed out;
	bool		ok;

	memcpy(doc, "{\"purposes\": ", prefix);
	memset(doc + prefix, '[', depth);
	memset(doc + prefix + depth, ']', depth);
	doc[len - 1] = '}';
	ok = policy_parse(doc, len, &builtins, &out, err);
	policy_parsed_free(&out);
	free(doc);
	return ok;
}

static void
test_nesting(void)
{
	PolicyParseError err;
	bool		ok;

	ok = parse_nested(63, &err);
	CHECK(!ok && strcmp(err.message, "missing required key \"format\"") == 0,
		  "64 levels of nesting pass the syntax check");
	ok = parse_nested(64, &err);
	CHECK(!ok, "65 levels of nesting: rejected");
	CHECK_STR(err.message, "invalid JSON: nesting too deep", "65 levels: message");
	CHECK_STR(err.hint, "A policy document nests arrays and objects at most 64 levels deep.",
			  "65 levels: hint");
	CHECK(err.line == 1 && err.column == 13 + 64, "65 levels: at the 64th bracket (got %d:%d)",
		  err.line, err.column);
	ok = parse_nested(100000, &err);
	CHECK(!ok && strcmp(err.message, "invalid JSON: nesting too deep") == 0,
		  "100000 levels of nesting: rejected without crashing");
}

/* Messages stay within their buffers and end on a whole UTF-8 character. */
static void
test_long_messages(void)
{
	char		doc[4096];
	size_t		seqlen;
	PolicyParsed out;
	PolicyParseError err;
	bool		ok;
	int			i;

	strcpy(doc, HEAD ",\n \"");
	for (i = 0; i < 600; i++)
		strcat(doc, "é");
	strcat(doc, "\": 1}");
	ok = policy_parse(doc, strlen(doc), &builtins, &out, &err);
	CHECK(!ok, "a 600-character key: rejected");
	CHECK(strncmp(err.message, "unrecognized key \"ééé", strlen("unrecognized key \"ééé")) == 0 &&
		  strlen(err.message) < sizeof(err.message),
		  "a 600-character key: message truncated");
	CHECK(json_position_first_bad_byte(err.message, strlen(err.message), &seqlen) ==
		  strlen(err.message), "a 600-character key: message is valid UTF-8");
	CHECK(json_position_first_bad_byte(err.path, strlen(err.path), &seqlen) ==
		  strlen(err.path) && strncmp(err.path, "$[\"ééé", strlen("$[\"ééé")) == 0,
		  "a 600-character key: path truncated to valid UTF-8");
	CHECK(err.line == 3 && err.column == 2, "a 600-character key: at its key");
}

/* Every proper prefix of a valid document is rejected with a place. */
static void
test_prefixes(void)
{
	size_t		len = strlen(full_document);
	size_t		n;
	bool		all_rejected = true;
	bool		all_placed = true;

	for (n = 0; n + 1 < len; n++)
	{
		PolicyParsed out;
		PolicyParseError err;

		if (policy_parse(full_document, n, &builtins, &out, &err))
		{
			all_rejected = false;
			policy_parsed_free(&out);
		}
		else if (err.line < 1 || err.column < 1 || err.message[0] == '\0')
			all_placed = false;
	}
	CHECK(all_rejected, "every proper prefix of the full document is rejected");
	CHECK(all_placed, "every prefix error has a message, line and column");
}

/* json_position.c on its own */

static void
test_paths(void)
{
	JsonPath	path;

	json_path_init(&path);
	CHECK_STR(path.data, "$", "path: root");
	json_path_push_key(&path, "purposes", 8);
	json_path_push_index(&path, 12);
	json_path_push_key(&path, "legal_basis", 11);
	CHECK_STR(path.data, "$.purposes[12].legal_basis", "path: keys and indexes");
	json_path_pop(&path);
	json_path_push_key(&path, "a b\"\\\x01", 6);
	CHECK_STR(path.data, "$.purposes[12][\"a b\\\"\\\\\\u0001\"]",
			  "path: other keys quoted and escaped");
	CHECK(json_path_prefix_length(&path, 1) == strlen("$.purposes"),
		  "path: prefix length");
	json_path_pop(&path);
	json_path_pop(&path);
	json_path_pop(&path);
	json_path_pop(&path);
	CHECK_STR(path.data, "$", "path: popping past the root stays at the root");
	json_path_free(&path);
}

/* Look a path up; the position is {0, 0} when it is not found. */
static JsonPosition
find(const char *text, size_t len, const char *path, bool key)
{
	JsonPosition pos;

	json_position_find(text, len, path, key, &pos);
	return pos;
}

static void
test_positions(void)
{
	static const char text[] = "{\"a\": {\"b c\": [10, \"日本\", 20]},\n \"ü\": [{\"x\": 1}]}";
	JsonLocation locs[5] = {
		{.path = "$[\"ü\"][0].x"},
		{.path = "$.a[\"b c\"][2]"},
		{.path = "$.a[\"b c\"]", .key = true},
		{.path = "$.nowhere"},
		{.path = "$.a[\"b c\"][2]"},
	};
	size_t		len = strlen(text);
	JsonPosition pos;
	bool		ok;

	pos = json_position_of_offset(text, len, strlen("{\"a\": {\"b c\": [10, \"日本\", "));
	CHECK(pos.line == 1 && pos.column == 26, "offset: column counts characters (got %d)", pos.column);
	pos = json_position_of_offset(text, len, len + 100);
	CHECK(pos.line == 2 && pos.column == 18, "offset: past the end stops at the end (got %d:%d)",
		  pos.line, pos.column);
	pos = find(text, len, "$.a[\"b c\"][1]", false);
	CHECK(pos.line == 1 && pos.column == 20, "find: array element (got %d:%d)", pos.line, pos.column);
	pos = find(text, len, "$", false);
	CHECK(pos.line == 1 && pos.column == 1, "find: root");
	pos = find(text, len, "$.a.b", false);
	CHECK(pos.line == 0 && pos.column == 0, "find: missing path gives 0:0");
	pos = find(text, len, "$.a", true);
	CHECK(pos.line == 1 && pos.column == 2, "find: key of a member");
	pos = find(text, len, "$", true);
	CHECK(pos.line == 0, "find: the root has no key");
	ok = json_position_locate(text, len, locs, 5);
	CHECK(ok, "locate: several paths in one pass");
	CHECK(locs[0].found && locs[0].position.line == 2 && locs[0].position.column == 14,
		  "locate: member under a non-ASCII key (got %d:%d)", locs[0].position.line,
		  locs[0].position.column);
	CHECK(locs[1].found && locs[1].position.column == 26 && locs[4].position.column == 26,
		  "locate: the same path twice");
	CHECK(locs[2].found && locs[2].position.column == 8, "locate: a key");
	CHECK(!locs[3].found && locs[3].position.line == 0, "locate: a missing path");
	pos = find("{\"a\": [1, 2", 11, "$.a[1]", false);
	CHECK(pos.column == 11, "find: truncated text, values before the end are found");
	pos = find("{\"a\": [1, 2", 11, "$.a[2]", false);
	CHECK(pos.column == 0, "find: truncated text, nothing past the end");
}

static void
test_check(void)
{
	static const char strict[] =
		" {\"a\": [1, -2.5e+3, 0.5E-2, true, false, null, \"\\u00e9\\ud83d\\ude00\\/\"]} ";
	static const char duplicate[] = "[{\"k\": 1}, {\"k\": 1, \"j\": 2, \"k\": 3}]";
	static const char nul[] = "{\"a\": \"x\\u0000\"}";
	static const char escaped_keys[] =
		"{\"\\b\\f\\r\\t\\nÉ/\": 1, \"\\u0008\\u000C\\u000d\\u0009\\u000A\\u00C9\\/\": 2}";
	static const char euro[] = "{\"€\": 1, \"\\u20ac\": 2}";
	static const struct
	{
		const char *text;
		const char *what;
		size_t		offset;
	}			not_strict[] = {
		{"-", "invalid number", 1},
		{"[1e]", "invalid number", 3},
		{"[1E+]", "invalid number", 4},
		{"[-x]", "invalid number", 2},
		{"\"\xff\"", "invalid UTF-8 in string", 1},
		{"[tru]", "unexpected character", 1},
		{"{\"a\" 1}", "unexpected character", 5},
		{"[1,]", "unexpected character", 3},
		{"\"\\u12\"", "invalid escape sequence in string", 1},
	};
	JsonProblem problem;
	int			i;
	size_t		seqlen;
	size_t		bad;
	char	   *deep = malloc(600);
	bool		ok;

	ok = json_position_check(strict, strlen(strict), &problem);
	CHECK(ok, "check: strict JSON passes");
	json_problem_free(&problem);
	ok = json_position_check(duplicate, strlen(duplicate), &problem);
	CHECK(!ok && problem.kind == JSON_PROBLEM_DUPLICATE_KEY &&
		  strcmp(problem.path, "$[1].k") == 0 && strcmp(problem.key, "k") == 0 &&
		  problem.position.column == 29,
		  "check: duplicate key with its path and position");
	json_problem_free(&problem);
	ok = json_position_check(nul, strlen(nul), &problem);
	CHECK(!ok && problem.kind == JSON_PROBLEM_NUL_ESCAPE && strcmp(problem.path, "$.a") == 0,
		  "check: \\u0000 in a value");
	json_problem_free(&problem);
	memset(deep, '[', 600);
	ok = json_position_check(deep, 600, &problem);
	CHECK(!ok && problem.kind == JSON_PROBLEM_SYNTAX &&
		  strcmp(problem.what, "nesting too deep") == 0 &&
		  problem.offset == JSON_POSITION_MAX_DEPTH,
		  "check: its own nesting limit");
	json_problem_free(&problem);
	free(deep);
	ok = json_position_check(NULL, 0, &problem);
	CHECK(!ok && strcmp(problem.what, "unexpected end of input") == 0,
		  "check: NULL text is empty");
	json_problem_free(&problem);
	ok = json_position_check(escaped_keys, strlen(escaped_keys), &problem);
	CHECK(!ok && problem.kind == JSON_PROBLEM_DUPLICATE_KEY &&
		  strcmp(problem.key, "\b\f\r\t\nÉ/") == 0 &&
		  strcmp(problem.path, "$[\"\\u0008\\u000c\\u000d\\u0009\\u000aÉ/\"]") == 0,
		  "check: keys compared after decoding escapes (got %s)",
		  problem.path ? problem.path : "no path");
	json_problem_free(&problem);
	ok = json_position_check(euro, strlen(euro), &problem);
	CHECK(!ok && problem.kind == JSON_PROBLEM_DUPLICATE_KEY && strcmp(problem.key, "€") == 0,
		  "check: three-byte escape");
	json_problem_free(&problem);
	for (i = 0; i < (int) (sizeof(not_strict) / sizeof(not_strict[0])); i++)
	{
		ok = json_position_check(not_strict[i].text, strlen(not_strict[i].text), &problem);
		CHECK(!ok && problem.kind == JSON_PROBLEM_SYNTAX &&
			  strcmp(problem.what, not_strict[i].what) == 0 &&
			  problem.offset == not_strict[i].offset,
			  "check: %s rejected as %s at %zu", not_strict[i].text,
			  not_strict[i].what, not_strict[i].offset);
		json_problem_free(&problem);
	}
	bad = json_position_first_bad_byte("\xe0\xa0\x80\xf0\x90\x80\x80", 7, &seqlen);
	CHECK(bad == 7, "first bad byte: U+0800 and U+10000 are fine");
	bad = json_position_first_bad_byte("\xe0\x80\x80", 3, &seqlen);
	CHECK(bad == 0 && seqlen == 3, "first bad byte: overlong three-byte form");
	bad = json_position_first_bad_byte("\xf0\x80\x80\x80", 4, &seqlen);
	CHECK(bad == 0 && seqlen == 4, "first bad byte: overlong four-byte form");
	bad = json_position_first_bad_byte("a\xc3\xa9\xf0\x9f\x98\x80z", 8, &seqlen);
	CHECK(bad == 8 && seqlen == 0, "first bad byte: none in valid UTF-8");
	bad = json_position_first_bad_byte("ab\xe2\x28\xa1", 5, &seqlen);
	CHECK(bad == 2 && seqlen == 3, "first bad byte: invalid continuation");
}

int
main(void)
{
	int			i;

	test_full_document();
	test_minimal_document();
	test_accepted_edge_cases();
	test_durations();
	test_minimum_from();
	test_builtins();
	for (i = 0; i < (int) (sizeof(error_cases) / sizeof(error_cases[0])); i++)
		check_error_case(&error_cases[i]);
	test_hostile_bytes();
	test_null_text();
	test_nesting();
	test_long_messages();
	test_prefixes();
	test_paths();
	test_positions();
	test_check();
	return unit_done();
}
