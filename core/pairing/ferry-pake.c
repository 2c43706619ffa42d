/* ferry-pake.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-pake"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ferry-code.h"
#include "ferry-pake.h"

/*
 * FerryPake turns a share code into a key that only the two sides know:
 * CPace (draft-irtf-cfrg-cpace) on ristretto255, in initiator-responder
 * order, followed by explicit key confirmation. It does no I/O: the caller
 * carries the messages over the mailbox.
 *
 *   sender                                   receiver
 *   get_message ()        ── share ──▶       process_message ()
 *   process_message ()    ◀── share ──       get_message ()
 *      → confirmation     ── confirm ─▶      process_confirmation ()
 *   process_confirmation ◀── confirm ──      (returned by process_message)
 *
 * Both shares can travel at the same time; each side then sends the
 * confirmation that process_message() returned and checks the other's.
 *
 * Generator: G = ristretto255_from_hash (BLAKE2b-512 (lv (DSI) ‖ lv (PRS) ‖
 * lv (CI) ‖ lv (sid))), where PRS is the code's words, CI names the
 * application and the nameplate, and sid is empty: no session identifier is
 * agreed beforehand, and the fresh shares in the transcript already make
 * every session's key unique. lv() prefixes a field with its length in
 * LEB128, so no two different field lists hash the same input.
 *
 * Each side picks a random scalar y and sends Y = y·G; both compute
 * K = y·Y_peer and ISK = BLAKE2b-512 (lv (DSI_ISK) ‖ lv (sid) ‖ lv (K) ‖
 * lv (sender's share message) ‖ lv (receiver's share message)). From ISK
 * come two confirmation keys (one per role) and the session key. Each side
 * sends HMAC-SHA-512/256 (its confirmation key, transcript hash); the
 * other compares in constant time. With different codes the MACs differ
 * and both sides fail with FERRY_PAKE_ERROR_WRONG_CODE. Keys derived from
 * the session key are only handed out after the peer's MAC checked out.
 *
 * Messages are version (1) ‖ type ‖ payload; the types are role-specific,
 * so a message reflected back to its sender, or from a second sender, is
 * rejected as a bad message.
 *
 * FerryPake has no properties: the code is a secret and is only given to
 * ferry_pake_new(), and nothing about the exchange is meant to be bound.
 */

#define PAKE_VERSION 1

typedef enum
{
  MESSAGE_SENDER_SHARE = 1,
  MESSAGE_RECEIVER_SHARE = 2,
  MESSAGE_SENDER_CONFIRM = 3,
  MESSAGE_RECEIVER_CONFIRM = 4,
} MessageType;

#define HEADER_BYTES 2
#define POINT_BYTES crypto_core_ristretto255_BYTES
#define SCALAR_BYTES crypto_core_ristretto255_SCALARBYTES
#define MAC_BYTES crypto_auth_hmacsha512256_BYTES
#define SHARE_MESSAGE_BYTES (HEADER_BYTES + POINT_BYTES)
#define CONFIRM_MESSAGE_BYTES (HEADER_BYTES + MAC_BYTES)
#define ISK_BYTES crypto_generichash_BYTES_MAX

G_STATIC_ASSERT (crypto_core_ristretto255_HASHBYTES == 64);
G_STATIC_ASSERT (ISK_BYTES == 64);
G_STATIC_ASSERT (crypto_auth_hmacsha512256_KEYBYTES == 32);
G_STATIC_ASSERT (FERRY_PAKE_KEY_BYTES == FERRY_SEAL_KEY_BYTES);

static const char DSI[] = "CPaceRistretto255";
static const char DSI_ISK[] = "CPaceRistretto255_ISK";
static const char CHANNEL_ID[] = "io.github.ferryapp.Ferry";

typedef enum
{
  STATE_STARTED,    /* our share is ready; waiting for the peer's */
  STATE_KEYED,      /* shared key computed; waiting for the peer's confirmation */
  STATE_CONFIRMED,  /* the peer proved it knows the code */
  STATE_FAILED,     /* nothing more can happen */
} PakeState;

struct _FerryPake
{
  GObject       parent_instance;

  FerryPakeRole role;
  PakeState     state;

