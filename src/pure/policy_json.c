/*
 * policy_json.c
 *		Parser and validator of the policy document (docs/policy-format.md),
 *		independent of the PostgreSQL backend.
 *
 * A document goes through four stages, each stopping at the first error:
 *
 *	1. syntax: libjson-c parses the text (with a depth limit); the raw-text
 *	   scanner of json_position.c then rejects what json-c lets through
 *	   (duplicate keys, \u0000, single quotes, NaN, ...);
 *	2. structure: every object is read against a table of its fields (type,
 *	   presence, default, value check), building the canonical tree, and
 *	   per-object rules relate its fields (dpa_reference, columns, ...);
 *	3. references within the document: unique names, declared categories,
 *	   sources and purposes;
 *	4. output: the canonical text and the catalog references, with their
 *	   positions found in the original text in one pass.
 *
 * Errors carry the JSON path of the offending value; its line and column
 * are found afterwards by looking the path up in the text.
 *
 * This file must not include PostgreSQL headers: json-c and
 * utils/builtins.h both declare json_object.
 */
#include "pure/policy_json.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "pure/json_position.h"

/* Longest name (purpose, category, ...) in bytes, as for SQL identifiers. */
#define POLICY_NAME_MAX 63

/* Longest policy version, in characters. */
#define POLICY_VERSION_MAX 64

/* Most fields any object of the format has (the top level). */
#define MAX_FIELDS 13

typedef struct ParseContext
{
	const char *text;
	size_t		len;
	const PolicyBuiltins *builtins;
	PolicyParseError *err;
	JsonPath	path;			/* path of the value being checked */
	bool		failed;			/* *err has been filled */
} ParseContext;

typedef struct FieldSpec FieldSpec;
typedef struct ObjectSpec ObjectSpec;
typedef struct Record Record;

/*
 * Checks the value of a field (ctx->path names it) and sets *out to a new
 * reference to its canonical form (NULL for JSON null).  Returns false after
 * reporting an error.
 */
typedef bool (*ValueCheck) (ParseContext *ctx, const FieldSpec *field,
							json_object *in, json_object **out);

typedef enum Presence
{
	REQUIRED,					/* an error if missing */
	DEFAULTED,					/* filled in from default_json if missing */
	OPTIONAL					/* left out if missing, unless rules fill it */
} Presence;

struct FieldSpec
{
	const char *key;
	Presence	presence;
	ValueCheck	check;
	const char *what;			/* noun for messages, e.g. "purpose name" */
	const char *const *choices; /* check_choice: valid values, NULL-ended */
	const ObjectSpec *object;	/* check_object(_list): the members */
	bool		nonempty;		/* check_string_list: at least one element */
	const char *default_json;	/* DEFAULTED: the default, as JSON text */
};

struct ObjectSpec
{
	const FieldSpec *fields;	/* in canonical order */
	int			nfields;
	/* rules across fields, or NULL; may fill OPTIONAL fields */
	bool		(*rules) (ParseContext *ctx, Record *record);
};

/* The canonical values of one object's fields while it is being read. */
struct Record
{
	const ObjectSpec *spec;
	bool		set[MAX_FIELDS];	/* the field has a value (maybe null) */
	json_object *value[MAX_FIELDS];
};

#define lengthof(array) ((int) (sizeof(array) / sizeof((array)[0])))

/* Lets the compiler check the arguments of the printf-like reporters. */
#ifdef __GNUC__
#define PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PRINTF_LIKE(fmt, first)
#endif

static void format_text(char *buf, size_t size, const char *fmt, va_list ap)
			PRINTF_LIKE(3, 0);
static bool vreport(ParseContext *ctx, bool at_key, const char *hint,
					const char *fmt, va_list ap) PRINTF_LIKE(4, 0);
static bool report(ParseContext *ctx, bool at_key, const char *hint,
				   const char *fmt,...) PRINTF_LIKE(4, 5);
static bool report_at(ParseContext *ctx, const char *key, bool at_key,
					  const char *hint, const char *fmt,...) PRINTF_LIKE(5, 6);
static bool report_syntax(ParseContext *ctx, size_t offset, const char *hint,
						  const char *fmt,...) PRINTF_LIKE(4, 5);
static bool read_object(ParseContext *ctx, const ObjectSpec *spec,
						json_object *in, json_object **out);


/* Error reporting */

