/* test-quic.c
 *
 * FerryQuicConnection between two real endpoints on one main context: over an
 * in-process datagram pipe (which can drop, reorder and block) and over two
 * real libnice agents on loopback.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>
#include <sodium.h>

#include "ferry-quic.h"
#include "ferry-test-nice.h"
#include "ferry-test-utils.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define TRANSFER_TIMEOUT_MS 45000
#define BULK_SIZE (50 * 1024 * 1024)
#define WRITE_CHUNK (256 * 1024)

/* Datagram pipe */

typedef struct _Pipe Pipe;

typedef struct
{
  Pipe                *pipe;
  FerryQuicConnection *to;        /* unowned: who receives what this end sends */
  FerryQuicConnection *from;      /* unowned: who sends into it */
  GQueue               queue;     /* GBytes in flight */
  gboolean             blocked;
} Lane;

struct _Pipe
{
  Lane     lanes[2];
  GSource *deliver;
  guint    capacity;        /* datagrams a lane holds before the sender would block */
  guint    loss_percent;
  guint    reorder_percent;
  guint64  prng;
  gboolean severed;
  guint64  dropped;
  guint64  reordered;
  guint64  would_block;
};

/* A fixed xorshift sequence, so a lossy run loses the same datagrams each time. */
static guint
pipe_random_percent (Pipe *pipe)
{
  pipe->prng ^= pipe->prng << 13;
  pipe->prng ^= pipe->prng >> 7;
  pipe->prng ^= pipe->prng << 17;
  return (guint) (pipe->prng % 100);
}

static gboolean
pipe_deliver (gpointer user_data)
{
  Pipe *pipe = user_data;

  for (guint i = 0; i < 2; i++)
    {
      Lane *lane = &pipe->lanes[i];

      /* Deliver a bounded batch per lane so both directions interleave. */
      for (guint n = 0; n < 32 && lane->queue.head != NULL; n++)
        {
          g_autoptr(GBytes) datagram = g_queue_pop_head (&lane->queue);
          gsize len;
          const guint8 *data = g_bytes_get_data (datagram, &len);

          if (!pipe->severed && lane->to != NULL)
            ferry_quic_connection_receive_datagram (lane->to, data, len);
        }

      if (lane->blocked && lane->queue.length < pipe->capacity / 2 && lane->from != NULL)
        {
          lane->blocked = FALSE;
          ferry_quic_connection_datagram_writable (lane->from);
        }
    }

  if (pipe->lanes[0].queue.head == NULL && pipe->lanes[1].queue.head == NULL)
    g_source_set_ready_time (pipe->deliver, -1);

  return G_SOURCE_CONTINUE;
}

static gboolean
pipe_send (const guint8 *data,
           gsize         len,
           gpointer      user_data)
{
  Lane *lane = user_data;
  Pipe *pipe = lane->pipe;
  GBytes *datagram;

  g_assert_cmpuint (len, >=, 1);
  g_assert_cmpuint (len, <=, 1452);
  /* The ICE session carries only datagrams with the QUIC bit set (ferry-ice-session.h):
   * ngtcp2 must never grease it away, on either side of any connection. */
  g_assert_cmphex (data[0] & 0x40, ==, 0x40);

  if (lane->queue.length >= pipe->capacity)
    {
      lane->blocked = TRUE;
      pipe->would_block++;
      return FALSE;
    }

  g_source_set_ready_time (pipe->deliver, 0);

  if (pipe->loss_percent > 0 && pipe_random_percent (pipe) < pipe->loss_percent)
    {
      pipe->dropped++;
      return TRUE;
    }

  datagram = g_bytes_new (data, len);
  if (pipe->reorder_percent > 0 && lane->queue.tail != NULL
      && pipe_random_percent (pipe) < pipe->reorder_percent)
    {
      g_queue_insert_before (&lane->queue, lane->queue.tail, datagram);
      pipe->reordered++;
    }
  else
    {
      g_queue_push_tail (&lane->queue, datagram);
    }

  return TRUE;
}

static gboolean
pipe_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs pipe_source_funcs = { .dispatch = pipe_dispatch };

static Pipe *
pipe_new (FerryQuicConnection *a,
          FerryQuicConnection *b)
{
  Pipe *pipe = g_new0 (Pipe, 1);

  pipe->capacity = 256;
  pipe->prng = 0x9e3779b97f4a7c15;
  pipe->lanes[0] = (Lane) { .pipe = pipe, .to = b, .from = a };
  pipe->lanes[1] = (Lane) { .pipe = pipe, .to = a, .from = b };
  pipe->deliver = g_source_new (&pipe_source_funcs, sizeof (GSource));
  g_source_set_callback (pipe->deliver, pipe_deliver, pipe, NULL);
  g_source_set_ready_time (pipe->deliver, -1);
  g_source_attach (pipe->deliver, NULL);

  ferry_quic_connection_set_send_func (a, pipe_send, &pipe->lanes[0], NULL);
  ferry_quic_connection_set_send_func (b, pipe_send, &pipe->lanes[1], NULL);

  return pipe;
}

