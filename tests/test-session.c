/* test-session.c
 *
 * The whole path of one transfer on one machine: a real ferry-rendezvous,
 * the PAKE, real libnice agents on loopback, QUIC and the transfer
 * protocol, with real files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include "ferry-pake.h"
#include "ferry-session.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 30000

typedef struct
{
  FerryTestRendezvous   *server;
  FerryRendezvousClient *client;
  char                  *dir;
  GFile                 *source;
  GFile                 *target;
  FerryStore            *sender_store;
  FerryStore            *receiver_store;
} Fixture;

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} Run;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *source = NULL;
  g_autofree char *target = NULL;
  g_autofree char *nested = NULL;
  g_autofree char *path = NULL;

  fixture->server = ferry_test_rendezvous_start (NULL);
  fixture->client = ferry_rendezvous_client_new (fixture->server->url);
  fixture->dir = ferry_test_make_temp_dir ("session");

  source = g_build_filename (fixture->dir, "Urlaub Fotos", NULL);
  nested = g_build_filename (source, "Tag 1 – Strand", NULL);
  target = g_build_filename (fixture->dir, "Downloads", NULL);
  g_assert_cmpint (g_mkdir_with_parents (nested, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (target, 0755), ==, 0);

  path = g_build_filename (source, "big.bin", NULL);
  ferry_test_write_random_file (path, 5 * 1024 * 1024 + 17, 1);
  g_free (path);
  path = g_build_filename (nested, "meer.jpg", NULL);
  ferry_test_write_random_file (path, 300000, 2);
  g_free (path);
  path = g_build_filename (source, "leer.txt", NULL);
  ferry_test_write_random_file (path, 0, 3);
  g_free (path);
  path = g_build_filename (source, "Leerer Ordner", NULL);
  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);

  fixture->source = g_file_new_for_path (source);
  fixture->target = g_file_new_for_path (target);
  /* Each side has its own SQLite file, as on two machines. */
  fixture->sender_store = ferry_test_open_store (fixture->dir, "sender.db", NULL);
  fixture->receiver_store = ferry_test_open_store (fixture->dir, "receiver.db", NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  ferry_store_close (fixture->sender_store);
  ferry_store_close (fixture->receiver_store);
  g_clear_object (&fixture->sender_store);
  g_clear_object (&fixture->receiver_store);
  ferry_test_clear_temp_dir (&fixture->dir);
  g_clear_object (&fixture->source);
  g_clear_object (&fixture->target);
  g_clear_object (&fixture->client);
  g_clear_pointer (&fixture->server, ferry_test_rendezvous_free);
}

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  Run *run = user_data;

  run->ok = ferry_session_run_finish (FERRY_SESSION (object), result, &run->error);
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

/* Starts a sender and a receiver that meet with the sender's code, and
 * waits until the receiver is shown the offer. */
