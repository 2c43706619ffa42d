/* ferry-history-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-history-page"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-history-page.h"
#include "ferry-path.h"
#include "ferry-window.h"

#define HISTORY_LIMIT 200

/**
 * FerryHistoryPage:
 *
 * Past transfers from the SQLite store, newest first: direction, files,
 * size, date, path and outcome. An interrupted receive can be resumed: the
 * sender sends the same files again with a new code, and only what is
 * missing travels.
 */
struct _FerryHistoryPage
{
  AdwBin        parent_instance;

  GtkStack     *stack;
  GtkListBox   *list;
  GCancellable *cancellable;
  gulong        changed_id;
};

G_DEFINE_FINAL_TYPE (FerryHistoryPage, ferry_history_page, ADW_TYPE_BIN)

static const char *
outcome_text (FerryStoreTransferState state)
{
  switch (state)
    {
    case FERRY_STORE_TRANSFER_COMPLETED:
      return _("Completed");
    case FERRY_STORE_TRANSFER_INTERRUPTED:
    case FERRY_STORE_TRANSFER_ACTIVE:
      return _("Interrupted");
    case FERRY_STORE_TRANSFER_FAILED:
      return _("Failed");
    case FERRY_STORE_TRANSFER_CANCELLED:
      return _("Cancelled");
    default:
      return "";
    }
}

static const char *
path_text (const char *kind)
{
  FerryPathKind path_kind;

  if (kind == NULL || !ferry_path_kind_from_string (kind, &path_kind))
    return NULL;

  switch (path_kind)
    {
    case FERRY_PATH_KIND_DIRECT_LAN:
      return _("Direct · local network");
    case FERRY_PATH_KIND_DIRECT_INTERNET:
      return _("Direct · internet");
    case FERRY_PATH_KIND_RELAYED:
      return _("Relayed");
    case FERRY_PATH_KIND_UNKNOWN:
    default:
      return NULL;
    }
}

static void
resume_clicked_cb (GtkButton *button,
                   gpointer   user_data)
{
  const char *folder = g_object_get_data (G_OBJECT (button), "target-folder");
  const char * const *sources = g_object_get_data (G_OBJECT (button), "sources");
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (button));

  if (!FERRY_IS_WINDOW (root))
    return;

  if (sources != NULL)
    ferry_window_resume_send (FERRY_WINDOW (root), sources);
  else
    ferry_window_resume_receive (FERRY_WINDOW (root), folder);
}

static gboolean
is_unfinished (FerryStoreTransferState state)
{
  return state == FERRY_STORE_TRANSFER_INTERRUPTED ||
         state == FERRY_STORE_TRANSFER_ACTIVE ||
         state == FERRY_STORE_TRANSFER_FAILED;
}

static GtkWidget *
make_row (const FerryStoreTransfer *transfer)
{
  g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (transfer->created_at / G_USEC_PER_SEC);
  g_autofree char *when = g_date_time_format (date, "%x %X");
  g_autofree char *size = g_format_size (transfer->total_bytes);
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  const char *path = path_text (transfer->path_kind);
  gboolean sent = transfer->direction == FERRY_STORE_SEND;
  GtkWidget *row = adw_action_row_new ();

  title = g_strdup_printf (sent
                           ? g_dngettext (GETTEXT_PACKAGE, "Sent %u file · %s",
                                          "Sent %u files · %s", transfer->n_files)
                           : g_dngettext (GETTEXT_PACKAGE, "Received %u file · %s",
                                          "Received %u files · %s", transfer->n_files),
                           transfer->n_files, size);
  subtitle = g_strjoin (" · ", when, outcome_text (transfer->state),
                        path != NULL ? path : NULL, NULL);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                sent ? "document-send-symbolic" : "folder-download-symbolic");

  /* What was verified is kept on the receiving side: sending the same
   * files again into the same folder moves only the rest. A send resumes
   * by sending what was chosen again; a receive by waiting in the same
   * folder for the sender's new code. */
  if (is_unfinished (transfer->state) &&
      (sent ? transfer->sources != NULL : transfer->target_folder != NULL))
    {
      GtkWidget *button = gtk_button_new_with_mnemonic (_("_Resume"));

      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      if (sent)
        {
          gtk_widget_set_tooltip_text (button, _("Send the same files again with a new code"));
          g_object_set_data_full (G_OBJECT (button), "sources",
                                  g_strdupv (transfer->sources), (GDestroyNotify) g_strfreev);
        }
      else
        {
          gtk_widget_set_tooltip_text (button,
                                       _("Receive the rest with a new code from the sender"));
          g_object_set_data_full (G_OBJECT (button), "target-folder",
                                  g_strdup (transfer->target_folder), g_free);
        }
      g_signal_connect (button, "clicked", G_CALLBACK (resume_clicked_cb), NULL);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      g_object_set_data (G_OBJECT (row), "resume-button", button);
    }

  return row;
}

