/* ferry-send-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-send-page"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-code.h"
#include "ferry-done-page.h"
#include "ferry-error-page.h"
#include "ferry-names.h"
#include "ferry-offer-model.h"
#include "ferry-qr.h"
#include "ferry-send-page.h"
#include "ferry-server-notice.h"
#include "ferry-session.h"
#include "ferry-transfer-view.h"

/* Names spelled out on the summary row before "and N more". */
#define MAX_NAMES 2
/* Pixels per QR module: about 180 px for a three-word code. */
#define QR_MODULE_SIZE 5

struct _FerrySendPage
{
  AdwBin             parent_instance;

  GtkStack          *stack;
  GtkLabel          *code_label;
  GtkPicture        *qr_picture;
  GtkLabel          *status_label;
  AdwExpanderRow    *items_row;
  GtkWidget         *add_row;
  FerryDonePage     *done_page;
  FerryErrorPage    *error_page;
  FerryTransferView *transfer_view;

  /* What the person chose, in order: GFile; and a note or link. */
  GListStore        *items;
  char              *text;
  GPtrArray         *item_rows;
  FerryOfferModel   *offer_model;

  FerrySession      *session;
  GCancellable      *cancellable;
};

G_DEFINE_FINAL_TYPE (FerrySendPage, ferry_send_page, ADW_TYPE_BIN)

static void ferry_send_page_start (FerrySendPage *self);

static void
ferry_send_page_show_error (FerrySendPage *self,
                            const GError  *error)
{
  ferry_error_page_set_error (self->error_page, error);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

/* Lets go of the session, quietly: whoever calls this told the other side
 * already, or there is none yet. */
static void
drop_session (FerrySendPage *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_object (&self->offer_model);
  ferry_transfer_view_set_session (self->transfer_view, NULL);

  gtk_label_set_label (self->code_label, "");
  gtk_picture_set_paintable (self->qr_picture, NULL);
}

static void
ferry_send_page_reset (FerrySendPage *self)
{
  drop_session (self);
  g_list_store_remove_all (self->items);
  g_clear_pointer (&self->text, g_free);
  gtk_stack_set_visible_child_name (self->stack, "choose");
}

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(FerrySendPage) self = user_data;
  g_autoptr(GError) error = NULL;

  /* A session this page already let go of (cancelled, replaced) ends quietly. */
  if (ferry_session_run_finish (FERRY_SESSION (object), result, &error) ||
      FERRY_SESSION (object) != self->session)
    return;

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ferry_send_page_show_error (self, error);
}

/* Whether what is sent may still change: until the receiver arrives. */
static gboolean
is_editable (FerrySendPage *self)
{
  return self->session != NULL &&
         ferry_session_get_state (self->session) < FERRY_SESSION_STATE_CONNECTING;
}

static void
update_actions (FerrySendPage *self)
{
  gboolean editable = is_editable (self);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "send.add-files", editable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "send.add-folder", editable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "send.remove-item", editable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "send.remove-text", editable);
  gtk_widget_set_visible (self->add_row, editable);
}

static char *
dup_item_name (GFile *file)
{
  g_autofree char *basename = g_file_get_basename (file);

  return ferry_offer_escape_name (basename != NULL ? basename : "", -1);
}

/* The text's first line, escaped and cut like a name, for a row title. */
static char *
dup_text_excerpt (const char *text)
{
  const char *newline = strchr (text, '\n');
  g_autofree char *line = ferry_offer_escape_name (text, newline != NULL ? newline - text : -1);

  return newline != NULL ? g_strconcat (line, " …", NULL) : g_steal_pointer (&line);
}

static GtkWidget *
create_remove_button (const char *name,
                      const char *action_name)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("list-remove-symbolic");
  g_autofree char *remove_label = NULL;

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, _("Remove"));
  /* Translators: accessible name of the button that removes “%s” from what is sent */
  remove_label = g_strdup_printf (_("Remove “%s”"), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, remove_label, -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action_name);
  return button;
}

