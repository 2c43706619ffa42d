/* ferry-hasher.c
 *
 * BLAKE2b-256 (libsodium's crypto_generichash) of the FERRY_BLOCK_SIZE
 * blocks of files, and a file's digest derived from the list of its block
 * digests (and its size), so each byte is hashed once. The block digests let
 * a receiver prove which blocks it already holds so that a resumed transfer
 * never sends them twice; the file digest travels after the file's data.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-hasher"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "ferry-hasher.h"

/* Progress is reported at most this often, so that hashing a fast disk does
 * not flood the caller's main context with idle callbacks.
 */
#define PROGRESS_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

/* Bytes fed to BLAKE2b here, for the tests that check one pass per byte. */
static gsize bytes_hashed;

struct _FerryStreamHasher
{
  crypto_generichash_state block;
  guint64                  size;
  gsize                    block_fill;
  gboolean                 ended_short;   /* a block shorter than FERRY_BLOCK_SIZE was added */
  GByteArray              *block_hashes;
};

struct _FerryFileDigest
{
  gatomicrefcount  ref_count;
  guint64          size;
  guint8           content_id[FERRY_HASH_SIZE];
  GBytes          *block_hashes;
};

G_DEFINE_BOXED_TYPE (FerryFileDigest, ferry_file_digest,
                     ferry_file_digest_ref, ferry_file_digest_unref)

FerryStreamHasher *
ferry_stream_hasher_new (void)
{
  FerryStreamHasher *hasher = g_new0 (FerryStreamHasher, 1);

  crypto_generichash_init (&hasher->block, NULL, 0, FERRY_HASH_SIZE);
  hasher->block_hashes = g_byte_array_new ();

  return hasher;
}

void
ferry_stream_hasher_free (FerryStreamHasher *hasher)
{
  if (hasher == NULL)
    return;

  g_clear_pointer (&hasher->block_hashes, g_byte_array_unref);
  sodium_memzero (hasher, sizeof *hasher);
  g_free (hasher);
}

static void
close_block (FerryStreamHasher *hasher)
{
  guint8 digest[FERRY_HASH_SIZE];

  crypto_generichash_final (&hasher->block, digest, sizeof digest);
  g_byte_array_append (hasher->block_hashes, digest, sizeof digest);
  crypto_generichash_init (&hasher->block, NULL, 0, FERRY_HASH_SIZE);
  hasher->block_fill = 0;
}

/**
 * ferry_stream_hasher_update:
 *
 * Feeds the next @len bytes of the stream. A block's hash becomes available
 * as soon as its last byte was fed.
 */
void
ferry_stream_hasher_update (FerryStreamHasher *hasher,
                            const guint8      *data,
                            gsize              len)
{
  g_return_if_fail (hasher != NULL);
  g_return_if_fail (hasher->block_hashes != NULL);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (!hasher->ended_short || len == 0);

  g_atomic_pointer_add (&bytes_hashed, (gssize) len);
  hasher->size += len;

  while (len > 0)
    {
      gsize take = MIN (len, FERRY_BLOCK_SIZE - hasher->block_fill);

      crypto_generichash_update (&hasher->block, data, take);
      hasher->block_fill += take;
      data += take;
      len -= take;

      if (hasher->block_fill == FERRY_BLOCK_SIZE)
        close_block (hasher);
    }
}

/**
 * ferry_stream_hasher_add_block:
 * @hash: (array fixed-size=32): the block's BLAKE2b-256, already computed
 * @len: the block's length: FERRY_BLOCK_SIZE, or less for a file's last block
 *
 * Adds a whole block whose hash the caller already has (a resumed block it
 * checked), so that its bytes are not hashed a second time. Only between
 * blocks; after a short block only ferry_stream_hasher_finish() may follow.
 */
void
ferry_stream_hasher_add_block (FerryStreamHasher *hasher,
                               const guint8      *hash,
                               gsize              len)
{
  g_return_if_fail (len > 0 && len <= FERRY_BLOCK_SIZE);
  g_return_if_fail (hash != NULL);
  g_return_if_fail (hasher != NULL && hasher->block_hashes != NULL);
  g_return_if_fail (hasher->block_fill == 0 && !hasher->ended_short);

  g_byte_array_append (hasher->block_hashes, hash, FERRY_HASH_SIZE);
  hasher->size += len;
  hasher->ended_short = len < FERRY_BLOCK_SIZE;
}

