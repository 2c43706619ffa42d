/* ferry-cli-transfer.c
 *
 * `ferry-cli send` and `ferry-cli receive`: a FerrySession with a terminal
 * or a script watching it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-cli"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <qrencode.h>
#include <readline/readline.h>

#include "ferry-cli-commands.h"
#include "ferry-rendezvous-client.h"
#include "ferry-code.h"
#include "ferry-error.h"
#include "ferry-session.h"

/* Progress lines and bar updates per second at most. */
#define PROGRESS_INTERVAL_MS 250
/* The offer lists this many entries on a terminal; JSON lists them all. */
#define MAX_LISTED_ENTRIES 20

typedef struct
{
  FerrySession *session;
  GMainLoop    *loop;
  GCancellable *cancellable;
  GError       *error;
  gboolean      json;
  gboolean      tty;
  gboolean      yes;
  gboolean      progress_shown;
  gint64        last_progress;
  char         *last_path;
  GDataInputStream *input;
  GFile        *folder;   /* where a receive saves */
} Cli;

static void
cli_clear (Cli *cli)
{
  g_clear_object (&cli->session);
  g_clear_object (&cli->folder);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  g_clear_object (&cli->cancellable);
  g_clear_error (&cli->error);
  g_clear_pointer (&cli->last_path, g_free);
  g_clear_object (&cli->input);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

/* One JSON object per line on stdout, for scripts and tests. */
static void
emit_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *line = NULL;

  json_generator_set_root (generator, root);
  line = json_generator_to_data (generator, NULL);
  g_print ("%s\n", line);
  fflush (stdout);
}

static JsonBuilder *
begin_event (const char *event)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  return builder;
}

static void
end_progress_line (Cli *cli)
{
  if (cli->progress_shown)
    {
      g_printerr ("\n");
      cli->progress_shown = FALSE;
    }
}

/* A QR code of the ferry: link, drawn with half blocks so a phone can
 * scan it off the terminal: two rows of modules per line of text. */
static void
print_qr (const char *text)
{
  QRcode *qr = QRcode_encodeString (text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  const int margin = 2;

  if (qr == NULL)
    return;

  for (int y = -margin; y < qr->width + margin; y += 2)
    {
      GString *line = g_string_new ("  ");

      for (int x = -margin; x < qr->width + margin; x++)
        {
          gboolean top = y >= 0 && x >= 0 && x < qr->width &&
                         (qr->data[y * qr->width + x] & 1);
          gboolean bottom = y + 1 < qr->width && y + 1 >= 0 && x >= 0 && x < qr->width &&
                            (qr->data[(y + 1) * qr->width + x] & 1);

          /* Light modules are drawn, dark ones left as the (dark) background. */
          if (!top && !bottom)
            g_string_append (line, "█");
          else if (!top)
            g_string_append (line, "▀");
          else if (!bottom)
            g_string_append (line, "▄");
          else
            g_string_append (line, " ");
        }
      g_print ("%s\n", line->str);
      g_string_free (line, TRUE);
    }

  QRcode_free (qr);
}

static void
report_code (Cli        *cli,
             const char *code)
{
  g_autofree char *uri = g_strconcat ("ferry:", code, NULL);

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("code");

      json_builder_set_member_name (builder, "code");
      json_builder_add_string_value (builder, code);
      json_builder_set_member_name (builder, "uri");
      json_builder_add_string_value (builder, uri);
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  g_print (_("Code: %s\n"), code);
  g_print (_("On the other computer, run: ferry-cli receive\nand type the code, or open %s\n"),
           uri);
  if (cli->tty)
    print_qr (uri);
  g_print (_("Waiting for the receiver…\n"));
}

/* Files a person should notice before accepting, each listed (up to the
 * limit) whether or not the listing above reached it. */
static void
report_flagged (FerryOffer  *offer,
                gboolean   (*flagged) (const FerryOfferEntry *entry),
                const char  *heading)
{
  guint n = ferry_offer_get_n_entries (offer);
  guint shown = 0, count = 0;

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      g_autofree char *escaped = NULL;

      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE || !flagged (entry))
        continue;
      if (count++ == 0)
        g_print ("%s", heading);
      if (shown++ >= MAX_LISTED_ENTRIES)
        continue;
      escaped = ferry_offer_escape_name (ferry_offer_entry_get_path (entry), -1);
      g_print ("  ! %s\n", escaped);
    }
  if (count > MAX_LISTED_ENTRIES)
    g_print (_("  ! … and %u more\n"), count - MAX_LISTED_ENTRIES);
}

