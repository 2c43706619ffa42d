/* ferry-hasher.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The one place the block size lives: resume points, the per-block hashes
 * and the store's block rows all count in blocks of this many bytes.
 */
#define FERRY_BLOCK_SIZE ((gsize) 1024 * 1024)

/* Length of a BLAKE2b-256 digest in bytes, and of its lowercase hex form. */
#define FERRY_HASH_SIZE     32
#define FERRY_HASH_HEX_SIZE 64

typedef struct _FerryFileDigest FerryFileDigest;

/* FerryStreamHasher: hashes a byte stream in blocks of FERRY_BLOCK_SIZE,
 * each byte once, keeping memory flat: one running state and
 * FERRY_HASH_SIZE bytes per finished block. The file digest is derived from
 * the block digests when the stream ends.
 */
typedef struct _FerryStreamHasher FerryStreamHasher;

FerryStreamHasher *ferry_stream_hasher_new                 (void);
void               ferry_stream_hasher_free                (FerryStreamHasher *hasher);
void               ferry_stream_hasher_update              (FerryStreamHasher *hasher,
                                                            const guint8      *data,
                                                            gsize              len);
void               ferry_stream_hasher_add_block           (FerryStreamHasher *hasher,
                                                            const guint8      *hash,
                                                            gsize              len);
guint64            ferry_stream_hasher_get_size            (FerryStreamHasher *hasher);
guint              ferry_stream_hasher_get_n_complete_blocks (FerryStreamHasher *hasher);
const guint8      *ferry_stream_hasher_get_block_hash      (FerryStreamHasher *hasher,
                                                            guint              index);
FerryFileDigest   *ferry_stream_hasher_finish              (FerryStreamHasher *hasher);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryStreamHasher, ferry_stream_hasher_free)

/* FerryFileDigest: the result of hashing one file; immutable, ref-counted. */
#define FERRY_TYPE_FILE_DIGEST (ferry_file_digest_get_type ())

GType            ferry_file_digest_get_type           (void) G_GNUC_CONST;
FerryFileDigest *ferry_file_digest_ref                (FerryFileDigest *digest);
void             ferry_file_digest_unref              (FerryFileDigest *digest);
guint64          ferry_file_digest_get_size           (FerryFileDigest *digest);
const guint8    *ferry_file_digest_get_content_id     (FerryFileDigest *digest);
char            *ferry_file_digest_dup_content_id_hex (FerryFileDigest *digest);
guint            ferry_file_digest_get_n_blocks       (FerryFileDigest *digest);
const guint8    *ferry_file_digest_get_block_hash     (FerryFileDigest *digest,
                                                       guint            index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryFileDigest, ferry_file_digest_unref)

/* Called on the caller's main context while a file is hashed. */
typedef void (*FerryHasherProgressFunc) (guint64  bytes_done,
                                         guint64  bytes_total,
                                         gpointer user_data);

FerryFileDigest *ferry_hasher_hash_file        (GFile                   *file,
                                                GCancellable            *cancellable,
                                                GError                 **error);
void             ferry_hasher_hash_file_async  (GFile                   *file,
                                                FerryHasherProgressFunc  progress,
                                                gpointer                 progress_data,
                                                GCancellable            *cancellable,
                                                GAsyncReadyCallback      callback,
                                                gpointer                 user_data);
FerryFileDigest *ferry_hasher_hash_file_finish (GAsyncResult            *result,
                                                GError                 **error);

void             ferry_hash_block              (const guint8            *data,
                                                gsize                    len,
                                                guint8                  *hash);
guint64          ferry_hasher_get_bytes_hashed (void);

char            *ferry_hash_to_hex             (const guint8            *hash);
gboolean         ferry_hash_from_hex           (const char              *hex,
                                                guint8                  *hash);

G_END_DECLS
