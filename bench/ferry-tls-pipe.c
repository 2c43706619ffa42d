/* ferry-tls-pipe.c
 *
 * The reference pipe of the end-to-end benchmark (issue 12): the same shape of work Ferry
 * does for one file, done the plain way, so Ferry's numbers have an anchor on this machine.
 *
 *   ferry-tls-pipe send --listen ADDR:PORT FILE|-
 *   ferry-tls-pipe receive --connect ADDR:PORT --pin SHA256 (--output FILE | -)
 *   ferry-tls-pipe make-cert KEY.pem CERT.pem
 *
 * As with Ferry, the sender waits for its receiver and the receiver is the program a person
 * starts. The sender makes an ephemeral ECDSA certificate and prints one line on stderr,
 * "listening ADDR:PORT FINGERPRINT"; the receiver connects over TCP, runs a TLS 1.3
 * handshake (GnuTLS) and refuses any certificate whose SHA-256 is not the pinned one (Ferry
 * pins the fingerprint it got under the PAKE key). The sender reads the file (or stdin, e.g.
 * a tar stream), BLAKE2b-256 hashes every byte once (libsodium) and sends it in frames; the
 * receiver hashes every byte once and writes it to FILE.part (or to stdout), and at the end
 * fdatasync()s, renames it to FILE and fsync()s the folder, as Ferry's receiver does. Both
 * sides then compare digests: any difference, short read or error exits 1 with a message.
 * The last line on stderr is "sent|received BYTES DIGEST".
 *
 * Frames: a 4-byte big-endian length and that many bytes; length 0 ends the data and is
 * followed by the sender's 32-byte digest. The receiver answers with its own digest.
 *
 * make-cert writes such a key and certificate as PEM, for servers that want files
 * (ngtcp2's example server in the lab rows).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#define CHUNK (256 * 1024)
#define FRAME_HEADER 4
#define DIGEST_LEN 32
#define FINGERPRINT_LEN 32
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

typedef struct
{
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t     crt;
} Identity;

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  fputs ("ferry-tls-pipe: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  exit (1);
}

static void
check_tls (int         ret,
           const char *what)
{
  if (ret < 0)
    die ("%s: %s", what, gnutls_strerror (ret));
}

/* Identity ---------------------------------------------------------------------------- */

