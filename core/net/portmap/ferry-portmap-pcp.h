/* ferry-portmap-pcp.h
 *
 * Our PCP client (RFC 6887): MAP requests to create, renew and delete a mapping, falling
 * back to NAT-PMP when the router answers that it only speaks NAT-PMP.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-port-mapping.h"

G_BEGIN_DECLS

void              ferry_portmap_pcp_map_async       (GInetSocketAddress    *server,
                                                     FerryPortmapTransport  transport,
                                                     guint16                internal_port,
                                                     guint16                suggested_port,
                                                     guint32                lifetime,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
FerryPortMapping *ferry_portmap_pcp_map_finish      (GAsyncResult          *result,
                                                     GError               **error);
void              ferry_portmap_pcp_renew_async     (FerryPortMapping      *mapping,
                                                     guint32                lifetime,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
FerryPortMapping *ferry_portmap_pcp_renew_finish    (GAsyncResult          *result,
                                                     GError               **error);
void              ferry_portmap_pcp_unmap_async     (FerryPortMapping      *mapping,
                                                     guint                  timeout_ms,
                                                     GCancellable          *cancellable,
                                                     GAsyncReadyCallback    callback,
                                                     gpointer               user_data);
gboolean          ferry_portmap_pcp_unmap_finish    (GAsyncResult          *result,
                                                     GError               **error);

/* The reply parser, for tests and fuzzing: every byte it reads comes from the network. */
gboolean          ferry_portmap_pcp_parse_map_reply (const guint8          *data,
                                                     gsize                  length,
                                                     FerryPortmapTransport  transport,
                                                     guint16                internal_port,
                                                     guint32                lifetime,
                                                     const guint8          *nonce,
                                                     GInetAddress         **external_address,
                                                     guint16               *external_port,
                                                     guint32               *reply_lifetime,
                                                     GError               **error);

G_END_DECLS