static void
list_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(FerryHistoryPage) self = user_data;
  g_autoptr(GPtrArray) transfers = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *child;

  transfers = ferry_store_list_history_finish (FERRY_STORE (object), result, &error);
  if (transfers == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Could not read the history: %s", error->message);
      return;
    }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != NULL)
    gtk_list_box_remove (self->list, child);

  for (guint i = 0; i < transfers->len; i++)
    gtk_list_box_append (self->list, make_row (g_ptr_array_index (transfers, i)));

  gtk_stack_set_visible_child_name (self->stack, transfers->len > 0 ? "list" : "empty");
}

/**
 * ferry_history_page_reload:
 *
 * Reads the history again, off the UI thread.
 */
void
ferry_history_page_reload (FerryHistoryPage *self)
{
  FerryStore *store;

  g_return_if_fail (FERRY_IS_HISTORY_PAGE (self));

  store = ferry_application_get_store (ferry_application_get_default ());
  if (store == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  ferry_store_list_history_async (store, HISTORY_LIMIT, self->cancellable, list_cb,
                                  g_object_ref (self));
}

guint
ferry_history_page_get_n_rows (FerryHistoryPage *self)
{
  guint n = 0;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), 0);

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->list));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n++;

  return n;
}

/**
 * ferry_history_page_activate_resume:
 * @index: a row
 *
 * Presses the row's Resume button, as a person would.
 *
 * Returns: %FALSE if the row has none
 */
gboolean
ferry_history_page_activate_resume (FerryHistoryPage *self,
                                    guint             index)
{
  GtkListBoxRow *row;
  GtkWidget *button;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), FALSE);

  row = gtk_list_box_get_row_at_index (self->list, (int) index);
  button = row != NULL ? g_object_get_data (G_OBJECT (row), "resume-button") : NULL;
  if (button == NULL)
    return FALSE;

  g_signal_emit_by_name (button, "clicked");
  return TRUE;
}

/**
 * ferry_history_page_dup_row_text:
 *
 * Returns: (transfer full) (nullable): the title and subtitle of row @index
 */
char *
ferry_history_page_dup_row_text (FerryHistoryPage *self,
                                 guint             index)
{
  GtkListBoxRow *row;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), NULL);

  row = gtk_list_box_get_row_at_index (self->list, (int) index);
  if (row == NULL)
    return NULL;

  return g_strdup_printf ("%s\n%s",
                          adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                          adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(FerryHistoryPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_store_update_finish (FERRY_STORE (object), result, &error))
    g_warning ("Could not clear the history: %s", error->message);

  ferry_history_page_reload (self);
}

static void
clear_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  FerryStore *store = ferry_application_get_store (ferry_application_get_default ());

  if (store != NULL)
    ferry_store_clear_history_async (store, NULL, clear_cb, g_object_ref (widget));
}

static void
ferry_history_page_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (ferry_history_page_parent_class)->map (widget);

  ferry_history_page_reload (FERRY_HISTORY_PAGE (widget));
}

static void
ferry_history_page_dispose (GObject *object)
{
  FerryHistoryPage *self = FERRY_HISTORY_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_signal_handler (&self->changed_id, ferry_application_get_default ());

  G_OBJECT_CLASS (ferry_history_page_parent_class)->dispose (object);
}

static void
ferry_history_page_class_init (FerryHistoryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_history_page_dispose;
  widget_class->map = ferry_history_page_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-history-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, list);

  gtk_widget_class_install_action (widget_class, "history.clear", NULL, clear_action);
}

static void
ferry_history_page_init (FerryHistoryPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->changed_id = g_signal_connect_swapped (ferry_application_get_default (),
                                               "transfers-changed",
                                               G_CALLBACK (ferry_history_page_reload), self);
}