static void
pipe_free (Pipe *pipe)
{
  for (guint i = 0; i < 2; i++)
    g_queue_clear_full (&pipe->lanes[i].queue, (GDestroyNotify) g_bytes_unref);
  g_source_destroy (pipe->deliver);
  g_source_unref (pipe->deliver);
  g_free (pipe);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pipe, pipe_free)

/* One end: its connection and what it saw */

typedef struct
{
  GChecksum *checksum;
  guint64    received;
  gboolean   fin;
} Incoming;

typedef struct
{
  FerryQuicConnection *conn;
  gint64               stream_id;
  GBytes              *data;
  gsize                offset;
  gboolean             fin_written;
} Outgoing;

typedef struct
{
  FerryQuicConnection *conn;
  gboolean             handshake_done;
  GError              *handshake_error;
  gboolean             closed;
  GError              *closed_error;
  GHashTable          *incoming;       /* stream id → Incoming */
  guint                n_fin;
  GPtrArray           *outgoing;
  gboolean             reply_fin;      /* end our half of a stream once the peer ended theirs */
  gboolean             hold_credit;    /* do not consume received bytes yet */
  guint64              held;
  guint                n_closed;
  GArray              *resets;         /* Reset */
  gboolean             streams_available;
} Peer;

typedef struct
{
  gint64  stream_id;
  guint64 code;
} Reset;

static void
incoming_free (gpointer data)
{
  Incoming *in = data;

  g_checksum_free (in->checksum);
  g_free (in);
}

static void
outgoing_free (gpointer data)
{
  Outgoing *out = data;

  g_bytes_unref (out->data);
  g_free (out);
}

static void
on_stream_data (FerryQuicConnection *conn,
                gint64               stream_id,
                gconstpointer        data,
                guint64              len,
                gboolean             fin,
                Peer                *peer)
{
  Incoming *in = g_hash_table_lookup (peer->incoming, &stream_id);

  if (in == NULL)
    {
      gint64 *key = g_new (gint64, 1);

      *key = stream_id;
      in = g_new0 (Incoming, 1);
      in->checksum = g_checksum_new (G_CHECKSUM_SHA256);
      g_hash_table_insert (peer->incoming, key, in);
    }

  g_assert_false (in->fin);
  g_checksum_update (in->checksum, data, (gssize) len);
  in->received += len;
  if (peer->hold_credit)
    peer->held += len;
  else
    ferry_quic_connection_stream_consume (conn, stream_id, len);
  if (fin)
    {
      in->fin = TRUE;
      peer->n_fin++;
      if (peer->reply_fin)
        {
          g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
          g_autoptr(GError) error = NULL;

          g_assert_true (ferry_quic_connection_stream_write (conn, stream_id, empty, TRUE,
                                                             &error));
          g_assert_no_error (error);
        }
    }
}

static void
on_stream_closed (FerryQuicConnection *conn,
                  gint64               stream_id,
                  guint64              code,
                  Peer                *peer)
{
  peer->n_closed++;
}

static void
on_stream_reset (FerryQuicConnection *conn,
                 gint64               stream_id,
                 guint64              code,
                 Peer                *peer)
{
  Reset reset = { stream_id, code };

  g_array_append_val (peer->resets, reset);
}

static void
on_streams_available (FerryQuicConnection *conn,
                      Peer                *peer)
{
  peer->streams_available = TRUE;
}

static void
on_closed (FerryQuicConnection *conn,
           const GError        *error,
           Peer                *peer)
{
  g_assert_false (peer->closed);
  peer->closed = TRUE;
  peer->closed_error = error != NULL ? g_error_copy (error) : NULL;
}

static void
on_handshake (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Peer *peer = user_data;

  ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result,
                                          &peer->handshake_error);
  peer->handshake_done = TRUE;
}

static void
outgoing_pump (Outgoing *out)
{
  gsize total = g_bytes_get_size (out->data);

  while (!out->fin_written
         && ferry_quic_connection_stream_is_writable (out->conn, out->stream_id))
    {
      gsize n = MIN (WRITE_CHUNK, total - out->offset);
      g_autoptr(GBytes) chunk = g_bytes_new_from_bytes (out->data, out->offset, n);
      g_autoptr(GError) error = NULL;
      gboolean fin = out->offset + n == total;

      g_assert_true (ferry_quic_connection_stream_write (out->conn, out->stream_id, chunk, fin,
                                                         &error));
      g_assert_no_error (error);
      /* Backpressure: a writer that waits for "stream-writable" never has
       * more than the send buffer plus one chunk outstanding. */
      g_assert_cmpuint (ferry_quic_connection_stream_get_buffered (out->conn, out->stream_id),
                        <=, 8 * 1024 * 1024 + WRITE_CHUNK);
      out->offset += n;
      out->fin_written = fin;
    }
}

