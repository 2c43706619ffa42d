/* ferry-history-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-history-page"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-history-page.h"
#include "ferry-show-item.h"
#include "ferry-names.h"
#include "ferry-path.h"
#include "ferry-window.h"

#define HISTORY_LIMIT 200
/* Names spelled out in a row's title before "and N more". */
#define MAX_NAMES 3

/**
 * FerryHistoryPage:
 *
 * Past transfers from the SQLite store, newest first and grouped by day:
 * what was moved (the top-level names, as they are on the receiver's
 * disk), how much, when, the outcome, the average speed and duration of
 * the last attempt and the path its bytes took first and last, with a
 * search over the names, the peer and all the row says. Each row can show
 * its files in their folder and be removed (the record only, never a
 * file); a send can be sent again, and an interrupted one resumed: the same
 * files go again with a new code, and only what is missing travels.
 */
struct _FerryHistoryPage
{
  AdwBin          parent_instance;

  GtkStack       *stack;
  GtkSearchEntry *search_entry;
  GtkBox         *groups_box;
  GtkLabel       *no_match_label;

  /* FerryStoreTransfer, in the order of the rows. */
  GPtrArray      *transfers;
  /* AdwActionRow, one per transfer. */
  GPtrArray      *rows;
  GCancellable   *cancellable;
  gulong          changed_id;
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

static gboolean
is_unfinished (FerryStoreTransferState state)
{
  return state == FERRY_STORE_TRANSFER_INTERRUPTED ||
         state == FERRY_STORE_TRANSFER_ACTIVE ||
         state == FERRY_STORE_TRANSFER_FAILED;
}

static gboolean
is_sent (const FerryStoreTransfer *transfer)
{
  return transfer->direction == FERRY_STORE_SEND;
}

/* A send resumes by sending what was chosen again; a receive by waiting in
 * the same folder for the sender's new code. What was verified is kept on
 * the receiving side, so only the rest travels. */
static gboolean
can_resume (const FerryStoreTransfer *transfer)
{
  return is_unfinished (transfer->state) &&
         (is_sent (transfer) ? transfer->sources != NULL : transfer->target_folder != NULL);
}

static gboolean
can_send_again (const FerryStoreTransfer *transfer)
{
  return is_sent (transfer) && transfer->sources != NULL && transfer->sources[0] != NULL;
}

/* Whether @name is one component a folder can hold: a name from the store
 * came from the other side once. */
static gboolean
is_plain_name (const char *name)
{
  return name != NULL && name[0] != '\0' && strchr (name, '/') == NULL &&
         !g_str_equal (name, ".") && !g_str_equal (name, "..");
}

/* The first thing moved: the first chosen item of a send, the first
 * top-level name in the receiving folder. */
static GFile *
dup_first_item (const FerryStoreTransfer *transfer)
{
  if (is_sent (transfer))
    return can_send_again (transfer) ? g_file_new_for_path (transfer->sources[0]) : NULL;

  if (transfer->target_folder == NULL || transfer->names == NULL ||
      !is_plain_name (transfer->names[0]))
    return NULL;
  return g_file_new_build_filename (transfer->target_folder, transfer->names[0], NULL);
}

/* Where the files are: the receiving folder, or the folder the first
 * chosen item lies in. */
static GFile *
dup_folder (const FerryStoreTransfer *transfer)
{
  g_autoptr(GFile) first = NULL;

  if (!is_sent (transfer))
    return transfer->target_folder != NULL ? g_file_new_for_path (transfer->target_folder) : NULL;

  first = dup_first_item (transfer);
  return first != NULL ? g_file_get_parent (first) : NULL;
}

/* The names of what was moved: for a send what was chosen, in its order;
 * for a receive the top-level names as they landed. */
static GPtrArray *
dup_names (const FerryStoreTransfer *transfer)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  if (can_send_again (transfer))
    {
      for (guint i = 0; transfer->sources[i] != NULL; i++)
        g_ptr_array_add (names, g_path_get_basename (transfer->sources[i]));
      return names;
    }

