/* ferry-transfer.c
 *
 * The transfer protocol (see ferry-transfer.h) on both sides. Everything
 * runs on the main context the connection lives on, except disk I/O and
 * hashing: the sender reads and hashes one block at a time in a GTask thread
 * per file, the receiver writes, hashes and syncs batches of received chunks
 * in a GTask thread per file. Memory stays flat in file size: the sender
 * holds at most one block read ahead plus the connection's send buffer per
 * stream, the receiver returns flow-control credit only once bytes are on
 * disk, so the other side can never have more than a stream window waiting.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <string.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "ferry-hasher.h"
#include "ferry-receive-plan.h"
#include "ferry-transfer.h"

/* Progress properties are notified at most this often. */
#define PROGRESS_INTERVAL_MS 100

/* The sender keeps this much queued per file stream before it waits. */
#define STREAM_SEND_BUFFER ((guint64) 4 * 1024 * 1024)

/* The receiver hands at most this much to a writer thread at once. */
#define WRITE_BATCH ((gsize) 4 * 1024 * 1024)

/* Longest reason carried in a connection close. */
#define MAX_REASON 1000

struct _FerryTransfer
{
  GObject              parent_instance;

  GMainContext        *context;         /* the connection's */
  FerryQuicConnection *quic;
  FerryStore          *store;
  FerryOffer          *offer;
  gboolean             is_sender;
  FerryOfferLimits     limits;
  GFile               *default_folder;
  GFile               *target_folder;

  FerryTransferState   state;
  GError              *error;
  gboolean             ended;
  gboolean             draining;
  GTask               *run_task;
  GCancellable        *run_cancellable;
  gulong               run_cancelled_id;
  guint                n_workers;
  gboolean             completing;
  gboolean             completed;

  /* Control stream */
  gint64               control_id;
  GByteArray          *control_in;
  gboolean             preamble_seen;
  gboolean             control_fin_seen;
  gboolean             sent_all_verified;

  /* Store */
  gint64               store_transfer_id;
  char                *path_kind;
  char                *path_relay;
  FerryStoreTransfer  *store_transfer;

  /* Progress */
  guint64              bytes_total;
  guint64              bytes_done;
  guint64              bytes_resumed;
  guint64              bytes_on_wire;
  guint64              rate;
  gint64               eta_seconds;
  char                *current_file;
  guint                n_files_done;
  guint                n_files;
  guint                progress_source;
  gint64               last_tick_time;
  guint64              last_tick_bytes;
  double               smoothed_rate;
  guint64              notified_done;
  guint64              notified_wire;
  guint64              notified_resumed;
  guint                notified_files_done;
  char                *notified_current;

  /* Sender */
  guint                next_file;
  guint                n_active;
  guint64             *start_offsets;   /* per entry */
  guint8              *skip;            /* per entry */
  GHashTable          *outgoing;        /* stream id → Outgoing */

  /* Receiver */
  FerryReceivePlan    *plan;            /* once accepted */
  guint8              *started;         /* per entry */
  gint64              *store_file_ids;  /* per entry */
  GHashTable          *incoming;        /* stream id → Incoming */
};

enum
{
  PROP_0,
  PROP_STATE,
  PROP_IS_SENDER,
  PROP_BYTES_TOTAL,
  PROP_BYTES_DONE,
  PROP_BYTES_RESUMED,
  PROP_BYTES_SENT_ON_WIRE,
  PROP_RATE,
  PROP_ETA_SECONDS,
  PROP_CURRENT_FILE,
  PROP_N_FILES_DONE,
  PROP_ERROR,
  N_PROPS
};

enum
{
  SIGNAL_OFFER_RECEIVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (FerryTransfer, ferry_transfer, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-transfer-error-quark, ferry_transfer_error)

GType
ferry_transfer_state_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      static const GEnumValue values[] = {
        { FERRY_TRANSFER_STATE_NEW, "FERRY_TRANSFER_STATE_NEW", "new" },
        { FERRY_TRANSFER_STATE_OFFERING, "FERRY_TRANSFER_STATE_OFFERING", "offering" },
        { FERRY_TRANSFER_STATE_OFFER_RECEIVED, "FERRY_TRANSFER_STATE_OFFER_RECEIVED",
          "offer-received" },
        { FERRY_TRANSFER_STATE_TRANSFERRING, "FERRY_TRANSFER_STATE_TRANSFERRING",
          "transferring" },
        { FERRY_TRANSFER_STATE_VERIFYING, "FERRY_TRANSFER_STATE_VERIFYING", "verifying" },
        { FERRY_TRANSFER_STATE_DONE, "FERRY_TRANSFER_STATE_DONE", "done" },
        { FERRY_TRANSFER_STATE_FAILED, "FERRY_TRANSFER_STATE_FAILED", "failed" },
        { FERRY_TRANSFER_STATE_CANCELLED, "FERRY_TRANSFER_STATE_CANCELLED", "cancelled" },
        { FERRY_TRANSFER_STATE_DECLINED, "FERRY_TRANSFER_STATE_DECLINED", "declined" },
        { 0, NULL, NULL },
      };
      GType id = g_enum_register_static (g_intern_static_string ("FerryTransferState"),
                                         values);

      g_once_init_leave (&type, id);
    }

  return type;
}

/* Sender: one file being sent. */
typedef struct
{
  FerryTransfer         *self;
  const FerryOfferEntry *entry;
  gint64                 stream_id;
  guint64                offset;       /* next byte to read */
  GFileInputStream      *stream;       /* owned by the read job while reading */
  GBytes                *pending;      /* read, not yet written */
  gboolean               reading;
} Outgoing;

/* Receiver: one file arriving. */
typedef struct
{
  FerryTransfer         *self;
  gint64                 stream_id;
  guint8                 header[FERRY_TRANSFER_FILE_HEADER_SIZE];
  guint                  header_len;
  guint                  index;
  const FerryOfferEntry *entry;
  char                  *local_path;
  guint64                start;
  gboolean               reset_blocks;
  FerryReceiveFile      *file;         /* owned by the write job while busy */
  GQueue                 queue;        /* GBytes waiting for the disk */
  gboolean               fin_seen;
  gboolean               busy;
  gboolean               finished;
  guint                  n_recorded;
} Incoming;

static void transfer_end       (FerryTransfer      *self,
                                FerryTransferState  state,
                                GError             *error,
                                guint64             close_code);
static void sender_pump_files  (FerryTransfer      *self);
static void outgoing_pump      (Outgoing           *out);
static void incoming_schedule  (Incoming           *in);
static void maybe_complete     (FerryTransfer      *self);

static void
outgoing_free (gpointer data)
{
  Outgoing *out = data;

  g_clear_object (&out->stream);
  g_clear_pointer (&out->pending, g_bytes_unref);
  g_free (out);
}

static void
incoming_free (gpointer data)
{
  Incoming *in = data;

  g_assert (!in->busy);
  g_clear_pointer (&in->file, ferry_receive_file_free);
  g_queue_clear_full (&in->queue, (GDestroyNotify) g_bytes_unref);
  g_free (in->local_path);
  g_free (in);
}

/* Properties and progress */

