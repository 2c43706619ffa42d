/* ferry-redis-store.h
 *
 * The rendezvous server's shared store in Redis (a FerryMailboxStore):
 * nameplates, mailbox queues, joins, limits, side tokens and the events that
 * tell every instance what happened.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-mailbox-store.h"

G_BEGIN_DECLS

#define FERRY_TYPE_REDIS_STORE (ferry_redis_store_get_type ())

G_DECLARE_FINAL_TYPE (FerryRedisStore, ferry_redis_store, FERRY, REDIS_STORE, GObject)

FerryRedisStore *ferry_redis_store_new     (const char       *url,
                                            GError          **error);
const char      *ferry_redis_store_get_url (FerryRedisStore  *self);

G_END_DECLS
