/* ferry-lab.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-lab"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gio/gunixinputstream.h>

#include "ferry-lab.h"
#include "ferry-test-utils.h"

#define LAB_START_TIMEOUT_MS 30000
#define ROLE_OPTION "--lab-role"

struct _FerryLab
{
  GSubprocess      *process;
  GDataInputStream *out;
  GHashTable       *values;   /* "key name" -> value */
};

struct _FerryLabChild
{
  GSubprocess      *process;
  GDataInputStream *out;
};

static const char *
lab_script (void)
{
  const char *script = g_getenv ("FERRY_LAB_SH");

  g_assert_nonnull (script);
  return script;
}

/**
 * ferry_lab_available:
 * @reason: (out): why not, for the skip message
 *
 * Returns: %TRUE when this machine can build a lab (root, `ip netns`, veth, nft)
 */
gboolean
ferry_lab_available (char **reason)
{
  g_autoptr(GSubprocess) check = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  check = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                            &error, "bash", lab_script (), "check", NULL);
  if (check == NULL || !g_subprocess_communicate_utf8 (check, NULL, NULL, &out, NULL, &error))
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }
  if (!g_subprocess_get_successful (check))
    {
      *reason = g_strdup (g_strstrip (out));
      return FALSE;
    }
  *reason = NULL;
  return TRUE;
}

typedef struct
{
  char     *line;
  GError   *error;
  gboolean  done;
} ReadLine;

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

/* Reads one line with a deadline; %NULL on end of file, error or timeout. */
static char *
read_line (GDataInputStream *in,
           guint             timeout_ms,
           GError          **error)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ReadLine read = { 0 };

  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, cancellable, read_line_cb, &read);
  if (!ferry_test_wait_for_flag (&read.done, timeout_ms))
    {
      g_cancellable_cancel (cancellable);
      /* The cancelled read still has to come back before @read goes out of scope. */
      while (!read.done)
        g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
      g_clear_error (&read.error);
      g_free (read.line);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer within %u ms", timeout_ms);
      return NULL;
    }
  if (read.error != NULL)
    {
      g_propagate_error (error, read.error);
      return NULL;
    }
  if (read.line == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "end of output");
  return read.line;
}

/**
 * ferry_lab_new:
 * @hosts: "NAME:KIND[@SITE]" strings, see lab.sh
 * @with_coturn: whether to start coturn in the internet namespace
 *
 * Builds a lab; it lasts until ferry_lab_free() (or until this process ends).
 */
FerryLab *
ferry_lab_new (const char * const  *hosts,
               gboolean             with_coturn,
               GError             **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(FerryLab) lab = g_new0 (FerryLab, 1);

  lab->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_ptr_array_add (argv, (gpointer) "bash");
  g_ptr_array_add (argv, (gpointer) lab_script ());
  g_ptr_array_add (argv, (gpointer) "serve");
  if (with_coturn)
    g_ptr_array_add (argv, (gpointer) "--coturn");
  for (guint i = 0; hosts[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) hosts[i]);
  g_ptr_array_add (argv, NULL);

  lab->process = g_subprocess_newv ((const char * const *) argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                    error);
  if (lab->process == NULL)
    return NULL;
  lab->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (lab->process));

  for (;;)
    {
      g_autofree char *line = read_line (lab->out, LAB_START_TIMEOUT_MS, error);
      g_auto(GStrv) fields = NULL;

      if (line == NULL)
        {
          g_prefix_error (error, "The lab did not start: ");
          return NULL;
        }
      if (g_str_equal (line, "ready"))
        break;
      fields = g_strsplit (line, " ", 3);
      if (g_strv_length (fields) == 3)
        g_hash_table_insert (lab->values, g_strdup_printf ("%s %s", fields[0], fields[1]),
                             g_strdup (fields[2]));
    }

  return g_steal_pointer (&lab);
}

void
ferry_lab_free (FerryLab *lab)
{
  if (lab == NULL)
    return;

  if (lab->process != NULL)
    {
      /* End of file on its stdin is the lab's signal to tear everything down. */
      g_output_stream_close (g_subprocess_get_stdin_pipe (lab->process), NULL, NULL);
      g_subprocess_wait (lab->process, NULL, NULL);
    }
  g_clear_object (&lab->out);
  g_clear_object (&lab->process);
  g_clear_pointer (&lab->values, g_hash_table_unref);
  g_free (lab);
}

/**
 * ferry_lab_get:
 * @key: "ns", "addr", "public", "gateway", "router" (with a host @name), or "coturn",
 *   "turn-secret", "turn-realm", "rendezvous", "id", "dir" (with @name "-")
 *
 * Returns: (nullable): the value lab.sh printed, %NULL if there is none ("-" means none too)
 */
