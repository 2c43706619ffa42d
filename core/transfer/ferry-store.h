/* ferry-store.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"
#include "ferry-resume-proof.h"

G_BEGIN_DECLS

#define FERRY_STORE_ERROR (ferry_store_error_quark ())

/**
 * FerryStoreError:
 * @FERRY_STORE_ERROR_TOO_NEW: the database was made by a newer Ferry; it was
 *   left untouched
 * @FERRY_STORE_ERROR_CORRUPT: the file is not a Ferry database (or damaged);
 *   it was left untouched
 * @FERRY_STORE_ERROR_CLOSED: the store was closed
 * @FERRY_STORE_ERROR_NOT_FOUND: no such transfer or file
 * @FERRY_STORE_ERROR_FAILED: any other database or disk error
 */
typedef enum
{
  FERRY_STORE_ERROR_TOO_NEW,
  FERRY_STORE_ERROR_CORRUPT,
  FERRY_STORE_ERROR_CLOSED,
  FERRY_STORE_ERROR_NOT_FOUND,
  FERRY_STORE_ERROR_FAILED,
} FerryStoreError;

GQuark ferry_store_error_quark (void);

/* The schema version this build writes (PRAGMA user_version). */
#define FERRY_STORE_SCHEMA_VERSION 4

/* Verified blocks are committed together once this many are waiting, or
 * FERRY_STORE_BATCH_INTERVAL_MS after the first one, whichever comes first.
 */
#define FERRY_STORE_BATCH_BLOCKS      64
#define FERRY_STORE_BATCH_INTERVAL_MS 250

typedef enum
{
  FERRY_STORE_SEND,
  FERRY_STORE_RECEIVE,
} FerryStoreDirection;

/**
 * FerryStoreTransferState:
 * @FERRY_STORE_TRANSFER_ACTIVE: running (or the program died while it ran)
 * @FERRY_STORE_TRANSFER_INTERRUPTED: stopped, resumable
 * @FERRY_STORE_TRANSFER_COMPLETED: every file arrived and verified
 * @FERRY_STORE_TRANSFER_FAILED: ended with an error
 * @FERRY_STORE_TRANSFER_CANCELLED: ended by a person
 */
typedef enum
{
  FERRY_STORE_TRANSFER_ACTIVE,
  FERRY_STORE_TRANSFER_INTERRUPTED,
  FERRY_STORE_TRANSFER_COMPLETED,
  FERRY_STORE_TRANSFER_FAILED,
  FERRY_STORE_TRANSFER_CANCELLED,
} FerryStoreTransferState;

typedef enum
{
  FERRY_STORE_FILE_PENDING,
  FERRY_STORE_FILE_PARTIAL,
  FERRY_STORE_FILE_COMPLETE,
  FERRY_STORE_FILE_SKIPPED,
} FerryStoreFileState;

/**
 * FerryStoreFile:
 * @id: row id, for ferry_store_add_verified_block() and friends
 * @path: the offered relative path
 * @local_path: (nullable): where it landed or lands, relative to the target
 * @kind: file or folder
 * @size: offered size
 * @content_id: (nullable): BLAKE2b-256 hex; %NULL for folders
 * @mode: 0644 or 0755
 * @state: how far it got
 * @verified: sorted indices of verified blocks
 * @verified_hashes: FERRY_HASH_SIZE bytes per entry of @verified
 *
 * A file of a transfer, as stored. Plain data, owned by its transfer.
 */
typedef struct
{
  gint64               id;
  char                *path;
  char                *local_path;
  FerryOfferEntryKind  kind;
  guint64              size;
  char                *content_id;
  guint                mode;
  FerryStoreFileState  state;
  GArray              *verified;
  GBytes              *verified_hashes;
} FerryStoreFile;

guint64 ferry_store_file_get_resume_offset (const FerryStoreFile *file);

