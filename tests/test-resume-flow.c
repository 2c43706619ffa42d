/* test-resume-flow.c
 *
 * The pieces of a transfer together, without a network: a sender's offer
 * built from real files, validated from JSON by the receiver, files landing
 * in the target through the store, an interruption, and a resume that sends
 * nothing already verified. It is also the reference for how the transfer
 * protocol is meant to drive the offer, the receive plan, the target and the
 * store.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>

#include "ferry-receive-plan.h"
#include "ferry-store.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 20000
#define CHUNK      (64 * 1024)

typedef struct
{
  char *dir;
  char *source;
  char *target;
  char *db_path;
  GBytes *secret;    /* the sender's: what the receiver issued it */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("flow");
  fixture->source = g_build_filename (fixture->dir, "source", NULL);
  fixture->target = g_build_filename (fixture->dir, "target", NULL);
  fixture->db_path = g_build_filename (fixture->dir, "ferry.db", NULL);
  g_assert_no_errno (g_mkdir (fixture->source, 0755));
  g_assert_no_errno (g_mkdir (fixture->target, 0755));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->source);
  g_free (fixture->target);
  g_free (fixture->db_path);
  g_clear_pointer (&fixture->secret, g_bytes_unref);
}

static void
update_done (FerryStore    *store,
             GAsyncResult **slot)
{
  g_autoptr(GError) error = NULL;

  ferry_test_wait_async_result (slot, TIMEOUT_MS);
  g_assert_true (ferry_store_update_finish (store, *slot, &error));
  g_assert_no_error (error);
  g_clear_object (slot);
}

/* One attempt at receiving @offer. The "network" is the sender's file read
 * from the resume point. Stops after @budget bytes (0: no limit), like a
 * dropped connection. Returns the bytes that were "sent".
 */
