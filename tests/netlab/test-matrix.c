/* tests/netlab/test-matrix.c
 *
 * The connectivity matrix: for each pair of NAT kinds, two processes in two lab namespaces
 * meet through a real ferry-rendezvous (in the lab's internet namespace, handing out the lab
 * coturn for STUN and TURN over UDP and TCP) and connect with FerryChannel, FerrySignalling
 * and FerryConnector exactly as the app does. Each row asserts that the session connects, the
 * kind of path and the port mapping that made it; the table of pair, path, mapping and
 * connect time goes to stdout (TAP comments) and, as Markdown, to matrix.md in the build
 * directory. Then `ferry-cli netcheck` must tell easy from hard NAT behind each kind, and no
 * mapping may be left on a router after its session ended.
 *
 * The test binary plays both parts: run normally it builds the lab; re-executed with
 * `ip netns exec HOST test-matrix --lab-role peer` it is one peer, taking commands on stdin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ferry-channel.h"
#include "ferry-connector.h"
#include "ferry-lab.h"
#include "ferry-signalling.h"
#include "ferry-test-utils.h"
#include "ferry-version.h"

#define CALL_MS     10000
#define CONNECT_MS  25000

static FerryLab *lab;
static char *rendezvous_url;
static GSubprocess *rendezvous;
/* A second rendezvous that names one STUN server (coturn on its one address): what a small
 * self-hosted setup has. */
static char *one_server_url;
static GSubprocess *one_server;
static GHashTable *children;
static GString *table;

/* Child side: one peer inside a host's namespace ---------------------------------------- */

typedef struct
{
  FerryRendezvousClient *client;
  FerryChannel          *channel;
  FerrySignalling       *signalling;
  FerryConnector        *connector;
  FerryIceSession       *session;
  FerryLabRequest       *waiting;
  FerryLabRequest       *settling;
  FerryLabRequest       *kind_request;
  char                  *wanted_kind;
  FerryLabRequest       *code_request;
  char                  *result;
  guint                  portmap;
  guint                  portmap_timeout;
  gint64                 start;
} Peer;

static void
peer_finish (Peer *peer,
             char *result)
{
  g_free (peer->result);
  peer->result = result;
  if (peer->code_request != NULL)
    {
      ferry_lab_request_reply (g_steal_pointer (&peer->code_request), "%s", result);
      g_clear_pointer (&peer->result, g_free);
      return;
    }
  if (peer->waiting != NULL)
    ferry_lab_request_reply (g_steal_pointer (&peer->waiting), "%s", peer->result);
}

static char *
error_line (const GError *error)
{
  return g_strdup_printf ("error %s %d %s", g_quark_to_string (error->domain), error->code,
                          error->message);
}

/* "KIND MAPPED LOCAL_MAPPING RELAY_TRANSPORT MS" of the path as it is now. */
static char *
describe_path (Peer *peer)
{
  FerryPath *path = ferry_ice_session_get_path (peer->session);
  const char *transport = ferry_path_get_relay_transport (path);
  const char *remote = ferry_path_get_remote_address (path);
  /* "[2001:db8::a]:5000" or "11.0.1.2:5000": more than one colon only in IPv6. */
  gboolean ipv6 = remote != NULL && strchr (remote, ':') != strrchr (remote, ':');

  return g_strdup_printf ("%s %s %s %s %" G_GINT64_FORMAT " %s",
                          ferry_path_kind_to_string (ferry_path_get_kind (path)),
                          ferry_path_mapping_to_string (ferry_path_get_mapped (path)),
                          ferry_path_mapping_to_string (
                            ferry_connector_get_local_mapping (peer->connector)),
                          transport != NULL ? transport : "-",
                          (g_get_monotonic_time () - peer->start) / 1000,
                          ipv6 ? "ipv6" : "ipv4");
}

static void
settled_cb (GObject    *object,
            GParamSpec *pspec,
            gpointer    user_data)
{
  Peer *peer = user_data;
  g_autofree char *path = NULL;

  if (peer->settling == NULL || !ferry_ice_session_get_settled (peer->session))
    return;
  path = describe_path (peer);
  ferry_lab_request_reply (g_steal_pointer (&peer->settling), "ok %s", path);
}