/**
 * ferry_hash_block:
 * @hash: (out caller-allocates) (array fixed-size=32): where the hash goes
 *
 * BLAKE2b-256 of one block on its own, as the block hashes are, for a
 * block to check before it is added with ferry_stream_hasher_add_block().
 */
void
ferry_hash_block (const guint8 *data,
                  gsize         len,
                  guint8       *hash)
{
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (len <= FERRY_BLOCK_SIZE);

  g_atomic_pointer_add (&bytes_hashed, (gssize) len);
  crypto_generichash (hash, FERRY_HASH_SIZE, data, len, NULL, 0);
}

/**
 * ferry_hasher_get_bytes_hashed:
 *
 * Returns: how many bytes this process fed to the block hashes so far: what
 *   the tests check one pass per byte with
 */
guint64
ferry_hasher_get_bytes_hashed (void)
{
  return (guint64) g_atomic_pointer_get (&bytes_hashed);
}

guint64
ferry_stream_hasher_get_size (FerryStreamHasher *hasher)
{
  g_return_val_if_fail (hasher != NULL, 0);

  return hasher->size;
}

/**
 * ferry_stream_hasher_get_n_complete_blocks:
 *
 * Returns: how many full blocks were fed so far. The last, shorter block of
 * a stream only counts after ferry_stream_hasher_finish().
 */
guint
ferry_stream_hasher_get_n_complete_blocks (FerryStreamHasher *hasher)
{
  g_return_val_if_fail (hasher != NULL, 0);
  g_return_val_if_fail (hasher->block_hashes != NULL, 0);

  return hasher->block_hashes->len / FERRY_HASH_SIZE;
}

const guint8 *
ferry_stream_hasher_get_block_hash (FerryStreamHasher *hasher,
                                    guint              index)
{
  g_return_val_if_fail (hasher != NULL, NULL);
  g_return_val_if_fail (index < ferry_stream_hasher_get_n_complete_blocks (hasher), NULL);

  return hasher->block_hashes->data + (gsize) index * FERRY_HASH_SIZE;
}

/* The file digest: BLAKE2b-256 over a domain tag, the size (u64,
 * big-endian) and the block digests in order. Hashing the digests, not the
 * bytes again, keeps it at one pass per byte; a changed byte changes its
 * block's digest and so this one.
 */
static void
derive_file_digest (guint64       size,
                    const guint8 *block_hashes,
                    gsize         len,
                    guint8       *out)
{
  static const char domain[] = "ferry-file-digest-v2";
  crypto_generichash_state state;
  guint64 be_size = GUINT64_TO_BE (size);

  crypto_generichash_init (&state, NULL, 0, FERRY_HASH_SIZE);
  crypto_generichash_update (&state, (const guint8 *) domain, sizeof domain);
  crypto_generichash_update (&state, (const guint8 *) &be_size, sizeof be_size);
  crypto_generichash_update (&state, block_hashes, len);
  crypto_generichash_final (&state, out, FERRY_HASH_SIZE);
}

/**
 * ferry_stream_hasher_finish:
 *
 * Ends the stream: closes the last partial block, if any, and derives the
 * file digest from the block digests. An empty stream has no blocks. The
 * hasher can't be fed afterwards; only freed.
 *
 * Returns: (transfer full): the digest
 */
FerryFileDigest *
ferry_stream_hasher_finish (FerryStreamHasher *hasher)
{
  FerryFileDigest *digest;

  g_return_val_if_fail (hasher != NULL, NULL);
  g_return_val_if_fail (hasher->block_hashes != NULL, NULL);

  if (hasher->block_fill > 0)
    close_block (hasher);

  digest = g_new0 (FerryFileDigest, 1);
  g_atomic_ref_count_init (&digest->ref_count);
  digest->size = hasher->size;
  derive_file_digest (hasher->size, hasher->block_hashes->data, hasher->block_hashes->len,
                      digest->content_id);
  digest->block_hashes = g_byte_array_free_to_bytes (g_steal_pointer (&hasher->block_hashes));

  return digest;
}

