/* test-transfer.c
 *
 * FerryTransfer end to end: a real sender and a real receiver over a real
 * QUIC connection (an in-process datagram pipe, or two libnice agents on
 * loopback), real files in temporary folders, real SQLite stores. Hostile
 * senders are raw protocol writers over the same real connection.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry-hasher.h"
#include "ferry-test-nice.h"
#include "ferry-test-utils.h"
#include "ferry-transfer.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define RUN_TIMEOUT_MS       45000
#define SHORT_IDLE_MS        1500
/* A vanished peer must be reported well within 30 s. */
#define PEER_GONE_DEADLINE_MS 10000

/* Datagram pipe: delivers datagrams between two connections from an idle
 * source; "severed" drops everything, like a peer that vanished.
 */

typedef struct _Pipe Pipe;

typedef struct
{
  Pipe                *pipe;
  FerryQuicConnection *to;
  FerryQuicConnection *from;
  GQueue               queue;
  gboolean             blocked;
} Lane;

struct _Pipe
{
  Lane     lanes[2];
  GSource *source;
  gboolean severed;
  guint64  sever_after;   /* bytes delivered before the pipe goes dead; 0: never */
  guint64  delivered;
  gint64   severed_at;
};

static gboolean
pipe_deliver (gpointer user_data)
{
  Pipe *pipe = user_data;

  for (guint i = 0; i < 2; i++)
    {
      Lane *lane = &pipe->lanes[i];

      for (guint n = 0; n < 64 && lane->queue.head != NULL; n++)
        {
          g_autoptr(GBytes) datagram = g_queue_pop_head (&lane->queue);
          gsize len;
          const guint8 *data = g_bytes_get_data (datagram, &len);

          if (!pipe->severed && pipe->sever_after > 0 && pipe->delivered >= pipe->sever_after)
            {
              pipe->severed = TRUE;
              pipe->severed_at = g_get_monotonic_time ();
            }
          if (!pipe->severed)
            ferry_quic_connection_receive_datagram (lane->to, data, len);
          pipe->delivered += len;
        }
      if (lane->blocked && lane->queue.length < 128)
        {
          lane->blocked = FALSE;
          ferry_quic_connection_datagram_writable (lane->from);
        }
    }

  if (pipe->lanes[0].queue.head == NULL && pipe->lanes[1].queue.head == NULL)
    g_source_set_ready_time (pipe->source, -1);
  return G_SOURCE_CONTINUE;
}

static gboolean
source_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs pipe_funcs = { .dispatch = source_dispatch };

static gboolean
pipe_send (const guint8 *data,
           gsize         len,
           gpointer      user_data)
{
  Lane *lane = user_data;

  if (lane->queue.length >= 256)
    {
      lane->blocked = TRUE;
      return FALSE;
    }
  g_queue_push_tail (&lane->queue, g_bytes_new (data, len));
  g_source_set_ready_time (lane->pipe->source, 0);
  return TRUE;
}

static Pipe *
pipe_new (FerryQuicConnection *a,
          FerryQuicConnection *b)
{
  Pipe *pipe = g_new0 (Pipe, 1);

  pipe->lanes[0].pipe = pipe;
  pipe->lanes[1].pipe = pipe;
  pipe->lanes[0].to = b;
  pipe->lanes[0].from = a;
  pipe->lanes[1].to = a;
  pipe->lanes[1].from = b;
  pipe->source = g_source_new (&pipe_funcs, sizeof (GSource));
  g_source_set_callback (pipe->source, pipe_deliver, pipe, NULL);
  g_source_set_ready_time (pipe->source, -1);
  g_source_attach (pipe->source, NULL);
  ferry_quic_connection_set_send_func (a, pipe_send, &pipe->lanes[0], NULL);
  ferry_quic_connection_set_send_func (b, pipe_send, &pipe->lanes[1], NULL);
  return pipe;
}

static void
pipe_free (Pipe *pipe)
{
  for (guint i = 0; i < 2; i++)
    g_queue_clear_full (&pipe->lanes[i].queue, (GDestroyNotify) g_bytes_unref);
  g_source_destroy (pipe->source);
  g_source_unref (pipe->source);
  g_free (pipe);
}

/* A handshaken connection pair */

typedef enum
{
  TRANSPORT_PIPE,
  TRANSPORT_NICE,
} Transport;

typedef struct
{
  FerryQuicConnection *client;
  FerryQuicConnection *server;
  Pipe                *pipe;
  FerryTestNicePair   *nice;
  int                  n_handshakes;
  GError              *error;
} Link;

static void
handshake_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Link *link = user_data;

  if (!ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result,
                                               link->error ? NULL : &link->error))
    g_assert_nonnull (link->error);
  link->n_handshakes++;
}

static gboolean
handshakes_done (gpointer user_data)
{
  return ((Link *) user_data)->n_handshakes == 2;
}

static void link_free (Link *link);

static Link *
link_new (Transport transport,
          guint     idle_ms)
{
  Link *link = g_new0 (Link, 1);
  g_autoptr(GError) error = NULL;

  link->client = ferry_quic_connection_new (FERRY_QUIC_ROLE_CLIENT, &error);
  g_assert_no_error (error);
  link->server = ferry_quic_connection_new (FERRY_QUIC_ROLE_SERVER, &error);
  g_assert_no_error (error);
  if (idle_ms > 0)
    {
      ferry_quic_connection_set_idle_timeout (link->client, idle_ms);
      ferry_quic_connection_set_idle_timeout (link->server, idle_ms);
    }
  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    link->client, ferry_quic_connection_get_local_fingerprint (link->server), &error));
  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    link->server, ferry_quic_connection_get_local_fingerprint (link->client), &error));
  g_assert_no_error (error);

  if (transport == TRANSPORT_PIPE)
    link->pipe = pipe_new (link->client, link->server);
  else
    {
      link->nice = ferry_test_nice_pair_new (10000);
      ferry_test_nice_pair_bind (link->nice, link->client, link->server);
    }

  ferry_quic_connection_handshake_async (link->server, NULL, handshake_cb, link);
  ferry_quic_connection_handshake_async (link->client, NULL, handshake_cb, link);
  g_assert_true (ferry_test_wait_until (handshakes_done, link, HANDSHAKE_TIMEOUT_MS));
  g_assert_no_error (link->error);
  return link;
}

static void
link_free (Link *link)
{
  if (ferry_quic_connection_is_open (link->client))
    ferry_quic_connection_close (link->client, 0, NULL);
  if (ferry_quic_connection_is_open (link->server))
    ferry_quic_connection_close (link->server, 0, NULL);
  g_clear_pointer (&link->nice, ferry_test_nice_pair_free);
  g_clear_object (&link->client);
  g_clear_object (&link->server);
  g_clear_pointer (&link->pipe, pipe_free);
  g_clear_error (&link->error);
  g_free (link);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Link, link_free)

/* Fixture: a source folder, a target folder and two databases. */

