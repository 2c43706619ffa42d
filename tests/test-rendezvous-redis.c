/* test-rendezvous-redis.c
 *
 * Several ferry-rendezvous instances sharing one real redis-server: codes
 * made on one are joined on another, an instance killed with SIGKILL loses
 * nothing, and a Redis that goes away is told and recovered from.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-rendezvous-redis"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ferry-rendezvous-client.h"
#include "ferry-rendezvous-protocol.h"
#include "ferry-session.h"
#include "ferry-store.h"
#include "ferry-test-redis.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 30000
#define N_CONCURRENT 8 /* two per instance make the default per-address limit */

typedef struct
{
  FerryTestRedis      *redis;
  FerryTestRendezvous *a;
  FerryTestRendezvous *b;
  char                *dir;
} Fixture;

#define TURN_SECRET    "shared-by-every-instance"
#define ICE_PER_MINUTE "3"

static FerryTestRendezvous *
start_instance (Fixture *fixture,
                guint16  port)
{
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  const char *args[] = { "--redis", fixture->redis->url, "--listen", listen,
                         "--turn-secret", TURN_SECRET, "--turn", "turn:127.0.0.1:3478",
                         "--ice-per-minute", ICE_PER_MINUTE, NULL };

  return ferry_test_rendezvous_start (args);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->redis = ferry_test_redis_start ();
  fixture->a = start_instance (fixture, 0);
  fixture->b = start_instance (fixture, 0);
  fixture->dir = ferry_test_make_temp_dir ("rendezvous-redis");
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_pointer (&fixture->a, ferry_test_rendezvous_free);
  g_clear_pointer (&fixture->b, ferry_test_rendezvous_free);
  g_clear_pointer (&fixture->redis, ferry_test_redis_free);
  ferry_test_clear_temp_dir (&fixture->dir);
}

/* kill -9, then a new instance on the same port. */
static void
restart_instance (Fixture              *fixture,
                  FerryTestRendezvous **instance)
{
  guint16 port = (*instance)->port;

  g_clear_pointer (instance, ferry_test_rendezvous_free);
  *instance = start_instance (fixture, port);
  g_assert_cmpuint ((*instance)->port, ==, port);
}

/* HTTP ----------------------------------------------------------------- */

typedef struct
{
  GBytes   *body;
  GError   *error;
  gboolean  done;
} Answer;

static void
send_and_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Answer *answer = user_data;

  answer->body = soup_session_send_and_read_finish (SOUP_SESSION (object), result,
                                                    &answer->error);
  answer->done = TRUE;
}

/* GET /healthz: its status, and the "store" member. */
static guint
healthz (FerryTestRendezvous  *server,
         char                **store)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (server->url, FERRY_RENDEZVOUS_PATH_HEALTH, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  Answer answer = { 0 };

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, send_and_read_cb,
                                    &answer);
  g_assert_true (ferry_test_wait_for_flag (&answer.done, TIMEOUT_MS));
  g_assert_no_error (answer.error);
  json_parser_load_from_data (parser, g_bytes_get_data (answer.body, NULL),
                              g_bytes_get_size (answer.body), &error);
  g_bytes_unref (answer.body);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "backend"), ==, "redis");
  if (store != NULL)
    *store = g_strdup (json_object_get_string_member (object, "store"));
  return soup_message_get_status (msg);
}

static gboolean
store_connected (gpointer user_data)
{
  g_autofree char *store = NULL;

  return healthz (user_data, &store) == SOUP_STATUS_OK && g_strcmp0 (store, "connected") == 0;
}

/* Mailboxes ------------------------------------------------------------ */

static FerryMailbox *
open_mailbox (FerryRendezvousClient *client,
              const char            *nameplate)
{
  g_autoptr(GError) error = NULL;
  FerryMailbox *mailbox = ferry_test_open_mailbox (client, nameplate, NULL, &error);

  g_assert_no_error (error);
  return mailbox;
}

static void
assert_receives (FerryMailbox *mailbox,
                 const char   *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = ferry_test_receive (mailbox, &error);
  g_autoptr(GBytes) expected = g_bytes_new (text, strlen (text));

  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (bytes, expected));
}

