/* ferry-ice-session.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-ice"

#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include <json-glib/json-glib.h>
#include <nice/interfaces.h>

#include "ferry-ice-server.h"
#include "ferry-ice-session.h"
#include "ferry-network-watch.h"

/**
 * FerryIceSession:
 *
 * One ICE session between two Ferry peers: a libnice agent in RFC 5245 mode
 * with one stream of one UDP component, carrying unreliable datagrams (QUIC
 * brings its own reliability).
 *
 * The session is transport-agnostic about signalling: it emits its
 * credentials, its candidates (trickled) and the end of its candidates as
 * small JSON messages through #FerryIceSession::local-message, and takes the
 * peer's through ferry_ice_session_handle_remote_message(). The format is
 * described in ferry-ice-session.h.
 *
 * Port mappings: libnice 0.1.21 has no public way to add a local candidate
 * (nice_agent_add_local_address() binds a socket, which a NAT's external
 * address cannot have). A PCP/NAT-PMP mapping is therefore announced to the
 * peer as a server-reflexive candidate whose base is our host candidate,
 * exactly what it is on the wire: the peer's checks to the mapped address
 * reach our host socket, where libnice answers them as usual.
 *
 * Nomination: aggressive (RFC 5245 8.1.1.2). The controlling side sets
 * USE-CANDIDATE on every check, so the first pair that works carries data at
 * once (no waiting for checks to the peer's unreachable private addresses to
 * time out), and each better pair that validates later, including one through
 * a port mapping trickled late, takes over on both sides: the path upgrades
 * itself while the session runs, and #FerryPath follows. (libnice 0.1.21's
 * regular nomination instead picked the best of the first two valid pairs,
 * once and for good.)
 *
 * Relays last: relay pairs validate at once (a TURN server answers
 * everyone), and once a pair is nominated libnice drops every direct pair it
 * has not started checking. So the TURN servers are given to libnice, and the
 * peer's relay candidates to the agent, only once both sides have sent every
 * direct candidate ("end-of-direct-candidates") and direct checks had
 * relay-delay to succeed, or at relay-hold-max after gathering started at the
 * latest; by then every direct pair has been tried. A session that is
 * connected directly by then never allocates a relay.
 *
 * Settled: the path is final (until the network changes) once libnice is
 * READY, both sides' candidates are all in, and no better pair is still being
 * checked; #FerryIceSession:settled says so.
 *
 * Restarts: a session that runs can restart ICE (RFC 8445 9) while it
 * keeps sending on its pair: a new libnice stream in the same agent, with
 * new credentials, sockets and candidates, is negotiated beside the one in
 * use ("restart", then the usual messages, all with a higher "generation")
 * and takes over once it has a nominated pair that is no worse, or at once
 * when the old pair is gone; the old stream is then removed. Datagrams from
 * either stream are delivered meanwhile. What runs over the session (QUIC)
 * sees one datagram path throughout. The controlling side restarts on a
 * schedule with back-off (FIRST_UPGRADE_MS doubling up to MAX_UPGRADE_MS)
 * while its settled path is relayed, looking for a direct one (new server-
 * reflexive mappings, a NAT whose conntrack state changed); such a probe
 * offers no relays, so it can only find something better. Either side may
 * restart when its network changes (ferry_ice_session_restart()).
 *
 * RTT: libnice does not report the round-trip time of its STUN checks, so
 * the session probes it itself once connected: every rtt-interval it sends a
 * 13-byte FERRY_ICE_PROBE_PING datagram carrying a monotonic timestamp, the
 * peer's session echoes it as FERRY_ICE_PROBE_PONG, and the smoothed result
 * (RFC 6298 weights) goes to the #FerryPath. The probes also keep NAT
 * mappings alive through idle periods, on top of libnice's consent freshness
 * checks (RFC 7675), which are on.
 */

#define DEFAULT_TIMEOUT_MS      30000
#define DEFAULT_UPNP_TIMEOUT_MS 2000
#define DEFAULT_RTT_INTERVAL_MS 2000
#define COMPONENT_ID            1
#define PROBE_SIZE              FERRY_ICE_PROBE_SIZE
#define MAPPED_PRIORITY         ((105u << 24) | (65535u << 8) | (256u - COMPONENT_ID))
#define DEFAULT_NETWORK_WAIT_MS   15000
#define DEFAULT_RELAY_DELAY_MS    200
#define DEFAULT_RELAY_HOLD_MAX_MS 500
/* A STUN server that does not answer (UDP blocked) keeps libnice gathering
 * for seconds; the direct candidates count as complete after this long. */
#define DIRECT_GATHER_CAP_MS      1000
/* A restart that has no nominated pair by then is given up. */
#define RESTART_TIMEOUT_MS        10000
#define FIRST_UPGRADE_MS          2000
#define MAX_UPGRADE_MS            60000
#define MAX_GENERATION            100000
/* One change comes as a burst of netlink messages (link, addresses, routes). */
#define ROAM_SETTLE_MS            300

typedef enum
{
  RELAYS_NOT_HELD,   /* relays gathered with the rest (relay-only, or no direct types) */
  RELAYS_HELD,       /* relays kept back until the direct phase is over */
  RELAYS_GATHERING,  /* TURN servers handed to libnice, allocations running */
  RELAYS_DONE,
} RelayState;

typedef enum
{
  STATE_NEW,
  STATE_WAITING_NETWORK,
  STATE_RESOLVING,
  STATE_CONNECTING,
  STATE_CONNECTED,
  STATE_CLOSED,
} State;

typedef struct
{
  FerryPathMapping  mapped;
  char             *relay_server;
  char             *relay_transport;
} RemoteInfo;

typedef struct
{
  FerryPathMapping  protocol;
  NiceAddress       mapped;
  NiceAddress       base;
} LocalMapping;

struct _FerryIceSession
{
  GObject                  parent_instance;

  FerryIceRole             role;
  GMainContext            *context;
  NiceAgent               *agent;
  gboolean                 agent_has_relays;   /* TURN allocations to delete at close */
  guint                    stream_id;          /* the generation being negotiated */
  guint                    data_stream_id;     /* the stream datagrams go over */
  guint                    generation;
  gboolean                 restarting;         /* stream_id is a restart, not yet in use */
  GSource                 *restart_deadline_source;
  GSource                 *upgrade_source;
  guint                    upgrade_delay_ms;
  FerryNetworkWatch       *roam_watch;
  GSource                 *roam_source;
  char                    *local_ips;         /* what the last gathering could use */
  char                    *remote_ufrag;
  char                    *remote_pwd;
  gboolean                 rebinding;         /* the restart keeps the credentials */
  State                    state;
  FerryPath               *path;

  GPtrArray               *servers;          /* FerryIceServer */
  gboolean                 local_addresses_given;
  guint                    network_wait_ms;
  FerryNetworkWatch       *network_watch;
  GSource                 *network_wait_source;
  FerryIceCandidateTypes   candidate_types;
  FerryIceRelayTransports  relay_transports;
  guint                    timeout_ms;
  gboolean                 upnp;
  guint                    upnp_timeout_ms;
  guint                    rtt_interval_ms;

  gboolean                 have_remote_credentials;
  GPtrArray               *pending_remote;   /* NiceCandidate, until credentials */
  gboolean                 pending_remote_eoc;
  GHashTable              *remote_info;      /* "ip:port" → RemoteInfo */
  GArray                  *mappings;         /* LocalMapping */
  guint                    n_mapped_sent;
  guint                    eoc_holds;
  gboolean                 gathering_done;
  gboolean                 direct_done;
  gboolean                 remote_direct_done;
  gboolean                 eoc_sent;
  gboolean                 remote_eoc_given;  /* to libnice */
  gboolean                 ready;             /* libnice's READY */
  gboolean                 settled;

  RelayState               relay_state;
  guint                    relay_delay_ms;
  guint                    relay_hold_max_ms;
  GPtrArray               *held_remote;      /* the peer's relay candidates, until released */
  GSource                 *relay_delay_source;
  GSource                 *relay_hold_source;
  GSource                 *direct_cap_source;

  GTask                   *connect_task;
  GCancellable            *internal_cancellable;
  GSource                 *deadline_source;
  GSource                 *cancel_source;
  guint                    pending_resolves;

  GSource                 *probe_source;
  guint32                  probe_nonce;
  double                   srtt_ms;

  FerryIceReceiveFunc      receive_func;
  gpointer                 receive_data;
  GDestroyNotify           receive_destroy;
};

G_DEFINE_FINAL_TYPE (FerryIceSession, ferry_ice_session, G_TYPE_OBJECT)

GType
ferry_ice_role_get_type (void)
{
  static gsize type_id = 0;
  static const GEnumValue values[] = {
    { FERRY_ICE_ROLE_CONTROLLING, "FERRY_ICE_ROLE_CONTROLLING", "controlling" },
    { FERRY_ICE_ROLE_CONTROLLED, "FERRY_ICE_ROLE_CONTROLLED", "controlled" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("FerryIceRole", values));

  return type_id;
}

enum {
  PROP_0,
  PROP_ROLE,
  PROP_PATH,
  PROP_CONNECTED,
  PROP_TIMEOUT,
  PROP_UPNP,
  PROP_UPNP_TIMEOUT,
  PROP_RTT_INTERVAL,
  PROP_RELAY_DELAY,
  PROP_RELAY_HOLD_MAX,
  PROP_NETWORK_WAIT,
  PROP_WAITING_FOR_NETWORK,
  PROP_SETTLED,
  N_PROPS
};

enum {
  LOCAL_MESSAGE,
  FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void teardown (FerryIceSession *self);
static void release_relays (FerryIceSession *self,
                            const char      *why);
static void clear_source (GSource **source);
static void maybe_settle (FerryIceSession *self);
static void maybe_schedule_upgrade (FerryIceSession *self);
static void abandon_restart (FerryIceSession *self,
                             const char      *why);
static void enlarge_socket_buffers (FerryIceSession *self);
static void start_roaming (FerryIceSession *self);
static void resolve_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data);

static void
remote_info_free (RemoteInfo *info)
{
  g_free (info->relay_server);
  g_free (info->relay_transport);
  g_free (info);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RemoteInfo, remote_info_free)

/* Servers --------------------------------------------------------------- */

/**
 * ferry_ice_session_set_servers_json:
 * @json: the rendezvous' `GET /v1/ice` answer
 * @length: its length, or -1 if nul-terminated
 *
 * Takes the STUN and TURN servers to use, replacing any set before. Host
 * names are resolved when connecting. Nothing changes on error.
 *
 * Returns: %TRUE on success; %FERRY_ICE_ERROR_BAD_CONFIG otherwise
 */
gboolean
ferry_ice_session_set_servers_json (FerryIceSession  *self,
                                    const char       *json,
                                    gssize            length,
                                    GError          **error)
{
  GPtrArray *servers;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  if (self->state != STATE_NEW)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                           "Servers can only be set before connecting");
      return FALSE;
    }

  servers = ferry_ice_server_parse_list (json, length, error);
  if (servers == NULL)
    return FALSE;

  g_ptr_array_unref (self->servers);
  self->servers = servers;
  return TRUE;
}

/* Local messages -------------------------------------------------------- */

/* Every message of a restarted session says which generation it is of. */
static void
add_generation (FerryIceSession *self,
                JsonBuilder     *builder)
{
  if (self->generation == 0)
    return;

  json_builder_set_member_name (builder, "generation");
  json_builder_add_int_value (builder, self->generation);
}