static void
kind_cb (GObject    *object,
         GParamSpec *pspec,
         gpointer    user_data)
{
  Peer *peer = user_data;
  FerryPath *path = ferry_ice_session_get_path (peer->session);
  g_autofree char *described = NULL;

  if (peer->kind_request == NULL ||
      g_strcmp0 (ferry_path_kind_to_string (ferry_path_get_kind (path)), peer->wanted_kind) != 0)
    return;
  described = describe_path (peer);
  ferry_lab_request_reply (g_steal_pointer (&peer->kind_request), "ok %s", described);
}

static void
connector_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  peer->session = ferry_connector_connect_finish (FERRY_CONNECTOR (object), result, NULL,
                                                  &error);
  if (peer->session == NULL)
    {
      peer_finish (peer, error_line (error));
      return;
    }

  g_signal_connect (peer->session, "notify::settled", G_CALLBACK (settled_cb), peer);
  g_signal_connect (ferry_ice_session_get_path (peer->session), "notify::kind",
                    G_CALLBACK (kind_cb), peer);
  peer_finish (peer, g_strdup_printf ("ok %s", describe_path (peer)));
}

static void
channel_connect_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;
  FerryIceRole role;

  if (!ferry_channel_connect_finish (peer->channel, result, &error))
    {
      peer_finish (peer, error_line (error));
      return;
    }

  role = ferry_channel_is_sender (peer->channel) ? FERRY_ICE_ROLE_CONTROLLING
                                                 : FERRY_ICE_ROLE_CONTROLLED;
  peer->signalling = ferry_signalling_new (peer->channel);
  peer->connector = ferry_connector_new (peer->signalling, peer->client, role);
  ferry_connector_set_portmap (peer->connector, peer->portmap);
  if (peer->portmap_timeout > 0)
    ferry_connector_set_portmap_timeout (peer->connector, peer->portmap_timeout);
  ferry_connector_set_timeout (peer->connector, CONNECT_MS - 5000);
  ferry_signalling_start (peer->signalling);

  peer->start = g_get_monotonic_time ();
  ferry_connector_connect_async (peer->connector, NULL, connector_cb, peer);
}

static void
create_code_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  code = ferry_channel_create_code_finish (peer->channel, result, &error);
  if (code == NULL)
    {
      peer_finish (peer, error_line (error));
      return;
    }

  ferry_lab_request_reply (g_steal_pointer (&peer->code_request), "ok %s", code);
  ferry_channel_connect_async (peer->channel, NULL, channel_connect_cb, peer);
}

static void
open_code_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_channel_open_code_finish (peer->channel, result, &error))
    {
      peer_finish (peer, error_line (error));
      return;
    }

  ferry_channel_connect_async (peer->channel, NULL, channel_connect_cb, peer);
}

static void
peer_clear (Peer *peer)
{
  if (peer->signalling != NULL)
    ferry_signalling_close (peer->signalling);
  g_clear_object (&peer->session);
  g_clear_object (&peer->connector);
  g_clear_object (&peer->signalling);
  g_clear_object (&peer->channel);
  g_clear_object (&peer->client);
  g_clear_pointer (&peer->result, g_free);
  g_clear_pointer (&peer->wanted_kind, g_free);
}

static void
close_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  FerryLabRequest *request = user_data;
  Peer *peer = g_object_get_data (object, "peer");
  g_autoptr(GError) error = NULL;
  guint left;

  ferry_connector_close_finish (FERRY_CONNECTOR (object), result, &error);
  left = ferry_connector_get_n_mappings (FERRY_CONNECTOR (object));
  peer_clear (peer);
  ferry_lab_request_reply (request, "ok %u", left);
}

