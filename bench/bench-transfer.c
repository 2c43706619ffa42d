/* bench-transfer.c
 *
 * The transfer benchmark of the "Files" issue: one command, one table.
 *
 *   bench-transfer [--size MB] [--loopback-size MB] [--slow-size MB] [--rss-size MiB]
 *                  [--only loopback|lab] [--ferry-only] [--cc bbr2|bbr|cubic]
 *                  [--socket-buffer BYTES] [--output FILE.md]
 *
 * Every row moves bytes between two separate processes (this binary re-executed in the
 * "peer" role, see ferry-lab.h): on 127.0.0.1, and in the NAT lab between two namespaces
 * "a" and "b" (public hosts) whose path is shaped by the kernel in the internet namespace
 * between them (ferry-netem for 20 ms of delay and the random loss each way, TBF for
 * 100 Mbit/s each way), so the packets take the real kernel path.
 *
 *   Ferry      FerryQuicConnection (BBRv2) over a FerryIceSession; the ICE signalling and
 *              the QUIC fingerprints go through this parent, over the children's pipes
 *   TCP        kernel TCP with TCP_CONGESTION "bbr" or "cubic", our own sender/receiver
 *   PseudoTCP  libnice's reliable agent (the baseline Ferry must beat 8 times)
 *
 * The sender makes its bytes on the fly from a PRNG and hashes them with BLAKE2b; the
 * receiver hashes what it got. A row whose hashes or byte counts differ fails the whole
 * benchmark (exit status 1), loudly. Throughput is the receiver's: first byte to last byte.
 * "Connect" is the time from handing both ICE sessions each other's signalling to the end
 * of the QUIC handshake, measured by the QUIC client. "Peak RSS" is VmHWM of each process.
 *
 * Without root (no lab) only the loopback rows run, after a loud message. With
 * FERRY_BENCH_VERBOSE set, Ferry's sender prints its QUIC statistics and the receiver its
 * namespace's UDP counters (RcvbufErrors) to stderr.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "bench-transfer"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <nice/agent.h>
#include <sodium.h>

#include "ferry-ice-session.h"
#include "ferry-lab.h"
#include "ferry-quic.h"

#define ROLE "peer"
#define CHUNK (256 * 1024)
#define HASH_LEN 32
#define MB (1000 * 1000)
#define MIB (1024 * 1024)
#define SETUP_TIMEOUT_MS 30000
#define TRANSFER_TIMEOUT_MS 300000

/* The link of the issue. */
#define LINK_MBIT 100
#define LINK_RTT_MS 40
#define LINK_RATE "100mbit"

/* Data: a PRNG stream and its hash ----------------------------------------------------- */

/* xoshiro256**: fast enough that the data never limits a gigabit transfer. */
typedef struct
{
  guint64                   s[4];
  guint64                   remaining;
  crypto_generichash_state  hash;
} Source;