FerryFileDigest *
ferry_file_digest_ref (FerryFileDigest *digest)
{
  g_return_val_if_fail (digest != NULL, NULL);

  g_atomic_ref_count_inc (&digest->ref_count);
  return digest;
}

void
ferry_file_digest_unref (FerryFileDigest *digest)
{
  g_return_if_fail (digest != NULL);

  if (g_atomic_ref_count_dec (&digest->ref_count))
    {
      g_bytes_unref (digest->block_hashes);
      g_free (digest);
    }
}

guint64
ferry_file_digest_get_size (FerryFileDigest *digest)
{
  g_return_val_if_fail (digest != NULL, 0);

  return digest->size;
}

/**
 * ferry_file_digest_get_content_id:
 *
 * Returns: (array fixed-size=32): the file digest, derived from the block digests
 *   (see ferry_stream_hasher_finish())
 */
const guint8 *
ferry_file_digest_get_content_id (FerryFileDigest *digest)
{
  g_return_val_if_fail (digest != NULL, NULL);

  return digest->content_id;
}

char *
ferry_file_digest_dup_content_id_hex (FerryFileDigest *digest)
{
  g_return_val_if_fail (digest != NULL, NULL);

  return ferry_hash_to_hex (digest->content_id);
}

guint
ferry_file_digest_get_n_blocks (FerryFileDigest *digest)
{
  g_return_val_if_fail (digest != NULL, 0);

  return g_bytes_get_size (digest->block_hashes) / FERRY_HASH_SIZE;
}

const guint8 *
ferry_file_digest_get_block_hash (FerryFileDigest *digest,
                                  guint            index)
{
  g_return_val_if_fail (digest != NULL, NULL);
  g_return_val_if_fail (index < ferry_file_digest_get_n_blocks (digest), NULL);

  return (const guint8 *) g_bytes_get_data (digest->block_hashes, NULL)
         + (gsize) index * FERRY_HASH_SIZE;
}

char *
ferry_hash_to_hex (const guint8 *hash)
{
  char *hex = g_malloc (FERRY_HASH_HEX_SIZE + 1);

  g_return_val_if_fail (hash != NULL, NULL);

  sodium_bin2hex (hex, FERRY_HASH_HEX_SIZE + 1, hash, FERRY_HASH_SIZE);
  return hex;
}

/**
 * ferry_hash_from_hex:
 * @hex: exactly 64 lowercase hex digits
 * @hash: (out caller-allocates) (array fixed-size=32): where to store it
 *
 * Returns: %FALSE if @hex is not a well-formed digest
 */
