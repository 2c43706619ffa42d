/* ferry-redis-store.h
 *
 * The rendezvous server's shared store in Redis: nameplates, mailbox queues,
 * joins, limits and the events that tell every instance what happened.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_REDIS_STORE (ferry_redis_store_get_type ())

G_DECLARE_FINAL_TYPE (FerryRedisStore, ferry_redis_store, FERRY, REDIS_STORE, GObject)

/* What one script answered: a status word ("ok", "err", "gone", …) and its
 * values, all as strings; or an error when Redis could not be asked. */
typedef void (*FerryRedisStoreFunc) (FerryRedisStore *store,
                                     GStrv            reply,
                                     const GError    *error,
                                     gpointer         user_data);

/* A list of queued messages (each: one type byte, then the payload). */
typedef void (*FerryRedisStoreListFunc) (FerryRedisStore *store,
                                         GPtrArray       *items,
                                         const GError    *error,
                                         gpointer         user_data);

FerryRedisStore *ferry_redis_store_new          (const char       *url,
                                                 GError          **error);
gboolean         ferry_redis_store_is_connected (FerryRedisStore  *self);
const char      *ferry_redis_store_get_url      (FerryRedisStore  *self);

void ferry_redis_store_allocate (FerryRedisStore     *self,
                                 const char          *owner,
                                 guint                ttl,
                                 guint                per_address,
                                 guint                per_minute,
                                 guint                max_total,
                                 FerryRedisStoreFunc  func,
                                 gpointer             user_data);
void ferry_redis_store_join     (FerryRedisStore     *self,
                                 guint                number,
                                 const char          *address,
                                 const char          *token,
                                 const char          *resume_token,
                                 guint                joins_per_minute,
                                 FerryRedisStoreFunc  func,
                                 gpointer             user_data);
void ferry_redis_store_append   (FerryRedisStore     *self,
                                 guint                number,
                                 const char          *generation,
                                 guint                from,
                                 const char          *epoch,
                                 guint8               type,
                                 GBytes              *message,
                                 guint                max_queued,
                                 guint                max_bytes,
                                 FerryRedisStoreFunc  func,
                                 gpointer             user_data);
void ferry_redis_store_leave    (FerryRedisStore     *self,
                                 guint                number,
                                 const char          *generation,
                                 guint                side,
                                 const char          *epoch,
                                 gboolean             burn,
                                 FerryRedisStoreFunc  func,
                                 gpointer             user_data);
void ferry_redis_store_fetch    (FerryRedisStore        *self,
                                 guint                   number,
                                 guint                   to,
                                 guint                   start,
                                 FerryRedisStoreListFunc func,
                                 gpointer                user_data);

G_END_DECLS
