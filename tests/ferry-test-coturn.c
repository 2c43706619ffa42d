/* ferry-test-coturn.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-test"

#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

#include <glib/gstdio.h>

#include "ferry-test-coturn.h"
#include "ferry-test-utils.h"

#define START_TIMEOUT_MS    10000
#define STOP_TIMEOUT_MS     5000
#define PROBE_INTERVAL_MS   50
#define CREDENTIAL_TTL_S    3600

/**
 * ferry_test_coturn_make_credentials:
 * @secret: coturn's static-auth-secret
 * @expiry: Unix time after which the credentials are refused
 *
 * coturn's REST scheme (use-auth-secret): the username is
 * "<expiry>:<user>" and the password the base64 of HMAC-SHA1(secret,
 * username). Computed here independently of the rendezvous' code, so a
 * test can cross-check the two.
 */
void
ferry_test_coturn_make_credentials (const char  *secret,
                                    gint64       expiry,
                                    char       **username,
                                    char       **credential)
{
  g_autoptr(GHmac) hmac = NULL;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  g_autofree char *user = g_strdup_printf ("%" G_GINT64_FORMAT ":ferry", expiry);

  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *) user, strlen (user));
  g_hmac_get_digest (hmac, digest, &digest_len);

  *credential = g_base64_encode (digest, digest_len);
  *username = g_steal_pointer (&user);
}

/* A port that is free for both UDP and TCP on 127.0.0.1 right now. coturn
 * has no "port 0", so there is a short window in which another process
 * could take it; the start fails loudly (not flakily-silently) if so. */
static guint16
find_free_port (void)
{
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      g_autoptr(GSocket) udp = NULL;
      g_autoptr(GSocket) tcp = NULL;
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
      g_autoptr(GSocketAddress) bound = NULL;
      g_autoptr(GSocketAddress) same = NULL;
      guint16 port;

      udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                          G_SOCKET_PROTOCOL_UDP, NULL);
      g_assert_nonnull (udp);
      g_assert_true (g_socket_bind (udp, any, FALSE, NULL));
      bound = g_socket_get_local_address (udp, NULL);
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

      tcp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                          G_SOCKET_PROTOCOL_TCP, NULL);
      same = g_inet_socket_address_new (loopback, port);
      if (tcp != NULL && g_socket_bind (tcp, same, FALSE, NULL))
        return port;
    }

  g_error ("No port free for both UDP and TCP on 127.0.0.1");
}

typedef struct
{
  gboolean  exited;
  gboolean  answered;
  guint8    transaction[12];
} Probe;

static void
process_exited_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  *exited = TRUE;
}

static gboolean
probe_readable_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  Probe *probe = user_data;
  guint8 buffer[1500];
  gssize n;

  n = g_socket_receive (socket, (char *) buffer, sizeof buffer, NULL, NULL);

  /* A Binding Success Response (0x0101) to our transaction. */
  if (n >= 20 && buffer[0] == 0x01 && buffer[1] == 0x01 &&
      memcmp (buffer + 8, probe->transaction, 12) == 0)
    probe->answered = TRUE;

  return G_SOURCE_CONTINUE;
}

static gboolean
probe_done (gpointer user_data)
{
  Probe *probe = user_data;

  return probe->answered || probe->exited;
}

static void
dump_log_and_fail (FerryTestCoturn *coturn,
                   const char      *what)
{
  g_autofree char *log_path = g_build_filename (coturn->dir, "turn.log", NULL);
  g_autofree char *log = NULL;

  g_file_get_contents (log_path, &log, NULL, NULL);
  g_printerr ("coturn log:\n%s\n", log ? log : "(none)");
  g_error ("coturn on port %u %s", coturn->port, what);
}

/* Waits until coturn answers a STUN Binding request on UDP, resending one
 * every PROBE_INTERVAL_MS (a lost datagram must not stall the wait). */
static void
wait_for_stun (FerryTestCoturn *coturn,
               Probe           *probe)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new (loopback, coturn->port);
  g_autoptr(GSource) source = NULL;
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  guint8 request[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

  for (guint i = 0; i < 12; i++)
    probe->transaction[i] = g_random_int_range (0, 256);
  memcpy (request + 8, probe->transaction, 12);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, NULL);
  g_assert_nonnull (socket);
  g_socket_set_blocking (socket, FALSE);
  source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (probe_readable_cb), probe, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());

  while (!probe->answered && !probe->exited && g_get_monotonic_time () < deadline)
    {
      g_socket_send_to (socket, server, (const char *) request, sizeof request, NULL, NULL);
      ferry_test_wait_until (probe_done, probe, PROBE_INTERVAL_MS);
    }

  g_source_destroy (source);

  if (!probe->answered)
    dump_log_and_fail (coturn, probe->exited ? "exited while starting"
                                             : "did not answer STUN in time");
}

typedef struct
{
  gboolean  done;
  gboolean  connected;
} Connect;

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Connect *connect = user_data;
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, NULL);
  connect->connected = connection != NULL;
  connect->done = TRUE;
}

/* coturn opens its TCP listener next to the UDP one; a TURN-over-TCP test
 * must not race it, so wait for a TCP connect to succeed too. */
static void
wait_for_tcp (FerryTestCoturn *coturn,
              Probe           *probe)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  /* A direct connection: the proxy resolver would need GSettings schemas,
   * which the isolated test directories hide. */
  g_socket_client_set_enable_proxy (client, FALSE);

  while (!probe->exited && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr(GSocketAddress) server = g_inet_socket_address_new (loopback, coturn->port);
      Connect connect = { 0 };

      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (server), NULL,
                                     connect_cb, &connect);
      g_assert_true (ferry_test_wait_for_flag (&connect.done, START_TIMEOUT_MS));
      if (connect.connected)
        return;
      ferry_test_wait_for_flag (&probe->exited, PROBE_INTERVAL_MS);
    }

  dump_log_and_fail (coturn, "did not accept TCP in time");
}

