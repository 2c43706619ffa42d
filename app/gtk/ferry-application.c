/* ferry-application.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-application"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-connector.h"
#include "ferry-ice-session.h"
#include "ferry-preferences-window.h"
#include "ferry-send-page.h"
#include "ferry-version.h"
#include "ferry-window.h"

/* Used when neither the settings, $FERRY_RENDEZVOUS nor the build name a
 * server: one on this computer, where `ferry-rendezvous` listens by default.
 * It cannot reach across the internet, which the pages say. */
#define DEFAULT_RENDEZVOUS_URL "http://127.0.0.1:4477"

struct _FerryApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  FerryStore     *store;
};

G_DEFINE_FINAL_TYPE (FerryApplication, ferry_application, ADW_TYPE_APPLICATION)

enum {
  TRANSFERS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

FerryApplication *
ferry_application_new (void)
{
  GApplicationFlags flags = G_APPLICATION_HANDLES_OPEN;

  /* Tests run two instances side by side on one session bus. */
  if (g_getenv ("FERRY_NON_UNIQUE") != NULL)
    flags |= G_APPLICATION_NON_UNIQUE;

  return g_object_new (FERRY_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", flags,
                       "resource-base-path", "/io/github/ferryapp/Ferry",
                       NULL);
}

FerryApplication *
ferry_application_get_default (void)
{
  return FERRY_APPLICATION (g_application_get_default ());
}

GSettings *
ferry_application_get_settings (FerryApplication *self)
{
  g_return_val_if_fail (FERRY_IS_APPLICATION (self), NULL);

  return self->settings;
}

/**
 * ferry_application_dup_rendezvous_url:
 *
 * The rendezvous server to meet through: the preference when set, else
 * $FERRY_RENDEZVOUS, else the build's default, else one on this computer.
 */
char *
ferry_application_dup_rendezvous_url (FerryApplication *self)
{
  g_autofree char *url = NULL;
  const char *fallback;

  g_return_val_if_fail (FERRY_IS_APPLICATION (self), NULL);

  url = g_settings_get_string (self->settings, "rendezvous-url");
  if (url[0] != '\0')
    return g_steal_pointer (&url);

  fallback = ferry_rendezvous_default_url ();
  return g_strdup (fallback != NULL ? fallback : DEFAULT_RENDEZVOUS_URL);
}

/**
 * ferry_application_has_internet_rendezvous:
 *
 * Whether a server to meet through across the internet is configured (the
 * preference, $FERRY_RENDEZVOUS or the build's default). Without one, only
 * a rendezvous on this computer (127.0.0.1:4477) works.
 */
gboolean
ferry_application_has_internet_rendezvous (FerryApplication *self)
{
  g_autofree char *url = NULL;

  g_return_val_if_fail (FERRY_IS_APPLICATION (self), FALSE);

  url = g_settings_get_string (self->settings, "rendezvous-url");
  return url[0] != '\0' || ferry_rendezvous_default_url () != NULL;
}

FerryRendezvousClient *
ferry_application_dup_rendezvous_client (FerryApplication *self)
{
  g_autofree char *url = ferry_application_dup_rendezvous_url (self);

  return ferry_rendezvous_client_new (url);
}

/**
 * ferry_application_get_store:
 *
 * Returns: (transfer none) (nullable): the history and resume database, once
 *   open; transfers work without it, they just cannot resume
 */
FerryStore *
ferry_application_get_store (FerryApplication *self)
{
  g_return_val_if_fail (FERRY_IS_APPLICATION (self), NULL);

  return self->store;
}

/**
 * ferry_application_dup_default_download_folder:
 *
 * The XDG download folder, else ~/Downloads, which is made when missing.
 * Never the home folder itself: xdg-user-dirs points a folder the user
 * turned off at $HOME, and received files would then land among the
 * user's dotfiles.
 *
 * Returns: (transfer full): the folder
 */
GFile *
ferry_application_dup_default_download_folder (void)
{
  const char *home = g_get_home_dir ();
  const char *download = g_get_user_special_dir (G_USER_DIRECTORY_DOWNLOAD);
  g_autoptr(GFile) home_file = g_file_new_for_path (home);
  g_autoptr(GFile) folder = NULL;
  g_autofree char *path = NULL;

  if (download != NULL)
    {
      folder = g_file_new_for_path (download);
      if (!g_file_equal (folder, home_file))
        return g_steal_pointer (&folder);
    }

  /* A mkdir is cheap enough for the UI thread; failing it is not fatal
   * here, accepting into a missing folder reports the error. */
  path = g_build_filename (home, "Downloads", NULL);
  if (g_mkdir_with_parents (path, 0755) != 0)
    g_warning ("Could not create %s: %s", path, g_strerror (errno));

  return g_file_new_for_path (path);
}

/**
 * ferry_application_dup_download_folder:
 *
 * Returns: (transfer full): the folder from the preferences, else
 *   ferry_application_dup_default_download_folder()
 */
GFile *
ferry_application_dup_download_folder (FerryApplication *self)
{
  g_autofree char *folder = NULL;

  g_return_val_if_fail (FERRY_IS_APPLICATION (self), NULL);

  folder = g_settings_get_string (self->settings, "download-folder");
  if (folder[0] != '\0')
    return g_file_new_for_path (folder);

  return ferry_application_dup_default_download_folder ();
}

/**
 * ferry_application_apply_settings:
 *
 * Gives @session what the preferences decide about the network: whether
 * to ask the router for a port mapping, and whether a relay may carry the
 * data when the two computers cannot reach each other directly.
 */
void
ferry_application_apply_settings (FerryApplication *self,
                                  FerrySession     *session)
{
  g_return_if_fail (FERRY_IS_APPLICATION (self));
  g_return_if_fail (FERRY_IS_SESSION (session));

  ferry_session_set_portmap (session, g_settings_get_boolean (self->settings, "port-mapping")
                                      ? FERRY_CONNECTOR_PORTMAP_ALL
                                      : FERRY_CONNECTOR_PORTMAP_NONE);
  ferry_session_set_candidate_types (session, g_settings_get_boolean (self->settings, "allow-relay")
                                              ? FERRY_ICE_CANDIDATE_ALL
                                              : FERRY_ICE_CANDIDATE_HOST |
                                                FERRY_ICE_CANDIDATE_SRFLX);
}

/* What the application keeps for each running session: the suspend
 * inhibition while bytes may move, and the window to notify for. */
typedef struct
{
  FerryApplication *app;
  GtkWindow        *window;
  guint             inhibit_cookie;
} Watch;

static void
watch_free (gpointer data)
{
  Watch *watch = data;

  if (watch->inhibit_cookie != 0)
    gtk_application_uninhibit (GTK_APPLICATION (watch->app), watch->inhibit_cookie);
  g_clear_weak_pointer (&watch->window);
  g_free (watch);
}

static void
notify_if_away (FerryApplication *self,
                Watch            *watch,
                FerrySession     *session,
                const char       *title,
                const char       *body)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = g_strdup_printf ("session-%p", (gpointer) session);

