/* test-ice-session.c
 *
 * Real libnice agents in one process; their signalling goes through the
 * JSON messages of FerryIceSession, as it would through the mailbox.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include <json-glib/json-glib.h>
#include <nice/interfaces.h>

#include "ferry-ice-session.h"
#include "ferry-path.h"
#include "ferry-test-coturn.h"
#include "ferry-test-utils.h"

#define CONNECT_TIMEOUT_MS 15000
#define WAIT_MS            10000

/* Pair of sessions ------------------------------------------------------- */

typedef struct _Side Side;

struct _Side
{
  FerryIceSession *session;
  GPtrArray       *received;     /* GBytes */
  GPtrArray       *messages;     /* char *, what it emitted */
  gboolean         done;
  gboolean         ok;
  GError          *error;
  Side            *peer;
};

typedef struct
{
  Side a;   /* controlling */
  Side b;   /* controlled */
} Pair;

static void
local_message_cb (FerryIceSession *session,
                  const char      *message,
                  gpointer         user_data)
{
  Side *side = user_data;
  Side *peer = side->peer;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (side->messages, g_strdup (message));
  if (peer == NULL || peer->session == NULL)
    return;

  ferry_ice_session_handle_remote_message (peer->session, message, -1, &error);
  g_assert_no_error (error);
}

static void
receive_cb (FerryIceSession *session,
            const guint8    *data,
            gsize            length,
            gpointer         user_data)
{
  Side *side = user_data;

  g_ptr_array_add (side->received, g_bytes_new (data, length));
}

static void
side_init (Side         *side,
           FerryIceRole  role,
           const char   *local_ip)
{
  g_autoptr(GError) error = NULL;

  side->session = ferry_ice_session_new (role);
  side->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  side->messages = g_ptr_array_new_with_free_func (g_free);
  ferry_ice_session_set_timeout (side->session, CONNECT_TIMEOUT_MS);
  ferry_ice_session_set_rtt_interval (side->session, 100);
  g_signal_connect (side->session, "local-message", G_CALLBACK (local_message_cb), side);
  ferry_ice_session_set_receive_func (side->session, receive_cb, side, NULL);
  if (local_ip != NULL)
    {
      ferry_ice_session_add_local_address (side->session, local_ip, &error);
      g_assert_no_error (error);
    }
}

static void
side_clear (Side *side)
{
  g_clear_object (&side->session);
  g_clear_pointer (&side->received, g_ptr_array_unref);
  g_clear_pointer (&side->messages, g_ptr_array_unref);
  g_clear_error (&side->error);
}

static void
pair_init (Pair       *pair,
           const char *local_ip)
{
  side_init (&pair->a, FERRY_ICE_ROLE_CONTROLLING, local_ip);
  side_init (&pair->b, FERRY_ICE_ROLE_CONTROLLED, local_ip);
  pair->a.peer = &pair->b;
  pair->b.peer = &pair->a;
}

static void
pair_clear (Pair *pair)
{
  side_clear (&pair->a);
  side_clear (&pair->b);
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Side *side = user_data;

  side->ok = ferry_ice_session_connect_finish (FERRY_ICE_SESSION (object), result,
                                               &side->error);
  side->done = TRUE;
}

static gboolean
both_done (gpointer user_data)
{
  Pair *pair = user_data;

  return pair->a.done && pair->b.done;
}

static void
pair_connect (Pair *pair)
{
  ferry_ice_session_connect_async (pair->a.session, NULL, connect_cb, &pair->a);
  ferry_ice_session_connect_async (pair->b.session, NULL, connect_cb, &pair->b);

  g_assert_true (ferry_test_wait_until (both_done, pair, CONNECT_TIMEOUT_MS + 2000));
  g_assert_no_error (pair->a.error);
  g_assert_no_error (pair->b.error);
  g_assert_true (pair->a.ok);
  g_assert_true (pair->b.ok);
  g_assert_true (ferry_ice_session_get_connected (pair->a.session));
  g_assert_true (ferry_ice_session_get_connected (pair->b.session));
}

/* Datagrams -------------------------------------------------------------- */

typedef struct
{
  GPtrArray *received;
  guint      count;
} CountWait;

static gboolean
received_enough (gpointer user_data)
{
  CountWait *wait = user_data;

  return wait->received->len >= wait->count;
}

/* Sends @count datagrams of sizes 1..1200 from @from to @to, at most
 * @window in flight, and checks every one arrives byte-identical in order
 * (loopback neither reorders nor, with the window, overflows buffers). */
static void
exchange_datagrams (Side  *from,
                    Side  *to,
                    guint  count,
                    guint  window)
{
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (count * 7 + window);
  guint first = to->received->len;
  gsize total = 0;

  for (guint i = 0; i < count; i++)
    {
      gsize size = i < 1200 ? (i % 1200) + 1 : (gsize) g_rand_int_range (rand, 1, 1201);
      guint8 *data = g_malloc (size);
      CountWait wait = { to->received, first + (i >= window ? i - window + 1 : 0) };

      for (gsize j = 0; j < size; j++)
        data[j] = g_rand_int_range (rand, 0, 256);
      /* Any first byte goes through, as ngtcp2 greases QUIC's fixed bit;
       * only the RTT probes' exact shape is reserved (ferry-ice-session.h). */
      if (size == FERRY_ICE_PROBE_SIZE &&
          (data[0] == FERRY_ICE_PROBE_PING || data[0] == FERRY_ICE_PROBE_PONG))
        data[0] = 0x00;

      g_assert_true (ferry_test_wait_until (received_enough, &wait, WAIT_MS));

      if (!ferry_ice_session_send (from->session, data, size))
        {
          gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

          /* Buffer full: let the receiving side drain it, then retry. */
          do
            {
              g_assert_cmpint (g_get_monotonic_time (), <, deadline);
              g_main_context_iteration (NULL, FALSE);
            }
          while (!ferry_ice_session_send (from->session, data, size));
        }

      g_ptr_array_add (sent, g_bytes_new_take (data, size));
      total += size;
    }

  {
    CountWait wait = { to->received, first + count };

    g_assert_true (ferry_test_wait_until (received_enough, &wait, WAIT_MS));
  }

  g_assert_cmpuint (to->received->len - first, ==, count);
  for (guint i = 0; i < count; i++)
    g_assert_true (g_bytes_equal (g_ptr_array_index (sent, i),
                                  g_ptr_array_index (to->received, first + i)));
  g_test_message ("%u datagrams, %" G_GSIZE_FORMAT " bytes, all identical", count, total);
}

static gboolean
rtt_known (gpointer user_data)
{
  return ferry_path_get_rtt_ms (FERRY_PATH (user_data)) >= 0;
}

/* Loopback -------------------------------------------------------------- */

static void
count_cb (guint *count)
{
  (*count)++;
}