/* Cut a truncated buffer back to whole UTF-8 characters. */
static void
trim_partial_utf8(char *buf)
{
	size_t		len = strlen(buf);
	size_t		lead = len;
	unsigned char c;
	size_t		need;

	while (lead > 0 && len - lead < 4 &&
		   ((unsigned char) buf[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	c = (unsigned char) buf[lead - 1];
	if (c < 0xC0)
		return;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	if (len - (lead - 1) < need)
		buf[lead - 1] = '\0';
}

static void
format_text(char *buf, size_t size, const char *fmt, va_list ap)
{
	int			n = vsnprintf(buf, size, fmt, ap);

	if (n < 0)
		buf[0] = '\0';
	else if ((size_t) n >= size)
		trim_partial_utf8(buf);
}

static void
copy_text(char *buf, size_t size, const char *text)
{
	size_t		n = strlen(text);

	if (n >= size)
		n = size - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	trim_partial_utf8(buf);
}

/*
 * Line and column of the error: where its path starts in the text, or else
 * where the nearest enclosing value that is in the text starts (a defaulted
 * field is not in the text).
 */
static void
locate_error(ParseContext *ctx, bool at_key)
{
	JsonPath   *path = &ctx->path;
	char	   *prefix = strdup(path->data);
	JsonPosition pos;
	int			n;

	if (prefix == NULL)
		return;
	for (n = path->depth; n >= 0; n--)
	{
		prefix[json_path_prefix_length(path, n)] = '\0';
		if (json_position_find(ctx->text, ctx->len, prefix,
							   at_key && n == path->depth, &pos))
		{
			ctx->err->line = pos.line;
			ctx->err->column = pos.column;
			break;
		}
	}
	free(prefix);
}

/*
 * Fill *err for an error at the current path (at its key if at_key, else at
 * its value); hint is a full sentence or NULL.  Keeps the first error only.
 * Always returns false.
 */
static bool
vreport(ParseContext *ctx, bool at_key, const char *hint, const char *fmt,
		va_list ap)
{
	PolicyParseError *err = ctx->err;

	if (ctx->failed)
		return false;
	ctx->failed = true;
	if (ctx->path.failed)
	{
		copy_text(err->message, sizeof(err->message), "out of memory");
		return false;
	}
	format_text(err->message, sizeof(err->message), fmt, ap);
	copy_text(err->hint, sizeof(err->hint), hint ? hint : "");
	copy_text(err->path, sizeof(err->path), ctx->path.data);
	locate_error(ctx, at_key);
	return false;
}

static bool
report(ParseContext *ctx, bool at_key, const char *hint, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vreport(ctx, at_key, hint, fmt, ap);
	va_end(ap);
	return false;
}

/* Report an error at the key (or value) of member key of the current object. */
static bool
report_at(ParseContext *ctx, const char *key, bool at_key, const char *hint,
		  const char *fmt,...)
{
	va_list		ap;

	json_path_push_key(&ctx->path, key, strlen(key));
	va_start(ap, fmt);
	vreport(ctx, at_key, hint, fmt, ap);
	va_end(ap);
	json_path_pop(&ctx->path);
	return false;
}

/* Report a syntax error at a byte offset: no path. */
static bool
report_syntax(ParseContext *ctx, size_t offset, const char *hint,
			  const char *fmt,...)
{
	PolicyParseError *err = ctx->err;
	JsonPosition pos;
	va_list		ap;

	if (ctx->failed)
		return false;
	ctx->failed = true;
	va_start(ap, fmt);
	format_text(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	copy_text(err->hint, sizeof(err->hint), hint ? hint : "");
	err->path[0] = '\0';
	pos = json_position_of_offset(ctx->text, ctx->len, offset);
	err->line = pos.line;
	err->column = pos.column;
	return false;
}

static bool
report_out_of_memory(ParseContext *ctx)
{
	if (!ctx->failed)
	{
		ctx->failed = true;
		copy_text(ctx->err->message, sizeof(ctx->err->message),
				  "out of memory");
	}
	return false;
}

/* Write "a", "b" and "c" into buf. */
static void
quoted_list(char *buf, size_t size, const char *const *items, int nitems)
{
	size_t		used = 0;
	int			i;

	buf[0] = '\0';
	for (i = 0; i < nitems && used < size; i++)
	{
		const char *sep = i == 0 ? "" : i == nitems - 1 ? " and " : ", ";
		int			n = snprintf(buf + used, size - used, "%s\"%s\"", sep,
								 items[i]);

		if (n < 0)
			break;
		used += (size_t) n;
	}
}

/* Push "section[index]" and, if given, ".field" onto the path. */
static void
push_item(ParseContext *ctx, const char *section, size_t index,
		  const char *field)
{
	json_path_push_key(&ctx->path, section, strlen(section));
	json_path_push_index(&ctx->path, index);
	if (field != NULL)
		json_path_push_key(&ctx->path, field, strlen(field));
}

static void
pop_item(ParseContext *ctx, const char *field)
{
	if (field != NULL)
		json_path_pop(&ctx->path);
	json_path_pop(&ctx->path);
	json_path_pop(&ctx->path);
}


/* Small helpers on json-c values */

static bool
is_string(json_object *value)
{
	return json_object_is_type(value, json_type_string);
}

static const char *
member_string(json_object *object, const char *key)
{
	return json_object_get_string(json_object_object_get(object, key));
}

/* Length of an array; 0 for anything else (an absent optional field). */
static size_t
array_length(json_object *value)
{
	if (!json_object_is_type(value, json_type_array))
		return 0;
	return json_object_array_length(value);
}

/* A json_object used as a set of strings: true if key was already in it. */
static bool
set_contains(json_object *set, const char *key)
{
	return json_object_object_get_ex(set, key, NULL);
}

static bool
set_add(ParseContext *ctx, json_object *set, const char *key,
		json_object *value)
{
	if (json_object_object_add(set, key, value) != 0)
		return report_out_of_memory(ctx);
	return true;
}

static bool
is_in_list(const char *name, const char *const *list, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], name) == 0)
			return true;
	return false;
}


/* Value checks, one per kind of value in the format */

static bool
check_string(ParseContext *ctx, const FieldSpec *field, json_object *in,
			 json_object **out)
{
	(void) field;
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	*out = json_object_get(in);
	return true;
}

static bool
check_string_or_null(ParseContext *ctx, const FieldSpec *field,
					 json_object *in, json_object **out)
{
	(void) field;
	if (in != NULL && !is_string(in))
		return report(ctx, false, NULL, "expected a string or null");
	*out = json_object_get(in);
	return true;
}

static bool
check_boolean(ParseContext *ctx, const FieldSpec *field, json_object *in,
			  json_object **out)
{
	(void) field;
	if (!json_object_is_type(in, json_type_boolean))
		return report(ctx, false, NULL, "expected a boolean");
	*out = json_object_get(in);
	return true;
}

static bool
check_format(ParseContext *ctx, const FieldSpec *field, json_object *in,
			 json_object **out)
{
	(void) field;
	if (!json_object_is_type(in, json_type_int))
		return report(ctx, false, NULL, "expected an integer");
	if (json_object_get_int64(in) != 1)
		return report(ctx, false,
					  "This version of opendims_privacy reads format 1.",
					  "unsupported format %s", json_object_to_json_string(in));
	*out = json_object_get(in);
	return true;
}

/* A whole number from 1 to 1000000000 (lengths, steps, prefixes). */
static bool
check_positive_integer(ParseContext *ctx, const FieldSpec *field,
					   json_object *in, json_object **out)
{
	(void) field;
	if (!json_object_is_type(in, json_type_int))
		return report(ctx, false, NULL, "expected an integer");
	if (json_object_get_int64(in) < 1 || json_object_get_int64(in) > 1000000000)
		return report(ctx, false, NULL,
					  "expected an integer from 1 to 1000000000");
	*out = json_object_get(in);
	return true;
}

static int
utf8_character_count(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool
check_version(ParseContext *ctx, const FieldSpec *field, json_object *in,
			  json_object **out)
{
	static const char hint[] =
		"A version is 1 to 64 characters long, e.g. \"2026-06-24\".";
	int			n;

	(void) field;
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	n = utf8_character_count(json_object_get_string(in));
	if (n == 0)
		return report(ctx, false, hint, "version must not be empty");
	if (n > POLICY_VERSION_MAX)
		return report(ctx, false, hint, "version is too long");
	*out = json_object_get(in);
	return true;
}

/* Read exactly n decimal digits. */
static bool
read_digits(const char *s, int n, int *value)
{
	int			i;

	*value = 0;
	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		*value = *value * 10 + (s[i] - '0');
	}
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* "MM-DD" of a real day of the given year. */
static bool
is_month_day(const char *s, int year)
{
	int			month;
	int			day;

	return strlen(s) == 5 && read_digits(s, 2, &month) && s[2] == '-' &&
		read_digits(s + 3, 2, &day) && month >= 1 && month <= 12 &&
		day >= 1 && day <= days_in_month(year, month);
}

static bool
check_date(ParseContext *ctx, const FieldSpec *field, json_object *in,
		   json_object **out)
{
	const char *s;
	int			year;

	(void) field;
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	s = json_object_get_string(in);
	if (strlen(s) != 10 || !read_digits(s, 4, &year) || year < 1 ||
		s[4] != '-' || !is_month_day(s + 5, year))
		return report(ctx, false,
					  "Write dates as YYYY-MM-DD, e.g. \"2026-06-24\"; the day must exist.",
					  "invalid date \"%s\"", s);
	*out = json_object_get(in);
	return true;
}

static bool
check_month_day(ParseContext *ctx, const FieldSpec *field, json_object *in,
				json_object **out)
{
	const char *s;

	(void) field;
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	s = json_object_get_string(in);
	if (!is_month_day(s, 2001))
		return report(ctx, false,
					  "Write the last day of the financial year as MM-DD, e.g. \"06-30\"; February 29 is not allowed.",
					  "invalid financial year end \"%s\"", s);
	*out = json_object_get(in);
	return true;
}

/* [a-z][a-z0-9_]* over len bytes */
static bool
is_simple_name(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			  s[i] == '_'))
			return false;
	return true;
}

/* One or more simple names joined by dots. */
static bool
is_dotted_name(const char *s)
{
	const char *dot;

	while ((dot = strchr(s, '.')) != NULL)
	{
		if (!is_simple_name(s, (size_t) (dot - s)))
			return false;
		s = dot + 1;
	}
	return is_simple_name(s, strlen(s));
}

static bool
check_name_common(ParseContext *ctx, const FieldSpec *field, json_object *in,
				  json_object **out, bool dotted)
{
	const char *s;

	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	s = json_object_get_string(in);
	if (dotted ? !is_dotted_name(s) : !is_simple_name(s, strlen(s)))
		return report(ctx, false, dotted ?
					  "A category name is one or more names joined by dots, e.g. \"contact.email\"; each starts with a lower-case letter and has only lower-case letters, digits and underscores." :
					  "A name starts with a lower-case letter and has only lower-case letters, digits and underscores.",
					  "invalid %s \"%s\"", field->what, s);
	if (strlen(s) > POLICY_NAME_MAX)
		return report(ctx, false, "Names are at most 63 bytes long.",
					  "%s \"%s\" is too long", field->what, s);
	*out = json_object_get(in);
	return true;
}

static bool
check_name(ParseContext *ctx, const FieldSpec *field, json_object *in,
		   json_object **out)
{
	return check_name_common(ctx, field, in, out, false);
}

static bool
check_category_name(ParseContext *ctx, const FieldSpec *field,
					json_object *in, json_object **out)
{
	return check_name_common(ctx, field, in, out, true);
}

static bool
check_choice(ParseContext *ctx, const FieldSpec *field, json_object *in,
			 json_object **out)
{
	const char *s;
	char		list[256];
	char		hint[300];
	int			n;

	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	s = json_object_get_string(in);
	for (n = 0; field->choices[n] != NULL; n++)
		if (strcmp(field->choices[n], s) == 0)
		{
			*out = json_object_get(in);
			return true;
		}
	quoted_list(list, sizeof(list), field->choices, n);
	snprintf(hint, sizeof(hint), "Valid values are %s.", list);
	return report(ctx, false, hint, "unrecognized %s \"%s\"", field->what, s);
}

/*
 * "<n> <unit>", n in 1..9999 without leading zeros; canonical with the
 * singular unit for 1 and the plural otherwise.
 */
