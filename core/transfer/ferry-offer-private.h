/* ferry-offer-private.h
 *
 * What the files of FerryOffer share: the fields of an offer and its
 * entries, and the parts that more than one of them uses.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-offer.h"

G_BEGIN_DECLS

struct _FerryOfferEntry
{
  char                *path;
  FerryOfferEntryKind  kind;
  guint64              size;
  guint                mode;
  gint64               mtime;
  char                *content_id;
  GFile               *local_file;
  FerryFileDigest     *digest;
};

struct _FerryOffer
{
  GObject     parent_instance;

  GPtrArray  *entries;
  GHashTable *by_path;
  guint       n_files;
  guint       n_folders;
  guint64     total_size;
  guint       n_skipped_symlinks;
  guint       n_skipped_special;
  char       *text;
};

/* ferry-offer.c */
void     ferry_offer_entry_free       (gpointer                 data);
int      ferry_offer_entry_compare    (gconstpointer            a,
                                       gconstpointer            b);
void     ferry_offer_index_entries    (FerryOffer              *self);

/* ferry-offer-validate.c */
gboolean ferry_offer_path_error       (GError                 **error,
                                       FerryOfferError          code,
                                       const char              *path,
                                       const char              *why);
gboolean ferry_offer_validate_path    (const char              *path,
                                       gsize                    len,
                                       GString                 *fold_key,
                                       GError                 **error);
gboolean ferry_offer_validate_entries (FerryOffer              *self,
                                       const FerryOfferLimits  *limits,
                                       GError                 **error);

G_END_DECLS
