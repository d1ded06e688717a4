/*
 * consent_state.c
 *		Builds the image of the consent state from its rows, and looks
 *		subjects up in it (see consent_state.h for the layout).
 *
 * Building needs no hashing: each set's keys are appended as they come,
 * then made a bitmap (dense integer keys: a range of at most 64 bits per
 * key, or at most a million bits) or sorted and deduplicated. A lookup is
 * one bit test, or a binary search.
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
	else
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
