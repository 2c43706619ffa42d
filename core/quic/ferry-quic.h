/* ferry-quic.h
 *
 * Ferry's transport: one QUIC connection (ngtcp2 + GnuTLS) carried over
 * datagrams that someone else sends and receives (libnice, or a test pipe).
 *
 * Use: make the connection (client on the ICE-controlling side), send
 * ferry_quic_connection_get_local_fingerprint() to the other side under the
 * PAKE key and set theirs with ferry_quic_connection_set_peer_fingerprint(),
 * give it a FerryQuicSendFunc, feed every received datagram to
 * ferry_quic_connection_receive_datagram(), and call
 * ferry_quic_connection_handshake_async(). Both sides pin each other's
 * certificate; a mismatch fails both with FERRY_QUIC_ERROR_PEER_VERIFICATION.
 *
 * Streams are bidirectional. A stream is released (and the other side may
 * open another) once both halves ended: answer a peer's FIN with an empty
 * write with fin = TRUE, or reset the stream. At most 128 peer-opened
 * streams are open at a time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_QUIC_ERROR (ferry_quic_error_quark ())

/**
 * FerryQuicError:
 * @FERRY_QUIC_ERROR_HANDSHAKE: the secure handshake failed or did not finish in time
 * @FERRY_QUIC_ERROR_PEER_VERIFICATION: the other side's certificate is not the one
 *   exchanged under the share code (or the other side rejected ours)
 * @FERRY_QUIC_ERROR_IDLE_TIMEOUT: nothing was heard from the other side for too long
 * @FERRY_QUIC_ERROR_CLOSED_BY_PEER: the other side closed the connection; the message
 *   carries its code and reason
 * @FERRY_QUIC_ERROR_PROTOCOL: the other side broke the QUIC protocol
 * @FERRY_QUIC_ERROR_INTERNAL: an unexpected failure inside the transport
 * @FERRY_QUIC_ERROR_NOT_CONNECTED: the call needs an open connection
 * @FERRY_QUIC_ERROR_STREAM_LIMIT: the other side allows no more streams right now;
 *   wait for #FerryQuicConnection::streams-available
 * @FERRY_QUIC_ERROR_INVALID_STREAM: no such stream, or it cannot be written any more
 * @FERRY_QUIC_ERROR_INVALID_FINGERPRINT: a fingerprint is not 32 bytes of hex
 */
typedef enum
{
  FERRY_QUIC_ERROR_HANDSHAKE,
  FERRY_QUIC_ERROR_PEER_VERIFICATION,
  FERRY_QUIC_ERROR_IDLE_TIMEOUT,
  FERRY_QUIC_ERROR_CLOSED_BY_PEER,
  FERRY_QUIC_ERROR_PROTOCOL,
  FERRY_QUIC_ERROR_INTERNAL,
  FERRY_QUIC_ERROR_NOT_CONNECTED,
  FERRY_QUIC_ERROR_STREAM_LIMIT,
  FERRY_QUIC_ERROR_INVALID_STREAM,
  FERRY_QUIC_ERROR_INVALID_FINGERPRINT,
} FerryQuicError;

/**
 * FerryQuicRole:
 * @FERRY_QUIC_ROLE_CLIENT: sends the first packet (the ICE-controlling side)
 * @FERRY_QUIC_ROLE_SERVER: waits for the client's first packet
 */
typedef enum
{
  FERRY_QUIC_ROLE_CLIENT,
  FERRY_QUIC_ROLE_SERVER,
} FerryQuicRole;

/**
 * FerryQuicCongestionControl:
 * @FERRY_QUIC_CC_BBR2: BBRv2, the default: it keeps its rate under random loss,
 *   which is what relayed and Wi-Fi paths show
 * @FERRY_QUIC_CC_BBR: BBR (v1)
 * @FERRY_QUIC_CC_CUBIC: CUBIC, loss-based like most kernels' TCP
 */
typedef enum
{
  FERRY_QUIC_CC_BBR2,
  FERRY_QUIC_CC_BBR,
  FERRY_QUIC_CC_CUBIC,
} FerryQuicCongestionControl;

/**
 * FerryQuicSendFunc:
 * @data: one complete datagram
 * @len: its length
 * @user_data: the data given with the function
 *
 * Sends one datagram to the other side.
 *
 * Returns: %FALSE when the datagram was not taken because the socket would block;
 *   the connection then keeps it and stops writing until
 *   ferry_quic_connection_datagram_writable() is called.
 */
typedef gboolean (*FerryQuicSendFunc) (const guint8 *data,
                                       gsize         len,
                                       gpointer      user_data);

typedef struct
{
  guint64 smoothed_rtt_us;
  guint64 min_rtt_us;
  guint64 cwnd;
  guint64 bytes_in_flight;
  guint64 delivery_rate;      /* bytes per second, as the congestion controller sees it */
  guint   max_udp_payload;
} FerryQuicStats;

