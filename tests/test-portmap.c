/* test-portmap.c
 *
 * The NAT-PMP and PCP clients against malformed, hostile and failing answers, the
 * retransmission schedule, cancellation and gateway discovery.
 *
 * A real miniupnpd (tests/netlab/test-portmap.c) never sends wrong lengths, opcodes, nonces
 * or failure codes on demand, so these tests use a FAKE responder on 127.0.0.1 port 0 that
 * answers with scripted datagrams. It is a fake on purpose and only for these failures;
 * the successful paths are tested against real miniupnpd in the NAT lab.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-portmap.h"
#include "ferry-portmap-natpmp.h"
#include "ferry-portmap-pcp.h"
#include "ferry-portmap-upnp.h"
#include "ferry-test-utils.h"

#define WAIT_MS 5000

typedef struct _Fake Fake;
typedef void (*FakeHandler) (Fake         *fake,
                             const guint8 *request,
                             gsize         length);

struct _Fake
{
  GSocket        *socket;
  GSocket        *other;    /* a second socket, to answer from the wrong port */
  GSource        *source;
  GSocketAddress *client;
  GPtrArray      *requests; /* GBytes */
  GArray         *times;    /* gint64, monotonic µs of each request */
  FakeHandler     handler;
  gpointer        data;
};

typedef struct
{
  Fake                fake;
  GInetSocketAddress *server;
  FerryPortMapping   *mapping;
  GError             *error;
  gboolean            done;
  gboolean            unmapped;
} Fixture;

static gboolean
fake_readable_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Fake *fake = user_data;
  guint8 buffer[2048];
  gssize n;

  g_clear_object (&fake->client);
  n = g_socket_receive_from (socket, &fake->client, (char *) buffer, sizeof buffer, NULL, NULL);
  if (n <= 0)
    return G_SOURCE_CONTINUE;

  g_ptr_array_add (fake->requests, g_bytes_new (buffer, n));
  g_array_append_val (fake->times, (gint64) { g_get_monotonic_time () });
  if (fake->handler != NULL)
    fake->handler (fake, buffer, n);

  return G_SOURCE_CONTINUE;
}

static void
fake_send (Fake         *fake,
           const guint8 *data,
           gsize         length)
{
  g_assert_cmpint (g_socket_send_to (fake->socket, fake->client, (const char *) data, length,
                                     NULL, NULL), ==, length);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  Fake *fake = &fixture->fake;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  GError *error = NULL;

  fake->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                               G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (fake->socket, any, FALSE, &error);
  g_assert_no_error (error);
  fake->other = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                              G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (fake->other, any, FALSE, &error);
  g_assert_no_error (error);

  fake->source = g_socket_create_source (fake->socket, G_IO_IN, NULL);
  g_source_set_callback (fake->source, G_SOURCE_FUNC (fake_readable_cb), fake, NULL);
  g_source_attach (fake->source, NULL);
  fake->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  fake->times = g_array_new (FALSE, FALSE, sizeof (gint64));

  fixture->server = G_INET_SOCKET_ADDRESS (g_socket_get_local_address (fake->socket, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  Fake *fake = &fixture->fake;

  g_source_destroy (fake->source);
  g_source_unref (fake->source);
  g_clear_object (&fake->socket);
  g_clear_object (&fake->other);
  g_clear_object (&fake->client);
  g_ptr_array_unref (fake->requests);
  g_array_unref (fake->times);
  g_clear_object (&fixture->server);
  g_clear_pointer (&fixture->mapping, ferry_port_mapping_unref);
  g_clear_error (&fixture->error);
}

static void
map_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  Fixture *fixture = user_data;

  if (g_async_result_is_tagged (result, ferry_portmap_natpmp_map_async))
    fixture->mapping = ferry_portmap_natpmp_map_finish (result, &fixture->error);
  else
    fixture->mapping = ferry_portmap_pcp_map_finish (result, &fixture->error);
  g_assert_true ((fixture->mapping != NULL) != (fixture->error != NULL));
  fixture->done = TRUE;
}

static void
unmap_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Fixture *fixture = user_data;

  fixture->unmapped = ferry_portmap_unmap_finish (result, &fixture->error);
  fixture->done = TRUE;
}

static void
run_natpmp_map (Fixture *fixture,
                guint    timeout_ms)
{
  fixture->done = FALSE;
  ferry_portmap_natpmp_map_async (fixture->server, FERRY_PORTMAP_TRANSPORT_UDP, 4000, 0, 3600,
                                  timeout_ms, NULL, map_cb, fixture);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
}

