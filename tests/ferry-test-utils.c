/* ferry-test-utils.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-test"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sodium.h>
#include <signal.h>
#include <sys/prctl.h>

#include "ferry-test-utils.h"
#include "ferry-test-redis.h"
#include "ferry-code.h"
#include "ferry-version.h"

#define SERVER_START_TIMEOUT_MS 10000
#define CHANNEL_TIMEOUT_MS      10000

void
ferry_test_init (int    *argc,
                 char ***argv)
{
  g_autoptr(GError) error = NULL;

  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (!ferry_init (&error))
    g_error ("%s", error->message);
}

static gboolean
deadline_reached_cb (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/**
 * ferry_test_wait_until:
 *
 * Iterates the thread-default main context until @condition holds or
 * @timeout_ms pass. Tests assert on the result, so a missing event fails
 * the test instead of hanging it.
 *
 * Returns: %TRUE if @condition became true in time
 */
gboolean
ferry_test_wait_until (FerryTestCondition condition,
                       gpointer           user_data,
                       guint              timeout_ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  gboolean expired = FALSE;
  GSource *source;

  if (condition (user_data))
    return TRUE;

  source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (source, deadline_reached_cb, &expired, NULL);
  g_source_attach (source, context);

  while (!expired && !condition (user_data))
    g_main_context_iteration (context, TRUE);

  g_source_destroy (source);
  g_source_unref (source);

  return condition (user_data);
}

static gboolean
flag_is_set (gpointer user_data)
{
  return *(const gboolean *) user_data;
}

gboolean
ferry_test_wait_for_flag (const gboolean *flag,
                          guint           timeout_ms)
{
  return ferry_test_wait_until (flag_is_set, (gpointer) flag, timeout_ms);
}

static gboolean
pointer_is_set (gpointer user_data)
{
  return *(gpointer *) user_data != NULL;
}

gboolean
ferry_test_wait_for_pointer (gpointer *pointer,
                             guint     timeout_ms)
{
  return ferry_test_wait_until (pointer_is_set, pointer, timeout_ms);
}

/**
 * ferry_test_async_result_cb:
 * @user_data: a `GAsyncResult *` set to %NULL
 *
 * A #GAsyncReadyCallback that keeps a reference to the result in
 * *@user_data, for ferry_test_wait_async_result().
 */
void
ferry_test_async_result_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/**
 * ferry_test_wait_async_result:
 * @result: where ferry_test_async_result_cb() puts the result
 *
 * Waits for the result; the test fails when it does not come in time.
 *
 * Returns: (transfer none): *@result, still owned by the caller
 */
GAsyncResult *
ferry_test_wait_async_result (GAsyncResult **result,
                              guint          timeout_ms)
{
  g_assert_true (ferry_test_wait_for_pointer ((gpointer *) result, timeout_ms));
  return *result;
}

/**
 * ferry_test_open_store:
 * @first_element: the database's path, in elements as for g_build_filename()
 *
 * Opens a real SQLite store there, failing the test if it can't.
 *
 * Returns: (transfer full): the store
 */
FerryStore *
ferry_test_open_store (const char *first_element,
                       ...)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  FerryStore *store;
  va_list args;

  va_start (args, first_element);
  path = g_build_filename_valist (first_element, &args);
  va_end (args);

  ferry_store_open_async (path, NULL, ferry_test_async_result_cb, &result);
  store = ferry_store_open_finish (ferry_test_wait_async_result (&result, 30000), &error);
  g_assert_no_error (error);
  return store;
}

typedef struct
{
  char     *line;
  GError   *error;
  gboolean  done;
} ReadLine;

/* A server must not outlive a test that crashed: it would hold the test's
 * output pipes open and hang the harness. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/**
 * ferry_test_spawn:
 * @argv: the program and its arguments
 *
 * Starts a helper program (a server) that is killed when the test dies.
 *
 * Returns: (transfer full): the process
 */
GSubprocess *
ferry_test_spawn (const char * const *argv,
                  GSubprocessFlags    flags)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

static void
read_line_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  ReadLine *read = user_data;

  read->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object),
                                                          result, NULL, &read->error);
  read->done = TRUE;
}

/**
 * ferry_test_read_line:
 *
 * Reads the next line a helper program prints; the test fails when none
 * comes within @timeout_ms.
 *
 * Returns: (transfer full) (nullable): the line, or %NULL at the end
 */
char *
ferry_test_read_line (GDataInputStream *in,
                      guint             timeout_ms)
{
  ReadLine read = { 0 };

  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, read_line_cb, &read);
  g_assert_true (ferry_test_wait_for_flag (&read.done, timeout_ms));
  g_assert_no_error (read.error);
  return read.line;
}