static guint64
rotl (guint64 x,
      int     k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
source_next (Source *source)
{
  guint64 *s = source->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

static void
source_init (Source  *source,
             guint64  size)
{
  guint64 x = g_get_monotonic_time ();

  /* splitmix64 seeds the state; a different stream each run. */
  for (guint i = 0; i < 4; i++)
    {
      guint64 z = (x += 0x9e3779b97f4a7c15);

      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
      source->s[i] = z ^ (z >> 31);
    }
  source->remaining = size;
  crypto_generichash_init (&source->hash, NULL, 0, HASH_LEN);
}

/* Fills up to @max bytes (a multiple of 8) and returns how many. */
static gsize
source_fill (Source *source,
             guint8 *buf,
             gsize   max)
{
  gsize n = MIN (max, source->remaining);

  for (gsize i = 0; i < n; i += 8)
    {
      guint64 word = source_next (source);

      memcpy (buf + i, &word, MIN (8, n - i));
    }
  crypto_generichash_update (&source->hash, buf, n);
  source->remaining -= n;
  return n;
}

static char *
hash_final (crypto_generichash_state *state)
{
  guint8 digest[HASH_LEN];
  char hex[HASH_LEN * 2 + 1];

  crypto_generichash_final (state, digest, sizeof digest);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

typedef struct
{
  crypto_generichash_state hash;
  guint64                  received;
  gint64                   first_us;
  gint64                   last_us;
  gboolean                 done;
} Sink;

static void
sink_init (Sink *sink)
{
  memset (sink, 0, sizeof *sink);
  crypto_generichash_init (&sink->hash, NULL, 0, HASH_LEN);
}

static void
sink_add (Sink         *sink,
          gconstpointer data,
          gsize         len)
{
  if (len == 0)
    return;
  if (sink->received == 0)
    sink->first_us = g_get_monotonic_time ();
  crypto_generichash_update (&sink->hash, data, len);
  sink->received += len;
  sink->last_us = g_get_monotonic_time ();
}

/* Peak resident set of this process, in KiB. */
static guint64
peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmHWM:");
  return line != NULL ? g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10) : 0;
}

/* The peer role (a child process) ------------------------------------------------------ */

typedef struct
{
  FerryLabRequest     *waiting;      /* a command answered when the transfer ends */
  gboolean             sender;
  guint64              size;
  Source               source;
  Sink                 sink;
  char                *error;

  /* Ferry */
  FerryIceSession     *ice;
  FerryQuicConnection *quic;
  GString             *messages;
  FerryLabRequest     *init_request;
  gint64               start_us;
  gint64               connect_us;
  gboolean             handshaken;
  gboolean             send_requested;
  gint64               stream_id;
  gboolean             all_written;
  GSource             *retry;
  int                  socket_buffer;

  /* TCP */
  int                  listen_fd;
  GThread             *thread;

  /* PseudoTCP */
  NiceAgent           *agent;
  guint                nice_stream;
  gboolean             nice_ready;
  guint8              *buf;
  gsize                buf_off;
  gsize                buf_len;
} Peer;

static void
peer_fail (Peer       *peer,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);

/* Records the first failure and answers whatever command waits for the transfer. */
static void
peer_fail (Peer       *peer,
           const char *format,
           ...)
{
  va_list args;

  if (peer->error == NULL)
    {
      va_start (args, format);
      peer->error = g_strdup_vprintf (format, args);
      va_end (args);
    }
  if (peer->init_request != NULL)
    ferry_lab_request_reply (g_steal_pointer (&peer->init_request), "error %s", peer->error);
  if (peer->waiting != NULL)
    ferry_lab_request_reply (g_steal_pointer (&peer->waiting), "error %s", peer->error);
}

/* Answers "result" on the receiver: bytes, microseconds, hash, peak RSS. */
static void
peer_reply_result (Peer            *peer,
                   FerryLabRequest *request)
{
  g_autofree char *hash = hash_final (&peer->sink.hash);

  ferry_lab_request_reply (request, "ok %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %s %"
                           G_GUINT64_FORMAT, peer->sink.received,
                           peer->sink.last_us - peer->sink.first_us, hash, peak_rss_kib ());
}

static void
peer_receiver_done (Peer *peer)
{
  if (g_getenv ("FERRY_BENCH_VERBOSE") != NULL)
    {
      g_autofree char *snmp = NULL;
      const char *udp;

      /* RcvbufErrors: datagrams the kernel dropped because this process read too late. */
      if (g_file_get_contents ("/proc/net/snmp", &snmp, NULL, NULL)
          && (udp = strstr (snmp, "Udp:")) != NULL)
        g_printerr ("receiver's UDP counters:\n%s\n", udp);
    }
  peer->sink.done = TRUE;
  if (peer->waiting != NULL)
    peer_reply_result (peer, g_steal_pointer (&peer->waiting));
}

/* Answers the sender's send command: hash, connect time (or -1), peak RSS. */
static void
peer_sender_done (Peer *peer)
{
  g_autofree char *hash = hash_final (&peer->source.hash);

  if (peer->waiting == NULL)
    return;
  if (peer->quic != NULL && g_getenv ("FERRY_BENCH_VERBOSE") != NULL)
    {
      FerryQuicStats stats;

      ferry_quic_connection_get_stats (peer->quic, &stats);
      g_printerr ("sender: srtt %" G_GUINT64_FORMAT " us, min rtt %" G_GUINT64_FORMAT
                  " us, cwnd %" G_GUINT64_FORMAT ", delivery %.1f Mbit/s, payload %u\n",
                  stats.smoothed_rtt_us, stats.min_rtt_us, stats.cwnd,
                  stats.delivery_rate * 8 / 1e6, stats.max_udp_payload);
    }
  ferry_lab_request_reply (g_steal_pointer (&peer->waiting), "ok %s %" G_GINT64_FORMAT " %"
                           G_GUINT64_FORMAT, hash, peer->quic != NULL ? peer->connect_us : -1,
                           peak_rss_kib ());
}

/* Ferry: QUIC over the ICE session */

static gboolean
ferry_retry_send (gpointer user_data)
{
  Peer *peer = user_data;

  g_clear_pointer (&peer->retry, g_source_unref);
  ferry_quic_connection_datagram_writable (peer->quic);
  return G_SOURCE_REMOVE;
}

static gboolean
ferry_send_datagram (const guint8 *data,
                     gsize         len,
                     gpointer      user_data)
{
  Peer *peer = user_data;

  if (ferry_ice_session_send (peer->ice, data, len))
    return TRUE;

  /* The session has no writability signal (the socket buffer is full): try again soon. */
  if (peer->retry == NULL)
    {
      peer->retry = g_timeout_source_new (1);
      g_source_set_callback (peer->retry, ferry_retry_send, peer, NULL);
      g_source_attach (peer->retry, NULL);
    }
  return FALSE;
}

static void
ferry_receive_datagram (FerryIceSession *session,
                        const guint8    *data,
                        gsize            length,
                        gpointer         user_data)
{
  Peer *peer = user_data;

  ferry_quic_connection_receive_datagram (peer->quic, data, length);
}

static void
ferry_pump (Peer *peer)
{
  g_autoptr(GError) error = NULL;

  while (!peer->all_written
         && ferry_quic_connection_stream_is_writable (peer->quic, peer->stream_id))
    {
      guint8 *buf = g_malloc (CHUNK);
      gsize n = source_fill (&peer->source, buf, CHUNK);
      g_autoptr(GBytes) bytes = g_bytes_new_take (buf, n);

      peer->all_written = peer->source.remaining == 0;
      if (!ferry_quic_connection_stream_write (peer->quic, peer->stream_id, bytes,
                                               peer->all_written, &error))
        {
          peer_fail (peer, "write: %s", error->message);
          return;
        }
    }
}

static void
ferry_start_sending (Peer *peer)
{
  g_autoptr(GError) error = NULL;

  peer->stream_id = ferry_quic_connection_open_stream (peer->quic, &error);
  if (peer->stream_id < 0)
    {
      peer_fail (peer, "open stream: %s", error->message);
      return;
    }
  ferry_pump (peer);
}

static void
ferry_on_writable (FerryQuicConnection *quic,
                   gint64               stream_id,
                   gpointer             user_data)
{
  Peer *peer = user_data;

  if (peer->sender && stream_id == peer->stream_id)
    ferry_pump (peer);
}

static void
ferry_on_data (FerryQuicConnection *quic,
               gint64               stream_id,
               gconstpointer        data,
               guint64              len,
               gboolean             fin,
               gpointer             user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (peer->sender)
    {
      /* The receiver ends its half once it has every byte: the transfer is over. */
      if (fin)
        peer_sender_done (peer);
      return;
    }

  sink_add (&peer->sink, data, len);
  ferry_quic_connection_stream_consume (quic, stream_id, len);
  if (fin)
    {
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

      if (!ferry_quic_connection_stream_write (quic, stream_id, empty, TRUE, &error))
        peer_fail (peer, "answer FIN: %s", error->message);
      peer_receiver_done (peer);
    }
}

static void
ferry_on_closed (FerryQuicConnection *quic,
                 const GError        *error,
                 gpointer             user_data)
{
  Peer *peer = user_data;

  if (error != NULL && !peer->sink.done)
    peer_fail (peer, "QUIC closed: %s", error->message);
}

static void
ferry_on_handshake (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result, &error))
    {
      peer_fail (peer, "handshake: %s", error->message);
      return;
    }
  peer->connect_us = g_get_monotonic_time () - peer->start_us;
  peer->handshaken = TRUE;
  if (peer->sender && peer->send_requested)
    ferry_start_sending (peer);
}