/* The end of a mailbox, as its receiver sees it. */
static void
assert_ends_with (FerryMailbox *mailbox,
                  gint          code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = ferry_test_receive (mailbox, &error);

  g_assert_null (bytes);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, code);
}

/* A TURN credential for @token, from whichever instance @client talks to. */
static void
assert_turn_credential (FerryRendezvousClient *client,
                        const char            *token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) ice = ferry_test_fetch_ice (client, token, &error);
  JsonArray *turn;
  JsonObject *server;

  g_assert_no_error (error);
  turn = json_object_get_array_member (ice, "turn");
  g_assert_cmpuint (json_array_get_length (turn), ==, 1);
  server = json_array_get_object_element (turn, 0);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (server, "username"),
                                   ":ferry"));
  g_assert_cmpstr (json_object_get_string_member (server, "credential"), !=, "");
}

/* Sessions ------------------------------------------------------------- */

typedef struct
{
  gboolean  done;
  GError   *error;
} Run;

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  Run *run = user_data;

  ferry_session_run_finish (FERRY_SESSION (object), result, &run->error);
  run->done = TRUE;
}

static gboolean
has_code (gpointer session)
{
  return ferry_session_get_code (session) != NULL &&
         ferry_session_get_state (session) >= FERRY_SESSION_STATE_WAITING;
}

static gboolean
offer_received (gpointer session)
{
  return ferry_session_get_state (session) == FERRY_SESSION_STATE_OFFER_RECEIVED;
}

typedef struct
{
  FerryStore   *sender_store;
  FerryStore   *receiver_store;
  GFile        *source;
  GFile        *target;
  FerrySession *sender;
  FerrySession *receiver;
  Run           sent;
  Run           received;
} Transfer;

/* A sender on @client_a with a random file, waiting with its code. */
static Transfer *
transfer_start (Fixture               *fixture,
                FerryRendezvousClient *client_a)
{
  Transfer *transfer = g_new0 (Transfer, 1);
  g_autofree char *source = g_build_filename (fixture->dir, "payload.bin", NULL);
  g_autofree char *target = g_build_filename (fixture->dir, "Downloads", NULL);

  ferry_test_write_random_file (source, 1024 * 1024 + 3, 7);
  g_assert_cmpint (g_mkdir_with_parents (target, 0755), ==, 0);
  transfer->source = g_file_new_for_path (source);
  transfer->target = g_file_new_for_path (target);
  transfer->sender_store = ferry_test_open_store (fixture->dir, "sender.db", NULL);
  transfer->receiver_store = ferry_test_open_store (fixture->dir, "receiver.db", NULL);

  transfer->sender = ferry_session_new_sender (client_a, transfer->sender_store,
                                               &transfer->source, 1);
  ferry_session_run_async (transfer->sender, NULL, run_cb, &transfer->sent);
  g_assert_true (ferry_test_wait_until (has_code, transfer->sender, TIMEOUT_MS));
  return transfer;
}

