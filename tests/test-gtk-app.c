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
#include <gdk/x11/gdkx.h>
#include <sqlite3.h>
#include <X11/extensions/XTest.h>

#include "ferry-application.h"
#include "ferry-done-page.h"
#include "ferry-history-page.h"
#include "ferry-offer.h"
#include "ferry-offer-model.h"
#include "ferry-preferences-window.h"
#include "ferry-receive-page.h"
#include "ferry-send-page.h"
#include "ferry-server-notice.h"
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
wait_for_send_page (FerryWindow *window,
                    const char  *name)
{
  wait_for_send_page_within (window, name, TIMEOUT_MS);
}

static void
wait_for_receive_page_within (FerryWindow *window,
                              const char  *name,
                              guint        timeout_ms)
{
  PageWait wait = {
    ferry_window_get_receive_page (window),
    (gpointer) ferry_receive_page_get_page_name,
    name,
  };

  if (!ferry_test_wait_until (page_shows, &wait, timeout_ms))
    g_error ("The receive page shows “%s”, not “%s”",
             ferry_receive_page_get_page_name (FERRY_RECEIVE_PAGE (wait.page)), name);
}

static void
wait_for_receive_page (FerryWindow *window,
                       const char  *name)
{
  wait_for_receive_page_within (window, name, TIMEOUT_MS);
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
  int width = 0, height = 0;

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
new_window_sized (int width,
                  int height)
{
  FerryWindow *window = ferry_window_new (app);

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

/* The default size, as the GSettings defaults give it. */
static FerryWindow *
new_window (void)
{
  return new_window_sized (600, 700);
}

/* The drawable button (or other actionable) for @action under @widget. */
static GtkWidget *
find_actionable (GtkWidget  *widget,
                 const char *action)
{
  if (GTK_IS_ACTIONABLE (widget) && gtk_widget_is_drawable (widget) &&
      g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0)
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_actionable (child, action);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
assert_rect_inside (const graphene_rect_t *inner,
                    const graphene_rect_t *outer,
                    const char            *what)
{
  /* Half a pixel for rounding. */
  if (inner->origin.x < outer->origin.x - 0.5 || inner->origin.y < outer->origin.y - 0.5 ||
      inner->origin.x + inner->size.width > outer->origin.x + outer->size.width + 0.5 ||
      inner->origin.y + inner->size.height > outer->origin.y + outer->size.height + 0.5)
    g_error ("%s at %.0f,%.0f %.0f×%.0f is outside %.0f,%.0f %.0f×%.0f", what,
             inner->origin.x, inner->origin.y, inner->size.width, inner->size.height,
             outer->origin.x, outer->origin.y, outer->size.width, outer->size.height);
}

/* The control for @action shows in @window without scrolling: inside the
 * window and inside the visible part of every scrolled window around it. */
static void
assert_in_view (GtkWidget  *window,
                const char *action)
{
  GtkWidget *widget;
  graphene_rect_t bounds, view;

  wait_for_paint (window);
  widget = find_actionable (window, action);
  if (widget == NULL)
    g_error ("Nothing shows for %s", action);

  g_assert_true (gtk_widget_compute_bounds (widget, window, &bounds));
  view = GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (window), gtk_widget_get_height (window));
  assert_rect_inside (&bounds, &view, action);

  for (GtkWidget *up = gtk_widget_get_parent (widget); up != NULL; up = gtk_widget_get_parent (up))
    if (GTK_IS_SCROLLED_WINDOW (up))
      {
        g_assert_true (gtk_widget_compute_bounds (up, window, &view));
        assert_rect_inside (&bounds, &view, action);
      }
}

/* Titles of the rows shown under @widget, one a line. An expander row
 * shows its title through a row of its own, which is left out. */
static void
collect_row_titles (GtkWidget  *widget,
                    const char *expander_title,
                    GString    *titles)
{
  if (ADW_IS_PREFERENCES_ROW (widget) && gtk_widget_is_drawable (widget))
    {
      const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget));

      if (ADW_IS_EXPANDER_ROW (widget))
        expander_title = title;
      else if (g_strcmp0 (title, expander_title) == 0)
        title = NULL;
      if (title != NULL)
        g_string_append_printf (titles, "%s\n", title);
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_row_titles (child, expander_title, titles);
}

/* Starts with a newline too, so each title can be found as "\nTITLE\n". */
static char *
dup_row_titles (GtkWidget *widget)
{
  GString *titles = g_string_new ("\n");

  wait_for_paint (GTK_WIDGET (gtk_widget_get_root (widget)));
  collect_row_titles (widget, NULL, titles);
  return g_string_free (titles, FALSE);
}

/* The keyboard, through the X server: XTest keys go to the window that has
 * the X input focus, as a person's would. */
static Display *
x_display (GtkWidget *window)
{
  return gdk_x11_display_get_xdisplay (gtk_widget_get_display (window));
}

static void
focus_window (GtkWidget *window)
{
  Display *display = x_display (window);
  Window xid = gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (window)));

  wait_for_paint (window);
  XSetInputFocus (display, xid, RevertToParent, CurrentTime);
  XSync (display, False);
  g_assert_true (ferry_test_wait_until ((FerryTestCondition) gtk_window_is_active, window,
                                        TIMEOUT_MS));
}

static void
send_key (GtkWidget  *window,
          KeySym      modifier,
          KeySym      key)
{
  Display *display = x_display (window);
  KeyCode mod_code = modifier != NoSymbol ? XKeysymToKeycode (display, modifier) : 0;
  KeyCode code = XKeysymToKeycode (display, key);

  g_assert_cmpuint (code, !=, 0);
  if (mod_code != 0)
    XTestFakeKeyEvent (display, mod_code, True, CurrentTime);
  XTestFakeKeyEvent (display, code, True, CurrentTime);
  XTestFakeKeyEvent (display, code, False, CurrentTime);
  if (mod_code != 0)
    XTestFakeKeyEvent (display, mod_code, False, CurrentTime);
  XSync (display, False);
}

static void
type_text (GtkWidget  *window,
           const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      char name[2] = { *p, '\0' };

      send_key (window, NoSymbol, *p == '-' ? XK_minus : XStringToKeysym (name));
    }
}

typedef struct
{
  GtkWidget *window;
  GtkWidget *old_focus;
} FocusWait;

static gboolean
focus_moved (gpointer user_data)
{
  FocusWait *wait = user_data;

  return gtk_root_get_focus (GTK_ROOT (wait->window)) != wait->old_focus;
}

/* Presses Tab and waits until the focus moved. */
static GtkWidget *
press_tab (GtkWidget *window)
{
  FocusWait wait = { window, gtk_root_get_focus (GTK_ROOT (window)) };

  send_key (window, NoSymbol, XK_Tab);
  g_assert_true (ferry_test_wait_until (focus_moved, &wait, TIMEOUT_MS));
  return gtk_root_get_focus (GTK_ROOT (window));
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

/* The app opens its SQLite store at startup, off the UI thread; a transfer
 * started before it is open is not recorded. */
static gboolean
has_store (gpointer user_data)
{
  return ferry_application_get_store (app) != NULL;
}

static gboolean
history_has_both (gpointer user_data)
{
  FerryHistoryPage *page = user_data;
  gboolean sent = FALSE, received = FALSE;

  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      /* Then how fast, how long, and the path. */
      if (strstr (text, " · Completed\n") == NULL || strstr (text, "/s · ") == NULL ||
          !g_str_has_suffix (text, " · Direct · local network"))
        continue;
      /* Both ends are named by what moved. */
      sent |= g_str_has_prefix (text, "Ferry Photos.tar\nSent · 1 file · 157.3\u00a0MB · ");
      received |= g_str_has_prefix (text, "Ferry Photos.tar\nReceived · 1 file · 157.3\u00a0MB · ");
    }

  return sent && received;
}