static void
set_state (FerryTransfer      *self,
           FerryTransferState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_current_file (FerryTransfer *self,
                  const char    *path)
{
  if (g_strcmp0 (self->current_file, path) == 0)
    return;
  g_free (self->current_file);
  self->current_file = g_strdup (path);
}

/* Notifies what changed since the last time; called at most every
 * PROGRESS_INTERVAL_MS so that a UI is not flooded by 2000 small files.
 */
static void
progress_notify (FerryTransfer *self)
{
  GObject *object = G_OBJECT (self);
  gint64 now = g_get_monotonic_time ();
  guint64 fresh = self->bytes_done - self->bytes_resumed;
  guint64 rate = self->rate;
  gint64 eta = self->eta_seconds;

  g_object_freeze_notify (object);

  if (self->last_tick_time != 0 && now > self->last_tick_time)
    {
      double instant = (double) (fresh - MIN (fresh, self->last_tick_bytes)) * G_USEC_PER_SEC
                       / (double) (now - self->last_tick_time);

      /* An exponential average over about a second of ticks. */
      self->smoothed_rate = self->smoothed_rate == 0 ? instant
                                                     : 0.8 * self->smoothed_rate + 0.2 * instant;
      rate = (guint64) self->smoothed_rate;
      eta = rate > 0 ? (gint64) ((self->bytes_total - MIN (self->bytes_total,
                                                           self->bytes_done)) / rate)
                     : -1;
    }
  self->last_tick_time = now;
  self->last_tick_bytes = fresh;

  if (rate != self->rate)
    {
      self->rate = rate;
      g_object_notify_by_pspec (object, properties[PROP_RATE]);
    }
  if (eta != self->eta_seconds)
    {
      self->eta_seconds = eta;
      g_object_notify_by_pspec (object, properties[PROP_ETA_SECONDS]);
    }
  if (self->notified_done != self->bytes_done)
    {
      self->notified_done = self->bytes_done;
      g_object_notify_by_pspec (object, properties[PROP_BYTES_DONE]);
    }
  if (self->notified_wire != self->bytes_on_wire)
    {
      self->notified_wire = self->bytes_on_wire;
      g_object_notify_by_pspec (object, properties[PROP_BYTES_SENT_ON_WIRE]);
    }
  if (self->notified_resumed != self->bytes_resumed)
    {
      self->notified_resumed = self->bytes_resumed;
      g_object_notify_by_pspec (object, properties[PROP_BYTES_RESUMED]);
    }
  if (self->notified_files_done != self->n_files_done)
    {
      self->notified_files_done = self->n_files_done;
      g_object_notify_by_pspec (object, properties[PROP_N_FILES_DONE]);
    }
  if (g_strcmp0 (self->notified_current, self->current_file) != 0)
    {
      g_free (self->notified_current);
      self->notified_current = g_strdup (self->current_file);
      g_object_notify_by_pspec (object, properties[PROP_CURRENT_FILE]);
    }

  g_object_thaw_notify (object);
}

static void
stop_progress (FerryTransfer *self)
{
  GSource *source;

  if (self->progress_source == 0)
    return;
  source = g_main_context_find_source_by_id (self->context, self->progress_source);
  if (source != NULL)
    g_source_destroy (source);
  self->progress_source = 0;
}

static gboolean
progress_tick (gpointer user_data)
{
  progress_notify (FERRY_TRANSFER (user_data));
  return G_SOURCE_CONTINUE;
}

static void
start_progress (FerryTransfer *self)
{
  if (self->progress_source != 0)
    return;
  self->last_tick_time = g_get_monotonic_time ();
  self->last_tick_bytes = self->bytes_done - self->bytes_resumed;
  {
    g_autoptr(GSource) source = g_timeout_source_new (PROGRESS_INTERVAL_MS);

    g_source_set_callback (source, progress_tick, self, NULL);
    g_source_set_static_name (source, "[ferry] transfer progress");
    self->progress_source = g_source_attach (source, self->context);
  }
}

/* Control stream */

static void
control_send (FerryTransfer *self,
              guint8         kind,
              const char    *payload,
              gsize          len)
{
  g_autoptr(GByteArray) frame = g_byte_array_sized_new (len + 5);
  g_autoptr(GError) error = NULL;
  guint32 be_len = GUINT32_TO_BE ((guint32) len);

  g_byte_array_append (frame, (const guint8 *) &be_len, 4);
  g_byte_array_append (frame, &kind, 1);
  if (len > 0)
    g_byte_array_append (frame, (const guint8 *) payload, len);

  if (!ferry_quic_connection_stream_write (self->quic, self->control_id,
                                           g_byte_array_free_to_bytes (g_steal_pointer (&frame)),
                                           FALSE, &error))
    g_debug ("Could not write a control frame: %s", error->message);
}

static void
control_end (FerryTransfer *self)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

  if (ferry_quic_connection_stream_is_writable (self->quic, self->control_id)
      || ferry_quic_connection_stream_get_buffered (self->quic, self->control_id) > 0)
    (void) ferry_quic_connection_stream_write (self->quic, self->control_id, empty, TRUE, NULL);
}

static void
fail (FerryTransfer          *self,
      FerryTransferError      code,
      FerryTransferCloseCode  close_code,
      const char             *format,
      ...) G_GNUC_PRINTF (4, 5);

static void
fail (FerryTransfer          *self,
      FerryTransferError      code,
      FerryTransferCloseCode  close_code,
      const char             *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  transfer_end (self, FERRY_TRANSFER_STATE_FAILED,
                g_error_new_literal (FERRY_TRANSFER_ERROR, code, message), close_code);
}

/* Maps an error from the receive target to what the transfer reports. */
static void
fail_from_receive_error (FerryTransfer *self,
                         const GError  *error)
{
  if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NO_SPACE))
    fail (self, FERRY_TRANSFER_ERROR_NO_SPACE, FERRY_TRANSFER_CLOSE_NO_SPACE, "%s",
          error->message);
  else if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_TOO_MUCH_DATA)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_SIZE_MISMATCH)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_HASH_MISMATCH))
    fail (self, FERRY_TRANSFER_ERROR_VERIFY_FAILED, FERRY_TRANSFER_CLOSE_VERIFY_FAILED, "%s",
          error->message);
  else if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_INVALID_PATH)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH))
    fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER, FERRY_TRANSFER_CLOSE_HOSTILE_OFFER, "%s",
          error->message);
  else
    fail (self, FERRY_TRANSFER_ERROR_IO, FERRY_TRANSFER_CLOSE_IO, "%s", error->message);
}

/* Ending */

static FerryStoreTransferState
store_state_for (FerryTransfer *self)
{
  switch (self->state)
    {
    case FERRY_TRANSFER_STATE_DONE:
      return FERRY_STORE_TRANSFER_COMPLETED;
    case FERRY_TRANSFER_STATE_CANCELLED:
    case FERRY_TRANSFER_STATE_DECLINED:
      return FERRY_STORE_TRANSFER_CANCELLED;
    default:
      break;
    }

  /* Whatever can be retried with the same files stays resumable. */
  if (g_error_matches (self->error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE)
      || g_error_matches (self->error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_NO_SPACE)
      || g_error_matches (self->error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_IO)
      || g_error_matches (self->error, FERRY_TRANSFER_ERROR,
                          FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER)
      || g_error_matches (self->error, FERRY_TRANSFER_ERROR,
                          FERRY_TRANSFER_ERROR_VERIFY_FAILED))
    return FERRY_STORE_TRANSFER_INTERRUPTED;

  return FERRY_STORE_TRANSFER_FAILED;
}

static void
return_run (FerryTransfer *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->run_task);

  self->completed = TRUE;
  if (self->run_cancellable != NULL)
    {
      g_cancellable_disconnect (self->run_cancellable, self->run_cancelled_id);
      self->run_cancelled_id = 0;
      g_clear_object (&self->run_cancellable);
    }
  if (task == NULL)
    return;
  if (self->state == FERRY_TRANSFER_STATE_DONE)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_error_copy (self->error));
}

static void
store_finished_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(FerryTransfer) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_store_update_finish (FERRY_STORE (object), result, &error))
    g_debug ("Could not record the end of the transfer: %s", error->message);
  return_run (self);
}

static void
store_flushed_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(FerryTransfer) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_store_flush_finish (FERRY_STORE (object), result, &error))
    g_debug ("Could not save verified blocks: %s", error->message);

  ferry_store_finish_transfer_async (self->store, self->store_transfer_id, store_state_for (self),
                                     self->error ? self->error->message : NULL, NULL,
                                     store_finished_cb, g_object_ref (self));
}

/* Once nothing runs in a thread any more: record the outcome, then let
 * the run finish, so that a caller sees every verified block saved.
 */
static void
maybe_complete (FerryTransfer *self)
{
  if (!self->ended || self->completing || self->n_workers > 0)
    return;

  self->completing = TRUE;
  if (self->store != NULL && self->store_transfer_id != 0)
    ferry_store_flush_async (self->store, NULL, store_flushed_cb, g_object_ref (self));
  else
    return_run (self);
}

static void
transfer_end (FerryTransfer      *self,
              FerryTransferState  state,
              GError             *error,
              guint64             close_code)
{
  GHashTableIter iter;
  gpointer value;

  if (self->ended)
    {
      g_clear_error (&error);
      return;
    }
  self->ended = TRUE;

  if (error != NULL)
    g_debug ("Transfer ended: %s", error->message);

  g_clear_error (&self->error);
  self->error = error;
  if (error != NULL)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);

  if (close_code != 0 && ferry_quic_connection_is_open (self->quic))
    {
      g_autofree char *reason = g_utf8_make_valid (error ? error->message : "", -1);

      if (strlen (reason) > MAX_REASON)
        reason[MAX_REASON] = '\0';
      ferry_quic_connection_close (self->quic, close_code, reason);
    }

  stop_progress (self);
  progress_notify (self);
  set_state (self, state);

  /* Readers and writers still in a thread clean up when they come back.
   * When the peer vanished, a receiver's queued bytes are still written so
   * that they count for resuming; after a cancel or failure they are dropped.
   */
  self->draining = g_error_matches (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE);
  if (self->outgoing != NULL)
    {
      g_hash_table_iter_init (&iter, self->outgoing);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (!((Outgoing *) value)->reading)
          g_hash_table_iter_remove (&iter);
    }
  if (self->plan != NULL)
    for (guint i = 0; i < ferry_offer_get_n_entries (self->offer); i++)
      g_clear_pointer (&self->plan->opened[i], ferry_receive_file_free);
  if (self->incoming != NULL)
    {
      g_hash_table_iter_init (&iter, self->incoming);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Incoming *in = value;

          if (!in->busy && in->file != NULL && in->queue.head != NULL && self->draining)
            incoming_schedule (in);
          if (!in->busy)
            g_hash_table_iter_remove (&iter);
        }
    }

  maybe_complete (self);
}

