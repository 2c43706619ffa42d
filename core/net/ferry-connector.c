/* ferry-connector.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-connector"

#include "config.h"

#include "ferry-connector.h"
#include "ferry-portmap.h"
#include "ferry-portmap-renewer.h"

/**
 * FerryConnector:
 *
 * Connects one ICE session to the peer at the other end of a
 * #FerrySignalling, the way the app does it:
 *
 * - the STUN and TURN servers (with fresh TURN credentials) come from the
 *   rendezvous' `GET /v1/ice`;
 * - the session's signalling messages travel as sealed "ice" messages
 *   (`{"type": "ice", "ice": {...}}`); the peer's that arrive before our
 *   session exists are kept and handed over when it does;
 * - while the session gathers, the router is asked for a port mapping of our
 *   host socket with our UPnP IGD, PCP and NAT-PMP clients (net/portmap),
 *   all at once and each with a short timeout. (Not libnice's own UPnP:
 *   0.1.21 drops its UPnP candidate as redundant whenever the STUN server
 *   reflected the same socket, which is every time.) A mapping is
 *   offered to the peer as one more candidate; the end of our direct
 *   candidates (and so the relays, which come after them: "Relays last" in
 *   ferry-ice-session.c) waits for the probes at most the portmap-timeout plus
 *   FERRY_CONNECTOR_HOLD_SLACK_MS (one second by default), so a network
 *   without a mapping router loses no more than that. (Our UPnP client also
 *   searches the gateway by unicast, which it answers at once, rather than
 *   waiting out a multicast search's MX.) Mappings are renewed while the
 *   connector lives and deleted when it closes (close waits for that, bounded
 *   by the clients' timeouts) or is disposed.
 *
 * Errors are the layers' own: %FERRY_RENDEZVOUS_ERROR (no servers, or the
 * peer left: %FERRY_RENDEZVOUS_ERROR_CLOSED), %FERRY_ICE_ERROR (nothing
 * connected before the deadline: %FERRY_ICE_ERROR_TIMEOUT) and
 * %G_IO_ERROR_CANCELLED. Everything made for the attempt is released on
 * failure.
 */

struct _FerryConnector
{
  GObject                 parent_instance;

  FerrySignalling        *signalling;
  FerryRendezvousClient  *client;
  FerryIceRole            role;
  guint                   portmap;
  guint                   portmap_timeout_ms;
  guint                   candidate_types;
  guint                   relay_transports;
  guint                   timeout_ms;

  FerryIceSession        *session;
  GCancellable           *cancellable;
  GPtrArray              *early;
  gulong                  message_id;
  gulong                  closed_id;
  GError                 *signalling_error;

  GSource                *hold_source;
  GSource                *probe_idle;
  GInetSocketAddress     *base;
  GPtrArray              *renewers;
  GPtrArray              *offered;
  FerryPathMapping        local_mapping;
  guint                   pending_probes;
  GSource                *reprobe_source;
  guint                   reprobe_delay_ms;
  guint                   connecting : 1;
  guint                   holding : 1;
  guint                   probes_started : 1;
  guint                   signalling_closed : 1;
};

