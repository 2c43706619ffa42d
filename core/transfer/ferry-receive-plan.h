/* ferry-receive-plan.h
 *
 * What a receiver works out before it accepts an offer: which files it
 * already holds, where each resumes, whether what is missing fits, which
 * top-level folders the files land in, and which partial files still hold
 * the blocks the store recorded.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"
#include "ferry-receive-target.h"
#include "ferry-store.h"

G_BEGIN_DECLS

/* One file that resumes: the accept message lists these for the sender. */
typedef struct
{
  guint      index;    /* of the entry in the offer */
  guint64    offset;   /* where the file resumes */
  GPtrArray *hashes;   /* hex BLAKE2b of each verified leading block */
} FerryReceivePlanResume;

/* Per-entry arrays have one element for each entry of the offer. */
typedef struct
{
  FerryOffer          *offer;
  FerryReceiveTarget  *target;
  GHashTable          *top_level;        /* offered top-level folder → local name */
  GHashTable          *reserved;         /* the top-level folders newly reserved */
  guint64             *resume_offsets;   /* per entry: where it resumes, 0 to start over */
  guint8              *skip;             /* per entry: already complete */
  guint8              *discard;          /* per entry: stored blocks the disk no longer holds */
  FerryReceiveFile   **opened;           /* per entry: the partial file, re-read to resume */
  GArray              *resume;           /* FerryReceivePlanResume */
  guint64              resumed;          /* bytes of the files already complete */
} FerryReceivePlan;

FerryReceivePlan *ferry_receive_plan_new            (FerryOffer          *offer,
                                                     GFile               *folder,
                                                     FerryStoreTransfer  *stored,
                                                     GCancellable        *cancellable,
                                                     GError             **error);
void              ferry_receive_plan_free           (FerryReceivePlan    *plan);
char             *ferry_receive_plan_dup_local_path (FerryReceivePlan    *plan,
                                                     const char          *path);
void              ferry_receive_plan_remember       (FerryReceivePlan    *plan,
                                                     FerryStore          *store,
                                                     FerryStoreTransfer  *stored);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryReceivePlan, ferry_receive_plan_free)

G_END_DECLS