/* The text, when one is sent, is a row of its own that can be removed. */
static void
add_text_row (FerrySendPage *self)
{
  g_autofree char *excerpt = NULL;
  GtkWidget *row;

  if (self->text == NULL)
    return;

  excerpt = dup_text_excerpt (self->text);
  row = adw_action_row_new ();
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), excerpt);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Text"));
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row), "edit-paste-symbolic");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                             create_remove_button (_("Text"), "send.remove-text"));
  adw_expander_row_add_row (self->items_row, row);
  g_ptr_array_add (self->item_rows, row);
}

/* The summary row says what is sent — the first names, how many files and
 * how large — so nobody reads out the code for the wrong files; expanded,
 * it lists each chosen item with a button to remove it. */
static void
update_items (FerrySendPage *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->items));
  g_autofree const char **basenames = g_new0 (const char *, n + 1);
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *names = NULL;
  g_autofree char *summary = NULL;

  for (guint i = 0; i < self->item_rows->len; i++)
    adw_expander_row_remove (self->items_row, g_ptr_array_index (self->item_rows, i));
  g_ptr_array_set_size (self->item_rows, 0);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GFile) file = g_list_model_get_item (G_LIST_MODEL (self->items), i);
      FerryOfferItem *item = self->offer_model != NULL
        ? ferry_offer_model_find_local_file (self->offer_model, file) : NULL;
      g_autofree char *name = dup_item_name (file);
      g_autofree char *subtitle = item != NULL ? ferry_offer_item_dup_summary (item) : NULL;
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button;

      g_ptr_array_add (owned, g_file_get_basename (file));
      basenames[i] = g_ptr_array_index (owned, i);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      if (subtitle != NULL)
        adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                    item != NULL && ferry_offer_item_is_folder (item)
                                    ? "folder-symbolic" : "text-x-generic-symbolic");

      button = create_remove_button (name, "send.remove-item");
      gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "u", i);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);

      adw_expander_row_add_row (self->items_row, row);
      g_ptr_array_add (self->item_rows, row);
    }

  add_text_row (self);

  /* The row to add more stays last. */
  g_object_ref (self->add_row);
  adw_expander_row_remove (self->items_row, self->add_row);
  adw_expander_row_add_row (self->items_row, self->add_row);
  g_object_unref (self->add_row);

  if (n == 0 && self->text != NULL)
    {
      /* Text alone: its start says what it is. */
      names = g_strdup (_("Text"));
      summary = dup_text_excerpt (self->text);
    }
  else
    {
      names = ferry_names_join (basenames, n, MAX_NAMES);
      summary = self->offer_model != NULL ? ferry_offer_model_dup_summary (self->offer_model)
                                          : g_strdup (_("Counting files…"));
      if (self->text != NULL)
        {
          /* Translators: %s is what is sent, e.g. "2 files · 3 MB" */
          g_autofree char *with_text = g_strdup_printf (_("%s · and a text"), summary);

          g_free (summary);
          summary = g_steal_pointer (&with_text);
        }
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->items_row), names);
  adw_expander_row_set_subtitle (self->items_row, summary);
}

static void
show_code (FerrySendPage *self)
{
  const char *code = ferry_session_get_code (self->session);
  g_autofree char *uri = g_strconcat ("ferry:", code, NULL);
  g_autoptr(GdkTexture) qr = ferry_qr_texture_new (uri, QR_MODULE_SIZE);

  gtk_label_set_label (self->code_label, code);
  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (qr));
  gtk_label_set_label (self->status_label, _("Waiting for the receiver…"));
  gtk_stack_set_visible_child_name (self->stack, "code");
}

/* The page follows the session: one step, one page. */
static void
session_state_cb (FerrySession  *session,
                  GParamSpec    *pspec,
                  FerrySendPage *self)
{
  update_actions (self);

  switch (ferry_session_get_state (session))
    {
    case FERRY_SESSION_STATE_WAITING:
      show_code (self);
      break;

    case FERRY_SESSION_STATE_CONNECTING:
      gtk_label_set_label (self->status_label, _("Connecting to the receiver…"));
      break;

    case FERRY_SESSION_STATE_OFFER_RECEIVED:
    case FERRY_SESSION_STATE_TRANSFERRING:
      gtk_stack_set_visible_child_name (self->stack, "transfer");
      break;

    case FERRY_SESSION_STATE_DONE:
      gtk_stack_set_visible_child_name (self->stack, "done");
      break;

    case FERRY_SESSION_STATE_NEW:
    case FERRY_SESSION_STATE_PREPARING:
    case FERRY_SESSION_STATE_FAILED:
    default:
      break;
    }
}

