/* test-netcheck.c
 *
 * The STUN reader against well-formed and hostile answers, the easy/hard verdict, and a
 * whole netcheck run against a real coturn and a real ferry-rendezvous on 127.0.0.1. (Easy
 * versus hard behind real NATs is checked in the NAT lab, tests/netlab/test-matrix.c.)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-netcheck.h"
#include "ferry-test-coturn.h"
#include "ferry-turn-probe.h"
#include "ferry-test-utils.h"

static const guint8 txid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* A Binding success response carrying @attributes, built by hand: a real STUN server only
 * ever sends well-formed ones, and these tests are about the others. */
static GByteArray *
response (const guint8 *attributes,
          gsize         length)
{
  GByteArray *bytes = g_byte_array_new ();
  guint8 header[20] = { 0x01, 0x01, length >> 8, length & 0xff, 0x21, 0x12, 0xa4, 0x42 };

  memcpy (header + 8, txid, 12);
  g_byte_array_append (bytes, header, sizeof header);
  g_byte_array_append (bytes, attributes, length);
  return bytes;
}

/* XOR-MAPPED-ADDRESS 203.0.113.7:40000 */
static const guint8 xor_mapped[] = {
  0x00, 0x20, 0x00, 0x08,
  0x00, 0x01, 40000 >> 8 ^ 0x21, (40000 & 0xff) ^ 0x12,
  203 ^ 0x21, 0 ^ 0x12, 113 ^ 0xa4, 7 ^ 0x42,
};

static void
assert_address (GInetSocketAddress *address,
                const char         *expected)
{
  g_autofree char *text = NULL;

  g_assert_nonnull (address);
  text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  g_assert_cmpstr (text, ==, expected);
}

static void
test_stun_request (void)
{
  guint8 request[FERRY_STUN_HEADER_SIZE];
  const guint8 expected[8] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

  ferry_netcheck_build_binding_request (request, txid);
  g_assert_cmpmem (request, 8, expected, 8);
  g_assert_cmpmem (request + 8, 12, txid, 12);
}

static void
test_stun_xor_mapped (void)
{
  g_autoptr(GByteArray) bytes = response (xor_mapped, sizeof xor_mapped);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  address = ferry_netcheck_parse_binding_response (bytes->data, bytes->len, txid, &error);
  g_assert_no_error (error);
  assert_address (address, "203.0.113.7:40000");
}

static void
test_stun_mapped_fallback_and_preference (void)
{
  /* An unknown attribute with odd length (padded), then MAPPED-ADDRESS 198.51.100.1:5000. */
  const guint8 plain[] = {
    0x80, 0x22, 0x00, 0x03, 'a', 'b', 'c', 0x00,
    0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 5000 >> 8, 5000 & 0xff, 198, 51, 100, 1,
  };
  g_autoptr(GByteArray) only_plain = response (plain, sizeof plain);
  g_autoptr(GByteArray) both = g_byte_array_new ();
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GInetSocketAddress) preferred = NULL;
  g_autoptr(GByteArray) both_response = NULL;

  address = ferry_netcheck_parse_binding_response (only_plain->data, only_plain->len, txid,
                                                   NULL);
  assert_address (address, "198.51.100.1:5000");

  /* With both, XOR-MAPPED-ADDRESS wins (MAPPED-ADDRESS may be rewritten by old NATs). */
  g_byte_array_append (both, plain, sizeof plain);
  g_byte_array_append (both, xor_mapped, sizeof xor_mapped);
  both_response = response (both->data, both->len);
  preferred = ferry_netcheck_parse_binding_response (both_response->data, both_response->len,
                                                     txid, NULL);
  assert_address (preferred, "203.0.113.7:40000");
}

