/* ferry-receive-page.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-receive-page"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ferry-application.h"
#include "ferry-channel.h"
#include "ferry-code.h"
#include "ferry-error-text.h"
#include "ferry-receive-page.h"

#define MAX_SUGGESTIONS 4

struct _FerryReceivePage
{
  AdwBin          parent_instance;

  GtkStack       *stack;
  GtkEntry       *code_entry;
  GtkBox         *suggestions_box;
  GtkLabel       *hint_label;
  GtkButton      *paste_button;
  AdwStatusPage  *error_page;

  char           *clipboard_code;
  FerryChannel   *channel;
  GCancellable   *cancellable;
};

G_DEFINE_FINAL_TYPE (FerryReceivePage, ferry_receive_page, ADW_TYPE_BIN)

static void
ferry_receive_page_show_error (FerryReceivePage *self,
                               const GError     *error)
{
  g_autofree char *title = ferry_error_dup_title (error);
  g_autofree char *description = ferry_error_dup_description (error);

  adw_status_page_set_title (self->error_page, title);
  adw_status_page_set_description (self->error_page, description);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
ferry_receive_page_reset (FerryReceivePage *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  if (self->channel != NULL)
    ferry_channel_close (self->channel);
  g_clear_object (&self->channel);

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
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(FerryReceivePage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_channel_connect_finish (FERRY_CHANNEL (object), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ferry_receive_page_show_error (self, error);
      return;
    }

  gtk_stack_set_visible_child_name (self->stack, "connected");
}

static void
open_code_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(FerryReceivePage) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_channel_open_code_finish (FERRY_CHANNEL (object), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ferry_receive_page_show_error (self, error);
      return;
    }

  ferry_channel_connect_async (self->channel, self->cancellable, connect_cb,
                               g_object_ref (self));
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
  self->channel = ferry_channel_new (client);

  gtk_stack_set_visible_child_name (self->stack, "connecting");
  ferry_channel_open_code_async (self->channel, code, self->cancellable, open_code_cb,
                                 g_object_ref (self));
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
  ferry_receive_page_reset (FERRY_RECEIVE_PAGE (widget));
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

  return adw_status_page_get_title (self->error_page);
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

static void
ferry_receive_page_dispose (GObject *object)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->channel);

  G_OBJECT_CLASS (ferry_receive_page_parent_class)->dispose (object);
}

static void
ferry_receive_page_finalize (GObject *object)
{
  FerryReceivePage *self = FERRY_RECEIVE_PAGE (object);

  g_clear_pointer (&self->clipboard_code, g_free);

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

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-receive-page.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, stack);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, code_entry);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, suggestions_box);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, hint_label);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, paste_button);
  gtk_widget_class_bind_template_child (widget_class, FerryReceivePage, error_page);
  gtk_widget_class_bind_template_callback (widget_class, code_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, code_activate_cb);

  gtk_widget_class_install_action (widget_class, "receive.receive", NULL, receive_action);
  gtk_widget_class_install_action (widget_class, "receive.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "receive.cancel", NULL, cancel_action);
}

static void
ferry_receive_page_init (FerryReceivePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
