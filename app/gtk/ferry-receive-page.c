/* ferry-receive-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-receive-page"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-code.h"
#include "ferry-done-page.h"
#include "ferry-error-page.h"
#include "ferry-names.h"
#include "ferry-offer-model.h"
#include "ferry-receive-page.h"
#include "ferry-server-notice.h"
#include "ferry-show-item.h"
#include "ferry-session.h"
#include "ferry-transfer-view.h"

#define MAX_SUGGESTIONS 4

struct _FerryReceivePage
{
  AdwBin          parent_instance;

  GtkStack       *stack;
  GtkEntry       *code_entry;
  GtkBox         *suggestions_box;
  GtkLabel       *hint_label;
  GtkButton      *paste_button;
  FerryErrorPage *error_page;
  GtkLabel       *offer_title;
  GtkLabel       *offer_subtitle;
  GtkWidget      *notice_box;
  GtkLabel       *notice_label;
  GtkListBox     *offer_list;
  GtkLabel       *more_label;
  GtkWidget      *files_box;
  GtkWidget      *text_box;
  GtkLabel       *text_label;
  GtkWidget      *open_link_button;
  GtkWidget      *copy_text_button;
  GtkWidget      *destination_list;
  GtkWidget      *save_as_button;
  GtkWidget      *decline_button;
  GtkWidget      *accept_button;
  GtkWidget      *done_button;
  AdwActionRow   *destination_row;
  FerryDonePage  *done_page;
  FerryTransferView *transfer_view;

  char           *clipboard_code;
  char           *link;   /* the offered text, when it is an http(s) link */
  FerryOfferModel *offer_model;
  FerrySession   *session;
  GFile          *target_folder;
  GFile          *chosen_folder;
  GCancellable   *cancellable;
};

/* The offer page lists this many top-level items, and this many entries
 * inside an expanded folder; the rest are summed up. */
#define MAX_LISTED_ITEMS 50
#define MAX_LISTED_CHILDREN 200

G_DEFINE_FINAL_TYPE (FerryReceivePage, ferry_receive_page, ADW_TYPE_BIN)

static void
ferry_receive_page_show_error (FerryReceivePage *self,
                               const GError     *error)
{
  ferry_error_page_set_error (self->error_page, error);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
ferry_receive_page_reset (FerryReceivePage *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_object (&self->target_folder);
  g_clear_object (&self->offer_model);
  g_clear_pointer (&self->link, g_free);
  gtk_list_box_bind_model (self->offer_list, NULL, NULL, NULL, NULL);
  ferry_transfer_view_set_session (self->transfer_view, NULL);
  ferry_done_page_set_session (self->done_page, NULL);

  gtk_widget_set_visible (GTK_WIDGET (self->hint_label), FALSE);
  gtk_stack_set_visible_child_name (self->stack, "enter");
}

void
ferry_receive_page_set_code (FerryReceivePage *self,
                             const char       *code)
{
  g_return_if_fail (FERRY_IS_RECEIVE_PAGE (self));
  g_return_if_fail (code != NULL);

  ferry_receive_page_reset (self);
  gtk_editable_set_text (GTK_EDITABLE (self->code_entry), code);
  gtk_widget_grab_focus (GTK_WIDGET (self->code_entry));
}

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(FerryReceivePage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (ferry_session_run_finish (FERRY_SESSION (object), result, &error) ||
      FERRY_SESSION (object) != self->session)
    return;

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ferry_receive_page_show_error (self, error);
}

static void
show_destination (FerryReceivePage *self)
{
  g_autofree char *name = ferry_names_dup_folder (self->target_folder);

  adw_action_row_set_subtitle (self->destination_row, name);
}

/* A folder's entries are made into rows only once someone opens it: an
 * offer may hold a folder of 100 000 files. */
static void
folder_expanded_cb (AdwExpanderRow *row,
                    GParamSpec     *pspec,
                    FerryOfferItem *item)
{
  guint n = ferry_offer_item_get_n_children (item);

  if (!adw_expander_row_get_expanded (row) || g_object_get_data (G_OBJECT (row), "filled"))
    return;
  g_object_set_data (G_OBJECT (row), "filled", GINT_TO_POINTER (TRUE));

  for (guint i = 0; i < n && i < MAX_LISTED_CHILDREN; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_item_get_child (item, i);
      gboolean folder = ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FOLDER;
      g_autofree char *path = ferry_offer_item_dup_child_display_path (item, i);
      g_autofree char *size = g_format_size (ferry_offer_entry_get_size (entry));
      GtkWidget *child = adw_action_row_new ();

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (child), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (child), path);
      if (!folder)
        adw_action_row_set_subtitle (ADW_ACTION_ROW (child), size);
      adw_action_row_set_icon_name (ADW_ACTION_ROW (child),
                                    folder ? "folder-symbolic" : "text-x-generic-symbolic");
      adw_expander_row_add_row (row, child);
    }

  if (n > MAX_LISTED_CHILDREN)
    {
      g_autofree char *more = g_strdup_printf (_("… and %u more"), n - MAX_LISTED_CHILDREN);
      GtkWidget *child = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (child), more);
      adw_expander_row_add_row (row, child);
    }
}

