/* test-receive-target.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <sodium.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry-receive-target.h"
#include "ferry-test-utils.h"

/* Whether main() could give this process its own mount namespace, where a
 * small tmpfs can be mounted for the disk-full test and vanishes with us.
 */
static gboolean private_mounts;

typedef struct
{
  char *dir;
  char *target;   /* the receiving folder */
  char *outside;  /* a folder a hostile offer would like to write into */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("target");
  fixture->target = g_build_filename (fixture->dir, "target", NULL);
  fixture->outside = g_build_filename (fixture->dir, "outside", NULL);
  g_assert_no_errno (g_mkdir (fixture->target, 0755));
  g_assert_no_errno (g_mkdir (fixture->outside, 0755));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->target);
  g_free (fixture->outside);
}

static guint8 *
make_data (gsize size,
           guint seed)
{
  guint8 *data = g_malloc (MAX (size, 1));

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) ((i + seed) * 2654435761u >> 11);
  return data;
}

/* An offer of one file, built through the real JSON validation. */
static FerryOffer *
offer_for (const char   *path,
           const guint8 *data,
           gsize         size,
           guint         mode)
{
  g_autoptr(FerryStreamHasher) hasher = ferry_stream_hasher_new ();
  g_autoptr(FerryFileDigest) digest = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *json = NULL;
  g_autofree char *top = NULL;
  g_autofree char *folder = NULL;
  g_autoptr(GError) error = NULL;
  FerryOffer *offer;

  ferry_stream_hasher_update (hasher, data, size);
  digest = ferry_stream_hasher_finish (hasher);
  hex = ferry_file_digest_dup_content_id_hex (digest);
  /* The file's top-level folder is offered too, as the confinement rule wants. */
  top = g_strndup (path, strcspn (path, "/"));
  if (strchr (path, '/') != NULL)
    folder = g_strdup_printf (",{\"path\":\"%s\",\"type\":\"folder\"}", top);
  json = g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[{\"path\":\"%s\",\"type\":\"file\","
                          "\"size\":%" G_GSIZE_FORMAT ",\"mode\":%u,\"mtime\":1234567890,"
                          "\"content_id\":\"%s\"}%s]}", path, size, mode, hex,
                          folder ? folder : "");
  offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
  g_assert_no_error (error);
  return offer;
}

static FerryReceiveTarget *
target_new (const char *path)
{
  g_autoptr(GFile) folder = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  FerryReceiveTarget *target;

  target = ferry_receive_target_new (folder, &error);
  g_assert_no_error (error);
  return target;
}

static void
assert_file_contents (const char   *path,
                      const guint8 *data,
                      gsize         size)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, len, data, size);
}

static void
assert_folder_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

/* Receives @data completely as @entry; returns the final relative path. */
static char *
receive_all (FerryReceiveTarget     *target,
             const FerryOfferEntry  *entry,
             const char             *local_path,
             const guint8           *data,
             GError                **error)
{
  g_autoptr(FerryReceiveFile) file = NULL;

  file = ferry_receive_target_open_file (target, entry, local_path, 0, NULL, error);
  if (file == NULL)
    return NULL;
  if (!ferry_receive_file_write (file, data, ferry_offer_entry_get_size (entry), error))
    return NULL;
  return ferry_receive_file_finish (file, error);
}

