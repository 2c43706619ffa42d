/* test-hostile-peer.c
 *
 * The rules a receiver (and a sender) can rely on against a hostile peer,
 * each checked with the hostile-peer kit: a peer speaking the real wire
 * protocol over real QUIC over real libnice, sending what no Ferry would.
 * Every test asserts that nothing was written outside the folder the
 * transfer reserved and that no file that was there before changed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-glib/json-glib.h>
#include <sodium.h>

#include "ferry-hasher.h"
#include "ferry-test-peer.h"
#include "ferry-test-utils.h"
#include "ferry-transfer.h"

#define RUN_TIMEOUT_MS 30000

typedef struct
{
  char       *dir;
  char       *target;
  GHashTable *before;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("hostile");
  fixture->target = g_build_filename (fixture->dir, "target", NULL);
  g_assert_no_errno (g_mkdir (fixture->target, 0755));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->target);
  g_clear_pointer (&fixture->before, g_hash_table_unref);
}

/* Puts @contents at @relative below the target, making its folders. */
static void
plant (Fixture    *fixture,
       const char *relative,
       const char *contents)
{
  g_autofree char *path = g_build_filename (fixture->target, relative, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_no_errno (g_mkdir_with_parents (parent, 0755));
  if (contents != NULL)
    g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  else
    g_assert_no_errno (g_mkdir_with_parents (path, 0755));
}

static void
snapshot (Fixture *fixture)
{
  g_clear_pointer (&fixture->before, g_hash_table_unref);
  fixture->before = ferry_test_tree_snapshot (fixture->dir);
}

/* Nothing new anywhere, nothing changed. */
static void
assert_untouched (Fixture *fixture)
{
  ferry_test_assert_tree_kept (fixture->before, fixture->dir, NULL);
}

/* A real receiver on the victim's side */

typedef struct
{
  FerryTransfer *transfer;
  gboolean       offered;
  gboolean       done;
  GError        *error;
} Victim;

static void
offer_received_cb (FerryTransfer *transfer,
                   FerryOffer    *offer,
                   Victim        *victim)
{
  victim->offered = TRUE;
  ferry_transfer_accept (transfer, NULL);
}

static void
victim_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Victim *victim = user_data;

  ferry_transfer_run_finish (FERRY_TRANSFER (object), result, &victim->error);
  victim->done = TRUE;
}

static gboolean
victim_done (gpointer user_data)
{
  return ((Victim *) user_data)->done;
}

static void
victim_clear (Victim *victim)
{
  g_clear_object (&victim->transfer);
  g_clear_error (&victim->error);
  *victim = (Victim) { 0 };
}

static void
start_receiver (Victim        *victim,
                FerryTestPeer *peer,
                FerryStore    *store,
                const char    *target)
{
  g_autoptr(GFile) folder = g_file_new_for_path (target);

  victim->transfer = ferry_transfer_new_receiver (ferry_test_peer_get_victim (peer), store,
                                                  folder);
  g_signal_connect (victim->transfer, "offer-received", G_CALLBACK (offer_received_cb), victim);
  ferry_transfer_run_async (victim->transfer, NULL, victim_done_cb, victim);
}

/* Sends @offer to a real receiver into the target and expects a refusal
 * before the person is asked, with nothing written. */
static void
expect_refused (Fixture    *fixture,
                const char *offer,
                gsize       len,
                int         code)
{
  g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
  Victim victim = { 0 };

  snapshot (fixture);
  start_receiver (&victim, peer, NULL, fixture->target);
  ferry_test_peer_start (peer);
  ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_OFFER, offer, len);
  g_assert_true (ferry_test_wait_until (victim_done, &victim, RUN_TIMEOUT_MS));
  g_assert_error (victim.error, FERRY_TRANSFER_ERROR, code);
  g_assert_false (victim.offered);
  assert_untouched (fixture);
  victim_clear (&victim);
}

static char *
file_entry (const char *path,
            const char *contents,
            guint       mode)
{
  g_autofree char *cid = ferry_test_content_id (contents, strlen (contents));

  return g_strdup_printf ("{\"path\":\"%s\",\"type\":\"file\",\"size\":%zu,"
                          "\"content_id\":\"%s\",\"mode\":%u,\"mtime\":0}",
                          path, strlen (contents), cid, mode);
}

