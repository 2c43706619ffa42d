/* bench-quic-loopback.c
 *
 * Throughput of one FerryQuicConnection stream between two real libnice
 * agents on 127.0.0.1, both ends in this process on one main context (so
 * the number is bounded by one core doing both sides' work).
 *
 *   bench-quic-loopback [--size MB] [--cc bbr2|bbr|cubic] [--payload 1200..1452]
 *                       [--link MBIT,RTT_MS,LOSS_PERCENT]
 *
 * With --link the datagrams go through an emulated link in this process
 * instead (a rate-limited, drop-tail queue of one bandwidth-delay product,
 * fixed delay, random loss), to compare with the lab's 100 Mbit/s, 40 ms,
 * 1 % loss measurements of kernel TCP.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "ferry-quic.h"
#include "ferry-test-nice.h"
#include "ferry-test-utils.h"

#define WRITE_CHUNK (256 * 1024)

/* Emulated link */

typedef struct
{
  gint64  arrival;     /* monotonic µs */
  gsize   len;
  guint8  data[1452];
} Packet;

typedef struct _Link Link;

typedef struct
{
  Link                *link;
  FerryQuicConnection *to;
  GQueue               queue;       /* Packet, in arrival order */
  gint64               busy_until;  /* when the bottleneck finishes the last packet */
  gsize                queued_bytes;
} Direction;

struct _Link
{
  Direction  dirs[2];
  GSource   *deliver;
  double     bytes_per_us;
  gint64     one_way_us;
  double     loss;
  gsize      buffer_bytes;
  GRand     *rand;
  guint64    dropped;
};

static void
link_rearm (Link *link)
{
  gint64 next = -1;

  for (guint i = 0; i < 2; i++)
    {
      Packet *head = g_queue_peek_head (&link->dirs[i].queue);

      if (head != NULL && (next < 0 || head->arrival < next))
        next = head->arrival;
    }
  g_source_set_ready_time (link->deliver, next);
}

static gboolean
link_deliver (gpointer user_data)
{
  Link *link = user_data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < 2; i++)
    {
      Direction *dir = &link->dirs[i];
      Packet *packet;

      while ((packet = g_queue_peek_head (&dir->queue)) != NULL && packet->arrival <= now)
        {
          g_queue_pop_head (&dir->queue);
          dir->queued_bytes -= packet->len;
          ferry_quic_connection_receive_datagram (dir->to, packet->data, packet->len);
          g_free (packet);
        }
    }
  link_rearm (link);

  return G_SOURCE_CONTINUE;
}

static gboolean
link_send (const guint8 *data,
           gsize         len,
           gpointer      user_data)
{
  Direction *dir = user_data;
  Link *link = dir->link;
  gint64 now = g_get_monotonic_time ();
  gint64 start;
  Packet *packet;

  if (g_rand_double (link->rand) < link->loss)
    {
      link->dropped++;
      return TRUE;
    }
  /* Drop-tail: what the bottleneck has not sent yet must fit its buffer. */
  if ((double) (dir->busy_until - now) * link->bytes_per_us + len > link->buffer_bytes)
    {
      link->dropped++;
      return TRUE;
    }

  start = MAX (now, dir->busy_until);
  dir->busy_until = start + (gint64) (len / link->bytes_per_us);
  packet = g_malloc (sizeof (Packet));
  packet->arrival = dir->busy_until + link->one_way_us;
  packet->len = len;
  memcpy (packet->data, data, len);
  g_queue_push_tail (&dir->queue, packet);
  dir->queued_bytes += len;
  link_rearm (link);

  return TRUE;
}

static gboolean
link_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs link_source_funcs = { .dispatch = link_dispatch };

static Link *
link_new (FerryQuicConnection *client,
          FerryQuicConnection *server,
          double               mbit,
          double               rtt_ms,
          double               loss_percent)
{
  Link *link = g_new0 (Link, 1);

  link->bytes_per_us = mbit / 8.0;
  link->one_way_us = (gint64) (rtt_ms * 1000 / 2);
  link->loss = loss_percent / 100.0;
  link->buffer_bytes = MAX ((gsize) (link->bytes_per_us * rtt_ms * 1000), 64 * 1024);
  link->rand = g_rand_new_with_seed (4242);
  link->dirs[0] = (Direction) { .link = link, .to = server };
  link->dirs[1] = (Direction) { .link = link, .to = client };
  link->deliver = g_source_new (&link_source_funcs, sizeof (GSource));
  g_source_set_callback (link->deliver, link_deliver, link, NULL);
  g_source_attach (link->deliver, NULL);
  ferry_quic_connection_set_send_func (client, link_send, &link->dirs[0], NULL);
  ferry_quic_connection_set_send_func (server, link_send, &link->dirs[1], NULL);

  return link;
}