enum {
  PROP_0,
  PROP_SIGNALLING,
  PROP_CLIENT,
  PROP_ROLE,
  PROP_PORTMAP,
  PROP_PORTMAP_TIMEOUT,
  PROP_CANDIDATE_TYPES,
  PROP_RELAY_TRANSPORTS,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (FerryConnector, ferry_connector, G_TYPE_OBJECT)

/* Port mappings --------------------------------------------------------- */

static void
release_hold (FerryConnector *self)
{
  if (self->hold_source != NULL)
    {
      g_source_destroy (self->hold_source);
      g_clear_pointer (&self->hold_source, g_source_unref);
    }

  if (!self->holding)
    return;

  self->holding = FALSE;
  if (self->session != NULL)
    ferry_ice_session_release_end_of_candidates (self->session);
}

static gboolean
hold_timeout_cb (gpointer user_data)
{
  FerryConnector *self = user_data;

  g_debug ("Port-mapping probes still running after %u ms; not waiting for them",
           self->portmap_timeout_ms + FERRY_CONNECTOR_HOLD_SLACK_MS);
  g_clear_pointer (&self->hold_source, g_source_unref);
  release_hold (self);
  return G_SOURCE_REMOVE;
}

static gboolean
already_offered (FerryConnector     *self,
                 GInetSocketAddress *external)
{
  for (guint i = 0; i < self->offered->len; i++)
    {
      GInetSocketAddress *other = g_ptr_array_index (self->offered, i);

      if (g_inet_socket_address_get_port (other) == g_inet_socket_address_get_port (external) &&
          g_inet_address_equal (g_inet_socket_address_get_address (other),
                                g_inet_socket_address_get_address (external)))
        return TRUE;
    }

  return FALSE;
}

static void schedule_reprobe (FerryConnector *self);

static void
probe_done (FerryConnector *self)
{
  g_assert (self->pending_probes > 0);
  self->pending_probes--;
  if (self->pending_probes > 0)
    return;

  release_hold (self);
  schedule_reprobe (self);
}

/* Offers a mapping to the peer unless an equal one was offered already. */
static void
offer_mapping (FerryConnector   *self,
               FerryPathMapping  protocol,
               GInetAddress     *address,
               guint16           port)
{
  g_autoptr(GSocketAddress) external = g_inet_socket_address_new (address, port);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (external));

  if (already_offered (self, G_INET_SOCKET_ADDRESS (external)))
    return;

  if (!ferry_ice_session_add_mapped_candidate (self->session, protocol,
                                              G_INET_SOCKET_ADDRESS (external),
                                              self->base, &error))
    {
      g_debug ("Cannot offer the %s mapping %s: %s",
               ferry_path_mapping_to_string (protocol), text, error->message);
      return;
    }

  g_debug ("Offering the %s mapping %s", ferry_path_mapping_to_string (protocol), text);
  g_ptr_array_add (self->offered, g_object_ref (external));
  if (self->local_mapping == FERRY_PATH_MAPPING_NONE)
    self->local_mapping = protocol;
}

/* A mapping helps whenever the session runs: before the end of our candidates it is one
 * more of them, after it a better pair that takes over (aggressive nomination). */
static gboolean
can_offer (FerryConnector *self)
{
  return self->session != NULL && ferry_ice_session_get_agent (self->session) != NULL &&
         !g_cancellable_is_cancelled (self->cancellable);
}

static FerryPathMapping
path_mapping_for (FerryPortmapProtocol protocol)
{
  switch (protocol)
    {
    case FERRY_PORTMAP_PROTOCOL_PCP:
      return FERRY_PATH_MAPPING_PCP;
    case FERRY_PORTMAP_PROTOCOL_UPNP:
      return FERRY_PATH_MAPPING_UPNP;
    case FERRY_PORTMAP_PROTOCOL_NATPMP:
    default:
      return FERRY_PATH_MAPPING_NAT_PMP;
    }
}

static void
probe_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(FerryConnector) self = user_data;
  g_autoptr(FerryPortMapping) mapping = NULL;
  g_autoptr(GError) error = NULL;
  FerryPortmapProtocol asked;
  FerryPathMapping protocol;

  mapping = ferry_portmap_map_finish (result, &asked, &error);
  protocol = path_mapping_for (asked);

  if (mapping == NULL)
    {
      g_debug ("No %s mapping: %s", ferry_path_mapping_to_string (protocol), error->message);
    }
  else if (!can_offer (self))
    {
      /* The session is gone: give it back. */
      g_debug ("A %s mapping came after the session; deleting it",
               ferry_path_mapping_to_string (protocol));
      ferry_portmap_unmap_async (mapping, 0, NULL, NULL, NULL);
    }
  else
    {
      /* Keep every mapping we got, even one equal to another protocol's (miniupnpd
       * shares them): deleting it could delete the one we offer. */
      g_ptr_array_add (self->renewers,
                       ferry_portmap_renewer_new (mapping,
                                                  ferry_port_mapping_get_lifetime (mapping)));
      /* One asked for a socket that an ICE restart since replaced leads nowhere. */
      if (self->base != NULL &&
          ferry_port_mapping_get_internal_port (mapping) ==
          g_inet_socket_address_get_port (self->base))
        offer_mapping (self, protocol, ferry_port_mapping_get_external_address (mapping),
                       ferry_port_mapping_get_external_port (mapping));
    }

  probe_done (self);
}

