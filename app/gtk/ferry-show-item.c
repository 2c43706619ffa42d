/* ferry-show-item.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* O_PATH */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "ferry-show-item"

#include "config.h"

#include <fcntl.h>

#include <gio/gunixfdlist.h>

#include "ferry-show-item.h"

/* Show in Folder opens the folder with the item selected, so a file that
 * arrived among many is found at once. GTK 4.10's GtkFileLauncher does
 * that, in and out of the sandbox; for GTK 4.8 the same two ways are
 * written here: the OpenURI portal's OpenDirectory in a sandbox (it takes
 * the file's descriptor, as a sandboxed path means nothing to the host),
 * the file manager's FileManager1.ShowItems outside. When neither answers
 * the folder itself opens. */

typedef struct
{
  GtkWindow *parent;
  GFile     *item;
} ShowItem;

static void
show_item_free (ShowItem *show)
{
  g_clear_object (&show->parent);
  g_clear_object (&show->item);
  g_free (show);
}

static void
open_parent (GtkWindow *parent,
             GFile     *item)
{
  g_autoptr(GFile) folder = g_file_get_parent (item);
  g_autofree char *uri = g_file_get_uri (folder != NULL ? folder : item);

  gtk_show_uri (parent, uri, GDK_CURRENT_TIME);
}

#if GTK_CHECK_VERSION (4, 10, 0)

static void
launched_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  ShowItem *show = user_data;
  g_autoptr(GError) error = NULL;

  if (!gtk_file_launcher_open_containing_folder_finish (GTK_FILE_LAUNCHER (object), result,
                                                        &error))
    {
      g_debug ("Could not show %s in its folder: %s", g_file_peek_path (show->item),
               error->message);
      open_parent (show->parent, show->item);
    }
  show_item_free (show);
}

static void
start (ShowItem *show)
{
  g_autoptr(GtkFileLauncher) launcher = gtk_file_launcher_new (show->item);

  gtk_file_launcher_open_containing_folder (launcher, show->parent, NULL, launched_cb, show);
}

#else

static void
called_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  ShowItem *show = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (object), NULL,
                                                           result, &error);
  if (reply == NULL)
    {
      g_debug ("Could not show %s in its folder: %s", g_file_peek_path (show->item),
               error->message);
      open_parent (show->parent, show->item);
    }
  show_item_free (show);
}

static void
call_portal (GDBusConnection *bus,
             ShowItem        *show)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GError) error = NULL;
  int fd = open (g_file_peek_path (show->item), O_PATH | O_CLOEXEC);
  int handle = fd >= 0 ? g_unix_fd_list_append (fds, fd, &error) : -1;

  if (fd >= 0)
    close (fd);
  if (handle < 0)
    {
      open_parent (show->parent, show->item);
      show_item_free (show);
      return;
    }
  g_dbus_connection_call_with_unix_fd_list (bus, "org.freedesktop.portal.Desktop",
                                            "/org/freedesktop/portal/desktop",
                                            "org.freedesktop.portal.OpenURI", "OpenDirectory",
                                            g_variant_new ("(sha{sv})", "", handle, NULL),
                                            NULL, G_DBUS_CALL_FLAGS_NONE, -1, fds, NULL,
                                            called_cb, show);
}

static void
call_file_manager (GDBusConnection *bus,
                   ShowItem        *show)
{
  g_autofree char *uri = g_file_get_uri (show->item);
  const char *uris[] = { uri, NULL };

  g_dbus_connection_call_with_unix_fd_list (bus, "org.freedesktop.FileManager1",
                                            "/org/freedesktop/FileManager1",
                                            "org.freedesktop.FileManager1", "ShowItems",
                                            g_variant_new ("(^ass)", uris, ""),
                                            NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL,
                                            called_cb, show);
}

static void
start (ShowItem *show)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  if (bus == NULL)
    {
      open_parent (show->parent, show->item);
      show_item_free (show);
    }
  else if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS))
    call_portal (bus, show);
  else
    call_file_manager (bus, show);
}

#endif

/**
 * ferry_show_item:
 * @parent: (nullable): the window asking
 * @item: a file or folder
 *
 * Opens the folder @item lies in, with @item selected where the file
 * manager can do that.
 */
void
ferry_show_item (GtkWindow *parent,
                 GFile     *item)
{
  ShowItem *show = g_new0 (ShowItem, 1);

  g_return_if_fail (G_IS_FILE (item));

  show->parent = parent != NULL ? g_object_ref (parent) : NULL;
  show->item = g_object_ref (item);
  start (show);
}