static void
run_pcp_map (Fixture *fixture,
             guint    timeout_ms)
{
  fixture->done = FALSE;
  ferry_portmap_pcp_map_async (fixture->server, FERRY_PORTMAP_TRANSPORT_UDP, 4000, 0, 3600,
                               timeout_ms, NULL, map_cb, fixture);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
}

/* NAT-PMP replies ------------------------------------------------------------------------ */

static void
put16 (guint8  *p,
       guint16  v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
put32 (guint8  *p,
       guint32  v)
{
  put16 (p, v >> 16);
  put16 (p + 2, v & 0xffff);
}

static void
natpmp_address_reply (Fake    *fake,
                      guint16  result,
                      guint32  address)
{
  guint8 reply[12] = { 0, 128 };

  put16 (reply + 2, result);
  put32 (reply + 4, 1234);
  put32 (reply + 8, address);
  fake_send (fake, reply, sizeof reply);
}

static void
natpmp_map_reply (Fake    *fake,
                  guint8   opcode,
                  guint16  result,
                  guint16  internal,
                  guint16  external,
                  guint32  lifetime,
                  gsize    length)
{
  guint8 reply[16] = { 0, opcode };

  put16 (reply + 2, result);
  put32 (reply + 4, 1234);
  put16 (reply + 8, internal);
  put16 (reply + 10, external);
  put32 (reply + 12, lifetime);
  fake_send (fake, reply, length);
}

#define PUBLIC_ADDRESS 0x0b000102 /* 11.0.1.2 */

/* Answers every request correctly, but only after the junk a hostile or broken device on
 * the path could send: the client must skip all of it. */
static void
natpmp_junk_then_good (Fake         *fake,
                       const guint8 *request,
                       gsize         length)
{
  static const guint8 wrong_version[12] = { 1, 128 };
  guint8 reply[16] = { 0, 129 };

  if (request[1] == 0)
    {
      fake_send (fake, (const guint8 *) "x", 1);
      fake_send (fake, wrong_version, sizeof wrong_version);
      fake_send (fake, reply, 11);                           /* wrong opcode */
      natpmp_address_reply (fake, 0, PUBLIC_ADDRESS);
      return;
    }

  g_assert_cmpuint (length, ==, 12);
  g_assert_cmpuint (request[1], ==, 1);
  g_assert_cmpuint ((request[4] << 8) | request[5], ==, 4000);
  natpmp_map_reply (fake, 129, 0, 4000, 40000, 3600, 12);    /* truncated */
  natpmp_map_reply (fake, 130, 0, 4000, 40001, 3600, 16);    /* TCP, not UDP */
  natpmp_map_reply (fake, 129, 0, 4001, 40002, 3600, 16);    /* someone else's port */
  natpmp_map_reply (fake, 128, 0, 4000, 40003, 3600, 16);    /* address opcode */
  /* A well-formed answer from the wrong source port. */
  {
    guint8 spoof[16] = { 0, 129 };

    put16 (spoof + 8, 4000);
    put16 (spoof + 10, 40004);
    put32 (spoof + 12, 3600);
    g_socket_send_to (fake->other, fake->client, (const char *) spoof, sizeof spoof, NULL, NULL);
  }
  natpmp_map_reply (fake, 129, 0, 4000, 41000, 1800, 16);
}

static void
test_natpmp_ignores_junk (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autofree char *address = NULL;

  fixture->fake.handler = natpmp_junk_then_good;
  run_natpmp_map (fixture, 2000);

  g_assert_no_error (fixture->error);
  g_assert_cmpint (ferry_port_mapping_get_protocol (fixture->mapping), ==,
                   FERRY_PORTMAP_PROTOCOL_NATPMP);
  g_assert_cmpint (ferry_port_mapping_get_transport (fixture->mapping), ==,
                   FERRY_PORTMAP_TRANSPORT_UDP);
  address = g_inet_address_to_string (ferry_port_mapping_get_external_address (fixture->mapping));
  g_assert_cmpstr (address, ==, "11.0.1.2");
  g_assert_cmpuint (ferry_port_mapping_get_external_port (fixture->mapping), ==, 41000);
  g_assert_cmpuint (ferry_port_mapping_get_internal_port (fixture->mapping), ==, 4000);
  g_assert_cmpuint (ferry_port_mapping_get_lifetime (fixture->mapping), ==, 1800);
  /* One address request and one map request: the junk caused no extra round. */
  g_assert_cmpuint (fixture->fake.requests->len, ==, 2);
}

static void
natpmp_fail_with (Fake         *fake,
                  const guint8 *request,
                  gsize         length)
{
  guint16 result = GPOINTER_TO_UINT (fake->data);

  if (request[1] == 0)
    natpmp_address_reply (fake, 0, PUBLIC_ADDRESS);
  else
    natpmp_map_reply (fake, 129, result, 4000, 0, 0, 16);
}

static void
test_natpmp_result_codes (Fixture       *fixture,
                          gconstpointer  user_data)
{
  static const struct { guint16 result; int code; } cases[] = {
    { 1, FERRY_PORTMAP_ERROR_NOT_SUPPORTED },
    { 2, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED },
    { 3, FERRY_PORTMAP_ERROR_NETWORK_FAILURE },
    { 4, FERRY_PORTMAP_ERROR_NO_RESOURCES },
    { 5, FERRY_PORTMAP_ERROR_NOT_SUPPORTED },
    { 77, FERRY_PORTMAP_ERROR_PROTOCOL },
  };

  fixture->fake.handler = natpmp_fail_with;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      fixture->fake.data = GUINT_TO_POINTER (cases[i].result);
      g_clear_error (&fixture->error);
      run_natpmp_map (fixture, 2000);
      g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, cases[i].code);
      g_assert_null (fixture->mapping);
    }
}

