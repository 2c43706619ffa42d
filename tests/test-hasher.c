/* test-hasher.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "ferry-hasher.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 20000

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("hasher");
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
}

static guint8 *
make_pattern (gsize size)
{
  guint8 *data = g_malloc (MAX (size, 1));

  /* A pattern that differs between blocks, so a block mix-up changes hashes. */
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) ((i * 2654435761u) >> 13);
  return data;
}

static GFile *
write_file (Fixture      *fixture,
            const char   *name,
            const guint8 *data,
            gsize         size)
{
  g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, (const char *) data, size, &error);
  g_assert_no_error (error);
  return g_file_new_for_path (path);
}

static void
one_shot (const guint8 *data,
          gsize         size,
          guint8       *out)
{
  g_assert_cmpint (crypto_generichash (out, FERRY_HASH_SIZE, data, size, NULL, 0), ==, 0);
}

/* The file digest, worked out here from its definition (ferry-transfer.h):
 * BLAKE2b-256 of the domain with its NUL, the size as a big-endian u64 and
 * each block's BLAKE2b-256. */
static void
derived_digest (const guint8 *data,
                gsize         size,
                guint8       *out)
{
  static const char domain[] = "ferry-file-digest-v2";
  g_autoptr(GByteArray) message = g_byte_array_new ();
  guint64 be_size = GUINT64_TO_BE ((guint64) size);

  g_byte_array_append (message, (const guint8 *) domain, sizeof domain);
  g_byte_array_append (message, (const guint8 *) &be_size, sizeof be_size);
  for (gsize start = 0; start < size; start += FERRY_BLOCK_SIZE)
    {
      guint8 block[FERRY_HASH_SIZE];

      one_shot (data + start, MIN (FERRY_BLOCK_SIZE, size - start), block);
      g_byte_array_append (message, block, sizeof block);
    }
  one_shot (message->data, message->len, out);
}

static void
assert_digest_matches (FerryFileDigest *digest,
                       const guint8    *data,
                       gsize            size)
{
  guint8 expected[FERRY_HASH_SIZE];
  guint n_blocks = (guint) ((size + FERRY_BLOCK_SIZE - 1) / FERRY_BLOCK_SIZE);
  g_autofree char *hex = NULL;
  g_autofree char *expected_hex = NULL;

  g_assert_cmpuint (ferry_file_digest_get_size (digest), ==, size);
  derived_digest (data, size, expected);
  g_assert_cmpmem (ferry_file_digest_get_content_id (digest), FERRY_HASH_SIZE,
                   expected, FERRY_HASH_SIZE);

  hex = ferry_file_digest_dup_content_id_hex (digest);
  expected_hex = ferry_hash_to_hex (expected);
  g_assert_cmpstr (hex, ==, expected_hex);
  g_assert_cmpuint (strlen (hex), ==, FERRY_HASH_HEX_SIZE);

  g_assert_cmpuint (ferry_file_digest_get_n_blocks (digest), ==, n_blocks);
  for (guint i = 0; i < n_blocks; i++)
    {
      gsize start = (gsize) i * FERRY_BLOCK_SIZE;
      gsize len = MIN (FERRY_BLOCK_SIZE, size - start);

      one_shot (data + start, len, expected);
      g_assert_cmpmem (ferry_file_digest_get_block_hash (digest, i), FERRY_HASH_SIZE,
                       expected, FERRY_HASH_SIZE);
    }
}

typedef struct
{
  FerryFileDigest *digest;
  GError          *error;
  gboolean         done;
  guint64          last_progress;
  guint64          progress_total;
  guint            n_progress;
  gboolean         progress_after_done;
  GCancellable    *cancel_on_progress;
} HashResult;

static void
hash_progress_cb (guint64  done,
                  guint64  total,
                  gpointer user_data)
{
  HashResult *result = user_data;

  if (result->done)
    result->progress_after_done = TRUE;
  g_assert_cmpuint (done, >=, result->last_progress);
  g_assert_cmpuint (done, <=, total);
  result->last_progress = done;
  result->progress_total = total;
  result->n_progress++;

  if (result->cancel_on_progress != NULL)
    g_cancellable_cancel (result->cancel_on_progress);
}

static void
hash_done_cb (GObject      *object,
              GAsyncResult *res,
              gpointer      user_data)
{
  HashResult *result = user_data;

  result->digest = ferry_hasher_hash_file_finish (res, &result->error);
  result->done = TRUE;
}