/* The connection ended under us: tell why in the transfer's terms. */
static void
on_closed (FerryQuicConnection *quic,
           const GError        *error,
           FerryTransfer       *self)
{
  g_autofree char *reason = NULL;
  guint64 code = 0;
  FerryTransferError mapped;
  FerryTransferState state = FERRY_TRANSFER_STATE_FAILED;

  if (self->ended)
    return;

  /* A receiver that has verified everything is done, whoever hangs up. */
  if (!self->is_sender && self->sent_all_verified)
    {
      transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
      return;
    }

  if (!ferry_quic_connection_get_peer_close (quic, &code, &reason))
    code = 0;

  switch (code)
    {
    case FERRY_TRANSFER_CLOSE_DECLINED:
      mapped = FERRY_TRANSFER_ERROR_DECLINED;
      state = FERRY_TRANSFER_STATE_DECLINED;
      break;
    case FERRY_TRANSFER_CLOSE_CANCELLED:
      mapped = FERRY_TRANSFER_ERROR_CANCELLED_BY_PEER;
      state = FERRY_TRANSFER_STATE_CANCELLED;
      break;
    case FERRY_TRANSFER_CLOSE_NO_SPACE:
      mapped = FERRY_TRANSFER_ERROR_NO_SPACE;
      break;
    case FERRY_TRANSFER_CLOSE_HOSTILE_OFFER:
      mapped = FERRY_TRANSFER_ERROR_HOSTILE_OFFER;
      break;
    case FERRY_TRANSFER_CLOSE_VERIFY_FAILED:
      mapped = FERRY_TRANSFER_ERROR_VERIFY_FAILED;
      break;
    case FERRY_TRANSFER_CLOSE_CHANGED_ON_SENDER:
      mapped = FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER;
      break;
    case FERRY_TRANSFER_CLOSE_PROTOCOL:
      mapped = FERRY_TRANSFER_ERROR_PROTOCOL;
      break;
    case FERRY_TRANSFER_CLOSE_IO:
      mapped = FERRY_TRANSFER_ERROR_IO;
      break;
    default:
      transfer_end (self, FERRY_TRANSFER_STATE_FAILED,
                    g_error_new (FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE,
                                 "The other side is gone (%s)",
                                 error ? error->message : "the connection was closed"), 0);
      return;
    }

  transfer_end (self, state,
                g_error_new_literal (FERRY_TRANSFER_ERROR, mapped,
                                     reason && *reason ? reason : "No reason was given"), 0);
}

/* Sender: reading files */

typedef struct
{
  GFile             *file;
  GFileInputStream  *stream;
  guint64            offset;
  guint64            size;
  gint64             mtime;
  FerryFileDigest   *digest;
  char              *name;
} ReadJob;

static void
read_job_free (gpointer data)
{
  ReadJob *job = data;

  g_clear_object (&job->file);
  g_clear_object (&job->stream);
  g_clear_pointer (&job->digest, ferry_file_digest_unref);
  g_free (job->name);
  g_free (job);
}

static gboolean
changed_error (GError     **error,
               const char  *name)
{
  g_set_error (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER,
               "“%s” changed while it was being sent", name);
  return FALSE;
}

/* In a thread: the next block of the file, checked against the hashes
 * taken when the offer was made.
 */
static GBytes *
read_block (ReadJob       *job,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autofree guint8 *buffer = NULL;
  guint64 want = MIN ((guint64) FERRY_BLOCK_SIZE, job->size - job->offset);
  gsize got = 0;

  if (job->stream == NULL)
    {
      g_autoptr(GFileInfo) info = NULL;
      g_autoptr(GError) local_error = NULL;

      job->stream = g_file_read (job->file, cancellable, &local_error);
      if (job->stream == NULL)
        {
          g_set_error (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_IO,
                       "Could not read “%s”: %s", job->name, local_error->message);
          return NULL;
        }
      info = g_file_input_stream_query_info (job->stream, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                             G_FILE_ATTRIBUTE_TIME_MODIFIED, cancellable, NULL);
      if (info != NULL
          && ((guint64) g_file_info_get_size (info) != job->size
              || (gint64) g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED)
                 != job->mtime))
        {
          changed_error (error, job->name);
          return NULL;
        }
      if (job->offset > 0
          && !g_seekable_seek (G_SEEKABLE (job->stream), (goffset) job->offset, G_SEEK_SET,
                               cancellable, &local_error))
        {
          g_set_error (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_IO,
                       "Could not read “%s”: %s", job->name, local_error->message);
          return NULL;
        }
    }

  buffer = g_malloc (MAX (want, 1));
  if (!g_input_stream_read_all (G_INPUT_STREAM (job->stream), buffer, want, &got,
                                cancellable, NULL))
    {
      g_set_error (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_IO,
                   "Could not read “%s”", job->name);
      return NULL;
    }
  if (got != want)
    {
      changed_error (error, job->name);
      return NULL;
    }

  if (job->digest != NULL)
    {
      guint index = (guint) (job->offset / FERRY_BLOCK_SIZE);
      guint8 hash[FERRY_HASH_SIZE];

      crypto_generichash (hash, sizeof hash, buffer, want, NULL, 0);
      if (index >= ferry_file_digest_get_n_blocks (job->digest)
          || memcmp (hash, ferry_file_digest_get_block_hash (job->digest, index),
                     FERRY_HASH_SIZE) != 0)
        {
          changed_error (error, job->name);
          return NULL;
        }
    }

  /* At the end, the file must end too. */
  if (job->offset + want == job->size)
    {
      guint8 extra;
      gsize n = 0;

      if (g_input_stream_read_all (G_INPUT_STREAM (job->stream), &extra, 1, &n, cancellable,
                                   NULL)
          && n > 0)
        {
          changed_error (error, job->name);
          return NULL;
        }
    }

  return g_bytes_new_take (g_steal_pointer (&buffer), want);
}

static void
read_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GBytes *bytes = read_block (task_data, cancellable, &error);

  if (bytes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
}

static void
read_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  FerryTransfer *self = FERRY_TRANSFER (object);
  Outgoing *out = user_data;
  ReadJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  GBytes *bytes = g_task_propagate_pointer (G_TASK (result), &error);

  self->n_workers--;
  out->reading = FALSE;
  out->stream = g_steal_pointer (&job->stream);

  if (self->ended)
    {
      g_clear_pointer (&bytes, g_bytes_unref);
      g_hash_table_remove (self->outgoing, &out->stream_id);
      maybe_complete (self);
      return;
    }

  if (bytes == NULL)
    {
      FerryTransferCloseCode code =
        g_error_matches (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER)
        ? FERRY_TRANSFER_CLOSE_CHANGED_ON_SENDER : FERRY_TRANSFER_CLOSE_IO;

      transfer_end (self, FERRY_TRANSFER_STATE_FAILED, g_steal_pointer (&error), code);
      return;
    }

  out->offset += g_bytes_get_size (bytes);
  out->pending = bytes;
  outgoing_pump (out);
}

static void
outgoing_read (Outgoing *out)
{
  FerryTransfer *self = out->self;
  g_autoptr(GTask) task = NULL;
  ReadJob *job;

  g_assert (!out->reading && out->pending == NULL);

  job = g_new0 (ReadJob, 1);
  job->file = g_object_ref (ferry_offer_entry_get_local_file (out->entry));
  job->stream = g_steal_pointer (&out->stream);
  job->offset = out->offset;
  job->size = ferry_offer_entry_get_size (out->entry);
  job->mtime = ferry_offer_entry_get_mtime (out->entry);
  if (ferry_offer_entry_get_digest (out->entry) != NULL)
    job->digest = ferry_file_digest_ref (ferry_offer_entry_get_digest (out->entry));
  job->name = ferry_offer_escape_name (ferry_offer_entry_get_path (out->entry), -1);

  out->reading = TRUE;
  self->n_workers++;
  task = g_task_new (self, NULL, read_done_cb, out);
  g_task_set_source_tag (task, outgoing_read);
  g_task_set_task_data (task, job, read_job_free);
  g_task_run_in_thread (task, read_thread);
}

static void
outgoing_pump (Outgoing *out)
{
  FerryTransfer *self = out->self;
  guint64 size = ferry_offer_entry_get_size (out->entry);

  while (out->pending != NULL && !self->ended
         && ferry_quic_connection_stream_is_writable (self->quic, out->stream_id))
    {
      g_autoptr(GBytes) chunk = g_steal_pointer (&out->pending);
      g_autoptr(GError) error = NULL;
      gsize len = g_bytes_get_size (chunk);
      gboolean fin = out->offset == size;

      if (!ferry_quic_connection_stream_write (self->quic, out->stream_id, chunk, fin, &error))
        {
          fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
          return;
        }
      self->bytes_on_wire += len;
      self->bytes_done += len;

      if (fin)
        {
          self->n_active--;
          g_hash_table_remove (self->outgoing, &out->stream_id);
          sender_pump_files (self);
          return;
        }
      outgoing_read (out);
    }
}

