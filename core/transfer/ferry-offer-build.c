/* ferry-offer-build.c
 *
 * An offer from the files and folders a person chose, built in a GTask
 * thread: the chosen folders walked breadth-first without following links,
 * the entries sorted and validated, and every file hashed (ferry-hasher.c)
 * so its size and content id are what will be sent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer"

#include "config.h"

#include <string.h>

#include "ferry-offer-private.h"

/* Building an offer from local files, in a GTask thread. */

typedef struct
{
  GPtrArray *files;
  char      *text;
} BuildJob;

static void
build_job_free (gpointer data)
{
  BuildJob *job = data;

  g_ptr_array_unref (job->files);
  g_free (job->text);
  g_free (job);
}

#define QUERY_ATTRIBUTES \
  G_FILE_ATTRIBUTE_STANDARD_NAME "," \
  G_FILE_ATTRIBUTE_STANDARD_TYPE "," \
  G_FILE_ATTRIBUTE_STANDARD_IS_SYMLINK "," \
  G_FILE_ATTRIBUTE_UNIX_MODE "," \
  G_FILE_ATTRIBUTE_TIME_MODIFIED

static FerryOfferEntry *
local_entry_new (const char *path,
                 GFile      *file,
                 GFileInfo  *info)
{
  FerryOfferEntry *entry = g_new0 (FerryOfferEntry, 1);
  guint32 mode = g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_MODE);

  entry->path = g_strdup (path);
  entry->local_file = g_object_ref (file);
  entry->mtime = (gint64) g_file_info_get_attribute_uint64 (info,
                                                            G_FILE_ATTRIBUTE_TIME_MODIFIED);
  if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
    {
      entry->kind = FERRY_OFFER_ENTRY_FOLDER;
      entry->mode = 0755;
    }
  else
    {
      entry->kind = FERRY_OFFER_ENTRY_FILE;
      entry->mode = (mode & 0111) ? 0755 : 0644;
    }

  return entry;
}

static gboolean
local_name_to_utf8 (const char  *name,
                    char       **utf8,
                    GError     **error)
{
  /* Linux names are bytes; an offer carries UTF-8 only. */
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_autofree char *escaped = ferry_offer_escape_name (name, -1);

      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_UTF8,
                   "“%s” has a name that is not valid UTF-8", escaped);
      return FALSE;
    }

  *utf8 = g_strdup (name);
  return TRUE;
}

static gboolean
walk_folder (FerryOffer    *self,
             GFile         *root,
             const char    *root_path,
             guint          max_entries,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GQueue) pending = g_queue_new ();
  gboolean ok = TRUE;

  /* Breadth-first with an explicit queue: deep trees can't exhaust the stack. */
  g_queue_push_tail (pending, g_object_ref (root));
  g_queue_push_tail (pending, g_strdup (root_path));

  while (ok && !g_queue_is_empty (pending))
    {
      g_autoptr(GFile) folder = g_queue_pop_head (pending);
      g_autofree char *folder_path = g_queue_pop_head (pending);
      g_autoptr(GFileEnumerator) children = NULL;

      children = g_file_enumerate_children (folder, QUERY_ATTRIBUTES,
                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                            cancellable, error);
      if (children == NULL)
        {
          ok = FALSE;
          break;
        }

      for (;;)
        {
          GFileInfo *info;
          GFile *child;
          g_autofree char *name = NULL;
          g_autofree char *path = NULL;

          if (!g_file_enumerator_iterate (children, &info, &child, cancellable, error))
            {
              ok = FALSE;
              break;
            }
          if (info == NULL)
            break;

          if (g_file_info_get_is_symlink (info))
            {
              self->n_skipped_symlinks++;
              continue;
            }
          if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR
              && g_file_info_get_file_type (info) != G_FILE_TYPE_DIRECTORY)
            {
              self->n_skipped_special++;
              continue;
            }

          if (!local_name_to_utf8 (g_file_info_get_name (info), &name, error))
            {
              ok = FALSE;
              break;
            }
          path = g_strconcat (folder_path, "/", name, NULL);
          g_ptr_array_add (self->entries, local_entry_new (path, child, info));

          if (self->entries->len > max_entries)
            {
              g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES,
                           "The chosen folders hold more than the %u files and folders "
                           "Ferry can send at once", max_entries);
              ok = FALSE;
              break;
            }

          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            {
              g_queue_push_tail (pending, g_object_ref (child));
              g_queue_push_tail (pending, g_steal_pointer (&path));
            }
        }
    }

  while (!g_queue_is_empty (pending))
    {
      g_object_unref (g_queue_pop_head (pending));
      g_free (g_queue_pop_head (pending));
    }

  return ok;
}