static void
probe (FerryConnector       *self,
       FerryPortmapProtocol  protocol,
       GInetSocketAddress   *server)
{
  self->pending_probes++;
  ferry_portmap_map_async (protocol, self->base, server, FERRY_PORTMAP_TRANSPORT_UDP,
                           g_inet_socket_address_get_port (self->base),
                           FERRY_CONNECTOR_MAPPING_LIFETIME_S, self->portmap_timeout_ms,
                           self->cancellable, probe_cb, g_object_ref (self));
}

/* Asks every router protocol at once for a mapping of our host socket; when the last one
 * answered, the hold on our direct candidates goes. */
static void
probe_all (FerryConnector *self)
{
  g_autoptr(GInetSocketAddress) server = NULL;
  g_autoptr(GError) error = NULL;

  /* The hold is released when the last probe answers; count them all first. */
  self->pending_probes++;
  if (self->portmap & FERRY_CONNECTOR_PORTMAP_UPNP)
    probe (self, FERRY_PORTMAP_PROTOCOL_UPNP, NULL);

  server = (self->portmap & (FERRY_CONNECTOR_PORTMAP_PCP | FERRY_CONNECTOR_PORTMAP_NATPMP))
           ? ferry_portmap_default_server (&error) : NULL;
  if (server == NULL && error != NULL)
    g_debug ("No PCP or NAT-PMP: %s", error->message);

  if (server != NULL && (self->portmap & FERRY_CONNECTOR_PORTMAP_PCP))
    probe (self, FERRY_PORTMAP_PROTOCOL_PCP, server);
  if (server != NULL && (self->portmap & FERRY_CONNECTOR_PORTMAP_NATPMP))
    probe (self, FERRY_PORTMAP_PROTOCOL_NATPMP, server);

  probe_done (self);
}


/* Routers can be slow to answer (some UPnP devices take seconds), or only start offering
 * mappings later: while the session runs relayed and no mapping was found, ask again with
 * back-off. A mapping then makes a direct pair that takes over. */
#define REPROBE_FIRST_MS 2000
#define REPROBE_MAX_MS   32000

static gboolean
worth_reprobing (FerryConnector *self)
{
  FerryPath *path;

  if (!can_offer (self) || self->portmap == FERRY_CONNECTOR_PORTMAP_NONE ||
      self->base == NULL || self->offered->len > 0 ||
      !ferry_ice_session_get_connected (self->session))
    return FALSE;

  path = ferry_ice_session_get_path (self->session);
  return ferry_path_get_kind (path) == FERRY_PATH_KIND_RELAYED;
}

