/* test-pake.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ferry-code.h"
#include "ferry-pake.h"
#include "ferry-test-utils.h"

#define CODE "7-orbit-tulip-canvas"

/* The outcome of one full exchange between two sides. */
typedef struct
{
  FerryPake *sender;
  FerryPake *receiver;
  GError    *sender_error;
  GError    *receiver_error;
} Exchange;

static void
exchange_clear (Exchange *x)
{
  g_clear_object (&x->sender);
  g_clear_object (&x->receiver);
  g_clear_error (&x->sender_error);
  g_clear_error (&x->receiver_error);
}

/* Runs the whole exchange the way the channel does: both first flights,
 * then both confirmations. A side stops at its first error. */
static void
exchange_run (Exchange   *x,
              const char *sender_code,
              const char *receiver_code)
{
  g_autoptr(GBytes) sender_message = NULL;
  g_autoptr(GBytes) receiver_message = NULL;
  g_autoptr(GBytes) sender_confirmation = NULL;
  g_autoptr(GBytes) receiver_confirmation = NULL;

  x->sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, sender_code);
  x->receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, receiver_code);

  sender_message = ferry_pake_get_message (x->sender);
  receiver_message = ferry_pake_get_message (x->receiver);

  sender_confirmation = ferry_pake_process_message (x->sender, receiver_message,
                                                    &x->sender_error);
  receiver_confirmation = ferry_pake_process_message (x->receiver, sender_message,
                                                      &x->receiver_error);

  if (x->sender_error == NULL && receiver_confirmation != NULL)
    ferry_pake_process_confirmation (x->sender, receiver_confirmation, &x->sender_error);
  if (x->receiver_error == NULL && sender_confirmation != NULL)
    ferry_pake_process_confirmation (x->receiver, sender_confirmation, &x->receiver_error);
}

static GBytes *
flip_bit (GBytes *bytes,
          gsize   bit)
{
  gsize len;
  guint8 *data = g_bytes_unref_to_data (g_bytes_ref (bytes), &len);

  g_assert_cmpuint (bit / 8, <, len);
  data[bit / 8] ^= 1 << (bit % 8);
  return g_bytes_new_take (data, len);
}

static void
assert_seal_pair_works (FerrySeal *from,
                        FerrySeal *to)
{
  g_autoptr(GBytes) plain = g_bytes_new_static ("ice candidates", 14);
  g_autoptr(GBytes) sealed = ferry_seal_seal (from, plain);
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GError) error = NULL;

  opened = ferry_seal_open (to, sealed, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (opened, plain));
}

static void
test_same_code (void)
{
  Exchange x = { 0 };
  guint8 sender_key[FERRY_PAKE_KEY_BYTES];
  guint8 receiver_key[FERRY_PAKE_KEY_BYTES];
  guint8 other_purpose[FERRY_PAKE_KEY_BYTES];
  guint8 zero[FERRY_PAKE_KEY_BYTES] = { 0 };
  g_autoptr(FerrySeal) sender_seal = NULL;
  g_autoptr(FerrySeal) receiver_seal = NULL;
  g_autoptr(FerrySeal) receiver_other_seal = NULL;
  g_autoptr(FerrySeal) second_seal = NULL;
  g_autoptr(GBytes) plain = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GError) error = NULL;

  exchange_run (&x, CODE, CODE);
  g_assert_no_error (x.sender_error);
  g_assert_no_error (x.receiver_error);
  g_assert_true (ferry_pake_is_confirmed (x.sender));
  g_assert_true (ferry_pake_is_confirmed (x.receiver));
  g_assert_cmpint (ferry_pake_get_role (x.sender), ==, FERRY_PAKE_ROLE_SENDER);
  g_assert_cmpint (ferry_pake_get_role (x.receiver), ==, FERRY_PAKE_ROLE_RECEIVER);

  ferry_pake_derive_key (x.sender, "transport", sender_key);
  ferry_pake_derive_key (x.receiver, "transport", receiver_key);
  ferry_pake_derive_key (x.receiver, "files", other_purpose);
  g_assert_cmpmem (sender_key, sizeof sender_key, receiver_key, sizeof receiver_key);
  g_assert_true (memcmp (sender_key, zero, sizeof zero) != 0);
  g_assert_true (memcmp (sender_key, other_purpose, sizeof other_purpose) != 0);

  /* Seals work both ways, one key per direction. */
  sender_seal = ferry_pake_create_seal (x.sender, "mailbox");
  receiver_seal = ferry_pake_create_seal (x.receiver, "mailbox");
  assert_seal_pair_works (sender_seal, receiver_seal);
  assert_seal_pair_works (receiver_seal, sender_seal);
  assert_seal_pair_works (sender_seal, receiver_seal);

  sealed = ferry_seal_seal (sender_seal, plain);
  opened = ferry_seal_open (sender_seal, sealed, &error);
  g_assert_error (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_TAMPERED);
  g_assert_null (opened);
  g_clear_error (&error);

  /* Another purpose has other keys. */
  receiver_other_seal = ferry_pake_create_seal (x.receiver, "transfer");
  opened = ferry_seal_open (receiver_other_seal, sealed, &error);
  g_assert_error (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_TAMPERED);
  g_assert_null (opened);

  /* One seal per purpose: a second one would start its counter again and
   * reuse nonces under the same keys. */
  g_test_expect_message ("ferry-pake", G_LOG_LEVEL_CRITICAL, "*seal_purposes*");
  second_seal = ferry_pake_create_seal (x.sender, "mailbox");
  g_test_assert_expected_messages ();
  g_assert_null (second_seal);

  exchange_clear (&x);
}

