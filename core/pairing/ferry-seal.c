/* ferry-seal.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-seal"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ferry-seal.h"

/*
 * FerrySeal protects the messages of one conversation between two sides:
 * each direction has its own key, and each message carries its sequence
 * number, so the receiver notices a message that was changed, replayed,
 * reordered or dropped.
 *
 * A sealed message is
 *
 *   version (1 byte, 1) ‖ sequence number (8 bytes, big-endian) ‖
 *   ChaCha20-Poly1305 (IETF) ciphertext ‖ tag (16 bytes)
 *
 * The nonce is the sequence number, which never repeats under one key
 * because each direction's key seals with its own counter; the version and
 * sequence number are also authenticated as associated data.
 *
 * A GObject rather than a boxed type so that it is ref-counted, works with
 * g_autoptr and g_clear_object, and fits in GObject properties. It is not
 * thread-safe: one side seals and opens from one thread.
 */

#define SEAL_VERSION 1
#define HEADER_BYTES (1 + 8)

G_STATIC_ASSERT (FERRY_SEAL_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
G_STATIC_ASSERT (FERRY_SEAL_OVERHEAD == HEADER_BYTES + crypto_aead_chacha20poly1305_ietf_ABYTES);
G_STATIC_ASSERT (crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);

struct _FerrySeal
{
  GObject parent_instance;

  guint8  send_key[FERRY_SEAL_KEY_BYTES];
  guint8  recv_key[FERRY_SEAL_KEY_BYTES];
  guint64 send_seq;
  guint64 recv_seq;
};

G_DEFINE_FINAL_TYPE (FerrySeal, ferry_seal, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-seal-error-quark, ferry_seal_error)

static void
ferry_seal_finalize (GObject *object)
{
  FerrySeal *self = (FerrySeal *) object;

  sodium_memzero (self->send_key, sizeof self->send_key);
  sodium_memzero (self->recv_key, sizeof self->recv_key);

  G_OBJECT_CLASS (ferry_seal_parent_class)->finalize (object);
}

static void
ferry_seal_class_init (FerrySealClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_seal_finalize;
}

static void
ferry_seal_init (FerrySeal *self)
{
}

/**
 * ferry_seal_new:
 * @send_key: the key for messages this side sends
 * @recv_key: the key for messages the other side sends; it must differ from
 *   @send_key, or a message could be reflected back to its sender
 *
 * Returns: (transfer full): a new #FerrySeal
 */
FerrySeal *
ferry_seal_new (const guint8 send_key[FERRY_SEAL_KEY_BYTES],
                const guint8 recv_key[FERRY_SEAL_KEY_BYTES])
{
  FerrySeal *self;

  g_return_val_if_fail (send_key != NULL, NULL);
  g_return_val_if_fail (recv_key != NULL, NULL);
  g_return_val_if_fail (sodium_memcmp (send_key, recv_key, FERRY_SEAL_KEY_BYTES) != 0, NULL);

  self = g_object_new (FERRY_TYPE_SEAL, NULL);
  memcpy (self->send_key, send_key, FERRY_SEAL_KEY_BYTES);
  memcpy (self->recv_key, recv_key, FERRY_SEAL_KEY_BYTES);

  return self;
}

static void
write_header (guint8  header[HEADER_BYTES],
              guint64 seq)
{
  header[0] = SEAL_VERSION;
  for (guint i = 0; i < 8; i++)
    header[1 + i] = (seq >> (56 - 8 * i)) & 0xff;
}

static void
make_nonce (guint8  nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
            guint64 seq)
{
  memset (nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
  for (guint i = 0; i < 8; i++)
    nonce[4 + i] = (seq >> (56 - 8 * i)) & 0xff;
}

/**
 * ferry_seal_seal:
 * @self: a #FerrySeal
 * @plain: the message
 *
 * Encrypts and authenticates @plain as the next message to the other side.
 *
 * Returns: (transfer full): the sealed message
 */
GBytes *
ferry_seal_seal (FerrySeal *self,
                 GBytes    *plain)
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  const guint8 *data;
  guint8 *out;
  gsize len;
  unsigned long long out_len;

  g_return_val_if_fail (FERRY_IS_SEAL (self), NULL);
  g_return_val_if_fail (plain != NULL, NULL);
  /* 2^64 messages will not happen; reusing a nonce must not either. */
  g_return_val_if_fail (self->send_seq < G_MAXUINT64, NULL);

  data = g_bytes_get_data (plain, &len);
  g_return_val_if_fail (len <= G_MAXSIZE - FERRY_SEAL_OVERHEAD, NULL);

  out = g_malloc (len + FERRY_SEAL_OVERHEAD);
  write_header (out, self->send_seq);
  make_nonce (nonce, self->send_seq);

  crypto_aead_chacha20poly1305_ietf_encrypt (out + HEADER_BYTES, &out_len,
                                             data, len,
                                             out, HEADER_BYTES,
                                             NULL, nonce, self->send_key);
  g_assert (out_len == len + crypto_aead_chacha20poly1305_ietf_ABYTES);

  self->send_seq++;

  return g_bytes_new_take (out, len + FERRY_SEAL_OVERHEAD);
}

/**
 * ferry_seal_open:
 * @self: a #FerrySeal
 * @sealed: a message from the other side
 * @error: return location for a #FERRY_SEAL_ERROR
 *
 * Checks and decrypts @sealed, which must be the next message the other
 * side sealed. A message that fails changes nothing: the next genuine
 * message still opens.
 *
 * Returns: (transfer full): the plaintext, or %NULL with @error set
 */
GBytes *
ferry_seal_open (FerrySeal  *self,
                 GBytes     *sealed,
                 GError    **error)
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  g_autofree guint8 *out = NULL;
  const guint8 *data;
  unsigned long long out_len;
  guint64 seq = 0;
  gsize len;

  g_return_val_if_fail (FERRY_IS_SEAL (self), NULL);
  g_return_val_if_fail (sealed != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (sealed, &len);

  if (len < FERRY_SEAL_OVERHEAD)
    {
      g_set_error_literal (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_BAD_MESSAGE,
                           _("A message from the other side was cut short."));
      return NULL;
    }

  if (data[0] != SEAL_VERSION)
    {
      g_set_error (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_BAD_MESSAGE,
                   _("A message from the other side has an unknown format (version %u). "
                     "Both sides may need the same version of Ferry."),
                   data[0]);
      return NULL;
    }

  for (guint i = 0; i < 8; i++)
    seq = (seq << 8) | data[1 + i];

  /* Authenticate before judging the sequence number: an unauthenticated
   * number says nothing about what the other side sent. */
  make_nonce (nonce, seq);
  out = g_malloc (len - FERRY_SEAL_OVERHEAD + 1);
  if (crypto_aead_chacha20poly1305_ietf_decrypt (out, &out_len, NULL,
                                                 data + HEADER_BYTES, len - HEADER_BYTES,
                                                 data, HEADER_BYTES,
                                                 nonce, self->recv_key) != 0)
    {
      g_set_error_literal (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_TAMPERED,
                           _("A message from the other side was changed on its way "
                             "and was not accepted."));
      return NULL;
    }

  if (seq < self->recv_seq)
    {
      g_set_error_literal (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_REPLAYED,
                           _("A message from the other side arrived a second time "
                             "and was not accepted."));
      return NULL;
    }

  if (seq > self->recv_seq)
    {
      g_set_error_literal (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_REPLAYED,
                           _("A message from the other side arrived out of order: "
                             "one before it is missing."));
      return NULL;
    }

  self->recv_seq++;

  g_assert (out_len == len - FERRY_SEAL_OVERHEAD);
  return g_bytes_new_take (g_steal_pointer (&out), out_len);
}

/**
 * ferry_seal_get_n_sent:
 * @self: a #FerrySeal
 *
 * Returns: how many messages @self has sealed
 */
guint64
ferry_seal_get_n_sent (FerrySeal *self)
{
  g_return_val_if_fail (FERRY_IS_SEAL (self), 0);

  return self->send_seq;
}

/**
 * ferry_seal_get_n_received:
 * @self: a #FerrySeal
 *
 * Returns: how many messages @self has opened
 */
guint64
ferry_seal_get_n_received (FerrySeal *self)
{
  g_return_val_if_fail (FERRY_IS_SEAL (self), 0);

  return self->recv_seq;
}