static gboolean
reprobe_cb (gpointer user_data)
{
  FerryConnector *self = user_data;

  g_clear_pointer (&self->reprobe_source, g_source_unref);
  if (!worth_reprobing (self) || self->pending_probes > 0)
    return G_SOURCE_REMOVE;

  g_debug ("Still relayed and no port mapping: asking the routers again");
  probe_all (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reprobe (FerryConnector *self)
{
  if (self->reprobe_source != NULL || !worth_reprobing (self))
    return;

  self->reprobe_delay_ms = self->reprobe_delay_ms == 0
                           ? REPROBE_FIRST_MS
                           : MIN (self->reprobe_delay_ms * 2, REPROBE_MAX_MS);
  self->reprobe_source = g_timeout_source_new (self->reprobe_delay_ms);
  g_source_set_callback (self->reprobe_source, reprobe_cb, self, NULL);
  g_source_attach (self->reprobe_source, NULL);
}

static gboolean
start_probes_cb (gpointer user_data)
{
  FerryConnector *self = user_data;
  g_autoptr(GPtrArray) hosts = NULL;

  g_clear_pointer (&self->probe_idle, g_source_unref);

  if (self->session == NULL)
    return G_SOURCE_REMOVE;

  hosts = ferry_ice_session_dup_host_addresses (self->session);
  for (guint i = 0; i < hosts->len && self->base == NULL; i++)
    {
      GInetSocketAddress *host = g_ptr_array_index (hosts, i);
      GInetAddress *address = g_inet_socket_address_get_address (host);

      /* Port-mapping routers speak IPv4 (NAT-PMP only knows IPv4). */
      if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4 &&
          !g_inet_address_get_is_loopback (address))
        self->base = g_object_ref (host);
    }

  if (self->base == NULL)
    {
      g_debug ("No IPv4 host candidate to map");
      release_hold (self);
      return G_SOURCE_REMOVE;
    }

  probe_all (self);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  guint    pending;
  GTask   *task;
  GSource *timeout;
} Release;

/* A router that stops answering must not hold up closing: the caller hears back after
 * this long at the latest, while the deletions carry on. */
#define RELEASE_TIMEOUT_MS 3000

static gboolean
release_timeout_cb (gpointer user_data)
{
  Release *release = user_data;

  g_debug ("Port mappings still being deleted after %u ms; not waiting", RELEASE_TIMEOUT_MS);
  if (release->task != NULL)
    g_task_return_boolean (release->task, TRUE);
  g_clear_object (&release->task);
  g_clear_pointer (&release->timeout, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
release_one (Release *release)
{
  if (--release->pending > 0)
    return;

  if (release->task != NULL)
    g_task_return_boolean (release->task, TRUE);
  g_clear_object (&release->task);
  if (release->timeout != NULL)
    {
      g_source_destroy (release->timeout);
      g_source_unref (release->timeout);
    }
  g_free (release);
}

static void
release_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!ferry_portmap_renewer_release_finish (FERRY_PORTMAP_RENEWER (object), result, &error))
    g_debug ("Could not delete a port mapping: %s", error->message);
  release_one (user_data);
}

/* Deletes every mapping; @task (nullable) completes when all are gone or failed, each
 * bounded by the port-mapping client's timeout. */
static void
release_mappings (FerryConnector *self,
                  GTask          *task)
{
  g_autoptr(GPtrArray) renewers = g_steal_pointer (&self->renewers);
  Release *release;

  self->renewers = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_set_size (self->offered, 0);

  /* One extra count, dropped at the end, so nothing completes while we start. */
  release = g_new0 (Release, 1);
  release->pending = 1 + renewers->len;
  release->task = task != NULL ? g_object_ref (task) : NULL;
  release->timeout = g_timeout_source_new (RELEASE_TIMEOUT_MS);
  g_source_set_callback (release->timeout, release_timeout_cb, release, NULL);
  g_source_attach (release->timeout, NULL);
  for (guint i = 0; i < renewers->len; i++)
    ferry_portmap_renewer_release_async (g_ptr_array_index (renewers, i), NULL,
                                         release_cb, release);


  release_one (release);
}

/* Signalling ------------------------------------------------------------ */

static void
local_message_cb (FerryIceSession *session,
                  const char      *message,
                  gpointer         user_data)
{
  FerryConnector *self = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonObject) body = NULL;
  JsonObject *ice;

  g_debug ("Local ICE message: %s", message);
  node = json_from_string (message, NULL);
  g_return_if_fail (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
  ice = json_node_get_object (node);

  /* The credentials come right before libnice gathers, which makes the host
   * candidates at once: from the next main-loop turn on there is a socket to map.
   * An ICE restart gathers new sockets: those are mapped anew. */
  if (self->portmap != FERRY_CONNECTOR_PORTMAP_NONE &&
      g_strcmp0 (json_object_get_string_member_with_default (ice, "type", NULL),
                 "credentials") == 0 &&
      (!self->probes_started || json_object_has_member (ice, "generation")) &&
      self->probe_idle == NULL)
    {
      self->probes_started = TRUE;
      g_clear_object (&self->base);
      g_ptr_array_set_size (self->offered, 0);
      self->probe_idle = g_idle_source_new ();
      g_source_set_callback (self->probe_idle, start_probes_cb, self, NULL);
      g_source_attach (self->probe_idle, NULL);
    }

  body = json_object_new ();
  json_object_set_object_member (body, "ice", json_object_ref (ice));
  if (!ferry_signalling_send (self->signalling, FERRY_CONNECTOR_MESSAGE_TYPE, body))
    g_debug ("Signalling is closed; an ICE message was not sent");
}

static void
handle_remote (FerryConnector *self,
               const char     *message)
{
  g_autoptr(GError) error = NULL;

  /* A malformed message from the peer is dropped; the checks decide what works. */
  if (!ferry_ice_session_handle_remote_message (self->session, message, -1, &error))
    g_debug ("Ignored an ICE message from the peer: %s", error->message);
}

static void
signalling_message_cb (FerrySignalling *signalling,
                       JsonObject      *body,
                       gpointer         user_data)
{
  FerryConnector *self = user_data;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *message = NULL;
  JsonNode *ice = json_object_get_member (body, "ice");

  if (ice == NULL || !JSON_NODE_HOLDS_OBJECT (ice))
    {
      g_debug ("Ignored an \"ice\" message without an object");
      return;
    }

  message = json_to_string (ice, FALSE);
  if (self->session == NULL)
    {
      if (self->early->len < 256)
        g_ptr_array_add (self->early, g_steal_pointer (&message));
      return;
    }

  handle_remote (self, message);
}

static void
signalling_closed_cb (FerrySignalling *signalling,
                      const GError    *error,
                      gpointer         user_data)
{
  FerryConnector *self = user_data;

  self->signalling_closed = TRUE;
  if (error != NULL)
    self->signalling_error = g_error_copy (error);

  /* Once connected the session carries on alone; before that, the peer is gone. */
  if (self->connecting && self->session != NULL)
    ferry_ice_session_close (self->session);
}

static GError *
peer_gone_error (FerryConnector *self)
{
  if (self->signalling_error != NULL)
    return g_error_copy (self->signalling_error);

  return g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                              "The other device went away before a connection was made");
}

