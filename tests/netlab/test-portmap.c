/* tests/netlab/test-portmap.c
 *
 * Our NAT-PMP and PCP clients against real miniupnpd on a lab router (hard NAT), and
 * against networks where no router answers.
 *
 * The test binary plays two parts: run normally it builds the lab and checks the router's
 * nftables ruleset and real traffic from the internet namespace; re-executed with
 * `ip netns exec HOST test-portmap --lab-role portmap` (ferry_lab_child_new()) it is the
 * client on the host, taking one command per line on stdin and answering one line.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ferry-lab.h"
#include "ferry-portmap.h"
#include "ferry-portmap-renewer.h"
#include "ferry-test-utils.h"
#include "ferry-version.h"

#define CALL_MS 10000

static FerryLab *lab;

/* Child side: the client inside the host's namespace ----------------------------------- */

typedef struct
{
  FerryPortMapping    *mapping;
  FerryPortmapRenewer *renewer;
  GSocket             *socket;
  FerryLabRequest     *request;
  gint64               start;
  guint                want_renewals;
  GSource             *timeout;
  GSource             *readable;
} Client;

static void
reply_mapping (Client           *client,
               FerryPortMapping *mapping)
{
  GInetAddress *external = ferry_port_mapping_get_external_address (mapping);
  g_autofree char *address = g_inet_address_to_string (external);

  const char * const names[] = { "natpmp", "pcp", "upnp" };

  ferry_lab_request_reply (client->request, "ok %s %s %u %u %" G_GINT64_FORMAT,
                           names[ferry_port_mapping_get_protocol (mapping)],
                           address, ferry_port_mapping_get_external_port (mapping),
                           ferry_port_mapping_get_lifetime (mapping),
                           (g_get_monotonic_time () - client->start) / 1000);
}

static void
reply_error (Client *client,
             GError *error)
{
  ferry_lab_request_reply (client->request, "error %s %d %" G_GINT64_FORMAT " %s",
                           g_quark_to_string (error->domain), error->code,
                           (g_get_monotonic_time () - client->start) / 1000, error->message);
}

static void
client_map_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  FerryPortMapping *mapping;

  if (g_async_result_is_tagged (result, ferry_portmap_map_async))
    mapping = ferry_portmap_map_finish (result, NULL, &error);
  else
    mapping = ferry_portmap_renew_finish (result, &error);

  if (mapping == NULL)
    {
      reply_error (client, error);
      return;
    }
  g_clear_pointer (&client->mapping, ferry_port_mapping_unref);
  client->mapping = mapping;
  reply_mapping (client, mapping);
}

static void
client_unmap_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (FERRY_IS_PORTMAP_RENEWER (object))
    ok = ferry_portmap_renewer_release_finish (FERRY_PORTMAP_RENEWER (object), result, &error);
  else
    ok = ferry_portmap_unmap_finish (result, &error);

  if (ok)
    ferry_lab_request_reply (client->request, "ok");
  else
    reply_error (client, error);
}

static void
client_stop_waiting (Client *client)
{
  if (client->timeout != NULL)
    g_source_destroy (client->timeout);
  g_clear_pointer (&client->timeout, g_source_unref);
  if (client->readable != NULL)
    g_source_destroy (client->readable);
  g_clear_pointer (&client->readable, g_source_unref);
}

static gboolean
client_timeout_cb (gpointer user_data)
{
  Client *client = user_data;

  client_stop_waiting (client);
  ferry_lab_request_reply (client->request, "error timeout");
  return G_SOURCE_REMOVE;
}

static void
client_wait (Client *client,
             guint   timeout_ms)
{
  client->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (client->timeout, client_timeout_cb, client, NULL);
  g_source_attach (client->timeout, NULL);
}

static gboolean
client_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GSocketAddress) from = NULL;
  g_autofree char *from_text = NULL;
  char buffer[512];
  gssize n;

  n = g_socket_receive_from (socket, &from, buffer, sizeof buffer - 1, NULL, NULL);
  if (n < 0)
    return G_SOURCE_CONTINUE;
  buffer[n] = '\0';
  from_text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from));
  client_stop_waiting (client);
  ferry_lab_request_reply (client->request, "ok %s %s", from_text, buffer);
  return G_SOURCE_REMOVE;
}

