/* test-channel.c
 *
 * Two people with one share code meet through a real ferry-rendezvous and
 * end up with the same key; anybody else does not.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-channel.h"
#include "ferry-code.h"
#include "ferry-pake.h"
#include "ferry-rendezvous-client.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 10000

typedef struct
{
  FerryTestRendezvous   *server;
  FerryRendezvousClient *client;
} Fixture;

typedef struct
{
  gboolean  done;
  gboolean  ok;
  char     *code;
  GBytes   *bytes;
  GError   *error;
} Result;

static void
result_clear (Result *result)
{
  g_clear_pointer (&result->code, g_free);
  g_clear_pointer (&result->bytes, g_bytes_unref);
  g_clear_error (&result->error);
  result->done = FALSE;
  result->ok = FALSE;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->server = ferry_test_rendezvous_start (NULL);
  fixture->client = ferry_rendezvous_client_new (fixture->server->url);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_object (&fixture->client);
  g_clear_pointer (&fixture->server, ferry_test_rendezvous_free);
}

static void
create_code_cb (GObject      *object,
                GAsyncResult *res,
                gpointer      user_data)
{
  Result *result = user_data;

  result->code = ferry_channel_create_code_finish (FERRY_CHANNEL (object), res, &result->error);
  result->ok = result->code != NULL;
  result->done = TRUE;
}

static void
open_code_cb (GObject      *object,
              GAsyncResult *res,
              gpointer      user_data)
{
  Result *result = user_data;

  result->ok = ferry_channel_open_code_finish (FERRY_CHANNEL (object), res, &result->error);
  result->done = TRUE;
}

static void
connect_cb (GObject      *object,
            GAsyncResult *res,
            gpointer      user_data)
{
  Result *result = user_data;

  result->ok = ferry_channel_connect_finish (FERRY_CHANNEL (object), res, &result->error);
  result->done = TRUE;
}

static void
receive_cb (GObject      *object,
            GAsyncResult *res,
            gpointer      user_data)
{
  Result *result = user_data;

  result->bytes = ferry_channel_receive_finish (FERRY_CHANNEL (object), res, &result->error);
  result->ok = result->bytes != NULL;
  result->done = TRUE;
}

static char *
create_code (FerryChannel *channel)
{
  Result result = { 0 };
  char *code;

  ferry_channel_create_code_async (channel, 3, NULL, create_code_cb, &result);
  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_no_error (result.error);
  code = g_steal_pointer (&result.code);
  result_clear (&result);

  return code;
}

static void
open_code (FerryChannel *channel,
           const char   *code,
           Result       *result)
{
  ferry_channel_open_code_async (channel, code, NULL, open_code_cb, result);
  g_assert_true (ferry_test_wait_for_flag (&result->done, TIMEOUT_MS));
}

/* Runs both sides' PAKE at once and waits for both to finish. */
static void
connect_both (FerryChannel *sender,
              FerryChannel *receiver,
              Result       *sent,
              Result       *received)
{
  ferry_channel_connect_async (sender, NULL, connect_cb, sent);
  ferry_channel_connect_async (receiver, NULL, connect_cb, received);
  g_assert_true (ferry_test_wait_for_flag (&sent->done, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_for_flag (&received->done, TIMEOUT_MS));
}

static GBytes *
receive_one (FerryChannel *channel)
{
  Result result = { 0 };

  ferry_channel_receive_async (channel, NULL, receive_cb, &result);
  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_no_error (result.error);

  return g_steal_pointer (&result.bytes);
}

static void
test_same_code_same_key (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(FerryChannel) sender = ferry_channel_new (fixture->client);
  g_autoptr(FerryChannel) receiver = ferry_channel_new (fixture->client);
  g_autofree char *code = NULL;
  g_autofree char *typed = NULL;
  Result opened = { 0 }, sent = { 0 }, received = { 0 };
  guint8 key_a[32], key_b[32], other[32];

  code = create_code (sender);
  g_assert_cmpint (ferry_channel_get_state (sender), ==, FERRY_CHANNEL_STATE_WAITING);

  /* The receiver types it the way a person would. */
  typed = g_ascii_strup (code, -1);
  g_strdelimit (typed, "-", ' ');
  open_code (receiver, typed, &opened);
  g_assert_no_error (opened.error);
  g_assert_cmpstr (ferry_channel_get_code (receiver), ==, code);

  connect_both (sender, receiver, &sent, &received);
  g_assert_no_error (sent.error);
  g_assert_no_error (received.error);
  g_assert_cmpint (ferry_channel_get_state (sender), ==, FERRY_CHANNEL_STATE_CONNECTED);
  g_assert_cmpint (ferry_channel_get_state (receiver), ==, FERRY_CHANNEL_STATE_CONNECTED);

  ferry_channel_derive_key (sender, "test", key_a);
  ferry_channel_derive_key (receiver, "test", key_b);
  g_assert_cmpmem (key_a, sizeof key_a, key_b, sizeof key_b);
  ferry_channel_derive_key (receiver, "other purpose", other);
  g_assert_true (memcmp (key_a, other, sizeof key_a) != 0);

  /* Sealed messages flow both ways, in order. */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u from the sender", i);
      g_autoptr(GBytes) out = g_bytes_new (text, strlen (text));

      ferry_channel_send (sender, out);
    }
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u from the sender", i);
      g_autoptr(GBytes) in = receive_one (receiver);

      g_assert_cmpmem (g_bytes_get_data (in, NULL), g_bytes_get_size (in), text, strlen (text));
    }

  {
    g_autoptr(GBytes) out = g_bytes_new_static ("reply", 5);
    g_autoptr(GBytes) in = NULL;

    ferry_channel_send (receiver, out);
    in = receive_one (sender);
    g_assert_true (g_bytes_equal (in, out));
  }

  ferry_channel_close (sender);
  ferry_channel_close (receiver);
  result_clear (&opened);
  result_clear (&sent);
  result_clear (&received);
}