gboolean
ferry_hash_from_hex (const char *hex,
                     guint8     *hash)
{
  g_return_val_if_fail (hash != NULL, FALSE);

  if (hex == NULL || strlen (hex) != FERRY_HASH_HEX_SIZE)
    return FALSE;

  for (guint i = 0; i < FERRY_HASH_HEX_SIZE; i++)
    if (!g_ascii_isdigit (hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f'))
      return FALSE;

  for (guint i = 0; i < FERRY_HASH_SIZE; i++)
    hash[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4
                        | g_ascii_xdigit_value (hex[2 * i + 1]));

  return TRUE;
}

typedef struct
{
  FerryHasherProgressFunc func;
  gpointer                data;
  guint64                 done;
  guint64                 total;
} ProgressReport;

static gboolean
deliver_progress_cb (gpointer user_data)
{
  ProgressReport *report = user_data;

  report->func (report->done, report->total, report->data);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  FerryHasherProgressFunc func;
  gpointer                data;
  GMainContext           *context;
  gint64                  last_report;
} ProgressSink;

static void
report_progress (ProgressSink *sink,
                 guint64       done,
                 guint64       total,
                 gboolean      force)
{
  ProgressReport *report;
  gint64 now;

  if (sink == NULL || sink->func == NULL)
    return;

  now = g_get_monotonic_time ();
  if (!force && now - sink->last_report < PROGRESS_INTERVAL_US)
    return;
  sink->last_report = now;

  report = g_new (ProgressReport, 1);
  *report = (ProgressReport) { sink->func, sink->data, done, total };
  /* Same priority as GTask's completion, and queued before it, so the
   * caller never sees progress after the result.
   */
  g_main_context_invoke_full (sink->context, G_PRIORITY_DEFAULT,
                              deliver_progress_cb, report, g_free);
}

static FerryFileDigest *
hash_file_with_progress (GFile         *file,
                         ProgressSink  *sink,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(FerryStreamHasher) hasher = NULL;
  g_autofree guint8 *buffer = NULL;
  guint64 total;

  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    return NULL;

  info = g_file_input_stream_query_info (stream, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                         cancellable, error);
  if (info == NULL)
    return NULL;
  total = (guint64) g_file_info_get_size (info);

  /* Reading exactly one block at a time keeps block boundaries aligned with
   * reads; the buffer is the only memory that grows with the block size.
   */
  buffer = g_malloc (FERRY_BLOCK_SIZE);
  hasher = ferry_stream_hasher_new ();

  for (;;)
    {
      gsize n_read = 0;

      if (!g_input_stream_read_all (G_INPUT_STREAM (stream), buffer, FERRY_BLOCK_SIZE,
                                    &n_read, cancellable, error))
        return NULL;
      if (n_read == 0)
        break;

      ferry_stream_hasher_update (hasher, buffer, n_read);
      report_progress (sink, ferry_stream_hasher_get_size (hasher),
                       MAX (total, ferry_stream_hasher_get_size (hasher)), FALSE);
    }

  report_progress (sink, ferry_stream_hasher_get_size (hasher),
                   ferry_stream_hasher_get_size (hasher), TRUE);

  return ferry_stream_hasher_finish (hasher);
}

/**
 * ferry_hasher_hash_file:
 *
 * Hashes @file on the calling thread. It blocks: call it only from a worker
 * thread (the offer builder does). Reads are checked for cancellation.
 *
 * Returns: (transfer full): the digest, or %NULL with @error set
 */
FerryFileDigest *
ferry_hasher_hash_file (GFile         *file,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable), NULL);

  return hash_file_with_progress (file, NULL, cancellable, error);
}

typedef struct
{
  GFile        *file;
  ProgressSink  sink;
} HashJob;

static void
hash_job_free (gpointer data)
{
  HashJob *job = data;

  g_clear_object (&job->file);
  g_clear_pointer (&job->sink.context, g_main_context_unref);
  g_free (job);
}

static void
hash_file_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  HashJob *job = task_data;
  GError *error = NULL;
  FerryFileDigest *digest;

  digest = hash_file_with_progress (job->file, &job->sink, cancellable, &error);
  if (digest == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, digest, (GDestroyNotify) ferry_file_digest_unref);
}

/**
 * ferry_hasher_hash_file_async:
 * @progress: (nullable): called on the caller's thread-default main context,
 *   at most every 100 ms and once at the end, before @callback
 * @progress_data: for @progress; must stay valid until @callback ran
 *
 * Hashes @file in a GTask thread, reading it in FERRY_BLOCK_SIZE pieces.
 */
void
ferry_hasher_hash_file_async (GFile                   *file,
                              FerryHasherProgressFunc  progress,
                              gpointer                 progress_data,
                              GCancellable            *cancellable,
                              GAsyncReadyCallback      callback,
                              gpointer                 user_data)
{
  g_autoptr(GTask) task = NULL;
  HashJob *job;

  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  job = g_new0 (HashJob, 1);
  job->file = g_object_ref (file);
  job->sink.func = progress;
  job->sink.data = progress_data;
  job->sink.context = g_main_context_ref_thread_default ();

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_hasher_hash_file_async);
  g_task_set_return_on_cancel (task, FALSE);
  g_task_set_task_data (task, job, hash_job_free);
  g_task_run_in_thread (task, hash_file_thread);
}

FerryFileDigest *
ferry_hasher_hash_file_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_hasher_hash_file_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