static void
emit_message (FerryIceSession *self,
              JsonBuilder     *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);

  g_signal_emit (self, signals[LOCAL_MESSAGE], 0, text);
}

static void
emit_credentials (FerryIceSession *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;

  nice_agent_get_local_credentials (self->agent, self->stream_id, &ufrag, &pwd);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "credentials");
  json_builder_set_member_name (builder, "ufrag");
  json_builder_add_string_value (builder, ufrag);
  json_builder_set_member_name (builder, "pwd");
  json_builder_add_string_value (builder, pwd);
  add_generation (self, builder);
  json_builder_end_object (builder);

  emit_message (self, builder);
}

/* libnice 0.1.21 encodes the transport to the TURN server in a relay
 * candidate's type preference (the top byte of its RFC 8445 priority): 30
 * for UDP, 20 for TCP and TLS. It is the only place a copy of the candidate
 * (what signals hand out) still carries it. */
static gboolean
relay_is_udp (const NiceCandidate *candidate)
{
  return (candidate->priority >> 24) >= 30;
}

static gboolean
server_in_use (FerryIceSession *self,
               FerryIceServer  *server)
{
  if (!server->is_turn || server->ip == NULL)
    return FALSE;
  if (server->relay_type == NICE_RELAY_TYPE_TURN_UDP)
    return (self->relay_transports & FERRY_ICE_RELAY_UDP) != 0;
  return (self->relay_transports & FERRY_ICE_RELAY_TCP) != 0;
}

/* The TURN server that gave a relay candidate. libnice's copies of
 * candidates (nice_candidate_copy() drops the TURN pointer, and every signal
 * and getter but nice_agent_get_selected_pair() hands out copies) cannot
 * answer nice_candidate_relay_address(), so the server is found among the
 * ones configured: the one of the candidate's transport whose address is the
 * relayed address' (coturn relays from its own address unless told
 * otherwise), or else the only one of that transport. NULL when ambiguous. */
static char *
relay_server_for_copy (FerryIceSession     *self,
                       const NiceCandidate *candidate)
{
  FerryIceServer *only = NULL;
  guint n_candidates = 0;
  gboolean udp = relay_is_udp (candidate);
  char ip[NICE_ADDRESS_STRING_LEN];

  nice_address_to_string (&candidate->addr, ip);

  for (guint i = 0; i < self->servers->len; i++)
    {
      FerryIceServer *server = g_ptr_array_index (self->servers, i);
      NiceAddress address;

      if (!server_in_use (self, server) ||
          (server->relay_type == NICE_RELAY_TYPE_TURN_UDP) != udp ||
          !nice_address_set_from_string (&address, server->ip))
        continue;

      nice_address_set_port (&address, server->port);
      if (nice_address_equal_no_port (&address, &candidate->addr))
        return ferry_path_format_address (&address);

      if (only == NULL || g_strcmp0 (only->ip, server->ip) != 0 || only->port != server->port)
        n_candidates++;
      only = server;
    }

  if (n_candidates == 1)
    {
      NiceAddress address;

      nice_address_set_from_string (&address, only->ip);
      nice_address_set_port (&address, only->port);
      return ferry_path_format_address (&address);
    }

  return NULL;
}

static FerryPathMapping
local_candidate_mapping (FerryIceSession     *self,
                         const NiceCandidate *candidate)
{
  NiceAddress stun;

  /* libnice's UPnP candidates are server-reflexive ones that no STUN
   * server reflected. */
  if (candidate->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE && self->upnp &&
      !nice_candidate_stun_server_address (candidate, &stun))
    return FERRY_PATH_MAPPING_UPNP;

  for (guint i = 0; i < self->mappings->len; i++)
    {
      LocalMapping *m = &g_array_index (self->mappings, LocalMapping, i);

      if (nice_address_equal (&m->mapped, &candidate->addr))
        return m->protocol;
    }

  return FERRY_PATH_MAPPING_NONE;
}

static void
emit_candidate (FerryIceSession     *self,
                NiceCandidate       *candidate,
                FerryPathMapping     mapped)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree char *line = nice_agent_generate_local_candidate_sdp (self->agent, candidate);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "candidate");
  json_builder_set_member_name (builder, "candidate");
  json_builder_add_string_value (builder, line);

  if (mapped != FERRY_PATH_MAPPING_NONE)
    {
      json_builder_set_member_name (builder, "mapped");
      json_builder_add_string_value (builder, ferry_path_mapping_to_string (mapped));
    }

  if (candidate->type == NICE_CANDIDATE_TYPE_RELAYED)
    {
      g_autofree char *server = relay_server_for_copy (self, candidate);

      json_builder_set_member_name (builder, "relay");
      json_builder_begin_object (builder);
      if (server != NULL)
        {
          json_builder_set_member_name (builder, "server");
          json_builder_add_string_value (builder, server);
        }
      json_builder_set_member_name (builder, "transport");
      json_builder_add_string_value (builder, relay_is_udp (candidate) ? "udp" : "tcp");
      json_builder_end_object (builder);
    }

  add_generation (self, builder);

  json_builder_end_object (builder);

  emit_message (self, builder);
}

/* Path ------------------------------------------------------------------ */

static void
update_path (FerryIceSession *self)
{
  NiceCandidate *local = NULL;
  NiceCandidate *remote = NULL;
  g_autofree char *remote_key = NULL;
  g_autofree char *relay_server = NULL;
  const char *relay_transport = NULL;
  FerryPathMapping mapped;
  RemoteInfo *info;

  if (self->agent == NULL ||
      !nice_agent_get_selected_pair (self->agent, self->data_stream_id, COMPONENT_ID,
                                     &local, &remote))
    return;

  remote_key = ferry_path_format_address (&remote->addr);
  info = g_hash_table_lookup (self->remote_info, remote_key);

  mapped = local_candidate_mapping (self, local);
  if (mapped == FERRY_PATH_MAPPING_NONE && info != NULL)
    mapped = info->mapped;
  if (mapped == FERRY_PATH_MAPPING_NONE && local->type == NICE_CANDIDATE_TYPE_HOST &&
      ferry_path_classify (local, remote) == FERRY_PATH_KIND_DIRECT_INTERNET)
    {
      /* The peer reached our host socket from outside our network: if we
       * mapped that very socket, the mapping let it in. */
      for (guint i = 0; i < self->mappings->len; i++)
        {
          LocalMapping *m = &g_array_index (self->mappings, LocalMapping, i);

          if (nice_address_equal (&m->base, &local->base_addr))
            mapped = m->protocol;
        }
    }

  if (local->type == NICE_CANDIDATE_TYPE_RELAYED)
    {
      NiceAddress server;

      nice_candidate_relay_address (local, &server);
      relay_server = ferry_path_format_address (&server);
      relay_transport = relay_is_udp (local) ? "udp" : "tcp";
    }
  else if (remote->type == NICE_CANDIDATE_TYPE_RELAYED && info != NULL)
    {
      relay_server = g_strdup (info->relay_server);
      relay_transport = info->relay_transport;
    }

  ferry_path_update_pair (self->path, local, remote, mapped, relay_server, relay_transport);
}

/* RTT probes ------------------------------------------------------------ */

static void
send_probe (FerryIceSession *self,
            guint8           kind,
            const guint8    *payload)
{
  guint8 probe[PROBE_SIZE];
  GOutputVector vector = { probe, sizeof probe };
  NiceOutputMessage message = { &vector, 1 };

  probe[0] = kind;
  memcpy (probe + 1, payload, PROBE_SIZE - 1);

  /* A probe that does not fit into the socket buffer is just skipped. */
  nice_agent_send_messages_nonblocking (self->agent, self->data_stream_id, COMPONENT_ID,
                                        &message, 1, NULL, NULL);
}

static gboolean
probe_timeout_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;
  guint8 payload[PROBE_SIZE - 1];
  guint32 nonce = GUINT32_TO_BE (self->probe_nonce);
  guint64 now = GUINT64_TO_BE ((guint64) g_get_monotonic_time ());

  memcpy (payload, &nonce, 4);
  memcpy (payload + 4, &now, 8);
  send_probe (self, FERRY_ICE_PROBE_PING, payload);

  return G_SOURCE_CONTINUE;
}

static void
start_probes (FerryIceSession *self)
{
  if (self->probe_source != NULL)
    return;

  self->probe_source = g_timeout_source_new (self->rtt_interval_ms);
  g_source_set_callback (self->probe_source, probe_timeout_cb, self, NULL);
  g_source_attach (self->probe_source, self->context);

  probe_timeout_cb (self);
}

static void
handle_pong (FerryIceSession *self,
             const guint8    *data)
{
  guint32 nonce;
  guint64 sent;
  gint64 now = g_get_monotonic_time ();
  double sample;

  memcpy (&nonce, data + 1, 4);
  memcpy (&sent, data + 5, 8);
  nonce = GUINT32_FROM_BE (nonce);
  sent = GUINT64_FROM_BE (sent);

  /* Only our own probes, and no time travel. */
  if (nonce != self->probe_nonce || sent > (guint64) now)
    return;

  sample = (now - (gint64) sent) / 1000.0;
  if (self->srtt_ms < 0)
    self->srtt_ms = sample;
  else
    self->srtt_ms = 0.875 * self->srtt_ms + 0.125 * sample;

  ferry_path_set_rtt_ms (self->path, self->srtt_ms);
}

static void
agent_recv_cb (NiceAgent *agent,
               guint      stream_id,
               guint      component_id,
               guint      length,
               gchar     *buffer,
               gpointer   user_data)
{
  FerryIceSession *self = user_data;
  const guint8 *data = (const guint8 *) buffer;

  if (length == 0)
    return;

  if (length == PROBE_SIZE && data[0] == FERRY_ICE_PROBE_PING)
    {
      send_probe (self, FERRY_ICE_PROBE_PONG, data + 1);
      return;
    }

  if (length == PROBE_SIZE && data[0] == FERRY_ICE_PROBE_PONG)
    {
      handle_pong (self, data);
      return;
    }

  if (self->receive_func != NULL)
    self->receive_func (self, data, length, self->receive_data);
}

/* Connecting ------------------------------------------------------------ */

