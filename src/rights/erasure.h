/*
 * erasure.h
 *		What the parts of the erasure executor share: a table's line of the
 *		receipt, and the statistics values of a table's rows.
 */
#ifndef PRIVACY_ERASURE_H
#define PRIVACY_ERASURE_H

#include "rights/rights.h"

/* A table's line in the receipt; a count is reported where its has_ flag is set. */
typedef struct ErasureLine
{
	const char *table;
	bool		has_rows;
	int64		rows;
	bool		has_deleted;
	int64		deleted;
	bool		has_anonymized;
	int64		anonymized;
	int64		kept_anonymous;
	const char *anonymized_because;
	bool		has_retained;
	int64		retained;
	Jsonb	   *retained_until;
	const char *retention_rule;
	const char *basis;
	bool		has_held;
	int64		held;
	const char *hold_reference;
} ErasureLine;

/* (statistics entry, value) pairs of a table's rows. */
typedef struct StatisticsValues
{
	int			n;
	int		   *entries;		/* indexes into SubjectTable.statistics */
	char	  **values;
} StatisticsValues;

/* erasure_table.c: the careful way, row set by row set */
extern bool erasure_erase_table(SubjectKind *kind, SubjectTable *table, const char *key,
								ErasureLine *line);
extern bool erasure_rows_may_be_kept(Oid relid);
extern void erasure_rows_kept_error(const SubjectTable *table);

/*
 * statistics_values.c, from C: the values of wanted (text[]) that the
 * statistics of column attnum of relid hold (NULL: none); and removing
 * values from them, which returns how many it removed, or -1 if the
 * relation must be analyzed again instead (see
 * privacy_internal._statistics_remove_values()).
 */
extern ArrayType *statistics_values_held(Oid relid, int16 attnum, ArrayType *wanted);
extern int	statistics_values_remove(Oid relid, int16 attnum, ArrayType *gone);

/* erasure_statistics.c */
extern void erasure_statistics_read(int entries_col, int values_col, StatisticsValues *found);
extern void erasure_statistics_read_rows(SubjectTable *table, int marker_col, int first_col,
										 StatisticsValues *found);
extern void erasure_statistics_merge(StatisticsValues *found, const StatisticsValues *more);
extern void erasure_statistics_values(SubjectKind *kind, SubjectTable *table, const char *key,
									  StatisticsValues *found);
extern void erasure_statistics_match(SubjectKind *kind, SubjectTable *table,
									 const StatisticsValues *found, StatisticsValues *matches);
extern Jsonb *erasure_statistics_gone(SubjectKind *kind, SubjectTable *table,
									  const StatisticsValues *matches);
extern void erasure_statistics_refresh(SubjectTable *table, Jsonb *gone);

#endif							/* PRIVACY_ERASURE_H */