static void
check_host_lan_path (FerryPath  *path,
                     const char *ip_prefix)
{
  g_assert_cmpint (ferry_path_get_kind (path), ==, FERRY_PATH_KIND_DIRECT_LAN);
  g_assert_cmpint (ferry_path_get_mapped (path), ==, FERRY_PATH_MAPPING_NONE);
  g_assert_cmpstr (ferry_path_get_local_type (path), ==, "host");
  g_assert_cmpstr (ferry_path_get_remote_type (path), ==, "host");
  g_assert_true (g_str_has_prefix (ferry_path_get_local_address (path), ip_prefix));
  g_assert_true (g_str_has_prefix (ferry_path_get_remote_address (path), ip_prefix));
  g_assert_null (ferry_path_get_relay_server (path));
}

static gint64
read_sysctl (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  return g_ascii_strtoll (text, NULL, 10);
}

/* The pair in use gets larger socket buffers than the kernel's default,
 * as much as the kernel allows (it doubles what it grants, up to twice its
 * maximum). */
static void
check_socket_buffers (FerryIceSession *session)
{
  NiceAgent *agent = ferry_ice_session_get_agent (session);
  g_autoptr(GSocket) socket = nice_agent_get_selected_socket (agent, 1, 1);
  gint64 rmem_max = read_sysctl ("/proc/sys/net/core/rmem_max");
  gint64 rmem_default = read_sysctl ("/proc/sys/net/core/rmem_default");
  gint size = 0;

  g_assert_nonnull (socket);
  g_assert_true (g_socket_get_option (socket, SOL_SOCKET, SO_RCVBUF, &size, NULL));
  if (rmem_max > 0)
    g_assert_cmpint (size, ==, MIN (2 * rmem_max, 2 * 4 * 1024 * 1024));
  if (rmem_default > 0 && rmem_max > rmem_default)
    g_assert_cmpint (size, >, rmem_default);
}

static gboolean
session_settled (gpointer user_data)
{
  return ferry_ice_session_get_settled (user_data);
}

static void
run_loopback (const char *ip,
              const char *prefix)
{
  Pair pair = { 0 };
  FerryPath *path_a;
  FerryPath *path_b;

  guint kind_notifications = 0;

  pair_init (&pair, ip);
  path_a = ferry_ice_session_get_path (pair.a.session);
  path_b = ferry_ice_session_get_path (pair.b.session);
  g_assert_cmpint (ferry_path_get_kind (path_a), ==, FERRY_PATH_KIND_UNKNOWN);
  g_signal_connect_swapped (path_a, "notify::kind", G_CALLBACK (count_cb), &kind_notifications);

  pair_connect (&pair);

  /* Unknown → direct-lan, once, however often libnice reselected. */
  g_assert_cmpuint (kind_notifications, ==, 1);
  check_host_lan_path (path_a, prefix);
  check_host_lan_path (path_b, prefix);
  g_assert_cmpstr (ferry_path_get_local_address (path_a), ==,
                   ferry_path_get_remote_address (path_b));
  g_assert_cmpstr (ferry_path_get_remote_address (path_a), ==,
                   ferry_path_get_local_address (path_b));

  /* Each side emitted credentials first and end-of-candidates last. */
  g_assert_true (g_str_has_prefix (g_ptr_array_index (pair.a.messages, 0),
                                   "{\"type\":\"credentials\""));
  g_assert_cmpstr (g_ptr_array_index (pair.b.messages, pair.b.messages->len - 1), ==,
                   "{\"type\":\"end-of-candidates\"}");

  /* Both sides' candidates are all in and no better pair is left: settled. */
  g_assert_true (ferry_test_wait_until (session_settled,
                                        pair.a.session, WAIT_MS));
  g_assert_true (ferry_test_wait_until (session_settled,
                                        pair.b.session, WAIT_MS));

  exchange_datagrams (&pair.a, &pair.b, 1500, 64);
  exchange_datagrams (&pair.b, &pair.a, 1500, 64);
  check_socket_buffers (pair.a.session);
  check_socket_buffers (pair.b.session);

  g_assert_true (ferry_test_wait_until (rtt_known, path_a, WAIT_MS));
  g_assert_true (ferry_test_wait_until (rtt_known, path_b, WAIT_MS));
  g_assert_cmpfloat (ferry_path_get_rtt_ms (path_a), <, 100);

  pair_clear (&pair);
}

static void
test_loopback_ipv4 (void)
{
  run_loopback ("127.0.0.1", "127.0.0.1:");
}

static void
test_loopback_ipv6 (void)
{
  run_loopback ("::1", "[::1]:");
}

typedef struct
{
  GError   *error;
  gboolean  fired;
} Failed;

static void
failed_cb (FerryIceSession *session,
           const GError    *error,
           gpointer         user_data)
{
  Failed *failed = user_data;

  failed->error = g_error_copy (error);
  failed->fired = TRUE;
}

/* Losing the path after connecting: B revokes consent (RFC 7675) as a peer
 * that went away would, A's next consent check gets an authenticated 403
 * and A reports the loss through ::failed. */
static void
test_consent_lost (void)
{
  Pair pair = { 0 };
  Failed failed = { 0 };
  FerryPath *path_a;

  pair_init (&pair, "127.0.0.1");
  pair_connect (&pair);
  path_a = ferry_ice_session_get_path (pair.a.session);
  g_assert_cmpint (ferry_path_get_kind (path_a), ==, FERRY_PATH_KIND_DIRECT_LAN);

  g_signal_connect (pair.a.session, "failed", G_CALLBACK (failed_cb), &failed);
  nice_agent_consent_lost (ferry_ice_session_get_agent (pair.b.session), 1, 1);

  /* libnice checks consent every 4 to 6 s. */
  g_assert_true (ferry_test_wait_for_flag (&failed.fired, 15000));
  g_assert_error (failed.error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_FAILED);
  g_assert_false (ferry_ice_session_get_connected (pair.a.session));
  g_assert_null (ferry_ice_session_get_agent (pair.a.session));
  g_assert_cmpint (ferry_path_get_kind (path_a), ==, FERRY_PATH_KIND_UNKNOWN);
  g_assert_false (ferry_ice_session_send (pair.a.session, (const guint8 *) "@", 1));

  g_clear_error (&failed.error);
  pair_clear (&pair);
}

/* TURN ------------------------------------------------------------------ */

static void
set_servers (Side       *side,
             const char *json)
{
  g_autoptr(GError) error = NULL;

  ferry_ice_session_set_servers_json (side->session, json, -1, &error);
  g_assert_no_error (error);
}

static void
check_relayed (FerryPath       *path,
               FerryTestCoturn *coturn,
               const char      *transport)
{
  g_autofree char *server = ferry_test_coturn_dup_address (coturn);

  g_assert_cmpint (ferry_path_get_kind (path), ==, FERRY_PATH_KIND_RELAYED);
  g_assert_cmpstr (ferry_path_get_relay_server (path), ==, server);
  g_assert_cmpstr (ferry_path_get_relay_transport (path), ==, transport);
}