static void
on_stream_writable (FerryQuicConnection *conn,
                    gint64               stream_id,
                    Peer                *peer)
{
  for (guint i = 0; i < peer->outgoing->len; i++)
    {
      Outgoing *out = g_ptr_array_index (peer->outgoing, i);

      if (out->stream_id == stream_id)
        outgoing_pump (out);
    }
}

static void
peer_init (Peer          *peer,
           FerryQuicRole  role)
{
  g_autoptr(GError) error = NULL;

  memset (peer, 0, sizeof *peer);
  peer->conn = ferry_quic_connection_new (role, &error);
  g_assert_no_error (error);
  g_assert_nonnull (peer->conn);
  g_assert_cmpuint (strlen (ferry_quic_connection_get_local_fingerprint (peer->conn)), ==, 64);
  peer->incoming = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, incoming_free);
  peer->outgoing = g_ptr_array_new_with_free_func (outgoing_free);
  g_signal_connect (peer->conn, "stream-data", G_CALLBACK (on_stream_data), peer);
  g_signal_connect (peer->conn, "stream-writable", G_CALLBACK (on_stream_writable), peer);
  g_signal_connect (peer->conn, "closed", G_CALLBACK (on_closed), peer);
  g_signal_connect (peer->conn, "stream-closed", G_CALLBACK (on_stream_closed), peer);
  g_signal_connect (peer->conn, "stream-reset", G_CALLBACK (on_stream_reset), peer);
  g_signal_connect (peer->conn, "streams-available", G_CALLBACK (on_streams_available), peer);
  peer->resets = g_array_new (FALSE, FALSE, sizeof (Reset));
}

static void
peer_clear (Peer *peer)
{
  g_clear_object (&peer->conn);
  g_clear_error (&peer->handshake_error);
  g_clear_error (&peer->closed_error);
  g_clear_pointer (&peer->incoming, g_hash_table_unref);
  g_clear_pointer (&peer->outgoing, g_ptr_array_unref);
  g_clear_pointer (&peer->resets, g_array_unref);
}

static void
pin_each_other (Peer *client,
                Peer *server)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    client->conn, ferry_quic_connection_get_local_fingerprint (server->conn), &error));
  g_assert_no_error (error);
  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    server->conn, ferry_quic_connection_get_local_fingerprint (client->conn), &error));
  g_assert_no_error (error);
}

static gboolean
both_handshakes_done (gpointer user_data)
{
  Peer **peers = user_data;

  return peers[0]->handshake_done && peers[1]->handshake_done;
}

static void
start_handshakes (Peer *client,
                  Peer *server)
{
  ferry_quic_connection_handshake_async (server->conn, NULL, on_handshake, server);
  ferry_quic_connection_handshake_async (client->conn, NULL, on_handshake, client);
}

static void
handshake (Peer *client,
           Peer *server)
{
  Peer *peers[] = { client, server };

  start_handshakes (client, server);
  g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, HANDSHAKE_TIMEOUT_MS));
  g_assert_no_error (client->handshake_error);
  g_assert_no_error (server->handshake_error);
  g_assert_true (ferry_quic_connection_is_open (client->conn));
  g_assert_true (ferry_quic_connection_is_open (server->conn));
  g_assert_true (ferry_quic_connection_get_peer_verified (client->conn));
  g_assert_true (ferry_quic_connection_get_peer_verified (server->conn));
}

static GBytes *
random_bytes (gsize size)
{
  guint8 *data = g_malloc (MAX (size, 1));

  randombytes_buf (data, size);
  return g_bytes_new_take (data, size);
}

