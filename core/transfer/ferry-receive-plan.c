/* ferry-receive-plan.c
 *
 * The receiver's side of resuming, worked out once before it accepts: from
 * the offer and what the store recorded of an earlier attempt into the same
 * folder, in four steps:
 *
 * 1. Resume points: files recorded complete are skipped, files with
 *    verified blocks resume after them, and what is still missing must fit
 *    on the disk.
 * 2. Top-level folders: each is reserved once ("NAME (1)" when the name is
 *    taken) and remembered, so a resumed transfer lands in the same one and
 *    never in a folder that was there before.
 * 3. Folders: every offered folder exists before any file arrives, the
 *    empty ones too. Partial files: those other unfinished transfers into
 *    the folder may resume are left alone, and each file of this one is
 *    written to the partial file its earlier attempt used.
 * 4. Partial files: each file to resume is re-read, and must still hold
 *    the blocks the store recorded (someone may have deleted or changed
 *    it); if not, it starts over and its stored blocks are dropped.
 *
 * It blocks on disk I/O: call ferry_receive_plan_new() from a worker thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <string.h>

#include "ferry-hasher.h"
#include "ferry-receive-plan.h"

static void
resume_clear (gpointer data)
{
  FerryReceivePlanResume *resume = data;

  g_clear_pointer (&resume->hashes, g_ptr_array_unref);
}

void
ferry_receive_plan_free (FerryReceivePlan *plan)
{
  if (plan == NULL)
    return;

  g_clear_object (&plan->target);
  g_clear_pointer (&plan->top_level, g_hash_table_unref);
  g_clear_pointer (&plan->reserved, g_hash_table_unref);
  if (plan->opened != NULL)
    for (guint i = 0; i < ferry_offer_get_n_entries (plan->offer); i++)
      g_clear_pointer (&plan->opened[i], ferry_receive_file_free);
  g_free (plan->opened);
  g_free (plan->resume_offsets);
  g_free (plan->skip);
  g_free (plan->discard);
  g_clear_pointer (&plan->resume, g_array_unref);
  g_clear_object (&plan->offer);
  g_free (plan);
}

/**
 * ferry_receive_plan_dup_local_path:
 * @path: a path from the offer
 *
 * Returns: (transfer full): where @path lands in the target folder: below
 *   the local name of its top-level folder, which may have been numbered
 */
char *
ferry_receive_plan_dup_local_path (FerryReceivePlan *plan,
                                   const char       *path)
{
  const char *slash;
  g_autofree char *top = NULL;
  const char *mapped;

  g_return_val_if_fail (plan != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  slash = strchr (path, '/');
  top = slash ? g_strndup (path, slash - path) : g_strdup (path);
  mapped = g_hash_table_lookup (plan->top_level, top);
  if (mapped == NULL)
    return g_strdup (path);
  return g_strconcat (mapped, slash ? slash : "", NULL);
}

/* 1. Resume points ------------------------------------------------------- */

static gboolean
plan_resume_points (FerryReceivePlan    *plan,
                    FerryStoreTransfer  *stored,
                    GError             **error)
{
  guint n = ferry_offer_get_n_entries (plan->offer);
  guint64 missing = 0;

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (plan->offer, i);
      FerryStoreFile *file = NULL;
      guint64 size = ferry_offer_entry_get_size (entry);

      if (stored != NULL)
        file = ferry_store_transfer_find_file (stored, ferry_offer_entry_get_path (entry));
      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FILE)
        continue;

      if (file != NULL && file->state == FERRY_STORE_FILE_COMPLETE)
        {
          plan->skip[i] = TRUE;
          plan->resumed += size;
          continue;
        }

      if (file != NULL && file->verified != NULL)
        plan->resume_offsets[i] = ferry_store_file_get_resume_offset (file);
      missing += size - plan->resume_offsets[i];
    }

  return ferry_receive_target_check_space (plan->target, missing, error);
}

/* 2. Top-level folders --------------------------------------------------- */

