/* ferry-store.c
 *
 * Ferry's SQLite database: transfers, their files, the blocks a receiver has
 * verified (for resuming), the history shown to people, and a reserved
 * contacts table. No code and no key is ever stored; a transfer is
 * recognised by its offer's transfer key (a hash of paths, sizes and
 * content ids). The one secret kept is each transfer's resume secret, which
 * proves that a resume comes from the peer of the earlier attempt (see
 * ferry-resume-proof.c): a receiver resumes only a transfer whose secret
 * the sender proves it knows.
 *
 * Threading: the store owns one worker thread, and that thread owns the only
 * SQLite connection; nothing else touches it. Every request is a job queued
 * to the worker, answered through a GTask on the caller's main context, so
 * no database work ever runs on the UI thread and the connection is never
 * shared. Jobs run in the order they were queued.
 *
 * Batching: verified blocks and progress arrive far too often to commit one
 * by one. ferry_store_add_verified_block() only appends to a pending list;
 * the worker commits the list in one transaction once
 * FERRY_STORE_BATCH_BLOCKS are waiting, FERRY_STORE_BATCH_INTERVAL_MS after
 * the first one arrived, before running any other job (so every query sees
 * every block added before it), on ferry_store_flush_async() and on close.
 *
 * Durability: WAL with synchronous=FULL, so each committed batch survives a
 * crash, kill -9 or power loss, and a batch is either all there or not at
 * all. Record a block only after the data is synced to disk
 * (ferry_receive_file_sync()): the store may then lag behind the disk, never
 * run ahead of it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-store"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "ferry-hasher.h"
#include "ferry-store.h"

#define BUSY_TIMEOUT_MS 5000

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* migrations[v] takes a database from user_version v to v + 1. Never edit
 * one that shipped: add the next.
 */
static const char * const migrations[] = {
  /* 0 → 1 */
  "CREATE TABLE transfers ("
  "  id            INTEGER PRIMARY KEY,"
  "  direction     TEXT    NOT NULL CHECK (direction IN ('send', 'receive')),"
  "  transfer_key  TEXT    NOT NULL,"
  "  selection_key TEXT    NOT NULL,"
  "  state         TEXT    NOT NULL CHECK (state IN ('active', 'interrupted', 'completed',"
  "                                                  'failed', 'cancelled')),"
  "  peer_name     TEXT,"
  "  target_folder TEXT,"
  "  created_at    INTEGER NOT NULL,"
  "  finished_at   INTEGER,"
  "  total_bytes   INTEGER NOT NULL DEFAULT 0,"
  "  bytes_done    INTEGER NOT NULL DEFAULT 0,"
  "  n_files       INTEGER NOT NULL DEFAULT 0,"
  "  path_kind     TEXT    CHECK (path_kind IN ('direct-lan', 'direct-internet', 'relayed')),"
  "  relay         TEXT,"
  "  error_message TEXT"
  ");"
  "CREATE INDEX transfers_by_key ON transfers (direction, transfer_key);"
  "CREATE INDEX transfers_by_selection ON transfers (direction, selection_key);"
  "CREATE INDEX transfers_by_time ON transfers (created_at);"
  "CREATE TABLE files ("
  "  id          INTEGER PRIMARY KEY,"
  "  transfer_id INTEGER NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,"
  "  path        TEXT    NOT NULL,"
  "  local_path  TEXT,"
  "  kind        TEXT    NOT NULL CHECK (kind IN ('file', 'folder')),"
  "  size        INTEGER NOT NULL,"
  "  content_id  TEXT,"
  "  mode        INTEGER NOT NULL,"
  "  state       TEXT    NOT NULL CHECK (state IN ('pending', 'partial', 'complete',"
  "                                                'skipped')),"
  "  UNIQUE (transfer_id, path)"
  ");"
  "CREATE TABLE blocks ("
  "  file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,"
  "  idx     INTEGER NOT NULL,"
  "  hash    BLOB    NOT NULL CHECK (length (hash) = 32),"
  "  PRIMARY KEY (file_id, idx)"
  ") WITHOUT ROWID;"
  "CREATE TABLE contacts ("
  "  id         INTEGER PRIMARY KEY,"
  "  name       TEXT    NOT NULL,"
  "  created_at INTEGER NOT NULL"
  ");"
  "CREATE VIEW history AS"
  "  SELECT id, direction, transfer_key, state AS outcome, peer_name, target_folder,"
  "         created_at, finished_at, total_bytes, bytes_done, n_files, path_kind, relay,"
  "         error_message"
  "  FROM transfers ORDER BY created_at DESC, id DESC;",

  /* 1 → 2: what the sender chose, so the history can send it again. */
  "ALTER TABLE transfers ADD COLUMN sources TEXT;"
  "DROP VIEW history;"
  "CREATE VIEW history AS"
  "  SELECT id, direction, transfer_key, state AS outcome, peer_name, target_folder,"
  "         created_at, finished_at, total_bytes, bytes_done, n_files, path_kind, relay,"
  "         error_message, sources"
  "  FROM transfers ORDER BY created_at DESC, id DESC;",

  /* 2 → 3: the resume secret that ties a transfer to its peer (see
   * ferry-resume-proof.c). Transfers from before have none, so they can't be
   * resumed: nothing proves who would be resuming them. The history view
   * does not show it.
   */
  "ALTER TABLE transfers ADD COLUMN resume_secret BLOB"
  "  CHECK (resume_secret IS NULL OR length (resume_secret) = 32);",

  /* 3 → 4: what the history tells of the last attempt: when its bytes began
   * to move, how many travelled (not those a resume found already there),
   * and the path they took first (path_kind is the last one). Transfers from
   * before have none of it, so their rows show no speed. The view also
   * lists the top-level names of what was moved, as they are on the
   * receiver's disk, from the files: a folder by the first component of
   * where a file in it landed (paths inside "Fotos" sort between "Fotos/"
   * and "Fotos0", which the (transfer_id, path) index finds).
   */
  "ALTER TABLE transfers ADD COLUMN started_at INTEGER;"
  "ALTER TABLE transfers ADD COLUMN bytes_moved INTEGER;"
  "ALTER TABLE transfers ADD COLUMN first_path_kind TEXT"
  "  CHECK (first_path_kind IN ('direct-lan', 'direct-internet', 'relayed'));"
  "DROP VIEW history;"
  "CREATE VIEW history AS"
  "  SELECT id, direction, transfer_key, state AS outcome, peer_name, target_folder,"
  "         created_at, finished_at, total_bytes, bytes_done, n_files, path_kind, relay,"
  "         error_message, sources, started_at, bytes_moved, first_path_kind,"
  "         (SELECT json_group_array (name) FROM"
  "            (SELECT coalesce (top.local_path,"
  "                              (SELECT substr (f.local_path, 1, instr (f.local_path, '/') - 1)"
  "                               FROM files f WHERE f.transfer_id = top.transfer_id"
  "                               AND f.path > top.path || '/' AND f.path < top.path || '0'"
  "                               AND instr (f.local_path, '/') > 0 LIMIT 1),"
  "                              top.path) AS name"
  "             FROM files top"
  "             WHERE top.transfer_id = transfers.id AND instr (top.path, '/') = 0"
  "             ORDER BY top.id)) AS names"
  "  FROM transfers ORDER BY created_at DESC, id DESC;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == FERRY_STORE_SCHEMA_VERSION);

static const char * const direction_names[] = { "send", "receive" };
static const char * const transfer_state_names[] = {
  "active", "interrupted", "completed", "failed", "cancelled",
};
static const char * const file_state_names[] = { "pending", "partial", "complete", "skipped" };

typedef struct
{
  gint64 file_id;
  guint  index;
  guint8 hash[FERRY_HASH_SIZE];
} PendingBlock;

typedef struct
{
  gint64  transfer_id;
  guint64 bytes_done;
} PendingProgress;

#define UPDATE_FILE_STATE_SQL \
  "UPDATE files SET state = ?, local_path = coalesce (?, local_path) WHERE id = ?"

/* A file state change, committed with the next batch. */
typedef struct
{
  gint64               file_id;
  FerryStoreFileState  state;
  char                *local_path;
} PendingState;

static GArray *new_pending_states (void);

typedef void (*JobFunc) (FerryStore *self,
                         GTask      *task);

/* A job without a function only wakes the worker up; one with quit set ends it. */
typedef struct
{
  JobFunc   func;
  GTask    *task;
  gboolean  quit;
} Job;


struct _FerryStore
{
  GObject       parent_instance;

  char         *path;
  GThread      *worker;
  GAsyncQueue  *jobs;
  gboolean      closed;

  /* Owned by the worker thread only. */
  sqlite3      *db;
  GError       *batch_error;

  /* Shared with callers of add_verified_block() and set_progress(). */
  GMutex        pending_lock;
  GArray       *pending_blocks;
  GArray       *pending_progress;
  GArray       *pending_states;
  gint64        first_pending_at;

  guint         n_batches;   /* atomic */
};

enum {
  PROP_0,
  PROP_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (FerryStore, ferry_store, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-store-error-quark, ferry_store_error)

static gboolean
set_db_error (sqlite3     *db,
              int          rc,
              GError     **error)
{
  int primary = rc & 0xff;

  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
    g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_CORRUPT,
                 "The Ferry database is damaged or not a database: %s", sqlite3_errstr (rc));
  else
    g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_FAILED,
                 "Database error: %s", db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return FALSE;
}

static gboolean
db_exec (sqlite3     *db,
         const char  *sql,
         GError     **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return set_db_error (db, rc, error);
  return TRUE;
}

static sqlite3_stmt *
db_prepare (sqlite3     *db,
            const char  *sql,
            GError     **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      set_db_error (db, rc, error);
      return NULL;
    }
  return stmt;
}

