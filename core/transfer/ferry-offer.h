/* ferry-offer.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-hasher.h"

G_BEGIN_DECLS

#define FERRY_OFFER_ERROR (ferry_offer_error_quark ())

/**
 * FerryOfferError:
 * @FERRY_OFFER_ERROR_MALFORMED: not an offer at all (bad JSON, missing or mistyped fields)
 * @FERRY_OFFER_ERROR_UNSUPPORTED_VERSION: made by a newer Ferry
 * @FERRY_OFFER_ERROR_TOO_LARGE: the offer message itself exceeds the size limit
 * @FERRY_OFFER_ERROR_TOO_MANY_ENTRIES: more files and folders than the limit
 * @FERRY_OFFER_ERROR_EMPTY: nothing offered
 * @FERRY_OFFER_ERROR_ABSOLUTE_PATH: a path starts with "/"
 * @FERRY_OFFER_ERROR_DOT_COMPONENT: a path has a "." or ".." component
 * @FERRY_OFFER_ERROR_EMPTY_COMPONENT: an empty path, "//" or a trailing "/"
 * @FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER: a backslash, NUL or control character
 * @FERRY_OFFER_ERROR_INVALID_UTF8: a name (or the message) is not UTF-8
 * @FERRY_OFFER_ERROR_RESERVED_NAME: a Windows device name (CON, NUL, COM1…) or a
 *   name ending in ".ferry-part", which Ferry uses for partial files
 * @FERRY_OFFER_ERROR_NAME_TOO_LONG: a single name over 255 bytes
 * @FERRY_OFFER_ERROR_PATH_TOO_LONG: a whole path over 4096 bytes
 * @FERRY_OFFER_ERROR_DUPLICATE_PATH: two entries with the same path, also when
 *   they only differ in letter case or Unicode normalization
 * @FERRY_OFFER_ERROR_TYPE_CONFLICT: a file that is also used as a folder
 * @FERRY_OFFER_ERROR_INVALID_SIZE: a negative, fractional or huge size
 * @FERRY_OFFER_ERROR_TOTAL_TOO_LARGE: the sizes add up beyond the limit
 * @FERRY_OFFER_ERROR_INVALID_MODE: permissions other than plain rwx bits
 * @FERRY_OFFER_ERROR_INVALID_CONTENT_ID: a file without a well-formed content id
 * @FERRY_OFFER_ERROR_UNOFFERED_FOLDER: a path whose first component is not a
 *   folder of the offer, so it would land in a folder that may already exist
 * @FERRY_OFFER_ERROR_TEXT_TOO_LONG: the offered text is longer than
 *   %FERRY_OFFER_MAX_TEXT_BYTES
 * @FERRY_OFFER_ERROR_INVALID_TEXT: the offered text is empty, not a string
 *   or not UTF-8
 */
typedef enum
{
  FERRY_OFFER_ERROR_MALFORMED,
  FERRY_OFFER_ERROR_UNSUPPORTED_VERSION,
  FERRY_OFFER_ERROR_TOO_LARGE,
  FERRY_OFFER_ERROR_TOO_MANY_ENTRIES,
  FERRY_OFFER_ERROR_EMPTY,
  FERRY_OFFER_ERROR_ABSOLUTE_PATH,
  FERRY_OFFER_ERROR_DOT_COMPONENT,
  FERRY_OFFER_ERROR_EMPTY_COMPONENT,
  FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER,
  FERRY_OFFER_ERROR_INVALID_UTF8,
  FERRY_OFFER_ERROR_RESERVED_NAME,
  FERRY_OFFER_ERROR_NAME_TOO_LONG,
  FERRY_OFFER_ERROR_PATH_TOO_LONG,
  FERRY_OFFER_ERROR_DUPLICATE_PATH,
  FERRY_OFFER_ERROR_TYPE_CONFLICT,
  FERRY_OFFER_ERROR_INVALID_SIZE,
  FERRY_OFFER_ERROR_TOTAL_TOO_LARGE,
  FERRY_OFFER_ERROR_INVALID_MODE,
  FERRY_OFFER_ERROR_INVALID_CONTENT_ID,
  FERRY_OFFER_ERROR_UNOFFERED_FOLDER,
  FERRY_OFFER_ERROR_TEXT_TOO_LONG,
  FERRY_OFFER_ERROR_INVALID_TEXT,
} FerryOfferError;

GQuark ferry_offer_error_quark (void);

/* The wire format's version, "ferry-offer" in the JSON. */
#define FERRY_OFFER_VERSION 1

