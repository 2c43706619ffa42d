/* test-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "ferry-store.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 20000
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define GIB ((guint64) 1024 * 1024 * 1024)

typedef struct
{
  char *dir;
  char *db_path;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("store");
  fixture->db_path = g_build_filename (fixture->dir, "nested", "folder", "ferry.db", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->db_path);
}

/* Async calls made synchronous for the tests, waiting with a deadline. */

static FerryStore *
store_open (const char  *path,
            GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_store_open_async (path, NULL, ferry_test_async_result_cb, &result);
  return ferry_store_open_finish (ferry_test_wait_async_result (&result, TIMEOUT_MS), error);
}

static FerryStoreTransfer *
store_begin_claiming (FerryStore                  *store,
                      FerryStoreDirection          direction,
                      FerryOffer                  *offer,
                      const char                  *target,
                      const FerryStoreResumeClaim *claim)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  FerryStoreTransfer *transfer;

  ferry_store_begin_transfer_async (store, direction, offer, target, "Alice's laptop", claim,
                                    NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  transfer = ferry_store_begin_transfer_finish (store, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (transfer);
  return transfer;
}

static FerryStoreTransfer *
store_begin (FerryStore          *store,
             FerryStoreDirection  direction,
             FerryOffer          *offer,
             const char          *target)
{
  return store_begin_claiming (store, direction, offer, target, NULL);
}

#define TEST_BINDING "ferry resume proof v1\nsender\nreceiver"

/* A receive resumed by the peer that knows @earlier's resume secret. */
static FerryStoreTransfer *
store_begin_resuming (FerryStore         *store,
                      FerryOffer         *offer,
                      const char         *target,
                      FerryStoreTransfer *earlier)
{
  FerryStoreResumeClaim claim = { .binding = TEST_BINDING };

  g_assert_nonnull (earlier->resume_secret);
  ferry_resume_proof_compute (g_bytes_get_data (earlier->resume_secret, NULL), claim.binding,
                              claim.proof);
  return store_begin_claiming (store, FERRY_STORE_RECEIVE, offer, target, &claim);
}

static FerryStoreTransfer *
store_find (FerryStore          *store,
            FerryStoreDirection  direction,
            FerryOffer          *offer,
            const char          *target)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = ferry_offer_dup_transfer_key (offer);
  FerryStoreTransfer *transfer;

  ferry_store_find_resumable_async (store, direction, key, target, NULL,
                                    ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  transfer = ferry_store_find_resumable_finish (store, result, &error);
  g_assert_no_error (error);
  return transfer;
}

static void
store_flush (FerryStore *store)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  ferry_store_flush_async (store, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_true (ferry_store_flush_finish (store, result, &error));
  g_assert_no_error (error);
}

static void
assert_update_ok (FerryStore    *store,
                  GAsyncResult **slot)
{
  g_autoptr(GError) error = NULL;

  ferry_test_wait_async_result (slot, TIMEOUT_MS);
  g_assert_true (ferry_store_update_finish (store, *slot, &error));
  g_assert_no_error (error);
  g_clear_object (slot);
}

static GPtrArray *
store_history (FerryStore *store)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *list;

  ferry_store_list_history_async (store, 0, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  list = ferry_store_list_history_finish (store, result, &error);
  g_assert_no_error (error);
  return list;
}

static FerryOffer *
offer_from_json (const char *entries)
{
  g_autofree char *json = g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[%s]}", entries);
  g_autoptr(GError) error = NULL;
  FerryOffer *offer;

  offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
  g_assert_no_error (error);
  return offer;
}

static FerryOffer *
big_file_offer (const char *name,
                guint64     size,
                const char *content_id)
{
  g_autofree char *entry = g_strdup_printf ("{\"path\":\"%s\",\"type\":\"file\",\"size\":%"
                                            G_GUINT64_FORMAT ",\"content_id\":\"%s\"}",
                                            name, size, content_id);

  return offer_from_json (entry);
}

static void
block_hash (guint   index,
            guint8 *hash)
{
  guint32 le = GUINT32_TO_LE (index);

  crypto_generichash (hash, FERRY_HASH_SIZE, (const guint8 *) &le, sizeof le, NULL, 0);
}

static void
assert_verified_prefix (FerryStoreFile *file,
                        guint           n)
{
  const guint8 *hashes = g_bytes_get_data (file->verified_hashes, NULL);

  g_assert_cmpuint (file->verified->len, ==, n);
  g_assert_cmpuint (g_bytes_get_size (file->verified_hashes), ==, (gsize) n * FERRY_HASH_SIZE);
  for (guint i = 0; i < n; i++)
    {
      guint8 expected[FERRY_HASH_SIZE];

      g_assert_cmpuint (g_array_index (file->verified, guint, i), ==, i);
      block_hash (i, expected);
      g_assert_cmpmem (hashes + (gsize) i * FERRY_HASH_SIZE, FERRY_HASH_SIZE,
                       expected, FERRY_HASH_SIZE);
    }
}

/* Direct SQLite access, to look at the file as another program would. */

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  return db;
}

static char *
raw_query (sqlite3    *db,
           const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  char *value = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return value;
}

