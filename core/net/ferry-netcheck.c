/* ferry-netcheck.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-netcheck"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "ferry-ice-session.h"
#include "ferry-netcheck.h"
#include "ferry-portmap.h"
#include "ferry-portmap-natpmp.h"
#include "ferry-portmap-pcp.h"
#include "ferry-portmap-upnp.h"
#include "ferry-stun.h"
#include "ferry-turn-probe.h"

/**
 * FerryNetcheck:
 *
 * Looks at the network the way `tailscale netcheck` does, with the servers
 * the rendezvous hands out (`GET /v1/ice`). All probes run at once, each with
 * a short timeout:
 *
 * - STUN: binding requests from one UDP socket to every STUN server. Two
 *   server addresses that see the same public address and port mean the NAT
 *   maps endpoint-independently ("easy": hole punching works); different
 *   ports mean "hard" (a relay or a port mapping is needed).
 * - UPnP IGD (SSDP M-SEARCH), NAT-PMP (external address request) and PCP (a
 *   MAP of 30 seconds, deleted at once): each answered or not. A router that
 *   answers with an error (say, it has no public address) did answer.
 * - TURN over UDP and over TCP: a relay-only ICE session per transport that
 *   must gather a relay candidate.
 *
 * The result is one JSON object (see ferry_netcheck_run_finish()).
 */

#define STUN_RETRANSMIT_MS        250
#define PCP_PROBE_LIFETIME_S      30
#define SSDP_GROUP                "239.255.255.250"
#define SSDP_PORT                 1900

struct _FerryNetcheck
{
  GObject                parent_instance;

  FerryRendezvousClient *client;
  guint                  timeout_ms;
  gboolean               portmap;
};

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_TIMEOUT,
  PROP_PORTMAP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (FerryNetcheck, ferry_netcheck, G_TYPE_OBJECT)
G_DEFINE_QUARK (ferry-netcheck-error-quark, ferry_netcheck_error)

/* STUN ------------------------------------------------------------------ */

void
ferry_netcheck_build_binding_request (guint8       *request,
                                      const guint8 *transaction_id)
{
  g_autoptr(GByteArray) message = NULL;

  g_return_if_fail (request != NULL && transaction_id != NULL);

  message = ferry_stun_message_new (FERRY_STUN_BINDING_REQUEST, transaction_id);
  memcpy (request, message->data, FERRY_STUN_HEADER_SIZE);
}

/**
 * ferry_netcheck_parse_binding_response:
 * @data: a datagram from a STUN server
 * @transaction_id: the 12 bytes of our request
 *
 * Reads the address a STUN Binding success response (RFC 5389) reports:
 * XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS. Anything else, a truncated or
 * inconsistent message, or another transaction's answer is refused.
 *
 * Returns: (transfer full): the mapped address, or %NULL with
 *   %FERRY_NETCHECK_ERROR_BAD_RESPONSE
 */
GInetSocketAddress *
ferry_netcheck_parse_binding_response (const guint8  *data,
                                       gsize          length,
                                       const guint8  *transaction_id,
                                       GError       **error)
{
  GInetSocketAddress *mapped;
  const guint8 *id;
  guint16 type;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (transaction_id != NULL, NULL);

  if (!ferry_stun_parse_header (data, length, &type, &id) ||
      type != FERRY_STUN_BINDING_RESPONSE ||
      memcmp (id, transaction_id, FERRY_STUN_TRANSACTION_ID_SIZE) != 0)
    {
      g_set_error_literal (error, FERRY_NETCHECK_ERROR, FERRY_NETCHECK_ERROR_BAD_RESPONSE,
                           "Not a STUN binding response to our request");
      return NULL;
    }

  mapped = ferry_stun_get_address (data, length, FERRY_STUN_ATTR_XOR_MAPPED_ADDRESS);
  if (mapped == NULL)
    mapped = ferry_stun_get_address (data, length, FERRY_STUN_ATTR_MAPPED_ADDRESS);
  if (mapped == NULL)
    g_set_error_literal (error, FERRY_NETCHECK_ERROR, FERRY_NETCHECK_ERROR_BAD_RESPONSE,
                         "The STUN response carries no usable address");
  return mapped;
}

/**
 * ferry_netcheck_classify_mappings:
 * @mapped: (element-type GInetSocketAddress): what distinct STUN server
 *   addresses saw of one local socket
 *
 * Returns: "easy" when all agree, "hard" when they differ, "unknown" with
 *   fewer than two answers
 */
const char *
ferry_netcheck_classify_mappings (GPtrArray *mapped)
{
  GInetSocketAddress *first;

  g_return_val_if_fail (mapped != NULL, "unknown");

  if (mapped->len < 2)
    return "unknown";

  first = g_ptr_array_index (mapped, 0);
  for (guint i = 1; i < mapped->len; i++)
    {
      GInetSocketAddress *other = g_ptr_array_index (mapped, i);

      if (g_inet_socket_address_get_port (other) != g_inet_socket_address_get_port (first) ||
          !g_inet_address_equal (g_inet_socket_address_get_address (other),
                                 g_inet_socket_address_get_address (first)))
        return "hard";
    }

  return "easy";
}