static char *
sha256_of (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

static Outgoing *
send_on_new_stream (Peer   *peer,
                    GBytes *data)
{
  g_autoptr(GError) error = NULL;
  Outgoing *out = g_new0 (Outgoing, 1);

  out->conn = peer->conn;
  out->data = g_bytes_ref (data);
  out->stream_id = ferry_quic_connection_open_stream (peer->conn, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out->stream_id, >=, 0);
  g_ptr_array_add (peer->outgoing, out);

  if (g_bytes_get_size (data) == 0)
    {
      g_assert_true (ferry_quic_connection_stream_write (peer->conn, out->stream_id, data,
                                                         TRUE, &error));
      g_assert_no_error (error);
      out->fin_written = TRUE;
    }
  else
    {
      outgoing_pump (out);
    }

  return out;
}

typedef struct
{
  Peer  *peer;
  guint  n_fin;
} FinWait;

static gboolean
fins_arrived (gpointer user_data)
{
  FinWait *wait = user_data;

  return wait->peer->n_fin >= wait->n_fin || wait->peer->closed;
}

static void
assert_received (Peer     *receiver,
                 Outgoing *out)
{
  Incoming *in = g_hash_table_lookup (receiver->incoming, &out->stream_id);
  g_autofree char *expected = sha256_of (out->data);

  g_assert_nonnull (in);
  g_assert_true (in->fin);
  g_assert_cmpuint (in->received, ==, g_bytes_get_size (out->data));
  g_assert_cmpstr (g_checksum_get_string (in->checksum), ==, expected);
}

/* Sends @size random bytes on one stream and checks they arrive intact. */
static void
transfer_one (Peer  *sender,
              Peer  *receiver,
              gsize  size,
              guint  timeout_ms)
{
  g_autoptr(GBytes) data = random_bytes (size);
  FinWait wait = { receiver, receiver->n_fin + 1 };
  Outgoing *out = send_on_new_stream (sender, data);
  gint64 start = g_get_monotonic_time ();
  double seconds;

  g_assert_true (ferry_test_wait_until (fins_arrived, &wait, timeout_ms));
  g_assert_false (receiver->closed);
  assert_received (receiver, out);
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("%zu bytes in %.2f s: %.1f MB/s", size, seconds, size / seconds / 1e6);
}

/* Fixtures: the same connection pair over the pipe or over libnice */

typedef enum
{
  TRANSPORT_PIPE,
  TRANSPORT_NICE,
} Transport;

typedef struct
{
  Peer               client;
  Peer               server;
  Pipe              *pipe;
  FerryTestNicePair *nice;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  Transport transport = GPOINTER_TO_INT (data);

  peer_init (&fixture->client, FERRY_QUIC_ROLE_CLIENT);
  peer_init (&fixture->server, FERRY_QUIC_ROLE_SERVER);
  if (transport == TRANSPORT_PIPE)
    {
      fixture->pipe = pipe_new (fixture->client.conn, fixture->server.conn);
    }
  else
    {
      fixture->nice = ferry_test_nice_pair_new (10000);
      ferry_test_nice_pair_bind (fixture->nice, fixture->client.conn, fixture->server.conn);
    }
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  peer_clear (&fixture->client);
  peer_clear (&fixture->server);
  g_clear_pointer (&fixture->pipe, pipe_free);
  g_clear_pointer (&fixture->nice, ferry_test_nice_pair_free);
}

static void
test_bulk (Fixture       *fixture,
                gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;

  /* A small pipe makes the sender hit "would block" and resume. */
  if (fixture->pipe != NULL)
    fixture->pipe->capacity = 64;
  pin_each_other (client, server);
  handshake (client, server);

  g_assert_cmpstr (ferry_quic_connection_get_peer_fingerprint (client->conn), ==,
                   ferry_quic_connection_get_local_fingerprint (server->conn));
  g_assert_cmpstr (ferry_quic_connection_get_peer_fingerprint (server->conn), ==,
                   ferry_quic_connection_get_local_fingerprint (client->conn));

  transfer_one (client, server, BULK_SIZE, TRANSFER_TIMEOUT_MS);
  g_assert_false (client->closed);
  if (fixture->pipe != NULL)
    {
      g_test_message ("the sender was told to wait %" G_GUINT64_FORMAT " times",
                      fixture->pipe->would_block);
      g_assert_cmpuint (fixture->pipe->would_block, >, 0);
    }
}

static void
test_many_streams (Fixture       *fixture,
                        gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  GPtrArray *sent[2] = { g_ptr_array_new (), g_ptr_array_new () };
  FinWait wait_server = { server, 20 };
  FinWait wait_client = { client, 20 };

  pin_each_other (client, server);
  handshake (client, server);

  /* 20 streams each way at once, sizes from nothing to a few MB. */
  for (guint i = 0; i < 20; i++)
    {
      gsize size = i == 0 ? 0 : i == 1 ? 1 : (gsize) i * i * 7919 % (3 * 1024 * 1024);
      g_autoptr(GBytes) a = random_bytes (size);
      g_autoptr(GBytes) b = random_bytes (size / 2);

      g_ptr_array_add (sent[0], send_on_new_stream (client, a));
      g_ptr_array_add (sent[1], send_on_new_stream (server, b));
    }

  g_assert_true (ferry_test_wait_until (fins_arrived, &wait_server, TRANSFER_TIMEOUT_MS));
  g_assert_true (ferry_test_wait_until (fins_arrived, &wait_client, TRANSFER_TIMEOUT_MS));
  g_assert_cmpuint (g_hash_table_size (server->incoming), ==, 20);
  g_assert_cmpuint (g_hash_table_size (client->incoming), ==, 20);
  for (guint i = 0; i < 20; i++)
    {
      assert_received (server, g_ptr_array_index (sent[0], i));
      assert_received (client, g_ptr_array_index (sent[1], i));
    }

  g_ptr_array_unref (sent[0]);
  g_ptr_array_unref (sent[1]);
}

static gboolean
both_closed (gpointer user_data)
{
  Peer **peers = user_data;

  return peers[0]->closed && peers[1]->closed;
}

static void
wrong_fingerprint (Fixture  *fixture,
                   gboolean  client_expects_wrong)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  Peer *peers[] = { client, server };
  g_autoptr(FerryQuicConnection) impostor = ferry_quic_connection_new (FERRY_QUIC_ROLE_SERVER,
                                                                        NULL);
  const char *wrong = ferry_quic_connection_get_local_fingerprint (impostor);
  gint64 start;

  pin_each_other (client, server);
  if (client_expects_wrong)
    g_assert_true (ferry_quic_connection_set_peer_fingerprint (client->conn, wrong, NULL));
  else
    g_assert_true (ferry_quic_connection_set_peer_fingerprint (server->conn, wrong, NULL));

  start = g_get_monotonic_time ();
  start_handshakes (client, server);
  g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, 5000));
  g_assert_error (client->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION);
  g_assert_error (server->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION);
  g_test_message ("client: %s; server: %s", client->handshake_error->message,
                  server->handshake_error->message);
  /* Both learn it from the handshake itself, long before any timeout. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  g_assert_true (ferry_test_wait_until (both_closed, peers, 1000));
  g_assert_error (client->closed_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION);
  g_assert_error (server->closed_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION);
  g_assert_false (ferry_quic_connection_is_open (client->conn));
  g_assert_false (ferry_quic_connection_is_open (server->conn));
  if (client_expects_wrong)
    g_assert_false (ferry_quic_connection_get_peer_verified (client->conn));
  else
    g_assert_false (ferry_quic_connection_get_peer_verified (server->conn));
}

static void
test_wrong_fingerprint_client (Fixture       *fixture,
                               gconstpointer  data)
{
  wrong_fingerprint (fixture, TRUE);
}

static void
test_wrong_fingerprint_server (Fixture       *fixture,
                               gconstpointer  data)
{
  wrong_fingerprint (fixture, FALSE);
}

static void
test_peer_close (Fixture       *fixture,
                      gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  g_autofree char *reason = NULL;
  guint64 code = 0;
  g_autoptr(GError) error = NULL;

  pin_each_other (client, server);
  handshake (client, server);

  g_assert_false (ferry_quic_connection_get_peer_close (client->conn, NULL, NULL));
  ferry_quic_connection_close (server->conn, 42, "the user cancelled");
  g_assert_true (server->closed);
  g_assert_null (server->closed_error);
  g_assert_false (ferry_quic_connection_is_open (server->conn));
  g_assert_cmpint (ferry_quic_connection_open_stream (server->conn, &error), ==, -1);
  g_assert_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_NOT_CONNECTED);

  g_assert_true (ferry_test_wait_for_flag (&client->closed, 5000));
  g_assert_error (client->closed_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_CLOSED_BY_PEER);
  g_assert_nonnull (strstr (client->closed_error->message, "the user cancelled"));
  g_assert_true (ferry_quic_connection_get_peer_close (client->conn, &code, &reason));
  g_assert_cmpuint (code, ==, 42);
  g_assert_cmpstr (reason, ==, "the user cancelled");
}

static void
test_pipe_lossy (Fixture       *fixture,
                 gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;

  pin_each_other (client, server);
  fixture->pipe->loss_percent = 5;
  fixture->pipe->reorder_percent = 3;
  handshake (client, server);

  transfer_one (client, server, 8 * 1024 * 1024, TRANSFER_TIMEOUT_MS);
  transfer_one (server, client, 2 * 1024 * 1024, TRANSFER_TIMEOUT_MS);
  g_test_message ("dropped %" G_GUINT64_FORMAT ", reordered %" G_GUINT64_FORMAT,
                  fixture->pipe->dropped, fixture->pipe->reordered);
  g_assert_cmpuint (fixture->pipe->dropped, >, 100);
  g_assert_cmpuint (fixture->pipe->reordered, >, 50);
}

static void
test_pipe_idle_timeout (Fixture       *fixture,
                        gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  Peer *peers[] = { client, server };
  gint64 start, elapsed_ms;

  ferry_quic_connection_set_idle_timeout (client->conn, 1000);
  ferry_quic_connection_set_idle_timeout (server->conn, 1000);
  pin_each_other (client, server);
  handshake (client, server);

  start = g_get_monotonic_time ();
  fixture->pipe->severed = TRUE;
  g_assert_true (ferry_test_wait_until (both_closed, peers, 4000));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("idle close after %" G_GINT64_FORMAT " ms", elapsed_ms);
  g_assert_cmpint (elapsed_ms, >=, 900);
  g_assert_error (client->closed_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_IDLE_TIMEOUT);
  g_assert_error (server->closed_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_IDLE_TIMEOUT);
}

static void
test_pipe_handshake_timeout (Fixture       *fixture,
                             gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  Peer *peers[] = { client, server };

  ferry_quic_connection_set_handshake_timeout (client->conn, 500);
  ferry_quic_connection_set_handshake_timeout (server->conn, 500);
  pin_each_other (client, server);
  fixture->pipe->severed = TRUE;
  start_handshakes (client, server);

  g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, 3000));
  g_assert_error (client->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE);
  g_assert_error (server->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE);
}

static void
test_pipe_junk (Fixture       *fixture,
                gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  guint8 junk[1300];
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_quic_connection_set_peer_fingerprint (client->conn, "zz", &error));
  g_assert_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_FINGERPRINT);
  g_clear_error (&error);
  g_assert_false (ferry_quic_connection_set_peer_fingerprint (client->conn, "abcd", &error));
  g_assert_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_FINGERPRINT);
  pin_each_other (client, server);

  /* Garbage before and after the handshake is ignored, not fatal; so is
   * something that looks like a client's first packet but is not. */
  ferry_quic_connection_handshake_async (server->conn, NULL, on_handshake, server);
  for (guint i = 0; i < 50; i++)
    {
      randombytes_buf (junk, sizeof junk);
      ferry_quic_connection_receive_datagram (server->conn, junk, 1 + i * 25);
    }
  randombytes_buf (junk, sizeof junk);
  junk[0] = 0xc0;                                       /* long header, Initial */
  memcpy (junk + 1, "\x00\x00\x00\x01", 4);            /* QUIC version 1 */
  junk[5] = 8;                                          /* DCID length */
  junk[14] = 8;                                         /* SCID length */
  junk[23] = 0;                                         /* no token */
  junk[24] = 0x40 | (sizeof junk - 26) >> 8;            /* length of the rest */
  junk[25] = (sizeof junk - 26) & 0xff;
  ferry_quic_connection_receive_datagram (server->conn, junk, sizeof junk);
  ferry_quic_connection_handshake_async (client->conn, NULL, on_handshake, client);
  {
    Peer *peers[] = { client, server };

    g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, HANDSHAKE_TIMEOUT_MS));
  }
  g_assert_no_error (client->handshake_error);
  g_assert_no_error (server->handshake_error);

  for (guint i = 0; i < 50; i++)
    {
      randombytes_buf (junk, sizeof junk);
      ferry_quic_connection_receive_datagram (client->conn, junk, 1 + i * 25);
      ferry_quic_connection_receive_datagram (server->conn, junk, 1 + i * 25);
    }

  transfer_one (client, server, 1024 * 1024, TRANSFER_TIMEOUT_MS);
  g_assert_false (client->closed);
  g_assert_false (server->closed);
}

