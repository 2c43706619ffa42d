/* ferry-portmap-natpmp.h
 *
 * Our NAT-PMP client (RFC 6886): external address, UDP/TCP mappings, renew and delete.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-port-mapping.h"

G_BEGIN_DECLS

void              ferry_portmap_natpmp_external_address_async  (GInetSocketAddress   *server,
                                                                guint                 timeout_ms,
                                                                GCancellable         *cancellable,
                                                                GAsyncReadyCallback   callback,
                                                                gpointer              user_data);
GInetAddress     *ferry_portmap_natpmp_external_address_finish (GAsyncResult         *result,
                                                                GError              **error);

void              ferry_portmap_natpmp_map_async    (GInetSocketAddress    *server,
                                                     FerryPortmapTransport  transport,
                                                     guint16                internal_port,
                                                     guint16                suggested_port,
                                                     guint32                lifetime,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
FerryPortMapping *ferry_portmap_natpmp_map_finish   (GAsyncResult          *result,
                                                     GError               **error);
void              ferry_portmap_natpmp_renew_async  (FerryPortMapping      *mapping,
                                                     guint32                lifetime,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
FerryPortMapping *ferry_portmap_natpmp_renew_finish (GAsyncResult          *result,
                                                     GError               **error);
void              ferry_portmap_natpmp_unmap_async  (FerryPortMapping      *mapping,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
gboolean          ferry_portmap_natpmp_unmap_finish (GAsyncResult          *result,
                                                     GError               **error);

/* The reply parsers, for tests and fuzzing: every byte they read comes from the network. */
gboolean ferry_portmap_natpmp_parse_external_address_reply (const guint8           *data,
                                                            gsize                   length,
                                                            GInetAddress          **external_address,
                                                            GError                **error);
gboolean ferry_portmap_natpmp_parse_map_reply              (const guint8           *data,
                                                            gsize                   length,
                                                            FerryPortmapTransport   transport,
                                                            guint16                 internal_port,
                                                            guint32                 lifetime,
                                                            guint16                *external_port,
                                                            guint32                *reply_lifetime,
                                                            GError                **error);

G_END_DECLS