static void
test_known_answers (Fixture       *fixture,
                    gconstpointer  data)
{
  const gsize sizes[] = {
    0, 1, FERRY_BLOCK_SIZE - 1, FERRY_BLOCK_SIZE, FERRY_BLOCK_SIZE + 1,
    3 * FERRY_BLOCK_SIZE + 12345,
  };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *content = make_pattern (sizes[i]);
      g_autofree char *name = g_strdup_printf ("file-%u", i);
      g_autoptr(GFile) file = write_file (fixture, name, content, sizes[i]);
      g_autoptr(FerryFileDigest) sync_digest = NULL;
      g_autoptr(GError) error = NULL;
      HashResult result = { 0 };

      g_test_message ("size %" G_GSIZE_FORMAT, sizes[i]);

      sync_digest = ferry_hasher_hash_file (file, NULL, &error);
      g_assert_no_error (error);
      assert_digest_matches (sync_digest, content, sizes[i]);

      ferry_hasher_hash_file_async (file, hash_progress_cb, &result, NULL, hash_done_cb, &result);
      g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
      g_assert_no_error (result.error);
      assert_digest_matches (result.digest, content, sizes[i]);
      g_assert_cmpuint (result.n_progress, >=, 1);
      g_assert_cmpuint (result.last_progress, ==, sizes[i]);
      g_assert_cmpuint (result.progress_total, ==, sizes[i]);
      g_assert_false (result.progress_after_done);
      ferry_file_digest_unref (result.digest);
    }
}

static void
test_stream_hasher_split_feeds (void)
{
  gsize size = 2 * FERRY_BLOCK_SIZE + 7;
  g_autofree guint8 *content = make_pattern (size);
  g_autoptr(FerryStreamHasher) hasher = ferry_stream_hasher_new ();
  g_autoptr(FerryFileDigest) digest = NULL;
  guint8 expected[FERRY_HASH_SIZE];
  gsize offset = 0;
  gsize step = 1;

  /* Odd feed sizes that straddle block boundaries must not change hashes. */
  while (offset < size)
    {
      gsize len = MIN (step, size - offset);

      ferry_stream_hasher_update (hasher, content + offset, len);
      offset += len;
      step = step * 3 + 1;
      g_assert_cmpuint (ferry_stream_hasher_get_n_complete_blocks (hasher), ==,
                        offset / FERRY_BLOCK_SIZE);
    }

  one_shot (content, FERRY_BLOCK_SIZE, expected);
  g_assert_cmpmem (ferry_stream_hasher_get_block_hash (hasher, 0), FERRY_HASH_SIZE,
                   expected, FERRY_HASH_SIZE);

  digest = ferry_stream_hasher_finish (hasher);
  assert_digest_matches (digest, content, size);
}

static void
test_hex (void)
{
  guint8 hash[FERRY_HASH_SIZE];
  guint8 back[FERRY_HASH_SIZE];
  g_autofree char *hex = NULL;

  for (guint i = 0; i < FERRY_HASH_SIZE; i++)
    hash[i] = (guint8) (i * 37 + 1);
  hex = ferry_hash_to_hex (hash);
  g_assert_true (ferry_hash_from_hex (hex, back));
  g_assert_cmpmem (hash, sizeof hash, back, sizeof back);

  g_assert_false (ferry_hash_from_hex ("abc", back));
  g_assert_false (ferry_hash_from_hex (NULL, back));
  hex[5] = 'A';
  g_assert_false (ferry_hash_from_hex (hex, back));
  hex[5] = 'g';
  g_assert_false (ferry_hash_from_hex (hex, back));
}

static void
test_cancel_before_start (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autofree guint8 *content = make_pattern (FERRY_BLOCK_SIZE);
  g_autoptr(GFile) file = write_file (fixture, "small", content, FERRY_BLOCK_SIZE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  HashResult result = { 0 };

  g_cancellable_cancel (cancellable);
  ferry_hasher_hash_file_async (file, NULL, NULL, cancellable, hash_done_cb, &result);
  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (result.digest);
  g_clear_error (&result.error);

  g_assert_null (ferry_hasher_hash_file (file, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancel_midway (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "big", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  HashResult result = { 0 };
  gint64 start;
  int fd;

  /* A sparse 4 GiB file: takes many seconds to hash, no disk to write. */
  fd = g_open (path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_no_errno (ftruncate (fd, (off_t) 4096 * FERRY_BLOCK_SIZE));
  g_assert_no_errno (close (fd));

  result.cancel_on_progress = cancellable;
  start = g_get_monotonic_time ();
  ferry_hasher_hash_file_async (file, hash_progress_cb, &result, cancellable,
                                hash_done_cb, &result);
  g_assert_true (ferry_test_wait_for_flag (&result.done, TIMEOUT_MS));
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (result.digest);
  g_assert_cmpuint (result.n_progress, >=, 1);
  g_assert_cmpuint (result.last_progress, <, (guint64) 4096 * FERRY_BLOCK_SIZE);
  /* Stopped well before the end. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&result.error);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add ("/hasher/known-answers", Fixture, NULL,
              fixture_set_up, test_known_answers, fixture_tear_down);
  g_test_add_func ("/hasher/stream-split-feeds", test_stream_hasher_split_feeds);
  g_test_add_func ("/hasher/hex", test_hex);
  g_test_add ("/hasher/cancel-before-start", Fixture, NULL,
              fixture_set_up, test_cancel_before_start, fixture_tear_down);
  g_test_add ("/hasher/cancel-midway", Fixture, NULL,
              fixture_set_up, test_cancel_midway, fixture_tear_down);

  return g_test_run ();
}
