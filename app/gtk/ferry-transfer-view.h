/* ferry-transfer-view.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-session.h"

G_BEGIN_DECLS

#define FERRY_TYPE_TRANSFER_VIEW (ferry_transfer_view_get_type ())

G_DECLARE_FINAL_TYPE (FerryTransferView, ferry_transfer_view, FERRY, TRANSFER_VIEW, AdwBin)

GtkWidget    *ferry_transfer_view_new            (void);
FerrySession *ferry_transfer_view_get_session    (FerryTransferView *self);
void          ferry_transfer_view_set_session    (FerryTransferView *self,
                                                  FerrySession      *session);
const char   *ferry_transfer_view_get_path_label (FerryTransferView *self);

G_END_DECLS
