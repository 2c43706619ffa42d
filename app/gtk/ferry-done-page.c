/* ferry-done-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-done-page"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-done-page.h"
#include "ferry-names.h"
#include "ferry-offer-model.h"

/* Names spelled out before "and N more". */
#define MAX_NAMES 3

/**
 * FerryDonePage:
 *
 * How a send or a receive ends well: what was moved, how much, how fast,
 * how long it took, the path the bytes took (the first and, when it
 * changed, the last) and the folder. It watches its session from the
 * start, since the path resets once the connection closes; the buttons'
 * labels and actions are set by the page that shows it.
 */
struct _FerryDonePage
{
  AdwBin        parent_instance;

  GtkLabel     *title_label;
  GtkLabel     *description_label;
  AdwActionRow *what_row;
  AdwActionRow *speed_row;
  AdwActionRow *path_row;
  AdwActionRow *folder_row;
  GtkButton    *primary_button;
  GtkButton    *secondary_button;

  FerrySession *session;
  GSignalGroup *path_signals;
  GFile        *folder;
  char         *files_description;
  char         *first_path;
  char         *last_path;
  gint64        started_at;
  gint64        ended_at;
};

G_DEFINE_FINAL_TYPE (FerryDonePage, ferry_done_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_DESCRIPTION,
  PROP_FOLDER_TITLE,
  PROP_PRIMARY_LABEL,
  PROP_PRIMARY_ACTION,
  PROP_SECONDARY_LABEL,
  PROP_SECONDARY_ACTION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
record_path (FerryDonePage *self)
{
  g_autoptr(FerryPath) path = g_signal_group_dup_target (self->path_signals);
  g_autofree char *label = NULL;

  /* The path resets to unknown once the connection closes: only real
   * pairs count. */
  if (path == NULL || ferry_path_get_kind (path) == FERRY_PATH_KIND_UNKNOWN)
    return;

  label = ferry_path_dup_label (path);
  if (label == NULL)
    return;

  if (self->first_path == NULL)
    self->first_path = g_strdup (label);
  g_free (self->last_path);
  self->last_path = g_steal_pointer (&label);
}

/* The folder all chosen items lie in, if they share one. */
static GFile *
dup_common_parent (FerryOfferModel *model)
{
  g_autoptr(GFile) parent = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (model)); i++)
    {
      g_autoptr(FerryOfferItem) item = g_list_model_get_item (G_LIST_MODEL (model), i);
      GFile *local = ferry_offer_item_get_local_file (item);
      g_autoptr(GFile) this_parent = local != NULL ? g_file_get_parent (local) : NULL;

      if (this_parent == NULL || (parent != NULL && !g_file_equal (parent, this_parent)))
        return NULL;
      g_set_object (&parent, this_parent);
    }

  return g_steal_pointer (&parent);
}

static void
show_summary (FerryDonePage *self)
{
  FerryTransfer *transfer = ferry_session_get_transfer (self->session);
  FerryOffer *offer = ferry_session_get_offer (self->session);
  g_autoptr(FerryOfferModel) model = NULL;
  g_autofree char *names = NULL;
  g_autofree char *size = NULL;
  g_autofree char *speed_text = NULL;
  g_autofree char *path_text = NULL;
  guint64 moved = 0;
  gint64 usec = self->ended_at - self->started_at;

  if (offer != NULL && ferry_offer_get_n_entries (offer) == 0)
    {
      /* Text alone: there are no names, and its size says nothing. */
      names = g_strdup (_("Text"));
      size = ferry_offer_escape_name (ferry_offer_get_text (offer), -1);
      if (self->files_description == NULL)
        self->files_description = g_strdup (gtk_label_get_label (self->description_label));
      gtk_label_set_label (self->description_label,
                           ferry_session_is_sender (self->session)
                           ? _("The receiver has the text.") : _("The text arrived."));
    }
  else if (offer != NULL)
    {
      /* The page said “text” last time: files get the words they were given. */
      if (self->files_description != NULL)
        gtk_label_set_label (self->description_label, self->files_description);
      g_clear_pointer (&self->files_description, g_free);
      model = ferry_offer_model_new (offer);
      names = ferry_offer_model_dup_names (model, MAX_NAMES);
      size = ferry_offer_model_dup_summary (model);
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->what_row), names ? names : "");
  adw_action_row_set_subtitle (self->what_row, size ? size : "");

  /* What travelled this time: a resumed transfer does not count the bytes
   * the receiver already held. */
  if (transfer != NULL)
    moved = ferry_transfer_get_bytes_total (transfer) - ferry_transfer_get_bytes_resumed (transfer);
  speed_text = ferry_names_format_speed (moved, usec);
  adw_action_row_set_subtitle (self->speed_row, speed_text);

  path_text = ferry_names_format_paths (self->first_path, self->last_path);
  adw_action_row_set_subtitle (self->path_row, path_text != NULL ? path_text : "—");

  if (ferry_session_is_sender (self->session))
    {
      g_autoptr(GFile) parent = model != NULL ? dup_common_parent (model) : NULL;

      ferry_done_page_set_folder (self, parent);
    }
  else
    {
      ferry_done_page_set_folder (self, transfer != NULL
                                        ? ferry_transfer_get_target_folder (transfer) : NULL);
    }
}