/* A run ----------------------------------------------------------------- */

typedef struct
{
  char               *uri;
  GInetSocketAddress *server;
  guint8              transaction_id[FERRY_STUN_TRANSACTION_ID_SIZE];
  GInetSocketAddress *mapped;
} StunProbe;

typedef struct
{
  gboolean  configured;
  gboolean  reachable;
  char     *server;
} TurnProbe;

typedef struct
{
  JsonObject    *ice;
  char          *ice_json;
  GCancellable  *cancellable;
  guint          pending;
  guint          timeout_ms;

  GPtrArray     *stun;
  guint          pending_resolves;
  GSocket       *socket;
  GSource       *stun_readable;
  GSource       *stun_timer;
  gint64         stun_deadline;
  gboolean       stun_done;

  GSocket       *ssdp;
  GSource       *ssdp_readable;
  GSource       *ssdp_timer;
  guint          ssdp_sent;
  gboolean       ssdp_done;
  gboolean       portmap;
  gboolean       upnp;

  gboolean       natpmp;
  char          *natpmp_address;
  gboolean       pcp;

  TurnProbe      turn[2];

  /* The single-server mapping probe, through a TURN allocation. */
  gboolean            relay_probe_ran;
  GInetSocketAddress *relay_toward_server;
  GInetSocketAddress *relay_toward_relay;
  char               *relay_probe_error;
  FerryMailbox  *mailbox;   /* ours only while the ICE servers are asked for */
} Run;

static void
stun_probe_free (StunProbe *probe)
{
  g_free (probe->uri);
  g_clear_object (&probe->server);
  g_clear_object (&probe->mapped);
  g_free (probe);
}

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
run_free (Run *run)
{
  destroy_source (&run->stun_readable);
  destroy_source (&run->stun_timer);
  destroy_source (&run->ssdp_readable);
  destroy_source (&run->ssdp_timer);
  g_clear_object (&run->socket);
  g_clear_object (&run->ssdp);
  g_clear_pointer (&run->ice, json_object_unref);
  g_free (run->ice_json);
  if (run->mailbox != NULL && !ferry_mailbox_is_closed (run->mailbox))
    ferry_mailbox_close (run->mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_clear_object (&run->mailbox);
  g_clear_object (&run->cancellable);
  g_clear_pointer (&run->stun, g_ptr_array_unref);
  g_free (run->natpmp_address);
  for (guint i = 0; i < G_N_ELEMENTS (run->turn); i++)
    g_free (run->turn[i].server);
  g_clear_object (&run->relay_toward_server);
  g_clear_object (&run->relay_toward_relay);
  g_free (run->relay_probe_error);
  g_free (run);
}

/* Two STUN server addresses compare two destinations directly; with one, the TURN probe's
 * two mappings (toward the server, toward our relay on it) do the same. */
static void
add_mapping_verdict (JsonBuilder *builder,
                     Run         *run,
                     GPtrArray   *mapped)
{
  const char *method = NULL;
  const char *verdict = ferry_netcheck_classify_mappings (mapped);
  g_autofree char *reason = NULL;

  if (!g_str_equal (verdict, "unknown"))
    method = "stun";
  else if (run->relay_toward_server != NULL)
    {
      g_autoptr(GPtrArray) pair = g_ptr_array_new ();

      g_ptr_array_add (pair, run->relay_toward_server);
      g_ptr_array_add (pair, run->relay_toward_relay);
      verdict = ferry_netcheck_classify_mappings (pair);
      method = "turn";
    }
  else if (run->relay_probe_error != NULL)
    reason = g_strdup_printf ("fewer than two STUN server addresses answered, and the TURN "
                              "probe failed: %s", run->relay_probe_error);
  else
    reason = g_strdup (mapped->len == 0 ? "no STUN server answered, and no TURN server over UDP"
                                        : "only one STUN server address answered, and no TURN "
                                          "server over UDP to compare with");

  json_builder_set_member_name (builder, "mapping");
  json_builder_add_string_value (builder, verdict);
  json_builder_set_member_name (builder, "mapping_method");
  if (method != NULL)
    json_builder_add_string_value (builder, method);
  else
    json_builder_add_null_value (builder);
  if (reason != NULL)
    {
      json_builder_set_member_name (builder, "mapping_reason");
      json_builder_add_string_value (builder, reason);
    }
}

static JsonObject *
build_report (Run *run)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) mapped = g_ptr_array_new ();
  g_autoptr(GPtrArray) seen_servers = g_ptr_array_new ();
  g_autoptr(GHashTable) public = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(JsonNode) root = NULL;
  const char *names[] = { "udp", "tcp" };

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "stun");
  json_builder_begin_array (builder);
  for (guint i = 0; i < run->stun->len; i++)
    {
      StunProbe *probe = g_ptr_array_index (run->stun, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "server");
      json_builder_add_string_value (builder, probe->uri);
      json_builder_set_member_name (builder, "mapped");
      if (probe->mapped != NULL)
        {
          g_autofree char *text =
            g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (probe->mapped));
          GInetAddress *server_ip = g_inet_socket_address_get_address (probe->server);
          gboolean seen = FALSE;

          json_builder_add_string_value (builder, text);
          g_hash_table_add (public, g_inet_address_to_string (
                                      g_inet_socket_address_get_address (probe->mapped)));

          /* Only distinct server addresses tell anything about the mapping. */
          for (guint j = 0; j < seen_servers->len; j++)
            seen |= g_inet_address_equal (g_ptr_array_index (seen_servers, j), server_ip);
          if (!seen)
            {
              g_ptr_array_add (seen_servers, server_ip);
              g_ptr_array_add (mapped, probe->mapped);
            }
        }
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "public_addresses");
  json_builder_begin_array (builder);
  {
    g_autofree const char **keys =
      (const char **) g_hash_table_get_keys_as_array (public, NULL);

    for (guint i = 0; keys[i] != NULL; i++)
      json_builder_add_string_value (builder, keys[i]);
  }
  json_builder_end_array (builder);

  add_mapping_verdict (builder, run, mapped);

  json_builder_set_member_name (builder, "portmap");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "upnp");
  json_builder_add_boolean_value (builder, run->upnp);
  json_builder_set_member_name (builder, "nat-pmp");
  json_builder_add_boolean_value (builder, run->natpmp);
  json_builder_set_member_name (builder, "pcp");
  json_builder_add_boolean_value (builder, run->pcp);
  if (run->natpmp_address != NULL)
    {
      json_builder_set_member_name (builder, "router_external_address");
      json_builder_add_string_value (builder, run->natpmp_address);
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "turn");
  json_builder_begin_object (builder);
  for (guint i = 0; i < G_N_ELEMENTS (run->turn); i++)
    {
      json_builder_set_member_name (builder, names[i]);
      if (!run->turn[i].configured)
        json_builder_add_null_value (builder);
      else
        json_builder_add_boolean_value (builder, run->turn[i].reachable);
    }
  json_builder_end_object (builder);

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  return json_object_ref (json_node_get_object (root));
}

