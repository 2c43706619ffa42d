/* test-signalling.c
 *
 * Two sides of a real channel (through a real ferry-rendezvous) route messages by type;
 * junk from the peer is dropped and counted, a message that is not strict JSON ends the
 * channel with the checker's error, and the end of the channel is reported.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-channel.h"
#include "ferry-error.h"
#include "ferry-json-check.h"
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
  send_raw (fixture->pair->sender, "[1, 2, 3]");
  send_raw (fixture->pair->sender, "{\"type\": 5}");
  send_raw (fixture->pair->sender, "{\"type\": \"BAD TYPE\"}");
  send_raw (fixture->pair->sender, "{\"no-type\": true}");
  send_raw (fixture->pair->sender, "{\"type\": \"from-the-future\", \"x\": 1}");

  json_object_set_string_member (body, "x", "second");
  g_assert_true (ferry_signalling_send (a, "ice", body));
  g_assert_true (ferry_signalling_send (a, "hello", NULL));

  g_assert_true (ferry_test_wait_for_flag (&seen.hello, TIMEOUT_MS));
  g_assert_cmpuint (seen.ice->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen.ice, 0), ==, "first");
  g_assert_cmpstr (g_ptr_array_index (seen.ice, 1), ==, "second");
  g_assert_cmpuint (ferry_signalling_get_n_junk (b), ==, 4);
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

/* What json-glib would take, or choke on, but RFC 8259 does not allow: each ends the
 * channel on both sides with the checker's code, and nothing after it is routed. */
static void
test_malformed_ends_channel (void)
{
  g_autofree char *deep = ferry_test_nested_arrays (FERRY_JSON_MAX_DEPTH);
  g_autofree char *long_string = g_strnfill (FERRY_JSON_MAX_STRING_BYTES + 1, 'x');
  g_autofree char *deep_message = g_strdup_printf ("{\"type\":\"ice\",\"x\":%s}", deep);
  g_autofree char *long_message = g_strdup_printf ("{\"type\":\"ice\",\"x\":\"%s\"}",
                                                   long_string);
  const struct
  {
    const char *text;
    int         code;
  } cases[] = {
    { "{\"type\":\"ice\" /* hi */}", FERRY_JSON_CHECK_ERROR_SYNTAX },
    { "{\"type\":\"ice\",\"x\":NaN}", FERRY_JSON_CHECK_ERROR_SYNTAX },
    { "{'type':'ice'}", FERRY_JSON_CHECK_ERROR_SYNTAX },
    { deep_message, FERRY_JSON_CHECK_ERROR_TOO_DEEP },
    { long_message, FERRY_JSON_CHECK_ERROR_STRING_TOO_LONG },
    { "not json at all", FERRY_JSON_CHECK_ERROR_SYNTAX },
    { "\xff\xfe{", FERRY_JSON_CHECK_ERROR_SYNTAX },
    { "{\"type\":\"ice\",\"x\":\"\xff\xfe\"}", FERRY_JSON_CHECK_ERROR_INVALID_TEXT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(FerryTestChannelPair) pair = ferry_test_channel_pair_new (NULL);
      g_autoptr(FerrySignalling) a = ferry_signalling_new (pair->sender);
      g_autoptr(FerrySignalling) b = ferry_signalling_new (pair->receiver);
      Seen seen_a = { NULL };
      Seen seen_b = { g_ptr_array_new_with_free_func (g_free) };

      g_test_message ("case %u", i);
      g_signal_connect (a, "closed", G_CALLBACK (closed_cb), &seen_a);
      g_signal_connect (b, "message::ice", G_CALLBACK (ice_cb), &seen_b);
      g_signal_connect (b, "message::hello", G_CALLBACK (hello_cb), &seen_b);
      g_signal_connect (b, "closed", G_CALLBACK (closed_cb), &seen_b);
      ferry_signalling_start (a);
      ferry_signalling_start (b);

      send_raw (pair->sender, cases[i].text);
      g_assert_true (ferry_signalling_send (a, "hello", NULL));

      g_assert_true (ferry_test_wait_for_flag (&seen_b.closed, TIMEOUT_MS));
      g_assert_error (seen_b.closed_error, FERRY_JSON_CHECK_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (seen_b.closed_error->message,
                                       "The other side sent a malformed message: "));
      /* What the app and ferry-cli --json call it. */
      g_assert_cmpstr (ferry_error_get_id (seen_b.closed_error), ==, "malformed-message");
      g_assert_cmpuint (seen_b.ice->len, ==, 0);
      g_assert_false (seen_b.hello);
      g_assert_cmpint (ferry_channel_get_state (pair->receiver), ==, FERRY_CHANNEL_STATE_CLOSED);
      /* The session ends for the peer too. */
      g_assert_true (ferry_test_wait_for_flag (&seen_a.closed, TIMEOUT_MS));

      g_clear_error (&seen_a.closed_error);
      g_clear_error (&seen_b.closed_error);
      g_ptr_array_unref (seen_b.ice);
    }
}

/* The parser alone: strict JSON first, then the shape of a message. */
static void
test_parse_message (void)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  const char *junk[] = { "[1]", "{\"type\":5}", "{\"type\":\"BAD\"}", "{}", "\"ice\"" };
  const char *good = "{\"type\":\"ice\",\"x\":[1,2.5e3,true,null]}";

  g_assert_true (ferry_signalling_parse_message (good, strlen (good), &object, &error));
  g_assert_no_error (error);
  g_assert_nonnull (object);
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, "ice");
  g_clear_pointer (&object, json_object_unref);

  for (guint i = 0; i < G_N_ELEMENTS (junk); i++)
    {
      g_assert_true (ferry_signalling_parse_message (junk[i], strlen (junk[i]), &object, &error));
      g_assert_no_error (error);
      g_assert_null (object);
    }

  g_assert_false (ferry_signalling_parse_message (NULL, 0, &object, &error));
  g_assert_error (error, FERRY_JSON_CHECK_ERROR, FERRY_JSON_CHECK_ERROR_SYNTAX);
  g_assert_null (object);
  g_clear_error (&error);
  /* Not NUL-terminated: only @len bytes are read. */
  g_assert_false (ferry_signalling_parse_message ("{\"type\":\"ice\"}x", 15, &object, &error));
  g_assert_error (error, FERRY_JSON_CHECK_ERROR, FERRY_JSON_CHECK_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_true (ferry_signalling_parse_message ("{\"type\":\"ice\"}x", 14, &object, &error));
  g_assert_nonnull (object);
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
  g_test_add_func ("/signalling/malformed-ends-channel", test_malformed_ends_channel);
  g_test_add_func ("/signalling/parse-message", test_parse_message);

  return g_test_run ();
}