static void
set_connected (FerryIceSession *self,
               gboolean         connected)
{
  if ((self->state == STATE_CONNECTED) == connected)
    return;

  self->state = connected ? STATE_CONNECTED : STATE_CLOSED;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

static void
finish_connect (FerryIceSession *self,
                GError          *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

  if (self->deadline_source != NULL)
    {
      g_source_destroy (self->deadline_source);
      g_clear_pointer (&self->deadline_source, g_source_unref);
    }
  if (self->cancel_source != NULL)
    {
      g_source_destroy (self->cancel_source);
      g_clear_pointer (&self->cancel_source, g_source_unref);
    }

  if (error != NULL)
    {
      teardown (self);
      if (task != NULL)
        g_task_return_error (task, error);
      else
        g_error_free (error);
      return;
    }

  set_connected (self, TRUE);
  release_relays (self, "connected directly");
  start_probes (self);
  start_roaming (self);
  if (task != NULL)
    g_task_return_boolean (task, TRUE);
}

static void
lose_connection (FerryIceSession *self,
                 GError          *error)
{
  g_autoptr(GError) owned = error;

  teardown (self);
  g_signal_emit (self, signals[FAILED], 0, owned);
}

static gboolean
has_selected_pair (FerryIceSession *self,
                   guint            stream_id)
{
  NiceCandidate *local = NULL;
  NiceCandidate *remote = NULL;

  return nice_agent_get_selected_pair (self->agent, stream_id, COMPONENT_ID, &local, &remote);
}

/* Restarts ---------------------------------------------------------------- */

typedef struct
{
  GWeakRef  session;
  NiceAgent *agent;
  guint     stream_id;
} StreamRemoval;

static void
stream_removal_free (gpointer data)
{
  StreamRemoval *removal = data;

  g_weak_ref_clear (&removal->session);
  g_object_unref (removal->agent);
  g_free (removal);
}

static gboolean
remove_stream_cb (gpointer user_data)
{
  StreamRemoval *removal = user_data;
  g_autoptr(FerryIceSession) self = g_weak_ref_get (&removal->session);

  /* A session torn down meanwhile released the whole agent. */
  if (self != NULL && self->agent == removal->agent)
    {
      nice_agent_attach_recv (self->agent, removal->stream_id, COMPONENT_ID, self->context,
                              NULL, NULL);
      nice_agent_remove_stream (self->agent, removal->stream_id);
    }
  return G_SOURCE_REMOVE;
}

/* Removes a stream outside libnice's own signal emission, which may still be
 * about it. */
static void
remove_stream_later (FerryIceSession *self,
                     guint            stream_id)
{
  StreamRemoval *removal = g_new0 (StreamRemoval, 1);
  GSource *idle = g_idle_source_new ();

  g_weak_ref_init (&removal->session, self);
  removal->agent = g_object_ref (self->agent);
  removal->stream_id = stream_id;
  g_source_set_callback (idle, remove_stream_cb, removal, stream_removal_free);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

static gboolean
stream_works (FerryIceSession *self,
              guint            stream_id)
{
  NiceComponentState state = nice_agent_get_component_state (self->agent, stream_id,
                                                              COMPONENT_ID);

  return (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
         has_selected_pair (self, stream_id);
}

static int
kind_rank (FerryPathKind kind)
{
  switch (kind)
    {
    case FERRY_PATH_KIND_DIRECT_LAN:
      return 0;
    case FERRY_PATH_KIND_DIRECT_INTERNET:
      return 1;
    case FERRY_PATH_KIND_RELAYED:
      return 2;
    case FERRY_PATH_KIND_UNKNOWN:
    default:
      return 3;
    }
}

/* The restarted stream has a nominated pair: it carries the datagrams from
 * now on, unless the pair in use still works and is better. */
static void
maybe_adopt_restart (FerryIceSession *self)
{
  NiceCandidate *local = NULL;
  NiceCandidate *remote = NULL;
  guint old = self->data_stream_id;

  if (!self->restarting ||
      !nice_agent_get_selected_pair (self->agent, self->stream_id, COMPONENT_ID,
                                     &local, &remote))
    return;

  if (stream_works (self, old) &&
      kind_rank (ferry_path_classify (local, remote)) >
      kind_rank (ferry_path_get_kind (self->path)))
    return;

  g_debug ("ICE restart %u has a pair: moving the datagrams to it", self->generation);
  clear_source (&self->restart_deadline_source);
  self->restarting = FALSE;
  self->rebinding = FALSE;
  self->data_stream_id = self->stream_id;
  self->upgrade_delay_ms = 0;
  remove_stream_later (self, old);
  update_path (self);
  enlarge_socket_buffers (self);
  self->srtt_ms = -1;
  probe_timeout_cb (self);
  release_relays (self, "restarted onto a pair");
}

static gboolean
restart_deadline_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->restart_deadline_source, g_source_unref);
  abandon_restart (self, "no pair in time");
  return G_SOURCE_REMOVE;
}

static void
reset_negotiation (FerryIceSession *self)
{
  self->have_remote_credentials = FALSE;
  g_ptr_array_set_size (self->pending_remote, 0);
  g_ptr_array_set_size (self->held_remote, 0);
  self->pending_remote_eoc = FALSE;
  self->gathering_done = FALSE;
  self->direct_done = FALSE;
  self->remote_direct_done = FALSE;
  self->eoc_sent = FALSE;
  self->remote_eoc_given = FALSE;
  clear_source (&self->relay_delay_source);
  clear_source (&self->relay_hold_source);
  clear_source (&self->direct_cap_source);
}

static void start_gathering (FerryIceSession *self,
                             gboolean         relays);

static void
emit_restart (FerryIceSession *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "restart");
  add_generation (self, builder);
  json_builder_end_object (builder);
  emit_message (self, builder);
}

/* Starts generation @generation on a new stream, saying so first if @announce (we
 * restart, rather than follow the peer); the one in use keeps carrying datagrams
 * until the new one has a pair. */
static void
begin_restart (FerryIceSession *self,
               guint            generation,
               gboolean         announce,
               gboolean         relays)
{
  if (self->restarting)
    abandon_restart (self, "restarted again");

  g_debug ("ICE restart %u (%s relays)", generation, relays ? "with" : "without");
  clear_source (&self->upgrade_source);
  self->generation = generation;
  self->restarting = TRUE;
  self->rebinding = FALSE;
  self->ready = FALSE;
  reset_negotiation (self);
  if (self->settled)
    {
      self->settled = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTLED]);
    }

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  nice_agent_set_stream_name (self->agent, self->stream_id, "application");
  nice_agent_attach_recv (self->agent, self->stream_id, COMPONENT_ID, self->context,
                          agent_recv_cb, self);

  self->restart_deadline_source = g_timeout_source_new (RESTART_TIMEOUT_MS);
  g_source_set_callback (self->restart_deadline_source, restart_deadline_cb, self, NULL);
  g_source_attach (self->restart_deadline_source, self->context);

  if (announce)
    emit_restart (self);
  start_gathering (self, relays);
}

/* The restart found nothing: the stream in use stays, and is settled as it
 * was. */
static void
abandon_restart (FerryIceSession *self,
                 const char      *why)
{
  if (!self->restarting)
    return;

  g_debug ("ICE restart %u given up: %s", self->generation, why);
  clear_source (&self->restart_deadline_source);
  self->restarting = FALSE;
  self->rebinding = FALSE;
  remove_stream_later (self, self->stream_id);
  self->stream_id = self->data_stream_id;
  reset_negotiation (self);
  self->have_remote_credentials = TRUE;
  self->gathering_done = self->direct_done = self->remote_direct_done = TRUE;
  self->eoc_sent = self->remote_eoc_given = TRUE;
  self->relay_state = RELAYS_DONE;
  self->ready = nice_agent_get_component_state (self->agent, self->data_stream_id,
                                                COMPONENT_ID) == NICE_COMPONENT_STATE_READY;

  if (!stream_works (self, self->data_stream_id))
    {
      lose_connection (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED,
                                                  "The connection to the other device was lost"));
      return;
    }

  maybe_settle (self);
}

/**
 * ferry_ice_session_restart:
 *
 * Restarts ICE (see "Restarts" in the class description): for a network
 * that changed, new sockets on the addresses there are now, new candidates,
 * relays included; the pair in use keeps carrying datagrams until a new one
 * is nominated. Only while connected.
 */
void
ferry_ice_session_restart (FerryIceSession *self)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->agent == NULL || self->state != STATE_CONNECTED ||
      self->generation >= MAX_GENERATION)
    return;

  begin_restart (self, self->generation + 1, TRUE,
                 (self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) != 0);
}

/* Roaming: a connected session follows this machine's network -------------- */

/* A rebind is a restart that keeps the generation and both sides'
 * credentials: new sockets on the addresses there are now check the peer's
 * candidates we know, and the new candidates are trickled as more of the
 * current generation. The peer's agent answers checks from an address it
 * never heard of (peer-reflexive, RFC 8445 7.3.1.3) and, nominated, moves its
 * pair there: no signalling is needed for a peer whose candidates we can
 * reach, which matters because the network change that makes us rebind
 * often took our rendezvous connection with it. */
static void
begin_rebind (FerryIceSession *self)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  GSList *remote;
  guint new_id;

  if (self->agent == NULL || self->state != STATE_CONNECTED || self->remote_ufrag == NULL)
    return;
  if (self->restarting)
    abandon_restart (self, "the network changed");
  if (self->agent == NULL)
    return;

  nice_agent_get_local_credentials (self->agent, self->data_stream_id, &ufrag, &pwd);
  remote = nice_agent_get_remote_candidates (self->agent, self->data_stream_id, COMPONENT_ID);

  new_id = nice_agent_add_stream (self->agent, 1);
  nice_agent_set_stream_name (self->agent, new_id, "application");
  if (!nice_agent_set_local_credentials (self->agent, new_id, ufrag, pwd) ||
      !nice_agent_set_remote_credentials (self->agent, new_id, self->remote_ufrag,
                                          self->remote_pwd))
    {
      g_debug ("libnice refused the credentials for a rebind");
      nice_agent_remove_stream (self->agent, new_id);
      g_slist_free_full (remote, (GDestroyNotify) nice_candidate_free);
      return;
    }

  g_debug ("Rebinding ICE on the new addresses (%u candidates of the peer known)",
           g_slist_length (remote));
  clear_source (&self->upgrade_source);
  self->restarting = TRUE;
  self->rebinding = TRUE;
  self->ready = FALSE;
  reset_negotiation (self);
  if (self->settled)
    {
      self->settled = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTLED]);
    }
  self->stream_id = new_id;
  nice_agent_attach_recv (self->agent, new_id, COMPONENT_ID, self->context, agent_recv_cb, self);

  self->have_remote_credentials = TRUE;
  self->remote_direct_done = TRUE;
  self->pending_remote_eoc = TRUE;
  for (GSList *l = remote; l != NULL; l = l->next)
    {
      NiceCandidate *candidate = l->data;

      /* What the peer's checks taught us is learned again from the new sockets. */
      if (candidate->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
        {
          nice_candidate_free (candidate);
          continue;
        }
      candidate->stream_id = new_id;
      g_ptr_array_add (self->pending_remote, candidate);
    }
  g_slist_free (remote);

  self->restart_deadline_source = g_timeout_source_new (RESTART_TIMEOUT_MS);
  g_source_set_callback (self->restart_deadline_source, restart_deadline_cb, self, NULL);
  g_source_attach (self->restart_deadline_source, self->context);

  start_gathering (self, (self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) != 0);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* The usable local addresses, sorted, as one string. */
static char *
dup_local_ips (void)
{
  GList *addresses = nice_interfaces_get_local_ips (FALSE);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  char *joined;

  for (GList *l = addresses; l != NULL; l = l->next)
    g_ptr_array_add (sorted, l->data);
  g_ptr_array_sort (sorted, compare_strings);
  g_ptr_array_add (sorted, NULL);
  joined = g_strjoinv (" ", (char **) sorted->pdata);
  g_list_free_full (addresses, g_free);
  return joined;
}

static gboolean
roam_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;
  g_autofree char *ips = dup_local_ips ();

  g_clear_pointer (&self->roam_source, g_source_unref);
  if (g_strcmp0 (ips, self->local_ips) == 0)
    return G_SOURCE_REMOVE;

  g_debug ("The usable addresses changed from \"%s\" to \"%s\": rebinding ICE",
           self->local_ips, ips);
  g_free (self->local_ips);
  self->local_ips = g_steal_pointer (&ips);
  if (*self->local_ips != '\0')
    begin_rebind (self);
  return G_SOURCE_REMOVE;
}

