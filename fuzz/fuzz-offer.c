/* fuzz-offer.c
 *
 * The offer parser: the first thing a sender says after the PAKE, and all of it hostile.
 * An offer it accepts must survive its own serialisation unchanged, and every name in it
 * must come out of the escaper printable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-offer.h"

static void
check_round_trip (FerryOffer *offer)
{
  g_autoptr(FerryOffer) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  gsize length;

  json = ferry_offer_to_json (offer, &length);
  again = ferry_offer_new_from_json (json, length, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ferry_offer_get_n_entries (again), ==, ferry_offer_get_n_entries (offer));
  g_assert_cmpuint (ferry_offer_get_total_size (again), ==, ferry_offer_get_total_size (offer));

  for (guint i = 0; i < ferry_offer_get_n_entries (offer); i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      const char *path = ferry_offer_entry_get_path (entry);

      g_assert_true (ferry_offer_lookup (again, path) != NULL);
      g_free (ferry_offer_escape_name (path, -1));
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryOffer) offer = NULL;
  g_autofree char *escaped = NULL;

  offer = ferry_offer_new_from_json ((const char *) data, size, NULL, &error);
  if (offer != NULL)
    check_round_trip (offer);
  else
    g_assert_true (error != NULL && error->domain == FERRY_OFFER_ERROR);

  /* Peer names and the parser's messages go through the escaper before anyone sees them. */
  escaped = ferry_offer_escape_name ((const char *) data, (gssize) size);
  g_assert_true (g_utf8_validate (escaped, -1, NULL));

  return 0;
}