typedef struct
{
  Peer   *peer;
  gint64  stream_id;
} StreamWait;

static const Reset *
find_reset (Peer   *peer,
            gint64  stream_id)
{
  for (guint i = 0; i < peer->resets->len; i++)
    {
      const Reset *reset = &g_array_index (peer->resets, Reset, i);

      if (reset->stream_id == stream_id)
        return reset;
    }

  return NULL;
}

static gboolean
has_reset (gpointer user_data)
{
  StreamWait *wait = user_data;

  return find_reset (wait->peer, wait->stream_id) != NULL;
}

static gboolean
has_incoming (gpointer user_data)
{
  StreamWait *wait = user_data;

  return g_hash_table_contains (wait->peer->incoming, &wait->stream_id);
}

static void
test_stream_reset (Fixture       *fixture,
                   gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  g_autoptr(GBytes) chunk = random_bytes (100 * 1024);
  g_autoptr(GError) error = NULL;
  StreamWait abandoned = { server, -1 };
  StreamWait refused = { client, -1 };
  StreamWait refused_arrived = { server, -1 };
  const Reset *reset;

  pin_each_other (client, server);
  handshake (client, server);

  /* The sender abandons a stream half way. */
  abandoned.stream_id = ferry_quic_connection_open_stream (client->conn, &error);
  g_assert_no_error (error);
  g_assert_true (ferry_quic_connection_stream_write (client->conn, abandoned.stream_id, chunk,
                                                     FALSE, &error));
  g_assert_true (ferry_quic_connection_stream_reset (client->conn, abandoned.stream_id, 77,
                                                     &error));
  g_assert_no_error (error);
  g_assert_false (ferry_quic_connection_stream_write (client->conn, abandoned.stream_id, chunk,
                                                      TRUE, &error));
  g_assert_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_STREAM);
  g_clear_error (&error);

  /* The receiver refuses a stream it does not want. */
  refused.stream_id = ferry_quic_connection_open_stream (client->conn, &error);
  g_assert_no_error (error);
  refused_arrived.stream_id = refused.stream_id;
  g_assert_true (ferry_quic_connection_stream_write (client->conn, refused.stream_id, chunk,
                                                     FALSE, &error));
  g_assert_true (ferry_test_wait_until (has_incoming, &refused_arrived, 5000));
  g_assert_true (ferry_quic_connection_stream_reset (server->conn, refused.stream_id, 88,
                                                     &error));
  g_assert_no_error (error);

  g_assert_true (ferry_test_wait_until (has_reset, &abandoned, 5000));
  g_assert_true (ferry_test_wait_until (has_reset, &refused, 5000));
  reset = find_reset (server, abandoned.stream_id);
  g_assert_cmpuint (reset != NULL ? reset->code : G_MAXUINT64, ==, 77);
  reset = find_reset (client, refused.stream_id);
  g_assert_cmpuint (reset != NULL ? reset->code : G_MAXUINT64, ==, 88);
  g_assert_false (ferry_quic_connection_stream_is_writable (client->conn, refused.stream_id));
  g_assert_false (client->closed);
  g_assert_false (server->closed);
}