static void
ferry_on_ice_connected (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Peer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_ice_session_connect_finish (FERRY_ICE_SESSION (object), result, &error))
    {
      peer_fail (peer, "ICE: %s", error->message);
      return;
    }
  if (peer->socket_buffer > 0)
    {
      /* An experiment for the ICE session (--socket-buffer): its one stream is stream 1. */
      NiceAgent *agent = ferry_ice_session_get_agent (peer->ice);
      g_autoptr(GSocket) socket = nice_agent_get_selected_socket (agent, 1, 1);

      if (socket == NULL
          || !g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, peer->socket_buffer, &error)
          || !g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, peer->socket_buffer, &error))
        {
          peer_fail (peer, "socket buffer: %s", error != NULL ? error->message : "no socket");
          return;
        }
    }
  ferry_quic_connection_handshake_async (peer->quic, NULL, ferry_on_handshake, peer);
}

static void
ferry_on_local_message (FerryIceSession *session,
                        const char      *message,
                        gpointer         user_data)
{
  Peer *peer = user_data;
  g_autofree char *blob = NULL;

  g_string_append_printf (peer->messages, "%s\n", message);
  /* Gathering is over: hand the whole signalling to the parent at once. */
  if (strstr (message, "\"end-of-candidates\"") == NULL || peer->init_request == NULL)
    return;
  blob = g_base64_encode ((const guint8 *) peer->messages->str, peer->messages->len);
  ferry_lab_request_reply (g_steal_pointer (&peer->init_request), "ok %s %s",
                           ferry_quic_connection_get_local_fingerprint (peer->quic), blob);
}

/* ferry-init send|recv LOCAL_IP CC SOCKET_BUFFER
 * CC is "default" or a FerryQuicCongestionControl nick; SOCKET_BUFFER 0 leaves libnice's. */
static void
ferry_init (Peer             *peer,
            const char       *direction,
            const char       *local_ip,
            const char       *cc,
            const char       *socket_buffer,
            FerryLabRequest  *request)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GEnumClass) cc_class = g_type_class_ref (FERRY_TYPE_QUIC_CONGESTION_CONTROL);
  GEnumValue *cc_value = g_enum_get_value_by_nick (cc_class, cc);

  peer->socket_buffer = (int) g_ascii_strtoll (socket_buffer, NULL, 10);

  peer->sender = g_str_equal (direction, "send");
  peer->messages = g_string_new (NULL);
  peer->init_request = request;
  peer->quic = ferry_quic_connection_new (peer->sender ? FERRY_QUIC_ROLE_CLIENT
                                                       : FERRY_QUIC_ROLE_SERVER, &error);
  if (peer->quic == NULL)
    {
      peer_fail (peer, "QUIC: %s", error->message);
      return;
    }
  if (cc_value != NULL)
    ferry_quic_connection_set_congestion_control (peer->quic, cc_value->value);
  ferry_quic_connection_set_send_func (peer->quic, ferry_send_datagram, peer, NULL);
  g_signal_connect (peer->quic, "stream-data", G_CALLBACK (ferry_on_data), peer);
  g_signal_connect (peer->quic, "stream-writable", G_CALLBACK (ferry_on_writable), peer);
  g_signal_connect (peer->quic, "closed", G_CALLBACK (ferry_on_closed), peer);

  peer->ice = ferry_ice_session_new (peer->sender ? FERRY_ICE_ROLE_CONTROLLING
                                                  : FERRY_ICE_ROLE_CONTROLLED);
  ferry_ice_session_set_candidate_types (peer->ice, FERRY_ICE_CANDIDATE_HOST);
  ferry_ice_session_set_timeout (peer->ice, SETUP_TIMEOUT_MS);
  if (!ferry_ice_session_add_local_address (peer->ice, local_ip, &error))
    {
      peer_fail (peer, "ICE address: %s", error->message);
      return;
    }
  ferry_ice_session_set_receive_func (peer->ice, ferry_receive_datagram, peer, NULL);
  g_signal_connect (peer->ice, "local-message", G_CALLBACK (ferry_on_local_message), peer);
  ferry_ice_session_connect_async (peer->ice, NULL, ferry_on_ice_connected, peer);
}

/* ferry-remote FINGERPRINT BLOB: the clock of "connect" starts here. */
static void
ferry_remote (Peer            *peer,
              const char      *fingerprint,
              const char      *blob,
              FerryLabRequest *request)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *text = NULL;
  g_auto(GStrv) messages = NULL;
  gsize len;

  peer->start_us = g_get_monotonic_time ();
  if (!ferry_quic_connection_set_peer_fingerprint (peer->quic, fingerprint, &error))
    {
      ferry_lab_request_reply (request, "error %s", error->message);
      return;
    }
  text = g_base64_decode (blob, &len);
  messages = g_strsplit ((const char *) text, "\n", -1);
  for (guint i = 0; messages[i] != NULL; i++)
    {
      if (messages[i][0] == '\0')
        continue;
      if (!ferry_ice_session_handle_remote_message (peer->ice, messages[i], -1, &error))
        {
          ferry_lab_request_reply (request, "error %s", error->message);
          return;
        }
    }
  ferry_lab_request_reply (request, "ok");
}

/* Kernel TCP */

static gboolean
tcp_set_cc (int          fd,
            const char  *cc,
            char       **why)
{
  if (setsockopt (fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen (cc)) == 0)
    return TRUE;
  *why = g_strdup_printf ("%s unavailable (%s)", cc, g_strerror (errno));
  return FALSE;
}

static gpointer
tcp_receive_thread (gpointer user_data)
{
  Peer *peer = user_data;
  g_autofree guint8 *buf = g_malloc (CHUNK);
  int fd = accept (peer->listen_fd, NULL, NULL);
  gssize n;

  if (fd < 0)
    return g_strdup_printf ("accept: %s", g_strerror (errno));
  while ((n = read (fd, buf, CHUNK)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          close (fd);
          return g_strdup_printf ("read: %s", g_strerror (errno));
        }
      sink_add (&peer->sink, buf, n);
    }
  /* Closing tells the sender that every byte arrived. */
  close (fd);
  return NULL;
}