/* Once QUIC is up the sender waits for the receiver's answer: show the
 * transfer with its path right away. */
static void
session_transfer_cb (FerrySession  *session,
                     GParamSpec    *pspec,
                     FerrySendPage *self)
{
  if (ferry_session_get_transfer (session) != NULL)
    gtk_stack_set_visible_child_name (self->stack, "transfer");
}

/* The files have been read: now the counts and sizes are known. */
static void
session_offer_cb (FerrySession  *session,
                  GParamSpec    *pspec,
                  FerrySendPage *self)
{
  FerryOffer *offer = ferry_session_get_offer (session);

  g_clear_object (&self->offer_model);
  if (offer != NULL)
    self->offer_model = ferry_offer_model_new (offer);
  update_items (self);
}

/* Sends what is chosen with a new code: asks the rendezvous server for it
 * and shows it, with a QR code of its ferry: link, until the receiver
 * arrives; then the transfer. */
static void
ferry_send_page_start (FerrySendPage *self)
{
  FerryApplication *app = ferry_application_get_default ();
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  const char *shown = gtk_stack_get_visible_child_name (self->stack);
  int n_words;

  drop_session (self);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->items)); i++)
    g_ptr_array_add (files, g_list_model_get_item (G_LIST_MODEL (self->items), i));

  client = ferry_application_dup_rendezvous_client (app);
  n_words = g_settings_get_int (ferry_application_get_settings (app), "code-word-count");

  self->cancellable = g_cancellable_new ();
  self->session = ferry_session_new_sender (client, ferry_application_get_store (app),
                                            (GFile **) files->pdata, files->len);
  ferry_session_set_word_count (self->session, (guint) CLAMP (n_words, FERRY_CODE_MIN_WORDS,
                                                               FERRY_CODE_MAX_WORDS));
  ferry_session_set_text (self->session, self->text);
  ferry_application_apply_settings (app, self->session);
  g_signal_connect (self->session, "notify::state", G_CALLBACK (session_state_cb), self);
  g_signal_connect (self->session, "notify::transfer", G_CALLBACK (session_transfer_cb), self);
  g_signal_connect (self->session, "notify::offer", G_CALLBACK (session_offer_cb), self);
  ferry_transfer_view_set_session (self->transfer_view, self->session);
  ferry_done_page_set_session (self->done_page, self->session);
  if (GTK_IS_WINDOW (root))
    ferry_application_watch_session (app, GTK_WINDOW (root), self->session);

  update_items (self);
  update_actions (self);

  /* A changed choice keeps the page, with the old code gone until the new
   * one is there. */
  if (g_strcmp0 (shown, "code") == 0)
    gtk_label_set_label (self->status_label, _("Getting a new code…"));
  else
    gtk_stack_set_visible_child_name (self->stack, "preparing");

  ferry_session_run_async (self->session, self->cancellable, run_cb, g_object_ref (self));
}

/* The session took the files once, so a changed choice needs a new one:
 * the old code is given up before anyone used it. */
static void
ferry_send_page_restart (FerrySendPage *self)
{
  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The sender changed what to send."));

  if (g_list_model_get_n_items (G_LIST_MODEL (self->items)) == 0 && self->text == NULL)
    ferry_send_page_reset (self);
  else
    ferry_send_page_start (self);
}

static gboolean
has_file (FerrySendPage *self,
          GFile         *file)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->items)); i++)
    {
      g_autoptr(GFile) item = g_list_model_get_item (G_LIST_MODEL (self->items), i);

      if (g_file_equal (item, file))
        return TRUE;
    }

  return FALSE;
}

static guint
append_files (FerrySendPage  *self,
              GFile         **files,
              guint           n_files)
{
  guint added = 0;

  for (guint i = 0; i < n_files; i++)
    if (!has_file (self, files[i]))
      {
        g_list_store_append (self->items, files[i]);
        added++;
      }

  return added;
}