typedef struct
{
  char *dir;
  char *source;
  char *target;
  char *sender_db;
  char *receiver_db;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = ferry_test_make_temp_dir ("transfer");
  fixture->source = g_build_filename (fixture->dir, "source", NULL);
  fixture->target = g_build_filename (fixture->dir, "target", NULL);
  fixture->sender_db = g_build_filename (fixture->dir, "sender.db", NULL);
  fixture->receiver_db = g_build_filename (fixture->dir, "receiver.db", NULL);
  g_assert_no_errno (g_mkdir (fixture->source, 0755));
  g_assert_no_errno (g_mkdir (fixture->target, 0755));
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  ferry_test_clear_temp_dir (&fixture->dir);
  g_free (fixture->source);
  g_free (fixture->target);
  g_free (fixture->sender_db);
  g_free (fixture->receiver_db);
}

/* Files */

static void
write_prng_file (const char *path,
                 gsize       size,
                 guint64     seed)
{
  g_autofree guint64 *buffer = g_malloc (1024 * 1024);
  FILE *out = fopen (path, "wb");
  guint64 x = seed | 1;

  g_assert_nonnull (out);
  while (size > 0)
    {
      gsize n = MIN (size, 1024 * 1024);

      /* xorshift64: hundreds of MB per second, not compressible */
      for (gsize i = 0; i < (n + 7) / 8; i++)
        {
          x ^= x << 13;
          x ^= x >> 7;
          x ^= x << 17;
          buffer[i] = x;
        }
      g_assert_cmpuint (fwrite (buffer, 1, n, out), ==, n);
      size -= n;
    }
  g_assert_cmpint (fclose (out), ==, 0);
}

static void
write_text (const char *path,
            const char *text,
            guint       mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  g_assert_no_errno (g_chmod (path, mode));
}

static char *
content_id_of (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryFileDigest) digest = ferry_hasher_hash_file (file, NULL, &error);

  g_assert_no_error (error);
  return ferry_file_digest_dup_content_id_hex (digest);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