static char *
offer_of (const char *entries)
{
  return g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[%s]}", entries);
}

/* 1. Confinement ---------------------------------------------------------- */

/* The attack of issue 11: a file below folders the offer does not hold
 * lands in folders that exist already. */
static void
test_confine_implied_parent (Fixture       *fixture,
                             gconstpointer  data)
{
  const char *paths[] = {
    ".config/autostart/evil.desktop",
    ".ssh/authorized_keys",
    "proj/.git/hooks/pre-commit",
    "fresh/evil.sh",
  };

  plant (fixture, ".config/autostart/keep.desktop", "[Desktop Entry]\n");
  plant (fixture, ".ssh/authorized_keys", "ssh-ed25519 AAAA mine\n");
  plant (fixture, "proj/.git/hooks", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *entry = file_entry (paths[i], "#!/bin/sh\nid\n", 0755);
      g_autofree char *offer = offer_of (entry);

      g_test_message ("offer of only %s", paths[i]);
      expect_refused (fixture, offer, strlen (offer), FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
    }
}

static void
send_files (FerryTestPeer      *peer,
            const char * const *contents)
{
  guint8 kind = 0;
  g_autoptr(GBytes) accept = ferry_test_peer_wait_frame (peer, &kind, RUN_TIMEOUT_MS);

  g_assert_nonnull (accept);
  g_assert_cmpint (kind, ==, FERRY_TRANSFER_FRAME_ACCEPT);
  for (guint i = 0; contents[i] != NULL; i++)
    if (*contents[i])
      ferry_test_peer_send_file (peer, i, 0, contents[i], strlen (contents[i]));
}

/* With its top-level folder offered, the same file lands in a folder the
 * transfer reserves fresh, never in the one that was there. */
static void
test_confine_fresh_folder (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
  const char *contents[] = { "", "#!/bin/sh\nid\n", NULL };
  g_autofree char *file = file_entry ("proj/.git/hooks/pre-commit", contents[1], 0755);
  g_autofree char *entries = g_strdup_printf ("{\"path\":\"proj\",\"type\":\"folder\"},%s",
                                              file);
  g_autofree char *offer = offer_of (entries);
  g_autofree char *landed = g_build_filename (fixture->target, "proj (1)", ".git", "hooks",
                                              "pre-commit", NULL);
  g_autofree char *got = NULL;
  const char *allowed[] = { "target/proj (1)", NULL };
  guint8 kind = 0;
  Victim victim = { 0 };

  plant (fixture, "proj/.git/hooks/post-commit", "#!/bin/sh\ntrue\n");
  snapshot (fixture);
  start_receiver (&victim, peer, NULL, fixture->target);
  ferry_test_peer_start (peer);
  ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_OFFER, offer, strlen (offer));
  send_files (peer, contents);
  for (guint n = 0; n < 2; n++)
    {
      g_autoptr(GBytes) frame = ferry_test_peer_wait_frame (peer, &kind, RUN_TIMEOUT_MS);

      g_assert_nonnull (frame);
      g_assert_cmpint (kind, ==, n == 0 ? FERRY_TRANSFER_FRAME_FILE_DONE
                                        : FERRY_TRANSFER_FRAME_ALL_VERIFIED);
    }
  ferry_test_peer_end_control (peer);
  g_assert_true (ferry_test_wait_until (victim_done, &victim, RUN_TIMEOUT_MS));
  g_assert_no_error (victim.error);

  g_assert_true (g_file_get_contents (landed, &got, NULL, NULL));
  g_assert_cmpstr (got, ==, contents[1]);
  ferry_test_assert_tree_kept (fixture->before, fixture->dir, allowed);
  victim_clear (&victim);
}

/* 2. Strict JSON --------------------------------------------------------- */

