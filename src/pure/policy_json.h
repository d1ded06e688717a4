/*
 * policy_json.h
 *		Parser and validator of the policy document (docs/policy-format.md),
 *		independent of the PostgreSQL backend.
 *
 * policy_parse checks a document against every rule of the format and
 * returns its canonical text plus the catalog objects it names, or the first
 * error with its JSON path, line and column.  Catalog objects are not looked
 * up here: the backend checks the returned references.
 *
 * policy_json.c uses libjson-c and includes no PostgreSQL header (json-c and
 * utils/builtins.h both declare json_object); this header includes neither,
 * so the backend wrapper can include it next to PostgreSQL's headers.
 */
#ifndef POLICY_JSON_H
#define POLICY_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum PolicyRefKind
{
	POLICY_REF_TABLE,
	POLICY_REF_COLUMN
} PolicyRefKind;

/* A reference from the document to a catalog object, for the backend to check. */
typedef struct PolicyRef
{
	PolicyRefKind kind;
	char	   *table;			/* table name as written in the document */
	char	   *column;			/* column name (POLICY_REF_COLUMN only), else
								 * NULL */
	char	   *path;			/* JSON path of the value, e.g.
								 * "$.classifications[0].column" */
	int			line;			/* 1-based */
	int			column_no;		/* 1-based, in characters */
	bool		subject_key;	/* the key column of a subject kind */
} PolicyRef;

/* Names that exist without being declared in the document. */
typedef struct PolicyBuiltins
{
	const char *const *categories;	/* always-present categories */
	int			ncategories;
	const char *const *special_categories;	/* always-present special
											 * categories */
	int			nspecial;
	const char *const *sources; /* always-present sources */
	int			nsources;
} PolicyBuiltins;

typedef struct PolicyParseError
{
	int			line;			/* 1-based; 0 if not known */
	int			column;			/* 1-based, in characters; 0 if not known */
	char		path[512];		/* JSON path, "$" for the root, "" if not
								 * known (syntax errors) */
	char		message[512];	/* PostgreSQL style: lower case, no trailing
								 * period, objects in double quotes */
	char		hint[512];		/* full sentence with capital and period, or
								 * "" */
} PolicyParseError;

typedef struct PolicyParsed
{
	char	   *canonical;		/* canonical JSON text (docs/policy-format.md,
								 * "Canonical form") */
	PolicyRef  *refs;
	int			nrefs;
} PolicyParsed;

/* Deepest nesting of arrays and objects a policy document may have. */
#define POLICY_MAX_DEPTH 64

/* Returns true and fills *out, or false and fills *err (and *out is left empty). */
extern bool policy_parse(const char *text, size_t len,
						 const PolicyBuiltins *builtins,
						 PolicyParsed *out, PolicyParseError *err);
extern void policy_parsed_free(PolicyParsed *parsed);

#endif							/* POLICY_JSON_H */
