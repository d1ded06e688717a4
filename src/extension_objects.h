/*
 * extension_objects.h
 *		Finding the extension's own tables from C, and acting as their owner.
 */
#ifndef PRIVACY_EXTENSION_OBJECTS_H
#define PRIVACY_EXTENSION_OBJECTS_H

#include "postgres.h"

/* The schema every object of the extension lives in (not relocatable). */
#define PRIVACY_SCHEMA "privacy"

/* The OID of the owner of table privacy.<relname>; an error if it is missing. */
extern Oid	privacy_table_owner(const char *relname);

/*
 * Switches the current user to the owner of privacy.<relname>, in a
 * restricted security context; privacy_end_as_owner() switches back and must
 * run in PG_FINALLY. The caller's user is saved in *save.
 */
typedef struct PrivacyUserContext
{
	Oid			userid;
	int			sec_context;
} PrivacyUserContext;

extern void privacy_begin_as_owner(const char *relname, PrivacyUserContext *save);
extern void privacy_end_as_owner(const PrivacyUserContext *save);

#endif							/* PRIVACY_EXTENSION_OBJECTS_H */