static void
natpmp_no_address (Fake         *fake,
                   const guint8 *request,
                   gsize         length)
{
  natpmp_address_reply (fake, 0, 0);
}

static void
test_natpmp_no_public_address (Fixture       *fixture,
                               gconstpointer  user_data)
{
  fixture->fake.handler = natpmp_no_address;
  run_natpmp_map (fixture, 2000);
  g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NETWORK_FAILURE);
}

/* Answers only the third copy of each request. */
static void
natpmp_answer_third (Fake         *fake,
                     const guint8 *request,
                     gsize         length)
{
  if (fake->requests->len != 3)
    return;
  natpmp_address_reply (fake, 0, PUBLIC_ADDRESS);
}

static void
address_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fixture *fixture = user_data;
  g_autoptr(GInetAddress) address = NULL;

  address = ferry_portmap_natpmp_external_address_finish (result, &fixture->error);
  if (address != NULL)
    {
      g_autofree char *text = g_inet_address_to_string (address);
      g_assert_cmpstr (text, ==, "11.0.1.2");
    }
  fixture->done = TRUE;
}

static void
test_retransmission (Fixture       *fixture,
                     gconstpointer  user_data)
{
  GArray *times = fixture->fake.times;
  gint64 start = g_get_monotonic_time (), elapsed;

  /* Nobody answers: requests at 0, 250 and 750 ms, then TIMEOUT at the 1 s deadline. */
  ferry_portmap_natpmp_external_address_async (fixture->server, 1000, NULL,
                                               address_cb, fixture);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
  elapsed = (g_get_monotonic_time () - start) / 1000;
  g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_TIMEOUT);
  g_assert_cmpint (elapsed, >=, 1000);
  g_assert_cmpint (elapsed, <, 1400);
  g_assert_cmpuint (times->len, ==, 3);
  g_assert_cmpint ((g_array_index (times, gint64, 1) - g_array_index (times, gint64, 0)) / 1000,
                   >=, 250);
  g_assert_cmpint ((g_array_index (times, gint64, 2) - g_array_index (times, gint64, 1)) / 1000,
                   >=, 500);

  /* A router that misses the first two copies is still heard. */
  g_clear_error (&fixture->error);
  g_ptr_array_set_size (fixture->fake.requests, 0);
  g_array_set_size (times, 0);
  fixture->done = FALSE;
  fixture->fake.handler = natpmp_answer_third;
  ferry_portmap_natpmp_external_address_async (fixture->server, 2000, NULL,
                                               address_cb, fixture);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
  g_assert_no_error (fixture->error);
  g_assert_cmpuint (times->len, ==, 3);
}