const char *
ferry_lab_get (FerryLab   *lab,
               const char *key,
               const char *name)
{
  g_autofree char *lookup = g_strdup_printf ("%s %s", key, name);
  const char *value = g_hash_table_lookup (lab->values, lookup);

  return value == NULL || g_str_equal (value, "-") ? NULL : value;
}

/* A host's namespace, "inet", or a full namespace name (a router's) as it is. */
const char *
ferry_lab_ns (FerryLab   *lab,
              const char *host)
{
  const char *ns = ferry_lab_get (lab, "ns", host);

  return ns != NULL ? ns : host;
}

const char *
ferry_lab_addr (FerryLab   *lab,
                const char *host)
{
  return ferry_lab_get (lab, "addr", host);
}

const char *
ferry_lab_public_addr (FerryLab   *lab,
                       const char *host)
{
  return ferry_lab_get (lab, "public", host);
}

const char *
ferry_lab_gateway (FerryLab   *lab,
                   const char *host)
{
  return ferry_lab_get (lab, "gateway", host);
}

const char *
ferry_lab_router_ns (FerryLab   *lab,
                     const char *host)
{
  return ferry_lab_get (lab, "router", host);
}

const char *
ferry_lab_coturn (FerryLab *lab)
{
  return ferry_lab_get (lab, "coturn", "-");
}

const char *
ferry_lab_turn_secret (FerryLab *lab)
{
  return ferry_lab_get (lab, "turn-secret", "-");
}

const char *
ferry_lab_rendezvous_ip (FerryLab *lab)
{
  return ferry_lab_get (lab, "rendezvous", "-");
}

/**
 * ferry_lab_netem:
 * @host: a host name, or "inet" (then every packet it forwards between hosts is shaped)
 * @delay_ms: delay added to every packet leaving the host's namespace
 * @loss_percent: share of those packets dropped at random
 * @rate: (nullable): a tc rate such as "100mbit" for the host's interfaces
 *
 * Shapes the host's outgoing link (lab.sh lab_netem) for the rest of the lab's life.
 */
gboolean
ferry_lab_netem (FerryLab    *lab,
                 const char  *host,
                 guint        delay_ms,
                 double       loss_percent,
                 const char  *rate,
                 GError     **error)
{
  char loss[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *line = NULL;
  g_autofree char *answer = NULL;

  g_ascii_dtostr (loss, sizeof loss, loss_percent);
  line = g_strdup_printf ("netem %s -d %u -l %s%s%s\n", host, delay_ms, loss,
                          rate != NULL ? " -r " : "", rate != NULL ? rate : "");
  if (!g_output_stream_write_all (g_subprocess_get_stdin_pipe (lab->process), line,
                                  strlen (line), NULL, NULL, error))
    return FALSE;
  answer = read_line (lab->out, LAB_START_TIMEOUT_MS, error);
  if (answer == NULL)
    return FALSE;
  if (!g_str_equal (answer, "ok"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "lab_netem failed on %s", host);
      return FALSE;
    }
  return TRUE;
}

/**
 * ferry_lab_spawnv:
 * @lab: (nullable): the lab, or %NULL to start @argv right here, in no namespace
 * @where: a host name, "inet", or a namespace name from ferry_lab_router_ns()
 *
 * Starts @argv inside that namespace (`ip netns exec`).
 */
GSubprocess *
ferry_lab_spawnv (FerryLab            *lab,
                  const char          *where,
                  GSubprocessFlags     flags,
                  const char * const  *argv,
                  GError             **error)
{
  g_autoptr(GPtrArray) full = g_ptr_array_new ();

  if (lab != NULL)
    {
      g_ptr_array_add (full, (gpointer) "ip");
      g_ptr_array_add (full, (gpointer) "netns");
      g_ptr_array_add (full, (gpointer) "exec");
      g_ptr_array_add (full, (gpointer) ferry_lab_ns (lab, where));
    }
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, (gpointer) argv[i]);
  g_ptr_array_add (full, NULL);

  return g_subprocess_newv ((const char * const *) full->pdata, flags, error);
}

/**
 * ferry_lab_run:
 *
 * Runs a short command inside a namespace and waits for it.
 *
 * Returns: (transfer full): its standard output, or %NULL if it failed
 */
char *
ferry_lab_run (FerryLab    *lab,
               const char  *where,
               GError     **error,
               const char  *argv0,
               ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) argv0);
  va_start (args, argv0);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  process = ferry_lab_spawnv (lab, where, G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                              (const char * const *) argv->pdata, error);
  if (process == NULL || !g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, error))
    return NULL;
  if (!g_subprocess_get_successful (process))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed in %s", argv0, where);
      return NULL;
    }
  return g_steal_pointer (&out);
}