/* Connecting ------------------------------------------------------------ */

static void
failed_released_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = g_task_get_task_data (task);

  g_task_return_error (task, g_error_copy (error));
}

static void
fail_connect (FerryConnector *self,
              GTask          *task,
              GError         *error)
{
  GTask *release;

  self->connecting = FALSE;
  release_hold (self);
  g_cancellable_cancel (self->cancellable);
  if (self->session != NULL)
    ferry_ice_session_close (self->session);

  /* Mappings go before the caller hears of the failure. */
  g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
  release = g_task_new (self, NULL, failed_released_cb, g_object_ref (task));
  release_mappings (self, release);
  g_object_unref (release);
}

static void
path_kind_cb (FerryConnector *self)
{
  if (self->pending_probes == 0)
    schedule_reprobe (self);
}

static void
session_connect_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryConnector *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!ferry_ice_session_connect_finish (FERRY_ICE_SESSION (object), result, &error))
    {
      if (self->signalling_closed && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          error = peer_gone_error (self);
        }
      fail_connect (self, task, error);
      return;
    }

  self->connecting = FALSE;
  g_signal_connect_object (ferry_ice_session_get_path (self->session), "notify::kind",
                           G_CALLBACK (path_kind_cb), self, G_CONNECT_SWAPPED);
  if (self->pending_probes == 0)
    schedule_reprobe (self);
  g_task_return_pointer (task, g_object_ref (self->session), g_object_unref);
}

static void
fetch_ice_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryConnector *self = g_task_get_source_object (task);
  g_autoptr(JsonObject) ice = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;
  GError *error = NULL;

  ice = ferry_rendezvous_client_fetch_ice_finish (FERRY_RENDEZVOUS_CLIENT (object), result,
                                                  &error);
  if (ice == NULL)
    {
      fail_connect (self, task, error);
      return;
    }
  if (self->signalling_closed)
    {
      fail_connect (self, task, peer_gone_error (self));
      return;
    }

  node = json_node_init_object (json_node_alloc (), ice);
  json = json_to_string (node, FALSE);

  self->session = ferry_ice_session_new (self->role);
  if (!ferry_ice_session_set_servers_json (self->session, json, -1, &error))
    {
      fail_connect (self, task, error);
      return;
    }
  ferry_ice_session_set_candidate_types (self->session, self->candidate_types);
  ferry_ice_session_set_relay_transports (self->session, self->relay_transports);
  ferry_ice_session_set_timeout (self->session, self->timeout_ms);
  ferry_ice_session_set_upnp (self->session, FALSE);
  g_signal_connect_object (self->session, "local-message", G_CALLBACK (local_message_cb),
                           self, G_CONNECT_DEFAULT);

  if (self->portmap != FERRY_CONNECTOR_PORTMAP_NONE)
    {
      ferry_ice_session_hold_end_of_candidates (self->session);
      self->holding = TRUE;
      self->hold_source = g_timeout_source_new (self->portmap_timeout_ms +
                                                FERRY_CONNECTOR_HOLD_SLACK_MS);
      g_source_set_callback (self->hold_source, hold_timeout_cb, self, NULL);
      g_source_attach (self->hold_source, NULL);
    }

  ferry_ice_session_connect_async (self->session, g_task_get_cancellable (task),
                                   session_connect_cb, g_object_ref (task));

  for (guint i = 0; i < self->early->len; i++)
    handle_remote (self, g_ptr_array_index (self->early, i));
  g_ptr_array_set_size (self->early, 0);
}

