/* ferry-portmap-renewer.h
 *
 * Keeps a port mapping alive while a session lasts: renews it at half its lifetime with the
 * protocol that made it, and deletes it on release.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-portmap.h"

G_BEGIN_DECLS

#define FERRY_TYPE_PORTMAP_RENEWER (ferry_portmap_renewer_get_type ())

G_DECLARE_FINAL_TYPE (FerryPortmapRenewer, ferry_portmap_renewer, FERRY, PORTMAP_RENEWER, GObject)

FerryPortmapRenewer *ferry_portmap_renewer_new            (FerryPortMapping     *mapping,
                                                           guint32               lifetime);
FerryPortMapping    *ferry_portmap_renewer_dup_mapping    (FerryPortmapRenewer  *self);
guint                ferry_portmap_renewer_get_renewals   (FerryPortmapRenewer  *self);
void                 ferry_portmap_renewer_release_async  (FerryPortmapRenewer  *self,
                                                           GCancellable         *cancellable,
                                                           GAsyncReadyCallback   callback,
                                                           gpointer              user_data);
gboolean             ferry_portmap_renewer_release_finish (FerryPortmapRenewer  *self,
                                                           GAsyncResult         *result,
                                                           GError              **error);

G_END_DECLS
