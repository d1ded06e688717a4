/*
 * json_position.h
 *		A small scanner over raw JSON text: line and column of offsets and of
 *		JSON paths, strict RFC 8259 checking, duplicate keys.
 *
 * Pure C: no PostgreSQL backend and no JSON library needed.  Every function
 * accepts any byte string (malformed JSON, invalid UTF-8, NUL bytes within
 * the given length) and never reads outside it.
 *
 * Paths are written the way JsonPath builds them: "$" for the root, ".key"
 * for keys that are identifiers, ["key"] (a JSON string) for other keys and
 * [n] for array elements, e.g. $.purposes[1].legal_basis.
 */
#ifndef JSON_POSITION_H
#define JSON_POSITION_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of arrays and objects the scanner follows. */
#define JSON_POSITION_MAX_DEPTH 256

/* A place in the text: 1-based line, 1-based column counted in characters. */
typedef struct JsonPosition
{
	int			line;
	int			column;
} JsonPosition;

/* A JSON path under construction: a stack of components. */
typedef struct JsonPath
{
	char	   *data;			/* NUL-terminated path, starting with "$" */
	size_t		len;			/* strlen(data) */
	size_t		cap;			/* allocated size of data */
	size_t	   *marks;			/* marks[i]: length of data before component i */
	int			depth;			/* number of components pushed */
	int			maxmarks;		/* allocated size of marks */
	bool		failed;			/* an allocation failed: data is unusable */
} JsonPath;

/* Something the strict scan found wrong with a text. */
typedef enum JsonProblemKind
{
	JSON_PROBLEM_NONE,
	JSON_PROBLEM_SYNTAX,		/* not strict RFC 8259 JSON */
	JSON_PROBLEM_DUPLICATE_KEY, /* a key repeated within one object */
	JSON_PROBLEM_NUL_ESCAPE,	/* a key or string containing \u0000 */
	JSON_PROBLEM_OUT_OF_MEMORY
} JsonProblemKind;

typedef struct JsonProblem
{
	JsonProblemKind kind;
	size_t		offset;			/* byte offset where the problem starts */
	JsonPosition position;		/* the same as line and column */
	const char *what;			/* SYNTAX: what is wrong, e.g. "invalid number" */
	char	   *path;			/* malloc'd path of the key or string, else NULL */
	char	   *key;			/* DUPLICATE_KEY: malloc'd key, decoded, else NULL */
} JsonProblem;

/* One request to json_position_locate. */
typedef struct JsonLocation
{
	const char *path;			/* in: a path as JsonPath writes it */
	bool		key;			/* in: want the last component's key, not its
								 * value */
	bool		found;			/* out */
	size_t		offset;			/* out: byte offset, if found */
	JsonPosition position;		/* out: {0, 0} if not found */
} JsonLocation;

extern bool json_path_init(JsonPath *path);
extern bool json_path_push_key(JsonPath *path, const char *key, size_t keylen);
extern bool json_path_push_index(JsonPath *path, size_t index);
extern void json_path_pop(JsonPath *path);
extern size_t json_path_prefix_length(const JsonPath *path, int ncomponents);
extern void json_path_free(JsonPath *path);

extern JsonPosition json_position_of_offset(const char *text, size_t len,
											size_t offset);
extern size_t json_position_first_bad_byte(const char *text, size_t len,
										   size_t *seqlen);
extern bool json_position_check(const char *text, size_t len,
								JsonProblem *problem);
extern void json_problem_free(JsonProblem *problem);
extern bool json_position_locate(const char *text, size_t len,
								 JsonLocation *locations, size_t nlocations);
extern bool json_position_find(const char *text, size_t len, const char *path,
							   bool key, JsonPosition *position);

#endif							/* JSON_POSITION_H */
