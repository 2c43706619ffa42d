/* ferry-offer-validate.c
 *
 * The checks an offer passes on both sides, because a receiver treats it as
 * hostile: every path relative, '/'-separated UTF-8 without "." or "..",
 * control characters, backslashes or names Windows reserves for devices;
 * no two paths that a case-insensitive disk would take for one; no file
 * used as a folder; sizes and totals within the limits. And escaping, so
 * a hostile name can be quoted in a message.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer"

#include "config.h"

#include <string.h>

#include "ferry-offer-private.h"

/* Longest excerpt of a bad name quoted in an error message. */
#define MAX_ESCAPED_CHARS 120

/* Appends @p…@end to @out made safe to show: invalid bytes and control
 * characters become \xNN, invisible and direction-changing characters
 * \u{NNNN}; a newline stays one when @keep_newlines. At most @max_chars
 * characters are kept (0: all), then "…".
 */
static void
append_escaped (GString    *out,
                const char *p,
                const char *end,
                guint       max_chars,
                gboolean    keep_newlines)
{
  guint n_chars = 0;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (max_chars > 0 && n_chars++ >= max_chars)
        {
          g_string_append (out, "…");
          break;
        }

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02X", (guint8) *p);
          p++;
          continue;
        }

      if (c == '\n' && keep_newlines)
        g_string_append_c (out, '\n');
      else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_printf (out, "\\x%02X", c);
      else if (c == '\\')
        g_string_append (out, "\\\\");
      else if (!g_unichar_isprint (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
        g_string_append_printf (out, "\\u{%04X}", c);
      else
        g_string_append_unichar (out, c);

      p = g_utf8_next_char (p);
    }
}

/**
 * ferry_offer_escape_name:
 * @name: possibly hostile bytes
 * @len: length of @name, or -1 if NUL-terminated
 *
 * Makes a name safe to show in a message or a terminal: invalid bytes and
 * control characters become \xNN, invisible and direction-changing
 * characters become \u{NNNN}, and long names are cut with "…".
 *
 * Returns: (transfer full): printable UTF-8
 */
char *
ferry_offer_escape_name (const char *name,
                         gssize      len)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (name != NULL, NULL);

  append_escaped (out, name, name + (len < 0 ? strlen (name) : (gsize) len),
                  MAX_ESCAPED_CHARS, FALSE);
  return g_string_free (out, FALSE);
}

/**
 * ferry_offer_escape_text:
 * @text: possibly hostile text from a peer
 * @len: length of @text, or -1 if NUL-terminated
 *
 * Like ferry_offer_escape_name() for an offered text: nothing is cut and
 * line breaks stay, so the text reads as sent, but a terminal escape, a
 * carriage return that would overwrite a line, or a direction change that
 * would reorder it shows as what it is.
 *
 * Returns: (transfer full): printable UTF-8
 */
char *
ferry_offer_escape_text (const char *text,
                         gssize      len)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (text != NULL, NULL);

  append_escaped (out, text, text + (len < 0 ? strlen (text) : (gsize) len), 0, TRUE);
  return g_string_free (out, FALSE);
}

/**
 * ferry_offer_check_text:
 * @text: text to offer, or offered by a peer
 * @len: its length in bytes
 *
 * Text goes in an offer when it is non-empty UTF-8 without NUL and at most
 * %FERRY_OFFER_MAX_TEXT_BYTES long. Control and direction characters are
 * allowed, a note may need tabs; they are escaped where it is shown.
 */
gboolean
ferry_offer_check_text (const char  *text,
                        gsize        len,
                        GError     **error)
{
  g_return_val_if_fail (text != NULL || len == 0, FALSE);

  if (len > FERRY_OFFER_MAX_TEXT_BYTES)
    {
      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TEXT_TOO_LONG,
                   "The text is longer than the %u bytes allowed; send it as a file",
                   (guint) FERRY_OFFER_MAX_TEXT_BYTES);
      return FALSE;
    }

  if (len == 0 || memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL))
    {
      g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_TEXT,
                           len == 0 ? "The offered text is empty"
                                    : "The offered text is not valid UTF-8 text");
      return FALSE;
    }

  return TRUE;
}