static void
on_stream_writable (FerryQuicConnection *quic,
                    gint64               stream_id,
                    FerryTransfer       *self)
{
  Outgoing *out;

  if (self->ended || self->outgoing == NULL)
    return;
  out = g_hash_table_lookup (self->outgoing, &stream_id);
  if (out != NULL)
    outgoing_pump (out);
}

static void
on_streams_available (FerryQuicConnection *quic,
                      FerryTransfer       *self)
{
  if (self->is_sender && !self->ended && self->state == FERRY_TRANSFER_STATE_TRANSFERRING)
    sender_pump_files (self);
}

/* Starts files while fewer than FERRY_TRANSFER_FILES_IN_FLIGHT are being sent. */
static void
sender_pump_files (FerryTransfer *self)
{
  guint n = ferry_offer_get_n_entries (self->offer);

  while (!self->ended && self->n_active < FERRY_TRANSFER_FILES_IN_FLIGHT && self->next_file < n)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (self->offer, self->next_file);
      guint64 size = ferry_offer_entry_get_size (entry);
      guint8 header[FERRY_TRANSFER_FILE_HEADER_SIZE];
      guint32 be_index;
      guint64 be_offset;
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      gint64 stream_id;
      Outgoing *out;

      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE
          || self->skip[self->next_file])
        {
          self->next_file++;
          continue;
        }

      stream_id = ferry_quic_connection_open_stream (self->quic, &error);
      if (stream_id < 0)
        {
          if (g_error_matches (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_STREAM_LIMIT))
            return;   /* wait for "streams-available" */
          fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
          return;
        }

      be_index = GUINT32_TO_BE (self->next_file);
      be_offset = GUINT64_TO_BE (self->start_offsets[self->next_file]);
      memcpy (header, &be_index, 4);
      memcpy (header + 4, &be_offset, 8);
      bytes = g_bytes_new (header, sizeof header);

      set_current_file (self, ferry_offer_entry_get_path (entry));

      if (!ferry_quic_connection_stream_write (self->quic, stream_id, bytes,
                                               self->start_offsets[self->next_file] == size,
                                               &error))
        {
          fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
          return;
        }

      if (self->start_offsets[self->next_file] < size)
        {
          out = g_new0 (Outgoing, 1);
          out->self = self;
          out->entry = entry;
          out->stream_id = stream_id;
          out->offset = self->start_offsets[self->next_file];
          g_hash_table_insert (self->outgoing, &out->stream_id, out);
          self->n_active++;
          outgoing_read (out);
        }
      self->next_file++;
    }

  if (!self->ended && self->next_file >= n && self->n_active == 0)
    set_state (self, FERRY_TRANSFER_STATE_VERIFYING);
}

static gboolean
sender_handle_accept (FerryTransfer *self,
                      const char    *json,
                      gsize          len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *resume = NULL;
  JsonArray *skip = NULL;
  guint n = ferry_offer_get_n_entries (self->offer);

  if (!json_parser_load_from_data (parser, json, (gssize) len, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  root = json_node_get_object (json_parser_get_root (parser));

  if (json_object_has_member (root, "resume"))
    {
      JsonNode *node = json_object_get_member (root, "resume");

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return FALSE;
      resume = json_node_get_array (node);
    }
  if (json_object_has_member (root, "skip"))
    {
      JsonNode *node = json_object_get_member (root, "skip");

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return FALSE;
      skip = json_node_get_array (node);
    }

  for (guint i = 0; skip != NULL && i < json_array_get_length (skip); i++)
    {
      JsonNode *node = json_array_get_element (skip, i);
      gint64 index;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
      index = json_node_get_int (node);
      if (index < 0 || index >= n || self->skip[index]
          || ferry_offer_entry_get_kind (ferry_offer_get_entry (self->offer, (guint) index))
             != FERRY_OFFER_ENTRY_FILE)
        return FALSE;

      /* The receiver says it has the file; that costs us nothing to believe
       * since only it could be harmed by lying.
       */
      self->skip[index] = TRUE;
      self->bytes_resumed += ferry_offer_entry_get_size (
        ferry_offer_get_entry (self->offer, (guint) index));
      self->n_files_done++;
    }

  for (guint i = 0; resume != NULL && i < json_array_get_length (resume); i++)
    {
      JsonNode *node = json_array_get_element (resume, i);
      JsonObject *object;
      JsonArray *blocks;
      const FerryOfferEntry *entry;
      FerryFileDigest *digest;
      gint64 index;
      guint confirmed = 0;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return FALSE;
      object = json_node_get_object (node);
      if (!json_object_has_member (object, "index") || !json_object_has_member (object, "blocks")
          || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "blocks")))
        return FALSE;
      node = json_object_get_member (object, "index");
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
      index = json_node_get_int (node);
      if (index < 0 || index >= n || self->skip[index])
        return FALSE;
      entry = ferry_offer_get_entry (self->offer, (guint) index);
      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE)
        return FALSE;
      digest = ferry_offer_entry_get_digest (entry);
      blocks = json_object_get_array_member (object, "blocks");

      /* Start at the first block we cannot confirm. */
      for (guint b = 0; digest != NULL && b < json_array_get_length (blocks); b++)
        {
          JsonNode *element = json_array_get_element (blocks, b);
          const char *hex = NULL;
          guint8 hash[FERRY_HASH_SIZE];

          if (JSON_NODE_HOLDS_VALUE (element)
              && json_node_get_value_type (element) == G_TYPE_STRING)
            hex = json_node_get_string (element);
          if (hex == NULL || !ferry_hash_from_hex (hex, hash)
              || b >= ferry_file_digest_get_n_blocks (digest)
              || memcmp (hash, ferry_file_digest_get_block_hash (digest, b), FERRY_HASH_SIZE) != 0)
            break;
          confirmed++;
        }

      self->start_offsets[index] = MIN ((guint64) confirmed * FERRY_BLOCK_SIZE,
                                        ferry_offer_entry_get_size (entry));
      self->bytes_resumed += self->start_offsets[index];
    }

  self->bytes_done = self->bytes_resumed;
  return TRUE;
}

/* Receiver: accepting */

typedef struct
{
  FerryOffer          *offer;
  GFile               *folder;
  FerryStoreTransfer  *store_transfer;    /* unowned, read only */
} PrepareJob;

static void
prepare_job_free (gpointer data)
{
  PrepareJob *job = data;

  g_clear_object (&job->folder);
  g_clear_object (&job->offer);
  g_free (job);
}

static void
prepare_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  PrepareJob *job = task_data;
  GError *error = NULL;
  FerryReceivePlan *plan;

  plan = ferry_receive_plan_new (job->offer, job->folder, job->store_transfer, cancellable,
                                 &error);
  if (plan == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, plan, (GDestroyNotify) ferry_receive_plan_free);
}

static void receiver_check_all_done (FerryTransfer *self);
static void record_path (FerryTransfer *self);

static char *
build_accept (FerryReceivePlan *plan,
              gsize            *len)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  guint n = ferry_offer_get_n_entries (plan->offer);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "resume");
  json_builder_begin_array (builder);
  for (guint i = 0; i < plan->resume->len; i++)
    {
      FerryReceivePlanResume *point = &g_array_index (plan->resume, FerryReceivePlanResume, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "index");
      json_builder_add_int_value (builder, point->index);
      json_builder_set_member_name (builder, "blocks");
      json_builder_begin_array (builder);
      for (guint b = 0; b < point->hashes->len; b++)
        json_builder_add_string_value (builder, g_ptr_array_index (point->hashes, b));
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "skip");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++)
    if (plan->skip[i])
      json_builder_add_int_value (builder, i);
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, len);
}

static void
prepare_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  FerryTransfer *self = FERRY_TRANSFER (object);
  g_autoptr(FerryReceivePlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *accept = NULL;
  guint n = ferry_offer_get_n_entries (self->offer);
  gsize len;

  self->n_workers--;

  /* A plan that is not used lets go of the target folder now, not whenever
   * the task is freed. */
  plan = g_task_propagate_pointer (G_TASK (result), &error);
  if (plan == NULL)
    {
      if (!self->ended)
        fail_from_receive_error (self, error);
      maybe_complete (self);
      return;
    }
  if (self->ended)
    {
      g_clear_pointer (&plan, ferry_receive_plan_free);
      maybe_complete (self);
      return;
    }

  accept = build_accept (plan, &len);
  self->started = g_memdup2 (plan->skip, n);   /* skipped files count as started */
  self->bytes_resumed = plan->resumed;
  for (guint i = 0; i < n; i++)
    {
      if (self->started[i])
        self->n_files_done++;
      else
        self->bytes_resumed += plan->resume_offsets[i];
    }
  self->bytes_done = self->bytes_resumed;

  if (self->store != NULL && self->store_transfer != NULL)
    ferry_receive_plan_remember (plan, self->store, self->store_transfer);
  self->plan = g_steal_pointer (&plan);

  control_send (self, FERRY_TRANSFER_FRAME_ACCEPT, accept, len);
  set_state (self, FERRY_TRANSFER_STATE_TRANSFERRING);
  start_progress (self);
  receiver_check_all_done (self);
}