/* Commands:
 *   send URL PORTMAP PORTMAP_MS   -> ok CODE | error …   (then connects in the background;
 *                                    PORTMAP_MS 0 keeps the default port-mapping deadline)
 *   receive URL CODE PORTMAP PORTMAP_MS -> ok            (connects in the background)
 *   wait                          -> ok KIND MAPPED LOCAL_MAPPING RELAY_TRANSPORT MS FAMILY
 *                                    | error DOMAIN CODE MESSAGE   (the first path)
 *   settle                        -> the same, once the path is settled (the final path)
 *   wait-kind KIND                -> the same, once the path is of KIND
 *   close                         -> ok MAPPINGS_LEFT    (after the mappings are deleted)
 */
static void
peer_command (const char * const *words,
              FerryLabRequest    *request,
              gpointer            user_data)
{
  Peer *peer = user_data;
  guint n = g_strv_length ((GStrv) words);

  if (n == 4 && g_str_equal (words[0], "send"))
    {
      peer_clear (peer);
      peer->portmap = atoi (words[2]);
      peer->portmap_timeout = atoi (words[3]);
      peer->client = ferry_rendezvous_client_new (words[1]);
      peer->channel = ferry_channel_new (peer->client);
      peer->code_request = request;
      ferry_channel_create_code_async (peer->channel, 3, NULL, create_code_cb, peer);
    }
  else if (n == 5 && g_str_equal (words[0], "receive"))
    {
      peer_clear (peer);
      peer->portmap = atoi (words[3]);
      peer->portmap_timeout = atoi (words[4]);
      peer->client = ferry_rendezvous_client_new (words[1]);
      peer->channel = ferry_channel_new (peer->client);
      ferry_channel_open_code_async (peer->channel, words[2], NULL, open_code_cb, peer);
      ferry_lab_request_reply (request, "ok");
    }
  else if (n == 1 && g_str_equal (words[0], "wait"))
    {
      if (peer->result != NULL)
        ferry_lab_request_reply (request, "%s", peer->result);
      else
        peer->waiting = request;
    }
  else if (n == 2 && g_str_equal (words[0], "wait-kind") && peer->session != NULL)
    {
      g_free (peer->wanted_kind);
      peer->wanted_kind = g_strdup (words[1]);
      peer->kind_request = request;
      kind_cb (NULL, NULL, peer);
    }
  else if (n == 1 && g_str_equal (words[0], "settle") && peer->session != NULL)
    {
      peer->settling = request;
      settled_cb (NULL, NULL, peer);
    }
  else if (n == 1 && g_str_equal (words[0], "close") && peer->connector != NULL)
    {
      g_object_set_data (G_OBJECT (peer->connector), "peer", peer);
      ferry_connector_close_async (peer->connector, NULL, close_cb, request);
    }
  else
    ferry_lab_request_reply (request, "error bad-command");
}

static int
peer_main (int    argc,
           char **argv)
{
  Peer peer = { 0 };
  g_autoptr(GError) error = NULL;
  int status;

  /* Stdout carries the answers to the parent: debug messages must not land there. */
  g_log_writer_default_set_use_stderr (TRUE);
  if (!ferry_init (&error))
    g_error ("%s", error->message);

  status = ferry_lab_run_role (argc, argv, "peer", peer_command, &peer);
  peer_clear (&peer);
  return status;
}

/* Parent side ---------------------------------------------------------------------------- */

static FerryLabChild *
child_for (const char *host)
{
  FerryLabChild *child = g_hash_table_lookup (children, host);
  g_autoptr(GError) error = NULL;

  if (child != NULL)
    return child;

  child = ferry_lab_child_new (lab, host, "peer", &error);
  g_assert_no_error (error);
  g_hash_table_insert (children, g_strdup (host), child);
  return child;
}