static void
client_renewals_cb (GObject    *object,
                    GParamSpec *pspec,
                    gpointer    user_data)
{
  Client *client = user_data;
  g_autoptr(FerryPortMapping) mapping = NULL;

  if (client->want_renewals == 0
      || ferry_portmap_renewer_get_renewals (client->renewer) < client->want_renewals)
    return;

  client->want_renewals = 0;
  client_stop_waiting (client);
  mapping = ferry_portmap_renewer_dup_mapping (client->renewer);
  reply_mapping (client, mapping);
}

static GInetSocketAddress *
parse_server (const char *word)
{
  g_autoptr(GInetAddress) address = NULL;

  if (g_str_equal (word, "default"))
    return NULL;
  address = g_inet_address_new_from_string (word);
  g_assert_nonnull (address);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, FERRY_PORTMAP_SERVER_PORT));
}

/* Commands:
 *   gateway                                 -> ok ADDRESS | error …
 *   bind PORT                               -> ok
 *   map natpmp|pcp default|GATEWAY PORT LIFETIME
 *   map upnp LOCAL_ADDRESS PORT LIFETIME
 *                                           -> ok PROTO EXT_ADDR EXT_PORT LIFETIME ELAPSED_MS
 *                                              | error DOMAIN CODE ELAPSED_MS MESSAGE
 *   renew LIFETIME                          -> the same
 *   unmap                                   -> ok | error …
 *   recv TIMEOUT_MS                         -> ok FROM PAYLOAD | error timeout
 *   renewer COUNT TIMEOUT_MS                -> after COUNT renewals: like map
 *   release                                 -> ok | error … (renewer stops and unmaps)
 */
static void
client_command (const char * const *words,
                FerryLabRequest    *request,
                gpointer            user_data)
{
  Client *client = user_data;
  guint n = g_strv_length ((GStrv) words);
  g_autoptr(GError) error = NULL;

  client->request = request;
  client->start = g_get_monotonic_time ();

  if (n == 1 && g_str_equal (words[0], "gateway"))
    {
      g_autoptr(GInetAddress) gateway = ferry_portmap_discover_gateway (&error);
      g_autofree char *text = gateway ? g_inet_address_to_string (gateway) : NULL;

      if (gateway == NULL)
        reply_error (client, error);
      else
        ferry_lab_request_reply (request, "ok %s", text);
    }
  else if (n == 2 && g_str_equal (words[0], "bind"))
    {
      g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (any, atoi (words[1]));

      g_clear_object (&client->socket);
      client->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                     G_SOCKET_PROTOCOL_UDP, &error);
      if (client->socket == NULL || !g_socket_bind (client->socket, address, FALSE, &error))
        reply_error (client, error);
      else
        ferry_lab_request_reply (request, "ok");
    }
  else if (n == 5 && g_str_equal (words[0], "map"))
    {
      gboolean upnp = g_str_equal (words[1], "upnp");
      g_autoptr(GInetSocketAddress) server = upnp ? NULL : parse_server (words[2]);
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (upnp ? words[2]
                                                                              : "0.0.0.0");
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (address, atoi (words[3]));
      FerryPortmapProtocol protocol = upnp ? FERRY_PORTMAP_PROTOCOL_UPNP
                                      : g_str_equal (words[1], "pcp") ? FERRY_PORTMAP_PROTOCOL_PCP
                                      : FERRY_PORTMAP_PROTOCOL_NATPMP;

      /* PCP and NAT-PMP wait their default; UPnP's search and SOAP exchange get 3 s. */
      ferry_portmap_map_async (protocol, G_INET_SOCKET_ADDRESS (local), server,
                               FERRY_PORTMAP_TRANSPORT_UDP, 0, atoi (words[4]),
                               upnp ? 3000 : 0, NULL, client_map_cb, client);
    }
  else if (n == 2 && g_str_equal (words[0], "renew") && client->mapping != NULL)
    ferry_portmap_renew_async (client->mapping, atoi (words[1]), 0, NULL, client_map_cb, client);
  else if (n == 1 && g_str_equal (words[0], "unmap") && client->mapping != NULL)
    ferry_portmap_unmap_async (client->mapping, 0, NULL, client_unmap_cb, client);
  else if (n == 2 && g_str_equal (words[0], "recv") && client->socket != NULL)
    {
      client->readable = g_socket_create_source (client->socket, G_IO_IN, NULL);
      g_source_set_callback (client->readable, G_SOURCE_FUNC (client_readable_cb), client, NULL);
      g_source_attach (client->readable, NULL);
      client_wait (client, atoi (words[1]));
    }
  else if (n == 3 && g_str_equal (words[0], "renewer") && client->mapping != NULL)
    {
      client->renewer = ferry_portmap_renewer_new (client->mapping, 0);
      client->want_renewals = atoi (words[1]);
      g_signal_connect (client->renewer, "notify::renewals",
                        G_CALLBACK (client_renewals_cb), client);
      client_wait (client, atoi (words[2]));
    }
  else if (n == 1 && g_str_equal (words[0], "release") && client->renewer != NULL)
    ferry_portmap_renewer_release_async (client->renewer, NULL, client_unmap_cb, client);
  else
    ferry_lab_request_reply (request, "error bad-command");
}

