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
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer"

#include "config.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "ferry-offer.h"

#define DEFAULT_MAX_ENTRIES    100000
#define DEFAULT_MAX_JSON_SIZE  ((gsize) 64 * 1024 * 1024)
#define DEFAULT_MAX_TOTAL_SIZE ((guint64) 1 << 50)

/* Deeper JSON than this is never a valid offer; refusing it before parsing
 * keeps the parser's recursion bounded.
 */
#define MAX_JSON_DEPTH 8

/* Longest excerpt of a bad name quoted in an error message. */
#define MAX_ESCAPED_CHARS 120

struct _FerryOfferEntry
{
  char                *path;
  FerryOfferEntryKind  kind;
  guint64              size;
  guint                mode;
  gint64               mtime;
  char                *content_id;
  GFile               *local_file;
  FerryFileDigest     *digest;
};

struct _FerryOffer
{
  GObject     parent_instance;

  GPtrArray  *entries;
  GHashTable *by_path;
  guint       n_files;
  guint       n_folders;
  guint64     total_size;
  guint       n_skipped_symlinks;
  guint       n_skipped_special;
};

G_DEFINE_FINAL_TYPE (FerryOffer, ferry_offer, G_TYPE_OBJECT)

G_DEFINE_QUARK (ferry-offer-error-quark, ferry_offer_error)

