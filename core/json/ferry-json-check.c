/* ferry-json-check.c
 *
 * A strict RFC 8259 checker for what a peer sends. json-glib accepts more
 * than JSON (comments, single-quoted strings, hex numbers) and recurses once
 * per nesting level, so a hostile message can hide its depth from a simple
 * scan and exhaust the stack. Every peer message passes through here first:
 * one pass, no allocation, recursion bounded by FERRY_JSON_MAX_DEPTH. Its
 * error messages give byte offsets and never quote the input, so they are
 * safe to show.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-json"

#include "config.h"

#include <string.h>

#include "ferry-json-check.h"

G_DEFINE_QUARK (ferry-json-check-error-quark, ferry_json_check_error)

typedef struct
{
  const guchar *p;
  const guchar *end;
  const guchar *start;
  GError      **error;
} Scanner;

static gboolean scan_value (Scanner *s,
                            guint    depth);

static gboolean
fail (Scanner             *s,
      FerryJsonCheckError  code,
      const char          *what)
{
  g_set_error (s->error, FERRY_JSON_CHECK_ERROR, code,
               "The message is not plain JSON: %s at byte %" G_GSIZE_FORMAT,
               what, (gsize) (s->p - s->start));
  return FALSE;
}

static void
skip_space (Scanner *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gint
hex4 (const guchar *p)
{
  gint value = 0;

  for (guint k = 0; k < 4; k++)
    {
      if (!g_ascii_isxdigit (p[k]))
        return -1;
      value = value << 4 | g_ascii_xdigit_value (p[k]);
    }
  return value;
}

/* After "\u": a code unit, with its low half when it is a high surrogate. */
static gboolean
scan_unicode_escape (Scanner *s)
{
  gint unit;

  if (s->end - s->p < 4 || (unit = hex4 (s->p)) < 0)
    return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a bad \\u escape");
  /* NUL would silently cut the C strings the parser hands out. */
  if (unit == 0)
    return fail (s, FERRY_JSON_CHECK_ERROR_INVALID_TEXT, "an escaped NUL character");
  s->p += 4;
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return fail (s, FERRY_JSON_CHECK_ERROR_INVALID_TEXT, "a lone surrogate escape");
  if (unit >= 0xd800 && unit <= 0xdbff)
    {
      gint low;

      if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u'
          || (low = hex4 (s->p + 2)) < 0xdc00 || low > 0xdfff)
        return fail (s, FERRY_JSON_CHECK_ERROR_INVALID_TEXT, "a lone surrogate escape");
      s->p += 6;
    }
  return TRUE;
}

/* One UTF-8 sequence that is not ASCII. GLib refuses overlong forms,
 * surrogates and values past U+10FFFF.
 */
static gboolean
scan_utf8 (Scanner *s)
{
  gsize avail = (gsize) (s->end - s->p);
  gunichar c = g_utf8_get_char_validated ((const gchar *) s->p, (gssize) MIN (avail, 4));

  if (c == (gunichar) -1 || c == (gunichar) -2)
    return fail (s, FERRY_JSON_CHECK_ERROR_INVALID_TEXT, "invalid UTF-8");
  s->p += g_utf8_skip[*s->p];
  return TRUE;
}

static gboolean
scan_string (Scanner *s)
{
  const guchar *begin = ++s->p;

  while (s->p < s->end)
    {
      guchar c = *s->p;

      if ((gsize) (s->p - begin) > FERRY_JSON_MAX_STRING_BYTES)
        return fail (s, FERRY_JSON_CHECK_ERROR_STRING_TOO_LONG, "a string too long");
      if (c == '"')
        {
          s->p++;
          return TRUE;
        }
      if (c < 0x20)
        return fail (s, c == 0 ? FERRY_JSON_CHECK_ERROR_INVALID_TEXT
                               : FERRY_JSON_CHECK_ERROR_SYNTAX,
                     c == 0 ? "a NUL character" : "a raw control character in a string");
      if (c >= 0x80)
        {
          if (!scan_utf8 (s))
            return FALSE;
          continue;
        }
      s->p++;
      if (c != '\\')
        continue;
      if (s->p >= s->end)
        break;
      c = *s->p++;
      if (c == 'u')
        {
          if (!scan_unicode_escape (s))
            return FALSE;
        }
      else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n'
               && c != 'r' && c != 't')
        return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a bad escape");
    }
  return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "an unterminated string");
}