static GSubprocess *
start_rendezvous (gboolean   one_stun_server,
                  char     **url)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *listen = g_strdup_printf ("%s:0", ferry_lab_rendezvous_ip (lab));
  g_autofree char *stun1 = g_strdup_printf ("stun:%s", ferry_lab_coturn (lab));
  g_autofree char *stun2 = g_strdup_printf ("stun:%s", ferry_lab_get (lab, "coturn2", "-"));
  g_autofree char *turn_udp = g_strdup_printf ("turn:%s?transport=udp", ferry_lab_coturn (lab));
  g_autofree char *turn_tcp = g_strdup_printf ("turn:%s?transport=tcp", ferry_lab_coturn (lab));
  g_autofree char *line = NULL;
  const char *argv[] = {
    g_getenv ("FERRY_RENDEZVOUS_BIN"), "--listen", listen,
    "--turn-secret", ferry_lab_turn_secret (lab),
    "--turn", turn_udp, "--turn", turn_tcp, "--stun", stun1, "--stun", stun2, NULL
  };

  g_assert_nonnull (argv[0]);
  if (one_stun_server)
    argv[11] = NULL;
  process = ferry_lab_spawnv (lab, "inet", G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv, &error);
  g_assert_no_error (error);

  /* The server prints its URL once it listens, or exits (end of file) if it cannot. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "listening on "));
  *url = g_strdup (line + strlen ("listening on "));
  g_strchomp (*url);
  g_test_message ("rendezvous%s at %s", one_stun_server ? " with one STUN server" : "", *url);
  return g_steal_pointer (&process);
}

static void
stop_rendezvous (GSubprocess **process,
                 char        **url)
{
  if (*process != NULL)
    {
      g_subprocess_send_signal (*process, SIGTERM);
      g_subprocess_wait (*process, NULL, NULL);
    }
  g_clear_object (process);
  g_clear_pointer (url, g_free);
}

typedef struct
{
  const char       *label;
  const char       *sender;
  guint             portmap;           /* of the mapped side; the other side tries all */
  const char       *receiver;
  FerryPathKind     kind;
  FerryPathMapping  mapped;
  const char       *relay_transport;   /* of the sender's own relay candidate, or NULL */
  guint             portmap_timeout;   /* 0: the default */
  gboolean          mapped_receives;   /* the receiver, not the sender, has the mapping */
  guint             late_ms;           /* the router answers port mapping only after this */
  gboolean          ipv6;              /* the final path runs over IPv6 */
} Row;

/* Makes @host's router drop every port-mapping request (SSDP, NAT-PMP/PCP, miniupnpd's
 * HTTP) from its LAN, and lift that after @ms in the background: a router that answers
 * late. */
static GSubprocess *
block_port_mapping (const char *host,
                    guint       ms)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *lift = g_strdup_printf ("sleep %u.%03u; nft delete table inet labblock",
                                           ms / 1000, ms % 1000);
  const char *argv[] = { "sh", "-c", lift, NULL };
  GSubprocess *unblocker;

  out = ferry_lab_run (lab, ferry_lab_router_ns (lab, host), &error, "sh", "-c",
                       "nft add table inet labblock && "
                       "nft add chain inet labblock input "
                       "'{ type filter hook input priority -10; }' && "
                       "nft add rule inet labblock input iifname lan "
                       "udp dport '{ 1900, 5351 }' drop && "
                       "nft add rule inet labblock input iifname lan tcp dport 5000 drop",
                       NULL);
  g_assert_no_error (error);
  unblocker = ferry_lab_spawnv (lab, ferry_lab_router_ns (lab, host), G_SUBPROCESS_FLAGS_NONE,
                                argv, &error);
  g_assert_no_error (error);
  return unblocker;
}

/* "relayed (TURN over UDP)" from a path's kind and relay transport words. */
static char *
describe_kind (const char *kind,
               const char *transport)
{
  g_autofree char *upper = g_ascii_strup (transport, -1);

  if (g_str_equal (transport, "-"))
    return g_strdup (kind);
  return g_strdup_printf ("%s (TURN over %s)", kind, upper);
}

/* Counts the DNAT rules miniupnpd added on @host's router. */
static guint
router_mappings (const char *host)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *rules = ferry_lab_run (lab, ferry_lab_router_ns (lab, host), &error,
                                          "nft", "list", "ruleset", NULL);
  guint n = 0;

  g_assert_no_error (error);
  for (const char *p = rules; (p = strstr (p, " dnat ip to ")) != NULL; p++)
    n++;
  return n;
}