static void
test_stun_junk (void)
{
  g_autoptr(GByteArray) good = response (xor_mapped, sizeof xor_mapped);
  guint8 other_txid[12] = { 0 };
  guint8 buffer[64];

  /* Every truncation is refused. */
  for (gsize n = 0; n < good->len; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address =
        ferry_netcheck_parse_binding_response (good->data, n, txid, &error);

      g_assert_null (address);
      g_assert_error (error, FERRY_NETCHECK_ERROR, FERRY_NETCHECK_ERROR_BAD_RESPONSE);
    }

  /* Another transaction's answer. */
  g_assert_null (ferry_netcheck_parse_binding_response (good->data, good->len, other_txid,
                                                        NULL));

  /* A request, an error response, a wrong cookie, a length that lies. */
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(GError) error = NULL;

      memcpy (buffer, good->data, good->len);
      switch (i)
        {
        case 0: buffer[1] = 0x01; buffer[0] = 0x00; break;
        case 1: buffer[1] = 0x11; break;
        case 2: buffer[4] ^= 0xff; break;
        case 3: buffer[3] += 4; break;
        }
      g_assert_null (ferry_netcheck_parse_binding_response (buffer, good->len, txid, &error));
      g_assert_error (error, FERRY_NETCHECK_ERROR, FERRY_NETCHECK_ERROR_BAD_RESPONSE);
    }

  /* An attribute whose length runs past the end, an unknown family, a zero port. */
  {
    const guint8 overrun[] = { 0x00, 0x20, 0x01, 0x00, 0, 1, 2, 3 };
    const guint8 family[] = { 0x00, 0x20, 0x00, 0x08, 0x00, 0x07, 0, 0, 1, 2, 3, 4 };
    const guint8 zero_port[] = { 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0, 0, 1, 2, 3, 4 };
    const guint8 short_v6[] = { 0x00, 0x20, 0x00, 0x08, 0x00, 0x02, 0, 1, 1, 2, 3, 4 };
    const struct { const guint8 *data; gsize len; } cases[] = {
      { overrun, sizeof overrun }, { family, sizeof family },
      { zero_port, sizeof zero_port }, { short_v6, sizeof short_v6 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr(GByteArray) bytes = response (cases[i].data, cases[i].len);
        g_autoptr(GError) error = NULL;

        g_assert_null (ferry_netcheck_parse_binding_response (bytes->data, bytes->len, txid,
                                                              &error));
        g_assert_error (error, FERRY_NETCHECK_ERROR, FERRY_NETCHECK_ERROR_BAD_RESPONSE);
      }
  }

  /* Random bytes behind a valid header never crash, and whatever comes out is an address. */
  for (guint round = 0; round < 2000; round++)
    {
      g_autoptr(GByteArray) bytes = NULL;
      g_autoptr(GInetSocketAddress) address = NULL;
      guint8 attributes[44];
      gsize length = 4 * g_random_int_range (0, 12);

      for (gsize i = 0; i < length; i++)
        attributes[i] = g_random_int_range (0, 256);
      if (length >= 4 && round % 2 == 0)
        {
          attributes[0] = 0x00;
          attributes[1] = round % 4 == 0 ? 0x20 : 0x01;
        }
      bytes = response (attributes, length);
      address = ferry_netcheck_parse_binding_response (bytes->data, bytes->len, txid, NULL);
      if (address != NULL)
        g_assert_cmpuint (g_inet_socket_address_get_port (address), >, 0);
    }
}

static GInetSocketAddress *
socket_address (const char *ip,
                guint16     port)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (ip);

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, port));
}

static void
test_classify (void)
{
  g_autoptr(GPtrArray) mapped = g_ptr_array_new_with_free_func (g_object_unref);

  g_assert_cmpstr (ferry_netcheck_classify_mappings (mapped), ==, "unknown");
  g_ptr_array_add (mapped, socket_address ("198.51.100.1", 4000));
  g_assert_cmpstr (ferry_netcheck_classify_mappings (mapped), ==, "unknown");
  g_ptr_array_add (mapped, socket_address ("198.51.100.1", 4000));
  g_assert_cmpstr (ferry_netcheck_classify_mappings (mapped), ==, "easy");
  g_ptr_array_add (mapped, socket_address ("198.51.100.1", 4001));
  g_assert_cmpstr (ferry_netcheck_classify_mappings (mapped), ==, "hard");
  g_ptr_array_remove_index (mapped, 2);
  g_ptr_array_add (mapped, socket_address ("198.51.100.2", 4000));
  g_assert_cmpstr (ferry_netcheck_classify_mappings (mapped), ==, "hard");
}

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  JsonObject **report = user_data;
  g_autoptr(GError) error = NULL;

  *report = ferry_netcheck_run_finish (FERRY_NETCHECK (object), result, &error);
  g_assert_no_error (error);
}

typedef struct
{
  gboolean            done;
  GInetSocketAddress *toward_server;
  GInetSocketAddress *toward_relay;
  GError             *error;
} TurnProbeResult;

static void
turn_probe_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  TurnProbeResult *probe = user_data;

  ferry_turn_probe_finish (result, &probe->toward_server, &probe->toward_relay, &probe->error);
  probe->done = TRUE;
}

static void
run_turn_probe (FerryTestCoturn *coturn,
                const char      *username,
                const char      *password,
                TurnProbeResult *probe)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new (loopback, coturn->port);

  ferry_turn_probe_async (G_INET_SOCKET_ADDRESS (server), username, password, 3000, NULL,
                          turn_probe_cb, probe);
  g_assert_true (ferry_test_wait_for_flag (&probe->done, 10000));
}

/* With no NAT between us and coturn, both mappings are our own socket's address: the relay
 * saw our datagram from the port the server saw our requests from. */
