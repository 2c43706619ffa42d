/* ferry-offer-json.c
 *
 * The offer's wire format: a JSON object {"ferry-offer": 1, "n_entries",
 * "total_size", "entries": [{"path", "type", "size", "content_id", "mode",
 * "mtime"}, …], "text": ["…", …]}. The optional text is split into pieces
 * of at most TEXT_PIECE_BYTES, each well within the JSON check's bound on
 * one string even when every byte needs a \u escape; "entries" is empty
 * when the text is all that is sent. What comes from a peer is scanned before the parser sees
 * it (ferry_json_check(): strict RFC 8259, bounded depth) and validated before it is indexed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-offer"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ferry-json-check.h"
#include "ferry-offer-private.h"

/* Deeper JSON than this is never a valid offer; refusing it before parsing
 * keeps the parser's recursion bounded.
 */
#define MAX_JSON_DEPTH 8

/* Six bytes of JSON per byte of text at worst ("\u001b"): a piece fits in
 * FERRY_JSON_MAX_STRING_BYTES (8 KiB) however it is written. */
#define TEXT_PIECE_BYTES 1024

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
  if (!ferry_offer_validate_path (path, strlen (path), ignored, error))
    return NULL;

  if (!member_int (object, "size", FALSE, &size) || size < 0)
    {
      ferry_offer_path_error (error, FERRY_OFFER_ERROR_INVALID_SIZE, path, "has an invalid size");
      return NULL;
    }

  if (!member_int (object, "mode", FALSE, &mode) || mode < 0 || mode > 0777)
    {
      ferry_offer_path_error (error, FERRY_OFFER_ERROR_INVALID_MODE, path,
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
          ferry_offer_path_error (error, FERRY_OFFER_ERROR_INVALID_CONTENT_ID, path,
                                  "has no valid content id");
          ferry_offer_entry_free (entry);
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
          ferry_offer_entry_free (entry);
          goto malformed;
        }
      entry->kind = FERRY_OFFER_ENTRY_FOLDER;
      entry->mode = 0755;
    }
  else
    {
      ferry_offer_entry_free (entry);
      goto malformed;
    }

  return entry;

malformed:
  g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
               "Entry %u of the offer is malformed", index + 1);
  return NULL;
}

/* Joins the pieces of "text", each a non-empty string no longer than a
 * sender makes them, and checks the whole as a sender's text. */
static gboolean
text_from_json (FerryOffer  *self,
                JsonNode    *node,
                GError     **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *pieces;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto malformed;
  pieces = json_node_get_array (node);
  n = json_array_get_length (pieces);

  /* Past the limit, the rest need not be read to say it is too long. */
  for (guint i = 0; i < n && text->len <= FERRY_OFFER_MAX_TEXT_BYTES; i++)
    {
      JsonNode *piece = json_array_get_element (pieces, i);
      const char *value;
      gsize len;

      if (!JSON_NODE_HOLDS_VALUE (piece) || json_node_get_value_type (piece) != G_TYPE_STRING)
        goto malformed;
      value = json_node_get_string (piece);
      len = strlen (value);
      if (len == 0 || len > TEXT_PIECE_BYTES)
        goto malformed;
      g_string_append_len (text, value, len);
    }

  if (!ferry_offer_check_text (text->str, text->len, error))
    return FALSE;

  self->text = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;

malformed:
  g_set_error_literal (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_INVALID_TEXT,
                       "The offered text is not a list of short strings");
  return FALSE;
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

  /* json-glib accepts comments and single quotes, which can hide nesting
   * from the scan above; only plain JSON reaches it.
   */
  if (!ferry_json_check (json, len, &parse_error))
    {
      g_set_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED,
                   "The offer is not valid JSON: %s", parse_error->message);
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

  node = json_object_get_member (root, "text");
  if (node != NULL && !text_from_json (self, node, error))
    return NULL;

  for (guint i = 0; i < n; i++)
    {
      FerryOfferEntry *entry = entry_from_json (json_array_get_element (entries, i), i, error);

      if (entry == NULL)
        return NULL;
      g_ptr_array_add (self->entries, entry);
    }

  if (!ferry_offer_validate_entries (self, limits, error))
    return NULL;

  /* Only now, with every entry known to be sane, index them. */
  ferry_offer_index_entries (self);

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
  if (self->text != NULL)
    {
      json_builder_set_member_name (builder, "text");
      json_builder_begin_array (builder);
      for (const char *p = self->text; *p != '\0';)
        {
          const char *end = p + MIN (strlen (p), TEXT_PIECE_BYTES);
          g_autofree char *piece = NULL;

          /* Pieces end between characters: each is UTF-8 on its own. */
          if (*end != '\0')
            end = g_utf8_find_prev_char (p, end + 1);
          piece = g_strndup (p, end - p);
          json_builder_add_string_value (builder, piece);
          p = end;
        }
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, length);
}
