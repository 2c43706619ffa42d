/* ferry-names.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

char *ferry_names_join        (const char * const *names,
                               guint               n_names,
                               guint               max_shown);
char *ferry_names_format_size (guint               n_files,
                               guint64             size);
char *ferry_names_dup_folder  (GFile              *folder);
char *ferry_names_format_duration (gint64          usec);
char *ferry_names_format_speed    (guint64         moved,
                                   gint64          usec);
char *ferry_names_format_paths    (const char     *first,
                                   const char     *last);

G_END_DECLS