static void
probe_finished (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  g_assert (run->pending > 0);
  if (--run->pending > 0)
    return;

  g_cancellable_cancel (run->cancellable);
  g_task_return_pointer (task, build_report (run), (GDestroyNotify) json_object_unref);
}

/* STUN probes */

static void
stun_finish (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  if (run->stun_done)
    return;
  run->stun_done = TRUE;
  destroy_source (&run->stun_readable);
  destroy_source (&run->stun_timer);
  probe_finished (task);
  /* The sources did not hold the task; stun_begin() took this reference for them. */
  g_object_unref (task);
}

static gboolean
stun_all_answered (Run *run)
{
  for (guint i = 0; i < run->stun->len; i++)
    {
      StunProbe *probe = g_ptr_array_index (run->stun, i);

      if (probe->server != NULL && probe->mapped == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
stun_readable_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  guint8 buffer[1500];
  gssize n;

  while ((n = g_socket_receive_from (socket, NULL, (char *) buffer, sizeof buffer,
                                     NULL, NULL)) >= 0)
    {
      for (guint i = 0; i < run->stun->len; i++)
        {
          StunProbe *probe = g_ptr_array_index (run->stun, i);
          g_autoptr(GError) error = NULL;
          GInetSocketAddress *mapped;

          if (probe->mapped != NULL)
            continue;
          mapped = ferry_netcheck_parse_binding_response (buffer, n, probe->transaction_id,
                                                          &error);
          if (mapped != NULL)
            {
              probe->mapped = mapped;
              break;
            }
        }
    }

  if (stun_all_answered (run))
    {
      g_clear_pointer (&run->stun_readable, g_source_unref);
      stun_finish (task);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
stun_send (Run *run)
{
  for (guint i = 0; i < run->stun->len; i++)
    {
      StunProbe *probe = g_ptr_array_index (run->stun, i);
      guint8 request[FERRY_STUN_HEADER_SIZE];

      if (probe->server == NULL || probe->mapped != NULL)
        continue;
      ferry_netcheck_build_binding_request (request, probe->transaction_id);
      g_socket_send_to (run->socket, G_SOCKET_ADDRESS (probe->server), (const char *) request,
                        sizeof request, NULL, NULL);
    }
}

static gboolean
stun_timer_cb (gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);

  if (g_get_monotonic_time () >= run->stun_deadline)
    {
      g_clear_pointer (&run->stun_timer, g_source_unref);
      stun_finish (task);
      return G_SOURCE_REMOVE;
    }

  stun_send (run);
  return G_SOURCE_CONTINUE;
}

static void
stun_start (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  if (run->socket == NULL || stun_all_answered (run))
    {
      stun_finish (task);
      return;
    }

  run->stun_deadline = g_get_monotonic_time () + run->timeout_ms * G_TIME_SPAN_MILLISECOND;
  run->stun_readable = g_socket_create_source (run->socket, G_IO_IN, run->cancellable);
  g_source_set_callback (run->stun_readable, G_SOURCE_FUNC (stun_readable_cb), task, NULL);
  g_source_attach (run->stun_readable, NULL);
  run->stun_timer = g_timeout_source_new (STUN_RETRANSMIT_MS);
  g_source_set_callback (run->stun_timer, stun_timer_cb, task, NULL);
  g_source_attach (run->stun_timer, NULL);
  stun_send (run);
}

static void
stun_resolved_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  GSocketAddressEnumerator *enumerator = G_SOCKET_ADDRESS_ENUMERATOR (object);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  StunProbe *probe = g_object_get_data (object, "probe");

  address = g_socket_address_enumerator_next_finish (enumerator, result, &error);
  if (address != NULL && G_IS_INET_SOCKET_ADDRESS (address) &&
      g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    probe->server = G_INET_SOCKET_ADDRESS (g_steal_pointer (&address));
  else
    g_debug ("Cannot use STUN server %s: %s", probe->uri,
             error != NULL ? error->message : "no IPv4 address");

  if (--run->pending_resolves == 0)
    stun_start (task);
}

static void
stun_begin (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  JsonArray *uris = json_object_get_array_member (run->ice, "stun");
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, 0);
  g_autoptr(GError) error = NULL;

  run->pending++;
  g_object_ref (task);
  run->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                              G_SOCKET_PROTOCOL_UDP, &error);
  if (run->socket == NULL || !g_socket_bind (run->socket, local, FALSE, &error))
    {
      g_debug ("No UDP socket for STUN: %s", error->message);
      g_clear_object (&run->socket);
    }
  else
    g_socket_set_blocking (run->socket, FALSE);

  run->pending_resolves = 1;
  for (guint i = 0; uris != NULL && i < json_array_get_length (uris); i++)
    {
      const char *uri = json_array_get_string_element (uris, i);
      g_autoptr(GSocketConnectable) connectable = NULL;
      GSocketAddressEnumerator *enumerator;
      StunProbe *probe;

      /* "stun:host[:port]"; "stuns:" (over TLS) cannot answer a UDP binding request. */
      if (uri == NULL || !g_str_has_prefix (uri, "stun:"))
        continue;
      connectable = g_network_address_parse (uri + strlen ("stun:"), 3478, NULL);
      if (connectable == NULL)
        continue;

      probe = g_new0 (StunProbe, 1);
      probe->uri = g_strdup (uri + strlen ("stun:"));
      for (guint j = 0; j < FERRY_STUN_TRANSACTION_ID_SIZE; j++)
        probe->transaction_id[j] = g_random_int_range (0, 256);
      g_ptr_array_add (run->stun, probe);

      enumerator = g_socket_connectable_enumerate (connectable);
      g_object_set_data (G_OBJECT (enumerator), "probe", probe);
      run->pending_resolves++;
      g_socket_address_enumerator_next_async (enumerator, run->cancellable, stun_resolved_cb,
                                              g_object_ref (task));
      g_object_unref (enumerator);
    }

  if (--run->pending_resolves == 0)
    stun_start (task);
}

/* UPnP: an SSDP search for an Internet Gateway Device. */

static void
ssdp_finish (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  if (run->ssdp_done)
    return;
  run->ssdp_done = TRUE;
  destroy_source (&run->ssdp_readable);
  destroy_source (&run->ssdp_timer);
  probe_finished (task);
  /* Taken by ssdp_begin() for the sources. */
  g_object_unref (task);
}

static gboolean
ssdp_readable_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  char buffer[FERRY_PORTMAP_UPNP_MAX_SSDP_REPLY];
  gssize n;

  while ((n = g_socket_receive_from (socket, NULL, buffer, sizeof buffer, NULL, NULL)) >= 0)
    {
      g_autofree char *location = ferry_portmap_upnp_parse_ssdp_reply (buffer, n, NULL);

      if (location != NULL)
        {
          run->upnp = TRUE;
          g_clear_pointer (&run->ssdp_readable, g_source_unref);
          ssdp_finish (task);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
ssdp_send (Run *run)
{
  static const char search[] =
    "M-SEARCH * HTTP/1.1\r\n"
    "HOST: " SSDP_GROUP ":1900\r\n"
    "MAN: \"ssdp:discover\"\r\n"
    "MX: 1\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "\r\n";
  g_autoptr(GInetAddress) group = g_inet_address_new_from_string (SSDP_GROUP);
  g_autoptr(GSocketAddress) target = g_inet_socket_address_new (group, SSDP_PORT);

  run->ssdp_sent++;
  return g_socket_send_to (run->ssdp, target, search, sizeof search - 1, NULL, NULL) > 0;
}

static gboolean
ssdp_timer_cb (gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);

  /* Three searches a third of the timeout apart: SSDP is UDP and may get lost. */
  if (run->ssdp_sent < 3)
    {
      ssdp_send (run);
      return G_SOURCE_CONTINUE;
    }

  g_clear_pointer (&run->ssdp_timer, g_source_unref);
  ssdp_finish (task);
  return G_SOURCE_REMOVE;
}

static void
ssdp_begin (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, 0);
  g_autoptr(GError) error = NULL;

  run->pending++;
  g_object_ref (task);
  run->ssdp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                            G_SOCKET_PROTOCOL_UDP, &error);
  if (run->ssdp == NULL || !g_socket_bind (run->ssdp, local, FALSE, &error))
    {
      g_debug ("No UDP socket for SSDP: %s", error->message);
      ssdp_finish (task);
      return;
    }
  g_socket_set_blocking (run->ssdp, FALSE);
  g_socket_set_multicast_ttl (run->ssdp, 2);

  if (!ssdp_send (run))
    {
      /* No route to the group: no router to ask. */
      ssdp_finish (task);
      return;
    }

  run->ssdp_readable = g_socket_create_source (run->ssdp, G_IO_IN, run->cancellable);
  g_source_set_callback (run->ssdp_readable, G_SOURCE_FUNC (ssdp_readable_cb), task, NULL);
  g_source_attach (run->ssdp_readable, NULL);
  run->ssdp_timer = g_timeout_source_new (MAX (run->timeout_ms / 3, 1));
  g_source_set_callback (run->ssdp_timer, ssdp_timer_cb, task, NULL);
  g_source_attach (run->ssdp_timer, NULL);
}