static bool
check_duration(ParseContext *ctx, const FieldSpec *field, json_object *in,
			   json_object **out)
{
	static const char *const units[] = {"day", "week", "month", "year"};
	const char *s;
	const char *unit;
	int			n = 0;
	int			ndigits = 0;
	int			i;

	(void) field;
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string");
	s = json_object_get_string(in);
	while (ndigits < 5 && s[ndigits] >= '0' && s[ndigits] <= '9')
		n = n * 10 + (s[ndigits++] - '0');
	unit = s[ndigits] == ' ' ? s + ndigits + 1 : "";
	for (i = 0; ndigits >= 1 && ndigits <= 4 && s[0] != '0' &&
		 i < lengthof(units); i++)
	{
		size_t		len = strlen(units[i]);

		if (strncmp(unit, units[i], len) == 0 &&
			(unit[len] == '\0' || (unit[len] == 's' && unit[len + 1] == '\0')))
		{
			char		canonical[32];

			snprintf(canonical, sizeof(canonical), "%d %s%s", n, units[i],
					 n == 1 ? "" : "s");
			*out = json_object_new_string(canonical);
			return *out != NULL || report_out_of_memory(ctx);
		}
	}
	return report(ctx, false,
				  "Write a duration as \"<n> <unit>\" with n from 1 to 9999 and unit day, week, month or year, e.g. \"5 years\".",
				  "invalid duration \"%s\"", s);
}

static bool
check_duration_or_null(ParseContext *ctx, const FieldSpec *field,
					   json_object *in, json_object **out)
{
	if (in == NULL)
	{
		*out = NULL;
		return true;
	}
	if (!is_string(in))
		return report(ctx, false, NULL, "expected a string or null");
	return check_duration(ctx, field, in, out);
}

/* An array of distinct strings; field->what names one element. */
static bool
check_string_list(ParseContext *ctx, const FieldSpec *field, json_object *in,
				  json_object **out)
{
	json_object *seen;
	size_t		n;
	size_t		i;
	bool		ok = true;

	if (!json_object_is_type(in, json_type_array))
		return report(ctx, false, NULL, "expected an array");
	n = array_length(in);
	if (n == 0 && field->nonempty)
		return report(ctx, false, NULL, "expected a non-empty array");
	seen = json_object_new_object();
	if (seen == NULL)
		return report_out_of_memory(ctx);
	for (i = 0; ok && i < n; i++)
	{
		json_object *item = json_object_array_get_idx(in, i);

		json_path_push_index(&ctx->path, i);
		if (!is_string(item))
			ok = report(ctx, false, NULL, "expected a string");
		else if (set_contains(seen, json_object_get_string(item)))
			ok = report(ctx, false, NULL, "duplicate %s \"%s\"", field->what,
						json_object_get_string(item));
		else
			ok = set_add(ctx, seen, json_object_get_string(item), NULL);
		json_path_pop(&ctx->path);
	}
	json_object_put(seen);
	if (ok)
		*out = json_object_get(in);
	return ok;
}

static bool
check_object(ParseContext *ctx, const FieldSpec *field, json_object *in,
			 json_object **out)
{
	return read_object(ctx, field->object, in, out);
}

static bool
check_object_list(ParseContext *ctx, const FieldSpec *field, json_object *in,
				  json_object **out)
{
	json_object *list;
	size_t		n;
	size_t		i;

	if (!json_object_is_type(in, json_type_array))
		return report(ctx, false, NULL, "expected an array");
	list = json_object_new_array();
	if (list == NULL)
		return report_out_of_memory(ctx);
	n = array_length(in);
	for (i = 0; i < n; i++)
	{
		json_object *item = NULL;
		bool		ok;

		json_path_push_index(&ctx->path, i);
		ok = read_object(ctx, field->object,
						 json_object_array_get_idx(in, i), &item);
		json_path_pop(&ctx->path);
		if (ok && json_object_array_add(list, item) != 0)
		{
			json_object_put(item);
			ok = report_out_of_memory(ctx);
		}
		if (!ok)
		{
			json_object_put(list);
			return false;
		}
	}
	*out = list;
	return true;
}


/* Records: the fields of one object */

static int
field_index(const ObjectSpec *spec, const char *key)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (strcmp(spec->fields[i].key, key) == 0)
			return i;
	return -1;
}

static bool
record_has(const Record *rec, const char *key)
{
	return rec->set[field_index(rec->spec, key)];
}

static json_object *
record_value(const Record *rec, const char *key)
{
	return rec->value[field_index(rec->spec, key)];
}

static const char *
record_string(const Record *rec, const char *key)
{
	return json_object_get_string(record_value(rec, key));
}

/* Give a field a value (takes over the reference). */
static bool
record_set(ParseContext *ctx, Record *rec, const char *key,
		   json_object *value)
{
	int			i = field_index(rec->spec, key);

	if (value == NULL)
		return report_out_of_memory(ctx);
	json_object_put(rec->value[i]);
	rec->value[i] = value;
	rec->set[i] = true;
	return true;
}


/* Rules across the fields of one object */

static bool
recipient_rules(ParseContext *ctx, Record *rec)
{
	const char *kind = record_string(rec, "kind");
	bool		has_dpa = record_has(rec, "dpa_reference");

	if (strcmp(kind, "processor") == 0 && !has_dpa)
		return report(ctx, false,
					  "A recipient of kind \"processor\" needs the reference of its data processing agreement.",
					  "missing required key \"dpa_reference\"");
	if (strcmp(kind, "processor") != 0 && has_dpa)
		return report_at(ctx, "dpa_reference", true,
						 "Only recipients of kind \"processor\" have a data processing agreement reference.",
						 "unexpected key \"dpa_reference\" for a recipient of kind \"%s\"",
						 kind);
	return true;
}

/* paths[].table values are unique within a subject kind. */
static bool
subject_kind_rules(ParseContext *ctx, Record *rec)
{
	json_object *paths = record_value(rec, "paths");
	json_object *seen = json_object_new_object();
	size_t		n = array_length(paths);
	size_t		i;
	bool		ok = seen != NULL || report_out_of_memory(ctx);

	for (i = 0; ok && i < n; i++)
	{
		const char *table = member_string(json_object_array_get_idx(paths, i),
										  "table");

		push_item(ctx, "paths", i, "table");
		if (set_contains(seen, table))
			ok = report(ctx, false, NULL, "duplicate path for table \"%s\"",
						table);
		else
			ok = set_add(ctx, seen, table, NULL);
		pop_item(ctx, "table");
	}
	json_object_put(seen);
	return ok;
}

/*
 * columns must suit the action; minimum_from only comes with a minimum, and
 * defaults to "anchor" when there is one.
 */
static bool
retention_rule_rules(ParseContext *ctx, Record *rec)
{
	const char *action = record_string(rec, "action");
	bool		has_columns = record_has(rec, "columns");
	size_t		ncolumns = array_length(record_value(rec, "columns"));
	bool		has_minimum = record_value(rec, "minimum") != NULL;
	char		hint[128];

	snprintf(hint, sizeof(hint),
			 "A rule with action \"%s\" lists the columns it changes.", action);
	if (strcmp(action, "delete") == 0)
	{
		if (ncolumns > 0)
			return report_at(ctx, "columns", false,
							 "A \"delete\" rule removes whole rows; remove \"columns\" or choose another action.",
							 "action \"delete\" does not take columns");
		if (!has_columns &&
			!record_set(ctx, rec, "columns", json_object_new_array()))
			return false;
	}
	else if (!has_columns)
		return report(ctx, false, hint, "missing required key \"columns\"");
	else if (ncolumns == 0)
		return report_at(ctx, "columns", false, hint,
						 "action \"%s\" needs at least one column", action);

	if (record_has(rec, "minimum_from") && !has_minimum)
		return report_at(ctx, "minimum_from", true,
						 "Add a \"minimum\" duration or remove \"minimum_from\".",
						 "key \"minimum_from\" requires \"minimum\"");
	if (!record_has(rec, "minimum_from") && has_minimum)
		return record_set(ctx, rec, "minimum_from",
						  json_object_new_string("anchor"));
	return true;
}


/*
 * A masking rule names a category or a table and column, and takes exactly
 * the parameters its method needs.
 */