  if (!g_settings_get_boolean (self->settings, "notifications"))
    return;
  /* Someone looking at the window sees it already. */
  if (watch->window != NULL && gtk_window_is_active (watch->window))
    return;

  notification = g_notification_new (title);
  if (body != NULL)
    g_notification_set_body (notification, body);
  g_notification_set_default_action (notification, "app.activate");
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

static void
watch_state_cb (FerrySession *session,
                GParamSpec   *pspec,
                Watch        *watch)
{
  FerryApplication *self = watch->app;
  FerrySessionState state = ferry_session_get_state (session);
  FerryOffer *offer = ferry_session_get_offer (session);
  gboolean text_only = offer != NULL && ferry_offer_get_n_entries (offer) == 0;
  gboolean busy = state == FERRY_SESSION_STATE_CONNECTING ||
                  state == FERRY_SESSION_STATE_OFFER_RECEIVED ||
                  state == FERRY_SESSION_STATE_TRANSFERRING;

  if (busy && watch->inhibit_cookie == 0)
    watch->inhibit_cookie = gtk_application_inhibit (GTK_APPLICATION (self), watch->window,
                                                     GTK_APPLICATION_INHIBIT_SUSPEND,
                                                     _("Files are being transferred"));
  else if (!busy && watch->inhibit_cookie != 0)
    {
      gtk_application_uninhibit (GTK_APPLICATION (self), watch->inhibit_cookie);
      watch->inhibit_cookie = 0;
    }

  switch (state)
    {
    case FERRY_SESSION_STATE_OFFER_RECEIVED:
      if (text_only)
        notify_if_away (self, watch, session, _("Text Received"), _("Open Ferry to read it."));
      else
        notify_if_away (self, watch, session, _("Files Offered"),
                        _("Open Ferry to see them and accept or decline."));
      break;

    case FERRY_SESSION_STATE_DONE:
      /* A receiver was told about text alone when it came. */
      if (text_only && ferry_session_is_sender (session))
        notify_if_away (self, watch, session, _("Text Sent"), _("The receiver has it."));
      else if (!text_only)
        notify_if_away (self, watch, session,
                        ferry_session_is_sender (session) ? _("Files Sent") : _("Files Received"),
                        _("Every file arrived and was verified."));
      g_signal_emit (self, signals[TRANSFERS_CHANGED], 0);
      break;

    case FERRY_SESSION_STATE_FAILED:
      if (!g_error_matches (ferry_session_get_error (session), G_IO_ERROR, G_IO_ERROR_CANCELLED))
        notify_if_away (self, watch, session, _("Transfer Failed"),
                        ferry_session_get_error (session)->message);
      g_signal_emit (self, signals[TRANSFERS_CHANGED], 0);
      break;

    case FERRY_SESSION_STATE_NEW:
    case FERRY_SESSION_STATE_PREPARING:
    case FERRY_SESSION_STATE_WAITING:
    case FERRY_SESSION_STATE_CONNECTING:
    case FERRY_SESSION_STATE_TRANSFERRING:
    default:
      break;
    }
}

/**
 * ferry_application_watch_session:
 * @window: the window showing @session
 *
 * Keeps the computer awake while @session may move bytes, notifies when it
 * needs the user or ends while @window is in the background, and tells the
 * history to refresh when it ends.
 */
void
ferry_application_watch_session (FerryApplication *self,
                                 GtkWindow        *window,
                                 FerrySession     *session)
{
  Watch *watch;

  g_return_if_fail (FERRY_IS_APPLICATION (self));
  g_return_if_fail (GTK_IS_WINDOW (window));
  g_return_if_fail (FERRY_IS_SESSION (session));

  watch = g_new0 (Watch, 1);
  watch->app = self;
  g_set_weak_pointer (&watch->window, window);

  g_signal_connect_data (session, "notify::state", G_CALLBACK (watch_state_cb), watch,
                         (GClosureNotify) (void (*) (void)) watch_free, 0);
}

static void
store_open_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(FerryApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->store = ferry_store_open_finish (result, &error);
  if (self->store == NULL)
    g_warning ("History and resume are off: %s", error->message);
}

static FerryWindow *
ferry_application_ensure_window (FerryApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (ferry_window_new (self));

  return FERRY_WINDOW (window);
}

static void
ferry_application_activate (GApplication *app)
{
  FerryWindow *window = ferry_application_ensure_window (FERRY_APPLICATION (app));

  gtk_window_present (GTK_WINDOW (window));
}

/* Whether @window can start a send now, without dropping one it runs. */
static gboolean
window_can_send (FerryWindow *window)
{
  return !ferry_send_page_is_busy (FERRY_SEND_PAGE (ferry_window_get_send_page (window)));
}

/* ferry:CODE links, from a browser or a QR code scanner, open the receive
 * page with the code filled in; nothing starts until the user confirms.
 * Files and folders — `ferry FILE…`, Open With in Files — are sent: a code
 * is shown at once, as GNOME Warp does. A window busy with another send
 * keeps it; the new one gets its own window. */
static void
ferry_application_open (GApplication  *app,
                        GFile        **files,
                        int            n_files,
                        const char    *hint)
{
  FerryApplication *self = FERRY_APPLICATION (app);
  FerryWindow *window = ferry_application_ensure_window (self);
  g_autoptr(GPtrArray) to_send = g_ptr_array_new ();

  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *uri = g_file_get_uri (files[i]);
      g_autofree char *scheme = g_uri_parse_scheme (uri);

      if (g_strcmp0 (scheme, "ferry") == 0)
        ferry_window_show_receive_code (window, uri + strlen ("ferry:"));
      else
        g_ptr_array_add (to_send, files[i]);
    }

