/* ferry-window.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-window"

#include "config.h"

#include <glib/gi18n.h>

#include "ferry-history-page.h"
#include "ferry-receive-page.h"
#include "ferry-send-page.h"
#include "ferry-window.h"

struct _FerryWindow
{
  AdwApplicationWindow  parent_instance;

  AdwToastOverlay      *toast_overlay;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar   *switcher_bar;
  guint                 reveal_source;
  AdwViewStack         *view_stack;
  FerrySendPage        *send_page;
  FerryReceivePage     *receive_page;
  FerryHistoryPage     *history_page;
};

G_DEFINE_FINAL_TYPE (FerryWindow, ferry_window, ADW_TYPE_APPLICATION_WINDOW)

FerryWindow *
ferry_window_new (FerryApplication *application)
{
  g_return_val_if_fail (FERRY_IS_APPLICATION (application), NULL);

  return g_object_new (FERRY_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

/**
 * ferry_window_show_receive_code:
 * @code: a share code, e.g. from a ferry: link
 *
 * Switches to the receive page with @code filled in, waiting for the user
 * to confirm: a link alone never starts a transfer.
 */
void
ferry_window_show_receive_code (FerryWindow *self,
                                const char  *code)
{
  g_return_if_fail (FERRY_IS_WINDOW (self));
  g_return_if_fail (code != NULL);

  adw_view_stack_set_visible_child_name (self->view_stack, "receive");
  ferry_receive_page_set_code (self->receive_page, code);
}

void
ferry_window_add_toast (FerryWindow *self,
                        const char  *title)
{
  g_return_if_fail (FERRY_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
}

/**
 * ferry_window_resume_receive:
 * @target_folder: where the interrupted transfer was landing
 *
 * Prepares a receive into @target_folder, where the verified part of an
 * interrupted transfer waits: the sender sends the same files again and
 * only what is missing travels.
 */
void
ferry_window_resume_receive (FerryWindow *self,
                             const char  *target_folder)
{
  g_autoptr(GFile) folder = NULL;

  g_return_if_fail (FERRY_IS_WINDOW (self));
  g_return_if_fail (target_folder != NULL);

  folder = g_file_new_for_path (target_folder);
  adw_view_stack_set_visible_child_name (self->view_stack, "receive");
  ferry_receive_page_set_target_folder (self->receive_page, folder);
  ferry_window_add_toast (self, _("Enter the sender’s new code to receive the rest"));
}

/**
 * ferry_window_resume_send:
 * @sources: the absolute paths of the files and folders chosen before
 *
 * Sends an interrupted send's files again with a new code; the receiver,
 * saving into the same folder, gets only what it does not hold yet.
 */
void
ferry_window_resume_send (FerryWindow        *self,
                          const char * const *sources)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_if_fail (FERRY_IS_WINDOW (self));
  g_return_if_fail (sources != NULL);

  for (guint i = 0; sources[i] != NULL; i++)
    g_ptr_array_add (files, g_file_new_for_path (sources[i]));

  ferry_window_send_files (self, (GFile **) files->pdata, files->len);
}

/**
 * ferry_window_send_files:
 * @files: (array length=n_files): what to send
 *
 * Shows the send page and starts sending @files with a new code.
 */
void
ferry_window_send_files (FerryWindow  *self,
                         GFile       **files,
                         guint         n_files)
{
  g_return_if_fail (FERRY_IS_WINDOW (self));
  g_return_if_fail (files != NULL || n_files == 0);

  adw_view_stack_set_visible_child_name (self->view_stack, "send");
  ferry_send_page_send_files (self->send_page, files, n_files);
}

/* Files dropped anywhere on the window are sent; while a code waits for
 * its receiver they join what it sends. During a transfer the window has
 * nothing to do with them. */