static void
receiver_prepare (FerryTransfer *self)
{
  g_autoptr(GTask) task = NULL;
  PrepareJob *job = g_new0 (PrepareJob, 1);

  job->offer = g_object_ref (self->offer);
  job->folder = g_object_ref (self->target_folder);
  job->store_transfer = self->store_transfer;

  self->n_workers++;
  task = g_task_new (self, NULL, prepare_done_cb, NULL);
  g_task_set_source_tag (task, receiver_prepare);
  g_task_set_task_data (task, job, prepare_job_free);
  g_task_run_in_thread (task, prepare_thread);
}

static void
begin_receive_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(FerryTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  FerryStoreTransfer *transfer;

  self->n_workers--;
  transfer = ferry_store_begin_transfer_finish (FERRY_STORE (object), result, &error);
  if (transfer == NULL)
    {
      /* Without the database the transfer still works, just not resumably. */
      g_debug ("Could not record the transfer: %s", error->message);
    }
  else
    {
      guint n = ferry_offer_get_n_entries (self->offer);

      self->store_transfer = transfer;
      self->store_transfer_id = transfer->id;
      record_path (self);
      self->store_file_ids = g_new0 (gint64, n);
      for (guint i = 0; i < n; i++)
        {
          FerryStoreFile *stored = ferry_store_transfer_find_file (
            transfer, ferry_offer_entry_get_path (ferry_offer_get_entry (self->offer, i)));

          self->store_file_ids[i] = stored ? stored->id : 0;
        }
    }

  if (self->ended)
    {
      maybe_complete (self);
      return;
    }
  receiver_prepare (self);
}

/* Receiver: files arriving */

typedef struct
{
  FerryReceiveTarget    *target;
  const FerryOfferEntry *entry;
  const char            *local_path;
  guint64                start;
  FerryReceiveFile      *file;
  GQueue                 chunks;
  gboolean               finish;
  gboolean               verified_bad;
  guint64                written;
  guint64                consumed;
  char                  *final_path;
} WriteJob;

static void
write_job_free (gpointer data)
{
  WriteJob *job = data;

  g_clear_object (&job->target);
  g_clear_pointer (&job->file, ferry_receive_file_free);
  g_queue_clear_full (&job->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (job->final_path);
  g_free (job);
}

static void
write_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  WriteJob *job = task_data;
  GError *error = NULL;
  guint blocks_before;
  guint64 offset_before;

  if (job->file == NULL)
    {
      job->file = ferry_receive_target_open_file (job->target, job->entry, job->local_path,
                                                  job->start, cancellable, &error);
      if (job->file == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
    }

  blocks_before = ferry_receive_file_get_n_complete_blocks (job->file);
  offset_before = ferry_receive_file_get_offset (job->file);

  while (job->chunks.head != NULL)
    {
      g_autoptr(GBytes) chunk = g_queue_pop_head (&job->chunks);
      gsize len;
      const guint8 *data = g_bytes_get_data (chunk, &len);

      job->consumed += len;
      if (!ferry_receive_file_write (job->file, data, len, &error))
        {
          job->written = ferry_receive_file_get_offset (job->file) - offset_before;
          /* Whatever whole blocks made it are still worth keeping. */
          (void) ferry_receive_file_sync (job->file, NULL);
          g_task_return_error (task, error);
          return;
        }
    }
  job->written = ferry_receive_file_get_offset (job->file) - offset_before;

  /* New whole blocks are made durable before the store records them. */
  if (ferry_receive_file_get_n_complete_blocks (job->file) > blocks_before
      && !ferry_receive_file_sync (job->file, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (job->finish)
    {
      job->final_path = ferry_receive_file_finish (job->file, &error);
      if (job->final_path == NULL)
        {
          /* Bytes that are not what was offered: nothing proves which of
           * them are sound, so none are kept for resuming.
           */
          if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_HASH_MISMATCH)
              || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_SIZE_MISMATCH))
            {
              job->verified_bad = TRUE;
              (void) ferry_receive_file_discard (job->file, NULL);
            }
          g_task_return_error (task, error);
          return;
        }
    }

  g_task_return_boolean (task, TRUE);
}

static void
incoming_record_blocks (Incoming *in)
{
  FerryTransfer *self = in->self;
  gint64 file_id = self->store_file_ids ? self->store_file_ids[in->index] : 0;
  guint n;

  if (in->file == NULL)
    return;
  n = ferry_receive_file_get_n_complete_blocks (in->file);
  for (; in->n_recorded < n; in->n_recorded++)
    if (self->store != NULL && file_id != 0)
      ferry_store_add_verified_block (self->store, file_id, in->n_recorded,
                                      ferry_receive_file_get_block_hash (in->file,
                                                                         in->n_recorded));
}

static void
receiver_check_all_done (FerryTransfer *self)
{
  if (self->ended || self->sent_all_verified || self->n_files_done < self->n_files)
    return;

  control_send (self, FERRY_TRANSFER_FRAME_ALL_VERIFIED, NULL, 0);
  self->sent_all_verified = TRUE;
  set_state (self, FERRY_TRANSFER_STATE_VERIFYING);
  if (self->control_fin_seen)
    {
      control_end (self);
      transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
    }
}

static void
write_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  FerryTransfer *self = FERRY_TRANSFER (object);
  Incoming *in = user_data;
  WriteJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);
  gint64 file_id = self->store_file_ids ? self->store_file_ids[in->index] : 0;

  self->n_workers--;
  in->busy = FALSE;
  in->file = g_steal_pointer (&job->file);

  self->bytes_on_wire += job->written;
  self->bytes_done += job->written;
  if (job->consumed > 0)
    ferry_quic_connection_stream_consume (self->quic, in->stream_id, job->consumed);

  if (job->verified_bad)
    {
      g_clear_pointer (&in->file, ferry_receive_file_free);
      if (self->store != NULL && file_id != 0)
        ferry_store_discard_blocks_async (self->store, file_id, NULL, NULL, NULL);
    }
  else
    {
      incoming_record_blocks (in);
    }

  if (self->ended)
    {
      if (in->file != NULL && in->queue.head != NULL && self->draining)
        incoming_schedule (in);
      else
        g_hash_table_remove (self->incoming, &in->stream_id);
      maybe_complete (self);
      return;
    }

  if (!ok)
    {
      fail_from_receive_error (self, error);
      return;
    }

  if (job->final_path != NULL)
    {
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
      g_autofree char *done = NULL;

      in->finished = TRUE;
      if (self->store != NULL && file_id != 0)
        ferry_store_set_file_state_async (self->store, file_id, FERRY_STORE_FILE_COMPLETE,
                                          job->final_path, NULL, NULL, NULL);
      /* Our half of the stream ends; the stream is released. */
      (void) ferry_quic_connection_stream_write (self->quic, in->stream_id, empty, TRUE, NULL);
      done = g_strdup_printf ("{\"index\":%u}", in->index);
      control_send (self, FERRY_TRANSFER_FRAME_FILE_DONE, done, strlen (done));
      self->n_files_done++;
      g_hash_table_remove (self->incoming, &in->stream_id);
      receiver_check_all_done (self);
      return;
    }

  incoming_schedule (in);
}

/* Hands the queued chunks (and the end, once it came) to a writer thread,
 * one batch at a time per file.
 */
static void
incoming_schedule (Incoming *in)
{
  FerryTransfer *self = in->self;
  g_autoptr(GTask) task = NULL;
  WriteJob *job;
  gsize batch = 0;

  if (in->busy || in->finished)
    return;
  if (in->queue.head == NULL && !(in->fin_seen && !self->ended) && in->file != NULL)
    return;
  if (self->ended && in->file == NULL)
    return;

  job = g_new0 (WriteJob, 1);
  job->target = g_object_ref (self->plan->target);
  job->entry = in->entry;
  job->local_path = in->local_path;
  job->start = in->start;
  job->file = g_steal_pointer (&in->file);
  /* Bounded batches: credit flows back and progress moves while a big
   * file is written.
   */
  g_queue_init (&job->chunks);
  while (in->queue.head != NULL && batch < WRITE_BATCH)
    {
      GBytes *chunk = g_queue_pop_head (&in->queue);

      batch += g_bytes_get_size (chunk);
      g_queue_push_tail (&job->chunks, chunk);
    }
  job->finish = in->fin_seen && !self->ended && in->queue.head == NULL;

  in->busy = TRUE;
  self->n_workers++;
  task = g_task_new (self, NULL, write_done_cb, in);
  g_task_set_source_tag (task, incoming_schedule);
  g_task_set_task_data (task, job, write_job_free);
  g_task_run_in_thread (task, write_thread);
}