sorted_names (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* Same names, kinds, sizes, permission bits and contents, recursively. */
static void
assert_same_tree (const char *a,
                  const char *b)
{
  g_autoptr(GPtrArray) names_a = sorted_names (a);
  g_autoptr(GPtrArray) names_b = sorted_names (b);

  g_assert_cmpuint (names_a->len, ==, names_b->len);
  for (guint i = 0; i < names_a->len; i++)
    {
      g_autofree char *pa = g_build_filename (a, names_a->pdata[i], NULL);
      g_autofree char *pb = g_build_filename (b, names_b->pdata[i], NULL);
      GStatBuf sa, sb;

      g_assert_cmpstr (names_a->pdata[i], ==, names_b->pdata[i]);
      g_assert_no_errno (g_lstat (pa, &sa));
      g_assert_no_errno (g_lstat (pb, &sb));
      g_assert_cmpuint (sa.st_mode & S_IFMT, ==, sb.st_mode & S_IFMT);
      if (S_ISDIR (sa.st_mode))
        {
          assert_same_tree (pa, pb);
          continue;
        }
      g_assert_true (S_ISREG (sa.st_mode));
      g_assert_cmpuint (sa.st_size, ==, sb.st_size);
      g_assert_cmpuint (sa.st_mode & 0777, ==, sb.st_mode & 0777);
      {
        g_autofree char *ha = content_id_of (pa);
        g_autofree char *hb = content_id_of (pb);

        g_assert_cmpstr (ha, ==, hb);
      }
    }
}

static guint
count_entries (const char *path)
{
  g_autoptr(GPtrArray) names = sorted_names (path);

  return names->len;
}

/* Offers and stores */

static FerryOffer *
offer_for (const char * const *paths)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  FerryOffer *offer;

  for (guint i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (files, g_file_new_for_path (paths[i]));
  ferry_offer_new_from_files_async ((GFile **) files->pdata, files->len, NULL,
                                    ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, RUN_TIMEOUT_MS);
  offer = ferry_offer_new_from_files_finish (result, &error);
  g_assert_no_error (error);
  return offer;
}

static GPtrArray *
history (const char *db)
{
  g_autoptr(FerryStore) store = ferry_test_open_store (db, NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *list;

  ferry_store_list_history_async (store, 10, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, RUN_TIMEOUT_MS);
  list = ferry_store_list_history_finish (store, result, &error);
  g_assert_no_error (error);
  ferry_store_close (store);
  return list;
}

/* One run of both sides */

typedef enum
{
  ACT_NONE,
  ACT_SEVER,
  ACT_CANCEL_SENDER,
  ACT_CANCEL_RECEIVER,
  ACT_FILL_DISK,
} Action;

typedef struct
{
  Link          *link;
  FerryTransfer *sender;
  FerryTransfer *receiver;
  gboolean       sender_done;
  gboolean       receiver_done;
  GError        *sender_error;
  GError        *receiver_error;
  gboolean       offered;
  const char    *decline_reason;
  gboolean       no_answer;
  Action         action;
  guint64        action_after;
  gboolean       acted;
  char          *fill_path;
  gint64         severed_at;
  gint64         sender_ended_at;
  gint64         receiver_ended_at;
  guint          n_progress;
  guint          n_sender_notifies;
  guint64        max_rate;
  gint64         max_eta;
  gint64         transferring_at;
  GCancellable  *receiver_cancellable;
  guint64        hashed_at_offer;   /* ferry_hasher_get_bytes_hashed() then */
} Run;

static void
offer_received_cb (FerryTransfer *transfer,
                   FerryOffer    *offer,
                   Run           *run)
{
  g_assert_true (ferry_transfer_get_offer (transfer) == offer);
  g_assert_cmpint (ferry_transfer_get_state (transfer), ==, FERRY_TRANSFER_STATE_OFFER_RECEIVED);
  run->offered = TRUE;
  run->hashed_at_offer = ferry_hasher_get_bytes_hashed ();
  if (run->no_answer)
    return;
  if (run->decline_reason != NULL)
    ferry_transfer_decline (transfer, run->decline_reason);
  else
    ferry_transfer_accept (transfer, NULL);
}

static void
act (Run *run)
{
  run->acted = TRUE;
  switch (run->action)
    {
    case ACT_SEVER:
      break;
    case ACT_CANCEL_SENDER:
      ferry_transfer_cancel (run->sender, "Sender changed their mind");
      break;
    case ACT_CANCEL_RECEIVER:
      if (run->receiver_cancellable != NULL)
        g_cancellable_cancel (run->receiver_cancellable);
      else
        ferry_transfer_cancel (run->receiver, "Receiver needs the bandwidth");
      break;
    case ACT_FILL_DISK:
      {
        /* Take every free byte: the next write hits a full disk. */
        int fd = open (run->fill_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        g_autofree char *block = g_malloc0 (64 * 1024);

        g_assert_cmpint (fd, >=, 0);
        while (write (fd, block, 64 * 1024) > 0)
          ;
        close (fd);
      }
      break;
    case ACT_NONE:
      break;
    }
}

static void
receiver_progress_cb (FerryTransfer *transfer,
                      GParamSpec    *pspec,
                      Run           *run)
{
  run->n_progress++;
  if (!run->acted && run->action != ACT_NONE && run->action != ACT_FILL_DISK
      && ferry_transfer_get_bytes_sent_on_wire (transfer) > run->action_after)
    act (run);
}

static void
sender_progress_cb (FerryTransfer *transfer,
                    GParamSpec    *pspec,
                    Run           *run)
{
  run->n_sender_notifies++;
  run->max_rate = MAX (run->max_rate, ferry_transfer_get_rate (transfer));
  run->max_eta = MAX (run->max_eta, ferry_transfer_get_eta_seconds (transfer));
  if (run->transferring_at == 0)
    run->transferring_at = g_get_monotonic_time ();
}

static void
receiver_state_cb (FerryTransfer *transfer,
                   GParamSpec    *pspec,
                   Run           *run)
{
  if (!run->acted && run->action == ACT_FILL_DISK
      && ferry_transfer_get_state (transfer) == FERRY_TRANSFER_STATE_TRANSFERRING)
    act (run);
}

static void
sender_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Run *run = user_data;

  ferry_transfer_run_finish (FERRY_TRANSFER (object), result, &run->sender_error);
  run->sender_done = TRUE;
  run->sender_ended_at = g_get_monotonic_time ();
}

static void
receiver_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;

  ferry_transfer_run_finish (FERRY_TRANSFER (object), result, &run->receiver_error);
  run->receiver_done = TRUE;
  run->receiver_ended_at = g_get_monotonic_time ();
}

static gboolean
both_done (gpointer user_data)
{
  Run *run = user_data;

  return run->sender_done && run->receiver_done;
}

static void
run_clear (Run *run)
{
  g_clear_object (&run->sender);
  g_clear_object (&run->receiver);
  g_clear_error (&run->sender_error);
  g_clear_error (&run->receiver_error);
  g_free (run->fill_path);
  g_clear_object (&run->receiver_cancellable);
}

/* Runs a sender of @offer on the link's client and a receiver into
 * @fixture->target on its server (or the other way round with @swap).
 */
static void
run_transfer (Run        *run,
              Link       *link,
              FerryOffer *offer,
              FerryStore *sender_store,
              FerryStore *receiver_store,
              const char *target,
              gboolean    swap)
{
  g_autoptr(GFile) folder = g_file_new_for_path (target);

  run->link = link;
  if (run->action == ACT_SEVER)
    {
      /* The peer vanishes after this much traffic: no datagram arrives any more. */
      link->pipe->sever_after = run->action_after;
      run->acted = TRUE;
    }
  run->sender = ferry_transfer_new_sender (swap ? link->server : link->client, offer,
                                           sender_store);
  run->receiver = ferry_transfer_new_receiver (swap ? link->client : link->server,
                                               receiver_store, folder);
  g_assert_cmpint (ferry_transfer_get_state (run->sender), ==, FERRY_TRANSFER_STATE_NEW);
  g_signal_connect (run->receiver, "offer-received", G_CALLBACK (offer_received_cb), run);
  g_signal_connect (run->receiver, "notify::bytes-sent-on-wire",
                    G_CALLBACK (receiver_progress_cb), run);
  g_signal_connect (run->receiver, "notify::state", G_CALLBACK (receiver_state_cb), run);
  g_signal_connect (run->sender, "notify::bytes-done", G_CALLBACK (sender_progress_cb), run);

  ferry_transfer_run_async (run->receiver, run->receiver_cancellable, receiver_done_cb, run);
  ferry_transfer_run_async (run->sender, NULL, sender_done_cb, run);
  g_assert_true (ferry_test_wait_until (both_done, run, RUN_TIMEOUT_MS));
  if (link->pipe != NULL)
    run->severed_at = link->pipe->severed_at;
}

static void
assert_success (Run *run)
{
  g_assert_no_error (run->sender_error);
  g_assert_no_error (run->receiver_error);
  g_assert_cmpint (ferry_transfer_get_state (run->sender), ==, FERRY_TRANSFER_STATE_DONE);
  g_assert_cmpint (ferry_transfer_get_state (run->receiver), ==, FERRY_TRANSFER_STATE_DONE);
  g_assert_cmpuint (ferry_transfer_get_bytes_done (run->sender), ==,
                    ferry_transfer_get_bytes_total (run->sender));
  g_assert_cmpuint (ferry_transfer_get_bytes_done (run->receiver), ==,
                    ferry_transfer_get_bytes_total (run->receiver));
}

/* Simple sends */

static void
send_and_compare (Fixture             *fixture,
                  Transport            transport,
                  const char * const  *paths,
                  gboolean             swap,
                  gboolean             check_progress)
{
  g_autoptr(Link) link = link_new (transport, 0);
  g_autoptr(FerryOffer) offer = offer_for (paths);
  g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
  g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
  g_autoptr(GPtrArray) sent = NULL;
  g_autoptr(GPtrArray) received = NULL;
  Run run = { 0 };

  run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, swap);
  assert_success (&run);
  g_assert_true (run.offered);

  if (check_progress)
    {
      gint64 elapsed_ms = (run.sender_ended_at - run.transferring_at) / 1000;

      /* Progress is reported, with a rate and an estimate, but at most
       * about ten times a second.
       */
      g_test_message ("%u progress notifications in %" G_GINT64_FORMAT " ms, top rate %"
                      G_GUINT64_FORMAT " B/s", run.n_sender_notifies, elapsed_ms, run.max_rate);
      g_assert_cmpuint (run.n_sender_notifies, >=, 2);
      g_assert_cmpuint (run.n_sender_notifies, <=, elapsed_ms / 100 + 3);
      g_assert_cmpuint (run.max_rate, >, 0);
      g_assert_cmpint (run.max_eta, >=, 0);
      g_assert_cmpstr (ferry_transfer_get_current_file (run.receiver), ==,
                       ferry_offer_entry_get_path (ferry_offer_get_entry (offer, 0)));
    }

  /* Every byte went over the wire once: nothing was resumed. */
  g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.sender), ==,
                    ferry_offer_get_total_size (offer));
  g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.receiver), ==,
                    ferry_offer_get_total_size (offer));
  g_assert_cmpuint (ferry_transfer_get_bytes_resumed (run.receiver), ==, 0);
  g_assert_cmpuint (ferry_transfer_get_n_files_done (run.sender), ==,
                    ferry_offer_get_n_files (offer));
  g_assert_cmpuint (ferry_transfer_get_n_files_done (run.receiver), ==,
                    ferry_offer_get_n_files (offer));

  assert_same_tree (fixture->source, fixture->target);
  run_clear (&run);

  ferry_store_close (sender_store);
  ferry_store_close (receiver_store);
  sent = history (fixture->sender_db);
  received = history (fixture->receiver_db);
  g_assert_cmpuint (sent->len, ==, 1);
  g_assert_cmpuint (received->len, ==, 1);
  g_assert_cmpint (((FerryStoreTransfer *) sent->pdata[0])->direction, ==, FERRY_STORE_SEND);
  g_assert_cmpint (((FerryStoreTransfer *) received->pdata[0])->direction, ==,
                   FERRY_STORE_RECEIVE);
  g_assert_cmpint (((FerryStoreTransfer *) sent->pdata[0])->state, ==,
                   FERRY_STORE_TRANSFER_COMPLETED);
  g_assert_cmpint (((FerryStoreTransfer *) received->pdata[0])->state, ==,
                   FERRY_STORE_TRANSFER_COMPLETED);
  g_assert_cmpuint (((FerryStoreTransfer *) received->pdata[0])->total_bytes, ==,
                    ferry_offer_get_total_size (offer));
  g_assert_cmpuint (((FerryStoreTransfer *) received->pdata[0])->n_files, ==,
                    ferry_offer_get_n_files (offer));
}