/* NAT-PMP and PCP */

/* A router that refuses with a reason did answer; silence or "no such service" did not. */
static gboolean
router_answered (const GError *error)
{
  return g_error_matches (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED) ||
         g_error_matches (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NETWORK_FAILURE) ||
         g_error_matches (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_RESOURCES);
}

static void
natpmp_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  address = ferry_portmap_natpmp_external_address_finish (result, &error);
  if (address != NULL)
    {
      run->natpmp = TRUE;
      run->natpmp_address = g_inet_address_to_string (address);
    }
  else
    {
      run->natpmp = router_answered (error);
      g_debug ("NAT-PMP: %s", error->message);
    }
  probe_finished (task);
}

static void
pcp_unmap_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_portmap_pcp_unmap_finish (result, &error))
    g_debug ("Could not delete the PCP test mapping: %s", error->message);
  probe_finished (task);
}

static void
pcp_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(FerryPortMapping) mapping = NULL;
  g_autoptr(GError) error = NULL;

  mapping = ferry_portmap_pcp_map_finish (result, &error);
  if (mapping == NULL)
    {
      run->pcp = router_answered (error);
      g_debug ("PCP: %s", error->message);
      probe_finished (task);
      return;
    }

  run->pcp = TRUE;
  ferry_portmap_pcp_unmap_async (mapping, run->timeout_ms, NULL, pcp_unmap_cb,
                                 g_steal_pointer (&task));
}