/* Text comes with the offer, before anything is written; on a terminal
 * it is escaped like names, so it can neither send escape sequences nor
 * overwrite or reorder the lines around it, and indented so that it cannot
 * pass for Ferry's own output. */
static void
report_text (Cli        *cli,
             const char *text)
{
  g_autofree char *escaped = NULL;
  g_auto(GStrv) lines = NULL;

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("text");

      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, text);
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  escaped = ferry_offer_escape_text (text, -1);
  lines = g_strsplit (escaped, "\n", -1);
  g_print (_("Text from the sender:\n"));
  for (guint i = 0; lines[i] != NULL; i++)
    g_print ("  %s\n", lines[i]);
}

static void
report_offer (Cli        *cli,
              FerryOffer *offer)
{
  guint n = ferry_offer_get_n_entries (offer);
  g_autofree char *total = g_format_size (ferry_offer_get_total_size (offer));

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("offer");

      json_builder_set_member_name (builder, "files");
      json_builder_add_int_value (builder, ferry_offer_get_n_files (offer));
      json_builder_set_member_name (builder, "folders");
      json_builder_add_int_value (builder, ferry_offer_get_n_folders (offer));
      json_builder_set_member_name (builder, "bytes");
      json_builder_add_int_value (builder, (gint64) ferry_offer_get_total_size (offer));
      json_builder_set_member_name (builder, "entries");
      json_builder_begin_array (builder);
      for (guint i = 0; i < n; i++)
        {
          const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
          gboolean folder = ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FOLDER;

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "path");
          json_builder_add_string_value (builder, ferry_offer_entry_get_path (entry));
          json_builder_set_member_name (builder, "kind");
          json_builder_add_string_value (builder, folder ? "folder" : "file");
          json_builder_set_member_name (builder, "size");
          json_builder_add_int_value (builder, (gint64) ferry_offer_entry_get_size (entry));
          json_builder_set_member_name (builder, "hidden");
          json_builder_add_boolean_value (builder, ferry_offer_entry_is_hidden (entry));
          json_builder_set_member_name (builder, "program");
          json_builder_add_boolean_value (builder, ferry_offer_entry_is_program (entry));
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      if (cli->folder != NULL)
        {
          g_autofree char *where = g_file_get_path (cli->folder);

          json_builder_set_member_name (builder, "folder");
          json_builder_add_string_value (builder, where);
        }
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  if (cli->folder != NULL)
    {
      g_autofree char *where = g_file_get_parse_name (cli->folder);
      g_autofree char *escaped = ferry_offer_escape_name (where, -1);

      g_print (_("Saving into: %s\n"), escaped);
    }
  g_print (g_dngettext (GETTEXT_PACKAGE, "Offered: %u file, %s\n", "Offered: %u files, %s\n",
                        ferry_offer_get_n_files (offer)),
           ferry_offer_get_n_files (offer), total);
  for (guint i = 0; i < n && i < MAX_LISTED_ENTRIES; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      g_autofree char *escaped = ferry_offer_escape_name (ferry_offer_entry_get_path (entry), -1);

      if (ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FOLDER)
        g_print ("  %s/\n", escaped);
      else
        {
          g_autofree char *size = g_format_size (ferry_offer_entry_get_size (entry));

          g_print ("  %s (%s)\n", escaped, size);
        }
    }
  if (n > MAX_LISTED_ENTRIES)
    g_print (_("  … and %u more\n"), n - MAX_LISTED_ENTRIES);
  report_flagged (offer, ferry_offer_entry_is_hidden,
                  _("Hidden files (Files does not show them):\n"));
  report_flagged (offer, ferry_offer_entry_is_program,
                  _("Programs (marked executable or run when opened):\n"));
}