/* Steps a statement that returns no rows. */
static gboolean
db_step_done (sqlite3       *db,
              sqlite3_stmt  *stmt,
              GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    return set_db_error (db, rc, error);
  sqlite3_reset (stmt);
  return TRUE;
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           index,
                   const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

static char *
column_dup_text (sqlite3_stmt *stmt,
                 int           index)
{
  const unsigned char *text = sqlite3_column_text (stmt, index);

  return text ? g_strdup ((const char *) text) : NULL;
}

static int
name_to_enum (const char * const *names,
              guint               n_names,
              const char         *name)
{
  for (guint i = 0; i < n_names; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return 0;
}

/* Records */

static void
store_file_free (gpointer data)
{
  FerryStoreFile *file = data;

  g_free (file->path);
  g_free (file->local_path);
  g_free (file->content_id);
  g_clear_pointer (&file->verified, g_array_unref);
  g_clear_pointer (&file->verified_hashes, g_bytes_unref);
  g_free (file);
}

void
ferry_store_transfer_free (FerryStoreTransfer *transfer)
{
  if (transfer == NULL)
    return;

  g_free (transfer->transfer_key);
  g_free (transfer->peer_name);
  g_free (transfer->target_folder);
  g_free (transfer->path_kind);
  g_free (transfer->first_path_kind);
  g_strfreev (transfer->names);
  g_free (transfer->relay);
  g_free (transfer->error_message);
  g_strfreev (transfer->sources);
  g_clear_pointer (&transfer->resume_secret, g_bytes_unref);
  g_clear_pointer (&transfer->file_index, g_hash_table_unref);
  g_clear_pointer (&transfer->files, g_ptr_array_unref);
  g_free (transfer);
}

/**
 * ferry_store_transfer_find_file:
 *
 * Returns: (nullable) (transfer none): the file with offered path @path
 */
FerryStoreFile *
ferry_store_transfer_find_file (FerryStoreTransfer *transfer,
                                const char         *path)
{
  g_return_val_if_fail (transfer != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (transfer->files == NULL)
    return NULL;

  /* Looked up once per offered file: a scan each would be quadratic in a
   * folder of many small files. The index is (re)made whenever the list
   * was changed since, which callers may do, as it is plain data.
   */
  if (transfer->file_index == NULL
      || transfer->file_index_len != transfer->files->len)
    {
      g_clear_pointer (&transfer->file_index, g_hash_table_unref);
      transfer->file_index = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < transfer->files->len; i++)
        {
          FerryStoreFile *file = g_ptr_array_index (transfer->files, i);

          /* Paths are unique in a transfer; keep the first, as the scan did. */
          if (!g_hash_table_contains (transfer->file_index, file->path))
            g_hash_table_insert (transfer->file_index, file->path, file);
        }
      transfer->file_index_len = transfer->files->len;
    }

  return g_hash_table_lookup (transfer->file_index, path);
}

/**
 * ferry_store_file_get_resume_offset:
 *
 * Returns: where to resume @file: the end of the run of verified blocks
 *   starting at block 0, capped at the file's size
 */
guint64
ferry_store_file_get_resume_offset (const FerryStoreFile *file)
{
  guint run = 0;

  g_return_val_if_fail (file != NULL, 0);

  while (run < file->verified->len && g_array_index (file->verified, guint, run) == run)
    run++;

  return MIN ((guint64) run * FERRY_BLOCK_SIZE, file->size);
}

/* GObject */

static void
ferry_store_dispose (GObject *object)
{
  ferry_store_close (FERRY_STORE (object));

  G_OBJECT_CLASS (ferry_store_parent_class)->dispose (object);
}

static void
ferry_store_finalize (GObject *object)
{
  FerryStore *self = FERRY_STORE (object);

  g_free (self->path);
  g_clear_pointer (&self->jobs, g_async_queue_unref);
  g_clear_pointer (&self->pending_blocks, g_array_unref);
  g_clear_pointer (&self->pending_progress, g_array_unref);
  g_clear_pointer (&self->pending_states, g_array_unref);
  g_clear_error (&self->batch_error);
  g_mutex_clear (&self->pending_lock);

  G_OBJECT_CLASS (ferry_store_parent_class)->finalize (object);
}

static void
ferry_store_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  FerryStore *self = FERRY_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_store_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  FerryStore *self = FERRY_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      self->path = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_store_class_init (FerryStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_store_dispose;
  object_class->finalize = ferry_store_finalize;
  object_class->get_property = ferry_store_get_property;
  object_class->set_property = ferry_store_set_property;

  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_store_init (FerryStore *self)
{
  g_mutex_init (&self->pending_lock);
  self->jobs = g_async_queue_new ();
  self->pending_blocks = g_array_new (FALSE, FALSE, sizeof (PendingBlock));
  self->pending_progress = g_array_new (FALSE, FALSE, sizeof (PendingProgress));
  self->pending_states = new_pending_states ();
}

/* Worker side */

static void
bind_file_state_values (sqlite3_stmt        *stmt,
                        gint64               file_id,
                        FerryStoreFileState  state,
                        const char          *local_path)
{
  sqlite3_bind_text (stmt, 1, file_state_names[state], -1, SQLITE_STATIC);
  bind_text_or_null (stmt, 2, local_path);
  sqlite3_bind_int64 (stmt, 3, file_id);
}

static void
pending_state_clear (gpointer data)
{
  PendingState *state = data;

  g_free (state->local_path);
}

static GArray *
new_pending_states (void)
{
  GArray *states = g_array_new (FALSE, FALSE, sizeof (PendingState));

  g_array_set_clear_func (states, pending_state_clear);
  return states;
}

/* Called with pending_lock held. */
static guint
pending_count_locked (FerryStore *self)
{
  return self->pending_blocks->len + self->pending_progress->len + self->pending_states->len;
}

static gboolean
commit_states (FerryStore  *self,
               GArray      *states,
               GError     **error)
{
  g_autoptr(sqlite3_stmt) update = NULL;

  if (states->len == 0)
    return TRUE;
  update = db_prepare (self->db, UPDATE_FILE_STATE_SQL, error);
  if (update == NULL)
    return FALSE;

  for (guint i = 0; i < states->len; i++)
    {
      PendingState *state = &g_array_index (states, PendingState, i);

      bind_file_state_values (update, state->file_id, state->state, state->local_path);
      if (!db_step_done (self->db, update, error))
        return FALSE;
    }
  return TRUE;
}

static void
commit_pending (FerryStore *self)
{
  g_autoptr(GArray) blocks = NULL;
  g_autoptr(GArray) progress = NULL;
  g_autoptr(GArray) states = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL;
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_lock (&self->pending_lock);
  if (pending_count_locked (self) == 0)
    {
      g_mutex_unlock (&self->pending_lock);
      return;
    }
  blocks = g_steal_pointer (&self->pending_blocks);
  progress = g_steal_pointer (&self->pending_progress);
  states = g_steal_pointer (&self->pending_states);
  self->pending_blocks = g_array_new (FALSE, FALSE, sizeof (PendingBlock));
  self->pending_progress = g_array_new (FALSE, FALSE, sizeof (PendingProgress));
  self->pending_states = new_pending_states ();
  self->first_pending_at = 0;
  g_mutex_unlock (&self->pending_lock);

  if (self->db == NULL)
    return;

  if (!db_exec (self->db, "BEGIN IMMEDIATE", &error))
    goto failed;

  /* A block of a file whose blocks were discarded meanwhile (or whose
   * transfer was cleared) is dropped, instead of failing the whole batch on
   * the foreign key.
   */
  insert = db_prepare (self->db,
                       "INSERT OR REPLACE INTO blocks (file_id, idx, hash) "
                       "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM files WHERE id = ?1)",
                       &error);
  update = db_prepare (self->db, "UPDATE transfers SET bytes_done = ? WHERE id = ?", &error);
  if (insert == NULL || update == NULL)
    goto rollback;

  for (guint i = 0; i < blocks->len; i++)
    {
      PendingBlock *block = &g_array_index (blocks, PendingBlock, i);

      sqlite3_bind_int64 (insert, 1, block->file_id);
      sqlite3_bind_int64 (insert, 2, block->index);
      sqlite3_bind_blob (insert, 3, block->hash, FERRY_HASH_SIZE, SQLITE_STATIC);
      if (!db_step_done (self->db, insert, &error))
        goto rollback;
    }

  for (guint i = 0; i < progress->len; i++)
    {
      PendingProgress *p = &g_array_index (progress, PendingProgress, i);

      sqlite3_bind_int64 (update, 1, (sqlite3_int64) p->bytes_done);
      sqlite3_bind_int64 (update, 2, p->transfer_id);
      if (!db_step_done (self->db, update, &error))
        goto rollback;
    }

  /* After the blocks: a file is complete only with all of them. */
  if (!commit_states (self, states, &error))
    goto rollback;

  if (!db_exec (self->db, "COMMIT", &error))
    goto rollback;

  g_atomic_int_inc (&self->n_batches);
  return;

rollback:
  db_exec (self->db, "ROLLBACK", NULL);
failed:
  g_debug ("Committing verified blocks failed: %s", error->message);
  /* Reported by the next flush; the first error is the telling one. */
  if (self->batch_error == NULL)
    self->batch_error = g_steal_pointer (&error);
}

/* How long the worker may sleep before pending records are due:
 * -1 when nothing is pending.
 */
static gint64
pending_wait_us (FerryStore *self)
{
  gint64 wait = -1;

  g_mutex_lock (&self->pending_lock);
  if (pending_count_locked (self) > 0)
    {
      if (self->pending_blocks->len + self->pending_states->len >= FERRY_STORE_BATCH_BLOCKS)
        wait = 0;
      else
        wait = MAX (0, self->first_pending_at
                       + FERRY_STORE_BATCH_INTERVAL_MS * G_TIME_SPAN_MILLISECOND
                       - g_get_monotonic_time ());
    }
  g_mutex_unlock (&self->pending_lock);

  return wait;
}

static gboolean
unref_task_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* The task holds the store. Were the worker to drop the last reference to
 * a task, it could end up disposing the store, and so joining itself: the
 * reference goes back to the caller's context, right behind the result.
 */
static void
release_task (GTask *task)
{
  GSource *source = g_idle_source_new ();

  /* Not g_main_context_invoke(): it would run the function right here when
   * it can acquire the context.
   */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, unref_task_cb, task, NULL);
  g_source_set_static_name (source, "[ferry-store] release task");
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

static gpointer
worker_main (gpointer data)
{
  FerryStore *self = data;

  for (;;)
    {
      gint64 wait = pending_wait_us (self);
      Job *job;

      if (wait < 0)
        job = g_async_queue_pop (self->jobs);
      else if (wait == 0)
        job = g_async_queue_try_pop (self->jobs);
      else
        job = g_async_queue_timeout_pop (self->jobs, (guint64) wait);

      /* Before any real job, and when the batch is due. */
      if ((job != NULL && (job->func != NULL || job->quit)) || pending_wait_us (self) == 0)
        commit_pending (self);

      if (job == NULL)
        continue;

      if (job->quit)
        {
          g_free (job);
          break;
        }

      if (job->func != NULL)
        {
          if (!g_task_return_error_if_cancelled (job->task))
            job->func (self, job->task);
          release_task (job->task);
        }
      g_free (job);
    }

  if (self->db != NULL)
    {
      sqlite3_close (self->db);
      self->db = NULL;
    }

  return NULL;
}

static void
queue_job (FerryStore *self,
           JobFunc     func,
           GTask      *task)
{
  Job *job = g_new0 (Job, 1);

  job->func = func;
  job->task = task ? g_object_ref (task) : NULL;
  g_async_queue_push (self->jobs, job);
}

/* Open */

static gboolean
read_user_version (sqlite3  *db,
                   int      *version,
                   GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = db_prepare (db, "PRAGMA user_version", error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    return set_db_error (db, rc, error);

  *version = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
open_database (FerryStore  *self,
               GError     **error)
{
  g_autofree char *folder = g_path_get_dirname (self->path);
  g_autoptr(sqlite3_stmt) journal = NULL;
  int version = 0;
  int rc;

  if (g_mkdir_with_parents (folder, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_FAILED,
                   "Could not create the folder for Ferry's database: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }

  rc = sqlite3_open_v2 (self->path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    return set_db_error (self->db, rc, error);

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* Read the version before changing anything: a database from a newer
   * Ferry, or a file that isn't one, must be left exactly as it is.
   */
  if (!read_user_version (self->db, &version, error))
    return FALSE;

  if (version > FERRY_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_TOO_NEW,
                   "The database “%s” was made by a newer version of Ferry (schema %d, this "
                   "version knows up to %d); it was left unchanged",
                   self->path, version, FERRY_STORE_SCHEMA_VERSION);
      return FALSE;
    }

  journal = db_prepare (self->db, "PRAGMA journal_mode = WAL", error);
  if (journal == NULL)
    return FALSE;
  rc = sqlite3_step (journal);
  if (rc != SQLITE_ROW)
    return set_db_error (self->db, rc, error);
  if (g_ascii_strcasecmp ((const char *) sqlite3_column_text (journal, 0), "wal") != 0)
    {
      g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_FAILED,
                   "The database “%s” can't use write-ahead logging", self->path);
      return FALSE;
    }
  /* A statement still open would keep the migrations from committing. */
  g_clear_pointer (&journal, sqlite3_finalize);

  if (!db_exec (self->db, "PRAGMA synchronous = FULL", error)
      || !db_exec (self->db, "PRAGMA foreign_keys = ON", error))
    return FALSE;

  for (int v = version; v < FERRY_STORE_SCHEMA_VERSION; v++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", v + 1);

      /* Each step is one transaction: a crash leaves the previous version. */
      if (!db_exec (self->db, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!db_exec (self->db, migrations[v], error) || !db_exec (self->db, bump, error))
        {
          db_exec (self->db, "ROLLBACK", NULL);
          return FALSE;
        }
      if (!db_exec (self->db, "COMMIT", error))
        return FALSE;
      g_debug ("Migrated %s to schema %d", self->path, v + 1);
    }

  return TRUE;
}

static void
job_open (FerryStore *self,
          GTask      *task)
{
  GError *error = NULL;

  if (!open_database (self, &error))
    {
      if (self->db != NULL)
        {
          sqlite3_close (self->db);
          self->db = NULL;
        }
      g_task_return_error (task, error);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

/**
 * ferry_store_dup_default_path:
 *
 * Returns: (transfer full): $XDG_DATA_HOME/ferry/ferry.db
 */
char *
ferry_store_dup_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "ferry", "ferry.db", NULL);
}

/**
 * ferry_store_open_async:
 * @path: (nullable): the database file, or %NULL for the default
 *
 * Opens (creating or migrating it as needed) the database on the store's
 * worker thread. A database from a newer Ferry gives
 * FERRY_STORE_ERROR_TOO_NEW and is not modified.
 */
void
ferry_store_open_async (const char          *path,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(FerryStore) self = NULL;
  g_autoptr(GTask) task = NULL;
  g_autofree char *default_path = NULL;

  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  if (path == NULL)
    path = default_path = ferry_store_dup_default_path ();

  self = g_object_new (FERRY_TYPE_STORE, "path", path, NULL);
  self->worker = g_thread_new ("ferry-store", worker_main, self);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_store_open_async);
  queue_job (self, job_open, task);
}

/**
 * ferry_store_open_finish:
 *
 * Returns: (transfer full): the open store, or %NULL with @error set
 */
FerryStore *
ferry_store_open_finish (GAsyncResult  *result,
                         GError       **error)
{
  GObject *source;

  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_store_open_async, NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;

  source = g_task_get_source_object (G_TASK (result));
  return FERRY_STORE (g_object_ref (source));
}

const char *
ferry_store_get_path (FerryStore *self)
{
  g_return_val_if_fail (FERRY_IS_STORE (self), NULL);

  return self->path;
}

/**
 * ferry_store_close:
 *
 * Runs the jobs already queued, commits pending blocks, closes the database
 * and stops the worker thread. Waits for that (briefly): call it when
 * quitting. Later requests fail with FERRY_STORE_ERROR_CLOSED. Dropping the
 * last reference closes too.
 */
void
ferry_store_close (FerryStore *self)
{
  Job *quit;

  g_return_if_fail (FERRY_IS_STORE (self));

  if (self->closed || self->worker == NULL)
    return;
  self->closed = TRUE;

  quit = g_new0 (Job, 1);
  quit->quit = TRUE;
  g_async_queue_push (self->jobs, quit);
  g_thread_join (g_steal_pointer (&self->worker));
}

/* Requests */

/* Each request's arguments are a struct of its own, defined beside its job:
 * the GTask's task data. Flushing and clearing the history take none. */
static GTask *
request_task (FerryStore          *self,
              gpointer             source_tag,
              gpointer             job,
              GDestroyNotify       job_free,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, job_free);
  return task;
}

static void
submit (FerryStore *self,
        GTask      *task,
        JobFunc     func)
{
  if (self->closed)
    {
      g_task_return_new_error (task, FERRY_STORE_ERROR, FERRY_STORE_ERROR_CLOSED,
                               "The Ferry database is closed");
      return;
    }
  queue_job (self, func, task);
}

static gboolean
require_db (FerryStore  *self,
            GTask       *task)
{
  if (self->db != NULL)
    return TRUE;

  g_task_return_new_error (task, FERRY_STORE_ERROR, FERRY_STORE_ERROR_CLOSED,
                           "The Ferry database is not open");
  return FALSE;
}

static void
return_db_error (FerryStore *self,
                 GTask      *task,
                 GError     *error)
{
  if (sqlite3_get_autocommit (self->db) == 0)
    db_exec (self->db, "ROLLBACK", NULL);
  g_task_return_error (task, error);
}

/* The chosen items of a send, as a JSON array of absolute paths: names may
 * hold any byte but NUL, so no separator character would do. */
static char *
sources_to_json (FerryOffer *offer)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  guint n = 0;

  json_builder_begin_array (builder);
  for (guint i = 0; i < ferry_offer_get_n_entries (offer); i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      GFile *file = ferry_offer_entry_get_local_file (entry);
      g_autofree char *path = NULL;

      /* Only the top-level items: the rest is inside them. */
      if (strchr (ferry_offer_entry_get_path (entry), '/') != NULL || file == NULL)
        continue;
      path = g_file_get_path (file);
      if (path == NULL)
        continue;
      json_builder_add_string_value (builder, path);
      n++;
    }
  json_builder_end_array (builder);

  if (n == 0)
    return NULL;

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static GStrv
sources_from_json (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GStrvBuilder) builder = NULL;
  JsonArray *array;

  if (json == NULL || !json_parser_load_from_data (parser, json, -1, NULL) ||
      !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return NULL;

  array = json_node_get_array (json_parser_get_root (parser));
  builder = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (node));
    }

  return g_strv_builder_end (builder);
}

static FerryStoreTransfer *
transfer_from_row (sqlite3_stmt *stmt)
{
  FerryStoreTransfer *transfer = g_new0 (FerryStoreTransfer, 1);

  /* Columns as in TRANSFER_COLUMNS. */
  transfer->id = sqlite3_column_int64 (stmt, 0);
  transfer->direction = name_to_enum (direction_names, G_N_ELEMENTS (direction_names),
                                      (const char *) sqlite3_column_text (stmt, 1));
  transfer->transfer_key = column_dup_text (stmt, 2);
  transfer->state = name_to_enum (transfer_state_names, G_N_ELEMENTS (transfer_state_names),
                                  (const char *) sqlite3_column_text (stmt, 3));
  transfer->peer_name = column_dup_text (stmt, 4);
  transfer->target_folder = column_dup_text (stmt, 5);
  transfer->created_at = sqlite3_column_int64 (stmt, 6);
  transfer->finished_at = sqlite3_column_int64 (stmt, 7);
  transfer->total_bytes = (guint64) sqlite3_column_int64 (stmt, 8);
  transfer->bytes_done = (guint64) sqlite3_column_int64 (stmt, 9);
  transfer->n_files = (guint) sqlite3_column_int (stmt, 10);
  transfer->path_kind = column_dup_text (stmt, 11);
  transfer->relay = column_dup_text (stmt, 12);
  transfer->error_message = column_dup_text (stmt, 13);
  transfer->sources = sources_from_json ((const char *) sqlite3_column_text (stmt, 14));
  transfer->started_at = sqlite3_column_int64 (stmt, 15);
  transfer->bytes_moved = (guint64) sqlite3_column_int64 (stmt, 16);
  transfer->first_path_kind = column_dup_text (stmt, 17);

  return transfer;
}

#define TRANSFER_COLUMNS \
  "id, direction, transfer_key, state, peer_name, target_folder, created_at, " \
  "finished_at, total_bytes, bytes_done, n_files, path_kind, relay, error_message, sources, " \
  "started_at, bytes_moved, first_path_kind"
#define RESUME_SECRET_COLUMN 18
/* The history view's names follow TRANSFER_COLUMNS too. */
#define HISTORY_NAMES_COLUMN 18

/* Loads a transfer with its files and their verified blocks. */
static FerryStoreTransfer *
load_transfer (sqlite3  *db,
               gint64    id,
               GError  **error)
{
  g_autoptr(FerryStoreTransfer) transfer = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GHashTable) by_id = NULL;
  g_autoptr(GHashTable) hashes = NULL;
  int rc;

  /* The resume secret is not in TRANSFER_COLUMNS: the history view does
   * not have it. It follows them, as column RESUME_SECRET_COLUMN. */
  stmt = db_prepare (db, "SELECT " TRANSFER_COLUMNS ", resume_secret FROM transfers WHERE id = ?",
                     error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND,
                   "There is no transfer %" G_GINT64_FORMAT, id);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      set_db_error (db, rc, error);
      return NULL;
    }
  transfer = transfer_from_row (stmt);
  if (sqlite3_column_bytes (stmt, RESUME_SECRET_COLUMN) == FERRY_RESUME_SECRET_SIZE)
    transfer->resume_secret = g_bytes_new (sqlite3_column_blob (stmt, RESUME_SECRET_COLUMN),
                                           FERRY_RESUME_SECRET_SIZE);
  g_clear_pointer (&stmt, sqlite3_finalize);

  transfer->files = g_ptr_array_new_with_free_func (store_file_free);
  by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  hashes = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                  (GDestroyNotify) g_byte_array_unref);

  stmt = db_prepare (db,
                     "SELECT id, path, local_path, kind, size, content_id, mode, state "
                     "FROM files WHERE transfer_id = ? ORDER BY id", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      FerryStoreFile *file = g_new0 (FerryStoreFile, 1);

      file->id = sqlite3_column_int64 (stmt, 0);
      file->path = column_dup_text (stmt, 1);
      file->local_path = column_dup_text (stmt, 2);
      file->kind = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 3), "folder") == 0
                   ? FERRY_OFFER_ENTRY_FOLDER : FERRY_OFFER_ENTRY_FILE;
      file->size = (guint64) sqlite3_column_int64 (stmt, 4);
      file->content_id = column_dup_text (stmt, 5);
      file->mode = (guint) sqlite3_column_int (stmt, 6);
      file->state = name_to_enum (file_state_names, G_N_ELEMENTS (file_state_names),
                                  (const char *) sqlite3_column_text (stmt, 7));
      file->verified = g_array_new (FALSE, FALSE, sizeof (guint));
      g_ptr_array_add (transfer->files, file);
      g_hash_table_insert (by_id, &file->id, file);
      g_hash_table_insert (hashes, &file->id, g_byte_array_new ());
    }
  if (rc != SQLITE_DONE)
    {
      set_db_error (db, rc, error);
      return NULL;
    }
  g_clear_pointer (&stmt, sqlite3_finalize);

  stmt = db_prepare (db,
                     "SELECT b.file_id, b.idx, b.hash FROM blocks b "
                     "JOIN files f ON f.id = b.file_id "
                     "WHERE f.transfer_id = ? ORDER BY b.file_id, b.idx", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 file_id = sqlite3_column_int64 (stmt, 0);
      FerryStoreFile *file = g_hash_table_lookup (by_id, &file_id);
      guint index = (guint) sqlite3_column_int64 (stmt, 1);

      if (file == NULL || sqlite3_column_bytes (stmt, 2) != FERRY_HASH_SIZE)
        continue;
      g_array_append_val (file->verified, index);
      g_byte_array_append (g_hash_table_lookup (hashes, &file_id),
                           sqlite3_column_blob (stmt, 2), FERRY_HASH_SIZE);
    }
  if (rc != SQLITE_DONE)
    {
      set_db_error (db, rc, error);
      return NULL;
    }

  for (guint i = 0; i < transfer->files->len; i++)
    {
      FerryStoreFile *file = g_ptr_array_index (transfer->files, i);
      GByteArray *bytes = g_hash_table_lookup (hashes, &file->id);

      file->verified_hashes = g_bytes_new (bytes->data, bytes->len);
    }

  return g_steal_pointer (&transfer);
}

