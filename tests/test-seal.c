/* test-seal.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ferry-seal.h"
#include "ferry-test-utils.h"

typedef struct
{
  FerrySeal *a;  /* one side */
  FerrySeal *b;  /* the other side, with the keys swapped */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  guint8 a_to_b[FERRY_SEAL_KEY_BYTES];
  guint8 b_to_a[FERRY_SEAL_KEY_BYTES];

  randombytes_buf (a_to_b, sizeof a_to_b);
  randombytes_buf (b_to_a, sizeof b_to_a);
  fixture->a = ferry_seal_new (a_to_b, b_to_a);
  fixture->b = ferry_seal_new (b_to_a, a_to_b);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->a);
  g_clear_object (&fixture->b);
}

static GBytes *
bytes_from_string (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* @bytes with bit @bit flipped. */
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

static gboolean
contains (GBytes     *bytes,
          const char *needle)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize needle_len = strlen (needle);

  for (gsize i = 0; i + needle_len <= len; i++)
    if (memcmp (data + i, needle, needle_len) == 0)
      return TRUE;

  return FALSE;
}

static void
assert_opens_to (FerrySeal *seal,
                 GBytes    *sealed,
                 GBytes    *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plain = ferry_seal_open (seal, sealed, &error);

  g_assert_no_error (error);
  g_assert_nonnull (plain);
  g_assert_true (g_bytes_equal (plain, expected));
}

static void
assert_open_fails (FerrySeal      *seal,
                   GBytes         *sealed,
                   FerrySealError  code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) plain = ferry_seal_open (seal, sealed, &error);

  g_assert_null (plain);
  g_assert_error (error, FERRY_SEAL_ERROR, (int) code);
}

static void
test_round_trip (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *secret = "the bytes nobody else may read";
  g_autoptr(GBytes) hello = bytes_from_string (secret);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GBytes) sealed_hello = NULL;
  g_autoptr(GBytes) sealed_hello_again = NULL;
  g_autoptr(GBytes) sealed_empty = NULL;
  g_autoptr(GBytes) sealed_big = NULL;
  g_autoptr(GBytes) reply = bytes_from_string ("and back");
  g_autoptr(GBytes) sealed_reply = NULL;
  guint8 *big_data = g_malloc (65536);

  randombytes_buf (big_data, 65536);
  big = g_bytes_new_take (big_data, 65536);

  sealed_hello = ferry_seal_seal (fixture->a, hello);
  sealed_hello_again = ferry_seal_seal (fixture->a, hello);
  sealed_empty = ferry_seal_seal (fixture->a, empty);
  sealed_big = ferry_seal_seal (fixture->a, big);
  g_assert_cmpuint (ferry_seal_get_n_sent (fixture->a), ==, 4);

  g_assert_cmpuint (g_bytes_get_size (sealed_hello), ==, strlen (secret) + FERRY_SEAL_OVERHEAD);
  g_assert_cmpuint (g_bytes_get_size (sealed_empty), ==, FERRY_SEAL_OVERHEAD);
  /* Encrypted, and never the same twice. */
  g_assert_false (contains (sealed_hello, "nobody"));
  g_assert_false (g_bytes_equal (sealed_hello, sealed_hello_again));

  assert_opens_to (fixture->b, sealed_hello, hello);
  assert_opens_to (fixture->b, sealed_hello_again, hello);
  assert_opens_to (fixture->b, sealed_empty, empty);
  assert_opens_to (fixture->b, sealed_big, big);
  g_assert_cmpuint (ferry_seal_get_n_received (fixture->b), ==, 4);

  sealed_reply = ferry_seal_seal (fixture->b, reply);
  assert_opens_to (fixture->a, sealed_reply, reply);
}

static void
test_tampered (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GBytes) plain = bytes_from_string ("move 100 coins");
  g_autoptr(GBytes) sealed = ferry_seal_seal (fixture->a, plain);
  gsize n_bits = g_bytes_get_size (sealed) * 8;

  /* Every single changed bit is caught: the version byte as a bad message,
   * the sequence number, ciphertext and tag by authentication. */
  for (gsize bit = 0; bit < n_bits; bit++)
    {
      g_autoptr(GBytes) changed = flip_bit (sealed, bit);

      assert_open_fails (fixture->b, changed,
                         bit < 8 ? FERRY_SEAL_ERROR_BAD_MESSAGE : FERRY_SEAL_ERROR_TAMPERED);
    }

  /* None of that disturbed the real message. */
  g_assert_cmpuint (ferry_seal_get_n_received (fixture->b), ==, 0);
  assert_opens_to (fixture->b, sealed, plain);
}

