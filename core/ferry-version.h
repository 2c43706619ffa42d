/* ferry-version.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

const char *ferry_version (void);
gboolean    ferry_init    (GError **error);

G_END_DECLS