#define FERRY_OFFER_MAX_NAME_BYTES 255
#define FERRY_OFFER_MAX_PATH_BYTES 4096
/* A note or a link, not a document: longer text goes as a file. */
#define FERRY_OFFER_MAX_TEXT_BYTES (64 * 1024)

/* Suffix of partial files; offered names may not end with it. */
#define FERRY_PARTIAL_SUFFIX ".ferry-part"

/**
 * FerryOfferLimits:
 * @max_entries: most files plus folders accepted (default 100 000)
 * @max_json_size: longest offer message accepted, in bytes (default 64 MiB)
 * @max_total_size: largest sum of file sizes, and of any single file (default 1 PiB)
 */
typedef struct
{
  guint   max_entries;
  gsize   max_json_size;
  guint64 max_total_size;
} FerryOfferLimits;

void ferry_offer_limits_init_default (FerryOfferLimits *limits);

typedef enum
{
  FERRY_OFFER_ENTRY_FILE,
  FERRY_OFFER_ENTRY_FOLDER,
} FerryOfferEntryKind;

typedef struct _FerryOfferEntry FerryOfferEntry;

const char          *ferry_offer_entry_get_path       (const FerryOfferEntry *entry);
FerryOfferEntryKind  ferry_offer_entry_get_kind       (const FerryOfferEntry *entry);
guint64              ferry_offer_entry_get_size       (const FerryOfferEntry *entry);
guint                ferry_offer_entry_get_mode       (const FerryOfferEntry *entry);
gint64               ferry_offer_entry_get_mtime      (const FerryOfferEntry *entry);
const char          *ferry_offer_entry_get_content_id (const FerryOfferEntry *entry);
GFile               *ferry_offer_entry_get_local_file (const FerryOfferEntry *entry);
FerryFileDigest     *ferry_offer_entry_get_digest     (const FerryOfferEntry *entry);
gboolean             ferry_offer_entry_is_hidden      (const FerryOfferEntry *entry);
gboolean             ferry_offer_entry_is_program     (const FerryOfferEntry *entry);

#define FERRY_TYPE_OFFER (ferry_offer_get_type ())

G_DECLARE_FINAL_TYPE (FerryOffer, ferry_offer, FERRY, OFFER, GObject)

void                   ferry_offer_new_async             (GFile                  **files,
                                                          guint                    n_files,
                                                          const char              *text,
                                                          GCancellable            *cancellable,
                                                          GAsyncReadyCallback      callback,
                                                          gpointer                 user_data);
void                   ferry_offer_new_from_files_async  (GFile                  **files,
                                                          guint                    n_files,
                                                          GCancellable            *cancellable,
                                                          GAsyncReadyCallback      callback,
                                                          gpointer                 user_data);
FerryOffer            *ferry_offer_new_from_files_finish (GAsyncResult            *result,
                                                          GError                 **error);
FerryOffer            *ferry_offer_new_from_json         (const char              *json,
                                                          gsize                    len,
                                                          const FerryOfferLimits  *limits,
                                                          GError                 **error);
char                  *ferry_offer_to_json               (FerryOffer              *self,
                                                          gsize                   *length);

guint                  ferry_offer_get_n_entries         (FerryOffer              *self);
const FerryOfferEntry *ferry_offer_get_entry             (FerryOffer              *self,
                                                          guint                    index);
const FerryOfferEntry *ferry_offer_lookup                (FerryOffer              *self,
                                                          const char              *path);
guint                  ferry_offer_get_n_files           (FerryOffer              *self);
guint                  ferry_offer_get_n_folders         (FerryOffer              *self);
guint64                ferry_offer_get_total_size        (FerryOffer              *self);
guint                  ferry_offer_get_n_skipped_symlinks (FerryOffer             *self);
guint                  ferry_offer_get_n_skipped_special (FerryOffer              *self);
char                  *ferry_offer_dup_transfer_key      (FerryOffer              *self);
char                  *ferry_offer_dup_selection_key     (FerryOffer              *self);

const char            *ferry_offer_get_text              (FerryOffer              *self);
gboolean               ferry_offer_set_text              (FerryOffer              *self,
                                                          const char              *text,
                                                          GError                 **error);
gboolean               ferry_offer_check_text            (const char              *text,
                                                          gsize                    len,
                                                          GError                 **error);

char                  *ferry_offer_escape_name           (const char              *name,
                                                          gssize                   len);
char                  *ferry_offer_escape_text           (const char              *text,
                                                          gssize                   len);

G_END_DECLS