/**
 * ferry_test_rendezvous_start:
 * @extra_args: (nullable): more command line options, %NULL-terminated
 *
 * Starts the ferry-rendezvous binary of this build on 127.0.0.1 port 0 and
 * waits for the line that tells its URL. The program is found through
 * $FERRY_RENDEZVOUS_BIN, which tests/meson.build sets.
 */
FerryTestRendezvous *
ferry_test_rendezvous_start (const char * const *extra_args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  FerryTestRendezvous *server;
  const char *binary = g_getenv ("FERRY_RENDEZVOUS_BIN");
  const char *prefix = "listening on ";
  guint64 port;

  g_assert_nonnull (binary);

  g_ptr_array_add (argv, (gpointer) binary);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra_args[i]);

  server = g_new0 (FerryTestRendezvous, 1);
  /* The same tests, against a Redis of the server's own. */
  if (ferry_test_redis_wanted () &&
      (extra_args == NULL || !g_strv_contains (extra_args, "--redis")))
    {
      FerryTestRedis *redis = ferry_test_redis_start ();

      server->redis = redis;
      g_ptr_array_add (argv, (gpointer) "--redis");
      g_ptr_array_add (argv, redis->url);
    }
  g_ptr_array_add (argv, NULL);
  server->process = ferry_test_spawn ((const char * const *) argv->pdata,
                                      G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->process));
  line = ferry_test_read_line (out, SERVER_START_TIMEOUT_MS);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));

  server->url = g_strdup (line + strlen (prefix));
  while (g_str_has_suffix (server->url, "/"))
    server->url[strlen (server->url) - 1] = '\0';

  g_assert_true (g_str_has_prefix (server->url, "http://127.0.0.1:"));
  g_assert_true (g_ascii_string_to_unsigned (server->url + strlen ("http://127.0.0.1:"),
                                             10, 1, G_MAXUINT16, &port, NULL));
  server->port = (guint16) port;

  return server;
}

void
ferry_test_rendezvous_free (FerryTestRendezvous *server)
{
  if (server == NULL)
    return;

  if (server->process != NULL)
    {
      g_subprocess_force_exit (server->process);
      g_subprocess_wait (server->process, NULL, NULL);
      g_clear_object (&server->process);
    }
  g_clear_pointer ((FerryTestRedis **) &server->redis, ferry_test_redis_free);

  g_free (server->url);
  g_free (server);
}

/* Rendezvous client steps, each waited for with a deadline ------------ */

#define RENDEZVOUS_TIMEOUT_MS 30000

char *
ferry_test_allocate (FerryRendezvousClient  *client,
                     GCancellable           *cancellable,
                     GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_rendezvous_client_allocate_async (client, cancellable, ferry_test_async_result_cb,
                                          &result);
  ferry_test_wait_async_result (&result, RENDEZVOUS_TIMEOUT_MS);
  return ferry_rendezvous_client_allocate_finish (client, result, error);
}

FerryMailbox *
ferry_test_open_mailbox (FerryRendezvousClient  *client,
                         const char             *nameplate,
                         GCancellable           *cancellable,
                         GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_rendezvous_client_open_mailbox_async (client, nameplate, cancellable,
                                              ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, RENDEZVOUS_TIMEOUT_MS);
  return ferry_rendezvous_client_open_mailbox_finish (client, result, error);
}

JsonObject *
ferry_test_fetch_ice (FerryRendezvousClient  *client,
                      const char             *token,
                      GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_rendezvous_client_fetch_ice_async (client, token, NULL, ferry_test_async_result_cb,
                                           &result);
  ferry_test_wait_async_result (&result, RENDEZVOUS_TIMEOUT_MS);
  return ferry_rendezvous_client_fetch_ice_finish (client, result, error);
}

GBytes *
ferry_test_receive (FerryMailbox  *mailbox,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_mailbox_receive_async (mailbox, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, RENDEZVOUS_TIMEOUT_MS);
  return ferry_mailbox_receive_finish (mailbox, result, error);
}

void
ferry_test_send_text (FerryMailbox *mailbox,
                      const char   *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));

  ferry_mailbox_send (mailbox, bytes);
}

/**
 * ferry_test_wrong_code_for:
 * @code: a normalized share code
 *
 * Returns: (transfer full): @code with its last word replaced by another
 *   valid word: the same nameplate, a wrong guess
 */
char *
ferry_test_wrong_code_for (const char *code)
{
  g_auto(GStrv) parts = g_strsplit (code, "-", -1);
  guint n = g_strv_length (parts);
  g_auto(GStrv) candidates = ferry_code_complete ("a", 2);
  const char *replacement;

  g_assert_cmpuint (n, >=, 2);
  g_assert_nonnull (candidates);
  g_assert_nonnull (candidates[0]);
  g_assert_nonnull (candidates[1]);

  replacement = g_strcmp0 (candidates[0], parts[n - 1]) != 0 ? candidates[0] : candidates[1];
  g_free (parts[n - 1]);
  parts[n - 1] = g_strdup (replacement);
  return g_strjoinv ("-", parts);
}