/* tcp-listen CC */
static void
tcp_listen (Peer            *peer,
            const char      *cc,
            FerryLabRequest *request)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t addr_len = sizeof addr;
  g_autofree char *why = NULL;

  peer->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (peer->listen_fd < 0 || !tcp_set_cc (peer->listen_fd, cc, &why)
      || bind (peer->listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0
      || listen (peer->listen_fd, 1) < 0
      || getsockname (peer->listen_fd, (struct sockaddr *) &addr, &addr_len) < 0)
    {
      ferry_lab_request_reply (request, "error %s", why != NULL ? why : g_strerror (errno));
      return;
    }
  peer->thread = g_thread_new ("tcp-receive", tcp_receive_thread, peer);
  ferry_lab_request_reply (request, "ok %u", ntohs (addr.sin_port));
}

/* tcp-send CC HOST PORT SIZE: blocks this process until the receiver closed. */
static void
tcp_send (Peer            *peer,
          const char      *cc,
          const char      *host,
          const char      *port,
          const char      *size,
          FerryLabRequest *request)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  g_autofree guint8 *buf = g_malloc (CHUNK);
  g_autofree char *why = NULL;
  int fd;

  addr.sin_port = htons (g_ascii_strtoull (port, NULL, 10));
  inet_pton (AF_INET, host, &addr.sin_addr);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || !tcp_set_cc (fd, cc, &why)
      || connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      ferry_lab_request_reply (request, "error %s", why != NULL ? why : g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return;
    }
  source_init (&peer->source, g_ascii_strtoull (size, NULL, 10));
  while (peer->source.remaining > 0)
    {
      gsize n = source_fill (&peer->source, buf, CHUNK);
      gsize off = 0;

      while (off < n)
        {
          gssize w = write (fd, buf + off, n - off);

          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            {
              ferry_lab_request_reply (request, "error write: %s", g_strerror (errno));
              close (fd);
              return;
            }
          off += w;
        }
    }
  shutdown (fd, SHUT_WR);
  while (read (fd, buf, CHUNK) > 0)
    ;
  close (fd);
  peer->waiting = request;
  peer_sender_done (peer);
}

/* libnice PseudoTCP */

static void
ptcp_pump (Peer *peer)
{
  if (!peer->sender || !peer->send_requested || !peer->nice_ready)
    return;
  for (;;)
    {
      gint sent;

      if (peer->buf_off == peer->buf_len)
        {
          if (peer->source.remaining == 0)
            return;
          peer->buf_len = source_fill (&peer->source, peer->buf, CHUNK);
          peer->buf_off = 0;
        }
      sent = nice_agent_send (peer->agent, peer->nice_stream, 1, peer->buf_len - peer->buf_off,
                              (const char *) peer->buf + peer->buf_off);
      if (sent <= 0)
        return;   /* "reliable-transport-writable" comes when there is room again */
      peer->buf_off += sent;
    }
}

static void
ptcp_on_recv (NiceAgent *agent,
              guint      stream_id,
              guint      component_id,
              guint      len,
              gchar     *buf,
              gpointer   user_data)
{
  Peer *peer = user_data;

  if (peer->sender)
    {
      /* One byte back from the receiver: it has everything. */
      if (len > 0 && peer->source.remaining == 0 && peer->buf_off == peer->buf_len)
        peer_sender_done (peer);
      return;
    }
  sink_add (&peer->sink, buf, len);
  if (!peer->sink.done && peer->sink.received >= peer->size)
    {
      nice_agent_send (agent, stream_id, 1, 1, "!");
      peer_receiver_done (peer);
    }
}

static void
ptcp_on_writable (NiceAgent *agent,
                  guint      stream_id,
                  guint      component_id,
                  gpointer   user_data)
{
  ptcp_pump (user_data);
}

static void
ptcp_on_state (NiceAgent *agent,
               guint      stream_id,
               guint      component_id,
               guint      state,
               gpointer   user_data)
{
  Peer *peer = user_data;

  if (state == NICE_COMPONENT_STATE_READY)
    {
      peer->nice_ready = TRUE;
      ptcp_pump (peer);
    }
  else if (state == NICE_COMPONENT_STATE_FAILED)
    {
      peer_fail (peer, "PseudoTCP: ICE failed");
    }
}

static void
ptcp_on_gathered (NiceAgent *agent,
                  guint      stream_id,
                  gpointer   user_data)
{
  Peer *peer = user_data;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  g_autofree char *blob = NULL;
  GSList *candidates;

  if (peer->init_request == NULL)
    return;
  nice_agent_get_local_credentials (agent, stream_id, &ufrag, &pwd);
  g_string_append_printf (text, "%s\n%s\n", ufrag, pwd);
  candidates = nice_agent_get_local_candidates (agent, stream_id, 1);
  for (GSList *l = candidates; l != NULL; l = l->next)
    {
      g_autofree char *line = nice_agent_generate_local_candidate_sdp (agent, l->data);

      g_string_append_printf (text, "%s\n", line);
    }
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);
  blob = g_base64_encode ((const guint8 *) text->str, text->len);
  ferry_lab_request_reply (g_steal_pointer (&peer->init_request), "ok %s", blob);
}

/* ptcp-init send|recv LOCAL_IP SIZE */
static void
ptcp_init (Peer            *peer,
           const char      *direction,
           const char      *local_ip,
           const char      *size,
           FerryLabRequest *request)
{
  NiceAddress address;

  peer->sender = g_str_equal (direction, "send");
  peer->size = g_ascii_strtoull (size, NULL, 10);
  peer->buf = g_malloc (CHUNK);
  peer->init_request = request;
  peer->agent = nice_agent_new_reliable (NULL, NICE_COMPATIBILITY_RFC5245);
  g_object_set (peer->agent, "controlling-mode", peer->sender, "upnp", FALSE,
                "ice-tcp", FALSE, NULL);
  nice_address_init (&address);
  if (!nice_address_set_from_string (&address, local_ip)
      || !nice_agent_add_local_address (peer->agent, &address))
    {
      peer_fail (peer, "bad local address %s", local_ip);
      return;
    }
  peer->nice_stream = nice_agent_add_stream (peer->agent, 1);
  g_signal_connect (peer->agent, "candidate-gathering-done", G_CALLBACK (ptcp_on_gathered),
                    peer);
  g_signal_connect (peer->agent, "component-state-changed", G_CALLBACK (ptcp_on_state), peer);
  g_signal_connect (peer->agent, "reliable-transport-writable", G_CALLBACK (ptcp_on_writable),
                    peer);
  nice_agent_attach_recv (peer->agent, peer->nice_stream, 1, NULL, ptcp_on_recv, peer);
  if (!nice_agent_gather_candidates (peer->agent, peer->nice_stream))
    peer_fail (peer, "gathering failed");
}

