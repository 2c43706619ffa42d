/* ferry-server-notice.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-server-notice"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-server-notice.h"

/**
 * FerryServerNotice:
 *
 * Shown where a code is made or entered while no rendezvous server is
 * configured: the two sides can then meet only on the local network, and
 * people would otherwise learn that only from a failed transfer. Its
 * button opens Preferences, where the server is set; it hides itself as
 * soon as one is.
 */
struct _FerryServerNotice
{
  AdwBin     parent_instance;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (FerryServerNotice, ferry_server_notice, ADW_TYPE_BIN)

static void
update_visible (FerryServerNotice *self)
{
  FerryApplication *app = ferry_application_get_default ();

  gtk_widget_set_visible (GTK_WIDGET (self),
                          app != NULL && !ferry_application_has_internet_rendezvous (app));
}

static void
rendezvous_changed_cb (GSettings         *settings,
                       const char        *key,
                       FerryServerNotice *self)
{
  update_visible (self);
}

static void
ferry_server_notice_dispose (GObject *object)
{
  FerryServerNotice *self = FERRY_SERVER_NOTICE (object);

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (ferry_server_notice_parent_class)->dispose (object);
}

static void
ferry_server_notice_class_init (FerryServerNoticeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_server_notice_dispose;
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "ferry-server-notice");
}

static GtkWidget *
make_content (void)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *image = gtk_image_new_from_icon_name ("network-workgroup-symbolic");
  GtkWidget *label = gtk_label_new (_("Without a server, Ferry sends only to computers on this "
                                      "network. Sending across the internet needs a "
                                      "rendezvous server."));
  GtkWidget *button = gtk_button_new_with_mnemonic (_("_Set Server…"));

  gtk_widget_add_css_class (box, "card");
  gtk_widget_add_css_class (box, "ferry-server-notice");
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "app.preferences");
  gtk_box_append (GTK_BOX (box), image);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), button);
  return box;
}

static void
ferry_server_notice_init (FerryServerNotice *self)
{
  FerryApplication *app = ferry_application_get_default ();

  adw_bin_set_child (ADW_BIN (self), make_content ());
  if (app != NULL)
    {
      self->settings = g_object_ref (ferry_application_get_settings (app));
      g_signal_connect (self->settings, "changed::rendezvous-url",
                        G_CALLBACK (rendezvous_changed_cb), self);
    }
  update_visible (self);
}