static void
incoming_start (Incoming *in)
{
  FerryTransfer *self = in->self;
  guint32 be_index;
  guint64 be_offset;
  const FerryOfferEntry *entry;
  guint64 size;

  memcpy (&be_index, in->header, 4);
  memcpy (&be_offset, in->header + 4, 8);
  in->index = GUINT32_FROM_BE (be_index);
  in->start = GUINT64_FROM_BE (be_offset);

  if (in->index >= ferry_offer_get_n_entries (self->offer))
    {
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The sender sent a file it did not offer");
      return;
    }
  entry = ferry_offer_get_entry (self->offer, in->index);
  size = ferry_offer_entry_get_size (entry);
  if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE || self->started[in->index])
    {
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The sender sent a file twice or a folder as a file");
      return;
    }
  if (in->start > self->plan->resume_offsets[in->index]
      || (in->start % FERRY_BLOCK_SIZE != 0 && in->start != size))
    {
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The sender resumed a file where it could not");
      return;
    }

  self->started[in->index] = TRUE;
  in->entry = entry;
  in->local_path = ferry_receive_plan_dup_local_path (self->plan,
                                                      ferry_offer_entry_get_path (entry));
  self->bytes_resumed -= self->plan->resume_offsets[in->index] - in->start;
  self->bytes_done -= self->plan->resume_offsets[in->index] - in->start;
  in->n_recorded = (guint) (in->start / FERRY_BLOCK_SIZE);

  if (self->plan->opened[in->index] != NULL
      && in->start == self->plan->resume_offsets[in->index])
    in->file = g_steal_pointer (&self->plan->opened[in->index]);
  g_clear_pointer (&self->plan->opened[in->index], ferry_receive_file_free);

  /* The sender could not confirm all our blocks: the ones after its start
   * are dropped from the store; those before are recorded again below.
   */
  if (in->start != self->plan->resume_offsets[in->index])
    {
      gint64 file_id = self->store_file_ids ? self->store_file_ids[in->index] : 0;

      if (self->store != NULL && file_id != 0)
        ferry_store_discard_blocks_async (self->store, file_id, NULL, NULL, NULL);
      in->n_recorded = 0;
    }

  set_current_file (self, ferry_offer_entry_get_path (entry));
  incoming_schedule (in);
}

static void
receiver_file_data (FerryTransfer *self,
                    gint64         stream_id,
                    const guint8  *data,
                    gsize          len,
                    gboolean       fin)
{
  Incoming *in = g_hash_table_lookup (self->incoming, &stream_id);

  if (self->state != FERRY_TRANSFER_STATE_TRANSFERRING
      && self->state != FERRY_TRANSFER_STATE_VERIFYING)
    {
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The sender sent file data before the offer was accepted");
      return;
    }

  if (in == NULL)
    {
      in = g_new0 (Incoming, 1);
      in->self = self;
      in->stream_id = stream_id;
      g_queue_init (&in->queue);
      g_hash_table_insert (self->incoming, &in->stream_id, in);
    }
  if (in->finished || in->fin_seen)
    return;

  if (in->header_len < FERRY_TRANSFER_FILE_HEADER_SIZE)
    {
      gsize take = MIN (len, FERRY_TRANSFER_FILE_HEADER_SIZE - in->header_len);

      memcpy (in->header + in->header_len, data, take);
      in->header_len += take;
      data += take;
      len -= take;
      ferry_quic_connection_stream_consume (self->quic, stream_id, take);
      if (in->header_len < FERRY_TRANSFER_FILE_HEADER_SIZE)
        {
          if (fin)
            fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                  "The sender ended a file stream before its header");
          return;
        }
      if (len > 0)
        g_queue_push_tail (&in->queue, g_bytes_new (data, len));
      in->fin_seen = fin;
      incoming_start (in);
      return;
    }

  if (len > 0)
    g_queue_push_tail (&in->queue, g_bytes_new (data, len));
  in->fin_seen = fin;
  incoming_schedule (in);
}

/* Control frames */

static void
receiver_handle_offer (FerryTransfer *self,
                       const guint8  *payload,
                       gsize          len)
{
  g_autoptr(GError) error = NULL;
  FerryOffer *offer;

  if (self->offer != NULL)
    {
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The sender made a second offer");
      return;
    }

  offer = ferry_offer_new_from_json ((const char *) payload, len, &self->limits, &error);
  if (offer == NULL)
    {
      fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER, FERRY_TRANSFER_CLOSE_HOSTILE_OFFER,
            "%s", error->message);
      return;
    }

  self->offer = offer;
  self->n_files = ferry_offer_get_n_files (offer);
  self->bytes_total = ferry_offer_get_total_size (offer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TOTAL]);
  set_state (self, FERRY_TRANSFER_STATE_OFFER_RECEIVED);
  g_signal_emit (self, signals[SIGNAL_OFFER_RECEIVED], 0, offer);
}

static void
handle_frame (FerryTransfer *self,
              guint8         kind,
              const guint8  *payload,
              gsize          len)
{
  if (!self->is_sender)
    {
      if (kind == FERRY_TRANSFER_FRAME_OFFER)
        receiver_handle_offer (self, payload, len);
      else
        fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
              "The sender sent an unknown message");
      return;
    }

  switch (kind)
    {
    case FERRY_TRANSFER_FRAME_ACCEPT:
      if (self->state != FERRY_TRANSFER_STATE_OFFERING
          || !sender_handle_accept (self, (const char *) payload, len))
        {
          fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                "The receiver’s answer to the offer is not understood");
          return;
        }
      set_state (self, FERRY_TRANSFER_STATE_TRANSFERRING);
      start_progress (self);
      sender_pump_files (self);
      break;

    case FERRY_TRANSFER_FRAME_FILE_DONE:
      self->n_files_done++;
      break;

    case FERRY_TRANSFER_FRAME_ALL_VERIFIED:
      if (self->next_file < ferry_offer_get_n_entries (self->offer) || self->n_active > 0
          || self->n_files_done != self->n_files)
        {
          fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                "The receiver claims files it was not sent");
          return;
        }
      control_end (self);
      transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
      break;

    default:
      fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
            "The receiver sent an unknown message");
      break;
    }
}

static void
control_data (FerryTransfer *self,
              const guint8  *data,
              gsize          len,
              gboolean       fin)
{
  g_byte_array_append (self->control_in, data, len);
  ferry_quic_connection_stream_consume (self->quic, self->control_id, len);

  if (!self->is_sender && !self->preamble_seen)
    {
      guint32 version;

      if (self->control_in->len < FERRY_TRANSFER_PREAMBLE_SIZE)
        goto check_fin;
      if (memcmp (self->control_in->data, FERRY_TRANSFER_PREAMBLE, 8) != 0)
        {
          fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                "The other side does not speak Ferry’s transfer protocol");
          return;
        }
      memcpy (&version, self->control_in->data + 8, 4);
      if (GUINT32_FROM_BE (version) != FERRY_TRANSFER_PROTOCOL_VERSION)
        {
          fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                "The other side uses transfer protocol version %u; this Ferry speaks %u",
                GUINT32_FROM_BE (version), FERRY_TRANSFER_PROTOCOL_VERSION);
          return;
        }
      self->preamble_seen = TRUE;
      g_byte_array_remove_range (self->control_in, 0, FERRY_TRANSFER_PREAMBLE_SIZE);
    }

  while (!self->ended && self->control_in->len >= 5)
    {
      guint32 be_len;
      gsize frame_len;
      guint8 kind = self->control_in->data[4];

      memcpy (&be_len, self->control_in->data, 4);
      frame_len = GUINT32_FROM_BE (be_len);
      if (frame_len > FERRY_TRANSFER_MAX_FRAME
          || (kind == FERRY_TRANSFER_FRAME_OFFER && frame_len > self->limits.max_json_size))
        {
          if (!self->is_sender && kind == FERRY_TRANSFER_FRAME_OFFER)
            fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER, FERRY_TRANSFER_CLOSE_HOSTILE_OFFER,
                  "The offer is larger than the %" G_GSIZE_FORMAT " bytes allowed",
                  self->limits.max_json_size);
          else
            fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                  "A message from the other side is too large");
          return;
        }
      if (self->control_in->len < 5 + frame_len)
        break;

      handle_frame (self, kind, self->control_in->data + 5, frame_len);
      if (self->control_in != NULL)
        g_byte_array_remove_range (self->control_in, 0, (guint) (5 + frame_len));
    }

check_fin:
  if (!fin || self->ended)
    return;

  self->control_fin_seen = TRUE;
  if (self->is_sender)
    fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
          "The receiver ended the conversation early");
  else if (self->sent_all_verified)
    {
      control_end (self);
      transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
    }
  else
    fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
          "The sender ended the conversation early");
}