static bool
masking_rule_rules(ParseContext *ctx, Record *rec)
{
	static const struct
	{
		const char *method;
		const char *parameter;
	}			parameters[] = {
		{"constant", "value"},
		{"range", "step"},
		{"network", "prefix"},
		{"first_letters", "length"},
	};
	const char *method = record_string(rec, "method");
	bool		has_category = record_has(rec, "category");
	bool		has_table = record_has(rec, "table");
	bool		has_column = record_has(rec, "column");
	int			i;

	if (has_category && (has_table || has_column))
		return report_at(ctx, has_table ? "table" : "column", true,
						 "A masking rule names either a category or a table and a column.",
						 "masking rule names both a category and a column");
	if (!has_category && !(has_table && has_column))
		return report(ctx, false,
					  "A masking rule names either a category or a table and a column.",
					  "missing required key \"%s\"",
					  has_table ? "column" : has_column ? "table" : "category");
	for (i = 0; i < lengthof(parameters); i++)
	{
		bool		needed = strcmp(method, parameters[i].method) == 0;
		bool		present = record_has(rec, parameters[i].parameter);
		char		hint[128];

		if (needed && !present)
		{
			snprintf(hint, sizeof(hint),
					 "Method \"%s\" takes the parameter \"%s\".",
					 method, parameters[i].parameter);
			return report(ctx, false, hint, "missing required key \"%s\"",
						  parameters[i].parameter);
		}
		if (!needed && present)
		{
			snprintf(hint, sizeof(hint),
					 "Only method \"%s\" takes the parameter \"%s\".",
					 parameters[i].method, parameters[i].parameter);
			return report_at(ctx, parameters[i].parameter, true, hint,
							 "unexpected key \"%s\" for masking method \"%s\"",
							 parameters[i].parameter, method);
		}
	}
	if (strcmp(method, "network") == 0 &&
		json_object_get_int64(record_value(rec, "prefix")) > 128)
		return report_at(ctx, "prefix", false,
						 "A network prefix is at most 32 bits for IPv4 and 128 for IPv6.",
						 "network prefix %lld is out of range",
						 (long long) json_object_get_int64(record_value(rec, "prefix")));
	return true;
}


/* The format, as tables: one per kind of object, keys in canonical order */

static const char *const legal_bases[] = {
	"contract", "legitimate_interest", "consent", "legal_obligation", NULL
};
static const char *const recipient_kinds[] = {
	"internal", "processor", "authority", NULL
};
static const char *const retention_actions[] = {
	"delete", "anonymize", "truncate_ip", NULL
};
static const char *const minimum_starts[] = {
	"anchor", "end_of_financial_year", NULL
};

static const char *const masking_methods[] = {
	"mask", "pseudonymize", "null", "constant", "month", "year", "range",
	"network", "first_letters", NULL
};

#define REQUIRED_STRING(k) {.key = k, .presence = REQUIRED, .check = check_string}
#define REQUIRED_NAME(k, noun) {.key = k, .presence = REQUIRED, .check = check_name, .what = noun}
#define REQUIRED_CHOICE(k, noun, valid) \
	{.key = k, .presence = REQUIRED, .check = check_choice, .what = noun, .choices = valid}
#define DESCRIPTION \
	{.key = "description", .presence = DEFAULTED, .check = check_string, .default_json = "\"\""}
#define SECTION(k, spec) \
	{.key = k, .presence = DEFAULTED, .check = check_object_list, .object = &spec, .default_json = "[]"}
#define OBJECT_SPEC(fields, rules) {fields, lengthof(fields), rules}

static const FieldSpec controller_fields[] = {
	REQUIRED_STRING("name"),
	REQUIRED_STRING("contact"),
	{.key = "trading_as", .presence = DEFAULTED, .check = check_string_or_null, .default_json = "null"},
	{.key = "financial_year_end", .presence = DEFAULTED, .check = check_month_day, .default_json = "\"12-31\""},
};
static const ObjectSpec controller_spec = OBJECT_SPEC(controller_fields, NULL);

static const FieldSpec purpose_fields[] = {
	REQUIRED_NAME("name", "purpose name"),
	REQUIRED_CHOICE("legal_basis", "legal basis", legal_bases),
	DESCRIPTION,
	{.key = "allowed_under_restriction", .presence = DEFAULTED, .check = check_boolean, .default_json = "false"},
};
static const ObjectSpec purpose_spec = OBJECT_SPEC(purpose_fields, NULL);

static const FieldSpec category_fields[] = {
	{.key = "name", .presence = REQUIRED, .check = check_category_name, .what = "category name"},
	DESCRIPTION,
};
static const ObjectSpec category_spec = OBJECT_SPEC(category_fields, NULL);

static const FieldSpec special_category_fields[] = {
	{.key = "name", .presence = REQUIRED, .check = check_category_name, .what = "special category name"},
	DESCRIPTION,
};
static const ObjectSpec special_category_spec = OBJECT_SPEC(special_category_fields, NULL);

static const FieldSpec source_fields[] = {
	REQUIRED_NAME("name", "source name"),
	DESCRIPTION,
};
static const ObjectSpec source_spec = OBJECT_SPEC(source_fields, NULL);

static const FieldSpec recipient_fields[] = {
	REQUIRED_NAME("name", "recipient name"),
	REQUIRED_CHOICE("kind", "recipient kind", recipient_kinds),
	{.key = "dpa_reference", .presence = OPTIONAL, .check = check_string},
	{.key = "purposes", .presence = DEFAULTED, .check = check_string_list, .what = "purpose", .default_json = "[]"},
	DESCRIPTION,
};
static const ObjectSpec recipient_spec = OBJECT_SPEC(recipient_fields, recipient_rules);

static const FieldSpec path_fields[] = {
	REQUIRED_STRING("table"),
	{.key = "via", .presence = REQUIRED, .check = check_string_list, .what = "constraint name", .nonempty = true},
};
static const ObjectSpec path_spec = OBJECT_SPEC(path_fields, NULL);

static const FieldSpec subject_kind_fields[] = {
	REQUIRED_NAME("name", "subject kind name"),
	REQUIRED_STRING("table"),
	REQUIRED_STRING("key"),
	DESCRIPTION,
	{.key = "paths", .presence = DEFAULTED, .check = check_object_list, .object = &path_spec, .default_json = "[]"},
};
static const ObjectSpec subject_kind_spec = OBJECT_SPEC(subject_kind_fields, subject_kind_rules);

static const FieldSpec classification_fields[] = {
	REQUIRED_STRING("table"),
	REQUIRED_STRING("column"),
	REQUIRED_STRING("category"),
	{.key = "source", .presence = DEFAULTED, .check = check_string, .default_json = "\"direct\""},
};
static const ObjectSpec classification_spec = OBJECT_SPEC(classification_fields, NULL);

static const FieldSpec retention_rule_fields[] = {
	REQUIRED_NAME("name", "retention rule name"),
	REQUIRED_STRING("table"),
	REQUIRED_STRING("anchor"),
	{.key = "period", .presence = REQUIRED, .check = check_duration},
	REQUIRED_CHOICE("action", "retention action", retention_actions),
	{.key = "columns", .presence = OPTIONAL, .check = check_string_list, .what = "column"},
	REQUIRED_CHOICE("legal_basis", "legal basis", legal_bases),
	{.key = "minimum", .presence = DEFAULTED, .check = check_duration_or_null, .default_json = "null"},
	{.key = "minimum_from", .presence = OPTIONAL, .check = check_choice, .what = "minimum start", .choices = minimum_starts},
	DESCRIPTION,
};
static const ObjectSpec retention_rule_spec = OBJECT_SPEC(retention_rule_fields, retention_rule_rules);

static const FieldSpec masking_rule_fields[] = {
	{.key = "category", .presence = OPTIONAL, .check = check_string},
	{.key = "table", .presence = OPTIONAL, .check = check_string},
	{.key = "column", .presence = OPTIONAL, .check = check_string},
	REQUIRED_CHOICE("method", "masking method", masking_methods),
	{.key = "value", .presence = OPTIONAL, .check = check_string},
	{.key = "step", .presence = OPTIONAL, .check = check_positive_integer},
	{.key = "prefix", .presence = OPTIONAL, .check = check_positive_integer},
	{.key = "length", .presence = OPTIONAL, .check = check_positive_integer},
};
static const ObjectSpec masking_rule_spec = OBJECT_SPEC(masking_rule_fields, masking_rule_rules);

static const FieldSpec masking_fields[] = {
	{.key = "roles", .presence = DEFAULTED, .check = check_string_list, .what = "role", .default_json = "[]"},
	{.key = "recipients", .presence = DEFAULTED, .check = check_string_list, .what = "recipient", .default_json = "[]"},
	SECTION("rules", masking_rule_spec),
};
static const ObjectSpec masking_spec = OBJECT_SPEC(masking_fields, NULL);