/**
 * ferry_connector_connect_async:
 *
 * Fetches the ICE servers, gathers, trickles and probes port mappings until
 * a pair is nominated or the timeout passes. Call it once. The signalling
 * must be started (ferry_signalling_start()) for the peer's messages to
 * arrive; messages that come before this call are kept.
 */
void
ferry_connector_connect_async (FerryConnector      *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_CONNECTOR (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_connector_connect_async);

  if (self->session != NULL || self->connecting || g_cancellable_is_cancelled (self->cancellable))
    {
      g_task_return_new_error (task, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED,
                               "This connector was already used");
      return;
    }

  self->connecting = TRUE;
  /* TURN credentials come only for our side of the live mailbox. */
  ferry_rendezvous_client_fetch_ice_async (self->client,
                                           ferry_channel_get_ice_token (
                                             ferry_signalling_get_channel (self->signalling)),
                                           cancellable, fetch_ice_cb, g_steal_pointer (&task));
}

/**
 * ferry_connector_connect_finish:
 * @path: (out) (optional) (transfer none): the session's live path
 *
 * Returns: (transfer full): the connected session, or %NULL with @error set
 */
FerryIceSession *
ferry_connector_connect_finish (FerryConnector  *self,
                                GAsyncResult    *result,
                                FerryPath      **path,
                                GError         **error)
{
  FerryIceSession *session;

  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_connector_connect_async, NULL);

  session = g_task_propagate_pointer (G_TASK (result), error);
  if (path != NULL)
    *path = session != NULL ? ferry_ice_session_get_path (session) : NULL;

  return session;
}

/**
 * ferry_connector_close_async:
 *
 * Closes the session and deletes every port mapping; completes once the
 * routers confirmed or the port-mapping clients gave up (about a second).
 */
void
ferry_connector_close_async (FerryConnector      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_CONNECTOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_connector_close_async);

  release_hold (self);
  g_cancellable_cancel (self->cancellable);
  if (self->session != NULL)
    ferry_ice_session_close (self->session);
  release_mappings (self, task);
}

gboolean
ferry_connector_close_finish (FerryConnector  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Object ---------------------------------------------------------------- */

FerryConnector *
ferry_connector_new (FerrySignalling       *signalling,
                     FerryRendezvousClient *client,
                     FerryIceRole           role)
{
  g_return_val_if_fail (FERRY_IS_SIGNALLING (signalling), NULL);
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (client), NULL);

  return g_object_new (FERRY_TYPE_CONNECTOR,
                       "signalling", signalling,
                       "client", client,
                       "role", role,
                       NULL);
}

FerryIceRole
ferry_connector_get_role (FerryConnector *self)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), FERRY_ICE_ROLE_CONTROLLING);
  return self->role;
}

#define DEFINE_UINT_PROPERTY(name, field, PROP)                       \
  guint                                                               \
  ferry_connector_get_##name (FerryConnector *self)                   \
  {                                                                   \
    g_return_val_if_fail (FERRY_IS_CONNECTOR (self), 0);              \
    return self->field;                                               \
  }                                                                   \
                                                                      \
  void                                                                \
  ferry_connector_set_##name (FerryConnector *self,                   \
                              guint           value)                  \
  {                                                                   \
    g_return_if_fail (FERRY_IS_CONNECTOR (self));                     \
    if (self->field == value)                                         \
      return;                                                         \
    self->field = value;                                              \
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);     \
  }