/* ptcp-remote BLOB */
static void
ptcp_remote (Peer            *peer,
             const char      *blob,
             FerryLabRequest *request)
{
  g_autofree guint8 *text = NULL;
  g_auto(GStrv) lines = NULL;
  GSList *candidates = NULL;
  gsize len;
  int added;

  text = g_base64_decode (blob, &len);
  lines = g_strsplit ((const char *) text, "\n", -1);
  if (g_strv_length (lines) < 3
      || !nice_agent_set_remote_credentials (peer->agent, peer->nice_stream, lines[0], lines[1]))
    {
      ferry_lab_request_reply (request, "error bad credentials");
      return;
    }
  for (guint i = 2; lines[i] != NULL; i++)
    {
      NiceCandidate *candidate;

      if (lines[i][0] == '\0')
        continue;
      candidate = nice_agent_parse_remote_candidate_sdp (peer->agent, peer->nice_stream,
                                                         lines[i]);
      if (candidate != NULL)
        candidates = g_slist_append (candidates, candidate);
    }
  added = nice_agent_set_remote_candidates (peer->agent, peer->nice_stream, 1, candidates);
  g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);
  if (added <= 0)
    ferry_lab_request_reply (request, "error no usable candidate");
  else
    ferry_lab_request_reply (request, "ok");
}

/* The command loop */

static void
peer_command (const char * const *words,
              FerryLabRequest    *request,
              gpointer            user_data)
{
  Peer *peer = user_data;
  guint n = g_strv_length ((GStrv) words);
  const char *cmd = words[0];

  if (peer->error != NULL)
    ferry_lab_request_reply (request, "error %s", peer->error);
  else if (g_str_equal (cmd, "ferry-init") && n == 5)
    ferry_init (peer, words[1], words[2], words[3], words[4], request);
  else if (g_str_equal (cmd, "ferry-remote") && n == 3)
    ferry_remote (peer, words[1], words[2], request);
  else if (g_str_equal (cmd, "ferry-send") && n == 2)
    {
      source_init (&peer->source, g_ascii_strtoull (words[1], NULL, 10));
      peer->send_requested = TRUE;
      peer->waiting = request;
      if (peer->handshaken)
        ferry_start_sending (peer);
    }
  else if (g_str_equal (cmd, "tcp-listen") && n == 2)
    tcp_listen (peer, words[1], request);
  else if (g_str_equal (cmd, "tcp-send") && n == 5)
    tcp_send (peer, words[1], words[2], words[3], words[4], request);
  else if (g_str_equal (cmd, "ptcp-init") && n == 4)
    ptcp_init (peer, words[1], words[2], words[3], request);
  else if (g_str_equal (cmd, "ptcp-remote") && n == 2)
    ptcp_remote (peer, words[1], request);
  else if (g_str_equal (cmd, "ptcp-send") && n == 1)
    {
      source_init (&peer->source, peer->size);
      peer->send_requested = TRUE;
      peer->waiting = request;
      ptcp_pump (peer);
    }
  else if (g_str_equal (cmd, "result") && n == 1)
    {
      if (peer->thread != NULL)
        {
          g_autofree char *failure = g_thread_join (g_steal_pointer (&peer->thread));

          if (failure != NULL)
            {
              ferry_lab_request_reply (request, "error %s", failure);
              return;
            }
          peer->sink.done = TRUE;
        }
      if (peer->sink.done)
        peer_reply_result (peer, request);
      else
        peer->waiting = request;
    }
  else
    ferry_lab_request_reply (request, "error bad command");
}

/* The parent: rows and the table ------------------------------------------------------- */

typedef enum
{
  KIND_FERRY,
  KIND_TCP_BBR,
  KIND_TCP_CUBIC,
  KIND_PSEUDOTCP,
} Kind;

static const char * const kind_names[] = {
  "Ferry (QUIC/BBRv2 over ICE)", "kernel TCP BBR", "kernel TCP CUBIC", "libnice PseudoTCP",
};

typedef struct
{
  Kind     kind;
  char    *link;
  double   loss;
  guint64  size;
  double   mbit;           /* < 0: no number (see note) */
  double   connect_ms;     /* < 0: not measured */
  guint64  sender_kib;
  guint64  receiver_kib;
  char    *note;
} Row;

typedef struct
{
  FerryLab   *lab;           /* NULL on loopback */
  const char *link;
  double      loss;
  GPtrArray  *rows;
  gboolean    failed;
} Run;

static void
row_free (Row *row)
{
  g_free (row->link);
  g_free (row->note);
  g_free (row);
}

static const char *
host_addr (Run        *run,
           const char *host)
{
  return run->lab != NULL ? ferry_lab_addr (run->lab, host) : "127.0.0.1";
}

/* Sends one command; the answer's words after "ok", or %NULL with @why set. */
static GStrv
call (FerryLabChild  *child,
      guint           timeout_ms,
      char          **why,
      const char     *format,
      ...) G_GNUC_PRINTF (4, 5);

static GStrv
call (FerryLabChild  *child,
      guint           timeout_ms,
      char          **why,
      const char     *format,
      ...)
{
  g_autofree char *command = NULL;
  g_autofree char *answer = NULL;
  va_list args;

  if (*why != NULL)
    return NULL;
  va_start (args, format);
  command = g_strdup_vprintf (format, args);
  va_end (args);
  answer = ferry_lab_child_call (child, timeout_ms, "%s", command);
  if (answer == NULL)
    {
      *why = g_strdup_printf ("no answer to %.20s", command);
      return NULL;
    }
  if (!g_str_has_prefix (answer, "ok"))
    {
      *why = g_strdup (g_str_has_prefix (answer, "error ") ? answer + 6 : answer);
      return NULL;
    }
  return g_strsplit (answer, " ", -1);
}

static FerryLabChild *
start_peer (Run         *run,
            const char  *host,
            char       **why)
{
  g_autoptr(GError) error = NULL;
  FerryLabChild *child;

  if (*why != NULL)
    return NULL;
  child = ferry_lab_child_new (run->lab, host, ROLE, &error);
  if (child == NULL)
    *why = g_strdup (error->message);
  return child;
}

