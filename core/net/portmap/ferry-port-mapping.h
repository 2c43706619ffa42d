/* ferry-port-mapping.h
 *
 * What the port-mapping clients (NAT-PMP, RFC 6886, PCP, RFC 6887, and UPnP IGD) share: the mapping
 * a router granted, whichever protocol made it, and the error domain.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_PORTMAP_ERROR (ferry_portmap_error_quark ())

/**
 * FerryPortmapError:
 * @FERRY_PORTMAP_ERROR_NO_GATEWAY: there is no router (no default IPv4 gateway) to ask
 * @FERRY_PORTMAP_ERROR_TIMEOUT: the router did not answer in time
 * @FERRY_PORTMAP_ERROR_NOT_SUPPORTED: the router does not offer this kind of port mapping
 * @FERRY_PORTMAP_ERROR_NOT_AUTHORIZED: the router refuses to map this port
 * @FERRY_PORTMAP_ERROR_NETWORK_FAILURE: the router has no public address (no connection yet,
 *   or it sits behind another NAT such as a carrier's)
 * @FERRY_PORTMAP_ERROR_NO_RESOURCES: the router has no mapping left to give
 * @FERRY_PORTMAP_ERROR_PROTOCOL: the router rejected the request as malformed
 * @FERRY_PORTMAP_ERROR_FAILED: anything else (a local socket error)
 */
typedef enum
{
  FERRY_PORTMAP_ERROR_NO_GATEWAY,
  FERRY_PORTMAP_ERROR_TIMEOUT,
  FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
  FERRY_PORTMAP_ERROR_NOT_AUTHORIZED,
  FERRY_PORTMAP_ERROR_NETWORK_FAILURE,
  FERRY_PORTMAP_ERROR_NO_RESOURCES,
  FERRY_PORTMAP_ERROR_PROTOCOL,
  FERRY_PORTMAP_ERROR_FAILED,
} FerryPortmapError;

typedef enum
{
  FERRY_PORTMAP_PROTOCOL_NATPMP,
  FERRY_PORTMAP_PROTOCOL_PCP,
  FERRY_PORTMAP_PROTOCOL_UPNP,
} FerryPortmapProtocol;

/* The values are the IP protocol numbers, which PCP puts on the wire. */
typedef enum
{
  FERRY_PORTMAP_TRANSPORT_TCP = 6,
  FERRY_PORTMAP_TRANSPORT_UDP = 17,
} FerryPortmapTransport;

/* Both RFCs name UDP port 5351 on the default gateway as the server. */
#define FERRY_PORTMAP_SERVER_PORT 5351

/* The RFCs retransmit for a minute; a desktop app must not make a network without a
 * port-mapping router wait, so the whole exchange gives up after this long by default. The
 * first retransmission comes after 250 ms and the interval doubles, as in RFC 6886. */
#define FERRY_PORTMAP_DEFAULT_TIMEOUT_MS 1000

typedef struct _FerryPortMapping FerryPortMapping;

#define FERRY_TYPE_PORT_MAPPING (ferry_port_mapping_get_type ())

GQuark                 ferry_portmap_error_quark                (void);
GType                  ferry_port_mapping_get_type              (void) G_GNUC_CONST;

FerryPortMapping      *ferry_port_mapping_ref                   (FerryPortMapping *mapping);
void                   ferry_port_mapping_unref                 (FerryPortMapping *mapping);
FerryPortmapProtocol   ferry_port_mapping_get_protocol          (FerryPortMapping *mapping);
FerryPortmapTransport  ferry_port_mapping_get_transport         (FerryPortMapping *mapping);
GInetSocketAddress    *ferry_port_mapping_get_server            (FerryPortMapping *mapping);
guint16                ferry_port_mapping_get_internal_port     (FerryPortMapping *mapping);
GInetAddress          *ferry_port_mapping_get_external_address  (FerryPortMapping *mapping);
guint16                ferry_port_mapping_get_external_port     (FerryPortMapping *mapping);
guint32                ferry_port_mapping_get_lifetime          (FerryPortMapping *mapping);
gint64                 ferry_port_mapping_get_expiry            (FerryPortMapping *mapping);
char                  *ferry_port_mapping_to_string             (FerryPortMapping *mapping);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryPortMapping, ferry_port_mapping_unref)

G_END_DECLS
