/* ferry-ice-server.h
 *
 * One STUN or TURN server of an ICE session, read from the rendezvous'
 * settings (see ferry-rendezvous-protocol.h, GET /v1/ice).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>
#include <nice/agent.h>

G_BEGIN_DECLS

typedef struct
{
  char          *host;
  char          *ip;          /* host resolved, or a copy of it */
  guint16        port;
  gboolean       is_turn;
  NiceRelayType  relay_type;
  char          *username;
  char          *password;
} FerryIceServer;

void       ferry_ice_server_free       (FerryIceServer  *server);
GPtrArray *ferry_ice_server_parse_list (const char      *json,
                                        gssize           length,
                                        GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryIceServer, ferry_ice_server_free)

G_END_DECLS
