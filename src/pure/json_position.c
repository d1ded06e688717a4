/*
 * json_position.c
 *		A small scanner over raw JSON text: line and column of offsets and of
 *		JSON paths, strict RFC 8259 checking, duplicate keys.
 *
 * JSON libraries forget where in the text a value came from and silently
 * keep one of two duplicate keys; this scanner walks the text itself to fill
 * both gaps.  One recursive walker serves two modes: "check" (stop at the
 * first duplicate key, \u0000 escape or departure from strict JSON) and
 * "locate" (record the byte offset of the values and keys whose paths were
 * asked for).  Offsets become lines and columns in a single forward sweep.
 *
 * The walker never reads outside [text, text + len) and stops at the first
 * byte it cannot make sense of, so it copes with any input.
 */
#include "pure/json_position.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte buffer. */
typedef struct ByteBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} ByteBuf;

/* One key already seen in an object. */
typedef struct KeyEntry
{
	char	   *key;
	size_t		len;
	uint32_t	hash;
} KeyEntry;

/* The keys of one object, in an open-addressing hash table. */
typedef struct KeySet
{
	KeyEntry   *entries;
	size_t		count;
	size_t		cap;
	size_t	   *slots;			/* 0 for empty, else index + 1 */
	size_t		nslots;
} KeySet;

/* A location request, for sorting by path or by offset. */
typedef struct LocationRef
{
	const char *path;
	size_t		offset;
	size_t		index;
} LocationRef;

typedef struct Walker
{
	const char *text;
	size_t		len;
	size_t		pos;
	int			depth;
	JsonPath	path;			/* path of the value being walked */
	ByteBuf		key;			/* the key just read, decoded */
	JsonProblem *problem;		/* check mode: where the first problem goes */
	JsonLocation *locations;	/* locate mode: the requests */
	LocationRef *by_path;		/* locate mode: requests sorted by path */
	size_t		nlocations;
} Walker;

static bool walk_value(Walker *w);


/* Make room for need more bytes after len in a buffer of *cap bytes. */
static bool
grow(char **data, size_t *cap, size_t len, size_t need)
{
	size_t		newcap;
	char	   *newdata;

	if (len + need < *cap)
		return true;
	newcap = *cap ? *cap : 64;
	while (newcap <= len + need)
	{
		if (newcap > SIZE_MAX / 2)
			return false;
		newcap *= 2;
	}
	newdata = realloc(*data, newcap);
	if (newdata == NULL)
		return false;
	*data = newdata;
	*cap = newcap;
	return true;
}