/* Checks and records one finished transfer. */
static void
finish_row (Run         *run,
            Row         *row,
            const char  *sent_hash,
            GStrv        result,
            char       **why)
{
  guint64 received, micros;

  if (*why != NULL && strstr (*why, " unavailable (") != NULL)
    {
      /* This kernel (or user) cannot pick that congestion control: say so, no failure. */
      row->mbit = -1;
      row->note = g_strdup (*why);
      return;
    }
  if (*why != NULL || result == NULL || g_strv_length (result) < 5)
    {
      row->mbit = -1;
      row->note = g_strdup_printf ("failed: %s", *why != NULL ? *why : "bad answer");
      run->failed = TRUE;
      return;
    }
  received = g_ascii_strtoull (result[1], NULL, 10);
  micros = g_ascii_strtoull (result[2], NULL, 10);
  row->receiver_kib = g_ascii_strtoull (result[4], NULL, 10);
  if (received != row->size || g_strcmp0 (sent_hash, result[3]) != 0)
    {
      g_printerr ("\n!!!!! WRONG BYTES: %s on %s: sent %" G_GUINT64_FORMAT " bytes hashing %s, "
                  "received %" G_GUINT64_FORMAT " hashing %s !!!!!\n\n", kind_names[row->kind],
                  run->link, row->size, sent_hash, received, result[3]);
      row->mbit = -1;
      row->note = g_strdup ("WRONG BYTES");
      run->failed = TRUE;
      return;
    }
  row->mbit = micros > 0 ? (double) received * 8 / micros : 0;
}

/* --cc: Ferry's congestion controller, "default" for whatever Ferry uses. */
static char *ferry_cc;
/* --socket-buffer: SO_RCVBUF/SO_SNDBUF for the ICE socket, 0 to leave them alone. */
static int socket_buffer;

static Row *
run_ferry (Run     *run,
           guint64  size)
{
  g_autoptr(FerryLabChild) sender = NULL;
  g_autoptr(FerryLabChild) receiver = NULL;
  g_auto(GStrv) s_init = NULL, r_init = NULL, ok1 = NULL, ok2 = NULL, sent = NULL, got = NULL;
  g_autofree char *why = NULL;
  Row *row = g_new0 (Row, 1);

  row->kind = KIND_FERRY;
  row->size = size;
  row->connect_ms = -1;
  sender = start_peer (run, "a", &why);
  receiver = start_peer (run, "b", &why);
  s_init = call (sender, SETUP_TIMEOUT_MS, &why, "ferry-init send %s %s %d",
                 host_addr (run, "a"), ferry_cc, socket_buffer);
  r_init = call (receiver, SETUP_TIMEOUT_MS, &why, "ferry-init recv %s %s %d",
                 host_addr (run, "b"), ferry_cc, socket_buffer);
  if (why == NULL && (g_strv_length (s_init) != 3 || g_strv_length (r_init) != 3))
    why = g_strdup ("bad init answer");
  if (why == NULL)
    ok1 = call (receiver, SETUP_TIMEOUT_MS, &why, "ferry-remote %s %s", s_init[1], s_init[2]);
  if (why == NULL)
    ok2 = call (sender, SETUP_TIMEOUT_MS, &why, "ferry-remote %s %s", r_init[1], r_init[2]);
  sent = call (sender, TRANSFER_TIMEOUT_MS, &why, "ferry-send %" G_GUINT64_FORMAT, size);
  got = call (receiver, TRANSFER_TIMEOUT_MS, &why, "result");
  if (sent != NULL && g_strv_length (sent) == 4)
    {
      row->connect_ms = g_ascii_strtod (sent[2], NULL) / 1000;
      row->sender_kib = g_ascii_strtoull (sent[3], NULL, 10);
    }
  finish_row (run, row, sent != NULL ? sent[1] : NULL, got, &why);
  return row;
}

static Row *
run_tcp (Run     *run,
         Kind     kind,
         guint64  size)
{
  const char *cc = kind == KIND_TCP_BBR ? "bbr" : "cubic";
  g_autoptr(FerryLabChild) sender = NULL;
  g_autoptr(FerryLabChild) receiver = NULL;
  g_auto(GStrv) port = NULL, sent = NULL, got = NULL;
  g_autofree char *why = NULL;
  Row *row = g_new0 (Row, 1);

  row->kind = kind;
  row->size = size;
  row->connect_ms = -1;
  sender = start_peer (run, "a", &why);
  receiver = start_peer (run, "b", &why);
  port = call (receiver, SETUP_TIMEOUT_MS, &why, "tcp-listen %s", cc);
  sent = call (sender, TRANSFER_TIMEOUT_MS, &why, "tcp-send %s %s %s %" G_GUINT64_FORMAT,
               cc, host_addr (run, "b"), port != NULL ? port[1] : "0", size);
  got = call (receiver, TRANSFER_TIMEOUT_MS, &why, "result");
  if (sent != NULL && g_strv_length (sent) == 4)
    row->sender_kib = g_ascii_strtoull (sent[3], NULL, 10);
  finish_row (run, row, sent != NULL ? sent[1] : NULL, got, &why);
  return row;
}

static Row *
run_pseudotcp (Run     *run,
               guint64  size)
{
  g_autoptr(FerryLabChild) sender = NULL;
  g_autoptr(FerryLabChild) receiver = NULL;
  g_auto(GStrv) s_init = NULL, r_init = NULL, ok1 = NULL, ok2 = NULL, sent = NULL, got = NULL;
  g_autofree char *why = NULL;
  Row *row = g_new0 (Row, 1);

  row->kind = KIND_PSEUDOTCP;
  row->size = size;
  row->connect_ms = -1;
  sender = start_peer (run, "a", &why);
  receiver = start_peer (run, "b", &why);
  s_init = call (sender, SETUP_TIMEOUT_MS, &why, "ptcp-init send %s %" G_GUINT64_FORMAT,
                 host_addr (run, "a"), size);
  r_init = call (receiver, SETUP_TIMEOUT_MS, &why, "ptcp-init recv %s %" G_GUINT64_FORMAT,
                 host_addr (run, "b"), size);
  ok1 = call (receiver, SETUP_TIMEOUT_MS, &why, "ptcp-remote %s", s_init != NULL ? s_init[1] : "");
  ok2 = call (sender, SETUP_TIMEOUT_MS, &why, "ptcp-remote %s", r_init != NULL ? r_init[1] : "");
  sent = call (sender, TRANSFER_TIMEOUT_MS, &why, "ptcp-send");
  got = call (receiver, TRANSFER_TIMEOUT_MS, &why, "result");
  if (sent != NULL && g_strv_length (sent) == 4)
    row->sender_kib = g_ascii_strtoull (sent[3], NULL, 10);
  finish_row (run, row, sent != NULL ? sent[1] : NULL, got, &why);
  return row;
}