/* Issue 11's 400 KB offer: comments hide 200 000 levels of nesting. */
static void
test_json_comment_bomb (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *deep = ferry_test_nested_arrays (200000);
  g_autofree char *entry = file_entry ("a.txt", "abc", 0644);
  g_autofree char *offer = g_strdup_printf ("{\"ferry-offer\":1,\"x\":/* \" */%s/* \" */,"
                                            "\"entries\":[%s]}", deep, entry);
  const char *not_json[] = {
    "{'ferry-offer':1,'entries':[]}",
    "{\"ferry-offer\":0x1,\"entries\":[]}",
    "{\"ferry-offer\":1,\"entries\":[],\"x\":NaN}",
  };

  expect_refused (fixture, offer, strlen (offer), FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
  for (guint i = 0; i < G_N_ELEMENTS (not_json); i++)
    expect_refused (fixture, not_json[i], strlen (not_json[i]),
                    FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
}

/* A real sender against a hostile receiver */

/* A real sender of one file, @contents as @name, on the victim's side;
 * returns once its offer arrived. */
static void
start_sender (Victim        *victim,
              FerryTestPeer *peer,
              Fixture       *fixture,
              const char    *name,
              const char    *contents)
{
  g_autofree char *source = g_build_filename (fixture->dir, name, NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  guint8 kind = 0;

  g_assert_true (g_file_set_contents (source, contents, -1, NULL));
  file = g_file_new_for_path (source);
  ferry_offer_new_from_files_async (&file, 1, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, RUN_TIMEOUT_MS);
  offer = ferry_offer_new_from_files_finish (result, &error);
  g_assert_no_error (error);

  victim->transfer = ferry_transfer_new_sender (ferry_test_peer_get_victim (peer), offer, NULL);
  ferry_transfer_run_async (victim->transfer, NULL, victim_done_cb, victim);
  frame = ferry_test_peer_wait_frame (peer, &kind, RUN_TIMEOUT_MS);
  g_assert_nonnull (frame);
  g_assert_cmpint (kind, ==, FERRY_TRANSFER_FRAME_OFFER);
}


typedef struct
{
  const char *accept;
  gboolean    done_frame;   /* answer with a malformed 'D' after a good accept */
} Answer;

static void
expect_sender_refuses (Fixture      *fixture,
                       const Answer *answer)
{
  g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (FALSE);
  g_autofree char *reason = NULL;
  guint64 code = 0;
  Victim victim = { 0 };

  start_sender (&victim, peer, fixture, "photo.jpg", "not really a photo");
  snapshot (fixture);
  ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_ACCEPT, answer->accept,
                              strlen (answer->accept));
  if (answer->done_frame)
    ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_FILE_DONE, "{\"index\":0,}", 12);

  g_assert_true (ferry_test_wait_until (victim_done, &victim, RUN_TIMEOUT_MS));
  g_assert_error (victim.error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PROTOCOL);
  reason = ferry_test_peer_wait_closed (peer, &code, RUN_TIMEOUT_MS);
  g_assert_cmpuint (code, ==, FERRY_TRANSFER_CLOSE_PROTOCOL);
  g_assert_nonnull (reason);
  assert_untouched (fixture);
  victim_clear (&victim);
}

/* The sender parsed the accept frame with no check at all: 80 000 levels
 * crashed it. */
static void
test_json_hostile_accept (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *deep = ferry_test_nested_arrays (80000);
  g_autofree char *deep_accept = g_strdup_printf ("{\"skip\":[],\"x\":%s}", deep);
  Answer answers[] = {
    { deep_accept, FALSE },
    { "{\"skip\":[] /* hi */}", FALSE },
    { "{'skip':[]}", FALSE },
    { "{\"resume\":[],\"skip\":[]}", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (answers); i++)
    expect_sender_refuses (fixture, &answers[i]);
}

/* 3. Exclusive partial files -------------------------------------------- */

typedef struct
{
  const char *path;
  gsize       size;
} Grown;

static gboolean
file_has_size (gpointer user_data)
{
  Grown *grown = user_data;
  GStatBuf st;

  return g_stat (grown->path, &st) == 0 && (gsize) st.st_size >= grown->size;
}

static char *
photo (char fill)
{
  char *data = g_malloc (64 * 1024 + 1);

  memset (data, fill, 64 * 1024);
  data[64 * 1024] = '\0';
  return data;
}

static void
wait_two_frames (FerryTestPeer *peer)
{
  for (guint n = 0; n < 2; n++)
    {
      guint8 kind = 0;
      g_autoptr(GBytes) frame = ferry_test_peer_wait_frame (peer, &kind, RUN_TIMEOUT_MS);

      g_assert_nonnull (frame);
    }
  ferry_test_peer_end_control (peer);
}

/* Issue 11: two senders, one "photo.jpg" each, into one folder at once.
 * The first one's partial is half written when the second one arrives;
 * each file must land whole, verified, under its own name. */
static void
test_partial_two_senders (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(FerryTestPeer) first = ferry_test_peer_new (TRUE);
  g_autoptr(FerryTestPeer) second = ferry_test_peer_new (TRUE);
  g_autofree char *a = photo ('a');
  g_autofree char *b = photo ('b');
  g_autofree char *entry_a = file_entry ("photo.jpg", a, 0644);
  g_autofree char *entry_b = file_entry ("photo.jpg", b, 0644);
  g_autofree char *offer_a = offer_of (entry_a);
  g_autofree char *offer_b = offer_of (entry_b);
  g_autofree char *partial = g_build_filename (fixture->target, "photo.jpg.ferry-part", NULL);
  g_autofree char *got0 = NULL;
  g_autofree char *got1 = NULL;
  g_autofree char *p0 = g_build_filename (fixture->target, "photo.jpg", NULL);
  g_autofree char *p1 = g_build_filename (fixture->target, "photo (1).jpg", NULL);
  const char *allowed[] = { "target/photo.jpg", "target/photo (1).jpg", NULL };
  Grown grown = { partial, 32 * 1024 };
  Victim va = { 0 }, vb = { 0 };
  gint64 stream;
  guint8 kind = 0;
  g_autoptr(GBytes) accept_a = NULL;

  snapshot (fixture);
  start_receiver (&va, first, NULL, fixture->target);
  start_receiver (&vb, second, NULL, fixture->target);
  ferry_test_peer_start (first);
  ferry_test_peer_send_frame (first, FERRY_TRANSFER_FRAME_OFFER, offer_a, strlen (offer_a));
  accept_a = ferry_test_peer_wait_frame (first, &kind, RUN_TIMEOUT_MS);
  g_assert_nonnull (accept_a);
  stream = ferry_test_peer_open_file (first, 0, 0);
  ferry_test_peer_write (first, stream, a, 32 * 1024, FALSE);
  g_assert_true (ferry_test_wait_until (file_has_size, &grown, RUN_TIMEOUT_MS));

  ferry_test_peer_start (second);
  ferry_test_peer_send_frame (second, FERRY_TRANSFER_FRAME_OFFER, offer_b, strlen (offer_b));
  send_files (second, (const char *[]) { b, NULL });
  wait_two_frames (second);
  g_assert_true (ferry_test_wait_until (victim_done, &vb, RUN_TIMEOUT_MS));
  g_assert_no_error (vb.error);

  ferry_test_peer_write (first, stream, a + 32 * 1024, 32 * 1024, FALSE);
  ferry_test_peer_end_file (first, stream, a, 64 * 1024);
  wait_two_frames (first);
  g_assert_true (ferry_test_wait_until (victim_done, &va, RUN_TIMEOUT_MS));
  g_assert_no_error (va.error);

  /* The second finished first and took the name. */
  g_assert_true (g_file_get_contents (p0, &got0, NULL, NULL));
  g_assert_true (g_file_get_contents (p1, &got1, NULL, NULL));
  g_assert_cmpstr (got0, ==, b);
  g_assert_cmpstr (got1, ==, a);
  ferry_test_assert_tree_kept (fixture->before, fixture->dir, allowed);
  victim_clear (&va);
  victim_clear (&vb);
}

/* 5. Resume is tied to the peer ----------------------------------------- */

#define BIG_SIZE  (2 * FERRY_BLOCK_SIZE + FERRY_BLOCK_SIZE / 2)
#define HALF_SIZE (FERRY_BLOCK_SIZE + FERRY_BLOCK_SIZE / 2)

static char *
big_photo (char fill)
{
  char *data = g_malloc (BIG_SIZE + 1);

  memset (data, fill, BIG_SIZE);
  data[BIG_SIZE] = '\0';
  return data;
}

static char *
photos_offer (const char *contents)
{
  g_autofree char *file = file_entry ("Photos/a.jpg", contents, 0644);
  g_autofree char *entries = g_strdup_printf ("{\"path\":\"Photos\",\"type\":\"folder\"},%s",
                                              file);

  return offer_of (entries);
}

/* This session's binding, as the kit (the sender) sees it. */
static char *
kit_binding (FerryTestPeer *peer)
{
  FerryQuicConnection *quic = ferry_test_peer_get_quic (peer);

  return ferry_resume_binding_new (ferry_quic_connection_get_local_fingerprint (quic),
                                   ferry_quic_connection_get_peer_fingerprint (quic));
}

static void
send_resume_claim (FerryTestPeer *peer,
                   const guint8  *proof)
{
  g_autofree char *hex = ferry_hash_to_hex (proof);
  g_autofree char *frame = g_strdup_printf ("{\"proof\":\"%s\"}", hex);

  ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_RESUME, frame, strlen (frame));
}

/* Offers @offer to a real receiver with @store, after a resume claim with
 * @proof (none when %NULL), and reads its accept. */
static JsonNode *
offer_and_accept (FerryTestPeer *peer,
                  Victim        *victim,
                  FerryStore    *store,
                  Fixture       *fixture,
                  const guint8  *proof,
                  const char    *offer)
{
  g_autoptr(GBytes) accept = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  guint8 kind = 0;
  JsonNode *node;

  start_receiver (victim, peer, store, fixture->target);
  ferry_test_peer_start (peer);
  if (proof != NULL)
    send_resume_claim (peer, proof);
  ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_OFFER, offer, strlen (offer));
  accept = ferry_test_peer_wait_frame (peer, &kind, RUN_TIMEOUT_MS);
  g_assert_nonnull (accept);
  g_assert_cmpint (kind, ==, FERRY_TRANSFER_FRAME_ACCEPT);
  /* A frame's payload is not NUL-terminated: parse a terminated copy. */
  text = g_strndup (g_bytes_get_data (accept, NULL), g_bytes_get_size (accept));
  node = json_from_string (text, &error);
  g_assert_no_error (error);
  return node;
}