/**
 * FerryStoreTransfer:
 * @id: row id
 * @direction: send or receive
 * @transfer_key: the offer's transfer key (no secret)
 * @state: see #FerryStoreTransferState
 * @peer_name: (nullable): a display name for the other side, never a code
 * @target_folder: (nullable): the receiving folder
 * @created_at: microseconds since the Unix epoch
 * @finished_at: microseconds since the Unix epoch, 0 while not finished
 * @sources: (nullable): when sending, the absolute paths of the chosen files
 *   and folders, so an interrupted send can be sent again
 * @total_bytes: sum of file sizes
 * @bytes_done: bytes sent or verified
 * @n_files: number of files (folders not counted)
 * @path_kind: (nullable): "direct-lan", "direct-internet" or "relayed"
 * @relay: (nullable): the TURN server, when relayed
 * @error_message: (nullable): why it failed
 * @resume_secret: (nullable): FERRY_RESUME_SECRET_SIZE bytes: issued by
 *   the receiver, learnt by the sender from the accept; what a resume must
 *   prove (see ferry-resume-proof.c). Not in the history.
 * @started_at: microseconds since the Unix epoch when the bytes of the last
 *   attempt began to move, 0 when not known
 * @bytes_moved: bytes that travelled in the last attempt, not those a
 *   resume found already there; with @started_at and @finished_at the
 *   average speed
 * @first_path_kind: (nullable): the path the last attempt took first, as
 *   @path_kind (which is the last one)
 * @names: (nullable): in the history only: the top-level names of what was
 *   moved, as on the receiver's disk
 * @resumed: set by ferry_store_begin_transfer_finish() when an earlier
 *   attempt was found
 * @files: (element-type FerryStoreFile) (nullable): the files, when loaded
 */
typedef struct
{
  gint64                   id;
  FerryStoreDirection      direction;
  char                    *transfer_key;
  FerryStoreTransferState  state;
  char                    *peer_name;
  char                    *target_folder;
  gint64                   created_at;
  gint64                   finished_at;
  guint64                  total_bytes;
  guint64                  bytes_done;
  guint                    n_files;
  char                    *path_kind;
  char                    *relay;
  char                    *error_message;
  GStrv                    sources;
  gint64                   started_at;
  guint64                  bytes_moved;
  char                    *first_path_kind;
  GStrv                    names;
  GBytes                  *resume_secret;
  gboolean                 resumed;
  GPtrArray               *files;

  /*< private >*/
  GHashTable              *file_index;
  guint                    file_index_len;
} FerryStoreTransfer;

/**
 * FerryStoreResumeClaim:
 * @proof: the sender's proof (ferry_resume_proof_compute())
 * @binding: what it is bound to (ferry_resume_binding_new())
 *
 * A sender's claim to be the peer of an earlier attempt.
 */
typedef struct
{
  guint8      proof[FERRY_RESUME_PROOF_SIZE];
  const char *binding;
} FerryStoreResumeClaim;

void                ferry_store_transfer_free       (FerryStoreTransfer *transfer);
FerryStoreFile     *ferry_store_transfer_find_file  (FerryStoreTransfer *transfer,
                                                     const char         *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryStoreTransfer, ferry_store_transfer_free)

#define FERRY_TYPE_STORE (ferry_store_get_type ())

G_DECLARE_FINAL_TYPE (FerryStore, ferry_store, FERRY, STORE, GObject)

char               *ferry_store_dup_default_path    (void);

void                ferry_store_open_async          (const char               *path,
                                                     GCancellable             *cancellable,
                                                     GAsyncReadyCallback       callback,
                                                     gpointer                  user_data);
FerryStore         *ferry_store_open_finish         (GAsyncResult             *result,
                                                     GError                  **error);
const char         *ferry_store_get_path            (FerryStore               *self);
void                ferry_store_close               (FerryStore               *self);

void                ferry_store_begin_transfer_async  (FerryStore               *self,
                                                       FerryStoreDirection       direction,
                                                       FerryOffer               *offer,
                                                       const char               *target_folder,
                                                       const char               *peer_name,
                                                       const FerryStoreResumeClaim *claim,
                                                       GCancellable             *cancellable,
                                                       GAsyncReadyCallback       callback,
                                                       gpointer                  user_data);
