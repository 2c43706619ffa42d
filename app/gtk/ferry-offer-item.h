/* ferry-offer-item.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"

G_BEGIN_DECLS

#define FERRY_TYPE_OFFER_ITEM (ferry_offer_item_get_type ())

G_DECLARE_FINAL_TYPE (FerryOfferItem, ferry_offer_item, FERRY, OFFER_ITEM, GObject)

FerryOfferItem        *ferry_offer_item_new                (FerryOffer     *offer,
                                                            const char     *name);
void                   ferry_offer_item_add_entry          (FerryOfferItem *self,
                                                            guint           index);

const char            *ferry_offer_item_get_name           (FerryOfferItem *self);
char                  *ferry_offer_item_dup_display_name   (FerryOfferItem *self);
gboolean               ferry_offer_item_is_folder          (FerryOfferItem *self);
guint                  ferry_offer_item_get_n_files        (FerryOfferItem *self);
guint64                ferry_offer_item_get_size           (FerryOfferItem *self);
GFile                 *ferry_offer_item_get_local_file     (FerryOfferItem *self);
char                  *ferry_offer_item_dup_summary        (FerryOfferItem *self);

guint                  ferry_offer_item_get_n_children     (FerryOfferItem *self);
const FerryOfferEntry *ferry_offer_item_get_child          (FerryOfferItem *self,
                                                            guint           index);
char                  *ferry_offer_item_dup_child_display_path (FerryOfferItem *self,
                                                                guint           index);

G_END_DECLS