typedef enum
{
  RELAY_ONE_SIDE,
  RELAY_BOTH_SIDES,
} RelayMode;

static void
run_turn_full (RelayMode                mode,
               FerryIceRelayTransports  transports,
               const char              *transport,
               gboolean                 by_name)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *json = ferry_test_coturn_dup_ice_json (coturn, TRUE, TRUE, TRUE);
  Pair pair = { 0 };

  if (by_name)
    {
      /* The rendezvous hands out host names; the session resolves them. */
      g_autoptr(GString) named = g_string_new (json);

      g_string_replace (named, "127.0.0.1", "localhost", 0);
      g_free (json);
      json = g_string_free (g_steal_pointer (&named), FALSE);
    }

  FerryPath *path_a;
  FerryPath *path_b;

  pair_init (&pair, "127.0.0.1");
  set_servers (&pair.a, json);
  set_servers (&pair.b, json);
  ferry_ice_session_set_candidate_types (pair.a.session, FERRY_ICE_CANDIDATE_RELAY);
  ferry_ice_session_set_relay_transports (pair.a.session, transports);
  if (mode == RELAY_BOTH_SIDES)
    {
      ferry_ice_session_set_candidate_types (pair.b.session, FERRY_ICE_CANDIDATE_RELAY);
      ferry_ice_session_set_relay_transports (pair.b.session, transports);
    }
  else
    {
      ferry_ice_session_set_candidate_types (pair.b.session, FERRY_ICE_CANDIDATE_HOST);
    }

  pair_connect (&pair);

  path_a = ferry_ice_session_get_path (pair.a.session);
  path_b = ferry_ice_session_get_path (pair.b.session);
  check_relayed (path_a, coturn, transport);
  check_relayed (path_b, coturn, transport);
  g_assert_cmpstr (ferry_path_get_local_type (path_a), ==, "relay");
  if (mode == RELAY_ONE_SIDE)
    g_assert_cmpstr (ferry_path_get_local_type (path_b), ==, "host");
  else
    g_assert_cmpstr (ferry_path_get_local_type (path_b), ==, "relay");

  /* Relay-only really offers nothing else. */
  for (guint i = 0; i < pair.a.messages->len; i++)
    {
      const char *message = g_ptr_array_index (pair.a.messages, i);

      g_assert_null (strstr (message, "typ host"));
      g_assert_null (strstr (message, "typ srflx"));
    }

  exchange_datagrams (&pair.a, &pair.b, 400, 16);
  exchange_datagrams (&pair.b, &pair.a, 400, 16);
  g_assert_true (ferry_test_wait_until (rtt_known, path_a, WAIT_MS));

  pair_clear (&pair);
}

static void
run_turn (RelayMode                mode,
          FerryIceRelayTransports  transports,
          const char              *transport)
{
  run_turn_full (mode, transports, transport, FALSE);
}

static void
test_turn_by_name (void)
{
  run_turn_full (RELAY_ONE_SIDE, FERRY_ICE_RELAY_ALL, "udp", TRUE);
}

static void
test_turn_udp_one_side (void)
{
  run_turn (RELAY_ONE_SIDE, FERRY_ICE_RELAY_UDP, "udp");
}

static void
test_turn_udp_both_sides (void)
{
  run_turn (RELAY_BOTH_SIDES, FERRY_ICE_RELAY_UDP, "udp");
}

static void
test_turn_tcp (void)
{
  run_turn (RELAY_ONE_SIDE, FERRY_ICE_RELAY_TCP, "tcp");
}

static void
test_turn_both_transports_prefers_udp (void)
{
  run_turn (RELAY_BOTH_SIDES, FERRY_ICE_RELAY_ALL, "udp");
}

/* Relays last ----------------------------------------------------------- */

typedef struct
{
  Side     *side;
  gboolean  added;
} LateMapping;

/* The late port mapping of a slow router: an identity "mapping" of the
 * side's host socket, offered well after its relay could have been. */
static void
add_late_mapping_cb (gpointer user_data)
{
  LateMapping *late = user_data;
  g_autoptr(GPtrArray) hosts = ferry_ice_session_dup_host_addresses (late->side->session);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (hosts->len, ==, 1);
  g_assert_true (ferry_ice_session_add_mapped_candidate (late->side->session,
                                                         FERRY_PATH_MAPPING_PCP,
                                                         g_ptr_array_index (hosts, 0),
                                                         g_ptr_array_index (hosts, 0),
                                                         &error));
  g_assert_no_error (error);
  ferry_ice_session_release_end_of_candidates (late->side->session);
  late->added = TRUE;
}

static guint
find_message (GPtrArray  *messages,
              const char *needle)
{
  for (guint i = 0; i < messages->len; i++)
    if (strstr (g_ptr_array_index (messages, i), needle) != NULL)
      return i;

  return G_MAXUINT;
}

static gboolean
path_is_mapped_direct (gpointer user_data)
{
  FerryPath *path = user_data;

  return ferry_path_get_kind (path) == FERRY_PATH_KIND_DIRECT_INTERNET &&
         ferry_path_get_mapped (path) == FERRY_PATH_MAPPING_PCP;
}

/* Both sides have a TURN server that answers at once, over UDP and TCP; the
 * controlled side's only direct candidate (neither offers its host one) is a
 * port mapping that comes @delay_ms late, as a router's does, but before
 * relay-hold-max: the relays wait for it. (A later one upgrades a running
 * session; the NAT lab shows that with a real router.) */
static void
run_late_mapping (guint delay_ms)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *json = ferry_test_coturn_dup_ice_json (coturn, FALSE, TRUE, TRUE);
  LateMapping late = { 0 };
  Pair pair = { 0 };
  FerryPath *path_a;
  FerryPath *path_b;

  pair_init (&pair, "127.0.0.1");
  set_servers (&pair.a, json);
  set_servers (&pair.b, json);
  ferry_ice_session_set_candidate_types (pair.a.session,
                                         FERRY_ICE_CANDIDATE_SRFLX | FERRY_ICE_CANDIDATE_RELAY);
  ferry_ice_session_set_candidate_types (pair.b.session,
                                         FERRY_ICE_CANDIDATE_SRFLX | FERRY_ICE_CANDIDATE_RELAY);
  ferry_ice_session_hold_end_of_candidates (pair.b.session);
  path_a = ferry_ice_session_get_path (pair.a.session);
  path_b = ferry_ice_session_get_path (pair.b.session);

  late.side = &pair.b;
  g_timeout_add_once (delay_ms, add_late_mapping_cb, &late);
  pair_connect (&pair);

  /* The mapping came while relays were still held: the session connected
   * directly and neither side allocated a relay. */
  g_assert_true (late.added);
  g_assert_true (path_is_mapped_direct (path_a));
  g_assert_cmpuint (find_message (pair.a.messages, "end-of-direct-candidates"), !=, G_MAXUINT);
  g_assert_cmpuint (find_message (pair.b.messages, "end-of-direct-candidates"), !=, G_MAXUINT);
  g_assert_cmpuint (find_message (pair.a.messages, "typ relay"), ==, G_MAXUINT);
  g_assert_cmpuint (find_message (pair.b.messages, "typ relay"), ==, G_MAXUINT);

  g_assert_cmpstr (ferry_path_get_local_type (path_a), ==, "host");
  g_assert_cmpstr (ferry_path_get_local_type (path_b), ==, "host");
  exchange_datagrams (&pair.a, &pair.b, 400, 16);
  exchange_datagrams (&pair.b, &pair.a, 400, 16);
  pair_clear (&pair);
}

