/* test-gtk-app.c
 *
 * Drives the real app under Xvfb: two windows of one FerryApplication meet
 * through a real ferry-rendezvous. Saves a screenshot of each page into
 * $G_TEST_BUILDDIR/screenshots for the metainfo and for people reviewing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "ferry-application.h"
#include "ferry-history-page.h"
#include "ferry-preferences-window.h"
#include "ferry-receive-page.h"
#include "ferry-send-page.h"
#include "ferry-session.h"
#include "ferry-transfer-view.h"
#include "ferry-test-utils.h"
#include "ferry-version.h"
#include "ferry-window.h"

#define TIMEOUT_MS 15000

static FerryApplication *app;
static FerryTestRendezvous *server;

typedef struct
{
  GtkWidget  *page;
  const char *(*get_name) (gpointer page);
  const char *name;
} PageWait;

static gboolean
page_shows (gpointer user_data)
{
  PageWait *wait = user_data;

  return g_strcmp0 (wait->get_name (wait->page), wait->name) == 0;
}

static void
wait_for_send_page (FerryWindow *window,
                    const char  *name)
{
  PageWait wait = {
    ferry_window_get_send_page (window),
    (gpointer) ferry_send_page_get_page_name,
    name,
  };

  if (!ferry_test_wait_until (page_shows, &wait, TIMEOUT_MS))
    g_error ("The send page shows “%s”, not “%s”",
             ferry_send_page_get_page_name (FERRY_SEND_PAGE (wait.page)), name);
}

static void
wait_for_send_page_within (FerryWindow *window,
                           const char  *name,
                           guint        timeout_ms)
{
  PageWait wait = {
    ferry_window_get_send_page (window),
    (gpointer) ferry_send_page_get_page_name,
    name,
  };

  if (!ferry_test_wait_until (page_shows, &wait, timeout_ms))
    g_error ("The send page shows “%s”, not “%s”",
             ferry_send_page_get_page_name (FERRY_SEND_PAGE (wait.page)), name);
}

static void
wait_for_receive_page (FerryWindow *window,
                       const char  *name)
{
  PageWait wait = {
    ferry_window_get_receive_page (window),
    (gpointer) ferry_receive_page_get_page_name,
    name,
  };

  if (!ferry_test_wait_until (page_shows, &wait, TIMEOUT_MS))
    g_error ("The receive page shows “%s”, not “%s”",
             ferry_receive_page_get_page_name (FERRY_RECEIVE_PAGE (wait.page)), name);
}

static void
after_paint_cb (GdkFrameClock *clock,
                gpointer       user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Waits until @window has been painted with its current state, so the
 * screenshot shows what a person would see now. */
static void
wait_for_paint (GtkWidget *window)
{
  GdkFrameClock *clock;
  gboolean painted = FALSE;
  gulong handler;

  g_assert_true (ferry_test_wait_until ((FerryTestCondition) gtk_widget_get_mapped, window,
                                        TIMEOUT_MS));
  clock = gtk_widget_get_frame_clock (window);
  g_assert_nonnull (clock);

  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gtk_widget_queue_draw (window);
  g_assert_true (ferry_test_wait_for_flag (&painted, TIMEOUT_MS));
  g_signal_handler_disconnect (clock, handler);
}

static void
save_screenshot (GtkWidget  *window,
                 const char *name)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  int width, height;

  /* A window that was just shown may need one more frame before it has
   * anything to render: try a few frames, never forever. */
  for (guint frame = 0; frame < 10 && node == NULL; frame++)
    {
      wait_for_paint (window);

      width = gtk_widget_get_width (window);
      height = gtk_widget_get_height (window);
      g_assert_cmpint (width, >, 0);
      g_assert_cmpint (height, >, 0);

      g_clear_object (&paintable);
      paintable = gtk_widget_paintable_new (window);
      snapshot = gtk_snapshot_new ();
      gdk_paintable_snapshot (paintable, snapshot, width, height);
      node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
    }
  g_assert_nonnull (node);

  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));

  dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "screenshots", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  file = g_strconcat (name, ".png", NULL);
  path = g_build_filename (dir, file, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("Screenshot: %s", path);
}