  guint8        scalar[SCALAR_BYTES];
  guint8        share_message[SHARE_MESSAGE_BYTES];
  guint8        expected_peer_mac[MAC_BYTES];
  /* Valid from STATE_KEYED, but only used once STATE_CONFIRMED is reached. */
  guint8        session_key[FERRY_PAKE_KEY_BYTES];

  /* Purposes that already have a seal: a second seal with the same keys
   * would count from zero again and reuse nonces. */
  GHashTable   *seal_purposes;
};

G_DEFINE_FINAL_TYPE (FerryPake, ferry_pake, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-pake-error-quark, ferry_pake_error)

static void
wipe_secrets (FerryPake *self)
{
  sodium_memzero (self->scalar, sizeof self->scalar);
  sodium_memzero (self->expected_peer_mac, sizeof self->expected_peer_mac);
  sodium_memzero (self->session_key, sizeof self->session_key);
}

static void
ferry_pake_finalize (GObject *object)
{
  FerryPake *self = FERRY_PAKE (object);

  wipe_secrets (self);
  g_clear_pointer (&self->seal_purposes, g_hash_table_unref);

  G_OBJECT_CLASS (ferry_pake_parent_class)->finalize (object);
}

static void
ferry_pake_class_init (FerryPakeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_pake_finalize;
}

static void
ferry_pake_init (FerryPake *self)
{
  self->seal_purposes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* Feeds one length-prefixed field into @state. */
static void
hash_field (crypto_generichash_state *state,
            const void               *data,
            gsize                     len)
{
  guint8 prefix[10];
  gsize n = 0;
  guint64 rest = len;

  do
    {
      prefix[n] = rest & 0x7f;
      rest >>= 7;
      if (rest != 0)
        prefix[n] |= 0x80;
      n++;
    }
  while (rest != 0);

  crypto_generichash_update (state, prefix, n);
  crypto_generichash_update (state, data, len);
}

static void
hash_string (crypto_generichash_state *state,
             const char               *str)
{
  hash_field (state, str, strlen (str));
}

/* A 32-byte key for @label and @purpose under @key (keyed BLAKE2b). */
static void
derive (const guint8 *key,
        gsize         key_len,
        const char   *label,
        const char   *detail,
        const char   *purpose,
        guint8        out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, key, key_len, 32);
  hash_string (&state, label);
  hash_string (&state, detail);
  hash_string (&state, purpose);
  crypto_generichash_final (&state, out, 32);
  sodium_memzero (&state, sizeof state);
}

static MessageType
share_type (FerryPakeRole role)
{
  return role == FERRY_PAKE_ROLE_SENDER ? MESSAGE_SENDER_SHARE : MESSAGE_RECEIVER_SHARE;
}

static MessageType
confirm_type (FerryPakeRole role)
{
  return role == FERRY_PAKE_ROLE_SENDER ? MESSAGE_SENDER_CONFIRM : MESSAGE_RECEIVER_CONFIRM;
}

static FerryPakeRole
peer_role (FerryPakeRole role)
{
  return role == FERRY_PAKE_ROLE_SENDER ? FERRY_PAKE_ROLE_RECEIVER : FERRY_PAKE_ROLE_SENDER;
}

static const char *
role_name (FerryPakeRole role)
{
  return role == FERRY_PAKE_ROLE_SENDER ? "sender" : "receiver";
}

/* The CPace generator for @nameplate and @password. */
static void
calculate_generator (const char *nameplate,
                     const char *password,
                     guint8      generator[POINT_BYTES])
{
  crypto_generichash_state state;
  guint8 hash[crypto_core_ristretto255_HASHBYTES];

  crypto_generichash_init (&state, NULL, 0, sizeof hash);
  hash_string (&state, DSI);
  hash_string (&state, password);
  hash_string (&state, CHANNEL_ID);
  hash_string (&state, nameplate);
  hash_field (&state, "", 0);
  crypto_generichash_final (&state, hash, sizeof hash);

  crypto_core_ristretto255_from_hash (generator, hash);

  sodium_memzero (&state, sizeof state);
  sodium_memzero (hash, sizeof hash);
}

/**
 * ferry_pake_new:
 * @role: which side this is
 * @normalized_code: the share code, as ferry_code_normalize() returns it
 *
 * Starts a PAKE exchange with fresh randomness. ferry_init() must have run.
 *
 * Returns: (transfer full): a new #FerryPake
 */