static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         gpointer       user_data)
{
  FerryWindow *self = user_data;
  GSList *list = g_value_get_boxed (value);
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  for (GSList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (files, l->data);
  if (files->len == 0)
    return FALSE;

  if (ferry_send_page_can_add (self->send_page))
    {
      adw_view_stack_set_visible_child_name (self->view_stack, "send");
      ferry_send_page_add_files (self->send_page, (GFile **) files->pdata, files->len);
      return TRUE;
    }

  if (ferry_send_page_is_busy (self->send_page))
    {
      ferry_window_add_toast (self, _("Finish or cancel this transfer first"));
      return FALSE;
    }

  ferry_window_send_files (self, (GFile **) files->pdata, files->len);
  return TRUE;
}

GtkWidget *
ferry_window_get_history_page (FerryWindow *self)
{
  g_return_val_if_fail (FERRY_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->history_page);
}

GtkWidget *
ferry_window_get_send_page (FerryWindow *self)
{
  g_return_val_if_fail (FERRY_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->send_page);
}

GtkWidget *
ferry_window_get_receive_page (FerryWindow *self)
{
  g_return_val_if_fail (FERRY_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->receive_page);
}

void
ferry_window_show_page (FerryWindow *self,
                        const char  *name)
{
  g_return_if_fail (FERRY_IS_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

static void
choose_files_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  FerryWindow *self = FERRY_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack, "send");
  gtk_widget_activate_action (GTK_WIDGET (self->send_page), "send.choose-files", NULL);
}

/* A note or a link, from any page, with Ctrl+T or the menu. */
static void
send_text_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  FerryWindow *self = FERRY_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack, "send");
  gtk_widget_activate_action (GTK_WIDGET (self->send_page), "send.write-text", NULL);
}

static void
show_receive_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  FerryWindow *self = FERRY_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack, "receive");
  gtk_widget_grab_focus (GTK_WIDGET (self->receive_page));
}

static void
search_history_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  FerryWindow *self = FERRY_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack, "history");
  ferry_history_page_focus_search (self->history_page);
}

static void
show_page_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  FerryWindow *self = FERRY_WINDOW (widget);

  ferry_window_show_page (self, g_variant_get_string (parameter, NULL));
}

static void
toast_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  ferry_window_add_toast (FERRY_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static gboolean
reveal_switcher_bar_cb (gpointer user_data)
{
  FerryWindow *self = user_data;
  gboolean narrow = adw_view_switcher_title_get_title_visible (self->switcher_title);

  self->reveal_source = 0;
  adw_view_switcher_bar_set_reveal (self->switcher_bar, narrow);
  return G_SOURCE_REMOVE;
}

/* Narrow, the pages are switched from a bar at the bottom. The title
 * decides it is squeezed while it is being allocated; revealing the bar in
 * that same pass makes GTK 4.8 allocate the bar with its hidden height of
 * 0 (without animations, as in the GUI test or with reduced motion), so
 * the bar follows on the next turn of the main loop. */
static void
title_visible_cb (FerryWindow *self)
{
  if (self->reveal_source == 0)
    self->reveal_source = g_idle_add (reveal_switcher_bar_cb, self);
}

static void
ferry_window_dispose (GObject *object)
{
  FerryWindow *self = FERRY_WINDOW (object);

  g_clear_handle_id (&self->reveal_source, g_source_remove);

  G_OBJECT_CLASS (ferry_window_parent_class)->dispose (object);
}

static void
ferry_window_constructed (GObject *object)
{
  FerryWindow *self = FERRY_WINDOW (object);
  GSettings *settings;

  G_OBJECT_CLASS (ferry_window_parent_class)->constructed (object);

  settings = ferry_application_get_settings (FERRY_APPLICATION (g_application_get_default ()));
  g_settings_bind (settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
}

static void
ferry_window_class_init (FerryWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = ferry_window_constructed;
  object_class->dispose = ferry_window_dispose;

  g_type_ensure (FERRY_TYPE_SEND_PAGE);
  g_type_ensure (FERRY_TYPE_RECEIVE_PAGE);
  g_type_ensure (FERRY_TYPE_HISTORY_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/ferryapp/Ferry/ferry-window.ui");
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, send_page);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, receive_page);
  gtk_widget_class_bind_template_child (widget_class, FerryWindow, history_page);

  gtk_widget_class_install_action (widget_class, "win.choose-files", NULL, choose_files_action);
  gtk_widget_class_install_action (widget_class, "win.send-text", NULL, send_text_action);
  gtk_widget_class_install_action (widget_class, "win.show-receive", NULL, show_receive_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);
  gtk_widget_class_install_action (widget_class, "win.search-history", NULL,
                                   search_history_action);
  gtk_widget_class_install_action (widget_class, "win.toast", "s", toast_action);
}

static void
ferry_window_init (FerryWindow *self)
{
  GtkDropTarget *target;

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_object (self->switcher_title, "notify::title-visible",
                           G_CALLBACK (title_visible_cb), self, G_CONNECT_SWAPPED);

  target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->toast_overlay), GTK_EVENT_CONTROLLER (target));
}