static void
test_row (gconstpointer data)
{
  const Row *row = data;
  FerryLabChild *sender = child_for (row->sender);
  FerryLabChild *receiver = child_for (row->receiver);
  const char *mapped_host = row->mapped_receives ? row->receiver : row->sender;
  g_autofree char *reply = NULL;
  g_autofree char *sent = NULL;
  g_autofree char *received = NULL;
  g_autofree char *final_sent = NULL;
  g_autofree char *final_received = NULL;
  g_autoptr(GSubprocess) unblocker = NULL;
  g_auto(GStrv) first = NULL;
  g_auto(GStrv) words = NULL;
  g_auto(GStrv) other = NULL;
  gboolean mappable = row->mapped != FERRY_PATH_MAPPING_NONE;
  FerryPathKind kind;
  FerryPathMapping mapped;

  if (mappable)
    g_assert_cmpuint (router_mappings (mapped_host), ==, 0);
  if (row->late_ms > 0)
    unblocker = block_port_mapping (mapped_host, row->late_ms);

  reply = ferry_lab_child_call (sender, CALL_MS, "send %s %u %u", rendezvous_url,
                                row->mapped_receives ? FERRY_CONNECTOR_PORTMAP_ALL
                                                     : row->portmap,
                                row->mapped_receives ? 0 : row->portmap_timeout);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "ok "));
  sent = ferry_lab_child_call (receiver, CALL_MS, "receive %s %s %u %u", rendezvous_url,
                               reply + 3,
                               row->mapped_receives ? row->portmap
                                                    : FERRY_CONNECTOR_PORTMAP_ALL,
                               row->mapped_receives ? row->portmap_timeout : 0);
  g_assert_cmpstr (sent, ==, "ok");
  g_clear_pointer (&sent, g_free);
  g_clear_pointer (&reply, g_free);

  sent = ferry_lab_child_call (sender, CONNECT_MS, "wait");
  received = ferry_lab_child_call (receiver, CONNECT_MS, "wait");
  g_test_message ("%s: sender: %s", row->label, sent);
  g_test_message ("%s: receiver: %s", row->label, received);
  g_assert_nonnull (sent);
  g_assert_nonnull (received);
  g_assert_true (g_str_has_prefix (sent, "ok "));
  g_assert_true (g_str_has_prefix (received, "ok "));

  /* The first path is what the session connected on; the final one what it settled on,
   * with every better pair checked: that is the row's. */
  first = g_strsplit (sent, " ", -1);
  g_assert_cmpuint (g_strv_length (first), ==, 7);
  if (row->late_ms > 0)
    {
      /* Relayed while the router is silent; direct once it answers. */
      g_assert_cmpstr (first[1], ==, ferry_path_kind_to_string (FERRY_PATH_KIND_RELAYED));
      final_sent = ferry_lab_child_call (sender, CONNECT_MS, "wait-kind %s",
                                         ferry_path_kind_to_string (row->kind));
      final_received = ferry_lab_child_call (receiver, CONNECT_MS, "wait-kind %s",
                                             ferry_path_kind_to_string (row->kind));
      g_assert_true (g_subprocess_wait_check (unblocker, NULL, NULL));
    }
  else
    {
      final_sent = ferry_lab_child_call (sender, CONNECT_MS, "settle");
      final_received = ferry_lab_child_call (receiver, CONNECT_MS, "settle");
    }
  g_test_message ("%s: sender settled: %s", row->label, final_sent);
  g_test_message ("%s: receiver settled: %s", row->label, final_received);
  g_assert_nonnull (final_sent);
  g_assert_nonnull (final_received);
  words = g_strsplit (final_sent, " ", -1);
  other = g_strsplit (final_received, " ", -1);
  g_assert_cmpuint (g_strv_length (words), ==, 7);
  g_assert_cmpuint (g_strv_length (other), ==, 7);

  /* Both ends see the same kind of path and the same mapping. */
  g_assert_true (ferry_path_kind_from_string (words[1], &kind));
  g_assert_cmpstr (words[1], ==, ferry_path_kind_to_string (row->kind));
  g_assert_cmpstr (other[1], ==, words[1]);
  g_assert_true (ferry_path_mapping_from_string (words[2], &mapped));
  g_assert_cmpstr (words[2], ==, ferry_path_mapping_to_string (row->mapped));
  g_assert_cmpstr (other[2], ==, words[2]);
  /* The mapped side offered the mapping itself. */
  if (mappable)
    g_assert_cmpstr ((row->mapped_receives ? other : words)[3], ==,
                     ferry_path_mapping_to_string (row->mapped));
  if (row->relay_transport != NULL)
    g_assert_cmpstr (words[4], ==, row->relay_transport);
  /* Over IPv6 exactly when the row says so, seen the same from both ends. */
  g_assert_cmpstr (words[6], ==, row->ipv6 ? "ipv6" : "ipv4");
  g_assert_cmpstr (other[6], ==, words[6]);

  if (mappable)
    g_assert_cmpuint (router_mappings (mapped_host), >, 0);

  {
    g_autofree char *first_path = describe_kind (first[1], first[4]);
    g_autofree char *final_path = describe_kind (words[1], words[4]);
    const char *mapping_names[] = { "—", "UPnP", "PCP", "NAT-PMP" };

    g_string_append_printf (table, "| %s | %s | %s | %s | %s | %s |\n", row->label,
                            first_path, final_path, mapping_names[mapped], first[5], words[5]);
  }
  g_test_message ("%-36s %-16s -> %-16s %-8s %s ms", row->label, first[1], words[1],
                  words[2], first[5]);

  /* Close waits until our mappings are deleted; then the router holds none. */
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (sender, CALL_MS, "close");
  g_assert_cmpstr (reply, ==, "ok 0");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (receiver, CALL_MS, "close");
  g_assert_cmpstr (reply, ==, "ok 0");
  if (mappable)
    g_assert_cmpuint (router_mappings (mapped_host), ==, 0);
}

