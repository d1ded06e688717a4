/*
 * consent_state.c
 *		Builds the image of the consent state from its rows, and looks
 *		subjects up in it (see consent_state.h for the layout).
 *
 * Building needs no hashing: each set's keys are appended as they come,
 * then made a bitmap (dense integer keys: a range of at most 64 bits per
 * key, or at most a million bits, with room for keys a little above the
 * largest) or sorted and deduplicated. A lookup is one bit test, or a
 * binary search.
 *
 * When a few subjects' state changed, an image is brought up to date for
 * them: in place, when that only sets or clears bits, or else rebuilt from
 * its own sets and the subjects' new rows.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "consent/consent_state.h"

/* One set while it is being collected. */
typedef struct BuilderSet
{
	char		kind[NAMEDATALEN];
	char		purpose[NAMEDATALEN];
	char		status[CONSENT_STATUS_LEN];
	int64	   *ints;
	uint64		n_ints;
	uint64		ints_capacity;
	char	  **texts;
	uint64		n_texts;
	uint64		texts_capacity;
	Size		text_bytes;
	struct BuilderSet *next;
} BuilderSet;

struct StateImageBuilder
{
	MemoryContext context;
	BuilderSet *sets;
	BuilderSet *last;			/* the set of the previous row */
	int			n_sets;
};

/* Bits a bitmap has at least beyond its largest key. */
#define BITMAP_MIN_ROOM 4096

/* The layout of one set in the image being written. */
typedef struct SetLayout
{
	bool		bitmap;
	int64		min;
	uint64		range;
} SetLayout;

#define ST_SORT sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

typedef char *CString;

#define ST_SORT sort_cstrings
#define ST_ELEMENT_TYPE CString
#define ST_COMPARE(a, b) strcmp(*(a), *(b))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

bool
consent_subject_int_key(const char *s, size_t len, int64 *out)
{
	size_t		i = 0;
	bool		negative = false;
	uint64		value = 0;

	if (len > 0 && s[0] == '-')
	{
		negative = true;
		i = 1;
	}
	if (i == len || len - i > 19 || (s[i] == '0' && (len - i > 1 || negative)))
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		value = value * 10 + (uint64) (s[i] - '0');
	}
	if (negative ? value > (uint64) PG_INT64_MAX + 1 : value > (uint64) PG_INT64_MAX)
		return false;
	*out = negative ? (int64) (0 - value) : (int64) value;
	return true;
}

StateImageBuilder *
state_image_builder_create(void)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "privacy consent state builder",
												  ALLOCSET_DEFAULT_SIZES);
	StateImageBuilder *builder = MemoryContextAllocZero(context, sizeof(StateImageBuilder));

	builder->context = context;
	return builder;
}

static bool
same_name(const char *name, const char *s, size_t len)
{
	return strncmp(name, s, len) == 0 && name[len] == '\0';
}

static BuilderSet *
builder_set(StateImageBuilder *builder, const char *kind, size_t kind_len,
			const char *purpose, size_t purpose_len, const char *status, size_t status_len)
{
	BuilderSet *set = builder->last;

	if (set != NULL && same_name(set->kind, kind, kind_len) &&
		same_name(set->purpose, purpose, purpose_len) && same_name(set->status, status, status_len))
		return set;
	for (set = builder->sets; set != NULL; set = set->next)
		if (same_name(set->kind, kind, kind_len) && same_name(set->purpose, purpose, purpose_len) &&
			same_name(set->status, status, status_len))
			return builder->last = set;
	if (kind_len >= NAMEDATALEN || purpose_len >= NAMEDATALEN || status_len >= CONSENT_STATUS_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("privacy._ledger_state holds a kind, purpose or status name that is too long")));
	set = MemoryContextAllocZero(builder->context, sizeof(BuilderSet));
	memcpy(set->kind, kind, kind_len);
	memcpy(set->purpose, purpose, purpose_len);
	memcpy(set->status, status, status_len);
	set->next = builder->sets;
	builder->sets = set;
	builder->n_sets++;
	return builder->last = set;
}

static void
append_int(StateImageBuilder *builder, BuilderSet *set, int64 key)
{
	if (set->n_ints == set->ints_capacity)
	{
		set->ints_capacity = Max(64, set->ints_capacity * 2);
		set->ints = set->ints == NULL ?
			MemoryContextAllocHuge(builder->context, set->ints_capacity * sizeof(int64)) :
			repalloc_huge(set->ints, set->ints_capacity * sizeof(int64));
	}
	set->ints[set->n_ints++] = key;
}

