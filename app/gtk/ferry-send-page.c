/* ferry-send-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-send-page"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-code.h"
#include "ferry-session.h"
#include "ferry-error-page.h"
#include "ferry-qr.h"
#include "ferry-send-page.h"
#include "ferry-transfer-view.h"

struct _FerrySendPage
{
  AdwBin          parent_instance;

  GtkStack       *stack;
  GtkLabel       *code_label;
  GtkPicture     *qr_picture;
  GtkLabel       *status_label;
  AdwStatusPage  *done_page;
  FerryErrorPage *error_page;
  FerryTransferView *transfer_view;

  FerrySession   *session;
  GCancellable   *cancellable;
};

G_DEFINE_FINAL_TYPE (FerrySendPage, ferry_send_page, ADW_TYPE_BIN)

static void
ferry_send_page_show_error (FerrySendPage *self,
                            const GError  *error)
{
  ferry_error_page_set_error (self->error_page, error);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
ferry_send_page_reset (FerrySendPage *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  ferry_transfer_view_set_session (self->transfer_view, NULL);

  gtk_label_set_label (self->code_label, "");
  gtk_picture_set_paintable (self->qr_picture, NULL);
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

static void
show_code (FerrySendPage *self)
{
  const char *code = ferry_session_get_code (self->session);
  g_autofree char *uri = g_strconcat ("ferry:", code, NULL);
  g_autoptr(GdkTexture) qr = ferry_qr_texture_new (uri, 8);

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

/**
 * ferry_send_page_send_files:
 *
 * Starts sending @files: asks the rendezvous server for a code and shows
 * it, with a QR code of its ferry: link, until the receiver arrives; then
 * the transfer.
 */
void
ferry_send_page_send_files (FerrySendPage  *self,
                            GFile         **files,
                            guint           n_files)
{
  FerryApplication *app = ferry_application_get_default ();
  g_autoptr(FerryRendezvousClient) client = NULL;
  int n_words;

  g_return_if_fail (FERRY_IS_SEND_PAGE (self));
  g_return_if_fail (files != NULL || n_files == 0);

  if (n_files == 0)
    return;

  ferry_send_page_reset (self);

  client = ferry_application_dup_rendezvous_client (app);
  n_words = g_settings_get_int (ferry_application_get_settings (app), "code-word-count");

  self->cancellable = g_cancellable_new ();
  self->session = ferry_session_new_sender (client, ferry_application_get_store (app),
                                            files, n_files);
  ferry_session_set_word_count (self->session, (guint) CLAMP (n_words, FERRY_CODE_MIN_WORDS,
                                                               FERRY_CODE_MAX_WORDS));
  g_signal_connect (self->session, "notify::state", G_CALLBACK (session_state_cb), self);
  g_signal_connect (self->session, "notify::transfer", G_CALLBACK (session_transfer_cb), self);
  ferry_transfer_view_set_session (self->transfer_view, self->session);
  if (GTK_IS_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))))
    ferry_application_watch_session (app, GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                     self->session);

  gtk_stack_set_visible_child_name (self->stack, "preparing");
  ferry_session_run_async (self->session, self->cancellable, run_cb, g_object_ref (self));
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

      ferry_send_page_send_files (self, (GFile **) files->pdata, files->len);
    }

  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
choose (FerrySendPage        *self,
        GtkFileChooserAction  action,
        const char           *title)
{
  GtkFileChooserNative *chooser;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  /* GtkFileChooserNative goes through the file chooser portal in Flatpak,
   * so Ferry only sees what the user picked. */
  chooser = gtk_file_chooser_native_new (title,
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         action,
                                         _("_Send"),
                                         _("_Cancel"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
choose_files_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  choose (FERRY_SEND_PAGE (widget), GTK_FILE_CHOOSER_ACTION_OPEN, _("Choose Files to Send"));
}

static void
choose_folder_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  choose (FERRY_SEND_PAGE (widget), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
          _("Choose a Folder to Send"));
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

static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         gpointer       user_data)
{
  FerrySendPage *self = user_data;
  GSList *list = g_value_get_boxed (value);
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  for (GSList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (files, l->data);

  ferry_send_page_send_files (self, (GFile **) files->pdata, files->len);
  return files->len > 0;
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

  G_OBJECT_CLASS (ferry_send_page_parent_class)->dispose (object);
}

static void
ferry_send_page_class_init (FerrySendPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_send_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-send-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, code_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, status_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, done_page);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, transfer_view);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, error_page);

  gtk_widget_class_install_action (widget_class, "send.choose-files", NULL, choose_files_action);
  gtk_widget_class_install_action (widget_class, "send.choose-folder", NULL,
                                   choose_folder_action);
  gtk_widget_class_install_action (widget_class, "send.copy-code", NULL, copy_code_action);
  gtk_widget_class_install_action (widget_class, "send.cancel", NULL, cancel_action);
}

static void
ferry_send_page_init (FerrySendPage *self)
{
  GtkDropTarget *target;

  g_type_ensure (FERRY_TYPE_TRANSFER_VIEW);
  g_type_ensure (FERRY_TYPE_ERROR_PAGE);
  gtk_widget_init_template (GTK_WIDGET (self));

  target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}