static void
session_state_cb (FerryDonePage *self)
{
  switch (ferry_session_get_state (self->session))
    {
    case FERRY_SESSION_STATE_TRANSFERRING:
      if (self->started_at == 0)
        self->started_at = g_get_monotonic_time ();
      break;

    case FERRY_SESSION_STATE_DONE:
      self->ended_at = g_get_monotonic_time ();
      if (self->started_at == 0)
        self->started_at = self->ended_at;
      record_path (self);
      show_summary (self);
      break;

    case FERRY_SESSION_STATE_NEW:
    case FERRY_SESSION_STATE_PREPARING:
    case FERRY_SESSION_STATE_WAITING:
    case FERRY_SESSION_STATE_CONNECTING:
    case FERRY_SESSION_STATE_OFFER_RECEIVED:
    case FERRY_SESSION_STATE_FAILED:
    default:
      break;
    }
}

static void
session_path_cb (FerryDonePage *self)
{
  g_signal_group_set_target (self->path_signals, ferry_session_get_path (self->session));
  record_path (self);
}

/**
 * ferry_done_page_set_session:
 * @session: (nullable): the session to sum up, set when it starts
 */
void
ferry_done_page_set_session (FerryDonePage *self,
                             FerrySession  *session)
{
  g_return_if_fail (FERRY_IS_DONE_PAGE (self));
  g_return_if_fail (session == NULL || FERRY_IS_SESSION (session));

  if (self->session == session)
    return;

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_signal_group_set_target (self->path_signals, NULL);
  g_set_object (&self->session, session);
  g_clear_pointer (&self->first_path, g_free);
  g_clear_pointer (&self->last_path, g_free);
  self->started_at = self->ended_at = 0;

  if (self->session == NULL)
    return;

  g_signal_connect_object (self->session, "notify::state", G_CALLBACK (session_state_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::path", G_CALLBACK (session_path_cb), self,
                           G_CONNECT_SWAPPED);
  session_path_cb (self);
  session_state_cb (self);
}

/**
 * ferry_done_page_set_folder:
 * @folder: (nullable): where the files are now, or came from
 */
void
ferry_done_page_set_folder (FerryDonePage *self,
                            GFile         *folder)
{
  g_autofree char *name = NULL;

  g_return_if_fail (FERRY_IS_DONE_PAGE (self));
  g_return_if_fail (folder == NULL || G_IS_FILE (folder));

  g_set_object (&self->folder, folder);
  gtk_widget_set_visible (GTK_WIDGET (self->folder_row), folder != NULL);
  if (folder == NULL)
    return;

  name = ferry_names_dup_folder (folder);
  adw_action_row_set_subtitle (self->folder_row, name);
}

/**
 * ferry_done_page_get_folder:
 *
 * Returns: (transfer none) (nullable): the folder shown
 */
GFile *
ferry_done_page_get_folder (FerryDonePage *self)
{
  g_return_val_if_fail (FERRY_IS_DONE_PAGE (self), NULL);

  return self->folder;
}

static void
append_row_text (GString      *text,
                 AdwActionRow *row)
{
  if (!gtk_widget_get_visible (GTK_WIDGET (row)))
    return;

  g_string_append_printf (text, "%s: %s\n",
                          adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                          adw_action_row_get_subtitle (row));
}

/**
 * ferry_done_page_dup_text:
 *
 * Returns: (transfer full): every line the page shows, "title: value"
 */
char *
ferry_done_page_dup_text (FerryDonePage *self)
{
  GString *text = g_string_new (NULL);

  g_return_val_if_fail (FERRY_IS_DONE_PAGE (self), NULL);

  g_string_append_printf (text, "%s\n%s\n", gtk_label_get_label (self->title_label),
                          gtk_label_get_label (self->description_label));
  append_row_text (text, self->what_row);
  append_row_text (text, self->speed_row);
  append_row_text (text, self->path_row);
  append_row_text (text, self->folder_row);

  return g_string_free (text, FALSE);
}

static void
ferry_done_page_dispose (GObject *object)
{
  FerryDonePage *self = FERRY_DONE_PAGE (object);

  ferry_done_page_set_session (self, NULL);
  g_clear_object (&self->path_signals);
  g_clear_object (&self->folder);
  g_clear_pointer (&self->files_description, g_free);

  G_OBJECT_CLASS (ferry_done_page_parent_class)->dispose (object);
}

/* Each property is one property of a child in the template. */
static const struct
{
  const char *name;
  gsize       child_offset;
  const char *child_property;
} forwarded[N_PROPS] = {
  [PROP_TITLE] = { "title", G_STRUCT_OFFSET (FerryDonePage, title_label), "label" },
  [PROP_DESCRIPTION] = { "description", G_STRUCT_OFFSET (FerryDonePage, description_label),
                         "label" },
  [PROP_FOLDER_TITLE] = { "folder-title", G_STRUCT_OFFSET (FerryDonePage, folder_row), "title" },
  [PROP_PRIMARY_LABEL] = { "primary-label", G_STRUCT_OFFSET (FerryDonePage, primary_button),
                           "label" },
  [PROP_PRIMARY_ACTION] = { "primary-action", G_STRUCT_OFFSET (FerryDonePage, primary_button),
                            "action-name" },
  [PROP_SECONDARY_LABEL] = { "secondary-label",
                             G_STRUCT_OFFSET (FerryDonePage, secondary_button), "label" },
  [PROP_SECONDARY_ACTION] = { "secondary-action",
                              G_STRUCT_OFFSET (FerryDonePage, secondary_button), "action-name" },
};

static GObject *
forwarded_child (FerryDonePage *self,
                 guint          prop_id)
{
  return G_STRUCT_MEMBER (GObject *, self, forwarded[prop_id].child_offset);
}

static void
ferry_done_page_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  if (prop_id == PROP_0 || prop_id >= N_PROPS)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }

  g_object_get_property (forwarded_child (FERRY_DONE_PAGE (object), prop_id),
                         forwarded[prop_id].child_property, value);
}

