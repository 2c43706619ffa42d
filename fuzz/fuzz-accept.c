/* fuzz-accept.c
 *
 * The sender's reader of the receiver's accept frame, against a real offer of real files
 * (one of them over a block long, so that "resume" has block hashes to compare). Whatever
 * the receiver says, the sender may only skip files it offered, start no file past its end
 * and count no byte twice.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>

#include "ferry-fuzz.h"
#include "ferry-transfer-private.h"

static FerryOffer *offer;

static void
offer_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  offer = ferry_offer_new_from_files_finish (result, &error);
  g_assert_no_error (error);
}

/* Photos/ (a.txt, big.bin of one block and a half) and notes.txt, in a fresh folder. */
static void
make_offer (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ferry-fuzz-accept-XXXXXX", NULL);
  g_autofree char *photos = g_build_filename (dir, "Photos", NULL);
  g_autofree char *a = g_build_filename (photos, "a.txt", NULL);
  g_autofree char *big = g_build_filename (photos, "big.bin", NULL);
  g_autofree char *notes = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *big_data = g_malloc0 (FERRY_BLOCK_SIZE * 3 / 2);
  GFile *files[2];

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir (photos, 0755), ==, 0);
  g_assert_true (g_file_set_contents (a, "hello\n", -1, NULL));
  g_assert_true (g_file_set_contents (big, big_data, FERRY_BLOCK_SIZE * 3 / 2, NULL));
  g_assert_true (g_file_set_contents (notes, "notes\n", -1, NULL));

  files[0] = g_file_new_for_path (photos);
  files[1] = g_file_new_for_path (notes);
  ferry_offer_new_from_files_async (files, 2, NULL, offer_ready_cb, NULL);
  while (offer == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_object_unref (files[0]);
  g_object_unref (files[1]);
  g_remove (a);
  g_remove (big);
  g_remove (notes);
  g_rmdir (photos);
  g_rmdir (dir);
}

void
ferry_fuzz_setup (void)
{
  make_offer ();
}

static void
check_accept (const FerryTransferAccept *accept)
{
  guint n = ferry_offer_get_n_entries (offer);
  guint64 resumed = 0;

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (offer, i);
      guint64 size = ferry_offer_entry_get_size (entry);

      if (accept->skip[i])
        g_assert_cmpint (ferry_offer_entry_get_kind (entry), ==, FERRY_OFFER_ENTRY_FILE);
      g_assert_cmpuint (accept->start_offsets[i], <=, size);
      g_assert_true (accept->start_offsets[i] == 0 || !accept->skip[i]);
      resumed += accept->skip[i] ? size : accept->start_offsets[i];
    }

  g_assert_cmpuint (accept->bytes_resumed, ==, resumed);
  g_assert_cmpuint (accept->bytes_resumed, <=, ferry_offer_get_total_size (offer));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  guint n = ferry_offer_get_n_entries (offer);
  g_autofree guint8 *skip = g_new0 (guint8, n);
  g_autofree guint64 *start_offsets = g_new0 (guint64, n);
  FerryTransferAccept accept = { skip, start_offsets, 0, 0 };

  if (ferry_transfer_parse_accept (offer, (const char *) data, size, &accept))
    check_accept (&accept);

  return 0;
}
