/* ferry-quic.c
 *
 * One QUIC connection on ngtcp2 0.12 with the GnuTLS crypto helper, carried
 * over datagrams that the caller moves (libnice in the app, a pipe in tests).
 * Only this folder includes ngtcp2, so a port to ngtcp2 1.x stays inside it;
 * the TLS identity and the pinned peer are in ferry-quic-tls.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-quic"

#include "config.h"

#include <string.h>
#include <arpa/inet.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "ferry-quic-private.h"

/* Eight bytes are plenty for one connection per ICE path, and every 1-RTT packet carries
 * the peer's: shorter headers leave more of the link for data. */
#define SCID_LEN 8
#define MAX_WRITE_VECS 16
#define MAX_BURST_PACKETS 64
#define MAX_BIDI_STREAMS 128
#define MAX_EARLY_DATAGRAMS 16

#define MIN_UDP_PAYLOAD 1200
#define MAX_UDP_PAYLOAD 1452
#define DEFAULT_STREAM_WINDOW (32 * 1024 * 1024)
#define DEFAULT_CONNECTION_WINDOW (64 * 1024 * 1024)
#define DEFAULT_STREAM_SEND_BUFFER (8 * 1024 * 1024)
#define DEFAULT_IDLE_TIMEOUT_MS 30000
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 20000

typedef struct
{
  gint64   id;
  /* GBytes written by the application and not yet acknowledged; ngtcp2
   * keeps pointers into them until the peer acknowledges the data. */
  GQueue   chunks;
  guint64  base_offset;     /* stream offset of the first chunk's first byte */
  guint64  acked_offset;
  guint64  sent_offset;
  guint64  write_offset;
  GList   *cursor;          /* chunk holding sent_offset, NULL when all is sent */
  guint64  cursor_offset;   /* stream offset of the cursor chunk's first byte */
  GList    ready_link;      /* in FerryQuicConnection.ready while it has data to send */
  guint    in_ready : 1;
  guint    fin_queued : 1;
  guint    fin_sent : 1;
  guint    flow_blocked : 1;
  guint    want_writable : 1;
  guint    write_shut : 1;
} Stream;

G_DEFINE_FINAL_TYPE (FerryQuicConnection, ferry_quic_connection, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-quic-error-quark, ferry_quic_error)

G_DEFINE_ENUM_TYPE (FerryQuicRole, ferry_quic_role,
  G_DEFINE_ENUM_VALUE (FERRY_QUIC_ROLE_CLIENT, "client"),
  G_DEFINE_ENUM_VALUE (FERRY_QUIC_ROLE_SERVER, "server"))

G_DEFINE_ENUM_TYPE (FerryQuicCongestionControl, ferry_quic_congestion_control,
  G_DEFINE_ENUM_VALUE (FERRY_QUIC_CC_BBR2, "bbr2"),
  G_DEFINE_ENUM_VALUE (FERRY_QUIC_CC_BBR, "bbr"),
  G_DEFINE_ENUM_VALUE (FERRY_QUIC_CC_CUBIC, "cubic"))