static void
report_path (Cli       *cli,
             FerryPath *path)
{
  const char *kind = ferry_path_kind_to_string (ferry_path_get_kind (path));
  const char *mapped = ferry_path_mapping_to_string (ferry_path_get_mapped (path));
  g_autofree char *key = NULL;

  if (ferry_path_get_kind (path) == FERRY_PATH_KIND_UNKNOWN)
    return;

  /* Only changes are news; RTT updates alone are not. */
  key = g_strdup_printf ("%s|%s|%s|%s", kind, mapped,
                         ferry_path_get_local_address (path),
                         ferry_path_get_remote_address (path));
  if (g_strcmp0 (key, cli->last_path) == 0)
    return;
  g_free (cli->last_path);
  cli->last_path = g_steal_pointer (&key);

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("path");

      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, kind);
      json_builder_set_member_name (builder, "mapped");
      json_builder_add_string_value (builder, mapped);
      json_builder_set_member_name (builder, "local");
      json_builder_add_string_value (builder, ferry_path_get_local_address (path));
      json_builder_set_member_name (builder, "local_type");
      json_builder_add_string_value (builder, ferry_path_get_local_type (path));
      json_builder_set_member_name (builder, "remote");
      json_builder_add_string_value (builder, ferry_path_get_remote_address (path));
      json_builder_set_member_name (builder, "remote_type");
      json_builder_add_string_value (builder, ferry_path_get_remote_type (path));
      json_builder_set_member_name (builder, "relay");
      if (ferry_path_get_relay_server (path) != NULL)
        json_builder_add_string_value (builder, ferry_path_get_relay_server (path));
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "rtt_ms");
      json_builder_add_double_value (builder, ferry_path_get_rtt_ms (path));
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  end_progress_line (cli);
  {
    g_autofree char *label = ferry_path_dup_label (path);

    g_print (_("Path: %s\n"), label);
  }
}

static void
report_progress (Cli      *cli,
                 gboolean  force)
{
  FerryTransfer *transfer = ferry_session_get_transfer (cli->session);
  gint64 now = g_get_monotonic_time ();
  guint64 done, total, rate;
  gint64 eta;

  if (transfer == NULL)
    return;
  if (!force && now - cli->last_progress < PROGRESS_INTERVAL_MS * G_TIME_SPAN_MILLISECOND)
    return;
  cli->last_progress = now;

  done = ferry_transfer_get_bytes_done (transfer);
  total = ferry_transfer_get_bytes_total (transfer);
  rate = ferry_transfer_get_rate (transfer);
  eta = ferry_transfer_get_eta_seconds (transfer);

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("progress");

      json_builder_set_member_name (builder, "bytes");
      json_builder_add_int_value (builder, (gint64) done);
      json_builder_set_member_name (builder, "total");
      json_builder_add_int_value (builder, (gint64) total);
      json_builder_set_member_name (builder, "rate");
      json_builder_add_int_value (builder, (gint64) rate);
      json_builder_set_member_name (builder, "eta");
      json_builder_add_int_value (builder, eta);
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  if (cli->tty)
    {
      const guint width = 30;
      guint filled = total > 0 ? (guint) (width * done / total) : width;
      g_autofree char *done_text = g_format_size (done);
      g_autofree char *total_text = g_format_size (total);
      g_autofree char *rate_text = g_format_size (rate);
      g_autoptr(GString) bar = g_string_new (NULL);

      for (guint i = 0; i < width; i++)
        g_string_append (bar, i < filled ? "█" : "░");

      g_printerr ("\r%s %s / %s  %s/s  ", bar->str, done_text, total_text, rate_text);
      if (eta >= 0)
        /* Translators: minutes:seconds left, e.g. "3:07 left" */
        g_printerr (_("%d:%02d left "), (int) (eta / 60), (int) (eta % 60));
      cli->progress_shown = TRUE;
    }
}

