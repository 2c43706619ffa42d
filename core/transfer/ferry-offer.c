/* ferry-offer.c
 *
 * An offer is what a sender proposes: files and folders with relative,
 * '/'-separated UTF-8 paths, sizes, permissions, modification times and the
 * content id (BLAKE2b-256) of each file. It travels as JSON on the control
 * stream. The receiver treats it as hostile input: every path is checked
 * before anything is created, so that no name can leave the target folder,
 * clash with another or trip up a filesystem.
 *
 * Decisions worth knowing:
 * - Symbolic links met while walking a chosen folder are skipped, never
 *   followed, and counted (ferry_offer_get_n_skipped_symlinks()), so a link
 *   can't pull files from outside the chosen tree into the offer. A chosen
 *   item that is itself a link is followed: the person picked it.
 *   Sockets, FIFOs and devices are skipped and counted apart.
 * - Paths that only differ in letter case or Unicode normalization (NFC +
 *   casefold) are refused as duplicates: the receiver's disk may be
 *   case-insensitive (FAT/exFAT/NTFS sticks) and one file would silently
 *   replace the other. The sender is refused the same way, with a message
 *   naming both, before anything is sent.
 * - Modes carry only whether a file is executable: 0755 or 0644, folders
 *   0755. A mode with setuid/setgid/sticky or other bits is refused.
 *
 * This file holds the offer itself; its parts are ferry-offer-validate.c
 * (the checks), ferry-offer-json.c (the wire format) and
 * ferry-offer-build.c (an offer from local files).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "ferry-offer-private.h"

#define DEFAULT_MAX_ENTRIES    100000
#define DEFAULT_MAX_JSON_SIZE  ((gsize) 64 * 1024 * 1024)
#define DEFAULT_MAX_TOTAL_SIZE ((guint64) 1 << 50)

G_DEFINE_FINAL_TYPE (FerryOffer, ferry_offer, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-offer-error-quark, ferry_offer_error)

void
ferry_offer_entry_free (gpointer data)
{
  FerryOfferEntry *entry = data;

  g_free (entry->path);
  g_free (entry->content_id);
  g_clear_object (&entry->local_file);
  g_clear_pointer (&entry->digest, ferry_file_digest_unref);
  g_free (entry);
}

static void
ferry_offer_finalize (GObject *object)
{
  FerryOffer *self = FERRY_OFFER (object);

  g_clear_pointer (&self->by_path, g_hash_table_unref);
  g_clear_pointer (&self->entries, g_ptr_array_unref);
  g_clear_pointer (&self->text, g_free);

  G_OBJECT_CLASS (ferry_offer_parent_class)->finalize (object);
}

static void
ferry_offer_class_init (FerryOfferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_offer_finalize;
}

static void
ferry_offer_init (FerryOffer *self)
{
  self->entries = g_ptr_array_new_with_free_func (ferry_offer_entry_free);
  self->by_path = g_hash_table_new (g_str_hash, g_str_equal);
}

void
ferry_offer_limits_init_default (FerryOfferLimits *limits)
{
  g_return_if_fail (limits != NULL);

  limits->max_entries = DEFAULT_MAX_ENTRIES;
  limits->max_json_size = DEFAULT_MAX_JSON_SIZE;
  limits->max_total_size = DEFAULT_MAX_TOTAL_SIZE;
}

static void
offer_add_entry (FerryOffer      *self,
                 FerryOfferEntry *entry)
{
  g_ptr_array_add (self->entries, entry);
  g_hash_table_insert (self->by_path, entry->path, entry);

  if (entry->kind == FERRY_OFFER_ENTRY_FILE)
    {
      self->n_files++;
      self->total_size += entry->size;
    }
  else
    self->n_folders++;
}

/* Indexes the entries by path and counts them, once every one is known to
 * be sane. */
void
ferry_offer_index_entries (FerryOffer *self)
{
  g_autoptr(GPtrArray) entries = NULL;

  g_ptr_array_set_free_func (self->entries, NULL);
  entries = g_steal_pointer (&self->entries);
  self->entries = g_ptr_array_new_full (entries->len, ferry_offer_entry_free);
  for (guint i = 0; i < entries->len; i++)
    offer_add_entry (self, g_ptr_array_index (entries, i));
}