static gboolean
fake_got_request (gpointer user_data)
{
  Fake *fake = user_data;

  return fake->requests->len > 0;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 start = g_get_monotonic_time ();

  ferry_portmap_pcp_map_async (fixture->server, FERRY_PORTMAP_TRANSPORT_UDP, 4000, 0, 60,
                               5000, cancellable, map_cb, fixture);
  /* Cancel while the request is in flight: after the router got it, before any answer. */
  g_assert_true (ferry_test_wait_until (fake_got_request, &fixture->fake, WAIT_MS));
  g_cancellable_cancel (cancellable);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
  g_assert_error (fixture->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

static void
test_refused (Fixture       *fixture,
              gconstpointer  user_data)
{
  gint64 start = g_get_monotonic_time ();

  /* Nothing listens on the other socket's port once it is closed: the kernel answers with
   * a real ICMP port unreachable, as a router without NAT-PMP would. */
  g_clear_object (&fixture->server);
  fixture->server = G_INET_SOCKET_ADDRESS (g_socket_get_local_address (fixture->fake.other, NULL));
  g_socket_close (fixture->fake.other, NULL);

  run_natpmp_map (fixture, 1000);
  g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
}

/* PCP replies ----------------------------------------------------------------------------- */

static void
pcp_reply (Fake         *fake,
           const guint8 *request,
           guint8        result,
           guint32       lifetime,
           guint16       external_port,
           gboolean      wrong_nonce,
           gsize         length)
{
  guint8 reply[64] = { 0 };

  g_assert_cmpuint (length, <=, sizeof reply);
  reply[0] = 2;
  reply[1] = 0x81;
  reply[3] = result;
  put32 (reply + 4, lifetime);
  put32 (reply + 8, 99);
  memcpy (reply + 24, request + 24, 36);   /* nonce, protocol, ports, address */
  if (wrong_nonce)
    reply[24] ^= 0x55;
  put16 (reply + 42, external_port);
  memset (reply + 44, 0, 10);
  reply[54] = reply[55] = 0xff;
  put32 (reply + 56, PUBLIC_ADDRESS);
  fake_send (fake, reply, length);
}

static void
pcp_junk_then_good (Fake         *fake,
                    const guint8 *request,
                    gsize         length)
{
  guint8 natpmp_other[8] = { 0, 128 };

  /* The request is a 60-byte MAP with our own address in the client field. */
  g_assert_cmpuint (length, ==, 60);
  g_assert_cmpuint (request[0], ==, 2);
  g_assert_cmpuint (request[1], ==, 1);
  g_assert_cmpuint (request[36], ==, 17);
  g_assert_cmpuint ((request[40] << 8) | request[41], ==, 4000);
  g_assert_cmpuint (request[18], ==, 0xff);
  g_assert_cmpuint (request[20], ==, 127);

  fake_send (fake, natpmp_other, sizeof natpmp_other);          /* NAT-PMP, not "unsupp." */
  pcp_reply (fake, request, 0, 3600, 50000, TRUE, 60);          /* wrong nonce */
  pcp_reply (fake, request, 0, 3600, 50001, FALSE, 58);         /* not a multiple of 4 */
  pcp_reply (fake, request, 0, 3600, 50002, FALSE, 24);         /* success without data */
  pcp_reply (fake, request, 8, 3600, 50003, TRUE, 60);          /* forged failure */
  pcp_reply (fake, request, 8, 3600, 50005, FALSE, 24);         /* failure without nonce */
  pcp_reply (fake, request, 0, 3600, 50004, FALSE, 60);
}

static void
test_pcp_ignores_junk (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autofree char *address = NULL;

  fixture->fake.handler = pcp_junk_then_good;
  run_pcp_map (fixture, 2000);

  g_assert_no_error (fixture->error);
  g_assert_cmpint (ferry_port_mapping_get_protocol (fixture->mapping), ==,
                   FERRY_PORTMAP_PROTOCOL_PCP);
  address = g_inet_address_to_string (ferry_port_mapping_get_external_address (fixture->mapping));
  g_assert_cmpstr (address, ==, "11.0.1.2");
  g_assert_cmpuint (ferry_port_mapping_get_external_port (fixture->mapping), ==, 50004);
  g_assert_cmpuint (ferry_port_mapping_get_lifetime (fixture->mapping), ==, 3600);
  g_assert_cmpuint (fixture->fake.requests->len, ==, 1);
}

static void
pcp_fail_with (Fake         *fake,
               const guint8 *request,
               gsize         length)
{
  /* Only the long form carries the nonce that proves the failure is real. */
  pcp_reply (fake, request, GPOINTER_TO_UINT (fake->data), 30,  0, FALSE, 60);
}

static void
test_pcp_result_codes (Fixture       *fixture,
                       gconstpointer  user_data)
{
  static const struct { guint8 result; int code; } cases[] = {
    { 2, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED },
    { 3, FERRY_PORTMAP_ERROR_PROTOCOL },
    { 4, FERRY_PORTMAP_ERROR_NOT_SUPPORTED },
    { 7, FERRY_PORTMAP_ERROR_NETWORK_FAILURE },
    { 8, FERRY_PORTMAP_ERROR_NO_RESOURCES },
    { 11, FERRY_PORTMAP_ERROR_NO_RESOURCES },
    { 12, FERRY_PORTMAP_ERROR_NOT_SUPPORTED },
    { 200, FERRY_PORTMAP_ERROR_PROTOCOL },
  };

  fixture->fake.handler = pcp_fail_with;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      fixture->fake.data = GUINT_TO_POINTER (cases[i].result);
      g_clear_error (&fixture->error);
      run_pcp_map (fixture, 2000);
      g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, cases[i].code);
    }
}

