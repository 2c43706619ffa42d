/* tests/netlab/test-lab-api.c
 *
 * The C side of the lab (ferry-lab.h) does what the ICE matrix will rely on: it builds a
 * lab with coturn, runs commands and two re-executed copies of the test in two namespaces,
 * and leaves nothing behind when freed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ferry-lab.h"
#include "ferry-test-utils.h"

#define CALL_MS 10000

/* Child role "udp": bind PORT | send ADDR PORT PAYLOAD | recv TIMEOUT_MS ------------------- */

typedef struct
{
  GSocket         *socket;
  FerryLabRequest *request;
  GSource         *readable;
  GSource         *timeout;
} Udp;

static void
udp_stop_waiting (Udp *udp)
{
  if (udp->readable != NULL)
    g_source_destroy (udp->readable);
  g_clear_pointer (&udp->readable, g_source_unref);
  if (udp->timeout != NULL)
    g_source_destroy (udp->timeout);
  g_clear_pointer (&udp->timeout, g_source_unref);
}

static gboolean
udp_readable_cb (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  Udp *udp = user_data;
  g_autoptr(GSocketAddress) from = NULL;
  g_autofree char *from_text = NULL;
  char buffer[512];
  gssize n = g_socket_receive_from (socket, &from, buffer, sizeof buffer - 1, NULL, NULL);

  if (n < 0)
    return G_SOURCE_CONTINUE;
  buffer[n] = '\0';
  from_text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from));
  udp_stop_waiting (udp);
  ferry_lab_request_reply (udp->request, "ok %s %s", from_text, buffer);
  return G_SOURCE_REMOVE;
}

static gboolean
udp_timeout_cb (gpointer user_data)
{
  Udp *udp = user_data;

  udp_stop_waiting (udp);
  ferry_lab_request_reply (udp->request, "error timeout");
  return G_SOURCE_REMOVE;
}

static void
udp_command (const char * const *words,
             FerryLabRequest    *request,
             gpointer            user_data)
{
  Udp *udp = user_data;
  guint n = g_strv_length ((GStrv) words);
  g_autoptr(GError) error = NULL;

  udp->request = request;
  if (n == 2 && g_str_equal (words[0], "bind"))
    {
      g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (any, atoi (words[1]));

      udp->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, &error);
      if (udp->socket == NULL || !g_socket_bind (udp->socket, address, FALSE, &error))
        ferry_lab_request_reply (request, "error %s", error->message);
      else
        ferry_lab_request_reply (request, "ok");
    }
  else if (n == 4 && g_str_equal (words[0], "send") && udp->socket != NULL)
    {
      g_autoptr(GSocketAddress) to = g_inet_socket_address_new_from_string (words[1],
                                                                            atoi (words[2]));

      if (to == NULL)
        ferry_lab_request_reply (request, "error bad address");
      else if (g_socket_send_to (udp->socket, to, words[3], strlen (words[3]), NULL, &error) < 0)
        ferry_lab_request_reply (request, "error %s", error->message);
      else
        ferry_lab_request_reply (request, "ok");
    }
  else if (n == 2 && g_str_equal (words[0], "recv") && udp->socket != NULL)
    {
      udp->readable = g_socket_create_source (udp->socket, G_IO_IN, NULL);
      g_source_set_callback (udp->readable, G_SOURCE_FUNC (udp_readable_cb), udp, NULL);
      g_source_attach (udp->readable, NULL);
      udp->timeout = g_timeout_source_new (atoi (words[1]));
      g_source_set_callback (udp->timeout, udp_timeout_cb, udp, NULL);
      g_source_attach (udp->timeout, NULL);
    }
  else
    ferry_lab_request_reply (request, "error bad-command");
}

/* Parent --------------------------------------------------------------------------------- */