static bool
buf_append(ByteBuf *buf, const char *bytes, size_t n)
{
	if (!grow(&buf->data, &buf->cap, buf->len, n))
		return false;
	memcpy(buf->data + buf->len, bytes, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return true;
}

/* Number of bytes a sequence starting with this lead byte should have. */
static size_t
utf8_expected_length(unsigned char c)
{
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 1;
}

/*
 * Length of the well-formed UTF-8 sequence at s (avail >= 1 bytes there), or
 * 0 if it is not one: no overlong forms, surrogates or code points above
 * U+10FFFF.
 */
static size_t
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t		n;
	size_t		i;

	if (s[0] < 0x80)
		return 1;
	n = utf8_expected_length(s[0]);
	if (n == 1 || avail < n)
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Offset of the first byte that cannot appear in JSON text at all: a NUL or
 * the start of an invalid UTF-8 sequence; len if there is none.  *seqlen
 * receives how many bytes of the offending sequence are worth showing.
 */
size_t
json_position_first_bad_byte(const char *text, size_t len, size_t *seqlen)
{
	size_t		pos = 0;

	*seqlen = 0;
	while (pos < len)
	{
		const unsigned char *s = (const unsigned char *) text + pos;
		size_t		n;

		if (*s == '\0')
		{
			*seqlen = 1;
			return pos;
		}
		n = utf8_sequence_length(s, len - pos);
		if (n == 0)
		{
			n = utf8_expected_length(*s);
			*seqlen = n < len - pos ? n : len - pos;
			return pos;
		}
		pos += n;
	}
	return len;
}

/* Move *at forward to target, counting lines and characters into *pos. */
static void
advance_position(const char *text, size_t len, size_t *at, size_t target,
				 JsonPosition *pos)
{
	while (*at < target && *at < len)
	{
		const unsigned char *s = (const unsigned char *) text + *at;
		size_t		n;

		if (*s == '\n')
		{
			pos->line++;
			pos->column = 1;
			*at += 1;
			continue;
		}
		n = utf8_sequence_length(s, len - *at);
		*at += n ? n : 1;
		pos->column++;
	}
}

/* 1-based line and column (in characters) of a byte offset. */
JsonPosition
json_position_of_offset(const char *text, size_t len, size_t offset)
{
	JsonPosition pos = {1, 1};
	size_t		at = 0;

	advance_position(text, len, &at, offset, &pos);
	return pos;
}


/*
 * JsonPath: building paths component by component.
 *
 * After an allocation failure the path is marked failed and keeps only its
 * depth up to date, so that pushes and pops stay balanced for the caller.
 */

bool
json_path_init(JsonPath *path)
{
	memset(path, 0, sizeof(*path));
	if (!grow(&path->data, &path->cap, 0, 1))
	{
		path->failed = true;
		return false;
	}
	path->data[0] = '$';
	path->data[1] = '\0';
	path->len = 1;
	return true;
}

static bool
path_append(JsonPath *path, const char *bytes, size_t n)
{
	if (path->failed)
		return false;
	if (!grow(&path->data, &path->cap, path->len, n))
	{
		path->failed = true;
		return false;
	}
	memcpy(path->data + path->len, bytes, n);
	path->len += n;
	path->data[path->len] = '\0';
	return true;
}

/* Start a new component: remember where it begins. */
static bool
path_begin(JsonPath *path)
{
	if (!path->failed && path->depth >= path->maxmarks)
	{
		int			newmax = path->maxmarks ? path->maxmarks * 2 : 16;
		size_t	   *marks = realloc(path->marks, newmax * sizeof(size_t));

		if (marks == NULL)
			path->failed = true;
		else
		{
			path->marks = marks;
			path->maxmarks = newmax;
		}
	}
	if (!path->failed)
		path->marks[path->depth] = path->len;
	path->depth++;
	return !path->failed;
}

static bool
is_identifier(const char *key, size_t len)
{
	size_t		i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) key[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* Append key as a JSON string body: quotes, backslashes and controls escaped. */
static bool
path_append_escaped(JsonPath *path, const char *key, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) key[i];
		char		esc[8];

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			if (!path_append(path, esc, 2))
				return false;
		}
		else if (c < 0x20)
		{
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (!path_append(path, esc, 6))
				return false;
		}
		else if (!path_append(path, key + i, 1))
			return false;
	}
	return true;
}

bool
json_path_push_key(JsonPath *path, const char *key, size_t keylen)
{
	if (!path_begin(path))
		return false;
	if (is_identifier(key, keylen))
		return path_append(path, ".", 1) && path_append(path, key, keylen);
	return path_append(path, "[\"", 2) &&
		path_append_escaped(path, key, keylen) &&
		path_append(path, "\"]", 2);
}

bool
json_path_push_index(JsonPath *path, size_t index)
{
	char		buf[32];
	int			n;

	if (!path_begin(path))
		return false;
	n = snprintf(buf, sizeof(buf), "[%zu]", index);
	return path_append(path, buf, (size_t) n);
}

void
json_path_pop(JsonPath *path)
{
	if (path->depth == 0)
		return;
	path->depth--;
	if (path->failed)
		return;
	path->len = path->marks[path->depth];
	path->data[path->len] = '\0';
}

/* Length of the path made of its first ncomponents components. */
size_t
json_path_prefix_length(const JsonPath *path, int ncomponents)
{
	if (path->failed || ncomponents >= path->depth)
		return path->len;
	if (ncomponents <= 0)
		return 1;
	return path->marks[ncomponents];
}

void
json_path_free(JsonPath *path)
{
	free(path->data);
	free(path->marks);
	memset(path, 0, sizeof(*path));
}


/* KeySet: the keys of one object, to find duplicates. */

static uint32_t
hash_bytes(const char *bytes, size_t len)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) bytes[i];
		h *= 16777619u;
	}
	return h;
}

static void
keyset_free(KeySet *set)
{
	size_t		i;

	for (i = 0; i < set->count; i++)
		free(set->entries[i].key);
	free(set->entries);
	free(set->slots);
}

/* Slot where an entry with this key and hash is, or would go. */
static size_t
keyset_slot(const KeySet *set, const char *key, size_t len, uint32_t hash)
{
	size_t		mask = set->nslots - 1;
	size_t		slot = hash & mask;

	while (set->slots[slot] != 0)
	{
		const KeyEntry *e = &set->entries[set->slots[slot] - 1];

		if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
			break;
		slot = (slot + 1) & mask;
	}
	return slot;
}

