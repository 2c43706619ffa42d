/* test-connector.c
 *
 * Two FerryConnectors meet over a real channel (real ferry-rendezvous) with a real coturn
 * on 127.0.0.1, as the app uses them; the peer leaving and cancelling give clear errors.
 * Port mapping stays off here (it would ask this machine's router): the NAT lab covers it
 * with real miniupnpd (tests/netlab/test-matrix.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-channel.h"
#include "ferry-connector.h"
#include "ferry-signalling.h"
#include "ferry-test-coturn.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 15000

typedef struct
{
  FerryTestCoturn       *coturn;
  FerryTestChannelPair  *pair;
  FerrySignalling       *signalling[2];
} Fixture;

typedef struct
{
  gboolean         done;
  FerryIceSession *session;
  FerryPath       *path;
  GError          *error;
} Result;

static void
result_clear (Result *result)
{
  g_clear_object (&result->session);
  g_clear_error (&result->error);
  result->done = FALSE;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *turn_udp = NULL;
  g_autofree char *turn_tcp = NULL;
  g_autofree char *stun = NULL;

  fixture->coturn = ferry_test_coturn_start ();
  stun = g_strdup_printf ("stun:127.0.0.1:%u", fixture->coturn->port);
  turn_udp = g_strdup_printf ("turn:127.0.0.1:%u?transport=udp", fixture->coturn->port);
  turn_tcp = g_strdup_printf ("turn:127.0.0.1:%u?transport=tcp", fixture->coturn->port);
  {
    const char *args[] = { "--turn-secret", fixture->coturn->secret, "--stun", stun,
                           "--turn", turn_udp, "--turn", turn_tcp, NULL };

    fixture->pair = ferry_test_channel_pair_new (args);
  }
  fixture->signalling[0] = ferry_signalling_new (fixture->pair->sender);
  fixture->signalling[1] = ferry_signalling_new (fixture->pair->receiver);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  for (guint i = 0; i < 2; i++)
    {
      ferry_signalling_close (fixture->signalling[i]);
      g_clear_object (&fixture->signalling[i]);
    }
  g_clear_pointer (&fixture->pair, ferry_test_channel_pair_free);
  g_clear_pointer (&fixture->coturn, ferry_test_coturn_free);
}

static void
connect_cb (GObject *object, GAsyncResult *res, gpointer user_data)
{
  Result *result = user_data;

  result->session = ferry_connector_connect_finish (FERRY_CONNECTOR (object), res,
                                                    &result->path, &result->error);
  result->done = TRUE;
}

static void
close_cb (GObject *object, GAsyncResult *res, gpointer user_data)
{
  Result *result = user_data;

  ferry_connector_close_finish (FERRY_CONNECTOR (object), res, &result->error);
  result->done = TRUE;
}

static FerryConnector *
make_connector (Fixture *fixture,
                guint    i)
{
  FerryConnector *connector =
    ferry_connector_new (fixture->signalling[i], fixture->pair->client,
                         i == 0 ? FERRY_ICE_ROLE_CONTROLLING : FERRY_ICE_ROLE_CONTROLLED);

  ferry_connector_set_portmap (connector, FERRY_CONNECTOR_PORTMAP_NONE);
  ferry_connector_set_timeout (connector, 10000);
  return connector;
}

static void
test_connects (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(FerryConnector) a = make_connector (fixture, 0);
  g_autoptr(FerryConnector) b = make_connector (fixture, 1);
  Result results[2] = { { 0 }, { 0 } };
  FerryConnector *connectors[2] = { a, b };
  const guint8 datagram[] = { 0x40, 'h', 'i' };

  /* One side starts well before the other: its messages wait in the mailbox. */
  ferry_signalling_start (fixture->signalling[0]);
  ferry_connector_connect_async (a, NULL, connect_cb, &results[0]);
  ferry_signalling_start (fixture->signalling[1]);
  ferry_connector_connect_async (b, NULL, connect_cb, &results[1]);

  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (ferry_test_wait_for_flag (&results[i].done, TIMEOUT_MS));
      g_assert_no_error (results[i].error);
      g_assert_true (FERRY_IS_ICE_SESSION (results[i].session));
      g_assert_true (ferry_connector_get_session (connectors[i]) == results[i].session);
      g_assert_true (results[i].path == ferry_connector_get_path (connectors[i]));
      /* Both on this machine: our host candidate and the peer's own address win over the
       * relay, and the path is this machine's. The peer's address is "prflx" when its first
       * check arrived before its trickled host candidate: the first working pair carries
       * the data at once (aggressive nomination), and libnice keeps that pair's remote as
       * peer-reflexive. Either way it is the peer's host address, never a relay or a NAT's. */
      g_assert_cmpstr (ferry_path_get_local_type (results[i].path), ==, "host");
      g_assert_true (g_str_equal (ferry_path_get_remote_type (results[i].path), "host") ||
                     g_str_equal (ferry_path_get_remote_type (results[i].path), "prflx"));
      g_assert_cmpint (ferry_path_get_kind (results[i].path), ==, FERRY_PATH_KIND_DIRECT_LAN);
      g_assert_cmpint (ferry_path_get_mapped (results[i].path), ==, FERRY_PATH_MAPPING_NONE);
    }
  g_assert_true (ferry_ice_session_send (results[0].session, datagram, sizeof datagram));

  /* A second connect on a used connector is refused. */
  {
    Result again = { 0 };

    ferry_connector_connect_async (a, NULL, connect_cb, &again);
    g_assert_true (ferry_test_wait_for_flag (&again.done, TIMEOUT_MS));
    g_assert_error (again.error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_CLOSED);
    result_clear (&again);
  }

  for (guint i = 0; i < 2; i++)
    {
      Result closed = { 0 };

      ferry_connector_close_async (connectors[i], NULL, close_cb, &closed);
      g_assert_true (ferry_test_wait_for_flag (&closed.done, TIMEOUT_MS));
      g_assert_no_error (closed.error);
      g_assert_cmpuint (ferry_connector_get_n_mappings (connectors[i]), ==, 0);
      g_assert_false (ferry_ice_session_get_connected (results[i].session));
      result_clear (&results[i]);
    }
}

