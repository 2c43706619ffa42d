/* ferry-transfer-sender.c
 *
 * The sender's half of a transfer: the offer and the preamble, the
 * receiver's accept with the blocks it holds, and the files, each read and
 * checked against its offered hashes one block at a time in a thread and
 * written to its own stream, at most FERRY_TRANSFER_FILES_IN_FLIGHT at once.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <string.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "ferry-transfer-private.h"

/* The sender keeps this much queued per file stream before it waits. */
#define STREAM_SEND_BUFFER ((guint64) 4 * 1024 * 1024)

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

static void outgoing_pump      (Outgoing      *out);
static void sender_pump_files  (FerryTransfer *self);

static void
outgoing_free (gpointer data)
{
  Outgoing *out = data;

  g_clear_object (&out->stream);
  g_clear_pointer (&out->pending, g_bytes_unref);
  g_free (out);
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
      ferry_transfer_maybe_complete (self);
      return;
    }

  if (bytes == NULL)
    {
      FerryTransferCloseCode code =
        g_error_matches (error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER)
        ? FERRY_TRANSFER_CLOSE_CHANGED_ON_SENDER : FERRY_TRANSFER_CLOSE_IO;

      ferry_transfer_end (self, FERRY_TRANSFER_STATE_FAILED, g_steal_pointer (&error), code);
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
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
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
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
          return;
        }

      be_index = GUINT32_TO_BE (self->next_file);
      be_offset = GUINT64_TO_BE (self->start_offsets[self->next_file]);
      memcpy (header, &be_index, 4);
      memcpy (header + 4, &be_offset, 8);
      bytes = g_bytes_new (header, sizeof header);

      ferry_transfer_set_current_file (self, ferry_offer_entry_get_path (entry));

      if (!ferry_quic_connection_stream_write (self->quic, stream_id, bytes,
                                               self->start_offsets[self->next_file] == size,
                                               &error))
        {
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
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
    ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_VERIFYING);
}

/**
 * ferry_transfer_parse_accept:
 * @offer: the offer the receiver answers
 * @accept: where the answer goes; its arrays have one element per entry of @offer
 *
 * Reads the receiver's accept frame: which files it already has ("skip") and, for files it
 * holds in part, the hashes of the blocks it has ("resume"), and the secret that resuming
 * this transfer later will take ("resume_secret"). Touches nothing but @accept,
 * so that the fuzzer can drive it alone.
 *
 * Returns: %FALSE for an answer that is not understood
 */
gboolean
ferry_transfer_parse_accept (FerryOffer          *offer,
                             const char          *json,
                             gsize                len,
                             FerryTransferAccept *accept)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *resume = NULL;
  JsonArray *skip = NULL;
  guint n = ferry_offer_get_n_entries (offer);
  g_autofree guint8 *resumed = g_new0 (guint8, MAX (n, 1));

  /* An empty frame parses, with no root at all. */
  if (!json_parser_load_from_data (parser, json, (gssize) len, &error)
      || json_parser_get_root (parser) == NULL
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
      if (index < 0 || index >= n || accept->skip[index]
          || ferry_offer_entry_get_kind (ferry_offer_get_entry (offer, (guint) index))
             != FERRY_OFFER_ENTRY_FILE)
        return FALSE;

      /* The receiver says it has the file; that costs us nothing to believe
       * since only it could be harmed by lying.
       */
      accept->skip[index] = TRUE;
      accept->bytes_resumed += ferry_offer_entry_get_size (
        ferry_offer_get_entry (offer, (guint) index));
      accept->n_skipped++;
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
      /* A file resumed twice would have its bytes counted twice. */
      if (index < 0 || index >= n || accept->skip[index] || resumed[index])
        return FALSE;
      resumed[index] = TRUE;
      entry = ferry_offer_get_entry (offer, (guint) index);
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

      accept->start_offsets[index] = MIN ((guint64) confirmed * FERRY_BLOCK_SIZE,
                                        ferry_offer_entry_get_size (entry));
      accept->bytes_resumed += accept->start_offsets[index];
    }

  if (json_object_has_member (root, "resume_secret"))
    {
      JsonNode *node = json_object_get_member (root, "resume_secret");

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING
          || !ferry_hash_from_hex (json_node_get_string (node), accept->resume_secret))
        return FALSE;
      accept->has_resume_secret = TRUE;
    }

  return TRUE;
}

static gboolean
sender_handle_accept (FerryTransfer *self,
                      const char    *json,
                      gsize          len)
{
  FerryTransferAccept accept = { self->skip, self->start_offsets, self->bytes_resumed, 0 };

  if (!ferry_transfer_parse_accept (self->offer, json, len, &accept))
    return FALSE;

  self->bytes_resumed = accept.bytes_resumed;
  self->n_files_done += accept.n_skipped;
  self->bytes_done = self->bytes_resumed;

  /* Kept with our record of this offer: sending it again proves we are
   * this transfer's peer, and resumes it. */
  if (accept.has_resume_secret && self->store != NULL && self->store_transfer_id != 0
      && (self->resume_secret == NULL
          || sodium_memcmp (g_bytes_get_data (self->resume_secret, NULL), accept.resume_secret,
                            FERRY_RESUME_SECRET_SIZE) != 0))
    {
      g_clear_pointer (&self->resume_secret, g_bytes_unref);
      self->resume_secret = g_bytes_new (accept.resume_secret, FERRY_RESUME_SECRET_SIZE);
      ferry_store_set_resume_secret_async (self->store, self->store_transfer_id,
                                           accept.resume_secret, NULL, NULL, NULL);
    }
  sodium_memzero (accept.resume_secret, sizeof accept.resume_secret);
  return TRUE;
}