static void
entry_free (gpointer data)
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
  self->entries = g_ptr_array_new_with_free_func (entry_free);
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
  const char *p = name;
  const char *end;
  guint n_chars = 0;

  g_return_val_if_fail (name != NULL, NULL);

  end = name + (len < 0 ? strlen (name) : (gsize) len);

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (n_chars++ >= MAX_ESCAPED_CHARS)
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

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_printf (out, "\\x%02X", c);
      else if (c == '\\')
        g_string_append (out, "\\\\");
      else if (!g_unichar_isprint (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
        g_string_append_printf (out, "\\u{%04X}", c);
      else
        g_string_append_unichar (out, c);

      p = g_utf8_next_char (p);
    }

  return g_string_free (out, FALSE);
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

static gboolean
path_error (GError         **error,
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
static gboolean
validate_path (const char  *path,
               gsize        len,
               GString     *fold_key,
               GError     **error)
{
  const char *p = path;
  const char *end = path + len;

  if (!g_utf8_validate (path, len, NULL))
    return path_error (error, FERRY_OFFER_ERROR_INVALID_UTF8, path,
                       "is not valid UTF-8");
  if (len == 0)
    return path_error (error, FERRY_OFFER_ERROR_EMPTY_COMPONENT, path,
                       "is an empty name");
  if (len > FERRY_OFFER_MAX_PATH_BYTES)
    return path_error (error, FERRY_OFFER_ERROR_PATH_TOO_LONG, path,
                       "is a path longer than 4096 bytes");
  if (path[0] == '/')
    return path_error (error, FERRY_OFFER_ERROR_ABSOLUTE_PATH, path,
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
        return path_error (error, FERRY_OFFER_ERROR_EMPTY_COMPONENT, path,
                           "has an empty folder name");
      if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return path_error (error, FERRY_OFFER_ERROR_DOT_COMPONENT, path,
                           "contains a “.” or “..” component");
      if (n > FERRY_OFFER_MAX_NAME_BYTES)
        return path_error (error, FERRY_OFFER_ERROR_NAME_TOO_LONG, path,
                           "has a name longer than 255 bytes");

      for (const char *q = p; q < stop; q = g_utf8_next_char (q))
        {
          gunichar c = g_utf8_get_char (q);

          if (c == '\\')
            return path_error (error, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER, path,
                               "contains a backslash");
          if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
            return path_error (error, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER, path,
                               "contains a control character");
        }

      if (is_device_name (p, n))
        return path_error (error, FERRY_OFFER_ERROR_RESERVED_NAME, path,
                           "uses a name reserved for devices on Windows");
      if (n >= strlen (FERRY_PARTIAL_SUFFIX)
          && g_str_has_suffix (component, FERRY_PARTIAL_SUFFIX))
        return path_error (error, FERRY_OFFER_ERROR_RESERVED_NAME, path,
                           "ends in “" FERRY_PARTIAL_SUFFIX "”, which Ferry uses for "
                           "partial files");

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

/* Checks the offer as a whole: every path, duplicates, files used as
 * folders, sizes and totals. Used on both sides, so a sender learns about a
 * name the receiver would refuse before it sends anything.
 */
static gboolean
validate_entries (FerryOffer              *self,
                  const FerryOfferLimits  *limits,
                  GError                 **error)
{
  g_autoptr(GHashTable) kinds = NULL;
  g_autoptr(GString) key = g_string_new (NULL);
  guint64 total = 0;

  if (self->entries->len == 0)
    {
      g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_EMPTY,
                           "The offer contains no files or folders");
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

      if (!validate_path (entry->path, strlen (entry->path), key, error))
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
        return path_error (error, FERRY_OFFER_ERROR_INVALID_SIZE, entry->path,
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

      validate_path (entry->path, strlen (entry->path), key, NULL);
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
    }

  return TRUE;
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

/* Reads a "\uXXXX" escape at @p; returns its value, or -1 if there is none. */
static gint
unicode_escape (const char *p,
                gsize       len)
{
  gint value = 0;

  if (len < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;

  for (guint k = 2; k < 6; k++)
    {
      if (!g_ascii_isxdigit (p[k]))
        return -1;
      value = value << 4 | g_ascii_xdigit_value (p[k]);
    }

  return value;
}

/* Before handing the message to the JSON parser, one pass over the raw
 * bytes: refuses NUL (raw or as \u0000, which the parser's C strings would
 * silently cut off), counts objects so that a million entries are refused
 * without building a million nodes, and bounds the nesting depth.
 */
static gboolean
prescan_json (const char              *json,
              gsize                    len,
              const FerryOfferLimits  *limits,
              GError                 **error)
{
  gboolean in_string = FALSE;
  guint64 n_objects = 0;
  guint depth = 0;
  guint digits = 0;

  if (memchr (json, '\0', len) != NULL)
    {
      g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER,
                           "The offer contains a NUL character");
      return FALSE;
    }

  for (gsize i = 0; i < len; i++)
    {
      char c = json[i];

      if (in_string)
        {
          if (c == '"')
            in_string = FALSE;
          else if (c == '\\' && i + 1 < len)
            {
              gint unit = json[i + 1] == 'u' ? unicode_escape (json + i, len - i) : -1;

              if (unit == 0)
                {
                  g_set_error_literal (error, FERRY_OFFER_ERROR,
                                       FERRY_OFFER_ERROR_FORBIDDEN_CHARACTER,
                                       "The offer contains a NUL character");
                  return FALSE;
                }

              /* A lone UTF-16 surrogate can't become UTF-8; parsers differ
               * in what they make of it, so refuse it here.
               */
              if (unit >= 0xd800 && unit <= 0xdbff)
                {
                  gint low = unicode_escape (json + i + 6, len - i - 6);

                  if (low < 0xdc00 || low > 0xdfff)
                    unit = -2;
                  else
                    i += 6;
                }
              if (unit == -2 || (unit >= 0xdc00 && unit <= 0xdfff))
                {
                  g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_UTF8,
                                       "The offer contains an invalid Unicode escape");
                  return FALSE;
                }
              i++;
            }
          continue;
        }

      /* The parser wraps integers past 64 bits around; no valid offer needs
       * more than 18 digits, so longer numbers are refused here.
       */
      digits = g_ascii_isdigit (c) ? digits + 1 : 0;
      if (digits > 18)
        {
          g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_SIZE,
                               "The offer contains a number too large to be a size");
          return FALSE;
        }

      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;

        case '{':
          n_objects++;
          G_GNUC_FALLTHROUGH;
        case '[':
          if (++depth > MAX_JSON_DEPTH)
            {
              g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
                                   "The offer is nested too deeply");
              return FALSE;
            }
          break;

        case '}':
        case ']':
          if (depth > 0)
            depth--;
          break;

        default:
          break;
        }

      /* One object is the offer itself, every other one an entry. */
      if (n_objects > (guint64) limits->max_entries + 1)
        {
          g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES,
                       "The offer has more than the %u files and folders allowed",
                       limits->max_entries);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
member_int (JsonObject  *object,
            const char  *name,
            gboolean     required,
            gint64      *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    {
      *value = 0;
      return !required;
    }

  /* Only integer literals: a double or a string is never a size. */
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;

  *value = json_node_get_int (node);
  return TRUE;
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static FerryOfferEntry *
entry_from_json (JsonNode  *node,
                 guint      index,
                 GError   **error)
{
  g_autoptr(GString) ignored = g_string_new (NULL);
  FerryOfferEntry *entry;
  JsonObject *object;
  const char *path;
  const char *type;
  const char *content_id;
  gint64 size, mode, mtime;
  guint8 raw[FERRY_HASH_SIZE];

  if (!JSON_NODE_HOLDS_OBJECT (node))
    goto malformed;
  object = json_node_get_object (node);

  path = member_string (object, "path");
  type = member_string (object, "type");
  if (path == NULL || type == NULL)
    goto malformed;

  /* The path is checked first so that later messages can quote it safely. */
  if (!validate_path (path, strlen (path), ignored, error))
    return NULL;

  if (!member_int (object, "size", FALSE, &size) || size < 0)
    {
      path_error (error, FERRY_OFFER_ERROR_INVALID_SIZE, path, "has an invalid size");
      return NULL;
    }

  if (!member_int (object, "mode", FALSE, &mode) || mode < 0 || mode > 0777)
    {
      path_error (error, FERRY_OFFER_ERROR_INVALID_MODE, path,
                  "has permissions other than read, write and execute");
      return NULL;
    }

  if (!member_int (object, "mtime", FALSE, &mtime))
    goto malformed;

  entry = g_new0 (FerryOfferEntry, 1);
  entry->path = g_strdup (path);
  entry->mtime = mtime;

  if (strcmp (type, "file") == 0)
    {
      content_id = member_string (object, "content_id");
      if (!ferry_hash_from_hex (content_id, raw))
        {
          path_error (error, FERRY_OFFER_ERROR_INVALID_CONTENT_ID, path,
                      "has no valid content id");
          entry_free (entry);
          return NULL;
        }
      entry->kind = FERRY_OFFER_ENTRY_FILE;
      entry->size = (guint64) size;
      entry->mode = (mode & 0111) ? 0755 : 0644;
      entry->content_id = g_strdup (content_id);
    }
  else if (strcmp (type, "folder") == 0)
    {
      if (size != 0 || json_object_has_member (object, "content_id"))
        {
          entry_free (entry);
          goto malformed;
        }
      entry->kind = FERRY_OFFER_ENTRY_FOLDER;
      entry->mode = 0755;
    }
  else
    {
      entry_free (entry);
      goto malformed;
    }

  return entry;

malformed:
  g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
               "Entry %u of the offer is malformed", index + 1);
  return NULL;
}

/**
 * ferry_offer_new_from_json:
 * @json: the offer message as received
 * @len: its length in bytes
 * @limits: (nullable): limits, or %NULL for the defaults
 *
 * Parses and validates an offer from a peer. Nothing touches the disk. On
 * failure the error is in FERRY_OFFER_ERROR and its message names the bad
 * entry with unsafe characters escaped.
 *
 * Returns: (transfer full): the offer, or %NULL with @error set
 */
FerryOffer *
ferry_offer_new_from_json (const char              *json,
                           gsize                    len,
                           const FerryOfferLimits  *limits,
                           GError                 **error)
{
  g_autoptr(FerryOffer) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  FerryOfferLimits defaults;
  JsonObject *root;
  JsonNode *node;
  JsonArray *entries;
  gint64 version;
  gint64 n_declared;
  guint n;

  g_return_val_if_fail (json != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (limits == NULL)
    {
      ferry_offer_limits_init_default (&defaults);
      limits = &defaults;
    }

  if (len > limits->max_json_size)
    {
      g_autofree char *size = g_format_size (len);
      g_autofree char *max = g_format_size (limits->max_json_size);

      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_LARGE,
                   "The offer is %s long, more than the %s allowed", size, max);
      return NULL;
    }

  if (!prescan_json (json, len, limits, error))
    return NULL;

  if (!g_utf8_validate (json, len, NULL))
    {
      g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_UTF8,
                           "The offer is not valid UTF-8");
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, (gssize) len, &parse_error))
    {
      /* The parser quotes the input in its message: escape it too. */
      g_autofree char *why = ferry_offer_escape_name (parse_error->message, -1);

      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
                   "The offer is not valid JSON: %s", why);
      return NULL;
    }

  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    goto malformed;
  root = json_node_get_object (node);

  if (!member_int (root, "ferry-offer", TRUE, &version))
    goto malformed;
  if (version != FERRY_OFFER_VERSION)
    {
      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_UNSUPPORTED_VERSION,
                   "The offer uses format %" G_GINT64_FORMAT ", which this version of "
                   "Ferry does not know", version);
      return NULL;
    }

  node = json_object_get_member (root, "entries");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    goto malformed;
  entries = json_node_get_array (node);
  n = json_array_get_length (entries);

  if (!member_int (root, "n_entries", FALSE, &n_declared)
      || (json_object_has_member (root, "n_entries") && n_declared != (gint64) n))
    goto malformed;

  if (n > limits->max_entries)
    {
      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_TOO_MANY_ENTRIES,
                   "The offer has %u files and folders, more than the %u allowed",
                   n, limits->max_entries);
      return NULL;
    }

  self = g_object_new (FERRY_TYPE_OFFER, NULL);
  for (guint i = 0; i < n; i++)
    {
      FerryOfferEntry *entry = entry_from_json (json_array_get_element (entries, i), i, error);

      if (entry == NULL)
        return NULL;
      g_ptr_array_add (self->entries, entry);
    }

  if (!validate_entries (self, limits, error))
    return NULL;

  /* Only now, with every entry known to be sane, index them. */
  g_ptr_array_set_free_func (self->entries, NULL);
  {
    g_autoptr(GPtrArray) valid = g_steal_pointer (&self->entries);

    self->entries = g_ptr_array_new_full (valid->len, entry_free);
    for (guint i = 0; i < valid->len; i++)
      offer_add_entry (self, g_ptr_array_index (valid, i));
  }

  /* The declared total is redundant; a mismatch means a broken sender. */
  if (!member_int (root, "total_size", FALSE, &n_declared)
      || (json_object_has_member (root, "total_size")
          && n_declared != (gint64) self->total_size))
    goto malformed;

  return g_steal_pointer (&self);