static gboolean
has_offer_model (gpointer user_data)
{
  return ferry_send_page_get_offer_model (user_data) != NULL;
}

static gboolean
history_has_rows (gpointer user_data)
{
  return ferry_history_page_get_n_rows (user_data) > 0;
}

static void
assert_done_page (FerryDonePage *page,
                  const char    *folder_line)
{
  g_autofree char *text = ferry_done_page_dup_text (page);

  g_test_message ("Done page:\n%s", text);
  /* What moved, how much, how fast and how. */
  g_assert_nonnull (strstr (text, "\nFerry Photos.tar: 1 file · 157.3\u00a0MB\n"));
  g_assert_nonnull (strstr (text, "\nAverage Speed: "));
  g_assert_nonnull (strstr (text, "/s · "));
  g_assert_nonnull (strstr (text, "\nPath: Direct · local network\n"));
  g_assert_nonnull (strstr (text, folder_line));
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
  FerryHistoryPage *history = FERRY_HISTORY_PAGE (ferry_window_get_history_page (receiver));
  g_autoptr(GFile) file = make_file_to_send ("Ferry Photos.tar", 150 * 1024 * 1024 + 7);
  g_autofree char *code = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *sent_from = g_strdup_printf ("\nSent From: %s\n", send_dir);
  g_autofree char *saved_in = g_strdup_printf ("\nSaved In: %s\n", download_dir);

  g_assert_true (ferry_test_wait_until (has_store, NULL, TIMEOUT_MS));
  save_screenshot (GTK_WIDGET (sender), "choose");

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  code = g_strdup (ferry_send_page_get_code (send_page));
  g_assert_nonnull (code);

  /* Next to the code: what it sends. */
  g_assert_true (ferry_test_wait_until (has_offer_model, send_page, TIMEOUT_MS));
  summary = ferry_send_page_dup_summary (send_page);
  g_assert_cmpstr (summary, ==, "Ferry Photos.tar\n1 file · 157.3\u00a0MB");
  assert_in_view (GTK_WIDGET (sender), "send.copy-code");
  assert_in_view (GTK_WIDGET (sender), "send.cancel");
  save_screenshot (GTK_WIDGET (sender), "send");

  ferry_window_show_page (receiver, "receive");
  save_screenshot (GTK_WIDGET (receiver), "receive");
  type_code (receiver, code);

  /* The offer is shown before anything is written, with the path known,
   * and its actions without scrolling. */
  wait_for_receive_page (receiver, "offer");
  g_assert_cmpstr (badge_of (receiver, FALSE), ==, "Direct · local network");
  g_assert_null (ferry_receive_page_get_notice (receive_page));
  assert_in_view (GTK_WIDGET (receiver), "receive.accept");
  assert_in_view (GTK_WIDGET (receiver), "receive.decline");
  assert_in_view (GTK_WIDGET (receiver), "receive.save-as");
  save_screenshot (GTK_WIDGET (receiver), "offer");

  ferry_receive_page_accept (receive_page);
  wait_for_receive_page (receiver, "transfer");
  g_assert_true (ferry_test_wait_until (transfer_started, receive_page, TIMEOUT_MS));
  save_screenshot (GTK_WIDGET (receiver), "transfer");

  wait_for_receive_page (receiver, "done");
  wait_for_send_page (sender, "done");
  g_assert_cmpstr (badge_of (sender, TRUE), ==, "Direct · local network");
  g_assert_cmpstr (badge_of (receiver, FALSE), ==, "Direct · local network");
  assert_done_page (ferry_receive_page_get_done_page (receive_page), saved_in);
  assert_done_page (ferry_send_page_get_done_page (send_page), sent_from);
  assert_in_view (GTK_WIDGET (receiver), "receive.open");
  assert_in_view (GTK_WIDGET (receiver), "receive.show-in-folder");
  save_screenshot (GTK_WIDGET (receiver), "done");
  save_screenshot (GTK_WIDGET (sender), "sent");

  assert_received (file);

  /* Both windows share the app's SQLite store: the history has both ends,
   * with their names, path and outcome, under today. */
  ferry_window_show_page (receiver, "history");
  g_assert_true (ferry_test_wait_until (history_has_both, history, TIMEOUT_MS));
  g_assert_cmpuint (ferry_history_page_get_n_days (history), ==, 1);
  save_screenshot (GTK_WIDGET (receiver), "history");

  /* The search finds the send by a name in it, and nothing for a name
   * that was never sent. */
  ferry_history_page_set_search (history, "photos.TAR");
  for (guint i = 0; i < ferry_history_page_get_n_rows (history); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (history, i);

      g_assert_cmpint (ferry_history_page_get_row_shown (history, i), ==,
                       g_str_has_prefix (text, "Ferry Photos.tar\n"));
    }
  ferry_history_page_set_search (history, "no-such-name");
  g_assert_cmpuint (ferry_history_page_get_n_days (history), ==, 0);
  ferry_history_page_set_search (history, NULL);

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

      if (g_str_has_prefix (text, "resume me.bin\n") && strstr (text, "Interrupted") != NULL)
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
  g_assert_true (ferry_test_wait_until (has_store, NULL, TIMEOUT_MS));

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

      if (g_str_has_prefix (text, "resume me.bin\n") && strstr (text, "Interrupted") != NULL)
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

  /* The store, written before the send ends, tells of the second attempt:
   * when its bytes began to move, only the rest travelling, its path. */
  {
    FerryStore *store = ferry_application_get_store (app);
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GPtrArray) transfers = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *sent_path = g_file_get_path (file);
    const FerryStoreTransfer *resumed = NULL;

    ferry_store_list_history_async (store, 0, NULL, ferry_test_async_result_cb, &result);
    transfers = ferry_store_list_history_finish (store, ferry_test_wait_async_result (&result,
                                                                                      TIMEOUT_MS),
                                                 &error);
    g_assert_no_error (error);
    for (guint i = 0; i < transfers->len && resumed == NULL; i++)
      {
        const FerryStoreTransfer *transfer = g_ptr_array_index (transfers, i);

        if (transfer->sources != NULL && g_strcmp0 (transfer->sources[0], sent_path) == 0)
          resumed = transfer;
      }
    g_assert_nonnull (resumed);
    g_assert_cmpint (resumed->state, ==, FERRY_STORE_TRANSFER_COMPLETED);
    g_assert_cmpuint (resumed->bytes_done, ==, resumed->total_bytes);
    g_assert_cmpuint (resumed->bytes_moved, >, 0);
    g_assert_cmpuint (resumed->bytes_moved, <, resumed->total_bytes);
    g_assert_cmpint (resumed->started_at, >, resumed->created_at);
    g_assert_cmpint (resumed->finished_at, >=, resumed->started_at);
    g_assert_cmpstr (resumed->first_path_kind, ==, "direct-lan");
  }

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

/* With no download folder set, files land in the XDG download folder, or in
 * ~/Downloads (made when missing) — never in the home folder itself, where
 * xdg-user-dirs points a folder the user turned off. */
