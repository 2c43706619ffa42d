/* ferry-receive-page.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-done-page.h"
#include "ferry-offer-model.h"
#include "ferry-transfer-view.h"

G_BEGIN_DECLS

#define FERRY_TYPE_RECEIVE_PAGE (ferry_receive_page_get_type ())

G_DECLARE_FINAL_TYPE (FerryReceivePage, ferry_receive_page, FERRY, RECEIVE_PAGE, AdwBin)

void ferry_receive_page_set_code (FerryReceivePage *self,
                                  const char       *code);
void ferry_receive_page_receive  (FerryReceivePage *self);

const char *ferry_receive_page_get_page_name   (FerryReceivePage *self);
const char *ferry_receive_page_get_error_title (FerryReceivePage *self);
const char *ferry_receive_page_get_hint        (FerryReceivePage *self);
const char *ferry_receive_page_get_shown_text  (FerryReceivePage *self);
const char *ferry_receive_page_get_link        (FerryReceivePage *self);
const char *ferry_receive_page_get_entered_code (FerryReceivePage *self);

void        ferry_receive_page_accept          (FerryReceivePage *self);
void        ferry_receive_page_set_target_folder (FerryReceivePage *self,
                                                  GFile            *folder);
void        ferry_receive_page_decline         (FerryReceivePage *self);
FerryTransferView *ferry_receive_page_get_transfer_view (FerryReceivePage *self);
FerryDonePage     *ferry_receive_page_get_done_page     (FerryReceivePage *self);
FerryOfferModel   *ferry_receive_page_get_offer_model   (FerryReceivePage *self);
const char        *ferry_receive_page_get_notice        (FerryReceivePage *self);

G_END_DECLS