static void
assert_no_key (FerryPake *pake)
{
  guint8 key[FERRY_PAKE_KEY_BYTES];
  guint8 zero[FERRY_PAKE_KEY_BYTES] = { 0 };
  FerrySeal *seal;

  g_assert_false (ferry_pake_is_confirmed (pake));

  memset (key, 0xaa, sizeof key);
  g_test_expect_message ("ferry-pake", G_LOG_LEVEL_CRITICAL, "*ferry_pake_is_confirmed*");
  ferry_pake_derive_key (pake, "transport", key);
  g_test_assert_expected_messages ();
  g_assert_cmpmem (key, sizeof key, zero, sizeof zero);

  g_test_expect_message ("ferry-pake", G_LOG_LEVEL_CRITICAL, "*ferry_pake_is_confirmed*");
  seal = ferry_pake_create_seal (pake, "mailbox");
  g_test_assert_expected_messages ();
  g_assert_null (seal);
}

static void
test_wrong_code (void)
{
  static const char *wrong_codes[] = {
    "7-orbit-tulip-zebra",   /* one word differs */
    "7-tulip-orbit-canvas",  /* same words, other order */
    "8-orbit-tulip-canvas",  /* same words, other nameplate */
    "7-orbit-tulip-canvas-zebra",
  };

  for (guint i = 0; i < G_N_ELEMENTS (wrong_codes); i++)
    {
      Exchange x = { 0 };

      exchange_run (&x, CODE, wrong_codes[i]);
      g_assert_error (x.sender_error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
      g_assert_error (x.receiver_error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
      assert_no_key (x.sender);
      assert_no_key (x.receiver);
      exchange_clear (&x);
    }
}

/* One exchange in which @bit of one message is flipped on its way:
 * @which is 0 for the sender's first flight, 1 for the receiver's, 2 for
 * the sender's confirmation and 3 for the receiver's. Returns the error
 * code the side that got the changed message saw. */
static int
exchange_with_flip (guint which,
                    gsize bit)
{
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
  GBytes *messages[2] = { NULL, NULL };
  GBytes *confirmations[2] = { NULL, NULL };
  g_autoptr(GError) sender_error = NULL;
  g_autoptr(GError) receiver_error = NULL;
  GError **victim_error;
  gboolean sender_ok = FALSE;
  gboolean receiver_ok = FALSE;

  messages[0] = ferry_pake_get_message (sender);
  messages[1] = ferry_pake_get_message (receiver);
  if (which < 2)
    {
      GBytes *changed = flip_bit (messages[which], bit);

      g_bytes_unref (messages[which]);
      messages[which] = changed;
    }

  confirmations[0] = ferry_pake_process_message (sender, messages[1], &sender_error);
  confirmations[1] = ferry_pake_process_message (receiver, messages[0], &receiver_error);
  if (which >= 2 && confirmations[which - 2] != NULL)
    {
      GBytes *changed = flip_bit (confirmations[which - 2], bit);

      g_bytes_unref (confirmations[which - 2]);
      confirmations[which - 2] = changed;
    }

  if (confirmations[0] != NULL && confirmations[1] != NULL)
    {
      sender_ok = ferry_pake_process_confirmation (sender, confirmations[1], &sender_error);
      receiver_ok = ferry_pake_process_confirmation (receiver, confirmations[0],
                                                     &receiver_error);
    }

  /* Whatever happened, nobody may think the exchange worked. */
  g_assert_false (sender_ok && receiver_ok);
  g_assert_false (ferry_pake_is_confirmed (which % 2 == 0 ? receiver : sender));

  /* A changed first flight gives each side another key: both fail. */
  if (which < 2 && confirmations[0] != NULL && confirmations[1] != NULL)
    {
      g_assert_false (ferry_pake_is_confirmed (sender));
      g_assert_false (ferry_pake_is_confirmed (receiver));
    }

  victim_error = which % 2 == 0 ? &receiver_error : &sender_error;
  g_assert_nonnull (*victim_error);
  g_assert_true ((*victim_error)->domain == FERRY_PAKE_ERROR);
  g_assert_true ((*victim_error)->code == FERRY_PAKE_ERROR_BAD_MESSAGE ||
                 (*victim_error)->code == FERRY_PAKE_ERROR_WRONG_CODE);

  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&messages[i], g_bytes_unref);
      g_clear_pointer (&confirmations[i], g_bytes_unref);
    }

  return (*victim_error)->code;
}

