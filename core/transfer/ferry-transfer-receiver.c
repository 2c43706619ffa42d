/* ferry-transfer-receiver.c
 *
 * The receiver's half of a transfer: the offer, shown before anything is
 * written; accepting, with the receive plan and the blocks it can resume
 * from; and the files arriving, each written, hashed and synced in batches
 * in a thread, recorded block by block in the store and renamed into place
 * once verified.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <string.h>
#include <json-glib/json-glib.h>

#include "ferry-receive-plan.h"
#include "ferry-transfer-private.h"

/* The receiver hands at most this much to a writer thread at once. */
#define WRITE_BATCH ((gsize) 4 * 1024 * 1024)

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
  guint64                remaining;    /* file bytes still to come */
  guint8                 digest[FERRY_HASH_SIZE];   /* the sender's, after the data */
  guint                  digest_len;
  gboolean               fin_seen;
  gboolean               busy;
  gboolean               finished;
  guint                  n_recorded;
} Incoming;

static void incoming_schedule       (Incoming      *in);
static void receiver_check_all_done (FerryTransfer *self);

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
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender made a second offer");
      return;
    }

  offer = ferry_offer_new_from_json ((const char *) payload, len, &self->limits, &error);
  if (offer == NULL)
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_HOSTILE_OFFER,
                           FERRY_TRANSFER_CLOSE_HOSTILE_OFFER, "%s", error->message);
      return;
    }

  self->offer = offer;
  self->n_files = ferry_offer_get_n_files (offer);
  self->bytes_total = ferry_offer_get_total_size (offer);
  g_object_notify (G_OBJECT (self), "bytes-total");
  ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_OFFER_RECEIVED);
  g_signal_emit_by_name (self, "offer-received", offer);
}

/* Receiver: accepting */

/* In a thread. The offer, the folder and the store's record are set before
 * and stay as they are while the plan is made. */
static void
prepare_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  FerryTransfer *self = source_object;
  g_autoptr(GError) error = NULL;
  FerryReceivePlan *plan;

  plan = ferry_receive_plan_new (self->offer, self->target_folder, self->store_transfer,
                                 cancellable, &error);
  if (plan == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, plan, (GDestroyNotify) ferry_receive_plan_free);
}

static char *
build_accept (FerryReceivePlan *plan,
              GBytes           *resume_secret,
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
  if (resume_secret != NULL)
    {
      g_autofree char *hex = ferry_hash_to_hex (g_bytes_get_data (resume_secret, NULL));

      json_builder_set_member_name (builder, "resume_secret");
      json_builder_add_string_value (builder, hex);
    }
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
        ferry_transfer_fail_from_receive_error (self, error);
      ferry_transfer_maybe_complete (self);
      return;
    }
  if (self->ended)
    {
      g_clear_pointer (&plan, ferry_receive_plan_free);
      ferry_transfer_maybe_complete (self);
      return;
    }

  accept = build_accept (plan, self->store_transfer ? self->store_transfer->resume_secret : NULL,
                         &len);
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

  ferry_transfer_control_send (self, FERRY_TRANSFER_FRAME_ACCEPT, accept, len);
  ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_TRANSFERRING);
  ferry_transfer_start_progress (self);
  receiver_check_all_done (self);
}

static void
receiver_prepare (FerryTransfer *self)
{
  g_autoptr(GTask) task = NULL;

  self->n_workers++;
  task = g_task_new (self, NULL, prepare_done_cb, NULL);
  g_task_set_source_tag (task, receiver_prepare);
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
      ferry_transfer_record_path (self);
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
      ferry_transfer_maybe_complete (self);
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
  char                  *digest_hex;   /* the sender's digest, when finishing */
  gboolean               verified_bad;
  guint64                written;
  guint64                consumed;
  char                  *final_path;
  char                  *opened_partial;   /* set when this job opened the file */
} WriteJob;