guint
ferry_offer_get_n_entries (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->entries->len;
}

const FerryOfferEntry *
ferry_offer_get_entry (FerryOffer *self,
                       guint       index)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);

  return g_ptr_array_index (self->entries, index);
}

const FerryOfferEntry *
ferry_offer_lookup (FerryOffer *self,
                    const char *path)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  return g_hash_table_lookup (self->by_path, path);
}

guint
ferry_offer_get_n_files (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->n_files;
}

guint
ferry_offer_get_n_folders (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->n_folders;
}

guint64
ferry_offer_get_total_size (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->total_size;
}

/**
 * ferry_offer_get_n_skipped_symlinks:
 *
 * Returns: how many symbolic links inside chosen folders were left out
 *   (sender side; always 0 for a received offer)
 */
guint
ferry_offer_get_n_skipped_symlinks (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->n_skipped_symlinks;
}

/**
 * ferry_offer_get_n_skipped_special:
 *
 * Returns: how many sockets, FIFOs and devices inside chosen folders were
 *   left out (sender side)
 */
guint
ferry_offer_get_n_skipped_special (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), 0);

  return self->n_skipped_special;
}

static void
update_u64 (crypto_generichash_state *state,
            guint64                   value)
{
  guint64 be = GUINT64_TO_BE (value);

  crypto_generichash_update (state, (const guint8 *) &be, sizeof be);
}

/* Orders entries by path, for g_ptr_array_sort(). */
int
ferry_offer_entry_compare (gconstpointer a,
                           gconstpointer b)
{
  const FerryOfferEntry *ea = *(FerryOfferEntry * const *) a;
  const FerryOfferEntry *eb = *(FerryOfferEntry * const *) b;

  return strcmp (ea->path, eb->path);
}

static char *
offer_key (FerryOffer *self,
           const char *domain,
           gboolean    with_content)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (self->entries, NULL, NULL);
  crypto_generichash_state state;
  guint8 key[FERRY_HASH_SIZE];

  /* The copy inherits the free function; it must not free the entries. */
  g_ptr_array_set_free_func (sorted, NULL);
  g_ptr_array_sort (sorted, ferry_offer_entry_compare);

  crypto_generichash_init (&state, NULL, 0, FERRY_HASH_SIZE);
  crypto_generichash_update (&state, (const guint8 *) domain, strlen (domain) + 1);

  for (guint i = 0; i < sorted->len; i++)
    {
      FerryOfferEntry *entry = g_ptr_array_index (sorted, i);
      guint8 kind = entry->kind == FERRY_OFFER_ENTRY_FILE ? 'f' : 'd';

      if (!with_content && strchr (entry->path, '/') != NULL)
        continue;

      crypto_generichash_update (&state, &kind, 1);
      /* The NUL ends the path: paths can't contain one, so no ambiguity. */
      crypto_generichash_update (&state, (const guint8 *) entry->path, strlen (entry->path) + 1);
      if (with_content)
        {
          guint8 content[FERRY_HASH_SIZE] = { 0 };

          if (entry->content_id != NULL)
            ferry_hash_from_hex (entry->content_id, content);
          update_u64 (&state, entry->size);
          crypto_generichash_update (&state, content, sizeof content);
        }
    }

  /* Two texts sent alone are two sends, not a retry of one. */
  if (self->text != NULL)
    crypto_generichash_update (&state, (const guint8 *) self->text, strlen (self->text) + 1);

  crypto_generichash_final (&state, key, sizeof key);
  return ferry_hash_to_hex (key);
}

/**
 * ferry_offer_dup_transfer_key:
 *
 * The key identifying this exact send: BLAKE2b-256 over the sorted paths,
 * kinds, sizes and content ids. Both sides compute the same key from the
 * same offer, so a retried send is recognised. Contains no secret.
 *
 * Returns: (transfer full): 64 hex digits
 */
char *
ferry_offer_dup_transfer_key (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);

  return offer_key (self, "ferry-transfer-key-v1", TRUE);
}