static void
test_bit_flips (void)
{
  g_autoptr(FerryPake) probe = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(GBytes) message = ferry_pake_get_message (probe);
  gsize n_bits = g_bytes_get_size (message) * 8;

  g_assert_cmpuint (n_bits, ==, 34 * 8);

  for (guint which = 0; which < 4; which++)
    {
      guint n_bad = 0;
      guint n_wrong = 0;

      for (gsize bit = 0; bit < n_bits; bit++)
        {
          if (exchange_with_flip (which, bit) == FERRY_PAKE_ERROR_BAD_MESSAGE)
            n_bad++;
          else
            n_wrong++;
        }

      /* The version and type bytes are always bad messages; a changed MAC is
       * a failed confirmation. */
      g_assert_cmpuint (n_bad, >=, 16);
      if (which >= 2)
        g_assert_cmpuint (n_wrong, ==, n_bits - 16);
    }
}

static GBytes *
share_message (guint8        version,
               guint8        type,
               const guint8 *point,
               gsize         point_len)
{
  GByteArray *array = g_byte_array_new ();

  g_byte_array_append (array, &version, 1);
  g_byte_array_append (array, &type, 1);
  g_byte_array_append (array, point, point_len);
  return g_byte_array_free_to_bytes (array);
}

/* Takes @owned_message. */
static void
assert_message_rejected (GBytes *owned_message)
{
  g_autoptr(GBytes) message = owned_message;
  g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
  g_autoptr(GBytes) confirmation = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GError) error = NULL;

  confirmation = ferry_pake_process_message (receiver, message, &error);
  g_assert_null (confirmation);
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE);
  g_assert_false (ferry_pake_is_confirmed (receiver));
  g_clear_error (&error);

  /* The exchange is over; it cannot be retried with another message. */
  again = ferry_pake_process_message (receiver, message, &error);
  g_assert_null (again);
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);
}