static void
write_job_free (gpointer data)
{
  WriteJob *job = data;

  g_clear_object (&job->target);
  g_clear_pointer (&job->file, ferry_receive_file_free);
  g_queue_clear_full (&job->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (job->final_path);
  g_free (job->digest_hex);
  g_free (job->opened_partial);
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
      job->opened_partial = ferry_receive_file_dup_partial_local_path (job->file);
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
      /* Our own hashes of what we wrote are checked against the sender's
       * digest; a digest that is missing matches nothing. */
      ferry_receive_file_set_content_id (job->file, job->digest_hex);
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

  ferry_transfer_control_send (self, FERRY_TRANSFER_FRAME_ALL_VERIFIED, NULL, 0);
  self->sent_all_verified = TRUE;
  ferry_transfer_set_state (self, FERRY_TRANSFER_STATE_VERIFYING);
  if (self->control_fin_seen)
    {
      ferry_transfer_control_end (self);
      ferry_transfer_end (self, FERRY_TRANSFER_STATE_DONE, NULL, 0);
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

  /* Recorded before its blocks: from now on only this transfer resumes
   * that partial file, and other transfers leave it alone. */
  if (job->opened_partial != NULL && self->store != NULL && file_id != 0)
    ferry_store_set_file_state (self->store, file_id, FERRY_STORE_FILE_PARTIAL,
                                job->opened_partial);

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
      ferry_transfer_maybe_complete (self);
      return;
    }

  if (!ok)
    {
      ferry_transfer_fail_from_receive_error (self, error);
      return;
    }

  if (job->final_path != NULL)
    {
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
      g_autofree char *done = NULL;

      in->finished = TRUE;
      if (self->store != NULL && file_id != 0)
        ferry_store_set_file_state (self->store, file_id, FERRY_STORE_FILE_COMPLETE,
                                    job->final_path);
      /* Our half of the stream ends; the stream is released. */
      (void) ferry_quic_connection_stream_write (self->quic, in->stream_id, empty, TRUE, NULL);
      done = g_strdup_printf ("{\"index\":%u}", in->index);
      ferry_transfer_control_send (self, FERRY_TRANSFER_FRAME_FILE_DONE, done, strlen (done));
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
  if (job->finish && in->digest_len == FERRY_HASH_SIZE)
    job->digest_hex = ferry_hash_to_hex (in->digest);
  /* An offer that named the digest up front holds the sender to it. */
  if (job->digest_hex != NULL && ferry_offer_entry_get_content_id (in->entry) != NULL
      && !g_str_equal (job->digest_hex, ferry_offer_entry_get_content_id (in->entry)))
    g_clear_pointer (&job->digest_hex, g_free);

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
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender sent a file it did not offer");
      return;
    }
  entry = ferry_offer_get_entry (self->offer, in->index);
  size = ferry_offer_entry_get_size (entry);
  if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE || self->started[in->index])
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender sent a file twice or a folder as a file");
      return;
    }
  if (in->start > self->plan->resume_offsets[in->index]
      || (in->start % FERRY_BLOCK_SIZE != 0 && in->start != size))
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender resumed a file where it could not");
      return;
    }

  self->started[in->index] = TRUE;
  in->entry = entry;
  in->remaining = size - in->start;
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

  ferry_transfer_set_current_file (self, ferry_offer_entry_get_path (entry));
}

/* The file's bytes go to the disk; the FERRY_HASH_SIZE bytes after them are
 * the sender's digest of the file, checked once the file is written. */
static void
incoming_take (Incoming     *in,
               const guint8 *data,
               gsize         len,
               gboolean      fin)
{
  FerryTransfer *self = in->self;
  gsize take = (gsize) MIN ((guint64) len, in->remaining);

  if (take > 0)
    g_queue_push_tail (&in->queue, g_bytes_new (data, take));
  in->remaining -= take;
  data += take;
  len -= take;

  if (len > FERRY_HASH_SIZE - in->digest_len)
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_VERIFY_FAILED,
                           FERRY_TRANSFER_CLOSE_VERIFY_FAILED,
                           "The sender sent more than the offered size of a file");
      return;
    }
  if (len > 0)
    {
      memcpy (in->digest + in->digest_len, data, len);
      in->digest_len += (guint) len;
      ferry_quic_connection_stream_consume (self->quic, in->stream_id, len);
    }

  in->fin_seen = fin;
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
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
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
            ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                                 "The sender ended a file stream before its header");
          return;
        }
      incoming_start (in);
      if (self->ended)
        return;
    }

  incoming_take (in, data, len, fin);
}