static int
client_main (int    argc,
             char **argv)
{
  Client client = { 0 };
  g_autoptr(GError) error = NULL;
  int status;

  if (!ferry_init (&error))
    g_error ("%s", error->message);

  status = ferry_lab_run_role (argc, argv, "portmap", client_command, &client);

  client_stop_waiting (&client);
  g_clear_object (&client.renewer);
  g_clear_object (&client.socket);
  g_clear_pointer (&client.mapping, ferry_port_mapping_unref);
  return status;
}

/* Parent side: the lab and the checks ---------------------------------------------------- */

typedef struct
{
  char    *protocol;
  char    *address;
  guint    port;
  guint    lifetime;
  gint64   elapsed_ms;
} Mapped;

static void
mapped_clear (Mapped *mapped)
{
  g_clear_pointer (&mapped->protocol, g_free);
  g_clear_pointer (&mapped->address, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Mapped, mapped_clear)

static void
parse_mapped (const char *reply,
              Mapped     *mapped)
{
  g_auto(GStrv) words = NULL;

  g_assert_nonnull (reply);
  if (!g_str_has_prefix (reply, "ok "))
    g_error ("expected a mapping, got: %s", reply);
  words = g_strsplit (reply, " ", -1);
  g_assert_cmpuint (g_strv_length (words), ==, 6);
  mapped_clear (mapped);
  mapped->protocol = g_strdup (words[1]);
  mapped->address = g_strdup (words[2]);
  mapped->port = atoi (words[3]);
  mapped->lifetime = atoi (words[4]);
  mapped->elapsed_ms = g_ascii_strtoll (words[5], NULL, 10);
}

/* Parses "error DOMAIN CODE ELAPSED MESSAGE" and checks domain and code. */
static gint64
assert_error_reply (const char *reply,
                    int         code)
{
  g_auto(GStrv) words = NULL;

  g_assert_nonnull (reply);
  g_test_message ("reply: %s", reply);
  words = g_strsplit (reply, " ", 5);
  g_assert_cmpuint (g_strv_length (words), ==, 5);
  g_assert_cmpstr (words[0], ==, "error");
  g_assert_cmpstr (words[1], ==, g_quark_to_string (FERRY_PORTMAP_ERROR));
  g_assert_cmpint (atoi (words[2]), ==, code);
  return g_ascii_strtoll (words[3], NULL, 10);
}

static char *
router_ruleset (const char *host)
{
  g_autoptr(GError) error = NULL;
  char *rules = ferry_lab_run (lab, ferry_lab_router_ns (lab, host), &error,
                               "nft", "list", "ruleset", NULL);

  g_assert_no_error (error);
  return rules;
}

static gboolean
router_forwards (const char *host,
                 guint       external_port,
                 guint       internal_port)
{
  g_autofree char *rules = router_ruleset (host);
  g_autofree char *rule = g_strdup_printf ("th dport %u dnat ip to %s:%u", external_port,
                                           ferry_lab_addr (lab, host), internal_port);

  return strstr (rules, rule) != NULL;
}

/* Sends one datagram from the internet namespace (a fresh source port each time, so no
 * earlier conntrack entry can carry it) to the mapped address and port. */
static void
send_from_internet (const Mapped *mapped,
                    const char   *payload)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *target = g_strdup_printf ("%s:%u", mapped->address, mapped->port);
  g_autofree char *out = ferry_lab_run (lab, "inet", &error, g_getenv ("FERRY_LAB_UDP"),
                                        "send", target, payload, NULL);

  g_assert_no_error (error);
}