static gboolean
is_device_name (const char *component,
                gsize       len)
{
  static const char * const bare[] = { "CON", "PRN", "AUX", "NUL" };
  gsize stem = 0;

  /* Windows ignores any extension and trailing spaces: "nul.txt" and
   * "COM1 .log" are devices there too.
   */
  while (stem < len && component[stem] != '.')
    stem++;
  while (stem > 0 && component[stem - 1] == ' ')
    stem--;

  if (stem == 3)
    {
      for (guint i = 0; i < G_N_ELEMENTS (bare); i++)
        if (g_ascii_strncasecmp (component, bare[i], 3) == 0)
          return TRUE;
    }
  else if (stem == 4)
    {
      if ((g_ascii_strncasecmp (component, "COM", 3) == 0
           || g_ascii_strncasecmp (component, "LPT", 3) == 0)
          && component[3] >= '1' && component[3] <= '9')
        return TRUE;
    }

  return FALSE;
}

/* Sets @error to @code, quoting @path escaped, and returns %FALSE. */
gboolean
ferry_offer_path_error (GError         **error,
                        FerryOfferError  code,
                        const char      *path,
                        const char      *why)
{
  g_autofree char *escaped = ferry_offer_escape_name (path, -1);

  g_set_error (error, FERRY_OFFER_ERROR, code, "“%s” %s", escaped, why);
  return FALSE;
}

/* Checks one relative path and, on success, returns in @fold_key a key that
 * is equal for paths a case-insensitive disk would treat as the same. Each
 * component is folded on its own so that the key's '/' stay where the
 * path's are.
 */
gboolean
ferry_offer_validate_path (const char  *path,
                           gsize        len,
                           GString     *fold_key,
                           GError     **error)
{
  const char *p = path;
  const char *end = path + len;

  if (!g_utf8_validate (path, len, NULL))
    return ferry_offer_path_error (error, FERRY_OFFER_ERROR_INVALID_UTF8, path,
                                   "is not valid UTF-8");
  if (len == 0)
    return ferry_offer_path_error (error, FERRY_OFFER_ERROR_EMPTY_COMPONENT, path,
                                   "is an empty name");
  if (len > FERRY_OFFER_MAX_PATH_BYTES)
    return ferry_offer_path_error (error, FERRY_OFFER_ERROR_PATH_TOO_LONG, path,
                                   "is a path longer than 4096 bytes");
  if (path[0] == '/')
    return ferry_offer_path_error (error, FERRY_OFFER_ERROR_ABSOLUTE_PATH, path,
                                   "is an absolute path");

  g_string_truncate (fold_key, 0);

  for (;;)
    {
      const char *slash = memchr (p, '/', end - p);
      const char *stop = slash ? slash : end;
      gsize n = stop - p;
      g_autofree char *component = g_strndup (p, n);
      g_autofree char *nfc = NULL;
      g_autofree char *folded = NULL;

      if (n == 0)
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_EMPTY_COMPONENT, path,
                                       "has an empty folder name");
      if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_DOT_COMPONENT, path,
                                       "contains a “.” or “..” component");
      if (n > FERRY_OFFER_MAX_NAME_BYTES)
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_NAME_TOO_LONG, path,
                                       "has a name longer than 255 bytes");

      for (const char *q = p; q < stop; q = g_utf8_next_char (q))
        {
          gunichar c = g_utf8_get_char (q);

          if (c == '\\')
            return ferry_offer_path_error (error, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER, path,
                                           "contains a backslash");
          if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
            return ferry_offer_path_error (error, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER, path,
                                           "contains a control character");
        }

      if (is_device_name (p, n))
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_RESERVED_NAME, path,
                                       "uses a name reserved for devices on Windows");
      /* Compared without case: on exFAT, NTFS and casefolded folders
       * "x.FERRY-PART" is the same file as a partial "x.ferry-part". */
      if (n >= strlen (FERRY_PARTIAL_SUFFIX)
          && g_ascii_strcasecmp (component + n - strlen (FERRY_PARTIAL_SUFFIX),
                                 FERRY_PARTIAL_SUFFIX) == 0)
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_RESERVED_NAME, path,
                                       "ends in “" FERRY_PARTIAL_SUFFIX "”, which Ferry uses "
                                       "for partial files");

      nfc = g_utf8_normalize (component, n, G_NORMALIZE_NFC);
      folded = g_utf8_casefold (nfc, -1);
      g_string_append (fold_key, folded);

      if (slash == NULL)
        break;

      g_string_append_c (fold_key, '/');
      p = slash + 1;
    }

  return TRUE;
}