static void
test_relays_last_direct_wins (void)
{
  run_late_mapping (150);
}

/* With no direct candidate the peer can reach, the relays come once both
 * sides' direct candidates are out and relay-delay passed, and the session
 * connects through them; each side's relay candidates follow its
 * end-of-direct-candidates and precede its end-of-candidates. */
static void
test_relays_last_fallback (void)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *json = ferry_test_coturn_dup_ice_json (coturn, FALSE, TRUE, FALSE);
  Pair pair = { 0 };
  gint64 started;
  Side *sides[] = { &pair.a, &pair.b };

  pair_init (&pair, "127.0.0.1");
  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      set_servers (sides[i], json);
      ferry_ice_session_set_candidate_types (sides[i]->session,
                                             FERRY_ICE_CANDIDATE_SRFLX |
                                             FERRY_ICE_CANDIDATE_RELAY);
      ferry_ice_session_set_relay_delay (sides[i]->session, 300);
    }

  started = g_get_monotonic_time ();
  pair_connect (&pair);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, >=, 300);
  check_relayed (ferry_ice_session_get_path (pair.a.session), coturn, "udp");

  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      GPtrArray *messages = sides[i]->messages;
      guint direct_end = find_message (messages, "end-of-direct-candidates");
      guint first_relay = find_message (messages, "typ relay");

      g_assert_cmpuint (direct_end, !=, G_MAXUINT);
      g_assert_cmpuint (first_relay, >, direct_end);
      g_assert_cmpuint (first_relay, !=, G_MAXUINT);
    }
  /* The controlled side may connect before its own relay gathering ends;
   * the controlling one ends its candidates after its relay. */
  g_assert_cmpuint (find_message (pair.a.messages, "\"end-of-candidates\""), >,
                    find_message (pair.a.messages, "typ relay"));

  exchange_datagrams (&pair.a, &pair.b, 400, 16);
  pair_clear (&pair);
}

/* Deadline and cancellation --------------------------------------------- */

static gboolean
pointer_is_null (gpointer user_data)
{
  return *(gpointer *) user_data == NULL;
}

static void
check_failure (Side   *side,
               GQuark  domain,
               int     code,
               gint64  started,
               guint   max_ms)
{
  gint64 elapsed_ms;

  g_assert_true (ferry_test_wait_for_flag (&side->done, max_ms + 3000));
  elapsed_ms = (g_get_monotonic_time () - started) / 1000;
  g_assert_false (side->ok);
  g_assert_error (side->error, domain, code);
  g_assert_cmpint (elapsed_ms, <=, max_ms + 1000);
  g_assert_false (ferry_ice_session_get_connected (side->session));
  g_assert_null (ferry_ice_session_get_agent (side->session));
  g_assert_false (ferry_ice_session_send (side->session, (const guint8 *) "@", 1));
}

static void
watch_agent (Side      *side,
             NiceAgent **weak)
{
  *weak = ferry_ice_session_get_agent (side->session);
  g_assert_nonnull (*weak);
  g_object_add_weak_pointer (G_OBJECT (*weak), (gpointer *) weak);
}

static void
test_timeout_no_candidates (void)
{
  Side side = { 0 };
  NiceAgent *agent;
  gint64 started = g_get_monotonic_time ();

  side_init (&side, FERRY_ICE_ROLE_CONTROLLING, "127.0.0.1");
  ferry_ice_session_set_timeout (side.session, 800);
  watch_agent (&side, &agent);

  ferry_ice_session_connect_async (side.session, NULL, connect_cb, &side);
  check_failure (&side, FERRY_ICE_ERROR, FERRY_ICE_ERROR_TIMEOUT, started, 800);
  g_assert_cmpint ((g_get_monotonic_time () - started) / 1000, >=, 800);

  /* The agent itself goes away once its close finished. */
  g_assert_true (ferry_test_wait_until (pointer_is_null, &agent, WAIT_MS));
  side_clear (&side);
}

static void
test_timeout_unreachable (void)
{
  Side side = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *line = NULL;
  gint64 started = g_get_monotonic_time ();
  NiceAgent *agent;

  /* A socket that is bound but never answers: checks go nowhere. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  line = g_strdup_printf ("a=candidate:1 1 udp 2130706431 127.0.0.1 %u typ host",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  side_init (&side, FERRY_ICE_ROLE_CONTROLLED, "127.0.0.1");
  ferry_ice_session_set_timeout (side.session, 1000);
  watch_agent (&side, &agent);
  ferry_ice_session_connect_async (side.session, NULL, connect_cb, &side);

  ferry_ice_session_set_remote_credentials (side.session, "abcd", "0123456789abcdefghijkl",
                                            &error);
  g_assert_no_error (error);
  ferry_ice_session_add_remote_candidate (side.session, line, &error);
  g_assert_no_error (error);

  check_failure (&side, FERRY_ICE_ERROR, FERRY_ICE_ERROR_TIMEOUT, started, 1000);
  g_assert_true (ferry_test_wait_until (pointer_is_null, &agent, WAIT_MS));
  side_clear (&side);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr(FerryTestCoturn) coturn = ferry_test_coturn_start ();
  g_autofree char *json = ferry_test_coturn_dup_ice_json (coturn, TRUE, TRUE, TRUE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Side side = { 0 };
  NiceAgent *agent;
  gint64 started = g_get_monotonic_time ();
  GWeakRef session_ref;

  /* Mid-gathering with TURN allocations, so those get released too. */
  side_init (&side, FERRY_ICE_ROLE_CONTROLLING, "127.0.0.1");
  set_servers (&side, json);
  watch_agent (&side, &agent);
  ferry_ice_session_connect_async (side.session, cancellable, connect_cb, &side);
  g_assert_cmpuint (side.messages->len, >=, 1);
  g_idle_add (cancel_cb, cancellable);

  check_failure (&side, G_IO_ERROR, G_IO_ERROR_CANCELLED, started, 1000);
  g_assert_true (ferry_test_wait_until (pointer_is_null, &agent, WAIT_MS));

  /* Nothing else holds the session. */
  g_weak_ref_init (&session_ref, side.session);
  side_clear (&side);
  g_assert_null (g_weak_ref_get (&session_ref));
  g_weak_ref_clear (&session_ref);
}