static void
check_mapping_cycle (const char *protocol,
                     const char *server,
                     guint       port)
{
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Mapped) mapped = { 0 };
  g_auto(Mapped) renewed = { 0 };
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;

  child = ferry_lab_child_new (lab, "m", "portmap", &error);
  g_assert_no_error (error);

  reply = ferry_lab_child_call (child, CALL_MS, "bind %u", port);
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);

  /* Map: the router's public address, a port, and a DNAT rule in miniupnpd's chain. */
  reply = ferry_lab_child_call (child, CALL_MS, "map %s %s %u 600", protocol, server, port);
  g_test_message ("map: %s", reply);
  parse_mapped (reply, &mapped);
  g_assert_cmpstr (mapped.protocol, ==, protocol);
  g_assert_cmpstr (mapped.address, ==, ferry_lab_public_addr (lab, "m"));
  g_assert_cmpuint (mapped.port, >, 0);
  g_assert_cmpuint (mapped.lifetime, >=, 120);
  g_assert_cmpuint (mapped.lifetime, <=, 600);
  g_assert_true (router_forwards ("m", mapped.port, port));

  /* Real traffic from the internet through the hard NAT reaches the host. */
  send_from_internet (&mapped, "hello-through-the-mapping");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "recv 5000");
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "ok "));
  g_assert_true (g_str_has_suffix (reply, " hello-through-the-mapping"));

  /* Renew keeps the external port. */
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "renew 1200");
  g_test_message ("renew: %s", reply);
  parse_mapped (reply, &renewed);
  g_assert_cmpstr (renewed.protocol, ==, protocol);
  g_assert_cmpstr (renewed.address, ==, mapped.address);
  g_assert_cmpuint (renewed.port, ==, mapped.port);
  g_assert_cmpuint (renewed.lifetime, >=, 120);
  g_assert_true (router_forwards ("m", mapped.port, port));

  /* Unmap: the rule is gone and traffic no longer gets through. */
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "unmap");
  g_assert_cmpstr (reply, ==, "ok");
  g_assert_false (router_forwards ("m", mapped.port, port));
  expected = g_strdup_printf ("dnat ip to %s:%u", ferry_lab_addr (lab, "m"), port);
  {
    g_autofree char *rules = router_ruleset ("m");
    g_assert_null (strstr (rules, expected));
  }
  send_from_internet (&mapped, "after-unmap");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "recv 500");
  g_assert_cmpstr (reply, ==, "error timeout");
}

static void
test_natpmp_miniupnpd (void)
{
  /* The default gateway comes from the host's own /proc/net/route. */
  check_mapping_cycle ("natpmp", "default", 4000);
}

static void
test_pcp_miniupnpd (void)
{
  check_mapping_cycle ("pcp", ferry_lab_gateway (lab, "m"), 4001);
}

/* Our UPnP IGD client: SSDP from the host's address, miniupnpd's description, SOAP. */
static void
test_upnp_miniupnpd (void)
{
  check_mapping_cycle ("upnp", ferry_lab_addr (lab, "m"), 4002);
}

static void
test_gateway_discovery (void)
{
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;

  child = ferry_lab_child_new (lab, "m", "portmap", &error);
  g_assert_no_error (error);
  reply = ferry_lab_child_call (child, CALL_MS, "gateway");
  expected = g_strdup_printf ("ok %s", ferry_lab_gateway (lab, "m"));
  g_assert_cmpstr (reply, ==, expected);
}

static void
test_renewer_miniupnpd (void)
{
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Mapped) mapped = { 0 };
  g_auto(Mapped) renewed = { 0 };
  g_autofree char *reply = NULL;

  child = ferry_lab_child_new (lab, "m", "portmap", &error);
  g_assert_no_error (error);

  /* A 2 s lifetime (NAT-PMP grants it as asked) makes renewals come every second. */
  reply = ferry_lab_child_call (child, CALL_MS, "map natpmp default 4002 2");
  parse_mapped (reply, &mapped);
  g_assert_cmpuint (mapped.lifetime, ==, 2);

  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "renewer 2 5000");
  g_test_message ("renewer: %s", reply);
  parse_mapped (reply, &renewed);
  g_assert_cmpuint (renewed.port, ==, mapped.port);
  /* Two renewals at half-life each: about 1 s + 1 s. */
  g_assert_cmpint (renewed.elapsed_ms, >=, 1500);
  g_assert_cmpint (renewed.elapsed_ms, <, 3500);
  g_assert_true (router_forwards ("m", mapped.port, 4002));

  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (child, CALL_MS, "release");
  g_assert_cmpstr (reply, ==, "ok");
  g_assert_false (router_forwards ("m", mapped.port, 4002));
}

