/* fuzz-signalling.c
 *
 * The router's reader of the peer's signalling messages, as they come out of the sealed
 * channel: strict JSON first (ferry_json_check()), then the shape of a message. Each input
 * is refused with a FERRY_JSON_CHECK_ERROR (the channel ends), or is junk, or is an object
 * whose "type" is a short protocol word, the only strings the router interns as quarks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-json-check.h"
#include "ferry-signalling.h"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  const char *type;

  if (!ferry_signalling_parse_message ((const char *) data, size, &object, &error))
    {
      g_assert_error (error, FERRY_JSON_CHECK_ERROR, error->code);
      g_assert_null (object);
      return 0;
    }

  g_assert_no_error (error);
  if (object == NULL)
    return 0;

  type = json_object_get_string_member (object, "type");
  g_assert_nonnull (type);
  g_assert_cmpuint (strlen (type), >=, 1);
  g_assert_cmpuint (strlen (type), <=, FERRY_SIGNALLING_TYPE_MAX_LENGTH);
  for (const char *p = type; *p; p++)
    g_assert_true (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-');

  return 0;
}