static void
on_stream_data (FerryQuicConnection *quic,
                gint64               stream_id,
                gconstpointer        data,
                guint64              len,
                gboolean             fin,
                FerryTransfer       *self)
{
  g_autoptr(FerryTransfer) hold = NULL;

  if (self->ended)
    return;

  /* A handler of "offer-received" may drop its reference. */
  hold = g_object_ref (self);

  if (!self->is_sender && self->control_id < 0)
    {
      /* The sender's first stream is the control stream. */
      gint64 expected = ferry_quic_connection_get_role (quic) == FERRY_QUIC_ROLE_SERVER ? 0 : 1;

      if (stream_id != expected)
        {
          fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                "The sender did not start with an offer");
          return;
        }
      self->control_id = stream_id;
    }

  if (stream_id == self->control_id)
    {
      control_data (self, data, (gsize) len, fin);
      return;
    }

  if (self->is_sender)
    {
      /* The receiver only ends its half of a file stream, with no data. */
      if (len > 0)
        fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
              "The receiver sent data on a file stream");
      return;
    }

  receiver_file_data (self, stream_id, data, (gsize) len, fin);
}

/* GObject */

static void
ferry_transfer_dispose (GObject *object)
{
  FerryTransfer *self = FERRY_TRANSFER (object);

  if (self->quic != NULL)
    g_signal_handlers_disconnect_by_data (self->quic, self);
  stop_progress (self);

  G_OBJECT_CLASS (ferry_transfer_parent_class)->dispose (object);
}

static void
ferry_transfer_finalize (GObject *object)
{
  FerryTransfer *self = FERRY_TRANSFER (object);

  g_clear_pointer (&self->outgoing, g_hash_table_unref);
  g_clear_pointer (&self->incoming, g_hash_table_unref);
  g_clear_object (&self->quic);
  g_clear_object (&self->store);
  g_clear_object (&self->default_folder);
  g_clear_object (&self->target_folder);
  g_clear_error (&self->error);
  g_clear_pointer (&self->control_in, g_byte_array_unref);
  g_clear_pointer (&self->store_transfer, ferry_store_transfer_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->current_file);
  g_free (self->path_kind);
  g_free (self->path_relay);
  g_free (self->notified_current);
  g_free (self->start_offsets);
  g_free (self->skip);
  g_free (self->started);
  g_free (self->store_file_ids);
  g_clear_pointer (&self->plan, ferry_receive_plan_free);
  g_clear_object (&self->offer);

  G_OBJECT_CLASS (ferry_transfer_parent_class)->finalize (object);
}

static void
ferry_transfer_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  FerryTransfer *self = FERRY_TRANSFER (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_IS_SENDER:
      g_value_set_boolean (value, self->is_sender);
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_uint64 (value, self->bytes_total);
      break;
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, self->bytes_done);
      break;
    case PROP_BYTES_RESUMED:
      g_value_set_uint64 (value, self->bytes_resumed);
      break;
    case PROP_BYTES_SENT_ON_WIRE:
      g_value_set_uint64 (value, self->bytes_on_wire);
      break;
    case PROP_RATE:
      g_value_set_uint64 (value, self->rate);
      break;
    case PROP_ETA_SECONDS:
      g_value_set_int64 (value, self->eta_seconds);
      break;
    case PROP_CURRENT_FILE:
      g_value_set_string (value, self->current_file);
      break;
    case PROP_N_FILES_DONE:
      g_value_set_uint (value, self->n_files_done);
      break;
    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_transfer_class_init (FerryTransferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = ferry_transfer_dispose;
  object_class->finalize = ferry_transfer_finalize;
  object_class->get_property = ferry_transfer_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, FERRY_TYPE_TRANSFER_STATE,
                       FERRY_TRANSFER_STATE_NEW, flags);
  properties[PROP_IS_SENDER] =
    g_param_spec_boolean ("is-sender", NULL, NULL, FALSE, flags);
  properties[PROP_BYTES_TOTAL] =
    g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_DONE] =
    g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_BYTES_RESUMED] =
    g_param_spec_uint64 ("bytes-resumed", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  /**
   * FerryTransfer:bytes-sent-on-wire:
   *
   * File bytes this side actually sent (sender) or received and wrote
   * (receiver) on file streams in this run; resumed bytes do not count.
   */
  properties[PROP_BYTES_SENT_ON_WIRE] =
    g_param_spec_uint64 ("bytes-sent-on-wire", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_RATE] =
    g_param_spec_uint64 ("rate", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_ETA_SECONDS] =
    g_param_spec_int64 ("eta-seconds", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_CURRENT_FILE] =
    g_param_spec_string ("current-file", NULL, NULL, NULL, flags);
  properties[PROP_N_FILES_DONE] =
    g_param_spec_uint ("n-files-done", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FerryTransfer::offer-received:
   * @offer: the validated offer
   *
   * On the receiver: show @offer, then call ferry_transfer_accept() or
   * ferry_transfer_decline().
   */
  signals[SIGNAL_OFFER_RECEIVED] =
    g_signal_new ("offer-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, FERRY_TYPE_OFFER);
}

static void
ferry_transfer_init (FerryTransfer *self)
{
  self->control_id = -1;
  self->eta_seconds = -1;
  self->control_in = g_byte_array_new ();
  self->context = g_main_context_ref_thread_default ();
  ferry_offer_limits_init_default (&self->limits);
}

static FerryTransfer *
transfer_new (FerryQuicConnection *quic,
              FerryStore          *store,
              gboolean             is_sender)
{
  FerryTransfer *self = g_object_new (FERRY_TYPE_TRANSFER, NULL);

  self->quic = g_object_ref (quic);
  self->store = store ? g_object_ref (store) : NULL;
  self->is_sender = is_sender;

  g_signal_connect (quic, "stream-data", G_CALLBACK (on_stream_data), self);
  g_signal_connect (quic, "stream-writable", G_CALLBACK (on_stream_writable), self);
  g_signal_connect (quic, "streams-available", G_CALLBACK (on_streams_available), self);
  g_signal_connect (quic, "closed", G_CALLBACK (on_closed), self);

  return self;
}

/**
 * ferry_transfer_new_sender:
 * @quic: an open, verified connection
 * @offer: an offer made from local files (ferry_offer_new_from_files_async())
 * @store: (nullable): where the history is recorded
 *
 * Returns: (transfer full): a transfer that sends @offer once run
 */
FerryTransfer *
ferry_transfer_new_sender (FerryQuicConnection *quic,
                           FerryOffer          *offer,
                           FerryStore          *store)
{
  FerryTransfer *self;
  guint n;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (quic), NULL);
  g_return_val_if_fail (FERRY_IS_OFFER (offer), NULL);
  g_return_val_if_fail (store == NULL || FERRY_IS_STORE (store), NULL);

  self = transfer_new (quic, store, TRUE);
  self->offer = g_object_ref (offer);
  n = ferry_offer_get_n_entries (offer);
  self->n_files = ferry_offer_get_n_files (offer);
  self->bytes_total = ferry_offer_get_total_size (offer);
  self->start_offsets = g_new0 (guint64, n);
  self->skip = g_new0 (guint8, n);
  self->outgoing = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, outgoing_free);

  /* Keep a few MiB per stream in flight, not a whole file. */
  ferry_quic_connection_set_stream_send_buffer (quic, STREAM_SEND_BUFFER);

  return self;
}

/**
 * ferry_transfer_new_receiver:
 * @quic: an open, verified connection
 * @store: (nullable): where verified blocks and history are recorded;
 *   without it nothing can be resumed
 * @default_target_folder: where files land unless ferry_transfer_accept()
 *   names another folder
 *
 * Returns: (transfer full): a transfer that waits for an offer once run
 */
FerryTransfer *
ferry_transfer_new_receiver (FerryQuicConnection *quic,
                             FerryStore          *store,
                             GFile               *default_target_folder)
{
  FerryTransfer *self;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (quic), NULL);
  g_return_val_if_fail (store == NULL || FERRY_IS_STORE (store), NULL);
  g_return_val_if_fail (G_IS_FILE (default_target_folder), NULL);

  self = transfer_new (quic, store, FALSE);
  self->default_folder = g_object_ref (default_target_folder);
  self->incoming = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, incoming_free);

  return self;
}

/**
 * ferry_transfer_set_offer_limits:
 *
 * Sets the limits a received offer is validated with (default:
 * ferry_offer_limits_init_default()). Call before running.
 */
void
ferry_transfer_set_offer_limits (FerryTransfer          *self,
                                 const FerryOfferLimits *limits)
{
  g_return_if_fail (FERRY_IS_TRANSFER (self));
  g_return_if_fail (limits != NULL);

  self->limits = *limits;
}

