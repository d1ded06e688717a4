/*
 * subject.h
 *		The data subject: its kind and key, the canonical key and its
 *		reference, the foreign-key paths from each table of the subject map
 *		to the kind's anchor, and the statements generated from them, kept in
 *		a backend-local cache that relcache and syscache invalidations keep
 *		current (subject_cache.c).
 *
 * Export and erasure (src/rights/) run on what this module resolves; the
 * SQL functions privacy_internal._canonical_subject(), privacy_internal._subject_exists(),
 * privacy_internal._subject_plan() and privacy_internal._export_statement() show it.
 *
 * Every statement here names tables schema-qualified and quoted, qualifies
 * its operators, functions and types, and takes the subject's canonical key
 * as $1 (text). Statements marked "as owner" run as the owner of their
 * table (src/rights/owner_run.c); the others as the extension's owner.
 */
#ifndef PRIVACY_SUBJECT_H
#define PRIVACY_SUBJECT_H

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"

/* At most this many $n arguments in one generated statement. */
#define SUBJECT_MAX_ARGS 8

/*
 * One generated statement and, once it has run, its plan, kept for the
 * session (SPI_keepplan) and freed with the cache entry that holds it.
 */
typedef struct SubjectStatement
{
	char	   *sql;
	int			nargs;
	Oid			argtypes[SUBJECT_MAX_ARGS];
	SPIPlanPtr	plan;

	/*
	 * With Citus installed, a statement whose $1 is only the subject's key
	 * cast to the key's type takes $1 as a value of that type (callers
	 * still pass the canonical key as text: subject_statement_arguments()
	 * converts it), so that Citus can route one generic plan of a query of
	 * one table by the distribution column, instead of planning it again at
	 * every call.
	 */
	bool		key_typed;

	/*
	 * Whether the plan cache may choose the plan (a generic one once it
	 * pays): a key_typed statement, or one that reads no table Citus
	 * manages; else privacy_statement_plan_options() decides.
	 */
	bool		free_plan;
} SubjectStatement;

/* A foreign key: the columns of the referencing (child) and referenced table. */
typedef struct SubjectForeignKey
{
	Oid			constraint;
	Oid			child;
	Oid			parent;
	char	   *child_name;		/* qualified, quoted */
	char	   *parent_name;
	int			ncolumns;
	char	  **child_columns;	/* quoted */
	char	  **parent_columns; /* quoted, unquoted in parent_attnames */
	char	  **parent_attnames;
	char	  **operators;		/* OPERATOR(schema.op) of parent = child, per column */
	bool		child_nullable; /* none of the child's columns is NOT NULL */
	bool		enforced;		/* validated, not deferrable, and every child
								 * column NOT NULL: a child row always has
								 * its parent */
	char		on_delete;		/* its ON DELETE action (pg_constraint.confdeltype) */
} SubjectForeignKey;

/* A retention rule of a table, as erasure needs it. */
typedef struct SubjectRule
{
	char	   *name;
	char	   *anchor;			/* column name, unquoted */
	char	   *legal_basis;
	bool		has_minimum;
	bool		anonymize;
	int			ncolumns;
	char	  **columns;		/* anonymize: the columns it clears, unquoted */
	SubjectStatement kept;		/* rows whose legal minimum has not ended; by
								 * key: the rows' ids and anchors */
	SubjectStatement kept_until;	/* the latest end of their minimums (not by
									 * key) */
} SubjectRule;

/*
 * One set of sampled values in the planner's statistics that a subject's
 * rows of a table can be in: a classified column (its name), an index
 * expression ('i<index oid>.<column number>'), an expression of extended
 * statistics ('e<oid>.<number>') or the extended statistics' MCV lists
 * ('mcv'). The targets are the pg_statistic rows holding it (not for
 * extended statistics, which are matched by privacy_internal._statistics_matches()).
 */
typedef struct SubjectStatistic
{
	char	   *name;
	bool		extended;
	char	   *values_sql;		/* text[] of a row r's values */
	char	   *row_values_sql;	/* the same of the erased row t0 (columns only) */
	char	   *condition_sql;	/* a row r holds value $1 */
	int			ntargets;
	char	  **target_names;	/* relation (qualified, quoted) */
	Oid		   *target_relids;
	int16	   *target_attnums;
	SubjectStatement still_there;	/* as owner: some row still holds $1 */
} SubjectStatistic;

/*
 * The erasure's statement of a table, and what it returns:
 *	- ERASE_DELETE: the DELETE (with RETURNING the statistics values of
 *	  each deleted row, text[] per entry): nothing references the table, so
 *	  every row of the subject goes;
 *	- ERASE_DELETE_COUNTED: a row of the subject's row count, then one
 *	  (a marker, the values) per deleted row;
 *	- ERASE_VALUES_FIRST: for statistics of index expressions or extended
 *	  statistics, {rows, deleted} and the (entry, value) pairs of all the
 *	  subject's rows, computed before the DELETE in the same statement.
 */