static FerryWindow *
new_window (void)
{
  FerryWindow *window = ferry_window_new (app);

  gtk_window_set_default_size (GTK_WINDOW (window), 600, 700);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static char *send_dir;
static char *download_dir;

/* A file of @size pseudo-random bytes in its own folder under the test's
 * home; the app downloads into another folder there. */
static GFile *
make_file_to_send (const char *name,
                   gsize       size)
{
  g_autofree char *path = g_build_filename (send_dir, name, NULL);

  ferry_test_write_random_file (path, size, 0x9e3779b9);
  return g_file_new_for_path (path);
}

static void
assert_received (GFile *sent)
{
  g_autofree char *name = g_file_get_basename (sent);
  g_autofree char *arrived = g_build_filename (download_dir, name, NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  gsize a_len, b_len;
  g_autoptr(GError) error = NULL;

  g_file_load_contents (sent, NULL, &a, &a_len, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (arrived, &b, &b_len, NULL));
  g_assert_cmpmem (a, a_len, b, b_len);
}

static void
type_code (FerryWindow *window,
           const char  *code)
{
  ferry_window_show_receive_code (window, code);
  ferry_receive_page_receive (FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (window)));
}

static const char *
badge_of (FerryWindow *window,
          gboolean     sender)
{
  FerryTransferView *view = sender
    ? ferry_send_page_get_transfer_view (FERRY_SEND_PAGE (ferry_window_get_send_page (window)))
    : ferry_receive_page_get_transfer_view (FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (window)));

  return ferry_transfer_view_get_path_label (view);
}

static gboolean
transfer_started (gpointer user_data)
{
  FerryReceivePage *page = user_data;
  FerrySession *session = ferry_transfer_view_get_session (ferry_receive_page_get_transfer_view (page));
  FerryTransfer *transfer = session != NULL ? ferry_session_get_transfer (session) : NULL;

  return transfer != NULL && ferry_transfer_get_bytes_done (transfer) > 0;
}

static gboolean
history_has_both (gpointer user_data)
{
  FerryHistoryPage *page = user_data;
  gboolean sent = FALSE, received = FALSE;

  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      if (strstr (text, "Completed") == NULL || strstr (text, "Direct · local network") == NULL)
        continue;
      sent |= g_str_has_prefix (text, "Sent 1 file");
      received |= g_str_has_prefix (text, "Received 1 file");
    }

  return sent && received;
}

/* A real transfer between two windows, driven through the pages' own
 * entry points, as the buttons do. */
static void
test_send_and_receive (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  g_autoptr(GFile) file = make_file_to_send ("Ferry Photos.tar", 150 * 1024 * 1024 + 7);
  g_autofree char *code = NULL;

  save_screenshot (GTK_WIDGET (sender), "choose");

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  code = g_strdup (ferry_send_page_get_code (send_page));
  g_assert_nonnull (code);
  save_screenshot (GTK_WIDGET (sender), "send");

  ferry_window_show_page (receiver, "receive");
  save_screenshot (GTK_WIDGET (receiver), "receive");
  type_code (receiver, code);

  /* The offer is shown before anything is written, with the path known. */
  wait_for_receive_page (receiver, "offer");
  g_assert_cmpstr (badge_of (receiver, FALSE), ==, "Direct · local network");
  save_screenshot (GTK_WIDGET (receiver), "offer");

  ferry_receive_page_accept (receive_page);
  wait_for_receive_page (receiver, "transfer");
  g_assert_true (ferry_test_wait_until (transfer_started, receive_page, TIMEOUT_MS));
  save_screenshot (GTK_WIDGET (receiver), "transfer");

  wait_for_receive_page (receiver, "done");
  wait_for_send_page (sender, "done");
  g_assert_cmpstr (badge_of (sender, TRUE), ==, "Direct · local network");
  g_assert_cmpstr (badge_of (receiver, FALSE), ==, "Direct · local network");
  save_screenshot (GTK_WIDGET (receiver), "done");

  assert_received (file);

  /* Both windows share the app's SQLite store: the history has both ends,
   * with their path and outcome. */
  ferry_window_show_page (receiver, "history");
  g_assert_true (ferry_test_wait_until (history_has_both, ferry_window_get_history_page (receiver),
                                        TIMEOUT_MS));
  save_screenshot (GTK_WIDGET (receiver), "history");

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

static void
cli_exited_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  *exited = TRUE;
}

