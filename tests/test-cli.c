/* test-cli.c
 *
 * ferry-cli as a script uses it: two real processes meeting through a real
 * ferry-rendezvous, watched through their --json event lines.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <pty.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "ferry-offer.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 30000
/* A vanished peer must be reported within this (the 30 s). */
#define PEER_GONE_MS 30000
#define BLOCK_SIZE (1024 * 1024)

typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GPtrArray        *events;   /* JsonObject */
  gboolean          exited;
  int               status;
  gboolean          reading;
} Cli;

typedef struct
{
  FerryTestRendezvous *server;
  char                *dir;
  char                *source;
  char                *target;
  /* $FERRY_RENDEZVOUS for the programs; the test server's when NULL. */
  const char          *rendezvous_env;
} Fixture;

static void cli_read_next (Cli *cli);

static void
read_line_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Cli *cli = user_data;
  g_autofree char *line = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  cli->reading = FALSE;
  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result,
                                                    NULL, &error);
  if (line == NULL)
    return;

  /* Every line of --json output is one JSON object: anything else fails. */
  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  g_ptr_array_add (cli->events, json_object_ref (json_node_get_object (json_parser_get_root (parser))));

  cli_read_next (cli);
}

static void
cli_read_next (Cli *cli)
{
  cli->reading = TRUE;
  g_data_input_stream_read_line_async (cli->out, G_PRIORITY_DEFAULT, NULL, read_line_cb, cli);
}

static void
wait_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Cli *cli = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  cli->status = g_subprocess_get_if_exited (G_SUBPROCESS (object))
    ? g_subprocess_get_exit_status (G_SUBPROCESS (object))
    : -1;
  cli->exited = TRUE;
}

/* Starts ferry-cli from @launcher with its own XDG_DATA_HOME (its own
 * SQLite store, as on its own machine) and the code, if any, in
 * $FERRY_CODE; @args is NULL-terminated. */