enum {
  PROP_0,
  PROP_ROLE,
  PROP_CONGESTION_CONTROL,
  PROP_MAX_UDP_PAYLOAD,
  PROP_STREAM_WINDOW,
  PROP_CONNECTION_WINDOW,
  PROP_STREAM_SEND_BUFFER,
  PROP_IDLE_TIMEOUT,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_LOCAL_FINGERPRINT,
  PROP_PEER_FINGERPRINT,
  PROP_PEER_VERIFIED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_STREAM_OPENED,
  SIGNAL_STREAM_DATA,
  SIGNAL_STREAM_WRITABLE,
  SIGNAL_STREAM_RESET,
  SIGNAL_STREAM_CLOSED,
  SIGNAL_STREAMS_AVAILABLE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void flush (FerryQuicConnection *self);
static void fail_with_liberr (FerryQuicConnection *self,
                              int                  liberr);

static ngtcp2_tstamp
now_ns (void)
{
  /* The same clock GLib's ready times use, so expiries convert exactly. */
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

/* Streams */

static void
stream_free (gpointer data)
{
  Stream *stream = data;

  g_queue_clear_full (&stream->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (stream);
}

static Stream *
stream_new (gint64 id)
{
  Stream *stream = g_new0 (Stream, 1);

  stream->id = id;
  stream->ready_link.data = stream;

  return stream;
}

static Stream *
lookup_stream (FerryQuicConnection *self,
               gint64               stream_id)
{
  return g_hash_table_lookup (self->streams, &stream_id);
}

static void
add_stream (FerryQuicConnection *self,
            Stream              *stream)
{
  g_hash_table_insert (self->streams, &stream->id, stream);
}

static gboolean
stream_has_unsent (Stream *stream)
{
  return stream->sent_offset < stream->write_offset
         || (stream->fin_queued && !stream->fin_sent);
}

static void
stream_unready (FerryQuicConnection *self,
                Stream              *stream)
{
  if (stream->in_ready)
    {
      g_queue_unlink (&self->ready, &stream->ready_link);
      stream->in_ready = FALSE;
    }
}

static void
stream_update_ready (FerryQuicConnection *self,
                     Stream              *stream)
{
  gboolean ready = stream_has_unsent (stream) && !stream->flow_blocked && !stream->write_shut;

  if (ready && !stream->in_ready)
    {
      g_queue_push_tail_link (&self->ready, &stream->ready_link);
      stream->in_ready = TRUE;
    }
  else if (!ready)
    {
      stream_unready (self, stream);
    }
}

static void
remove_stream (FerryQuicConnection *self,
               Stream              *stream)
{
  stream_unready (self, stream);
  g_hash_table_remove (self->streams, &stream->id);
}

static Stream *
ensure_remote_stream (FerryQuicConnection *self,
                      gint64               stream_id,
                      void                *stream_user_data)
{
  Stream *stream = stream_user_data;

  if (stream != NULL)
    return stream;

  stream = lookup_stream (self, stream_id);
  if (stream == NULL)
    {
      stream = stream_new (stream_id);
      add_stream (self, stream);
      ngtcp2_conn_set_stream_user_data (self->conn, stream_id, stream);
    }

  return stream;
}

/* Fills @vecs with unsent data from the send cursor on and says whether
 * they reach the end of what was written. */
static gsize
stream_fill_vecs (Stream     *stream,
                  ngtcp2_vec *vecs,
                  gsize       max_vecs,
                  gboolean   *reaches_end)
{
  gsize n = 0;
  guint64 offset = stream->cursor_offset;
  GList *l;

  for (l = stream->cursor; l != NULL && n < max_vecs; l = l->next)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (l->data, &size);
      guint64 skip = n == 0 ? stream->sent_offset - offset : 0;

      vecs[n].base = (uint8_t *) data + skip;
      vecs[n].len = size - skip;
      n++;
      offset += size;
    }

  *reaches_end = l == NULL;

  return n;
}

static void
stream_advance (Stream  *stream,
                gssize   n_written,
                gboolean fin_offered)
{
  if (n_written > 0)
    {
      stream->sent_offset += (guint64) n_written;
      while (stream->cursor != NULL)
        {
          gsize size = g_bytes_get_size (stream->cursor->data);

          if (stream->sent_offset < stream->cursor_offset + size)
            break;
          stream->cursor_offset += size;
          stream->cursor = stream->cursor->next;
        }
    }

  if (fin_offered && n_written >= 0 && stream->sent_offset == stream->write_offset)
    stream->fin_sent = TRUE;
}

/* Timers and scheduling */

static gboolean
ready_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs ready_source_funcs = {
  .dispatch = ready_source_dispatch,
};

/* A reusable source that fires at a set monotonic time, so re-arming the
 * QUIC timer for every burst costs no allocation. */
static GSource *
ready_source_new (FerryQuicConnection *self,
                  GSourceFunc          func,
                  const char          *name)
{
  GSource *source = g_source_new (&ready_source_funcs, sizeof (GSource));

  g_source_set_callback (source, func, self, NULL);
  g_source_set_static_name (source, name);
  g_source_set_ready_time (source, -1);
  g_source_attach (source, self->context);

  return source;
}

static void
schedule_flush (FerryQuicConnection *self)
{
  if (self->flush_source != NULL)
    g_source_set_ready_time (self->flush_source, 0);
}

static void
update_timer (FerryQuicConnection *self)
{
  ngtcp2_tstamp expiry;

  if (self->conn == NULL || self->state == STATE_CLOSED)
    {
      g_source_set_ready_time (self->timer, -1);
      return;
    }

  expiry = ngtcp2_conn_get_expiry (self->conn);
  if (expiry == UINT64_MAX)
    g_source_set_ready_time (self->timer, -1);
  else
    g_source_set_ready_time (self->timer,
                             (gint64) ((expiry + NGTCP2_MICROSECONDS - 1) / NGTCP2_MICROSECONDS));
}

/* Ending the connection */

static void
send_datagram_unchecked (FerryQuicConnection *self,
                         const guint8        *data,
                         gsize                len)
{
  /* Closing packets are best effort: if the socket is full, the peer will
   * notice through its own timeouts. */
  if (self->send_func != NULL)
    (void) self->send_func (data, len, self->send_data);
}

static void
finish (FerryQuicConnection *self,
        GError              *error)
{
  g_autoptr(GTask) task = NULL;

  if (self->state == STATE_CLOSED)
    {
      g_clear_error (&error);
      return;
    }

  g_object_ref (self);

  self->state = STATE_CLOSED;
  g_clear_error (&self->error);
  self->error = error;
  if (error != NULL)
    g_debug ("Connection ended: %s", error->message);

  g_source_set_ready_time (self->timer, -1);
  if (self->handshake_timer != NULL)
    {
      g_source_destroy (self->handshake_timer);
      g_clear_pointer (&self->handshake_timer, g_source_unref);
    }
  self->pending_len = 0;

  task = g_steal_pointer (&self->handshake_task);
  if (task != NULL)
    {
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_new_error (task, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_NOT_CONNECTED,
                                 "The connection was closed before it was set up");
    }

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);

  g_object_unref (self);
}

static void
write_close (FerryQuicConnection                 *self,
             const ngtcp2_connection_close_error *ccerr)
{
  ngtcp2_ssize n;

  if (self->conn == NULL
      || ngtcp2_conn_is_in_closing_period (self->conn)
      || ngtcp2_conn_is_in_draining_period (self->conn))
    return;

  n = ngtcp2_conn_write_connection_close (self->conn, NULL, NULL, self->tx_buf,
                                          self->max_udp_payload, ccerr, now_ns ());
  if (n <= 0)
    return;

  g_clear_pointer (&self->close_packet, g_bytes_unref);
  self->close_packet = g_bytes_new (self->tx_buf, (gsize) n);
  send_datagram_unchecked (self, self->tx_buf, (gsize) n);
}

static GError *
error_from_peer_close (FerryQuicConnection *self)
{
  ngtcp2_connection_close_error ccerr;
  g_autofree char *reason = NULL;

  ngtcp2_conn_get_connection_close_error (self->conn, &ccerr);
  if (ccerr.reason != NULL)
    reason = g_utf8_make_valid ((const char *) ccerr.reason, (gssize) ccerr.reasonlen);
  else
    reason = g_strdup ("");

  if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION)
    {
      self->peer_closed = TRUE;
      self->peer_close_code = ccerr.error_code;
      self->peer_close_reason = g_strdup (reason);
      return g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_CLOSED_BY_PEER,
                          "The other side closed the connection (code %" G_GUINT64_FORMAT
                          "%s%s)", ccerr.error_code, *reason ? ": " : "", reason);
    }

  if ((ccerr.error_code & ~(guint64) 0xff) == NGTCP2_CRYPTO_ERROR)
    {
      guint alert = (guint) (ccerr.error_code & 0xff);

      if (ferry_quic_tls_is_certificate_alert (alert))
        return g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION,
                            "The other side did not accept this device's certificate "
                            "(TLS alert %u)", alert);
      return g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE,
                          "The other side ended the secure handshake (TLS alert %u)", alert);
    }

  /* During the handshake an application close travels as the transport
   * error APPLICATION_ERROR, without its code (RFC 9000, 10.2.3). */
  if (ccerr.error_code == NGTCP2_NO_ERROR || ccerr.error_code == NGTCP2_APPLICATION_ERROR)
    {
      self->peer_closed = TRUE;
      self->peer_close_code = 0;
      self->peer_close_reason = g_strdup (reason);
      return g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_CLOSED_BY_PEER,
                          "The other side closed the connection");
    }

  return g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PROTOCOL,
                      "The other side reported a transport error (0x%" G_GINT64_MODIFIER "x%s%s)",
                      ccerr.error_code, *reason ? ": " : "", reason);
}

static void
fail_with_liberr (FerryQuicConnection *self,
                  int                  liberr)
{
  ngtcp2_connection_close_error ccerr;
  GError *error = NULL;

  ngtcp2_connection_close_error_default (&ccerr);

  switch (liberr)
    {
    case NGTCP2_ERR_DRAINING:
      error = error_from_peer_close (self);
      break;

    case NGTCP2_ERR_IDLE_CLOSE:
      if (self->handshake_done)
        error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_IDLE_TIMEOUT,
                             "Nothing was heard from the other side within %u ms",
                             self->idle_timeout_ms);
      else
        error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE,
                             "The other side stopped answering during the handshake");
      break;

    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE,
                           "The secure connection was not set up in time");
      break;

    case NGTCP2_ERR_DROP_CONN:
      error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PROTOCOL,
                           "The other side sent a packet that ends the connection");
      break;

    case NGTCP2_ERR_CRYPTO:
      {
        guint alert = ngtcp2_conn_get_tls_alert (self->conn);

        if (self->peer_rejected)
          error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION,
                               "The other side's certificate is not the one exchanged "
                               "with the code");
        else
          error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_HANDSHAKE,
                               "The secure handshake failed (TLS alert %u)", alert);
        ngtcp2_connection_close_error_set_transport_error_tls_alert (&ccerr, (uint8_t) alert,
                                                                     NULL, 0);
        write_close (self, &ccerr);
      }
      break;

    case NGTCP2_ERR_CALLBACK_FAILURE:
      if (self->callback_error != NULL)
        error = g_steal_pointer (&self->callback_error);
      else
        error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                             "The transport failed internally");
      ngtcp2_connection_close_error_set_transport_error (&ccerr, NGTCP2_INTERNAL_ERROR,
                                                         NULL, 0);
      write_close (self, &ccerr);
      break;

    default:
      error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PROTOCOL,
                           "The QUIC connection failed: %s", ngtcp2_strerror (liberr));
      ngtcp2_connection_close_error_set_transport_error_liberr (&ccerr, liberr, NULL, 0);
      write_close (self, &ccerr);
      break;
    }

  finish (self, error);
}

static void
do_local_close (FerryQuicConnection *self)
{
  ngtcp2_connection_close_error ccerr;
  const char *reason = self->close_reason != NULL ? self->close_reason : "";

  self->close_pending = FALSE;
  ngtcp2_connection_close_error_default (&ccerr);
  ngtcp2_connection_close_error_set_application_error (&ccerr, self->close_code,
                                                       (const uint8_t *) reason,
                                                       MIN (strlen (reason), 1024));
  write_close (self, &ccerr);
  finish (self, NULL);
}

/* After leaving ngtcp2: act on what callbacks asked for and could not do
 * inside the library. Returns FALSE when the connection is over. */