static void
pcp_wrong_nonce_only (Fake         *fake,
                      const guint8 *request,
                      gsize         length)
{
  pcp_reply (fake, request, 0, 3600, 50000, TRUE, 60);
}

static void
test_pcp_wrong_nonce_times_out (Fixture       *fixture,
                                gconstpointer  user_data)
{
  fixture->fake.handler = pcp_wrong_nonce_only;
  run_pcp_map (fixture, 600);
  g_assert_error (fixture->error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_TIMEOUT);
}

/* A NAT-PMP-only router: "unsupported version" to PCP, real answers to NAT-PMP. */
static void
natpmp_only_router (Fake         *fake,
                    const guint8 *request,
                    gsize         length)
{
  if (request[0] != 0)
    {
      guint8 reply[8] = { 0, 128 | request[1], 0, 1 };

      fake_send (fake, reply, sizeof reply);
    }
  else if (request[1] == 0)
    natpmp_address_reply (fake, 0, PUBLIC_ADDRESS);
  else if (request[1] == 1)
    natpmp_map_reply (fake, 129, 0, 4000, 42000, (request[8] << 24) | (request[9] << 16)
                      | (request[10] << 8) | request[11], 16);
}

static void
test_pcp_falls_back_to_natpmp (Fixture       *fixture,
                               gconstpointer  user_data)
{
  GPtrArray *requests = fixture->fake.requests;
  const guint8 *last;
  gsize length;

  fixture->fake.handler = natpmp_only_router;
  run_pcp_map (fixture, 2000);

  g_assert_no_error (fixture->error);
  g_assert_cmpint (ferry_port_mapping_get_protocol (fixture->mapping), ==,
                   FERRY_PORTMAP_PROTOCOL_NATPMP);
  g_assert_cmpuint (ferry_port_mapping_get_external_port (fixture->mapping), ==, 42000);
  g_assert_cmpuint (requests->len, ==, 3);   /* PCP, NAT-PMP address, NAT-PMP map */

  /* Deleting goes through NAT-PMP too: a map request with lifetime 0. */
  fixture->done = FALSE;
  ferry_portmap_unmap_async (fixture->mapping, 2000, NULL, unmap_cb, fixture);
  g_assert_true (ferry_test_wait_for_flag (&fixture->done, WAIT_MS));
  g_assert_no_error (fixture->error);
  g_assert_true (fixture->unmapped);
  last = g_bytes_get_data (g_ptr_array_index (requests, requests->len - 1), &length);
  g_assert_cmpuint (length, ==, 12);
  g_assert_cmpuint (last[0], ==, 0);
  g_assert_cmpuint (last[1], ==, 1);
  g_assert_cmpuint (last[8] | last[9] | last[10] | last[11], ==, 0);
}

/* Gateway discovery ---------------------------------------------------------------------- */