static void
test_replayed (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GBytes) plain = bytes_from_string ("once");
  g_autoptr(GBytes) sealed = ferry_seal_seal (fixture->a, plain);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) again = NULL;

  assert_opens_to (fixture->b, sealed, plain);

  again = ferry_seal_open (fixture->b, sealed, &error);
  g_assert_null (again);
  g_assert_error (error, FERRY_SEAL_ERROR, FERRY_SEAL_ERROR_REPLAYED);
  g_assert_nonnull (strstr (error->message, "second time"));
}

static void
test_reordered_and_dropped (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GBytes) first = bytes_from_string ("first");
  g_autoptr(GBytes) second = bytes_from_string ("second");
  g_autoptr(GBytes) third = bytes_from_string ("third");
  g_autoptr(GBytes) sealed_first = ferry_seal_seal (fixture->a, first);
  g_autoptr(GBytes) sealed_second = ferry_seal_seal (fixture->a, second);
  g_autoptr(GBytes) sealed_third = ferry_seal_seal (fixture->a, third);

  /* Second before first: refused, and first is still expected. */
  assert_open_fails (fixture->b, sealed_second, FERRY_SEAL_ERROR_REPLAYED);
  assert_opens_to (fixture->b, sealed_first, first);

  /* Second dropped: third is refused. */
  assert_open_fails (fixture->b, sealed_third, FERRY_SEAL_ERROR_REPLAYED);
  assert_opens_to (fixture->b, sealed_second, second);
  assert_opens_to (fixture->b, sealed_third, third);
  assert_open_fails (fixture->b, sealed_first, FERRY_SEAL_ERROR_REPLAYED);
}

static void
test_truncated (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GBytes) plain = bytes_from_string ("a message of some length");
  g_autoptr(GBytes) sealed = ferry_seal_seal (fixture->a, plain);
  gsize len = g_bytes_get_size (sealed);

  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(GBytes) part = g_bytes_new_from_bytes (sealed, 0, cut);

      /* Too short to be a sealed message at all, or missing the end of its
       * ciphertext or tag. */
      assert_open_fails (fixture->b, part,
                         cut < FERRY_SEAL_OVERHEAD ? FERRY_SEAL_ERROR_BAD_MESSAGE
                                                   : FERRY_SEAL_ERROR_TAMPERED);
    }

  assert_opens_to (fixture->b, sealed, plain);
}

static void
test_directions (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GBytes) plain = bytes_from_string ("from a to b");
  g_autoptr(GBytes) sealed = ferry_seal_seal (fixture->a, plain);
  guint8 other_key[FERRY_SEAL_KEY_BYTES];
  guint8 another_key[FERRY_SEAL_KEY_BYTES];
  g_autoptr(FerrySeal) stranger = NULL;

  /* A message from a to b is not a message from b to a: a cannot open what
   * it sealed itself (a reflected message). */
  assert_open_fails (fixture->a, sealed, FERRY_SEAL_ERROR_TAMPERED);

  /* Nor can anyone with other keys. */
  randombytes_buf (other_key, sizeof other_key);
  randombytes_buf (another_key, sizeof another_key);
  stranger = ferry_seal_new (other_key, another_key);
  assert_open_fails (stranger, sealed, FERRY_SEAL_ERROR_TAMPERED);

  assert_opens_to (fixture->b, sealed, plain);
}

static void
test_same_keys_refused (void)
{
  guint8 key[FERRY_SEAL_KEY_BYTES];
  FerrySeal *seal;

  randombytes_buf (key, sizeof key);
  g_test_expect_message ("ferry-seal", G_LOG_LEVEL_CRITICAL, "*sodium_memcmp*");
  seal = ferry_seal_new (key, key);
  g_test_assert_expected_messages ();
  g_assert_null (seal);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("/seal/round-trip", test_round_trip);
  ADD ("/seal/tampered", test_tampered);
  ADD ("/seal/replayed", test_replayed);
  ADD ("/seal/reordered-and-dropped", test_reordered_and_dropped);
  ADD ("/seal/truncated", test_truncated);
  ADD ("/seal/directions", test_directions);
  g_test_add_func ("/seal/same-keys-refused", test_same_keys_refused);

#undef ADD

  return g_test_run ();
}