/* Sender: the control stream */

static void
sender_handle_frame (FerryTransfer *self,
                     guint8         kind,
                     const guint8  *payload,
                     gsize          len)
{
  switch (kind)
    {
    case FERRY_TRANSFER_FRAME_ACCEPT:
      if (self->state != FERRY_TRANSFER_STATE_OFFERING
          || !sender_handle_accept (self, (const char *) payload, len))
        {
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                               "The receiver’s answer to the offer is not understood");
          return;
        }
      ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_TRANSFERRING);
      ferry_transfer_start_progress (self);
      sender_pump_files (self);
      break;

    case FERRY_TRANSFER_FRAME_FILE_DONE:
      self->n_files_done++;
      break;

    case FERRY_TRANSFER_FRAME_ALL_VERIFIED:
      if (self->next_file < ferry_offer_get_n_entries (self->offer) || self->n_active > 0
          || self->n_files_done != self->n_files)
        {
          ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                               "The receiver claims files it was not sent");
          return;
        }
      ferry_transfer_control_end (self);
      ferry_transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
      break;

    default:
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The receiver sent an unknown message");
      break;
    }
}

/* The receiver only ends its half of a file stream, with no data. */
static void
sender_stream_data (FerryTransfer *self,
                    gint64         stream_id,
                    const guint8  *data,
                    gsize          len,
                    gboolean       fin)
{
  if (len > 0)
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                         "The receiver sent data on a file stream");
}

/* The readers still in a thread clean up when they come back. */
static void
sender_ended (FerryTransfer *self)
{
  GHashTableIter iter;
  gpointer value;

  if (self->outgoing != NULL)
    {
      g_hash_table_iter_init (&iter, self->outgoing);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (!((Outgoing *) value)->reading)
          g_hash_table_iter_remove (&iter);
    }
}

/* The offer goes out once the store said whether this is an earlier
 * attempt's peer coming back: if it holds that attempt's resume secret, a
 * RESUME frame with the proof for this connection goes first.
 */
static void
sender_send_offer (FerryTransfer *self)
{
  g_autofree char *json = NULL;
  gsize len;

  if (self->resume_secret != NULL)
    {
      g_autofree char *binding = ferry_resume_binding_new (
        ferry_quic_connection_get_local_fingerprint (self->quic),
        ferry_quic_connection_get_peer_fingerprint (self->quic));
      guint8 proof[FERRY_RESUME_PROOF_SIZE];
      g_autofree char *hex = NULL;
      g_autofree char *frame = NULL;

      ferry_resume_proof_compute (g_bytes_get_data (self->resume_secret, NULL), binding, proof);
      hex = ferry_hash_to_hex (proof);
      frame = g_strdup_printf ("{\"proof\":\"%s\"}", hex);
      ferry_transfer_control_send (self, FERRY_TRANSFER_FRAME_RESUME, frame, strlen (frame));
    }

  json = ferry_offer_to_json (self->offer, &len);
  ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_OFFERING);
  ferry_transfer_control_send (self, FERRY_TRANSFER_FRAME_OFFER, json, len);
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
    {
      self->store_transfer_id = transfer->id;
      if (transfer->resume_secret != NULL)
        self->resume_secret = g_bytes_ref (transfer->resume_secret);
    }
  ferry_transfer_record_path (self);
  if (!self->ended)
    sender_send_offer (self);
  ferry_transfer_maybe_complete (self);
}

static void
sender_start (FerryTransfer *self)
{
  g_autoptr(GError) error = NULL;
  guint8 preamble[FERRY_TRANSFER_PREAMBLE_SIZE];
  guint32 version = GUINT32_TO_BE (FERRY_TRANSFER_PROTOCOL_VERSION);
  g_autoptr(GBytes) bytes = NULL;

  self->control_id = ferry_quic_connection_open_stream (self->quic, &error);
  if (self->control_id < 0)
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PEER_GONE, 0, "%s", error->message);
      return;
    }

  memcpy (preamble, FERRY_TRANSFER_PREAMBLE, 8);
  memcpy (preamble + 8, &version, 4);
  bytes = g_bytes_new (preamble, sizeof preamble);
  (void) ferry_quic_connection_stream_write (self->quic, self->control_id, bytes, FALSE, NULL);

  if (self->store != NULL)
    {
      self->n_workers++;
      ferry_store_begin_transfer_async (self->store, FERRY_STORE_SEND, self->offer, NULL, NULL,
                                        NULL, NULL, begin_send_cb, g_object_ref (self));
    }
  else
    {
      sender_send_offer (self);
    }
}

static const FerryTransferHalf sender_half = {
  .is_sender = TRUE,
  .start = sender_start,
  .handle_frame = sender_handle_frame,
  .stream_data = sender_stream_data,
  .ended = sender_ended,
};

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

  self = ferry_transfer_new_half (quic, store, &sender_half);
  g_signal_connect (quic, "stream-writable", G_CALLBACK (on_stream_writable), self);
  g_signal_connect (quic, "streams-available", G_CALLBACK (on_streams_available), self);
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