static void
add_row (Run *run,
         Row *row)
{
  row->link = g_strdup (run->link);
  row->loss = run->loss;
  g_print ("  %-28s %-30s %7.1f MB  %s%.1f Mbit/s%s%s\n", kind_names[row->kind], row->link,
           (double) row->size / MB, row->mbit < 0 ? "(" : "", MAX (row->mbit, 0.0),
           row->note != NULL ? " " : "", row->note != NULL ? row->note : "");
  g_ptr_array_add (run->rows, row);
}

/* Rows of one link: Ferry, TCP BBR, TCP CUBIC, PseudoTCP. */
static gboolean ferry_only;

static void
run_link (Run     *run,
          guint64  size,
          guint64  slow_size)
{
  add_row (run, run_ferry (run, size));
  if (ferry_only)
    return;
  add_row (run, run_tcp (run, KIND_TCP_BBR, size));
  /* Loss-based CUBIC and PseudoTCP crawl under loss: a smaller size keeps the run short. */
  add_row (run, run_tcp (run, KIND_TCP_CUBIC, run->loss > 0 ? slow_size : size));
  add_row (run, run_pseudotcp (run, run->lab != NULL ? slow_size : size));
}

static Row *
find_row (GPtrArray  *rows,
          Kind        kind,
          const char *link)
{
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);

      if (row->kind == kind && g_str_equal (row->link, link) && row->mbit >= 0)
        return row;
    }
  return NULL;
}

static char *
format_table (GPtrArray  *rows,
              const char *lab_note)
{
  GString *out = g_string_new (NULL);
  g_autoptr(GString) goals = g_string_new (NULL);
  Row *small = NULL, *big = NULL;

  g_string_append (out, "| Transport | Link | Moved | Throughput | vs TCP BBR | Connect "
                        "| Peak RSS sender / receiver |\n"
                        "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);
      Row *bbr = find_row (rows, KIND_TCP_BBR, row->link);
      g_autofree char *moved = NULL;
      g_autofree char *speed = NULL;
      g_autofree char *ratio = NULL;
      g_autofree char *connect = NULL;
      g_autofree char *rss = NULL;

      moved = row->size % MIB == 0 && row->size >= 64 * MIB
        ? g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", row->size / MIB)
        : g_strdup_printf ("%.0f MB", (double) row->size / MB);
      speed = row->mbit >= 0 ? g_strdup_printf ("%.1f Mbit/s", row->mbit)
                             : g_strdup (row->note != NULL ? row->note : "failed");
      ratio = row->mbit >= 0 && bbr != NULL && bbr->mbit > 0
        ? g_strdup_printf ("%.2f×", row->mbit / bbr->mbit) : g_strdup ("–");
      connect = row->connect_ms >= 0 ? g_strdup_printf ("%.0f ms", row->connect_ms)
                                     : g_strdup ("–");
      rss = row->sender_kib > 0 && row->receiver_kib > 0
        ? g_strdup_printf ("%.1f / %.1f MiB", row->sender_kib / 1024.0,
                           row->receiver_kib / 1024.0)
        : g_strdup ("–");
      g_string_append_printf (out, "| %s | %s | %s | %s | %s | %s | %s |\n",
                              kind_names[row->kind], row->link, moved, speed, ratio, connect,
                              rss);
      if (row->kind == KIND_FERRY && g_str_equal (row->link, "loopback (memory)"))
        {
          if (small == NULL || row->size < small->size)
            small = row;
          if (big == NULL || row->size > big->size)
            big = row;
        }
    }

  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);
      Row *ptcp, *bbr;

      if (row->kind != KIND_FERRY || row->mbit < 0 || g_str_has_prefix (row->link, "loopback"))
        continue;
      bbr = find_row (rows, KIND_TCP_BBR, row->link);
      if (row->loss > 0)
        g_string_append_printf (goals, "- Ferry at %.0f %% loss: %.1f Mbit/s = %.1f %% of the "
                                "%d Mbit/s link (goal ≥ 90 %%; kernel TCP BBR: %.1f Mbit/s): "
                                "**%s**\n", row->loss, row->mbit,
                                row->mbit * 100 / LINK_MBIT, LINK_MBIT,
                                bbr != NULL ? bbr->mbit : 0.0,
                                row->mbit >= 0.9 * LINK_MBIT ? "met" : "MISSED");
      ptcp = find_row (rows, KIND_PSEUDOTCP, row->link);
      if (ptcp != NULL && ptcp->mbit > 0)
        g_string_append_printf (goals, "- Ferry vs PseudoTCP on %s: %.1f× (goal ≥ 8×): **%s**\n",
                                row->link, row->mbit / ptcp->mbit,
                                row->mbit >= 8 * ptcp->mbit ? "met" : "MISSED");
    }
  if (small != NULL && big != NULL && small != big)
    {
      double grow = ((double) big->sender_kib - small->sender_kib) / 1024;
      double grow_r = ((double) big->receiver_kib - small->receiver_kib) / 1024;

      /* "Flat": sixteen times the data costs less than 16 MiB more on either side. */
      g_string_append_printf (goals, "- Memory, %" G_GUINT64_FORMAT " MiB → %" G_GUINT64_FORMAT
                              " MiB: sender %+.1f MiB, receiver %+.1f MiB (goal: flat): "
                              "**%s**\n", small->size / MIB, big->size / MIB, grow, grow_r,
                              grow < 16 && grow_r < 16 ? "met" : "MISSED");
    }
  if (goals->len > 0)
    g_string_append_printf (out, "\nGoals of the issue:\n\n%s", goals->str);
  if (lab_note != NULL)
    g_string_append_printf (out, "\n%s\n", lab_note);
  return g_string_free (out, FALSE);
}