static void
test_default_download_folder (void)
{
  GSettings *settings = ferry_application_get_settings (app);
  g_autofree char *user_dirs = g_build_filename (g_get_user_config_dir (), "user-dirs.dirs",
                                                 NULL);
  g_autofree char *incoming = g_build_filename (g_get_home_dir (), "Incoming", NULL);
  g_autoptr(GFile) folder = NULL;
  g_autoptr(GFile) expected = g_file_new_for_path (download_dir);
  g_autoptr(GFile) expected_incoming = g_file_new_for_path (incoming);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (g_get_user_config_dir (), 0755), ==, 0);
  g_settings_set_string (settings, "download-folder", "");

  /* No user-dirs.dirs: ~/Downloads, made for the purpose. */
  g_assert_cmpint (g_rmdir (download_dir), ==, 0);
  g_reload_user_special_dirs_cache ();
  folder = ferry_application_dup_download_folder (app);
  g_assert_true (g_file_equal (folder, expected));
  g_assert_true (g_file_test (download_dir, G_FILE_TEST_IS_DIR));
  g_clear_object (&folder);

  /* The download folder turned off, i.e. pointed at $HOME. */
  g_file_set_contents (user_dirs, "XDG_DOWNLOAD_DIR=\"$HOME\"\n", -1, &error);
  g_assert_no_error (error);
  g_reload_user_special_dirs_cache ();
  folder = ferry_application_dup_download_folder (app);
  g_assert_true (g_file_equal (folder, expected));
  g_clear_object (&folder);

  /* A folder of the user's choice. */
  g_file_set_contents (user_dirs, "XDG_DOWNLOAD_DIR=\"$HOME/Incoming\"\n", -1, &error);
  g_assert_no_error (error);
  g_reload_user_special_dirs_cache ();
  folder = ferry_application_dup_download_folder (app);
  g_assert_true (g_file_equal (folder, expected_incoming));

  g_assert_cmpint (g_unlink (user_dirs), ==, 0);
  g_reload_user_special_dirs_cache ();
  g_settings_set_string (settings, "download-folder", download_dir);
}

static void
write_file (const char *path,
            const char *contents,
            int         mode)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

typedef struct
{
  FerrySendPage *page;
  char          *old_code;
} CodeWait;

static gboolean
code_changed (gpointer user_data)
{
  CodeWait *wait = user_data;
  const char *code = ferry_send_page_get_code (wait->page);

  return code != NULL && g_strcmp0 (code, wait->old_code) != 0 &&
         g_strcmp0 (ferry_send_page_get_page_name (wait->page), "code") == 0 &&
         ferry_send_page_get_offer_model (wait->page) != NULL;
}

/* After the selection changed: a new code, and the summary of what it sends. */
static char *
wait_for_new_code (FerrySendPage *page,
                   const char    *old_code)
{
  CodeWait wait = { page, (char *) old_code };

  g_assert_true (ferry_test_wait_until (code_changed, &wait, TIMEOUT_MS));
  return ferry_send_page_dup_summary (page);
}

static AdwExpanderRow *
find_expander_row (GtkWidget *widget)
{
  if (ADW_IS_EXPANDER_ROW (widget) && gtk_widget_is_drawable (widget))
    return ADW_EXPANDER_ROW (widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwExpanderRow *found = find_expander_row (child);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
log_history_and_fail (FerryHistoryPage *page)
{
  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      g_test_message ("History row %u: %s", i, text);
    }
  g_error ("The history lacks a row");
}

static gboolean
history_has_send_of (gpointer user_data)
{
  FerryHistoryPage *page = user_data;

  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      if (g_str_has_prefix (text, "Holiday <b>& Co, late.txt, notes.txt and 1 more\nSent · ") &&
          strstr (text, "Completed") != NULL)
        return TRUE;
    }

  return FALSE;
}

/* `ferry FILE…` and Open With in Files: the app sends what it is opened
 * with. Before the receiver arrives, items can be taken out and added; the
 * receiver sees folders as one row and is told about hidden files and
 * programs, with every name escaped and none taken for markup. */
static void
test_open_with_files (void)
{
  g_autofree char *notes = g_build_filename (send_dir, "open", "notes.txt", NULL);
  g_autofree char *extra = g_build_filename (send_dir, "open", "extra.txt", NULL);
  /* U+202E turns the rest around: the name reads as "photoexe.png". */
  g_autofree char *program = g_build_filename (send_dir, "open", "photo\u202Egnp.exe", NULL);
  g_autofree char *holiday = g_build_filename (send_dir, "open", "Holiday <b>& Co", NULL);
  g_autofree char *late = g_build_filename (send_dir, "open", "late.txt", NULL);
  g_autofree char *arrived = g_build_filename (download_dir, "Holiday <b>& Co", "sub", "b.txt",
                                               NULL);
  g_autofree char *not_sent = g_build_filename (download_dir, "extra.txt", NULL);
  g_autofree char *summary = NULL;
  g_autofree char *code = NULL;
  g_autofree char *titles = NULL;
  GFile *files[4];
  g_autoptr(GFile) late_file = NULL;
  g_autoptr(GList) windows = NULL;
  FerryWindow *sender, *receiver;
  FerrySendPage *send_page;
  FerryReceivePage *receive_page;
  FerryHistoryPage *history;
  AdwExpanderRow *folder_row;
  guint row;

  write_file (notes, "notes", 0644);
  write_file (extra, "extra", 0644);
  write_file (program, "MZ", 0644);
  write_file (late, "late", 0644);
  {
    g_autofree char *a = g_build_filename (holiday, "a.jpg", NULL);
    g_autofree char *secret = g_build_filename (holiday, ".secret", NULL);
    g_autofree char *b = g_build_filename (holiday, "sub", "b.txt", NULL);

    write_file (a, "jpeg", 0644);
    write_file (secret, "hidden", 0600);
    write_file (b, "bee", 0644);
  }

  files[0] = g_file_new_for_path (notes);
  files[1] = g_file_new_for_path (extra);
  files[2] = g_file_new_for_path (program);
  files[3] = g_file_new_for_path (holiday);
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_application_open (G_APPLICATION (app), files, G_N_ELEMENTS (files), "");
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    g_object_unref (files[i]);

  /* A window opens on the send page with a code for these items. */
  windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_assert_cmpuint (g_list_length (windows), ==, 1);
  sender = FERRY_WINDOW (windows->data);
  send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  summary = wait_for_new_code (send_page, NULL);
  g_assert_cmpstr (summary, ==, "notes.txt, extra.txt and 2 more\n6 files · 25 bytes");
  code = g_strdup (ferry_send_page_get_code (send_page));

  /* Taken out before anyone used the code: a new code without it. */
  ferry_send_page_remove_item (send_page, 1);
  g_free (summary);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "notes.txt, photo\\u{202E}gnp.exe and 1 more\n5 files · 20 bytes");
  g_free (code);
  code = g_strdup (ferry_send_page_get_code (send_page));

  /* Dropped onto the window while the code waits: added. */
  late_file = g_file_new_for_path (late);
  g_assert_true (ferry_send_page_can_add (send_page));
  ferry_send_page_add_files (send_page, &late_file, 1);
  g_free (summary);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "notes.txt, photo\\u{202E}gnp.exe and 2 more\n6 files · 24 bytes");
  g_free (code);
  code = g_strdup (ferry_send_page_get_code (send_page));

  folder_row = find_expander_row (GTK_WIDGET (send_page));
  g_assert_nonnull (folder_row);
  adw_expander_row_set_expanded (folder_row, TRUE);
  titles = dup_row_titles (GTK_WIDGET (send_page));
  g_assert_nonnull (strstr (titles, "\nlate.txt\n"));
  g_assert_null (strstr (titles, "extra.txt"));
  save_screenshot (GTK_WIDGET (sender), "send-items");
  adw_expander_row_set_expanded (folder_row, FALSE);
  g_clear_pointer (&titles, g_free);

  receiver = new_window ();
  receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  type_code (receiver, code);
  wait_for_receive_page (receiver, "offer");

  /* The folder is one row; names are escaped; what deserves a look is said. */
  g_assert_cmpstr (ferry_receive_page_get_notice (receive_page), ==,
                   "Includes 1 hidden file and 1 program");
  titles = dup_row_titles (GTK_WIDGET (receive_page));
  g_test_message ("Offer rows:\n%s", titles);
  g_assert_nonnull (strstr (titles, "\nHoliday <b>& Co\n"));
  g_assert_nonnull (strstr (titles, "\nphoto\\u{202E}gnp.exe\n"));
  g_assert_null (strstr (titles, "\u202E"));
  g_assert_null (strstr (titles, "Co/"));
  g_assert_null (strstr (titles, "b.txt"));
  assert_in_view (GTK_WIDGET (receiver), "receive.accept");
  save_screenshot (GTK_WIDGET (receiver), "offer-items");
  g_clear_pointer (&titles, g_free);

  /* Opened, the folder lists what is inside it. */
  folder_row = find_expander_row (GTK_WIDGET (receive_page));
  g_assert_nonnull (folder_row);
  adw_expander_row_set_expanded (folder_row, TRUE);
  titles = dup_row_titles (GTK_WIDGET (receive_page));
  g_assert_nonnull (strstr (titles, "\nsub/b.txt\n"));
  g_assert_nonnull (strstr (titles, "\n.secret\n"));
  assert_in_view (GTK_WIDGET (receiver), "receive.accept");
  save_screenshot (GTK_WIDGET (receiver), "offer-folder");

  ferry_receive_page_accept (receive_page);
  wait_for_receive_page (receiver, "done");
  wait_for_send_page (sender, "done");
  g_assert_true (g_file_test (arrived, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (not_sent, G_FILE_TEST_EXISTS));

  /* The history names the send, and sends it again. */
  history = FERRY_HISTORY_PAGE (ferry_window_get_history_page (sender));
  ferry_window_show_page (sender, "history");
  if (!ferry_test_wait_until (history_has_send_of, history, TIMEOUT_MS))
    log_history_and_fail (history);
  for (row = 0; row < ferry_history_page_get_n_rows (history); row++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (history, row);

      if (g_str_has_prefix (text, "Holiday <b>& Co, late.txt, notes.txt and 1 more\nSent · "))
        break;
    }
  g_assert_true (ferry_history_page_activate_row_action (history, row, "send-again"));
  g_free (summary);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "Holiday <b>& Co, late.txt and 2 more\n6 files · 24 bytes");
  gtk_widget_activate_action (GTK_WIDGET (send_page), "send.cancel", NULL);

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

