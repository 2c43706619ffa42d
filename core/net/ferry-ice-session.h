/* ferry-ice-session.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <nice/agent.h>

#include "ferry-ice-error.h"
#include "ferry-path.h"

G_BEGIN_DECLS

/*
 * Signalling messages
 * ===================
 *
 * A session describes itself to its peer with small JSON objects (UTF-8,
 * at most FERRY_ICE_MESSAGE_MAX_SIZE bytes). The signalling layer forwards
 * each one as opaque bytes, in order, sealed through the mailbox; the peer
 * hands it to ferry_ice_session_handle_remote_message(). Three kinds:
 *
 *   {"type": "credentials", "ufrag": "<4..256 ice-chars>", "pwd": "<22..256 ice-chars>"}
 *       Emitted once, first.
 *
 *   {"type": "candidate", "candidate": "a=candidate:<foundation> 1 udp <prio> <ip> <port>
 *                                       typ host|srflx|relay [raddr <ip> rport <port>]",
 *    "mapped": "upnp"|"pcp"|"nat-pmp",                       (optional)
 *    "relay": {"server": "<host:port>", "transport": "udp"|"tcp"}}   (optional)
 *       One per local candidate as it is gathered (trickle ICE). "mapped"
 *       says the candidate is a port mapping, "relay" names the TURN server
 *       of a relay candidate; both only feed the path shown to the user.
 *
 *   {"type": "end-of-direct-candidates"}
 *       After the last host, server-reflexive and port-mapped candidate, when
 *       relay candidates are held back until the direct checks had their
 *       chance (see "Relays last" in ferry-ice-session.c). A peer that never
 *       sends it is taken to be done with its direct candidates at its end.
 *
 *   {"type": "end-of-candidates"}
 *       After the last candidate.
 *
 *   {"type": "restart", "generation": <1..100000>}
 *       ICE restarts (see ferry-ice-session.c): every message after it carries
 *       the same "generation" and belongs to the new negotiation, which
 *       starts again with "credentials"; the peer answers with its own
 *       messages of that generation. Messages of another generation than the
 *       current one are dropped; without "generation" a message is of
 *       generation 0.
 *
 * Unknown members are ignored, so later versions can add some.
 *
 * Datagrams
 * =========
 *
 * ferry_ice_session_send() carries any datagram except one of exactly
 * FERRY_ICE_PROBE_SIZE bytes starting with FERRY_ICE_PROBE_PING or
 * FERRY_ICE_PROBE_PONG: those are the session's own RTT probes. The first
 * byte alone cannot tell them apart: ngtcp2 0.12 always greases QUIC's fixed
 * bit (RFC 9287), so a QUIC packet may start with any byte. The size can: a
 * QUIC packet is never shorter than 21 bytes (header protection samples 16
 * bytes after a 4-byte packet number offset). STUN is told apart by libnice
 * itself, by its magic cookie and length.
 */

#define FERRY_ICE_PROBE_SIZE       13

#define FERRY_ICE_MESSAGE_MAX_SIZE 4096
#define FERRY_ICE_PROBE_PING       0x30
#define FERRY_ICE_PROBE_PONG       0x31

/**
 * FerryIceRole:
 * @FERRY_ICE_ROLE_CONTROLLING: the sender, which will be the QUIC client
 * @FERRY_ICE_ROLE_CONTROLLED: the receiver
 */
typedef enum
{
  FERRY_ICE_ROLE_CONTROLLING,
  FERRY_ICE_ROLE_CONTROLLED,
} FerryIceRole;

/**
 * FerryIceCandidateTypes:
 *
 * Which local candidates a session offers. With only
 * %FERRY_ICE_CANDIDATE_RELAY the agent also runs libnice's force-relay, so
 * no other local candidate is used at all; otherwise the flags only filter
 * what is sent to the peer (and leaving out SRFLX skips the STUN server).
 */
typedef enum
{
  FERRY_ICE_CANDIDATE_HOST  = 1 << 0,
  FERRY_ICE_CANDIDATE_SRFLX = 1 << 1,
  FERRY_ICE_CANDIDATE_RELAY = 1 << 2,
  FERRY_ICE_CANDIDATE_ALL   = 0x7,
} FerryIceCandidateTypes;

/**
 * FerryIceRelayTransports:
 *
 * Which of the configured TURN URLs are used, by transport to the server.
 * TCP includes TLS ("turns:").
 */
typedef enum
{
  FERRY_ICE_RELAY_UDP = 1 << 0,
  FERRY_ICE_RELAY_TCP = 1 << 1,
  FERRY_ICE_RELAY_ALL = 0x3,
} FerryIceRelayTransports;

#define FERRY_TYPE_ICE_ROLE (ferry_ice_role_get_type ())
#define FERRY_TYPE_ICE_SESSION (ferry_ice_session_get_type ())

GType ferry_ice_role_get_type (void) G_GNUC_CONST;

G_DECLARE_FINAL_TYPE (FerryIceSession, ferry_ice_session, FERRY, ICE_SESSION, GObject)