typedef struct
{
  Peer *peer;
  guint n_closed;
} ClosedWait;

static gboolean
streams_closed (gpointer user_data)
{
  ClosedWait *wait = user_data;

  return wait->peer->n_closed >= wait->n_closed;
}

/* Far more streams than the peer allows at once: credit comes back as
 * streams close, so a transfer of many small files never stalls. */
static void
test_stream_churn (Fixture       *fixture,
                   gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  g_autoptr(GPtrArray) sent = g_ptr_array_new ();
  ClosedWait client_closed = { client, 400 };
  FinWait server_fins = { server, 400 };
  guint n_blocked = 0;

  server->reply_fin = TRUE;
  pin_each_other (client, server);
  handshake (client, server);

  while (sent->len < 400)
    {
      g_autoptr(GBytes) bytes = random_bytes (1000 + sent->len);
      g_autoptr(GError) error = NULL;
      gint64 id;

      client->streams_available = FALSE;
      id = ferry_quic_connection_open_stream (client->conn, &error);
      if (id < 0)
        {
          g_assert_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_STREAM_LIMIT);
          n_blocked++;
          g_assert_true (ferry_test_wait_for_flag (&client->streams_available, 5000));
          continue;
        }
      g_assert_true (ferry_quic_connection_stream_write (client->conn, id, bytes, TRUE, &error));
      g_assert_no_error (error);
      {
        Outgoing *out = g_new0 (Outgoing, 1);

        out->conn = client->conn;
        out->stream_id = id;
        out->data = g_bytes_ref (bytes);
        out->fin_written = TRUE;
        g_ptr_array_add (client->outgoing, out);
        g_ptr_array_add (sent, out);
      }
    }

  g_assert_cmpuint (n_blocked, >, 0);
  g_assert_true (ferry_test_wait_until (fins_arrived, &server_fins, TRANSFER_TIMEOUT_MS));
  g_assert_true (ferry_test_wait_until (streams_closed, &client_closed, TRANSFER_TIMEOUT_MS));
  for (guint i = 0; i < sent->len; i++)
    assert_received (server, g_ptr_array_index (sent, i));
  /* Every stream is gone on both sides once both halves ended. */
  g_assert_cmpuint (client->n_closed, ==, 400);
}