/* Best effort: kernels build BBR as a module. Without it the BBR rows say "unavailable". */
static void
load_tcp_bbr (void)
{
  g_autofree char *available = NULL;
  const char *argv[] = { "modprobe", "tcp_bbr", NULL };

  if (g_file_get_contents ("/proc/sys/net/ipv4/tcp_available_congestion_control", &available,
                           NULL, NULL)
      && strstr (available, "bbr") != NULL)
    return;
  if (!g_spawn_sync (NULL, (char **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL))
    g_printerr ("TCP BBR is not loaded and modprobe is missing: no BBR rows\n");
}

static int
run_parent (guint64     size,
            guint64     loopback_size,
            guint64     slow_size,
            guint64     rss_size,
            const char *only,
            const char *output)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);
  g_autofree char *reason = NULL;
  g_autofree char *lab_note = NULL;
  g_autofree char *table = NULL;
  g_autoptr(GError) error = NULL;
  gboolean wrong = FALSE;
  gint64 start = g_get_monotonic_time ();
  const double losses[] = { 0, 1 };

  load_tcp_bbr ();

  if (only == NULL || g_str_equal (only, "loopback"))
    {
      Run run = { NULL, "loopback", 0, rows, FALSE };

      g_print ("Loopback (127.0.0.1, two processes):\n");
      run_link (&run, loopback_size, slow_size);
      /* Memory must not grow with the size of the transfer. */
      run.link = "loopback (memory)";
      add_row (&run, run_ferry (&run, 64 * MIB));
      add_row (&run, run_ferry (&run, rss_size));
      wrong |= run.failed;
    }

  if (only == NULL || g_str_equal (only, "lab"))
    {
      if (!ferry_lab_available (&reason))
        {
          lab_note = g_strdup_printf ("**The lab rows did not run: %s.** Run as root for the "
                                      "%d Mbit/s, %d ms links.", g_strstrip (reason),
                                      LINK_MBIT, LINK_RTT_MS);
          g_printerr ("\n"
                      "######################################################################\n"
                      "##  NOT ROOT OR NO NETWORK NAMESPACES: ONLY THE LOOPBACK ROWS RUN.   ##\n"
                      "##  %-64s##\n"
                      "##  Run as root for the lab link rows (100 Mbit/s, 40 ms, 0/1 %%).   ##\n"
                      "######################################################################\n"
                      "\n", reason);
        }
      else
        {
          for (guint i = 0; i < G_N_ELEMENTS (losses); i++)
            {
              const char *hosts[] = { "a:none", "b:none", NULL };
              g_autoptr(FerryLab) lab = NULL;
              g_autofree char *link = g_strdup_printf ("lab %d Mbit/s, %d ms, %.0f %% loss",
                                                       LINK_MBIT, LINK_RTT_MS, losses[i]);
              Run run = { NULL, link, losses[i], rows, FALSE };

              g_print ("%s:\n", link);
              lab = ferry_lab_new (hosts, FALSE, &error);
              /* The shaping sits in the internet namespace, which forwards between a and b:
               * half the RTT, the loss and the rate each way. Not in a's own namespace: there
               * the packets held back still count against the sending socket (TCP Small
               * Queues), which would throttle TCP to a few Mbit/s. */
              if (lab == NULL
                  || !ferry_lab_netem (lab, "inet", LINK_RTT_MS / 2, losses[i], LINK_RATE,
                                       &error))
                {
                  g_printerr ("The lab could not be built: %s\n", error->message);
                  return 1;
                }
              run.lab = lab;
              run_link (&run, size, slow_size);
              wrong |= run.failed;
            }
        }
    }

  table = format_table (rows, lab_note);
  /* The table is UTF-8 Markdown whatever the locale: not through g_print's conversion. */
  printf ("\n%s\n(%.0f s in all)\n", table, (g_get_monotonic_time () - start) / 1e6);
  fflush (stdout);
  if (output != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (output);

      g_mkdir_with_parents (dir, 0755);
      if (!g_file_set_contents (output, table, -1, &error))
        {
          g_printerr ("Cannot write %s: %s\n", output, error->message);
          return 1;
        }
      g_print ("Written to %s\n", output);
    }
  if (wrong)
    {
      g_printerr ("\n!!!!! A TRANSFER FAILED OR MOVED WRONG BYTES: see the table. !!!!!\n");
      return 1;
    }
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  Peer peer = { .listen_fd = -1 };
  int size_mb = 48, loopback_mb = 200, slow_mb = 12, rss_mib = 1024;
  g_autofree char *only = NULL;
  g_autofree char *output = NULL;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size_mb, "MB per transfer on the lab link (48)", "MB" },
    { "loopback-size", 0, 0, G_OPTION_ARG_INT, &loopback_mb, "MB on loopback (200)", "MB" },
    { "slow-size", 0, 0, G_OPTION_ARG_INT, &slow_mb,
      "MB for PseudoTCP on the link and CUBIC under loss (12)", "MB" },
    { "rss-size", 0, 0, G_OPTION_ARG_INT, &rss_mib, "MiB of the memory row (1024)", "MIB" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only these rows", "loopback|lab" },
    { "cc", 0, 0, G_OPTION_ARG_STRING, &ferry_cc,
      "Ferry's congestion control (bbr2, bbr, cubic; default: Ferry's own)", "NAME" },
    { "socket-buffer", 0, 0, G_OPTION_ARG_INT, &socket_buffer,
      "Set SO_RCVBUF and SO_SNDBUF of Ferry's ICE socket (an experiment; default: leave)",
      "BYTES" },
    { "ferry-only", 0, 0, G_OPTION_ARG_NONE, &ferry_only,
      "Only Ferry's rows (to tune the transport)", NULL },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &output, "Also write the table here", "FILE.md" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (sodium_init () < 0)
    return 1;
  sink_init (&peer.sink);
  status = ferry_lab_run_role (argc, argv, ROLE, peer_command, &peer);
  if (status >= 0)
    return status;

  options = g_option_context_new ("- Ferry's transfer benchmark");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (ferry_cc == NULL)
    ferry_cc = g_strdup ("default");
  if (size_mb <= 0 || loopback_mb <= 0 || socket_buffer < 0 || slow_mb <= 0 || rss_mib <= 64
      || (only != NULL && !g_str_equal (only, "loopback") && !g_str_equal (only, "lab")))
    {
      g_printerr ("Bad arguments; see --help\n");
      return 2;
    }
  return run_parent ((guint64) size_mb * MB, (guint64) loopback_mb * MB, (guint64) slow_mb * MB,
                     (guint64) rss_mib * MIB, only, output);
}