static const FieldSpec document_fields[] = {
	{.key = "format", .presence = REQUIRED, .check = check_format},
	{.key = "version", .presence = REQUIRED, .check = check_version},
	{.key = "effective_date", .presence = REQUIRED, .check = check_date},
	{.key = "controller", .presence = REQUIRED, .check = check_object, .object = &controller_spec},
	SECTION("purposes", purpose_spec),
	SECTION("categories", category_spec),
	SECTION("special_categories", special_category_spec),
	SECTION("sources", source_spec),
	SECTION("recipients", recipient_spec),
	SECTION("subject_kinds", subject_kind_spec),
	SECTION("classifications", classification_spec),
	SECTION("retention_rules", retention_rule_spec),
	{.key = "masking", .presence = DEFAULTED, .check = check_object, .object = &masking_spec,
	.default_json = "{\"roles\": [], \"recipients\": [], \"rules\": []}"},
};
static const ObjectSpec document_spec = OBJECT_SPEC(document_fields, NULL);


/* Reading an object against its table */

static bool
check_known_keys(ParseContext *ctx, const ObjectSpec *spec, json_object *in)
{
	struct json_object_iter member;

	json_object_object_foreachC(in, member)
	{
		const char *keys[MAX_FIELDS];
		char		list[400];
		char		hint[450];
		int			i;

		if (field_index(spec, member.key) >= 0)
			continue;
		for (i = 0; i < spec->nfields; i++)
			keys[i] = spec->fields[i].key;
		quoted_list(list, sizeof(list), keys, spec->nfields);
		snprintf(hint, sizeof(hint), "Valid keys here are %s.", list);
		return report_at(ctx, member.key, true, hint,
						 "unrecognized key \"%s\"", member.key);
	}
	return true;
}

static bool
check_required_keys(ParseContext *ctx, const ObjectSpec *spec,
					json_object *in)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].presence == REQUIRED &&
			!json_object_object_get_ex(in, spec->fields[i].key, NULL))
			return report(ctx, false, NULL, "missing required key \"%s\"",
						  spec->fields[i].key);
	return true;
}

static bool
default_value(ParseContext *ctx, const FieldSpec *field, json_object **out)
{
	if (strcmp(field->default_json, "null") == 0)
	{
		*out = NULL;
		return true;
	}
	*out = json_tokener_parse(field->default_json);
	return *out != NULL || report_out_of_memory(ctx);
}

static bool
read_fields(ParseContext *ctx, Record *rec, json_object *in)
{
	int			i;

	for (i = 0; i < rec->spec->nfields; i++)
	{
		const FieldSpec *field = &rec->spec->fields[i];
		json_object *value;
		bool		ok = true;

		if (json_object_object_get_ex(in, field->key, &value))
		{
			json_path_push_key(&ctx->path, field->key, strlen(field->key));
			ok = rec->set[i] = field->check(ctx, field, value, &rec->value[i]);
			json_path_pop(&ctx->path);
		}
		else if (field->presence == DEFAULTED)
			ok = rec->set[i] = default_value(ctx, field, &rec->value[i]);
		if (!ok)
			return false;
	}
	return true;
}

/* The canonical object: the fields that have a value, in table order. */
static bool
build_object(ParseContext *ctx, Record *rec, json_object **out)
{
	json_object *object = json_object_new_object();
	int			i;

	if (object == NULL)
		return report_out_of_memory(ctx);
	for (i = 0; i < rec->spec->nfields; i++)
	{
		if (!rec->set[i])
			continue;
		if (json_object_object_add(object, rec->spec->fields[i].key,
								   rec->value[i]) != 0)
		{
			json_object_put(object);
			return report_out_of_memory(ctx);
		}
		rec->value[i] = NULL;
		rec->set[i] = false;
	}
	*out = object;
	return true;
}

/* Check an object (ctx->path names it) and set *out to its canonical form. */
static bool
read_object(ParseContext *ctx, const ObjectSpec *spec, json_object *in,
			json_object **out)
{
	Record		rec;
	bool		ok;
	int			i;

	if (!json_object_is_type(in, json_type_object))
		return report(ctx, false, NULL, "expected an object");
	if (!check_known_keys(ctx, spec, in) ||
		!check_required_keys(ctx, spec, in))
		return false;
	memset(&rec, 0, sizeof(rec));
	rec.spec = spec;
	ok = read_fields(ctx, &rec, in) &&
		(spec->rules == NULL || spec->rules(ctx, &rec)) &&
		build_object(ctx, &rec, out);
	for (i = 0; i < spec->nfields; i++)
		json_object_put(rec.value[i]);
	return ok;
}


/* References within the document */

static json_object *
section(json_object *doc, const char *key)
{
	return json_object_object_get(doc, key);
}

/* Names are unique within each of these sections. */
static bool
check_unique_names(ParseContext *ctx, json_object *doc)
{
	static const struct
	{
		const char *section;
		const char *what;
	}			named[] = {
		{"purposes", "purpose name"},
		{"sources", "source name"},
		{"recipients", "recipient name"},
		{"subject_kinds", "subject kind name"},
		{"retention_rules", "retention rule name"},
	};
	int			s;
	bool		ok = true;

	for (s = 0; ok && s < lengthof(named); s++)
	{
		json_object *items = section(doc, named[s].section);
		json_object *seen = json_object_new_object();
		size_t		n = array_length(items);
		size_t		i;

		ok = seen != NULL || report_out_of_memory(ctx);
		for (i = 0; ok && i < n; i++)
		{
			const char *name = member_string(json_object_array_get_idx(items, i),
											 "name");

			push_item(ctx, named[s].section, i, "name");
			if (set_contains(seen, name))
				ok = report(ctx, false, NULL, "duplicate %s \"%s\"",
							named[s].what, name);
			else
				ok = set_add(ctx, seen, name, NULL);
			pop_item(ctx, "name");
		}
		json_object_put(seen);
	}
	return ok;
}

typedef enum CategoryKind
{
	CATEGORY_NONE,
	CATEGORY_REGULAR,
	CATEGORY_SPECIAL
} CategoryKind;

static const struct
{
	const char *section;
	CategoryKind kind;
	const char *what;
}			category_sections[] = {
	{"categories", CATEGORY_REGULAR, "category"},
	{"special_categories", CATEGORY_SPECIAL, "special category"},
};

static const char *
category_noun(CategoryKind kind)
{
	return kind == CATEGORY_SPECIAL ? "special category" : "category";
}

static CategoryKind
builtin_category_kind(const PolicyBuiltins *builtins, const char *name)
{
	if (is_in_list(name, builtins->categories, builtins->ncategories))
		return CATEGORY_REGULAR;
	if (is_in_list(name, builtins->special_categories, builtins->nspecial))
		return CATEGORY_SPECIAL;
	return CATEGORY_NONE;
}

/* Kind of a category declared in the document (in declared) or built in. */
static CategoryKind
category_kind(ParseContext *ctx, json_object *declared, const char *name)
{
	json_object *kind;

	if (json_object_object_get_ex(declared, name, &kind))
		return (CategoryKind) json_object_get_int(kind);
	return builtin_category_kind(ctx->builtins, name);
}

/* A declared category: new to the document, and not built in as the other kind. */
static bool
declare_category(ParseContext *ctx, json_object *declared, const char *name,
				 CategoryKind kind)
{
	json_object *prior;
	json_object *value;
	CategoryKind builtin;

	if (json_object_object_get_ex(declared, name, &prior))
	{
		CategoryKind prior_kind = (CategoryKind) json_object_get_int(prior);

		if (prior_kind == kind)
			return report(ctx, false, NULL, "duplicate %s name \"%s\"",
						  category_noun(kind), name);
		return report(ctx, false,
					  "A name cannot be both a category and a special category.",
					  "%s \"%s\" is also declared as a %s",
					  category_noun(kind), name, category_noun(prior_kind));
	}
	builtin = builtin_category_kind(ctx->builtins, name);
	if (builtin != CATEGORY_NONE && builtin != kind)
		return report(ctx, false,
					  "A name cannot be both a category and a special category.",
					  "%s \"%s\" is a built-in %s",
					  category_noun(kind), name, category_noun(builtin));
	value = json_object_new_int((int) kind);
	if (value == NULL)
		return report_out_of_memory(ctx);
	return set_add(ctx, declared, name, value);
}

/*
 * Every prefix of a dotted category name is a category; a regular category
 * cannot sit under a special one.
 */