/**
 * ferry_send_page_send_files:
 * @files: (array length=n_files): what to send
 *
 * Starts sending @files, in place of whatever the page did before: gets a
 * code and shows it with what is sent until the receiver arrives; then
 * the transfer.
 */
void
ferry_send_page_send_files (FerrySendPage  *self,
                            GFile         **files,
                            guint           n_files)
{
  g_return_if_fail (FERRY_IS_SEND_PAGE (self));
  g_return_if_fail (files != NULL || n_files == 0);

  if (n_files == 0)
    return;

  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The sender cancelled."));
  drop_session (self);
  g_list_store_remove_all (self->items);
  g_clear_pointer (&self->text, g_free);
  append_files (self, files, n_files);
  gtk_stack_set_visible_child_name (self->stack, "preparing");
  ferry_send_page_start (self);
}

/**
 * ferry_send_page_send_text:
 * @text: a note or link, as ferry_offer_check_text() allows
 *
 * Like ferry_send_page_send_files() for a text; while the code waits for
 * its receiver, the text is added to what is sent instead, or replaces
 * the text sent so far.
 */
void
ferry_send_page_send_text (FerrySendPage *self,
                           const char    *text)
{
  g_return_if_fail (FERRY_IS_SEND_PAGE (self));
  g_return_if_fail (text != NULL && ferry_offer_check_text (text, strlen (text), NULL));

  if (is_editable (self))
    {
      g_free (self->text);
      self->text = g_strdup (text);
      ferry_send_page_restart (self);
      return;
    }

  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The sender cancelled."));
  drop_session (self);
  g_list_store_remove_all (self->items);
  g_free (self->text);
  self->text = g_strdup (text);
  gtk_stack_set_visible_child_name (self->stack, "preparing");
  ferry_send_page_start (self);
}

/**
 * ferry_send_page_remove_text:
 *
 * Takes the text out of what is sent, before the receiver arrives; with
 * nothing else left, that ends the send.
 */
void
ferry_send_page_remove_text (FerrySendPage *self)
{
  g_return_if_fail (FERRY_IS_SEND_PAGE (self));

  if (!is_editable (self) || self->text == NULL)
    return;

  g_clear_pointer (&self->text, g_free);
  ferry_send_page_restart (self);
}

/**
 * ferry_send_page_can_add:
 *
 * Returns: whether ferry_send_page_add_files() adds to a send that waits
 *   for its receiver
 */
gboolean
ferry_send_page_can_add (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), FALSE);

  return is_editable (self);
}

/**
 * ferry_send_page_add_files:
 * @files: (array length=n_files): more to send
 *
 * Adds @files to what is sent, before the receiver arrives; with nothing
 * under way, starts sending them.
 */
void
ferry_send_page_add_files (FerrySendPage  *self,
                           GFile         **files,
                           guint           n_files)
{
  g_return_if_fail (FERRY_IS_SEND_PAGE (self));
  g_return_if_fail (files != NULL || n_files == 0);

  if (!is_editable (self))
    {
      ferry_send_page_send_files (self, files, n_files);
      return;
    }

  if (append_files (self, files, n_files) > 0)
    ferry_send_page_restart (self);
}

/**
 * ferry_send_page_remove_item:
 * @index: which chosen item
 *
 * Takes an item out of what is sent, before the receiver arrives. Taking
 * the last one out ends the send.
 */
void
ferry_send_page_remove_item (FerrySendPage *self,
                             guint          index)
{
  g_return_if_fail (FERRY_IS_SEND_PAGE (self));

  if (!is_editable (self) || index >= g_list_model_get_n_items (G_LIST_MODEL (self->items)))
    return;

  g_list_store_remove (self->items, index);
  ferry_send_page_restart (self);
}

/**
 * ferry_send_page_is_busy:
 *
 * Returns: whether the page is sending something, from getting the code
 *   to the last byte
 */
gboolean
ferry_send_page_is_busy (FerrySendPage *self)
{
  FerrySessionState state;

  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), FALSE);

  if (self->session == NULL)
    return FALSE;

  state = ferry_session_get_state (self->session);
  return state != FERRY_SESSION_STATE_DONE && state != FERRY_SESSION_STATE_FAILED;
}