static void
test_silent_gateway (void)
{
  const char *protocols[] = { "natpmp", "pcp" };
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;

  /* The "dark" router drops everything: nobody ever answers. */
  child = ferry_lab_child_new (lab, "d", "portmap", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (protocols); i++)
    {
      g_autofree char *reply = ferry_lab_child_call (child, CALL_MS, "map %s default 4000 60",
                                                     protocols[i]);
      gint64 elapsed = assert_error_reply (reply, FERRY_PORTMAP_ERROR_TIMEOUT);

      g_assert_cmpint (elapsed, >=, FERRY_PORTMAP_DEFAULT_TIMEOUT_MS);
      g_assert_cmpint (elapsed, <, FERRY_PORTMAP_DEFAULT_TIMEOUT_MS + 300);
    }
}

static void
test_no_gateway (void)
{
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gint64 elapsed;

  child = ferry_lab_child_new (lab, "nog", "portmap", &error);
  g_assert_no_error (error);
  reply = ferry_lab_child_call (child, CALL_MS, "map pcp default 4000 60");
  elapsed = assert_error_reply (reply, FERRY_PORTMAP_ERROR_NO_GATEWAY);
  g_assert_cmpint (elapsed, <, 100);
}

static void
test_router_without_service (void)
{
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gint64 elapsed;

  /* A plain router answers port 5351 with ICMP port unreachable: a quick, clear no. */
  child = ferry_lab_child_new (lab, "e", "portmap", &error);
  g_assert_no_error (error);
  reply = ferry_lab_child_call (child, CALL_MS, "map natpmp default 4000 60");
  elapsed = assert_error_reply (reply, FERRY_PORTMAP_ERROR_NOT_SUPPORTED);
  g_assert_cmpint (elapsed, <, 500);
}

static void
test_behind_cgnat (void)
{
  /* miniupnpd answers NAT-PMP with "network failure" and PCP with a resource failure. */
  const struct { const char *protocol; int code; } cases[] = {
    { "natpmp", FERRY_PORTMAP_ERROR_NETWORK_FAILURE },
    { "pcp", FERRY_PORTMAP_ERROR_NO_RESOURCES },
  };
  g_autoptr(FerryLabChild) child = NULL;
  g_autoptr(GError) error = NULL;

  /* miniupnpd on a home router whose WAN address is in 100.64.0.0/10 refuses to map: a
   * mapping at home cannot help behind a carrier-grade NAT, and the client says so at once
   * instead of waiting for a timeout. */
  child = ferry_lab_child_new (lab, "c", "portmap", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *reply = ferry_lab_child_call (child, CALL_MS, "map %s default 4000 60",
                                                     cases[i].protocol);
      gint64 elapsed = assert_error_reply (reply, cases[i].code);

      g_assert_cmpint (elapsed, <, 500);
    }
}

int
main (int   argc,
      char *argv[])
{
  const char * const hosts[] = { "m:hard+mappable", "d:dark", "nog:nogw", "e:easy",
                                 "c:cgnat+mappable", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  int status;

  status = client_main (argc, argv);
  if (status >= 0)
    return status;

  if (!ferry_lab_available (&reason))
    {
      g_printerr ("######## SKIPPING THE NAT LAB PORT MAPPING TESTS: %s ########\n", reason);
      g_print ("1..0 # SKIP NAT lab unavailable: %s\n", reason);
      return 0;
    }

  ferry_test_init (&argc, &argv);

  lab = ferry_lab_new (hosts, FALSE, &error);
  g_assert_no_error (error);

  g_test_add_func ("/netlab/portmap/gateway-discovery", test_gateway_discovery);
  g_test_add_func ("/netlab/portmap/natpmp-miniupnpd", test_natpmp_miniupnpd);
  g_test_add_func ("/netlab/portmap/pcp-miniupnpd", test_pcp_miniupnpd);
  g_test_add_func ("/netlab/portmap/upnp-miniupnpd", test_upnp_miniupnpd);
  g_test_add_func ("/netlab/portmap/renewer-miniupnpd", test_renewer_miniupnpd);
  g_test_add_func ("/netlab/portmap/silent-gateway", test_silent_gateway);
  g_test_add_func ("/netlab/portmap/no-gateway", test_no_gateway);
  g_test_add_func ("/netlab/portmap/router-without-service", test_router_without_service);
  g_test_add_func ("/netlab/portmap/behind-cgnat", test_behind_cgnat);

  status = g_test_run ();
  g_clear_pointer (&lab, ferry_lab_free);
  return status;
}
