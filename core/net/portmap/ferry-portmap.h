/* ferry-portmap.h
 *
 * Port mapping through one entry point: map with a named protocol, renew and delete with
 * the protocol that made the mapping. Includes what every port-mapping caller needs besides: the mapping, the
 * error domain and where the router is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-port-mapping.h"
#include "ferry-portmap-gateway.h"

G_BEGIN_DECLS

void              ferry_portmap_map_async    (FerryPortmapProtocol  protocol,
                                              GInetSocketAddress   *local,
                                              GInetSocketAddress   *server,
                                              FerryPortmapTransport transport,
                                              guint16               suggested_port,
                                              guint32               lifetime,
                                              guint                 timeout_ms,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
FerryPortMapping *ferry_portmap_map_finish   (GAsyncResult         *result,
                                              FerryPortmapProtocol *protocol,
                                              GError              **error);
void              ferry_portmap_renew_async  (FerryPortMapping     *mapping,
                                              guint32               lifetime,
                                              guint                 timeout_ms,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
FerryPortMapping *ferry_portmap_renew_finish (GAsyncResult         *result,
                                              GError              **error);
void              ferry_portmap_unmap_async  (FerryPortMapping     *mapping,
                                              guint                 timeout_ms,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean          ferry_portmap_unmap_finish (GAsyncResult         *result,
                                              GError              **error);

G_END_DECLS