static void
test_atomic_finish (Fixture       *fixture,
                    gconstpointer  data)
{
  gsize size = 2 * FERRY_BLOCK_SIZE + 99;
  g_autofree guint8 *bytes = make_data (size, 1);
  g_autoptr(FerryOffer) offer = offer_for ("docs/deep/report.pdf", bytes, size, 0755);
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(FerryReceiveFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *final = NULL;
  g_autofree char *final_abs = g_build_filename (fixture->target, "docs/deep/report.pdf", NULL);
  g_autofree char *partial = g_build_filename (fixture->target,
                                               "docs/deep/report.pdf.ferry-part", NULL);
  const FerryOfferEntry *entry = ferry_offer_get_entry (offer, 0);
  struct stat st;

  file = ferry_receive_target_open_file (target, entry, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ferry_receive_file_get_partial_path (file), ==, partial);

  g_assert_true (ferry_receive_file_write (file, bytes, size - 1, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_receive_file_sync (file, &error));
  g_assert_cmpuint (ferry_receive_file_get_n_complete_blocks (file), ==, 2);

  /* Not finished: only the partial file exists. */
  g_assert_false (g_file_test (final_abs, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (partial, G_FILE_TEST_IS_REGULAR));

  /* Finishing early is refused and renames nothing. */
  g_assert_null (ferry_receive_file_finish (file, &error));
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_SIZE_MISMATCH);
  g_clear_error (&error);
  g_assert_false (g_file_test (final_abs, G_FILE_TEST_EXISTS));

  /* One byte too many is refused, the last one fits. */
  {
    guint8 two[2] = { bytes[size - 1], 0 };

    g_assert_false (ferry_receive_file_write (file, two, 2, &error));
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_TOO_MUCH_DATA);
    g_clear_error (&error);
    g_assert_true (ferry_receive_file_write (file, two, 1, &error));
  }

  final = ferry_receive_file_finish (file, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (final, ==, "docs/deep/report.pdf");
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  assert_file_contents (final_abs, bytes, size);

  g_assert_no_errno (lstat (final_abs, &st));
  g_assert_cmpint (st.st_mtime, ==, 1234567890);
  g_assert_true (st.st_mode & S_IXUSR);
  g_assert_false (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX));
}

static void
test_hash_mismatch (Fixture       *fixture,
                    gconstpointer  data)
{
  gsize size = 5000;
  g_autofree guint8 *bytes = make_data (size, 2);
  g_autofree guint8 *other = make_data (size, 3);
  g_autoptr(FerryOffer) offer = offer_for ("f.bin", bytes, size, 0644);
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(FerryReceiveFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *partial = g_build_filename (fixture->target, "f.bin.ferry-part", NULL);

  file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                         NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ferry_receive_file_write (file, other, size, &error));
  g_assert_null (ferry_receive_file_finish (file, &error));
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_HASH_MISMATCH);
  g_clear_error (&error);

  g_assert_true (g_file_test (partial, G_FILE_TEST_IS_REGULAR));
  g_assert_true (ferry_receive_file_discard (file, &error));
  g_assert_no_error (error);
  assert_folder_empty (fixture->target);
}