static GSubprocess *
launch (Fixture             *fixture,
        GSubprocessLauncher *launcher,
        const char          *home,
        const char          *code,
        const char * const  *args,
        GError             **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *data_home = g_build_filename (fixture->dir, home, NULL);

  g_ptr_array_add (argv, (gpointer) g_getenv ("FERRY_CLI_BIN"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_setenv (launcher, "FERRY_RENDEZVOUS",
                                fixture->rendezvous_env != NULL ? fixture->rendezvous_env
                                                                : fixture->server->url, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  if (code != NULL)
    g_subprocess_launcher_setenv (launcher, "FERRY_CODE", code, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "FERRY_CODE");

  return g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
}

/* Starts ferry-cli from @launcher with its own XDG_DATA_HOME (its own
 * SQLite store, as on its own machine); @args is NULL-terminated. */
static Cli *
cli_spawnv (Fixture             *fixture,
            GSubprocessLauncher *launcher,
            const char          *home,
            const char          *code,
            const char * const  *args)
{
  g_autoptr(GError) error = NULL;
  Cli *cli = g_new0 (Cli, 1);

  cli->process = launch (fixture, launcher, home, code, args, &error);
  g_assert_no_error (error);
  cli->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (cli->process));
  cli->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  cli_read_next (cli);
  g_subprocess_wait_async (cli->process, NULL, wait_cb, cli);

  return cli;
}

/* NULL-terminated arguments; stdin is a pipe, so nobody is at a prompt. */
static Cli *
cli_spawn (Fixture    *fixture,
           const char *home,
           const char *code,
           const char *first,
           ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDIN_PIPE);
  return cli_spawnv (fixture, launcher, home, code, (const char * const *) args->pdata);
}

static gboolean
cli_done (gpointer user_data)
{
  Cli *cli = user_data;

  /* Exited, and every line it wrote has been read. */
  return cli->exited && !cli->reading;
}

static void
cli_free (Cli *cli)
{
  if (!cli->exited)
    {
      g_subprocess_force_exit (cli->process);
      g_assert_true (ferry_test_wait_for_flag (&cli->exited, TIMEOUT_MS));
    }
  g_assert_true (ferry_test_wait_until (cli_done, cli, TIMEOUT_MS));
  g_clear_object (&cli->out);
  g_clear_object (&cli->process);
  g_clear_pointer (&cli->events, g_ptr_array_unref);
  g_free (cli);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cli, cli_free)

static JsonObject *
cli_find_event (Cli        *cli,
                const char *name)
{
  for (guint i = 0; i < cli->events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (cli->events, i);

      if (g_strcmp0 (json_object_get_string_member (event, "event"), name) == 0)
        return event;
    }

  return NULL;
}

typedef struct
{
  Cli        *cli;
  const char *name;
} EventWait;

static gboolean
has_event (gpointer user_data)
{
  EventWait *wait = user_data;

  return cli_find_event (wait->cli, wait->name) != NULL;
}

static JsonObject *
cli_wait_event (Cli        *cli,
                const char *name)
{
  EventWait wait = { cli, name };

  if (!ferry_test_wait_until (has_event, &wait, TIMEOUT_MS))
    g_error ("ferry-cli never reported “%s”", name);

  return cli_find_event (cli, name);
}

static int
cli_wait_exit (Cli *cli)
{
  g_assert_true (ferry_test_wait_until (cli_done, cli, TIMEOUT_MS));
  return cli->status;
}

static void
assert_same_contents (const char *a,
                      const char *b)
{
  g_autofree char *a_data = NULL;
  g_autofree char *b_data = NULL;
  gsize a_len, b_len;

  g_assert_true (g_file_get_contents (a, &a_data, &a_len, NULL));
  g_assert_true (g_file_get_contents (b, &b_data, &b_len, NULL));
  g_assert_cmpmem (a_data, a_len, b_data, b_len);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *path = NULL;

  fixture->server = ferry_test_rendezvous_start (NULL);
  fixture->dir = ferry_test_make_temp_dir ("cli");
  fixture->source = g_build_filename (fixture->dir, "Reise", NULL);
  fixture->target = g_build_filename (fixture->dir, "in", NULL);
  g_assert_cmpint (g_mkdir (fixture->source, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (fixture->target, 0755), ==, 0);

  path = g_build_filename (fixture->source, "notes – Übersicht.txt", NULL);
  ferry_test_write_random_file (path, 123457, 7);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_clear_pointer (&fixture->source, g_free);
  g_clear_pointer (&fixture->target, g_free);
  g_clear_pointer (&fixture->server, ferry_test_rendezvous_free);
}

static char *
start_sender (Fixture  *fixture,
              Cli     **sender)
{
  g_autofree char *uri = NULL;
  JsonObject *event;

  *sender = cli_spawn (fixture, "sender", NULL, "send", "--json", fixture->source, NULL);
  event = cli_wait_event (*sender, "code");
  uri = g_strconcat ("ferry:", json_object_get_string_member (event, "code"), NULL);
  g_assert_cmpstr (json_object_get_string_member (event, "uri"), ==, uri);

  return g_strdup (json_object_get_string_member (event, "code"));
}

static void
test_send_receive (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *code = start_sender (fixture, &sender);
  g_autofree char *sent = g_build_filename (fixture->source, "notes – Übersicht.txt", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise",
                                               "notes – Übersicht.txt", NULL);
  JsonObject *offer, *path, *done;

  /* The code comes through the environment, not argv. */
  receiver = cli_spawn (fixture, "receiver", code, "receive", "--json", "--yes",
                        "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);

  offer = cli_find_event (receiver, "offer");
  g_assert_nonnull (offer);
  g_assert_cmpint (json_object_get_int_member (offer, "files"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (offer, "bytes"), ==, 123457);

  path = cli_find_event (receiver, "path");
  g_assert_nonnull (path);
  g_assert_cmpstr (json_object_get_string_member (path, "kind"), ==, "direct-lan");
  g_assert_nonnull (cli_find_event (sender, "path"));

  done = cli_find_event (receiver, "done");
  g_assert_nonnull (done);
  g_assert_cmpint (json_object_get_int_member (done, "bytes"), ==, 123457);
  g_assert_nonnull (cli_find_event (sender, "done"));
  g_assert_null (cli_find_event (sender, "error"));

  assert_same_contents (sent, arrived);
}

static void
test_wrong_code (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *code = start_sender (fixture, &sender);
  g_autofree char *wrong = ferry_test_wrong_code_for (code);
  JsonObject *error;

  receiver = cli_spawn (fixture, "receiver", wrong, "receive", "--json", "--yes",
                        "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 1);
  g_assert_cmpint (cli_wait_exit (sender), ==, 1);
  error = cli_find_event (receiver, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "error"), ==, "wrong-code");
  g_assert_cmpstr (json_object_get_string_member (cli_find_event (sender, "error"), "error"),
                   ==, "wrong-code");
  g_assert_null (cli_find_event (receiver, "done"));
}

static void
test_malformed_code (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(Cli) receiver = NULL;
  JsonObject *error;

  receiver = cli_spawn (fixture, "receiver", "orbit-tulip-canvas", "receive", "--json",
                        "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 1);
  error = cli_find_event (receiver, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "error"), ==, "invalid-code");
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"), "orbit"));
}

/* Without --yes and without a terminal to ask on, the receiver declines. */
static void
test_decline (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *code = start_sender (fixture, &sender);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise", NULL);

  receiver = cli_spawn (fixture, "receiver", code, "receive", "--json",
                        "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (sender), ==, 1);
  g_assert_cmpint (cli_wait_exit (receiver), ==, 1);
  g_assert_nonnull (cli_find_event (receiver, "offer"));
  g_assert_cmpstr (json_object_get_string_member (cli_find_event (sender, "error"), "error"),
                   ==, "declined");
  g_assert_false (g_file_test (arrived, G_FILE_TEST_EXISTS));
}

static JsonObject *
offered_entry (JsonObject *offer,
               const char *path)
{
  JsonArray *entries = json_object_get_array_member (offer, "entries");

  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);

      if (g_strcmp0 (json_object_get_string_member (entry, "path"), path) == 0)
        return entry;
    }
  g_assert_not_reached ();
}

/* Before a person accepts, the receiver says where the files go and which
 * of them are hidden or would run. */
static void
test_offer_says_where_and_what (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *hidden = g_build_filename (fixture->source, ".env", NULL);
  g_autofree char *script = g_build_filename (fixture->source, "install.sh", NULL);
  g_autofree char *tool = g_build_filename (fixture->source, "tool", NULL);
  g_autofree char *code = NULL;
  g_autofree char *target = g_canonicalize_filename (fixture->target, NULL);
  JsonObject *offer;

  g_assert_true (g_file_set_contents (hidden, "TOKEN=1\n", -1, NULL));
  g_assert_true (g_file_set_contents (script, "#!/bin/sh\n", -1, NULL));
  g_assert_true (g_file_set_contents (tool, "\x7f" "ELF", -1, NULL));
  g_assert_cmpint (g_chmod (tool, 0755), ==, 0);
  code = start_sender (fixture, &sender);

  /* Not a terminal and no --yes: it declines after showing the offer. */
  receiver = cli_spawn (fixture, "receiver", code, "receive", "--json",
                        "--output", fixture->target, NULL);
  g_assert_cmpint (cli_wait_exit (receiver), ==, 1);
  g_assert_cmpint (cli_wait_exit (sender), ==, 1);

  offer = cli_find_event (receiver, "offer");
  g_assert_nonnull (offer);
  g_assert_cmpstr (json_object_get_string_member (offer, "folder"), ==, target);
  g_assert_true (json_object_get_boolean_member (offered_entry (offer, "Reise/.env"), "hidden"));
  g_assert_false (json_object_get_boolean_member (offered_entry (offer, "Reise/.env"),
                                                  "program"));
  g_assert_true (json_object_get_boolean_member (offered_entry (offer, "Reise/install.sh"),
                                                 "program"));
  g_assert_true (json_object_get_boolean_member (offered_entry (offer, "Reise/tool"),
                                                 "program"));
  g_assert_false (json_object_get_boolean_member (offered_entry (offer, "Reise/tool"),
                                                  "hidden"));
}

typedef struct
{
  Cli     *cli;
  gint64   at_least;
} ProgressWait;

static gboolean
progress_reached (gpointer user_data)
{
  ProgressWait *wait = user_data;

  for (guint i = wait->cli->events->len; i > 0; i--)
    {
      JsonObject *event = g_ptr_array_index (wait->cli->events, i - 1);

      if (g_strcmp0 (json_object_get_string_member (event, "event"), "progress") == 0)
        return json_object_get_int_member (event, "bytes") >= wait->at_least;
    }

  return FALSE;
}

/* The sender is killed outright mid-transfer; the receiver says so within
 * 30 s, and the same send run again sends only what is missing. */
static void
test_kill_and_resume (Fixture       *fixture,
                      gconstpointer  data)
{
  const gsize size = 160 * BLOCK_SIZE + 4321;
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autoptr(Cli) sender2 = NULL;
  g_autoptr(Cli) receiver2 = NULL;
  g_autofree char *big = g_build_filename (fixture->source, "big.bin", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise", "big.bin", NULL);
  g_autofree char *code = NULL;
  g_autofree char *code2 = NULL;
  ProgressWait wait;
  JsonObject *error, *done, *sent;
  gint64 killed_at, resumed, on_wire;

  ferry_test_write_random_file (big, size, 42);

  code = start_sender (fixture, &sender);
  receiver = cli_spawn (fixture, "receiver", code, "receive", "--json", "--yes",
                        "--output", fixture->target, NULL);

  wait = (ProgressWait) { receiver, (gint64) size / 4 };
  g_assert_true (ferry_test_wait_until (progress_reached, &wait, TIMEOUT_MS));
  g_subprocess_send_signal (sender->process, SIGKILL);
  killed_at = g_get_monotonic_time ();

  g_assert_cmpint (cli_wait_exit (receiver), ==, 1);
  g_assert_cmpint ((g_get_monotonic_time () - killed_at) / 1000, <, PEER_GONE_MS);
  error = cli_find_event (receiver, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "error"), ==, "peer-gone");
  g_assert_false (g_file_test (arrived, G_FILE_TEST_EXISTS));

  /* The same send again, with a new code, into the same folder. */
  code2 = start_sender (fixture, &sender2);
  receiver2 = cli_spawn (fixture, "receiver", code2, "receive", "--json", "--yes",
                         "--output", fixture->target, NULL);
  g_assert_cmpint (cli_wait_exit (receiver2), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender2), ==, 0);

  done = cli_find_event (receiver2, "done");
  sent = cli_find_event (sender2, "done");
  g_assert_nonnull (done);
  g_assert_nonnull (sent);
  resumed = json_object_get_int_member (done, "resumed");
  on_wire = json_object_get_int_member (sent, "on_wire");
  g_test_message ("resumed %" G_GINT64_FORMAT " bytes, sent %" G_GINT64_FORMAT " of %"
                  G_GSIZE_FORMAT, resumed, on_wire, size);

  /* At least the quarter seen before the kill was kept, and the sender put
   * only the rest on the wire (plus the small file). */
  g_assert_cmpint (resumed, >=, (gint64) size / 4 - 2 * BLOCK_SIZE);
  g_assert_cmpint (on_wire, <=, (gint64) size - resumed + 123457);
  g_assert_cmpint (on_wire, <, (gint64) size);

  assert_same_contents (big, arrived);
}

/* The receiver is killed outright mid-transfer; the sender says so within
 * 30 s, and the same receive run again (new code, same folder) gets only
 * what its store cannot prove it holds. */
static void
test_kill_receiver_and_resume (Fixture       *fixture,
                               gconstpointer  data)
{
  const gsize size = 160 * BLOCK_SIZE + 999;
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autoptr(Cli) sender2 = NULL;
  g_autoptr(Cli) receiver2 = NULL;
  g_autofree char *big = g_build_filename (fixture->source, "big.bin", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise", "big.bin", NULL);
  g_autofree char *code = NULL;
  g_autofree char *code2 = NULL;
  ProgressWait wait;
  JsonObject *error, *done, *sent;
  gint64 killed_at, resumed, on_wire;

  ferry_test_write_random_file (big, size, 43);

  code = start_sender (fixture, &sender);
  receiver = cli_spawn (fixture, "receiver", code, "receive", "--json", "--yes",
                        "--output", fixture->target, NULL);

  /* Half way, so batches of verified blocks have reached the store. */
  wait = (ProgressWait) { receiver, (gint64) size / 2 };
  g_assert_true (ferry_test_wait_until (progress_reached, &wait, TIMEOUT_MS));
  g_subprocess_send_signal (receiver->process, SIGKILL);
  killed_at = g_get_monotonic_time ();

  g_assert_cmpint (cli_wait_exit (sender), ==, 1);
  g_assert_cmpint ((g_get_monotonic_time () - killed_at) / 1000, <, PEER_GONE_MS);
  error = cli_find_event (sender, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "error"), ==, "peer-gone");

  code2 = start_sender (fixture, &sender2);
  receiver2 = cli_spawn (fixture, "receiver", code2, "receive", "--json", "--yes",
                         "--output", fixture->target, NULL);
  g_assert_cmpint (cli_wait_exit (receiver2), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender2), ==, 0);

  done = cli_find_event (receiver2, "done");
  sent = cli_find_event (sender2, "done");
  g_assert_nonnull (done);
  g_assert_nonnull (sent);
  resumed = json_object_get_int_member (done, "resumed");
  on_wire = json_object_get_int_member (sent, "on_wire");
  g_test_message ("resumed %" G_GINT64_FORMAT " bytes, sent %" G_GINT64_FORMAT " of %"
                  G_GSIZE_FORMAT, resumed, on_wire, size);

  /* Only batches committed before the kill count, so some of the half may
   * travel again, but most of it must not. */
  g_assert_cmpint (resumed, >=, (gint64) size / 4);
  g_assert_cmpint (on_wire, <=, (gint64) size - resumed + 123457);

  assert_same_contents (big, arrived);
}

/* The shared options work after the command too, where people put them:
 * with a $FERRY_RENDEZVOUS that leads nowhere, both sides still meet
 * through the server named on their command lines. */
static void
test_options_after_command (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *option = g_strconcat ("--rendezvous=", fixture->server->url, NULL);
  g_autofree char *sent = g_build_filename (fixture->source, "notes – Übersicht.txt", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise",
                                               "notes – Übersicht.txt", NULL);
  JsonObject *event;

  fixture->rendezvous_env = "http://127.0.0.1:1";
  sender = cli_spawn (fixture, "sender", NULL, "send", "--rendezvous", fixture->server->url,
                      "--json", fixture->source, NULL);
  event = cli_wait_event (sender, "code");
  receiver = cli_spawn (fixture, "receiver", json_object_get_string_member (event, "code"),
                        "receive", "--json", option, "--yes", "--output", fixture->target,
                        NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);
  g_assert_nonnull (cli_find_event (receiver, "done"));
  assert_same_contents (sent, arrived);
}

/* What a terminal shows: everything read from a pseudo-terminal's master. */
typedef struct
{
  GInputStream *master;
  GString      *text;
  gboolean      closed;
} Terminal;

static void terminal_read_next (Terminal *terminal);

static void
terminal_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Terminal *terminal = user_data;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result,
                                                              NULL);

  /* EIO once the program closed the terminal. */
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      terminal->closed = TRUE;
      return;
    }

  g_string_append_len (terminal->text, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  terminal_read_next (terminal);
}

