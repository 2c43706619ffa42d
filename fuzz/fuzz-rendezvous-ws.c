/* fuzz-rendezvous-ws.c
 *
 * The rendezvous server's guard on the WebSocket bytes a client sends: it follows the frame
 * headers and fails the stream once a message, over all its fragments, passes the limit.
 * Whatever the bytes, it passes them unchanged, and where it stops must not depend on how
 * the network cut them into reads (the first input byte picks the read size).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-message-size-limit-input-stream.h"

#define MAX_MESSAGE_SIZE 1024

/* Returns how many bytes passed before the stream ended or failed. */
static gsize
read_all (const guint8 *data,
          gsize         size,
          gsize         chunk,
          gboolean     *failed)
{
  g_autoptr(GInputStream) memory = g_memory_input_stream_new_from_data (data, size, NULL);
  g_autoptr(GInputStream) guarded = NULL;
  g_autofree guint8 *buffer = g_malloc (chunk);
  gsize passed = 0;

  guarded = ferry_message_size_limit_input_stream_new (memory, MAX_MESSAGE_SIZE);
  *failed = FALSE;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_input_stream_read (guarded, buffer, chunk, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
          *failed = TRUE;
          break;
        }
      if (n == 0)
        break;
      g_assert_cmpuint (passed + n, <=, size);
      g_assert_true (memcmp (buffer, data + passed, n) == 0);
      passed += n;
    }
  return passed;
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  gboolean failed_whole, failed_cut;
  gsize whole, cut;

  if (size == 0)
    return 0;

  whole = read_all (data + 1, size - 1, MAX (size - 1, 1), &failed_whole);
  cut = read_all (data + 1, size - 1, 1 + data[0] % 64, &failed_cut);
  g_assert_cmpint (failed_whole, ==, failed_cut);
  if (!failed_whole)
    {
      g_assert_cmpuint (whole, ==, size - 1);
      g_assert_cmpuint (cut, ==, whole);
    }

  return 0;
}