static void
portmap_begin (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GInetSocketAddress) server = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = 0;

  server = ferry_portmap_default_server (&error);
  if (server == NULL)
    {
      g_debug ("No NAT-PMP or PCP: %s", error->message);
      return;
    }

  run->pending++;
  ferry_portmap_natpmp_external_address_async (server, run->timeout_ms, run->cancellable,
                                               natpmp_cb, g_object_ref (task));

  /* PCP maps the STUN socket's port: a port we own, for 30 seconds at most. */
  if (run->socket != NULL)
    local = g_socket_get_local_address (run->socket, NULL);
  if (local != NULL)
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  if (port != 0)
    {
      run->pending++;
      ferry_portmap_pcp_map_async (server, FERRY_PORTMAP_TRANSPORT_UDP, port, 0,
                                   PCP_PROBE_LIFETIME_S, run->timeout_ms, run->cancellable,
                                   pcp_cb, g_object_ref (task));
    }
}

/* TURN: a relay-only ICE session per transport must gather a relay candidate. */

typedef struct
{
  GTask           *task;
  FerryIceSession *session;
  guint            index;
} TurnCheck;

static gboolean
turn_close_cb (gpointer user_data)
{
  ferry_ice_session_close (FERRY_ICE_SESSION (user_data));
  return G_SOURCE_REMOVE;
}

static void
turn_message_cb (FerryIceSession *session,
                 const char      *message,
                 gpointer         user_data)
{
  TurnCheck *check = user_data;
  Run *run = g_task_get_task_data (check->task);
  g_autoptr(JsonNode) node = json_from_string (message, NULL);
  JsonObject *object;
  const char *type;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  object = json_node_get_object (node);
  type = json_object_get_string_member_with_default (object, "type", "");

  if (g_str_equal (type, "candidate") &&
      strstr (json_object_get_string_member_with_default (object, "candidate", ""),
              " typ relay") != NULL)
    {
      JsonObject *relay = json_object_get_object_member (object, "relay");

      run->turn[check->index].reachable = TRUE;
      if (relay != NULL && run->turn[check->index].server == NULL)
        run->turn[check->index].server =
          g_strdup (json_object_get_string_member_with_default (relay, "server", NULL));
    }
  else if (!g_str_equal (type, "end-of-candidates"))
    return;

  /* Answer known: stop (outside libnice's signal emission). */
  g_idle_add_full (G_PRIORITY_DEFAULT, turn_close_cb, g_object_ref (session), g_object_unref);
}