static void
append_text(StateImageBuilder *builder, BuilderSet *set, const char *subject, size_t subject_len)
{
	char	   *copy;

	if (set->n_texts == set->texts_capacity)
	{
		set->texts_capacity = Max(64, set->texts_capacity * 2);
		set->texts = set->texts == NULL ?
			MemoryContextAllocHuge(builder->context, set->texts_capacity * sizeof(char *)) :
			repalloc_huge(set->texts, set->texts_capacity * sizeof(char *));
	}
	copy = MemoryContextAlloc(builder->context, subject_len + 1);
	memcpy(copy, subject, subject_len);
	copy[subject_len] = '\0';
	set->texts[set->n_texts++] = copy;
	set->text_bytes += subject_len + 1;
}

void
state_image_builder_add(StateImageBuilder *builder,
						const char *kind, size_t kind_len,
						const char *purpose, size_t purpose_len,
						const char *status, size_t status_len,
						const char *subject, size_t subject_len)
{
	BuilderSet *set = builder_set(builder, kind, kind_len, purpose, purpose_len, status, status_len);
	int64		key;

	if (consent_subject_int_key(subject, subject_len, &key))
		append_int(builder, set, key);
	else
		append_text(builder, set, subject, subject_len);
}

/* Sorts and deduplicates the text keys; decides how the integer keys are stored. */
static SetLayout
prepare_set(BuilderSet *set)
{
	SetLayout	layout = {false, 0, 0};
	uint64		i;
	uint64		kept;

	if (set->n_texts > 1)
	{
		sort_cstrings(set->texts, set->n_texts);
		for (i = 1, kept = 1; i < set->n_texts; i++)
			if (strcmp(set->texts[i], set->texts[kept - 1]) != 0)
				set->texts[kept++] = set->texts[i];
			else
				set->text_bytes -= strlen(set->texts[i]) + 1;
		set->n_texts = kept;
	}
	if (set->n_ints > 0)
	{
		int64		min = set->ints[0];
		int64		max = set->ints[0];

		for (i = 1; i < set->n_ints; i++)
		{
			min = Min(min, set->ints[i]);
			max = Max(max, set->ints[i]);
		}
		layout.min = min;
		layout.range = (uint64) max - (uint64) min + 1;
		layout.bitmap = layout.range > 0 &&
			layout.range <= Max((uint64) 1 << 20, set->n_ints * 64) &&
			layout.range <= (uint64) 1 << 30;
		/* Room for new subjects, whose keys usually come next. */
		if (layout.bitmap)
			layout.range += Max(layout.range / 8, BITMAP_MIN_ROOM);
		if (!layout.bitmap)
		{
			sort_int64(set->ints, set->n_ints);
			for (i = 1, kept = 1; i < set->n_ints; i++)
				if (set->ints[i] != set->ints[kept - 1])
					set->ints[kept++] = set->ints[i];
			set->n_ints = kept;
		}
	}
	return layout;
}

StateImage *
state_image_builder_finish(StateImageBuilder *builder, MemoryContext context)
{
	SetLayout  *layouts = palloc0(sizeof(SetLayout) * Max(builder->n_sets, 1));
	Size		size = MAXALIGN(offsetof(StateImage, sets) + sizeof(StateImageSet) * builder->n_sets);
	StateImage *image;
	BuilderSet *set;
	char	   *data;
	Size		offset;
	int			i;

	for (set = builder->sets, i = 0; set != NULL; set = set->next, i++)
	{
		layouts[i] = prepare_set(set);
		if (layouts[i].bitmap)
			size += MAXALIGN(((layouts[i].range + 63) / 64) * sizeof(uint64));
		else
			size += MAXALIGN(set->n_ints * sizeof(int64));
		size += MAXALIGN(set->n_texts * sizeof(Size)) + MAXALIGN(set->text_bytes);
	}

	image = MemoryContextAllocHuge(context, size);
	memset(image, 0, size);
	image->size = size;
	image->n_sets = builder->n_sets;
	data = (char *) image;
	offset = MAXALIGN(offsetof(StateImage, sets) + sizeof(StateImageSet) * builder->n_sets);

	for (set = builder->sets, i = 0; set != NULL; set = set->next, i++)
	{
		StateImageSet *out = &image->sets[i];
		uint64		k;

		memcpy(out->kind, set->kind, NAMEDATALEN);
		memcpy(out->purpose, set->purpose, NAMEDATALEN);
		memcpy(out->status, set->status, CONSENT_STATUS_LEN);
		if (layouts[i].bitmap)
		{
			uint64	   *words = (uint64 *) (data + offset);

			out->bitmap_base = layouts[i].min;
			out->bitmap_bits = layouts[i].range;
			out->bitmap_offset = offset;
			for (k = 0; k < set->n_ints; k++)
			{
				uint64		bit = (uint64) set->ints[k] - (uint64) layouts[i].min;

				words[bit / 64] |= UINT64CONST(1) << (bit % 64);
			}
			offset += MAXALIGN(((layouts[i].range + 63) / 64) * sizeof(uint64));
		}
		else
		{
			out->n_ints = set->n_ints;
			out->ints_offset = offset;
			if (set->n_ints > 0)
				memcpy(data + offset, set->ints, set->n_ints * sizeof(int64));
			offset += MAXALIGN(set->n_ints * sizeof(int64));
		}

		out->n_texts = set->n_texts;
		out->texts_offset = offset;
		{
			Size	   *text_offsets = (Size *) (data + offset);
			Size		string_offset = offset + MAXALIGN(set->n_texts * sizeof(Size));

			for (k = 0; k < set->n_texts; k++)
			{
				Size		len = strlen(set->texts[k]) + 1;

				text_offsets[k] = string_offset;
				memcpy(data + string_offset, set->texts[k], len);
				string_offset += len;
			}
			offset += MAXALIGN(set->n_texts * sizeof(Size)) + MAXALIGN(set->text_bytes);
		}
	}
	Assert(offset == size);

	pfree(layouts);
	MemoryContextDelete(builder->context);
	return image;
}