/* How many blocks of entry @index the accept says the receiver resumes. */
static guint
accepted_resume_blocks (JsonNode *accept,
                        guint     index)
{
  JsonArray *resume = json_object_get_array_member (json_node_get_object (accept), "resume");

  for (guint i = 0; i < json_array_get_length (resume); i++)
    {
      JsonObject *point = json_array_get_object_element (resume, i);

      if (json_object_get_int_member (point, "index") == index)
        return json_array_get_length (json_object_get_array_member (point, "blocks"));
    }
  return 0;
}

static void
hang_up (FerryTestPeer *peer,
         Victim        *victim)
{
  ferry_quic_connection_close (ferry_test_peer_get_quic (peer), 0, NULL);
  g_assert_true (ferry_test_wait_until (victim_done, victim, RUN_TIMEOUT_MS));
  g_assert_nonnull (victim->error);
  victim_clear (victim);
}

static void
finish_files (FerryTestPeer *peer,
              Victim        *victim)
{
  wait_two_frames (peer);
  g_assert_true (ferry_test_wait_until (victim_done, victim, RUN_TIMEOUT_MS));
  g_assert_no_error (victim->error);
  victim_clear (victim);
}

static void
assert_file_is (const char *path,
                const char *expected,
                gsize       len)
{
  g_autofree char *got = NULL;
  gsize got_len = 0;

  g_assert_true (g_file_get_contents (path, &got, &got_len, NULL));
  g_assert_cmpmem (got, got_len, expected, len);
}