static void
test_peer_leaves (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(FerryConnector) a = make_connector (fixture, 0);
  Result result = { 0 };
  gint64 start = g_get_monotonic_time ();

  ferry_signalling_start (fixture->signalling[0]);
  ferry_connector_connect_async (a, NULL, connect_cb, &result);
  /* The other side goes away without ever connecting. */
  ferry_signalling_close (fixture->signalling[1]);

  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_error (result.error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
  g_assert_null (result.session);
  /* Well before the 10 s ICE deadline. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_TIME_SPAN_SECOND);
  result_clear (&result);
}

static gboolean
has_session (gpointer user_data)
{
  return ferry_connector_get_session (FERRY_CONNECTOR (user_data)) != NULL;
}

static void
direct_gathered_cb (FerryIceSession *session,
                    const char      *message,
                    gpointer         user_data)
{
  gboolean *gathered = user_data;

  if (strstr (message, "\"end-of-direct-candidates\"") != NULL)
    *gathered = TRUE;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(FerryConnector) a = make_connector (fixture, 0);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Result result = { 0 };
  gboolean gathered = FALSE;

  ferry_signalling_start (fixture->signalling[0]);
  ferry_connector_connect_async (a, cancellable, connect_cb, &result);
  g_assert_true (ferry_test_wait_until (has_session, a, TIMEOUT_MS));
  /* Cancel while checking, not while libnice still resolves its STUN server (it warns
   * then, and warnings are fatal here). */
  g_signal_connect (ferry_connector_get_session (a), "local-message",
                    G_CALLBACK (direct_gathered_cb), &gathered);
  g_assert_true (ferry_test_wait_for_flag (&gathered, TIMEOUT_MS));
  g_cancellable_cancel (cancellable);
  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (ferry_ice_session_get_connected (ferry_connector_get_session (a)));
  result_clear (&result);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/connector/connects", Fixture, NULL, fixture_setup, test_connects,
              fixture_teardown);
  g_test_add ("/connector/peer-leaves", Fixture, NULL, fixture_setup, test_peer_leaves,
              fixture_teardown);
  g_test_add ("/connector/cancel", Fixture, NULL, fixture_setup, test_cancel,
              fixture_teardown);

  return g_test_run ();
}