/* A file manager on the test's session bus, as Files is on a desktop: it
 * takes FileManager1.ShowItems and notes what it was asked to show. */
static const char file_manager_xml[] =
  "<node>"
  "  <interface name='org.freedesktop.FileManager1'>"
  "    <method name='ShowItems'>"
  "      <arg type='as' name='uris' direction='in'/>"
  "      <arg type='s' name='startup_id' direction='in'/>"
  "    </method>"
  "  </interface>"
  "</node>";

static void
file_manager_call_cb (GDBusConnection       *connection,
                      const char            *sender,
                      const char            *object_path,
                      const char            *interface_name,
                      const char            *method_name,
                      GVariant              *parameters,
                      GDBusMethodInvocation *invocation,
                      gpointer               user_data)
{
  GPtrArray *shown = user_data;
  g_autofree const char **uris = NULL;

  g_variant_get (parameters, "(^a&s&s)", &uris, NULL);
  for (guint i = 0; uris[i] != NULL; i++)
    g_ptr_array_add (shown, g_strdup (uris[i]));
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable file_manager_vtable = { file_manager_call_cb, NULL, NULL };

typedef struct
{
  GDBusConnection *bus;
  guint            registration;
  guint            owner;
  gboolean         acquired;
  GPtrArray       *shown;
} FileManager;

static void
file_manager_acquired_cb (GDBusConnection *connection,
                          const char      *name,
                          gpointer         user_data)
{
  ((FileManager *) user_data)->acquired = TRUE;
}

static void
file_manager_start (FileManager *manager)
{
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (file_manager_xml, NULL);
  g_autoptr(GError) error = NULL;

  manager->shown = g_ptr_array_new_with_free_func (g_free);
  manager->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  manager->registration = g_dbus_connection_register_object (manager->bus,
                                                             "/org/freedesktop/FileManager1",
                                                             node->interfaces[0],
                                                             &file_manager_vtable,
                                                             manager->shown, NULL, &error);
  g_assert_no_error (error);
  manager->owner = g_bus_own_name_on_connection (manager->bus, "org.freedesktop.FileManager1",
                                                 G_BUS_NAME_OWNER_FLAGS_NONE,
                                                 file_manager_acquired_cb, NULL, manager, NULL);
  g_assert_true (ferry_test_wait_for_flag (&manager->acquired, TIMEOUT_MS));
}

static void
file_manager_stop (FileManager *manager)
{
  g_bus_unown_name (manager->owner);
  g_dbus_connection_unregister_object (manager->bus, manager->registration);
  g_clear_object (&manager->bus);
  g_clear_pointer (&manager->shown, g_ptr_array_unref);
}

static gboolean
file_manager_was_asked (gpointer user_data)
{
  return ((FileManager *) user_data)->shown->len > 0;
}

/* The row of @page whose text starts with @prefix, or -1. */
static int
find_history_row (FerryHistoryPage *page,
                  const char       *prefix)
{
  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      if (g_str_has_prefix (text, prefix))
        return (int) i;
    }

  return -1;
}

static gboolean
history_has_seeded (gpointer user_data)
{
  return find_history_row (user_data, "kept.bin\nReceived · ") >= 0 &&
         find_history_row (user_data, "seeded.txt\nSent · ") >= 0;
}

static gboolean
history_lost_kept (gpointer user_data)
{
  return find_history_row (user_data, "kept.bin\n") < 0 &&
         find_history_row (user_data, "seeded.txt\nSent · ") >= 0;
}

static gint64
days_ago (int days)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) then = g_date_time_add_days (now, -days);

  return g_date_time_to_unix (then) * G_USEC_PER_SEC;
}

/* Transfers from earlier days, written into the app's own SQLite file as an
 * earlier run would have left them: the history groups them by day, finds
 * them by name and by peer, tells how fast and by which paths they went,
 * sends a send again with what was chosen, and removes a row without
 * touching its files. */