static void
terminal_read_next (Terminal *terminal)
{
  g_input_stream_read_bytes_async (terminal->master, 4096, G_PRIORITY_DEFAULT, NULL,
                                   terminal_read_cb, terminal);
}

typedef struct
{
  Terminal   *terminal;
  const char *text;
  gsize       from;
} TerminalWait;

static gboolean
terminal_shows (gpointer user_data)
{
  TerminalWait *wait = user_data;

  return wait->terminal->text->len >= wait->from &&
         strstr (wait->terminal->text->str + wait->from, wait->text) != NULL;
}

/* Waits until the terminal shows @text after offset @from; returns the
 * offset just past it. */
static gsize
terminal_wait_for (Terminal   *terminal,
                   const char *text,
                   gsize       from)
{
  TerminalWait wait = { terminal, text, from };

  if (!ferry_test_wait_until (terminal_shows, &wait, TIMEOUT_MS))
    g_error ("The terminal never showed “%s”; it shows:\n%s", text, terminal->text->str);

  return (gsize) (strstr (terminal->text->str + from, text) - terminal->text->str) + strlen (text);
}

static void
terminal_type (int         master,
               const char *keys)
{
  g_assert_cmpint (write (master, keys, strlen (keys)), ==, (gssize) strlen (keys));
}