typedef struct
{
  Peer    *peer;
  guint64  bytes;
} ReceivedWait;

static gboolean
received_at_least (gpointer user_data)
{
  ReceivedWait *wait = user_data;

  return wait->peer->held >= wait->bytes;
}

static gboolean
client_buffered_is (gpointer user_data)
{
  ReceivedWait *wait = user_data;
  Outgoing *out = g_ptr_array_index (wait->peer->outgoing, 0);

  return ferry_quic_connection_stream_get_buffered (wait->peer->conn, out->stream_id)
         == wait->bytes;
}

/* The receiver's window bounds what the sender may send until the receiver
 * hands the credit back. */
static void
test_flow_control (Fixture       *fixture,
                   gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  const guint64 window = 256 * 1024;
  g_autoptr(GBytes) bytes = random_bytes (4 * window);
  ReceivedWait full = { server, window };
  ReceivedWait more = { server, window + 1 };
  FinWait fin = { server, 1 };
  Outgoing *out;

  ferry_quic_connection_set_stream_window (server->conn, window);
  pin_each_other (client, server);
  handshake (client, server);

  server->hold_credit = TRUE;
  out = send_on_new_stream (client, bytes);
  g_assert_true (ferry_test_wait_until (received_at_least, &full, 5000));
  /* Nothing beyond the window arrives while the credit is held. */
  g_assert_false (ferry_test_wait_until (received_at_least, &more, 500));
  g_assert_cmpuint (server->held, ==, window);
  /* The sender released what was acknowledged and holds the rest. */
  g_assert_true (ferry_test_wait_until (client_buffered_is, &(ReceivedWait) { client, 3 * window },
                                        5000));

  server->hold_credit = FALSE;
  ferry_quic_connection_stream_consume (server->conn, out->stream_id, server->held);
  g_assert_true (ferry_test_wait_until (fins_arrived, &fin, TRANSFER_TIMEOUT_MS));
  assert_received (server, out);
}