static char *
route_line (const char *iface,
            const char *destination,
            const char *gateway,
            const char *flags,
            guint       metric,
            const char *mask)
{
  guint32 d = 0, g = 0, m = 0;
  g_autoptr(GInetAddress) dst = g_inet_address_new_from_string (destination);
  g_autoptr(GInetAddress) gw = g_inet_address_new_from_string (gateway);
  g_autoptr(GInetAddress) msk = g_inet_address_new_from_string (mask);

  /* The kernel prints the address words in host order; do the same. */
  memcpy (&d, g_inet_address_to_bytes (dst), 4);
  memcpy (&g, g_inet_address_to_bytes (gw), 4);
  memcpy (&m, g_inet_address_to_bytes (msk), 4);
  return g_strdup_printf ("%s\t%08X\t%08X\t%s\t0\t0\t%u\t%08X\t0\t0\t0\n",
                          iface, d, g, flags, metric, m);
}

static void
test_route_table (void)
{
  g_autoptr(GString) table = g_string_new ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\t"
                                           "Metric\tMask\t\tMTU\tWindow\tIRTT\n");
  g_autoptr(GInetAddress) gateway = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *l1 = route_line ("eth0", "192.168.1.0", "0.0.0.0", "0001", 0,
                                    "255.255.255.0");
  g_autofree char *l2 = route_line ("wlan0", "0.0.0.0", "10.0.0.1", "0003", 600, "0.0.0.0");
  g_autofree char *l3 = route_line ("eth0", "0.0.0.0", "192.168.1.1", "0003", 100, "0.0.0.0");
  g_autofree char *l4 = route_line ("tun0", "0.0.0.0", "172.16.0.1", "0002", 1, "0.0.0.0");

  /* No default route at all. */
  gateway = ferry_portmap_parse_route_table (table->str, &error);
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_GATEWAY);
  g_assert_null (gateway);
  g_clear_error (&error);

  /* The lowest metric wins; a route that is not up does not count; junk lines are skipped. */
  g_string_append (table, l1);
  g_string_append (table, l2);
  g_string_append (table, "garbage line\n\n\tZZZZ\n");
  g_string_append (table, l3);
  g_string_append (table, l4);
  gateway = ferry_portmap_parse_route_table (table->str, &error);
  g_assert_no_error (error);
  text = g_inet_address_to_string (gateway);
  g_assert_cmpstr (text, ==, "192.168.1.1");
}

/* UPnP: every byte of these comes from the LAN, so each parser refuses what a hostile
 * device could send; the whole exchange runs against real miniupnpd in tests/netlab. */

