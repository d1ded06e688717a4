/*
 * restore.h
 *		Telling a restore's load of a table from the extension's own writes.
 */
#ifndef PRIVACY_RESTORE_H
#define PRIVACY_RESTORE_H

/*
 * Whether the statement the client sent is itself a COPY ... FROM or an
 * INSERT into relid: how pg_restore and psql load a table's rows from a dump.
 */
extern bool privacy_loading_table(Oid relid);

#endif							/* PRIVACY_RESTORE_H */
