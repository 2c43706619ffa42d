/* ferry-send-page.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-done-page.h"
#include "ferry-offer-model.h"
#include "ferry-transfer-view.h"

G_BEGIN_DECLS

#define FERRY_TYPE_SEND_PAGE (ferry_send_page_get_type ())

G_DECLARE_FINAL_TYPE (FerrySendPage, ferry_send_page, FERRY, SEND_PAGE, AdwBin)

void        ferry_send_page_send_files  (FerrySendPage  *self,
                                         GFile         **files,
                                         guint           n_files);
void        ferry_send_page_send_text   (FerrySendPage  *self,
                                         const char     *text);
void        ferry_send_page_remove_text (FerrySendPage  *self);
gboolean    ferry_send_page_can_add     (FerrySendPage  *self);
void        ferry_send_page_add_files   (FerrySendPage  *self,
                                         GFile         **files,
                                         guint           n_files);
void        ferry_send_page_remove_item (FerrySendPage  *self,
                                         guint           index);
gboolean    ferry_send_page_is_busy     (FerrySendPage  *self);
const char *ferry_send_page_get_code    (FerrySendPage  *self);
char       *ferry_send_page_dup_summary (FerrySendPage  *self);
FerryOfferModel *ferry_send_page_get_offer_model (FerrySendPage *self);

const char *ferry_send_page_get_page_name   (FerrySendPage *self);
const char *ferry_send_page_get_error_title (FerrySendPage *self);

FerryTransferView *ferry_send_page_get_transfer_view (FerrySendPage *self);
FerryDonePage     *ferry_send_page_get_done_page     (FerrySendPage *self);

G_END_DECLS