static void
raw_exec (sqlite3    *db,
          const char *sql)
{
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

static void
test_schema (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  const char *objects[] = { "transfers", "files", "blocks", "contacts", "history" };
  sqlite3 *db;

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ferry_store_get_path (store), ==, fixture->db_path);
  ferry_store_close (store);
  g_assert_true (g_file_test (fixture->db_path, G_FILE_TEST_IS_REGULAR));

  db = raw_open (fixture->db_path);
  {
    g_autofree char *version = raw_query (db, "PRAGMA user_version");
    g_autofree char *journal = raw_query (db, "PRAGMA journal_mode");

    g_assert_cmpstr (version, ==, G_STRINGIFY (FERRY_STORE_SCHEMA_VERSION));
    g_assert_cmpstr (journal, ==, "wal");
  }
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT type FROM sqlite_master WHERE name = '%s'",
                                              objects[i]);
      g_autofree char *type = raw_query (db, sql);

      g_assert_cmpstr (type, ==, i == 4 ? "view" : "table");
    }
  sqlite3_close (db);

  /* Requests after close fail cleanly. */
  {
    g_autoptr(GAsyncResult) result = NULL;

    ferry_store_flush_async (store, NULL, ferry_test_async_result_cb, &result);
    ferry_test_wait_async_result (&result, TIMEOUT_MS);
    g_assert_false (ferry_store_flush_finish (store, result, &error));
    g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_CLOSED);
  }
}

static void
test_default_path (void)
{
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "ferry", "ferry.db",
                                                NULL);
  g_autofree char *path = ferry_store_dup_default_path ();
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;

  /* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_HOME into a temporary folder. */
  g_assert_cmpstr (path, ==, expected);
  store = store_open (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ferry_store_get_path (store), ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
}

static void
write_raw_db (const char *path,
              int         version)
{
  g_autofree char *folder = g_path_get_dirname (path);
  g_autofree char *pragma = g_strdup_printf ("PRAGMA user_version = %d", version);
  sqlite3 *db;

  g_assert_no_errno (g_mkdir_with_parents (folder, 0700));
  db = raw_open (path);
  raw_exec (db, "CREATE TABLE keep (value TEXT)");
  raw_exec (db, "INSERT INTO keep VALUES ('precious')");
  raw_exec (db, pragma);
  sqlite3_close (db);
}

static void
test_future_version (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *wal = g_strconcat (fixture->db_path, "-wal", NULL);
  gsize before_len, after_len;
  sqlite3 *db;

  write_raw_db (fixture->db_path, 99);
  g_file_get_contents (fixture->db_path, &before, &before_len, &error);
  g_assert_no_error (error);

  store = store_open (fixture->db_path, &error);
  g_assert_null (store);
  g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_TOO_NEW);
  g_assert_nonnull (strstr (error->message, "newer version of Ferry"));
  g_clear_error (&error);

  /* Byte for byte as it was, and not switched to WAL. */
  g_file_get_contents (fixture->db_path, &after, &after_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (before, before_len, after, after_len);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));

  db = raw_open (fixture->db_path);
  {
    g_autofree char *value = raw_query (db, "SELECT value FROM keep");
    g_autofree char *version = raw_query (db, "PRAGMA user_version");

    g_assert_cmpstr (value, ==, "precious");
    g_assert_cmpstr (version, ==, "99");
  }
  sqlite3_close (db);
}

static void
test_v0_migration (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  write_raw_db (fixture->db_path, 0);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  ferry_store_close (store);

  db = raw_open (fixture->db_path);
  {
    g_autofree char *value = raw_query (db, "SELECT value FROM keep");
    g_autofree char *version = raw_query (db, "PRAGMA user_version");
    g_autofree char *blocks = raw_query (db, "SELECT count(*) FROM blocks");

    g_assert_cmpstr (value, ==, "precious");
    g_assert_cmpstr (version, ==, G_STRINGIFY (FERRY_STORE_SCHEMA_VERSION));
    g_assert_cmpstr (blocks, ==, "0");
  }
  sqlite3_close (db);
}

/* A database as an older Ferry left it: made by this one, turned back with
 * @sql (which sets its user_version) and opened again, which migrates it.
 * Returns its history. */
static GPtrArray *
history_after_migrating (Fixture    *fixture,
                         const char *sql)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *history;
  sqlite3 *db;

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  ferry_store_close (store);
  g_clear_object (&store);

  db = raw_open (fixture->db_path);
  raw_exec (db, sql);
  sqlite3_close (db);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  history = store_history (store);
  ferry_store_close (store);

  db = raw_open (fixture->db_path);
  {
    g_autofree char *version = raw_query (db, "PRAGMA user_version");

    g_assert_cmpstr (version, ==, G_STRINGIFY (FERRY_STORE_SCHEMA_VERSION));
  }
  sqlite3_close (db);
  return history;
}

/* What schema 4 added, taken away again: the history view as schema 2 and 3
 * had it. */
#define BACK_TO_V3 \
  "DROP VIEW history;" \
  "ALTER TABLE transfers DROP COLUMN started_at;" \
  "ALTER TABLE transfers DROP COLUMN bytes_moved;" \
  "ALTER TABLE transfers DROP COLUMN first_path_kind;" \
  "CREATE VIEW history AS" \
  "  SELECT id, direction, transfer_key, state AS outcome, peer_name, target_folder," \
  "         created_at, finished_at, total_bytes, bytes_done, n_files, path_kind, relay," \
  "         error_message, sources" \
  "  FROM transfers ORDER BY created_at DESC, id DESC;"

/* A schema 3 database keeps its transfers, their files and resume secrets;
 * its history gains the names of what was moved (as they landed: a folder
 * reserved as "Fotos (1)" is named so), and no speed, since the start of
 * the bytes was not recorded. */