static void
link_free (Link *link)
{
  for (guint i = 0; i < 2; i++)
    g_queue_clear_full (&link->dirs[i].queue, g_free);
  g_source_destroy (link->deliver);
  g_source_unref (link->deliver);
  g_rand_free (link->rand);
  g_free (link);
}

typedef struct
{
  FerryQuicConnection *client;
  FerryQuicConnection *server;
  gboolean             client_ready;
  gboolean             server_ready;
  GError              *error;
  GBytes              *data;
  gint64               stream_id;
  gsize                offset;
  guint64              received;
  gboolean             fin;
  gboolean             closed;
} Bench;

static void
on_handshake (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Bench *bench = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result, &error))
    g_error ("Handshake failed: %s", error->message);
  if (FERRY_QUIC_CONNECTION (object) == bench->client)
    bench->client_ready = TRUE;
  else
    bench->server_ready = TRUE;
}

static gboolean
both_ready (gpointer user_data)
{
  Bench *bench = user_data;

  return bench->client_ready && bench->server_ready;
}

static void
pump (Bench *bench)
{
  gsize total = g_bytes_get_size (bench->data);

  while (bench->offset < total
         && ferry_quic_connection_stream_is_writable (bench->client, bench->stream_id))
    {
      gsize n = MIN (WRITE_CHUNK, total - bench->offset);
      g_autoptr(GBytes) chunk = g_bytes_new_from_bytes (bench->data, bench->offset, n);
      g_autoptr(GError) error = NULL;

      if (!ferry_quic_connection_stream_write (bench->client, bench->stream_id, chunk,
                                               bench->offset + n == total, &error))
        g_error ("Write failed: %s", error->message);
      bench->offset += n;
    }
}

static void
on_writable (FerryQuicConnection *conn,
             gint64               stream_id,
             Bench               *bench)
{
  pump (bench);
}

static void
on_data (FerryQuicConnection *conn,
         gint64               stream_id,
         gconstpointer        data,
         guint64              len,
         gboolean             fin,
         Bench               *bench)
{
  bench->received += len;
  ferry_quic_connection_stream_consume (conn, stream_id, len);
  if (fin)
    bench->fin = TRUE;
}

static void
on_closed (FerryQuicConnection *conn,
           const GError        *error,
           Bench               *bench)
{
  bench->closed = TRUE;
  if (error != NULL)
    bench->error = g_error_copy (error);
}

static gboolean
done (gpointer user_data)
{
  Bench *bench = user_data;

  return bench->fin || bench->closed;
}