/**
 * FerryIceReceiveFunc:
 * @session: the session
 * @data: one datagram, valid only during the call
 * @length: its size
 * @user_data: what was given to ferry_ice_session_set_receive_func()
 */
typedef void (*FerryIceReceiveFunc) (FerryIceSession *session,
                                     const guint8    *data,
                                     gsize            length,
                                     gpointer         user_data);

FerryIceSession *ferry_ice_session_new                  (FerryIceRole             role);
FerryIceRole     ferry_ice_session_get_role             (FerryIceSession         *self);
GMainContext    *ferry_ice_session_get_context          (FerryIceSession         *self);
FerryPath       *ferry_ice_session_get_path             (FerryIceSession         *self);
NiceAgent       *ferry_ice_session_get_agent            (FerryIceSession         *self);
gboolean         ferry_ice_session_get_connected        (FerryIceSession         *self);
gboolean         ferry_ice_session_get_settled          (FerryIceSession         *self);

gboolean         ferry_ice_session_set_servers_json     (FerryIceSession         *self,
                                                         const char              *json,
                                                         gssize                   length,
                                                         GError                 **error);
void             ferry_ice_session_set_candidate_types  (FerryIceSession         *self,
                                                         FerryIceCandidateTypes   types);
void             ferry_ice_session_set_relay_transports (FerryIceSession         *self,
                                                         FerryIceRelayTransports  transports);
guint            ferry_ice_session_get_timeout          (FerryIceSession         *self);
void             ferry_ice_session_set_timeout          (FerryIceSession         *self,
                                                         guint                    timeout_ms);
gboolean         ferry_ice_session_get_upnp             (FerryIceSession         *self);
void             ferry_ice_session_set_upnp             (FerryIceSession         *self,
                                                         gboolean                 enabled);
guint            ferry_ice_session_get_upnp_timeout     (FerryIceSession         *self);
void             ferry_ice_session_set_upnp_timeout     (FerryIceSession         *self,
                                                         guint                    timeout_ms);
guint            ferry_ice_session_get_rtt_interval     (FerryIceSession         *self);
void             ferry_ice_session_set_rtt_interval     (FerryIceSession         *self,
                                                         guint                    interval_ms);
guint            ferry_ice_session_get_relay_delay      (FerryIceSession         *self);
void             ferry_ice_session_set_relay_delay      (FerryIceSession         *self,
                                                         guint                    delay_ms);
guint            ferry_ice_session_get_relay_hold_max   (FerryIceSession         *self);
void             ferry_ice_session_set_relay_hold_max   (FerryIceSession         *self,
                                                         guint                    hold_ms);
guint            ferry_ice_session_get_network_wait     (FerryIceSession         *self);
void             ferry_ice_session_set_network_wait     (FerryIceSession         *self,
                                                         guint                    wait_ms);
gboolean         ferry_ice_session_get_waiting_for_network (FerryIceSession      *self);
gboolean         ferry_ice_session_add_local_address    (FerryIceSession         *self,
                                                         const char              *ip,
                                                         GError                 **error);

GPtrArray       *ferry_ice_session_dup_host_addresses   (FerryIceSession         *self);
gboolean         ferry_ice_session_add_mapped_candidate (FerryIceSession         *self,
                                                         FerryPathMapping         protocol,
                                                         GInetSocketAddress      *mapped,
                                                         GInetSocketAddress      *base,
                                                         GError                 **error);
void             ferry_ice_session_hold_end_of_candidates    (FerryIceSession    *self);
void             ferry_ice_session_release_end_of_candidates (FerryIceSession    *self);

void             ferry_ice_session_connect_async        (FerryIceSession         *self,
                                                         GCancellable            *cancellable,
                                                         GAsyncReadyCallback      callback,
                                                         gpointer                 user_data);
gboolean         ferry_ice_session_connect_finish       (FerryIceSession         *self,
                                                         GAsyncResult            *result,
                                                         GError                 **error);
void             ferry_ice_session_close                (FerryIceSession         *self);
void             ferry_ice_session_restart              (FerryIceSession         *self);
guint            ferry_ice_session_get_generation       (FerryIceSession         *self);

gboolean         ferry_ice_session_handle_remote_message (FerryIceSession        *self,
                                                          const char             *message,
                                                          gssize                  length,
                                                          GError                **error);
gboolean         ferry_ice_session_set_remote_credentials (FerryIceSession       *self,
                                                           const char            *ufrag,
                                                           const char            *pwd,
                                                           GError               **error);
gboolean         ferry_ice_session_add_remote_candidate (FerryIceSession         *self,
                                                         const char              *line,
                                                         GError                 **error);
void             ferry_ice_session_remote_end_of_candidates (FerryIceSession     *self);

void             ferry_ice_session_set_receive_func     (FerryIceSession         *self,
                                                         FerryIceReceiveFunc      func,
                                                         gpointer                 user_data,
                                                         GDestroyNotify           destroy);
gboolean         ferry_ice_session_send                 (FerryIceSession         *self,
                                                         const guint8            *data,
                                                         gsize                    length);

G_END_DECLS
