/* ferry-test-redis.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-test"

#include "config.h"

#include <string.h>

#include "ferry-test-redis.h"
#include "ferry-test-utils.h"

#define REDIS_START_TIMEOUT_MS 10000

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Starts redis-server on redis->port and waits for its own word that it
 * accepts connections. FALSE when the port was taken meanwhile. */
static gboolean
spawn (FerryTestRedis *redis)
{
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *port = g_strdup_printf ("%u", redis->port);
  const char *argv[] = { "redis-server", "--port", port, "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "no", "--dir", redis->dir,
                         "--daemonize", "no", NULL };

  redis->process = ferry_test_spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                            G_SUBPROCESS_FLAGS_STDERR_MERGE);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (redis->process));
  for (;;)
    {
      g_autofree char *line = ferry_test_read_line (out, REDIS_START_TIMEOUT_MS);

      if (line == NULL || strstr (line, "Address already in use") != NULL)
        {
          g_subprocess_force_exit (redis->process);
          g_subprocess_wait (redis->process, NULL, NULL);
          g_clear_object (&redis->process);
          return FALSE;
        }
      if (strstr (line, "Ready to accept connections") != NULL)
        return TRUE;
    }
}

/**
 * ferry_test_redis_wanted:
 *
 * Returns: whether this test run is for the Redis backend
 *   ($FERRY_TEST_BACKEND=redis, set by tests/meson.build)
 */
gboolean
ferry_test_redis_wanted (void)
{
  return g_strcmp0 (g_getenv ("FERRY_TEST_BACKEND"), "redis") == 0;
}

FerryTestRedis *
ferry_test_redis_start (void)
{
  FerryTestRedis *redis = g_new0 (FerryTestRedis, 1);

  redis->dir = ferry_test_make_temp_dir ("redis");
  /* Another program may take the free port before redis binds it. */
  for (guint attempt = 0; attempt < 5; attempt++)
    {
      redis->port = free_port ();
      if (spawn (redis))
        break;
    }
  g_assert_nonnull (redis->process);
  redis->url = g_strdup_printf ("redis://127.0.0.1:%u", redis->port);
  return redis;
}

/* kill -9: nothing is saved, every key is gone. */
void
ferry_test_redis_stop (FerryTestRedis *redis)
{
  if (redis->process == NULL)
    return;
  g_subprocess_force_exit (redis->process);
  g_subprocess_wait (redis->process, NULL, NULL);
  g_clear_object (&redis->process);
}

void
ferry_test_redis_restart (FerryTestRedis *redis)
{
  ferry_test_redis_stop (redis);
  g_assert_true (spawn (redis));
}

void
ferry_test_redis_free (FerryTestRedis *redis)
{
  if (redis == NULL)
    return;
  ferry_test_redis_stop (redis);
  ferry_test_clear_temp_dir (&redis->dir);
  g_free (redis->url);
  g_free (redis);
}