/* Finds the newest unfinished transfer with this key (column "transfer_key"
 * or "selection_key"); 0 if none.
 */
static gboolean
find_unfinished (sqlite3              *db,
                 FerryStoreDirection   direction,
                 const char           *key_column,
                 const char           *key,
                 const char           *target_folder,
                 gint64               *id,
                 GError              **error)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_assert (g_str_equal (key_column, "transfer_key")
            || g_str_equal (key_column, "selection_key"));

  sql = g_strdup_printf ("SELECT id FROM transfers WHERE direction = ? AND %s = ? "
                         "AND target_folder IS ? AND state IN ('active', 'interrupted') "
                         "ORDER BY created_at DESC, id DESC LIMIT 1", key_column);
  stmt = db_prepare (db, sql, error);
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, direction_names[direction], -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, key, -1, SQLITE_TRANSIENT);
  bind_text_or_null (stmt, 3, target_folder);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *id = sqlite3_column_int64 (stmt, 0);
  else if (rc == SQLITE_DONE)
    *id = 0;
  else
    return set_db_error (db, rc, error);

  return TRUE;
}

/* A receiver resumes only the transfer whose peer proves it knows the
 * transfer's resume secret: the newest unfinished one of the same offer
 * (transfer key or selection key) into the same folder whose secret
 * @claim's proof matches. Every candidate is checked, each in constant
 * time; 0 if none matches, and always 0 without a claim.
 */