static void
test_history_days_search_remove (void)
{
  FerryWindow *window = new_window ();
  FerryHistoryPage *history = FERRY_HISTORY_PAGE (ferry_window_get_history_page (window));
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (window));
  g_autofree char *in_dir = g_build_filename (download_dir, "history-days", NULL);
  g_autofree char *kept = g_build_filename (in_dir, "kept.bin", NULL);
  g_autofree char *seeded = g_build_filename (send_dir, "seeded.txt", NULL);
  g_autofree char *kept_before = NULL;
  g_autofree char *kept_after = NULL;
  g_autofree char *sql = NULL;
  g_autofree char *days = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *text = NULL;
  g_autofree char *expected_old_day = NULL;
  g_autofree char *expected_days = NULL;
  g_autoptr(GDateTime) old_day = NULL;
  g_autofree char *kept_uri = NULL;
  FileManager file_manager = { 0 };
  gint64 yesterday = days_ago (1), three_days = days_ago (3);
  gsize before_len, after_len;
  sqlite3 *db = NULL;
  int row;

  g_assert_cmpint (g_mkdir_with_parents (in_dir, 0755), ==, 0);
  ferry_test_write_random_file (kept, 4000000, 0x5eed);
  g_assert_true (g_file_get_contents (kept, &kept_before, &before_len, NULL));
  g_assert_true (g_file_set_contents (seeded, "hello again", -1, NULL));

  g_assert_true (ferry_test_wait_until (has_store, NULL, TIMEOUT_MS));
  sql = g_strdup_printf (
    "INSERT INTO transfers (direction, transfer_key, selection_key, state, peer_name,"
    "  target_folder, created_at, started_at, finished_at, total_bytes, bytes_done,"
    "  bytes_moved, n_files, path_kind, first_path_kind)"
    "  VALUES ('receive', 'seed-k1', 'seed-s1', 'completed', 'Bob', '%s', %" G_GINT64_FORMAT ","
    "          %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", 4000000, 4000000, 4000000, 1,"
    "          'direct-internet', 'relayed');"
    "INSERT INTO files (transfer_id, path, local_path, kind, size, content_id, mode, state)"
    "  VALUES (last_insert_rowid (), 'kept.bin', 'kept.bin', 'file', 4000000,"
    "          'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 420,"
    "          'complete');"
    "INSERT INTO transfers (direction, transfer_key, selection_key, state, peer_name,"
    "  created_at, started_at, finished_at, total_bytes, bytes_done, bytes_moved, n_files,"
    "  path_kind, first_path_kind, sources)"
    "  VALUES ('send', 'seed-k2', 'seed-s2', 'completed', 'Alice''s laptop',"
    "          %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", 11, 11, 11, 1,"
    "          'direct-lan', 'direct-lan', '[\"%s\"]');"
    "INSERT INTO files (transfer_id, path, kind, size, content_id, mode, state)"
    "  VALUES (last_insert_rowid (), 'seeded.txt', 'file', 11,"
    "          'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 420,"
    "          'complete');",
    in_dir, yesterday, yesterday + G_USEC_PER_SEC, yesterday + 3 * G_USEC_PER_SEC,
    three_days, three_days, three_days + G_USEC_PER_SEC, seeded);
  g_assert_cmpint (sqlite3_open (ferry_store_get_path (ferry_application_get_store (app)), &db),
                   ==, SQLITE_OK);
  sqlite3_busy_timeout (db, TIMEOUT_MS);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  ferry_window_show_page (window, "history");
  ferry_history_page_reload (history);
  g_assert_true (ferry_test_wait_until (history_has_seeded, history, TIMEOUT_MS));

  /* Under their days, newest first. */
  old_day = g_date_time_new_from_unix_local (three_days / G_USEC_PER_SEC);
  expected_old_day = g_date_time_format (old_day, "%A, %x");
  expected_days = g_strconcat ("Yesterday\n", expected_old_day, NULL);
  days = ferry_history_page_dup_days (history);
  g_test_message ("Days:\n%s", days);
  g_assert_true (g_str_has_suffix (days, expected_days));
  g_assert_true (g_str_equal (days, expected_days) || g_str_has_prefix (days, "Today\n"));

  /* What moved, how much, how fast, how long, and the paths first and last. */
  row = find_history_row (history, "kept.bin\n");
  text = ferry_history_page_dup_row_text (history, row);
  g_test_message ("Row: %s", text);
  g_assert_true (g_str_has_prefix (text, "kept.bin\nReceived · 1 file · 4.0\u00a0MB · "));
  g_assert_true (g_str_has_suffix (text, " · Completed\n2.0\u00a0MB/s · 2.0 seconds · "
                                         "Relayed, then Direct · internet"));

  /* The search looks at the peer too, and hides the days it empties. */
  ferry_history_page_set_search (history, "BOB");
  for (guint i = 0; i < ferry_history_page_get_n_rows (history); i++)
    g_assert_cmpint (ferry_history_page_get_row_shown (history, i), ==, (int) i == row);
  g_free (days);
  days = ferry_history_page_dup_days (history);
  g_assert_cmpstr (days, ==, "Yesterday");
  save_screenshot (GTK_WIDGET (window), "history-search");
  ferry_history_page_set_search (history, "seeded alice");
  g_free (days);
  days = ferry_history_page_dup_days (history);
  g_assert_cmpstr (days, ==, expected_old_day);
  ferry_history_page_set_search (history, NULL);

  /* Send Again offers what was chosen then. */
  row = find_history_row (history, "seeded.txt\nSent · ");
  g_assert_true (ferry_history_page_activate_row_action (history, row, "send-again"));
  wait_for_send_page (window, "code");
  summary = wait_for_new_code (send_page, NULL);
  g_assert_cmpstr (summary, ==, "seeded.txt\n1 file · 11 bytes");
  gtk_widget_activate_action (GTK_WIDGET (send_page), "send.cancel", NULL);

  /* Show in Folder opens the receiving folder with what arrived selected. */
  ferry_window_show_page (window, "history");
  row = find_history_row (history, "kept.bin\n");
  g_assert_cmpint (row, >=, 0);
  file_manager_start (&file_manager);
  g_assert_true (ferry_history_page_activate_row_action (history, row, "show-in-folder"));
  g_assert_true (ferry_test_wait_until (file_manager_was_asked, &file_manager, TIMEOUT_MS));
  kept_uri = g_filename_to_uri (kept, NULL, NULL);
  g_assert_cmpuint (file_manager.shown->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (file_manager.shown, 0), ==, kept_uri);
  file_manager_stop (&file_manager);

  /* Remove takes the row, and only the row. */
  g_assert_true (ferry_history_page_activate_row_action (history, row, "remove"));
  g_assert_true (ferry_test_wait_until (history_lost_kept, history, TIMEOUT_MS));
  g_free (days);
  days = ferry_history_page_dup_days (history);
  g_assert_null (strstr (days, "Yesterday"));
  g_assert_true (g_file_get_contents (kept, &kept_after, &after_len, NULL));
  g_assert_cmpmem (kept_before, before_len, kept_after, after_len);

  gtk_window_destroy (GTK_WINDOW (window));
}

typedef struct
{
  GtkWidget *window;
  GtkWidget *page;
} FocusInWait;

static gboolean
focus_is_in (gpointer user_data)
{
  FocusInWait *wait = user_data;
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (wait->window));

  return focus != NULL && gtk_widget_is_ancestor (focus, wait->page);
}

typedef struct
{
  FerryReceivePage *page;
  const char       *text;
} EntryWait;

static gboolean
entry_has (gpointer user_data)
{
  EntryWait *wait = user_data;

  return g_strcmp0 (ferry_receive_page_get_entered_code (wait->page), wait->text) == 0;
}