/* A new peer sends entry @index of @offer and hangs up once @partial holds a block and a
 * half of @contents; the resume secret the receiver issued to it goes to @secret, the
 * session's binding to @binding. */
static void
send_half_and_hang_up (Fixture     *fixture,
                       FerryStore  *store,
                       const char  *offer,
                       guint        index,
                       const char  *contents,
                       const char  *partial,
                       guint8      *secret,
                       char       **binding)
{
  g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
  Victim victim = { 0 };
  g_autoptr(JsonNode) accept = offer_and_accept (peer, &victim, store, fixture, NULL, offer);
  const char *hex = json_object_get_string_member_with_default (json_node_get_object (accept),
                                                                "resume_secret", NULL);
  Grown grown = { partial, HALF_SIZE };
  gint64 stream;

  g_assert_nonnull (hex);
  g_assert_true (ferry_hash_from_hex (hex, secret));
  stream = ferry_test_peer_open_file (peer, index, 0);
  ferry_test_peer_write (peer, stream, contents, HALF_SIZE, FALSE);
  g_assert_true (ferry_test_wait_until (file_has_size, &grown, RUN_TIMEOUT_MS));
  hang_up (peer, &victim);
  if (binding != NULL)
    *binding = kit_binding (peer);
}

/* The peer that holds @secret, proving it for a new session: the receiver resumes entry
 * @index after its one verified block, and only the rest is sent. */