static void
test_empty_file (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "empty.bin", NULL);
  const char *paths[] = { path, NULL };

  write_text (path, "", 0644);
  send_and_compare (fixture, GPOINTER_TO_INT (data), paths, FALSE, FALSE);
}

static void
test_one_byte (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "one", NULL);
  const char *paths[] = { path, NULL };

  write_text (path, "x", 0755);
  /* Over libnice, the sender is the QUIC server: roles must not matter. */
  send_and_compare (fixture, GPOINTER_TO_INT (data), paths,
                    GPOINTER_TO_INT (data) == TRANSPORT_NICE, FALSE);
}

static void
test_large_file (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "large.bin", NULL);
  const char *paths[] = { path, NULL };

  write_prng_file (path, 200 * 1024 * 1024 + 12345, 0x1234567);
  g_assert_no_errno (g_chmod (path, 0644));
  send_and_compare (fixture, GPOINTER_TO_INT (data), paths, FALSE, TRUE);
}

static void
make_unicode_tree (const char *source,
                   char      **top)
{
  g_autofree char *root = g_build_filename (source, "Fotos ☀ Été", NULL);
  g_autofree char *sub = g_build_filename (root, "日本語", NULL);
  g_autofree char *deeper = g_build_filename (sub, "ünïcödé", NULL);
  g_autofree char *empty = g_build_filename (root, "empty folder", NULL);
  g_autofree char *a = g_build_filename (root, "Ωmega.txt", NULL);
  g_autofree char *b = g_build_filename (sub, "café 🚀.bin", NULL);
  g_autofree char *c = g_build_filename (deeper, "run.sh", NULL);

  g_assert_no_errno (g_mkdir (root, 0755));
  g_assert_no_errno (g_mkdir (sub, 0755));
  g_assert_no_errno (g_mkdir (deeper, 0755));
  g_assert_no_errno (g_mkdir (empty, 0755));
  write_text (a, "Ωmega and alpha\n", 0644);
  write_prng_file (b, 3 * 1024 * 1024 + 17, 42);
  g_assert_no_errno (g_chmod (b, 0644));
  write_text (c, "#!/bin/sh\necho hi\n", 0755);
  *top = g_steal_pointer (&root);
}

static void
test_tree (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *root = NULL;
  g_autofree char *empty = NULL;
  const char *paths[2] = { NULL, NULL };

  make_unicode_tree (fixture->source, &root);
  paths[0] = root;
  send_and_compare (fixture, GPOINTER_TO_INT (data), paths, FALSE, FALSE);

  empty = g_build_filename (fixture->target, "Fotos ☀ Été", "empty folder", NULL);
  g_assert_true (g_file_test (empty, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (count_entries (empty), ==, 0);
}

/* Only folders: nothing to stream, the folders still appear. */
static void
test_folders_only (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *root = g_build_filename (fixture->source, "skeleton", NULL);
  g_autofree char *inner = g_build_filename (root, "bones", NULL);
  g_autofree char *got = g_build_filename (fixture->target, "skeleton", "bones", NULL);
  const char *paths[] = { root, NULL };

  g_assert_no_errno (g_mkdir (root, 0755));
  g_assert_no_errno (g_mkdir (inner, 0755));
  send_and_compare (fixture, TRANSPORT_PIPE, paths, FALSE, FALSE);
  g_assert_true (g_file_test (got, G_FILE_TEST_IS_DIR));
}

static void
test_many_files (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *root = g_build_filename (fixture->source, "many", NULL);
  const char *paths[] = { root, NULL };
  gint64 start;

  g_assert_no_errno (g_mkdir (root, 0755));
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%04u.dat", i);
      g_autofree char *path = g_build_filename (root, name, NULL);
      g_autofree char *text = g_strdup_printf ("%u:%.*s", i, (int) (i % 300),
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789"
                                               "abcdefghijklmnopqrstuvwxyz0123456789");

      write_text (path, i % 7 == 0 ? "" : text, i % 5 == 0 ? 0755 : 0644);
    }

  start = g_get_monotonic_time ();
  send_and_compare (fixture, GPOINTER_TO_INT (data), paths, FALSE, FALSE);
  g_test_message ("2000 files in %.2f s", (g_get_monotonic_time () - start) / 1e6);
}

/* " (1)": names already taken in the target are not touched. */
static void
test_name_taken (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "report.txt", NULL);
  g_autofree char *root = NULL;
  g_autofree char *taken = g_build_filename (fixture->target, "report.txt", NULL);
  g_autofree char *taken_folder = g_build_filename (fixture->target, "Fotos ☀ Été", NULL);
  g_autofree char *got = g_build_filename (fixture->target, "report (1).txt", NULL);
  g_autofree char *got_folder = g_build_filename (fixture->target, "Fotos ☀ Été (1)", NULL);
  g_autofree char *content = NULL;
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(FerryOffer) offer = NULL;
  Run run = { 0 };
  const char *paths[3];

  write_text (path, "the new report\n", 0644);
  make_unicode_tree (fixture->source, &root);
  write_text (taken, "mine, keep it\n", 0600);
  g_assert_no_errno (g_mkdir (taken_folder, 0700));
  paths[0] = path;
  paths[1] = root;
  paths[2] = NULL;
  offer = offer_for (paths);

  run_transfer (&run, link, offer, NULL, NULL, fixture->target, FALSE);
  assert_success (&run);

  g_assert_true (g_file_get_contents (taken, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "mine, keep it\n");
  g_clear_pointer (&content, g_free);
  g_assert_true (g_file_get_contents (got, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "the new report\n");
  g_assert_cmpuint (count_entries (taken_folder), ==, 0);
  assert_same_tree (root, got_folder);
  run_clear (&run);
}

/* Declining and cancelling */

static void
test_decline (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "secret.txt", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
  Run run = { 0 };

  write_text (path, "nobody wants this\n", 0644);
  offer = offer_for (paths);
  run.decline_reason = "Not from strangers, thanks";
  run_transfer (&run, link, offer, NULL, receiver_store, fixture->target, FALSE);

  g_assert_error (run.sender_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_DECLINED);
  g_assert_cmpstr (run.sender_error->message, ==, "Not from strangers, thanks");
  g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_DECLINED);
  g_assert_cmpint (ferry_transfer_get_state (run.sender), ==, FERRY_TRANSFER_STATE_DECLINED);
  g_assert_cmpint (ferry_transfer_get_state (run.receiver), ==, FERRY_TRANSFER_STATE_DECLINED);
  g_assert_true (g_error_matches (ferry_transfer_get_error (run.sender), FERRY_TRANSFER_ERROR,
                                  FERRY_TRANSFER_ERROR_DECLINED));
  g_assert_cmpuint (count_entries (fixture->target), ==, 0);
  run_clear (&run);
}

typedef enum
{
  CANCEL_SENDER,
  CANCEL_RECEIVER,
  CANCEL_RECEIVER_CANCELLABLE,
} CancelKind;

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  CancelKind kind = GPOINTER_TO_INT (data);
  gboolean from_sender = kind == CANCEL_SENDER;
  g_autofree char *path = g_build_filename (fixture->source, "movie.mkv", NULL);
  g_autofree char *final = g_build_filename (fixture->target, "movie.mkv", NULL);
  g_autofree char *partial = g_build_filename (fixture->target, "movie.mkv.ferry-part", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(FerryOffer) offer = NULL;
  GError *local, *remote;
  Run run = { 0 };
  GStatBuf st;

  write_prng_file (path, 120 * 1024 * 1024, 7);
  offer = offer_for (paths);
  run.action = from_sender ? ACT_CANCEL_SENDER : ACT_CANCEL_RECEIVER;
  if (kind == CANCEL_RECEIVER_CANCELLABLE)
    run.receiver_cancellable = g_cancellable_new ();
  run.action_after = 2 * 1024 * 1024;
  run_transfer (&run, link, offer, NULL, NULL, fixture->target, FALSE);
  g_assert_true (run.acted);

  local = from_sender ? run.sender_error : run.receiver_error;
  remote = from_sender ? run.receiver_error : run.sender_error;
  g_assert_error (local, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (remote, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_CANCELLED_BY_PEER);
  if (kind != CANCEL_RECEIVER_CANCELLABLE)
    g_assert_cmpstr (remote->message, ==,
                     from_sender ? "Sender changed their mind" : "Receiver needs the bandwidth");
  g_assert_cmpint (ferry_transfer_get_state (run.sender), ==, FERRY_TRANSFER_STATE_CANCELLED);
  g_assert_cmpint (ferry_transfer_get_state (run.receiver), ==, FERRY_TRANSFER_STATE_CANCELLED);

  /* The partial file stays, not renamed and not complete. */
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  g_assert_no_errno (g_stat (partial, &st));
  g_assert_cmpuint (st.st_size, >=, 2 * 1024 * 1024);
  g_assert_cmpuint (st.st_size, <, 120 * 1024 * 1024);
  g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.receiver), ==, st.st_size);
  run_clear (&run);
}