  if (to_send->len > 0)
    {
      if (!window_can_send (window))
        window = ferry_window_new (self);
      ferry_window_send_files (window, (GFile **) to_send->pdata, to_send->len);
    }

  gtk_window_present (GTK_WINDOW (window));
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  FerryApplication *self = user_data;
  static const char *developers[] = { "The Ferry developers", NULL };
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  AdwAboutWindow *about;

  about = ADW_ABOUT_WINDOW (adw_about_window_new ());
  g_object_set (about,
                "transient-for", window,
                "application-name", _("Ferry"),
                "application-icon", APP_ID,
                "developer-name", _("The Ferry developers"),
                "version", ferry_version (),
                "website", "https://github.com/ferryapp/ferry",
                "issue-url", "https://github.com/ferryapp/ferry/issues",
                "developers", developers,
                "copyright", "© 2026 The Ferry developers",
                "license-type", GTK_LICENSE_GPL_3_0,
                "comments", _("Send files to a friend with a short code, directly whenever "
                              "the networks allow it."),
                NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  FerryApplication *self = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  FerryPreferencesWindow *preferences;

  preferences = ferry_preferences_window_new (self->settings);
  gtk_window_set_transient_for (GTK_WINDOW (preferences), window);
  gtk_window_present (GTK_WINDOW (preferences));
}

/* Several windows of one process can each send or receive, which is also
 * how two windows on one machine try Ferry out. */
static void
new_window_action (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  FerryApplication *self = user_data;

  gtk_window_present (GTK_WINDOW (ferry_window_new (self)));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

/* A notification's default action: bring Ferry to the front. */
static void
activate_action (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { "activate", activate_action },
  { "about", about_action },
  { "new-window", new_window_action },
  { "preferences", preferences_action },
  { "quit", quit_action },
};

static void
ferry_application_startup (GApplication *app)
{
  FerryApplication *self = FERRY_APPLICATION (app);
  static const char *quit_accels[] = { "<primary>q", NULL };
  static const char *preferences_accels[] = { "<primary>comma", NULL };
  static const char *send_accels[] = { "<primary>o", NULL };
  static const char *send_text_accels[] = { "<primary>t", NULL };
  static const char *new_window_accels[] = { "<primary>n", NULL };
  static const char *receive_accels[] = { "<primary>r", NULL };
  static const char *search_accels[] = { "<primary>f", NULL };
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (ferry_application_parent_class)->startup (app);

  if (!ferry_init (&error))
    g_error ("%s", error->message);

  self->settings = g_settings_new (APP_ID);
  ferry_store_open_async (NULL, NULL, store_open_cb, g_object_ref (self));

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.new-window",
                                         new_window_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.choose-files",
                                         send_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.send-text",
                                         send_text_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-receive",
                                         receive_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.search-history",
                                         search_accels);
}

static void
ferry_application_dispose (GObject *object)
{
  FerryApplication *self = FERRY_APPLICATION (object);

  g_clear_object (&self->settings);
  if (self->store != NULL)
    ferry_store_close (self->store);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (ferry_application_parent_class)->dispose (object);
}

static void
ferry_application_class_init (FerryApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = ferry_application_dispose;

  app_class->activate = ferry_application_activate;
  app_class->open = ferry_application_open;
  app_class->startup = ferry_application_startup;

  /**
   * FerryApplication::transfers-changed:
   *
   * A transfer ended, so the history has something new.
   */
  signals[TRANSFERS_CHANGED] =
    g_signal_new ("transfers-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ferry_application_init (FerryApplication *self)
{
}
