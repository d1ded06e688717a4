/*
 * qualified_name.h
 *		The schema-qualified, quoted name of a table, for the SQL and the
 *		messages the extension builds.
 */
#ifndef PRIVACY_QUALIFIED_NAME_H
#define PRIVACY_QUALIFIED_NAME_H

/* "schema"."table" of relid, quoted where needed; NULL if it does not exist. */
extern char *privacy_qualified_name(Oid relid);

#endif							/* PRIVACY_QUALIFIED_NAME_H */