FerryPake *
ferry_pake_new (FerryPakeRole  role,
                const char    *normalized_code)
{
  g_autoptr(FerryPake) self = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *password = NULL;
  guint8 generator[POINT_BYTES];

  g_return_val_if_fail (role == FERRY_PAKE_ROLE_SENDER || role == FERRY_PAKE_ROLE_RECEIVER,
                        NULL);
  g_return_val_if_fail (normalized_code != NULL, NULL);
  g_return_val_if_fail (ferry_code_is_normalized (normalized_code), NULL);

  self = g_object_new (FERRY_TYPE_PAKE, NULL);
  self->role = role;
  self->state = STATE_STARTED;

  nameplate = ferry_code_get_nameplate (normalized_code);
  password = ferry_code_get_password (normalized_code);
  calculate_generator (nameplate, password, generator);
  sodium_memzero (password, strlen (password));

  self->share_message[0] = PAKE_VERSION;
  self->share_message[1] = share_type (role);

  /* Fails only if the scalar is zero, a chance of 2^-252; draw again. */
  do
    crypto_core_ristretto255_scalar_random (self->scalar);
  while (crypto_scalarmult_ristretto255 (self->share_message + HEADER_BYTES,
                                         self->scalar, generator) != 0);

  sodium_memzero (generator, sizeof generator);

  return g_steal_pointer (&self);
}

/**
 * ferry_pake_get_role:
 * @self: a #FerryPake
 *
 * Returns: the role @self was made with
 */
FerryPakeRole
ferry_pake_get_role (FerryPake *self)
{
  g_return_val_if_fail (FERRY_IS_PAKE (self), FERRY_PAKE_ROLE_SENDER);

  return self->role;
}

/**
 * ferry_pake_get_message:
 * @self: a #FerryPake
 *
 * Our first message, to send to the other side. It is the same for the
 * whole life of @self and reveals nothing about the code.
 *
 * Returns: (transfer full): the message
 */
GBytes *
ferry_pake_get_message (FerryPake *self)
{
  g_return_val_if_fail (FERRY_IS_PAKE (self), NULL);

  return g_bytes_new (self->share_message, sizeof self->share_message);
}

static void
fail (FerryPake *self)
{
  self->state = STATE_FAILED;
  wipe_secrets (self);
}

static gboolean
check_state (FerryPake  *self,
             PakeState   expected,
             GError    **error)
{
  if (self->state == expected)
    return TRUE;

  if (self->state == STATE_FAILED)
    g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE,
                         _("The secure connection already failed and cannot continue."));
  else
    g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE,
                         _("The steps of setting up a secure connection came out of order."));

  return FALSE;
}

/* Checks size, version and type of @message; returns its payload. */
static const guint8 *
check_message (GBytes       *message,
               gsize         expected_len,
               MessageType   expected_type,
               GError      **error)
{
  const guint8 *data;
  gsize len;

  data = g_bytes_get_data (message, &len);

  if (len < HEADER_BYTES)
    {
      g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE,
                           _("The other side sent a message that is cut short."));
      return NULL;
    }

  if (data[0] != PAKE_VERSION)
    {
      g_set_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE,
                   _("The other side uses a version of Ferry that cannot connect to this "
                     "one (security protocol %u instead of %u)."),
                   data[0], PAKE_VERSION);
      return NULL;
    }

  if (data[1] != expected_type)
    {
      g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE,
                           _("The other side sent a message that does not belong at this "
                             "point of setting up a secure connection."));
      return NULL;
    }

  if (len != expected_len)
    {
      g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE,
                           _("The other side sent a message of the wrong size."));
      return NULL;
    }

  return data + HEADER_BYTES;
}

/* HMAC over the hash of the transcript, with the confirmation key of @role. */
static void
confirmation_mac (const guint8  isk[ISK_BYTES],
                  const guint8  transcript_hash[32],
                  FerryPakeRole role,
                  guint8        mac[MAC_BYTES])
{
  guint8 key[crypto_auth_hmacsha512256_KEYBYTES];

  derive (isk, ISK_BYTES, "ferry confirm", role_name (role), "", key);
  crypto_auth_hmacsha512256 (mac, transcript_hash, 32, key);
  sodium_memzero (key, sizeof key);
}