static void
test_v3_migration (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) history = NULL;
  FerryStoreTransfer *entry;
  sqlite3 *db;

  history = history_after_migrating (fixture, BACK_TO_V3
                "INSERT INTO transfers (id, direction, transfer_key, selection_key, state,"
                "  target_folder, created_at, finished_at, total_bytes, bytes_done, n_files,"
                "  path_kind, resume_secret)"
                "  VALUES (1, 'receive', 'k1', 's1', 'interrupted', '/in', 1000, NULL, 300, 100,"
                "          2, 'relayed', zeroblob (32));"
                "INSERT INTO files (transfer_id, path, local_path, kind, size, content_id, mode,"
                "  state) VALUES"
                "  (1, 'Fotos', NULL, 'folder', 0, NULL, 493, 'complete'),"
                "  (1, 'Fotos/a.jpg', 'Fotos (1)/a.jpg', 'file', 100, '" HEX_A "', 420,"
                "   'complete'),"
                "  (1, 'notes, \"final\".txt', NULL, 'file', 200, '" HEX_B "', 420, 'partial');"
                "INSERT INTO transfers (id, direction, transfer_key, selection_key, state,"
                "  created_at, finished_at, total_bytes, n_files, sources)"
                "  VALUES (2, 'send', 'k2', 's2', 'completed', 2000, 3000, 42, 0, '[\"/x/y\"]');"
                "PRAGMA user_version = 3;");

  g_assert_cmpuint (history->len, ==, 2);
  entry = g_ptr_array_index (history, 1);
  g_assert_cmpint (entry->id, ==, 1);
  g_assert_cmpint (entry->state, ==, FERRY_STORE_TRANSFER_INTERRUPTED);
  g_assert_cmpuint (entry->bytes_done, ==, 100);
  g_assert_cmpstr (entry->path_kind, ==, "relayed");
  g_assert_null (entry->first_path_kind);
  g_assert_cmpint (entry->started_at, ==, 0);
  g_assert_cmpuint (entry->bytes_moved, ==, 0);
  g_assert_nonnull (entry->names);
  g_assert_cmpuint (g_strv_length (entry->names), ==, 2);
  g_assert_cmpstr (entry->names[0], ==, "Fotos (1)");
  g_assert_cmpstr (entry->names[1], ==, "notes, \"final\".txt");

  entry = g_ptr_array_index (history, 0);
  g_assert_cmpint (entry->id, ==, 2);
  g_assert_cmpint (entry->finished_at, ==, 3000);
  g_assert_cmpstr (entry->sources[0], ==, "/x/y");
  g_assert_nonnull (entry->names);
  g_assert_cmpuint (g_strv_length (entry->names), ==, 0);

  db = raw_open (fixture->db_path);
  {
    g_autofree char *secret = raw_query (db, "SELECT length (resume_secret) FROM transfers "
                                             "WHERE id = 1");
    g_autofree char *files = raw_query (db, "SELECT count(*) FROM files");

    g_assert_cmpstr (secret, ==, "32");
    g_assert_cmpstr (files, ==, "3");
  }
  sqlite3_close (db);
}

/* A database written by the first release (schema 1) keeps its history and
 * gains the column for what a send chose. */
static void
test_v1_migration (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) history = NULL;
  FerryStoreTransfer *old;

  /* Turned back into what schema 1 looked like, with one transfer. */
  history = history_after_migrating (fixture, BACK_TO_V3
                "DROP VIEW history;"
                "ALTER TABLE transfers DROP COLUMN resume_secret;"
                "ALTER TABLE transfers DROP COLUMN sources;"
                "CREATE VIEW history AS"
                "  SELECT id, direction, transfer_key, state AS outcome, peer_name,"
                "         target_folder, created_at, finished_at, total_bytes, bytes_done,"
                "         n_files, path_kind, relay, error_message"
                "  FROM transfers ORDER BY created_at DESC, id DESC;"
                "INSERT INTO transfers (direction, transfer_key, selection_key, state,"
                "  created_at, total_bytes, n_files, path_kind)"
                "  VALUES ('send', 'k', 's', 'completed', 1, 42, 1, 'relayed');"
                "PRAGMA user_version = 1;");

  g_assert_cmpuint (history->len, ==, 1);
  old = g_ptr_array_index (history, 0);
  g_assert_cmpuint (old->total_bytes, ==, 42);
  g_assert_cmpstr (old->path_kind, ==, "relayed");
  g_assert_null (old->sources);
}

static void
offer_built_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  *(FerryOffer **) user_data = ferry_offer_new_from_files_finish (result, &error);
  g_assert_no_error (error);
}

/* A send remembers the files and folders that were chosen, so the history
 * can send them again; a receive does not. */