const char *
ferry_send_page_get_code (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  /* The code counts once it is shown, i.e. once its mailbox is open. */
  if (self->session == NULL || ferry_session_get_state (self->session) < FERRY_SESSION_STATE_WAITING)
    return NULL;

  return ferry_session_get_code (self->session);
}

/**
 * ferry_send_page_dup_summary:
 *
 * Returns: (transfer full): what the page says is sent: the names, then
 *   the counts and size, one a line
 */
char *
ferry_send_page_dup_summary (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return g_strdup_printf ("%s\n%s",
                          adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->items_row)),
                          adw_expander_row_get_subtitle (self->items_row));
}

/**
 * ferry_send_page_get_offer_model:
 *
 * Returns: (transfer none) (nullable): what is sent, once the files are read
 */
FerryOfferModel *
ferry_send_page_get_offer_model (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return self->offer_model;
}

static void
chooser_response_cb (GtkNativeDialog *dialog,
                     int              response,
                     gpointer         user_data)
{
  FerrySendPage *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) model = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        g_ptr_array_add (files, g_list_model_get_item (model, i));

      /* From the code page the choice adds to what is sent. */
      if (is_editable (self))
        ferry_send_page_add_files (self, (GFile **) files->pdata, files->len);
      else
        ferry_send_page_send_files (self, (GFile **) files->pdata, files->len);
    }

  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
choose (FerrySendPage        *self,
        GtkFileChooserAction  action,
        const char           *title,
        const char           *accept_label)
{
  GtkFileChooserNative *chooser;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  /* GtkFileChooserNative goes through the file chooser portal in Flatpak,
   * so Ferry only sees what the user picked. */
  chooser = gtk_file_chooser_native_new (title,
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         action,
                                         accept_label,
                                         _("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* The four ways to pick what is sent: to start a send, or to add to one
 * whose code waits. */
static const struct
{
  const char           *action_name;
  GtkFileChooserAction  action;
  const char           *title;
  const char           *accept_label;
} choosers[] = {
  { "send.choose-files", GTK_FILE_CHOOSER_ACTION_OPEN, N_("Choose Files to Send"), N_("_Send") },
  { "send.choose-folder", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, N_("Choose a Folder to Send"),
    N_("_Send") },
  { "send.add-files", GTK_FILE_CHOOSER_ACTION_OPEN, N_("Add Files to Send"), N_("_Add") },
  { "send.add-folder", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, N_("Add a Folder to Send"),
    N_("_Add") },
};

static void
choose_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  for (guint i = 0; i < G_N_ELEMENTS (choosers); i++)
    if (g_str_equal (action_name, choosers[i].action_name))
      choose (FERRY_SEND_PAGE (widget), choosers[i].action, _(choosers[i].title),
              _(choosers[i].accept_label));
}

static char *
dup_buffer_text (GtkTextBuffer *buffer)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* Send is offered only for text the receiver will take. */
static void
text_changed_cb (GtkTextBuffer    *buffer,
                 AdwMessageDialog *dialog)
{
  g_autofree char *text = dup_buffer_text (buffer);
  gboolean ok = ferry_offer_check_text (text, strlen (text), NULL);

  adw_message_dialog_set_response_enabled (dialog, "send", ok);
}

static void
text_response_cb (AdwMessageDialog *dialog,
                  const char       *response,
                  FerrySendPage    *self)
{
  GtkTextBuffer *buffer = g_object_get_data (G_OBJECT (dialog), "buffer");
  g_autofree char *text = dup_buffer_text (buffer);

  if (g_str_equal (response, "send") && ferry_offer_check_text (text, strlen (text), NULL))
    ferry_send_page_send_text (self, text);
}

/* "Send Text": a note or a link, typed or pasted; the receiver sees it
 * before accepting anything. */
static void
write_text_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  FerrySendPage *self = FERRY_SEND_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog, *scrolled, *view;
  GtkTextBuffer *buffer;

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Send Text"),
                                   _("A note or a link. The receiver sees it before accepting."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "send", _("_Send"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "send",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "send");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "send", FALSE);

  view = gtk_text_view_new ();
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_accepts_tab (GTK_TEXT_VIEW (view), FALSE);
  gtk_widget_add_css_class (view, "card");
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_right_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_bottom_margin (GTK_TEXT_VIEW (view), 8);
  gtk_accessible_update_property (GTK_ACCESSIBLE (view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Text to send"), -1);
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scrolled), 120);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), view);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), scrolled);

  buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
  g_object_set_data (G_OBJECT (dialog), "buffer", buffer);
  g_signal_connect_object (buffer, "changed", G_CALLBACK (text_changed_cb), dialog, 0);
  g_signal_connect_object (dialog, "response", G_CALLBACK (text_response_cb), self, 0);

  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (view);
}

