/*
 * consent_state.h
 *		The complete consent state of a database (privacy._ledger_state) as
 *		one immutable, position-independent block of memory: the image that
 *		the per-row check looks subjects up in, and that sessions share
 *		through shared memory.
 *
 * The state is a list of sets, one per (kind, purpose, status): the
 * subjects who consented to a purpose, objected to it, or asked for
 * restriction. In the image, a set's integer keys are a bitmap when they
 * are dense enough and a sorted array otherwise; other keys are a sorted
 * array of strings. Everything is addressed by offsets from the start of
 * the image, so that a byte-for-byte copy is a valid image.
 */
#ifndef PRIVACY_CONSENT_STATE_H
#define PRIVACY_CONSENT_STATE_H

#define CONSENT_STATUS_LEN 16

typedef struct StateImageSet
{
	char		kind[NAMEDATALEN];
	char		purpose[NAMEDATALEN];
	char		status[CONSENT_STATUS_LEN];
	int64		bitmap_base;	/* key of bit 0 */
	uint64		bitmap_bits;	/* 0 if the integer keys are not a bitmap */
	Size		bitmap_offset;	/* uint64 words */
	uint64		n_ints;			/* sorted int64 keys, when not a bitmap */
	Size		ints_offset;
	uint64		n_texts;		/* sorted offsets of NUL-terminated keys */
	Size		texts_offset;
} StateImageSet;

typedef struct StateImage
{
	Size		size;			/* of the whole image, this header included */
	int			n_sets;
	StateImageSet sets[FLEXIBLE_ARRAY_MEMBER];
} StateImage;

/* Collects the rows of the state; finished into an image. */
typedef struct StateImageBuilder StateImageBuilder;

extern StateImageBuilder *state_image_builder_create(void);
extern void state_image_builder_add(StateImageBuilder *builder,
									const char *kind, size_t kind_len,
									const char *purpose, size_t purpose_len,
									const char *status, size_t status_len,
									const char *subject, size_t subject_len);
/* The image, in one allocation in context; frees the builder. */
extern StateImage *state_image_builder_finish(StateImageBuilder *builder, MemoryContext context);

/*
 * One subject's rows of the state as they are now: the (purpose, status)
 * of each, to replace what an image holds of the subject.
 */
typedef struct StateImageSubject
{
	const char *kind;
	const char *subject;		/* the key as text */
	int			n_rows;
	const char **purposes;
	const char **statuses;
} StateImageSubject;

/*
 * Brings an image up to date for these subjects in place, when that is
 * only setting or clearing bits of its bitmaps; false, changing nothing,
 * otherwise.
 */
extern bool state_image_patch(StateImage *image, const StateImageSubject *subjects, int n);

/* A new image, in context: image with these subjects' rows replaced. */
extern StateImage *state_image_rebuild(const StateImage *image, const StateImageSubject *subjects,
									   int n, MemoryContext context);

/* The set of (kind, purpose, status), or NULL if it is empty. */
extern const StateImageSet *state_image_find_set(const StateImage *image, const char *kind,
												 const char *purpose, const char *status);
extern bool state_image_set_has_text(const StateImage *image, const StateImageSet *set,
									 const char *key, size_t len);
extern bool state_image_set_has_sorted_int(const StateImage *image, const StateImageSet *set,
										   int64 key);

/* Whether the subject with this integer key is in the set. */
static inline bool
state_image_set_has_int(const StateImage *image, const StateImageSet *set, int64 key)
{
	if (set->bitmap_bits > 0)
	{
		const uint64 *words = (const uint64 *) ((const char *) image + set->bitmap_offset);
		uint64		bit = (uint64) key - (uint64) set->bitmap_base;

		return bit < set->bitmap_bits && (words[bit / 64] & (UINT64CONST(1) << (bit % 64))) != 0;
	}
	return set->n_ints > 0 && state_image_set_has_sorted_int(image, set, key);
}

/*
 * Whether s[0..len) is an integer in canonical form (no sign but '-', no
 * leading zeros, fits int64), as a bigint key is written as text: such
 * subjects are kept as integers.
 */
extern bool consent_subject_int_key(const char *s, size_t len, int64 *out);

#endif							/* PRIVACY_CONSENT_STATE_H */