/* Interruption and resume */

typedef enum
{
  DAMAGE_NONE,
  DAMAGE_REMOVE,
  DAMAGE_CORRUPT,
} Damage;

static void
test_peer_gone_and_resume (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autofree char *root = g_build_filename (fixture->source, "Trip", NULL);
  g_autofree char *big = g_build_filename (root, "video.mp4", NULL);
  g_autofree char *small = g_build_filename (root, "notes.txt", NULL);
  g_autofree char *got_root = g_build_filename (fixture->target, "Trip", NULL);
  const char *paths[] = { root, NULL };
  gsize big_size = 48 * 1024 * 1024 + 999;
  Damage damage = GPOINTER_TO_INT (data);
  guint64 received_first;
  guint64 sent_second;
  guint64 hashed_second;
  guint64 remainder;

  g_assert_no_errno (g_mkdir (root, 0755));
  write_prng_file (big, big_size, 99);
  g_assert_no_errno (g_chmod (big, 0644));
  write_text (small, "remember the sunscreen\n", 0644);

  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, SHORT_IDLE_MS);
    g_autoptr(FerryOffer) offer = offer_for (paths);
    g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
    g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
    Run run = { 0 };

    run.action = ACT_SEVER;
    run.action_after = 12 * FERRY_BLOCK_SIZE;
    run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, FALSE);
    g_assert_true (run.acted);
    g_assert_error (run.sender_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE);
    g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE);
    g_assert_cmpint (run.severed_at, >, 0);
    g_assert_cmpint (run.sender_ended_at - run.severed_at, <, PEER_GONE_DEADLINE_MS * 1000);
    g_assert_cmpint (run.receiver_ended_at - run.severed_at, <, PEER_GONE_DEADLINE_MS * 1000);
    received_first = ferry_transfer_get_bytes_sent_on_wire (run.receiver);
    g_assert_cmpuint (received_first, >=, 3 * FERRY_BLOCK_SIZE);
    g_assert_cmpuint (received_first, <, big_size);
    run_clear (&run);
    ferry_store_close (sender_store);
    ferry_store_close (receiver_store);
  }

  /* Partial data stays where it was; unless someone removes it. */
  {
    g_autofree char *partial = g_build_filename (got_root, "video.mp4.ferry-part", NULL);

    g_assert_true (g_file_test (partial, G_FILE_TEST_IS_REGULAR));
    if (damage == DAMAGE_REMOVE)
      g_assert_no_errno (g_unlink (partial));
    else if (damage == DAMAGE_CORRUPT)
      {
        /* Someone scribbles into the verified part of the partial file. */
        int fd = open (partial, O_WRONLY);

        g_assert_cmpint (fd, >=, 0);
        g_assert_cmpint (pwrite (fd, "scribble", 8, FERRY_BLOCK_SIZE + 10), ==, 8);
        close (fd);
      }
  }

  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
    g_autoptr(FerryOffer) offer = offer_for (paths);
    g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
    g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
    Run run = { 0 };
    guint64 hashed_before = ferry_hasher_get_bytes_hashed ();

    run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, FALSE);
    assert_success (&run);
    hashed_second = ferry_hasher_get_bytes_hashed () - hashed_before;

    /* Only the missing remainder travelled: what the first run did not
     * write, plus at most the one block that was not yet whole.
     */
    sent_second = ferry_transfer_get_bytes_sent_on_wire (run.sender);
    if (damage != DAMAGE_NONE)
      {
        /* Nothing sound to resume from: the big file starts over, the
         * finished small one is not sent again.
         */
        g_assert_cmpuint (sent_second, ==, big_size);
        g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.receiver), ==, big_size);
        run_clear (&run);
        assert_same_tree (fixture->source, fixture->target);
        return;
      }
    remainder = ferry_offer_get_total_size (offer) - received_first;
    g_test_message ("first run wrote %" G_GUINT64_FORMAT ", second sent %" G_GUINT64_FORMAT
                    " of %" G_GUINT64_FORMAT, received_first, sent_second,
                    ferry_offer_get_total_size (offer));
    g_assert_cmpuint (sent_second, >=, remainder);
    g_assert_cmpuint (sent_second, <, remainder + FERRY_BLOCK_SIZE);
    g_assert_cmpuint (ferry_transfer_get_bytes_resumed (run.receiver), ==,
                      ferry_offer_get_total_size (offer) - sent_second);
    g_assert_cmpuint (ferry_transfer_get_bytes_resumed (run.sender), ==,
                      ferry_offer_get_total_size (offer) - sent_second);
    g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.receiver), ==, sent_second);
    /* One hash pass per byte of the big file on each side: the sender read
     * the resumed blocks once to check the receiver's claims (not again to
     * send), the receiver re-read its partial file once; the small file,
     * complete, not at all. */
    g_assert_cmpuint (hashed_second, ==, 2 * (guint64) big_size);
    run_clear (&run);
  }

  /* Resumed into the same folder, not "Trip (1)", as the same transfer. */
  assert_same_tree (fixture->source, fixture->target);
  {
    g_autoptr(GPtrArray) received = history (fixture->receiver_db);

    g_assert_cmpuint (received->len, ==, 1);
    g_assert_cmpint (((FerryStoreTransfer *) received->pdata[0])->state, ==,
                     FERRY_STORE_TRANSFER_COMPLETED);
  }
}

