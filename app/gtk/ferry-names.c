/* ferry-names.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-names"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ferry-names.h"
#include "ferry-offer.h"

/**
 * ferry_names_join:
 * @names: (array length=n_names): names as offered or chosen, unescaped
 * @max_shown: how many to spell out
 *
 * What a page says is being sent: "a.txt", "a.txt and b.txt", or
 * "a.txt, b.txt and 3 more". Each name is escaped with
 * ferry_offer_escape_name(), so a name from the other side can neither
 * hide characters nor turn the text around.
 *
 * Returns: (transfer full): the names as one line
 */
char *
ferry_names_join (const char * const *names,
                  guint               n_names,
                  guint               max_shown)
{
  g_autoptr(GString) shown = g_string_new (NULL);
  guint n_shown = MIN (n_names, MAX (max_shown, 1));
  g_autofree char *last = NULL;

  g_return_val_if_fail (names != NULL || n_names == 0, NULL);

  if (n_names == 0)
    return g_strdup ("");

  /* When every name fits, the last one follows "and". */
  for (guint i = 0; i < (n_shown == n_names ? n_shown - 1 : n_shown); i++)
    {
      g_autofree char *escaped = ferry_offer_escape_name (names[i], -1);

      if (shown->len > 0)
        /* Translators: between names in a list, as in “a.txt, b.txt and c.txt” */
        g_string_append (shown, C_("list", ", "));
      g_string_append (shown, escaped);
    }

  if (n_shown < n_names)
    /* Translators: “a.txt, b.txt and 3 more” */
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s and %u more", "%s and %u more",
                                         n_names - n_shown),
                            shown->str, n_names - n_shown);

  last = ferry_offer_escape_name (names[n_names - 1], -1);
  if (n_names == 1)
    return g_steal_pointer (&last);

  /* Translators: the last two names of a list, as in “a.txt, b.txt and c.txt” */
  return g_strdup_printf (_("%s and %s"), shown->str, last);
}

/**
 * ferry_names_format_size:
 *
 * Returns: (transfer full): "1 file · 16 bytes", "1,234 files · 2.3 GB"
 */
char *
ferry_names_format_size (guint   n_files,
                         guint64 size)
{
  g_autofree char *formatted = g_format_size (size);

  /* Translators: how much is sent, e.g. “1,234 files · 2.3 GB” */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'u file · %s", "%'u files · %s",
                                       n_files),
                          n_files, formatted);
}

/**
 * ferry_names_format_duration:
 * @usec: how long, in microseconds
 *
 * Returns: (transfer full): "Under a second", "4.2 seconds", "3 min 07 s"
 */
char *
ferry_names_format_duration (gint64 usec)
{
  guint seconds = (guint) ((usec + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC);

  if (usec < G_USEC_PER_SEC)
    return g_strdup (_("Under a second"));
  if (usec < 10 * G_USEC_PER_SEC)
    /* Translators: a duration of 1.0 to 9.9 seconds */
    return g_strdup_printf (_("%.1f seconds"), (double) usec / G_USEC_PER_SEC);
  if (seconds < 60)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u second", "%u seconds", seconds),
                            seconds);
  if (seconds < 3600)
    /* Translators: a duration, e.g. “3 min 07 s” */
    return g_strdup_printf (_("%u min %02u s"), seconds / 60, seconds % 60);

  /* Translators: a duration, e.g. “2 h 05 min” */
  return g_strdup_printf (_("%u h %02u min"), seconds / 3600, seconds / 60 % 60);
}

/**
 * ferry_names_format_speed:
 * @moved: bytes that travelled
 * @usec: in how long, in microseconds
 *
 * Returns: (transfer full): the average speed and the duration, "98.2 MB/s ·
 *   12 seconds"; only the duration when it took no measurable time
 */
char *
ferry_names_format_speed (guint64 moved,
                          gint64  usec)
{
  g_autofree char *duration = ferry_names_format_duration (MAX (usec, 0));
  g_autofree char *rate = NULL;

  if (usec <= 0)
    return g_steal_pointer (&duration);

  rate = g_format_size ((guint64) ((double) moved * G_USEC_PER_SEC / (double) usec));
  /* Translators: average speed and duration, e.g. “98.2 MB/s · 12 seconds” */
  return g_strdup_printf (_("%s/s · %s"), rate, duration);
}

/**
 * ferry_names_format_paths:
 * @first: (nullable): the path the bytes took first, as shown
 * @last: (nullable): the path they took last
 *
 * Returns: (transfer full) (nullable): "Relayed, then Direct · internet",
 *   or the one path when it did not change; %NULL when none is known
 */
char *
ferry_names_format_paths (const char *first,
                          const char *last)
{
  if (first == NULL)
    return g_strdup (last);
  if (last == NULL || g_str_equal (first, last))
    return g_strdup (first);

  /* Translators: the path changed during the transfer, e.g.
   * “Relayed, then Direct · internet” */
  return g_strdup_printf (_("%s, then %s"), first, last);
}

/* Under the document portal's mount the path is a number and then the name:
 * /run/user/UID/doc/ID/NAME, seen as /run/flatpak/doc/ID/NAME in a sandbox. */
static const char *
portal_name (const char *path,
             const char *mount)
{
  size_t len = strlen (mount);
  const char *slash;

  if (strncmp (path, mount, len) != 0 || path[len] != '/')
    return NULL;
  slash = strchr (path + len + 1, '/');
  return slash != NULL && slash[1] != '\0' ? slash + 1 : NULL;
}

/**
 * ferry_names_dup_folder:
 * @folder: a folder to show to a person
 *
 * The folder as a person knows it: a folder picked through the document
 * portal by its name (the rest of the path is the portal's, not theirs),
 * any other by its full name.
 *
 * Returns: (transfer full): the name to show
 */
char *
ferry_names_dup_folder (GFile *folder)
{
  g_autofree char *path = g_file_get_path (folder);
  g_autofree char *mount = g_build_filename (g_get_user_runtime_dir (), "doc", NULL);
  const char *name = NULL;

  if (path != NULL)
    name = portal_name (path, mount);
  if (path != NULL && name == NULL)
    name = portal_name (path, "/run/flatpak/doc");
  if (name != NULL)
    return g_filename_display_name (name);
  return g_file_get_parse_name (folder);
}