static void
test_numbered_names (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(GError) error = NULL;
  const guint8 bytes[] = "picture";
  const struct { const char *offered; const char *first; const char *second; } cases[] = {
    { "photo.jpg", "photo (1).jpg", "photo (2).jpg" },
    { "archive.tar.gz", "archive (1).tar.gz", "archive (2).tar.gz" },
    { ".bashrc", ".bashrc (1)", ".bashrc (2)" },
    { "README", "README (1)", "README (2)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(FerryOffer) offer = offer_for (cases[i].offered, bytes, 7, 0644);
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, 0);
      g_autofree char *a = receive_all (target, entry, NULL, bytes, &error);
      g_autofree char *b = receive_all (target, entry, NULL, bytes, &error);
      g_autofree char *c = receive_all (target, entry, NULL, bytes, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (a, ==, cases[i].offered);
      g_assert_cmpstr (b, ==, cases[i].first);
      g_assert_cmpstr (c, ==, cases[i].second);
    }

  /* Top-level folders: never merged into an existing one. */
  {
    g_autofree char *a = ferry_receive_target_reserve_folder (target, "Album", &error);
    g_autofree char *b = ferry_receive_target_reserve_folder (target, "Album", &error);
    g_autofree char *dotted = ferry_receive_target_reserve_folder (target, "v1.2", &error);
    g_autofree char *dotted2 = ferry_receive_target_reserve_folder (target, "v1.2", &error);
    g_autofree char *inner = NULL;
    g_autofree char *long_name = g_strnfill (255, 'x');
    g_autofree char *long_a = NULL;
    g_autofree char *long_b = NULL;
    g_autoptr(FerryOffer) offer = offer_for ("Album/x.txt", bytes, 7, 0644);

    g_assert_no_error (error);
    g_assert_cmpstr (a, ==, "Album");
    g_assert_cmpstr (b, ==, "Album (1)");
    g_assert_cmpstr (dotted, ==, "v1.2");
    g_assert_cmpstr (dotted2, ==, "v1.2 (1)");

    inner = receive_all (target, ferry_offer_get_entry (offer, 0), "Album (1)/x.txt",
                         bytes, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (inner, ==, "Album (1)/x.txt");

    /* Long names stay within 255 bytes when numbered. */
    long_a = ferry_receive_target_reserve_folder (target, long_name, &error);
    long_b = ferry_receive_target_reserve_folder (target, long_name, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (long_a, ==, long_name);
    g_assert_cmpuint (strlen (long_b), ==, 255);
    g_assert_true (g_str_has_suffix (long_b, "x (1)"));
  }
}

#define GROUP_THREADS 8
#define GROUP_FILES 40

typedef struct
{
  FerryReceiveTarget *target;
  guint               thread;
  char               *finals[GROUP_FILES + 1];
} GroupWorker;

static gpointer
group_worker (gpointer data)
{
  GroupWorker *worker = data;
  const guint8 same[] = "the same name";

  for (guint i = 0; i <= GROUP_FILES; i++)
    {
      g_autofree char *name = i < GROUP_FILES
                              ? g_strdup_printf ("%s/f-%u-%u.bin", i % 2 ? "odd" : "even",
                                                 worker->thread, i)
                              : g_strdup ("same.txt");
      g_autofree guint8 *bytes = make_data (4096 + i, worker->thread * 1000 + i);
      gsize size = i < GROUP_FILES ? 4096 + i : sizeof same;
      g_autoptr(FerryOffer) offer = offer_for (name, i < GROUP_FILES ? bytes : same,
                                               size, 0644);
      g_autoptr(GError) error = NULL;

      worker->finals[i] = receive_all (worker->target, ferry_offer_get_entry (offer, 0),
                                       NULL, i < GROUP_FILES ? bytes : same, &error);
      g_assert_no_error (error);
    }
  return NULL;
}

/* Files finishing on several threads at once share group commits: each
 * still lands whole under its own name, numbered where names collide, and
 * no partial file is left behind.
 */
static void
test_group_commit (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  GroupWorker workers[GROUP_THREADS] = { { 0 } };
  GThread *threads[GROUP_THREADS];
  const guint8 same[] = "the same name";
  const char *folders[] = { "", "even", "odd" };
  guint n_entries = 0;

  g_assert_true (ferry_receive_target_make_folder (target, "even", &error));
  g_assert_true (ferry_receive_target_make_folder (target, "odd", &error));
  g_assert_no_error (error);

  for (guint t = 0; t < GROUP_THREADS; t++)
    {
      workers[t].target = target;
      workers[t].thread = t;
      threads[t] = g_thread_new ("group-commit", group_worker, &workers[t]);
    }
  for (guint t = 0; t < GROUP_THREADS; t++)
    g_thread_join (threads[t]);

  for (guint t = 0; t < GROUP_THREADS; t++)
    {
      for (guint i = 0; i < GROUP_FILES; i++)
        {
          g_autofree char *expected = g_strdup_printf ("%s/f-%u-%u.bin",
                                                       i % 2 ? "odd" : "even", t, i);
          g_autofree char *path = g_build_filename (fixture->target, expected, NULL);
          g_autofree guint8 *bytes = make_data (4096 + i, t * 1000 + i);

          g_assert_cmpstr (workers[t].finals[i], ==, expected);
          assert_file_contents (path, bytes, 4096 + i);
        }
      {
        g_autofree char *path = g_build_filename (fixture->target,
                                                  workers[t].finals[GROUP_FILES], NULL);

        g_assert_true (g_str_has_prefix (workers[t].finals[GROUP_FILES], "same"));
        g_assert_false (g_hash_table_contains (seen, workers[t].finals[GROUP_FILES]));
        g_hash_table_add (seen, workers[t].finals[GROUP_FILES]);
        assert_file_contents (path, same, sizeof same);
      }
    }

  /* Exactly the received files: no partial file left, nothing else. */
  for (guint f = 0; f < G_N_ELEMENTS (folders); f++)
    {
      g_autofree char *path = g_build_filename (fixture->target, folders[f], NULL);
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      g_assert_nonnull (dir);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_assert_false (g_str_has_suffix (name, FERRY_PARTIAL_SUFFIX));
          n_entries++;
        }
    }
  /* even/ and odd/ are entries of the top folder too. */
  g_assert_cmpuint (n_entries, ==, GROUP_THREADS * (GROUP_FILES + 1) + 2);

  for (guint t = 0; t < GROUP_THREADS; t++)
    for (guint i = 0; i <= GROUP_FILES; i++)
      g_free (workers[t].finals[i]);
}

static void
test_long_name_partial (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *name = g_strnfill (250, 'y');
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(GError) error = NULL;
  g_autofree char *final = NULL;
  g_autofree char *again = NULL;
  const guint8 bytes[] = "long";

  offer = offer_for (name, bytes, 4, 0644);
  final = receive_all (target, ferry_offer_get_entry (offer, 0), NULL, bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (final, ==, name);
  again = receive_all (target, ferry_offer_get_entry (offer, 0), NULL, bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (again), <=, 255);
  g_assert_true (g_str_has_suffix (again, " (1)"));
}

static void
test_symlinks_never_followed (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(GError) error = NULL;
  g_autofree char *sub = g_build_filename (fixture->target, "sub", NULL);
  g_autofree char *victim = g_build_filename (fixture->outside, "victim.txt", NULL);
  g_autofree char *part_link = g_build_filename (fixture->target, "a.txt.ferry-part", NULL);
  g_autofree char *final_link = g_build_filename (fixture->target, "b.txt", NULL);
  g_autofree char *album_link = g_build_filename (fixture->target, "Album", NULL);
  g_autofree char *fifo = g_build_filename (fixture->target, "c.txt.ferry-part", NULL);
  g_autofree char *file_in_way = g_build_filename (fixture->target, "plain", NULL);
  const guint8 bytes[] = "attacker bytes";
  const char *original = "precious";

  g_file_set_contents (victim, original, -1, &error);
  g_assert_no_error (error);

  /* A folder link pointing outside. */
  g_assert_no_errno (symlink (fixture->outside, sub));
  {
    g_autoptr(FerryOffer) offer = offer_for ("sub/victim.txt", bytes, 14, 0644);
    g_autoptr(FerryReceiveFile) file = NULL;

    file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                           NULL, &error);
    g_assert_null (file);
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH);
    g_clear_error (&error);

    g_assert_false (ferry_receive_target_make_folder (target, "sub/new", &error));
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH);
    g_clear_error (&error);
  }

  /* A link planted under the partial file's name. */
  g_assert_no_errno (symlink (victim, part_link));
  {
    g_autoptr(FerryOffer) offer = offer_for ("a.txt", bytes, 14, 0644);
    g_autoptr(FerryReceiveFile) file = NULL;

    file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                           NULL, &error);
    g_assert_null (file);
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH);
    g_clear_error (&error);
  }

  /* A link under the final name is not replaced, nor written through. */
  g_assert_no_errno (symlink (victim, final_link));
  {
    g_autoptr(FerryOffer) offer = offer_for ("b.txt", bytes, 14, 0644);
    g_autofree char *final = NULL;

    final = receive_all (target, ferry_offer_get_entry (offer, 0), NULL, bytes, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (final, ==, "b (1).txt");
    g_assert_true (g_file_test (final_link, G_FILE_TEST_IS_SYMLINK));
  }

  /* A link under a top-level folder name gets a numbered folder instead. */
  g_assert_no_errno (symlink (fixture->outside, album_link));
  {
    g_autofree char *name = ferry_receive_target_reserve_folder (target, "Album", &error);

    g_assert_no_error (error);
    g_assert_cmpstr (name, ==, "Album (1)");
  }

  /* A FIFO under the partial name must not hang or be used. */
  g_assert_no_errno (mkfifo (fifo, 0600));
  {
    g_autoptr(FerryOffer) offer = offer_for ("c.txt", bytes, 14, 0644);
    g_autoptr(FerryReceiveFile) file = NULL;

    file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                           NULL, &error);
    g_assert_null (file);
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH);
    g_clear_error (&error);
  }

  /* A file where a folder is needed. */
  g_file_set_contents (file_in_way, "x", -1, &error);
  g_assert_no_error (error);
  {
    g_autoptr(FerryOffer) offer = offer_for ("plain/inner.txt", bytes, 14, 0644);
    g_autoptr(FerryReceiveFile) file = NULL;

    file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                           NULL, &error);
    g_assert_null (file);
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH);
    g_clear_error (&error);
  }

  /* Paths from elsewhere (the store) get checked too. */
  {
    g_autoptr(FerryOffer) offer = offer_for ("ok.txt", bytes, 14, 0644);
    g_autoptr(FerryReceiveFile) file = NULL;

    file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0),
                                           "../outside/victim.txt", 0, NULL, &error);
    g_assert_null (file);
    g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_INVALID_PATH);
    g_clear_error (&error);
  }

  /* Outside is exactly as it was. */
  assert_file_contents (victim, (const guint8 *) original, strlen (original));
  {
    g_autoptr(GDir) dir = g_dir_open (fixture->outside, 0, NULL);

    g_assert_cmpstr (g_dir_read_name (dir), ==, "victim.txt");
    g_assert_null (g_dir_read_name (dir));
  }
}