static gboolean
after_ngtcp2 (FerryQuicConnection *self)
{
  if (self->state == STATE_CLOSED)
    return FALSE;

  if (self->cancelled && self->handshake_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->handshake_task);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The connection was cancelled");
      self->close_code = 0;
      g_free (self->close_reason);
      self->close_reason = g_strdup ("cancelled");
      do_local_close (self);
      return FALSE;
    }

  if (self->close_pending)
    {
      do_local_close (self);
      return FALSE;
    }

  if (self->handshake_done && self->handshake_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->handshake_task);

      if (self->handshake_timer != NULL)
        {
          g_source_destroy (self->handshake_timer);
          g_clear_pointer (&self->handshake_timer, g_source_unref);
        }
      /* The cancellable covers setting up only, not the open connection. */
      if (self->cancelled_id != 0)
        {
          g_cancellable_disconnect (self->cancellable, self->cancelled_id);
          self->cancelled_id = 0;
        }
      self->state = STATE_OPEN;
      g_task_return_boolean (task, TRUE);
    }

  return self->state != STATE_CLOSED;
}

/* Writing */

static gboolean
send_datagram (FerryQuicConnection *self,
               const guint8        *data,
               gsize                len)
{
  if (self->send_func (data, len, self->send_data))
    return TRUE;

  /* ngtcp2 counts this packet as sent already, so keep it for later. */
  if (data != self->pending)
    memcpy (self->pending, data, len);
  self->pending_len = len;
  self->send_blocked = TRUE;

  return FALSE;
}

static void
flush (FerryQuicConnection *self)
{
  ngtcp2_tstamp ts;
  ngtcp2_pkt_info pi;
  gsize max_payload, max_packets, n_packets = 0;

  if (self->conn == NULL || self->state == STATE_CLOSED || self->send_blocked)
    return;
  if (ngtcp2_conn_is_in_closing_period (self->conn)
      || ngtcp2_conn_is_in_draining_period (self->conn))
    return;

  if (self->pending_len > 0)
    {
      if (!send_datagram (self, self->pending, self->pending_len))
        return;
      self->pending_len = 0;
    }

  ts = now_ns ();
  max_payload = MIN (ngtcp2_conn_get_max_tx_udp_payload_size (self->conn),
                     self->max_udp_payload);
  max_packets = ngtcp2_conn_get_send_quantum (self->conn) / max_payload;
  max_packets = CLAMP (max_packets, 1, MAX_BURST_PACKETS);

  for (;;)
    {
      ngtcp2_vec vecs[MAX_WRITE_VECS];
      Stream *stream = NULL;
      gsize n_vecs = 0;
      gboolean fin_offered = FALSE;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      ngtcp2_ssize datalen = -1;
      ngtcp2_ssize n;

      if (self->ready.head != NULL)
        {
          stream = self->ready.head->data;
          /* Without connection credit only a bare FIN can go out. */
          if (stream->sent_offset < stream->write_offset
              && ngtcp2_conn_get_max_data_left (self->conn) == 0)
            stream = NULL;
        }
      if (stream != NULL)
        {
          gboolean reaches_end;

          n_vecs = stream_fill_vecs (stream, vecs, G_N_ELEMENTS (vecs), &reaches_end);
          if (stream->fin_queued && reaches_end)
            {
              flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
              fin_offered = TRUE;
            }
        }

      self->in_ngtcp2++;
      n = ngtcp2_conn_writev_stream (self->conn, NULL, &pi, self->tx_buf, max_payload,
                                     &datalen, flags, stream != NULL ? stream->id : -1,
                                     vecs, n_vecs, ts);
      self->in_ngtcp2--;

      if (self->state == STATE_CLOSED)
        return;

      if (n < 0)
        {
          switch (n)
            {
            case NGTCP2_ERR_WRITE_MORE:
              g_assert (stream != NULL);
              stream_advance (stream, datalen, fin_offered);
              /* Round robin: the next frame in this packet comes from the next stream. */
              stream_unready (self, stream);
              stream_update_ready (self, stream);
              continue;

            case NGTCP2_ERR_STREAM_DATA_BLOCKED:
              g_assert (stream != NULL);
              stream->flow_blocked = TRUE;
              stream_unready (self, stream);
              continue;

            case NGTCP2_ERR_STREAM_SHUT_WR:
            case NGTCP2_ERR_STREAM_NOT_FOUND:
              g_assert (stream != NULL);
              stream->write_shut = TRUE;
              stream_unready (self, stream);
              continue;

            default:
              fail_with_liberr (self, (int) n);
              return;
            }
        }

      if (stream != NULL && datalen >= 0)
        {
          stream_advance (stream, datalen, fin_offered);
          stream_unready (self, stream);
          stream_update_ready (self, stream);
        }

      if (n == 0)
        break;

      if (!send_datagram (self, self->tx_buf, (gsize) n))
        break;

      if (++n_packets >= max_packets)
        break;
    }

  ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
  update_timer (self);
}

static gboolean
on_timer (gpointer user_data)
{
  FerryQuicConnection *self = user_data;
  int rv;

  if (self->conn == NULL || self->state == STATE_CLOSED)
    return G_SOURCE_CONTINUE;

  g_object_ref (self);

  self->in_ngtcp2++;
  rv = ngtcp2_conn_handle_expiry (self->conn, now_ns ());
  self->in_ngtcp2--;

  if (rv != 0)
    fail_with_liberr (self, rv);
  else if (after_ngtcp2 (self))
    flush (self);
  update_timer (self);

  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

static gboolean
on_flush (gpointer user_data)
{
  FerryQuicConnection *self = user_data;

  g_object_ref (self);
  if (self->state != STATE_CLOSED
      && ((self->cancelled && self->handshake_task != NULL) || self->close_pending))
    after_ngtcp2 (self);
  else
    flush (self);
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  FerryQuicConnection *self = user_data;

  g_clear_pointer (&self->handshake_timer, g_source_unref);
  fail_with_liberr (self, NGTCP2_ERR_HANDSHAKE_TIMEOUT);

  return G_SOURCE_REMOVE;
}

/* ngtcp2 callbacks */

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  FerryQuicConnection *self = ref->user_data;

  return self->conn;
}

static void
rand_cb (uint8_t                *dest,
         size_t                  destlen,
         const ngtcp2_rand_ctx  *rand_ctx)
{
  FerryQuicConnection *self = rand_ctx->native_handle;

  /* ngtcp2 uses this for unpredictable but non-secret values. */
  (void) gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen);

  /* ngtcp2 0.12 always offers to grease the QUIC bit and, on the flip of one random byte
   * while it makes the connection, clears it in half its packets when the peer offers
   * too. Datagrams must keep first bytes of 0x40 and up (ferry-ice-session.h: below that
   * is STUN and the session's RTT probes), so that coin always lands on "keep the bit". */
  if (self != NULL && self->creating_conn && destlen == 1)
    dest[0] &= 0xfe;
}

static int
get_new_connection_id_cb (ngtcp2_conn *conn,
                          ngtcp2_cid  *cid,
                          uint8_t     *token,
                          size_t       cidlen,
                          void        *user_data)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0
      || gnutls_rnd (GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;

  return 0;
}

static gboolean
check_alpn (FerryQuicConnection *self)
{
  gnutls_datum_t alpn;

  return gnutls_alpn_get_selected_protocol (self->session, &alpn) == 0
         && alpn.size == strlen (FERRY_QUIC_ALPN)
         && memcmp (alpn.data, FERRY_QUIC_ALPN, alpn.size) == 0;
}

static int
ready_or_fail (FerryQuicConnection *self)
{
  if (!self->peer_verified)
    {
      /* The verify function did not run or did not accept: never treat an
       * unverified peer as connected. */
      self->callback_error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PEER_VERIFICATION,
                                          "The other side's certificate was not verified");
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  if (!check_alpn (self))
    {
      self->callback_error = g_error_new (FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_PROTOCOL,
                                          "The other side does not speak %s", FERRY_QUIC_ALPN);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }

  self->handshake_done = TRUE;

  return 0;
}