/* The app sends to another process: ferry-cli, as a friend on a terminal. */
static void
test_send_to_cli (void)
{
  FerryWindow *sender = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  g_autoptr(GFile) file = make_file_to_send ("for the terminal.bin", 3 * 1024 * 1024 + 1);
  g_autofree char *out_dir = g_build_filename (download_dir, "cli", NULL);
  g_autofree char *arrived = g_build_filename (out_dir, "for the terminal.bin", NULL);
  g_autofree char *data_home = g_build_filename (g_get_home_dir (), "cli-data", NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent_data = NULL;
  g_autofree char *got_data = NULL;
  gsize sent_len, got_len;
  gboolean exited = FALSE;

  g_assert_cmpint (g_mkdir_with_parents (out_dir, 0755), ==, 0);
  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_setenv (launcher, "FERRY_CODE", ferry_send_page_get_code (send_page), TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("FERRY_CLI_BIN"),
                                     "receive", "--json", "--yes", "--output", out_dir, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_async (cli, NULL, cli_exited_cb, &exited);

  wait_for_send_page (sender, "done");
  g_assert_true (ferry_test_wait_for_flag (&exited, TIMEOUT_MS));
  g_assert_true (g_subprocess_get_successful (cli));
  g_assert_cmpstr (badge_of (sender, TRUE), ==, "Direct · local network");

  g_assert_true (g_file_load_contents (file, NULL, &sent_data, &sent_len, NULL, NULL));
  g_assert_true (g_file_get_contents (arrived, &got_data, &got_len, NULL));
  g_assert_cmpmem (sent_data, sent_len, got_data, got_len);

  gtk_window_destroy (GTK_WINDOW (sender));
}

static GSubprocess *
spawn_cli_receiver (const char *code,
                    const char *out_dir,
                    const char *data_home)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *cli;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_setenv (launcher, "FERRY_CODE", code, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("FERRY_CLI_BIN"),
                                     "receive", "--json", "--yes", "--output", out_dir, NULL);
  g_assert_no_error (error);
  return cli;
}

static gboolean
sent_at_least_half (gpointer user_data)
{
  FerrySendPage *page = user_data;
  FerrySession *session = ferry_transfer_view_get_session (ferry_send_page_get_transfer_view (page));
  FerryTransfer *transfer = session != NULL ? ferry_session_get_transfer (session) : NULL;

  return transfer != NULL &&
         ferry_transfer_get_bytes_done (transfer) * 2 >= ferry_transfer_get_bytes_total (transfer);
}

static gboolean
history_has_interrupted_send (gpointer user_data)
{
  FerryHistoryPage *page = user_data;

  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      if (g_str_has_prefix (text, "Sent 1 file") && strstr (text, "Interrupted") != NULL)
        return TRUE;
    }

  return FALSE;
}

/* A send interrupted by the receiver vanishing is resumed from the
 * history: the same file goes again with a new code, and the receiver,
 * saving into the same folder, gets only what it lacks. */