  for (guint i = 0; transfer->names != NULL && transfer->names[i] != NULL; i++)
    g_ptr_array_add (names, g_strdup (transfer->names[i]));
  return names;
}

/* A text alone: no names, no bytes, nothing written. */
static gboolean
is_text_only (const FerryStoreTransfer *transfer)
{
  return transfer->n_files == 0 && transfer->total_bytes == 0 &&
         (transfer->names == NULL || transfer->names[0] == NULL);
}

static char *
dup_title (const FerryStoreTransfer *transfer)
{
  g_autoptr(GPtrArray) names = dup_names (transfer);

  if (names->len > 0)
    return ferry_names_join ((const char * const *) names->pdata, names->len, MAX_NAMES);

  if (is_text_only (transfer))
    return g_strdup (_("Text"));

  return g_strdup_printf (is_sent (transfer)
                          ? g_dngettext (GETTEXT_PACKAGE, "Sent %u file", "Sent %u files",
                                         transfer->n_files)
                          : g_dngettext (GETTEXT_PACKAGE, "Received %u file",
                                         "Received %u files", transfer->n_files),
                          transfer->n_files);
}

/* The average speed and duration of the last attempt, when it was
 * recorded (not for transfers from before Ferry kept it). */
static char *
dup_speed (const FerryStoreTransfer *transfer)
{
  if (transfer->started_at <= 0 || transfer->finished_at < transfer->started_at ||
      transfer->total_bytes == 0)
    return NULL;

  return ferry_names_format_speed (transfer->bytes_moved,
                                   transfer->finished_at - transfer->started_at);
}

/* Which way and how much, when and how it ended; then how fast, how long
 * and the path, first and last. */
static char *
dup_subtitle (const FerryStoreTransfer *transfer)
{
  g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (transfer->created_at /
                                                               G_USEC_PER_SEC);
  g_autofree char *when = g_date_time_format (date, "%X");
  g_autofree char *size = is_text_only (transfer)
                          ? NULL : ferry_names_format_size (transfer->n_files,
                                                            transfer->total_bytes);
  g_autofree char *speed = dup_speed (transfer);
  g_autofree char *paths = ferry_names_format_paths (path_text (transfer->first_path_kind),
                                                     path_text (transfer->path_kind));
  g_autofree char *first_line = NULL;
  g_autofree char *second_line = NULL;
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();

  g_ptr_array_add (parts, (gpointer) (is_sent (transfer) ? _("Sent") : _("Received")));
  if (size != NULL)
    g_ptr_array_add (parts, size);
  g_ptr_array_add (parts, when);
  g_ptr_array_add (parts, (gpointer) outcome_text (transfer->state));
  g_ptr_array_add (parts, NULL);
  first_line = g_strjoinv (" · ", (char **) parts->pdata);

  g_ptr_array_set_size (parts, 0);
  if (speed != NULL)
    g_ptr_array_add (parts, speed);
  if (paths != NULL)
    g_ptr_array_add (parts, paths);
  if (parts->len == 0)
    return g_steal_pointer (&first_line);
  g_ptr_array_add (parts, NULL);
  second_line = g_strjoinv (" · ", (char **) parts->pdata);

  /* The first line says what happened, the second how. */
  return g_strconcat (first_line, "\n", second_line, NULL);
}

/* What the search looks in: every name (not only those the title spells
 * out), the peer and what the row says. */
static char *
dup_search_text (const FerryStoreTransfer *transfer,
                 const char               *row_text)
{
  g_autoptr(GPtrArray) names = dup_names (transfer);
  g_autoptr(GString) text = g_string_new (row_text);

  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (text, "\n%s", (const char *) g_ptr_array_index (names, i));
  if (transfer->peer_name != NULL)
    g_string_append_printf (text, "\n%s", transfer->peer_name);

  return g_utf8_casefold (text->str, -1);
}