static void
test_lab_api (void)
{
  const char * const hosts[] = { "alice:easy", "pub:none", NULL };
  g_autoptr(FerryLab) lab = NULL;
  g_autoptr(FerryLabChild) alice = NULL;
  g_autoptr(FerryLabChild) pub = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *alice_ns = NULL;
  g_autofree char *stun = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *namespaces = NULL;

  lab = ferry_lab_new (hosts, TRUE, &error);
  g_assert_no_error (error);

  /* What lab.sh printed. */
  alice_ns = g_strdup (ferry_lab_ns (lab, "alice"));
  g_assert_true (g_str_has_suffix (alice_ns, "-alice"));
  g_assert_true (g_str_has_prefix (ferry_lab_addr (lab, "alice"), "192.168."));
  g_assert_true (g_str_has_prefix (ferry_lab_public_addr (lab, "alice"), "11.0."));
  g_assert_cmpstr (ferry_lab_addr (lab, "pub"), ==, ferry_lab_public_addr (lab, "pub"));
  g_assert_null (ferry_lab_router_ns (lab, "pub"));
  g_assert_nonnull (ferry_lab_router_ns (lab, "alice"));
  g_assert_cmpstr (ferry_lab_coturn (lab), ==, "11.0.0.2:3478");
  g_assert_cmpstr (ferry_lab_rendezvous_ip (lab), ==, "11.0.0.3");
  g_assert_cmpuint (strlen (ferry_lab_turn_secret (lab)), ==, 32);

  /* A command in a namespace: coturn sees alice through her NAT. */
  stun = ferry_lab_run (lab, "alice", &error, "turnutils_stunclient", "11.0.0.2", NULL);
  g_assert_no_error (error);
  expected = g_strdup_printf ("UDP reflexive addr: %s:", ferry_lab_public_addr (lab, "alice"));
  g_assert_nonnull (strstr (stun, expected));

  /* Two copies of this test in two namespaces: pub sees alice's datagram come from her
   * NAT's public address. */
  pub = ferry_lab_child_new (lab, "pub", "udp", &error);
  g_assert_no_error (error);
  alice = ferry_lab_child_new (lab, "alice", "udp", &error);
  g_assert_no_error (error);

  reply = ferry_lab_child_call (pub, CALL_MS, "bind 7300");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (alice, CALL_MS, "bind 7301");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (alice, CALL_MS, "send %s 7300 hello", ferry_lab_addr (lab, "pub"));
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (pub, CALL_MS, "recv 5000");
  g_clear_pointer (&expected, g_free);
  /* An easy NAT keeps the port. */
  expected = g_strdup_printf ("ok %s:7301 hello", ferry_lab_public_addr (lab, "alice"));
  g_assert_cmpstr (reply, ==, expected);

  /* Freeing the lab removes its namespaces. */
  g_clear_pointer (&alice, ferry_lab_child_free);
  g_clear_pointer (&pub, ferry_lab_child_free);
  g_clear_pointer (&lab, ferry_lab_free);
  {
    g_autoptr(GSubprocess) list = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                                    "ip", "netns", "list", NULL);

    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (list, NULL, NULL, &namespaces, NULL, &error);
    g_assert_no_error (error);
  }
  g_assert_null (strstr (namespaces, alice_ns));
}

/* ferry_lab_netem() shapes the path between two public hosts in the internet namespace,
 * and refuses a host the lab does not have. */
static void
test_lab_netem (void)
{
  const char * const hosts[] = { "x:none", "y:none", NULL };
  g_autoptr(FerryLab) lab = NULL;
  g_autoptr(FerryLabChild) x = NULL;
  g_autoptr(FerryLabChild) y = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;
  gint64 sent_at, took_ms;

  if (g_getenv ("FERRY_NETEM") == NULL)
    {
      g_test_skip ("no ferry-netem (libnetfilter_queue missing)");
      return;
    }
  lab = ferry_lab_new (hosts, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (ferry_lab_netem (lab, "inet", 150, 0, "10mbit", &error));
  g_assert_no_error (error);
  g_assert_false (ferry_lab_netem (lab, "nobody", 10, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&error);

  x = ferry_lab_child_new (lab, "x", "udp", &error);
  g_assert_no_error (error);
  y = ferry_lab_child_new (lab, "y", "udp", &error);
  g_assert_no_error (error);
  reply = ferry_lab_child_call (y, CALL_MS, "bind 7400");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (x, CALL_MS, "bind 7401");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);

  sent_at = g_get_monotonic_time ();
  reply = ferry_lab_child_call (x, CALL_MS, "send %s 7400 late", ferry_lab_addr (lab, "y"));
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (y, CALL_MS, "recv 5000");
  took_ms = (g_get_monotonic_time () - sent_at) / 1000;
  expected = g_strdup_printf ("ok %s:7401 late", ferry_lab_addr (lab, "x"));
  g_assert_cmpstr (reply, ==, expected);
  g_test_message ("one way through the shaped internet: %" G_GINT64_FORMAT " ms", took_ms);
  g_assert_cmpint (took_ms, >=, 150);
  g_assert_cmpint (took_ms, <, 1000);
}

/* Without a lab, a child runs right here: two of them talk over 127.0.0.1. */
static void
test_local_child (void)
{
  g_autoptr(FerryLabChild) a = NULL;
  g_autoptr(FerryLabChild) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  a = ferry_lab_child_new (NULL, NULL, "udp", &error);
  g_assert_no_error (error);
  b = ferry_lab_child_new (NULL, NULL, "udp", &error);
  g_assert_no_error (error);
  reply = ferry_lab_child_call (b, CALL_MS, "bind 7410");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (a, CALL_MS, "bind 7411");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (a, CALL_MS, "send 127.0.0.1 7410 here");
  g_assert_cmpstr (reply, ==, "ok");
  g_clear_pointer (&reply, g_free);
  reply = ferry_lab_child_call (b, CALL_MS, "recv 5000");
  g_assert_cmpstr (reply, ==, "ok 127.0.0.1:7411 here");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *reason = NULL;
  Udp udp = { 0 };
  int status;

  status = ferry_lab_run_role (argc, argv, "udp", udp_command, &udp);
  if (status >= 0)
    {
      udp_stop_waiting (&udp);
      g_clear_object (&udp.socket);
      return status;
    }

  if (!ferry_lab_available (&reason))
    {
      g_printerr ("######## SKIPPING THE NAT LAB API TESTS: %s ########\n", reason);
      g_print ("1..0 # SKIP NAT lab unavailable: %s\n", reason);
      return 0;
    }

  ferry_test_init (&argc, &argv);
  g_test_add_func ("/netlab/lab-api", test_lab_api);
  g_test_add_func ("/netlab/lab-netem", test_lab_netem);
  g_test_add_func ("/netlab/local-child", test_local_child);
  return g_test_run ();
}
