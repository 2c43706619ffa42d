/* ferry-test-nice.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-test-nice"

#include "config.h"

#include "ferry-test-nice.h"

#include <nice.h>

#include "ferry-test-utils.h"

typedef struct
{
  NiceAgent           *agent;
  guint                stream_id;
  gboolean             gathered;
  gboolean             ready;
  FerryQuicConnection *conn;      /* unowned */
  GSource             *retry;
} Side;

struct _FerryTestNicePair
{
  Side sides[2];
};

static void
on_gathering_done (NiceAgent *agent,
                   guint      stream_id,
                   gpointer   user_data)
{
  Side *side = user_data;

  side->gathered = TRUE;
}

static void
on_state_changed (NiceAgent *agent,
                  guint      stream_id,
                  guint      component_id,
                  guint      state,
                  gpointer   user_data)
{
  Side *side = user_data;

  if (state == NICE_COMPONENT_STATE_READY)
    side->ready = TRUE;
}

static void
on_recv (NiceAgent *agent,
         guint      stream_id,
         guint      component_id,
         guint      len,
         gchar     *buf,
         gpointer   user_data)
{
  Side *side = user_data;

  if (side->conn != NULL)
    ferry_quic_connection_receive_datagram (side->conn, (const guint8 *) buf, len);
}

static gboolean
both_gathered (gpointer user_data)
{
  FerryTestNicePair *pair = user_data;

  return pair->sides[0].gathered && pair->sides[1].gathered;
}

static gboolean
both_ready (gpointer user_data)
{
  FerryTestNicePair *pair = user_data;

  return pair->sides[0].ready && pair->sides[1].ready;
}

static void
copy_to_peer (Side *from,
              Side *to)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  GSList *candidates;

  g_assert_true (nice_agent_get_local_credentials (from->agent, from->stream_id, &ufrag, &pwd));
  g_assert_true (nice_agent_set_remote_credentials (to->agent, to->stream_id, ufrag, pwd));
  candidates = nice_agent_get_local_candidates (from->agent, from->stream_id, 1);
  g_assert_nonnull (candidates);
  g_assert_cmpint (nice_agent_set_remote_candidates (to->agent, to->stream_id, 1, candidates),
                   >, 0);
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);
}

/* Both agents gather host candidates on 127.0.0.1 only and connect. */
FerryTestNicePair *
ferry_test_nice_pair_new (guint timeout_ms)
{
  FerryTestNicePair *pair = g_new0 (FerryTestNicePair, 1);
  GMainContext *context = g_main_context_get_thread_default ();

  for (guint i = 0; i < 2; i++)
    {
      Side *side = &pair->sides[i];
      NiceAddress address;

      side->agent = nice_agent_new_full (context, NICE_COMPATIBILITY_RFC5245,
                                         NICE_AGENT_OPTION_NONE);
      g_object_set (side->agent,
                    "controlling-mode", i == 0,
                    "upnp", FALSE,
                    "ice-tcp", FALSE,
                    NULL);
      nice_address_init (&address);
      g_assert_true (nice_address_set_from_string (&address, "127.0.0.1"));
      g_assert_true (nice_agent_add_local_address (side->agent, &address));
      side->stream_id = nice_agent_add_stream (side->agent, 1);
      g_assert_cmpuint (side->stream_id, >, 0);
      g_signal_connect (side->agent, "candidate-gathering-done",
                        G_CALLBACK (on_gathering_done), side);
      g_signal_connect (side->agent, "component-state-changed",
                        G_CALLBACK (on_state_changed), side);
      g_assert_true (nice_agent_attach_recv (side->agent, side->stream_id, 1, context,
                                             on_recv, side));
      g_assert_true (nice_agent_gather_candidates (side->agent, side->stream_id));
    }

  g_assert_true (ferry_test_wait_until (both_gathered, pair, timeout_ms));
  copy_to_peer (&pair->sides[0], &pair->sides[1]);
  copy_to_peer (&pair->sides[1], &pair->sides[0]);
  g_assert_true (ferry_test_wait_until (both_ready, pair, timeout_ms));

  return pair;
}

static gboolean
retry_send (gpointer user_data)
{
  Side *side = user_data;

  g_clear_pointer (&side->retry, g_source_unref);
  if (side->conn != NULL)
    ferry_quic_connection_datagram_writable (side->conn);

  return G_SOURCE_REMOVE;
}

static gboolean
send_datagram (const guint8 *data,
               gsize         len,
               gpointer      user_data)
{
  Side *side = user_data;

  if (nice_agent_send (side->agent, side->stream_id, 1, len, (const char *) data) == (gint) len)
    return TRUE;

  /* libnice has no writability signal for UDP; the real ICE session
   * watches the socket instead. Try again shortly. */
  if (side->retry == NULL)
    {
      side->retry = g_timeout_source_new (1);
      g_source_set_callback (side->retry, retry_send, side, NULL);
      g_source_attach (side->retry, g_main_context_get_thread_default ());
    }

  return FALSE;
}

void
ferry_test_nice_pair_bind (FerryTestNicePair   *pair,
                           FerryQuicConnection *controlling,
                           FerryQuicConnection *controlled)
{
  pair->sides[0].conn = controlling;
  pair->sides[1].conn = controlled;
  ferry_quic_connection_set_send_func (controlling, send_datagram, &pair->sides[0], NULL);
  ferry_quic_connection_set_send_func (controlled, send_datagram, &pair->sides[1], NULL);
}

void
ferry_test_nice_pair_free (FerryTestNicePair *pair)
{
  for (guint i = 0; i < 2; i++)
    {
      Side *side = &pair->sides[i];

      if (side->retry != NULL)
        g_source_destroy (side->retry);
      g_clear_pointer (&side->retry, g_source_unref);
      side->conn = NULL;
      nice_agent_attach_recv (side->agent, side->stream_id, 1,
                              g_main_context_get_thread_default (), NULL, NULL);
      nice_agent_remove_stream (side->agent, side->stream_id);
      g_clear_object (&side->agent);
    }
  g_free (pair);
}