static void
turn_connect_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TurnCheck *check = user_data;
  g_autoptr(GError) error = NULL;

  /* It never connects (there is no peer): it ends closed, cancelled or timed out. */
  ferry_ice_session_connect_finish (FERRY_ICE_SESSION (object), result, &error);
  g_signal_handlers_disconnect_by_data (check->session, check);
  probe_finished (check->task);
  g_object_unref (check->task);
  g_object_unref (check->session);
  g_free (check);
}

static void
turn_begin (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  JsonArray *turn = json_object_get_array_member (run->ice, "turn");
  const FerryIceRelayTransports transports[] = { FERRY_ICE_RELAY_UDP, FERRY_ICE_RELAY_TCP };

  for (guint i = 0; turn != NULL && i < json_array_get_length (turn); i++)
    {
      JsonObject *entry = json_array_get_object_element (turn, i);
      JsonArray *urls = entry != NULL ? json_object_get_array_member (entry, "urls") : NULL;

      for (guint j = 0; urls != NULL && j < json_array_get_length (urls); j++)
        {
          const char *url = json_array_get_string_element (urls, j);

          if (url == NULL)
            continue;
          if (g_str_has_prefix (url, "turns:") || strstr (url, "transport=tcp") != NULL)
            run->turn[1].configured = TRUE;
          else if (g_str_has_prefix (url, "turn:"))
            run->turn[0].configured = TRUE;
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (transports); i++)
    {
      g_autoptr(GError) error = NULL;
      TurnCheck *check;

      if (!run->turn[i].configured)
        continue;

      check = g_new0 (TurnCheck, 1);
      check->task = g_object_ref (task);
      check->index = i;
      check->session = ferry_ice_session_new (FERRY_ICE_ROLE_CONTROLLING);
      if (!ferry_ice_session_set_servers_json (check->session, run->ice_json, -1, &error))
        {
          g_debug ("TURN servers unusable: %s", error->message);
          g_object_unref (check->session);
          g_object_unref (check->task);
          g_free (check);
          continue;
        }
      ferry_ice_session_set_candidate_types (check->session, FERRY_ICE_CANDIDATE_RELAY);
      ferry_ice_session_set_relay_transports (check->session, transports[i]);
      ferry_ice_session_set_timeout (check->session, run->timeout_ms * 2);
      g_signal_connect (check->session, "local-message", G_CALLBACK (turn_message_cb), check);
      run->pending++;
      ferry_ice_session_connect_async (check->session, run->cancellable, turn_connect_cb,
                                       check);
    }
}

/* The single-server mapping probe: one TURN server over UDP, the first one configured. */

static void
relay_probe_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!ferry_turn_probe_finish (result, &run->relay_toward_server, &run->relay_toward_relay,
                                &error))
    {
      g_debug ("TURN mapping probe: %s", error->message);
      run->relay_probe_error = g_strdup (error->message);
    }
  probe_finished (task);
}

typedef struct
{
  GTask *task;
  char  *username;
  char  *password;
} RelayTarget;

static void
relay_target_free (RelayTarget *target)
{
  g_object_unref (target->task);
  g_free (target->username);
  g_free (target->password);
  g_free (target);
}

static void
relay_resolved_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  RelayTarget *target = user_data;
  GTask *task = target->task;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  address = g_socket_address_enumerator_next_finish (G_SOCKET_ADDRESS_ENUMERATOR (object),
                                                     result, &error);
  if (address != NULL && G_IS_INET_SOCKET_ADDRESS (address) &&
      g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    ferry_turn_probe_async (G_INET_SOCKET_ADDRESS (address), target->username,
                            target->password, run->timeout_ms, run->cancellable,
                            relay_probe_cb, g_object_ref (task));
  else
    {
      run->relay_probe_error = g_strdup (error != NULL ? error->message
                                                       : "the TURN server has no IPv4 address");
      probe_finished (task);
    }
  relay_target_free (target);
}

static void
relay_probe_begin (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  JsonArray *turn = json_object_get_array_member (run->ice, "turn");

  for (guint i = 0; turn != NULL && i < json_array_get_length (turn); i++)
    {
      JsonObject *entry = json_array_get_object_element (turn, i);
      JsonArray *urls = entry != NULL ? json_object_get_array_member (entry, "urls") : NULL;

      for (guint j = 0; urls != NULL && j < json_array_get_length (urls); j++)
        {
          const char *url = json_array_get_string_element (urls, j);
          g_autoptr(GSocketConnectable) connectable = NULL;
          g_autofree char *hostport = NULL;
          GSocketAddressEnumerator *enumerator;
          RelayTarget *target;

          if (url == NULL || !g_str_has_prefix (url, "turn:") || strstr (url, "transport=tcp"))
            continue;
          hostport = g_strndup (url + strlen ("turn:"), strcspn (url + strlen ("turn:"), "?"));
          connectable = g_network_address_parse (hostport, 3478, NULL);
          if (connectable == NULL)
            continue;

          target = g_new0 (RelayTarget, 1);
          target->task = g_object_ref (task);
          target->username = g_strdup (json_object_get_string_member_with_default (entry,
                                                                              "username", NULL));
          target->password = g_strdup (json_object_get_string_member_with_default (entry,
                                                                            "credential", NULL));
          run->relay_probe_ran = TRUE;
          run->pending++;
          enumerator = g_socket_connectable_enumerate (connectable);
          g_socket_address_enumerator_next_async (enumerator, run->cancellable,
                                                  relay_resolved_cb, target);
          g_object_unref (enumerator);
          return;
        }
    }
}