static void
resume_rest (Fixture      *fixture,
             FerryStore   *store,
             const char   *offer,
             guint         index,
             const char   *contents,
             const guint8 *secret)
{
  g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
  g_autofree char *binding = kit_binding (peer);
  g_autoptr(JsonNode) accept = NULL;
  guint8 proof[FERRY_RESUME_PROOF_SIZE];
  Victim victim = { 0 };

  ferry_resume_proof_compute (secret, binding, proof);
  accept = offer_and_accept (peer, &victim, store, fixture, proof, offer);
  g_assert_cmpuint (accepted_resume_blocks (accept, index), ==, 1);
  ferry_test_peer_send_file (peer, index, FERRY_BLOCK_SIZE, contents, BIG_SIZE);
  finish_files (peer, &victim);
}

/* Issue 11, point 5: a transfer into "Photos" is interrupted half way.
 * Senders that are not its peer (one that offers the same names, one that
 * forges a proof, one that replays a proof made for another session) each
 * get a fresh folder and leave the partial file byte for byte as it was;
 * the peer itself, proving the secret it was issued, then resumes it and
 * sends only the rest. */
static void
test_resume_tied_to_peer (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *db = g_build_filename (fixture->dir, "receiver.db", NULL);
  g_autoptr(FerryStore) store = NULL;
  g_autofree char *a = big_photo ('a');
  g_autofree char *b = big_photo ('b');
  g_autofree char *offer_a = photos_offer (a);
  g_autofree char *offer_b = photos_offer (b);
  g_autofree char *partial = g_build_filename (fixture->target, "Photos", "a.jpg.ferry-part",
                                               NULL);
  g_autofree char *landed = g_build_filename (fixture->target, "Photos", "a.jpg", NULL);
  g_autofree char *other = g_build_filename (fixture->target, "Photos (1)", "a.jpg", NULL);
  g_autofree char *partial_before = NULL;
  g_autofree char *old_binding = NULL;
  gsize partial_len = 0;
  guint8 secret[FERRY_RESUME_SECRET_SIZE];
  const char *allowed[] = {
    "receiver.db", "receiver.db-wal", "receiver.db-shm", "target/Photos", "target/Photos (1)",
    "target/Photos (2)", "target/Photos (3)", NULL,
  };
  Victim victim = { 0 };

  snapshot (fixture);
  store = ferry_test_open_store (db, NULL);

  /* The peer: interrupted after one whole block and a half. */
  send_half_and_hang_up (fixture, store, offer_a, 1, a, partial, secret, &old_binding);
  g_assert_true (g_file_get_contents (partial, &partial_before, &partial_len, NULL));
  g_assert_cmpuint (partial_len, >=, FERRY_BLOCK_SIZE);

  /* Someone else, same names, no claim: a folder of its own. */
  {
    g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
    g_autoptr(JsonNode) accept = offer_and_accept (peer, &victim, store, fixture, NULL, offer_b);

    g_assert_cmpuint (accepted_resume_blocks (accept, 1), ==, 0);
    ferry_test_peer_send_file (peer, 1, 0, b, BIG_SIZE);
    finish_files (peer, &victim);
    assert_file_is (other, b, BIG_SIZE);
    assert_file_is (partial, partial_before, partial_len);
  }

  /* A made-up proof, then the right secret's proof for another session. */
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
      g_autoptr(JsonNode) accept = NULL;
      guint8 proof[FERRY_RESUME_PROOF_SIZE];

      if (attempt == 0)
        randombytes_buf (proof, sizeof proof);
      else
        ferry_resume_proof_compute (secret, old_binding, proof);
      accept = offer_and_accept (peer, &victim, store, fixture, proof, offer_a);
      g_assert_cmpuint (accepted_resume_blocks (accept, 1), ==, 0);
      hang_up (peer, &victim);
      assert_file_is (partial, partial_before, partial_len);
    }

  /* The peer, proving its secret for this session: only the rest. */
  resume_rest (fixture, store, offer_a, 1, a, secret);

  assert_file_is (landed, a, BIG_SIZE);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  assert_file_is (other, b, BIG_SIZE);
  ferry_test_assert_tree_kept (fixture->before, fixture->dir, allowed);
  ferry_store_close (store);
}

