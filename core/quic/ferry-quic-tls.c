/* ferry-quic-tls.c
 *
 * The TLS side of a FerryQuicConnection: a fresh certificate for each
 * connection, the peer's fingerprint that the handshake must match (both
 * sides present a certificate and pin the other's), and the GnuTLS session
 * that ngtcp2's crypto helper drives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-quic"

#include "config.h"

#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "ferry-quic-private.h"

/* TLS 1.3 only, the AEADs ngtcp2's GnuTLS helper supports, and no
 * middlebox compatibility mode, which QUIC forbids. */
#define TLS_PRIORITY \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
  "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE"

/* TLS alerts that mean "your certificate is not acceptable" (RFC 8446). */
#define TLS_ALERT_BAD_CERTIFICATE 42
#define TLS_ALERT_UNSUPPORTED_CERTIFICATE 43
#define TLS_ALERT_CERTIFICATE_UNKNOWN 46
#define TLS_ALERT_UNKNOWN_CA 48
#define TLS_ALERT_CERTIFICATE_REQUIRED 116

/* Fingerprints */

static char *
hex_encode (const guint8 *data,
            gsize         len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[i * 2] = digits[data[i] >> 4];
      out[i * 2 + 1] = digits[data[i] & 0xf];
    }
  out[len * 2] = '\0';

  return out;
}

/* Accepts 64 hex digits, optionally separated by ':' as in SDP. */
static gboolean
parse_fingerprint (const char *text,
                   guint8      digest[FERRY_QUIC_FINGERPRINT_LEN])
{
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      int hi, lo;

      if (*p == ':')
        continue;
      if (n == FERRY_QUIC_FINGERPRINT_LEN)
        return FALSE;
      hi = g_ascii_xdigit_value (p[0]);
      lo = p[1] != '\0' ? g_ascii_xdigit_value (p[1]) : -1;
      if (hi < 0 || lo < 0)
        return FALSE;
      digest[n++] = (guint8) (hi << 4 | lo);
      p++;
    }

  return n == FERRY_QUIC_FINGERPRINT_LEN;
}

/* Pins the certificate the peer must present; FALSE when @fingerprint is
 * not 32 bytes in hex. */
gboolean
ferry_quic_tls_set_peer_fingerprint (FerryQuicConnection *self,
                                     const char          *fingerprint)
{
  guint8 digest[FERRY_QUIC_FINGERPRINT_LEN];

  if (!parse_fingerprint (fingerprint, digest))
    return FALSE;

  memcpy (self->peer_digest, digest, sizeof digest);
  g_free (self->peer_fingerprint);
  self->peer_fingerprint = hex_encode (digest, sizeof digest);
  return TRUE;
}

/* Verification */

gboolean
ferry_quic_tls_is_certificate_alert (guint alert)
{
  return alert == TLS_ALERT_BAD_CERTIFICATE
         || alert == TLS_ALERT_UNSUPPORTED_CERTIFICATE
         || alert == TLS_ALERT_CERTIFICATE_UNKNOWN
         || alert == TLS_ALERT_UNKNOWN_CA
         || alert == TLS_ALERT_CERTIFICATE_REQUIRED;
}

static int
verify_peer_cb (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  FerryQuicConnection *self = ref->user_data;
  const gnutls_datum_t *certs;
  unsigned int n_certs = 0;
  guint8 digest[FERRY_QUIC_FINGERPRINT_LEN];

  certs = gnutls_certificate_get_peers (session, &n_certs);
  if (gnutls_certificate_type_get2 (session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509
      || certs == NULL || n_certs == 0
      || gnutls_hash_fast (GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, digest) != 0
      || self->peer_fingerprint == NULL
      || memcmp (digest, self->peer_digest, FERRY_QUIC_FINGERPRINT_LEN) != 0)
    {
      self->peer_rejected = TRUE;
      return GNUTLS_E_CERTIFICATE_ERROR;
    }

  self->peer_verified = TRUE;
  g_object_notify (G_OBJECT (self), "peer-verified");

  return 0;
}

/* Identity and session */

static gboolean
set_gnutls_error (GError     **error,
                  int          rv,
                  const char  *what)
{
  g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
               "Could not %s: %s", what, gnutls_strerror (rv));
  return FALSE;
}