static gboolean
reserve_top_level_folders (FerryReceivePlan    *plan,
                           FerryStoreTransfer  *stored,
                           GError             **error)
{
  guint n = ferry_offer_get_n_entries (plan->offer);

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (plan->offer, i);
      const char *path = ferry_offer_entry_get_path (entry);
      FerryStoreFile *file = NULL;
      char *name;

      if (strchr (path, '/') != NULL || ferry_offer_entry_get_kind (entry)
                                        != FERRY_OFFER_ENTRY_FOLDER)
        continue;
      if (stored != NULL)
        file = ferry_store_transfer_find_file (stored, path);

      if (file != NULL && file->local_path != NULL)
        name = g_strdup (file->local_path);
      else
        {
          name = ferry_receive_target_reserve_folder (plan->target, path, error);
          if (name == NULL)
            return FALSE;
          g_hash_table_insert (plan->reserved, g_strdup (path), g_strdup (name));
        }
      g_hash_table_insert (plan->top_level, g_strdup (path), name);
    }

  return TRUE;
}

/* 3. Folders ------------------------------------------------------------- */

static gboolean
make_folders (FerryReceivePlan  *plan,
              GError           **error)
{
  guint n = ferry_offer_get_n_entries (plan->offer);

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (plan->offer, i);
      g_autofree char *local = NULL;

      if (ferry_offer_entry_get_kind (entry) != FERRY_OFFER_ENTRY_FOLDER)
        continue;
      local = ferry_receive_plan_dup_local_path (plan, ferry_offer_entry_get_path (entry));
      if (!ferry_receive_target_make_folder (plan->target, local, error))
        return FALSE;
    }

  return TRUE;
}

/* Partial files belong to one transfer each: a new transfer of a top-level
 * "photo.jpg" must not resume or truncate the "photo.jpg.ferry-part" an
 * interrupted transfer from another peer left, which its peer may resume.
 */
static void
note_partial_files (FerryReceivePlan   *plan,
                    FerryStoreTransfer *stored)
{
  guint n = ferry_offer_get_n_entries (plan->offer);

  if (stored == NULL)
    return;

  for (guint i = 0; stored->other_partials != NULL && stored->other_partials[i] != NULL; i++)
    ferry_receive_target_keep_partial (plan->target, stored->other_partials[i]);

  for (guint i = 0; i < n; i++)
    {
      const char *path = ferry_offer_entry_get_path (ferry_offer_get_entry (plan->offer, i));
      FerryStoreFile *file = ferry_store_transfer_find_file (stored, path);
      g_autofree char *local = NULL;

      if (file == NULL || file->kind != FERRY_OFFER_ENTRY_FILE
          || file->state != FERRY_STORE_FILE_PARTIAL || file->local_path == NULL)
        continue;
      local = ferry_receive_plan_dup_local_path (plan, path);
      ferry_receive_target_set_own_partial (plan->target, local, file->local_path);
    }
}

/* 4. Partial files ------------------------------------------------------- */

static void
reread_partial_files (FerryReceivePlan   *plan,
                      FerryStoreTransfer *stored,
                      GCancellable       *cancellable)
{
  guint n = ferry_offer_get_n_entries (plan->offer);

  for (guint i = 0; i < n; i++)
    {
      const FerryOfferEntry *entry = ferry_offer_get_entry (plan->offer, i);
      g_autofree char *local = NULL;
      g_autoptr(GError) local_error = NULL;
      FerryStoreFile *recorded;
      FerryReceiveFile *file;
      FerryReceivePlanResume resume;
      const guint8 *hashes;
      guint n_blocks;
      gboolean same = TRUE;

      if (plan->resume_offsets[i] == 0 || plan->skip[i])
        continue;
      recorded = ferry_store_transfer_find_file (stored, ferry_offer_entry_get_path (entry));
      local = ferry_receive_plan_dup_local_path (plan, ferry_offer_entry_get_path (entry));
      file = ferry_receive_target_open_file (plan->target, entry, local, plan->resume_offsets[i],
                                             cancellable, &local_error);
      n_blocks = file ? ferry_receive_file_get_n_complete_blocks (file) : 0;
      hashes = g_bytes_get_data (recorded->verified_hashes, NULL);
      for (guint b = 0; file != NULL && b < n_blocks; b++)
        same = same && memcmp (ferry_receive_file_get_block_hash (file, b),
                               hashes + (gsize) b * FERRY_HASH_SIZE, FERRY_HASH_SIZE) == 0;
      if (file == NULL || !same)
        {
          g_debug ("Not resuming %s: %s", local,
                   local_error ? local_error->message : "the partial file changed");
          g_clear_pointer (&file, ferry_receive_file_free);
          plan->resume_offsets[i] = 0;
          plan->discard[i] = TRUE;
          continue;
        }

      plan->opened[i] = file;
      if (n_blocks == 0)
        continue;
      resume.index = i;
      resume.offset = plan->resume_offsets[i];
      resume.hashes = g_ptr_array_new_with_free_func (g_free);
      for (guint b = 0; b < n_blocks; b++)
        g_ptr_array_add (resume.hashes,
                         ferry_hash_to_hex (ferry_receive_file_get_block_hash (file, b)));
      g_array_append_val (plan->resume, resume);
    }
}