/* The search has filtered the history down to the send and the receive of
 * typed.bin. */
static gboolean
history_shows_only_typed (gpointer user_data)
{
  FerryHistoryPage *page = user_data;
  guint n_shown = 0;

  for (guint i = 0; i < ferry_history_page_get_n_rows (page); i++)
    {
      g_autofree char *text = ferry_history_page_dup_row_text (page, i);

      if (!ferry_history_page_get_row_shown (page, i))
        continue;
      if (!g_str_has_prefix (text, "typed.bin\n"))
        return FALSE;
      n_shown++;
    }

  return n_shown == 2;
}

/* The whole receive with the keyboard alone: Ctrl+R, the code, Enter, a few
 * Tabs to Accept, Enter; then Ctrl+F and a name find it in the history. */
static void
test_keyboard_only_receive (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  GtkWidget *window = GTK_WIDGET (receiver);
  g_autoptr(GFile) file = make_file_to_send ("typed.bin", 64 * 1024);
  FocusInWait focus_wait = { window, GTK_WIDGET (receive_page) };
  FocusInWait history_wait = { window, NULL };
  EntryWait entry_wait = { receive_page, NULL };
  GtkWidget *accept;
  GtkWidget *focus = NULL;
  guint tabs = 0;

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  entry_wait.text = ferry_send_page_get_code (send_page);

  focus_window (window);
  send_key (window, XK_Control_L, XK_r);
  g_assert_true (ferry_test_wait_until (focus_is_in, &focus_wait, TIMEOUT_MS));
  type_text (window, entry_wait.text);
  g_assert_true (ferry_test_wait_until (entry_has, &entry_wait, TIMEOUT_MS));
  send_key (window, NoSymbol, XK_Return);
  wait_for_receive_page (receiver, "offer");

  /* The offer has the focus; Accept is a few Tabs away. */
  g_assert_true (ferry_test_wait_until (focus_is_in, &focus_wait, TIMEOUT_MS));
  accept = find_actionable (window, "receive.accept");
  g_assert_nonnull (accept);
  while (focus != accept && tabs++ < 8)
    focus = press_tab (window);
  g_assert_true (focus == accept);
  g_test_message ("Accept after %u Tabs", tabs);
  send_key (window, NoSymbol, XK_Return);

  wait_for_receive_page (receiver, "done");
  wait_for_send_page (sender, "done");
  assert_received (file);

  /* Ctrl+F searches the history, from any page. */
  history_wait.page = ferry_window_get_history_page (receiver);
  send_key (window, XK_Control_L, XK_f);
  g_assert_true (ferry_test_wait_until (focus_is_in, &history_wait, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_until (history_has_rows, history_wait.page, TIMEOUT_MS));
  type_text (window, "typed");
  g_assert_true (ferry_test_wait_until (history_shows_only_typed, history_wait.page, TIMEOUT_MS));

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

/* At 360 px wide, as on a phone: every page still shows what matters
 * without scrolling, and a folder of many files is one row with a notice. */
static void
test_narrow_window (void)
{
  FerryWindow *sender = new_window_sized (360, 700);
  FerryWindow *receiver = new_window_sized (360, 700);
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  g_autofree char *many = g_build_filename (send_dir, "narrow", "Scans", NULL);
  g_autofree char *arrived = g_build_filename (download_dir, "Scans", "scan-1000.txt", NULL);
  g_autofree char *expected_notice = NULL;
  g_autoptr(GFile) folder = g_file_new_for_path (many);
  g_autofree char *summary = NULL;
  g_autofree char *titles = NULL;

  for (guint i = 1; i <= FERRY_OFFER_MODEL_MANY_FILES; i++)
    {
      g_autofree char *name = g_strdup_printf ("scan-%04u.txt", i);
      g_autofree char *path = g_build_filename (many, name, NULL);

      write_file (path, "page", 0644);
    }

  save_screenshot (GTK_WIDGET (sender), "choose-narrow");
  ferry_send_page_send_files (send_page, &folder, 1);
  summary = wait_for_new_code (send_page, NULL);
  g_assert_cmpstr (summary, ==, "Scans\n1000 files · 4.0\u00a0kB");
  assert_in_view (GTK_WIDGET (sender), "send.copy-code");
  assert_in_view (GTK_WIDGET (sender), "send.cancel");
  save_screenshot (GTK_WIDGET (sender), "send-narrow");

  ferry_window_show_page (receiver, "receive");
  save_screenshot (GTK_WIDGET (receiver), "receive-narrow");
  type_code (receiver, ferry_send_page_get_code (send_page));
  wait_for_receive_page (receiver, "offer");

  expected_notice = g_strdup_printf ("Includes %u files", FERRY_OFFER_MODEL_MANY_FILES);
  g_assert_cmpstr (ferry_receive_page_get_notice (receive_page), ==, expected_notice);
  titles = dup_row_titles (GTK_WIDGET (receive_page));
  g_assert_cmpstr (titles, ==, "\nScans\nSave Into\n");
  assert_in_view (GTK_WIDGET (receiver), "receive.accept");
  assert_in_view (GTK_WIDGET (receiver), "receive.decline");
  assert_in_view (GTK_WIDGET (receiver), "receive.save-as");
  save_screenshot (GTK_WIDGET (receiver), "offer-narrow");

  ferry_receive_page_accept (receive_page);
  wait_for_receive_page_within (receiver, "done", 60000);
  wait_for_send_page (sender, "done");
  g_assert_true (g_file_test (arrived, G_FILE_TEST_IS_REGULAR));
  assert_in_view (GTK_WIDGET (receiver), "receive.open");
  assert_in_view (GTK_WIDGET (receiver), "receive.show-in-folder");
  assert_in_view (GTK_WIDGET (sender), "send.cancel");
  save_screenshot (GTK_WIDGET (receiver), "done-narrow");
  save_screenshot (GTK_WIDGET (sender), "sent-narrow");

  ferry_window_show_page (receiver, "history");
  g_assert_true (ferry_test_wait_until (history_has_rows, ferry_window_get_history_page (receiver),
                                        TIMEOUT_MS));
  save_screenshot (GTK_WIDGET (receiver), "history-narrow");

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

static void
test_preferences (void)
{
  FerryPreferencesWindow *preferences;
  GSettings *settings = ferry_application_get_settings (app);
  g_autofree char *portal = NULL;

  preferences = ferry_preferences_window_new (settings);
  gtk_window_set_default_size (GTK_WINDOW (preferences), 520, 560);
  gtk_window_present (GTK_WINDOW (preferences));
  save_screenshot (GTK_WIDGET (preferences), "preferences");

  /* A folder picked through the document portal shows by its name; once
   * the portal no longer gives it (access revoked), the row says so. */
  portal = g_build_filename (g_get_user_runtime_dir (), "doc", "4f2a9c1e", "Photos", NULL);
  g_assert_cmpint (g_mkdir_with_parents (portal, 0755), ==, 0);
  g_settings_set_string (settings, "download-folder", portal);
  g_assert_cmpstr (ferry_preferences_window_get_download_subtitle (preferences), ==, "Photos");
  g_assert_cmpint (g_rmdir (portal), ==, 0);
  g_settings_set_string (settings, "download-folder", download_dir);
  g_settings_set_string (settings, "download-folder", portal);
  g_assert_cmpstr (ferry_preferences_window_get_download_subtitle (preferences), ==,
                   "Ferry can no longer reach “Photos”: choose a folder again");
  wait_for_paint (GTK_WIDGET (preferences));
  g_assert_nonnull (find_actionable (GTK_WIDGET (preferences),
                                     "preferences.choose-download-folder"));
  g_settings_set_string (settings, "download-folder", download_dir);
  g_assert_cmpstr (ferry_preferences_window_get_download_subtitle (preferences), ==,
                   download_dir);

  gtk_window_destroy (GTK_WINDOW (preferences));
}

/* The first window on a default build: no server set, $FERRY_RENDEZVOUS
 * unset. Where a code is entered the page says plainly that the internet
 * needs a server, its button opens Preferences, and setting one hides it. */
static void
find_preferences (GtkWindow **found)
{
  g_autoptr(GList) windows = gtk_window_list_toplevels ();

  *found = NULL;
  for (GList *l = windows; l != NULL; l = l->next)
    if (FERRY_IS_PREFERENCES_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      *found = l->data;
}

static gboolean
preferences_shown (gpointer user_data)
{
  GtkWindow *found;

  find_preferences (&found);
  return found != NULL;
}

static void
test_server_notice (void)
{
  GSettings *settings = ferry_application_get_settings (app);
  g_autofree char *env = g_strdup (g_getenv ("FERRY_RENDEZVOUS"));
  FerryWindow *window;
  GtkWidget *receive_page, *button;
  GtkWindow *preferences;

  g_unsetenv ("FERRY_RENDEZVOUS");
  g_settings_set_string (settings, "rendezvous-url", "");
  window = new_window ();
  receive_page = ferry_window_get_receive_page (window);
  ferry_window_show_page (window, "receive");
  g_assert_false (ferry_application_has_internet_rendezvous (app));

  assert_in_view (GTK_WIDGET (window), "app.preferences");
  button = find_actionable (receive_page, "app.preferences");
  g_assert_nonnull (button);
  g_assert_nonnull (gtk_widget_get_ancestor (button, FERRY_TYPE_SERVER_NOTICE));
  g_assert_true (gtk_widget_get_visible (gtk_widget_get_ancestor (button,
                                                                  FERRY_TYPE_SERVER_NOTICE)));
  save_screenshot (GTK_WIDGET (window), "receive-no-server");

  g_assert_true (gtk_widget_activate (button));
  g_assert_true (ferry_test_wait_until (preferences_shown, NULL, TIMEOUT_MS));
  find_preferences (&preferences);
  gtk_window_destroy (preferences);

  /* The preference set: the notice goes at once, on every page. */
  g_settings_set_string (settings, "rendezvous-url", server->url);
  wait_for_paint (GTK_WIDGET (window));
  g_assert_null (find_actionable (GTK_WIDGET (window), "app.preferences"));
  g_settings_set_string (settings, "rendezvous-url", "");
  wait_for_paint (GTK_WIDGET (window));
  g_assert_nonnull (find_actionable (receive_page, "app.preferences"));

  g_setenv ("FERRY_RENDEZVOUS", env, TRUE);
  gtk_window_destroy (GTK_WINDOW (window));

  /* A window made while $FERRY_RENDEZVOUS names a server shows none. */
  window = new_window ();
  ferry_window_show_page (window, "receive");
  wait_for_paint (GTK_WIDGET (window));
  g_assert_null (find_actionable (GTK_WIDGET (window), "app.preferences"));
  gtk_window_destroy (GTK_WINDOW (window));
}

#define TEXT_LINK "https://example.org/ferry?meet=gleis-3&t=18:30"
#define HOSTILE_TEXT "Pay \xe2\x80\xae" "exe.txt\x1b[31m\tnow\nsecond line"
#define HOSTILE_SHOWN "Pay \\u{202E}exe.txt\\x1B[31m\\x09now\nsecond line"

static AdwMessageDialog *
find_visible_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (window))
        return ADW_MESSAGE_DIALOG (window);
    }

  return NULL;
}

static gboolean
has_message_dialog (gpointer user_data)
{
  return find_visible_message_dialog () != NULL;
}

static GtkTextView *
find_text_view (GtkWidget *widget)
{
  if (GTK_IS_TEXT_VIEW (widget))
    return GTK_TEXT_VIEW (widget);

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkTextView *found = find_text_view (child);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* Send Text as a person does: the dialog, Send offered only for text the
 * receiver takes, then the code page saying what is sent. */
static void
write_text (FerryWindow *window,
            const char  *text,
            gboolean     by_keyboard,
            const char  *screenshot)
{
  GtkWidget *send_page = ferry_window_get_send_page (window);
  g_autofree char *big = g_strnfill (FERRY_OFFER_MAX_TEXT_BYTES + 1, 'a');
  AdwMessageDialog *dialog;
  GtkTextBuffer *buffer;

  if (by_keyboard)
    {
      /* Ctrl+T, from whatever page the window shows. */
      focus_window (GTK_WIDGET (window));
      ferry_window_show_page (window, "history");
      send_key (GTK_WIDGET (window), XK_Control_L, XK_t);
    }
  else
    gtk_widget_activate_action (send_page, "send.write-text", NULL);
  g_assert_true (ferry_test_wait_until (has_message_dialog, NULL, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_until ((FerryTestCondition) gtk_widget_get_mapped, send_page,
                                        TIMEOUT_MS));
  dialog = find_visible_message_dialog ();
  buffer = gtk_text_view_get_buffer (find_text_view (GTK_WIDGET (dialog)));
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "send"));
  gtk_text_buffer_set_text (buffer, big, -1);
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "send"));
  gtk_text_buffer_set_text (buffer, text, -1);
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "send"));
  if (screenshot != NULL)
    save_screenshot (GTK_WIDGET (dialog), screenshot);

  adw_message_dialog_response (dialog, "send");
  gtk_window_destroy (GTK_WINDOW (dialog));
}