static void
test_send_sources (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryStoreTransfer) sent = NULL;
  g_autoptr(FerryStoreTransfer) received = NULL;
  g_autoptr(GPtrArray) history = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file_path = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autofree char *folder_path = g_build_filename (fixture->dir, "Fotos", NULL);
  g_autofree char *inner_path = g_build_filename (folder_path, "a.jpg", NULL);
  g_autofree char *target = g_build_filename (fixture->dir, "in", NULL);
  GFile *files[2];

  g_assert_no_errno (g_mkdir (folder_path, 0755));
  ferry_test_write_random_file (file_path, 1000, 1);
  ferry_test_write_random_file (inner_path, 2000, 2);
  files[0] = g_file_new_for_path (file_path);
  files[1] = g_file_new_for_path (folder_path);
  ferry_offer_new_from_files_async (files, 2, NULL, offer_built_cb, &offer);
  g_assert_true (ferry_test_wait_for_pointer ((gpointer *) &offer, TIMEOUT_MS));
  g_object_unref (files[0]);
  g_object_unref (files[1]);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  sent = store_begin (store, FERRY_STORE_SEND, offer, NULL);
  received = store_begin (store, FERRY_STORE_RECEIVE, offer, target);
  history = store_history (store);
  ferry_store_close (store);

  g_assert_cmpuint (history->len, ==, 2);
  for (guint i = 0; i < history->len; i++)
    {
      FerryStoreTransfer *transfer = g_ptr_array_index (history, i);

      if (transfer->direction == FERRY_STORE_RECEIVE)
        {
          g_assert_null (transfer->sources);
          continue;
        }

      /* The two chosen items, not what is inside the folder. */
      g_assert_nonnull (transfer->sources);
      g_assert_cmpuint (g_strv_length (transfer->sources), ==, 2);
      g_assert_true (g_strv_contains ((const char * const *) transfer->sources, file_path));
      g_assert_true (g_strv_contains ((const char * const *) transfer->sources, folder_path));
    }
}

static void
test_not_a_database (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *folder = g_path_get_dirname (fixture->db_path);
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;
  const char junk[] = "This is a text file, certainly not SQLite. It must not be overwritten.";

  g_assert_no_errno (g_mkdir_with_parents (folder, 0700));
  g_file_set_contents (fixture->db_path, junk, sizeof junk, &error);
  g_assert_no_error (error);

  store = store_open (fixture->db_path, &error);
  g_assert_null (store);
  g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_CORRUPT);
  g_clear_error (&error);

  g_file_get_contents (fixture->db_path, &after, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (after, sizeof junk, junk, sizeof junk);
}

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
batches_grew (gpointer user_data)
{
  gpointer *args = user_data;

  return ferry_store_get_n_batches (args[0]) > GPOINTER_TO_UINT (args[1]);
}

static void
test_batched_blocks (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(FerryOffer) offer = big_file_offer ("movie.mkv", 2 * GIB, HEX_A);
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autoptr(FerryStoreTransfer) again = NULL;
  g_autoptr(GError) error = NULL;
  FerryStoreFile *file;
  guint batches_before;
  guint8 hash[FERRY_HASH_SIZE];

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  transfer = store_begin (store, FERRY_STORE_RECEIVE, offer, "/home/me/Downloads");
  g_assert_false (transfer->resumed);
  g_assert_cmpuint (transfer->files->len, ==, 1);
  file = g_ptr_array_index (transfer->files, 0);
  g_assert_cmpstr (file->path, ==, "movie.mkv");
  g_assert_cmpuint (file->verified->len, ==, 0);
  g_assert_cmpuint (ferry_store_file_get_resume_offset (file), ==, 0);

  /* One block alone is committed by the timer, without a flush. */
  batches_before = ferry_store_get_n_batches (store);
  block_hash (0, hash);
  ferry_store_add_verified_block (store, file->id, 0, hash);
  {
    gpointer args[2] = { store, GUINT_TO_POINTER (batches_before) };
    /* The commit happens on the worker and wakes nothing here, so look
     * again every few milliseconds; the deadline still fails the test.
     */
    guint tick = g_timeout_add (5, tick_cb, NULL);
    gint64 start = g_get_monotonic_time ();

    g_assert_true (ferry_test_wait_until (batches_grew, args, 5000));
    g_assert_cmpint (g_get_monotonic_time () - start, >=,
                     (FERRY_STORE_BATCH_INTERVAL_MS - 50) * G_TIME_SPAN_MILLISECOND);
    g_source_remove (tick);
  }

  /* A thousand blocks: a handful of transactions, not a thousand. */
  batches_before = ferry_store_get_n_batches (store);
  for (guint i = 1; i < 1000; i++)
    {
      block_hash (i, hash);
      ferry_store_add_verified_block (store, file->id, i, hash);
    }
  ferry_store_set_progress (store, transfer->id, 1000 * FERRY_BLOCK_SIZE);
  store_flush (store);
  g_assert_cmpuint (ferry_store_get_n_batches (store) - batches_before, >=, 1);
  g_assert_cmpuint (ferry_store_get_n_batches (store) - batches_before, <=,
                    1000 / FERRY_STORE_BATCH_BLOCKS + 2);

  /* Added but never flushed: close must commit them. */
  for (guint i = 1000; i < 1010; i++)
    {
      block_hash (i, hash);
      ferry_store_add_verified_block (store, file->id, i, hash);
    }
  ferry_store_close (store);
  g_clear_object (&store);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  again = store_find (store, FERRY_STORE_RECEIVE, offer, "/home/me/Downloads");
  g_assert_nonnull (again);
  g_assert_cmpint (again->id, ==, transfer->id);
  g_assert_cmpuint (again->bytes_done, ==, 1000 * FERRY_BLOCK_SIZE);
  g_assert_cmpstr (again->peer_name, ==, "Alice's laptop");
  file = ferry_store_transfer_find_file (again, "movie.mkv");
  g_assert_nonnull (file);
  assert_verified_prefix (file, 1010);
  g_assert_cmpuint (ferry_store_file_get_resume_offset (file), ==, 1010 * FERRY_BLOCK_SIZE);

  /* Another target folder or direction is another transfer. */
  g_assert_null (store_find (store, FERRY_STORE_RECEIVE, offer, "/elsewhere"));
  g_assert_null (store_find (store, FERRY_STORE_SEND, offer, NULL));
}