static void
report_done (Cli *cli)
{
  FerryTransfer *transfer = ferry_session_get_transfer (cli->session);
  guint64 total = transfer != NULL ? ferry_transfer_get_bytes_total (transfer) : 0;

  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("done");

      json_builder_set_member_name (builder, "bytes");
      json_builder_add_int_value (builder, (gint64) total);
      json_builder_set_member_name (builder, "resumed");
      json_builder_add_int_value (builder,
                                  transfer ? (gint64) ferry_transfer_get_bytes_resumed (transfer) : 0);
      json_builder_set_member_name (builder, "on_wire");
      json_builder_add_int_value (builder,
                                  transfer ? (gint64) ferry_transfer_get_bytes_sent_on_wire (transfer) : 0);
      json_builder_set_member_name (builder, "files");
      json_builder_add_int_value (builder, transfer ? ferry_transfer_get_n_files_done (transfer) : 0);
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  report_progress (cli, TRUE);
  end_progress_line (cli);
  if (transfer != NULL && ferry_offer_get_n_entries (ferry_session_get_offer (cli->session)) == 0)
    {
      g_print (_("Done: the text arrived.\n"));
      return;
    }
  {
    g_autofree char *size = g_format_size (total);

    g_print (_("Done: %s, every file verified.\n"), size);
  }
}

static void
report_error (Cli          *cli,
              const GError *error)
{
  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = begin_event ("error");

      json_builder_set_member_name (builder, "error");
      json_builder_add_string_value (builder, ferry_error_get_id (error));
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, error->message);
      json_builder_end_object (builder);
      emit_json (builder);
      return;
    }

  end_progress_line (cli);
  {
    g_autofree char *title = ferry_error_dup_title (error);

    g_printerr ("%s: %s\n", title, error->message);
  }
}

static void
answer_offer (Cli      *cli,
              gboolean  accept)
{
  if (ferry_session_get_state (cli->session) != FERRY_SESSION_STATE_OFFER_RECEIVED)
    return;

  if (accept)
    ferry_session_accept (cli->session, NULL);
  else
    ferry_session_decline (cli->session, _("The receiver declined."));
}

static void
answer_read_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Cli *cli = user_data;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result,
                                                    NULL, NULL);
  answer_offer (cli, line != NULL && (line[0] == 'y' || line[0] == 'Y'));
}

/* Asks on the terminal without blocking the main loop, which keeps the
 * connection alive while a person decides; scripts say --yes. Runs from an
 * idle callback, not from inside the transport's callbacks. */
static gboolean
ask_offer_cb (gpointer user_data)
{
  Cli *cli = user_data;
  FerryOffer *offer = ferry_session_get_offer (cli->session);

  if (ferry_offer_get_text (offer) != NULL)
    report_text (cli, ferry_offer_get_text (offer));

  /* Text alone writes nothing: it was shown, and accepting only tells the
   * sender that it arrived. */
  if (ferry_offer_get_n_entries (offer) == 0)
    {
      if (cli->json)
        report_offer (cli, offer);
      answer_offer (cli, TRUE);
      return G_SOURCE_REMOVE;
    }

  report_offer (cli, offer);

  if (cli->yes)
    answer_offer (cli, TRUE);
  else if (!isatty (STDIN_FILENO))
    answer_offer (cli, FALSE);
  else
    {
      g_printerr (_("Accept? [y/N] "));
      if (cli->input == NULL)
        {
          g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);

          cli->input = g_data_input_stream_new (in);
        }
      g_data_input_stream_read_line_async (cli->input, G_PRIORITY_DEFAULT, cli->cancellable,
                                           answer_read_cb, cli);
    }

  return G_SOURCE_REMOVE;
}