static void
fetch_ice_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(JsonNode) node = NULL;
  GError *error = NULL;

  run->ice = ferry_rendezvous_client_fetch_ice_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                       result, &error);
  /* The credentials are all the mailbox was for; leaving at once frees
   * the nameplate. */
  if (run->mailbox != NULL)
    ferry_mailbox_close (run->mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);
  if (run->ice == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  node = json_node_init_object (json_node_alloc (), run->ice);
  run->ice_json = json_to_string (node, FALSE);

  /* One count of our own so that no probe finishing early completes the run. */
  run->pending = 1;
  stun_begin (task);
  if (run->portmap)
    {
      ssdp_begin (task);
      portmap_begin (task);
    }
  turn_begin (task);
  relay_probe_begin (task);
  probe_finished (task);
}

static void
open_mailbox_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  GCancellable *cancellable;
  GError *error = NULL;

  run->mailbox = ferry_rendezvous_client_open_mailbox_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                              result, &error);
  if (run->mailbox == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  cancellable = g_task_get_cancellable (task);
  ferry_rendezvous_client_fetch_ice_async (FERRY_RENDEZVOUS_CLIENT (object),
                                           ferry_mailbox_get_token (run->mailbox), cancellable,
                                           fetch_ice_cb, g_steal_pointer (&task));
}

static void
allocate_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autofree char *nameplate = NULL;
  GCancellable *cancellable;
  GError *error = NULL;

  nameplate = ferry_rendezvous_client_allocate_finish (FERRY_RENDEZVOUS_CLIENT (object), result,
                                                       &error);
  if (nameplate == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  cancellable = g_task_get_cancellable (task);
  ferry_rendezvous_client_open_mailbox_async (FERRY_RENDEZVOUS_CLIENT (object), nameplate,
                                              cancellable, open_mailbox_cb,
                                              g_steal_pointer (&task));
}

/**
 * ferry_netcheck_run_async:
 *
 * Fetches the servers from the rendezvous and runs every probe at once; the
 * whole run takes about the timeout (TURN over TCP up to twice that).
 * The rendezvous hands TURN credentials only to a side in a live mailbox,
 * so the check opens a mailbox of its own for as long as it asks.
 */
