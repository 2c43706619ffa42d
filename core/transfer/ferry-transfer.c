/* ferry-transfer.c
 *
 * The transfer protocol (see ferry-transfer.h): what both sides share. The
 * object, its progress, writing and reading the control stream, and the
 * ending, whoever ends it. What only one side does is its half,
 * ferry-transfer-sender.c or ferry-transfer-receiver.c, reached through the
 * FerryTransferHalf it was made with.
 *
 * Everything runs on the main context the connection lives on, except disk
 * I/O and hashing: the sender reads and hashes one block at a time in a
 * GTask thread per file, the receiver writes, hashes and syncs batches of
 * received chunks in a GTask thread per file. Memory stays flat in file
 * size: the sender holds at most one block read ahead plus the connection's
 * send buffer per stream, the receiver returns flow-control credit only once
 * bytes are on disk, so the other side can never have more than a stream
 * window waiting.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <string.h>

#include "ferry-json-check.h"
#include "ferry-transfer-private.h"

/* Progress properties are notified at most this often. */
#define PROGRESS_INTERVAL_MS 100

/* Longest reason carried in a connection close. */
#define MAX_REASON 1000

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

/* Properties and progress */

void
ferry_transfer_set_state (FerryTransfer      *self,
                          FerryTransferState  state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

void
ferry_transfer_set_current_file (FerryTransfer *self,
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

void
ferry_transfer_start_progress (FerryTransfer *self)
{
  if (self->progress_source != 0)
    return;
  self->last_tick_time = g_get_monotonic_time ();
  self->last_tick_bytes = self->bytes_done - self->bytes_resumed;
  self->moving_since = g_get_real_time ();
  {
    g_autoptr(GSource) source = g_timeout_source_new (PROGRESS_INTERVAL_MS);

    g_source_set_callback (source, progress_tick, self, NULL);
    g_source_set_static_name (source, "[ferry] transfer progress");
    self->progress_source = g_source_attach (source, self->context);
  }
}

/* Control stream: writing */

void
ferry_transfer_control_send (FerryTransfer *self,
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

void
ferry_transfer_control_end (FerryTransfer *self)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

  if (ferry_quic_connection_stream_is_writable (self->quic, self->control_id)
      || ferry_quic_connection_stream_get_buffered (self->quic, self->control_id) > 0)
    (void) ferry_quic_connection_stream_write (self->quic, self->control_id, empty, TRUE, NULL);
}

void
ferry_transfer_fail (FerryTransfer          *self,
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

  ferry_transfer_end (self, FERRY_TRANSFER_STATE_FAILED,
                      g_error_new_literal (FERRY_TRANSFER_ERROR, code, message), close_code);
}

/* Maps an error from the receive target to what the transfer reports. */
void
ferry_transfer_fail_from_receive_error (FerryTransfer *self,
                                        const GError  *error)
{
  if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_NO_SPACE))
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_NO_SPACE, FERRY_TRANSFER_CLOSE_NO_SPACE,
                         "%s", error->message);
  else if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_TOO_MUCH_DATA)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_SIZE_MISMATCH)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_HASH_MISMATCH))
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_VERIFY_FAILED,
                         FERRY_TRANSFER_CLOSE_VERIFY_FAILED, "%s", error->message);
  else if (g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_INVALID_PATH)
           || g_error_matches (error, FERRY_RECEIVE_ERROR, FERRY_RECEIVE_ERROR_UNSAFE_PATH))
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER,
                         FERRY_TRANSFER_CLOSE_HOSTILE_OFFER, "%s", error->message);
  else
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_IO, FERRY_TRANSFER_CLOSE_IO, "%s",
                         error->message);
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
moved_recorded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!ferry_store_update_finish (FERRY_STORE (object), result, &error))
    g_debug ("Could not record what moved: %s", error->message);
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

  /* In order before the outcome, which the history waits for. */
  ferry_store_set_moved_async (self->store, self->store_transfer_id, self->moving_since,
                               self->bytes_done,
                               self->bytes_done - MIN (self->bytes_done, self->bytes_resumed),
                               NULL, moved_recorded_cb, NULL);
  ferry_store_finish_transfer_async (self->store, self->store_transfer_id, store_state_for (self),
                                     self->error ? self->error->message : NULL, NULL,
                                     store_finished_cb, g_object_ref (self));
}

