/*
 * relcache_callbacks.h
 *		One relcache invalidation callback for the whole extension.
 */
#ifndef PRIVACY_RELCACHE_CALLBACKS_H
#define PRIVACY_RELCACHE_CALLBACKS_H

#include "utils/inval.h"

extern void privacy_register_relcache_callback(RelcacheCallbackFunction func);

#endif
