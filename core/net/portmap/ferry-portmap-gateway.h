/* ferry-portmap-gateway.h
 *
 * Where the port-mapping server is: NAT-PMP and PCP both ask the default gateway.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GInetAddress       *ferry_portmap_parse_route_table (const char          *contents,
                                                     GError             **error);
GInetAddress       *ferry_portmap_discover_gateway  (GError             **error);
GInetSocketAddress *ferry_portmap_default_server    (GError             **error);
GInetSocketAddress *ferry_portmap_resolve_server    (GInetSocketAddress  *server,
                                                     GError             **error);

G_END_DECLS