static const Row rows[] = {
  { "public \\| public", "pub1", FERRY_CONNECTOR_PORTMAP_ALL, "pub2",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NONE, NULL },
  { "easy \\| easy", "easy1", FERRY_CONNECTOR_PORTMAP_ALL, "easy2",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NONE, NULL },
  { "easy \\| public", "easy1", FERRY_CONNECTOR_PORTMAP_ALL, "pub1",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NONE, NULL },
  { "hard \\| easy", "hard1", FERRY_CONNECTOR_PORTMAP_ALL, "easy1",
    FERRY_PATH_KIND_RELAYED, FERRY_PATH_MAPPING_NONE, NULL },
  { "hard \\| hard", "hard1", FERRY_CONNECTOR_PORTMAP_ALL, "hard2",
    FERRY_PATH_KIND_RELAYED, FERRY_PATH_MAPPING_NONE, NULL },
  /* The mapped side receives (ICE-controlled), so the controlling side's checks have to
   * find the mapping the peer trickles late; relays wait until they had their chance
   * (FerryIceSession, "Relays last"). miniupnpd delays its SSDP answer by up to the
   * search's MX (3 s from gupnp): the default one-second deadline would often give up
   * before finding it. */
  { "hard \\| hard + miniupnpd, UPnP only", "hard2", FERRY_CONNECTOR_PORTMAP_UPNP, "mupnp",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_UPNP, NULL, 5000, TRUE },
  { "hard \\| hard + miniupnpd, PCP only", "hard2", FERRY_CONNECTOR_PORTMAP_PCP, "mpcp",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_PCP, NULL, 0, TRUE },
  { "hard \\| hard + miniupnpd, NAT-PMP only", "hard2", FERRY_CONNECTOR_PORTMAP_NATPMP,
    "mnatpmp", FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NAT_PMP, NULL, 0, TRUE },
  /* A router that answers port mapping only 2.5 s in: the session starts relayed, the
   * connector asks again, and the pair through the mapping takes over. */
  { "hard \\| hard + miniupnpd answering 2.5 s late", "hard1", FERRY_CONNECTOR_PORTMAP_UPNP,
    "mlate", FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_UPNP, NULL, 0, TRUE, 2500 },
  { "CGNAT (easy behind easy) \\| easy", "cgnat", FERRY_CONNECTOR_PORTMAP_ALL, "easy2",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NONE, NULL },
  { "UDP blocked \\| easy", "blocked", FERRY_CONNECTOR_PORTMAP_ALL, "easy2",
    FERRY_PATH_KIND_RELAYED, FERRY_PATH_MAPPING_NONE, "tcp" },
  { "same LAN behind one NAT", "lan1", FERRY_CONNECTOR_PORTMAP_ALL, "lan2",
    FERRY_PATH_KIND_DIRECT_LAN, FERRY_PATH_MAPPING_NONE, NULL },
  /* Hard IPv4 NATs, and global IPv6 behind stateful firewalls on both sides: the IPv6 host
   * pair punches through (each side's checks open its own firewall for the other's). */
  { "hard + IPv6 \\| hard + IPv6", "v6a", FERRY_CONNECTOR_PORTMAP_ALL, "v6b",
    FERRY_PATH_KIND_DIRECT_INTERNET, FERRY_PATH_MAPPING_NONE, NULL, 0, FALSE, 0, TRUE },
};