static void
test_modified_between_attempts (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *root = g_build_filename (fixture->source, "Work", NULL);
  g_autofree char *big = g_build_filename (root, "data.bin", NULL);
  g_autofree char *small = g_build_filename (root, "a.txt", NULL);
  const char *paths[] = { root, NULL };
  gsize new_size = 20 * 1024 * 1024 + 5;

  g_assert_no_errno (g_mkdir (root, 0755));
  write_prng_file (big, 24 * 1024 * 1024, 1);
  g_assert_no_errno (g_chmod (big, 0644));
  write_text (small, "small and quick\n", 0644);

  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, SHORT_IDLE_MS);
    g_autoptr(FerryOffer) offer = offer_for (paths);
    g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
    g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
    Run run = { 0 };

    run.action = ACT_SEVER;
    run.action_after = 8 * FERRY_BLOCK_SIZE;
    run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, FALSE);
    g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PEER_GONE);
    /* The small file made it. */
    g_assert_cmpuint (ferry_transfer_get_n_files_done (run.receiver), ==, 1);
    run_clear (&run);
    ferry_store_close (sender_store);
    ferry_store_close (receiver_store);
  }

  /* The big file changes on the sender before the second attempt, and so
   * does the finished small one, keeping its size. */
  write_prng_file (big, new_size, 2);
  write_text (small, "small and QUICK\n", 0644);

  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
    g_autoptr(FerryOffer) offer = offer_for (paths);
    g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
    g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
    Run run = { 0 };

    run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, FALSE);
    assert_success (&run);
    /* Both sent again in full: nothing was hashed for the offer, but any
     * write changes a file's version. */
    g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.sender), ==,
                      new_size + strlen ("small and QUICK\n"));
    g_assert_cmpuint (ferry_transfer_get_bytes_resumed (run.receiver), ==, 0);
    run_clear (&run);
  }

  /* The new small file lands beside the old one, which is never replaced. */
  {
    g_autofree char *kept = g_build_filename (fixture->target, "Work", "a.txt", NULL);
    g_autofree char *beside = g_build_filename (fixture->target, "Work", "a (1).txt", NULL);
    g_autofree char *got_kept = NULL;
    g_autofree char *got_beside = NULL;

    g_assert_true (g_file_get_contents (kept, &got_kept, NULL, NULL));
    g_assert_true (g_file_get_contents (beside, &got_beside, NULL, NULL));
    g_assert_cmpstr (got_kept, ==, "small and quick\n");
    g_assert_cmpstr (got_beside, ==, "small and QUICK\n");
    g_assert_no_errno (g_unlink (kept));
    g_assert_no_errno (g_rename (beside, kept));
  }
  assert_same_tree (fixture->source, fixture->target);
}

/* One hash pass per byte (issue 12): the offer reads nothing, and then
 * each side hashes each byte once, the sender as it reads, the receiver as
 * it writes. Both sides are in this process, so the count is both. */
static void
test_one_hash_pass (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "blocks.bin", NULL);
  g_autofree char *small = g_build_filename (fixture->source, "small.txt", NULL);
  const char *paths[] = { path, small, NULL };
  gsize size = 9 * FERRY_BLOCK_SIZE + 321;
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(FerryStore) sender_store = ferry_test_open_store (fixture->sender_db, NULL);
  g_autoptr(FerryStore) receiver_store = ferry_test_open_store (fixture->receiver_db, NULL);
  guint64 before;
  Run run = { 0 };

  write_prng_file (path, size, 77);
  write_text (small, "tiny\n", 0644);
  before = ferry_hasher_get_bytes_hashed ();
  offer = offer_for (paths);
  g_assert_cmpuint (ferry_hasher_get_bytes_hashed (), ==, before);
  g_assert_cmpuint (ferry_offer_get_total_size (offer), ==, size + strlen ("tiny\n"));

  run_transfer (&run, link, offer, sender_store, receiver_store, fixture->target, FALSE);
  assert_success (&run);
  /* The receiver saw the offer before a byte was hashed. */
  g_assert_true (run.offered);
  g_assert_cmpuint (run.hashed_at_offer, ==, before);
  g_assert_cmpuint (ferry_hasher_get_bytes_hashed () - before, ==,
                    2 * ferry_offer_get_total_size (offer));
  assert_same_tree (fixture->source, fixture->target);
  run_clear (&run);
}

/* Both sides report the change and nothing lands. */
static void
assert_changed_on_sender (Run        *run,
                          const char *final)
{
  g_assert_error (run->sender_error, FERRY_TRANSFER_ERROR,
                  FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER);
  g_assert_error (run->receiver_error, FERRY_TRANSFER_ERROR,
                  FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER);
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  run_clear (run);
}

/* Nothing was hashed for the offer, so a file rewritten after it (same
 * size, its time set back) is caught by what the sender checks when it
 * opens the file: the inode and change time. */
static void
test_changed_after_offer (Fixture       *fixture,
                          gconstpointer  data)
{
  struct stat st;
  struct timespec times[2];
  Run run = { 0 };
  g_autofree char *path = g_build_filename (fixture->source, "swapped.bin", NULL);
  g_autofree char *final = g_build_filename (fixture->target, "swapped.bin", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);

  /* The offer is made of the first contents; the second are sent. */
  write_prng_file (path, 3 * FERRY_BLOCK_SIZE, 5);
  offer = offer_for (paths);
  g_assert_no_errno (stat (path, &st));
  write_prng_file (path, 3 * FERRY_BLOCK_SIZE, 6);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  g_assert_no_errno (utimensat (AT_FDCWD, path, times, 0));

  run_transfer (&run, link, offer, NULL, NULL, fixture->target, FALSE);
  assert_changed_on_sender (&run, final);
}

/* A file that changes while it is sent. */
static void
on_state_modify (FerryTransfer *transfer,
                 GParamSpec    *pspec,
                 const char    *path)
{
  if (ferry_transfer_get_state (transfer) == FERRY_TRANSFER_STATE_TRANSFERRING)
    write_prng_file (path, 40 * 1024 * 1024, 2001);
}

