/* test-message-size-limit.c
 *
 * FerryMessageSizeLimitInputStream over hand-made WebSocket frames, read whole
 * and byte by byte, so headers split across reads are covered.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-message-size-limit-input-stream.h"
#include "ferry-test-utils.h"

/* Appends one masked client frame; @length may claim more than @data. */
static void
add_frame (GByteArray *out,
           gboolean    fin,
           guint8      opcode,
           guint64     length,
           gsize       payload)
{
  guint8 head = (fin ? 0x80 : 0) | opcode;
  const guint8 mask[4] = { 1, 2, 3, 4 };

  g_byte_array_append (out, &head, 1);
  if (length < 126)
    {
      guint8 byte = 0x80 | (guint8) length;

      g_byte_array_append (out, &byte, 1);
    }
  else if (length <= G_MAXUINT16)
    {
      guint8 bytes[3] = { 0x80 | 126, length >> 8, length & 0xff };

      g_byte_array_append (out, bytes, 3);
    }
  else
    {
      guint8 bytes[9] = { 0x80 | 127 };

      for (int i = 0; i < 8; i++)
        bytes[8 - i] = (length >> (8 * i)) & 0xff;
      g_byte_array_append (out, bytes, 9);
    }
  g_byte_array_append (out, mask, 4);
  for (gsize i = 0; i < payload; i++)
    {
      guint8 byte = 'x' ^ mask[i % 4];

      g_byte_array_append (out, &byte, 1);
    }
}

/* Reads @data through a guard, @chunk bytes at a time; returns how many
 * bytes came through before the end or the error. */
static gsize
read_through (GByteArray  *data,
              guint64      limit,
              gsize        chunk,
              GError     **error)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_data (
    g_memdup2 (data->data, data->len), data->len, g_free);
  g_autoptr(GInputStream) guard = ferry_message_size_limit_input_stream_new (base, limit);
  g_autofree guint8 *buffer = g_malloc (chunk);
  gsize total = 0;

  g_assert_true (g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (guard)));
  for (;;)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard),
                                                           buffer, chunk, NULL, error);

      if (n < 0)
        {
          g_autoptr(GError) again = NULL;

          /* Once failed, it stays failed. */
          g_assert_cmpint (g_input_stream_read (guard, buffer, chunk, NULL, &again), ==, -1);
          g_assert_error (again, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
          return total;
        }
      if (n == 0)
        return total;
      g_assert_cmpmem (buffer, n, data->data + total, n);
      total += n;
    }
}

/* With an error, every byte before the offending frame comes through and
 * none of its payload: only some of its header, split over reads, may. */
static void
check (GByteArray *data,
       guint64     limit,
       gsize       expected_through,
       gsize       offending_header,
       gboolean    expect_error)
{
  const gsize chunks[] = { 1, 3, 7, 4096 };

  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize through = read_through (data, limit, chunks[i], &error);

      if (expect_error)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
          g_assert_cmpuint (through, >=, expected_through);
          g_assert_cmpuint (through, <, expected_through + offending_header);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpuint (through, ==, expected_through);
        }
    }
}

static void
test_within_limit (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();

  add_frame (data, TRUE, 0x1, 10, 10);
  add_frame (data, FALSE, 0x2, 300, 300);
  add_frame (data, TRUE, 0x9, 3, 3);         /* a ping between fragments */
  add_frame (data, TRUE, 0x0, 700, 700);     /* 300 + 700 = the limit */
  add_frame (data, TRUE, 0x2, 1000, 1000);
  check (data, 1000, data->len, 0, FALSE);
}

static void
test_single_frame_too_large (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  gsize first;

  add_frame (data, TRUE, 0x1, 10, 10);
  first = data->len;
  add_frame (data, TRUE, 0x2, 301, 301);
  check (data, 300, first, 2 + 2 + 4, TRUE);
}

static void
test_huge_length (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();

  /* A 64-bit length that no payload follows. */
  add_frame (data, TRUE, 0x2, G_GUINT64_CONSTANT (1) << 40, 0);
  check (data, 65536, 0, 2 + 8 + 4, TRUE);
}

static void
test_fragments_too_large (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  gsize before_third;

  add_frame (data, FALSE, 0x2, 400, 400);
  add_frame (data, FALSE, 0x0, 400, 400);
  before_third = data->len;
  add_frame (data, FALSE, 0x0, 400, 400);
  check (data, 1000, before_third, 2 + 2 + 4, TRUE);
}

static void
test_new_message_resets (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();

  for (guint i = 0; i < 10; i++)
    {
      add_frame (data, FALSE, 0x2, 500, 500);
      add_frame (data, TRUE, 0x0, 500, 500);
    }
  check (data, 1000, data->len, 0, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/message-size-limit/within-limit", test_within_limit);
  g_test_add_func ("/message-size-limit/single-frame-too-large", test_single_frame_too_large);
  g_test_add_func ("/message-size-limit/huge-length", test_huge_length);
  g_test_add_func ("/message-size-limit/fragments-too-large", test_fragments_too_large);
  g_test_add_func ("/message-size-limit/new-message-resets", test_new_message_resets);

  return g_test_run ();
}