/* Once nothing runs in a thread any more: record the outcome, then let
 * the run finish, so that a caller sees every verified block saved.
 */
void
ferry_transfer_maybe_complete (FerryTransfer *self)
{
  if (!self->ended || self->completing || self->n_workers > 0)
    return;

  self->completing = TRUE;
  if (self->store != NULL && self->store_transfer_id != 0)
    ferry_store_flush_async (self->store, NULL, store_flushed_cb, g_object_ref (self));
  else
    return_run (self);
}

void
ferry_transfer_end (FerryTransfer      *self,
                    FerryTransferState  state,
                    GError             *error,
                    guint64             close_code)
{
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
  ferry_transfer_set_state (self, state);

  /* Readers and writers still in a thread clean up when they come back.
   * When the peer vanished, a receiver's queued bytes are still written so
   * that they count for resuming; after a cancel or failure they are dropped.
   */
  self->draining = g_error_matches (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE);
  self->half->ended (self);

  ferry_transfer_maybe_complete (self);
}

/* The connection ended under us: tell why in the transfer's terms. */
static void
on_closed (FerryQuicConnection *quic,
           const GError        *error,
           FerryTransfer       *self)
{
  g_autofree char *reason = NULL;
  g_autofree char *shown = NULL;
  guint64 code = 0;
  FerryTransferError mapped;
  FerryTransferState state = FERRY_TRANSFER_STATE_FAILED;

  if (self->ended)
    return;

  /* A receiver that has verified everything is done, whoever hangs up. */
  if (!self->is_sender && self->sent_all_verified)
    {
      ferry_transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
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
      shown = ferry_offer_escape_name (error ? error->message : "the connection was closed", -1);
      ferry_transfer_end (self, FERRY_TRANSFER_STATE_FAILED,
                          g_error_new (FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE,
                                       "The other side is gone (%s)", shown), 0);
      return;
    }

  /* The reason is the peer's text: escaped, it can't drive a terminal or
   * turn the text around where it is shown. */
  shown = ferry_offer_escape_name (reason && *reason ? reason : "No reason was given", -1);
  ferry_transfer_end (self, state, g_error_new_literal (FERRY_TRANSFER_ERROR, mapped, shown), 0);
}

/* Control stream: reading, and the streams of the half */

/* Every frame from the peer is checked here, on both sides, before either
 * half parses it: ALL_VERIFIED carries nothing, every other frame plain,
 * bounded JSON (see ferry-json-check.c for why json-glib alone is unsafe).
 */
static gboolean
control_frame_check (FerryTransfer *self,
                     guint8         kind,
                     const guint8  *payload,
                     gsize          len)
{
  g_autoptr(GError) error = NULL;

  if (kind == FERRY_TRANSFER_FRAME_ALL_VERIFIED && len == 0)
    return TRUE;
  if (kind != FERRY_TRANSFER_FRAME_ALL_VERIFIED
      && ferry_json_check ((const char *) payload, len, &error))
    return TRUE;

  if (!self->is_sender && kind == FERRY_TRANSFER_FRAME_OFFER)
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER,
                         FERRY_TRANSFER_CLOSE_HOSTILE_OFFER, "The offer is malformed: %s",
                         error->message);
  else
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                         "The other side sent a malformed message: %s",
                         error != NULL ? error->message : "it should be empty");
  return FALSE;
}

/**
 * ferry_transfer_read_frame_header:
 * @data: the control stream's unread bytes, at least 5
 * @kind: (out): the frame's kind
 * @frame_len: (out): its payload's length
 *
 * Reads the header of the next control frame: a 32-bit big-endian length and a kind.
 *
 * Returns: %FALSE for a frame longer than FERRY_TRANSFER_MAX_FRAME, or an offer longer
 *   than @max_offer_size
 */