/* Today, Yesterday, or the date. */
static char *
dup_day_title (GDateTime *date)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) yesterday = g_date_time_add_days (now, -1);

  if (g_date_time_get_year (date) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (date) == g_date_time_get_day_of_year (now))
    return g_strdup (_("Today"));
  if (g_date_time_get_year (date) == g_date_time_get_year (yesterday) &&
      g_date_time_get_day_of_year (date) == g_date_time_get_day_of_year (yesterday))
    return g_strdup (_("Yesterday"));

  /* Translators: a day heading in the history, a g_date_time_format() format */
  return g_date_time_format (date, C_("history day", "%A, %x"));
}

/* The record of a running transfer stays (the store keeps it). */
static gboolean
can_remove (const FerryStoreTransfer *transfer)
{
  return transfer->state != FERRY_STORE_TRANSFER_ACTIVE;
}

static GtkWidget *
make_actions_button (const FerryStoreTransfer *transfer,
                     const char               *title)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autofree char *label = NULL;
  g_autoptr(GFile) folder = dup_folder (transfer);
  GtkWidget *button;
  GVariant *id = g_variant_new_int64 (transfer->id);

  g_variant_ref_sink (id);
  if (folder != NULL)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("Show in _Folder"), NULL);

      g_menu_item_set_action_and_target_value (item, "history.show-in-folder", id);
      g_menu_append_item (menu, item);
    }
  if (can_send_again (transfer))
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("Send _Again"), NULL);

      g_menu_item_set_action_and_target_value (item, "history.send-again", id);
      g_menu_append_item (menu, item);
    }
  if (can_remove (transfer))
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("_Remove From History"), NULL);

      g_menu_item_set_action_and_target_value (item, "history.remove", id);
      g_menu_append_item (menu, item);
    }
  g_variant_unref (id);

  if (g_menu_model_get_n_items (G_MENU_MODEL (menu)) == 0)
    return NULL;

  button = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "view-more-symbolic");
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (button), G_MENU_MODEL (menu));
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, _("More"));
  /* Translators: accessible name of a history row's menu; %s names what was sent */
  label = g_strdup_printf (_("More About “%s”"), title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  return button;
}

static GtkWidget *
make_row (const FerryStoreTransfer *transfer)
{
  g_autofree char *title = dup_title (transfer);
  g_autofree char *subtitle = dup_subtitle (transfer);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *actions;

  /* Names may hold any character: never markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  {
    g_autofree char *row_text = g_strdup_printf ("%s\n%s", title, subtitle);

    g_object_set_data_full (G_OBJECT (row), "search-text",
                            dup_search_text (transfer, row_text), g_free);
  }
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                is_sent (transfer) ? "document-send-symbolic"
                                                   : "folder-download-symbolic");

  if (can_resume (transfer))
    {
      GtkWidget *button = gtk_button_new_with_mnemonic (_("_Resume"));

      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (button, is_sent (transfer)
                                   ? _("Send the same files again with a new code")
                                   : _("Receive the rest with a new code from the sender"));
      gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "history.resume");
      gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button),
                                              g_variant_new_int64 (transfer->id));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      g_object_set_data (G_OBJECT (row), "resume-button", button);
    }

  actions = make_actions_button (transfer, title);
  if (actions != NULL)
    adw_action_row_add_suffix (ADW_ACTION_ROW (row), actions);

  return row;
}

static const FerryStoreTransfer *
lookup (FerryHistoryPage *self,
        gint64            id)
{
  for (guint i = 0; self->transfers != NULL && i < self->transfers->len; i++)
    {
      const FerryStoreTransfer *transfer = g_ptr_array_index (self->transfers, i);

      if (transfer->id == id)
        return transfer;
    }

  return NULL;
}

static char *
dup_row_text (GtkWidget *row)
{
  return g_strdup_printf ("%s\n%s",
                          adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                          adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
}

/* Shows the rows whose text holds every word searched for, and the days
 * that still have a row. */
static void
apply_search (FerryHistoryPage *self)
{
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *folded_query = g_utf8_casefold (query, -1);
  g_auto(GStrv) words = g_strsplit_set (folded_query, " \t", -1);
  guint n_shown = 0;

  for (guint i = 0; i < self->rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->rows, i);
      const char *folded = g_object_get_data (G_OBJECT (row), "search-text");
      gboolean match = TRUE;

      for (guint w = 0; words[w] != NULL && match; w++)
        match = words[w][0] == '\0' || strstr (folded, words[w]) != NULL;

      gtk_widget_set_visible (row, match);
      n_shown += match;
    }

  for (GtkWidget *group = gtk_widget_get_first_child (GTK_WIDGET (self->groups_box));
       group != NULL;
       group = gtk_widget_get_next_sibling (group))
    {
      GPtrArray *group_rows = g_object_get_data (G_OBJECT (group), "rows");
      gboolean any = FALSE;

      for (guint i = 0; i < group_rows->len && !any; i++)
        any = gtk_widget_get_visible (g_ptr_array_index (group_rows, i));
      gtk_widget_set_visible (group, any);
    }

  gtk_widget_set_visible (GTK_WIDGET (self->no_match_label),
                          n_shown == 0 && self->rows->len > 0);
}