static void
remove_text_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  ferry_send_page_remove_text (FERRY_SEND_PAGE (widget));
}

static void
remove_item_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  ferry_send_page_remove_item (FERRY_SEND_PAGE (widget), g_variant_get_uint32 (parameter));
}

static void
copy_code_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  FerrySendPage *self = FERRY_SEND_PAGE (widget);
  const char *code = gtk_label_get_label (self->code_label);
  GtkRoot *root = gtk_widget_get_root (widget);

  if (code[0] == '\0')
    return;

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), code);
  if (ADW_IS_APPLICATION_WINDOW (root))
    gtk_widget_activate_action (GTK_WIDGET (root), "win.toast", "s", _("Code copied"));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  FerrySendPage *self = FERRY_SEND_PAGE (widget);

  /* The receiver is told, and the session cleans up behind itself. */
  if (self->session != NULL)
    ferry_session_cancel (self->session, _("The sender cancelled."));
  ferry_send_page_reset (self);
}

/**
 * ferry_send_page_get_transfer_view:
 *
 * Returns: (transfer none): the view of the running transfer
 */
FerryTransferView *
ferry_send_page_get_transfer_view (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return self->transfer_view;
}

/**
 * ferry_send_page_get_done_page:
 *
 * Returns: (transfer none): the page shown once everything arrived
 */
FerryDonePage *
ferry_send_page_get_done_page (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return self->done_page;
}

/**
 * ferry_send_page_get_page_name:
 *
 * Returns: which step the page shows, e.g. "code" or "error"
 */
const char *
ferry_send_page_get_page_name (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

const char *
ferry_send_page_get_error_title (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  return ferry_error_page_get_title (self->error_page);
}

static void
ferry_send_page_dispose (GObject *object)
{
  FerrySendPage *self = FERRY_SEND_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_object (&self->offer_model);

  G_OBJECT_CLASS (ferry_send_page_parent_class)->dispose (object);
}

static void
ferry_send_page_finalize (GObject *object)
{
  FerrySendPage *self = FERRY_SEND_PAGE (object);

  g_clear_object (&self->items);
  g_clear_pointer (&self->item_rows, g_ptr_array_unref);
  g_clear_pointer (&self->text, g_free);

  G_OBJECT_CLASS (ferry_send_page_parent_class)->finalize (object);
}

static void
ferry_send_page_class_init (FerrySendPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_send_page_dispose;
  object_class->finalize = ferry_send_page_finalize;

  g_type_ensure (FERRY_TYPE_SERVER_NOTICE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-send-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, code_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, status_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, items_row);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, add_row);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, done_page);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, transfer_view);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, error_page);

  for (guint i = 0; i < G_N_ELEMENTS (choosers); i++)
    gtk_widget_class_install_action (widget_class, choosers[i].action_name, NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "send.remove-item", "u", remove_item_action);
  gtk_widget_class_install_action (widget_class, "send.write-text", NULL, write_text_action);
  gtk_widget_class_install_action (widget_class, "send.remove-text", NULL, remove_text_action);
  gtk_widget_class_install_action (widget_class, "send.copy-code", NULL, copy_code_action);
  gtk_widget_class_install_action (widget_class, "send.cancel", NULL, cancel_action);
}

static void
ferry_send_page_init (FerrySendPage *self)
{
  g_type_ensure (FERRY_TYPE_TRANSFER_VIEW);
  g_type_ensure (FERRY_TYPE_ERROR_PAGE);
  g_type_ensure (FERRY_TYPE_DONE_PAGE);
  gtk_widget_init_template (GTK_WIDGET (self));

  self->items = g_list_store_new (G_TYPE_FILE);
  self->item_rows = g_ptr_array_new ();
  update_actions (self);
}