static void
roam_changed_cb (FerryNetworkWatch *watch,
                 gpointer           user_data)
{
  FerryIceSession *self = user_data;

  if (self->roam_source != NULL)
    return;
  self->roam_source = g_timeout_source_new (ROAM_SETTLE_MS);
  g_source_set_callback (self->roam_source, roam_cb, self, NULL);
  g_source_attach (self->roam_source, self->context);
}

/* Addresses given by hand (tests, a chosen interface) are not followed. */
static void
start_roaming (FerryIceSession *self)
{
  if (self->local_addresses_given || self->roam_watch != NULL)
    return;

  self->local_ips = dup_local_ips ();
  self->roam_watch = ferry_network_watch_new ();
  g_signal_connect (self->roam_watch, "changed", G_CALLBACK (roam_changed_cb), self);
}

static void
stop_roaming (FerryIceSession *self)
{
  clear_source (&self->roam_source);
  if (self->roam_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->roam_watch, self);
  g_clear_object (&self->roam_watch);
  g_clear_pointer (&self->local_ips, g_free);
}

/**
 * ferry_ice_session_get_generation:
 *
 * Returns: how many times ICE restarted in this session
 */
guint
ferry_ice_session_get_generation (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->generation;
}

static gboolean
upgrade_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->upgrade_source, g_source_unref);
  if (self->agent == NULL || self->state != STATE_CONNECTED || self->restarting ||
      self->generation >= MAX_GENERATION)
    return G_SOURCE_REMOVE;

  g_debug ("Still relayed: probing for a direct path");
  begin_restart (self, self->generation + 1, TRUE, FALSE);
  return G_SOURCE_REMOVE;
}

/* The controlling side probes a relayed path for a direct one, less and less
 * often. */
static void
maybe_schedule_upgrade (FerryIceSession *self)
{
  if (self->role != FERRY_ICE_ROLE_CONTROLLING || !self->settled || self->restarting ||
      self->upgrade_source != NULL ||
      ferry_path_get_kind (self->path) != FERRY_PATH_KIND_RELAYED ||
      (self->candidate_types & (FERRY_ICE_CANDIDATE_HOST | FERRY_ICE_CANDIDATE_SRFLX)) == 0)
    return;

  self->upgrade_delay_ms = self->upgrade_delay_ms == 0
                           ? FIRST_UPGRADE_MS
                           : MIN (self->upgrade_delay_ms * 2, MAX_UPGRADE_MS);
  self->upgrade_source = g_timeout_source_new (self->upgrade_delay_ms);
  g_source_set_callback (self->upgrade_source, upgrade_cb, self, NULL);
  g_source_attach (self->upgrade_source, self->context);
}

static void
agent_component_state_changed_cb (NiceAgent *agent,
                                  guint      stream_id,
                                  guint      component_id,
                                  guint      state,
                                  gpointer   user_data)
{
  FerryIceSession *self = user_data;

  g_debug ("stream %u component state %s", stream_id, nice_component_state_to_string (state));

  if (self->restarting)
    {
      if (stream_id == self->stream_id && state == NICE_COMPONENT_STATE_FAILED)
        abandon_restart (self, "every pair failed");
      else if (stream_id == self->stream_id &&
               (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY))
        {
          self->ready = state == NICE_COMPONENT_STATE_READY;
          maybe_adopt_restart (self);
          maybe_settle (self);
        }
      /* The old pair failing while a restart runs is what the restart is for. */
      return;
    }

  /* A removed stream may still say something. */
  if (stream_id != self->stream_id)
    return;

  self->ready = state == NICE_COMPONENT_STATE_READY;

  /* CONNECTED already means a nominated pair (the selected one) carries
   * data; libnice only reaches READY once every better pair still being
   * checked has failed, which for unreachable private addresses takes
   * seconds; a better pair that validates meanwhile takes over. */
  if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
      self->state == STATE_CONNECTING && has_selected_pair (self, stream_id))
    {
      update_path (self);
      finish_connect (self, NULL);
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && self->state == STATE_CONNECTING)
    {
      finish_connect (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED,
                                                 "No network path to the other device works"));
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && self->state == STATE_CONNECTED)
    {
      lose_connection (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED,
                                                  "The connection to the other device was lost"));
    }

  maybe_settle (self);
}

/* Settled: connected, both sides' candidates all in and libnice READY, so no
 * better pair is still being checked and the path stays as it is. */
static void
maybe_settle (FerryIceSession *self)
{
  if (self->settled || self->state != STATE_CONNECTED || self->restarting || !self->ready ||
      !self->eoc_sent || !self->remote_eoc_given)
    return;

  self->settled = TRUE;
  g_debug ("The path is settled");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SETTLED]);
  maybe_schedule_upgrade (self);
}

/**
 * ferry_ice_session_get_settled:
 *
 * Returns: whether the path is final: no better pair is still being checked
 *   and both sides sent all their candidates (a later port mapping or a
 *   network change can still move it)
 */
gboolean
ferry_ice_session_get_settled (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  return self->settled;
}

/* libnice leaves its sockets at the kernel's default buffers (about 200 KiB),
 * and a receiver that is busy for a moment (writing, hashing) then drops
 * datagrams, which the sender's congestion control reads as loss. Larger
 * buffers on the pair in use absorb that; the kernel caps them at its
 * rmem_max/wmem_max, so this is best effort. */
#define SOCKET_BUFFER_SIZE (4 * 1024 * 1024)

static void
enlarge_socket_buffers (FerryIceSession *self)
{
  g_autoptr(GSocket) socket = NULL;

  socket = nice_agent_get_selected_socket (self->agent, self->data_stream_id, COMPONENT_ID);
  if (socket == NULL)
    return;

  if (!g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, SOCKET_BUFFER_SIZE, NULL) ||
      !g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER_SIZE, NULL))
    g_debug ("Could not enlarge the socket buffers of the selected pair");
}

static void
agent_new_selected_pair_cb (NiceAgent     *agent,
                            guint          stream_id,
                            guint          component_id,
                            NiceCandidate *local,
                            NiceCandidate *remote,
                            gpointer       user_data)
{
  FerryIceSession *self = user_data;

  if (self->restarting && stream_id == self->stream_id)
    {
      maybe_adopt_restart (self);
      return;
    }
  if (stream_id != self->data_stream_id)
    return;

  update_path (self);
  enlarge_socket_buffers (self);

  /* A new pair means a new RTT: measure it at once. */
  if (self->state == STATE_CONNECTED)
    {
      self->srtt_ms = -1;
      probe_timeout_cb (self);
    }
}

static void
agent_new_candidate_cb (NiceAgent     *agent,
                        NiceCandidate *candidate,
                        gpointer       user_data)
{
  FerryIceSession *self = user_data;
  FerryIceCandidateTypes type;

  if (candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP || candidate->stream_id != self->stream_id)
    return;

  switch (candidate->type)
    {
    case NICE_CANDIDATE_TYPE_HOST:
      type = FERRY_ICE_CANDIDATE_HOST;
      break;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      type = FERRY_ICE_CANDIDATE_SRFLX;
      break;
    case NICE_CANDIDATE_TYPE_RELAYED:
      type = FERRY_ICE_CANDIDATE_RELAY;
      break;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
    default:
      /* The peer learns those from our checks; trickle ICE never sends them. */
      return;
    }

  if ((self->candidate_types & type) == 0)
    return;

  emit_candidate (self, candidate, local_candidate_mapping (self, candidate));
}

static void flush_pending_remote (FerryIceSession *self);

static void
emit_simple_message (FerryIceSession *self,
                     const char      *type)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  add_generation (self, builder);
  json_builder_end_object (builder);

  emit_message (self, builder);
}

static void
maybe_emit_end_of_candidates (FerryIceSession *self)
{
  if (!self->direct_done || self->eoc_sent || self->agent == NULL ||
      self->relay_state == RELAYS_HELD || self->relay_state == RELAYS_GATHERING)
    return;

  self->eoc_sent = TRUE;
  emit_simple_message (self, "end-of-candidates");
  maybe_settle (self);
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;

  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* Relays last (see the class comment) ------------------------------------ */

/* Gives the TURN servers to libnice, which allocates on every host socket and
 * trickles the relay candidates as they come, and the peer's relay candidates
 * to the agent. A session already connected directly needs no relay. */
static void
release_relays (FerryIceSession *self,
                const char      *why)
{
  guint added = 0;

  if (self->relay_state != RELAYS_HELD || self->agent == NULL)
    return;

  clear_source (&self->relay_delay_source);
  clear_source (&self->relay_hold_source);

  if (self->state != STATE_CONNECTED || self->restarting)
    {
      for (guint i = 0; i < self->servers->len; i++)
        {
          FerryIceServer *server = g_ptr_array_index (self->servers, i);

          if (!server_in_use (self, server))
            continue;
          if (nice_agent_set_relay_info (self->agent, self->stream_id, COMPONENT_ID,
                                         server->ip, server->port,
                                         server->username, server->password,
                                         server->relay_type))
            {
              self->agent_has_relays = TRUE;
              added++;
            }
          else
            g_debug ("libnice refused TURN server %s:%u", server->ip, server->port);
        }
    }

  g_debug ("Releasing the relays (%s): %u TURN server(s), %u relay candidate(s) of the peer",
           why, added, self->held_remote->len);
  self->relay_state = added > 0 ? RELAYS_GATHERING : RELAYS_DONE;

  for (guint i = 0; i < self->held_remote->len; i++)
    g_ptr_array_add (self->pending_remote, g_steal_pointer (&self->held_remote->pdata[i]));
  g_ptr_array_set_size (self->held_remote, 0);

  flush_pending_remote (self);
  maybe_emit_end_of_candidates (self);
}

static gboolean
relay_delay_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->relay_delay_source, g_source_unref);
  release_relays (self, "direct checks had their time");
  return G_SOURCE_REMOVE;
}

static gboolean
relay_hold_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->relay_hold_source, g_source_unref);
  release_relays (self, "held for relay-hold-max");
  return G_SOURCE_REMOVE;
}

/* Once both sides' direct candidates are all known, their checks get
 * relay-delay to validate before relay pairs may compete. */
static void
maybe_schedule_release (FerryIceSession *self)
{
  if (self->relay_state != RELAYS_HELD || !self->direct_done || !self->remote_direct_done ||
      self->relay_delay_source != NULL)
    return;

  self->relay_delay_source = g_timeout_source_new (self->relay_delay_ms);
  g_source_set_callback (self->relay_delay_source, relay_delay_cb, self, NULL);
  g_source_attach (self->relay_delay_source, self->context);
}

/* Our direct candidates are complete when libnice finished gathering them (or
 * gave STUN DIRECT_GATHER_CAP_MS) and no port-mapping probe holds any more. */
static void
maybe_direct_done (FerryIceSession *self)
{
  if (self->direct_done || !self->gathering_done || self->eoc_holds > 0 || self->agent == NULL)
    return;

  self->direct_done = TRUE;
  clear_source (&self->direct_cap_source);
  /* Even when our relays already came (relay-hold-max), the peer's may still
   * wait for this. */
  if (self->relay_state != RELAYS_NOT_HELD)
    emit_simple_message (self, "end-of-direct-candidates");
  maybe_schedule_release (self);
  maybe_emit_end_of_candidates (self);
}

static gboolean
direct_cap_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->direct_cap_source, g_source_unref);
  g_debug ("STUN has not answered within %u ms; the direct candidates count as gathered",
           DIRECT_GATHER_CAP_MS);
  self->gathering_done = TRUE;
  maybe_direct_done (self);
  return G_SOURCE_REMOVE;
}