/* A fresh ECDSA P-256 key and a self-signed certificate for this
 * connection only; its SHA-256 fingerprint is what the other side pins. */
gboolean
ferry_quic_tls_generate_identity (FerryQuicConnection  *self,
                                  GError              **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t der = { NULL, 0 };
  guint8 serial[16];
  guint8 digest[FERRY_QUIC_FINGERPRINT_LEN];
  time_t now = time (NULL);
  gboolean ok = FALSE;
  int rv;

  if ((rv = gnutls_x509_privkey_init (&key)) < 0
      || (rv = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                             GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                             0)) < 0)
    {
      set_gnutls_error (error, rv, "create a key");
      goto out;
    }

  if ((rv = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    {
      set_gnutls_error (error, rv, "create a serial number");
      goto out;
    }
  serial[0] &= 0x7f;

  if ((rv = gnutls_x509_crt_init (&crt)) < 0
      || (rv = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (rv = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (rv = gnutls_x509_crt_set_activation_time (crt, now - 24 * 3600)) < 0
      || (rv = gnutls_x509_crt_set_expiration_time (crt, now + 7 * 24 * 3600)) < 0
      || (rv = gnutls_x509_crt_set_dn (crt, "CN=Ferry", NULL)) < 0
      || (rv = gnutls_x509_crt_set_key (crt, key)) < 0
      || (rv = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0
      || (rv = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0
      || (rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der)) < 0
      || (rv = gnutls_hash_fast (GNUTLS_DIG_SHA256, der.data, der.size, digest)) < 0)
    {
      set_gnutls_error (error, rv, "create a certificate");
      goto out;
    }

  if ((rv = gnutls_certificate_allocate_credentials (&self->cred)) < 0
      || (rv = gnutls_certificate_set_x509_key (self->cred, &crt, 1, key)) < 0)
    {
      set_gnutls_error (error, rv, "use the certificate");
      goto out;
    }
  gnutls_certificate_set_verify_function (self->cred, verify_peer_cb);

  self->local_fingerprint = hex_encode (digest, sizeof digest);
  ok = TRUE;

out:
  gnutls_free (der.data);
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);

  return ok;
}

gboolean
ferry_quic_tls_setup_session (FerryQuicConnection  *self,
                              GError              **error)
{
  gboolean client = self->role == FERRY_QUIC_ROLE_CLIENT;
  gnutls_datum_t alpn = { (unsigned char *) FERRY_QUIC_ALPN, strlen (FERRY_QUIC_ALPN) };
  int rv;

  if ((rv = gnutls_init (&self->session,
                         (client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NO_TICKETS
                         | GNUTLS_NO_END_OF_EARLY_DATA)) < 0)
    return set_gnutls_error (error, rv, "start TLS");

  if ((client ? ngtcp2_crypto_gnutls_configure_client_session (self->session)
              : ngtcp2_crypto_gnutls_configure_server_session (self->session)) != 0)
    {
      g_set_error (error, FERRY_QUIC_ERROR, FERRY_QUIC_ERROR_INTERNAL,
                   "Could not prepare TLS for QUIC");
      return FALSE;
    }

  if ((rv = gnutls_priority_set_direct (self->session, TLS_PRIORITY, NULL)) < 0
      || (rv = gnutls_credentials_set (self->session, GNUTLS_CRD_CERTIFICATE, self->cred)) < 0
      || (rv = gnutls_alpn_set_protocols (self->session, &alpn, 1, GNUTLS_ALPN_MANDATORY)) < 0)
    return set_gnutls_error (error, rv, "configure TLS");

  /* Mutual authentication: the server pins the client's certificate too. */
  if (!client)
    gnutls_certificate_server_set_request (self->session, GNUTLS_CERT_REQUIRE);

  gnutls_session_set_ptr (self->session, &self->conn_ref);

  return TRUE;
}