static gboolean
find_claimed (sqlite3                     *db,
              const char                  *transfer_key,
              const char                  *selection_key,
              const char                  *target_folder,
              const FerryStoreResumeClaim *claim,
              gint64                      *id,
              GError                     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  *id = 0;
  if (claim == NULL)
    return TRUE;

  stmt = db_prepare (db,
                     "SELECT id, resume_secret FROM transfers WHERE direction = 'receive' "
                     "AND (transfer_key = ? OR selection_key = ?) AND target_folder IS ? "
                     "AND state IN ('active', 'interrupted') AND resume_secret IS NOT NULL "
                     "ORDER BY created_at DESC, id DESC", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, transfer_key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, selection_key, -1, SQLITE_TRANSIENT);
  bind_text_or_null (stmt, 3, target_folder);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    if (*id == 0 && sqlite3_column_bytes (stmt, 1) == FERRY_RESUME_SECRET_SIZE
        && ferry_resume_proof_verify (sqlite3_column_blob (stmt, 1), claim->binding,
                                      claim->proof))
      *id = sqlite3_column_int64 (stmt, 0);
  if (rc != SQLITE_DONE)
    return set_db_error (db, rc, error);

  return TRUE;
}

static sqlite3_stmt *
prepare_insert_file (sqlite3  *db,
                     GError  **error)
{
  return db_prepare (db,
                     "INSERT INTO files (transfer_id, path, kind, size, content_id, mode, state) "
                     "VALUES (?, ?, ?, ?, ?, ?, 'pending')", error);
}