static int
handshake_completed_cb (ngtcp2_conn *conn,
                        void        *user_data)
{
  FerryQuicConnection *self = user_data;

  /* A server's handshake is confirmed when it completes; a client waits for
   * HANDSHAKE_DONE, which the server only sends once it accepted our
   * certificate, so a rejection still fails the client's handshake. */
  if (self->role == FERRY_QUIC_ROLE_SERVER)
    return ready_or_fail (self);

  return 0;
}

static int
handshake_confirmed_cb (ngtcp2_conn *conn,
                        void        *user_data)
{
  FerryQuicConnection *self = user_data;

  if (self->role == FERRY_QUIC_ROLE_CLIENT)
    return ready_or_fail (self);

  return 0;
}

static int
recv_stream_data_cb (ngtcp2_conn   *conn,
                     uint32_t       flags,
                     int64_t        stream_id,
                     uint64_t       offset,
                     const uint8_t *data,
                     size_t         datalen,
                     void          *user_data,
                     void          *stream_user_data)
{
  FerryQuicConnection *self = user_data;

  ensure_remote_stream (self, stream_id, stream_user_data);
  g_signal_emit (self, signals[SIGNAL_STREAM_DATA], 0, (gint64) stream_id, data,
                 (guint64) datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);

  return self->callback_error != NULL ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int
acked_stream_data_offset_cb (ngtcp2_conn *conn,
                             int64_t      stream_id,
                             uint64_t     offset,
                             uint64_t     datalen,
                             void        *user_data,
                             void        *stream_user_data)
{
  FerryQuicConnection *self = user_data;
  Stream *stream = stream_user_data;

  if (stream == NULL)
    return 0;

  stream->acked_offset = MAX (stream->acked_offset, offset + datalen);
  while (stream->chunks.head != NULL)
    {
      gsize size = g_bytes_get_size (stream->chunks.head->data);

      if (stream->base_offset + size > stream->acked_offset
          || stream->chunks.head == stream->cursor)
        break;
      g_bytes_unref (g_queue_pop_head (&stream->chunks));
      stream->base_offset += size;
    }

  if (stream->want_writable
      && stream->write_offset - stream->acked_offset < self->stream_send_buffer)
    {
      stream->want_writable = FALSE;
      g_signal_emit (self, signals[SIGNAL_STREAM_WRITABLE], 0, (gint64) stream_id);
    }

  return 0;
}

static int
stream_open_cb (ngtcp2_conn *conn,
                int64_t      stream_id,
                void        *user_data)
{
  FerryQuicConnection *self = user_data;

  ensure_remote_stream (self, stream_id, NULL);
  g_signal_emit (self, signals[SIGNAL_STREAM_OPENED], 0, (gint64) stream_id);

  return 0;
}

static int
stream_close_cb (ngtcp2_conn *conn,
                 uint32_t     flags,
                 int64_t      stream_id,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  FerryQuicConnection *self = user_data;
  Stream *stream = stream_user_data;

  if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
    app_error_code = 0;

  if (!ngtcp2_conn_is_local_stream (conn, stream_id))
    ngtcp2_conn_extend_max_streams_bidi (conn, 1);

  if (stream == NULL)
    stream = lookup_stream (self, stream_id);
  if (stream != NULL)
    remove_stream (self, stream);

  g_signal_emit (self, signals[SIGNAL_STREAM_CLOSED], 0, (gint64) stream_id,
                 (guint64) app_error_code);

  return 0;
}

static int
stream_reset_cb (ngtcp2_conn *conn,
                 int64_t      stream_id,
                 uint64_t     final_size,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  FerryQuicConnection *self = user_data;

  g_signal_emit (self, signals[SIGNAL_STREAM_RESET], 0, (gint64) stream_id,
                 (guint64) app_error_code);

  return 0;
}

static int
stream_stop_sending_cb (ngtcp2_conn *conn,
                        int64_t      stream_id,
                        uint64_t     app_error_code,
                        void        *user_data,
                        void        *stream_user_data)
{
  FerryQuicConnection *self = user_data;
  Stream *stream = stream_user_data;

  /* ngtcp2 answers STOP_SENDING with RESET_STREAM itself; stop offering data. */
  if (stream != NULL)
    {
      stream->write_shut = TRUE;
      stream_unready (self, stream);
    }

  g_signal_emit (self, signals[SIGNAL_STREAM_RESET], 0, (gint64) stream_id,
                 (guint64) app_error_code);

  return 0;
}

static int
extend_max_local_streams_bidi_cb (ngtcp2_conn *conn,
                                  uint64_t     max_streams,
                                  void        *user_data)
{
  FerryQuicConnection *self = user_data;

  g_signal_emit (self, signals[SIGNAL_STREAMS_AVAILABLE], 0);

  return 0;
}

static int
extend_max_stream_data_cb (ngtcp2_conn *conn,
                           int64_t      stream_id,
                           uint64_t     max_data,
                           void        *user_data,
                           void        *stream_user_data)
{
  FerryQuicConnection *self = user_data;
  Stream *stream = stream_user_data;

  if (stream != NULL && stream->flow_blocked)
    {
      stream->flow_blocked = FALSE;
      stream_update_ready (self, stream);
    }

  return 0;
}

static gboolean
create_conn (FerryQuicConnection  *self,
             const ngtcp2_pkt_hd  *client_hd,
             GError              **error)
{
  gboolean client = self->role == FERRY_QUIC_ROLE_CLIENT;
  ngtcp2_callbacks callbacks = {
    .client_initial = client ? ngtcp2_crypto_client_initial_cb : NULL,
    .recv_client_initial = client ? NULL : ngtcp2_crypto_recv_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = handshake_completed_cb,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = recv_stream_data_cb,
    .acked_stream_data_offset = acked_stream_data_offset_cb,
    .stream_open = stream_open_cb,
    .stream_close = stream_close_cb,
    .recv_retry = client ? ngtcp2_crypto_recv_retry_cb : NULL,
    .extend_max_local_streams_bidi = extend_max_local_streams_bidi_cb,
    .rand = rand_cb,
    .get_new_connection_id = get_new_connection_id_cb,
    .update_key = ngtcp2_crypto_update_key_cb,
    .stream_reset = stream_reset_cb,
    .extend_max_stream_data = extend_max_stream_data_cb,
    .handshake_confirmed = handshake_confirmed_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .stream_stop_sending = stream_stop_sending_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
  };
  static const ngtcp2_cc_algo cc_algos[] = {
    [FERRY_QUIC_CC_BBR2] = NGTCP2_CC_ALGO_BBR2,
    [FERRY_QUIC_CC_BBR] = NGTCP2_CC_ALGO_BBR,
    [FERRY_QUIC_CC_CUBIC] = NGTCP2_CC_ALGO_CUBIC,
  };
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  int rv;

  if (!ferry_quic_tls_setup_session (self, error))
    return FALSE;

  ngtcp2_settings_default (&settings);
  settings.rand_ctx.native_handle = self;
  settings.initial_ts = now_ns ();
  settings.cc_algo = cc_algos[self->cc];
  settings.max_tx_udp_payload_size = self->max_udp_payload;
  /* Over 1200 bytes the path MTU has to be probed (TURN adds headers). */
  settings.no_pmtud = self->max_udp_payload <= MIN_UDP_PAYLOAD;
  settings.max_window = self->connection_window;
  settings.max_stream_window = self->stream_window;
  /* ACK every 8th packet instead of every 2nd (the ACK delay timer still bounds the wait):
   * a quarter of the ACKs to write and read costs both sides less CPU, so a receiver on a
   * busy main loop drains its socket before the kernel drops datagrams, which a loss-aware
   * controller would take for congestion (bench/bench-transfer.c: about 25 % more on
   * loopback, steadier at 1 % loss). */
  settings.ack_thresh = 8;

  ngtcp2_transport_params_default (&params);
  params.initial_max_stream_data_bidi_local = self->stream_window;
  params.initial_max_stream_data_bidi_remote = self->stream_window;
  params.initial_max_stream_data_uni = 0;
  params.initial_max_data = self->connection_window;
  params.initial_max_streams_bidi = MAX_BIDI_STREAMS;
  params.initial_max_streams_uni = 0;
  params.max_idle_timeout = (ngtcp2_duration) self->idle_timeout_ms * NGTCP2_MILLISECONDS;
  params.active_connection_id_limit = 4;

  scid.datalen = SCID_LEN;
  if (gnutls_rnd (GNUTLS_RND_RANDOM, scid.data, scid.datalen) != 0)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                   "Could not create a connection ID");
      return FALSE;
    }

  if (client)
    {
      dcid.datalen = SCID_LEN;
      if (gnutls_rnd (GNUTLS_RND_RANDOM, dcid.data, dcid.datalen) != 0)
        {
          g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                       "Could not create a connection ID");
          return FALSE;
        }
      self->creating_conn = TRUE;
      rv = ngtcp2_conn_client_new (&self->conn, &dcid, &scid, &self->path,
                                   NGTCP2_PROTO_VER_V1, &callbacks, &settings, &params,
                                   NULL, self);
    }
  else
    {
      params.original_dcid = client_hd->dcid;
      params.stateless_reset_token_present = 1;
      if (gnutls_rnd (GNUTLS_RND_RANDOM, params.stateless_reset_token,
                      sizeof params.stateless_reset_token) != 0)
        {
          g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                       "Could not create a reset token");
          return FALSE;
        }
      self->creating_conn = TRUE;
      rv = ngtcp2_conn_server_new (&self->conn, &client_hd->scid, &scid, &self->path,
                                   client_hd->version, &callbacks, &settings, &params,
                                   NULL, self);
    }

  self->creating_conn = FALSE;
  if (rv != 0)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                   "Could not create the QUIC connection: %s", ngtcp2_strerror (rv));
      return FALSE;
    }

  ngtcp2_conn_set_tls_native_handle (self->conn, self->session);
  /* A transfer may sit quiet (a person deciding whether to accept); PINGs
   * keep the idle timer from ending a healthy connection. */
  ngtcp2_conn_set_keep_alive_timeout (self->conn, (ngtcp2_duration) self->idle_timeout_ms
                                                  * NGTCP2_MILLISECONDS / 3);

  return TRUE;
}