static gboolean
terminal_closed (gpointer user_data)
{
  return ((Terminal *) user_data)->closed;
}

/* A person types the code at the prompt and gets words wrong: the
 * receiver explains it and asks again with the suggested words filled in,
 * so Enter is enough; a word with no good guess is left as typed, to fix
 * by hand. */
static void
test_mistyped_code_asks_again (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *code = start_sender (fixture, &sender);
  g_auto(GStrv) words = g_strsplit (code, "-", -1);
  /* A letter too many in the first word, and the last one in capitals and
   * spaced out as read aloud: "7 orbitx tulip CANVASX". */
  g_autofree char *last_typo = g_ascii_strup (words[3], -1);
  g_autofree char *typo = g_strdup_printf ("%s %sx %s %sx", words[0], words[1], words[2],
                                           last_typo);
  g_autofree char *typed = g_strconcat (typo, "\r", NULL);
  g_autofree char *hopeless = g_strdup_printf ("%s-%s-qqqqqqqqqq-%s", words[0], words[1],
                                               words[3]);
  g_autofree char *hopeless_typed = NULL;
  g_autofree char *hopeless_prefilled = g_strconcat ("Code: ", hopeless, NULL);
  const char * const args[] = {
    "receive", "--json", "--yes", "--output", fixture->target, NULL
  };
  g_autofree char *sent = g_build_filename (fixture->source, "notes – Übersicht.txt", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise",
                                               "notes – Übersicht.txt", NULL);
  Terminal terminal = { NULL, g_string_new (NULL), FALSE };
  int master, slave;
  gsize at;

  g_assert_cmpint (openpty (&master, &slave, NULL, NULL, NULL), ==, 0);
  terminal.master = g_unix_input_stream_new (master, TRUE);
  terminal_read_next (&terminal);

  /* The prompt and its messages on the terminal, the events on a pipe;
   * a plain terminal and no inputrc keep readline's output predictable. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_take_stdin_fd (launcher, slave);
  g_subprocess_launcher_take_stderr_fd (launcher, dup (slave));
  g_subprocess_launcher_setenv (launcher, "TERM", "dumb", TRUE);
  g_subprocess_launcher_setenv (launcher, "INPUTRC", "/dev/null", TRUE);
  receiver = cli_spawnv (fixture, launcher, "receiver", NULL, args);
  /* Closes this side's copies of the terminal, so it ends with the program. */
  g_clear_object (&launcher);

  at = terminal_wait_for (&terminal, "Code: ", 0);

  /* A word nothing is like stays as typed: the line is the code again,
   * for the person to mend. */
  hopeless_typed = g_strconcat (hopeless, "\r", NULL);
  terminal_type (master, hopeless_typed);
  at = terminal_wait_for (&terminal, "Please check the code with the sender", at);
  at = terminal_wait_for (&terminal, hopeless_prefilled, at);
  /* Ctrl+U empties the line for the next try. */
  terminal_type (master, "\x15");
  terminal_type (master, typed);

  /* Explained, and asked again with the suggestions in the line. */
  at = terminal_wait_for (&terminal, "is not a code word. Did you mean", at);
  at = terminal_wait_for (&terminal, "Code: ", at);
  g_assert_null (cli_find_event (receiver, "error"));

  /* Enter takes them. */
  terminal_type (master, "\r");
  g_assert_cmpint (cli_wait_exit (receiver), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);
  g_assert_nonnull (cli_find_event (receiver, "done"));
  assert_same_contents (sent, arrived);

  g_assert_true (ferry_test_wait_until (terminal_closed, &terminal, TIMEOUT_MS));
  /* The line it took was the code itself, not what was typed. */
  {
    const char *line = g_strrstr (terminal.text->str, "Code: ") + strlen ("Code: ");

    g_assert_true (g_str_has_prefix (line, code));
    g_assert_false (g_ascii_isalnum (line[strlen (code)]));
  }
  g_clear_object (&terminal.master);
  g_string_free (terminal.text, TRUE);
}