static char *
file_digest (GFile *file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  g_file_load_contents (file, NULL, &contents, &length, NULL, &error);
  g_assert_no_error (error);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

/* The receiver on @client_b joins with the code; the bytes must arrive. */
static void
transfer_finish (Transfer              *transfer,
                 FerryRendezvousClient *client_b)
{
  g_autoptr(GFile) arrived = g_file_get_child (transfer->target, "payload.bin");
  g_autofree char *sent_digest = NULL;
  g_autofree char *got_digest = NULL;

  transfer->receiver = ferry_session_new_receiver (client_b, transfer->receiver_store,
                                                   ferry_session_get_code (transfer->sender),
                                                   transfer->target);
  ferry_session_run_async (transfer->receiver, NULL, run_cb, &transfer->received);
  g_assert_true (ferry_test_wait_until (offer_received, transfer->receiver, TIMEOUT_MS));
  ferry_session_accept (transfer->receiver, NULL);
  g_assert_true (ferry_test_wait_for_flag (&transfer->sent.done, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_for_flag (&transfer->received.done, TIMEOUT_MS));
  g_assert_no_error (transfer->sent.error);
  g_assert_no_error (transfer->received.error);
  g_assert_cmpint (ferry_session_get_state (transfer->sender), ==, FERRY_SESSION_STATE_DONE);
  g_assert_cmpint (ferry_session_get_state (transfer->receiver), ==, FERRY_SESSION_STATE_DONE);

  sent_digest = file_digest (transfer->source);
  got_digest = file_digest (arrived);
  g_assert_cmpstr (sent_digest, ==, got_digest);
}

static void
transfer_free (Transfer *transfer)
{
  g_clear_object (&transfer->sender);
  g_clear_object (&transfer->receiver);
  ferry_store_close (transfer->sender_store);
  ferry_store_close (transfer->receiver_store);
  g_clear_object (&transfer->sender_store);
  g_clear_object (&transfer->receiver_store);
  g_clear_object (&transfer->source);
  g_clear_object (&transfer->target);
  g_free (transfer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Transfer, transfer_free)

/* Tests ---------------------------------------------------------------- */

/* A code made on one instance is good on the other: a whole transfer. */
static void
test_two_instances (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  g_autoptr(Transfer) transfer = NULL;

  g_assert_true (store_connected (fixture->a));
  g_assert_true (store_connected (fixture->b));
  transfer = transfer_start (fixture, client_a);
  transfer_finish (transfer, client_b);
}

/* Both instances at once hand out each number once, lowest first. */
static void
test_allocate_atomic (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  GAsyncResult *results[2 * N_CONCURRENT] = { NULL };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    ferry_rendezvous_client_allocate_async (i % 2 == 0 ? client_a : client_b, NULL,
                                            ferry_test_async_result_cb, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GError) error = NULL;
      FerryRendezvousClient *client = i % 2 == 0 ? client_a : client_b;
      char *nameplate;

      ferry_test_wait_async_result (&results[i], TIMEOUT_MS);
      nameplate = ferry_rendezvous_client_allocate_finish (client, results[i], &error);
      g_assert_no_error (error);
      g_assert_false (g_hash_table_contains (seen, nameplate));
      g_hash_table_add (seen, nameplate);
      g_clear_object (&results[i]);
    }
  for (guint n = 1; n <= G_N_ELEMENTS (results); n++)
    {
      g_autofree char *text = g_strdup_printf ("%u", n);

      g_assert_true (g_hash_table_contains (seen, text));
    }
}

/* The sender's instance dies while its code waits: the sender joins its
 * mailbox again on the restarted instance, and the receiver, on the
 * other instance, gets the file. */
static void
test_sender_instance_killed (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  g_autoptr(Transfer) transfer = transfer_start (fixture, client_a);

  restart_instance (fixture, &fixture->a);
  g_assert_false (transfer->sent.done);
  transfer_finish (transfer, client_b);
}

/* Messages each way while one side's instance is dead: each arrives once,
 * in order, after the side is back. */
static void
test_resume_exactly_once (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client_a, NULL, &error);
  g_autoptr(FerryMailbox) one = NULL;
  g_autoptr(FerryMailbox) two = NULL;
  guint16 port;

  g_assert_no_error (error);
  one = open_mailbox (client_a, nameplate);
  two = open_mailbox (client_b, nameplate);

  ferry_test_send_text (one, "m1");
  ferry_test_send_text (two, "r1");
  assert_receives (two, "m1");
  assert_receives (one, "r1");

  port = fixture->a->port;
  g_clear_pointer (&fixture->a, ferry_test_rendezvous_free);
  /* Sent while one's instance is dead: waits in Redis, and in one. */
  ferry_test_send_text (two, "r2");
  ferry_test_send_text (one, "m2");
  ferry_test_send_text (one, "m3");
  fixture->a = start_instance (fixture, port);

  assert_receives (one, "r2");
  assert_receives (two, "m2");
  assert_receives (two, "m3");

  /* Nothing came twice: the next ones are the next ones. */
  ferry_test_send_text (one, "m4");
  ferry_test_send_text (two, "r3");
  assert_receives (two, "m4");
  assert_receives (one, "r3");
  g_assert_false (ferry_mailbox_is_closed (one));

  /* Ending still ends, across instances. */
  ferry_mailbox_close (one, SOUP_WEBSOCKET_CLOSE_NORMAL);
  assert_ends_with (two, FERRY_RENDEZVOUS_ERROR_CLOSED);
}

/* A side's token is good on every instance, not only the one it joined,
 * and so is its request count; once the side left, no instance honours it. */
static void
test_ice_across_instances (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client_a, NULL, &error);
  g_autoptr(FerryMailbox) one = NULL;
  g_autoptr(FerryMailbox) two = NULL;
  g_autoptr(JsonObject) refused = NULL;
  g_autofree char *token_two = NULL;

  g_assert_no_error (error);
  one = open_mailbox (client_a, nameplate);
  two = open_mailbox (client_b, nameplate);
  token_two = g_strdup (ferry_mailbox_get_token (two));
  g_assert_nonnull (ferry_mailbox_get_token (one));
  g_assert_nonnull (token_two);

  assert_turn_credential (client_b, ferry_mailbox_get_token (one));
  assert_turn_credential (client_a, token_two);

  /* The limit counts the side's requests on both instances. */
  assert_turn_credential (client_b, token_two);
  assert_turn_credential (client_a, token_two);
  refused = ferry_test_fetch_ice (client_b, token_two, &error);
  g_assert_null (refused);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
  g_clear_error (&error);

  /* A token that names no side is refused everywhere. */
  refused = ferry_test_fetch_ice (client_a, "00000000000000000000000000000000", &error);
  g_assert_null (refused);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
  g_clear_error (&error);

  /* The side that left is out on the other instance too. */
  ferry_mailbox_close (one, SOUP_WEBSOCKET_CLOSE_NORMAL);
  assert_ends_with (two, FERRY_RENDEZVOUS_ERROR_CLOSED);
  refused = ferry_test_fetch_ice (client_b, ferry_mailbox_get_token (one), &error);
  g_assert_null (refused);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
}

