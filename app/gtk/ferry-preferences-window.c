/* ferry-preferences-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-names.h"
#include "ferry-preferences-window.h"

struct _FerryPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;

  AdwEntryRow          *rendezvous_row;
  AdwActionRow         *download_row;
  GtkSpinButton        *words_spin;
  GtkSwitch            *notifications_switch;
};

G_DEFINE_FINAL_TYPE (FerryPreferencesWindow, ferry_preferences_window,
                     ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

FerryPreferencesWindow *
ferry_preferences_window_new (GSettings *settings)
{
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (FERRY_TYPE_PREFERENCES_WINDOW,
                       "settings", settings,
                       NULL);
}

/* An empty download-folder setting means the default download folder. A
 * chosen one that is gone (or whose portal access was revoked) is said so,
 * next to the button that chooses again. */
static void
update_download_row (FerryPreferencesWindow *self)
{
  g_autofree char *setting = g_settings_get_string (self->settings, "download-folder");
  g_autoptr(GFile) folder = NULL;
  g_autofree char *name = NULL;
  g_autofree char *shown = NULL;

  folder = setting[0] != '\0' ? g_file_new_for_path (setting)
                               : ferry_application_dup_default_download_folder ();
  name = ferry_names_dup_folder (folder);
  if (g_file_query_file_type (folder, G_FILE_QUERY_INFO_NONE, NULL) != G_FILE_TYPE_DIRECTORY)
    shown = g_strdup_printf (_("Ferry can no longer reach “%s”: choose a folder again"), name);

  adw_action_row_set_subtitle (self->download_row, shown != NULL ? shown : name);
}

/**
 * ferry_preferences_window_get_download_subtitle:
 *
 * Returns: what the download folder row says, for tests
 */
const char *
ferry_preferences_window_get_download_subtitle (FerryPreferencesWindow *self)
{
  g_return_val_if_fail (FERRY_IS_PREFERENCES_WINDOW (self), NULL);

  return adw_action_row_get_subtitle (self->download_row);
}

static void
folder_chosen_cb (GtkNativeDialog *dialog,
                  int              response,
                  gpointer         user_data)
{
  FerryPreferencesWindow *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      if (path != NULL)
        g_settings_set_string (self->settings, "download-folder", path);
    }

  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
choose_download_folder_action (GtkWidget  *widget,
                               const char *action_name,
                               GVariant   *parameter)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Choose the Download Folder"),
                                         GTK_WINDOW (widget),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                         _("_Select"),
                                         _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (folder_chosen_cb), widget);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
ferry_preferences_window_constructed (GObject *object)
{
  FerryPreferencesWindow *self = FERRY_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (ferry_preferences_window_parent_class)->constructed (object);

  g_settings_bind (self->settings, "rendezvous-url",
                   self->rendezvous_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "code-word-count",
                   self->words_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "notifications",
                   self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed::download-folder",
                           G_CALLBACK (update_download_row), self, G_CONNECT_SWAPPED);
  update_download_row (self);
}

static void
ferry_preferences_window_dispose (GObject *object)
{
  FerryPreferencesWindow *self = FERRY_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);

  G_OBJECT_CLASS (ferry_preferences_window_parent_class)->dispose (object);
}

static void
ferry_preferences_window_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  FerryPreferencesWindow *self = FERRY_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_preferences_window_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  FerryPreferencesWindow *self = FERRY_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_preferences_window_class_init (FerryPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = ferry_preferences_window_constructed;
  object_class->dispose = ferry_preferences_window_dispose;
  object_class->get_property = ferry_preferences_window_get_property;
  object_class->set_property = ferry_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryPreferencesWindow, rendezvous_row);
  gtk_widget_class_bind_template_child (widget_class, FerryPreferencesWindow, download_row);
  gtk_widget_class_bind_template_child (widget_class, FerryPreferencesWindow, words_spin);
  gtk_widget_class_bind_template_child (widget_class, FerryPreferencesWindow,
                                        notifications_switch);

  gtk_widget_class_install_action (widget_class, "preferences.choose-download-folder", NULL,
                                   choose_download_folder_action);
}

static void
ferry_preferences_window_init (FerryPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