static void
show_transfers (FerryHistoryPage *self)
{
  GtkWidget *child;
  GtkWidget *group = NULL;
  g_autofree char *group_day = NULL;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->groups_box))) != NULL)
    gtk_box_remove (self->groups_box, child);
  g_ptr_array_set_size (self->rows, 0);

  for (guint i = 0; i < self->transfers->len; i++)
    {
      const FerryStoreTransfer *transfer = g_ptr_array_index (self->transfers, i);
      g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (transfer->created_at /
                                                                   G_USEC_PER_SEC);
      g_autofree char *day = g_date_time_format (date, "%Y-%m-%d");
      GtkWidget *row = make_row (transfer);

      /* Newest first, so each day's transfers follow one another. */
      if (group == NULL || g_strcmp0 (day, group_day) != 0)
        {
          g_autofree char *title = dup_day_title (date);

          group = adw_preferences_group_new ();
          adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), title);
          g_object_set_data_full (G_OBJECT (group), "rows", g_ptr_array_new (),
                                  (GDestroyNotify) g_ptr_array_unref);
          gtk_box_append (self->groups_box, group);
          g_free (group_day);
          group_day = g_steal_pointer (&day);
        }

      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
      g_ptr_array_add (g_object_get_data (G_OBJECT (group), "rows"), row);
      g_ptr_array_add (self->rows, row);
    }

  apply_search (self);
  gtk_stack_set_visible_child_name (self->stack, self->transfers->len > 0 ? "list" : "empty");
}

static void
list_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(FerryHistoryPage) self = user_data;
  g_autoptr(GPtrArray) transfers = NULL;
  g_autoptr(GError) error = NULL;

  transfers = ferry_store_list_history_finish (FERRY_STORE (object), result, &error);
  if (transfers == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Could not read the history: %s", error->message);
      return;
    }

  g_clear_pointer (&self->transfers, g_ptr_array_unref);
  self->transfers = g_steal_pointer (&transfers);
  show_transfers (self);
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

/**
 * ferry_history_page_get_n_rows:
 *
 * Returns: how many transfers are listed, shown by the search or not
 */
guint
ferry_history_page_get_n_rows (FerryHistoryPage *self)
{
  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), 0);

  return self->rows->len;
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
  GtkWidget *button;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), FALSE);

  if (index >= self->rows->len)
    return FALSE;

  button = g_object_get_data (g_ptr_array_index (self->rows, index), "resume-button");
  if (button == NULL)
    return FALSE;

  g_signal_emit_by_name (button, "clicked");
  return TRUE;
}