DEFINE_UINT_PROPERTY (portmap, portmap, PROP_PORTMAP)
DEFINE_UINT_PROPERTY (portmap_timeout, portmap_timeout_ms, PROP_PORTMAP_TIMEOUT)
DEFINE_UINT_PROPERTY (candidate_types, candidate_types, PROP_CANDIDATE_TYPES)
DEFINE_UINT_PROPERTY (relay_transports, relay_transports, PROP_RELAY_TRANSPORTS)
DEFINE_UINT_PROPERTY (timeout, timeout_ms, PROP_TIMEOUT)

/**
 * ferry_connector_get_session:
 *
 * Returns: (nullable) (transfer none): the session, once connecting started
 */
FerryIceSession *
ferry_connector_get_session (FerryConnector *self)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), NULL);
  return self->session;
}

/**
 * ferry_connector_get_path:
 *
 * Returns: (nullable) (transfer none): the session's live path
 */
FerryPath *
ferry_connector_get_path (FerryConnector *self)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), NULL);
  return self->session != NULL ? ferry_ice_session_get_path (self->session) : NULL;
}

/**
 * ferry_connector_get_local_mapping:
 *
 * Returns: the protocol of the first port mapping this side offered,
 *   %FERRY_PATH_MAPPING_NONE if none
 */
FerryPathMapping
ferry_connector_get_local_mapping (FerryConnector *self)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), FERRY_PATH_MAPPING_NONE);
  return self->local_mapping;
}

/**
 * ferry_connector_get_n_mappings:
 *
 * Returns: how many port mappings (PCP, NAT-PMP, and the UPnP one) are held
 *   and renewed right now
 */
guint
ferry_connector_get_n_mappings (FerryConnector *self)
{
  g_return_val_if_fail (FERRY_IS_CONNECTOR (self), 0);
  return self->renewers->len;
}

static void
ferry_connector_constructed (GObject *object)
{
  FerryConnector *self = FERRY_CONNECTOR (object);

  G_OBJECT_CLASS (ferry_connector_parent_class)->constructed (object);

  self->message_id = g_signal_connect (self->signalling,
                                       "message::" FERRY_CONNECTOR_MESSAGE_TYPE,
                                       G_CALLBACK (signalling_message_cb), self);
  self->closed_id = g_signal_connect (self->signalling, "closed",
                                      G_CALLBACK (signalling_closed_cb), self);
  self->signalling_closed = ferry_signalling_get_closed (self->signalling);
}

static void
ferry_connector_dispose (GObject *object)
{
  FerryConnector *self = FERRY_CONNECTOR (object);

  if (self->signalling != NULL)
    {
      g_clear_signal_handler (&self->message_id, self->signalling);
      g_clear_signal_handler (&self->closed_id, self->signalling);
    }

  if (self->probe_idle != NULL)
    {
      g_source_destroy (self->probe_idle);
      g_clear_pointer (&self->probe_idle, g_source_unref);
    }
  if (self->reprobe_source != NULL)
    {
      g_source_destroy (self->reprobe_source);
      g_clear_pointer (&self->reprobe_source, g_source_unref);
    }
  release_hold (self);
  g_cancellable_cancel (self->cancellable);
  if (self->session != NULL)
    ferry_ice_session_close (self->session);
  g_clear_object (&self->session);

  /* Nobody waits here: each renewer keeps itself alive until its delete is done. */
  if (self->renewers != NULL)
    release_mappings (self, NULL);

  G_OBJECT_CLASS (ferry_connector_parent_class)->dispose (object);
}

static void
ferry_connector_finalize (GObject *object)
{
  FerryConnector *self = FERRY_CONNECTOR (object);

  g_clear_object (&self->signalling);
  g_clear_object (&self->client);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->base);
  g_clear_error (&self->signalling_error);
  g_clear_pointer (&self->early, g_ptr_array_unref);
  g_clear_pointer (&self->renewers, g_ptr_array_unref);
  g_clear_pointer (&self->offered, g_ptr_array_unref);

  G_OBJECT_CLASS (ferry_connector_parent_class)->finalize (object);
}

