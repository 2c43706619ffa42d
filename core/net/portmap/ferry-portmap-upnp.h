/* ferry-portmap-upnp.h
 *
 * Our UPnP IGD client (UPnP Device Architecture 1.1, WANIPConnection:1/2 and
 * WANPPPConnection:1): an SSDP search from the host socket's own address, the router's
 * device description, and SOAP AddPortMapping, DeletePortMapping and GetExternalIPAddress.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-port-mapping.h"

G_BEGIN_DECLS

/* What a router may send us, and how much of it we read. */
#define FERRY_PORTMAP_UPNP_MAX_SSDP_REPLY   2048
#define FERRY_PORTMAP_UPNP_MAX_DOCUMENT     (64 * 1024)

void              ferry_portmap_upnp_map_async       (GInetSocketAddress    *local,
                                                      FerryPortmapTransport  transport,
                                                      guint16                suggested_port,
                                                      guint32                lifetime,
                                                      guint                  timeout_ms,
                                                      GCancellable          *cancellable,
                                                      GAsyncReadyCallback    callback,
                                                      gpointer               user_data);
FerryPortMapping *ferry_portmap_upnp_map_finish      (GAsyncResult          *result,
                                                      GError               **error);
void              ferry_portmap_upnp_renew_async     (FerryPortMapping      *mapping,
                                                      guint32                lifetime,
                                                      guint                  timeout_ms,
                                                      GCancellable          *cancellable,
                                                      GAsyncReadyCallback    callback,
                                                      gpointer               user_data);
FerryPortMapping *ferry_portmap_upnp_renew_finish    (GAsyncResult          *result,
                                                      GError               **error);
void              ferry_portmap_upnp_unmap_async     (FerryPortMapping      *mapping,
                                                      guint                  timeout_ms,
                                                      GCancellable          *cancellable,
                                                      GAsyncReadyCallback    callback,
                                                      gpointer               user_data);
gboolean          ferry_portmap_upnp_unmap_finish    (GAsyncResult          *result,
                                                      GError               **error);

/* The parsers, for tests and fuzzing: every byte they read comes from the network. */
char             *ferry_portmap_upnp_parse_ssdp_reply  (const char           *data,
                                                        gsize                 length,
                                                        GError              **error);
gboolean          ferry_portmap_upnp_parse_description (const char           *document,
                                                        gsize                 length,
                                                        const char           *location,
                                                        char                **control_url,
                                                        char                **service_type,
                                                        GError              **error);
char             *ferry_portmap_upnp_parse_response    (const char           *document,
                                                        gsize                 length,
                                                        const char           *element,
                                                        guint                *fault,
                                                        GError              **error);

G_END_DECLS
