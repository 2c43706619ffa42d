/* ferry-transfer-view.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer-view"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-transfer-view.h"

/**
 * FerryTransferView:
 *
 * Shows one running session: what moves, how fast, how long it will take
 * and — always visible — whether the bytes go directly or through a relay,
 * with the details one click away. Everything follows the session's
 * properties; the view holds no state of its own.
 */
struct _FerryTransferView
{
  AdwBin          parent_instance;

  FerrySession   *session;
  FerryTransfer  *transfer;
  FerryPath      *path;
  gboolean        had_path;

  GtkLabel       *title_label;
  GtkProgressBar *progress_bar;
  GtkLabel       *bytes_label;
  GtkLabel       *rate_label;
  GtkLabel       *file_label;
  GtkMenuButton  *path_button;
  GtkLabel       *path_label;
  GtkLabel       *local_label;
  GtkLabel       *remote_label;
  GtkLabel       *relay_label;
  GtkLabel       *rtt_label;
  GtkLabel       *mapping_label;
};

G_DEFINE_FINAL_TYPE (FerryTransferView, ferry_transfer_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static char *
format_eta (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("");
  if (seconds < 1)
    return g_strdup (_("Almost done"));
  if (seconds < 60)
    /* Translators: time left, in seconds */
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "About %d second left",
                                         "About %d seconds left", (gulong) seconds),
                            (int) seconds);
  if (seconds < 3600)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "About %d minute left",
                                         "About %d minutes left", (gulong) (seconds / 60)),
                            (int) (seconds / 60));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "About %d hour left",
                                       "About %d hours left", (gulong) (seconds / 3600)),
                          (int) (seconds / 3600));
}

static void
update_progress (FerryTransferView *self)
{
  g_autofree char *done = NULL;
  g_autofree char *total = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *rate = NULL;
  g_autofree char *eta = NULL;
  g_autofree char *speed = NULL;
  g_autofree char *current = NULL;
  const char *file;
  guint64 n_done, n_total;

  if (self->transfer == NULL)
    return;

  n_done = ferry_transfer_get_bytes_done (self->transfer);
  n_total = ferry_transfer_get_bytes_total (self->transfer);
  gtk_progress_bar_set_fraction (self->progress_bar,
                                 n_total > 0 ? (double) n_done / (double) n_total : 0.0);

  done = g_format_size (n_done);
  total = g_format_size (n_total);
  /* Translators: “12.3 MB of 200 MB” */
  bytes = g_strdup_printf (_("%s of %s"), done, total);
  gtk_label_set_label (self->bytes_label, bytes);

  rate = g_format_size (ferry_transfer_get_rate (self->transfer));
  eta = format_eta (ferry_transfer_get_eta_seconds (self->transfer));
  /* Translators: “4.5 MB/s · About 12 seconds left” */
  speed = eta[0] != '\0' ? g_strdup_printf (_("%s/s · %s"), rate, eta)
                         : g_strdup_printf (_("%s/s"), rate);
  gtk_label_set_label (self->rate_label, speed);

  /* The sender's name for it: escaped, so no control character or direction
   * override can change how it reads. */
  file = ferry_transfer_get_current_file (self->transfer);
  current = ferry_offer_escape_name (file != NULL ? file : "", -1);
  gtk_label_set_label (self->file_label, current);
}

static void
set_detail (GtkLabel   *label,
            const char *type,
            const char *address)
{
  g_autofree char *text = NULL;

  if (address == NULL || address[0] == '\0')
    {
      gtk_label_set_label (label, "—");
      return;
    }

  text = type != NULL ? g_strdup_printf ("%s (%s)", address, type) : g_strdup (address);
  gtk_label_set_label (label, text);
}

static void
update_path (FerryTransferView *self)
{
  g_autofree char *label = NULL;
  g_autofree char *rtt = NULL;
  GtkWidget *button = GTK_WIDGET (self->path_button);

  /* Once the connection ends the path resets; the badge keeps showing the
   * path the bytes took. */
  if (self->path != NULL && ferry_path_get_kind (self->path) == FERRY_PATH_KIND_UNKNOWN &&
      self->had_path)
    return;

  label = self->path != NULL ? ferry_path_dup_label (self->path) : NULL;
  gtk_label_set_label (self->path_label, label != NULL ? label : _("Finding a path…"));
  self->had_path = label != NULL;

  gtk_widget_remove_css_class (button, "success");
  gtk_widget_remove_css_class (button, "warning");
  if (self->path == NULL)
    return;

  if (ferry_path_get_kind (self->path) == FERRY_PATH_KIND_RELAYED)
    gtk_widget_add_css_class (button, "warning");
  else if (ferry_path_get_kind (self->path) != FERRY_PATH_KIND_UNKNOWN)
    gtk_widget_add_css_class (button, "success");

  set_detail (self->local_label, ferry_path_get_local_type (self->path),
              ferry_path_get_local_address (self->path));
  set_detail (self->remote_label, ferry_path_get_remote_type (self->path),
              ferry_path_get_remote_address (self->path));
  set_detail (self->relay_label, ferry_path_get_relay_transport (self->path),
              ferry_path_get_relay_server (self->path));
  gtk_label_set_label (self->mapping_label,
                       ferry_path_get_mapped (self->path) != FERRY_PATH_MAPPING_NONE
                       ? ferry_path_mapping_to_string (ferry_path_get_mapped (self->path))
                       : _("None"));

  if (ferry_path_get_rtt_ms (self->path) >= 0)
    rtt = g_strdup_printf (_("%.1f ms"), ferry_path_get_rtt_ms (self->path));
  gtk_label_set_label (self->rtt_label, rtt != NULL ? rtt : "—");
}