/* A text offered alone, with what a hostile sender could put in it. */
#define PLAIN_TEXT "Treffpunkt: Bahnhof, Gleis 3\nhttps://example.org/karte?x=1&y=2"
#define HOSTILE_TEXT "ok\x1b[2J\rDone: 9 files\xe2\x80\xae" "exe.txt\nnext\tline"

static gboolean
all_dirs_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) == NULL;
}

/* `send --text TEXT`: the receiver gets the text in the offer, as sent, and
 * nothing is written to its folder; no --yes is needed, as nothing lands. */
static void
test_send_text (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  JsonObject *event, *offer;
  guint text_at = G_MAXUINT, offer_at = G_MAXUINT;

  sender = cli_spawn (fixture, "sender", NULL, "send", "--json", "--text", PLAIN_TEXT, NULL);
  event = cli_wait_event (sender, "code");
  receiver = cli_spawn (fixture, "receiver", json_object_get_string_member (event, "code"),
                        "receive", "--json", "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);

  event = cli_find_event (receiver, "text");
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "text"), ==, PLAIN_TEXT);
  offer = cli_find_event (receiver, "offer");
  g_assert_nonnull (offer);
  g_assert_cmpint (json_object_get_int_member (offer, "files"), ==, 0);
  /* The text is told first: before the offer, long before anything ends. */
  for (guint i = 0; i < receiver->events->len; i++)
    {
      const char *name = json_object_get_string_member (g_ptr_array_index (receiver->events, i),
                                                        "event");

      if (g_str_equal (name, "text"))
        text_at = i;
      else if (g_str_equal (name, "offer"))
        offer_at = i;
    }
  g_assert_cmpuint (text_at, <, offer_at);
  g_assert_nonnull (cli_find_event (receiver, "done"));
  g_assert_nonnull (cli_find_event (sender, "done"));
  g_assert_null (cli_find_event (sender, "text"));
  g_assert_true (all_dirs_empty (fixture->target));
}