static bool
keyset_rehash(KeySet *set)
{
	size_t		nslots = set->nslots ? set->nslots * 2 : 16;
	size_t	   *slots = calloc(nslots, sizeof(size_t));
	size_t		i;

	if (slots == NULL)
		return false;
	free(set->slots);
	set->slots = slots;
	set->nslots = nslots;
	for (i = 0; i < set->count; i++)
	{
		const KeyEntry *e = &set->entries[i];

		set->slots[keyset_slot(set, e->key, e->len, e->hash)] = i + 1;
	}
	return true;
}

/* Add a key: 1 if new, 0 if already there, -1 if out of memory. */
static int
keyset_add(KeySet *set, const char *key, size_t len)
{
	uint32_t	hash = hash_bytes(key, len);
	size_t		slot;
	KeyEntry   *e;

	if ((set->count + 1) * 2 > set->nslots && !keyset_rehash(set))
		return -1;
	slot = keyset_slot(set, key, len, hash);
	if (set->slots[slot] != 0)
		return 0;
	if (set->count == set->cap)
	{
		size_t		newcap = set->cap ? set->cap * 2 : 8;
		KeyEntry   *entries = realloc(set->entries, newcap * sizeof(KeyEntry));

		if (entries == NULL)
			return -1;
		set->entries = entries;
		set->cap = newcap;
	}
	e = &set->entries[set->count];
	e->key = malloc(len + 1);
	if (e->key == NULL)
		return -1;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->len = len;
	e->hash = hash;
	set->count++;
	set->slots[slot] = set->count;
	return 1;
}


/* The walker. */

/* Record a problem (check mode) and stop the walk. */
static bool
report(Walker *w, JsonProblemKind kind, size_t offset, const char *what)
{
	JsonProblem *p = w->problem;

	if (p == NULL || p->kind != JSON_PROBLEM_NONE)
		return false;
	p->kind = kind;
	p->offset = offset;
	p->what = what;
	if (kind == JSON_PROBLEM_DUPLICATE_KEY || kind == JSON_PROBLEM_NUL_ESCAPE)
	{
		p->path = w->path.failed ? NULL : strdup(w->path.data);
		if (p->path == NULL)
			p->kind = JSON_PROBLEM_OUT_OF_MEMORY;
	}
	return false;
}

static bool
syntax_error(Walker *w, size_t offset, const char *what)
{
	return report(w, JSON_PROBLEM_SYNTAX, offset, what);
}

static bool
out_of_memory(Walker *w)
{
	return report(w, JSON_PROBLEM_OUT_OF_MEMORY, w->pos, "out of memory");
}

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(((const LocationRef *) a)->path,
				  ((const LocationRef *) b)->path);
}

/* Locate mode: note the offset for every request naming the current path. */
static void
visit(Walker *w, bool key, size_t offset)
{
	size_t		lo = 0;
	size_t		hi = w->nlocations;

	if (w->nlocations == 0 || w->path.failed)
		return;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (strcmp(w->by_path[mid].path, w->path.data) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < w->nlocations && strcmp(w->by_path[lo].path, w->path.data) == 0;
		 lo++)
	{
		JsonLocation *loc = &w->locations[w->by_path[lo].index];

		if (loc->key == key && !loc->found)
		{
			loc->found = true;
			loc->offset = offset;
		}
	}
}