static gboolean
scan_digits (Scanner *s)
{
  const guchar *begin = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > begin;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and short. */
static gboolean
scan_number (Scanner *s)
{
  const guchar *begin = s->p;

  if (*s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (s->p >= s->end || !g_ascii_isdigit (*s->p) || !scan_digits (s))
    return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a bad number");
  if (s->p < s->end && *s->p == '.')
    {
      s->p++;
      if (!scan_digits (s))
        return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a bad number");
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!scan_digits (s))
        return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a bad number");
    }
  /* "0x1f", "01" and "1.5.3" end here with bytes the caller refuses. */
  if (s->p - begin > FERRY_JSON_MAX_NUMBER_CHARS)
    return fail (s, FERRY_JSON_CHECK_ERROR_NUMBER_TOO_LONG, "a number too long");
  return TRUE;
}

static gboolean
scan_literal (Scanner    *s,
              const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "an unexpected character");
  s->p += n;
  return TRUE;
}

/* Objects and arrays: members separated by commas, no trailing comma. */
static gboolean
scan_container (Scanner *s,
                guint    depth)
{
  gboolean is_object = *s->p == '{';
  guchar close = is_object ? '}' : ']';

  if (depth >= FERRY_JSON_MAX_DEPTH)
    return fail (s, FERRY_JSON_CHECK_ERROR_TOO_DEEP, "nesting too deep");
  s->p++;
  skip_space (s);
  if (s->p < s->end && *s->p == close)
    {
      s->p++;
      return TRUE;
    }

  for (;;)
    {
      if (is_object)
        {
          if (s->p >= s->end || *s->p != '"')
            return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a member name that is not a string");
          if (!scan_string (s))
            return FALSE;
          skip_space (s);
          if (s->p >= s->end || *s->p != ':')
            return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a missing colon");
          s->p++;
        }
      if (!scan_value (s, depth + 1))
        return FALSE;
      skip_space (s);
      if (s->p < s->end && *s->p == close)
        {
          s->p++;
          return TRUE;
        }
      if (s->p >= s->end || *s->p != ',')
        return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a missing comma");
      s->p++;
      skip_space (s);
    }
}

static gboolean
scan_value (Scanner *s,
            guint    depth)
{
  skip_space (s);
  if (s->p >= s->end)
    return fail (s, FERRY_JSON_CHECK_ERROR_SYNTAX, "a missing value");

  switch (*s->p)
    {
    case '{':
    case '[':
      return scan_container (s, depth);
    case '"':
      return scan_string (s);
    case 't':
      return scan_literal (s, "true");
    case 'f':
      return scan_literal (s, "false");
    case 'n':
      return scan_literal (s, "null");
    default:
      if (*s->p == '-' || g_ascii_isdigit (*s->p))
        return scan_number (s);
      return fail (s, *s->p == 0 ? FERRY_JSON_CHECK_ERROR_INVALID_TEXT
                                 : FERRY_JSON_CHECK_ERROR_SYNTAX,
                   *s->p == 0 ? "a NUL character" : "an unexpected character");
    }
}

/**
 * ferry_json_check:
 * @data: (array length=len): the message as received, not NUL-terminated
 * @len: its length in bytes
 * @error: return location for a FERRY_JSON_CHECK_ERROR
 *
 * Checks that @data is exactly one RFC 8259 JSON value in UTF-8 within
 * Ferry's bounds (FERRY_JSON_MAX_*), with no NUL character, escaped or not,
 * and no lone surrogate escape. Pure: it reads only @data.
 *
 * Returns: %TRUE if the message may be handed to json-glib
 */
gboolean
ferry_json_check (const char  *data,
                  gsize        len,
                  GError     **error)
{
  Scanner s = {
    .p = (const guchar *) data,
    .end = (const guchar *) data + len,
    .start = (const guchar *) data,
    .error = error,
  };

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (len > FERRY_JSON_MAX_SIZE)
    {
      g_set_error (error, FERRY_JSON_CHECK_ERROR, FERRY_JSON_CHECK_ERROR_TOO_LARGE,
                   "The message is %" G_GSIZE_FORMAT " bytes long, more than the %"
                   G_GSIZE_FORMAT " allowed", len, FERRY_JSON_MAX_SIZE);
      return FALSE;
    }

  if (!scan_value (&s, 0))
    return FALSE;
  skip_space (&s);
  if (s.p != s.end)
    return fail (&s, FERRY_JSON_CHECK_ERROR_SYNTAX, "bytes after the end of the value");
  return TRUE;
}
