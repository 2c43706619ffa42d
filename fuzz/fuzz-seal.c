/* fuzz-seal.c
 *
 * The sealed-message opener: every message through the rendezvous mailbox after the PAKE.
 * Bytes from anyone without the key must be refused with an error and change nothing, so
 * the genuine message that follows still opens; what the sender sealed opens to itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-seal.h"

static const guint8 key_a[FERRY_SEAL_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const guint8 key_b[FERRY_SEAL_KEY_BYTES] = { 8, 7, 6, 5, 4, 3, 2, 1 };

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(FerrySeal) sender = ferry_seal_new (key_a, key_b);
  g_autoptr(FerrySeal) receiver = ferry_seal_new (key_b, key_a);
  g_autoptr(GBytes) input = g_bytes_new (data, size);
  g_autoptr(GBytes) forged = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GError) error = NULL;

  /* The input as a message from someone who does not hold the key. */
  forged = ferry_seal_open (receiver, input, &error);
  g_assert_null (forged);
  g_assert_error (error, FERRY_SEAL_ERROR, error->code);
  g_assert_cmpuint (ferry_seal_get_n_received (receiver), ==, 0);
  g_clear_error (&error);

  /* The input as what the real sender sealed next. */
  sealed = ferry_seal_seal (sender, input);
  g_assert_cmpuint (g_bytes_get_size (sealed), ==, size + FERRY_SEAL_OVERHEAD);
  opened = ferry_seal_open (receiver, sealed, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (opened, input));

  return 0;
}