static void
agent_gathering_done_cb (NiceAgent *agent,
                         guint      stream_id,
                         gpointer   user_data)
{
  FerryIceSession *self = user_data;

  if (stream_id != self->stream_id)
    return;

  /* libnice gathers again for TURN servers added later and says so again. */
  if (self->relay_state == RELAYS_GATHERING)
    self->relay_state = RELAYS_DONE;

  self->gathering_done = TRUE;
  maybe_direct_done (self);
  maybe_emit_end_of_candidates (self);
}

/**
 * ferry_ice_session_hold_end_of_candidates:
 *
 * Keeps the end-of-candidates message back, for a port-mapping client that
 * will add a candidate later: take the hold before connecting, and give it
 * back with ferry_ice_session_release_end_of_candidates() once the mapping
 * was added or failed. Trickle ICE allows no candidate after the end.
 */
void
ferry_ice_session_hold_end_of_candidates (FerryIceSession *self)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (!self->eoc_sent);

  self->eoc_holds++;
}

void
ferry_ice_session_release_end_of_candidates (FerryIceSession *self)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (self->eoc_holds > 0);

  self->eoc_holds--;
  maybe_direct_done (self);
}

static gboolean
deadline_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->deadline_source, g_source_unref);
  finish_connect (self, g_error_new (FERRY_ICE_ERROR, FERRY_ICE_ERROR_TIMEOUT,
                                     "No connection to the other device within %u seconds",
                                     (self->timeout_ms + 999) / 1000));
  return G_SOURCE_REMOVE;
}

static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->cancel_source, g_source_unref);
  finish_connect (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "Connecting was cancelled"));
  return G_SOURCE_REMOVE;
}

static void
flush_pending_remote (FerryIceSession *self)
{
  if (self->agent == NULL || !self->have_remote_credentials || self->state < STATE_CONNECTING)
    return;

  /* While relays are held, so are the peer's relay candidates. */
  if (self->relay_state == RELAYS_HELD)
    {
      for (guint i = self->pending_remote->len; i > 0; i--)
        {
          NiceCandidate *candidate = g_ptr_array_index (self->pending_remote, i - 1);

          if (candidate->type == NICE_CANDIDATE_TYPE_RELAYED)
            g_ptr_array_add (self->held_remote,
                             g_ptr_array_steal_index (self->pending_remote, i - 1));
        }
    }

  if (self->pending_remote->len > 0)
    {
      GSList *list = NULL;

      for (guint i = self->pending_remote->len; i > 0; i--)
        list = g_slist_prepend (list, g_ptr_array_index (self->pending_remote, i - 1));
      nice_agent_set_remote_candidates (self->agent, self->stream_id, COMPONENT_ID, list);
      g_slist_free (list);
      g_ptr_array_set_size (self->pending_remote, 0);
      update_path (self);
    }

  /* The peer's end tells libnice it may declare failure: not while relay pairs
   * are still to come. */
  if (self->pending_remote_eoc && self->relay_state != RELAYS_HELD)
    {
      self->pending_remote_eoc = FALSE;
      self->remote_eoc_given = TRUE;
      nice_agent_peer_candidate_gathering_done (self->agent, self->stream_id);
      maybe_settle (self);
    }
}

/* Whether @stun is also a UDP TURN server we allocate on. libnice 0.1.21 then takes the
 * STUN server's binding response on the shared socket for TURN traffic and drops it, and
 * gathering waits for that request to time out (about two seconds). The Allocate answer
 * carries our server-reflexive address anyway, so such a STUN server is skipped. */
static gboolean
stun_is_turn_udp_server (FerryIceSession *self,
                         FerryIceServer  *stun)
{
  if ((self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) == 0 ||
      (self->relay_transports & FERRY_ICE_RELAY_UDP) == 0 ||
      self->relay_state == RELAYS_HELD || self->relay_state == RELAYS_DONE)
    return FALSE;

  for (guint i = 0; i < self->servers->len; i++)
    {
      FerryIceServer *turn = g_ptr_array_index (self->servers, i);

      if (turn->is_turn && turn->relay_type == NICE_RELAY_TYPE_TURN_UDP && turn->ip != NULL &&
          turn->port == stun->port && g_str_equal (turn->ip, stun->ip))
        return TRUE;
    }

  return FALSE;
}

/* Gathers the stream being negotiated; without @relays (a restart that looks
 * for a direct path only) no TURN server is used. */
static void
start_gathering (FerryIceSession *self,
                 gboolean         relays)
{
  gboolean stun_set = FALSE;
  gboolean only_relay = self->candidate_types == FERRY_ICE_CANDIDATE_RELAY;

  /* Relays last, unless relays are all there is (or are not wanted at all). */
  self->relay_state = RELAYS_NOT_HELD;
  if (!relays)
    self->relay_state = RELAYS_DONE;
  else if ((self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) != 0 && !only_relay)
    self->relay_state = RELAYS_HELD;

  g_object_set (self->agent,
                "upnp", self->upnp,
                "upnp-timeout", self->upnp_timeout_ms,
                "force-relay", only_relay,
                NULL);

  for (guint i = 0; i < self->servers->len; i++)
    {
      FerryIceServer *server = g_ptr_array_index (self->servers, i);
      gboolean udp = server->relay_type == NICE_RELAY_TYPE_TURN_UDP;

      if (server->ip == NULL)
        continue;

      if (!server->is_turn)
        {
          /* libnice takes one STUN server; the first usable one wins. */
          if (stun_set || (self->candidate_types & FERRY_ICE_CANDIDATE_SRFLX) == 0 ||
              stun_is_turn_udp_server (self, server))
            continue;
          g_object_set (self->agent,
                        "stun-server", server->ip,
                        "stun-server-port", (guint) server->port,
                        NULL);
          stun_set = TRUE;
          continue;
        }

      if ((self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) == 0 ||
          (udp && (self->relay_transports & FERRY_ICE_RELAY_UDP) == 0) ||
          (!udp && (self->relay_transports & FERRY_ICE_RELAY_TCP) == 0) ||
          self->relay_state == RELAYS_HELD || self->relay_state == RELAYS_DONE)
        continue;

      if (nice_agent_set_relay_info (self->agent, self->stream_id, COMPONENT_ID,
                                     server->ip, server->port,
                                     server->username, server->password,
                                     server->relay_type))
        self->agent_has_relays = TRUE;
      else
        g_debug ("libnice refused TURN server %s:%u", server->ip, server->port);
    }

  if (!self->restarting)
    self->state = STATE_CONNECTING;
  /* A rebind keeps the credentials the peer has. */
  if (!self->rebinding)
    emit_credentials (self);

  if (!nice_agent_gather_candidates (self->agent, self->stream_id))
    {
      if (self->restarting)
        abandon_restart (self, "no usable network address");
      else
        finish_connect (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED,
                                                   "This device has no usable network address"));
      return;
    }

  if (self->relay_state == RELAYS_HELD)
    {
      self->relay_hold_source = g_timeout_source_new (self->relay_hold_max_ms);
      g_source_set_callback (self->relay_hold_source, relay_hold_cb, self, NULL);
      g_source_attach (self->relay_hold_source, self->context);
      if (!self->gathering_done)
        {
          self->direct_cap_source = g_timeout_source_new (DIRECT_GATHER_CAP_MS);
          g_source_set_callback (self->direct_cap_source, direct_cap_cb, self, NULL);
          g_source_attach (self->direct_cap_source, self->context);
        }
    }

  flush_pending_remote (self);
}

static void
resolve_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryIceSession *self = g_task_get_source_object (task);
  FerryIceServer *server = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (addresses != NULL)
    {
      GInetAddress *chosen = addresses->data;

      /* IPv4 first: every network that has IPv6 has IPv4 to a TURN server
       * too, but not the other way round. */
      for (GList *l = addresses; l != NULL; l = l->next)
        if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
          {
            chosen = l->data;
            break;
          }

      server->ip = g_inet_address_to_string (chosen);
      g_resolver_free_addresses (addresses);
    }
  else
    {
      /* One server that does not resolve is not fatal: others may work. */
      g_debug ("Could not resolve %s: %s", server->host, error->message);
    }

  self->pending_resolves--;
  if (self->pending_resolves == 0 && self->state == STATE_RESOLVING && self->agent != NULL)
    start_gathering (self, TRUE);
}

static void
resolve_servers (FerryIceSession *self)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();

  self->state = STATE_RESOLVING;
  for (guint i = 0; i < self->servers->len; i++)
    {
      FerryIceServer *server = g_ptr_array_index (self->servers, i);
      GTask *resolve;

      if (server->ip != NULL)
        continue;

      resolve = g_task_new (self, NULL, NULL, NULL);
      g_task_set_task_data (resolve, server, NULL);
      self->pending_resolves++;
      g_resolver_lookup_by_name_async (resolver, server->host, self->internal_cancellable,
                                       resolve_cb, resolve);
    }

  if (self->pending_resolves == 0)
    start_gathering (self, TRUE);
}

/* Waiting for a network ---------------------------------------------------
 *
 * A machine just back from suspend, a laptop joining Wi-Fi, a link made a
 * moment ago: the interface may be there without being usable yet (see
 * FerryNetworkWatch). Rather than failing at once, the session waits for an
 * address for network-wait, within the connect deadline. */

static void
stop_waiting_for_network (FerryIceSession *self)
{
  gboolean was_waiting = self->network_watch != NULL;

  clear_source (&self->network_wait_source);
  if (self->network_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->network_watch, self);
  g_clear_object (&self->network_watch);

  if (was_waiting)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_FOR_NETWORK]);
}

static void
network_changed_cb (FerryNetworkWatch *watch,
                    gpointer           user_data)
{
  FerryIceSession *self = user_data;

  if (self->state != STATE_WAITING_NETWORK || !ferry_network_has_usable_address ())
    return;

  g_debug ("The network has a usable address now");
  stop_waiting_for_network (self);
  resolve_servers (self);
}

static gboolean
network_wait_cb (gpointer user_data)
{
  FerryIceSession *self = user_data;

  g_clear_pointer (&self->network_wait_source, g_source_unref);
  stop_waiting_for_network (self);
  finish_connect (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED,
                                             "This device has no usable network address"));
  return G_SOURCE_REMOVE;
}

static void
wait_for_network (FerryIceSession *self)
{
  g_debug ("No usable network address; waiting up to %u ms for one", self->network_wait_ms);

  self->state = STATE_WAITING_NETWORK;
  self->network_watch = ferry_network_watch_new ();
  g_signal_connect (self->network_watch, "changed", G_CALLBACK (network_changed_cb), self);
  self->network_wait_source = g_timeout_source_new (self->network_wait_ms);
  g_source_set_callback (self->network_wait_source, network_wait_cb, self, NULL);
  g_source_attach (self->network_wait_source, self->context);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_FOR_NETWORK]);

  /* It may have come between the check and the watch. */
  network_changed_cb (self->network_watch, self);
}

/**
 * ferry_ice_session_connect_async:
 * @cancellable: (nullable): cancels connecting, tearing the agent down
 *
 * Resolves the servers, gathers candidates (emitting #FerryIceSession::local-message
 * for each) and runs the connectivity checks until a pair is nominated.
 * Fails with %FERRY_ICE_ERROR_TIMEOUT when nothing connects within the
 * timeout, %FERRY_ICE_ERROR_FAILED when every pair failed after the peer's
 * end-of-candidates, %G_IO_ERROR_CANCELLED when cancelled; the agent, its
 * sockets and TURN allocations are released in all three cases.
 */