static void
identity_make (Identity *identity)
{
  guint8 serial[8];
  time_t now = time (NULL);
  const char *cn = "ferry-tls-pipe";

  randombytes_buf (serial, sizeof serial);
  serial[0] &= 0x7f;
  check_tls (gnutls_x509_privkey_init (&identity->key), "key");
  check_tls (gnutls_x509_privkey_generate (identity->key, GNUTLS_PK_ECDSA,
                                           GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
             "key");
  check_tls (gnutls_x509_crt_init (&identity->crt), "certificate");
  check_tls (gnutls_x509_crt_set_version (identity->crt, 3), "certificate");
  check_tls (gnutls_x509_crt_set_serial (identity->crt, serial, sizeof serial), "certificate");
  check_tls (gnutls_x509_crt_set_activation_time (identity->crt, now - 3600), "certificate");
  check_tls (gnutls_x509_crt_set_expiration_time (identity->crt, now + 86400), "certificate");
  check_tls (gnutls_x509_crt_set_dn_by_oid (identity->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                            cn, strlen (cn)), "certificate");
  check_tls (gnutls_x509_crt_set_key (identity->crt, identity->key), "certificate");
  check_tls (gnutls_x509_crt_sign2 (identity->crt, identity->crt, identity->key,
                                    GNUTLS_DIG_SHA256, 0), "certificate");
}

static void
identity_clear (Identity *identity)
{
  gnutls_x509_crt_deinit (identity->crt);
  gnutls_x509_privkey_deinit (identity->key);
}

/* The lower-case hex SHA-256 of a DER certificate. */
static char *
fingerprint_hex (const gnutls_datum_t *der)
{
  guint8 digest[FINGERPRINT_LEN];
  size_t size = sizeof digest;
  char hex[FINGERPRINT_LEN * 2 + 1];

  check_tls (gnutls_fingerprint (GNUTLS_DIG_SHA256, der, digest, &size), "fingerprint");
  sodium_bin2hex (hex, sizeof hex, digest, size);
  return g_strdup (hex);
}

static char *
identity_fingerprint (Identity *identity)
{
  gnutls_datum_t der = { NULL, 0 };
  char *hex;

  check_tls (gnutls_x509_crt_export2 (identity->crt, GNUTLS_X509_FMT_DER, &der), "export");
  hex = fingerprint_hex (&der);
  gnutls_free (der.data);
  return hex;
}

static void
write_pem (const char     *path,
           gnutls_datum_t *pem)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents_full (path, (const char *) pem->data, pem->size,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    die ("%s", error->message);
  gnutls_free (pem->data);
}

static int
make_cert (const char *key_path,
           const char *cert_path)
{
  Identity identity;
  gnutls_datum_t pem = { NULL, 0 };

  identity_make (&identity);
  check_tls (gnutls_x509_privkey_export2 (identity.key, GNUTLS_X509_FMT_PEM, &pem), "export");
  write_pem (key_path, &pem);
  check_tls (gnutls_x509_crt_export2 (identity.crt, GNUTLS_X509_FMT_PEM, &pem), "export");
  write_pem (cert_path, &pem);
  identity_clear (&identity);
  return 0;
}

/* Sockets ------------------------------------------------------------------------------ */

/* ADDR:PORT, IPv4 numeric. */
static void
parse_address (const char         *text,
               struct sockaddr_in *addr)
{
  g_autofree char *host = g_strdup (text);
  char *colon = strrchr (host, ':');
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    die ("not ADDR:PORT: %s", text);
  *colon = '\0';
  memset (addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_port = htons ((guint16) port);
  if (inet_pton (AF_INET, host, &addr->sin_addr) != 1)
    die ("not an IPv4 address: %s", host);
}

static int
listen_on (const char *address,
           char      **bound)
{
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  char host[INET_ADDRSTRLEN];
  int one = 1;
  int fd;

  parse_address (address, &addr);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
      || bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0 || listen (fd, 1) != 0
      || getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
    die ("listen on %s: %s", address, g_strerror (errno));
  inet_ntop (AF_INET, &addr.sin_addr, host, sizeof host);
  *bound = g_strdup_printf ("%s:%u", host, ntohs (addr.sin_port));
  return fd;
}

static int
connect_to (const char *address)
{
  struct sockaddr_in addr;
  int fd;

  parse_address (address, &addr);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    die ("connect to %s: %s", address, g_strerror (errno));
  return fd;
}

/* TLS I/O ------------------------------------------------------------------------------ */

/* Sends or receives exactly @len bytes; the peer closing early is an error. */
static void
tls_all (gnutls_session_t  session,
         guint8           *data,
         gsize             len,
         gboolean          sending)
{
  while (len > 0)
    {
      ssize_t n = sending ? gnutls_record_send (session, data, len)
                          : gnutls_record_recv (session, data, len);

      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      check_tls ((int) n, sending ? "send" : "receive");
      if (n == 0)
        die ("the peer closed the connection early");
      data += n;
      len -= (gsize) n;
    }
}

#define tls_send_all(session, data, len) tls_all (session, (guint8 *) (data), len, TRUE)
#define tls_recv_all(session, data, len) tls_all (session, data, len, FALSE)

static gnutls_session_t
tls_start (int                               fd,
           unsigned int                      flags,
           gnutls_certificate_credentials_t  credentials)
{
  gnutls_session_t session;
  int ret;

  check_tls (gnutls_init (&session, flags), "init");
  check_tls (gnutls_priority_set_direct (session, PRIORITY, NULL), "priority");
  check_tls (gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, credentials),
             "credentials");
  gnutls_transport_set_int (session, fd);
  do
    ret = gnutls_handshake (session);
  while (ret < 0 && !gnutls_error_is_fatal (ret));
  check_tls (ret, "handshake");
  if (gnutls_protocol_get_version (session) != GNUTLS_TLS1_3)
    die ("the handshake did not give TLS 1.3");
  if (g_getenv ("FERRY_BENCH_VERBOSE") != NULL)
    fprintf (stderr, "tls %s\n", gnutls_cipher_get_name (gnutls_cipher_get (session)));
  return session;
}

/* Reports, compares both digests and closes: the end of either side. */
static void
finish_session (gnutls_session_t                  session,
                int                               fd,
                gnutls_certificate_credentials_t  credentials,
                const char                       *verb,
                guint64                           bytes,
                const guint8                      ours[DIGEST_LEN],
                const guint8                      theirs[DIGEST_LEN])
{
  char hex[DIGEST_LEN * 2 + 1];

  sodium_bin2hex (hex, sizeof hex, ours, DIGEST_LEN);
  fprintf (stderr, "%s %" G_GUINT64_FORMAT " %s\n", verb, bytes, hex);
  if (sodium_memcmp (ours, theirs, DIGEST_LEN) != 0)
    die ("THE BYTES RECEIVED ARE NOT THE BYTES SENT");

  gnutls_bye (session, GNUTLS_SHUT_WR);
  gnutls_deinit (session);
  close (fd);
  gnutls_certificate_free_credentials (credentials);
}

/* Sender ------------------------------------------------------------------------------- */

static int
run_send (const char *listen_address,
          const char *path)
{
  Identity identity;
  gnutls_certificate_credentials_t credentials;
  gnutls_session_t session;
  crypto_generichash_state hash;
  g_autofree guint8 *buf = g_malloc (FRAME_HEADER + CHUNK);
  g_autofree char *bound = NULL;
  g_autofree char *fingerprint = NULL;
  guint8 digest[DIGEST_LEN], theirs[DIGEST_LEN];
  guint64 total = 0;
  int listener, fd, in;

  in = g_str_equal (path, "-") ? STDIN_FILENO : open (path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    die ("%s: %s", path, g_strerror (errno));
  posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);

  identity_make (&identity);
  fingerprint = identity_fingerprint (&identity);
  check_tls (gnutls_certificate_allocate_credentials (&credentials), "credentials");
  check_tls (gnutls_certificate_set_x509_key (credentials, &identity.crt, 1, identity.key),
             "credentials");

  listener = listen_on (listen_address, &bound);
  fprintf (stderr, "listening %s %s\n", bound, fingerprint);
  fd = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    die ("accept: %s", g_strerror (errno));
  close (listener);
  session = tls_start (fd, GNUTLS_SERVER, credentials);

  crypto_generichash_init (&hash, NULL, 0, DIGEST_LEN);
  for (;;)
    {
      ssize_t n = read (in, buf + FRAME_HEADER, CHUNK);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("reading %s: %s", path, g_strerror (errno));
      if (n == 0)
        break;
      crypto_generichash_update (&hash, buf + FRAME_HEADER, (gsize) n);
      total += (guint64) n;
      *(guint32 *) buf = htonl ((guint32) n);
      tls_send_all (session, buf, FRAME_HEADER + (gsize) n);
    }
  crypto_generichash_final (&hash, digest, sizeof digest);
  memset (buf, 0, FRAME_HEADER);
  memcpy (buf + FRAME_HEADER, digest, sizeof digest);
  tls_send_all (session, buf, FRAME_HEADER + sizeof digest);

  /* The receiver answers once its file is on disk under its final name. */
  tls_recv_all (session, theirs, sizeof theirs);
  finish_session (session, fd, credentials, "sent", total, digest, theirs);
  identity_clear (&identity);
  return 0;
}

/* Receiver ----------------------------------------------------------------------------- */

static void
check_pin (gnutls_session_t  session,
           const char       *pin)
{
  const gnutls_datum_t *peers;
  unsigned int n = 0;
  g_autofree char *fingerprint = NULL;

  peers = gnutls_certificate_get_peers (session, &n);
  if (peers == NULL || n == 0)
    die ("the sender showed no certificate");
  fingerprint = fingerprint_hex (&peers[0]);
  if (g_ascii_strcasecmp (fingerprint, pin) != 0)
    die ("the sender's certificate %s is not the pinned %s", fingerprint, pin);
}

static void
write_all (int           fd,
           const guint8 *data,
           gsize         len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        die ("write: %s", g_strerror (errno));
      data += n;
      len -= (gsize) n;
    }
}