static void
update_title (FerryTransferView *self)
{
  FerryOffer *offer = self->session != NULL ? ferry_session_get_offer (self->session) : NULL;
  g_autofree char *title = NULL;
  guint n;

  if (offer == NULL)
    {
      gtk_label_set_label (self->title_label, "");
      return;
    }

  n = ferry_offer_get_n_files (offer);
  if (ferry_session_is_sender (self->session))
    title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Sending %u file",
                                          "Sending %u files", n), n);
  else
    title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Receiving %u file",
                                          "Receiving %u files", n), n);
  gtk_label_set_label (self->title_label, title);
}

static void
transfer_notify_cb (FerryTransferView *self)
{
  update_progress (self);
}

static void
path_notify_cb (FerryTransferView *self)
{
  update_path (self);
}

static void
set_path (FerryTransferView *self,
          FerryPath         *path)
{
  if (self->path == path)
    return;

  if (self->path != NULL)
    g_signal_handlers_disconnect_by_data (self->path, self);
  g_set_object (&self->path, path);
  if (self->path != NULL)
    g_signal_connect_object (self->path, "notify", G_CALLBACK (path_notify_cb), self,
                             G_CONNECT_SWAPPED);
  update_path (self);
}

static void
set_transfer (FerryTransferView *self,
              FerryTransfer     *transfer)
{
  if (self->transfer == transfer)
    return;

  if (self->transfer != NULL)
    g_signal_handlers_disconnect_by_data (self->transfer, self);
  g_set_object (&self->transfer, transfer);
  if (self->transfer != NULL)
    g_signal_connect_object (self->transfer, "notify", G_CALLBACK (transfer_notify_cb), self,
                             G_CONNECT_SWAPPED);
  update_progress (self);
}

static void
session_notify_cb (FerryTransferView *self)
{
  set_path (self, ferry_session_get_path (self->session));
  set_transfer (self, ferry_session_get_transfer (self->session));
  update_title (self);
}

GtkWidget *
ferry_transfer_view_new (void)
{
  return g_object_new (FERRY_TYPE_TRANSFER_VIEW, NULL);
}

/**
 * ferry_transfer_view_get_session:
 *
 * Returns: (transfer none) (nullable): the session shown
 */
FerrySession *
ferry_transfer_view_get_session (FerryTransferView *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER_VIEW (self), NULL);

  return self->session;
}

void
ferry_transfer_view_set_session (FerryTransferView *self,
                                 FerrySession      *session)
{
  g_return_if_fail (FERRY_IS_TRANSFER_VIEW (self));
  g_return_if_fail (session == NULL || FERRY_IS_SESSION (session));

  if (self->session == session)
    return;

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  self->had_path = FALSE;

  if (self->session != NULL)
    {
      g_signal_connect_object (self->session, "notify", G_CALLBACK (session_notify_cb), self,
                               G_CONNECT_SWAPPED);
      session_notify_cb (self);
    }
  else
    {
      set_path (self, NULL);
      set_transfer (self, NULL);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

/**
 * ferry_transfer_view_get_path_label:
 *
 * Returns: the text of the path badge, e.g. "Direct · local network"
 */
const char *
ferry_transfer_view_get_path_label (FerryTransferView *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER_VIEW (self), NULL);

  return gtk_label_get_label (self->path_label);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  FerryTransferView *self = FERRY_TRANSFER_VIEW (widget);

  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The other side cancelled."));
}

static void
ferry_transfer_view_dispose (GObject *object)
{
  FerryTransferView *self = FERRY_TRANSFER_VIEW (object);

  ferry_transfer_view_set_session (self, NULL);

  G_OBJECT_CLASS (ferry_transfer_view_parent_class)->dispose (object);
}

static void
ferry_transfer_view_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  FerryTransferView *self = FERRY_TRANSFER_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_transfer_view_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  FerryTransferView *self = FERRY_TRANSFER_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      ferry_transfer_view_set_session (self, g_value_get_object (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_transfer_view_class_init (FerryTransferViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_transfer_view_dispose;
  object_class->get_property = ferry_transfer_view_get_property;
  object_class->set_property = ferry_transfer_view_set_property;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL,
                         FERRY_TYPE_SESSION,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-transfer-view.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, title_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, bytes_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, rate_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, file_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, path_button);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, path_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, local_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, remote_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, relay_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, rtt_label);
  gtk_widget_class_bind_template_child (widget_class, FerryTransferView, mapping_label);

  gtk_widget_class_install_action (widget_class, "transfer.cancel", NULL, cancel_action);
}

static void
ferry_transfer_view_init (FerryTransferView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update_path (self);
}
