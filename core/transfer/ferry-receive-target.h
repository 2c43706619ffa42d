/* ferry-receive-target.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"

G_BEGIN_DECLS

#define FERRY_RECEIVE_ERROR (ferry_receive_error_quark ())

/**
 * FerryReceiveError:
 * @FERRY_RECEIVE_ERROR_NO_SPACE: the disk is (or would become) full; partial
 *   data written so far is kept for resuming
 * @FERRY_RECEIVE_ERROR_UNSAFE_PATH: a symbolic link, or something that is not
 *   a folder, is in the way of a path; nothing was written through it
 * @FERRY_RECEIVE_ERROR_NOT_A_FOLDER: the chosen target folder does not exist
 *   or is not a folder
 * @FERRY_RECEIVE_ERROR_PERMISSION_DENIED: not allowed to write there
 * @FERRY_RECEIVE_ERROR_INVALID_PATH: a path that is not a safe relative path
 * @FERRY_RECEIVE_ERROR_TOO_MUCH_DATA: the sender sent more bytes than it offered
 * @FERRY_RECEIVE_ERROR_SIZE_MISMATCH: a file ended before its offered size
 * @FERRY_RECEIVE_ERROR_HASH_MISMATCH: the bytes received are not the file offered
 * @FERRY_RECEIVE_ERROR_RESUME_MISMATCH: the partial file to resume is missing or
 *   shorter than the resume point; the file must start over
 * @FERRY_RECEIVE_ERROR_FAILED: any other I/O error
 */
typedef enum
{
  FERRY_RECEIVE_ERROR_NO_SPACE,
  FERRY_RECEIVE_ERROR_UNSAFE_PATH,
  FERRY_RECEIVE_ERROR_NOT_A_FOLDER,
  FERRY_RECEIVE_ERROR_PERMISSION_DENIED,
  FERRY_RECEIVE_ERROR_INVALID_PATH,
  FERRY_RECEIVE_ERROR_TOO_MUCH_DATA,
  FERRY_RECEIVE_ERROR_SIZE_MISMATCH,
  FERRY_RECEIVE_ERROR_HASH_MISMATCH,
  FERRY_RECEIVE_ERROR_RESUME_MISMATCH,
  FERRY_RECEIVE_ERROR_FAILED,
} FerryReceiveError;

GQuark ferry_receive_error_quark (void);

/* One file being received; not a GObject, owned by whoever opened it. */
typedef struct _FerryReceiveFile FerryReceiveFile;

#define FERRY_TYPE_RECEIVE_TARGET (ferry_receive_target_get_type ())

G_DECLARE_FINAL_TYPE (FerryReceiveTarget, ferry_receive_target, FERRY, RECEIVE_TARGET, GObject)

FerryReceiveTarget *ferry_receive_target_new              (GFile                  *folder,
                                                           GError                **error);
GFile              *ferry_receive_target_get_folder       (FerryReceiveTarget     *self);
gboolean            ferry_receive_target_check_space      (FerryReceiveTarget     *self,
                                                           guint64                 needed,
                                                           GError                **error);
char               *ferry_receive_target_reserve_folder   (FerryReceiveTarget     *self,
                                                           const char             *name,
                                                           GError                **error);
gboolean            ferry_receive_target_make_folder      (FerryReceiveTarget     *self,
                                                           const char             *path,
                                                           GError                **error);
void                ferry_receive_target_keep_partial     (FerryReceiveTarget     *self,
                                                           const char             *partial_path);
void                ferry_receive_target_set_own_partial  (FerryReceiveTarget     *self,
                                                           const char             *local_path,
                                                           const char             *partial_path);
FerryReceiveFile   *ferry_receive_target_open_file        (FerryReceiveTarget     *self,
                                                           const FerryOfferEntry  *entry,
                                                           const char             *local_path,
                                                           guint64                 resume_offset,
                                                           GCancellable           *cancellable,
                                                           GError                **error);

gboolean            ferry_receive_file_write              (FerryReceiveFile       *file,
                                                           const guint8           *data,
                                                           gsize                   len,
                                                           GError                **error);
gboolean            ferry_receive_file_sync               (FerryReceiveFile       *file,
                                                           GError                **error);
guint64             ferry_receive_file_get_offset         (FerryReceiveFile       *file);
guint               ferry_receive_file_get_n_complete_blocks (FerryReceiveFile    *file);
const guint8       *ferry_receive_file_get_block_hash     (FerryReceiveFile       *file,
                                                           guint                   index);
const char         *ferry_receive_file_get_partial_path   (FerryReceiveFile       *file);
char               *ferry_receive_file_dup_partial_local_path (FerryReceiveFile   *file);
char               *ferry_receive_file_finish             (FerryReceiveFile       *file,
                                                           GError                **error);
gboolean            ferry_receive_file_discard            (FerryReceiveFile       *file,
                                                           GError                **error);
void                ferry_receive_file_free               (FerryReceiveFile       *file);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryReceiveFile, ferry_receive_file_free)

G_END_DECLS