/**
 * ferry_pake_process_message:
 * @self: a #FerryPake
 * @peer_message: the other side's first message
 * @error: return location for a #FERRY_PAKE_ERROR
 *
 * Computes the shared key from the other side's message. The key is not
 * usable yet: first the other side's confirmation must check out.
 *
 * Any error ends the exchange; a new #FerryPake (and a new code) is
 * needed.
 *
 * Returns: (transfer full): our key-confirmation message to send to the
 *   other side, or %NULL with @error set
 */
GBytes *
ferry_pake_process_message (FerryPake  *self,
                            GBytes     *peer_message,
                            GError    **error)
{
  crypto_generichash_state state;
  const guint8 *peer_point;
  const guint8 *sender_message;
  const guint8 *receiver_message;
  guint8 shared[POINT_BYTES];
  guint8 isk[ISK_BYTES];
  guint8 transcript_hash[32];
  guint8 confirmation[CONFIRM_MESSAGE_BYTES];

  g_return_val_if_fail (FERRY_IS_PAKE (self), NULL);
  g_return_val_if_fail (peer_message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_state (self, STATE_STARTED, error))
    return NULL;

  peer_point = check_message (peer_message, SHARE_MESSAGE_BYTES,
                              share_type (peer_role (self->role)), error);
  if (peer_point == NULL)
    {
      fail (self);
      return NULL;
    }

  /* The identity (scalarmult fails) and non-canonical encodings fail here;
   * so does our own share reflected back, which the type byte already rules
   * out, but the point check must not depend on that. libsodium 1.0.18
   * ignores the top bit of an encoding, so a second spelling of every point
   * would pass its check: refuse it here. */
  if ((peer_point[POINT_BYTES - 1] & 0x80) != 0 ||
      !crypto_core_ristretto255_is_valid_point (peer_point) ||
      sodium_memcmp (peer_point, self->share_message + HEADER_BYTES, POINT_BYTES) == 0 ||
      crypto_scalarmult_ristretto255 (shared, self->scalar, peer_point) != 0)
    {
      g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE,
                           _("The other side sent an invalid key exchange message."));
      fail (self);
      return NULL;
    }

  if (self->role == FERRY_PAKE_ROLE_SENDER)
    {
      sender_message = self->share_message;
      receiver_message = g_bytes_get_data (peer_message, NULL);
    }
  else
    {
      sender_message = g_bytes_get_data (peer_message, NULL);
      receiver_message = self->share_message;
    }

  crypto_generichash_init (&state, NULL, 0, ISK_BYTES);
  hash_string (&state, DSI_ISK);
  hash_field (&state, "", 0);
  hash_field (&state, shared, sizeof shared);
  hash_field (&state, sender_message, SHARE_MESSAGE_BYTES);
  hash_field (&state, receiver_message, SHARE_MESSAGE_BYTES);
  crypto_generichash_final (&state, isk, sizeof isk);

  crypto_generichash_init (&state, NULL, 0, sizeof transcript_hash);
  hash_string (&state, "ferry transcript");
  hash_field (&state, sender_message, SHARE_MESSAGE_BYTES);
  hash_field (&state, receiver_message, SHARE_MESSAGE_BYTES);
  crypto_generichash_final (&state, transcript_hash, sizeof transcript_hash);

  confirmation[0] = PAKE_VERSION;
  confirmation[1] = confirm_type (self->role);
  confirmation_mac (isk, transcript_hash, self->role, confirmation + HEADER_BYTES);
  confirmation_mac (isk, transcript_hash, peer_role (self->role), self->expected_peer_mac);
  derive (isk, ISK_BYTES, "ferry session", "", "", self->session_key);

  /* The scalar has done its work; it must not outlive the exchange. */
  sodium_memzero (self->scalar, sizeof self->scalar);
  sodium_memzero (shared, sizeof shared);
  sodium_memzero (isk, sizeof isk);
  sodium_memzero (&state, sizeof state);

  self->state = STATE_KEYED;

  return g_bytes_new (confirmation, sizeof confirmation);
}

/**
 * ferry_pake_process_confirmation:
 * @self: a #FerryPake
 * @peer_confirmation: the other side's key-confirmation message
 * @error: return location for a #FERRY_PAKE_ERROR
 *
 * Checks that the other side computed the same key, which it can only
 * have done with the same code. Afterwards keys can be derived.
 *
 * Returns: %TRUE if both sides share a key, or %FALSE with @error set
 *   (%FERRY_PAKE_ERROR_WRONG_CODE when the codes differ)
 */