static void
child_setup (gpointer user_data)
{
  /* A test that crashes must not leave coturn behind. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/**
 * ferry_test_coturn_start:
 *
 * Starts `turnserver` (from $FERRY_TURNSERVER_BIN or $PATH) in the
 * foreground on 127.0.0.1 with its own temporary configuration, and returns
 * once it answers STUN over UDP and accepts TCP. Loopback peers are allowed,
 * so relays can reach sockets of the same machine.
 */
FerryTestCoturn *
ferry_test_coturn_start (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *binary = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  FerryTestCoturn *coturn;
  Probe *probe;

  binary = g_strdup (g_getenv ("FERRY_TURNSERVER_BIN"));
  if (binary == NULL)
    binary = g_find_program_in_path ("turnserver");
  if (binary == NULL)
    g_error ("turnserver not found: install Debian's coturn package");

  coturn = g_new0 (FerryTestCoturn, 1);
  coturn->dir = ferry_test_make_temp_dir ("coturn");
  coturn->secret = g_strdup_printf ("ferry-test-%08x%08x", g_random_int (), g_random_int ());
  coturn->realm = g_strdup ("ferry.test");
  coturn->port = find_free_port ();

  config = g_strdup_printf ("listening-ip=127.0.0.1\n"
                            "relay-ip=127.0.0.1\n"
                            "listening-port=%u\n"
                            "use-auth-secret\n"
                            "static-auth-secret=%s\n"
                            "realm=%s\n"
                            "fingerprint\n"
                            "no-tls\n"
                            "no-dtls\n"
                            "no-cli\n"
                            "allow-loopback-peers\n"
                            "no-tcp-relay\n"
                            "log-file=%s/turn.log\n"
                            "simple-log\n"
                            "no-stdout-log\n"
                            "pidfile=%s/turn.pid\n"
                            "userdb=%s/turndb\n",
                            coturn->port, coturn->secret, coturn->realm,
                            coturn->dir, coturn->dir, coturn->dir);
  config_path = g_build_filename (coturn->dir, "turnserver.conf", NULL);
  g_file_set_contents (config_path, config, -1, &error);
  g_assert_no_error (error);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  coturn->process = g_subprocess_launcher_spawn (launcher, &error,
                                                 binary, "-c", config_path, NULL);
  g_assert_no_error (error);

  /* The probe outlives this function only inside the wait callback, which
   * ferry_test_coturn_free() waits for; it is freed there. */
  probe = g_new0 (Probe, 1);
  g_object_set_data_full (G_OBJECT (coturn->process), "ferry-probe", probe, g_free);
  g_subprocess_wait_async (coturn->process, NULL, process_exited_cb, &probe->exited);

  wait_for_stun (coturn, probe);
  wait_for_tcp (coturn, probe);

  return coturn;
}

void
ferry_test_coturn_free (FerryTestCoturn *coturn)
{
  if (coturn == NULL)
    return;

  if (coturn->process != NULL)
    {
      Probe *probe = g_object_get_data (G_OBJECT (coturn->process), "ferry-probe");

      if (!probe->exited)
        {
          g_subprocess_send_signal (coturn->process, SIGTERM);
          if (!ferry_test_wait_for_flag (&probe->exited, STOP_TIMEOUT_MS))
            {
              g_subprocess_force_exit (coturn->process);
              g_assert_true (ferry_test_wait_for_flag (&probe->exited, STOP_TIMEOUT_MS));
            }
        }
      g_clear_object (&coturn->process);
    }

  ferry_test_clear_temp_dir (&coturn->dir);
  g_free (coturn->secret);
  g_free (coturn->realm);
  g_free (coturn);
}

/**
 * ferry_test_coturn_dup_address:
 *
 * Returns: "127.0.0.1:PORT", as #FerryPath shows a relay server
 */
char *
ferry_test_coturn_dup_address (FerryTestCoturn *coturn)
{
  return g_strdup_printf ("127.0.0.1:%u", coturn->port);
}

/**
 * ferry_test_coturn_dup_ice_json:
 *
 * The `GET /v1/ice` object a rendezvous configured with this coturn would
 * hand out, with fresh credentials.
 */
char *
ferry_test_coturn_dup_ice_json (FerryTestCoturn *coturn,
                                gboolean         stun,
                                gboolean         turn_udp,
                                gboolean         turn_tcp)
{
  g_autoptr(GString) json = g_string_new ("{\"stun\": [");
  g_autofree char *username = NULL;
  g_autofree char *credential = NULL;

  ferry_test_coturn_make_credentials (coturn->secret,
                                      g_get_real_time () / G_USEC_PER_SEC + CREDENTIAL_TTL_S,
                                      &username, &credential);

  if (stun)
    g_string_append_printf (json, "\"stun:127.0.0.1:%u\"", coturn->port);
  g_string_append (json, "], \"turn\": [");
  if (turn_udp || turn_tcp)
    {
      g_string_append (json, "{\"urls\": [");
      if (turn_udp)
        g_string_append_printf (json, "\"turn:127.0.0.1:%u?transport=udp\"%s",
                                coturn->port, turn_tcp ? ", " : "");
      if (turn_tcp)
        g_string_append_printf (json, "\"turn:127.0.0.1:%u?transport=tcp\"", coturn->port);
      g_string_append_printf (json, "], \"username\": \"%s\", \"credential\": \"%s\", "
                              "\"ttl\": %u}", username, credential, CREDENTIAL_TTL_S);
    }
  g_string_append (json, "]}");

  return g_string_free (g_steal_pointer (&json), FALSE);
}
