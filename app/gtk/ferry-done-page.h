/* ferry-done-page.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-session.h"

G_BEGIN_DECLS

#define FERRY_TYPE_DONE_PAGE (ferry_done_page_get_type ())

G_DECLARE_FINAL_TYPE (FerryDonePage, ferry_done_page, FERRY, DONE_PAGE, AdwBin)

void   ferry_done_page_set_session (FerryDonePage *self,
                                    FerrySession  *session);
void   ferry_done_page_set_folder  (FerryDonePage *self,
                                    GFile         *folder);
GFile *ferry_done_page_get_folder  (FerryDonePage *self);
char  *ferry_done_page_dup_text    (FerryDonePage *self);

G_END_DECLS