static void
test_invalid_messages (void)
{
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(GBytes) good = ferry_pake_get_message (sender);
  const guint8 *good_point = (const guint8 *) g_bytes_get_data (good, NULL) + 2;
  guint8 identity[32] = { 0 };
  guint8 all_ones[32];
  guint8 not_canonical[32];
  guint8 random_bytes[32];
  guint n_invalid_random = 0;

  memset (all_ones, 0xff, sizeof all_ones);

  /* The sanity check: the well-formed message is accepted. */
  {
    g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
    g_autoptr(GBytes) confirmation = ferry_pake_process_message (receiver, good, NULL);

    g_assert_nonnull (confirmation);
  }

  /* The identity point would make the shared key known to everyone. */
  assert_message_rejected (share_message (1, 1, identity, 32));
  assert_message_rejected (share_message (1, 1, all_ones, 32));

  /* Ristretto encodings are canonical: the top bit set or a "negative"
   * (odd) field element is not a point. */
  memcpy (not_canonical, good_point, 32);
  not_canonical[31] |= 0x80;
  assert_message_rejected (share_message (1, 1, not_canonical, 32));
  memcpy (not_canonical, good_point, 32);
  not_canonical[0] |= 0x01;
  assert_message_rejected (share_message (1, 1, not_canonical, 32));

  /* Random bytes are mostly not points; check the ones that are not. */
  for (guint i = 0; i < 64; i++)
    {
      randombytes_buf (random_bytes, sizeof random_bytes);
      if (crypto_core_ristretto255_is_valid_point (random_bytes))
        continue;
      assert_message_rejected (share_message (1, 1, random_bytes, 32));
      n_invalid_random++;
    }
  g_assert_cmpuint (n_invalid_random, >, 0);

  /* Wrong version, wrong types, wrong sizes, nothing at all. */
  assert_message_rejected (share_message (2, 1, good_point, 32));
  assert_message_rejected (share_message (0, 1, good_point, 32));
  assert_message_rejected (share_message (1, 2, good_point, 32));
  assert_message_rejected (share_message (1, 3, good_point, 32));
  assert_message_rejected (share_message (1, 1, good_point, 31));
  assert_message_rejected (share_message (1, 1, good_point, 0));
  assert_message_rejected (g_bytes_new (NULL, 0));
  assert_message_rejected (g_bytes_new ("\x01", 1));
  {
    guint8 longer[33];

    memcpy (longer, good_point, 32);
    longer[32] = 0;
    assert_message_rejected (share_message (1, 1, longer, 33));
  }
}

static void
test_reflection_rejected (void)
{
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(GBytes) own = ferry_pake_get_message (sender);
  g_autoptr(GBytes) disguised = NULL;
  g_autoptr(GBytes) confirmation = NULL;
  g_autoptr(GError) error = NULL;

  /* Our own share, relabelled as the receiver's, is still our own. */
  disguised = share_message (1, 2, (const guint8 *) g_bytes_get_data (own, NULL) + 2, 32);
  confirmation = ferry_pake_process_message (sender, disguised, &error);
  g_assert_null (confirmation);
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_BAD_MESSAGE);
}

static void
test_confirmation_reflection_rejected (void)
{
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
  g_autoptr(GBytes) sender_message = ferry_pake_get_message (sender);
  g_autoptr(GBytes) receiver_message = ferry_pake_get_message (receiver);
  g_autoptr(GBytes) confirmation = NULL;
  g_autoptr(GBytes) disguised = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *data;
  gsize len;

  /* Someone who cannot compute the receiver's confirmation sends the
   * sender its own one back, relabelled: the confirmation keys differ per
   * role, so it does not check out. */
  confirmation = ferry_pake_process_message (sender, receiver_message, &error);
  g_assert_no_error (error);
  data = g_bytes_unref_to_data (g_bytes_ref (confirmation), &len);
  g_assert_cmpuint (data[1], ==, 3);
  data[1] = 4;
  disguised = g_bytes_new_take (data, len);

  g_assert_false (ferry_pake_process_confirmation (sender, disguised, &error));
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
  assert_no_key (sender);
}

static void
test_out_of_order (void)
{
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
  g_autoptr(GBytes) sender_message = ferry_pake_get_message (sender);
  g_autoptr(GBytes) receiver_message = ferry_pake_get_message (receiver);
  g_autoptr(GBytes) sender_confirmation = NULL;
  g_autoptr(GBytes) receiver_confirmation = NULL;
  g_autoptr(GBytes) twice = NULL;
  g_autoptr(GError) error = NULL;

  /* A confirmation before the first flight was processed. */
  g_assert_false (ferry_pake_process_confirmation (sender, receiver_message, &error));
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);
  g_clear_error (&error);
  assert_no_key (sender);

  sender_confirmation = ferry_pake_process_message (sender, receiver_message, &error);
  g_assert_no_error (error);
  receiver_confirmation = ferry_pake_process_message (receiver, sender_message, &error);
  g_assert_no_error (error);

  /* Keyed but not confirmed: still no key. */
  assert_no_key (sender);

  /* The first flight a second time. */
  twice = ferry_pake_process_message (sender, receiver_message, &error);
  g_assert_null (twice);
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);
  g_clear_error (&error);

  g_assert_true (ferry_pake_process_confirmation (sender, receiver_confirmation, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_pake_process_confirmation (receiver, sender_confirmation, &error));
  g_assert_no_error (error);

  /* A confirmation a second time. */
  g_assert_false (ferry_pake_process_confirmation (sender, receiver_confirmation, &error));
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);
  g_clear_error (&error);
  g_assert_true (ferry_pake_is_confirmed (sender));

  /* The first message stays available all along. */
  {
    g_autoptr(GBytes) again = ferry_pake_get_message (sender);

    g_assert_true (g_bytes_equal (again, sender_message));
  }
}