/* A top-level file of an interrupted transfer leaves "photo.jpg.ferry-part", which nobody
 * holds. Later, unrelated senders of a "photo.jpg" (one with no claim, one with a made-up
 * proof, one interrupted in turn) each write a partial file of their own: the first one's
 * stays byte for byte as it was. Each interrupted one is resumed by its own peer from its
 * own partial file, the later one from "photo.jpg~2.ferry-part". */
static void
test_resume_partial_kept (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree char *db = g_build_filename (fixture->dir, "receiver.db", NULL);
  g_autoptr(FerryStore) store = NULL;
  g_autofree char *a = big_photo ('a');
  g_autofree char *b = big_photo ('b');
  g_autofree char *c = big_photo ('c');
  g_autofree char *entry_a = file_entry ("photo.jpg", a, 0644);
  g_autofree char *entry_b = file_entry ("photo.jpg", b, 0644);
  g_autofree char *entry_c = file_entry ("photo.jpg", c, 0644);
  g_autofree char *offer_a = offer_of (entry_a);
  g_autofree char *offer_b = offer_of (entry_b);
  g_autofree char *offer_c = offer_of (entry_c);
  g_autofree char *partial = g_build_filename (fixture->target, "photo.jpg.ferry-part", NULL);
  g_autofree char *partial_c = g_build_filename (fixture->target, "photo.jpg~2.ferry-part",
                                                 NULL);
  g_autofree char *partial_before = NULL;
  g_autofree char *landed_c = g_build_filename (fixture->target, "photo (2).jpg", NULL);
  g_autofree char *landed_a = g_build_filename (fixture->target, "photo (3).jpg", NULL);
  gsize partial_len = 0;
  guint8 secret_a[FERRY_RESUME_SECRET_SIZE];
  guint8 secret_c[FERRY_RESUME_SECRET_SIZE];
  const char *landed_b[] = { "photo.jpg", "photo (1).jpg" };
  const char *allowed[] = {
    "receiver.db", "receiver.db-wal", "receiver.db-shm", "target/photo.jpg",
    "target/photo (1).jpg", "target/photo (2).jpg", "target/photo (3).jpg", NULL,
  };
  Victim victim = { 0 };

  snapshot (fixture);
  store = ferry_test_open_store (db, NULL);

  send_half_and_hang_up (fixture, store, offer_a, 0, a, partial, secret_a, NULL);
  g_assert_true (g_file_get_contents (partial, &partial_before, &partial_len, NULL));
  g_assert_cmpuint (partial_len, >=, FERRY_BLOCK_SIZE);

  for (guint attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
      g_autoptr(JsonNode) accept = NULL;
      g_autofree char *path = g_build_filename (fixture->target, landed_b[attempt], NULL);
      guint8 proof[FERRY_RESUME_PROOF_SIZE];

      randombytes_buf (proof, sizeof proof);
      accept = offer_and_accept (peer, &victim, store, fixture, attempt == 0 ? NULL : proof,
                                 offer_b);
      g_assert_cmpuint (accepted_resume_blocks (accept, 0), ==, 0);
      ferry_test_peer_send_file (peer, 0, 0, b, BIG_SIZE);
      finish_files (peer, &victim);
      assert_file_is (path, b, BIG_SIZE);
      assert_file_is (partial, partial_before, partial_len);
    }

  send_half_and_hang_up (fixture, store, offer_c, 0, c, partial_c, secret_c, NULL);
  assert_file_is (partial, partial_before, partial_len);
  resume_rest (fixture, store, offer_c, 0, c, secret_c);
  assert_file_is (landed_c, c, BIG_SIZE);
  g_assert_false (g_file_test (partial_c, G_FILE_TEST_EXISTS));
  assert_file_is (partial, partial_before, partial_len);

  resume_rest (fixture, store, offer_a, 0, a, secret_a);
  assert_file_is (landed_a, a, BIG_SIZE);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  ferry_test_assert_tree_kept (fixture->before, fixture->dir, allowed);
  ferry_store_close (store);
}