FerryStoreTransfer *ferry_store_begin_transfer_finish (FerryStore               *self,
                                                       GAsyncResult             *result,
                                                       GError                  **error);

void                ferry_store_find_resumable_async  (FerryStore               *self,
                                                       FerryStoreDirection       direction,
                                                       const char               *transfer_key,
                                                       const char               *target_folder,
                                                       GCancellable             *cancellable,
                                                       GAsyncReadyCallback       callback,
                                                       gpointer                  user_data);
FerryStoreTransfer *ferry_store_find_resumable_finish (FerryStore               *self,
                                                       GAsyncResult             *result,
                                                       GError                  **error);

void                ferry_store_add_verified_block  (FerryStore               *self,
                                                     gint64                    file_id,
                                                     guint                     index,
                                                     const guint8             *hash);
void                ferry_store_set_file_state      (FerryStore               *self,
                                                     gint64                    file_id,
                                                     FerryStoreFileState       state,
                                                     const char               *local_path);
void                ferry_store_set_progress        (FerryStore               *self,
                                                     gint64                    transfer_id,
                                                     guint64                   bytes_done);
guint               ferry_store_get_n_batches       (FerryStore               *self);

void                ferry_store_flush_async         (FerryStore               *self,
                                                     GCancellable             *cancellable,
                                                     GAsyncReadyCallback       callback,
                                                     gpointer                  user_data);
gboolean            ferry_store_flush_finish        (FerryStore               *self,
                                                     GAsyncResult             *result,
                                                     GError                  **error);

void                ferry_store_set_file_state_async (FerryStore              *self,
                                                      gint64                   file_id,
                                                      FerryStoreFileState      state,
                                                      const char              *local_path,
                                                      GCancellable            *cancellable,
                                                      GAsyncReadyCallback      callback,
                                                      gpointer                 user_data);
void                ferry_store_discard_blocks_async (FerryStore              *self,
                                                      gint64                   file_id,
                                                      GCancellable            *cancellable,
                                                      GAsyncReadyCallback      callback,
                                                      gpointer                 user_data);
void                ferry_store_set_resume_secret_async (FerryStore           *self,
                                                         gint64                transfer_id,
                                                         const guint8         *secret,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
void                ferry_store_set_path_async       (FerryStore              *self,
                                                      gint64                   transfer_id,
                                                      const char              *path_kind,
                                                      const char              *relay,
                                                      GCancellable            *cancellable,
                                                      GAsyncReadyCallback      callback,
                                                      gpointer                 user_data);
void                ferry_store_finish_transfer_async (FerryStore             *self,
                                                       gint64                  transfer_id,
                                                       FerryStoreTransferState state,
                                                       const char             *error_message,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
void                ferry_store_set_moved_async      (FerryStore              *self,
                                                      gint64                   transfer_id,
                                                      gint64                   started_at,
                                                      guint64                  bytes_done,
                                                      guint64                  bytes_moved,
                                                      GCancellable            *cancellable,
                                                      GAsyncReadyCallback      callback,
                                                      gpointer                 user_data);
void                ferry_store_remove_transfer_async (FerryStore             *self,
                                                       gint64                  transfer_id,
                                                       GCancellable           *cancellable,
                                                       GAsyncReadyCallback     callback,
                                                       gpointer                user_data);
void                ferry_store_clear_history_async  (FerryStore              *self,
                                                      GCancellable            *cancellable,
                                                      GAsyncReadyCallback     callback,
                                                      gpointer                 user_data);
gboolean            ferry_store_update_finish        (FerryStore              *self,
                                                      GAsyncResult            *result,
                                                      GError                 **error);

void                ferry_store_list_history_async  (FerryStore               *self,
                                                     guint                     limit,
                                                     GCancellable             *cancellable,
                                                     GAsyncReadyCallback       callback,
                                                     gpointer                  user_data);
GPtrArray          *ferry_store_list_history_finish (FerryStore               *self,
                                                     GAsyncResult             *result,
                                                     GError                  **error);

G_END_DECLS
