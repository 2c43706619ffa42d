/* ferry-port-mapping-private.h
 *
 * The fields of a mapping, for the clients that make, renew and delete it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-port-mapping.h"

G_BEGIN_DECLS

#define FERRY_PORTMAP_PCP_NONCE_SIZE 12

struct _FerryPortMapping
{
  gatomicrefcount        ref_count;
  FerryPortmapProtocol   protocol;
  FerryPortmapTransport  transport;
  GInetSocketAddress    *server;
  guint16                internal_port;
  GInetAddress          *external_address;
  guint16                external_port;
  guint32                lifetime;
  gint64                 expiry;   /* monotonic µs */
  guint8                 nonce[FERRY_PORTMAP_PCP_NONCE_SIZE];

  /* UPnP only: where to send the SOAP requests, and for whom the mapping is. */
  char                  *upnp_control_url;
  char                  *upnp_service_type;
  GInetAddress          *internal_address;
};

FerryPortMapping *ferry_port_mapping_new (FerryPortmapProtocol   protocol,
                                          FerryPortmapTransport  transport,
                                          GInetSocketAddress    *server,
                                          guint16                internal_port,
                                          GInetAddress          *external_address,
                                          guint16                external_port,
                                          guint32                lifetime,
                                          const guint8          *nonce);

G_END_DECLS