static gboolean
insert_file (sqlite3                *db,
             sqlite3_stmt           *stmt,
             gint64                  transfer_id,
             const FerryOfferEntry  *entry,
             GError                **error)
{
  gboolean is_file = ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FILE;

  sqlite3_bind_int64 (stmt, 1, transfer_id);
  sqlite3_bind_text (stmt, 2, ferry_offer_entry_get_path (entry), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, is_file ? "file" : "folder", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) ferry_offer_entry_get_size (entry));
  bind_text_or_null (stmt, 5, ferry_offer_entry_get_content_id (entry));
  sqlite3_bind_int (stmt, 6, (int) ferry_offer_entry_get_mode (entry));

  return db_step_done (db, stmt, error);
}

/* Brings the files of an earlier attempt in line with the new offer: a file
 * whose kind, size or content id changed loses its verified blocks, so it is
 * sent again in full and old and new bytes are never mixed.
 */
static gboolean
reconcile_files (sqlite3     *db,
                 gint64       transfer_id,
                 FerryOffer  *offer,
                 GError     **error)
{
  g_autoptr(sqlite3_stmt) select = NULL;
  g_autoptr(sqlite3_stmt) discard = NULL;
  g_autoptr(sqlite3_stmt) change = NULL;
  g_autoptr(sqlite3_stmt) remove = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) stale = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  select = db_prepare (db, "SELECT id, path, kind, size, content_id FROM files "
                           "WHERE transfer_id = ?", error);
  discard = db_prepare (db, "DELETE FROM blocks WHERE file_id = ?", error);
  change = db_prepare (db, "UPDATE files SET kind = ?, size = ?, content_id = ?, mode = ?, "
                           "state = 'pending' WHERE id = ?", error);
  remove = db_prepare (db, "DELETE FROM files WHERE id = ?", error);
  insert = prepare_insert_file (db, error);
  if (select == NULL || discard == NULL || change == NULL || remove == NULL || insert == NULL)
    return FALSE;

  sqlite3_bind_int64 (select, 1, transfer_id);
  while ((rc = sqlite3_step (select)) == SQLITE_ROW)
    {
      gint64 file_id = sqlite3_column_int64 (select, 0);
      const char *path = (const char *) sqlite3_column_text (select, 1);
      const char *kind = (const char *) sqlite3_column_text (select, 2);
      guint64 size = (guint64) sqlite3_column_int64 (select, 3);
      const char *content_id = (const char *) sqlite3_column_text (select, 4);
      const FerryOfferEntry *entry = ferry_offer_lookup (offer, path);
      gboolean entry_is_file;

      if (entry == NULL)
        {
          g_array_append_val (stale, file_id);
          continue;
        }

      g_hash_table_add (seen, (gpointer) ferry_offer_entry_get_path (entry));
      entry_is_file = ferry_offer_entry_get_kind (entry) == FERRY_OFFER_ENTRY_FILE;

      if (g_strcmp0 (kind, entry_is_file ? "file" : "folder") == 0
          && size == ferry_offer_entry_get_size (entry)
          && g_strcmp0 (content_id, ferry_offer_entry_get_content_id (entry)) == 0)
        continue;

      sqlite3_bind_int64 (discard, 1, file_id);
      if (!db_step_done (db, discard, error))
        return FALSE;

      sqlite3_bind_text (change, 1, entry_is_file ? "file" : "folder", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (change, 2, (sqlite3_int64) ferry_offer_entry_get_size (entry));
      bind_text_or_null (change, 3, ferry_offer_entry_get_content_id (entry));
      sqlite3_bind_int (change, 4, (int) ferry_offer_entry_get_mode (entry));
      sqlite3_bind_int64 (change, 5, file_id);
      if (!db_step_done (db, change, error))
        return FALSE;
    }
  if (rc != SQLITE_DONE)
    return set_db_error (db, rc, error);

  for (guint i = 0; i < stale->len; i++)
    {
      sqlite3_bind_int64 (remove, 1, g_array_index (stale, gint64, i));
      if (!db_step_done (db, remove, error))
        return FALSE;
    }

  for (guint i = 0; i < ferry_offer_get_n_entries (offer); i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);

      if (!g_hash_table_contains (seen, ferry_offer_entry_get_path (entry))
          && !insert_file (db, insert, transfer_id, entry, error))
        return FALSE;
    }

  return TRUE;
}

typedef struct
{
  FerryStoreDirection    direction;
  FerryOffer            *offer;
  char                  *target_folder;
  char                  *peer_name;
  FerryStoreResumeClaim *claim;
} BeginTransfer;

static void
begin_transfer_free (BeginTransfer *job)
{
  g_clear_object (&job->offer);
  g_free (job->target_folder);
  g_free (job->peer_name);
  if (job->claim != NULL)
    {
      g_free ((char *) job->claim->binding);
      g_free (job->claim);
    }
  g_free (job);
}

static void
job_begin_transfer (FerryStore *self,
                    GTask      *task)
{
  BeginTransfer *job = g_task_get_task_data (task);
  FerryStoreDirection direction = job->direction;
  FerryOffer *offer = job->offer;
  g_autofree char *transfer_key = ferry_offer_dup_transfer_key (offer);
  g_autofree char *selection_key = ferry_offer_dup_selection_key (offer);
  g_autofree char *sources = direction == FERRY_STORE_SEND ? sources_to_json (offer) : NULL;
  const char *target = job->target_folder;
  const char *peer = job->peer_name;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL;
  FerryStoreTransfer *transfer;
  GError *error = NULL;
  gboolean resumed;
  gint64 id = 0;
  guint8 secret[FERRY_RESUME_SECRET_SIZE];

  if (!require_db (self, task))
    return;

  randombytes_buf (secret, sizeof secret);
  if (!db_exec (self->db, "BEGIN IMMEDIATE", &error))
    goto failed;

  if (direction == FERRY_STORE_RECEIVE)
    {
      if (!find_claimed (self->db, transfer_key, selection_key, target, job->claim, &id, &error))
        goto failed;
    }
  else
    {
      if (!find_unfinished (self->db, direction, "transfer_key", transfer_key, target, &id,
                            &error))
        goto failed;
      if (id == 0
          && !find_unfinished (self->db, direction, "selection_key", selection_key, target,
                               &id, &error))
        goto failed;
    }

  resumed = id != 0;
  if (resumed)
    {
      if (!reconcile_files (self->db, id, offer, &error))
        goto failed;

      stmt = db_prepare (self->db,
                         "UPDATE transfers SET transfer_key = ?, state = 'active', "
                         "total_bytes = ?, n_files = ?, peer_name = coalesce (?, peer_name), "
                         "sources = coalesce (?, sources), "
                         "finished_at = NULL, error_message = NULL, started_at = NULL, "
                         "bytes_moved = NULL, first_path_kind = NULL WHERE id = ?", &error);
      if (stmt == NULL)
        goto failed;
      sqlite3_bind_text (stmt, 1, transfer_key, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) ferry_offer_get_total_size (offer));
      sqlite3_bind_int (stmt, 3, (int) ferry_offer_get_n_files (offer));
      bind_text_or_null (stmt, 4, peer);
      bind_text_or_null (stmt, 5, sources);
      sqlite3_bind_int64 (stmt, 6, id);
      if (!db_step_done (self->db, stmt, &error))
        goto failed;
    }
  else
    {
      stmt = db_prepare (self->db,
                         "INSERT INTO transfers (direction, transfer_key, selection_key, state, "
                         "peer_name, target_folder, created_at, total_bytes, n_files, sources, "
                         "resume_secret) "
                         "VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)", &error);
      if (stmt == NULL)
        goto failed;
      sqlite3_bind_text (stmt, 1, direction_names[direction], -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, transfer_key, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, selection_key, -1, SQLITE_STATIC);
      bind_text_or_null (stmt, 4, peer);
      bind_text_or_null (stmt, 5, target);
      sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
      sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) ferry_offer_get_total_size (offer));
      sqlite3_bind_int (stmt, 8, (int) ferry_offer_get_n_files (offer));
      bind_text_or_null (stmt, 9, sources);
      /* The receiver issues the secret; the sender learns it from the accept. */
      if (direction == FERRY_STORE_RECEIVE)
        sqlite3_bind_blob (stmt, 10, secret, sizeof secret, SQLITE_STATIC);
      else
        sqlite3_bind_null (stmt, 10);
      if (!db_step_done (self->db, stmt, &error))
        goto failed;
      id = sqlite3_last_insert_rowid (self->db);

      insert = prepare_insert_file (self->db, &error);
      if (insert == NULL)
        goto failed;
      for (guint i = 0; i < ferry_offer_get_n_entries (offer); i++)
        if (!insert_file (self->db, insert, id, ferry_offer_get_entry (offer, i), &error))
          goto failed;
    }

  if (!db_exec (self->db, "COMMIT", &error))
    goto failed;
  sodium_memzero (secret, sizeof secret);

  transfer = load_transfer (self->db, id, &error);
  if (transfer == NULL)
    goto failed;
  transfer->resumed = resumed;

  g_task_return_pointer (task, transfer, (GDestroyNotify) ferry_store_transfer_free);
  return;