static void
test_wrong_code_fails_both_and_burns (Fixture       *fixture,
                                      gconstpointer  data)
{
  g_autoptr(FerryChannel) sender = ferry_channel_new (fixture->client);
  g_autoptr(FerryChannel) receiver = ferry_channel_new (fixture->client);
  g_autoptr(FerryChannel) retry = ferry_channel_new (fixture->client);
  g_autofree char *code = NULL;
  g_autofree char *wrong = NULL;
  Result opened = { 0 }, sent = { 0 }, received = { 0 }, again = { 0 };

  code = create_code (sender);
  wrong = ferry_test_wrong_code_for (code);
  g_assert_cmpstr (code, !=, wrong);

  open_code (receiver, wrong, &opened);
  g_assert_no_error (opened.error);

  connect_both (sender, receiver, &sent, &received);
  g_assert_error (sent.error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
  g_assert_error (received.error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
  /* The sender's code was right: it learns that somebody guessed at it. */
  g_assert_true (g_str_has_prefix (sent.error->message, "Someone else tried this code"));
  g_assert_true (g_str_has_prefix (received.error->message, "The code is wrong"));
  g_assert_cmpint (ferry_channel_get_state (sender), ==, FERRY_CHANNEL_STATE_FAILED);
  g_assert_cmpint (ferry_channel_get_state (receiver), ==, FERRY_CHANNEL_STATE_FAILED);

  /* One guess per code: even the right code no longer opens that mailbox. Each side
   * reports the wrong code only once the server has closed it, so the burn has happened. */
  open_code (retry, code, &again);
  g_assert_error (again.error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND);

  result_clear (&opened);
  result_clear (&sent);
  result_clear (&received);
  result_clear (&again);
}

static void
test_malformed_code (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerryChannel) receiver = ferry_channel_new (fixture->client);
  Result opened = { 0 };

  open_code (receiver, "orbit-tulip-canvas", &opened);
  g_assert_error (opened.error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_NO_NAMEPLATE);
  g_assert_cmpint (ferry_channel_get_state (receiver), ==, FERRY_CHANNEL_STATE_NEW);
  result_clear (&opened);
}

static void
test_third_side_refused (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(FerryChannel) sender = ferry_channel_new (fixture->client);
  g_autoptr(FerryChannel) receiver = ferry_channel_new (fixture->client);
  g_autoptr(FerryChannel) third = ferry_channel_new (fixture->client);
  g_autofree char *code = NULL;
  Result opened = { 0 }, sent = { 0 }, received = { 0 }, extra = { 0 };

  code = create_code (sender);
  open_code (receiver, code, &opened);
  g_assert_no_error (opened.error);
  connect_both (sender, receiver, &sent, &received);
  g_assert_no_error (sent.error);
  g_assert_no_error (received.error);

  open_code (third, code, &extra);
  g_assert_error (extra.error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CROWDED);

  /* The two who belong keep talking. */
  {
    g_autoptr(GBytes) out = g_bytes_new_static ("still here", 10);
    g_autoptr(GBytes) in = NULL;

    ferry_channel_send (sender, out);
    in = receive_one (receiver);
    g_assert_true (g_bytes_equal (in, out));
  }

  result_clear (&opened);
  result_clear (&sent);
  result_clear (&received);
  result_clear (&extra);
}

static void
test_cancel_waiting (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerryChannel) sender = ferry_channel_new (fixture->client);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *code = NULL;
  Result sent = { 0 };

  code = create_code (sender);
  ferry_channel_connect_async (sender, cancellable, connect_cb, &sent);
  g_cancellable_cancel (cancellable);
  g_assert_true (ferry_test_wait_for_flag (&sent.done, TIMEOUT_MS));
  g_assert_error (sent.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  result_clear (&sent);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/channel/same-code-same-key", Fixture, NULL,
              fixture_setup, test_same_code_same_key, fixture_teardown);
  g_test_add ("/channel/wrong-code-fails-both-and-burns", Fixture, NULL,
              fixture_setup, test_wrong_code_fails_both_and_burns, fixture_teardown);
  g_test_add ("/channel/malformed-code", Fixture, NULL,
              fixture_setup, test_malformed_code, fixture_teardown);
  g_test_add ("/channel/third-side-refused", Fixture, NULL,
              fixture_setup, test_third_side_refused, fixture_teardown);
  g_test_add ("/channel/cancel-waiting", Fixture, NULL,
              fixture_setup, test_cancel_waiting, fixture_teardown);

  return g_test_run ();
}