/* One row per item the sender chose: a folder is one row with its file
 * count and size, opened on demand. Names come from the other side: they
 * are escaped, and never markup. */
static GtkWidget *
create_offer_row (gpointer item_ptr,
                  gpointer user_data)
{
  FerryOfferItem *item = item_ptr;
  g_autofree char *name = ferry_offer_item_dup_display_name (item);
  g_autofree char *summary = ferry_offer_item_dup_summary (item);
  GtkWidget *row;

  if (ferry_offer_item_is_folder (item) && ferry_offer_item_get_n_children (item) > 0)
    {
      row = adw_expander_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), summary);
      adw_expander_row_set_icon_name (ADW_EXPANDER_ROW (row), "folder-symbolic");
      g_signal_connect_object (row, "notify::expanded", G_CALLBACK (folder_expanded_cb),
                               item, 0);
      return row;
    }

  row = adw_action_row_new ();
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), summary);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                ferry_offer_item_is_folder (item)
                                ? "folder-symbolic" : "text-x-generic-symbolic");
  return row;
}

/* A text that is nothing but an http or https address can be opened. Only
 * printable ASCII: no spaces, and no invisible or direction characters
 * that would make the link read as something else than where it goes. */
static char *
dup_link (const char *text)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  for (const char *p = stripped; *p != '\0'; p++)
    if (*p <= 0x20 || *p >= 0x7f)
      return NULL;

  uri = g_uri_parse (stripped, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
      || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    return NULL;

  return g_uri_to_string (uri);
}

/* Offered text is shown as sent, defused like names: control and
 * direction characters escaped. Copy takes it as sent. */
static void
show_text (FerryReceivePage *self,
           const char       *text)
{
  g_autofree char *escaped = text != NULL ? ferry_offer_escape_text (text, -1) : NULL;

  g_clear_pointer (&self->link, g_free);
  if (text != NULL)
    self->link = dup_link (text);

  gtk_label_set_label (self->text_label, escaped != NULL ? escaped : "");
  /* Shown, not already selected for a stray keystroke. */
  gtk_label_select_region (self->text_label, 0, 0);
  gtk_widget_set_visible (self->text_box, text != NULL);
  gtk_widget_set_visible (self->open_link_button, self->link != NULL);
  gtk_widget_set_tooltip_text (self->open_link_button, self->link);
}

/* Everything the sender offers is shown before a single byte is written,
 * with what deserves a second look said first. */