failed:
  sodium_memzero (secret, sizeof secret);
  return_db_error (self, task, error);
}

/**
 * ferry_store_begin_transfer_async:
 * @offer: what is sent or received
 * @target_folder: (nullable): the receiving folder; %NULL when sending
 * @peer_name: (nullable): a display name for the other side, never a code
 * @claim: (nullable): when receiving, the sender's proof that it is the
 *   peer of an earlier attempt; ignored when sending
 *
 * Starts recording a transfer, or picks up an unfinished earlier attempt of
 * the same offer in the same direction and target folder: first one with
 * the same transfer key, else one with the same selection key (the same
 * chosen items, with files inside changed, added or removed on the
 * sender). When resumed, files that changed lose their verified blocks,
 * files no longer offered are dropped, new ones added.
 *
 * A receive resumes only the attempt whose resume secret @claim proves
 * (see find_claimed()); without a claim, or with one that proves none, it
 * is a new transfer with a new secret, whatever the names. That is what
 * keeps a later, unrelated sender of the same names out of an earlier
 * transfer's folder and partial files.
 *
 * The result lists the files with their verified blocks: resume each at
 * ferry_store_file_get_resume_offset().
 */
void
ferry_store_begin_transfer_async (FerryStore          *self,
                                  FerryStoreDirection  direction,
                                  FerryOffer          *offer,
                                  const char          *target_folder,
                                  const char          *peer_name,
                                  const FerryStoreResumeClaim *claim,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  BeginTransfer *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (direction == FERRY_STORE_SEND || direction == FERRY_STORE_RECEIVE);
  g_return_if_fail (FERRY_IS_OFFER (offer));

  job = g_new0 (BeginTransfer, 1);
  job->direction = direction;
  job->offer = g_object_ref (offer);
  job->target_folder = g_strdup (target_folder);
  job->peer_name = g_strdup (peer_name);
  if (claim != NULL && direction == FERRY_STORE_RECEIVE)
    {
      job->claim = g_memdup2 (claim, sizeof *claim);
      job->claim->binding = g_strdup (claim->binding);
    }

  task = request_task (self, ferry_store_begin_transfer_async, job,
                       (GDestroyNotify) begin_transfer_free, cancellable, callback,
                       user_data);
  submit (self, task, job_begin_transfer);
}

/**
 * ferry_store_begin_transfer_finish:
 *
 * Returns: (transfer full): the transfer with its files, or %NULL with @error set
 */
FerryStoreTransfer *
ferry_store_begin_transfer_finish (FerryStore    *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_store_begin_transfer_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  FerryStoreDirection  direction;
  char                *transfer_key;
  char                *target_folder;
} FindResumable;

static void
find_resumable_free (FindResumable *job)
{
  g_free (job->transfer_key);
  g_free (job->target_folder);
  g_free (job);
}