static void
begin_send_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(FerryTransfer) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryStoreTransfer) transfer = NULL;

  self->n_workers--;
  transfer = ferry_store_begin_transfer_finish (FERRY_STORE (object), result, &error);
  if (transfer == NULL)
    g_debug ("Could not record the transfer: %s", error->message);
  else
    self->store_transfer_id = transfer->id;
  record_path (self);
  maybe_complete (self);
}

static void
path_recorded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!ferry_store_update_finish (FERRY_STORE (object), result, &error))
    g_debug ("Could not record the path: %s", error->message);
}

/* The history shows how the bytes went; written once the transfer has its
 * row, and again when the path changes. */
static void
record_path (FerryTransfer *self)
{
  if (self->store == NULL || self->store_transfer_id == 0 || self->path_kind == NULL)
    return;

  ferry_store_set_path_async (self->store, self->store_transfer_id, self->path_kind,
                              self->path_relay, NULL, path_recorded_cb, NULL);
}

/**
 * ferry_transfer_set_path:
 * @kind: the path kind, as ferry_path_kind_to_string() spells it
 * @relay: (nullable): the relay server when relayed
 *
 * Tells the transfer which path it runs over, for the history.
 */
void
ferry_transfer_set_path (FerryTransfer *self,
                         const char    *kind,
                         const char    *relay)
{
  g_return_if_fail (FERRY_IS_TRANSFER (self));
  g_return_if_fail (kind != NULL);

  if (g_strcmp0 (self->path_kind, kind) == 0 && g_strcmp0 (self->path_relay, relay) == 0)
    return;

  g_free (self->path_kind);
  self->path_kind = g_strdup (kind);
  g_free (self->path_relay);
  self->path_relay = g_strdup (relay);
  record_path (self);
}

static gboolean
cancel_idle (gpointer user_data)
{
  ferry_transfer_cancel (FERRY_TRANSFER (user_data), NULL);
  return G_SOURCE_REMOVE;
}

/* May run in another thread, or inside g_cancellable_connect(): cancel
 * from the main context instead.
 */
static void
run_cancelled_cb (GCancellable  *cancellable,
                  FerryTransfer *self)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  /* Not starved by the traffic of the transfer it stops. */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, cancel_idle, g_object_ref (self), g_object_unref);
  g_source_attach (source, self->context);
}

static void
sender_start (FerryTransfer *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  guint8 preamble[FERRY_TRANSFER_PREAMBLE_SIZE];
  guint32 version = GUINT32_TO_BE (FERRY_TRANSFER_PROTOCOL_VERSION);
  g_autoptr(GBytes) bytes = NULL;
  gsize len;

  if (self->store != NULL)
    {
      self->n_workers++;
      ferry_store_begin_transfer_async (self->store, FERRY_STORE_SEND, self->offer, NULL, NULL,
                                        NULL, begin_send_cb, g_object_ref (self));
    }

  self->control_id = ferry_quic_connection_open_stream (self->quic, &error);
  if (self->control_id < 0)
    {
      fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
      return;
    }

  memcpy (preamble, FERRY_TRANSFER_PREAMBLE, 8);
  memcpy (preamble + 8, &version, 4);
  bytes = g_bytes_new (preamble, sizeof preamble);
  (void) ferry_quic_connection_stream_write (self->quic, self->control_id, bytes, FALSE, NULL);

  json = ferry_offer_to_json (self->offer, &len);
  set_state (self, FERRY_TRANSFER_STATE_OFFERING);
  control_send (self, FERRY_TRANSFER_FRAME_OFFER, json, len);
}

/**
 * ferry_transfer_run_async:
 *
 * Runs the transfer until it is done or failed. Cancelling @cancellable
 * cancels the transfer (the other side is told).
 */
void
ferry_transfer_run_async (FerryTransfer       *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_TRANSFER (self));
  g_return_if_fail (self->run_task == NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_transfer_run_async);
  self->run_task = g_object_ref (task);

  if (cancellable != NULL)
    {
      self->run_cancellable = g_object_ref (cancellable);
      self->run_cancelled_id = g_cancellable_connect (cancellable,
                                                      G_CALLBACK (run_cancelled_cb), self, NULL);
    }

  if (self->completed)
    {
      return_run (self);
      return;
    }

  if (!ferry_quic_connection_is_open (self->quic))
    {
      fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "The connection is not open");
      return;
    }

  if (self->is_sender && self->state == FERRY_TRANSFER_STATE_NEW)
    sender_start (self);
}

/**
 * ferry_transfer_run_finish:
 *
 * Returns: %TRUE once every file arrived verified, else %FALSE with @error
 *   set (FERRY_TRANSFER_ERROR, or G_IO_ERROR_CANCELLED after a local cancel)
 */
gboolean
ferry_transfer_run_finish (FerryTransfer  *self,
                           GAsyncResult   *result,
                           GError        **error)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_transfer_run_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ferry_transfer_get_offer:
 *
 * Returns: (transfer none) (nullable): the offer, on the receiver once it arrived
 */
FerryOffer *
ferry_transfer_get_offer (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), NULL);

  return self->offer;
}

/**
 * ferry_transfer_accept:
 * @target_folder: (nullable): where to put the files; %NULL for the default
 *
 * Accepts the offer. Earlier verified blocks of the same files in the same
 * folder (from the store) are resumed; the disk is checked for room first.
 */
void
ferry_transfer_accept (FerryTransfer *self,
                       GFile         *target_folder)
{
  g_return_if_fail (FERRY_IS_TRANSFER (self));
  g_return_if_fail (!self->is_sender);
  g_return_if_fail (target_folder == NULL || G_IS_FILE (target_folder));

  if (self->ended || self->state != FERRY_TRANSFER_STATE_OFFER_RECEIVED
      || self->target_folder != NULL)
    return;

  self->target_folder = g_object_ref (target_folder ? target_folder : self->default_folder);

  if (self->store != NULL)
    {
      g_autofree char *path = g_file_get_path (self->target_folder);

      self->n_workers++;
      ferry_store_begin_transfer_async (self->store, FERRY_STORE_RECEIVE, self->offer, path,
                                        NULL, NULL, begin_receive_cb, g_object_ref (self));
    }
  else
    {
      receiver_prepare (self);
    }
}

/**
 * ferry_transfer_decline:
 * @reason: (nullable): shown to the sender
 */
void
ferry_transfer_decline (FerryTransfer *self,
                        const char    *reason)
{
  g_return_if_fail (FERRY_IS_TRANSFER (self));
  g_return_if_fail (!self->is_sender);

  if (self->ended || self->state != FERRY_TRANSFER_STATE_OFFER_RECEIVED)
    return;

  transfer_end (self, FERRY_TRANSFER_STATE_DECLINED,
                g_error_new_literal (FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_DECLINED,
                                     reason ? reason : "The offer was declined"),
                FERRY_TRANSFER_CLOSE_DECLINED);
}

/**
 * ferry_transfer_cancel:
 * @reason: (nullable): shown to the other side
 *
 * Stops the transfer on both sides. Partial files stay for resuming.
 */
void
ferry_transfer_cancel (FerryTransfer *self,
                       const char    *reason)
{
  g_autofree char *safe = NULL;

  g_return_if_fail (FERRY_IS_TRANSFER (self));

  if (self->ended)
    return;

  /* The reason travels in the connection close, see transfer_end(). */
  safe = g_utf8_make_valid (reason ? reason : "The transfer was cancelled", -1);
  transfer_end (self, FERRY_TRANSFER_STATE_CANCELLED,
                g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, safe),
                FERRY_TRANSFER_CLOSE_CANCELLED);
}

FerryTransferState
ferry_transfer_get_state (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), FERRY_TRANSFER_STATE_NEW);
  return self->state;
}

gboolean
ferry_transfer_get_is_sender (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), FALSE);
  return self->is_sender;
}

guint64
ferry_transfer_get_bytes_total (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->bytes_total;
}

guint64
ferry_transfer_get_bytes_done (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->bytes_done;
}

guint64
ferry_transfer_get_bytes_resumed (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->bytes_resumed;
}

guint64
ferry_transfer_get_bytes_sent_on_wire (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->bytes_on_wire;
}

guint64
ferry_transfer_get_rate (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->rate;
}

gint64
ferry_transfer_get_eta_seconds (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), -1);
  return self->eta_seconds;
}

const char *
ferry_transfer_get_current_file (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), NULL);
  return self->current_file;
}

guint
ferry_transfer_get_n_files_done (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), 0);
  return self->n_files_done;
}

/**
 * ferry_transfer_get_error:
 *
 * Returns: (nullable) (transfer none): why the transfer failed
 */
const GError *
ferry_transfer_get_error (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), NULL);
  return self->error;
}

/**
 * ferry_transfer_get_target_folder:
 *
 * Returns: (nullable) (transfer none): the folder files land in, once accepted
 */
GFile *
ferry_transfer_get_target_folder (FerryTransfer *self)
{
  g_return_val_if_fail (FERRY_IS_TRANSFER (self), NULL);
  return self->target_folder;
}