/**
 * ferry_lab_child_new:
 * @lab: (nullable): the lab, or %NULL to run the child here, in no namespace
 * @where: a host name, "inet" or a namespace name (ignored without a lab)
 * @role: the role this test binary plays there (see ferry_lab_run_role())
 *
 * Re-executes the running test binary inside the namespace in @role.
 */
FerryLabChild *
ferry_lab_child_new (FerryLab    *lab,
                     const char  *where,
                     const char  *role,
                     GError     **error)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", error);
  g_autoptr(FerryLabChild) child = NULL;
  const char *argv[] = { NULL, ROLE_OPTION, role, NULL };

  if (self == NULL)
    return NULL;
  argv[0] = self;

  child = g_new0 (FerryLabChild, 1);
  child->process = ferry_lab_spawnv (lab, where,
                                     G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                     argv, error);
  if (child->process == NULL)
    return NULL;
  child->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->process));

  return g_steal_pointer (&child);
}

/**
 * ferry_lab_child_call:
 *
 * Sends one command line to the child and waits at most @timeout_ms for its one-line answer.
 *
 * Returns: (transfer full) (nullable): the answer, %NULL if none came
 */
char *
ferry_lab_child_call (FerryLabChild *child,
                      guint          timeout_ms,
                      const char    *format,
                      ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *command = NULL;
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  command = g_strdup_vprintf (format, args);
  va_end (args);

  line = g_strconcat (command, "\n", NULL);
  if (!g_output_stream_write_all (g_subprocess_get_stdin_pipe (child->process), line,
                                  strlen (line), NULL, NULL, &error))
    {
      g_test_message ("cannot send '%s' to the child: %s", command, error->message);
      return NULL;
    }
  g_clear_pointer (&line, g_free);

  line = read_line (child->out, timeout_ms, &error);
  if (line == NULL)
    g_test_message ("no answer to '%s': %s", command, error->message);
  return g_steal_pointer (&line);
}

void
ferry_lab_child_free (FerryLabChild *child)
{
  if (child == NULL)
    return;

  if (child->process != NULL)
    {
      /* The child's command loop ends at end of file. */
      g_output_stream_close (g_subprocess_get_stdin_pipe (child->process), NULL, NULL);
      g_subprocess_wait (child->process, NULL, NULL);
    }
  g_clear_object (&child->out);
  g_clear_object (&child->process);
  g_free (child);
}

/* Child side ----------------------------------------------------------------------------- */

struct _FerryLabRequest
{
  GDataInputStream    *in;
  GMainLoop           *loop;
  FerryLabCommandFunc  func;
  gpointer             user_data;
};

static void next_command (FerryLabRequest *request);

static void
command_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  FerryLabRequest *request = user_data;
  g_autofree char *line = NULL;
  g_auto(GStrv) words = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (request->in, result, NULL, NULL);
  if (line == NULL)
    {
      g_main_loop_quit (request->loop);
      return;
    }

  words = g_strsplit (g_strstrip (line), " ", -1);
  request->func ((const char * const *) words, request, request->user_data);
}

static void
next_command (FerryLabRequest *request)
{
  g_data_input_stream_read_line_async (request->in, G_PRIORITY_DEFAULT, NULL,
                                       command_cb, request);
}

/**
 * ferry_lab_request_reply:
 *
 * Answers the command being handled with one line and reads the next command.
 */
void
ferry_lab_request_reply (FerryLabRequest *request,
                         const char      *format,
                         ...)
{
  g_autofree char *reply = NULL;
  va_list args;

  va_start (args, format);
  reply = g_strdup_vprintf (format, args);
  va_end (args);

  /* One line each, so the parent's line reader sees whole answers. */
  g_strdelimit (reply, "\n", ' ');
  fprintf (stdout, "%s\n", reply);
  fflush (stdout);
  next_command (request);
}

/**
 * ferry_lab_run_role:
 *
 * Call first in main(): when argv is "--lab-role @role", serves @func's commands from
 * stdin until end of file and returns the exit status; otherwise returns -1.
 */
int
ferry_lab_run_role (int                  argc,
                    char               **argv,
                    const char          *role,
                    FerryLabCommandFunc  func,
                    gpointer             user_data)
{
  g_autoptr(GInputStream) stdin_stream = NULL;
  FerryLabRequest request = { 0 };

  if (argc != 3 || !g_str_equal (argv[1], ROLE_OPTION) || !g_str_equal (argv[2], role))
    return -1;

  stdin_stream = g_unix_input_stream_new (0, FALSE);
  request.in = g_data_input_stream_new (stdin_stream);
  request.loop = g_main_loop_new (NULL, FALSE);
  request.func = func;
  request.user_data = user_data;

  next_command (&request);
  g_main_loop_run (request.loop);

  g_main_loop_unref (request.loop);
  g_object_unref (request.in);
  return 0;
}