static bool
check_category_parents(ParseContext *ctx, json_object *declared,
					   const char *name, CategoryKind kind)
{
	char		parent[POLICY_NAME_MAX + 1];
	const char *dot;
	char		hint[200];

	for (dot = strchr(name, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
	{
		CategoryKind parent_kind;

		snprintf(parent, sizeof(parent), "%.*s", (int) (dot - name), name);
		parent_kind = category_kind(ctx, declared, parent);
		if (parent_kind == CATEGORY_NONE)
		{
			snprintf(hint, sizeof(hint),
					 "Declare \"%s\" in \"categories\" or use a built-in category.",
					 parent);
			return report(ctx, false, hint,
						  "unrecognized parent category \"%s\" of \"%s\"",
						  parent, name);
		}
		if (parent_kind == CATEGORY_SPECIAL && kind == CATEGORY_REGULAR)
			return report(ctx, false,
						  "Declare it in \"special_categories\", or choose a parent that is not special.",
						  "category \"%s\" is under the special category \"%s\"",
						  name, parent);
	}
	return true;
}

/* Visit categories then special categories with fn, pathed at their names. */
static bool
for_each_category(ParseContext *ctx, json_object *doc, json_object *declared,
				  bool (*fn) (ParseContext *ctx, json_object *declared,
							  const char *name, CategoryKind kind))
{
	int			s;

	for (s = 0; s < lengthof(category_sections); s++)
	{
		json_object *items = section(doc, category_sections[s].section);
		size_t		n = array_length(items);
		size_t		i;

		for (i = 0; i < n; i++)
		{
			bool		ok;

			push_item(ctx, category_sections[s].section, i, "name");
			ok = fn(ctx, declared,
					member_string(json_object_array_get_idx(items, i), "name"),
					category_sections[s].kind);
			pop_item(ctx, "name");
			if (!ok)
				return false;
		}
	}
	return true;
}

static bool
check_recipient_purposes(ParseContext *ctx, json_object *doc,
						 json_object *purposes)
{
	json_object *recipients = section(doc, "recipients");
	size_t		n = array_length(recipients);
	size_t		i;

	for (i = 0; i < n; i++)
	{
		json_object *list = json_object_object_get(json_object_array_get_idx(recipients, i),
												   "purposes");
		size_t		m = array_length(list);
		size_t		j;

		for (j = 0; j < m; j++)
		{
			const char *purpose = json_object_get_string(json_object_array_get_idx(list, j));

			if (set_contains(purposes, purpose))
				continue;
			push_item(ctx, "recipients", i, "purposes");
			json_path_push_index(&ctx->path, j);
			report(ctx, false, "Declare the purpose in \"purposes\".",
				   "unrecognized purpose \"%s\"", purpose);
			json_path_pop(&ctx->path);
			pop_item(ctx, "purposes");
			return false;
		}
	}
	return true;
}

/* The category of a classification: known and not special. */
static bool
check_classified_category(ParseContext *ctx, json_object *declared,
						  const char *category)
{
	switch (category_kind(ctx, declared, category))
	{
		case CATEGORY_NONE:
			return report(ctx, false,
						  "Declare the category in \"categories\" or use a built-in category.",
						  "unrecognized category \"%s\"", category);
		case CATEGORY_SPECIAL:
			return report(ctx, false,
						  "The policy refuses to hold special categories of data, so nothing may be classified into them.",
						  "category \"%s\" is a special category", category);
		case CATEGORY_REGULAR:
			break;
	}
	return true;
}

/* Record a (table, column) pair; *added tells whether it was new. */
static bool
add_column_pair(ParseContext *ctx, json_object *pairs, const char *table,
				const char *column, bool *added)
{
	json_object *columns;

	*added = false;
	if (!json_object_object_get_ex(pairs, table, &columns))
	{
		columns = json_object_new_object();
		if (columns == NULL || !set_add(ctx, pairs, table, columns))
			return report_out_of_memory(ctx);
	}
	if (set_contains(columns, column))
		return true;
	*added = true;
	return set_add(ctx, columns, column, NULL);
}

static bool
check_classifications(ParseContext *ctx, json_object *doc,
					  json_object *declared, json_object *sources)
{
	json_object *items = section(doc, "classifications");
	json_object *pairs = json_object_new_object();
	size_t		n = array_length(items);
	size_t		i;
	bool		ok = pairs != NULL || report_out_of_memory(ctx);

	for (i = 0; ok && i < n; i++)
	{
		json_object *item = json_object_array_get_idx(items, i);
		const char *table = member_string(item, "table");
		const char *column = member_string(item, "column");
		const char *source = member_string(item, "source");
		bool		added;

		push_item(ctx, "classifications", i, "category");
		ok = check_classified_category(ctx, declared,
									   member_string(item, "category"));
		pop_item(ctx, "category");
		if (ok && !set_contains(sources, source) &&
			!is_in_list(source, ctx->builtins->sources, ctx->builtins->nsources))
		{
			push_item(ctx, "classifications", i, "source");
			ok = report(ctx, false,
						"Declare the source in \"sources\" or use a built-in source.",
						"unrecognized source \"%s\"", source);
			pop_item(ctx, "source");
		}
		if (ok)
			ok = add_column_pair(ctx, pairs, table, column, &added);
		if (ok && !added)
		{
			push_item(ctx, "classifications", i, NULL);
			ok = report(ctx, false, NULL,
						"duplicate classification of column \"%s\" of table \"%s\"",
						column, table);
			pop_item(ctx, NULL);
		}
	}
	json_object_put(pairs);
	return ok;
}

/* The names declared in one section, as a set. */
static json_object *
declared_names(ParseContext *ctx, json_object *doc, const char *key)
{
	json_object *items = section(doc, key);
	json_object *names = json_object_new_object();
	size_t		n = array_length(items);
	size_t		i;

	if (names == NULL)
	{
		report_out_of_memory(ctx);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (!set_add(ctx, names,
					 member_string(json_object_array_get_idx(items, i), "name"),
					 NULL))
		{
			json_object_put(names);
			return NULL;
		}
	return names;
}

/* Push "masking.section[index]" and, if given, ".field" onto the path. */
static void
push_masking_item(ParseContext *ctx, const char *section, size_t index,
				  const char *field)
{
	json_path_push_key(&ctx->path, "masking", strlen("masking"));
	push_item(ctx, section, index, field);
}

static void
pop_masking_item(ParseContext *ctx, const char *field)
{
	pop_item(ctx, field);
	json_path_pop(&ctx->path);
}

/*
 * Masking: role names are 1..63 bytes, recipients are declared, each rule's
 * category is one that columns may be classified into, and a category or a
 * column has one rule.
 */
static bool
check_masking(ParseContext *ctx, json_object *doc, json_object *categories)
{
	json_object *masking = section(doc, "masking");
	json_object *roles = json_object_object_get(masking, "roles");
	json_object *recipients = json_object_object_get(masking, "recipients");
	json_object *rules = json_object_object_get(masking, "rules");
	json_object *declared = declared_names(ctx, doc, "recipients");
	json_object *targets = json_object_new_object();
	size_t		i;
	bool		ok = declared != NULL && (targets != NULL || report_out_of_memory(ctx));

	for (i = 0; ok && i < array_length(roles); i++)
	{
		size_t		len = strlen(json_object_get_string(json_object_array_get_idx(roles, i)));

		if (len == 0 || len > POLICY_NAME_MAX)
		{
			push_masking_item(ctx, "roles", i, NULL);
			ok = report(ctx, false, NULL,
						"role name must be 1 to %d bytes long", POLICY_NAME_MAX);
			pop_masking_item(ctx, NULL);
		}
	}
	for (i = 0; ok && i < array_length(recipients); i++)
	{
		const char *name = json_object_get_string(json_object_array_get_idx(recipients, i));

		if (set_contains(declared, name))
			continue;
		push_masking_item(ctx, "recipients", i, NULL);
		ok = report(ctx, false, "Declare the recipient in \"recipients\".",
					"unrecognized recipient \"%s\"", name);
		pop_masking_item(ctx, NULL);
	}
	for (i = 0; ok && i < array_length(rules); i++)
	{
		json_object *rule = json_object_array_get_idx(rules, i);
		const char *category = member_string(rule, "category");
		bool		added;

		if (category != NULL)
		{
			push_masking_item(ctx, "rules", i, "category");
			ok = check_classified_category(ctx, categories, category);
			pop_masking_item(ctx, "category");
			if (!ok)
				break;
		}
		ok = add_column_pair(ctx, targets, category ? "" : member_string(rule, "table"),
							 category ? category : member_string(rule, "column"),
							 &added);
		if (ok && !added)
		{
			push_masking_item(ctx, "rules", i, NULL);
			if (category != NULL)
				ok = report(ctx, false, NULL,
							"duplicate masking rule for category \"%s\"", category);
			else
				ok = report(ctx, false, NULL,
							"duplicate masking rule for column \"%s\" of table \"%s\"",
							member_string(rule, "column"), member_string(rule, "table"));
			pop_masking_item(ctx, NULL);
		}
	}
	json_object_put(declared);
	json_object_put(targets);
	return ok;
}

/* Stage 3: everything the document refers to is declared in it or built in. */
static bool
check_references(ParseContext *ctx, json_object *doc)
{
	json_object *categories = json_object_new_object();
	json_object *purposes = NULL;
	json_object *sources = NULL;
	bool		ok;

	ok = (categories != NULL || report_out_of_memory(ctx)) &&
		check_unique_names(ctx, doc) &&
		for_each_category(ctx, doc, categories, declare_category) &&
		for_each_category(ctx, doc, categories, check_category_parents) &&
		(purposes = declared_names(ctx, doc, "purposes")) != NULL &&
		check_recipient_purposes(ctx, doc, purposes) &&
		(sources = declared_names(ctx, doc, "sources")) != NULL &&
		check_classifications(ctx, doc, categories, sources) &&
		check_masking(ctx, doc, categories);
	json_object_put(categories);
	json_object_put(purposes);
	json_object_put(sources);
	return ok;
}


/* Canonical text: two-space indentation, arrays of scalars on one line */

static bool
emit(struct printbuf *pb, const char *text)
{
	return text != NULL && printbuf_memappend(pb, text, (int) strlen(text)) >= 0;
}

static bool
emit_indent(struct printbuf *pb, int depth)
{
	int			i;

	for (i = 0; i < depth; i++)
		if (!emit(pb, "  "))
			return false;
	return true;
}

static bool
is_container(json_object *value)
{
	return json_object_is_type(value, json_type_object) ||
		json_object_is_type(value, json_type_array);
}

static bool emit_value(struct printbuf *pb, json_object *value, int depth);

static bool
emit_object(struct printbuf *pb, json_object *object, int depth)
{
	struct json_object_iter member;
	bool		first = true;

	if (json_object_object_length(object) == 0)
		return emit(pb, "{}");
	if (!emit(pb, "{\n"))
		return false;
	json_object_object_foreachC(object, member)
	{
		if ((!first && !emit(pb, ",\n")) || !emit_indent(pb, depth + 1) ||
			!emit(pb, "\"") || !emit(pb, member.key) || !emit(pb, "\": ") ||
			!emit_value(pb, member.val, depth + 1))
			return false;
		first = false;
	}
	return emit(pb, "\n") && emit_indent(pb, depth) && emit(pb, "}");
}

static bool
emit_array(struct printbuf *pb, json_object *array, int depth)
{
	size_t		n = array_length(array);
	bool		inline_items = true;
	size_t		i;

	if (n == 0)
		return emit(pb, "[]");
	for (i = 0; i < n; i++)
		if (is_container(json_object_array_get_idx(array, i)))
			inline_items = false;
	if (!emit(pb, inline_items ? "[" : "[\n"))
		return false;
	for (i = 0; i < n; i++)
	{
		if (i > 0 && !emit(pb, inline_items ? ", " : ",\n"))
			return false;
		if ((!inline_items && !emit_indent(pb, depth + 1)) ||
			!emit_value(pb, json_object_array_get_idx(array, i), depth + 1))
			return false;
	}
	if (inline_items)
		return emit(pb, "]");
	return emit(pb, "\n") && emit_indent(pb, depth) && emit(pb, "]");
}

static bool
emit_value(struct printbuf *pb, json_object *value, int depth)
{
	if (json_object_is_type(value, json_type_object))
		return emit_object(pb, value, depth);
	if (json_object_is_type(value, json_type_array))
		return emit_array(pb, value, depth);
	return emit(pb, json_object_to_json_string_ext(value,
												   JSON_C_TO_STRING_PLAIN |
												   JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Stage 4: the canonical text of the canonical tree. */
static bool
write_canonical(ParseContext *ctx, json_object *doc, PolicyParsed *out)
{
	struct printbuf *pb = printbuf_new();
	bool		ok;

	if (pb == NULL)
		return report_out_of_memory(ctx);
	ok = emit_value(pb, doc, 0);
	if (ok)
		out->canonical = strdup(pb->buf);
	printbuf_free(pb);
	if (!ok || out->canonical == NULL)
		return report_out_of_memory(ctx);
	return true;
}


/* Catalog references */

typedef struct RefList
{
	PolicyRef  *refs;
	int			nrefs;
	int			cap;
} RefList;

/* Add a reference at the current path: a column of table, or table itself. */
static bool
add_ref(ParseContext *ctx, RefList *list, const char *table,
		const char *column)
{
	PolicyRef  *ref;

	if (list->nrefs == list->cap)
	{
		int			newcap = list->cap ? list->cap * 2 : 16;
		PolicyRef  *refs;

		if (newcap > INT_MAX / (int) sizeof(PolicyRef))
			return report_out_of_memory(ctx);
		refs = realloc(list->refs, (size_t) newcap * sizeof(PolicyRef));
		if (refs == NULL)
			return report_out_of_memory(ctx);
		list->refs = refs;
		list->cap = newcap;
	}
	ref = &list->refs[list->nrefs++];
	memset(ref, 0, sizeof(*ref));
	ref->kind = column ? POLICY_REF_COLUMN : POLICY_REF_TABLE;
	ref->table = strdup(table);
	ref->column = column ? strdup(column) : NULL;
	ref->path = ctx->path.failed ? NULL : strdup(ctx->path.data);
	if (ref->table == NULL || ref->path == NULL ||
		(column != NULL && ref->column == NULL))
		return report_out_of_memory(ctx);
	return true;
}

/* Reference to the table (or, given table, the column) in item's member key. */
static bool
add_member_ref(ParseContext *ctx, RefList *list, json_object *item,
			   const char *key, const char *table)
{
	const char *value = member_string(item, key);
	bool		ok;

	json_path_push_key(&ctx->path, key, strlen(key));
	ok = table ? add_ref(ctx, list, table, value) :
		add_ref(ctx, list, value, NULL);
	json_path_pop(&ctx->path);
	return ok;
}

/* References to the elements of item's array member key. */
static bool
add_list_refs(ParseContext *ctx, RefList *list, json_object *item,
			  const char *key, const char *field, const char *table)
{
	json_object *array = json_object_object_get(item, key);
	size_t		n = array_length(array);
	size_t		i;
	bool		ok = true;

	json_path_push_key(&ctx->path, key, strlen(key));
	for (i = 0; ok && i < n; i++)
	{
		json_object *element = json_object_array_get_idx(array, i);

		json_path_push_index(&ctx->path, i);
		if (field != NULL)
			ok = add_member_ref(ctx, list, element, field, NULL);
		else
			ok = add_ref(ctx, list, table, json_object_get_string(element));
		json_path_pop(&ctx->path);
	}
	json_path_pop(&ctx->path);
	return ok;
}

static bool
subject_kind_refs(ParseContext *ctx, RefList *list, json_object *item)
{
	const char *table = member_string(item, "table");

	if (!add_member_ref(ctx, list, item, "table", NULL) ||
		!add_member_ref(ctx, list, item, "key", table))
		return false;
	list->refs[list->nrefs - 1].subject_key = true;
	return add_list_refs(ctx, list, item, "paths", "table", NULL);
}

static bool
classification_refs(ParseContext *ctx, RefList *list, json_object *item)
{
	const char *table = member_string(item, "table");

	return add_member_ref(ctx, list, item, "table", NULL) &&
		add_member_ref(ctx, list, item, "column", table);
}

static bool
retention_rule_refs(ParseContext *ctx, RefList *list, json_object *item)
{
	const char *table = member_string(item, "table");

	return add_member_ref(ctx, list, item, "table", NULL) &&
		add_member_ref(ctx, list, item, "anchor", table) &&
		add_list_refs(ctx, list, item, "columns", NULL, table);
}

/* References of the masking rules that name a table and a column. */
static bool
masking_refs(ParseContext *ctx, RefList *list, json_object *doc)
{
	json_object *rules = json_object_object_get(section(doc, "masking"), "rules");
	size_t		i;
	bool		ok = true;

	for (i = 0; ok && i < array_length(rules); i++)
	{
		json_object *rule = json_object_array_get_idx(rules, i);

		if (member_string(rule, "table") == NULL)
			continue;
		push_masking_item(ctx, "rules", i, NULL);
		ok = classification_refs(ctx, list, rule);
		pop_masking_item(ctx, NULL);
	}
	return ok;
}

/* Fill in the line and column of every reference, in one pass. */
static bool
locate_refs(ParseContext *ctx, RefList *list)
{
	JsonLocation *locs;
	int			i;

	if (list->nrefs == 0)
		return true;
	locs = calloc((size_t) list->nrefs, sizeof(JsonLocation));
	if (locs == NULL)
		return report_out_of_memory(ctx);
	for (i = 0; i < list->nrefs; i++)
		locs[i].path = list->refs[i].path;
	if (!json_position_locate(ctx->text, ctx->len, locs, (size_t) list->nrefs))
	{
		free(locs);
		return report_out_of_memory(ctx);
	}
	for (i = 0; i < list->nrefs; i++)
	{
		list->refs[i].line = locs[i].position.line;
		list->refs[i].column_no = locs[i].position.column;
	}
	free(locs);
	return true;
}

/* Stage 4: the catalog objects named by the document, in document order. */
static bool
collect_refs(ParseContext *ctx, json_object *doc, PolicyParsed *out)
{
	static const struct
	{
		const char *section;
		bool		(*refs) (ParseContext *ctx, RefList *list, json_object *item);
	}			sections[] = {
		{"subject_kinds", subject_kind_refs},
		{"classifications", classification_refs},
		{"retention_rules", retention_rule_refs},
	};
	RefList		list = {0};
	int			s;
	bool		ok = true;

	for (s = 0; ok && s < lengthof(sections); s++)
	{
		json_object *items = section(doc, sections[s].section);
		size_t		n = array_length(items);
		size_t		i;

		for (i = 0; ok && i < n; i++)
		{
			push_item(ctx, sections[s].section, i, NULL);
			ok = sections[s].refs(ctx, &list, json_object_array_get_idx(items, i));
			pop_item(ctx, NULL);
		}
	}
	ok = ok && masking_refs(ctx, &list, doc) && locate_refs(ctx, &list);
	out->refs = list.refs;
	out->nrefs = list.nrefs;
	return ok;
}


/* Stage 1: syntax */

static bool
report_bad_byte(ParseContext *ctx, size_t offset, size_t seqlen)
{
	char		bytes[32] = "";
	size_t		i;

	for (i = 0; i < seqlen && i < 4; i++)
		snprintf(bytes + strlen(bytes), sizeof(bytes) - strlen(bytes),
				 "%s0x%02x", i ? " " : "",
				 (unsigned char) ctx->text[offset + i]);
	return report_syntax(ctx, offset, NULL,
						 "invalid byte sequence for encoding \"UTF8\": %s",
						 bytes);
}

static bool
report_scan_problem(ParseContext *ctx, const JsonProblem *problem)
{
	switch (problem->kind)
	{
		case JSON_PROBLEM_NONE:
			return true;
		case JSON_PROBLEM_SYNTAX:
			return report_syntax(ctx, problem->offset, NULL, "invalid JSON: %s",
								 problem->what);
		case JSON_PROBLEM_OUT_OF_MEMORY:
			return report_out_of_memory(ctx);
		case JSON_PROBLEM_DUPLICATE_KEY:
			report_syntax(ctx, problem->offset,
						  "Each key may appear only once in an object.",
						  "duplicate key \"%s\"", problem->key);
			break;
		case JSON_PROBLEM_NUL_ESCAPE:
			report_syntax(ctx, problem->offset,
						  "Strings in a policy document cannot contain \\u0000.",
						  "unsupported Unicode escape sequence");
			break;
	}
	copy_text(ctx->err->path, sizeof(ctx->err->path), problem->path);
	return false;
}

/* Message for a json-c error, PostgreSQL style. */
static bool
report_json_c_error(ParseContext *ctx, enum json_tokener_error jerr,
					size_t offset)
{
	char		hint[128];

	if (jerr == json_tokener_error_depth)
	{
		snprintf(hint, sizeof(hint),
				 "A policy document nests arrays and objects at most %d levels deep.",
				 POLICY_MAX_DEPTH);
		return report_syntax(ctx, offset, hint, "invalid JSON: nesting too deep");
	}
	if (jerr == json_tokener_error_parse_eof)
		return report_syntax(ctx, offset, NULL,
							 "invalid JSON: unexpected end of input");
	return report_syntax(ctx, offset, NULL, "invalid JSON: %s",
						 json_tokener_error_desc(jerr));
}

/*
 * Parse text[0..end) with json-c, which sees a NUL at end; set *doc (NULL
 * for a document that is just null), or *error_at and *jerr on failure.
 */
static bool
parse_with_json_c(ParseContext *ctx, size_t end, json_object **doc,
				  enum json_tokener_error *jerr, size_t *error_at)
{
	char	   *copy = malloc(end + 1);
	struct json_tokener *tok = json_tokener_new_ex(POLICY_MAX_DEPTH);

	if (copy == NULL || tok == NULL)
	{
		free(copy);
		if (tok != NULL)
			json_tokener_free(tok);
		return report_out_of_memory(ctx);
	}
	memcpy(copy, ctx->text, end);
	copy[end] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
						   JSON_TOKENER_ALLOW_TRAILING_CHARS);
	*doc = json_tokener_parse_ex(tok, copy, (int) end + 1);
	*jerr = json_tokener_get_error(tok);
	*error_at = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	free(copy);
	return true;
}

/*
 * Stage 1: the text is one strict JSON value.  json-c gets the text up to
 * the first byte that cannot appear in JSON (a NUL or invalid UTF-8); the
 * scanner's strict reading wins when it finds a problem earlier than json-c
 * does.
 */
static bool
read_syntax(ParseContext *ctx, json_object **doc)
{
	size_t		seqlen;
	size_t		bad;
	enum json_tokener_error jerr;
	size_t		error_at;
	JsonProblem problem;
	bool		ok;

	if (ctx->len >= INT_MAX)
		return report_syntax(ctx, 0, NULL, "policy document is too large");
	bad = json_position_first_bad_byte(ctx->text, ctx->len, &seqlen);
	if (!parse_with_json_c(ctx, bad, doc, &jerr, &error_at))
		return false;
	json_position_check(ctx->text, bad, &problem);
	if (jerr != json_tokener_success)
	{
		if (problem.kind == JSON_PROBLEM_SYNTAX &&
			problem.offset < error_at && problem.offset < bad)
			ok = report_scan_problem(ctx, &problem);
		else if (jerr == json_tokener_error_parse_eof && error_at >= bad &&
				 bad < ctx->len)
			ok = report_bad_byte(ctx, bad, seqlen);
		else
			ok = report_json_c_error(ctx, jerr, error_at);
	}
	else if (problem.kind != JSON_PROBLEM_NONE)
		ok = report_scan_problem(ctx, &problem);
	else if (bad < ctx->len)
		ok = report_bad_byte(ctx, bad, seqlen);
	else
		ok = true;
	json_problem_free(&problem);
	if (!ok)
	{
		json_object_put(*doc);
		*doc = NULL;
	}
	return ok;
}


/* Entry points */

bool
policy_parse(const char *text, size_t len, const PolicyBuiltins *builtins,
			 PolicyParsed *out, PolicyParseError *err)
{
	static const PolicyBuiltins no_builtins = {0};
	PolicyParseError scratch;
	ParseContext ctx;
	json_object *input = NULL;
	json_object *doc = NULL;
	bool		ok;

	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	memset(&ctx, 0, sizeof(ctx));
	ctx.text = text ? text : "";
	ctx.len = text ? len : 0;
	ctx.builtins = builtins ? builtins : &no_builtins;
	ctx.err = err;
	if (!json_path_init(&ctx.path))
		ok = report_out_of_memory(&ctx);
	else if (!read_syntax(&ctx, &input))
		ok = false;
	else if (!json_object_is_type(input, json_type_object))
		ok = report(&ctx, false,
					"A policy document is a JSON object, e.g. {\"format\": 1, ...}.",
					"expected an object");
	else
		ok = read_object(&ctx, &document_spec, input, &doc) &&
			check_references(&ctx, doc) &&
			write_canonical(&ctx, doc, out) &&
			collect_refs(&ctx, doc, out);
	if (!ok)
	{
		/* every stage reports its errors; only allocation failures do not */
		report_out_of_memory(&ctx);
		policy_parsed_free(out);
	}
	json_object_put(input);
	json_object_put(doc);
	json_path_free(&ctx.path);
	return ok;
}

void
policy_parsed_free(PolicyParsed *parsed)
{
	int			i;

	if (parsed == NULL)
		return;
	for (i = 0; i < parsed->nrefs; i++)
	{
		free(parsed->refs[i].table);
		free(parsed->refs[i].column);
		free(parsed->refs[i].path);
	}
	free(parsed->refs);
	free(parsed->canonical);
	memset(parsed, 0, sizeof(*parsed));
}