static void
write_stdin (Cli        *cli,
             const char *text,
             gsize       len)
{
  GOutputStream *in = g_subprocess_get_stdin_pipe (cli->process);
  g_autoptr(GError) error = NULL;
  gsize written;

  g_assert_true (g_output_stream_write_all (in, text, len, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (in, NULL, &error));
  g_assert_no_error (error);
}

/* `--text -` reads standard input; the final newline echo adds is not
 * part of the text. Text goes with files too. */
static void
test_send_text_from_stdin (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autoptr(Cli) receiver = NULL;
  g_autofree char *sent = g_build_filename (fixture->source, "notes – Übersicht.txt", NULL);
  g_autofree char *arrived = g_build_filename (fixture->target, "Reise",
                                               "notes – Übersicht.txt", NULL);
  JsonObject *event;

  sender = cli_spawn (fixture, "sender", NULL, "send", "--json", "--text", "-",
                      fixture->source, NULL);
  write_stdin (sender, PLAIN_TEXT "\n", strlen (PLAIN_TEXT "\n"));
  event = cli_wait_event (sender, "code");
  receiver = cli_spawn (fixture, "receiver", json_object_get_string_member (event, "code"),
                        "receive", "--json", "--yes", "--output", fixture->target, NULL);

  g_assert_cmpint (cli_wait_exit (receiver), ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);
  event = cli_find_event (receiver, "text");
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "text"), ==, PLAIN_TEXT);
  g_assert_cmpint (json_object_get_int_member (cli_find_event (receiver, "offer"), "files"),
                   ==, 1);
  assert_same_contents (sent, arrived);
}