malformed:
  g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
                       "The offer is malformed");
  return NULL;
}

/**
 * ferry_offer_to_json:
 * @length: (out) (optional): length of the result
 *
 * Returns: (transfer full): the offer as a compact JSON message
 */
char *
ferry_offer_to_json (FerryOffer *self,
                     gsize      *length)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (FERRY_IS_OFFER (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ferry-offer");
  json_builder_add_int_value (builder, FERRY_OFFER_VERSION);
  json_builder_set_member_name (builder, "n_entries");
  json_builder_add_int_value (builder, self->entries->len);
  json_builder_set_member_name (builder, "total_size");
  json_builder_add_int_value (builder, (gint64) self->total_size);
  json_builder_set_member_name (builder, "entries");
  json_builder_begin_array (builder);

  for (guint i = 0; i < self->entries->len; i++)
    {
      FerryOfferEntry *entry = g_ptr_array_index (self->entries, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, entry->path);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder,
                                     entry->kind == FERRY_OFFER_ENTRY_FILE ? "file" : "folder");
      if (entry->kind == FERRY_OFFER_ENTRY_FILE)
        {
          json_builder_set_member_name (builder, "size");
          json_builder_add_int_value (builder, (gint64) entry->size);
          json_builder_set_member_name (builder, "content_id");
          json_builder_add_string_value (builder, entry->content_id);
        }
      json_builder_set_member_name (builder, "mode");
      json_builder_add_int_value (builder, entry->mode);
      json_builder_set_member_name (builder, "mtime");
      json_builder_add_int_value (builder, entry->mtime);
      json_builder_end_object (builder);
    }

  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}