typedef enum SubjectEraseForm
{
	ERASE_DELETE,
	ERASE_DELETE_COUNTED,
	ERASE_VALUES_FIRST
} SubjectEraseForm;

/* One table of a kind's subject map. */
typedef struct SubjectTable
{
	Oid			relid;
	char	   *name;			/* qualified, quoted */
	Oid			owner;
	int			depth;
	bool		personal;
	int			personal_index; /* in SubjectKind.personal, or -1 */
	int			nhops;
	Oid		   *hops;			/* constraint oids, from this table up */
	SubjectForeignKey *first_hop;	/* hops[0], or NULL for the anchor */
	char	   *rows_sql;		/* "FROM ... AS t0 ... WHERE ..." of the subject's rows */
	char	   *joined;			/* the tables joined on the path, or "" */
	char	   *conditions;		/* the path's conditions and the key's */
	int			nreferencing;
	SubjectForeignKey *referencing; /* foreign keys to this table, by name */

	/* personal tables only */
	Jsonb	   *categories;		/* column -> category */
	int			ncolumns;
	char	  **columns;		/* classified columns, unquoted, in name order */
	int			ncategory_names;
	char	  **category_names; /* the categories of its columns */
	int			nsource_names;
	char	  **source_names;	/* the sources of its columns' classifications */
	int			nrules;
	SubjectRule *rules;			/* by name */
	int			nstatistics;
	SubjectStatistic *statistics;
	bool		statistics_of_columns;	/* every statistics entry is a column */

	/*
	 * As owner: delete the subject's rows that no row references, and tell
	 * how many rows the subject has and the statistics values of those
	 * deleted (erase_form).
	 */
	SubjectEraseForm erase_form;
	SubjectStatement erase;

	/*
	 * Where every foreign key to the table comes from a personal table whose
	 * path runs through it (its referrers, by personal_index): once the
	 * erasure has deleted all the subject's rows of every referrer, nothing
	 * references the subject's rows here any more, and erase_unreferenced
	 * (ERASE_DELETE, without the checks) takes them. NULL otherwise.
	 */
	int			nreferrers;
	int		   *referrers;
	SubjectStatement erase_unreferenced;
	/* as owner: the subject's rows' values in the statistics */
	SubjectStatement statistics_values;

	/*
	 * How the careful way (erasure_table.c) names a row: by its ctid, or,
	 * where Citus manages the table (rows_by_key: a ctid names a row only
	 * within one shard, and differs between the copies of a reference
	 * table), by its primary key as the text of a jsonb array
	 * (nkey_columns 0: it has none),
	 * passing the values of its distribution column (route_column, NULL
	 * for a reference table) along, so that Citus routes each statement to
	 * the shard of the rows. A statement that takes row ids then takes them
	 * as $1 (text[]) and those values as $2 (text[]); else as $1 (tid[]).
	 */
	bool		rows_by_key;
	int			nkey_columns;
	char	  **key_columns;	/* quoted */
	char	  **key_types_sql;	/* their types, schema-qualified */
	char	  **key_operators;	/* OPERATOR(schema.=) of those types */
	char	  **key_send_functions; /* see subject_key_text() */
	char	   *route_column;	/* quoted */
	char	   *route_type_sql; /* the column's type, schema-qualified */
	char	   *route_operator; /* OPERATOR(schema.=) of that type */

	/* as owner: the subject's rows, locked: their row ids (and route values) */
	SubjectStatement lock_rows;
	/* as owner: delete rows $1 no row references */
	SubjectStatement delete_unreferenced;
	/* as owner: whether a row of the subject but $2 is left unreferenced */
	SubjectStatement rows_left;
} SubjectTable;

/* How a kind's key is turned into its canonical text. */
typedef enum SubjectKeyForm
{
	SUBJECT_KEY_INT2,
	SUBJECT_KEY_INT4,
	SUBJECT_KEY_INT8,
	SUBJECT_KEY_TEXT,			/* text, or varchar without a length */
	SUBJECT_KEY_CAST			/* anything else: ($1::type)::text */
} SubjectKeyForm;

/* An entry of the export's categories, sources or retention sections. */
typedef struct ExportEntry
{
	Jsonb	   *entry;
	int			ntables;
	int		   *tables;			/* indexes into SubjectKind.personal */
} ExportEntry;

typedef enum ExportSection
{
	EXPORT_CATEGORIES,
	EXPORT_SOURCES,
	EXPORT_RETENTION,
	EXPORT_NSECTIONS
} ExportSection;

/*
 * The personal tables of one owner, read by one statement in the export;
 * the first group's statement, as the anchor's owner, also finds the
 * subject.
 */
typedef struct ExportGroup
{
	Oid			owner;
	bool		finds_subject;	/* whether the anchor has the subject, from */
	int			anchor_table;	/* the anchor's rows (in tables), or -1: */
	bool		exists_column;	/* from the first column, an EXISTS, or else
								 * from the kind's exists statement */
	char	   *description;	/* the tables, for error context */
	bool		single;
	int			ntables;
	int		   *tables;			/* indexes into SubjectKind.personal */
	SubjectStatement read;		/* as owner: one jsonb array (or NULL) per table */
} ExportGroup;

