/*
 * relcache_callbacks.c
 *		One relcache invalidation callback for the whole extension.
 *
 * PostgreSQL keeps a small fixed table of relcache invalidation callbacks
 * per backend (MAX_RELCACHE_CALLBACKS, 10 in PostgreSQL 15), shared by the
 * server and every loaded library; a backend that runs out fails with
 * "out of relcache_callback_list slots". Citus alone registers several.
 * The extension's caches (subject map, consent checks, keys, rectification
 * triggers, forwarded purposes) therefore register here, and the extension
 * takes a single slot whose callback calls each of them in turn.
 */
#include "postgres.h"

#include "base/relcache_callbacks.h"

/* Enough for every cache of the extension; registering more is a bug. */
#define MAX_PRIVACY_RELCACHE_CALLBACKS 16

static RelcacheCallbackFunction callbacks[MAX_PRIVACY_RELCACHE_CALLBACKS];
static int	ncallbacks = 0;

static void
call_every_callback(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < ncallbacks; i++)
		callbacks[i] (arg, relid);
}

/*
 * Calls func(0, relid) on every relcache invalidation of this backend, as
 * CacheRegisterRelcacheCallback() would, from the extension's one slot.
 */
void
privacy_register_relcache_callback(RelcacheCallbackFunction func)
{
	if (ncallbacks >= MAX_PRIVACY_RELCACHE_CALLBACKS)
		elog(ERROR, "too many opendims_privacy relcache callbacks");
	if (ncallbacks == 0)
		CacheRegisterRelcacheCallback(call_every_callback, (Datum) 0);
	callbacks[ncallbacks++] = func;
}