static void
test_after_failure (void)
{
  Exchange x = { 0 };
  g_autoptr(FerryPake) fresh = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
  g_autoptr(GBytes) message = ferry_pake_get_message (fresh);
  g_autoptr(GBytes) confirmation = NULL;
  g_autoptr(GError) error = NULL;

  exchange_run (&x, CODE, "7-orbit-tulip-zebra");
  g_assert_error (x.sender_error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);

  /* A failed exchange stays failed: a second guess needs a new code. */
  confirmation = ferry_pake_process_message (x.sender, message, &error);
  g_assert_null (confirmation);
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);
  g_clear_error (&error);
  g_assert_false (ferry_pake_process_confirmation (x.sender, message, &error));
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_STATE);

  exchange_clear (&x);
}

static void
test_fresh_randomness (void)
{
  Exchange one = { 0 };
  Exchange two = { 0 };
  g_autoptr(GBytes) one_message = NULL;
  g_autoptr(GBytes) two_message = NULL;
  guint8 one_key[FERRY_PAKE_KEY_BYTES];
  guint8 two_key[FERRY_PAKE_KEY_BYTES];

  exchange_run (&one, CODE, CODE);
  exchange_run (&two, CODE, CODE);
  g_assert_no_error (one.sender_error);
  g_assert_no_error (two.sender_error);

  one_message = ferry_pake_get_message (one.sender);
  two_message = ferry_pake_get_message (two.sender);
  g_assert_false (g_bytes_equal (one_message, two_message));

  ferry_pake_derive_key (one.sender, "transport", one_key);
  ferry_pake_derive_key (two.sender, "transport", two_key);
  g_assert_true (memcmp (one_key, two_key, sizeof one_key) != 0);

  exchange_clear (&one);
  exchange_clear (&two);
}

static void
test_mixed_sessions (void)
{
  Exchange one = { 0 };
  g_autoptr(GBytes) receiver_message = NULL;
  g_autoptr(GBytes) sender_message = NULL;
  g_autoptr(GBytes) confirmation = NULL;
  g_autoptr(GBytes) stale_confirmation = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryPake) sender = ferry_pake_new (FERRY_PAKE_ROLE_SENDER, CODE);
  g_autoptr(FerryPake) receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);

  /* A confirmation recorded from an earlier exchange with the same code
   * does not confirm a new one. */
  exchange_run (&one, CODE, CODE);
  sender_message = ferry_pake_get_message (sender);
  receiver_message = ferry_pake_get_message (receiver);
  confirmation = ferry_pake_process_message (sender, receiver_message, &error);
  g_assert_no_error (error);

  {
    g_autoptr(FerryPake) old_receiver = ferry_pake_new (FERRY_PAKE_ROLE_RECEIVER, CODE);
    g_autoptr(GBytes) old_message = ferry_pake_get_message (one.sender);

    stale_confirmation = ferry_pake_process_message (old_receiver, old_message, &error);
    g_assert_no_error (error);
  }

  g_assert_false (ferry_pake_process_confirmation (sender, stale_confirmation, &error));
  g_assert_error (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE);
  assert_no_key (sender);

  exchange_clear (&one);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/pake/same-code", test_same_code);
  g_test_add_func ("/pake/wrong-code", test_wrong_code);
  g_test_add_func ("/pake/bit-flips", test_bit_flips);
  g_test_add_func ("/pake/invalid-messages", test_invalid_messages);
  g_test_add_func ("/pake/reflection", test_reflection_rejected);
  g_test_add_func ("/pake/confirmation-reflection", test_confirmation_reflection_rejected);
  g_test_add_func ("/pake/out-of-order", test_out_of_order);
  g_test_add_func ("/pake/after-failure", test_after_failure);
  g_test_add_func ("/pake/fresh-randomness", test_fresh_randomness);
  g_test_add_func ("/pake/stale-confirmation", test_mixed_sessions);

  return g_test_run ();
}