static void
transfer_progress_cb (FerryTransfer *transfer,
                      GParamSpec    *pspec,
                      Cli           *cli)
{
  report_progress (cli, FALSE);
}

static void
path_changed_cb (FerryPath  *path,
                 GParamSpec *pspec,
                 Cli        *cli)
{
  report_path (cli, path);
}

static void
session_notify_cb (FerrySession *session,
                   GParamSpec   *pspec,
                   Cli          *cli)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "code") && ferry_session_is_sender (session))
    {
      report_code (cli, ferry_session_get_code (session));
    }
  else if (g_str_equal (name, "path") && ferry_session_get_path (session) != NULL)
    {
      FerryPath *path = ferry_session_get_path (session);

      g_signal_connect (path, "notify", G_CALLBACK (path_changed_cb), cli);
      report_path (cli, path);
    }
  else if (g_str_equal (name, "transfer") && ferry_session_get_transfer (session) != NULL)
    {
      g_signal_connect (ferry_session_get_transfer (session), "notify::bytes-done",
                        G_CALLBACK (transfer_progress_cb), cli);
    }
  else if (g_str_equal (name, "state") &&
           ferry_session_get_state (session) == FERRY_SESSION_STATE_OFFER_RECEIVED)
    {
      g_idle_add (ask_offer_cb, cli);
    }
}

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  Cli *cli = user_data;

  if (ferry_session_run_finish (FERRY_SESSION (object), result, &cli->error))
    report_done (cli);
  else
    report_error (cli, cli->error);

  g_main_loop_quit (cli->loop);
}

static gboolean
interrupted_cb (gpointer user_data)
{
  Cli *cli = user_data;

  ferry_session_cancel (cli->session, _("The other side pressed Ctrl+C."));
  return G_SOURCE_CONTINUE;
}

static int
cli_run (Cli *cli)
{
  guint sigint;

  cli->loop = g_main_loop_new (NULL, FALSE);
  cli->cancellable = g_cancellable_new ();
  g_signal_connect (cli->session, "notify", G_CALLBACK (session_notify_cb), cli);
  sigint = g_unix_signal_add (SIGINT, interrupted_cb, cli);

  ferry_session_run_async (cli->session, NULL, run_cb, cli);
  g_main_loop_run (cli->loop);
  g_cancellable_cancel (cli->cancellable);

  g_source_remove (sigint);

  /* The path and transfer may outlive this run: they must not call back. */
  if (ferry_session_get_path (cli->session) != NULL)
    g_signal_handlers_disconnect_by_data (ferry_session_get_path (cli->session), cli);
  if (ferry_session_get_transfer (cli->session) != NULL)
    g_signal_handlers_disconnect_by_data (ferry_session_get_transfer (cli->session), cli);
  g_signal_handlers_disconnect_by_data (cli->session, cli);

  return cli->error == NULL ? EXIT_SUCCESS : EXIT_FAILURE;
}

typedef struct
{
  FerryStore *store;
  gboolean    done;
} StoreOpen;

static void
store_open_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  StoreOpen *open = user_data;
  g_autoptr(GError) error = NULL;

  open->store = ferry_store_open_finish (result, &error);
  if (open->store == NULL)
    g_printerr (_("Progress and resume are off: %s\n"), error->message);
  open->done = TRUE;
}

/* The store keeps what makes a resume possible; without it transfers still
 * work, they just start over. It is opened on the main context, where its
 * later results arrive too. */
static FerryStore *
open_store (void)
{
  StoreOpen open = { NULL, FALSE };

  ferry_store_open_async (NULL, NULL, store_open_cb, &open);
  while (!open.done)
    g_main_context_iteration (NULL, TRUE);

  return open.store;
}

static void
cli_init (Cli       *cli,
          gboolean   json)
{
  cli->json = json;
  cli->tty = !json && isatty (STDOUT_FILENO);
}

/* When no server is named (option, $FERRY_RENDEZVOUS, build default),
 * send and receive try one on this computer, as `ferry-rendezvous` listens
 * by default. */