/* Makes the file durable under its final name, as Ferry's receiver does. */
static void
finish_file (int         fd,
             const char *partial,
             const char *output)
{
  g_autofree char *dir = g_path_get_dirname (output);
  int dir_fd;

  if (fdatasync (fd) != 0 || close (fd) != 0)
    die ("%s: %s", partial, g_strerror (errno));
  if (rename (partial, output) != 0)
    die ("rename to %s: %s", output, g_strerror (errno));
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || fsync (dir_fd) != 0)
    die ("%s: %s", dir, g_strerror (errno));
  close (dir_fd);
}

static int
run_receive (const char *connect_address,
             const char *pin,
             const char *output)
{
  gnutls_certificate_credentials_t credentials;
  gnutls_session_t session;
  crypto_generichash_state hash;
  g_autofree guint8 *buf = g_malloc (CHUNK);
  g_autofree char *partial = NULL;
  guint8 digest[DIGEST_LEN], theirs[DIGEST_LEN];
  guint64 total = 0;
  int fd, out = STDOUT_FILENO;

  check_tls (gnutls_certificate_allocate_credentials (&credentials), "credentials");
  fd = connect_to (connect_address);
  session = tls_start (fd, GNUTLS_CLIENT, credentials);
  check_pin (session, pin);

  if (!g_str_equal (output, "-"))
    {
      partial = g_strconcat (output, ".part", NULL);
      out = open (partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (out < 0)
        die ("%s: %s", partial, g_strerror (errno));
    }

  crypto_generichash_init (&hash, NULL, 0, DIGEST_LEN);
  for (;;)
    {
      guint32 header;
      gsize len;

      tls_recv_all (session, (guint8 *) &header, sizeof header);
      len = ntohl (header);
      if (len == 0)
        break;
      if (len > CHUNK)
        die ("a frame of %zu bytes is too large", len);
      tls_recv_all (session, buf, len);
      crypto_generichash_update (&hash, buf, len);
      write_all (out, buf, len);
      total += len;
    }
  tls_recv_all (session, theirs, sizeof theirs);
  crypto_generichash_final (&hash, digest, sizeof digest);
  if (partial != NULL)
    finish_file (out, partial, output);

  tls_send_all (session, digest, sizeof digest);
  finish_session (session, fd, credentials, "received", total, digest, theirs);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *listen_address = NULL;
  g_autofree char *connect_address = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *output = NULL;
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_address, "send: wait here", "ADDR:PORT" },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &connect_address, "receive: the sender",
      "ADDR:PORT" },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &pin, "receive: the sender's SHA-256", "HEX" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "receive: the file, or - for stdout",
      "FILE" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;

  if (sodium_init () < 0)
    die ("libsodium does not start");
  check_tls (gnutls_global_init (), "init");

  options = g_option_context_new ("send FILE|- | receive | make-cert KEY CERT");
  g_option_context_set_summary (options, "The TLS 1.3 + BLAKE2b reference pipe of Ferry's "
                                "end-to-end benchmark.");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    die ("%s", error->message);

  if (argc == 3 && g_str_equal (argv[1], "send") && listen_address != NULL)
    return run_send (listen_address, argv[2]);
  if (argc == 2 && g_str_equal (argv[1], "receive") && connect_address != NULL && pin != NULL
      && output != NULL)
    return run_receive (connect_address, pin, output);
  if (argc == 4 && g_str_equal (argv[1], "make-cert"))
    return make_cert (argv[2], argv[3]);

  {
    g_autofree char *help = g_option_context_get_help (options, TRUE, NULL);

    fprintf (stderr, "%s", help);
  }
  return 2;
}