/* The confinement rule: a path below a folder is received only under a
 * top-level folder the offer itself holds, which the receiver reserves
 * fresh. Without it, "…/.ssh/authorized_keys" alone would land in a folder
 * that already exists.
 */
static gboolean
check_top_level_offered (GHashTable       *kinds,
                         FerryOfferEntry  *entry,
                         GString          *key,
                         GError          **error)
{
  char *slash = strchr (key->str, '/');
  FerryOfferEntry *top;

  if (slash == NULL)
    return TRUE;
  *slash = '\0';
  top = g_hash_table_lookup (kinds, key->str);
  *slash = '/';
  if (top != NULL && top->kind == FERRY_OFFER_ENTRY_FOLDER)
    return TRUE;
  return ferry_offer_path_error (error, FERRY_OFFER_ERROR_UNOFFERED_FOLDER, entry->path,
                                 "is inside a folder the offer does not hold");
}

/* Checks the offer as a whole: every path, duplicates, files used as
 * folders, sizes and totals. Used on both sides, so a sender learns about a
 * name the receiver would refuse before it sends anything.
 */
gboolean
ferry_offer_validate_entries (FerryOffer              *self,
                              const FerryOfferLimits  *limits,
                              GError                 **error)
{
  g_autoptr(GHashTable) kinds = NULL;
  g_autoptr(GString) key = g_string_new (NULL);
  guint64 total = 0;

  /* Text alone is an offer; nothing at all is not. */
  if (self->entries->len == 0 && self->text == NULL)
    {
      g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_EMPTY,
                           "The offer contains no files, folders or text");
      return FALSE;
    }

  if (self->entries->len > limits->max_entries)
    {
      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES,
                   "The offer has %u files and folders, more than the %u allowed",
                   self->entries->len, limits->max_entries);
      return FALSE;
    }

  /* fold key → entry, so duplicates can name the entry they clash with */
  kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < self->entries->len; i++)
    {
      FerryOfferEntry *entry = g_ptr_array_index (self->entries, i);
      FerryOfferEntry *other;

      if (!ferry_offer_validate_path (entry->path, strlen (entry->path), key, error))
        return FALSE;

      other = g_hash_table_lookup (kinds, key->str);
      if (other != NULL)
        {
          g_autofree char *a = ferry_offer_escape_name (other->path, -1);
          g_autofree char *b = ferry_offer_escape_name (entry->path, -1);

          if (strcmp (other->path, entry->path) == 0)
            g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_DUPLICATE_PATH,
                         "“%s” is offered twice", b);
          else
            g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_DUPLICATE_PATH,
                         "“%s” and “%s” differ only in letter case or accents", a, b);
          return FALSE;
        }
      g_hash_table_insert (kinds, g_strdup (key->str), entry);

      if (entry->size > limits->max_total_size)
        return ferry_offer_path_error (error, FERRY_OFFER_ERROR_INVALID_SIZE, entry->path,
                                       "is larger than the limit for one offer");
      if (total + entry->size > limits->max_total_size)
        {
          g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOTAL_TOO_LARGE,
                       "The offered files add up to more than the limit for one offer");
          return FALSE;
        }
      total += entry->size;
    }

  /* With every path known, check that each parent of a path is not a file.
   * The keys' '/' positions match the paths', so prefixes of the key are the
   * keys of the parents.
   */
  for (guint i = 0; i < self->entries->len; i++)
    {
      FerryOfferEntry *entry = g_ptr_array_index (self->entries, i);
      char *slash;

      ferry_offer_validate_path (entry->path, strlen (entry->path), key, NULL);
      for (slash = strchr (key->str, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
        {
          FerryOfferEntry *parent;

          *slash = '\0';
          parent = g_hash_table_lookup (kinds, key->str);
          *slash = '/';

          if (parent != NULL && parent->kind == FERRY_OFFER_ENTRY_FILE)
            {
              g_autofree char *a = ferry_offer_escape_name (parent->path, -1);
              g_autofree char *b = ferry_offer_escape_name (entry->path, -1);

              g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TYPE_CONFLICT,
                           "“%s” is offered as a file but “%s” needs it to be a folder",
                           a, b);
              return FALSE;
            }
        }
      if (!check_top_level_offered (kinds, entry, key, error))
        return FALSE;
    }

  return TRUE;
}