/* A subject kind, and once needed, its subject map and statements. */
typedef struct SubjectKind
{
	char	   *name;
	MemoryContext context;
	uint64		generation;		/* which of the kinds built by this backend it is */
	int			pins;			/* calls using it */
	bool		stale;

	/* the anchor and the key */
	Oid			anchor;
	char	   *anchor_name;	/* qualified, quoted */
	char	   *key_column;		/* unquoted */
	Oid			key_type;
	int32		key_typmod;
	char	   *key_type_name;	/* as format_type() shows it */
	char	   *key_type_sql;	/* schema-qualified, for casts */
	char	   *key_operator;	/* OPERATOR(schema.=) of the key's type */
	SubjectKeyForm key_form;
	SubjectStatement key_cast;	/* SUBJECT_KEY_CAST */
	SubjectStatement exists;	/* the anchor has a row of key $1 */
	SubjectStatement exists_locked; /* the same, locking it */
	bool		key_index_known;	/* key_index was looked for (subject_key.c) */
	Oid			key_index;		/* the anchor's primary key, if it is the key
								 * alone and searched as the statements do */
	RegProcedure key_index_equal;	/* its = for the key */
	bool		anchor_distributed; /* a table Citus manages (citus.h) */
	SubjectStatement lock_anchor;	/* anchor_distributed: the row of key $1,
									 * locked, in a query Citus plans on its
									 * fast path */

	/* the subject map, once built */
	bool		tables_built;
	int			ntables;
	SubjectTable *tables;		/* by depth, then name */
	int			npersonal;
	SubjectTable **personal;	/* the personal ones, in the same order */

	/* export */
	Jsonb	   *policy_sections;
	int			nentries[EXPORT_NSECTIONS];
	ExportEntry *entries[EXPORT_NSECTIONS];
	int			ngroups;
	ExportGroup *groups;		/* the anchor's owner's first */

	/* erasure */
	SubjectStatement erase_frame;	/* after the subject lock: see erasure.c */
	int			ncareful;
	Oid		   *careful;		/* tables with rules that keep rows */
} SubjectKind;

/*
 * The subject area's initialisation, called by _PG_init: registers the
 * relcache and syscache callbacks that keep the cache current
 * (subject_cache.c).
 */
extern void SubjectInit(void);

/* subject_cache.c */
extern SubjectKind *subject_kind_acquire(const char *kind, bool with_tables);
extern void subject_kind_release(SubjectKind *kind);
extern SPIPlanPtr subject_statement_plan(SubjectKind *kind, SubjectStatement *statement);
extern void subject_statement_init(SubjectStatement *statement, char *sql,
								   int nargs, const Oid *argtypes);
extern void subject_key_statement_init(SubjectKind *kind, SubjectStatement *statement, char *sql,
									   int nargs, const Oid *argtypes);
extern Datum *subject_statement_arguments(SubjectKind *kind, SubjectStatement *statement,
										  Datum *values);

/* subject_paths.c: reading a kind and its subject map from the catalog */
extern void subject_read_kind(SubjectKind *kind);
extern void subject_read_tables(SubjectKind *kind);
extern void subject_read_foreign_key(SubjectKind *kind, Oid conoid, SubjectForeignKey *fk);
extern uint64 subject_relation_signature(Oid relid);
extern void subject_read_row_key(SubjectTable *t);

/* subject_statements.c */
extern void subject_build_key_statements(SubjectKind *kind);
extern void subject_build_statements(SubjectKind *kind);
extern char *subject_unreferenced_condition(const SubjectTable *table, const char *alias);
extern char *subject_join_condition(const SubjectForeignKey *fk, const char *parent_alias,
									const char *child_alias);
extern char *subject_key_text(const SubjectTable *t, int i, const char *alias);
extern char *subject_row_id(const SubjectTable *t, const char *alias);
extern char *subject_row_route(const SubjectTable *t, const char *alias, int param);
extern char *subject_row_match(const SubjectTable *t, const char *alias, int param);

/* subject_key.c */
extern char *subject_canonical_key(SubjectKind *kind, const char *subject);
extern text *subject_reference(const char *kind, const char *key);
extern bool subject_exists(SubjectKind *kind, const char *key, bool lock_it);
extern int64 subject_lock_key(const char *scope, const char *kind, const char *subject);
extern void subject_lock_take(int64 key);
extern char *subject_kind_argument(FunctionCallInfo fcinfo, int argno);
extern char *subject_key_argument(FunctionCallInfo fcinfo, int argno, SubjectKind *kind);

/* what subject_cache.c records a kind's entry as depending on */
extern void subject_depend_on_relation(SubjectKind *kind, Oid relid);
extern void subject_depend_on_constraint(SubjectKind *kind, Oid conoid);

#endif							/* PRIVACY_SUBJECT_H */