/**
 * ferry_receive_plan_new:
 * @offer: the offer to receive
 * @folder: the folder the files land in
 * @stored: (nullable): the store's record of this transfer into @folder,
 *   with what an earlier attempt verified; it must outlive the call
 *
 * Works out how to receive @offer into @folder (see the file comment),
 * reserving the top-level folders and making every folder on the way.
 * Blocks on disk I/O.
 *
 * Returns: (transfer full): the plan, or %NULL with a %FERRY_RECEIVE_ERROR
 */
FerryReceivePlan *
ferry_receive_plan_new (FerryOffer          *offer,
                        GFile               *folder,
                        FerryStoreTransfer  *stored,
                        GCancellable        *cancellable,
                        GError             **error)
{
  g_autoptr(FerryReceivePlan) plan = NULL;
  guint n;

  g_return_val_if_fail (FERRY_IS_OFFER (offer), NULL);
  g_return_val_if_fail (G_IS_FILE (folder), NULL);

  n = ferry_offer_get_n_entries (offer);
  plan = g_new0 (FerryReceivePlan, 1);
  plan->offer = g_object_ref (offer);
  plan->target = ferry_receive_target_new (folder, error);
  if (plan->target == NULL)
    return NULL;

  plan->top_level = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  plan->reserved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  plan->resume_offsets = g_new0 (guint64, n);
  plan->skip = g_new0 (guint8, n);
  plan->discard = g_new0 (guint8, n);
  plan->opened = g_new0 (FerryReceiveFile *, n);
  plan->resume = g_array_new (FALSE, TRUE, sizeof (FerryReceivePlanResume));
  g_array_set_clear_func (plan->resume, resume_clear);

  if (!plan_resume_points (plan, stored, error)
      || !reserve_top_level_folders (plan, stored, error)
      || !make_folders (plan, error))
    return NULL;
  note_partial_files (plan, stored);
  reread_partial_files (plan, stored, cancellable);

  return g_steal_pointer (&plan);
}

/**
 * ferry_receive_plan_remember:
 * @store: the store @stored came from
 * @stored: the record the plan was made from
 *
 * Tells the store what the plan found: the blocks of files that start over
 * are dropped, and each top-level folder reserved is recorded complete with
 * its local name, so that resuming lands in it again.
 */
void
ferry_receive_plan_remember (FerryReceivePlan   *plan,
                             FerryStore         *store,
                             FerryStoreTransfer *stored)
{
  guint n;
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (plan != NULL);
  g_return_if_fail (FERRY_IS_STORE (store));
  g_return_if_fail (stored != NULL);

  n = ferry_offer_get_n_entries (plan->offer);
  for (guint i = 0; i < n; i++)
    {
      const char *path = ferry_offer_entry_get_path (ferry_offer_get_entry (plan->offer, i));
      FerryStoreFile *file;

      if (!plan->discard[i])
        continue;
      file = ferry_store_transfer_find_file (stored, path);
      if (file != NULL)
        ferry_store_discard_blocks_async (store, file->id, NULL, NULL, NULL);
    }

  g_hash_table_iter_init (&iter, plan->reserved);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      FerryStoreFile *file = ferry_store_transfer_find_file (stored, key);

      if (file != NULL)
        ferry_store_set_file_state_async (store, file->id, FERRY_STORE_FILE_COMPLETE, value,
                                          NULL, NULL, NULL);
    }
}
