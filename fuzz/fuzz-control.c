/* fuzz-control.c
 *
 * The control stream as either side reads it after the preamble: frames of a 32-bit length
 * and a kind, each payload handed to the parser the receiving side uses for that kind
 * (offers on the receiver, accept frames on the sender; "file done" and "all verified"
 * carry nothing). A frame header that breaks the limits ends the stream, as it ends the
 * session.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-transfer-private.h"

static const char offer_json[] =
  "{\"ferry-offer\":1,\"entries\":["
  "{\"path\":\"Photos\",\"type\":\"folder\"},"
  "{\"path\":\"Photos/a.jpg\",\"type\":\"file\",\"size\":6,\"content_id\":"
  "\"0000000000000000000000000000000000000000000000000000000000000000\"}]}";

static FerryOffer *offer;
static FerryOfferLimits limits;

void
ferry_fuzz_setup (void)
{
  ferry_offer_limits_init_default (&limits);
  offer = ferry_offer_new_from_json (offer_json, strlen (offer_json), &limits, NULL);
  g_assert_nonnull (offer);
}

static void
handle_frame (guint8        kind,
              const guint8 *payload,
              gsize         len)
{
  guint n = ferry_offer_get_n_entries (offer);
  g_autofree guint8 *skip = g_new0 (guint8, n);
  g_autofree guint64 *start_offsets = g_new0 (guint64, n);
  FerryTransferAccept accept = { skip, start_offsets, 0, 0 };
  g_autoptr(FerryOffer) received = NULL;
  g_autoptr(GError) error = NULL;

  switch (kind)
    {
    case FERRY_TRANSFER_FRAME_OFFER:
      received = ferry_offer_new_from_json ((const char *) payload, len, &limits, &error);
      g_assert_true ((received == NULL) == (error != NULL));
      break;

    case FERRY_TRANSFER_FRAME_ACCEPT:
      if (ferry_transfer_parse_accept (offer, (const char *) payload, len, &accept))
        g_assert_cmpuint (accept.bytes_resumed, <=, ferry_offer_get_total_size (offer));
      break;

    default:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  gsize at = 0;

  while (size - at >= 5)
    {
      gsize frame_len;
      guint8 kind;

      if (!ferry_transfer_read_frame_header (data + at, size - at, limits.max_json_size,
                                             &kind, &frame_len))
        break;
      g_assert_cmpuint (frame_len, <=, FERRY_TRANSFER_MAX_FRAME);
      if (size - at - 5 < frame_len)
        break;
      handle_frame (kind, data + at + 5, frame_len);
      at += 5 + frame_len;
    }

  return 0;
}