static void
test_resume_send_from_history (void)
{
  FerryWindow *window = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (window));
  FerryHistoryPage *history = FERRY_HISTORY_PAGE (ferry_window_get_history_page (window));
  g_autoptr(GFile) file = make_file_to_send ("resume me.bin", 120 * 1024 * 1024 + 5);
  g_autofree char *out_dir = g_build_filename (download_dir, "resumed", NULL);
  g_autofree char *data_home = g_build_filename (g_get_home_dir (), "cli-resume-data", NULL);
  g_autofree char *arrived = g_build_filename (out_dir, "resume me.bin", NULL);
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(GSubprocess) second = NULL;
  g_autofree char *sent_data = NULL;
  g_autofree char *got_data = NULL;
  gsize sent_len, got_len;
  gboolean exited = FALSE;
  guint row = 0;

  g_assert_cmpint (g_mkdir_with_parents (out_dir, 0755), ==, 0);

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (window, "code");
  first = spawn_cli_receiver (ferry_send_page_get_code (send_page), out_dir, data_home);
  g_assert_true (ferry_test_wait_until (sent_at_least_half, send_page, TIMEOUT_MS));
  g_subprocess_force_exit (first);

  /* The app notices within its idle timeout and says so. */
  wait_for_send_page_within (window, "error", 30000);
  g_assert_cmpstr (ferry_send_page_get_error_title (send_page), ==, "The Other Side Is Gone");

  ferry_window_show_page (window, "history");
  g_assert_true (ferry_test_wait_until (history_has_interrupted_send, history, TIMEOUT_MS));
  for (row = 0; row < ferry_history_page_get_n_rows (history); row++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (history, row);

      if (g_str_has_prefix (text, "Sent 1 file") && strstr (text, "Interrupted") != NULL)
        break;
    }
  g_assert_true (ferry_history_page_activate_resume (history, row));

  /* Resume sends the same file with a new code. */
  wait_for_send_page (window, "code");
  second = spawn_cli_receiver (ferry_send_page_get_code (send_page), out_dir, data_home);
  g_subprocess_wait_async (second, NULL, cli_exited_cb, &exited);
  wait_for_send_page (window, "done");
  g_assert_true (ferry_test_wait_for_flag (&exited, TIMEOUT_MS));
  g_assert_true (g_subprocess_get_successful (second));

  /* Only the rest travelled the second time. */
  {
    FerrySession *session = ferry_transfer_view_get_session (
      ferry_send_page_get_transfer_view (send_page));
    FerryTransfer *transfer = ferry_session_get_transfer (session);

    g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (transfer), <,
                      ferry_transfer_get_bytes_total (transfer));
  }

  g_assert_true (g_file_load_contents (file, NULL, &sent_data, &sent_len, NULL, NULL));
  g_assert_true (g_file_get_contents (arrived, &got_data, &got_len, NULL));
  g_assert_cmpmem (sent_data, sent_len, got_data, got_len);

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_decline_reaches_error_page (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  g_autoptr(GFile) file = make_file_to_send ("declined.txt", 1000);
  g_autofree char *arrived = g_build_filename (download_dir, "declined.txt", NULL);

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  type_code (receiver, ferry_send_page_get_code (send_page));
  wait_for_receive_page (receiver, "offer");

  ferry_receive_page_decline (receive_page);
  g_assert_cmpstr (ferry_receive_page_get_page_name (receive_page), ==, "enter");
  wait_for_send_page (sender, "error");
  g_assert_cmpstr (ferry_send_page_get_error_title (send_page), ==, "The Receiver Said No");
  g_assert_false (g_file_test (arrived, G_FILE_TEST_EXISTS));

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

static void
test_cancel_reaches_error_page (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  g_autoptr(GFile) file = make_file_to_send ("cancelled.bin", 400 * 1024 * 1024);

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  type_code (receiver, ferry_send_page_get_code (send_page));
  wait_for_receive_page (receiver, "offer");
  ferry_receive_page_accept (receive_page);
  g_assert_true (ferry_test_wait_until (transfer_started, receive_page, TIMEOUT_MS));

  /* The sender's Cancel button. */
  gtk_widget_activate_action (GTK_WIDGET (send_page), "send.cancel", NULL);
  g_assert_cmpstr (ferry_send_page_get_page_name (send_page), ==, "choose");
  wait_for_receive_page (receiver, "error");
  g_assert_cmpstr (ferry_receive_page_get_error_title (receive_page), ==,
                   "Cancelled by the Other Side");

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

static void
test_wrong_code_reaches_error_pages (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  g_autoptr(GFile) file = make_file_to_send ("guess.txt", 10);
  g_autofree char *wrong = NULL;

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");

  /* Same nameplate, another word: a guess. */
  wrong = ferry_test_wrong_code_for (ferry_send_page_get_code (send_page));
  type_code (receiver, wrong);

  wait_for_receive_page (receiver, "error");
  wait_for_send_page (sender, "error");
  g_assert_cmpstr (ferry_receive_page_get_error_title (receive_page), ==, "Wrong Code");
  g_assert_cmpstr (ferry_send_page_get_error_title (send_page), ==, "Wrong Code");
  save_screenshot (GTK_WIDGET (receiver), "error");

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

static void
test_malformed_code_is_explained (void)
{
  FerryWindow *receiver = new_window ();
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));

  type_code (receiver, "orbit-tulip-canvas");

  /* Nothing is sent: the page stays on the entry and says why. */
  g_assert_cmpstr (ferry_receive_page_get_page_name (receive_page), ==, "enter");
  g_assert_nonnull (ferry_receive_page_get_hint (receive_page));
  g_assert_nonnull (strstr (ferry_receive_page_get_hint (receive_page), "“orbit”"));
  save_screenshot (GTK_WIDGET (receiver), "receive-invalid");

  gtk_window_destroy (GTK_WINDOW (receiver));
}

/* A ferry: link (from a browser or a QR scanner) fills in the code and
 * waits for the user: a link alone never starts anything. */
static void
test_ferry_link_fills_code (void)
{
  FerryWindow *window = new_window ();
  FerryReceivePage *page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (window));
  g_autoptr(GFile) link = g_file_new_for_uri ("ferry:7-orbit-tulip-canvas");

  g_application_open (G_APPLICATION (app), &link, 1, "");

  g_assert_cmpstr (ferry_receive_page_get_entered_code (page), ==, "7-orbit-tulip-canvas");
  g_assert_cmpstr (ferry_receive_page_get_page_name (page), ==, "enter");

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_preferences (void)
{
  FerryPreferencesWindow *preferences;
  GSettings *settings = ferry_application_get_settings (app);

  preferences = ferry_preferences_window_new (settings);
  gtk_window_set_default_size (GTK_WINDOW (preferences), 520, 560);
  gtk_window_present (GTK_WINDOW (preferences));
  save_screenshot (GTK_WIDGET (preferences), "preferences");

  gtk_window_destroy (GTK_WINDOW (preferences));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  /* Not ferry_test_init(): isolating all XDG dirs hides the system's
   * shared-mime-info, and then GTK cannot even load its own SVG icons.
   * Only the user's dirs are made private here. */
  g_autofree char *home = ferry_test_make_temp_dir ("gtk-test");
  g_setenv ("HOME", home, TRUE);
  for (guint i = 0; i < 3; i++)
    {
      static const char *vars[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME" };
      g_autofree char *dir = g_build_filename (home, vars[i], NULL);

      g_setenv (vars[i], dir, TRUE);
    }

  g_test_init (&argc, &argv, NULL);

  send_dir = g_build_filename (home, "outgoing", NULL);
  download_dir = g_build_filename (home, "Downloads", NULL);
  g_assert_cmpint (g_mkdir_with_parents (send_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (download_dir, 0755), ==, 0);
  if (!ferry_init (&error))
    g_error ("%s", error->message);

  server = ferry_test_rendezvous_start (NULL);
  g_setenv ("FERRY_RENDEZVOUS", server->url, TRUE);
  g_setenv ("FERRY_NON_UNIQUE", "1", TRUE);

  gtk_init ();
  adw_init ();

  /* Screenshots must show where a page ends up, not a crossfade to it. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  app = ferry_application_new ();
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);
  g_settings_set_string (ferry_application_get_settings (app), "download-folder", download_dir);
  /* The test's private session bus has no notification server, and GLib
   * warns (fatally here) when it finds none. */
  g_settings_set_boolean (ferry_application_get_settings (app), "notifications", FALSE);

  g_test_add_func ("/gtk-app/send-and-receive", test_send_and_receive);
  g_test_add_func ("/gtk-app/send-to-cli", test_send_to_cli);
  g_test_add_func ("/gtk-app/resume-send-from-history", test_resume_send_from_history);
  g_test_add_func ("/gtk-app/decline-reaches-error-page", test_decline_reaches_error_page);
  g_test_add_func ("/gtk-app/cancel-reaches-error-page", test_cancel_reaches_error_page);
  g_test_add_func ("/gtk-app/wrong-code-reaches-error-pages", test_wrong_code_reaches_error_pages);
  g_test_add_func ("/gtk-app/malformed-code-is-explained", test_malformed_code_is_explained);
  g_test_add_func ("/gtk-app/ferry-link-fills-code", test_ferry_link_fills_code);
  g_test_add_func ("/gtk-app/preferences", test_preferences);

  ret = g_test_run ();

  g_clear_object (&app);
  g_clear_pointer (&server, ferry_test_rendezvous_free);

  return ret;
}