typedef struct
{
  const char *host;
  const char *mapping;
  gboolean    portmap;      /* miniupnpd answers UPnP, NAT-PMP and PCP */
  gboolean    turn_udp;
  gboolean    one_server;   /* ask the rendezvous that names one STUN server */
  const char *method;       /* how the mapping was told, NULL: it could not be */
} NetcheckRow;

static const NetcheckRow netcheck_rows[] = {
  { "pub1", "easy", FALSE, TRUE, FALSE, "stun" },
  { "easy1", "easy", FALSE, TRUE, FALSE, "stun" },
  { "hard1", "hard", FALSE, TRUE, FALSE, "stun" },
  { "mpcp", "hard", TRUE, TRUE, FALSE, "stun" },
  { "cgnat", "easy", FALSE, TRUE, FALSE, "stun" },
  /* No UDP at all: no STUN answer, so no verdict, and TURN only over TCP. */
  { "blocked", "unknown", FALSE, FALSE, FALSE, NULL },
  /* One coturn on one address: the TURN probe tells easy from hard. */
  { "pub1", "easy", FALSE, TRUE, TRUE, "turn" },
  { "easy1", "easy", FALSE, TRUE, TRUE, "turn" },
  { "hard1", "hard", FALSE, TRUE, TRUE, "turn" },
  { "cgnat", "easy", FALSE, TRUE, TRUE, "turn" },
  { "blocked", "unknown", FALSE, FALSE, TRUE, NULL },
};