#define FERRY_QUIC_ALPN "ferry/1"

#define FERRY_TYPE_QUIC_ROLE (ferry_quic_role_get_type ())
#define FERRY_TYPE_QUIC_CONGESTION_CONTROL (ferry_quic_congestion_control_get_type ())
#define FERRY_TYPE_QUIC_CONNECTION (ferry_quic_connection_get_type ())

G_DECLARE_FINAL_TYPE (FerryQuicConnection, ferry_quic_connection, FERRY, QUIC_CONNECTION, GObject)

GQuark               ferry_quic_error_quark                      (void);
GType                ferry_quic_role_get_type                    (void) G_GNUC_CONST;
GType                ferry_quic_congestion_control_get_type      (void) G_GNUC_CONST;

FerryQuicConnection *ferry_quic_connection_new                   (FerryQuicRole         role,
                                                                  GError              **error);
FerryQuicRole        ferry_quic_connection_get_role              (FerryQuicConnection  *self);
const char          *ferry_quic_connection_get_local_fingerprint (FerryQuicConnection  *self);
gboolean             ferry_quic_connection_set_peer_fingerprint  (FerryQuicConnection  *self,
                                                                  const char           *fingerprint,
                                                                  GError              **error);
const char          *ferry_quic_connection_get_peer_fingerprint  (FerryQuicConnection  *self);
gboolean             ferry_quic_connection_get_peer_verified     (FerryQuicConnection  *self);

void                 ferry_quic_connection_set_congestion_control (FerryQuicConnection       *self,
                                                                   FerryQuicCongestionControl cc);
FerryQuicCongestionControl
                     ferry_quic_connection_get_congestion_control (FerryQuicConnection       *self);
void                 ferry_quic_connection_set_max_udp_payload   (FerryQuicConnection  *self,
                                                                  guint                 size);
guint                ferry_quic_connection_get_max_udp_payload   (FerryQuicConnection  *self);
void                 ferry_quic_connection_set_stream_window     (FerryQuicConnection  *self,
                                                                  guint64               bytes);
void                 ferry_quic_connection_set_connection_window (FerryQuicConnection  *self,
                                                                  guint64               bytes);
void                 ferry_quic_connection_set_stream_send_buffer (FerryQuicConnection *self,
                                                                   guint64              bytes);
void                 ferry_quic_connection_set_idle_timeout      (FerryQuicConnection  *self,
                                                                  guint                 msec);
void                 ferry_quic_connection_set_handshake_timeout (FerryQuicConnection  *self,
                                                                  guint                 msec);

void                 ferry_quic_connection_set_send_func         (FerryQuicConnection  *self,
                                                                  FerryQuicSendFunc     func,
                                                                  gpointer              user_data,
                                                                  GDestroyNotify        destroy);
void                 ferry_quic_connection_receive_datagram      (FerryQuicConnection  *self,
                                                                  const guint8         *data,
                                                                  gsize                 len);
void                 ferry_quic_connection_datagram_writable     (FerryQuicConnection  *self);

void                 ferry_quic_connection_handshake_async       (FerryQuicConnection  *self,
                                                                  GCancellable         *cancellable,
                                                                  GAsyncReadyCallback   callback,
                                                                  gpointer              user_data);
gboolean             ferry_quic_connection_handshake_finish      (FerryQuicConnection  *self,
                                                                  GAsyncResult         *result,
                                                                  GError              **error);
gboolean             ferry_quic_connection_is_open               (FerryQuicConnection  *self);

gint64               ferry_quic_connection_open_stream           (FerryQuicConnection  *self,
                                                                  GError              **error);
gboolean             ferry_quic_connection_stream_write          (FerryQuicConnection  *self,
                                                                  gint64                stream_id,
                                                                  GBytes               *bytes,
                                                                  gboolean              fin,
                                                                  GError              **error);
gboolean             ferry_quic_connection_stream_is_writable    (FerryQuicConnection  *self,
                                                                  gint64                stream_id);
guint64              ferry_quic_connection_stream_get_buffered   (FerryQuicConnection  *self,
                                                                  gint64                stream_id);
void                 ferry_quic_connection_stream_consume        (FerryQuicConnection  *self,
                                                                  gint64                stream_id,
                                                                  guint64               n_bytes);
gboolean             ferry_quic_connection_stream_reset          (FerryQuicConnection  *self,
                                                                  gint64                stream_id,
                                                                  guint64               code,
                                                                  GError              **error);
void                 ferry_quic_connection_close                 (FerryQuicConnection  *self,
                                                                  guint64               code,
                                                                  const char           *reason);
gboolean             ferry_quic_connection_get_peer_close        (FerryQuicConnection  *self,
                                                                  guint64              *code,
                                                                  char                **reason);
void                 ferry_quic_connection_get_stats             (FerryQuicConnection  *self,
                                                                  FerryQuicStats       *stats);

G_END_DECLS