/* File @i of test_batched_file_states() and where it is said to land. */
static FerryStoreFile *
find_small_file (FerryStoreTransfer  *transfer,
                 guint                i,
                 char               **local)
{
  g_autofree char *path = g_strdup_printf ("d/f%05u.bin", i);
  FerryStoreFile *file = ferry_store_transfer_find_file (transfer, path);

  g_assert_nonnull (file);
  g_assert_cmpstr (file->path, ==, path);
  *local = g_strdup_printf ("d/f%05u (1).bin", i);
  return file;
}

/* Many small files: each file's completion rides in the batch with its
 * blocks (a few transactions, not one per file), survives a close, and
 * every file is found by its path.
 */
static void
test_batched_file_states (Fixture       *fixture,
                          gconstpointer  data)
{
  enum { N = 2000 };
  g_autoptr(GString) entries = g_string_new ("{\"path\":\"d\",\"type\":\"folder\"}");
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autoptr(FerryStoreTransfer) again = NULL;
  g_autoptr(GError) error = NULL;
  guint batches_before;
  guint8 hash[FERRY_HASH_SIZE];

  for (guint i = 0; i < N; i++)
    g_string_append_printf (entries, ",{\"path\":\"d/f%05u.bin\",\"type\":\"file\","
                            "\"size\":4096,\"content_id\":\"" HEX_A "\"}", i);
  offer = offer_from_json (entries->str);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  transfer = store_begin (store, FERRY_STORE_RECEIVE, offer, "/t");
  g_assert_cmpuint (transfer->files->len, ==, N + 1);

  batches_before = ferry_store_get_n_batches (store);
  for (guint i = 0; i < N; i++)
    {
      g_autofree char *local = NULL;
      FerryStoreFile *file = find_small_file (transfer, i, &local);

      block_hash (0, hash);
      ferry_store_add_verified_block (store, file->id, 0, hash);
      ferry_store_set_file_state (store, file->id, FERRY_STORE_FILE_COMPLETE, local);
    }
  g_assert_null (ferry_store_transfer_find_file (transfer, "d/missing.bin"));
  store_flush (store);
  g_assert_cmpuint (ferry_store_get_n_batches (store) - batches_before, >=, 1);
  g_assert_cmpuint (ferry_store_get_n_batches (store) - batches_before, <=,
                    2 * N / FERRY_STORE_BATCH_BLOCKS + 2);

  /* The last ones are added but never flushed: close commits them. */
  {
    FerryStoreFile *folder = ferry_store_transfer_find_file (transfer, "d");

    g_assert_nonnull (folder);
    ferry_store_set_file_state (store, folder->id, FERRY_STORE_FILE_COMPLETE, "d (1)");
  }
  ferry_store_close (store);
  g_clear_object (&store);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  again = store_find (store, FERRY_STORE_RECEIVE, offer, "/t");
  g_assert_nonnull (again);
  for (guint i = 0; i < N; i++)
    {
      g_autofree char *local = NULL;
      FerryStoreFile *file = find_small_file (again, i, &local);

      g_assert_cmpint (file->state, ==, FERRY_STORE_FILE_COMPLETE);
      g_assert_cmpstr (file->local_path, ==, local);
      assert_verified_prefix (file, 1);
    }
  g_assert_cmpint (ferry_store_transfer_find_file (again, "d")->state, ==,
                   FERRY_STORE_FILE_COMPLETE);
}