/**
 * ferry_offer_dup_selection_key:
 *
 * Like ferry_offer_dup_transfer_key() but over the top-level names and
 * kinds only: what the person chose to send. It stays the same when files
 * inside changed, were added or removed on the sender, so the store can
 * still resume the files that did not change.
 *
 * Returns: (transfer full): 64 hex digits
 */
char *
ferry_offer_dup_selection_key (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);

  return offer_key (self, "ferry-selection-key-v1", FALSE);
}

/**
 * ferry_offer_get_text:
 *
 * Returns: (nullable): the text offered with (or instead of) files, as the
 *   peer sent it: escape it with ferry_offer_escape_text() before showing
 *   it on a terminal
 */
const char *
ferry_offer_get_text (FerryOffer *self)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);

  return self->text;
}

/**
 * ferry_offer_set_text:
 * @text: (nullable): a note or link to send, or %NULL for none
 *
 * Sets the text a sender offers, checked by ferry_offer_check_text().
 */
gboolean
ferry_offer_set_text (FerryOffer  *self,
                      const char  *text,
                      GError     **error)
{
  g_return_val_if_fail (FERRY_IS_OFFER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text != NULL && !ferry_offer_check_text (text, strlen (text), error))
    return FALSE;

  g_free (self->text);
  self->text = g_strdup (text);
  return TRUE;
}

const char *
ferry_offer_entry_get_path (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->path;
}

FerryOfferEntryKind
ferry_offer_entry_get_kind (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FERRY_OFFER_ENTRY_FILE);

  return entry->kind;
}

guint64
ferry_offer_entry_get_size (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->size;
}

/**
 * ferry_offer_entry_get_mode:
 *
 * Returns: 0755 or 0644; folders are always 0755
 */
guint
ferry_offer_entry_get_mode (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->mode;
}

/**
 * ferry_offer_entry_get_mtime:
 *
 * Returns: modification time in seconds since the Unix epoch
 */
gint64
ferry_offer_entry_get_mtime (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, 0);

  return entry->mtime;
}

/* Run by a double click on most desktops, or by a click in a file manager
 * that trusts them; the mode bit alone misses what Windows would run. */
static const char * const program_extensions[] = {
  "appimage", "apk", "bat", "cmd", "com", "desktop", "exe", "jar", "msi", "pif", "ps1",
  "run", "scr", "sh", "vbs",
};

/**
 * ferry_offer_entry_is_hidden:
 *
 * Returns: whether a component of the path starts with a dot, which hides
 *   it in Files; a receiver should be told before accepting
 */
gboolean
ferry_offer_entry_is_hidden (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  return entry->path[0] == '.' || strstr (entry->path, "/.") != NULL;
}

/**
 * ferry_offer_entry_is_program:
 *
 * Returns: whether the file is marked executable or has a name a desktop
 *   would run; a receiver should be told before accepting
 */
gboolean
ferry_offer_entry_is_program (const FerryOfferEntry *entry)
{
  const char *base;
  const char *dot;

  g_return_val_if_fail (entry != NULL, FALSE);

  if (entry->kind != FERRY_OFFER_ENTRY_FILE)
    return FALSE;
  if (entry->mode & 0111)
    return TRUE;

  base = strrchr (entry->path, '/');
  base = base != NULL ? base + 1 : entry->path;
  dot = strrchr (base, '.');
  if (dot == NULL || dot == base)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (program_extensions); i++)
    if (g_ascii_strcasecmp (dot + 1, program_extensions[i]) == 0)
      return TRUE;

  return FALSE;
}

/**
 * ferry_offer_entry_get_content_id:
 *
 * Returns: (nullable): BLAKE2b-256 of the file as 64 hex digits; %NULL for folders
 */
const char *
ferry_offer_entry_get_content_id (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->content_id;
}

/**
 * ferry_offer_entry_get_local_file:
 *
 * Returns: (nullable) (transfer none): the file on disk, on the sender side only
 */
GFile *
ferry_offer_entry_get_local_file (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->local_file;
}

/**
 * ferry_offer_entry_get_digest:
 *
 * Returns: (nullable) (transfer none): the file's digest with its block
 *   hashes, on the sender side only
 */
FerryFileDigest *
ferry_offer_entry_get_digest (const FerryOfferEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);

  return entry->digest;
}