/* A resume claim that is not a proof, or comes out of turn, ends the
 * session before anything is written. */
static void
test_resume_bad_claim (Fixture       *fixture,
                       gconstpointer  data)
{
  const char *claims[] = { "{\"proof\":\"zz\"}", "{\"proof\":1}", "[]", "{}" };
  g_autofree char *a = photo ('a');
  g_autofree char *entry = file_entry ("photo.jpg", a, 0644);
  g_autofree char *offer = offer_of (entry);

  snapshot (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (claims) + 2; i++)
    {
      g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (TRUE);
      guint8 proof[FERRY_RESUME_PROOF_SIZE] = { 0 };
      Victim victim = { 0 };

      start_receiver (&victim, peer, NULL, fixture->target);
      ferry_test_peer_start (peer);
      if (i < G_N_ELEMENTS (claims))
        ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_RESUME, claims[i],
                                    strlen (claims[i]));
      else if (i == G_N_ELEMENTS (claims))
        {
          /* Twice. */
          send_resume_claim (peer, proof);
          send_resume_claim (peer, proof);
        }
      else
        {
          /* After the offer. */
          ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_OFFER, offer, strlen (offer));
          send_resume_claim (peer, proof);
        }
      if (i < G_N_ELEMENTS (claims) + 1)
        ferry_test_peer_send_frame (peer, FERRY_TRANSFER_FRAME_OFFER, offer, strlen (offer));
      g_assert_true (ferry_test_wait_until (victim_done, &victim, RUN_TIMEOUT_MS));
      g_assert_error (victim.error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PROTOCOL);
      assert_untouched (fixture);
      victim_clear (&victim);
    }
}

/* 4. Peer strings are escaped ------------------------------------------- */

static void
assert_printable (const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_assert_cmpuint (c, >=, 0x20);
      g_assert_true (c != 0x7f && (c < 0x80 || c >= 0xa0));
      g_assert_true (g_unichar_type (c) != G_UNICODE_FORMAT);   /* bidi overrides */
    }
}

/* A receiver declines with a reason that would clear the sender's terminal
 * and turn the text around. */
static void
test_escape_close_reason (Fixture       *fixture,
                          gconstpointer  data)
{
  const guint64 codes[] = { FERRY_TRANSFER_CLOSE_DECLINED, FERRY_TRANSFER_CLOSE_PROTOCOL, 0x77 };

  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_autoptr(FerryTestPeer) peer = ferry_test_peer_new (FALSE);
      Victim victim = { 0 };

      start_sender (&victim, peer, fixture, "a.txt", "abc");
      ferry_quic_connection_close (ferry_test_peer_get_quic (peer), codes[i],
                                   "no\x1b[2J\x1b]0;pwned\x07\r\n\xe2\x80\xae" "evil\xe2\x81\xa6x");
      g_assert_true (ferry_test_wait_until (victim_done, &victim, RUN_TIMEOUT_MS));
      g_assert_nonnull (victim.error);
      g_test_message ("shown: %s", victim.error->message);
      assert_printable (victim.error->message);
      victim_clear (&victim);
    }
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/hostile/confine/implied-parent", test_confine_implied_parent);
  ADD ("/hostile/confine/fresh-folder", test_confine_fresh_folder);
  ADD ("/hostile/json/comment-bomb", test_json_comment_bomb);
  ADD ("/hostile/json/accept", test_json_hostile_accept);
  ADD ("/hostile/partial/two-senders", test_partial_two_senders);
  ADD ("/hostile/escape/close-reason", test_escape_close_reason);
  ADD ("/hostile/resume/tied-to-peer", test_resume_tied_to_peer);
  ADD ("/hostile/resume/partial-kept", test_resume_partial_kept);
  ADD ("/hostile/resume/bad-claim", test_resume_bad_claim);
#undef ADD

  return g_test_run ();
}