static void
test_changed_content_discards_blocks (Fixture       *fixture,
                                      gconstpointer  data)
{
  g_autoptr(FerryOffer) first = offer_from_json (
    "{\"path\":\"d\",\"type\":\"folder\"},"
    "{\"path\":\"d/changes.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_A "\"},"
    "{\"path\":\"d/stays.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_B "\"},"
    "{\"path\":\"d/goes.bin\",\"type\":\"file\",\"size\":10,\"content_id\":\"" HEX_B "\"}");
  /* On retry, changes.bin has new contents, goes.bin is gone, new.bin is new. */
  g_autoptr(FerryOffer) second = offer_from_json (
    "{\"path\":\"d\",\"type\":\"folder\"},"
    "{\"path\":\"d/changes.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_C "\"},"
    "{\"path\":\"d/stays.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_B "\"},"
    "{\"path\":\"d/goes.bin\",\"type\":\"file\",\"size\":10,\"content_id\":\"" HEX_B "\"},"
    "{\"path\":\"d/new.bin\",\"type\":\"file\",\"size\":5,\"content_id\":\"" HEX_A "\"}");
  g_autoptr(FerryOffer) third = offer_from_json (
    "{\"path\":\"d\",\"type\":\"folder\"},"
    "{\"path\":\"d/changes.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_C "\"},"
    "{\"path\":\"d/stays.bin\",\"type\":\"file\",\"size\":10485760,\"content_id\":\"" HEX_B "\"}");
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryStoreTransfer) t1 = NULL;
  g_autoptr(FerryStoreTransfer) t2 = NULL;
  g_autoptr(FerryStoreTransfer) t3 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  FerryStoreFile *changes, *stays;
  guint8 hash[FERRY_HASH_SIZE];

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);

  t1 = store_begin (store, FERRY_STORE_RECEIVE, first, "/t");
  changes = ferry_store_transfer_find_file (t1, "d/changes.bin");
  stays = ferry_store_transfer_find_file (t1, "d/stays.bin");
  for (guint i = 0; i < 6; i++)
    {
      block_hash (i, hash);
      ferry_store_add_verified_block (store, changes->id, i, hash);
      ferry_store_add_verified_block (store, stays->id, i, hash);
    }
  ferry_store_set_file_state_async (store, stays->id, FERRY_STORE_FILE_PARTIAL, "d (1)/stays.bin",
                                    NULL, ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  /* The connection drops: resumable. */
  ferry_store_finish_transfer_async (store, t1->id, FERRY_STORE_TRANSFER_INTERRUPTED, NULL,
                                     NULL, ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);

  /* Not the same offer any more, so no exact match … */
  g_assert_null (store_find (store, FERRY_STORE_RECEIVE, second, "/t"));

  /* … but the same paths: resumed, with the changed file starting over. */
  t2 = store_begin_resuming (store, second, "/t", t1);
  g_assert_true (t2->resumed);
  g_assert_cmpint (t2->id, ==, t1->id);
  g_assert_cmpint (t2->state, ==, FERRY_STORE_TRANSFER_ACTIVE);
  g_assert_cmpuint (t2->files->len, ==, 5);

  changes = ferry_store_transfer_find_file (t2, "d/changes.bin");
  g_assert_cmpstr (changes->content_id, ==, HEX_C);
  g_assert_cmpuint (changes->verified->len, ==, 0);
  g_assert_cmpint (changes->state, ==, FERRY_STORE_FILE_PENDING);
  g_assert_cmpuint (ferry_store_file_get_resume_offset (changes), ==, 0);

  stays = ferry_store_transfer_find_file (t2, "d/stays.bin");
  assert_verified_prefix (stays, 6);
  g_assert_cmpuint (ferry_store_file_get_resume_offset (stays), ==, 6 * FERRY_BLOCK_SIZE);
  g_assert_cmpstr (stays->local_path, ==, "d (1)/stays.bin");
  g_assert_cmpint (stays->state, ==, FERRY_STORE_FILE_PARTIAL);
  g_assert_nonnull (ferry_store_transfer_find_file (t2, "d/new.bin"));

  /* A file no longer offered is dropped with its blocks. */
  t3 = store_begin_resuming (store, third, "/t", t2);
  g_assert_true (t3->resumed);
  g_assert_cmpuint (t3->files->len, ==, 3);
  g_assert_null (ferry_store_transfer_find_file (t3, "d/goes.bin"));
  g_assert_null (ferry_store_transfer_find_file (t3, "d/new.bin"));
  assert_verified_prefix (ferry_store_transfer_find_file (t3, "d/stays.bin"), 6);

  /* Discarding blocks of one file, e.g. after a damaged partial file. */
  stays = ferry_store_transfer_find_file (t3, "d/stays.bin");
  ferry_store_discard_blocks_async (store, stays->id, NULL, ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  {
    g_autoptr(FerryStoreTransfer) t4 = store_find (store, FERRY_STORE_RECEIVE, third, "/t");

    g_assert_nonnull (t4);
    g_assert_cmpuint (ferry_store_transfer_find_file (t4, "d/stays.bin")->verified->len, ==, 0);
  }

  /* Non-existing rows are reported. */
  ferry_store_discard_blocks_async (store, 987654, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_false (ferry_store_update_finish (store, result, &error));
  g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND);
}

static void
test_history (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(FerryOffer) o1 = big_file_offer ("one", 100, HEX_A);
  g_autoptr(FerryOffer) o2 = big_file_offer ("two", 200, HEX_B);
  g_autoptr(FerryOffer) o3 = big_file_offer ("three", 300, HEX_C);
  g_autoptr(FerryStoreTransfer) t1 = NULL;
  g_autoptr(FerryStoreTransfer) t2 = NULL;
  g_autoptr(FerryStoreTransfer) t3 = NULL;
  FerryStoreTransfer *entry;
  guint8 hash[FERRY_HASH_SIZE] = { 0 };

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);

  t1 = store_begin (store, FERRY_STORE_SEND, o1, NULL);
  t2 = store_begin (store, FERRY_STORE_RECEIVE, o2, "/in");
  t3 = store_begin (store, FERRY_STORE_RECEIVE, o3, "/in");

  ferry_store_add_verified_block (store, ((FerryStoreFile *) t1->files->pdata[0])->id, 0, hash);
  ferry_store_set_path_async (store, t1->id, "relayed", "turn.example.org:3478", NULL,
                              ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_finish_transfer_async (store, t1->id, FERRY_STORE_TRANSFER_COMPLETED, NULL, NULL,
                                     ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_set_path_async (store, t2->id, "direct-lan", NULL, NULL,
                              ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_finish_transfer_async (store, t2->id, FERRY_STORE_TRANSFER_FAILED,
                                     "The other side went away", NULL,
                                     ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);

  list = store_history (store);
  g_assert_cmpuint (list->len, ==, 3);

  /* Newest first. */
  entry = g_ptr_array_index (list, 0);
  g_assert_cmpint (entry->id, ==, t3->id);
  g_assert_cmpint (entry->state, ==, FERRY_STORE_TRANSFER_ACTIVE);
  g_assert_cmpint (entry->finished_at, ==, 0);

  entry = g_ptr_array_index (list, 1);
  g_assert_cmpint (entry->id, ==, t2->id);
  g_assert_cmpint (entry->direction, ==, FERRY_STORE_RECEIVE);
  g_assert_cmpint (entry->state, ==, FERRY_STORE_TRANSFER_FAILED);
  g_assert_cmpstr (entry->error_message, ==, "The other side went away");
  g_assert_cmpstr (entry->path_kind, ==, "direct-lan");
  g_assert_cmpstr (entry->target_folder, ==, "/in");
  g_assert_cmpuint (entry->total_bytes, ==, 200);

  entry = g_ptr_array_index (list, 2);
  g_assert_cmpint (entry->id, ==, t1->id);
  g_assert_cmpint (entry->direction, ==, FERRY_STORE_SEND);
  g_assert_cmpint (entry->state, ==, FERRY_STORE_TRANSFER_COMPLETED);
  g_assert_cmpstr (entry->path_kind, ==, "relayed");
  g_assert_cmpstr (entry->relay, ==, "turn.example.org:3478");
  g_assert_cmpint (entry->finished_at, >=, entry->created_at);
  g_assert_null (entry->files);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* A completed transfer is not resumable and keeps no block hashes. */
  g_assert_null (store_find (store, FERRY_STORE_SEND, o1, NULL));
  ferry_store_close (store);
  {
    sqlite3 *db = raw_open (fixture->db_path);
    g_autofree char *blocks = raw_query (db, "SELECT count(*) FROM blocks");

    g_assert_cmpstr (blocks, ==, "0");
    sqlite3_close (db);
  }
  g_clear_object (&store);
  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);

  /* Clearing keeps only what is running. */
  ferry_store_clear_history_async (store, NULL, ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  list = store_history (store);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpint (((FerryStoreTransfer *) list->pdata[0])->id, ==, t3->id);

  ferry_store_finish_transfer_async (store, 424242, FERRY_STORE_TRANSFER_FAILED, NULL, NULL,
                                     ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_false (ferry_store_update_finish (store, result, &error));
  g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND);
}

/* What a history row tells of the last attempt: the first and the last
 * path, when the bytes began to move and how many travelled; a resume starts
 * that afresh. Removing a row takes only that row, never a running one. */
static void
test_history_attempt (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(FerryOffer) sent = big_file_offer ("one", 100, HEX_A);
  g_autoptr(FerryOffer) received = big_file_offer ("two", 200, HEX_B);
  g_autoptr(FerryStoreTransfer) t1 = NULL;
  g_autoptr(FerryStoreTransfer) t2 = NULL;
  g_autoptr(FerryStoreTransfer) again = NULL;
  FerryStoreTransfer *entry;
  gint64 started = g_get_real_time ();

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);

  t1 = store_begin (store, FERRY_STORE_SEND, sent, NULL);
  t2 = store_begin (store, FERRY_STORE_RECEIVE, received, "/in");
  ferry_store_set_path_async (store, t1->id, "relayed", "turn.example.org:3478", NULL,
                              ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_set_path_async (store, t1->id, "direct-internet", NULL, NULL,
                              ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_set_moved_async (store, t1->id, started, 100, 60, NULL,
                               ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_finish_transfer_async (store, t1->id, FERRY_STORE_TRANSFER_INTERRUPTED, NULL, NULL,
                                     ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);

  list = store_history (store);
  g_assert_cmpuint (list->len, ==, 2);
  entry = g_ptr_array_index (list, 1);
  g_assert_cmpint (entry->id, ==, t1->id);
  g_assert_cmpstr (entry->first_path_kind, ==, "relayed");
  g_assert_cmpstr (entry->path_kind, ==, "direct-internet");
  g_assert_cmpint (entry->started_at, ==, started);
  g_assert_cmpuint (entry->bytes_done, ==, 100);
  g_assert_cmpuint (entry->bytes_moved, ==, 60);
  g_assert_cmpstr (entry->names[0], ==, "one");
  g_assert_null (entry->names[1]);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* The same send again picks up the interrupted one: a new attempt. */
  again = store_begin (store, FERRY_STORE_SEND, sent, NULL);
  g_assert_true (again->resumed);
  g_assert_cmpint (again->id, ==, t1->id);
  g_assert_null (again->first_path_kind);
  g_assert_cmpint (again->started_at, ==, 0);
  g_assert_cmpuint (again->bytes_moved, ==, 0);
  ferry_store_set_path_async (store, t1->id, "direct-lan", NULL, NULL,
                              ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);
  ferry_store_finish_transfer_async (store, t1->id, FERRY_STORE_TRANSFER_COMPLETED, NULL, NULL,
                                     ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);

  /* A running transfer is not removed; a finished one is, alone. */
  ferry_store_remove_transfer_async (store, t2->id, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_false (ferry_store_update_finish (store, result, &error));
  g_assert_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);
  ferry_store_remove_transfer_async (store, t1->id, NULL, ferry_test_async_result_cb, &result);
  assert_update_ok (store, &result);

  list = store_history (store);
  g_assert_cmpuint (list->len, ==, 1);
  entry = g_ptr_array_index (list, 0);
  g_assert_cmpint (entry->id, ==, t2->id);
  g_assert_cmpstr (entry->names[0], ==, "two");
  ferry_store_close (store);
  {
    sqlite3 *db = raw_open (fixture->db_path);
    g_autofree char *files = raw_query (db, "SELECT count(*) FROM files");

    g_assert_cmpstr (files, ==, "1");
    sqlite3_close (db);
  }
}

/* The crash helper: runs in a child process, records blocks in batches and
 * reports on stdout each count that a flush confirmed, until it is killed.
 */
#define CRASH_OFFER_ENTRY \
  "{\"path\":\"crash.bin\",\"type\":\"file\",\"size\":107374182400,\"content_id\":\"" HEX_A "\"}"
#define CRASH_TARGET "/crash/target"
#define CRASH_STEP 100

static int
run_crash_helper (const char *db_path)
{
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autoptr(GError) error = NULL;
  FerryStoreFile *file;
  guint n = 0;

  if (sodium_init () < 0)
    return 1;

  offer = offer_from_json (CRASH_OFFER_ENTRY);
  store = store_open (db_path, &error);
  g_assert_no_error (error);
  transfer = store_begin (store, FERRY_STORE_RECEIVE, offer, CRASH_TARGET);
  file = g_ptr_array_index (transfer->files, 0);

  for (;;)
    {
      guint8 hash[FERRY_HASH_SIZE];

      for (guint i = 0; i < CRASH_STEP; i++, n++)
        {
          block_hash (n, hash);
          ferry_store_add_verified_block (store, file->id, n, hash);
        }
      store_flush (store);
      printf ("committed %u\n", n);
      fflush (stdout);
    }

  return 0;
}

typedef struct
{
  char     *line;
  GError   *error;
  gboolean  done;
} LineRead;

static void
line_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  LineRead *read = user_data;

  read->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result,
                                                          NULL, &read->error);
  read->done = TRUE;
}

static void
test_crash_safety (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = offer_from_json (CRASH_OFFER_ENTRY);
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autofree char *folder = g_path_get_dirname (fixture->db_path);
  guint64 confirmed = 0;
  FerryStoreFile *file;
  sqlite3 *db;

  g_assert_no_errno (g_mkdir_with_parents (folder, 0700));
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            "/proc/self/exe", "--crash-helper", fixture->db_path, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));

  /* Let it commit a good number of batches, then kill it while it is busy
   * writing the next ones.
   */
  while (confirmed < 30 * CRASH_STEP)
    {
      LineRead read = { 0 };
      g_autofree char *line = NULL;

      g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, NULL, line_read_cb, &read);
      g_assert_true (ferry_test_wait_for_flag (&read.done, TIMEOUT_MS));
      g_assert_no_error (read.error);
      line = read.line;
      g_assert_nonnull (line);
      g_assert_true (g_str_has_prefix (line, "committed "));
      g_assert_true (g_ascii_string_to_unsigned (line + strlen ("committed "), 10, 0,
                                                 G_MAXUINT, &confirmed, NULL));
    }
  g_subprocess_send_signal (child, SIGKILL);
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (child));
  g_assert_cmpint (g_subprocess_get_term_sig (child), ==, SIGKILL);

  /* The database is whole, and holds every confirmed batch: a prefix of the
   * blocks, since batches commit in order and each one entirely or not at all.
   */
  db = raw_open (fixture->db_path);
  {
    g_autofree char *check = raw_query (db, "PRAGMA integrity_check");
    g_autofree char *fk = raw_query (db, "PRAGMA foreign_key_check");

    g_assert_cmpstr (check, ==, "ok");
    g_assert_null (fk);
  }
  sqlite3_close (db);

  store = store_open (fixture->db_path, &error);
  g_assert_no_error (error);
  transfer = store_find (store, FERRY_STORE_RECEIVE, offer, CRASH_TARGET);
  g_assert_nonnull (transfer);
  file = ferry_store_transfer_find_file (transfer, "crash.bin");
  g_assert_nonnull (file);
  g_test_message ("confirmed %" G_GUINT64_FORMAT ", found %u", confirmed, file->verified->len);
  g_assert_cmpuint (file->verified->len, >=, confirmed);
  assert_verified_prefix (file, file->verified->len);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && strcmp (argv[1], "--crash-helper") == 0)
    return run_crash_helper (argv[2]);

  ferry_test_init (&argc, &argv);

  g_test_add ("/store/schema", Fixture, NULL, fixture_set_up, test_schema, fixture_tear_down);
  g_test_add_func ("/store/default-path", test_default_path);
  g_test_add ("/store/future-version", Fixture, NULL,
              fixture_set_up, test_future_version, fixture_tear_down);
  g_test_add ("/store/v0-migration", Fixture, NULL,
              fixture_set_up, test_v0_migration, fixture_tear_down);
  g_test_add ("/store/v1-migration", Fixture, NULL,
              fixture_set_up, test_v1_migration, fixture_tear_down);
  g_test_add ("/store/v3-migration", Fixture, NULL,
              fixture_set_up, test_v3_migration, fixture_tear_down);
  g_test_add ("/store/send-sources", Fixture, NULL,
              fixture_set_up, test_send_sources, fixture_tear_down);
  g_test_add ("/store/not-a-database", Fixture, NULL,
              fixture_set_up, test_not_a_database, fixture_tear_down);
  g_test_add ("/store/batched-blocks", Fixture, NULL,
              fixture_set_up, test_batched_blocks, fixture_tear_down);
  g_test_add ("/store/batched-file-states", Fixture, NULL,
              fixture_set_up, test_batched_file_states, fixture_tear_down);
  g_test_add ("/store/changed-content-discards-blocks", Fixture, NULL,
              fixture_set_up, test_changed_content_discards_blocks, fixture_tear_down);
  g_test_add ("/store/history", Fixture, NULL, fixture_set_up, test_history, fixture_tear_down);
  g_test_add ("/store/history-attempt", Fixture, NULL,
              fixture_set_up, test_history_attempt, fixture_tear_down);
  g_test_add ("/store/crash-safety", Fixture, NULL,
              fixture_set_up, test_crash_safety, fixture_tear_down);

  return g_test_run ();
}