/**
 * ferry_history_page_activate_row_action:
 * @index: a row
 * @action: "show-in-folder", "send-again" or "remove", as in the row's menu
 *
 * Chooses an entry of the row's menu, as a person would.
 *
 * Returns: %FALSE if the row's menu has no such entry
 */
gboolean
ferry_history_page_activate_row_action (FerryHistoryPage *self,
                                        guint             index,
                                        const char       *action)
{
  const FerryStoreTransfer *transfer;
  g_autofree char *name = NULL;
  g_autoptr(GFile) folder = NULL;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), FALSE);
  g_return_val_if_fail (action != NULL, FALSE);

  if (index >= self->rows->len)
    return FALSE;

  transfer = g_ptr_array_index (self->transfers, index);
  folder = dup_folder (transfer);
  if ((g_str_equal (action, "show-in-folder") && folder == NULL) ||
      (g_str_equal (action, "send-again") && !can_send_again (transfer)) ||
      (g_str_equal (action, "remove") && !can_remove (transfer)))
    return FALSE;

  name = g_strconcat ("history.", action, NULL);
  return gtk_widget_activate_action (GTK_WIDGET (self), name, "x", transfer->id);
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
  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), NULL);

  if (index >= self->rows->len)
    return NULL;

  return dup_row_text (g_ptr_array_index (self->rows, index));
}

/**
 * ferry_history_page_get_row_shown:
 *
 * Returns: whether row @index shows with the current search
 */
gboolean
ferry_history_page_get_row_shown (FerryHistoryPage *self,
                                  guint             index)
{
  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), FALSE);
  g_return_val_if_fail (index < self->rows->len, FALSE);

  return gtk_widget_get_visible (g_ptr_array_index (self->rows, index));
}

/**
 * ferry_history_page_get_n_days:
 *
 * Returns: how many day groups are shown
 */
guint
ferry_history_page_get_n_days (FerryHistoryPage *self)
{
  guint n = 0;

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), 0);

  for (GtkWidget *group = gtk_widget_get_first_child (GTK_WIDGET (self->groups_box));
       group != NULL;
       group = gtk_widget_get_next_sibling (group))
    n += gtk_widget_get_visible (group);

  return n;
}

/**
 * ferry_history_page_dup_days:
 *
 * Returns: (transfer full): the headings of the day groups shown, one a
 *   line, newest first
 */
char *
ferry_history_page_dup_days (FerryHistoryPage *self)
{
  g_autoptr(GString) days = g_string_new (NULL);

  g_return_val_if_fail (FERRY_IS_HISTORY_PAGE (self), NULL);

  for (GtkWidget *group = gtk_widget_get_first_child (GTK_WIDGET (self->groups_box));
       group != NULL;
       group = gtk_widget_get_next_sibling (group))
    if (gtk_widget_get_visible (group))
      g_string_append_printf (days, "%s%s", days->len > 0 ? "\n" : "",
                              adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)));

  return g_string_free (g_steal_pointer (&days), FALSE);
}

void
ferry_history_page_set_search (FerryHistoryPage *self,
                               const char       *text)
{
  g_return_if_fail (FERRY_IS_HISTORY_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), text != NULL ? text : "");
  apply_search (self);
}

static void
search_changed_cb (FerryHistoryPage *self)
{
  apply_search (self);
}

static void
history_changed_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(FerryHistoryPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_store_update_finish (FERRY_STORE (object), result, &error))
    g_warning ("Could not change the history: %s", error->message);

  ferry_history_page_reload (self);
}

static void
clear_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  FerryStore *store = ferry_application_get_store (ferry_application_get_default ());

  if (store != NULL)
    ferry_store_clear_history_async (store, NULL, history_changed_cb, g_object_ref (widget));
}