gboolean
ferry_pake_process_confirmation (FerryPake  *self,
                                 GBytes     *peer_confirmation,
                                 GError    **error)
{
  const guint8 *mac;

  g_return_val_if_fail (FERRY_IS_PAKE (self), FALSE);
  g_return_val_if_fail (peer_confirmation != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_state (self, STATE_KEYED, error))
    return FALSE;

  mac = check_message (peer_confirmation, CONFIRM_MESSAGE_BYTES,
                       confirm_type (peer_role (self->role)), error);
  if (mac == NULL)
    {
      fail (self);
      return FALSE;
    }

  if (sodium_memcmp (mac, self->expected_peer_mac, MAC_BYTES) != 0)
    {
      g_set_error_literal (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE,
                           _("The code does not match the one the other side has. "
                             "Please check the code and start again with a new one."));
      fail (self);
      return FALSE;
    }

  sodium_memzero (self->expected_peer_mac, sizeof self->expected_peer_mac);
  self->state = STATE_CONFIRMED;

  return TRUE;
}

/**
 * ferry_pake_is_confirmed:
 * @self: a #FerryPake
 *
 * Returns: %TRUE once the other side proved it has the same code
 */
gboolean
ferry_pake_is_confirmed (FerryPake *self)
{
  g_return_val_if_fail (FERRY_IS_PAKE (self), FALSE);

  return self->state == STATE_CONFIRMED;
}

/**
 * ferry_pake_derive_key:
 * @self: a confirmed #FerryPake
 * @purpose: what the key is for, e.g. "transport"; each purpose gets an
 *   independent key
 * @out: (out caller-allocates): the key, the same on both sides
 *
 * Only after confirmation; before it, @out is zeroed and a critical
 * warning is logged, so no key ever leaks from an unconfirmed exchange.
 */
void
ferry_pake_derive_key (FerryPake  *self,
                       const char *purpose,
                       guint8      out[FERRY_PAKE_KEY_BYTES])
{
  g_return_if_fail (out != NULL);

  sodium_memzero (out, FERRY_PAKE_KEY_BYTES);

  g_return_if_fail (FERRY_IS_PAKE (self));
  g_return_if_fail (purpose != NULL);
  g_return_if_fail (ferry_pake_is_confirmed (self));

  derive (self->session_key, sizeof self->session_key, "ferry key", "", purpose, out);
}

/**
 * ferry_pake_create_seal:
 * @self: a confirmed #FerryPake
 * @purpose: what the messages are for, e.g. "mailbox"
 *
 * Makes a #FerrySeal for messages between the two sides, with one key per
 * direction: what the sender seals, only the receiver's seal opens, and
 * the other way round. Each purpose gets its own keys, and only one seal:
 * two seals with the same keys would reuse nonces.
 *
 * Returns: (transfer full) (nullable): the seal, or %NULL (with a critical
 *   warning) before confirmation or for a purpose that already has a seal
 */
FerrySeal *
ferry_pake_create_seal (FerryPake  *self,
                        const char *purpose)
{
  guint8 to_receiver[FERRY_SEAL_KEY_BYTES];
  guint8 to_sender[FERRY_SEAL_KEY_BYTES];
  FerrySeal *seal;

  g_return_val_if_fail (FERRY_IS_PAKE (self), NULL);
  g_return_val_if_fail (purpose != NULL, NULL);
  g_return_val_if_fail (ferry_pake_is_confirmed (self), NULL);
  g_return_val_if_fail (!g_hash_table_contains (self->seal_purposes, purpose), NULL);

  g_hash_table_add (self->seal_purposes, g_strdup (purpose));

  derive (self->session_key, sizeof self->session_key, "ferry seal", "to receiver",
          purpose, to_receiver);
  derive (self->session_key, sizeof self->session_key, "ferry seal", "to sender",
          purpose, to_sender);

  if (self->role == FERRY_PAKE_ROLE_SENDER)
    seal = ferry_seal_new (to_receiver, to_sender);
  else
    seal = ferry_seal_new (to_sender, to_receiver);

  sodium_memzero (to_receiver, sizeof to_receiver);
  sodium_memzero (to_sender, sizeof to_sender);

  return seal;
}