static void
test_resume (Fixture       *fixture,
             gconstpointer  data)
{
  gsize size = 3 * FERRY_BLOCK_SIZE + 500;
  g_autofree guint8 *bytes = make_data (size, 4);
  g_autoptr(FerryOffer) offer = offer_for ("big.bin", bytes, size, 0644);
  const FerryOfferEntry *entry = ferry_offer_get_entry (offer, 0);
  g_autoptr(FerryReceiveTarget) target = target_new (fixture->target);
  g_autoptr(GError) error = NULL;
  g_autofree char *partial = g_build_filename (fixture->target, "big.bin.ferry-part", NULL);
  g_autofree char *final = NULL;
  guint8 first_block[FERRY_HASH_SIZE];
  FerryReceiveFile *file;
  struct stat st;

  /* First attempt: 2.5 blocks arrive, then the connection "drops". */
  file = ferry_receive_target_open_file (target, entry, NULL, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ferry_receive_file_write (file, bytes, 2 * FERRY_BLOCK_SIZE + 1000, &error));
  g_assert_cmpuint (ferry_receive_file_get_n_complete_blocks (file), ==, 2);
  memcpy (first_block, ferry_receive_file_get_block_hash (file, 0), FERRY_HASH_SIZE);
  ferry_receive_file_free (file);
  g_assert_no_errno (stat (partial, &st));
  g_assert_cmpint (st.st_size, ==, 2 * FERRY_BLOCK_SIZE + 1000);

  /* Not a block boundary: refused. */
  file = ferry_receive_target_open_file (target, entry, NULL, 1000, NULL, &error);
  g_assert_null (file);
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH);
  g_clear_error (&error);

  /* Beyond what the partial file holds: refused. */
  file = ferry_receive_target_open_file (target, entry, NULL, 3 * FERRY_BLOCK_SIZE, NULL,
                                         &error);
  g_assert_null (file);
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_RESUME_MISMATCH);
  g_clear_error (&error);

  /* Resume at the last verified block: the tail is cut, the kept blocks are
   * re-hashed, and the finished file verifies as a whole.
   */
  file = ferry_receive_target_open_file (target, entry, NULL, 2 * FERRY_BLOCK_SIZE, NULL,
                                         &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ferry_receive_file_get_offset (file), ==, 2 * FERRY_BLOCK_SIZE);
  g_assert_cmpuint (ferry_receive_file_get_n_complete_blocks (file), ==, 2);
  g_assert_cmpmem (ferry_receive_file_get_block_hash (file, 0), FERRY_HASH_SIZE,
                   first_block, FERRY_HASH_SIZE);
  g_assert_no_errno (stat (partial, &st));
  g_assert_cmpint (st.st_size, ==, 2 * FERRY_BLOCK_SIZE);

  g_assert_true (ferry_receive_file_write (file, bytes + 2 * FERRY_BLOCK_SIZE,
                                           size - 2 * FERRY_BLOCK_SIZE, &error));
  final = ferry_receive_file_finish (file, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (final, ==, "big.bin");
  ferry_receive_file_free (file);

  {
    g_autofree char *path = g_build_filename (fixture->target, "big.bin", NULL);
    assert_file_contents (path, bytes, size);
  }
}