/* The sender's claim to be an earlier attempt's peer: kept until the
 * person accepts, when the store checks it (ferry_store_begin_transfer_async()).
 * It comes before the offer, so that it is there whenever they accept. */
static void
receiver_handle_resume (FerryTransfer *self,
                        const guint8  *payload,
                        gsize          len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root = NULL;
  JsonNode *proof = NULL;

  if (self->offer != NULL || self->resume_claimed)
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender claimed a resume out of turn");
      return;
    }

  if (json_parser_load_from_data (parser, (const char *) payload, (gssize) len, NULL))
    root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    proof = json_object_get_member (json_node_get_object (root), "proof");
  if (proof == NULL || !JSON_NODE_HOLDS_VALUE (proof)
      || json_node_get_value_type (proof) != G_TYPE_STRING
      || !ferry_hash_from_hex (json_node_get_string (proof), self->resume_proof))
    {
      ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                           "The sender’s resume claim is not understood");
      return;
    }
  self->resume_claimed = TRUE;
}

static void
receiver_handle_frame (FerryTransfer *self,
                       guint8         kind,
                       const guint8  *payload,
                       gsize          len)
{
  if (kind == FERRY_TRANSFER_FRAME_OFFER)
    receiver_handle_offer (self, payload, len);
  else if (kind == FERRY_TRANSFER_FRAME_RESUME)
    receiver_handle_resume (self, payload, len);
  else
    ferry_transfer_fail (self, FERRY_TRANSFER_ERROR_PROTOCOL, FERRY_TRANSFER_CLOSE_PROTOCOL,
                         "The sender sent an unknown message");
}

/* The writers still in a thread clean up when they come back; queued bytes
 * are written only while draining (see ferry_transfer_end()). */
static void
receiver_ended (FerryTransfer *self)
{
  GHashTableIter iter;
  gpointer value;

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
}

/* The receiver starts nothing: it waits for the offer. */
static const FerryTransferHalf receiver_half = {
  .is_sender = FALSE,
  .handle_frame = receiver_handle_frame,
  .stream_data = receiver_file_data,
  .ended = receiver_ended,
};

/**
 * ferry_transfer_accept:
 * @target_folder: (nullable): where to put the files; %NULL for the default
 *
 * Accepts the offer. Earlier verified blocks of the same files in the same
 * folder (from the store) are resumed, but only when the sender proved it
 * is the peer of that earlier attempt; the disk is checked for room first.
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
      g_autofree char *binding = NULL;
      FerryStoreResumeClaim claim = { 0 };

      /* Our half of the binding is our certificate; the sender's is the
       * one the PAKE vouched for. */
      if (self->resume_claimed)
        {
          binding = ferry_resume_binding_new (
            ferry_quic_connection_get_peer_fingerprint (self->quic),
            ferry_quic_connection_get_local_fingerprint (self->quic));
          memcpy (claim.proof, self->resume_proof, sizeof claim.proof);
          claim.binding = binding;
        }
      self->n_workers++;
      ferry_store_begin_transfer_async (self->store, FERRY_STORE_RECEIVE, self->offer, path,
                                        NULL, self->resume_claimed ? &claim : NULL, NULL,
                                        begin_receive_cb, g_object_ref (self));
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

  ferry_transfer_end (self, FERRY_TRANSFER_STATE_DECLINED,
                      g_error_new_literal (FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_DECLINED,
                                           reason ? reason : "The offer was declined"),
                      FERRY_TRANSFER_CLOSE_DECLINED);
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

  self = ferry_transfer_new_half (quic, store, &receiver_half);
  self->default_folder = g_object_ref (default_target_folder);
  self->incoming = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, incoming_free);

  return self;
}