static void
test_netcheck (gconstpointer data)
{
  const NetcheckRow *row = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *out = NULL;
  JsonObject *report;
  JsonObject *portmap;
  JsonObject *turn;
  JsonArray *public;

  g_assert_nonnull (g_getenv ("FERRY_CLI"));
  out = ferry_lab_run (lab, row->host, &error, g_getenv ("FERRY_CLI"),
                       "--rendezvous", row->one_server ? one_server_url : rendezvous_url,
                       "netcheck", "--json", NULL);
  g_assert_no_error (error);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  {
    g_autofree char *compact = json_to_string (node, FALSE);

    g_test_message ("netcheck on %s: %s", row->host, compact);
  }
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  report = json_node_get_object (node);

  g_assert_cmpstr (json_object_get_string_member (report, "mapping"), ==, row->mapping);
  if (row->method != NULL)
    g_assert_cmpstr (json_object_get_string_member (report, "mapping_method"), ==, row->method);
  else
    {
      g_assert_true (json_object_get_null_member (report, "mapping_method"));
      g_assert_nonnull (json_object_get_string_member (report, "mapping_reason"));
    }
  public = json_object_get_array_member (report, "public_addresses");
  if (g_str_equal (row->mapping, "unknown"))
    g_assert_cmpuint (json_array_get_length (public), ==, 0);
  else
    {
      g_assert_cmpuint (json_array_get_length (public), ==, 1);
      g_assert_cmpstr (json_array_get_string_element (public, 0), ==,
                       ferry_lab_public_addr (lab, row->host));
    }

  portmap = json_object_get_object_member (report, "portmap");
  g_assert_cmpint (json_object_get_boolean_member (portmap, "upnp"), ==, row->portmap);
  g_assert_cmpint (json_object_get_boolean_member (portmap, "nat-pmp"), ==, row->portmap);
  g_assert_cmpint (json_object_get_boolean_member (portmap, "pcp"), ==, row->portmap);

  turn = json_object_get_object_member (report, "turn");
  g_assert_cmpint (json_object_get_boolean_member (turn, "udp"), ==, row->turn_udp);
  g_assert_true (json_object_get_boolean_member (turn, "tcp"));

  /* The PCP probe deletes its mapping before netcheck ends. */
  if (row->portmap)
    g_assert_cmpuint (router_mappings (row->host), ==, 0);
}

static void
write_table (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") != NULL
                                            ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                            "matrix.md", NULL);

  g_print ("# Connectivity matrix:\n");
  {
    g_auto(GStrv) lines = g_strsplit (table->str, "\n", -1);

    for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
      g_print ("# %s\n", lines[i]);
  }
  if (!g_file_set_contents (path, table->str, -1, &error))
    g_printerr ("cannot write %s: %s\n", path, error->message);
}

int
main (int   argc,
      char *argv[])
{
  const char * const hosts[] = {
    "pub1:none", "pub2:none", "easy1:easy", "easy2:easy", "hard1:hard", "hard2:hard",
    "mupnp:hard+mappable", "mpcp:hard+mappable", "mnatpmp:hard+mappable",
    "mlate:hard+mappable",
    "cgnat:cgnat", "blocked:udp-blocked", "lan1:easy@lan", "lan2:easy@lan",
    "v6a:hard+v6", "v6b:hard+v6", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  int status;

  status = peer_main (argc, argv);
  if (status >= 0)
    return status;

  if (!ferry_lab_available (&reason))
    {
      g_printerr ("######## SKIPPING THE NAT LAB CONNECTIVITY MATRIX: %s ########\n", reason);
      g_print ("1..0 # SKIP NAT lab unavailable: %s\n", reason);
      return 0;
    }

  ferry_test_init (&argc, &argv);

  lab = ferry_lab_new (hosts, TRUE, &error);
  g_assert_no_error (error);
  rendezvous = start_rendezvous (FALSE, &rendezvous_url);
  one_server = start_rendezvous (TRUE, &one_server_url);
  children = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) ferry_lab_child_free);
  table = g_string_new ("| pair (sender \\| receiver) | first path | final path | mapped | "
                        "connect ms | settled ms |\n"
                        "| --- | --- | --- | --- | ---: | ---: |\n");

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *name = g_strdup_printf ("/netlab/matrix/%02u-%s-%s", i + 1,
                                               rows[i].sender, rows[i].receiver);

      g_test_add_data_func (name, &rows[i], test_row);
    }

  for (guint i = 0; i < G_N_ELEMENTS (netcheck_rows); i++)
    {
      g_autofree char *name = g_strdup_printf ("/netlab/netcheck/%s%s", netcheck_rows[i].host,
                                               netcheck_rows[i].one_server ? "-one-server" : "");

      g_test_add_data_func (name, &netcheck_rows[i], test_netcheck);
    }

  status = g_test_run ();
  write_table ();

  g_clear_pointer (&children, g_hash_table_unref);
  stop_rendezvous (&rendezvous, &rendezvous_url);
  stop_rendezvous (&one_server, &one_server_url);
  g_string_free (table, TRUE);
  g_clear_pointer (&lab, ferry_lab_free);
  return status;
}