/**
 * ferry_test_make_temp_dir:
 * @name: what the folder is for, part of its name
 *
 * Returns: (transfer full): a new empty folder in the temporary folder, for
 *   one test; remove it with ferry_test_clear_temp_dir()
 */
char *
ferry_test_make_temp_dir (const char *name)
{
  g_autofree char *tmpl = g_strdup_printf ("ferry-%s-XXXXXX", name);
  g_autoptr(GError) error = NULL;
  char *path = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  return path;
}

/**
 * ferry_test_clear_temp_dir:
 * @path: a folder from ferry_test_make_temp_dir(), or %NULL
 *
 * Deletes the folder and everything in it, and sets *@path to %NULL.
 */
void
ferry_test_clear_temp_dir (char **path)
{
  if (*path == NULL)
    return;

  ferry_test_remove_tree (*path);
  g_clear_pointer (path, g_free);
}

/**
 * ferry_test_remove_tree:
 * @path: a folder a test made
 *
 * Deletes @path and everything in it, without following symbolic links.
 */
void
ferry_test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        ferry_test_remove_tree (child);
      else
        g_assert_no_errno (g_unlink (child));
    }
  g_rmdir (path);
}

/**
 * ferry_test_write_random_file:
 * @seed: the same seed gives the same bytes
 *
 * Writes @size pseudo-random bytes (a ChaCha20 key stream), fast enough for
 * files of hundreds of megabytes.
 */
void
ferry_test_write_random_file (const char *path,
                              gsize       size,
                              guint32     seed)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc (MAX (size, 1));
  guint8 nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
  guint8 key[crypto_stream_chacha20_KEYBYTES] = { 0 };

  memcpy (key, &seed, sizeof seed);
  crypto_stream_chacha20 (data, size, nonce, key);
  g_file_set_contents (path, (const char *) data, (gssize) size, &error);
  g_assert_no_error (error);
}

/**
 * ferry_test_channel_pair_new:
 * @rendezvous_args: (nullable): more options for ferry-rendezvous
 *
 * Starts a ferry-rendezvous and connects two channels through it with one
 * code.
 *
 * Returns: (transfer full): the two channels, connected
 */
FerryTestChannelPair *
ferry_test_channel_pair_new (const char * const *rendezvous_args)
{
  FerryTestChannelPair *pair = g_new0 (FerryTestChannelPair, 1);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) sent = NULL;
  g_autoptr(GAsyncResult) received = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  pair->server = ferry_test_rendezvous_start (rendezvous_args);
  pair->client = ferry_rendezvous_client_new (pair->server->url);
  pair->sender = ferry_channel_new (pair->client);
  pair->receiver = ferry_channel_new (pair->client);

  ferry_channel_create_code_async (pair->sender, 3, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, CHANNEL_TIMEOUT_MS);
  code = ferry_channel_create_code_finish (pair->sender, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);

  ferry_channel_open_code_async (pair->receiver, code, NULL, ferry_test_async_result_cb,
                                 &result);
  ferry_test_wait_async_result (&result, CHANNEL_TIMEOUT_MS);
  ferry_channel_open_code_finish (pair->receiver, result, &error);
  g_assert_no_error (error);

  /* Both PAKEs at once, as two devices run them. */
  ferry_channel_connect_async (pair->sender, NULL, ferry_test_async_result_cb, &sent);
  ferry_channel_connect_async (pair->receiver, NULL, ferry_test_async_result_cb, &received);
  ferry_test_wait_async_result (&sent, CHANNEL_TIMEOUT_MS);
  ferry_test_wait_async_result (&received, CHANNEL_TIMEOUT_MS);
  ferry_channel_connect_finish (pair->sender, sent, &error);
  g_assert_no_error (error);
  ferry_channel_connect_finish (pair->receiver, received, &error);
  g_assert_no_error (error);

  return pair;
}

void
ferry_test_channel_pair_free (FerryTestChannelPair *pair)
{
  if (pair == NULL)
    return;

  g_clear_object (&pair->sender);
  g_clear_object (&pair->receiver);
  g_clear_object (&pair->client);
  g_clear_pointer (&pair->server, ferry_test_rendezvous_free);
  g_free (pair);
}

/**
 * ferry_test_nested_arrays:
 *
 * Returns: (transfer full): "[[…]]", @depth levels deep, for parsers that
 *   must refuse deep nesting without recursing into it
 */
char *
ferry_test_nested_arrays (guint depth)
{
  GString *s = g_string_sized_new (2 * (gsize) depth);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}