static void
test_not_a_folder (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (fixture->dir, "missing", NULL);
  g_autoptr(GFile) folder = g_file_new_for_path (missing);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryReceiveTarget) target = NULL;

  target = ferry_receive_target_new (folder, &error);
  g_assert_null (target);
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NOT_A_FOLDER);
}

static void
test_disk_full (Fixture       *fixture,
                gconstpointer  data)
{
  g_autofree char *small = g_build_filename (fixture->dir, "small-disk", NULL);
  g_autoptr(FerryReceiveTarget) target = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *partial = NULL;
  g_autofree char *contents = NULL;
  gsize size = 2 * FERRY_BLOCK_SIZE;
  g_autofree guint8 *bytes = make_data (size, 5);
  FerryReceiveFile *file;
  gsize len;
  gsize step = 64 * 1024;
  gsize written = 0;

  if (!private_mounts)
    {
      g_printerr ("\n#\n# SKIPPING the disk-full test: no private mount namespace "
                  "(needs root / CAP_SYS_ADMIN)\n#\n");
      g_test_skip ("SKIP: cannot mount a small tmpfs here (needs root)");
      return;
    }

  g_assert_no_errno (g_mkdir (small, 0755));
  if (mount ("ferry-test", small, "tmpfs", 0, "size=1m") != 0)
    {
      g_printerr ("\n#\n# SKIPPING the disk-full test: mounting tmpfs failed: %s\n#\n",
                  g_strerror (errno));
      g_test_skip ("SKIP: cannot mount a small tmpfs here");
      return;
    }

  target = target_new (small);
  offer = offer_for ("too-big.bin", bytes, size, 0644);

  /* The free-space check refuses an offer that can't fit, accepts what can. */
  g_assert_false (ferry_receive_target_check_space (target, ferry_offer_get_total_size (offer),
                                                    &error));
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NO_SPACE);
  g_clear_error (&error);
  g_assert_true (ferry_receive_target_check_space (target, 100 * 1024, &error));
  g_assert_no_error (error);

  /* Writing past the end of the disk anyway. */
  file = ferry_receive_target_open_file (target, ferry_offer_get_entry (offer, 0), NULL, 0,
                                         NULL, &error);
  g_assert_no_error (error);
  partial = g_strdup (ferry_receive_file_get_partial_path (file));

  while (written < size)
    {
      if (!ferry_receive_file_write (file, bytes + written, step, &error))
        break;
      written += step;
    }
  g_assert_error (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NO_SPACE);
  g_assert_cmpuint (ferry_receive_file_get_offset (file), >, 0);
  g_assert_cmpuint (ferry_receive_file_get_offset (file), <, size);
  len = (gsize) ferry_receive_file_get_offset (file);
  ferry_receive_file_free (file);

  /* The partial file keeps every byte written so far, for a resume. */
  g_clear_error (&error);
  g_file_get_contents (partial, &contents, NULL, &error);
  g_assert_no_error (error);
  assert_file_contents (partial, bytes, len);

  g_clear_object (&target);
  g_assert_no_errno (umount (small));
}