static void
show_offer (FerryReceivePage *self)
{
  FerryOffer *offer = ferry_session_get_offer (self->session);
  g_autoptr(GtkSliceListModel) shown = NULL;
  g_autofree char *size = g_format_size (ferry_offer_get_total_size (offer));
  g_autofree char *title = NULL;
  g_autofree char *notice = NULL;
  guint n_files = ferry_offer_get_n_files (offer);
  gboolean has_files;
  guint n_items;
  GtkListBoxRow *first;

  g_clear_object (&self->offer_model);
  self->offer_model = ferry_offer_model_new (offer);
  n_items = g_list_model_get_n_items (G_LIST_MODEL (self->offer_model));

  /* Text alone lands nowhere: no files, no folder to choose. */
  has_files = ferry_offer_get_n_entries (offer) > 0;
  if (has_files)
    title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u File Offered", "%u Files Offered",
                                          n_files), n_files);
  else
    title = g_strdup (_("Text Offered"));
  gtk_label_set_label (self->offer_title, title);
  gtk_label_set_label (self->offer_subtitle, size);
  gtk_widget_set_visible (GTK_WIDGET (self->offer_subtitle), has_files);
  gtk_widget_set_visible (self->files_box, has_files);
  gtk_widget_set_visible (self->destination_list, has_files);
  gtk_widget_set_visible (self->save_as_button, has_files);
  gtk_widget_set_visible (self->decline_button, has_files);
  gtk_widget_set_visible (self->accept_button, has_files);
  gtk_widget_set_visible (self->done_button, !has_files);
  show_text (self, ferry_offer_get_text (offer));

  notice = ferry_offer_model_dup_notice (self->offer_model);
  gtk_label_set_label (self->notice_label, notice != NULL ? notice : "");
  gtk_widget_set_visible (self->notice_box, notice != NULL);

  shown = gtk_slice_list_model_new (g_object_ref (G_LIST_MODEL (self->offer_model)), 0,
                                    MAX_LISTED_ITEMS);
  gtk_list_box_bind_model (self->offer_list, G_LIST_MODEL (shown), create_offer_row, NULL, NULL);

  if (n_items > MAX_LISTED_ITEMS)
    {
      g_autofree char *more = g_strdup_printf (_("… and %u more"), n_items - MAX_LISTED_ITEMS);

      gtk_label_set_label (self->more_label, more);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->more_label), n_items > MAX_LISTED_ITEMS);

  show_destination (self);
  gtk_stack_set_visible_child_name (self->stack, "offer");

  /* Keyboard and screen reader users start at what is offered; Accept is
   * a few Tabs (or Alt+A) away, never under the fold. */
  first = gtk_list_box_get_row_at_index (self->offer_list, 0);
  if (first != NULL && has_files)
    gtk_widget_grab_focus (GTK_WIDGET (first));
  else if (!has_files)
    gtk_widget_grab_focus (self->copy_text_button);

  /* Text alone was shown and writes nothing: taking it only tells the
   * sender it arrived, as ferry-cli does. The page stays, with Copy,
   * Open Link and Done. */
  if (!has_files)
    ferry_session_accept (self->session, self->target_folder);
}

/* An offer of text and nothing else, which stays on the offer page. */
static gboolean
is_text_only (FerryReceivePage *self)
{
  FerryOffer *offer = ferry_session_get_offer (self->session);

  return offer != NULL && ferry_offer_get_n_entries (offer) == 0;
}

static void
session_state_cb (FerrySession     *session,
                  GParamSpec       *pspec,
                  FerryReceivePage *self)
{
  switch (ferry_session_get_state (session))
    {
    case FERRY_SESSION_STATE_OFFER_RECEIVED:
      show_offer (self);
      break;

    case FERRY_SESSION_STATE_TRANSFERRING:
      if (!is_text_only (self))
        gtk_stack_set_visible_child_name (self->stack, "transfer");
      break;

    case FERRY_SESSION_STATE_DONE:
      if (!is_text_only (self))
        gtk_stack_set_visible_child_name (self->stack, "done");
      break;

    case FERRY_SESSION_STATE_NEW:
    case FERRY_SESSION_STATE_PREPARING:
    case FERRY_SESSION_STATE_WAITING:
    case FERRY_SESSION_STATE_CONNECTING:
    case FERRY_SESSION_STATE_FAILED:
    default:
      break;
    }
}

/**
 * ferry_receive_page_receive:
 *
 * Checks the typed code and, when it is well formed, meets the sender.
 * A malformed code is explained under the entry and nothing is sent.
 */
void
ferry_receive_page_receive (FerryReceivePage *self)
{
  FerryApplication *app = ferry_application_get_default ();
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  const char *text;

  g_return_if_fail (FERRY_IS_RECEIVE_PAGE (self));

  text = gtk_editable_get_text (GTK_EDITABLE (self->code_entry));
  code = ferry_code_normalize (text, &error);
  if (code == NULL)
    {
      gtk_label_set_label (self->hint_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->hint_label), TRUE);
      gtk_widget_add_css_class (GTK_WIDGET (self->code_entry), "error");
      return;
    }

  ferry_receive_page_reset (self);

  client = ferry_application_dup_rendezvous_client (app);
  self->cancellable = g_cancellable_new ();
  /* A folder picked for resuming wins over the download folder, once. */
  self->target_folder = self->chosen_folder != NULL
    ? g_steal_pointer (&self->chosen_folder)
    : ferry_application_dup_download_folder (app);
  self->session = ferry_session_new_receiver (client, ferry_application_get_store (app), code,
                                              self->target_folder);
  ferry_application_apply_settings (app, self->session);
  g_signal_connect (self->session, "notify::state", G_CALLBACK (session_state_cb), self);
  ferry_transfer_view_set_session (self->transfer_view, self->session);
  ferry_done_page_set_session (self->done_page, self->session);
  if (GTK_IS_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))))
    ferry_application_watch_session (app, GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                     self->session);

  gtk_stack_set_visible_child_name (self->stack, "connecting");
  ferry_session_run_async (self->session, self->cancellable, run_cb, g_object_ref (self));
}

