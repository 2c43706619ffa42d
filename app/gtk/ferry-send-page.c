/* ferry-send-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-send-page"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-channel.h"
#include "ferry-error-text.h"
#include "ferry-qr.h"
#include "ferry-send-page.h"

struct _FerrySendPage
{
  AdwBin          parent_instance;

  GtkStack       *stack;
  GtkLabel       *code_label;
  GtkPicture     *qr_picture;
  GtkLabel       *status_label;
  AdwStatusPage  *connected_page;
  AdwStatusPage  *error_page;

  GPtrArray      *files;
  FerryChannel   *channel;
  GCancellable   *cancellable;
};

G_DEFINE_FINAL_TYPE (FerrySendPage, ferry_send_page, ADW_TYPE_BIN)

static void
ferry_send_page_show_error (FerrySendPage *self,
                            const GError  *error)
{
  g_autofree char *title = ferry_error_dup_title (error);
  g_autofree char *description = ferry_error_dup_description (error);

  adw_status_page_set_title (self->error_page, title);
  adw_status_page_set_description (self->error_page, description);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
ferry_send_page_reset (FerrySendPage *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->channel != NULL)
    ferry_channel_close (self->channel);
  g_clear_object (&self->channel);

  g_ptr_array_set_size (self->files, 0);
  gtk_label_set_label (self->code_label, "");
  gtk_picture_set_paintable (self->qr_picture, NULL);
  gtk_stack_set_visible_child_name (self->stack, "choose");
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(FerrySendPage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_channel_connect_finish (FERRY_CHANNEL (object), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ferry_send_page_show_error (self, error);
      return;
    }

  gtk_stack_set_visible_child_name (self->stack, "connected");
}

static void
create_code_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(FerrySendPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) qr = NULL;
  g_autofree char *code = NULL;
  g_autofree char *uri = NULL;

  code = ferry_channel_create_code_finish (FERRY_CHANNEL (object), result, &error);
  if (code == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ferry_send_page_show_error (self, error);
      return;
    }

  uri = g_strconcat ("ferry:", code, NULL);
  qr = ferry_qr_texture_new (uri, 8);

  gtk_label_set_label (self->code_label, code);
  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (qr));
  gtk_label_set_label (self->status_label, _("Waiting for the receiver…"));
  gtk_stack_set_visible_child_name (self->stack, "code");

  ferry_channel_connect_async (self->channel, self->cancellable, connect_cb,
                               g_object_ref (self));
}

/**
 * ferry_send_page_send_files:
 *
 * Starts sending @files: asks the rendezvous server for a code and shows
 * it, with a QR code of its ferry: link, until the receiver arrives.
 */
void
ferry_send_page_send_files (FerrySendPage  *self,
                            GFile         **files,
                            guint           n_files)
{
  FerryApplication *app = ferry_application_get_default ();
  g_autoptr(FerryRendezvousClient) client = NULL;
  guint n_words;

  g_return_if_fail (FERRY_IS_SEND_PAGE (self));
  g_return_if_fail (files != NULL || n_files == 0);

  if (n_files == 0)
    return;

  ferry_send_page_reset (self);

  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (self->files, g_object_ref (files[i]));

  client = ferry_application_dup_rendezvous_client (app);
  n_words = (guint) g_settings_get_int (ferry_application_get_settings (app), "code-word-count");

  self->cancellable = g_cancellable_new ();
  self->channel = ferry_channel_new (client);

  gtk_stack_set_visible_child_name (self->stack, "preparing");

  ferry_channel_create_code_async (self->channel, n_words, self->cancellable,
                                   create_code_cb, g_object_ref (self));
}

const char *
ferry_send_page_get_code (FerrySendPage *self)
{
  g_return_val_if_fail (FERRY_IS_SEND_PAGE (self), NULL);

  /* The code counts once it is shown, i.e. once its mailbox is open. */
  if (self->channel == NULL || ferry_channel_get_state (self->channel) == FERRY_CHANNEL_STATE_NEW)
    return NULL;

  return ferry_channel_get_code (self->channel);
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
  ferry_send_page_reset (FERRY_SEND_PAGE (widget));
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

  return adw_status_page_get_title (self->error_page);
}

static void
ferry_send_page_dispose (GObject *object)
{
  FerrySendPage *self = FERRY_SEND_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->channel);

  G_OBJECT_CLASS (ferry_send_page_parent_class)->dispose (object);
}

static void
ferry_send_page_finalize (GObject *object)
{
  FerrySendPage *self = FERRY_SEND_PAGE (object);

  g_clear_pointer (&self->files, g_ptr_array_unref);

  G_OBJECT_CLASS (ferry_send_page_parent_class)->finalize (object);
}

static void
ferry_send_page_class_init (FerrySendPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ferry_send_page_dispose;
  object_class->finalize = ferry_send_page_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-send-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, code_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, status_label);
  gtk_widget_class_bind_template_child (widget_class, FerrySendPage, connected_page);
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

  gtk_widget_init_template (GTK_WIDGET (self));

  self->files = g_ptr_array_new_with_free_func (g_object_unref);

  target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}
