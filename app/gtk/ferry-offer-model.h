/* ferry-offer-model.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"
#include "ferry-offer-item.h"

G_BEGIN_DECLS

/* From this many files on, an offer's notice mentions how many there are. */
#define FERRY_OFFER_MODEL_MANY_FILES 1000

#define FERRY_TYPE_OFFER_MODEL (ferry_offer_model_get_type ())

G_DECLARE_FINAL_TYPE (FerryOfferModel, ferry_offer_model, FERRY, OFFER_MODEL, GObject)

FerryOfferModel *ferry_offer_model_new              (FerryOffer      *offer);
FerryOffer      *ferry_offer_model_get_offer        (FerryOfferModel *self);
guint            ferry_offer_model_get_n_hidden     (FerryOfferModel *self);
guint            ferry_offer_model_get_n_programs   (FerryOfferModel *self);
char            *ferry_offer_model_dup_names        (FerryOfferModel *self,
                                                     guint            max_shown);
char            *ferry_offer_model_dup_summary      (FerryOfferModel *self);
char            *ferry_offer_model_dup_notice       (FerryOfferModel *self);
FerryOfferItem  *ferry_offer_model_find_local_file  (FerryOfferModel *self,
                                                     GFile           *file);

G_END_DECLS