static gboolean
pipe_is_empty (gpointer user_data)
{
  Pipe *pipe = user_data;

  return pipe->lanes[0].queue.head == NULL && pipe->lanes[1].queue.head == NULL;
}

/* The client's first flight reaches the server before the server starts. */
static void
test_pipe_early_client (Fixture       *fixture,
                        gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  Peer *peers[] = { client, server };

  pin_each_other (client, server);
  ferry_quic_connection_handshake_async (client->conn, NULL, on_handshake, client);
  g_assert_true (ferry_test_wait_until (pipe_is_empty, fixture->pipe, 1000));
  ferry_quic_connection_handshake_async (server->conn, NULL, on_handshake, server);

  /* Well before the client's first retransmission (about a second): the
   * server used the packets that came early. */
  g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, 600));
  g_assert_no_error (client->handshake_error);
  g_assert_no_error (server->handshake_error);
}

/* A quiet connection is kept alive past the idle timeout. */
static void
test_pipe_keep_alive (Fixture       *fixture,
                      gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;

  ferry_quic_connection_set_idle_timeout (client->conn, 600);
  ferry_quic_connection_set_idle_timeout (server->conn, 600);
  pin_each_other (client, server);
  handshake (client, server);

  /* Two and a half idle timeouts without application data. */
  g_assert_false (ferry_test_wait_for_flag (&client->closed, 1500));
  g_assert_false (server->closed);
  transfer_one (client, server, 64 * 1024, TRANSFER_TIMEOUT_MS);
}

/* Closing during the handshake still reads as a close on the other side. */
static void
test_close_during_handshake (Fixture       *fixture,
                             gconstpointer  data)
{
  Peer *client = &fixture->client;
  Peer *server = &fixture->server;
  Peer *peers[] = { client, server };

  pin_each_other (client, server);
  ferry_quic_connection_handshake_async (server->conn, NULL, on_handshake, server);
  ferry_quic_connection_handshake_async (client->conn, NULL, on_handshake, client);
  ferry_quic_connection_close (client->conn, 5, "changed my mind");

  g_assert_true (ferry_test_wait_until (both_handshakes_done, peers, 5000));
  g_assert_error (client->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_NOT_CONNECTED);
  g_assert_error (server->handshake_error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_CLOSED_BY_PEER);
  g_assert_true (client->closed);
  g_assert_null (client->closed_error);
}

static void
test_cancel_handshake (Fixture       *fixture,
                       gconstpointer  data)
{
  Peer *server = &fixture->server;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  pin_each_other (&fixture->client, server);
  ferry_quic_connection_handshake_async (server->conn, cancellable, on_handshake, server);
  g_cancellable_cancel (cancellable);
  g_assert_true (ferry_test_wait_for_flag (&server->handshake_done, 5000));
  g_assert_error (server->handshake_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (server->closed);
  g_assert_false (ferry_quic_connection_is_open (server->conn));
}

static void
add_test (const char    *name,
          Transport      transport,
          void         (*func) (Fixture *, gconstpointer))
{
  g_autofree char *path = g_strdup_printf ("/quic/%s/%s",
                                           transport == TRANSPORT_PIPE ? "pipe" : "nice", name);

  g_test_add (path, Fixture, GINT_TO_POINTER (transport), fixture_setup, func,
              fixture_teardown);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  for (Transport t = TRANSPORT_PIPE; t <= TRANSPORT_NICE; t++)
    {
      add_test ("bulk", t, test_bulk);
      add_test ("many-streams", t, test_many_streams);
      add_test ("wrong-fingerprint/client-rejects", t, test_wrong_fingerprint_client);
      add_test ("wrong-fingerprint/server-rejects", t, test_wrong_fingerprint_server);
      add_test ("peer-close", t, test_peer_close);
      add_test ("stream-reset", t, test_stream_reset);
      add_test ("stream-churn", t, test_stream_churn);
      add_test ("flow-control", t, test_flow_control);
    }
  add_test ("lossy", TRANSPORT_PIPE, test_pipe_lossy);
  add_test ("idle-timeout", TRANSPORT_PIPE, test_pipe_idle_timeout);
  add_test ("handshake-timeout", TRANSPORT_PIPE, test_pipe_handshake_timeout);
  add_test ("junk", TRANSPORT_PIPE, test_pipe_junk);
  add_test ("cancel-handshake", TRANSPORT_PIPE, test_cancel_handshake);
  add_test ("close-during-handshake", TRANSPORT_PIPE, test_close_during_handshake);
  add_test ("early-client", TRANSPORT_PIPE, test_pipe_early_client);
  add_test ("keep-alive", TRANSPORT_PIPE, test_pipe_keep_alive);

  return g_test_run ();
}
