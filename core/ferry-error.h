/* ferry-error.h
 *
 * What a person is told about any error Ferry ends with: a headline, a
 * sentence and details for the app, a stable id for ferry-cli --json.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

char       *ferry_error_dup_title       (const GError *error);
char       *ferry_error_dup_description (const GError *error);
const char *ferry_error_get_id          (const GError *error);
char       *ferry_error_dup_details     (const GError *error);

G_END_DECLS