/* GObject */

static void
ferry_quic_connection_dispose (GObject *object)
{
  FerryQuicConnection *self = FERRY_QUIC_CONNECTION (object);

  if (self->cancelled_id != 0)
    {
      g_cancellable_disconnect (self->cancellable, self->cancelled_id);
      self->cancelled_id = 0;
    }
  g_clear_object (&self->cancellable);

  g_clear_object (&self->handshake_task);

  if (self->handshake_timer != NULL)
    g_source_destroy (self->handshake_timer);
  g_clear_pointer (&self->handshake_timer, g_source_unref);
  if (self->timer != NULL)
    g_source_destroy (self->timer);
  g_clear_pointer (&self->timer, g_source_unref);
  if (self->flush_source != NULL)
    g_source_destroy (self->flush_source);
  g_clear_pointer (&self->flush_source, g_source_unref);

  if (self->send_destroy != NULL)
    g_clear_pointer (&self->send_data, self->send_destroy);
  self->send_func = NULL;
  self->send_destroy = NULL;

  G_OBJECT_CLASS (ferry_quic_connection_parent_class)->dispose (object);
}

static void
ferry_quic_connection_finalize (GObject *object)
{
  FerryQuicConnection *self = FERRY_QUIC_CONNECTION (object);

  /* ngtcp2 still points into stream chunks, so the connection goes first. */
  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  /* The ready queue's links live inside the streams (freed with the table
   * below): forget them, never free them. */
  g_queue_init (&self->ready);
  g_clear_pointer (&self->streams, g_hash_table_unref);
  if (self->session != NULL)
    gnutls_deinit (self->session);
  if (self->cred != NULL)
    gnutls_certificate_free_credentials (self->cred);

  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->close_packet, g_bytes_unref);
  g_queue_clear_full (&self->early, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&self->callback_error);
  g_clear_error (&self->error);
  g_free (self->tx_buf);
  g_free (self->pending);
  g_free (self->local_fingerprint);
  g_free (self->peer_fingerprint);
  g_free (self->close_reason);
  g_free (self->peer_close_reason);

  G_OBJECT_CLASS (ferry_quic_connection_parent_class)->finalize (object);
}