void
ferry_ice_session_connect_async (FerryIceSession     *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_ice_session_connect_async);

  if (self->state != STATE_NEW || self->agent == NULL)
    {
      g_task_return_new_error (task, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                               "This session was already used");
      return;
    }

  if (g_task_return_error_if_cancelled (task))
    {
      teardown (self);
      return;
    }

  self->connect_task = g_object_ref (task);

  self->deadline_source = g_timeout_source_new (self->timeout_ms);
  g_source_set_callback (self->deadline_source, deadline_cb, self, NULL);
  g_source_attach (self->deadline_source, self->context);

  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (cancelled_cb), self, NULL);
      g_source_attach (self->cancel_source, self->context);
    }

  if (!self->local_addresses_given && !ferry_network_has_usable_address ())
    wait_for_network (self);
  else
    resolve_servers (self);
}

gboolean
ferry_ice_session_connect_finish (FerryIceSession  *self,
                                  GAsyncResult     *result,
                                  GError          **error)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_ice_session_connect_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
agent_closed_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_debug ("agent %p closed", object);
}

/* Releases the agent: its sockets, its TURN allocations (nice_agent_close_async
 * deletes them on the servers) and every timer. Safe to call twice. */
static void
teardown (FerryIceSession *self)
{
  NiceAgent *agent = g_steal_pointer (&self->agent);

  if (self->probe_source != NULL)
    {
      g_source_destroy (self->probe_source);
      g_clear_pointer (&self->probe_source, g_source_unref);
    }

  clear_source (&self->relay_delay_source);
  clear_source (&self->relay_hold_source);
  clear_source (&self->direct_cap_source);
  clear_source (&self->restart_deadline_source);
  clear_source (&self->upgrade_source);
  stop_waiting_for_network (self);
  stop_roaming (self);

  g_cancellable_cancel (self->internal_cancellable);

  if (self->state == STATE_CONNECTED)
    set_connected (self, FALSE);
  self->state = STATE_CLOSED;
  ferry_path_reset (self->path);

  if (agent == NULL)
    return;

  g_signal_handlers_disconnect_by_data (agent, self);
  nice_agent_attach_recv (agent, self->stream_id, COMPONENT_ID, self->context, NULL, NULL);
  if (self->data_stream_id != self->stream_id)
    nice_agent_attach_recv (agent, self->data_stream_id, COMPONENT_ID, self->context,
                            NULL, NULL);
  self->restarting = FALSE;
  /* Only TURN allocations need the asynchronous close. Without them the last unref is
   * enough, and better: nice_agent_close_async() cancels libnice's resolution of the STUN
   * server while the agent lives, and libnice then warns "Can't resolve STUN server:
   * Operation was cancelled" (a session closed in its first moments); disposing the agent
   * cancels it silently. */
  if (self->agent_has_relays)
    nice_agent_close_async (agent, agent_closed_cb, NULL);
  self->agent_has_relays = FALSE;
  g_object_unref (agent);
}

/**
 * ferry_ice_session_close:
 *
 * Ends the session: a pending connect fails with %FERRY_ICE_ERROR_CLOSED,
 * the agent is released and ferry_ice_session_send() returns %FALSE.
 */
void
ferry_ice_session_close (FerryIceSession *self)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->connect_task != NULL)
    finish_connect (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                                               "The session was closed"));
  else
    teardown (self);
}

/* Remote side ----------------------------------------------------------- */

static const char *
get_string_member (JsonObject *object,
                   const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static gboolean
is_ice_chars (const char *s,
              gsize       min,
              gsize       max)
{
  gsize len = strlen (s);

  if (len < min || len > max)
    return FALSE;

  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '+' && *s != '/')
      return FALSE;

  return TRUE;
}

/**
 * ferry_ice_session_set_remote_credentials:
 * @ufrag: the peer's username fragment (4 to 256 ice-chars)
 * @pwd: the peer's password (22 to 256 ice-chars)
 *
 * Returns: %TRUE on success; %FERRY_ICE_ERROR_BAD_MESSAGE for malformed ones
 */
gboolean
ferry_ice_session_set_remote_credentials (FerryIceSession  *self,
                                          const char       *ufrag,
                                          const char       *pwd,
                                          GError          **error)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);

  if (ufrag == NULL || pwd == NULL || !is_ice_chars (ufrag, 4, 256) ||
      !is_ice_chars (pwd, 22, 256))
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                           "The other device sent malformed ICE credentials");
      return FALSE;
    }

  if (self->agent == NULL)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                           "The session is closed");
      return FALSE;
    }

  if (self->have_remote_credentials)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                           "The other device sent its ICE credentials twice");
      return FALSE;
    }

  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, ufrag, pwd))
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                           "The other device's ICE credentials were refused");
      return FALSE;
    }

  self->have_remote_credentials = TRUE;
  g_free (self->remote_ufrag);
  g_free (self->remote_pwd);
  self->remote_ufrag = g_strdup (ufrag);
  self->remote_pwd = g_strdup (pwd);
  flush_pending_remote (self);
  return TRUE;
}

static gboolean
add_remote_candidate (FerryIceSession  *self,
                      const char       *line,
                      RemoteInfo       *info,
                      GError          **error)
{
  g_autoptr(RemoteInfo) owned_info = info;
  NiceCandidate *candidate;

  if (self->agent == NULL)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                           "The session is closed");
      return FALSE;
    }

  if (line == NULL || strlen (line) > 1024 || !g_utf8_validate (line, -1, NULL) ||
      (candidate = nice_agent_parse_remote_candidate_sdp (self->agent, self->stream_id,
                                                          line)) == NULL)
    {
      g_set_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                   "The other device sent a malformed candidate");
      return FALSE;
    }

  if (candidate->component_id != COMPONENT_ID ||
      !nice_address_is_valid (&candidate->addr) ||
      nice_address_get_port (&candidate->addr) == 0)
    {
      nice_candidate_free (candidate);
      g_set_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                   "The other device sent a candidate for an unknown component or address");
      return FALSE;
    }

  if (candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP)
    {
      /* ICE-TCP is off here; a later peer may offer TCP candidates. */
      nice_candidate_free (candidate);
      return TRUE;
    }

  if (owned_info != NULL)
    g_hash_table_replace (self->remote_info, ferry_path_format_address (&candidate->addr),
                          g_steal_pointer (&owned_info));

  g_ptr_array_add (self->pending_remote, candidate);
  flush_pending_remote (self);
  return TRUE;
}

/**
 * ferry_ice_session_add_remote_candidate:
 * @line: one SDP candidate line ("a=candidate:…" or "candidate:…")
 *
 * Adds a candidate the peer trickled. Lines arriving before the peer's
 * credentials or before connecting are kept until both happened.
 *
 * Returns: %TRUE on success; %FERRY_ICE_ERROR_BAD_MESSAGE for a malformed line
 */
gboolean
ferry_ice_session_add_remote_candidate (FerryIceSession  *self,
                                        const char       *line,
                                        GError          **error)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);

  return add_remote_candidate (self, line, NULL, error);
}

/**
 * ferry_ice_session_remote_end_of_candidates:
 *
 * The peer has sent all its candidates: from now on the session may fail
 * with %FERRY_ICE_ERROR_FAILED before the deadline when every pair failed.
 */
void
ferry_ice_session_remote_end_of_candidates (FerryIceSession *self)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  self->pending_remote_eoc = TRUE;
  self->remote_direct_done = TRUE;
  flush_pending_remote (self);
  maybe_schedule_release (self);
}

static gboolean
parse_remote_info (JsonObject  *object,
                   RemoteInfo **out,
                   GError     **error)
{
  RemoteInfo *info = NULL;
  JsonNode *relay = json_object_get_member (object, "relay");
  const char *mapped = get_string_member (object, "mapped");
  FerryPathMapping mapping = FERRY_PATH_MAPPING_NONE;

  if (json_object_has_member (object, "mapped") &&
      (mapped == NULL || !ferry_path_mapping_from_string (mapped, &mapping)))
    goto bad;

  if (relay != NULL)
    {
      JsonObject *r;
      const char *server;
      const char *transport;

      if (!JSON_NODE_HOLDS_OBJECT (relay))
        goto bad;
      r = json_node_get_object (relay);
      server = get_string_member (r, "server");
      transport = get_string_member (r, "transport");
      if ((json_object_has_member (r, "server") &&
           (server == NULL || strlen (server) > 300 || !g_utf8_validate (server, -1, NULL))) ||
          (json_object_has_member (r, "transport") &&
           g_strcmp0 (transport, "udp") != 0 && g_strcmp0 (transport, "tcp") != 0))
        goto bad;

      info = g_new0 (RemoteInfo, 1);
      info->relay_server = g_strdup (server);
      info->relay_transport = g_strdup (transport);
    }

  if (mapping != FERRY_PATH_MAPPING_NONE)
    {
      if (info == NULL)
        info = g_new0 (RemoteInfo, 1);
      info->mapped = mapping;
    }

  *out = info;
  return TRUE;

bad:
  g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                       "The other device sent a malformed candidate description");
  return FALSE;
}

/* "generation": an integer in 0..MAX_GENERATION; absent means 0. */
static gboolean
parse_generation (JsonObject  *object,
                  guint       *generation,
                  GError     **error)
{
  JsonNode *node = json_object_get_member (object, "generation");
  gint64 value;

  *generation = 0;
  if (node == NULL)
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < 0 || value > MAX_GENERATION)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                           "The other device sent a malformed ICE generation");
      return FALSE;
    }

  *generation = (guint) value;
  return TRUE;
}

/**
 * ferry_ice_session_handle_remote_message:
 * @message: one signalling message from the peer (see ferry-ice-session.h)
 * @length: its size, or -1 if nul-terminated
 *
 * Returns: %TRUE on success; %FERRY_ICE_ERROR_BAD_MESSAGE when the message
 *   is malformed (the session stays as it was)
 */
gboolean
ferry_ice_session_handle_remote_message (FerryIceSession  *self,
                                         const char       *message,
                                         gssize            length,
                                         GError          **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *object;
  const char *type;
  guint generation;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  if (length < 0)
    length = strlen (message);

  if (length > FERRY_ICE_MESSAGE_MAX_SIZE ||
      !json_parser_load_from_data (parser, message, length, NULL) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                           "The other device sent an unreadable connection message");
      return FALSE;
    }

  object = json_node_get_object (json_parser_get_root (parser));
  type = get_string_member (object, "type");

  if (!parse_generation (object, &generation, error))
    return FALSE;

  if (g_strcmp0 (type, "restart") == 0)
    {
      /* Ours crossed theirs (the same number), or it is old news. */
      if (generation <= self->generation || self->agent == NULL ||
          self->state != STATE_CONNECTED)
        return TRUE;
      /* Relays only when our own pair is gone: a probe looks for better. */
      begin_restart (self, generation, FALSE,
                     (self->candidate_types & FERRY_ICE_CANDIDATE_RELAY) != 0 &&
                     !stream_works (self, self->data_stream_id));
      return TRUE;
    }

  /* What belongs to a generation we left is of no use any more. */
  if (generation != self->generation)
    {
      g_debug ("Ignored a \"%s\" message of ICE generation %u (at %u)",
               type != NULL ? type : "?", generation, self->generation);
      return TRUE;
    }

  if (g_strcmp0 (type, "credentials") == 0)
    {
      return ferry_ice_session_set_remote_credentials (self,
                                                       get_string_member (object, "ufrag"),
                                                       get_string_member (object, "pwd"),
                                                       error);
    }
  else if (g_strcmp0 (type, "candidate") == 0)
    {
      RemoteInfo *info = NULL;
      const char *line = get_string_member (object, "candidate");

      if (!parse_remote_info (object, &info, error))
        return FALSE;
      return add_remote_candidate (self, line, g_steal_pointer (&info), error);
    }
  else if (g_strcmp0 (type, "end-of-direct-candidates") == 0)
    {
      self->remote_direct_done = TRUE;
      maybe_schedule_release (self);
      return TRUE;
    }
  else if (g_strcmp0 (type, "end-of-candidates") == 0)
    {
      ferry_ice_session_remote_end_of_candidates (self);
      return TRUE;
    }

  g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE,
                       "The other device sent a connection message of unknown type");
  return FALSE;
}