static guint64
receive_attempt (Fixture    *fixture,
                 FerryOffer *sender_offer,
                 FerryOffer *offer,
                 guint64     budget,
                 gboolean   *completed)
{
  g_autoptr(FerryStore) store = ferry_test_open_store (fixture->db_path, NULL);
  g_autoptr(GFile) folder = g_file_new_for_path (fixture->target);
  g_autoptr(FerryReceivePlan) plan = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc (CHUNK);
  guint64 sent = 0;
  FerryStoreResumeClaim claim = { .binding = "this session" };

  /* The sender proves the secret it was issued last time: only then does
   * the receiver resume (see ferry-resume-proof.c). */
  if (fixture->secret != NULL)
    ferry_resume_proof_compute (g_bytes_get_data (fixture->secret, NULL), claim.binding,
                                claim.proof);
  ferry_store_begin_transfer_async (store, FERRY_STORE_RECEIVE, offer, fixture->target,
                                    "Bob", fixture->secret ? &claim : NULL, NULL,
                                    ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  transfer = ferry_store_begin_transfer_finish (store, result, &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_nonnull (transfer->resume_secret);
  g_clear_pointer (&fixture->secret, g_bytes_unref);
  fixture->secret = g_bytes_ref (transfer->resume_secret);

  /* What the receiver works out before it accepts: what is still missing
   * fits, the top-level folders are reserved once and remembered, every
   * folder exists, and each partial file still holds its recorded blocks.
   */
  plan = ferry_receive_plan_new (offer, folder, transfer, NULL, &error);
  g_assert_no_error (error);
  ferry_receive_plan_remember (plan, store, transfer);

  for (guint i = 0; i < ferry_offer_get_n_entries (offer); i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      const char *path = ferry_offer_entry_get_path (entry);
      FerryStoreFile *file = ferry_store_transfer_find_file (transfer, path);
      const FerryOfferEntry *source = ferry_offer_lookup (sender_offer, path);
      /* What the sender computes as it sends; here the test's own pass. */
      g_autoptr(FerryFileDigest) digest = NULL;
      g_autofree char *digest_hex = NULL;
      g_autofree char *local = ferry_receive_plan_dup_local_path (plan, path);
      g_autoptr(FerryReceiveFile) incoming = NULL;
      g_autoptr(GFileInputStream) stream = NULL;
      g_autofree char *final = NULL;
      guint64 offset;
      guint recorded;

      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE || plan->skip[i])
        continue;
      digest = ferry_hasher_hash_file (ferry_offer_entry_get_local_file (source), NULL, &error);
      g_assert_no_error (error);
      digest_hex = ferry_file_digest_dup_content_id_hex (digest);

      /* Resume where the verified blocks end; the re-read blocks are still
       * what the store recorded.
       */
      offset = plan->resume_offsets[i];
      g_assert_cmpuint (offset, ==, ferry_store_file_get_resume_offset (file));
      incoming = g_steal_pointer (&plan->opened[i]);
      if (incoming == NULL)
        incoming = ferry_receive_target_open_file (plan->target, entry, local, offset, NULL,
                                                   &error);
      g_assert_no_error (error);
      recorded = (guint) (offset / FERRY_BLOCK_SIZE);
      g_assert_cmpuint (ferry_receive_file_get_n_complete_blocks (incoming), ==, recorded);
      for (guint b = 0; b < recorded; b++)
        g_assert_cmpmem (ferry_receive_file_get_block_hash (incoming, b), FERRY_HASH_SIZE,
                         (const guint8 *) g_bytes_get_data (file->verified_hashes, NULL)
                         + (gsize) b * FERRY_HASH_SIZE, FERRY_HASH_SIZE);

      stream = g_file_read (ferry_offer_entry_get_local_file (source), NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_seekable_seek (G_SEEKABLE (stream), (goffset) offset, G_SEEK_SET,
                                      NULL, &error));

      while (ferry_receive_file_get_offset (incoming) < file->size)
        {
          gsize n = 0;

          if (budget > 0 && sent >= budget)
            {
              /* The connection drops: keep what is verified, stop. */
              ferry_store_finish_transfer_async (store, transfer->id,
                                                 FERRY_STORE_TRANSFER_INTERRUPTED, NULL,
                                                 NULL, ferry_test_async_result_cb, &result);
              update_done (store, &result);
              *completed = FALSE;
              return sent;
            }

          g_assert_true (g_input_stream_read_all (G_INPUT_STREAM (stream), chunk, CHUNK, &n,
                                                  NULL, &error));
          g_assert_cmpuint (n, >, 0);
          g_assert_true (ferry_receive_file_write (incoming, chunk, n, &error));
          sent += n;

          /* Each full block: compare with the sender's hash, make it
           * durable, then record it.
           */
          if (ferry_receive_file_get_n_complete_blocks (incoming) > recorded)
            {
              g_assert_true (ferry_receive_file_sync (incoming, &error));
              for (; recorded < ferry_receive_file_get_n_complete_blocks (incoming); recorded++)
                {
                  const guint8 *hash = ferry_receive_file_get_block_hash (incoming, recorded);

                  g_assert_cmpmem (hash, FERRY_HASH_SIZE,
                                   ferry_file_digest_get_block_hash (digest, recorded),
                                   FERRY_HASH_SIZE);
                  ferry_store_add_verified_block (store, file->id, recorded, hash);
                }
              ferry_store_set_progress (store, transfer->id, sent);
            }
        }

      /* The digest arrives after the data. */
      ferry_receive_file_set_content_id (incoming, digest_hex);
      final = ferry_receive_file_finish (incoming, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (final, ==, local);
      ferry_store_set_file_state_async (store, file->id, FERRY_STORE_FILE_COMPLETE, final,
                                        NULL, ferry_test_async_result_cb, &result);
      update_done (store, &result);
    }

  ferry_store_finish_transfer_async (store, transfer->id, FERRY_STORE_TRANSFER_COMPLETED, NULL,
                                     NULL, ferry_test_async_result_cb, &result);
  update_done (store, &result);
  *completed = TRUE;
  return sent;
}

static void
assert_same_file (const char *a,
                  const char *b)
{
  g_autofree char *ca = NULL;
  g_autofree char *cb = NULL;
  gsize la, lb;

  g_assert_true (g_file_get_contents (a, &ca, &la, NULL));
  g_assert_true (g_file_get_contents (b, &cb, &lb, NULL));
  g_assert_cmpmem (ca, la, cb, lb);
}

static void
test_interrupt_and_resume (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autofree char *trip = g_build_filename (fixture->source, "Trip", NULL);
  g_autofree char *photo = g_build_filename (trip, "photo.raw", NULL);
  g_autofree char *notes = g_build_filename (trip, "notes", NULL);
  g_autofree char *note = g_build_filename (notes, "day 1.txt", NULL);
  g_autofree char *empty = g_build_filename (trip, "empty", NULL);
  g_autofree char *taken = g_build_filename (fixture->target, "Trip", NULL);
  g_autoptr(GFile) chosen = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(FerryOffer) sender_offer = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  gsize photo_size = 3 * FERRY_BLOCK_SIZE + 4321;
  gsize len;
  guint64 first, second;
  gboolean completed = FALSE;

  g_assert_no_errno (g_mkdir (trip, 0755));
  g_assert_no_errno (g_mkdir (notes, 0755));
  g_assert_no_errno (g_mkdir (empty, 0755));
  ferry_test_write_random_file (photo, photo_size, 1);
  ferry_test_write_random_file (note, 777, 2);
  /* The receiver already has a "Trip": ours must become "Trip (1)". */
  g_assert_no_errno (g_mkdir (taken, 0755));

  chosen = g_file_new_for_path (trip);
  ferry_offer_new_from_files_async (&chosen, 1, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  sender_offer = ferry_offer_new_from_files_finish (result, &error);
  g_assert_no_error (error);

  json = ferry_offer_to_json (sender_offer, &len);
  offer = ferry_offer_new_from_json (json, len, NULL, &error);
  g_assert_no_error (error);

  /* First attempt: the link drops 1.5 blocks into the big file (files are
   * taken in offer order: "Trip/notes/day 1.txt" before "Trip/photo.raw").
   */
  first = receive_attempt (fixture, sender_offer, offer, 777 + FERRY_BLOCK_SIZE * 3 / 2,
                           &completed);
  g_assert_false (completed);

  /* Second attempt: only what was not verified is sent. */
  second = receive_attempt (fixture, sender_offer, offer, 0, &completed);
  g_assert_true (completed);
  g_assert_cmpuint (second, ==, photo_size - FERRY_BLOCK_SIZE);
  g_assert_cmpuint (first + second, <, 777 + photo_size + FERRY_BLOCK_SIZE);

  {
    g_autofree char *got_photo = g_build_filename (fixture->target, "Trip (1)", "photo.raw",
                                                   NULL);
    g_autofree char *got_note = g_build_filename (fixture->target, "Trip (1)", "notes",
                                                  "day 1.txt", NULL);
    g_autofree char *got_empty = g_build_filename (fixture->target, "Trip (1)", "empty", NULL);
    g_autofree char *partial = g_build_filename (fixture->target, "Trip (1)",
                                                 "photo.raw.ferry-part", NULL);

    assert_same_file (photo, got_photo);
    assert_same_file (note, got_note);
    g_assert_true (g_file_test (got_empty, G_FILE_TEST_IS_DIR));
    g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  }

  /* The history tells it completed. */
  {
    g_autoptr(FerryStore) store = ferry_test_open_store (fixture->db_path, NULL);
    g_autoptr(GPtrArray) list = NULL;

    g_clear_object (&result);
    ferry_store_list_history_async (store, 10, NULL, ferry_test_async_result_cb, &result);
    ferry_test_wait_async_result (&result, TIMEOUT_MS);
    list = ferry_store_list_history_finish (store, result, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 1);
    g_assert_cmpint (((FerryStoreTransfer *) list->pdata[0])->state, ==,
                     FERRY_STORE_TRANSFER_COMPLETED);
    g_assert_cmpuint (((FerryStoreTransfer *) list->pdata[0])->total_bytes, ==,
                      photo_size + 777);
  }
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/resume-flow/interrupt-and-resume", Fixture, NULL,
              fixture_set_up, test_interrupt_and_resume, fixture_tear_down);

  return g_test_run ();
}