static void
start_pair (Fixture       *fixture,
            FerrySession **sender,
            FerrySession **receiver,
            Run           *sent,
            Run           *received)
{
  *sender = ferry_session_new_sender (fixture->client, fixture->sender_store, &fixture->source, 1);
  ferry_session_run_async (*sender, NULL, run_cb, sent);
  g_assert_true (ferry_test_wait_until (has_code, *sender, TIMEOUT_MS));

  *receiver = ferry_session_new_receiver (fixture->client, fixture->receiver_store,
                                          ferry_session_get_code (*sender), fixture->target);
  ferry_session_run_async (*receiver, NULL, run_cb, received);
  g_assert_true (ferry_test_wait_until (offer_received, *receiver, TIMEOUT_MS));
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

static void
assert_same_file (GFile      *a_root,
                  GFile      *b_root,
                  const char *relative)
{
  g_autoptr(GFile) a = g_file_resolve_relative_path (a_root, relative);
  g_autoptr(GFile) b = g_file_resolve_relative_path (b_root, relative);
  g_autofree char *a_digest = file_digest (a);
  g_autofree char *b_digest = file_digest (b);

  g_assert_cmpstr (a_digest, ==, b_digest);
}

static void
test_send_folder (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(FerrySession) sender = NULL;
  g_autoptr(FerrySession) receiver = NULL;
  g_autoptr(GFile) arrived = g_file_get_child (fixture->target, "Urlaub Fotos");
  g_autoptr(GFile) empty = NULL;
  Run sent = { 0 }, received = { 0 };
  FerryPathKind kind_while_offered;
  FerryPath *path;

  start_pair (fixture, &sender, &receiver, &sent, &received);

  /* Both on one machine: host candidates win, on both sides. */
  path = ferry_session_get_path (receiver);
  g_assert_nonnull (path);
  kind_while_offered = ferry_path_get_kind (path);
  g_assert_cmpint (ferry_path_get_kind (ferry_session_get_path (sender)), ==,
                   FERRY_PATH_KIND_DIRECT_LAN);

  /* Nothing lands before the receiver says yes. */
  g_assert_false (g_file_query_exists (arrived, NULL));
  g_assert_nonnull (ferry_session_get_offer (receiver));

  ferry_session_accept (receiver, NULL);
  g_assert_true (ferry_test_wait_for_flag (&sent.done, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_for_flag (&received.done, TIMEOUT_MS));
  g_assert_no_error (sent.error);
  g_assert_no_error (received.error);
  g_assert_cmpint (ferry_session_get_state (sender), ==, FERRY_SESSION_STATE_DONE);
  g_assert_cmpint (ferry_session_get_state (receiver), ==, FERRY_SESSION_STATE_DONE);

  assert_same_file (fixture->source, arrived, "big.bin");
  assert_same_file (fixture->source, arrived, "Tag 1 – Strand/meer.jpg");
  assert_same_file (fixture->source, arrived, "leer.txt");
  g_assert_cmpint (kind_while_offered, ==, FERRY_PATH_KIND_DIRECT_LAN);
  empty = g_file_resolve_relative_path (arrived, "Leerer Ordner");
  g_assert_cmpint (g_file_query_file_type (empty, G_FILE_QUERY_INFO_NONE, NULL),
                   ==, G_FILE_TYPE_DIRECTORY);

}

static void
test_decline (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(FerrySession) sender = NULL;
  g_autoptr(FerrySession) receiver = NULL;
  g_autoptr(GFile) arrived = g_file_get_child (fixture->target, "Urlaub Fotos");
  Run sent = { 0 }, received = { 0 };

  start_pair (fixture, &sender, &receiver, &sent, &received);
  ferry_session_decline (receiver, "Not now, thanks");

  g_assert_true (ferry_test_wait_for_flag (&sent.done, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_for_flag (&received.done, TIMEOUT_MS));
  g_assert_error (sent.error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_DECLINED);
  g_assert_nonnull (strstr (sent.error->message, "Not now, thanks"));
  g_assert_cmpint (ferry_session_get_state (sender), ==, FERRY_SESSION_STATE_FAILED);
  g_assert_false (g_file_query_exists (arrived, NULL));

  g_clear_error (&sent.error);
  g_clear_error (&received.error);
}

static void
test_wrong_code (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(FerrySession) sender = NULL;
  g_autoptr(FerrySession) receiver = NULL;
  g_autofree char *wrong = NULL;
  Run sent = { 0 }, received = { 0 };

  sender = ferry_session_new_sender (fixture->client, fixture->sender_store, &fixture->source, 1);
  ferry_session_run_async (sender, NULL, run_cb, &sent);
  g_assert_true (ferry_test_wait_until (has_code, sender, TIMEOUT_MS));

  wrong = ferry_test_wrong_code_for (ferry_session_get_code (sender));
  receiver = ferry_session_new_receiver (fixture->client, fixture->receiver_store, wrong, fixture->target);
  ferry_session_run_async (receiver, NULL, run_cb, &received);

  g_assert_true (ferry_test_wait_for_flag (&sent.done, TIMEOUT_MS));
  g_assert_true (ferry_test_wait_for_flag (&received.done, TIMEOUT_MS));
  g_assert_error (sent.error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
  g_assert_error (received.error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);

  g_clear_error (&sent.error);
  g_clear_error (&received.error);
}

static void
test_cancel_waiting_sender (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(FerrySession) sender = NULL;
  Run sent = { 0 };

  sender = ferry_session_new_sender (fixture->client, fixture->sender_store, &fixture->source, 1);
  ferry_session_run_async (sender, NULL, run_cb, &sent);
  g_assert_true (ferry_test_wait_until (has_code, sender, TIMEOUT_MS));

  ferry_session_cancel (sender, NULL);
  g_assert_true (ferry_test_wait_for_flag (&sent.done, TIMEOUT_MS));
  g_assert_error (sent.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&sent.error);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/session/send-folder", Fixture, NULL,
              fixture_setup, test_send_folder, fixture_teardown);
  g_test_add ("/session/decline", Fixture, NULL,
              fixture_setup, test_decline, fixture_teardown);
  g_test_add ("/session/wrong-code", Fixture, NULL,
              fixture_setup, test_wrong_code, fixture_teardown);
  g_test_add ("/session/cancel-waiting-sender", Fixture, NULL,
              fixture_setup, test_cancel_waiting_sender, fixture_teardown);

  return g_test_run ();
}
