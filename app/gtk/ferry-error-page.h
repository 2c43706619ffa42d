/* ferry-error-page.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define FERRY_TYPE_ERROR_PAGE (ferry_error_page_get_type ())

G_DECLARE_FINAL_TYPE (FerryErrorPage, ferry_error_page, FERRY, ERROR_PAGE, AdwBin)

void        ferry_error_page_set_error (FerryErrorPage *self,
                                        const GError   *error);
const char *ferry_error_page_get_title (FerryErrorPage *self);

G_END_DECLS