static void
test_changed_while_sending (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "live.log", NULL);
  g_autofree char *final = g_build_filename (fixture->target, "live.log", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(FerryOffer) offer = NULL;
  Run run = { 0 };

  write_prng_file (path, 40 * 1024 * 1024, 1001);
  offer = offer_for (paths);
  run.link = link;
  run.sender = ferry_transfer_new_sender (link->client, offer, NULL);
  {
    g_autoptr(GFile) folder = g_file_new_for_path (fixture->target);

    run.receiver = ferry_transfer_new_receiver (link->server, NULL, folder);
  }
  g_signal_connect (run.sender, "notify::state", G_CALLBACK (on_state_modify), path);
  g_signal_connect (run.receiver, "offer-received", G_CALLBACK (offer_received_cb), &run);
  ferry_transfer_run_async (run.receiver, NULL, receiver_done_cb, &run);
  ferry_transfer_run_async (run.sender, NULL, sender_done_cb, &run);
  g_assert_true (ferry_test_wait_until (both_done, &run, RUN_TIMEOUT_MS));

  assert_changed_on_sender (&run, final);
}

/* Hostile senders: raw protocol bytes over a real connection. */

static GBytes *
frame (guint8      kind,
       const char *payload,
       gsize       len)
{
  GByteArray *array = g_byte_array_new ();
  guint32 be_len = GUINT32_TO_BE ((guint32) len);

  g_byte_array_append (array, (const guint8 *) &be_len, 4);
  g_byte_array_append (array, &kind, 1);
  g_byte_array_append (array, (const guint8 *) payload, len);
  return g_byte_array_free_to_bytes (array);
}

static gint64
raw_offer (FerryQuicConnection *quic,
           const char          *json,
           gsize                len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) preamble = NULL;
  g_autoptr(GBytes) offer = frame (FERRY_TRANSFER_FRAME_OFFER, json, len);
  guint8 head[FERRY_TRANSFER_PREAMBLE_SIZE];
  guint32 version = GUINT32_TO_BE (FERRY_TRANSFER_PROTOCOL_VERSION);
  gint64 id = ferry_quic_connection_open_stream (quic, &error);

  g_assert_no_error (error);
  memcpy (head, FERRY_TRANSFER_PREAMBLE, 8);
  memcpy (head + 8, &version, 4);
  preamble = g_bytes_new (head, sizeof head);
  g_assert_true (ferry_quic_connection_stream_write (quic, id, preamble, FALSE, &error));
  g_assert_true (ferry_quic_connection_stream_write (quic, id, offer, FALSE, &error));
  g_assert_no_error (error);
  return id;
}

/* The target, and the folder around it, hold exactly what they held. */
static void
assert_nothing_written (Fixture *fixture)
{
  g_assert_cmpuint (count_entries (fixture->target), ==, 0);
  g_assert_cmpuint (count_entries (fixture->dir), ==, 2);   /* source, target */
}

static gboolean
receiver_done (gpointer user_data)
{
  return ((Run *) user_data)->receiver_done;
}

static void
expect_hostile (Fixture    *fixture,
                const char *json,
                gsize       len,
                int         code)
{
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(GFile) folder = g_file_new_for_path (fixture->target);
  Run run = { 0 };

  run.link = link;
  run.receiver = ferry_transfer_new_receiver (link->server, NULL, folder);
  g_signal_connect (run.receiver, "offer-received", G_CALLBACK (offer_received_cb), &run);
  ferry_transfer_run_async (run.receiver, NULL, receiver_done_cb, &run);
  raw_offer (link->client, json, len);
  g_assert_true (ferry_test_wait_until (receiver_done, &run, RUN_TIMEOUT_MS));
  g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, code);
  g_assert_false (run.offered);
  assert_nothing_written (fixture);
  run_clear (&run);
}

#define CID "0000000000000000000000000000000000000000000000000000000000000000"

static char *
one_file_offer (const char *path_json)
{
  return g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[{\"path\":%s,\"type\":\"file\","
                          "\"size\":3,\"content_id\":\"" CID "\",\"mode\":420,\"mtime\":0}]}",
                          path_json);
}

static void
test_hostile_names (Fixture       *fixture,
                    gconstpointer  data)
{
  const char *names[] = {
    "\"/etc/passwd\"",
    "\"../escape.txt\"",
    "\"a/../../escape.txt\"",
    "\"nul\\u0000byte\"",
    "\"CON\"",
    "\"x.ferry-part\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *json = one_file_offer (names[i]);

      g_test_message ("offer with path %s", names[i]);
      expect_hostile (fixture, json, strlen (json), FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
    }

  /* Not even JSON. */
  expect_hostile (fixture, "\xff\xfe garbage", 11, FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
}

static void
test_hostile_million (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GString) json = g_string_sized_new (48 * 1000 * 1000);

  g_string_append (json, "{\"ferry-offer\":1,\"entries\":[");
  for (guint i = 0; i < 1000000; i++)
    g_string_append_printf (json, "%s{\"path\":\"d%u\",\"type\":\"folder\"}", i ? "," : "", i);
  g_string_append (json, "]}");
  expect_hostile (fixture, json->str, json->len, FERRY_TRANSFER_ERROR_HOSTILE_OFFER);
}

static gboolean
receiver_transferring (gpointer user_data)
{
  return ferry_transfer_get_state (user_data) == FERRY_TRANSFER_STATE_TRANSFERRING;
}

/* A sender that lies about a file's size. */
static void
test_size_lie (Fixture       *fixture,
               gconstpointer  data)
{
  gboolean more = GPOINTER_TO_INT (data);
  g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);
  g_autoptr(GFile) folder = g_file_new_for_path (fixture->target);
  g_autofree char *json = NULL;
  g_autofree guint8 *content = g_malloc (1000 + 100);
  g_autofree char *cid = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) header_bytes = NULL;
  g_autoptr(GBytes) payload = NULL;
  guint8 header[FERRY_TRANSFER_FILE_HEADER_SIZE] = { 0 };
  g_autofree char *path = g_build_filename (fixture->dir, "lie.src", NULL);
  Run run = { 0 };
  gint64 stream;

  memset (content, 'L', 1100);
  g_file_set_contents (path, (const char *) content, 1000, &error);
  g_assert_no_error (error);
  cid = content_id_of (path);
  g_assert_no_errno (g_unlink (path));
  json = g_strdup_printf ("{\"ferry-offer\":1,\"entries\":[{\"path\":\"lie.txt\","
                          "\"type\":\"file\",\"size\":1000,\"content_id\":\"%s\","
                          "\"mode\":420,\"mtime\":0}]}", cid);

  run.link = link;
  run.receiver = ferry_transfer_new_receiver (link->server, NULL, folder);
  g_signal_connect (run.receiver, "offer-received", G_CALLBACK (offer_received_cb), &run);
  ferry_transfer_run_async (run.receiver, NULL, receiver_done_cb, &run);
  raw_offer (link->client, json, strlen (json));
  g_assert_true (ferry_test_wait_until (receiver_transferring, run.receiver, RUN_TIMEOUT_MS));

  stream = ferry_quic_connection_open_stream (link->client, &error);
  g_assert_no_error (error);
  header_bytes = g_bytes_new (header, sizeof header);
  payload = g_bytes_new (content, more ? 1100 : 900);
  g_assert_true (ferry_quic_connection_stream_write (link->client, stream, header_bytes, FALSE,
                                                     &error));
  g_assert_true (ferry_quic_connection_stream_write (link->client, stream, payload, TRUE,
                                                     &error));
  g_assert_no_error (error);

  g_assert_true (ferry_test_wait_until (receiver_done, &run, RUN_TIMEOUT_MS));
  g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_VERIFY_FAILED);
  /* Nothing landed under the offered name, nothing outside the target. */
  {
    g_autofree char *final = g_build_filename (fixture->target, "lie.txt", NULL);

    g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
    g_assert_cmpuint (count_entries (fixture->dir), ==, 2);
  }
  run_clear (&run);
}