typedef struct
{
  char     *out;
  char     *err;
  gboolean  done;
} Communicate;

static void
communicate_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Communicate *communicate = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (object), result, &communicate->out,
                                        &communicate->err, &error);
  g_assert_no_error (error);
  communicate->done = TRUE;
}

/* Runs ferry-cli to the end with @input on stdin, keeping what it wrote on
 * stdout and stderr; the main loop runs meanwhile, for other processes'
 * events. Returns the exit status. */
static int
cli_run_collect (Fixture             *fixture,
                 const char          *home,
                 const char          *code,
                 const char          *input,
                 Communicate         *communicate,
                 const char * const  *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  process = launch (fixture, launcher, home, code, args, &error);
  g_assert_no_error (error);

  communicate->done = FALSE;
  g_subprocess_communicate_utf8_async (process, input, NULL, communicate_cb, communicate);
  g_assert_true (ferry_test_wait_for_flag (&communicate->done, TIMEOUT_MS));
  /* Its output is closed: it has ended or is ending. */
  g_assert_true (g_subprocess_wait (process, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

static void
communicate_clear (Communicate *communicate)
{
  g_clear_pointer (&communicate->out, g_free);
  g_clear_pointer (&communicate->err, g_free);
}

/* Text over the limit is refused before anything goes to the server, with
 * a sentence that says why and what to do instead; so is empty text. */
static void
test_send_text_too_long (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *big = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES + 1, 'a');
  g_autofree char *limit = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES, 'a');
  const char * const stdin_args[] = { "send", "--json", "--text", "-", NULL };
  const char * const empty_args[] = { "send", "--json", "--text", "", NULL };
  Communicate communicate = { 0 };

  g_assert_cmpint (cli_run_collect (fixture, "sender", NULL, big, &communicate, stdin_args),
                   ==, 2);
  g_assert_cmpstr (communicate.out, ==, "");
  g_assert_nonnull (strstr (communicate.err, "ferry-cli send: The text is longer than the "
                                             "65536 bytes allowed; send it as a file"));
  communicate_clear (&communicate);

  /* One byte past the limit fails the same way when it is in argv. */
  {
    const char * const argv_args[] = { "send", "--json", "--text", big, NULL };

    g_assert_cmpint (cli_run_collect (fixture, "sender", NULL, NULL, &communicate, argv_args),
                     ==, 2);
    g_assert_nonnull (strstr (communicate.err, "send it as a file"));
    communicate_clear (&communicate);
  }

  g_assert_cmpint (cli_run_collect (fixture, "sender", NULL, NULL, &communicate, empty_args),
                   ==, 2);
  g_assert_nonnull (strstr (communicate.err, "The offered text is empty"));
  communicate_clear (&communicate);

  /* Exactly the limit, with echo's newline, is not too long. */
  {
    g_autoptr(Cli) sender = cli_spawn (fixture, "sender", NULL, "send", "--json", "--text",
                                       "-", NULL);
    g_autofree char *line = g_strconcat (limit, "\n", NULL);

    write_stdin (sender, line, strlen (line));
    g_assert_nonnull (cli_wait_event (sender, "code"));
  }
}

/* On a terminal the text is shown as sent but defused: no escape sequence
 * reaches the terminal, a carriage return cannot overwrite a line, a
 * direction override cannot reorder one, and each line is indented, so the
 * text cannot pass for Ferry's own "Done:". */
static void
test_hostile_text_is_escaped (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(Cli) sender = NULL;
  g_autofree char *code = NULL;
  const char * const args[] = { "receive", "--output", fixture->target, NULL };
  Communicate communicate = { 0 };
  JsonObject *event;

  sender = cli_spawn (fixture, "sender", NULL, "send", "--json", "--text", HOSTILE_TEXT, NULL);
  event = cli_wait_event (sender, "code");
  code = g_strdup (json_object_get_string_member (event, "code"));

  g_assert_cmpint (cli_run_collect (fixture, "receiver", code, NULL, &communicate, args),
                   ==, 0);
  g_assert_cmpint (cli_wait_exit (sender), ==, 0);

  g_assert_nonnull (strstr (communicate.out,
                            "Text from the sender:\n"
                            "  ok\\x1B[2J\\x0DDone: 9 files\\u{202E}exe.txt\n"
                            "  next\\x09line\n"));
  g_assert_null (strchr (communicate.out, '\x1b'));
  g_assert_null (strchr (communicate.out, '\r'));
  g_assert_null (strstr (communicate.out, "\xe2\x80\xae"));
  g_assert_nonnull (strstr (communicate.out, "Done: the text arrived.\n"));
  g_assert_true (all_dirs_empty (fixture->target));
  communicate_clear (&communicate);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/cli/send-receive", Fixture, NULL,
              fixture_setup, test_send_receive, fixture_teardown);
  g_test_add ("/cli/wrong-code", Fixture, NULL,
              fixture_setup, test_wrong_code, fixture_teardown);
  g_test_add ("/cli/malformed-code", Fixture, NULL,
              fixture_setup, test_malformed_code, fixture_teardown);
  g_test_add ("/cli/offer-says-where-and-what", Fixture, NULL,
              fixture_setup, test_offer_says_where_and_what, fixture_teardown);
  g_test_add ("/cli/decline", Fixture, NULL,
              fixture_setup, test_decline, fixture_teardown);
  g_test_add ("/cli/options-after-command", Fixture, NULL,
              fixture_setup, test_options_after_command, fixture_teardown);
  g_test_add ("/cli/mistyped-code-asks-again", Fixture, NULL,
              fixture_setup, test_mistyped_code_asks_again, fixture_teardown);
  g_test_add ("/cli/send-text", Fixture, NULL,
              fixture_setup, test_send_text, fixture_teardown);
  g_test_add ("/cli/send-text-from-stdin", Fixture, NULL,
              fixture_setup, test_send_text_from_stdin, fixture_teardown);
  g_test_add ("/cli/send-text-too-long", Fixture, NULL,
              fixture_setup, test_send_text_too_long, fixture_teardown);
  g_test_add ("/cli/hostile-text-is-escaped", Fixture, NULL,
              fixture_setup, test_hostile_text_is_escaped, fixture_teardown);
  g_test_add ("/cli/kill-and-resume", Fixture, NULL,
              fixture_setup, test_kill_and_resume, fixture_teardown);
  g_test_add ("/cli/kill-receiver-and-resume", Fixture, NULL,
              fixture_setup, test_kill_receiver_and_resume, fixture_teardown);

  return g_test_run ();
}
