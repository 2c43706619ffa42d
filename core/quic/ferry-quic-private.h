/* ferry-quic-private.h
 *
 * The fields of a FerryQuicConnection, shared by the files that make up the
 * class: ferry-quic.c (the ngtcp2 connection, streams and datagrams) and
 * ferry-quic-tls.c (the TLS identity, the pinned peer and the TLS session).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <netinet/in.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "ferry-quic.h"

G_BEGIN_DECLS

/* A SHA-256 certificate fingerprint, in bytes. */
#define FERRY_QUIC_FINGERPRINT_LEN 32

typedef enum
{
  STATE_NEW,
  STATE_HANDSHAKING,
  STATE_OPEN,
  STATE_CLOSED,
} State;

struct _FerryQuicConnection
{
  GObject                     parent_instance;

  FerryQuicRole               role;
  State                       state;
  GMainContext               *context;

  FerryQuicCongestionControl  cc;
  guint                       max_udp_payload;
  guint64                     stream_window;
  guint64                     connection_window;
  guint64                     stream_send_buffer;
  guint                       idle_timeout_ms;
  guint                       handshake_timeout_ms;

  gnutls_certificate_credentials_t cred;
  char                       *local_fingerprint;
  guint8                      peer_digest[FERRY_QUIC_FINGERPRINT_LEN];
  char                       *peer_fingerprint;
  gboolean                    peer_verified;
  gboolean                    peer_rejected;

  gnutls_session_t            session;
  ngtcp2_conn                *conn;
  gboolean                    creating_conn;   /* inside ngtcp2_conn_*_new () */
  ngtcp2_crypto_conn_ref      conn_ref;
  struct sockaddr_in          local_addr;
  struct sockaddr_in          remote_addr;
  ngtcp2_path                 path;

  FerryQuicSendFunc           send_func;
  gpointer                    send_data;
  GDestroyNotify              send_destroy;
  guint8                     *tx_buf;
  guint8                     *pending;
  gsize                       pending_len;
  gboolean                    send_blocked;
  GBytes                     *close_packet;
  GQueue                      early;       /* GBytes that came before the handshake started */

  GSource                    *timer;
  GSource                    *flush_source;
  GSource                    *handshake_timer;
  guint                       in_ngtcp2;
  gboolean                    close_pending;
  guint64                     close_code;
  char                       *close_reason;
  GError                     *callback_error;

  GHashTable                 *streams;
  GQueue                      ready;

  GTask                      *handshake_task;
  GCancellable               *cancellable;
  gulong                      cancelled_id;
  gboolean                    cancelled;
  gboolean                    handshake_done;
  GError                     *error;
  gboolean                    peer_closed;
  guint64                     peer_close_code;
  char                       *peer_close_reason;
};

/* ferry-quic-tls.c */
gboolean ferry_quic_tls_generate_identity    (FerryQuicConnection  *self,
                                              GError              **error);
gboolean ferry_quic_tls_set_peer_fingerprint (FerryQuicConnection  *self,
                                              const char           *fingerprint);
gboolean ferry_quic_tls_setup_session        (FerryQuicConnection  *self,
                                              GError              **error);
gboolean ferry_quic_tls_is_certificate_alert (guint                 alert);

G_END_DECLS