typedef struct
{
  char     *text;
  gboolean  done;
} ClipboardRead;

static void
clipboard_read_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ClipboardRead *read = user_data;
  g_autoptr(GError) error = NULL;

  read->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, &error);
  g_assert_no_error (error);
  read->done = TRUE;
}

/* Copy puts the text on the clipboard as sent, not as shown. */
static void
assert_copy_gives (FerryWindow *window,
                   const char  *text)
{
  GtkWidget *receive_page = ferry_window_get_receive_page (window);
  ClipboardRead read = { NULL, FALSE };

  gtk_widget_activate_action (receive_page, "receive.copy-text", NULL);
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (receive_page), NULL,
                                 clipboard_read_cb, &read);
  g_assert_true (ferry_test_wait_for_flag (&read.done, TIMEOUT_MS));
  g_assert_cmpstr (read.text, ==, text);
  g_free (read.text);
}

static guint
count_downloads (void)
{
  g_autoptr(GDir) dir = g_dir_open (download_dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A link sent as text: shown on the offer page before anything else, with
 * Copy and Open Link in view, nothing written; Done with the keyboard. */
static void
test_send_text (void)
{
  FerryWindow *sender = new_window ();
  FerryWindow *receiver = new_window ();
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  GtkWidget *window = GTK_WIDGET (receiver);
  guint downloads = count_downloads ();
  g_autofree char *summary = NULL;
  g_autofree char *done_text = NULL;
  GtkWidget *done, *focus = NULL;
  guint tabs = 0;

  write_text (sender, TEXT_LINK, TRUE, "send-text-dialog");
  wait_for_send_page (sender, "code");
  summary = ferry_send_page_dup_summary (send_page);
  g_assert_cmpstr (summary, ==, "Text\n" TEXT_LINK);
  save_screenshot (GTK_WIDGET (sender), "send-text");

  type_code (receiver, ferry_send_page_get_code (send_page));
  wait_for_receive_page (receiver, "offer");
  g_assert_cmpstr (ferry_receive_page_get_shown_text (receive_page), ==, TEXT_LINK);
  g_assert_cmpstr (ferry_receive_page_get_link (receive_page), ==, TEXT_LINK);
  g_assert_null (find_actionable (window, "receive.save-as"));
  g_assert_null (find_actionable (window, "receive.decline"));
  assert_in_view (window, "receive.copy-text");
  assert_in_view (window, "receive.open-link");
  assert_in_view (window, "receive.cancel");

  /* Text alone is taken as soon as it is shown: the sender is done, the
   * receiver still reads it. */
  wait_for_send_page (sender, "done");
  done_text = ferry_done_page_dup_text (ferry_send_page_get_done_page (send_page));
  g_assert_true (g_str_has_prefix (done_text, "Sent\nThe receiver has the text.\n"));
  g_assert_nonnull (strstr (done_text, "\nText: " TEXT_LINK "\n"));
  g_assert_cmpstr (ferry_receive_page_get_page_name (receive_page), ==, "offer");
  g_assert_cmpstr (ferry_receive_page_get_shown_text (receive_page), ==, TEXT_LINK);
  save_screenshot (window, "offer-text");
  assert_copy_gives (receiver, TEXT_LINK);
  g_assert_cmpuint (count_downloads (), ==, downloads);

  /* Done, with the keyboard alone, leads back to entering a code. */
  focus_window (window);
  done = find_actionable (window, "receive.cancel");
  while (focus != done && tabs++ < 8)
    focus = press_tab (window);
  g_assert_true (focus == done);
  send_key (window, NoSymbol, XK_Return);
  wait_for_receive_page (receiver, "enter");

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
}

/* At 360 px: a text added to a file before the receiver comes, taken out
 * and put back; a hostile one is shown defused, with no Open Link, and
 * Accept still in view; Copy still gives it as sent. */
static void
test_send_text_with_file_narrow (void)
{
  FerryWindow *sender = new_window_sized (360, 700);
  FerryWindow *receiver = new_window_sized (360, 700);
  FerrySendPage *send_page = FERRY_SEND_PAGE (ferry_window_get_send_page (sender));
  FerryReceivePage *receive_page = FERRY_RECEIVE_PAGE (ferry_window_get_receive_page (receiver));
  GtkWidget *window = GTK_WIDGET (receiver);
  g_autoptr(GFile) file = make_file_to_send ("with-note.bin", 4096);
  g_autofree char *code = NULL;
  g_autofree char *summary = NULL;

  ferry_send_page_send_files (send_page, &file, 1);
  wait_for_send_page (sender, "code");
  g_assert_true (ferry_test_wait_until (has_offer_model, send_page, TIMEOUT_MS));
  code = g_strdup (ferry_send_page_get_code (send_page));

  write_text (sender, HOSTILE_TEXT, FALSE, NULL);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "with-note.bin\n1 file · 4.1\u00a0kB · and a text");
  g_free (code);
  code = g_strdup (ferry_send_page_get_code (send_page));

  ferry_send_page_remove_text (send_page);
  g_free (summary);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "with-note.bin\n1 file · 4.1\u00a0kB");
  g_free (code);
  code = g_strdup (ferry_send_page_get_code (send_page));

  ferry_send_page_send_text (send_page, HOSTILE_TEXT);
  g_free (summary);
  summary = wait_for_new_code (send_page, code);
  g_assert_cmpstr (summary, ==, "with-note.bin\n1 file · 4.1\u00a0kB · and a text");
  save_screenshot (GTK_WIDGET (sender), "send-text-narrow");

  type_code (receiver, ferry_send_page_get_code (send_page));
  wait_for_receive_page (receiver, "offer");
  g_assert_cmpstr (ferry_receive_page_get_shown_text (receive_page), ==, HOSTILE_SHOWN);
  g_assert_null (ferry_receive_page_get_link (receive_page));
  g_assert_null (find_actionable (window, "receive.open-link"));
  assert_in_view (window, "receive.copy-text");
  assert_in_view (window, "receive.accept");
  assert_in_view (window, "receive.save-as");
  save_screenshot (window, "offer-text-narrow");
  assert_copy_gives (receiver, HOSTILE_TEXT);

  ferry_receive_page_accept (receive_page);
  wait_for_receive_page (receiver, "done");
  wait_for_send_page (sender, "done");
  assert_received (file);

  gtk_window_destroy (GTK_WINDOW (sender));
  gtk_window_destroy (GTK_WINDOW (receiver));
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
  g_autofree char *runtime = NULL;
  g_setenv ("HOME", home, TRUE);
  for (guint i = 0; i < 3; i++)
    {
      static const char *vars[] = { "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME" };
      g_autofree char *dir = g_build_filename (home, vars[i], NULL);

      g_setenv (vars[i], dir, TRUE);
    }

  /* The document portal's mount lives in the runtime dir: a private one
   * keeps the test's stand-in away from a real mount. */
  runtime = g_build_filename (home, "runtime", NULL);
  g_assert_cmpint (g_mkdir_with_parents (runtime, 0700), ==, 0);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);

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
  /* There is no router here to map a port on, and the UPnP client's
   * listeners of test runs side by side race for ports. */
  g_settings_set_boolean (ferry_application_get_settings (app), "port-mapping", FALSE);

  g_test_add_func ("/gtk-app/default-download-folder", test_default_download_folder);
  g_test_add_func ("/gtk-app/send-and-receive", test_send_and_receive);
  g_test_add_func ("/gtk-app/open-with-files", test_open_with_files);
  g_test_add_func ("/gtk-app/keyboard-only-receive", test_keyboard_only_receive);
  g_test_add_func ("/gtk-app/narrow-window", test_narrow_window);
  g_test_add_func ("/gtk-app/send-text", test_send_text);
  g_test_add_func ("/gtk-app/send-text-with-file-narrow", test_send_text_with_file_narrow);
  g_test_add_func ("/gtk-app/send-to-cli", test_send_to_cli);
  g_test_add_func ("/gtk-app/resume-send-from-history", test_resume_send_from_history);
  g_test_add_func ("/gtk-app/history-days-search-remove", test_history_days_search_remove);
  g_test_add_func ("/gtk-app/decline-reaches-error-page", test_decline_reaches_error_page);
  g_test_add_func ("/gtk-app/cancel-reaches-error-page", test_cancel_reaches_error_page);
  g_test_add_func ("/gtk-app/wrong-code-reaches-error-pages", test_wrong_code_reaches_error_pages);
  g_test_add_func ("/gtk-app/malformed-code-is-explained", test_malformed_code_is_explained);
  g_test_add_func ("/gtk-app/ferry-link-fills-code", test_ferry_link_fills_code);
  g_test_add_func ("/gtk-app/preferences", test_preferences);
  g_test_add_func ("/gtk-app/server-notice", test_server_notice);

  ret = g_test_run ();

  g_clear_object (&app);
  g_clear_pointer (&server, ferry_test_rendezvous_free);
  /* A run writes about a gigabyte of files to send and receive. */
  ferry_test_clear_temp_dir (&home);

  return ret;
}
