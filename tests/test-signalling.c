/* test-signalling.c
 *
 * Two sides of a real channel (through a real ferry-rendezvous) route messages by type;
 * junk from the peer is dropped and counted, and the end of the channel is reported.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-channel.h"
#include "ferry-signalling.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 10000

typedef struct
{
  FerryTestChannelPair *pair;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->pair = ferry_test_channel_pair_new (NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_pointer (&fixture->pair, ferry_test_channel_pair_free);
}

typedef struct
{
  GPtrArray *ice;       /* the "x" member of each "ice" message, as text */
  gboolean   hello;
  gboolean   closed;
  GError    *closed_error;
} Seen;

static void
ice_cb (FerrySignalling *signalling,
        JsonObject      *body,
        gpointer         user_data)
{
  Seen *seen = user_data;

  g_assert_cmpstr (json_object_get_string_member (body, "type"), ==, "ice");
  g_ptr_array_add (seen->ice, g_strdup (json_object_get_string_member (body, "x")));
}

static void
hello_cb (FerrySignalling *signalling,
          JsonObject      *body,
          gpointer         user_data)
{
  Seen *seen = user_data;

  seen->hello = TRUE;
}

static void
closed_cb (FerrySignalling *signalling,
           const GError    *error,
           gpointer         user_data)
{
  Seen *seen = user_data;

  g_assert_false (seen->closed);
  seen->closed = TRUE;
  seen->closed_error = error != NULL ? g_error_copy (error) : NULL;
}

static void
send_raw (FerryChannel *channel,
          const char   *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text));

  ferry_channel_send (channel, bytes);
}

static void
test_routes_by_type (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerrySignalling) a = ferry_signalling_new (fixture->pair->sender);
  g_autoptr(FerrySignalling) b = ferry_signalling_new (fixture->pair->receiver);
  g_autoptr(JsonObject) body = json_object_new ();
  Seen seen = { g_ptr_array_new_with_free_func (g_free) };

  g_signal_connect (b, "message::ice", G_CALLBACK (ice_cb), &seen);
  g_signal_connect (b, "message::hello", G_CALLBACK (hello_cb), &seen);
  g_signal_connect (b, "closed", G_CALLBACK (closed_cb), &seen);

  /* Sent before the receiving side starts: the mailbox keeps them. */
  json_object_set_string_member (body, "x", "first");
  /* A "type" in the body must not override the routing type. */
  json_object_set_string_member (body, "type", "hello");
  g_assert_true (ferry_signalling_send (a, "ice", body));
  ferry_signalling_start (a);
  ferry_signalling_start (b);

  /* What a broken or hostile peer could send; our own API cannot make these, so the test
   * writes them straight into the channel. */
  send_raw (fixture->pair->sender, "not json at all");
  send_raw (fixture->pair->sender, "[1, 2, 3]");
  send_raw (fixture->pair->sender, "{\"type\": 5}");
  send_raw (fixture->pair->sender, "{\"type\": \"BAD TYPE\"}");
  send_raw (fixture->pair->sender, "{\"no-type\": true}");
  send_raw (fixture->pair->sender, "\xff\xfe{");
  send_raw (fixture->pair->sender, "{\"type\": \"from-the-future\", \"x\": 1}");

  json_object_set_string_member (body, "x", "second");
  g_assert_true (ferry_signalling_send (a, "ice", body));
  g_assert_true (ferry_signalling_send (a, "hello", NULL));

  g_assert_true (ferry_test_wait_for_flag (&seen.hello, TIMEOUT_MS));
  g_assert_cmpuint (seen.ice->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen.ice, 0), ==, "first");
  g_assert_cmpstr (g_ptr_array_index (seen.ice, 1), ==, "second");
  g_assert_cmpuint (ferry_signalling_get_n_junk (b), ==, 6);
  g_assert_cmpuint (ferry_signalling_get_n_unknown (b), ==, 1);
  g_assert_false (seen.closed);

  /* The peer closing is a normal end, reported once, without an error. */
  ferry_signalling_close (a);
  g_assert_true (ferry_signalling_get_closed (a));
  g_assert_false (ferry_signalling_send (a, "ice", body));
  g_assert_true (ferry_test_wait_for_flag (&seen.closed, TIMEOUT_MS));
  g_assert_no_error (seen.closed_error);
  g_assert_true (ferry_signalling_get_closed (b));
  g_assert_false (ferry_signalling_send (b, "hello", NULL));

  g_ptr_array_unref (seen.ice);
}

static void
test_close_reports_once (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(FerrySignalling) a = ferry_signalling_new (fixture->pair->sender);
  Seen seen = { NULL };

  g_signal_connect (a, "closed", G_CALLBACK (closed_cb), &seen);
  ferry_signalling_start (a);
  ferry_signalling_close (a);
  g_assert_true (seen.closed);
  g_assert_no_error (seen.closed_error);
  /* Twice is harmless; closed_cb asserts it runs once. */
  ferry_signalling_close (a);
  g_assert_cmpint (ferry_channel_get_state (fixture->pair->sender), ==, FERRY_CHANNEL_STATE_CLOSED);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/signalling/routes-by-type", Fixture, NULL,
              fixture_setup, test_routes_by_type, fixture_teardown);
  g_test_add ("/signalling/close-reports-once", Fixture, NULL,
              fixture_setup, test_close_reports_once, fixture_teardown);

  return g_test_run ();
}