const StateImageSet *
state_image_find_set(const StateImage *image, const char *kind, const char *purpose,
					 const char *status)
{
	int			i;

	for (i = 0; i < image->n_sets; i++)
	{
		const StateImageSet *set = &image->sets[i];

		if (strcmp(set->kind, kind) == 0 && strcmp(set->purpose, purpose) == 0 &&
			strcmp(set->status, status) == 0)
			return set;
	}
	return NULL;
}

bool
state_image_set_has_sorted_int(const StateImage *image, const StateImageSet *set, int64 key)
{
	const int64 *ints = (const int64 *) ((const char *) image + set->ints_offset);
	uint64		low = 0;
	uint64		high = set->n_ints;

	while (low < high)
	{
		uint64		mid = low + (high - low) / 2;

		if (ints[mid] < key)
			low = mid + 1;
		else if (ints[mid] > key)
			high = mid;
		else
			return true;
	}
	return false;
}

/* strcmp of a NUL-terminated string and s[0..len). */
static int
compare_key(const char *stored, const char *s, size_t len)
{
	int			c = strncmp(stored, s, len);

	if (c != 0)
		return c;
	return stored[len] == '\0' ? 0 : 1;
}

bool
state_image_set_has_text(const StateImage *image, const StateImageSet *set, const char *key,
						 size_t len)
{
	const Size *offsets = (const Size *) ((const char *) image + set->texts_offset);
	uint64		low = 0;
	uint64		high = set->n_texts;

	while (low < high)
	{
		uint64		mid = low + (high - low) / 2;
		int			c = compare_key((const char *) image + offsets[mid], key, len);

		if (c < 0)
			low = mid + 1;
		else if (c > 0)
			high = mid;
		else
			return true;
	}
	return false;
}

/* Whether the subject's new rows hold (purpose, status). */
static bool
subject_has_row(const StateImageSubject *subject, const char *purpose, const char *status)
{
	int			i;

	for (i = 0; i < subject->n_rows; i++)
		if (strcmp(subject->purposes[i], purpose) == 0 && strcmp(subject->statuses[i], status) == 0)
			return true;
	return false;
}

/* Whether the image holds the subject in the set. */
static bool
set_holds(const StateImage *image, const StateImageSet *set, const StateImageSubject *subject,
		  bool is_int, int64 key)
{
	if (is_int)
		return state_image_set_has_int(image, set, key);
	return state_image_set_has_text(image, set, subject->subject, strlen(subject->subject));
}

/*
 * Whether the subject's place in the set can be brought up to date in
 * place (apply false), or brings it up to date (apply true).
 */
static bool
patch_set(StateImage *image, const StateImageSet *set, const StateImageSubject *subject, bool apply)
{
	bool		present = subject_has_row(subject, set->purpose, set->status);
	int64		key;
	bool		is_int = consent_subject_int_key(subject->subject, strlen(subject->subject), &key);
	uint64		bit;
	uint64	   *words;

	if (!is_int || set->bitmap_bits == 0)
		return set_holds(image, set, subject, is_int, key) == present;
	bit = (uint64) key - (uint64) set->bitmap_base;
	if (bit >= set->bitmap_bits)
		return !present;
	if (apply)
	{
		words = (uint64 *) ((char *) image + set->bitmap_offset);
		if (present)
			words[bit / 64] |= UINT64CONST(1) << (bit % 64);
		else
			words[bit / 64] &= ~(UINT64CONST(1) << (bit % 64));
	}
	return true;
}