static void
skip_whitespace(Walker *w)
{
	while (w->pos < w->len)
	{
		char		c = w->text[w->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		w->pos++;
	}
}

/* Consume the byte c after optional whitespace, or report what is there. */
static bool
expect(Walker *w, char c)
{
	skip_whitespace(w);
	if (w->pos >= w->len)
		return syntax_error(w, w->pos, "unexpected end of input");
	if (w->text[w->pos] != c)
		return syntax_error(w, w->pos, "unexpected character");
	w->pos++;
	return true;
}

/* Read four hex digits at offset at into *value. */
static bool
read_hex4(const Walker *w, size_t at, uint32_t *value)
{
	size_t		i;

	*value = 0;
	if (at > w->len || w->len - at < 4)
		return false;
	for (i = 0; i < 4; i++)
	{
		char		c = w->text[at + i];

		*value <<= 4;
		if (c >= '0' && c <= '9')
			*value |= (uint32_t) (c - '0');
		else if (c >= 'a' && c <= 'f')
			*value |= (uint32_t) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*value |= (uint32_t) (c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/* Read a \u escape of four hex digits (w->pos at the 'u'), joining surrogate pairs. */
static bool
scan_unicode_escape(Walker *w, uint32_t *cp)
{
	size_t		start = w->pos - 1;
	uint32_t	low;

	if (!read_hex4(w, w->pos + 1, cp))
		return syntax_error(w, start, "invalid escape sequence in string");
	w->pos += 5;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return syntax_error(w, start, "unpaired Unicode surrogate in string");
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return true;
	if (w->len - w->pos < 6 || w->text[w->pos] != '\\' ||
		w->text[w->pos + 1] != 'u' || !read_hex4(w, w->pos + 2, &low) ||
		low < 0xDC00 || low > 0xDFFF)
		return syntax_error(w, start, "unpaired Unicode surrogate in string");
	w->pos += 6;
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
	return true;
}

/* Read an escape sequence (w->pos at the backslash) into out, if given. */
static bool
scan_escape(Walker *w, ByteBuf *out, bool *has_nul)
{
	size_t		start = w->pos;
	char		bytes[4];
	size_t		n = 1;
	uint32_t	cp;

	w->pos++;
	if (w->pos >= w->len)
		return syntax_error(w, w->pos, "unexpected end of input");
	switch (w->text[w->pos])
	{
		case '"':
		case '\\':
		case '/':
			bytes[0] = w->text[w->pos];
			break;
		case 'b':
			bytes[0] = '\b';
			break;
		case 'f':
			bytes[0] = '\f';
			break;
		case 'n':
			bytes[0] = '\n';
			break;
		case 'r':
			bytes[0] = '\r';
			break;
		case 't':
			bytes[0] = '\t';
			break;
		case 'u':
			if (!scan_unicode_escape(w, &cp))
				return false;
			if (cp == 0)
				*has_nul = true;
			n = utf8_encode(cp, bytes);
			if (out != NULL && !buf_append(out, bytes, n))
				return out_of_memory(w);
			return true;
		default:
			return syntax_error(w, start, "invalid escape sequence in string");
	}
	w->pos++;
	if (out != NULL && !buf_append(out, bytes, n))
		return out_of_memory(w);
	return true;
}

/*
 * Read a string (w->pos at the opening quote), decoding it into out if out
 * is given; *has_nul tells whether it contained \u0000.
 */
static bool
scan_string(Walker *w, ByteBuf *out, bool *has_nul)
{
	*has_nul = false;
	if (out != NULL)
	{
		out->len = 0;
		if (!buf_append(out, "", 0))
			return out_of_memory(w);
	}
	w->pos++;
	for (;;)
	{
		const unsigned char *s = (const unsigned char *) w->text + w->pos;
		size_t		n;

		if (w->pos >= w->len)
			return syntax_error(w, w->pos, "unexpected end of input");
		if (*s == '"')
		{
			w->pos++;
			return true;
		}
		if (*s == '\\')
		{
			if (!scan_escape(w, out, has_nul))
				return false;
			continue;
		}
		if (*s < 0x20)
			return syntax_error(w, w->pos,
								"unescaped control character in string");
		n = utf8_sequence_length(s, w->len - w->pos);
		if (n == 0)
			return syntax_error(w, w->pos, "invalid UTF-8 in string");
		if (out != NULL && !buf_append(out, (const char *) s, n))
			return out_of_memory(w);
		w->pos += n;
	}
}

static size_t
skip_digits(Walker *w)
{
	size_t		start = w->pos;

	while (w->pos < w->len && w->text[w->pos] >= '0' && w->text[w->pos] <= '9')
		w->pos++;
	return w->pos - start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
scan_number(Walker *w)
{
	if (w->text[w->pos] == '-')
		w->pos++;
	if (w->pos < w->len && w->text[w->pos] == '0')
		w->pos++;
	else if (skip_digits(w) == 0)
		return syntax_error(w, w->pos, "invalid number");
	if (w->pos < w->len && w->text[w->pos] == '.')
	{
		w->pos++;
		if (skip_digits(w) == 0)
			return syntax_error(w, w->pos, "invalid number");
	}
	if (w->pos < w->len && (w->text[w->pos] == 'e' || w->text[w->pos] == 'E'))
	{
		w->pos++;
		if (w->pos < w->len &&
			(w->text[w->pos] == '+' || w->text[w->pos] == '-'))
			w->pos++;
		if (skip_digits(w) == 0)
			return syntax_error(w, w->pos, "invalid number");
	}
	return true;
}

static bool
scan_literal(Walker *w, const char *literal)
{
	size_t		n = strlen(literal);

	if (w->len - w->pos < n || memcmp(w->text + w->pos, literal, n) != 0)
		return syntax_error(w, w->pos, "unexpected character");
	w->pos += n;
	return true;
}

/* Check mode: a key must be free of \u0000 and new within its object. */
static bool
check_key(Walker *w, KeySet *keys, size_t offset, bool has_nul)
{
	int			added;

	if (w->problem == NULL)
		return true;
	if (has_nul)
		return report(w, JSON_PROBLEM_NUL_ESCAPE, offset, NULL);
	added = keyset_add(keys, w->key.data, w->key.len);
	if (added < 0)
		return out_of_memory(w);
	if (added == 0)
	{
		report(w, JSON_PROBLEM_DUPLICATE_KEY, offset, NULL);
		if (w->problem->kind == JSON_PROBLEM_DUPLICATE_KEY)
		{
			w->problem->key = strdup(w->key.data);
			if (w->problem->key == NULL)
				w->problem->kind = JSON_PROBLEM_OUT_OF_MEMORY;
		}
		return false;
	}
	return true;
}

/* One member of an object, from its key to the end of its value. */
static bool
walk_member(Walker *w, KeySet *keys)
{
	size_t		start;
	bool		has_nul;
	bool		ok;

	skip_whitespace(w);
	if (w->pos >= w->len)
		return syntax_error(w, w->pos, "unexpected end of input");
	if (w->text[w->pos] != '"')
		return syntax_error(w, w->pos, "unexpected character");
	start = w->pos;
	if (!scan_string(w, &w->key, &has_nul))
		return false;
	if (!json_path_push_key(&w->path, w->key.data, w->key.len) &&
		w->problem != NULL)
		ok = out_of_memory(w);
	else
	{
		visit(w, true, start);
		ok = check_key(w, keys, start, has_nul) && expect(w, ':') &&
			walk_value(w);
	}
	json_path_pop(&w->path);
	return ok;
}

/* Read the separator after a member or element: true with *more set. */
static bool
next_item(Walker *w, char close, bool *more)
{
	skip_whitespace(w);
	if (w->pos >= w->len)
		return syntax_error(w, w->pos, "unexpected end of input");
	*more = w->text[w->pos] == ',';
	if (!*more && w->text[w->pos] != close)
		return syntax_error(w, w->pos, "unexpected character");
	w->pos++;
	return true;
}

static bool
walk_object(Walker *w)
{
	KeySet		keys = {0};
	bool		ok = true;
	bool		more = true;

	w->pos++;
	skip_whitespace(w);
	if (w->pos < w->len && w->text[w->pos] == '}')
	{
		w->pos++;
		return true;
	}
	while (ok && more)
		ok = walk_member(w, &keys) && next_item(w, '}', &more);
	keyset_free(&keys);
	return ok;
}

static bool
walk_array(Walker *w)
{
	size_t		index = 0;
	bool		ok = true;
	bool		more = true;

	w->pos++;
	skip_whitespace(w);
	if (w->pos < w->len && w->text[w->pos] == ']')
	{
		w->pos++;
		return true;
	}
	while (ok && more)
	{
		if (!json_path_push_index(&w->path, index++) && w->problem != NULL)
			ok = out_of_memory(w);
		else
			ok = walk_value(w);
		json_path_pop(&w->path);
		ok = ok && next_item(w, ']', &more);
	}
	return ok;
}

static bool
walk_string_value(Walker *w)
{
	size_t		start = w->pos;
	bool		has_nul;

	if (!scan_string(w, NULL, &has_nul))
		return false;
	if (has_nul && w->problem != NULL)
		return report(w, JSON_PROBLEM_NUL_ESCAPE, start, NULL);
	return true;
}

static bool
walk_container(Walker *w)
{
	bool		ok;

	if (w->depth >= JSON_POSITION_MAX_DEPTH)
		return syntax_error(w, w->pos, "nesting too deep");
	w->depth++;
	ok = w->text[w->pos] == '{' ? walk_object(w) : walk_array(w);
	w->depth--;
	return ok;
}

static bool
walk_value(Walker *w)
{
	skip_whitespace(w);
	if (w->pos >= w->len)
		return syntax_error(w, w->pos, "unexpected end of input");
	visit(w, false, w->pos);
	switch (w->text[w->pos])
	{
		case '{':
		case '[':
			return walk_container(w);
		case '"':
			return walk_string_value(w);
		case 't':
			return scan_literal(w, "true");
		case 'f':
			return scan_literal(w, "false");
		case 'n':
			return scan_literal(w, "null");
		default:
			if (w->text[w->pos] == '-' ||
				(w->text[w->pos] >= '0' && w->text[w->pos] <= '9'))
				return scan_number(w);
			return syntax_error(w, w->pos, "unexpected character");
	}
}

/* Walk the whole text: one value with nothing but whitespace around it. */
static void
walk_document(Walker *w)
{
	if (w->text == NULL)
		w->len = 0;
	if (!json_path_init(&w->path) && w->problem != NULL)
	{
		out_of_memory(w);
		return;
	}
	if (!walk_value(w))
		return;
	skip_whitespace(w);
	if (w->pos < w->len)
		syntax_error(w, w->pos, "unexpected character after the document");
}

/*
 * Check that text is one strict RFC 8259 JSON value, with no key twice in an
 * object and no \u0000 escape.  Returns true if so; otherwise fills *problem
 * with the first problem in the text (free it with json_problem_free).
 */
bool
json_position_check(const char *text, size_t len, JsonProblem *problem)
{
	Walker		w = {0};

	memset(problem, 0, sizeof(*problem));
	w.text = text;
	w.len = len;
	w.problem = problem;
	walk_document(&w);
	json_path_free(&w.path);
	free(w.key.data);
	if (problem->kind != JSON_PROBLEM_NONE)
		problem->position = json_position_of_offset(text, w.len,
													problem->offset);
	return problem->kind == JSON_PROBLEM_NONE;
}

void
json_problem_free(JsonProblem *problem)
{
	free(problem->path);
	free(problem->key);
	memset(problem, 0, sizeof(*problem));
}

static int
compare_offsets(const void *a, const void *b)
{
	size_t		x = ((const LocationRef *) a)->offset;
	size_t		y = ((const LocationRef *) b)->offset;

	return x < y ? -1 : x > y;
}

/* Turn the offsets of the found locations into lines and columns. */
static bool
resolve_positions(const char *text, size_t len, JsonLocation *locations,
				  size_t nlocations)
{
	LocationRef *order = malloc(nlocations * sizeof(LocationRef));
	JsonPosition pos = {1, 1};
	size_t		at = 0;
	size_t		nfound = 0;
	size_t		i;

	if (order == NULL)
		return false;
	for (i = 0; i < nlocations; i++)
		if (locations[i].found)
		{
			order[nfound].offset = locations[i].offset;
			order[nfound].index = i;
			nfound++;
		}
	qsort(order, nfound, sizeof(LocationRef), compare_offsets);
	for (i = 0; i < nfound; i++)
	{
		advance_position(text, len, &at, order[i].offset, &pos);
		locations[order[i].index].position = pos;
	}
	free(order);
	return true;
}

/*
 * Find where each requested path starts in the text, in one pass.  Paths
 * that are not in the text get found = false and position {0, 0}.  Returns
 * false only when out of memory.
 */
bool
json_position_locate(const char *text, size_t len, JsonLocation *locations,
					 size_t nlocations)
{
	Walker		w = {0};
	size_t		i;
	bool		ok;

	for (i = 0; i < nlocations; i++)
	{
		locations[i].found = false;
		locations[i].offset = 0;
		locations[i].position.line = 0;
		locations[i].position.column = 0;
	}
	if (nlocations == 0)
		return true;
	w.by_path = malloc(nlocations * sizeof(LocationRef));
	if (w.by_path == NULL)
		return false;
	for (i = 0; i < nlocations; i++)
	{
		w.by_path[i].path = locations[i].path ? locations[i].path : "";
		w.by_path[i].index = i;
	}
	qsort(w.by_path, nlocations, sizeof(LocationRef), compare_paths);
	w.text = text;
	w.len = len;
	w.locations = locations;
	w.nlocations = nlocations;
	walk_document(&w);
	ok = !w.path.failed;
	json_path_free(&w.path);
	free(w.key.data);
	free(w.by_path);
	return resolve_positions(text, w.len, locations, nlocations) && ok;
}

/* Where the value (or, if key, the key) at path starts; false if nowhere. */
bool
json_position_find(const char *text, size_t len, const char *path, bool key,
				   JsonPosition *position)
{
	JsonLocation loc = {0};

	loc.path = path;
	loc.key = key;
	json_position_locate(text, len, &loc, 1);
	*position = loc.position;
	return loc.found;
}