static void
test_upnp_ssdp_reply (void)
{
  static const char good[] =
    "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "USN: uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "location:   http://192.168.1.1:5000/rootDesc.xml  \r\n\r\n";
  const char *bad[] = {
    /* Not a response, not a gateway, no location, not http, a name instead of an address,
     * credentials in the URL. */
    "NOTIFY * HTTP/1.1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "LOCATION: http://192.168.1.1/\r\n\r\n",
    "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\n"
    "LOCATION: http://192.168.1.1/\r\n\r\n",
    "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "LOCATION: file:///etc/passwd\r\n\r\n",
    "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "LOCATION: http://router.example/desc.xml\r\n\r\n",
    "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "LOCATION: http://u:p@192.168.1.1/desc.xml\r\n\r\n",
    "",
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *location = NULL;
  g_autofree char *huge = NULL;

  location = ferry_portmap_upnp_parse_ssdp_reply (good, strlen (good), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (location, ==, "http://192.168.1.1:5000/rootDesc.xml");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *none = ferry_portmap_upnp_parse_ssdp_reply (bad[i], strlen (bad[i]),
                                                                   &error);

      g_assert_null (none);
      g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
      g_clear_error (&error);
    }

  /* A NUL inside, and more than a datagram we read. */
  g_assert_null (ferry_portmap_upnp_parse_ssdp_reply (good, sizeof good, &error));
  g_clear_error (&error);
  huge = g_strnfill (FERRY_PORTMAP_UPNP_MAX_SSDP_REPLY + 1, 'A');
  g_assert_null (ferry_portmap_upnp_parse_ssdp_reply (huge, strlen (huge), &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
}

static const char description[] =
  "<?xml version=\"1.0\"?>\n"
  "<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device>"
  "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
  "<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1"
  "</serviceType><controlURL>/L3F</controlURL></service></serviceList>"
  "<deviceList><device><deviceList><device><serviceList>"
  "<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>"
  "<controlURL>/ctl/PPP</controlURL></service>"
  "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
  "<controlURL>/ctl/IPConn</controlURL></service>"
  "</serviceList></device></deviceList></device></deviceList></device></root>";

static void
test_upnp_description (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *control = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GString) other_host = NULL;
  g_autoptr(GString) deep = g_string_new ("<root>");
  const char *location = "http://192.168.1.1:5000/rootDesc.xml";

  /* WANIPConnection wins over PPP; the URL is resolved against the location. */
  g_assert_true (ferry_portmap_upnp_parse_description (description, strlen (description),
                                                       location, &control, &type, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (control, ==, "http://192.168.1.1:5000/ctl/IPConn");
  g_assert_cmpstr (type, ==, "urn:schemas-upnp-org:service:WANIPConnection:1");
  g_clear_pointer (&control, g_free);
  g_clear_pointer (&type, g_free);

  /* A control URL on another host would make us talk to someone else. */
  other_host = g_string_new (description);
  g_string_replace (other_host, "/ctl/IPConn", "http://10.9.9.9/ctl", 0);
  g_string_replace (other_host, "/ctl/PPP", "http://10.9.9.9/ppp", 0);
  g_assert_false (ferry_portmap_upnp_parse_description (other_host->str, other_host->len,
                                                        location, &control, &type, &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* No WAN connection service. */
  g_assert_false (ferry_portmap_upnp_parse_description ("<root><device/></root>", 22, location,
                                                        &control, &type, &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* Not XML, and nesting meant to exhaust a parser. */
  g_assert_false (ferry_portmap_upnp_parse_description ("<root><a></root>", 16, location,
                                                        &control, &type, &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
  g_clear_error (&error);
  for (guint i = 0; i < 10000; i++)
    g_string_append (deep, "<a>");
  g_assert_false (ferry_portmap_upnp_parse_description (deep->str, deep->len, location,
                                                        &control, &type, &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
  g_assert_null (control);
}

static void
test_upnp_response (void)
{
  static const char answer[] =
    "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
    "<s:Body><u:GetExternalIPAddressResponse xmlns:u=\"urn:x\">"
    "<NewExternalIPAddress> 11.0.6.2 </NewExternalIPAddress>"
    "</u:GetExternalIPAddressResponse></s:Body></s:Envelope>";
  static const char fault[] =
    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
    "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
    "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode>"
    "<errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail>"
    "</s:Fault></s:Body></s:Envelope>";
  g_autoptr(GError) error = NULL;
  g_autofree char *value = NULL;
  g_autofree char *none = NULL;
  g_autofree char *empty = NULL;
  guint code = 1;

  value = ferry_portmap_upnp_parse_response (answer, strlen (answer), "NewExternalIPAddress",
                                             &code, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "11.0.6.2");
  g_assert_cmpuint (code, ==, 0);

  none = ferry_portmap_upnp_parse_response (fault, strlen (fault), NULL, &code, &error);
  g_assert_null (none);
  g_assert_cmpuint (code, ==, 718);
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* The answer to an action without outputs is any non-fault document. */
  empty = ferry_portmap_upnp_parse_response (answer, strlen (answer), NULL, &code, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (empty, ==, "");

  /* Asked for what is not there; and junk. */
  g_assert_null (ferry_portmap_upnp_parse_response (answer, strlen (answer), "NewPort", &code,
                                                    &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_null (ferry_portmap_upnp_parse_response ("<<<", 3, NULL, &code, &error));
  g_assert_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/portmap/route-table", test_route_table);
  g_test_add_func ("/portmap/upnp/ssdp-reply", test_upnp_ssdp_reply);
  g_test_add_func ("/portmap/upnp/description", test_upnp_description);
  g_test_add_func ("/portmap/upnp/response", test_upnp_response);
#define ADD(path, func) \
  g_test_add ("/portmap/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("natpmp/ignores-junk", test_natpmp_ignores_junk);
  ADD ("natpmp/result-codes", test_natpmp_result_codes);
  ADD ("natpmp/no-public-address", test_natpmp_no_public_address);
  ADD ("natpmp/retransmission", test_retransmission);
  ADD ("natpmp/refused", test_refused);
  ADD ("pcp/ignores-junk", test_pcp_ignores_junk);
  ADD ("pcp/result-codes", test_pcp_result_codes);
  ADD ("pcp/wrong-nonce-times-out", test_pcp_wrong_nonce_times_out);
  ADD ("pcp/falls-back-to-natpmp", test_pcp_falls_back_to_natpmp);
  ADD ("pcp/cancel", test_cancel);
#undef ADD

  return g_test_run ();
}