static void
resume_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  const FerryStoreTransfer *transfer = lookup (FERRY_HISTORY_PAGE (widget),
                                               g_variant_get_int64 (parameter));
  GtkRoot *root = gtk_widget_get_root (widget);

  if (transfer == NULL || !can_resume (transfer) || !FERRY_IS_WINDOW (root))
    return;

  if (is_sent (transfer))
    ferry_window_resume_send (FERRY_WINDOW (root), (const char * const *) transfer->sources);
  else
    ferry_window_resume_receive (FERRY_WINDOW (root), transfer->target_folder);
}

static void
send_again_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  const FerryStoreTransfer *transfer = lookup (FERRY_HISTORY_PAGE (widget),
                                               g_variant_get_int64 (parameter));
  GtkRoot *root = gtk_widget_get_root (widget);

  if (transfer == NULL || !can_send_again (transfer) || !FERRY_IS_WINDOW (root))
    return;

  ferry_window_resume_send (FERRY_WINDOW (root), (const char * const *) transfer->sources);
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  const FerryStoreTransfer *transfer = lookup (FERRY_HISTORY_PAGE (widget),
                                               g_variant_get_int64 (parameter));
  FerryStore *store = ferry_application_get_store (ferry_application_get_default ());

  /* The record goes, with what it knew for a resume; the files stay. */
  if (store != NULL && transfer != NULL && can_remove (transfer))
    ferry_store_remove_transfer_async (store, transfer->id, NULL, history_changed_cb,
                                       g_object_ref (widget));
}

static void
show_in_folder_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  const FerryStoreTransfer *transfer = lookup (FERRY_HISTORY_PAGE (widget),
                                               g_variant_get_int64 (parameter));
  g_autoptr(GFile) folder = transfer != NULL ? dup_folder (transfer) : NULL;
  g_autoptr(GFile) first = transfer != NULL ? dup_first_item (transfer) : NULL;
  g_autofree char *uri = NULL;
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWindow *window = GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;

  if (folder == NULL)
    return;

  /* The folder, with the first thing moved selected while it is there. */
  if (first != NULL && g_file_query_exists (first, NULL))
    {
      ferry_show_item (window, first);
      return;
    }
  uri = g_file_get_uri (folder);
  gtk_show_uri (window, uri, GDK_CURRENT_TIME);
}

/**
 * ferry_history_page_focus_search:
 *
 * Puts the keyboard into the search entry, for Ctrl+F.
 */
void
ferry_history_page_focus_search (FerryHistoryPage *self)
{
  g_return_if_fail (FERRY_IS_HISTORY_PAGE (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
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
ferry_history_page_finalize (GObject *object)
{
  FerryHistoryPage *self = FERRY_HISTORY_PAGE (object);

  g_clear_pointer (&self->transfers, g_ptr_array_unref);
  g_clear_pointer (&self->rows, g_ptr_array_unref);

  G_OBJECT_CLASS (ferry_history_page_parent_class)->finalize (object);
}

static void
ferry_history_page_class_init (FerryHistoryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_history_page_dispose;
  object_class->finalize = ferry_history_page_finalize;
  widget_class->map = ferry_history_page_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-history-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, groups_box);
  gtk_widget_class_bind_template_child (widget_class, FerryHistoryPage, no_match_label);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);

  gtk_widget_class_install_action (widget_class, "history.clear", NULL, clear_action);
  gtk_widget_class_install_action (widget_class, "history.resume", "x", resume_action);
  gtk_widget_class_install_action (widget_class, "history.send-again", "x", send_again_action);
  gtk_widget_class_install_action (widget_class, "history.remove", "x", remove_action);
  gtk_widget_class_install_action (widget_class, "history.show-in-folder", "x",
                                   show_in_folder_action);
}

static void
ferry_history_page_init (FerryHistoryPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->rows = g_ptr_array_new ();
  self->changed_id = g_signal_connect_swapped (ferry_application_get_default (),
                                               "transfers-changed",
                                               G_CALLBACK (ferry_history_page_reload), self);
}