bool
state_image_patch(StateImage *image, const StateImageSubject *subjects, int n)
{
	int			pass;
	int			i;
	int			j;

	/* First only whether every change fits, then the changes. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++)
		{
			const StateImageSubject *subject = &subjects[i];

			for (j = 0; pass == 0 && j < subject->n_rows; j++)
				if (state_image_find_set(image, subject->kind, subject->purposes[j],
										 subject->statuses[j]) == NULL)
					return false;
			for (j = 0; j < image->n_sets; j++)
				if (strcmp(image->sets[j].kind, subject->kind) == 0 &&
					!patch_set(image, &image->sets[j], subject, pass == 1) && pass == 0)
					return false;
		}
	return true;
}

/* A replaced subject's key, parsed once. */
typedef struct ReplacedKey
{
	const char *kind;
	const char *text;
	bool		is_int;
	int64		key;
} ReplacedKey;

/* Whether a key of the set (text_key, or int_key if that is NULL) is replaced. */
static bool
replaced(const StateImageSet *set, const ReplacedKey *keys, int n, const char *text_key, int64 int_key)
{
	int			i;

	for (i = 0; i < n; i++)
		if ((text_key != NULL ? !keys[i].is_int && strcmp(keys[i].text, text_key) == 0 :
			 keys[i].is_int && keys[i].key == int_key) &&
			strcmp(keys[i].kind, set->kind) == 0)
			return true;
	return false;
}

/* The builder's set for the image's set, created at the first call. */
static BuilderSet *
output_set(StateImageBuilder *builder, const StateImageSet *set, BuilderSet **out)
{
	if (*out == NULL)
		*out = builder_set(builder, set->kind, strlen(set->kind), set->purpose, strlen(set->purpose),
						   set->status, strlen(set->status));
	return *out;
}

StateImage *
state_image_rebuild(const StateImage *image, const StateImageSubject *subjects, int n,
					MemoryContext context)
{
	StateImageBuilder *builder = state_image_builder_create();
	ReplacedKey *keys = palloc(sizeof(ReplacedKey) * Max(n, 1));
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		keys[i].kind = subjects[i].kind;
		keys[i].text = subjects[i].subject;
		keys[i].is_int = consent_subject_int_key(subjects[i].subject, strlen(subjects[i].subject),
												 &keys[i].key);
	}
	for (i = 0; i < image->n_sets; i++)
	{
		const StateImageSet *set = &image->sets[i];
		const Size *offsets = (const Size *) ((const char *) image + set->texts_offset);
		BuilderSet *out = NULL;	/* created at its first member, as when read */
		uint64		k;

		if (set->bitmap_bits > 0)
		{
			const uint64 *words = (const uint64 *) ((const char *) image + set->bitmap_offset);

			for (k = 0; k < set->bitmap_bits; k++)
			{
				int64		key = (int64) ((uint64) set->bitmap_base + k);

				if (words[k / 64] == 0)
					k |= 63;	/* the next word */
				else if ((words[k / 64] & (UINT64CONST(1) << (k % 64))) != 0 &&
						 !replaced(set, keys, n, NULL, key))
					append_int(builder, output_set(builder, set, &out), key);
			}
		}
		else
		{
			const int64 *ints = (const int64 *) ((const char *) image + set->ints_offset);

			for (k = 0; k < set->n_ints; k++)
				if (!replaced(set, keys, n, NULL, ints[k]))
					append_int(builder, output_set(builder, set, &out), ints[k]);
		}
		for (k = 0; k < set->n_texts; k++)
		{
			const char *key = (const char *) image + offsets[k];

			if (!replaced(set, keys, n, key, 0))
				append_text(builder, output_set(builder, set, &out), key, strlen(key));
		}
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < subjects[i].n_rows; j++)
			state_image_builder_add(builder, subjects[i].kind, strlen(subjects[i].kind),
									subjects[i].purposes[j], strlen(subjects[i].purposes[j]),
									subjects[i].statuses[j], strlen(subjects[i].statuses[j]),
									subjects[i].subject, strlen(subjects[i].subject));
	pfree(keys);
	return state_image_builder_finish(builder, context);
}
