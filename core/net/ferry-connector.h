/* ferry-connector.h
 *
 * From a connected signalling channel to a connected ICE session: servers from the
 * rendezvous, candidates relayed as "ice" messages, port mappings probed on the side.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-ice-session.h"
#include "ferry-path.h"
#include "ferry-rendezvous-client.h"
#include "ferry-signalling.h"

G_BEGIN_DECLS

/**
 * FerryConnectorPortmap:
 * @FERRY_CONNECTOR_PORTMAP_UPNP: UPnP IGD, through our client (ferry-portmap-upnp.c)
 * @FERRY_CONNECTOR_PORTMAP_PCP: PCP (RFC 6887), our own client
 * @FERRY_CONNECTOR_PORTMAP_NATPMP: NAT-PMP (RFC 6886), our own client
 *
 * Which port-mapping protocols a connector asks the router for.
 */
typedef enum
{
  FERRY_CONNECTOR_PORTMAP_NONE   = 0,
  FERRY_CONNECTOR_PORTMAP_UPNP   = 1 << 0,
  FERRY_CONNECTOR_PORTMAP_PCP    = 1 << 1,
  FERRY_CONNECTOR_PORTMAP_NATPMP = 1 << 2,
  FERRY_CONNECTOR_PORTMAP_ALL    = 0x7,
} FerryConnectorPortmap;

/* The signalling message type that carries ICE messages. */
#define FERRY_CONNECTOR_MESSAGE_TYPE "ice"

/* A network without port mapping must cost no visible delay: probes give up after the
 * portmap-timeout, and end-of-candidates waits for them at most that plus
 * FERRY_CONNECTOR_HOLD_SLACK_MS (gathering the host socket to map comes first): one second
 * by default. */
#define FERRY_CONNECTOR_DEFAULT_PORTMAP_TIMEOUT_MS 700
#define FERRY_CONNECTOR_HOLD_SLACK_MS              300
#define FERRY_CONNECTOR_MAX_PORTMAP_TIMEOUT_MS     10000
#define FERRY_CONNECTOR_DEFAULT_TIMEOUT_MS         30000
/* What we ask a router for; the renewer renews at half of what it grants. */
#define FERRY_CONNECTOR_MAPPING_LIFETIME_S         600

#define FERRY_TYPE_CONNECTOR (ferry_connector_get_type ())

G_DECLARE_FINAL_TYPE (FerryConnector, ferry_connector, FERRY, CONNECTOR, GObject)

FerryConnector   *ferry_connector_new                   (FerrySignalling        *signalling,
                                                         FerryRendezvousClient  *client,
                                                         FerryIceRole            role);
FerryIceRole      ferry_connector_get_role              (FerryConnector         *self);
guint             ferry_connector_get_portmap           (FerryConnector         *self);
void              ferry_connector_set_portmap           (FerryConnector         *self,
                                                         guint                   protocols);
guint             ferry_connector_get_portmap_timeout   (FerryConnector         *self);
void              ferry_connector_set_portmap_timeout   (FerryConnector         *self,
                                                         guint                   timeout_ms);
guint             ferry_connector_get_candidate_types   (FerryConnector         *self);
void              ferry_connector_set_candidate_types   (FerryConnector         *self,
                                                         guint                   types);
guint             ferry_connector_get_relay_transports  (FerryConnector         *self);
void              ferry_connector_set_relay_transports  (FerryConnector         *self,
                                                         guint                   transports);
guint             ferry_connector_get_timeout           (FerryConnector         *self);
void              ferry_connector_set_timeout           (FerryConnector         *self,
                                                         guint                   timeout_ms);

FerryIceSession  *ferry_connector_get_session           (FerryConnector         *self);
FerryPath        *ferry_connector_get_path              (FerryConnector         *self);
FerryPathMapping  ferry_connector_get_local_mapping     (FerryConnector         *self);
guint             ferry_connector_get_n_mappings        (FerryConnector         *self);

void              ferry_connector_connect_async         (FerryConnector         *self,
                                                         GCancellable           *cancellable,
                                                         GAsyncReadyCallback     callback,
                                                         gpointer                user_data);
FerryIceSession  *ferry_connector_connect_finish        (FerryConnector         *self,
                                                         GAsyncResult           *result,
                                                         FerryPath             **path,
                                                         GError                **error);
void              ferry_connector_close_async           (FerryConnector         *self,
                                                         GCancellable           *cancellable,
                                                         GAsyncReadyCallback     callback,
                                                         gpointer                user_data);
gboolean          ferry_connector_close_finish          (FerryConnector         *self,
                                                         GAsyncResult           *result,
                                                         GError                **error);

G_END_DECLS