int
main (int   argc,
      char *argv[])
{
  /* Before any thread exists: a mount namespace of our own, with mounts not
   * propagating back, so the tmpfs of the disk-full test never outlives us.
   */
  if (unshare (CLONE_NEWNS) == 0
      && mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    private_mounts = TRUE;

  ferry_test_init (&argc, &argv);

  g_test_add ("/receive-target/atomic-finish", Fixture, NULL,
              fixture_set_up, test_atomic_finish, fixture_tear_down);
  g_test_add ("/receive-target/hash-mismatch", Fixture, NULL,
              fixture_set_up, test_hash_mismatch, fixture_tear_down);
  g_test_add ("/receive-target/numbered-names", Fixture, NULL,
              fixture_set_up, test_numbered_names, fixture_tear_down);
  g_test_add ("/receive-target/group-commit", Fixture, NULL,
              fixture_set_up, test_group_commit, fixture_tear_down);
  g_test_add ("/receive-target/long-name-partial", Fixture, NULL,
              fixture_set_up, test_long_name_partial, fixture_tear_down);
  g_test_add ("/receive-target/symlinks-never-followed", Fixture, NULL,
              fixture_set_up, test_symlinks_never_followed, fixture_tear_down);
  g_test_add ("/receive-target/resume", Fixture, NULL,
              fixture_set_up, test_resume, fixture_tear_down);
  g_test_add ("/receive-target/not-a-folder", Fixture, NULL,
              fixture_set_up, test_not_a_folder, fixture_tear_down);
  g_test_add ("/receive-target/disk-full", Fixture, NULL,
              fixture_set_up, test_disk_full, fixture_tear_down);

  return g_test_run ();
}