#define DEFAULT_RENDEZVOUS_URL "http://127.0.0.1:4477"

static FerryRendezvousClient *
dup_client (FerryCliContext *context)
{
  return ferry_rendezvous_client_new (context->rendezvous_url != NULL
                                      ? context->rendezvous_url : DEFAULT_RENDEZVOUS_URL);
}

/* `--text -` reads the text from standard input, a little past the limit
 * so that too long is told rather than cut. One final newline, which
 * `echo` and a terminal's Enter before Ctrl+D add, is not part of it. */
static char *
read_text_argument (const char  *argument,
                    GError     **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;

  if (g_strcmp0 (argument, "-") != 0)
    {
      text = g_strdup (argument);
      len = strlen (text);
    }
  else
    {
      text = g_malloc (FERRY_OFFER_MAX_TEXT_BYTES + 3);
      in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      if (!g_input_stream_read_all (in, text, FERRY_OFFER_MAX_TEXT_BYTES + 2, &len, NULL, error))
        return NULL;
      if (len > 0 && text[len - 1] == '\n')
        len--;
      text[len] = '\0';
    }

  if (!ferry_offer_check_text (text, len, error))
    return NULL;

  return g_steal_pointer (&text);
}

int
ferry_cli_send (FerryCliContext  *context,
                int               argc,
                char            **argv)
{
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_auto(Cli) cli = { 0 };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text_argument = NULL;
  g_autofree char *text = NULL;
  gboolean json = FALSE;
  int words = FERRY_CODE_DEFAULT_WORDS;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON event per line"), NULL },
    { "words", 0, 0, G_OPTION_ARG_INT, &words, N_("Words in the code (3–8)"), "N" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &text_argument,
      N_("Send this text or link (- reads it from standard input)"), N_("TEXT") },
    { NULL }
  };

  options = g_option_context_new (_("[PATH…] — send files, folders or text"));
  g_option_context_add_main_entries (options, entries, GETTEXT_PACKAGE);
  g_option_context_add_group (options, ferry_cli_global_options_new (context));
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("ferry-cli send: %s\n", error->message);
      return 2;
    }
  if (argc < 2 && text_argument == NULL)
    {
      g_printerr (_("ferry-cli send: name at least one file or folder to send, "
                    "or give --text\n"));
      return 2;
    }
  if (words < FERRY_CODE_MIN_WORDS || words > FERRY_CODE_MAX_WORDS)
    {
      g_printerr (_("ferry-cli send: --words must be between %d and %d\n"),
                  FERRY_CODE_MIN_WORDS, FERRY_CODE_MAX_WORDS);
      return 2;
    }

  if (text_argument != NULL)
    {
      text = read_text_argument (text_argument, &error);
      if (text == NULL)
        {
          g_printerr ("ferry-cli send: %s\n", error->message);
          return 2;
        }
    }

  for (int i = 1; i < argc; i++)
    g_ptr_array_add (files, g_file_new_for_commandline_arg (argv[i]));

  cli_init (&cli, json);
  client = dup_client (context);
  store = open_store ();
  cli.session = ferry_session_new_sender (client, store, (GFile **) files->pdata, files->len);
  ferry_session_set_word_count (cli.session, (guint) words);
  ferry_session_set_text (cli.session, text);

  return cli_run (&cli);
}

/* What the prompt line starts with, for prompt_startup_cb(). */
static const char *prompt_prefill;

static int
prompt_startup_cb (void)
{
  if (prompt_prefill != NULL)
    rl_insert_text (prompt_prefill);
  return 0;
}

/* Asks for the code on the terminal, with @prefill already typed in for
 * the person to correct. The prompt and the echo go to stderr: stdout is
 * for results. */
static char *
prompt_code (const char *prefill)
{
  g_autofree char *prompt = g_strdup (_("Code: "));
  char *line;
  char *code;

  rl_instream = stdin;
  rl_outstream = stderr;
  prompt_prefill = prefill;
  rl_startup_hook = prompt_startup_cb;
  line = readline (prompt);
  rl_startup_hook = NULL;
  prompt_prefill = NULL;

  if (line == NULL)
    return NULL;

  code = g_strstrip (g_strdup (line));
  free (line);
  return code;
}