static void
suggestion_clicked_cb (GtkButton        *button,
                       FerryReceivePage *self)
{
  const char *word = gtk_button_get_label (button);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->code_entry));
  const char *start = text + strlen (text);
  g_autofree char *completed = NULL;

  /* Replace the word being typed, keeping everything before it. */
  while (start > text && g_ascii_isalpha (start[-1]))
    start--;

  completed = g_strdup_printf ("%.*s%s-", (int) (start - text), text, word);
  gtk_editable_set_text (GTK_EDITABLE (self->code_entry), completed);
  gtk_editable_set_position (GTK_EDITABLE (self->code_entry), -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->code_entry));
}

static void
update_suggestions (FerryReceivePage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->code_entry));
  const char *start = text + strlen (text);
  g_auto(GStrv) words = NULL;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->suggestions_box))) != NULL)
    gtk_box_remove (self->suggestions_box, child);

  while (start > text && g_ascii_isalpha (start[-1]))
    start--;

  /* Only suggest while a word is being typed after the nameplate. */
  if (start == text || start[0] == '\0')
    return;

  words = ferry_code_complete (start, MAX_SUGGESTIONS);
  for (guint i = 0; words != NULL && words[i] != NULL; i++)
    {
      GtkWidget *button;

      if (g_ascii_strcasecmp (words[i], start) == 0)
        return;

      button = gtk_button_new_with_label (words[i]);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_add_css_class (button, "ferry-suggestion");
      g_signal_connect (button, "clicked", G_CALLBACK (suggestion_clicked_cb), self);
      gtk_box_append (self->suggestions_box, button);
    }
}

static void
code_changed_cb (GtkEditable      *editable,
                 FerryReceivePage *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->hint_label), FALSE);
  gtk_widget_remove_css_class (GTK_WIDGET (self->code_entry), "error");
  update_suggestions (self);
}

static void
code_activate_cb (GtkEntry         *entry,
                  FerryReceivePage *self)
{
  ferry_receive_page_receive (self);
}

static void
clipboard_read_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(FerryReceivePage) self = user_data;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, NULL);
  g_autofree char *label = NULL;
  const char *code;

  g_clear_pointer (&self->clipboard_code, g_free);
  if (text != NULL)
    {
      code = g_str_has_prefix (text, "ferry:") ? text + strlen ("ferry:") : text;
      self->clipboard_code = ferry_code_normalize (code, NULL);
    }

  gtk_widget_set_visible (GTK_WIDGET (self->paste_button), self->clipboard_code != NULL);
  if (self->clipboard_code != NULL)
    {
      /* Translators: %s is a share code found on the clipboard */
      label = g_strdup_printf (_("Paste “%s”"), self->clipboard_code);
      gtk_button_set_label (self->paste_button, label);
    }
}

/* A code copied from a chat is offered with one click when the page shows. */
static void
ferry_receive_page_map (GtkWidget *widget)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);

  GTK_WIDGET_CLASS (ferry_receive_page_parent_class)->map (widget);

  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL,
                                 clipboard_read_cb, g_object_ref (self));
}

static gboolean
ferry_receive_page_grab_focus (GtkWidget *widget)
{
  return gtk_widget_grab_focus (GTK_WIDGET (FERRY_RECEIVE_PAGE (widget)->code_entry));
}

static void
receive_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  ferry_receive_page_receive (FERRY_RECEIVE_PAGE (widget));
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);

  if (self->clipboard_code != NULL)
    ferry_receive_page_set_code (self, self->clipboard_code);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);

  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The receiver cancelled."));
  ferry_receive_page_reset (self);
}

/**
 * ferry_receive_page_set_target_folder:
 * @folder: where the next receive lands
 *
 * Used to resume: the verified part of an interrupted transfer waits in
 * @folder, so the next transfer with the same files lands there too.
 */