int
main (int   argc,
      char *argv[])
{
  int size_mb = 200;
  int payload = 1200;
  g_autofree char *cc_name = g_strdup ("bbr2");
  g_autofree char *link_spec = NULL;
  double mbit = 0, rtt_ms = 0, loss_percent = 0;
  Link *link = NULL;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size_mb, "Megabytes to send (default 200)", "MB" },
    { "cc", 0, 0, G_OPTION_ARG_STRING, &cc_name, "bbr2, bbr or cubic", "NAME" },
    { "payload", 0, 0, G_OPTION_ARG_INT, &payload, "Max UDP payload (1200..1452)", "BYTES" },
    { "link", 0, 0, G_OPTION_ARG_STRING, &link_spec,
      "Use an emulated link instead of libnice", "MBIT,RTT_MS,LOSS_PERCENT" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- QUIC over libnice loopback");
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryTestNicePair) pair = NULL;
  g_autoptr(GEnumClass) cc_class = NULL;
  GEnumValue *cc;
  Bench bench = { 0 };
  FerryQuicStats stats;
  gint64 start;
  double seconds;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  cc_class = g_type_class_ref (FERRY_TYPE_QUIC_CONGESTION_CONTROL);
  cc = g_enum_get_value_by_nick (cc_class, cc_name);
  if (cc == NULL || size_mb <= 0 || payload < 1200 || payload > 1452)
    {
      g_printerr ("Bad arguments; see --help\n");
      return 1;
    }
  if (link_spec != NULL
      && (sscanf (link_spec, "%lf,%lf,%lf", &mbit, &rtt_ms, &loss_percent) != 3
          || mbit <= 0 || rtt_ms < 0 || loss_percent < 0 || loss_percent >= 100))
    {
      g_printerr ("Bad --link; expected e.g. 100,40,1\n");
      return 1;
    }
  if (sodium_init () < 0)
    return 1;

  if (link_spec == NULL)
    pair = ferry_test_nice_pair_new (10000);
  bench.client = ferry_quic_connection_new (FERRY_QUIC_ROLE_CLIENT, &error);
  g_assert_no_error (error);
  bench.server = ferry_quic_connection_new (FERRY_QUIC_ROLE_SERVER, &error);
  g_assert_no_error (error);
  ferry_quic_connection_set_congestion_control (bench.client, cc->value);
  ferry_quic_connection_set_congestion_control (bench.server, cc->value);
  ferry_quic_connection_set_max_udp_payload (bench.client, payload);
  ferry_quic_connection_set_max_udp_payload (bench.server, payload);
  ferry_quic_connection_set_peer_fingerprint (
    bench.client, ferry_quic_connection_get_local_fingerprint (bench.server), NULL);
  ferry_quic_connection_set_peer_fingerprint (
    bench.server, ferry_quic_connection_get_local_fingerprint (bench.client), NULL);
  if (pair != NULL)
    ferry_test_nice_pair_bind (pair, bench.client, bench.server);
  else
    link = link_new (bench.client, bench.server, mbit, rtt_ms, loss_percent);
  g_signal_connect (bench.client, "stream-writable", G_CALLBACK (on_writable), &bench);
  g_signal_connect (bench.server, "stream-data", G_CALLBACK (on_data), &bench);
  g_signal_connect (bench.client, "closed", G_CALLBACK (on_closed), &bench);
  g_signal_connect (bench.server, "closed", G_CALLBACK (on_closed), &bench);

  ferry_quic_connection_handshake_async (bench.server, NULL, on_handshake, &bench);
  ferry_quic_connection_handshake_async (bench.client, NULL, on_handshake, &bench);
  if (!ferry_test_wait_until (both_ready, &bench, 10000))
    g_error ("The handshake did not finish");

  {
    guint8 *buf = g_malloc ((gsize) size_mb * 1000 * 1000);

    randombytes_buf (buf, (gsize) size_mb * 1000 * 1000);
    bench.data = g_bytes_new_take (buf, (gsize) size_mb * 1000 * 1000);
  }

  start = g_get_monotonic_time ();
  bench.stream_id = ferry_quic_connection_open_stream (bench.client, &error);
  g_assert_no_error (error);
  pump (&bench);
  if (!ferry_test_wait_until (done, &bench, 600000) || !bench.fin)
    g_error ("Transfer failed: %s", bench.error != NULL ? bench.error->message : "timeout");
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  g_assert_cmpuint (bench.received, ==, g_bytes_get_size (bench.data));
  ferry_quic_connection_get_stats (bench.client, &stats);
  g_print ("quic-%s cc=%s payload=%d: %d MB in %.2f s = %.1f MB/s (%.1f Mbit/s), "
           "srtt %" G_GUINT64_FORMAT " us, cwnd %" G_GUINT64_FORMAT,
           link != NULL ? link_spec : "libnice-loopback", cc_name, payload, size_mb, seconds,
           size_mb / seconds, size_mb * 8 / seconds, stats.smoothed_rtt_us, stats.cwnd);
  if (link != NULL)
    g_print (", %" G_GUINT64_FORMAT " datagrams dropped", link->dropped);
  g_print ("\n");

  ferry_quic_connection_close (bench.client, 0, "done");
  g_clear_object (&bench.client);
  g_clear_object (&bench.server);
  g_clear_pointer (&link, link_free);
  g_clear_pointer (&bench.data, g_bytes_unref);
  g_clear_error (&bench.error);

  return 0;
}