/* A code in argv is visible to every user in ps: also take it from
 * $FERRY_CODE or a prompt. @from_prompt says which, since only a person at
 * a prompt can be asked again. */
static char *
read_code (const char *argument,
           gboolean   *from_prompt)
{
  const char *env = g_getenv ("FERRY_CODE");

  *from_prompt = FALSE;
  if (argument != NULL)
    return g_strdup (argument);
  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  if (!isatty (STDIN_FILENO))
    return NULL;

  *from_prompt = TRUE;
  return prompt_code (NULL);
}

/* Checks a code before anything goes to the server. One typed at the
 * prompt that is not a code is explained and asked for again, filled in
 * with the suggested words when there is a good guess for each mistyped one
 * (Enter takes it), else with what was typed, so a person fixes the one
 * wrong word instead of typing it all again. */
static char *
normalize_code (char        *code,
                gboolean     from_prompt,
                GError     **error)
{
  g_autofree char *typed = code;
  char *normalized;

  while ((normalized = ferry_code_normalize (typed, error)) == NULL && from_prompt)
    {
      g_autofree char *title = ferry_error_dup_title (*error);
      g_autofree char *corrected = ferry_code_dup_corrected (typed);
      char *again;

      g_printerr ("%s: %s\n", title, (*error)->message);
      again = prompt_code (corrected != NULL ? corrected : typed);
      if (again == NULL)
        return NULL;
      g_clear_error (error);
      g_free (typed);
      typed = again;
    }

  return normalized;
}

int
ferry_cli_receive (FerryCliContext  *context,
                   int               argc,
                   char            **argv)
{
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_auto(Cli) cli = { 0 };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GFile) folder = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *code = NULL;
  g_autofree char *normalized = NULL;
  gboolean json = FALSE, yes = FALSE, from_prompt;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON event per line"), NULL },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Accept the offer without asking"), NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Folder to save into (default: the current folder)"), N_("DIR") },
    { NULL }
  };

  options = g_option_context_new (_("[CODE] — receive what the sender offers"));
  g_option_context_set_description (options,
                                    _("The code can also come from $FERRY_CODE or a prompt, "
                                      "which keeps it out of the process list."));
  g_option_context_add_main_entries (options, entries, GETTEXT_PACKAGE);
  g_option_context_add_group (options, ferry_cli_global_options_new (context));
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("ferry-cli receive: %s\n", error->message);
      return 2;
    }
  if (argc > 2)
    {
      g_printerr (_("ferry-cli receive: give one code at most\n"));
      return 2;
    }

  cli_init (&cli, json);
  cli.yes = yes;

  code = read_code (argc == 2 ? argv[1] : NULL, &from_prompt);
  if (code == NULL)
    {
      g_printerr (_("ferry-cli receive: no code given (argument, $FERRY_CODE or prompt)\n"));
      return 2;
    }

  /* A malformed code is explained before anything goes to the server. */
  normalized = normalize_code (g_steal_pointer (&code), from_prompt, &error);
  if (normalized == NULL)
    {
      if (error != NULL)
        report_error (&cli, error);
      return EXIT_FAILURE;
    }

  folder = g_file_new_for_commandline_arg (output != NULL ? output : ".");
  if (g_file_query_file_type (folder, G_FILE_QUERY_INFO_NONE, NULL) != G_FILE_TYPE_DIRECTORY)
    {
      g_autofree char *name = g_file_get_parse_name (folder);

      g_printerr (_("ferry-cli receive: “%s” is not a folder\n"), name);
      return 2;
    }

  client = dup_client (context);
  store = open_store ();
  cli.folder = g_object_ref (folder);
  cli.session = ferry_session_new_receiver (client, store, normalized, folder);

  return cli_run (&cli);
}