static void
test_turn_probe_loopback (void)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *username = NULL;
  g_autofree char *password = NULL;
  TurnProbeResult probe = { 0 };

  ferry_test_coturn_make_credentials (coturn->secret, g_get_real_time () / G_USEC_PER_SEC + 600,
                                      &username, &password);
  run_turn_probe (coturn, username, password, &probe);
  g_assert_no_error (probe.error);
  g_assert_nonnull (probe.toward_server);
  g_assert_nonnull (probe.toward_relay);
  g_assert_true (g_inet_address_get_is_loopback (
    g_inet_socket_address_get_address (probe.toward_server)));
  g_assert_cmpuint (g_inet_socket_address_get_port (probe.toward_server), ==,
                    g_inet_socket_address_get_port (probe.toward_relay));
  g_assert_true (g_inet_address_equal (g_inet_socket_address_get_address (probe.toward_server),
                                       g_inet_socket_address_get_address (probe.toward_relay)));
  g_clear_object (&probe.toward_server);
  g_clear_object (&probe.toward_relay);
}

/* Wrong credentials: a clear refusal once the challenge was answered, not a timeout. */
static void
test_turn_probe_bad_credentials (void)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *username = g_strdup_printf ("%" G_GINT64_FORMAT ":ferry",
                                               g_get_real_time () / G_USEC_PER_SEC + 600);
  TurnProbeResult probe = { 0 };

  run_turn_probe (coturn, username, "not-the-password", &probe);
  g_assert_error (probe.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_null (probe.toward_server);
  g_clear_error (&probe.error);
}

static void
test_run_loopback (void)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *stun = g_strdup_printf ("stun:127.0.0.1:%u", coturn->port);
  g_autofree char *turn_tcp = g_strdup_printf ("turn:127.0.0.1:%u?transport=tcp", coturn->port);
  /* TURN over TCP only: libnice's UDP sockets are bound to the machine's address, from
   * which the kernel does not deliver to 127.0.0.1. The NAT lab checks TURN over UDP. */
  const char *args[] = { "--turn-secret", coturn->secret, "--stun", stun, "--stun",
                         "stun:127.0.0.1:9", "--turn", turn_tcp, NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = ferry_rendezvous_client_new (server->url);
  g_autoptr(FerryNetcheck) netcheck = ferry_netcheck_new (client);
  g_autoptr(JsonObject) report = NULL;
  g_autofree char *text = NULL;
  JsonArray *probes;
  JsonObject *turn;
  JsonObject *portmap;

  ferry_netcheck_set_timeout (netcheck, 1000);
  /* Port-mapping probes would ask this machine's real router; the lab tests those. */
  ferry_netcheck_set_portmap (netcheck, FALSE);
  ferry_netcheck_run_async (netcheck, NULL, run_cb, &report);
  g_assert_true (ferry_test_wait_for_pointer ((gpointer *) &report, 10000));

  /* coturn answers, the second "server" (the discard port) does not: no verdict. */
  probes = json_object_get_array_member (report, "stun");
  g_assert_cmpuint (json_array_get_length (probes), ==, 2);
  g_assert_true (g_str_has_prefix (
    json_object_get_string_member (json_array_get_object_element (probes, 0), "mapped"),
    "127.0.0.1:"));
  g_assert_true (json_object_get_null_member (json_array_get_object_element (probes, 1),
                                              "mapped"));
  g_assert_cmpstr (json_object_get_string_member (report, "mapping"), ==, "unknown");
  g_assert_true (json_object_get_null_member (report, "mapping_method"));
  g_assert_nonnull (strstr (json_object_get_string_member (report, "mapping_reason"),
                            "only one STUN server address answered"));

  turn = json_object_get_object_member (report, "turn");
  g_assert_true (json_object_get_null_member (turn, "udp"));
  g_assert_true (json_object_get_boolean_member (turn, "tcp"));
  portmap = json_object_get_object_member (report, "portmap");
  g_assert_false (json_object_get_boolean_member (portmap, "upnp"));

  text = ferry_netcheck_format_text (report);
  g_assert_nonnull (strstr (text, "TURN over TCP:   yes"));
  g_assert_nonnull (strstr (text, "TURN over UDP:   not offered by the rendezvous"));
  g_assert_nonnull (strstr (text, "Public address:  127.0.0.1"));
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/netcheck/stun-request", test_stun_request);
  g_test_add_func ("/netcheck/stun-xor-mapped", test_stun_xor_mapped);
  g_test_add_func ("/netcheck/stun-mapped-fallback", test_stun_mapped_fallback_and_preference);
  g_test_add_func ("/netcheck/stun-junk", test_stun_junk);
  g_test_add_func ("/netcheck/classify", test_classify);
  g_test_add_func ("/netcheck/turn-probe-loopback", test_turn_probe_loopback);
  g_test_add_func ("/netcheck/turn-probe-bad-credentials", test_turn_probe_bad_credentials);
  g_test_add_func ("/netcheck/run-loopback", test_run_loopback);

  return g_test_run ();
}