static void
ferry_done_page_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  FerryDonePage *self = FERRY_DONE_PAGE (object);

  if (prop_id == PROP_0 || prop_id >= N_PROPS)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }

  g_object_set_property (forwarded_child (self, prop_id), forwarded[prop_id].child_property,
                         value);

  /* The second button shows only when a page gives it a label. */
  if (prop_id == PROP_SECONDARY_LABEL)
    gtk_widget_set_visible (GTK_WIDGET (self->secondary_button),
                            g_value_get_string (value) != NULL);
}

static void
ferry_done_page_class_init (FerryDonePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_done_page_dispose;
  object_class->get_property = ferry_done_page_get_property;
  object_class->set_property = ferry_done_page_set_property;

  for (guint i = PROP_0 + 1; i < N_PROPS; i++)
    properties[i] = g_param_spec_string (forwarded[i].name, NULL, NULL, NULL,
                                         (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-done-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, title_label);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, description_label);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, what_row);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, speed_row);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, path_row);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, folder_row);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, primary_button);
  gtk_widget_class_bind_template_child (widget_class, FerryDonePage, secondary_button);
}

static void
ferry_done_page_init (FerryDonePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->path_signals = g_signal_group_new (FERRY_TYPE_PATH);
  g_signal_group_connect_swapped (self->path_signals, "notify", G_CALLBACK (record_path), self);
}