/* A full disk: a small tmpfs as the target. */

static gboolean
mount_small_tmpfs (const char *path,
                   const char *size)
{
  g_autofree char *options = g_strdup_printf ("size=%s,mode=0755", size);

  if (mount ("ferry-test", path, "tmpfs", 0, options) != 0)
    {
      g_test_skip_printf ("SKIP: cannot mount a tmpfs for the disk-full test: %s",
                          g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* Lazily: a worker thread may still be letting go of its folder. */
static void
unmount_tmpfs (const char *path)
{
  g_assert_no_errno (umount2 (path, MNT_DETACH));
}

static void
test_no_space_upfront (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "too-big.bin", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(FerryOffer) offer = NULL;
  Run run = { 0 };

  if (!mount_small_tmpfs (fixture->target, "4m"))
    return;

  write_prng_file (path, 8 * 1024 * 1024, 5);
  offer = offer_for (paths);
  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);

    run_transfer (&run, link, offer, NULL, NULL, fixture->target, FALSE);
  }
  g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_NO_SPACE);
  g_assert_error (run.sender_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_NO_SPACE);
  /* The sender reads the receiver's own explanation. */
  g_assert_cmpstr (run.sender_error->message, ==, run.receiver_error->message);
  g_assert_nonnull (strstr (run.sender_error->message, "free on the disk"));
  g_assert_cmpuint (count_entries (fixture->target), ==, 0);
  g_assert_cmpuint (ferry_transfer_get_bytes_sent_on_wire (run.sender), ==, 0);
  run_clear (&run);
  unmount_tmpfs (fixture->target);
}

static void
test_no_space_midway (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->source, "fits.bin", NULL);
  g_autofree char *partial = g_build_filename (fixture->target, "fits.bin.ferry-part", NULL);
  g_autofree char *final = g_build_filename (fixture->target, "fits.bin", NULL);
  const char *paths[] = { path, NULL };
  g_autoptr(FerryOffer) offer = NULL;
  Run run = { 0 };

  if (!mount_small_tmpfs (fixture->target, "16m"))
    return;

  write_prng_file (path, 12 * 1024 * 1024, 6);
  offer = offer_for (paths);
  run.action = ACT_FILL_DISK;
  run.fill_path = g_build_filename (fixture->target, "filler", NULL);
  {
    g_autoptr(Link) link = link_new (TRANSPORT_PIPE, 0);

    run_transfer (&run, link, offer, NULL, NULL, fixture->target, FALSE);
  }
  g_assert_true (run.acted);
  g_assert_error (run.receiver_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_NO_SPACE);
  g_assert_error (run.sender_error, FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_NO_SPACE);
  g_assert_true (g_file_test (partial, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  run_clear (&run);
  g_assert_no_errno (g_unlink (partial));
  unmount_tmpfs (fixture->target);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

#define ADD(path, data, func) \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)

  ADD ("/transfer/pipe/empty-file", GINT_TO_POINTER (TRANSPORT_PIPE), test_empty_file);
  ADD ("/transfer/pipe/one-byte", GINT_TO_POINTER (TRANSPORT_PIPE), test_one_byte);
  ADD ("/transfer/pipe/large-file", GINT_TO_POINTER (TRANSPORT_PIPE), test_large_file);
  ADD ("/transfer/pipe/tree", GINT_TO_POINTER (TRANSPORT_PIPE), test_tree);
  ADD ("/transfer/pipe/folders-only", NULL, test_folders_only);
  ADD ("/transfer/pipe/many-files", GINT_TO_POINTER (TRANSPORT_PIPE), test_many_files);
  ADD ("/transfer/pipe/name-taken", NULL, test_name_taken);
  ADD ("/transfer/pipe/decline", NULL, test_decline);
  ADD ("/transfer/pipe/cancel-by-sender", GINT_TO_POINTER (CANCEL_SENDER), test_cancel);
  ADD ("/transfer/pipe/cancel-by-receiver", GINT_TO_POINTER (CANCEL_RECEIVER), test_cancel);
  ADD ("/transfer/pipe/cancel-by-cancellable", GINT_TO_POINTER (CANCEL_RECEIVER_CANCELLABLE),
       test_cancel);
  ADD ("/transfer/pipe/peer-gone-and-resume", GINT_TO_POINTER (DAMAGE_NONE),
       test_peer_gone_and_resume);
  ADD ("/transfer/pipe/resume-partial-removed", GINT_TO_POINTER (DAMAGE_REMOVE),
       test_peer_gone_and_resume);
  ADD ("/transfer/pipe/resume-partial-damaged", GINT_TO_POINTER (DAMAGE_CORRUPT),
       test_peer_gone_and_resume);
  ADD ("/transfer/pipe/modified-between-attempts", NULL, test_modified_between_attempts);
  ADD ("/transfer/pipe/changed-while-sending", NULL, test_changed_while_sending);
  ADD ("/transfer/pipe/changed-after-offer", NULL, test_changed_after_offer);
  ADD ("/transfer/pipe/one-hash-pass", NULL, test_one_hash_pass);
  ADD ("/transfer/pipe/hostile-names", NULL, test_hostile_names);
  ADD ("/transfer/pipe/hostile-million-entries", NULL, test_hostile_million);
  ADD ("/transfer/pipe/size-lie-more", GINT_TO_POINTER (TRUE), test_size_lie);
  ADD ("/transfer/pipe/size-lie-fewer", GINT_TO_POINTER (FALSE), test_size_lie);
  ADD ("/transfer/pipe/no-space-upfront", NULL, test_no_space_upfront);
  ADD ("/transfer/pipe/no-space-midway", NULL, test_no_space_midway);
  ADD ("/transfer/nice/one-byte", GINT_TO_POINTER (TRANSPORT_NICE), test_one_byte);
  ADD ("/transfer/nice/tree", GINT_TO_POINTER (TRANSPORT_NICE), test_tree);

  return g_test_run ();
}