static void
ferry_quic_connection_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  FerryQuicConnection *self = FERRY_QUIC_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_CONGESTION_CONTROL:
      g_value_set_enum (value, self->cc);
      break;
    case PROP_MAX_UDP_PAYLOAD:
      g_value_set_uint (value, self->max_udp_payload);
      break;
    case PROP_STREAM_WINDOW:
      g_value_set_uint64 (value, self->stream_window);
      break;
    case PROP_CONNECTION_WINDOW:
      g_value_set_uint64 (value, self->connection_window);
      break;
    case PROP_STREAM_SEND_BUFFER:
      g_value_set_uint64 (value, self->stream_send_buffer);
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_uint (value, self->idle_timeout_ms);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout_ms);
      break;
    case PROP_LOCAL_FINGERPRINT:
      g_value_set_string (value, self->local_fingerprint);
      break;
    case PROP_PEER_FINGERPRINT:
      g_value_set_string (value, self->peer_fingerprint);
      break;
    case PROP_PEER_VERIFIED:
      g_value_set_boolean (value, self->peer_verified);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_quic_connection_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  FerryQuicConnection *self = FERRY_QUIC_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;
    case PROP_CONGESTION_CONTROL:
      ferry_quic_connection_set_congestion_control (self, g_value_get_enum (value));
      break;
    case PROP_MAX_UDP_PAYLOAD:
      ferry_quic_connection_set_max_udp_payload (self, g_value_get_uint (value));
      break;
    case PROP_STREAM_WINDOW:
      ferry_quic_connection_set_stream_window (self, g_value_get_uint64 (value));
      break;
    case PROP_CONNECTION_WINDOW:
      ferry_quic_connection_set_connection_window (self, g_value_get_uint64 (value));
      break;
    case PROP_STREAM_SEND_BUFFER:
      ferry_quic_connection_set_stream_send_buffer (self, g_value_get_uint64 (value));
      break;
    case PROP_IDLE_TIMEOUT:
      ferry_quic_connection_set_idle_timeout (self, g_value_get_uint (value));
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      ferry_quic_connection_set_handshake_timeout (self, g_value_get_uint (value));
      break;
    case PROP_PEER_FINGERPRINT:
      {
        g_autoptr(GError) error = NULL;

        if (!ferry_quic_connection_set_peer_fingerprint (self, g_value_get_string (value),
                                                         &error))
          g_warning ("%s", error->message);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_quic_connection_class_init (FerryQuicConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_quic_connection_dispose;
  object_class->finalize = ferry_quic_connection_finalize;
  object_class->get_property = ferry_quic_connection_get_property;
  object_class->set_property = ferry_quic_connection_set_property;

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL,
                       FERRY_TYPE_QUIC_ROLE, FERRY_QUIC_ROLE_CLIENT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONGESTION_CONTROL] =
    g_param_spec_enum ("congestion-control", NULL, NULL,
                       FERRY_TYPE_QUIC_CONGESTION_CONTROL, FERRY_QUIC_CC_BBR2,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_UDP_PAYLOAD] =
    g_param_spec_uint ("max-udp-payload", NULL, NULL,
                       MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD, MAX_UDP_PAYLOAD,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STREAM_WINDOW] =
    g_param_spec_uint64 ("stream-window", NULL, NULL,
                         64 * 1024, G_MAXUINT32, DEFAULT_STREAM_WINDOW,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTION_WINDOW] =
    g_param_spec_uint64 ("connection-window", NULL, NULL,
                         64 * 1024, G_MAXUINT32, DEFAULT_CONNECTION_WINDOW,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STREAM_SEND_BUFFER] =
    g_param_spec_uint64 ("stream-send-buffer", NULL, NULL,
                         1, G_MAXUINT32, DEFAULT_STREAM_SEND_BUFFER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_uint ("idle-timeout", NULL, NULL,
                       100, 600000, DEFAULT_IDLE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("handshake-timeout", NULL, NULL,
                       100, 600000, DEFAULT_HANDSHAKE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOCAL_FINGERPRINT] =
    g_param_spec_string ("local-fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_FINGERPRINT] =
    g_param_spec_string ("peer-fingerprint", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER_VERIFIED] =
    g_param_spec_boolean ("peer-verified", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FerryQuicConnection::stream-opened:
   * @stream_id: a stream the other side opened
   */
  signals[SIGNAL_STREAM_OPENED] =
    g_signal_new ("stream-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * FerryQuicConnection::stream-data:
   * @stream_id: the stream
   * @data: (array length=len): the bytes, valid during the emission only
   * @len: how many
   * @fin: whether this is the end of the stream
   *
   * Data arrives in order. The peer may only send as much as the window
   * allows: call ferry_quic_connection_stream_consume() once the bytes
   * are dealt with to give it more.
   */
  signals[SIGNAL_STREAM_DATA] =
    g_signal_new ("stream-data", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_INT64, G_TYPE_POINTER, G_TYPE_UINT64, G_TYPE_BOOLEAN);

  /**
   * FerryQuicConnection::stream-writable:
   * @stream_id: the stream
   *
   * The stream's send buffer, full after a write, has room again.
   */
  signals[SIGNAL_STREAM_WRITABLE] =
    g_signal_new ("stream-writable", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);

  /**
   * FerryQuicConnection::stream-reset:
   * @stream_id: the stream
   * @app_error_code: the other side's code
   *
   * The other side abandoned its half of the stream or asked us to stop sending.
   */
  signals[SIGNAL_STREAM_RESET] =
    g_signal_new ("stream-reset", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_UINT64);

  /**
   * FerryQuicConnection::stream-closed:
   * @stream_id: the stream
   * @app_error_code: 0 when both directions ended cleanly, otherwise the reset code
   *
   * Both directions are finished: everything we wrote was acknowledged (or
   * reset) and everything the other side sent was delivered (or reset).
   */
  signals[SIGNAL_STREAM_CLOSED] =
    g_signal_new ("stream-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_UINT64);

  /**
   * FerryQuicConnection::streams-available:
   *
   * The other side allows more streams to be opened.
   */
  signals[SIGNAL_STREAMS_AVAILABLE] =
    g_signal_new ("streams-available", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * FerryQuicConnection::closed:
   * @error: (nullable): why, or %NULL after ferry_quic_connection_close()
   *
   * The connection is over. Emitted once.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ferry_quic_connection_init (FerryQuicConnection *self)
{
  self->cc = FERRY_QUIC_CC_BBR2;
  /* ngtcp2 starts at 1200 bytes and probes the path up to this; bigger packets carry
   * about 2 % more of a saturated link (bench/bench-transfer.c). */
  self->max_udp_payload = MAX_UDP_PAYLOAD;
  self->stream_window = DEFAULT_STREAM_WINDOW;
  self->connection_window = DEFAULT_CONNECTION_WINDOW;
  self->stream_send_buffer = DEFAULT_STREAM_SEND_BUFFER;
  self->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
  self->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;

  self->context = g_main_context_ref_thread_default ();
  self->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, stream_free);
  g_queue_init (&self->ready);
  g_queue_init (&self->early);

  self->conn_ref.get_conn = get_conn;
  self->conn_ref.user_data = self;

  self->timer = ready_source_new (self, on_timer, "[ferry] QUIC timer");
  self->flush_source = ready_source_new (self, on_flush, "[ferry] QUIC flush");
}

/* Public API */

/**
 * ferry_quic_connection_new:
 * @role: client or server
 * @error: return location for an error
 *
 * Creates a connection with a fresh certificate, on the thread-default main
 * context. Exchange ferry_quic_connection_get_local_fingerprint() with the
 * other side, set theirs, set a send function, then call
 * ferry_quic_connection_handshake_async().
 *
 * Returns: (transfer full): the connection, or %NULL when no certificate could be made
 */
FerryQuicConnection *
ferry_quic_connection_new (FerryQuicRole   role,
                           GError        **error)
{
  g_autoptr(FerryQuicConnection) self = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (FERRY_TYPE_QUIC_CONNECTION, "role", role, NULL);
  if (!ferry_quic_tls_generate_identity (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

FerryQuicRole
ferry_quic_connection_get_role (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FERRY_QUIC_ROLE_CLIENT);

  return self->role;
}

/**
 * ferry_quic_connection_get_local_fingerprint:
 *
 * Returns: the SHA-256 of this side's DER certificate, 64 lowercase hex digits
 */
const char *
ferry_quic_connection_get_local_fingerprint (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), NULL);

  return self->local_fingerprint;
}

/**
 * ferry_quic_connection_set_peer_fingerprint:
 * @fingerprint: the other side's fingerprint, 64 hex digits, ':' separators allowed
 *
 * The handshake only succeeds with a peer whose certificate has this
 * fingerprint. Set it before the handshake starts.
 */
gboolean
ferry_quic_connection_set_peer_fingerprint (FerryQuicConnection  *self,
                                            const char           *fingerprint,
                                            GError              **error)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);
  g_return_val_if_fail (self->state == STATE_NEW, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (fingerprint == NULL || !ferry_quic_tls_set_peer_fingerprint (self, fingerprint))
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_FINGERPRINT,
                   "The other side's certificate fingerprint is malformed");
      return FALSE;
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_FINGERPRINT]);

  return TRUE;
}

const char *
ferry_quic_connection_get_peer_fingerprint (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), NULL);

  return self->peer_fingerprint;
}

/**
 * ferry_quic_connection_get_peer_verified:
 *
 * Returns: whether the other side presented the certificate it was expected to
 */
gboolean
ferry_quic_connection_get_peer_verified (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);

  return self->peer_verified;
}

void
ferry_quic_connection_set_congestion_control (FerryQuicConnection        *self,
                                              FerryQuicCongestionControl  cc)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (cc <= FERRY_QUIC_CC_CUBIC);
  g_return_if_fail (self->state == STATE_NEW);

  if (self->cc == cc)
    return;
  self->cc = cc;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONGESTION_CONTROL]);
}

FerryQuicCongestionControl
ferry_quic_connection_get_congestion_control (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FERRY_QUIC_CC_BBR2);

  return self->cc;
}

void
ferry_quic_connection_set_max_udp_payload (FerryQuicConnection *self,
                                           guint                size)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (size >= MIN_UDP_PAYLOAD && size <= MAX_UDP_PAYLOAD);
  g_return_if_fail (self->state == STATE_NEW);

  if (self->max_udp_payload == size)
    return;
  self->max_udp_payload = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_UDP_PAYLOAD]);
}

guint
ferry_quic_connection_get_max_udp_payload (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), 0);

  return self->max_udp_payload;
}

void
ferry_quic_connection_set_stream_window (FerryQuicConnection *self,
                                         guint64              bytes)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (self->state == STATE_NEW);

  if (self->stream_window == bytes)
    return;
  self->stream_window = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STREAM_WINDOW]);
}