/* Redis goes away mid-session: sides are told, /healthz says so, new codes
 * are refused with "try again later"; once Redis is back all works. */
static void
test_redis_restart (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(FerryRendezvousClient) client_a = ferry_rendezvous_client_new (fixture->a->url);
  g_autoptr(FerryRendezvousClient) client_b = ferry_rendezvous_client_new (fixture->b->url);
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client_a, NULL, &error);
  g_autofree char *store = NULL;
  g_autofree char *again = NULL;
  g_autoptr(FerryMailbox) one = NULL;
  g_autoptr(FerryMailbox) two = NULL;

  g_assert_no_error (error);
  one = open_mailbox (client_a, nameplate);
  two = open_mailbox (client_b, nameplate);
  ferry_test_send_text (one, "before");
  assert_receives (two, "before");

  ferry_test_redis_stop (fixture->redis);
  assert_ends_with (one, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
  assert_ends_with (two, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
  g_assert_cmpuint (healthz (fixture->a, &store), ==, SOUP_STATUS_SERVICE_UNAVAILABLE);
  g_assert_cmpstr (store, ==, "disconnected");
  again = ferry_test_allocate (client_b, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
  g_clear_error (&error);

  ferry_test_redis_restart (fixture->redis);
  g_assert_true (ferry_test_wait_until (store_connected, fixture->a, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_until (store_connected, fixture->b, TIMEOUT_MS));

  /* Redis kept nothing (no persistence): the numbers start again. */
  again = ferry_test_allocate (client_b, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, "1");
  g_clear_object (&one);
  g_clear_object (&two);
  one = open_mailbox (client_b, again);
  two = open_mailbox (client_a, again);
  ferry_test_send_text (two, "after");
  assert_receives (one, "after");
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/rendezvous-redis/two-instances", Fixture, NULL, fixture_setup,
              test_two_instances, fixture_teardown);
  g_test_add ("/rendezvous-redis/allocate-atomic", Fixture, NULL, fixture_setup,
              test_allocate_atomic, fixture_teardown);
  g_test_add ("/rendezvous-redis/sender-instance-killed", Fixture, NULL, fixture_setup,
              test_sender_instance_killed, fixture_teardown);
  g_test_add ("/rendezvous-redis/resume-exactly-once", Fixture, NULL, fixture_setup,
              test_resume_exactly_once, fixture_teardown);
  g_test_add ("/rendezvous-redis/ice-across-instances", Fixture, NULL, fixture_setup,
              test_ice_across_instances, fixture_teardown);
  g_test_add ("/rendezvous-redis/redis-restart", Fixture, NULL, fixture_setup,
              test_redis_restart, fixture_teardown);

  return g_test_run ();
}