/* Port mappings --------------------------------------------------------- */

static gboolean
inet_to_nice (GInetSocketAddress *address,
              NiceAddress        *nice)
{
  struct sockaddr_storage storage;

  if (!g_socket_address_to_native (G_SOCKET_ADDRESS (address), &storage, sizeof storage, NULL))
    return FALSE;

  nice_address_init (nice);
  nice_address_set_from_sockaddr (nice, (struct sockaddr *) &storage);
  return TRUE;
}

/**
 * ferry_ice_session_dup_host_addresses:
 *
 * The sockets of our UDP host candidates gathered so far, which a PCP or
 * NAT-PMP client maps before calling ferry_ice_session_add_mapped_candidate().
 *
 * Returns: (transfer full) (element-type GInetSocketAddress): the addresses
 */
GPtrArray *
ferry_ice_session_dup_host_addresses (FerryIceSession *self)
{
  GPtrArray *addresses = g_ptr_array_new_with_free_func (g_object_unref);
  GSList *candidates;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), addresses);

  if (self->agent == NULL)
    return addresses;

  candidates = nice_agent_get_local_candidates (self->agent, self->stream_id, COMPONENT_ID);
  for (GSList *l = candidates; l != NULL; l = l->next)
    {
      NiceCandidate *candidate = l->data;
      struct sockaddr_storage storage;

      if (candidate->type != NICE_CANDIDATE_TYPE_HOST ||
          candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        continue;

      nice_address_copy_to_sockaddr (&candidate->addr, (struct sockaddr *) &storage);
      g_ptr_array_add (addresses,
                       g_socket_address_new_from_native (&storage, sizeof storage));
    }
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);

  return addresses;
}

/**
 * ferry_ice_session_add_mapped_candidate:
 * @protocol: %FERRY_PATH_MAPPING_PCP, %FERRY_PATH_MAPPING_NAT_PMP or
 *   %FERRY_PATH_MAPPING_UPNP (a UPnP IGD mapping made outside libnice, whose
 *   own UPnP candidate 0.1.21 drops as redundant next to a STUN one)
 * @mapped: the external address and port the router mapped
 * @base: the host candidate that mapping forwards to
 *
 * Offers a port mapping made by our own PCP/NAT-PMP client to the peer, as a
 * server-reflexive candidate whose base is @base (see the class comment for
 * why), and remembers it so the path can say that the mapping made the pair
 * direct. Call it while connecting.
 *
 * Returns: %TRUE on success
 */
gboolean
ferry_ice_session_add_mapped_candidate (FerryIceSession     *self,
                                        FerryPathMapping     protocol,
                                        GInetSocketAddress  *mapped,
                                        GInetSocketAddress  *base,
                                        GError             **error)
{
  LocalMapping mapping = { protocol };
  NiceCandidate *candidate;
  gboolean base_known = FALSE;
  GSList *candidates;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (protocol == FERRY_PATH_MAPPING_UPNP ||
                        protocol == FERRY_PATH_MAPPING_PCP ||
                        protocol == FERRY_PATH_MAPPING_NAT_PMP, FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (mapped), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (base), FALSE);

  /* Also once connected: a mapping that comes late still makes a better pair,
   * which then takes over (aggressive nomination). */
  if (self->agent == NULL ||
      (self->state != STATE_CONNECTING && self->state != STATE_CONNECTED))
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                           "A port mapping can only be offered while the session runs");
      return FALSE;
    }

  if (!inet_to_nice (mapped, &mapping.mapped) || !inet_to_nice (base, &mapping.base) ||
      nice_address_get_port (&mapping.mapped) == 0)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                           "The port mapping has no usable address");
      return FALSE;
    }

  candidates = nice_agent_get_local_candidates (self->agent, self->stream_id, COMPONENT_ID);
  for (GSList *l = candidates; l != NULL; l = l->next)
    {
      NiceCandidate *c = l->data;

      if (c->type == NICE_CANDIDATE_TYPE_HOST && nice_address_equal (&c->addr, &mapping.base))
        base_known = TRUE;
    }
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);

  if (!base_known)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                           "The port mapping does not lead to one of our host candidates");
      return FALSE;
    }

  g_array_append_val (self->mappings, mapping);

  candidate = nice_candidate_new (NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE);
  candidate->transport = NICE_CANDIDATE_TRANSPORT_UDP;
  candidate->addr = mapping.mapped;
  candidate->base_addr = mapping.base;
  candidate->priority = MAPPED_PRIORITY;
  candidate->stream_id = self->stream_id;
  candidate->component_id = COMPONENT_ID;
  g_snprintf (candidate->foundation, sizeof candidate->foundation, "ferrymap%u",
              ++self->n_mapped_sent);

  emit_candidate (self, candidate, protocol);
  nice_candidate_free (candidate);

  return TRUE;
}

/* Datagrams ------------------------------------------------------------- */

/**
 * ferry_ice_session_set_receive_func:
 * @func: (nullable): called on the session's context for each datagram
 *
 * Datagrams that arrive while no function is set are dropped, as a lost
 * datagram would be.
 */
void
ferry_ice_session_set_receive_func (FerryIceSession     *self,
                                    FerryIceReceiveFunc  func,
                                    gpointer             user_data,
                                    GDestroyNotify       destroy)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->receive_destroy != NULL)
    self->receive_destroy (self->receive_data);

  self->receive_func = func;
  self->receive_data = user_data;
  self->receive_destroy = destroy;
}

/**
 * ferry_ice_session_send:
 * @data: one datagram, not shaped like an RTT probe (see ferry-ice-session.h)
 * @length: its size, at most 65507
 *
 * Sends without blocking over the selected pair.
 *
 * Returns: %TRUE if the datagram left; %FALSE when the socket buffer is full
 *   (back off and retry) or when the session is not connected
 */
gboolean
ferry_ice_session_send (FerryIceSession *self,
                        const guint8    *data,
                        gsize            length)
{
  GOutputVector vector = { data, length };
  NiceOutputMessage message = { &vector, 1 };
  g_autoptr(GError) error = NULL;
  gint sent;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (data != NULL && length > 0 && length <= 65507, FALSE);
  g_return_val_if_fail (length != PROBE_SIZE ||
                        (data[0] != FERRY_ICE_PROBE_PING && data[0] != FERRY_ICE_PROBE_PONG),
                        FALSE);

  if (self->agent == NULL || self->state != STATE_CONNECTED)
    return FALSE;

  sent = nice_agent_send_messages_nonblocking (self->agent, self->data_stream_id, COMPONENT_ID,
                                               &message, 1, NULL, &error);
  if (sent != 1 && error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    g_debug ("Sending a datagram failed: %s", error->message);

  return sent == 1;
}

/* Settings and getters -------------------------------------------------- */

FerryIceSession *
ferry_ice_session_new (FerryIceRole role)
{
  return g_object_new (FERRY_TYPE_ICE_SESSION, "role", role, NULL);
}

FerryIceRole
ferry_ice_session_get_role (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FERRY_ICE_ROLE_CONTROLLING);
  return self->role;
}

/**
 * ferry_ice_session_get_context:
 *
 * Returns: (transfer none): the context the agent runs on and every
 *   callback and signal is delivered on
 */
GMainContext *
ferry_ice_session_get_context (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), NULL);
  return self->context;
}

/**
 * ferry_ice_session_get_path:
 *
 * Returns: (transfer none): the live description of the selected pair
 */
FerryPath *
ferry_ice_session_get_path (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), NULL);
  return self->path;
}

/**
 * ferry_ice_session_get_agent:
 *
 * For tests and diagnostics only.
 *
 * Returns: (transfer none) (nullable): the agent, %NULL once torn down
 */
NiceAgent *
ferry_ice_session_get_agent (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), NULL);
  return self->agent;
}

gboolean
ferry_ice_session_get_connected (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  return self->state == STATE_CONNECTED;
}

/**
 * ferry_ice_session_set_candidate_types:
 *
 * Which local candidates to offer; set before connecting. See
 * #FerryIceCandidateTypes.
 */
void
ferry_ice_session_set_candidate_types (FerryIceSession        *self,
                                       FerryIceCandidateTypes  types)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail ((types & FERRY_ICE_CANDIDATE_ALL) != 0);
  g_return_if_fail (self->state == STATE_NEW);

  self->candidate_types = types & FERRY_ICE_CANDIDATE_ALL;
}

void
ferry_ice_session_set_relay_transports (FerryIceSession         *self,
                                        FerryIceRelayTransports  transports)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (self->state == STATE_NEW);

  self->relay_transports = transports & FERRY_ICE_RELAY_ALL;
}

guint
ferry_ice_session_get_timeout (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->timeout_ms;
}

/**
 * ferry_ice_session_set_timeout:
 * @timeout_ms: how long connecting may take, from ferry_ice_session_connect_async()
 */
void
ferry_ice_session_set_timeout (FerryIceSession *self,
                               guint            timeout_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;

  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

gboolean
ferry_ice_session_get_upnp (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  return self->upnp;
}

/**
 * ferry_ice_session_set_upnp:
 *
 * Whether libnice asks the router for a UPnP IGD mapping (gupnp-igd) and
 * offers it as a candidate. Off by default; set before connecting.
 */
void
ferry_ice_session_set_upnp (FerryIceSession *self,
                            gboolean         enabled)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  enabled = !!enabled;
  if (self->upnp == enabled)
    return;

  self->upnp = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPNP]);
}

guint
ferry_ice_session_get_upnp_timeout (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->upnp_timeout_ms;
}

/**
 * ferry_ice_session_set_upnp_timeout:
 *
 * How long gathering waits for the UPnP router before declaring its end.
 */
void
ferry_ice_session_set_upnp_timeout (FerryIceSession *self,
                                    guint            timeout_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->upnp_timeout_ms == timeout_ms)
    return;

  self->upnp_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPNP_TIMEOUT]);
}

guint
ferry_ice_session_get_rtt_interval (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->rtt_interval_ms;
}

/**
 * ferry_ice_session_set_rtt_interval:
 *
 * How often the RTT is probed once connected; set before connecting.
 */
void
ferry_ice_session_set_rtt_interval (FerryIceSession *self,
                                    guint            interval_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (interval_ms > 0);

  if (self->rtt_interval_ms == interval_ms)
    return;

  self->rtt_interval_ms = interval_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_INTERVAL]);
}

/**
 * ferry_ice_session_set_relay_delay:
 * @delay_ms: how long direct checks may run, once both sides sent every
 *   direct candidate, before relay pairs compete (see "Relays last")
 *
 * Set before connecting.
 */