static void
test_cancel_before_start (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Side side = { 0 };

  side_init (&side, FERRY_ICE_ROLE_CONTROLLING, "127.0.0.1");
  g_cancellable_cancel (cancellable);
  ferry_ice_session_connect_async (side.session, cancellable, connect_cb, &side);
  g_assert_true (ferry_test_wait_for_flag (&side.done, WAIT_MS));
  g_assert_error (side.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (ferry_ice_session_get_agent (side.session));
  side_clear (&side);
}

/* Junk ------------------------------------------------------------------ */

static void
test_junk_messages (void)
{
  static const char *junk[] = {
    "",
    "not json",
    "[1, 2]",
    "{\"type\": 7}",
    "{\"type\": \"hello\"}",
    "{\"type\": \"credentials\"}",
    "{\"type\": \"credentials\", \"ufrag\": \"abc\", \"pwd\": \"0123456789abcdefghijkl\"}",
    "{\"type\": \"credentials\", \"ufrag\": \"abcd\", \"pwd\": \"short\"}",
    "{\"type\": \"credentials\", \"ufrag\": \"ab d\", \"pwd\": \"0123456789abcdefghijkl\"}",
    "{\"type\": \"credentials\", \"ufrag\": \"abcd\", \"pwd\": \"0123456789abcdefghijk;\"}",
    "{\"type\": \"candidate\"}",
    "{\"type\": \"candidate\", \"candidate\": 5}",
    "{\"type\": \"candidate\", \"candidate\": \"garbage\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 999.1.1.1 4 typ host\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 127.0.0.1 0 typ host\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 2 udp 1 127.0.0.1 9 typ host\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 127.0.0.1 9 typ bogus\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 127.0.0.1 9 typ host\","
    " \"mapped\": \"carrier-pigeon\"}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 127.0.0.1 9 typ relay\","
    " \"relay\": {\"server\": 1}}",
    "{\"type\": \"candidate\", \"candidate\": \"a=candidate:1 1 udp 1 127.0.0.1 9 typ relay\","
    " \"relay\": {\"server\": \"127.0.0.1:3478\", \"transport\": \"sctp\"}}",
  };
  g_autoptr(FerryIceSession) session = ferry_ice_session_new (FERRY_ICE_ROLE_CONTROLLED);
  g_autoptr(GError) error = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *huge_message = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    {
      g_test_message ("junk: %s", junk[i]);
      g_assert_false (ferry_ice_session_handle_remote_message (session, junk[i], -1, &error));
      g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE);
      g_assert_nonnull (error->message);
      g_clear_error (&error);
    }

  huge = g_strnfill (FERRY_ICE_MESSAGE_MAX_SIZE, 'a');
  huge_message = g_strdup_printf ("{\"type\": \"credentials\", \"ufrag\": \"%s\"}", huge);
  g_assert_false (ferry_ice_session_handle_remote_message (session, huge_message, -1, &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE);
  g_clear_error (&error);

  /* Non-UTF-8 bytes inside a JSON string. */
  g_assert_false (ferry_ice_session_handle_remote_message (session,
                                                           "{\"type\": \"cand\xff\"}", -1,
                                                           &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE);
  g_clear_error (&error);

  /* Nothing was lost: good messages still work, and unknown members are
   * ignored for later versions. */
  g_assert_true (ferry_ice_session_handle_remote_message (
                   session,
                   "{\"type\": \"credentials\", \"ufrag\": \"abcd\","
                   " \"pwd\": \"0123456789abcdefghijkl\", \"future\": 1}", -1, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_ice_session_handle_remote_message (
                   session,
                   "{\"type\": \"candidate\","
                   " \"candidate\": \"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\"}",
                   -1, &error));
  g_assert_no_error (error);
  /* ICE-TCP candidates of a later peer are skipped, not refused. */
  g_assert_true (ferry_ice_session_handle_remote_message (
                   session,
                   "{\"type\": \"candidate\", \"mapped\": \"pcp\", \"candidate\":"
                   " \"a=candidate:2 1 tcp 1 127.0.0.1 9 typ host tcptype active\"}",
                   -1, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_ice_session_handle_remote_message (session,
                                                          "{\"type\":\"end-of-candidates\"}",
                                                          -1, &error));
  g_assert_no_error (error);

  /* Credentials cannot change under a running session. */
  g_assert_false (ferry_ice_session_handle_remote_message (
                    session,
                    "{\"type\": \"credentials\", \"ufrag\": \"efgh\","
                    " \"pwd\": \"0123456789abcdefghijkl\"}", -1, &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE);
}

static void
test_junk_servers (void)
{
  static const char *junk[] = {
    "",
    "nope",
    "[]",
    "{\"stun\": \"stun:127.0.0.1\"}",
    "{\"stun\": [3]}",
    "{\"stun\": [\"http://127.0.0.1\"]}",
    "{\"stun\": [\"stun:\"]}",
    "{\"stun\": [\"stun:127.0.0.1:0\"]}",
    "{\"stun\": [\"stun:127.0.0.1:65536\"]}",
    "{\"stun\": [\"stun:127.0.0.1:34x\"]}",
    "{\"stun\": [\"stun:127.0.0.1?transport=udp\"]}",
    "{\"stun\": [\"stun:bad host\"]}",
    "{\"stun\": [\"turn:127.0.0.1\"]}",
    "{\"turn\": {}}",
    "{\"turn\": [5]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1\"]}]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1\"], \"username\": \"u\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1\"], \"username\": 5, \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1\"], \"username\": {}, \"credential\": []}]}",
    "{\"turn\": [{\"urls\": 5, \"username\": \"u\", \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"stun:127.0.0.1\"], \"username\": \"u\", \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1?transport=sctp\"], \"username\": \"u\","
    " \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turns:127.0.0.1?transport=udp\"], \"username\": \"u\","
    " \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:[::1\"], \"username\": \"u\", \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:[127.0.0.1]\"], \"username\": \"u\", \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:[::1]x\"], \"username\": \"u\", \"credential\": \"c\"}]}",
    "{\"turn\": [{\"urls\": [\"turn:127.0.0.1:3478\", 7], \"username\": \"u\","
    " \"credential\": \"c\"}]}",
  };
  static const char *good[] = {
    "{}",
    "{\"stun\": [], \"turn\": []}",
    "{\"stun\": [\"stun:stun.example.org\", \"stun:[2001:db8::1]:3479\"]}",
    "{\"turn\": [{\"urls\": \"turn:turn.example.org:443?transport=tcp\", \"username\": \"u\","
    " \"credential\": \"c\", \"ttl\": 86400}]}",
    "{\"turn\": [{\"urls\": [\"turn:[::1]:3478?transport=udp\", \"turns:t.example.org\"],"
    " \"username\": \"1:ferry\", \"credential\": \"c\"}]}",
  };
  g_autoptr(FerryIceSession) session = ferry_ice_session_new (FERRY_ICE_ROLE_CONTROLLING);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    {
      g_test_message ("junk: %s", junk[i]);
      g_assert_false (ferry_ice_session_set_servers_json (session, junk[i], -1, &error));
      g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG);
      g_clear_error (&error);
    }

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_test_message ("good: %s", good[i]);
      g_assert_true (ferry_ice_session_set_servers_json (session, good[i], -1, &error));
      g_assert_no_error (error);
    }

  g_assert_false (ferry_ice_session_add_local_address (session, "not-an-ip", &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG);
}

/* Port mappings --------------------------------------------------------- */

static void
test_mapped_candidate_message (void)
{
  Pair pair = { 0 };
  g_autoptr(GPtrArray) hosts = NULL;
  g_autoptr(GInetAddress) public_ip = g_inet_address_new_from_string ("198.18.7.9");
  g_autoptr(GSocketAddress) mapped = g_inet_socket_address_new (public_ip, 40000);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *base_ip = NULL;
  g_autofree char *expected_tail = NULL;
  JsonObject *object;
  const char *last;
  guint before;

  pair_init (&pair, "127.0.0.1");

  /* Not before connecting: there is no host candidate to map yet. */
  g_assert_false (ferry_ice_session_add_mapped_candidate (pair.a.session,
                                                          FERRY_PATH_MAPPING_PCP,
                                                          G_INET_SOCKET_ADDRESS (mapped),
                                                          G_INET_SOCKET_ADDRESS (mapped),
                                                          &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED);
  g_clear_error (&error);

  /* Only A starts, so the pair cannot complete before the check below. */
  ferry_ice_session_hold_end_of_candidates (pair.a.session);
  ferry_ice_session_connect_async (pair.a.session, NULL, connect_cb, &pair.a);
  hosts = ferry_ice_session_dup_host_addresses (pair.a.session);
  g_assert_cmpuint (hosts->len, ==, 1);
  base_ip = g_inet_address_to_string (
    g_inet_socket_address_get_address (g_ptr_array_index (hosts, 0)));
  g_assert_cmpstr (base_ip, ==, "127.0.0.1");

  /* A mapping must lead to one of our own sockets. */
  g_assert_false (ferry_ice_session_add_mapped_candidate (pair.a.session,
                                                          FERRY_PATH_MAPPING_PCP,
                                                          G_INET_SOCKET_ADDRESS (mapped),
                                                          G_INET_SOCKET_ADDRESS (mapped),
                                                          &error));
  g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG);
  g_clear_error (&error);

  before = pair.a.messages->len;
  g_assert_true (ferry_ice_session_add_mapped_candidate (pair.a.session,
                                                         FERRY_PATH_MAPPING_NAT_PMP,
                                                         G_INET_SOCKET_ADDRESS (mapped),
                                                         g_ptr_array_index (hosts, 0),
                                                         &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pair.a.messages->len, ==, before + 1);

  /* The peer got (through local_message_cb) a server-reflexive candidate
   * at the mapped address whose base is the host socket, flagged nat-pmp. */
  last = g_ptr_array_index (pair.a.messages, before);
  json_parser_load_from_data (parser, last, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "mapped"), ==, "nat-pmp");
  expected_tail = g_strdup_printf ("198.18.7.9 40000 typ srflx raddr 127.0.0.1 rport %u",
                                   g_inet_socket_address_get_port (
                                     g_ptr_array_index (hosts, 0)));
  g_assert_true (g_str_has_suffix (json_object_get_string_member (object, "candidate"),
                                   expected_tail));

  /* The end of the direct candidates waited for the mapping, and follows it
   * now (relays, and so the end of all candidates, come later). */
  for (guint i = 0; i < pair.a.messages->len; i++)
    g_assert_null (strstr (g_ptr_array_index (pair.a.messages, i), "end-of-"));
  ferry_ice_session_release_end_of_candidates (pair.a.session);
  g_assert_cmpuint (pair.a.messages->len, ==, before + 2);
  g_assert_cmpstr (g_ptr_array_index (pair.a.messages, before + 1), ==,
                   "{\"type\":\"end-of-direct-candidates\"}");

  ferry_ice_session_close (pair.a.session);
  g_assert_true (ferry_test_wait_for_flag (&pair.a.done, WAIT_MS));
  g_assert_error (pair.a.error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED);
  pair_clear (&pair);
}

static gboolean
has_end_of_candidates (gpointer user_data)
{
  return find_message (user_data, "\"end-of-direct-candidates\"") != G_MAXUINT;
}

/* With UPnP on and no IGD around (gupnp-igd finds none on loopback; the
 * NAT lab has the real router), gathering waits for the UPnP timeout and
 * then goes on without a mapping: the switch and its timeout reach libnice. */
static void
test_upnp_timeout (void)
{
  Side side = { 0 };
  gboolean upnp = FALSE;
  gint64 started;
  gint64 elapsed_ms;

  side_init (&side, FERRY_ICE_ROLE_CONTROLLING, "127.0.0.1");
  ferry_ice_session_set_upnp (side.session, TRUE);
  ferry_ice_session_set_upnp_timeout (side.session, 600);

  started = g_get_monotonic_time ();
  ferry_ice_session_connect_async (side.session, NULL, connect_cb, &side);
  g_object_get (ferry_ice_session_get_agent (side.session), "upnp", &upnp, NULL);
  g_assert_true (upnp);
  g_assert_true (ferry_test_wait_until (has_end_of_candidates, side.messages, WAIT_MS));
  elapsed_ms = (g_get_monotonic_time () - started) / 1000;
  g_assert_cmpint (elapsed_ms, >=, 500);
  g_assert_cmpint (elapsed_ms, <, 3000);

  for (guint i = 0; i < side.messages->len; i++)
    g_assert_null (strstr (g_ptr_array_index (side.messages, i), "\"mapped\""));

  ferry_ice_session_close (side.session);
  g_assert_true (ferry_test_wait_for_flag (&side.done, WAIT_MS));
  g_assert_error (side.error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED);
  side_clear (&side);
}

/* Path ------------------------------------------------------------------ */

static NiceCandidate *
make_candidate (NiceCandidateType  type,
                const char        *ip,
                guint              port)
{
  NiceCandidate *candidate = nice_candidate_new (type);

  candidate->transport = NICE_CANDIDATE_TRANSPORT_UDP;
  g_assert_true (nice_address_set_from_string (&candidate->addr, ip));
  nice_address_set_port (&candidate->addr, port);
  candidate->base_addr = candidate->addr;
  candidate->component_id = 1;
  return candidate;
}

static void
test_path_classify (void)
{
  static const struct {
    NiceCandidateType  local_type;
    const char        *local_ip;
    NiceCandidateType  remote_type;
    const char        *remote_ip;
    FerryPathKind      kind;
  } cases[] = {
    { NICE_CANDIDATE_TYPE_HOST, "192.168.1.2", NICE_CANDIDATE_TYPE_HOST, "192.168.1.3",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "10.1.2.3", NICE_CANDIDATE_TYPE_HOST, "10.200.0.1",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "172.16.0.1", NICE_CANDIDATE_TYPE_HOST, "172.31.255.1",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "127.0.0.1", NICE_CANDIDATE_TYPE_HOST, "127.0.0.1",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "::1", NICE_CANDIDATE_TYPE_HOST, "::1",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "169.254.3.4", NICE_CANDIDATE_TYPE_HOST, "169.254.9.9",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "fe80::1", NICE_CANDIDATE_TYPE_HOST, "fe80::2",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "fd12:3456:789a::1", NICE_CANDIDATE_TYPE_HOST,
      "fd12:3456:789a:1::2", FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "192.168.1.2", NICE_CANDIDATE_TYPE_PEER_REFLEXIVE,
      "192.168.1.3", FERRY_PATH_KIND_DIRECT_LAN },
    /* Different private blocks or ULA prefixes are different sites. */
    { NICE_CANDIDATE_TYPE_HOST, "10.0.0.1", NICE_CANDIDATE_TYPE_HOST, "192.168.1.3",
      FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_HOST, "fd12:3456:789a::1", NICE_CANDIDATE_TYPE_HOST,
      "fd99:3456:789a::2", FERRY_PATH_KIND_DIRECT_INTERNET },
    /* CGNAT space is not a LAN. */
    { NICE_CANDIDATE_TYPE_HOST, "100.64.0.2", NICE_CANDIDATE_TYPE_HOST, "100.64.0.3",
      FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_HOST, "198.51.100.1", NICE_CANDIDATE_TYPE_HOST, "198.51.100.2",
      FERRY_PATH_KIND_DIRECT_INTERNET },
    /* Both ends at one address: two programs on one machine, whatever its address. */
    { NICE_CANDIDATE_TYPE_HOST, "192.0.2.2", NICE_CANDIDATE_TYPE_HOST, "192.0.2.2",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_HOST, "2001:db8::2", NICE_CANDIDATE_TYPE_PEER_REFLEXIVE, "2001:db8::2",
      FERRY_PATH_KIND_DIRECT_LAN },
    { NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE, "198.51.100.1", NICE_CANDIDATE_TYPE_HOST,
      "198.51.100.1", FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE, "192.168.1.2", NICE_CANDIDATE_TYPE_HOST,
      "192.168.1.3", FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_HOST, "192.168.1.2", NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE,
      "203.0.113.7", FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_PEER_REFLEXIVE, "198.18.0.1", NICE_CANDIDATE_TYPE_HOST,
      "198.18.0.2", FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_HOST, "127.0.0.1", NICE_CANDIDATE_TYPE_HOST, "192.168.1.1",
      FERRY_PATH_KIND_DIRECT_INTERNET },
    { NICE_CANDIDATE_TYPE_RELAYED, "127.0.0.1", NICE_CANDIDATE_TYPE_HOST, "127.0.0.1",
      FERRY_PATH_KIND_RELAYED },
    { NICE_CANDIDATE_TYPE_HOST, "192.168.1.2", NICE_CANDIDATE_TYPE_RELAYED, "192.168.1.3",
      FERRY_PATH_KIND_RELAYED },
    { NICE_CANDIDATE_TYPE_RELAYED, "198.51.100.1", NICE_CANDIDATE_TYPE_RELAYED, "198.51.100.1",
      FERRY_PATH_KIND_RELAYED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      NiceCandidate *local = make_candidate (cases[i].local_type, cases[i].local_ip, 1000);
      NiceCandidate *remote = make_candidate (cases[i].remote_type, cases[i].remote_ip, 2000);

      g_test_message ("%s %s ↔ %s %s", nice_candidate_type_to_string (cases[i].local_type),
                      cases[i].local_ip, nice_candidate_type_to_string (cases[i].remote_type),
                      cases[i].remote_ip);
      g_assert_cmpstr (ferry_path_kind_to_string (ferry_path_classify (local, remote)), ==,
                       ferry_path_kind_to_string (cases[i].kind));

      nice_candidate_free (local);
      nice_candidate_free (remote);
    }
}

static void
test_path_strings (void)
{
  static const char *kinds[] = { "direct-lan", "direct-internet", "relayed" };
  static const char *mappings[] = { "none", "upnp", "pcp", "nat-pmp" };
  FerryPathKind kind = FERRY_PATH_KIND_UNKNOWN;
  FerryPathMapping mapping = FERRY_PATH_MAPPING_NONE;

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_assert_true (ferry_path_kind_from_string (kinds[i], &kind));
      g_assert_cmpint (kind, ==, FERRY_PATH_KIND_DIRECT_LAN + i);
      g_assert_cmpstr (ferry_path_kind_to_string (kind), ==, kinds[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (mappings); i++)
    {
      g_assert_true (ferry_path_mapping_from_string (mappings[i], &mapping));
      g_assert_cmpint (mapping, ==, FERRY_PATH_MAPPING_NONE + i);
      g_assert_cmpstr (ferry_path_mapping_to_string (mapping), ==, mappings[i]);
    }

  g_assert_false (ferry_path_kind_from_string ("direct", &kind));
  g_assert_false (ferry_path_kind_from_string (NULL, &kind));
  g_assert_false (ferry_path_mapping_from_string ("NAT-PMP", &mapping));
  g_assert_cmpint (kind, ==, FERRY_PATH_KIND_RELAYED);
  g_assert_cmpint (mapping, ==, FERRY_PATH_MAPPING_NAT_PMP);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  GHashTable *counts = user_data;
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (counts, pspec->name));

  g_hash_table_replace (counts, (gpointer) pspec->name, GUINT_TO_POINTER (count + 1));
}

static guint
notifications (GHashTable *counts,
               const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, name));
}

static void
test_path_notify (void)
{
  g_autoptr(FerryPath) path = ferry_path_new ();
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  NiceCandidate *host = make_candidate (NICE_CANDIDATE_TYPE_HOST, "192.168.1.2", 1000);
  NiceCandidate *peer = make_candidate (NICE_CANDIDATE_TYPE_HOST, "192.168.1.3", 2000);
  NiceCandidate *relay = make_candidate (NICE_CANDIDATE_TYPE_RELAYED, "198.51.100.1", 3000);

  g_signal_connect (path, "notify", G_CALLBACK (count_notify_cb), counts);

  ferry_path_update_pair (path, host, peer, FERRY_PATH_MAPPING_NONE, NULL, NULL);
  g_assert_cmpint (ferry_path_get_kind (path), ==, FERRY_PATH_KIND_DIRECT_LAN);
  g_assert_cmpstr (ferry_path_get_local_address (path), ==, "192.168.1.2:1000");
  g_assert_cmpuint (notifications (counts, "kind"), ==, 1);
  g_assert_cmpuint (notifications (counts, "local-address"), ==, 1);
  g_assert_cmpuint (notifications (counts, "relay-server"), ==, 0);
  g_assert_cmpuint (notifications (counts, "mapped"), ==, 0);

  /* The same pair again changes nothing and says nothing. */
  ferry_path_update_pair (path, host, peer, FERRY_PATH_MAPPING_NONE, NULL, NULL);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 5);
  g_assert_cmpuint (notifications (counts, "kind"), ==, 1);
  g_assert_cmpuint (notifications (counts, "remote-address"), ==, 1);

  /* A relay server is only kept for relayed pairs. */
  ferry_path_update_pair (path, relay, peer, FERRY_PATH_MAPPING_PCP, "198.51.100.1:3478", "tcp");
  g_assert_cmpint (ferry_path_get_kind (path), ==, FERRY_PATH_KIND_RELAYED);
  g_assert_cmpint (ferry_path_get_mapped (path), ==, FERRY_PATH_MAPPING_NONE);
  g_assert_cmpstr (ferry_path_get_relay_server (path), ==, "198.51.100.1:3478");
  g_assert_cmpstr (ferry_path_get_relay_transport (path), ==, "tcp");
  g_assert_cmpuint (notifications (counts, "kind"), ==, 2);
  g_assert_cmpuint (notifications (counts, "remote-address"), ==, 1);

  ferry_path_set_rtt_ms (path, 12.34);
  ferry_path_set_rtt_ms (path, 12.31);
  g_assert_cmpfloat (ferry_path_get_rtt_ms (path), ==, 12.3);
  g_assert_cmpuint (notifications (counts, "rtt-ms"), ==, 1);

  ferry_path_reset (path);
  g_assert_cmpint (ferry_path_get_kind (path), ==, FERRY_PATH_KIND_UNKNOWN);
  g_assert_null (ferry_path_get_relay_server (path));
  g_assert_cmpfloat (ferry_path_get_rtt_ms (path), ==, -1);

  nice_candidate_free (host);
  nice_candidate_free (peer);
  nice_candidate_free (relay);
}

typedef struct
{
  Side *side;
  char *old_local;
} RestartWait;

/* Restarted, settled again, and the datagrams on the new stream's socket. */
static gboolean
restart_adopted (gpointer user_data)
{
  RestartWait *wait = user_data;
  FerryIceSession *session = wait->side->session;

  return ferry_ice_session_get_generation (session) == 1 &&
         ferry_ice_session_get_settled (session) &&
         g_strcmp0 (ferry_path_get_local_address (ferry_ice_session_get_path (session)),
                    wait->old_local) != 0;
}

/* An ICE restart while connected: datagrams keep flowing on the old pair while the new
 * generation is negotiated, then on the new stream's sockets, on both sides. */
static void
test_restart (void)
{
  Pair pair = { 0 };
  g_autofree char *old_a = NULL;
  g_autofree char *old_b = NULL;
  RestartWait wait_a, wait_b;

  pair_init (&pair, "127.0.0.1");
  pair_connect (&pair);
  g_assert_true (ferry_test_wait_until (session_settled, pair.a.session, WAIT_MS));
  g_assert_true (ferry_test_wait_until (session_settled, pair.b.session, WAIT_MS));
  old_a = g_strdup (ferry_path_get_local_address (ferry_ice_session_get_path (pair.a.session)));
  old_b = g_strdup (ferry_path_get_local_address (ferry_ice_session_get_path (pair.b.session)));

  ferry_ice_session_restart (pair.a.session);
  g_assert_cmpuint (ferry_ice_session_get_generation (pair.a.session), ==, 1);
  g_assert_false (ferry_ice_session_get_settled (pair.a.session));
  /* The peer followed at once (the messages are relayed synchronously here). */
  g_assert_cmpuint (ferry_ice_session_get_generation (pair.b.session), ==, 1);
  g_assert_cmpuint (find_message (pair.a.messages, "{\"type\":\"restart\",\"generation\":1}"),
                    !=, G_MAXUINT);

  /* Still connected on the old pair meanwhile. */
  g_assert_true (ferry_ice_session_get_connected (pair.a.session));
  exchange_datagrams (&pair.a, &pair.b, 200, 32);

  wait_a = (RestartWait) { &pair.a, old_a };
  wait_b = (RestartWait) { &pair.b, old_b };
  g_assert_true (ferry_test_wait_until (restart_adopted, &wait_a, WAIT_MS));
  g_assert_true (ferry_test_wait_until (restart_adopted, &wait_b, WAIT_MS));
  check_host_lan_path (ferry_ice_session_get_path (pair.a.session), "127.0.0.1:");
  g_assert_cmpstr (ferry_path_get_local_address (ferry_ice_session_get_path (pair.a.session)),
                   ==,
                   ferry_path_get_remote_address (ferry_ice_session_get_path (pair.b.session)));

  exchange_datagrams (&pair.a, &pair.b, 500, 64);
  exchange_datagrams (&pair.b, &pair.a, 500, 64);

  /* A stale generation's messages are dropped, not errors. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_true (ferry_ice_session_handle_remote_message (
                     pair.b.session, "{\"type\":\"end-of-candidates\"}", -1, &error));
    g_assert_no_error (error);
    g_assert_false (ferry_ice_session_handle_remote_message (
                      pair.b.session, "{\"type\":\"restart\",\"generation\":-1}", -1,
                      &error));
    g_assert_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_MESSAGE);
  }

  pair_clear (&pair);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/path/classify", test_path_classify);
  g_test_add_func ("/path/strings", test_path_strings);
  g_test_add_func ("/path/notify", test_path_notify);
  g_test_add_func ("/ice-session/junk/messages", test_junk_messages);
  g_test_add_func ("/ice-session/junk/servers", test_junk_servers);
  g_test_add_func ("/ice-session/loopback/ipv4", test_loopback_ipv4);
  g_test_add_func ("/ice-session/loopback/ipv6", test_loopback_ipv6);
  g_test_add_func ("/ice-session/consent-lost", test_consent_lost);
  g_test_add_func ("/ice-session/restart", test_restart);
  g_test_add_func ("/ice-session/upnp-timeout", test_upnp_timeout);
  g_test_add_func ("/ice-session/mapped-candidate", test_mapped_candidate_message);
  g_test_add_func ("/ice-session/turn/udp-one-side", test_turn_udp_one_side);
  g_test_add_func ("/ice-session/turn/udp-both-sides", test_turn_udp_both_sides);
  g_test_add_func ("/ice-session/turn/tcp", test_turn_tcp);
  g_test_add_func ("/ice-session/turn/by-name", test_turn_by_name);
  g_test_add_func ("/ice-session/turn/both-transports", test_turn_both_transports_prefers_udp);
  g_test_add_func ("/ice-session/relays-last/direct-wins", test_relays_last_direct_wins);
  g_test_add_func ("/ice-session/relays-last/fallback", test_relays_last_fallback);
  g_test_add_func ("/ice-session/timeout/no-candidates", test_timeout_no_candidates);
  g_test_add_func ("/ice-session/timeout/unreachable", test_timeout_unreachable);
  g_test_add_func ("/ice-session/cancel/running", test_cancel);
  g_test_add_func ("/ice-session/cancel/before-start", test_cancel_before_start);

  return g_test_run ();
}