void
ferry_receive_page_set_target_folder (FerryReceivePage *self,
                                      GFile            *folder)
{
  g_return_if_fail (FERRY_IS_RECEIVE_PAGE (self));
  g_return_if_fail (G_IS_FILE (folder));

  ferry_receive_page_reset (self);
  g_set_object (&self->chosen_folder, folder);
  gtk_widget_grab_focus (GTK_WIDGET (self->code_entry));
}

/**
 * ferry_receive_page_accept:
 *
 * Accepts the offer shown, into the folder shown under it.
 */
void
ferry_receive_page_accept (FerryReceivePage *self)
{
  g_return_if_fail (FERRY_IS_RECEIVE_PAGE (self));

  if (self->session == NULL ||
      ferry_session_get_state (self->session) != FERRY_SESSION_STATE_OFFER_RECEIVED)
    return;

  gtk_stack_set_visible_child_name (self->stack, "transfer");
  ferry_session_accept (self->session, self->target_folder);
}

void
ferry_receive_page_decline (FerryReceivePage *self)
{
  g_return_if_fail (FERRY_IS_RECEIVE_PAGE (self));

  if (self->session == NULL ||
      ferry_session_get_state (self->session) != FERRY_SESSION_STATE_OFFER_RECEIVED)
    return;

  ferry_session_decline (self->session, _("The receiver declined."));
  ferry_receive_page_reset (self);
}

static void
accept_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ferry_receive_page_accept (FERRY_RECEIVE_PAGE (widget));
}

static void
decline_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  ferry_receive_page_decline (FERRY_RECEIVE_PAGE (widget));
}

static void
save_as_response_cb (GtkNativeDialog  *dialog,
                     int               response,
                     FerryReceivePage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (folder != NULL)
        {
          g_set_object (&self->target_folder, folder);
          show_destination (self);
          ferry_receive_page_accept (self);
        }
    }

  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
save_as_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Save the Files Into"),
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                         _("_Save Here"),
                                         _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (save_as_response_cb), widget);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* What arrived: the single top-level item of the offer, or the folder. */
static GFile *
dup_received (FerryReceivePage *self)
{
  FerryTransfer *transfer = self->session ? ferry_session_get_transfer (self->session) : NULL;
  GFile *folder = transfer != NULL ? ferry_transfer_get_target_folder (transfer) : NULL;

  return g_object_ref (folder != NULL ? folder : self->target_folder);
}

static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  g_autoptr(GFile) file = dup_received (FERRY_RECEIVE_PAGE (widget));
  g_autofree char *uri = g_file_get_uri (file);
  GtkRoot *root = gtk_widget_get_root (widget);

  gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME);
}

static void
copy_text_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);
  FerryOffer *offer = self->session != NULL ? ferry_session_get_offer (self->session) : NULL;
  GtkRoot *root = gtk_widget_get_root (widget);

  if (offer == NULL || ferry_offer_get_text (offer) == NULL)
    return;

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), ferry_offer_get_text (offer));
  if (ADW_IS_APPLICATION_WINDOW (root))
    gtk_widget_activate_action (GTK_WIDGET (root), "win.toast", "s", _("Text copied"));
}

static void
open_link_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);

  if (self->link != NULL)
    gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, self->link, GDK_CURRENT_TIME);
}

static void
show_in_folder_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (widget);
  g_autoptr(GFile) received = dup_received (self);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWindow *window = GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
  g_autofree char *uri = NULL;

  /* What arrived, selected in the folder it was saved into. */
  if (!g_file_equal (received, self->target_folder))
    {
      ferry_show_item (window, received);
      return;
    }
  uri = g_file_get_uri (self->target_folder);
  gtk_show_uri (window, uri, GDK_CURRENT_TIME);
}

/**
 * ferry_receive_page_get_transfer_view:
 *
 * Returns: (transfer none): the view of the running transfer
 */
FerryTransferView *
ferry_receive_page_get_transfer_view (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return self->transfer_view;
}

/**
 * ferry_receive_page_get_done_page:
 *
 * Returns: (transfer none): the page shown once everything arrived
 */
FerryDonePage *
ferry_receive_page_get_done_page (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return self->done_page;
}

/**
 * ferry_receive_page_get_offer_model:
 *
 * Returns: (transfer none) (nullable): the offer shown
 */
FerryOfferModel *
ferry_receive_page_get_offer_model (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return self->offer_model;
}

