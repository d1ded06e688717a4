/*
 * citus.h
 *		What the extension needs to know about a Citus cluster it runs in:
 *		whether a table is one Citus manages, whether this node is a worker,
 *		and the coordinator's copy of a key.
 */
#ifndef PRIVACY_CITUS_H
#define PRIVACY_CITUS_H

#include "utils/rel.h"

/* Whether the Citus extension is installed in the current database. */
extern bool privacy_citus_installed(void);

/* Whether relid is a distributed, reference or Citus local table. */
extern bool privacy_citus_table(Oid relid);

/*
 * The distribution column of a table Citus distributes by hash (unquoted),
 * or NULL (a reference or Citus local table, or no Citus table at all).
 */
extern char *privacy_citus_distribution_column(Oid relid);

/*
 * For a Citus shard (a relation called name_<shard id> beside a table
 * called name, and that shard of it in the Citus metadata), the name of its
 * table; else NULL.
 */
extern const char *privacy_citus_shard_of(Relation rel);

/*
 * Whether rel is, on a worker, a copy of a shard the coordinator holds a
 * copy of too (a reference table's), where the same change is made.
 */
extern bool privacy_citus_shard_on_coordinator_too(Relation rel);

/* This node's Citus group: 0 for the coordinator, or where Citus is not installed. */
extern int32 privacy_citus_group(void);

/* Whether this node is a Citus worker (a node of a group other than the coordinator's). */
extern bool privacy_citus_worker(void);

/*
 * The cursor options for the plan of a generated statement that finds a
 * subject's rows by key: a generic plan, or, with Citus installed, a custom
 * plan, in which the key is a constant of the distribution column's type
 * that Citus can route to one shard (it cannot plan a generic one whose key
 * is a text parameter cast to that type).
 */
extern int	privacy_statement_plan_options(void);

/*
 * The result of command (one value) run on the coordinator through Citus's
 * connection to it, as the current user; NULL for an empty or NULL value.
 * An error saying what could not be done ("read key \"x\"") if it fails.
 */
extern char *privacy_citus_coordinator_result(const char *command, const char *what);

/*
 * The coordinator's key called name, read through Citus's connection to the
 * coordinator, in TopMemoryContext; NULL if the coordinator has no such key.
 * Call as the extension's owner.
 */
extern bytea *privacy_citus_coordinator_key(const char *name);

/*
 * Installs the utility hook that lets the extension's own triggers onto
 * tables Citus distributes (citus_triggers.c).
 */
extern void CitusTriggersInit(void);

#endif							/* PRIVACY_CITUS_H */