void
ferry_ice_session_set_relay_delay (FerryIceSession *self,
                                   guint            delay_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->relay_delay_ms == delay_ms)
    return;

  self->relay_delay_ms = delay_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELAY_DELAY]);
}

guint
ferry_ice_session_get_relay_delay (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->relay_delay_ms;
}

/**
 * ferry_ice_session_set_relay_hold_max:
 * @hold_ms: the longest relays are held back from the start of gathering,
 *   whatever the peer says
 *
 * Set before connecting.
 */
void
ferry_ice_session_set_relay_hold_max (FerryIceSession *self,
                                      guint            hold_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));

  if (self->relay_hold_max_ms == hold_ms)
    return;

  self->relay_hold_max_ms = hold_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RELAY_HOLD_MAX]);
}

guint
ferry_ice_session_get_relay_hold_max (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->relay_hold_max_ms;
}

/**
 * ferry_ice_session_set_network_wait:
 * @wait_ms: how long connecting waits for a usable network address when
 *   there is none, before failing with %FERRY_ICE_ERROR_FAILED
 */
void
ferry_ice_session_set_network_wait (FerryIceSession *self,
                                    guint            wait_ms)
{
  g_return_if_fail (FERRY_IS_ICE_SESSION (self));
  g_return_if_fail (wait_ms > 0);

  if (self->network_wait_ms == wait_ms)
    return;

  self->network_wait_ms = wait_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NETWORK_WAIT]);
}

guint
ferry_ice_session_get_network_wait (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), 0);
  return self->network_wait_ms;
}

/**
 * ferry_ice_session_get_waiting_for_network:
 *
 * Returns: whether connecting waits for this device to have a usable
 *   network address (a UI may say "Waiting for a network…")
 */
gboolean
ferry_ice_session_get_waiting_for_network (FerryIceSession *self)
{
  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  return self->state == STATE_WAITING_NETWORK;
}

/**
 * ferry_ice_session_add_local_address:
 * @ip: an IPv4 or IPv6 address of this machine
 *
 * Gathers host candidates on @ip only (and on other addresses added the
 * same way) instead of on every interface. Call before connecting.
 *
 * Returns: %TRUE on success
 */
gboolean
ferry_ice_session_add_local_address (FerryIceSession  *self,
                                     const char       *ip,
                                     GError          **error)
{
  NiceAddress address;

  g_return_val_if_fail (FERRY_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (ip != NULL, FALSE);

  if (self->agent == NULL || self->state != STATE_NEW)
    {
      g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                           "Local addresses can only be added before connecting");
      return FALSE;
    }

  nice_address_init (&address);
  if (!nice_address_set_from_string (&address, ip) ||
      !nice_agent_add_local_address (self->agent, &address))
    {
      g_set_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                   "“%s” is not a usable local address", ip);
      return FALSE;
    }

  self->local_addresses_given = TRUE;
  return TRUE;
}

/* GObject --------------------------------------------------------------- */

static void
ferry_ice_session_constructed (GObject *object)
{
  FerryIceSession *self = FERRY_ICE_SESSION (object);

  G_OBJECT_CLASS (ferry_ice_session_parent_class)->constructed (object);

  /* Aggressive nomination (no REGULAR_NOMINATION option; see the class
   * comment); trickle ICE holds "failed" until the peer's end-of-candidates;
   * consent freshness keeps checking the pair (and the NAT mappings on it)
   * during long transfers. */
  self->agent = nice_agent_new_full (self->context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE |
                                     NICE_AGENT_OPTION_CONSENT_FRESHNESS);
  g_object_set (self->agent,
                "controlling-mode", self->role == FERRY_ICE_ROLE_CONTROLLING,
                "ice-tcp", FALSE,
                "ice-udp", TRUE,
                "keepalive-conncheck", TRUE,
                "upnp", FALSE,
                NULL);
  nice_agent_set_software (self->agent, "Ferry " PACKAGE_VERSION);

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  self->data_stream_id = self->stream_id;
  nice_agent_set_stream_name (self->agent, self->stream_id, "application");

  g_signal_connect (self->agent, "component-state-changed",
                    G_CALLBACK (agent_component_state_changed_cb), self);
  g_signal_connect (self->agent, "new-selected-pair-full",
                    G_CALLBACK (agent_new_selected_pair_cb), self);
  g_signal_connect (self->agent, "new-candidate-full",
                    G_CALLBACK (agent_new_candidate_cb), self);
  g_signal_connect (self->agent, "candidate-gathering-done",
                    G_CALLBACK (agent_gathering_done_cb), self);
  nice_agent_attach_recv (self->agent, self->stream_id, COMPONENT_ID, self->context,
                          agent_recv_cb, self);
}

static void
ferry_ice_session_dispose (GObject *object)
{
  FerryIceSession *self = FERRY_ICE_SESSION (object);

  if (self->connect_task != NULL)
    finish_connect (self, g_error_new_literal (FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                                               "The session was closed"));
  teardown (self);
  ferry_ice_session_set_receive_func (self, NULL, NULL, NULL);

  G_OBJECT_CLASS (ferry_ice_session_parent_class)->dispose (object);
}

static void
ferry_ice_session_finalize (GObject *object)
{
  FerryIceSession *self = FERRY_ICE_SESSION (object);

  g_clear_object (&self->path);
  g_clear_object (&self->internal_cancellable);
  g_clear_pointer (&self->servers, g_ptr_array_unref);
  g_clear_pointer (&self->pending_remote, g_ptr_array_unref);
  g_clear_pointer (&self->held_remote, g_ptr_array_unref);
  g_clear_pointer (&self->remote_info, g_hash_table_unref);
  g_clear_pointer (&self->mappings, g_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->remote_ufrag, g_free);
  g_clear_pointer (&self->remote_pwd, g_free);

  G_OBJECT_CLASS (ferry_ice_session_parent_class)->finalize (object);
}

static void
ferry_ice_session_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  FerryIceSession *self = FERRY_ICE_SESSION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_PATH:
      g_value_set_object (value, self->path);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, ferry_ice_session_get_connected (self));
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_UPNP:
      g_value_set_boolean (value, self->upnp);
      break;
    case PROP_UPNP_TIMEOUT:
      g_value_set_uint (value, self->upnp_timeout_ms);
      break;
    case PROP_RTT_INTERVAL:
      g_value_set_uint (value, self->rtt_interval_ms);
      break;
    case PROP_RELAY_DELAY:
      g_value_set_uint (value, self->relay_delay_ms);
      break;
    case PROP_RELAY_HOLD_MAX:
      g_value_set_uint (value, self->relay_hold_max_ms);
      break;
    case PROP_NETWORK_WAIT:
      g_value_set_uint (value, self->network_wait_ms);
      break;
    case PROP_WAITING_FOR_NETWORK:
      g_value_set_boolean (value, ferry_ice_session_get_waiting_for_network (self));
      break;
    case PROP_SETTLED:
      g_value_set_boolean (value, self->settled);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_ice_session_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  FerryIceSession *self = FERRY_ICE_SESSION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;
    case PROP_TIMEOUT:
      ferry_ice_session_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_UPNP:
      ferry_ice_session_set_upnp (self, g_value_get_boolean (value));
      break;
    case PROP_UPNP_TIMEOUT:
      ferry_ice_session_set_upnp_timeout (self, g_value_get_uint (value));
      break;
    case PROP_RTT_INTERVAL:
      ferry_ice_session_set_rtt_interval (self, g_value_get_uint (value));
      break;
    case PROP_RELAY_DELAY:
      ferry_ice_session_set_relay_delay (self, g_value_get_uint (value));
      break;
    case PROP_RELAY_HOLD_MAX:
      ferry_ice_session_set_relay_hold_max (self, g_value_get_uint (value));
      break;
    case PROP_NETWORK_WAIT:
      ferry_ice_session_set_network_wait (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_ice_session_class_init (FerryIceSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ferry_ice_session_constructed;
  object_class->dispose = ferry_ice_session_dispose;
  object_class->finalize = ferry_ice_session_finalize;
  object_class->get_property = ferry_ice_session_get_property;
  object_class->set_property = ferry_ice_session_set_property;

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL,
                       FERRY_TYPE_ICE_ROLE, FERRY_ICE_ROLE_CONTROLLING,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
    g_param_spec_object ("path", NULL, NULL, FERRY_TYPE_PATH,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_TIMEOUT_MS, rw);
  properties[PROP_UPNP] = g_param_spec_boolean ("upnp", NULL, NULL, FALSE, rw);
  properties[PROP_UPNP_TIMEOUT] =
    g_param_spec_uint ("upnp-timeout", NULL, NULL, 0, G_MAXUINT, DEFAULT_UPNP_TIMEOUT_MS, rw);
  properties[PROP_RTT_INTERVAL] =
    g_param_spec_uint ("rtt-interval", NULL, NULL, 1, G_MAXUINT, DEFAULT_RTT_INTERVAL_MS, rw);
  properties[PROP_RELAY_DELAY] =
    g_param_spec_uint ("relay-delay", NULL, NULL, 0, G_MAXUINT, DEFAULT_RELAY_DELAY_MS, rw);
  properties[PROP_NETWORK_WAIT] =
    g_param_spec_uint ("network-wait", NULL, NULL, 1, G_MAXUINT, DEFAULT_NETWORK_WAIT_MS, rw);
  properties[PROP_SETTLED] =
    g_param_spec_boolean ("settled", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_WAITING_FOR_NETWORK] =
    g_param_spec_boolean ("waiting-for-network", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RELAY_HOLD_MAX] =
    g_param_spec_uint ("relay-hold-max", NULL, NULL, 0, G_MAXUINT, DEFAULT_RELAY_HOLD_MAX_MS,
                       rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FerryIceSession::local-message:
   * @message: one JSON signalling message for the peer
   *
   * Forward @message to the peer, in order, who hands it to
   * ferry_ice_session_handle_remote_message().
   */
  signals[LOCAL_MESSAGE] =
    g_signal_new ("local-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * FerryIceSession::failed:
   * @error: why
   *
   * A connected session lost its path (consent freshness expired or the
   * peer went away). The agent is already released.
   */
  signals[FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_ERROR);
}

static void
ferry_ice_session_init (FerryIceSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->path = ferry_path_new ();
  self->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_ice_server_free);
  self->pending_remote = g_ptr_array_new_with_free_func ((GDestroyNotify) nice_candidate_free);
  self->held_remote = g_ptr_array_new_with_free_func ((GDestroyNotify) nice_candidate_free);
  self->remote_info = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) remote_info_free);
  self->mappings = g_array_new (FALSE, FALSE, sizeof (LocalMapping));
  self->internal_cancellable = g_cancellable_new ();
  self->candidate_types = FERRY_ICE_CANDIDATE_ALL;
  self->relay_transports = FERRY_ICE_RELAY_ALL;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->upnp_timeout_ms = DEFAULT_UPNP_TIMEOUT_MS;
  self->rtt_interval_ms = DEFAULT_RTT_INTERVAL_MS;
  self->relay_delay_ms = DEFAULT_RELAY_DELAY_MS;
  self->network_wait_ms = DEFAULT_NETWORK_WAIT_MS;
  self->relay_hold_max_ms = DEFAULT_RELAY_HOLD_MAX_MS;
  self->probe_nonce = g_random_int ();
  self->srtt_ms = -1;
}