void
ferry_quic_connection_set_connection_window (FerryQuicConnection *self,
                                             guint64              bytes)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (self->state == STATE_NEW);

  if (self->connection_window == bytes)
    return;
  self->connection_window = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_WINDOW]);
}

/**
 * ferry_quic_connection_set_stream_send_buffer:
 * @bytes: how much written, unacknowledged data a stream may hold before
 *   ferry_quic_connection_stream_is_writable() says no
 */
void
ferry_quic_connection_set_stream_send_buffer (FerryQuicConnection *self,
                                              guint64              bytes)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (bytes > 0);

  if (self->stream_send_buffer == bytes)
    return;
  self->stream_send_buffer = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STREAM_SEND_BUFFER]);
}

void
ferry_quic_connection_set_idle_timeout (FerryQuicConnection *self,
                                        guint                msec)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (self->state == STATE_NEW);

  if (self->idle_timeout_ms == msec)
    return;
  self->idle_timeout_ms = msec;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
}

void
ferry_quic_connection_set_handshake_timeout (FerryQuicConnection *self,
                                             guint                msec)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (self->state == STATE_NEW);

  if (self->handshake_timeout_ms == msec)
    return;
  self->handshake_timeout_ms = msec;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HANDSHAKE_TIMEOUT]);
}

/**
 * ferry_quic_connection_set_send_func:
 * @func: sends one datagram to the other side
 *
 * Sets how datagrams leave. Must be set before the handshake starts.
 */
void
ferry_quic_connection_set_send_func (FerryQuicConnection *self,
                                     FerryQuicSendFunc    func,
                                     gpointer             user_data,
                                     GDestroyNotify       destroy)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (func != NULL);

  if (self->send_destroy != NULL)
    self->send_destroy (self->send_data);
  self->send_func = func;
  self->send_data = user_data;
  self->send_destroy = destroy;
}

/**
 * ferry_quic_connection_receive_datagram:
 * @data: one datagram from the other side
 *
 * Feeds one received datagram in. Junk is dropped; anything that ends the
 * connection is reported through #FerryQuicConnection::closed.
 */
void
ferry_quic_connection_receive_datagram (FerryQuicConnection *self,
                                        const guint8        *data,
                                        gsize                len)
{
  gboolean fresh = FALSE;
  int rv;

  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (data != NULL || len == 0);

  if (len == 0)
    return;

  if (self->state == STATE_CLOSED)
    {
      /* While closing, answer stragglers with our CONNECTION_CLOSE again in
       * case the first one was lost. */
      if (self->close_packet != NULL && self->conn != NULL
          && ngtcp2_conn_is_in_closing_period (self->conn))
        send_datagram_unchecked (self, g_bytes_get_data (self->close_packet, NULL),
                                 g_bytes_get_size (self->close_packet));
      return;
    }

  if (self->state == STATE_NEW)
    {
      /* The other side may start as soon as ICE connects, a moment before
       * this side starts its handshake; keep its first packets so the
       * handshake need not wait for a retransmission. */
      if (self->early.length < MAX_EARLY_DATAGRAMS)
        g_queue_push_tail (&self->early, g_bytes_new (data, len));
      return;
    }

  g_object_ref (self);

  if (self->conn == NULL)
    {
      ngtcp2_pkt_hd hd;
      g_autoptr(GError) error = NULL;

      /* A server's connection starts with the client's first Initial packet. */
      if (ngtcp2_accept (&hd, data, len) != 0 || !ngtcp2_is_supported_version (hd.version))
        goto out;
      if (!create_conn (self, &hd, &error))
        {
          finish (self, g_steal_pointer (&error));
          goto out;
        }
      fresh = TRUE;
    }

  self->in_ngtcp2++;
  rv = ngtcp2_conn_read_pkt (self->conn, &self->path, NULL, data, len, now_ns ());
  self->in_ngtcp2--;

  if (rv != 0 && fresh)
    {
      /* Something shaped like an Initial packet that does not decrypt: forget
       * it and keep waiting for the real client. */
      g_clear_pointer (&self->conn, ngtcp2_conn_del);
      g_clear_pointer (&self->session, gnutls_deinit);
      goto out;
    }

  if (rv != 0 && rv != NGTCP2_ERR_DISCARD_PKT)
    {
      fail_with_liberr (self, rv);
      goto out;
    }

  if (after_ngtcp2 (self))
    flush (self);

out:
  g_object_unref (self);
}

/**
 * ferry_quic_connection_datagram_writable:
 *
 * Tells the connection that the datagram socket accepts data again after
 * the send function returned %FALSE.
 */
void
ferry_quic_connection_datagram_writable (FerryQuicConnection *self)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));

  if (!self->send_blocked)
    return;
  self->send_blocked = FALSE;
  schedule_flush (self);
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  FerryQuicConnection *self = user_data;

  self->cancelled = TRUE;
  schedule_flush (self);
}

/**
 * ferry_quic_connection_handshake_async:
 *
 * Starts the connection (a client sends its first packet) and completes
 * once the handshake is confirmed and the other side's certificate matched
 * the expected fingerprint. Cancelling closes the connection.
 */
void
ferry_quic_connection_handshake_async (FerryQuicConnection *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (self->send_func != NULL);
  g_return_if_fail (self->handshake_task == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_quic_connection_handshake_async);

  if (self->state != STATE_NEW)
    {
      g_task_return_new_error (task, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_NOT_CONNECTED,
                               "The connection was already started");
      return;
    }
  if (self->peer_fingerprint == NULL)
    {
      g_task_return_new_error (task, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_FINGERPRINT,
                               "The other side's certificate fingerprint is not known");
      return;
    }

  self->state = STATE_HANDSHAKING;
  self->handshake_task = g_steal_pointer (&task);
  self->tx_buf = g_malloc (MAX_UDP_PAYLOAD);
  self->pending = g_malloc (MAX_UDP_PAYLOAD);

  /* libnice owns the real addresses; ngtcp2 only needs a path that never
   * changes, so both sides use fixed placeholders. */
  self->local_addr.sin_family = AF_INET;
  self->local_addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  self->local_addr.sin_port = htons (self->role == FERRY_QUIC_ROLE_CLIENT ? 1 : 2);
  self->remote_addr = self->local_addr;
  self->remote_addr.sin_port = htons (self->role == FERRY_QUIC_ROLE_CLIENT ? 2 : 1);
  self->path.local.addr = (ngtcp2_sockaddr *) &self->local_addr;
  self->path.local.addrlen = sizeof self->local_addr;
  self->path.remote.addr = (ngtcp2_sockaddr *) &self->remote_addr;
  self->path.remote.addrlen = sizeof self->remote_addr;

  self->handshake_timer = g_timeout_source_new (self->handshake_timeout_ms);
  g_source_set_callback (self->handshake_timer, on_handshake_timeout, self, NULL);
  g_source_set_static_name (self->handshake_timer, "[ferry] QUIC handshake timeout");
  g_source_attach (self->handshake_timer, self->context);

  if (cancellable != NULL)
    {
      self->cancellable = g_object_ref (cancellable);
      self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                  self, NULL);
    }

  if (self->role == FERRY_QUIC_ROLE_CLIENT)
    {
      if (!create_conn (self, NULL, &error))
        {
          finish (self, g_steal_pointer (&error));
          return;
        }
      flush (self);
    }

  while (self->early.head != NULL)
    {
      g_autoptr(GBytes) datagram = g_queue_pop_head (&self->early);
      gsize len;
      const guint8 *data = g_bytes_get_data (datagram, &len);

      ferry_quic_connection_receive_datagram (self, data, len);
    }
}

gboolean
ferry_quic_connection_handshake_finish (FerryQuicConnection  *self,
                                        GAsyncResult         *result,
                                        GError              **error)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_quic_connection_handshake_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
ferry_quic_connection_is_open (FerryQuicConnection *self)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);

  return self->state == STATE_OPEN;
}