void
ferry_netcheck_run_async (FerryNetcheck       *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Run *run;

  g_return_if_fail (FERRY_IS_NETCHECK (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_netcheck_run_async);

  run = g_new0 (Run, 1);
  run->timeout_ms = self->timeout_ms;
  run->portmap = self->portmap;
  run->cancellable = g_cancellable_new ();
  run->stun = g_ptr_array_new_with_free_func ((GDestroyNotify) stun_probe_free);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  if (cancellable != NULL)
    g_signal_connect_object (cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                             run->cancellable, G_CONNECT_SWAPPED);

  ferry_rendezvous_client_allocate_async (self->client, cancellable, allocate_cb,
                                          g_steal_pointer (&task));
}

/**
 * ferry_netcheck_run_finish:
 *
 * Returns: (transfer full): the report:
 *   `{"stun": [{"server": "host:port", "mapped": "ip:port"|null}, ...],
 *     "public_addresses": ["ip", ...],
 *     "mapping": "easy"|"hard"|"unknown",
 *     "mapping_method": "stun"|"turn"|null, "mapping_reason": "…" (only when unknown),
 *     "portmap": {"upnp": bool, "nat-pmp": bool, "pcp": bool,
 *                 "router_external_address": "ip" (when NAT-PMP told it)},
 *     "turn": {"udp": bool|null, "tcp": bool|null}}` (null: none configured)
 */
JsonObject *
ferry_netcheck_run_finish (FerryNetcheck  *self,
                           GAsyncResult   *result,
                           GError        **error)
{
  g_return_val_if_fail (FERRY_IS_NETCHECK (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static const char *
yes_no (JsonObject *object,
        const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return "not offered by the rendezvous";
  return json_node_get_boolean (node) ? "yes" : "no";
}

/**
 * ferry_netcheck_format_text:
 * @report: what ferry_netcheck_run_finish() returned
 *
 * Returns: (transfer full): the report for people, one fact a line
 */
char *
ferry_netcheck_format_text (JsonObject *report)
{
  GString *text = g_string_new (NULL);
  JsonArray *stun = json_object_get_array_member (report, "stun");
  JsonArray *public = json_object_get_array_member (report, "public_addresses");
  JsonObject *portmap = json_object_get_object_member (report, "portmap");
  JsonObject *turn = json_object_get_object_member (report, "turn");
  const char *mapping = json_object_get_string_member (report, "mapping");

  g_string_append (text, "Public address:  ");
  for (guint i = 0; i < json_array_get_length (public); i++)
    g_string_append_printf (text, "%s%s", i > 0 ? ", " : "",
                            json_array_get_string_element (public, i));
  if (json_array_get_length (public) == 0)
    g_string_append (text, "unknown (no STUN server answered)");
  g_string_append_c (text, '\n');

  g_string_append_printf (text, "NAT mapping:     %s%s\n", mapping,
                          g_str_equal (mapping, "easy")
                          ? " (endpoint-independent: direct connections can be punched)"
                          : g_str_equal (mapping, "hard")
                          ? " (a new port per destination: expect a relay or port mapping)"
                          : "");
  if (json_object_has_member (report, "mapping_reason"))
    g_string_append_printf (text, "                 (%s)\n",
                            json_object_get_string_member (report, "mapping_reason"));
  else if (json_object_get_string_member_with_default (report, "mapping_method", NULL) != NULL)
    g_string_append_printf (text, "                 (seen %s)\n",
                            g_str_equal (json_object_get_string_member (report, "mapping_method"),
                                         "turn")
                            ? "through one TURN server: toward it and toward our relay on it"
                            : "by two STUN server addresses");

  for (guint i = 0; i < json_array_get_length (stun); i++)
    {
      JsonObject *probe = json_array_get_object_element (stun, i);
      const char *mapped = json_object_get_string_member_with_default (probe, "mapped", NULL);

      g_string_append_printf (text, "STUN %-21s %s\n",
                              json_object_get_string_member (probe, "server"),
                              mapped != NULL ? mapped : "no answer");
    }

  g_string_append_printf (text, "UPnP IGD:        %s\n", yes_no (portmap, "upnp"));
  g_string_append_printf (text, "NAT-PMP:         %s\n", yes_no (portmap, "nat-pmp"));
  g_string_append_printf (text, "PCP:             %s\n", yes_no (portmap, "pcp"));
  g_string_append_printf (text, "TURN over UDP:   %s\n", yes_no (turn, "udp"));
  g_string_append_printf (text, "TURN over TCP:   %s\n", yes_no (turn, "tcp"));

  return g_string_free (text, FALSE);
}

/* Object */

FerryNetcheck *
ferry_netcheck_new (FerryRendezvousClient *client)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (client), NULL);

  return g_object_new (FERRY_TYPE_NETCHECK, "client", client, NULL);
}

guint
ferry_netcheck_get_timeout (FerryNetcheck *self)
{
  g_return_val_if_fail (FERRY_IS_NETCHECK (self), 0);
  return self->timeout_ms;
}

void
ferry_netcheck_set_timeout (FerryNetcheck *self,
                            guint          timeout_ms)
{
  g_return_if_fail (FERRY_IS_NETCHECK (self));
  g_return_if_fail (timeout_ms > 0);

  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

gboolean
ferry_netcheck_get_portmap (FerryNetcheck *self)
{
  g_return_val_if_fail (FERRY_IS_NETCHECK (self), FALSE);
  return self->portmap;
}

/**
 * ferry_netcheck_set_portmap:
 * @enabled: whether to ask the router (UPnP, NAT-PMP, PCP); %TRUE by default
 */
void
ferry_netcheck_set_portmap (FerryNetcheck *self,
                            gboolean       enabled)
{
  g_return_if_fail (FERRY_IS_NETCHECK (self));

  enabled = !!enabled;
  if (self->portmap == enabled)
    return;
  self->portmap = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORTMAP]);
}

static void
ferry_netcheck_finalize (GObject *object)
{
  FerryNetcheck *self = FERRY_NETCHECK (object);

  g_clear_object (&self->client);

  G_OBJECT_CLASS (ferry_netcheck_parent_class)->finalize (object);
}

static void
ferry_netcheck_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  FerryNetcheck *self = FERRY_NETCHECK (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_PORTMAP:
      g_value_set_boolean (value, self->portmap);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_netcheck_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  FerryNetcheck *self = FERRY_NETCHECK (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;
    case PROP_TIMEOUT:
      ferry_netcheck_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_PORTMAP:
      ferry_netcheck_set_portmap (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_netcheck_class_init (FerryNetcheckClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_netcheck_finalize;
  object_class->get_property = ferry_netcheck_get_property;
  object_class->set_property = ferry_netcheck_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, FERRY_TYPE_RENDEZVOUS_CLIENT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 1, G_MAXUINT,
                       FERRY_NETCHECK_DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PORTMAP] =
    g_param_spec_boolean ("portmap", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_netcheck_init (FerryNetcheck *self)
{
  self->timeout_ms = FERRY_NETCHECK_DEFAULT_TIMEOUT_MS;
  self->portmap = TRUE;
}