/**
 * ferry_receive_page_get_notice:
 *
 * Returns: (nullable): the notice above the offer, if it shows one
 */
const char *
ferry_receive_page_get_notice (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  if (!gtk_widget_get_visible (self->notice_box))
    return NULL;

  return gtk_label_get_label (self->notice_label);
}

/**
 * ferry_receive_page_get_page_name:
 *
 * Returns: which step the page shows, e.g. "code" or "error"
 */
const char *
ferry_receive_page_get_page_name (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

const char *
ferry_receive_page_get_error_title (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return ferry_error_page_get_title (self->error_page);
}

/**
 * ferry_receive_page_get_entered_code:
 *
 * Returns: the text in the code entry, as typed or filled in from a link
 */
const char *
ferry_receive_page_get_entered_code (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return gtk_editable_get_text (GTK_EDITABLE (self->code_entry));
}

/**
 * ferry_receive_page_get_hint:
 *
 * Returns: (nullable): the explanation shown under the entry, if any
 */
const char *
ferry_receive_page_get_hint (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  if (!gtk_widget_get_visible (GTK_WIDGET (self->hint_label)))
    return NULL;

  return gtk_label_get_label (self->hint_label);
}

/**
 * ferry_receive_page_get_shown_text:
 *
 * Returns: (nullable): the offered text as the offer page shows it, or
 *   %NULL when none is shown
 */
const char *
ferry_receive_page_get_shown_text (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  if (!gtk_widget_get_visible (self->text_box))
    return NULL;
  return gtk_label_get_label (self->text_label);
}

/**
 * ferry_receive_page_get_link:
 *
 * Returns: (nullable): the http(s) link Open Link opens, if any
 */
const char *
ferry_receive_page_get_link (FerryReceivePage *self)
{
  g_return_val_if_fail (FERRY_IS_RECEIVE_PAGE (self), NULL);

  return self->link;
}

static void
ferry_receive_page_dispose (GObject *object)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_object (&self->target_folder);
  g_clear_object (&self->offer_model);

  G_OBJECT_CLASS (ferry_receive_page_parent_class)->dispose (object);
}

static void
ferry_receive_page_finalize (GObject *object)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (object);

  g_clear_pointer (&self->clipboard_code, g_free);
  g_clear_pointer (&self->link, g_free);
  g_clear_object (&self->chosen_folder);

  G_OBJECT_CLASS (ferry_receive_page_parent_class)->finalize (object);
}

static void
ferry_receive_page_class_init (FerryReceivePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_receive_page_dispose;
  object_class->finalize = ferry_receive_page_finalize;

  widget_class->map = ferry_receive_page_map;
  widget_class->grab_focus = ferry_receive_page_grab_focus;

  g_type_ensure (FERRY_TYPE_SERVER_NOTICE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-receive-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, code_entry);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, suggestions_box);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, hint_label);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, paste_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, error_page);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, offer_title);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, offer_subtitle);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, files_box);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, text_box);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, text_label);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, open_link_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, copy_text_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, destination_list);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, save_as_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, decline_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, accept_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, done_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, notice_box);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, notice_label);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, offer_list);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, more_label);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, destination_row);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, done_page);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, transfer_view);
  gtk_widget_class_bind_template_callback (widget_class, code_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, code_activate_cb);

  gtk_widget_class_install_action (widget_class, "receive.receive", NULL, receive_action);
  gtk_widget_class_install_action (widget_class, "receive.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "receive.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "receive.accept", NULL, accept_action);
  gtk_widget_class_install_action (widget_class, "receive.save-as", NULL, save_as_action);
  gtk_widget_class_install_action (widget_class, "receive.decline", NULL, decline_action);
  gtk_widget_class_install_action (widget_class, "receive.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "receive.copy-text", NULL, copy_text_action);
  gtk_widget_class_install_action (widget_class, "receive.open-link", NULL, open_link_action);
  gtk_widget_class_install_action (widget_class, "receive.show-in-folder", NULL,
                                   show_in_folder_action);
}

static void
ferry_receive_page_init (FerryReceivePage *self)
{
  g_type_ensure (FERRY_TYPE_TRANSFER_VIEW);
  g_type_ensure (FERRY_TYPE_ERROR_PAGE);
  g_type_ensure (FERRY_TYPE_DONE_PAGE);
  gtk_widget_init_template (GTK_WIDGET (self));
}
