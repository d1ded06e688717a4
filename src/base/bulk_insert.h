/*
 * bulk_insert.h
 *		Appending many rows to one of the extension's own tables in one
 *		pass, as COPY appends rows.
 *
 * Rows are buffered and written with heap multi-inserts (one WAL record
 * per page rather than per row), then each row's index entries; each row
 * is checked by the table's NOT NULL and CHECK constraints as an INSERT
 * checks it, and a unique index refuses a duplicate as an INSERT's would.
 * Column defaults are not applied: the caller gives every column's value.
 * No trigger fires and no rule or row security applies, so
 * bulk_insert_begin() refuses a table with an INSERT rule, with row
 * security for the current role, that Citus manages, or with an INSERT
 * trigger other than those whose work the caller does itself
 * (replaced_triggers, by name).
 * Must be called with the table locked at least in ROW EXCLUSIVE mode, as
 * a role that may write it.
 */
#ifndef PRIVACY_BULK_INSERT_H
#define PRIVACY_BULK_INSERT_H

#include "utils/relcache.h"

typedef struct BulkInsert BulkInsert;

extern BulkInsert *bulk_insert_begin(Oid relid, const char *const *replaced_triggers, int nreplaced);

/* The table being written, open until bulk_insert_end(). */
extern Relation bulk_insert_relation(BulkInsert *insert);

/* The number of column name of the table; an error if it has none. */
extern AttrNumber bulk_insert_column(BulkInsert *insert, const char *name);

/*
 * Buffers a row, values and isnull in the table's column order (copied),
 * after checking it against the table's constraints.
 */
extern void bulk_insert_row(BulkInsert *insert, const Datum *values, const bool *isnull);

/* Writes the buffered rows and their index entries. */
extern void bulk_insert_flush(BulkInsert *insert);

/* Flushes and closes. */
extern void bulk_insert_end(BulkInsert *insert);

#endif							/* PRIVACY_BULK_INSERT_H */