gboolean
ferry_transfer_read_frame_header (const guint8 *data,
                                  gsize         len,
                                  gsize         max_offer_size,
                                  guint8       *kind,
                                  gsize        *frame_len)
{
  guint32 be_len;

  g_assert (len >= 5);

  memcpy (&be_len, data, 4);
  *frame_len = GUINT32_FROM_BE (be_len);
  *kind = data[4];
  return *frame_len <= FERRY_TRANSFER_MAX_FRAME
         && (*kind != FERRY_TRANSFER_FRAME_OFFER || *frame_len <= max_offer_size);
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
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                               "The other side does not speak Ferry’s transfer protocol");
          return;
        }
      memcpy (&version, self->control_in->data + 8, 4);
      if (GUINT32_FROM_BE (version) != FERRY_TRANSFER_PROTOCOL_VERSION)
        {
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                               "The other side uses transfer protocol version %u; "
                               "this Ferry speaks %u",
                               GUINT32_FROM_BE (version), FERRY_TRANSFER_PROTOCOL_VERSION);
          return;
        }
      self->preamble_seen = TRUE;
      g_byte_array_remove_range (self->control_in, 0, FERRY_TRANSFER_PREAMBLE_SIZE);
    }

  while (!self->ended && self->control_in->len >= 5)
    {
      gsize frame_len;
      guint8 kind;

      if (!ferry_transfer_read_frame_header (self->control_in->data, self->control_in->len,
                                             self->limits.max_json_size, &kind, &frame_len))
        {
          if (!self->is_sender && kind == FERRY_TRANSFER_FRAME_OFFER)
            ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER,
                                 FERRY_TRANSFER_CLOSE_HOSTILE_OFFER,
                                 "The offer is larger than the %" G_GSIZE_FORMAT " bytes allowed",
                                 self->limits.max_json_size);
          else
            ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                                 "A message from the other side is too large");
          return;
        }
      if (self->control_in->len < 5 + frame_len)
        break;

      if (!control_frame_check (self, kind, self->control_in->data + 5, frame_len))
        return;
      self->half->handle_frame (self, kind, self->control_in->data + 5, frame_len);
      if (self->control_in != NULL)
        g_byte_array_remove_range (self->control_in, 0, (guint) (5 + frame_len));
    }

check_fin:
  if (!fin || self->ended)
    return;

  self->control_fin_seen = TRUE;
  if (self->is_sender)
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                         "The receiver ended the conversation early");
  else if (self->sent_all_verified)
    {
      ferry_transfer_control_end (self);
      ferry_transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
    }
  else
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
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
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
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

  self->half->stream_data (self, stream_id, data, (gsize) len, fin);
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
  g_clear_pointer (&self->resume_secret, g_bytes_unref);
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

/* The half's constructor connects what only it listens to. */
FerryTransfer *
ferry_transfer_new_half (FerryQuicConnection     *quic,
                         FerryStore              *store,
                         const FerryTransferHalf *half)
{
  FerryTransfer *self = g_object_new (FERRY_TYPE_TRANSFER, NULL);

  self->quic = g_object_ref (quic);
  self->store = store ? g_object_ref (store) : NULL;
  self->half = half;
  self->is_sender = half->is_sender;

  g_signal_connect (quic, "stream-data", G_CALLBACK (on_stream_data), self);
  g_signal_connect (quic, "closed", G_CALLBACK (on_closed), self);

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
void
ferry_transfer_record_path (FerryTransfer *self)
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
  ferry_transfer_record_path (self);
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
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "The connection is not open");
      return;
    }

  if (self->half->start != NULL && self->state == FERRY_TRANSFER_STATE_NEW)
    self->half->start (self);
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
  ferry_transfer_end (self, FERRY_TRANSFER_STATE_CANCELLED,
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