static void
ferry_connector_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  FerryConnector *self = FERRY_CONNECTOR (object);

  switch (prop_id)
    {
    case PROP_SIGNALLING:
      g_value_set_object (value, self->signalling);
      break;
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_PORTMAP:
      g_value_set_uint (value, self->portmap);
      break;
    case PROP_PORTMAP_TIMEOUT:
      g_value_set_uint (value, self->portmap_timeout_ms);
      break;
    case PROP_CANDIDATE_TYPES:
      g_value_set_uint (value, self->candidate_types);
      break;
    case PROP_RELAY_TRANSPORTS:
      g_value_set_uint (value, self->relay_transports);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_connector_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  FerryConnector *self = FERRY_CONNECTOR (object);

  switch (prop_id)
    {
    case PROP_SIGNALLING:
      self->signalling = g_value_dup_object (value);
      break;
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;
    case PROP_PORTMAP:
      ferry_connector_set_portmap (self, g_value_get_uint (value));
      break;
    case PROP_PORTMAP_TIMEOUT:
      ferry_connector_set_portmap_timeout (self, g_value_get_uint (value));
      break;
    case PROP_CANDIDATE_TYPES:
      ferry_connector_set_candidate_types (self, g_value_get_uint (value));
      break;
    case PROP_RELAY_TRANSPORTS:
      ferry_connector_set_relay_transports (self, g_value_get_uint (value));
      break;
    case PROP_TIMEOUT:
      ferry_connector_set_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_connector_class_init (FerryConnectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ferry_connector_constructed;
  object_class->dispose = ferry_connector_dispose;
  object_class->finalize = ferry_connector_finalize;
  object_class->get_property = ferry_connector_get_property;
  object_class->set_property = ferry_connector_set_property;

  properties[PROP_SIGNALLING] =
    g_param_spec_object ("signalling", NULL, NULL, FERRY_TYPE_SIGNALLING, construct);
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, FERRY_TYPE_RENDEZVOUS_CLIENT, construct);
  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, FERRY_TYPE_ICE_ROLE, FERRY_ICE_ROLE_CONTROLLING,
                       construct);
  /* FerryConnectorPortmap flags. */
  properties[PROP_PORTMAP] =
    g_param_spec_uint ("portmap", NULL, NULL, 0, FERRY_CONNECTOR_PORTMAP_ALL,
                       FERRY_CONNECTOR_PORTMAP_ALL, rw);
  properties[PROP_PORTMAP_TIMEOUT] =
    g_param_spec_uint ("portmap-timeout", NULL, NULL, 1, FERRY_CONNECTOR_MAX_PORTMAP_TIMEOUT_MS,
                       FERRY_CONNECTOR_DEFAULT_PORTMAP_TIMEOUT_MS, rw);
  /* FerryIceCandidateTypes flags. */
  properties[PROP_CANDIDATE_TYPES] =
    g_param_spec_uint ("candidate-types", NULL, NULL, 1, FERRY_ICE_CANDIDATE_ALL,
                       FERRY_ICE_CANDIDATE_ALL, rw);
  /* FerryIceRelayTransports flags. */
  properties[PROP_RELAY_TRANSPORTS] =
    g_param_spec_uint ("relay-transports", NULL, NULL, 0, FERRY_ICE_RELAY_ALL,
                       FERRY_ICE_RELAY_ALL, rw);
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 1, G_MAXUINT,
                       FERRY_CONNECTOR_DEFAULT_TIMEOUT_MS, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_connector_init (FerryConnector *self)
{
  self->portmap = FERRY_CONNECTOR_PORTMAP_ALL;
  self->portmap_timeout_ms = FERRY_CONNECTOR_DEFAULT_PORTMAP_TIMEOUT_MS;
  self->candidate_types = FERRY_ICE_CANDIDATE_ALL;
  self->relay_transports = FERRY_ICE_RELAY_ALL;
  self->timeout_ms = FERRY_CONNECTOR_DEFAULT_TIMEOUT_MS;
  self->cancellable = g_cancellable_new ();
  self->early = g_ptr_array_new_with_free_func (g_free);
  self->renewers = g_ptr_array_new_with_free_func (g_object_unref);
  self->offered = g_ptr_array_new_with_free_func (g_object_unref);
}