/* Building an offer from local files, in a GTask thread. */

typedef struct
{
  GPtrArray *files;
} BuildJob;

static void
build_job_free (gpointer data)
{
  BuildJob *job = data;

  g_ptr_array_unref (job->files);
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

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const FerryOfferEntry *ea = *(FerryOfferEntry * const *) a;
  const FerryOfferEntry *eb = *(FerryOfferEntry * const *) b;

  return strcmp (ea->path, eb->path);
}

static void
build_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  BuildJob *job = task_data;
  g_autoptr(FerryOffer) self = g_object_new (FERRY_TYPE_OFFER, NULL);
  g_autoptr(GPtrArray) entries = NULL;
  FerryOfferLimits limits;
  GError *error = NULL;

  ferry_offer_limits_init_default (&limits);

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
  g_ptr_array_sort (self->entries, compare_entries);

  if (!validate_entries (self, &limits, &error))
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
  if (!validate_entries (self, &limits, &error))
    goto failed;

  g_ptr_array_set_free_func (self->entries, NULL);
  entries = g_steal_pointer (&self->entries);
  self->entries = g_ptr_array_new_full (entries->len, entry_free);
  for (guint i = 0; i < entries->len; i++)
    offer_add_entry (self, g_ptr_array_index (entries, i));

  g_task_return_pointer (task, g_steal_pointer (&self), g_object_unref);
  return;

failed:
  g_task_return_error (task, error);
}

/**
 * ferry_offer_new_from_files_async:
 * @files: (array length=n_files): files and folders the person chose
 *
 * Builds an offer in a GTask thread: walks folders (skipping symlinks, see
 * the top of this file), hashes every file and validates the result with
 * the same rules a receiver applies.
 */
void
ferry_offer_new_from_files_async (GFile               **files,
                                  guint                 n_files,
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

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_offer_new_from_files_async);
  g_task_set_task_data (task, job, build_job_free);
  g_task_run_in_thread (task, build_thread);
}

FerryOffer *
ferry_offer_new_from_files_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_offer_new_from_files_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
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
  g_ptr_array_sort (sorted, compare_entries);

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