static gboolean
check_open (FerryQuicConnection  *self,
            GError              **error)
{
  if (self->state == STATE_OPEN && !self->close_pending)
    return TRUE;

  g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_NOT_CONNECTED,
               "The connection is not open");
  return FALSE;
}

/**
 * ferry_quic_connection_open_stream:
 *
 * Opens a bidirectional stream.
 *
 * Returns: the stream ID, or -1 with @error set
 */
gint64
ferry_quic_connection_open_stream (FerryQuicConnection  *self,
                                   GError              **error)
{
  Stream *stream;
  int64_t stream_id;
  int rv;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!check_open (self, error))
    return -1;

  stream = stream_new (-1);
  rv = ngtcp2_conn_open_bidi_stream (self->conn, &stream_id, stream);
  if (rv != 0)
    {
      stream_free (stream);
      if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
        g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_STREAM_LIMIT,
                     "The other side allows no more streams for now");
      else
        g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                     "Could not open a stream: %s", ngtcp2_strerror (rv));
      return -1;
    }

  stream->id = stream_id;
  add_stream (self, stream);

  return stream_id;
}

/**
 * ferry_quic_connection_stream_write:
 * @bytes: data to append; may be empty
 * @fin: whether this ends our half of the stream
 *
 * Queues @bytes on the stream. Data is never refused for buffer space:
 * writers keep going while ferry_quic_connection_stream_is_writable() says so
 * and otherwise wait for #FerryQuicConnection::stream-writable.
 */
gboolean
ferry_quic_connection_stream_write (FerryQuicConnection  *self,
                                    gint64                stream_id,
                                    GBytes               *bytes,
                                    gboolean              fin,
                                    GError              **error)
{
  Stream *stream;
  gsize size;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;

  stream = lookup_stream (self, stream_id);
  if (stream == NULL || stream->fin_queued || stream->write_shut)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_STREAM,
                   "Stream %" G_GINT64_FORMAT " cannot be written", stream_id);
      return FALSE;
    }

  size = g_bytes_get_size (bytes);
  if (size > 0)
    {
      g_queue_push_tail (&stream->chunks, g_bytes_ref (bytes));
      if (stream->cursor == NULL)
        {
          stream->cursor = stream->chunks.tail;
          stream->cursor_offset = stream->write_offset;
        }
      stream->write_offset += size;
    }
  stream->fin_queued = fin;

  if (stream->write_offset - stream->acked_offset >= self->stream_send_buffer)
    stream->want_writable = TRUE;

  stream_update_ready (self, stream);
  schedule_flush (self);

  return TRUE;
}

gboolean
ferry_quic_connection_stream_is_writable (FerryQuicConnection *self,
                                          gint64               stream_id)
{
  Stream *stream;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);

  stream = lookup_stream (self, stream_id);
  return stream != NULL && self->state == STATE_OPEN && !stream->fin_queued
         && !stream->write_shut
         && stream->write_offset - stream->acked_offset < self->stream_send_buffer;
}

/**
 * ferry_quic_connection_stream_get_buffered:
 *
 * Returns: bytes written to the stream that the other side has not acknowledged yet
 */
guint64
ferry_quic_connection_stream_get_buffered (FerryQuicConnection *self,
                                           gint64               stream_id)
{
  Stream *stream;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), 0);

  stream = lookup_stream (self, stream_id);
  return stream != NULL ? stream->write_offset - stream->acked_offset : 0;
}

/**
 * ferry_quic_connection_stream_consume:
 * @n_bytes: how many received bytes were dealt with
 *
 * Returns flow-control credit to the other side. May be called from a
 * #FerryQuicConnection::stream-data handler.
 */
void
ferry_quic_connection_stream_consume (FerryQuicConnection *self,
                                      gint64               stream_id,
                                      guint64              n_bytes)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));

  if (self->conn == NULL || self->state == STATE_CLOSED || n_bytes == 0)
    return;

  /* The stream may be gone already (its final bytes were just delivered);
   * the connection-wide credit still counts. */
  (void) ngtcp2_conn_extend_max_stream_offset (self->conn, stream_id, n_bytes);
  ngtcp2_conn_extend_max_offset (self->conn, n_bytes);
  if (self->in_ngtcp2 == 0)
    schedule_flush (self);
}

/**
 * ferry_quic_connection_stream_reset:
 * @code: application error code that tells the other side why
 *
 * Abandons both directions of a stream: queued data is dropped, the other
 * side sees #FerryQuicConnection::stream-reset with the code.
 */
gboolean
ferry_quic_connection_stream_reset (FerryQuicConnection  *self,
                                    gint64                stream_id,
                                    guint64               code,
                                    GError              **error)
{
  Stream *stream;
  int rv;

  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_open (self, error))
    return FALSE;

  stream = lookup_stream (self, stream_id);
  if (stream == NULL)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_STREAM,
                   "There is no stream %" G_GINT64_FORMAT, stream_id);
      return FALSE;
    }

  rv = ngtcp2_conn_shutdown_stream (self->conn, stream_id, code);
  if (rv != 0)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INVALID_STREAM,
                   "Could not reset stream %" G_GINT64_FORMAT ": %s", stream_id,
                   ngtcp2_strerror (rv));
      return FALSE;
    }
  stream->write_shut = TRUE;
  stream_unready (self, stream);
  schedule_flush (self);

  return TRUE;
}

/**
 * ferry_quic_connection_close:
 * @code: the application error code the other side sees
 * @reason: (nullable): a short reason the other side sees (at most 1024 bytes are sent)
 *
 * Closes the connection at once; the other side gets
 * %FERRY_QUIC_ERROR_CLOSED_BY_PEER with the code and reason. Emits
 * #FerryQuicConnection::closed with no error.
 */
void
ferry_quic_connection_close (FerryQuicConnection *self,
                             guint64              code,
                             const char          *reason)
{
  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));

  if (self->state == STATE_CLOSED || self->close_pending)
    return;

  self->close_code = code;
  g_free (self->close_reason);
  self->close_reason = g_strdup (reason);

  if (self->in_ngtcp2 > 0)
    {
      /* ngtcp2 forbids writing from inside its callbacks. */
      self->close_pending = TRUE;
      schedule_flush (self);
      return;
    }

  do_local_close (self);
}

/**
 * ferry_quic_connection_get_peer_close:
 * @code: (out) (optional): the other side's application error code
 * @reason: (out) (optional) (transfer full): its reason
 *
 * Returns: whether the other side closed the connection
 */
gboolean
ferry_quic_connection_get_peer_close (FerryQuicConnection  *self,
                                      guint64              *code,
                                      char                **reason)
{
  g_return_val_if_fail (FERRY_IS_QUIC_CONNECTION (self), FALSE);

  if (code != NULL)
    *code = self->peer_close_code;
  if (reason != NULL)
    *reason = g_strdup (self->peer_close_reason);

  return self->peer_closed;
}

void
ferry_quic_connection_get_stats (FerryQuicConnection *self,
                                 FerryQuicStats      *stats)
{
  ngtcp2_conn_stat cstat;

  g_return_if_fail (FERRY_IS_QUIC_CONNECTION (self));
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  if (self->conn == NULL)
    return;

  ngtcp2_conn_get_conn_stat (self->conn, &cstat);
  stats->smoothed_rtt_us = cstat.smoothed_rtt / NGTCP2_MICROSECONDS;
  stats->min_rtt_us = cstat.min_rtt == UINT64_MAX ? 0 : cstat.min_rtt / NGTCP2_MICROSECONDS;
  stats->cwnd = cstat.cwnd;
  stats->bytes_in_flight = cstat.bytes_in_flight;
  stats->delivery_rate = cstat.delivery_rate_sec;
  stats->max_udp_payload = (guint) cstat.max_tx_udp_payload_size;
}