static void
build_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  BuildJob *job = task_data;
  g_autoptr(FerryOffer) self = g_object_new (FERRY_TYPE_OFFER, NULL);
  FerryOfferLimits limits;
  GError *error = NULL;

  ferry_offer_limits_init_default (&limits);

  if (!ferry_offer_set_text (self, job->text, &error))
    goto failed;

  for (guint i = 0; i < job->files->len; i++)
    {
      GFile *file = g_ptr_array_index (job->files, i);
      g_autoptr(GFileInfo) info = NULL;
      g_autofree char *basename = g_file_get_basename (file);
      g_autofree char *name = NULL;
      GFileType type;

      /* Following links here on purpose: the person chose this item. */
      info = g_file_query_info (file, QUERY_ATTRIBUTES, G_FILE_QUERY_INFO_NONE,
                                cancellable, &error);
      if (info == NULL)
        goto failed;

      if (!local_name_to_utf8 (basename, &name, &error))
        goto failed;

      type = g_file_info_get_file_type (info);
      if (type != G_FILE_TYPE_REGULAR && type != G_FILE_TYPE_DIRECTORY)
        {
          g_autofree char *escaped = ferry_offer_escape_name (name, -1);

          g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                       "“%s” is neither a file nor a folder", escaped);
          goto failed;
        }

      g_ptr_array_add (self->entries, local_entry_new (name, file, info));
      if (type == G_FILE_TYPE_DIRECTORY
          && !walk_folder (self, file, name, limits.max_entries, cancellable, &error))
        goto failed;
    }

  /* Parents sort before their children ("a" < "a/…"), and a stable order
   * makes offers from the same files identical.
   */
  g_ptr_array_sort (self->entries, ferry_offer_entry_compare);

  if (!ferry_offer_validate_entries (self, &limits, &error))
    goto failed;

  for (guint i = 0; i < self->entries->len; i++)
    {
      FerryOfferEntry *entry = g_ptr_array_index (self->entries, i);

      if (entry->kind != FERRY_OFFER_ENTRY_FILE)
        continue;

      entry->digest = ferry_hasher_hash_file (entry->local_file, cancellable, &error);
      if (entry->digest == NULL)
        goto failed;
      /* The bytes hashed are what will be sent: their count is the size. */
      entry->size = ferry_file_digest_get_size (entry->digest);
      entry->content_id = ferry_file_digest_dup_content_id_hex (entry->digest);
    }

  /* Sizes are only known now; check the totals again. */
  if (!ferry_offer_validate_entries (self, &limits, &error))
    goto failed;

  ferry_offer_index_entries (self);

  g_task_return_pointer (task, g_steal_pointer (&self), g_object_unref);
  return;

failed:
  g_task_return_error (task, error);
}

/**
 * ferry_offer_new_async:
 * @files: (array length=n_files): files and folders the person chose
 * @text: (nullable): a note or link to send with them, or alone
 *
 * Builds an offer in a GTask thread: walks folders (skipping symlinks, see
 * the top of this file), hashes every file and validates the result with
 * the same rules a receiver applies. Finish with
 * ferry_offer_new_from_files_finish().
 */
void
ferry_offer_new_async (GFile               **files,
                       guint                 n_files,
                       const char           *text,
                       GCancellable         *cancellable,
                       GAsyncReadyCallback   callback,
                       gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  BuildJob *job;

  g_return_if_fail (files != NULL || n_files == 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));
  for (guint i = 0; i < n_files; i++)
    g_return_if_fail (G_IS_FILE (files[i]));

  job = g_new0 (BuildJob, 1);
  job->files = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (job->files, g_object_ref (files[i]));
  job->text = g_strdup (text);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_offer_new_async);
  g_task_set_task_data (task, job, build_job_free);
  g_task_run_in_thread (task, build_thread);
}

/**
 * ferry_offer_new_from_files_async:
 * @files: (array length=n_files): files and folders the person chose
 *
 * ferry_offer_new_async() without text.
 */
void
ferry_offer_new_from_files_async (GFile               **files,
                                  guint                 n_files,
                                  GCancellable         *cancellable,
                                  GAsyncReadyCallback   callback,
                                  gpointer              user_data)
{
  ferry_offer_new_async (files, n_files, NULL, cancellable, callback, user_data);
}

FerryOffer *
ferry_offer_new_from_files_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_offer_new_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
