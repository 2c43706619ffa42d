/* ferry-test-redis.h
 *
 * A real redis-server for tests: its own folder, a free loopback port, no
 * persistence; stopped (also by kill -9) and started again on the same port.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char        *dir;
  char        *url;   /* "redis://127.0.0.1:PORT" */
  guint16      port;
} FerryTestRedis;

FerryTestRedis *ferry_test_redis_start   (void);
void            ferry_test_redis_stop    (FerryTestRedis *redis);
void            ferry_test_redis_restart (FerryTestRedis *redis);
void            ferry_test_redis_free    (FerryTestRedis *redis);
gboolean        ferry_test_redis_wanted  (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestRedis, ferry_test_redis_free)

G_END_DECLS