static void
job_find_resumable (FerryStore *self,
                    GTask      *task)
{
  FindResumable *job = g_task_get_task_data (task);
  FerryStoreTransfer *transfer;
  GError *error = NULL;
  gint64 id = 0;

  if (!require_db (self, task))
    return;

  if (!find_unfinished (self->db, job->direction, "transfer_key", job->transfer_key,
                        job->target_folder, &id, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (id == 0)
    {
      g_task_return_pointer (task, NULL, NULL);
      return;
    }

  transfer = load_transfer (self->db, id, &error);
  if (transfer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, transfer, (GDestroyNotify) ferry_store_transfer_free);
}

/**
 * ferry_store_find_resumable_async:
 * @transfer_key: an offer's transfer key
 * @target_folder: (nullable): the receiving folder; %NULL when sending
 *
 * Looks, without changing anything, for an unfinished transfer of exactly
 * this offer: which of its files' blocks are verified.
 */
void
ferry_store_find_resumable_async (FerryStore          *self,
                                  FerryStoreDirection  direction,
                                  const char          *transfer_key,
                                  const char          *target_folder,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  FindResumable *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (transfer_key != NULL);

  job = g_new0 (FindResumable, 1);
  job->direction = direction;
  job->transfer_key = g_strdup (transfer_key);
  job->target_folder = g_strdup (target_folder);

  task = request_task (self, ferry_store_find_resumable_async, job,
                       (GDestroyNotify) find_resumable_free, cancellable, callback,
                       user_data);
  submit (self, task, job_find_resumable);
}

/**
 * ferry_store_find_resumable_finish:
 *
 * Returns: (transfer full) (nullable): the transfer with its files and
 *   verified blocks, or %NULL if there is none (then @error is unset) or on
 *   error
 */
FerryStoreTransfer *
ferry_store_find_resumable_finish (FerryStore    *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_store_find_resumable_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
wake_worker (FerryStore *self)
{
  queue_job (self, NULL, NULL);
}

/* Appends @record to *@pending (a batch array of the store) for the worker's
 * next commit. The array is looked up under the lock: the worker swaps in a
 * new one whenever it takes a batch.
 */
static void
add_pending (FerryStore     *self,
             GArray        **pending,
             gconstpointer   record)
{
  gboolean wake;

  g_mutex_lock (&self->pending_lock);
  if (self->first_pending_at == 0)
    self->first_pending_at = g_get_monotonic_time ();
  g_array_append_vals (*pending, record, 1);
  /* The worker needs to hear of the first record (to set its timer) and of
   * a full batch; not of every record.
   */
  wake = pending_count_locked (self) == 1
         || self->pending_blocks->len + self->pending_states->len == FERRY_STORE_BATCH_BLOCKS;
  g_mutex_unlock (&self->pending_lock);

  if (wake)
    wake_worker (self);
}

/**
 * ferry_store_add_verified_block:
 * @file_id: a #FerryStoreFile id
 * @index: the block's index (offset / FERRY_BLOCK_SIZE)
 * @hash: (array fixed-size=32): the block's BLAKE2b-256
 *
 * Records that a block was received, synced to disk and verified. Returns
 * at once from any thread; the record is committed with the next batch.
 */
void
ferry_store_add_verified_block (FerryStore   *self,
                                gint64        file_id,
                                guint         index,
                                const guint8 *hash)
{
  PendingBlock block;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (hash != NULL);
  g_return_if_fail (!self->closed);

  block.file_id = file_id;
  block.index = index;
  memcpy (block.hash, hash, FERRY_HASH_SIZE);
  add_pending (self, &self->pending_blocks, &block);
}

/**
 * ferry_store_set_file_state:
 * @local_path: (nullable): where the file landed, relative to the target
 *   (keeps the stored one when %NULL)
 *
 * Like ferry_store_set_file_state_async(), but batched with the verified
 * blocks: one transaction (and one sync of the database) for many files
 * instead of one each. Returns at once from any thread; the change is
 * committed with the next batch, after the blocks recorded before it, and
 * a flush waits for it. Errors are reported by the next flush.
 */
void
ferry_store_set_file_state (FerryStore          *self,
                            gint64               file_id,
                            FerryStoreFileState  state,
                            const char          *local_path)
{
  PendingState pending = { file_id, state, NULL };

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (state <= FERRY_STORE_FILE_SKIPPED);
  g_return_if_fail (!self->closed);

  pending.local_path = g_strdup (local_path);
  add_pending (self, &self->pending_states, &pending);
}

/**
 * ferry_store_set_progress:
 *
 * Records how many bytes of a transfer are done, batched like blocks; only
 * the latest value per transfer is written.
 */
void
ferry_store_set_progress (FerryStore *self,
                          gint64      transfer_id,
                          guint64     bytes_done)
{
  PendingProgress progress = { transfer_id, bytes_done };
  gboolean wake = FALSE;
  guint i;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (!self->closed);

  g_mutex_lock (&self->pending_lock);
  if (self->first_pending_at == 0)
    {
      self->first_pending_at = g_get_monotonic_time ();
      wake = TRUE;
    }
  for (i = 0; i < self->pending_progress->len; i++)
    if (g_array_index (self->pending_progress, PendingProgress, i).transfer_id == transfer_id)
      break;
  if (i < self->pending_progress->len)
    g_array_index (self->pending_progress, PendingProgress, i) = progress;
  else
    g_array_append_val (self->pending_progress, progress);
  g_mutex_unlock (&self->pending_lock);

  if (wake)
    wake_worker (self);
}

/**
 * ferry_store_get_n_batches:
 *
 * Returns: how many batches of blocks and progress were committed; for
 *   diagnostics and tests
 */
guint
ferry_store_get_n_batches (FerryStore *self)
{
  g_return_val_if_fail (FERRY_IS_STORE (self), 0);

  return (guint) g_atomic_int_get (&self->n_batches);
}

static void
job_flush (FerryStore *self,
           GTask      *task)
{
  /* The worker committed the pending records before running this job. */
  if (self->batch_error != NULL)
    g_task_return_error (task, g_steal_pointer (&self->batch_error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * ferry_store_flush_async:
 *
 * Commits every block and progress record added so far. Fails if a batch
 * failed to commit since the last flush.
 */
void
ferry_store_flush_async (FerryStore          *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_STORE (self));

  task = request_task (self, ferry_store_flush_async, NULL, NULL,
                       cancellable, callback, user_data);
  submit (self, task, job_flush);
}

gboolean
ferry_store_flush_finish (FerryStore    *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_store_flush_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Runs one UPDATE/DELETE of row @id with the job's values bound by the
 * caller's binder; NOT_FOUND when it touched no row and must_change is set.
 */
typedef void (*BindFunc) (sqlite3_stmt *stmt,
                          gpointer      job);

static void
run_update (FerryStore *self,
            GTask      *task,
            const char *sql,
            BindFunc    bind,
            gint64      id,
            gboolean    must_change)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GError *error = NULL;

  if (!require_db (self, task))
    return;

  stmt = db_prepare (self->db, sql, &error);
  if (stmt == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  bind (stmt, g_task_get_task_data (task));
  if (!db_step_done (self->db, stmt, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (must_change && sqlite3_changes (self->db) == 0)
    {
      g_task_return_new_error (task, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND,
                               "There is no such transfer or file (%" G_GINT64_FORMAT ")",
                               id);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

typedef struct
{
  gint64               file_id;
  FerryStoreFileState  state;
  char                *local_path;
} SetFileState;

static void
set_file_state_free (SetFileState *job)
{
  g_free (job->local_path);
  g_free (job);
}

static void
bind_file_state (sqlite3_stmt *stmt,
                 gpointer      data)
{
  SetFileState *job = data;

  bind_file_state_values (stmt, job->file_id, job->state, job->local_path);
}

static void
job_set_file_state (FerryStore *self,
                    GTask      *task)
{
  SetFileState *job = g_task_get_task_data (task);

  run_update (self, task, UPDATE_FILE_STATE_SQL, bind_file_state, job->file_id, TRUE);
}

/**
 * ferry_store_set_file_state_async:
 * @local_path: (nullable): where the file landed, relative to the target
 *   (keeps the stored one when %NULL)
 *
 * Finish with ferry_store_update_finish().
 */
void
ferry_store_set_file_state_async (FerryStore          *self,
                                  gint64               file_id,
                                  FerryStoreFileState  state,
                                  const char          *local_path,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SetFileState *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (state <= FERRY_STORE_FILE_SKIPPED);

  job = g_new0 (SetFileState, 1);
  job->file_id = file_id;
  job->state = state;
  job->local_path = g_strdup (local_path);

  task = request_task (self, ferry_store_update_finish, job, (GDestroyNotify) set_file_state_free,
                       cancellable, callback, user_data);
  submit (self, task, job_set_file_state);
}

typedef struct
{
  gint64 transfer_id;
  guint8 secret[FERRY_RESUME_SECRET_SIZE];
} SetResumeSecret;

static void
set_resume_secret_free (SetResumeSecret *job)
{
  sodium_memzero (job->secret, sizeof job->secret);
  g_free (job);
}

static void
bind_resume_secret (sqlite3_stmt *stmt,
                    gpointer      data)
{
  SetResumeSecret *job = data;

  sqlite3_bind_blob (stmt, 1, job->secret, sizeof job->secret, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, job->transfer_id);
}

static void
job_set_resume_secret (FerryStore *self,
                       GTask      *task)
{
  SetResumeSecret *job = g_task_get_task_data (task);

  run_update (self, task,
              "UPDATE transfers SET resume_secret = ? WHERE id = ? AND direction = 'send'",
              bind_resume_secret, job->transfer_id, TRUE);
}

/**
 * ferry_store_set_resume_secret_async:
 * @transfer_id: a transfer being sent
 * @secret: FERRY_RESUME_SECRET_SIZE bytes, as the receiver issued them
 *
 * Keeps the secret the receiver issued for this transfer, so that sending
 * it again can prove it is the same peer and resume. Finish with
 * ferry_store_update_finish().
 */
void
ferry_store_set_resume_secret_async (FerryStore          *self,
                                     gint64               transfer_id,
                                     const guint8        *secret,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SetResumeSecret *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (secret != NULL);

  job = g_new0 (SetResumeSecret, 1);
  job->transfer_id = transfer_id;
  memcpy (job->secret, secret, sizeof job->secret);

  task = request_task (self, ferry_store_update_finish, job,
                       (GDestroyNotify) set_resume_secret_free, cancellable, callback,
                       user_data);
  submit (self, task, job_set_resume_secret);
}

typedef struct
{
  gint64               file_id;
} DiscardBlocks;

static void
job_discard_blocks (FerryStore *self,
                    GTask      *task)
{
  DiscardBlocks *job = g_task_get_task_data (task);
  g_autoptr(sqlite3_stmt) discard = NULL;
  g_autoptr(sqlite3_stmt) reset = NULL;
  GError *error = NULL;

  if (!require_db (self, task))
    return;

  if (!db_exec (self->db, "BEGIN IMMEDIATE", &error))
    goto failed;
  discard = db_prepare (self->db, "DELETE FROM blocks WHERE file_id = ?", &error);
  reset = db_prepare (self->db, "UPDATE files SET state = 'pending' WHERE id = ?", &error);
  if (discard == NULL || reset == NULL)
    goto failed;
  sqlite3_bind_int64 (discard, 1, job->file_id);
  sqlite3_bind_int64 (reset, 1, job->file_id);
  if (!db_step_done (self->db, discard, &error) || !db_step_done (self->db, reset, &error))
    goto failed;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (&error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND,
                   "There is no file %" G_GINT64_FORMAT, job->file_id);
      goto failed;
    }
  if (!db_exec (self->db, "COMMIT", &error))
    goto failed;

  g_task_return_boolean (task, TRUE);
  return;

failed:
  return_db_error (self, task, error);
}

/**
 * ferry_store_discard_blocks_async:
 *
 * Forgets the verified blocks of a file (for example after its partial file
 * turned out damaged), so it is received again from the start. Blocks added
 * before this call are discarded too. Finish with ferry_store_update_finish().
 */
void
ferry_store_discard_blocks_async (FerryStore          *self,
                                  gint64               file_id,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  DiscardBlocks *job;

  g_return_if_fail (FERRY_IS_STORE (self));

  job = g_new0 (DiscardBlocks, 1);
  job->file_id = file_id;

  task = request_task (self, ferry_store_update_finish, job, g_free,
                       cancellable, callback, user_data);
  submit (self, task, job_discard_blocks);
}

typedef struct
{
  gint64               transfer_id;
  char                *path_kind;
  char                *relay;
} SetPath;

static void
set_path_free (SetPath *job)
{
  g_free (job->path_kind);
  g_free (job->relay);
  g_free (job);
}

static void
bind_path (sqlite3_stmt *stmt,
           gpointer      data)
{
  SetPath *job = data;

  bind_text_or_null (stmt, 1, job->path_kind);
  bind_text_or_null (stmt, 2, job->relay);
  sqlite3_bind_int64 (stmt, 3, job->transfer_id);
}

static void
job_set_path (FerryStore *self,
              GTask      *task)
{
  SetPath *job = g_task_get_task_data (task);

  /* The first path of an attempt stays; a resume clears it. */
  run_update (self, task, "UPDATE transfers SET path_kind = ?1, relay = ?2, "
                          "first_path_kind = coalesce (first_path_kind, ?1) WHERE id = ?3",
              bind_path, job->transfer_id, TRUE);
}

/**
 * ferry_store_set_path_async:
 * @path_kind: (nullable): "direct-lan", "direct-internet" or "relayed"
 * @relay: (nullable): the TURN server used, when relayed
 *
 * Records the path the bytes take. Finish with ferry_store_update_finish().
 */
void
ferry_store_set_path_async (FerryStore          *self,
                            gint64               transfer_id,
                            const char          *path_kind,
                            const char          *relay,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SetPath *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (path_kind == NULL
                    || g_str_equal (path_kind, "direct-lan")
                    || g_str_equal (path_kind, "direct-internet")
                    || g_str_equal (path_kind, "relayed"));

  job = g_new0 (SetPath, 1);
  job->transfer_id = transfer_id;
  job->path_kind = g_strdup (path_kind);
  job->relay = g_strdup (relay);

  task = request_task (self, ferry_store_update_finish, job, (GDestroyNotify) set_path_free,
                       cancellable, callback, user_data);
  submit (self, task, job_set_path);
}

typedef struct
{
  gint64                   transfer_id;
  FerryStoreTransferState  state;
  char                    *error_message;
} FinishTransfer;

static void
finish_transfer_free (FinishTransfer *job)
{
  g_free (job->error_message);
  g_free (job);
}

static void
job_finish_transfer (FerryStore *self,
                     GTask      *task)
{
  FinishTransfer *job = g_task_get_task_data (task);
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autoptr(sqlite3_stmt) drop = NULL;
  gboolean ended = job->state != FERRY_STORE_TRANSFER_ACTIVE
                   && job->state != FERRY_STORE_TRANSFER_INTERRUPTED;
  GError *error = NULL;

  if (!require_db (self, task))
    return;

  if (!db_exec (self->db, "BEGIN IMMEDIATE", &error))
    goto failed;

  update = db_prepare (self->db, "UPDATE transfers SET state = ?, error_message = ?, "
                                 "finished_at = ? WHERE id = ?", &error);
  if (update == NULL)
    goto failed;
  sqlite3_bind_text (update, 1, transfer_state_names[job->state], -1, SQLITE_STATIC);
  bind_text_or_null (update, 2, job->error_message);
  if (ended)
    sqlite3_bind_int64 (update, 3, g_get_real_time ());
  else
    sqlite3_bind_null (update, 3);
  sqlite3_bind_int64 (update, 4, job->transfer_id);
  if (!db_step_done (self->db, update, &error))
    goto failed;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (&error, FERRY_STORE_ERROR, FERRY_STORE_ERROR_NOT_FOUND,
                   "There is no transfer %" G_GINT64_FORMAT, job->transfer_id);
      goto failed;
    }

  /* A finished transfer is never resumed: its block hashes only take space. */
  if (ended)
    {
      drop = db_prepare (self->db, "DELETE FROM blocks WHERE file_id IN "
                                   "(SELECT id FROM files WHERE transfer_id = ?)", &error);
      if (drop == NULL)
        goto failed;
      sqlite3_bind_int64 (drop, 1, job->transfer_id);
      if (!db_step_done (self->db, drop, &error))
        goto failed;
    }

  if (!db_exec (self->db, "COMMIT", &error))
    goto failed;

  g_task_return_boolean (task, TRUE);
  return;

failed:
  return_db_error (self, task, error);
}

/**
 * ferry_store_finish_transfer_async:
 * @state: the outcome; %FERRY_STORE_TRANSFER_INTERRUPTED keeps it resumable
 * @error_message: (nullable): why it failed, for the history
 *
 * Finish with ferry_store_update_finish().
 */
void
ferry_store_finish_transfer_async (FerryStore              *self,
                                   gint64                   transfer_id,
                                   FerryStoreTransferState  state,
                                   const char              *error_message,
                                   GCancellable            *cancellable,
                                   GAsyncReadyCallback      callback,
                                   gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  FinishTransfer *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (state <= FERRY_STORE_TRANSFER_CANCELLED);

  job = g_new0 (FinishTransfer, 1);
  job->transfer_id = transfer_id;
  job->state = state;
  job->error_message = g_strdup (error_message);

  task = request_task (self, ferry_store_update_finish, job, (GDestroyNotify) finish_transfer_free,
                       cancellable, callback, user_data);
  submit (self, task, job_finish_transfer);
}

typedef struct
{
  gint64               transfer_id;
  gint64               started_at;
  guint64              bytes_done;
  guint64              bytes_moved;
} SetMoved;

static void
bind_moved (sqlite3_stmt *stmt,
            gpointer      data)
{
  SetMoved *job = data;

  if (job->started_at > 0)
    sqlite3_bind_int64 (stmt, 1, job->started_at);
  else
    sqlite3_bind_null (stmt, 1);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) job->bytes_done);
  sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) job->bytes_moved);
  sqlite3_bind_int64 (stmt, 4, job->transfer_id);
}

static void
job_set_moved (FerryStore *self,
               GTask      *task)
{
  SetMoved *job = g_task_get_task_data (task);

  run_update (self, task, "UPDATE transfers SET started_at = ?, bytes_done = ?, "
                          "bytes_moved = ? WHERE id = ?",
              bind_moved, job->transfer_id, TRUE);
}

/**
 * ferry_store_set_moved_async:
 * @started_at: when the bytes began to move, microseconds since the Unix
 *   epoch; 0 if they never did
 * @bytes_done: bytes sent or verified, as ferry_store_set_progress()
 * @bytes_moved: of those, the ones that travelled in this attempt
 *
 * Records what an attempt moved, for the history's speed and duration.
 * Finish with ferry_store_update_finish().
 */
void
ferry_store_set_moved_async (FerryStore          *self,
                             gint64               transfer_id,
                             gint64               started_at,
                             guint64              bytes_done,
                             guint64              bytes_moved,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SetMoved *job;

  g_return_if_fail (FERRY_IS_STORE (self));
  g_return_if_fail (bytes_moved <= bytes_done);

  job = g_new0 (SetMoved, 1);
  job->transfer_id = transfer_id;
  job->started_at = started_at;
  job->bytes_done = bytes_done;
  job->bytes_moved = bytes_moved;

  task = request_task (self, ferry_store_update_finish, job, g_free,
                       cancellable, callback, user_data);
  submit (self, task, job_set_moved);
}

static void
bind_transfer_id (sqlite3_stmt *stmt,
                  gpointer      data)
{
  sqlite3_bind_int64 (stmt, 1, *(gint64 *) data);
}

static void
job_remove_transfer (FerryStore *self,
                     GTask      *task)
{
  gint64 *transfer_id = g_task_get_task_data (task);

  /* Files and blocks go with their transfer (ON DELETE CASCADE); a running
   * transfer keeps its row. */
  run_update (self, task, "DELETE FROM transfers WHERE id = ? AND state != 'active'",
              bind_transfer_id, *transfer_id, TRUE);
}

/**
 * ferry_store_remove_transfer_async:
 *
 * Deletes one transfer that is not running from the history, with its
 * files and blocks: if it was interrupted it can no longer be resumed. Only
 * the record goes; nothing on disk is touched. Fails with
 * %FERRY_STORE_ERROR_NOT_FOUND for a running or unknown transfer. Finish
 * with ferry_store_update_finish().
 */
void
ferry_store_remove_transfer_async (FerryStore          *self,
                                   gint64               transfer_id,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_STORE (self));

  task = request_task (self, ferry_store_update_finish, g_memdup2 (&transfer_id, sizeof transfer_id),
                       g_free, cancellable, callback, user_data);
  submit (self, task, job_remove_transfer);
}

static void
job_clear_history (FerryStore *self,
                   GTask      *task)
{
  GError *error = NULL;

  if (!require_db (self, task))
    return;

  /* Files and blocks go with their transfer (ON DELETE CASCADE). */
  if (!db_exec (self->db, "DELETE FROM transfers WHERE state != 'active'", &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * ferry_store_clear_history_async:
 *
 * Deletes every transfer that is not running, with its files and blocks:
 * interrupted ones can then no longer be resumed. Finish with
 * ferry_store_update_finish().
 */
void
ferry_store_clear_history_async (FerryStore          *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_STORE (self));

  task = request_task (self, ferry_store_update_finish, NULL, NULL,
                       cancellable, callback, user_data);
  submit (self, task, job_clear_history);
}

/**
 * ferry_store_update_finish:
 *
 * Finishes the requests that only change something: set_file_state,
 * discard_blocks, set_path, set_moved, finish_transfer, remove_transfer and
 * clear_history.
 */
gboolean
ferry_store_update_finish (FerryStore    *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_store_update_finish,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  guint                limit;
} ListHistory;

static void
job_list_history (FerryStore *self,
                  GTask      *task)
{
  ListHistory *job = g_task_get_task_data (task);
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  GError *error = NULL;
  int rc;

  if (!require_db (self, task))
    return;

  /* The history view says "outcome" where the table says "state"; the
   * names follow the transfer's columns. */
  stmt = db_prepare (self->db,
                     "SELECT id, direction, transfer_key, outcome, peer_name, target_folder, "
                     "created_at, finished_at, total_bytes, bytes_done, n_files, path_kind, "
                     "relay, error_message, sources, started_at, bytes_moved, first_path_kind, "
                     "names FROM history LIMIT ?", &error);
  if (stmt == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  sqlite3_bind_int64 (stmt, 1, job->limit > 0 ? (sqlite3_int64) job->limit : -1);

  list = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_store_transfer_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      FerryStoreTransfer *transfer = transfer_from_row (stmt);

      transfer->names = sources_from_json ((const char *) sqlite3_column_text (stmt,
                                                                               HISTORY_NAMES_COLUMN));
      g_ptr_array_add (list, transfer);
    }
  if (rc != SQLITE_DONE)
    {
      set_db_error (self->db, rc, &error);
      g_task_return_error (task, error);
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&list), (GDestroyNotify) g_ptr_array_unref);
}

/**
 * ferry_store_list_history_async:
 * @limit: most transfers to list, 0 for all
 *
 * Lists transfers newest first, with their outcome (files not loaded).
 */
void
ferry_store_list_history_async (FerryStore          *self,
                                guint                limit,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ListHistory *job;

  g_return_if_fail (FERRY_IS_STORE (self));

  job = g_new0 (ListHistory, 1);
  job->limit = limit;

  task = request_task (self, ferry_store_list_history_async, job, g_free,
                       cancellable, callback, user_data);
  submit (self, task, job_list_history);
}

/**
 * ferry_store_list_history_finish:
 *
 * Returns: (transfer container) (element-type FerryStoreTransfer): the
 *   transfers, or %NULL with @error set
 */
GPtrArray *
ferry_store_list_history_finish (FerryStore    *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_store_list_history_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
