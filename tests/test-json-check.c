/* test-json-check.c
 *
 * The strict JSON checker every peer message passes: plain RFC 8259 is
 * accepted, everything json-glib would accept beyond it is refused, and
 * the bounds hold.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-json-check.h"
#include "ferry-offer.h"
#include "ferry-test-utils.h"

static void
assert_ok (const char *json)
{
  g_autoptr(GError) error = NULL;

  g_test_message ("accept %s", json);
  g_assert_true (ferry_json_check (json, strlen (json), &error));
  g_assert_no_error (error);
}

static void
assert_refused (const char *json,
                gsize       len,
                int         code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_json_check (json, len, &error));
  g_assert_error (error, FERRY_JSON_CHECK_ERROR, code);
}

static void
test_plain (void)
{
  const char *good[] = {
    "{}", "[]", "0", "-0", "1.5e-3", "-12E+2", "\"\"", "true", "false", "null",
    " { \"a\" : [ 1 , 2 , { \"b\" : \"\\u00e9\\ud83d\\ude00\\n\\/\" } ] } \r\n",
    "{\"ferry-offer\":1,\"entries\":[{\"path\":\"Fotos/été.jpg\",\"type\":\"file\"}]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    assert_ok (good[i]);
}

static void
test_not_json (void)
{
  const char *bad[] = {
    "", " ", "{\"a\":1 /* c */}", "{\"a\":1} // c", "{'a':1}", "{\"a\":'x'}", "0x1f", "[0x10]",
    "NaN", "[NaN]", "[Infinity]", "[-Infinity]", "[01]", "[1.]", "[.5]", "[+1]", "[1e]",
    "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{a:1}", "[\"tab\there\"]", "[\"\\x41\"]",
    "[\"\\u12\"]", "{}{}", "[] x", "[tru]", "[\"open", "\"\\", "[\f]", "\xef\xbb\xbf{}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("refuse %s", bad[i]);
      assert_refused (bad[i], strlen (bad[i]), FERRY_JSON_CHECK_ERROR_SYNTAX);
    }
}

static void
test_bad_text (void)
{
  assert_refused ("[\"a\\u0000b\"]", 12, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"a\0b\"]", 7, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"\\ud800\"]", 10, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"\\udc00\"]", 10, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"\\ud800\\u0041\"]", 16, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"\xff\"]", 5, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);
  assert_refused ("[\"\xc0\xaf\"]", 6, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);        /* overlong */
  assert_refused ("[\"\xed\xa0\x80\"]", 7, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);    /* surrogate */
  assert_refused ("[\"\xe2\x82\"]", 6, FERRY_JSON_CHECK_ERROR_INVALID_TEXT);        /* cut short */
}

static void
test_bounds (void)
{
  g_autofree char *sixteen = ferry_test_nested_arrays (FERRY_JSON_MAX_DEPTH);
  g_autofree char *seventeen = ferry_test_nested_arrays (FERRY_JSON_MAX_DEPTH + 1);
  g_autofree char *deep = ferry_test_nested_arrays (200000);
  g_autoptr(GString) long_string = g_string_new ("[\"");
  g_autoptr(GString) max_string = g_string_new ("[\"");
  g_autoptr(GError) error = NULL;

  assert_ok (sixteen);
  assert_refused (seventeen, strlen (seventeen), FERRY_JSON_CHECK_ERROR_TOO_DEEP);
  assert_refused (deep, strlen (deep), FERRY_JSON_CHECK_ERROR_TOO_DEEP);

  for (guint i = 0; i < FERRY_JSON_MAX_STRING_BYTES; i++)
    g_string_append_c (max_string, 'x');
  g_string_append (max_string, "\"]");
  assert_ok (max_string->str);
  for (guint i = 0; i < FERRY_JSON_MAX_STRING_BYTES + 1; i++)
    g_string_append_c (long_string, 'x');
  g_string_append (long_string, "\"]");
  assert_refused (long_string->str, long_string->len, FERRY_JSON_CHECK_ERROR_STRING_TOO_LONG);

  assert_ok ("[123456789012345678901234]");
  assert_refused ("[1234567890123456789012345]", 27, FERRY_JSON_CHECK_ERROR_NUMBER_TOO_LONG);
  assert_refused ("[1]", FERRY_JSON_MAX_SIZE + 1, FERRY_JSON_CHECK_ERROR_TOO_LARGE);

  /* The error says where, never what: it is safe to show. */
  g_assert_false (ferry_json_check ("[\"\x1b[31m\" /*", 11, &error));
  g_assert_null (strchr (error->message, '\x1b'));
}

/* The attack of issue 11: comments hide 200 000 levels from a naive scan
 * and json-glib recurses until the stack is gone. The offer parser refuses
 * it cleanly.
 */
static void
test_offer_comment_bomb (void)
{
  g_autofree char *deep = ferry_test_nested_arrays (200000);
  g_autofree char *json = g_strdup_printf ("{\"ferry-offer\":1,\"x\":/* \" */%s/* \" */,"
                                           "\"entries\":[]}", deep);
  g_autoptr(FerryOffer) offer = NULL;
  g_autoptr(GError) error = NULL;

  offer = ferry_offer_new_from_json (json, strlen (json), NULL, &error);
  g_assert_null (offer);
  g_assert_error (error, FERRY_OFFER_ERROR, FERRY_OFFER_ERROR_MALFORMED);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-check/plain", test_plain);
  g_test_add_func ("/json-check/not-json", test_not_json);
  g_test_add_func ("/json-check/bad-text", test_bad_text);
  g_test_add_func ("/json-check/bounds", test_bounds);
  g_test_add_func ("/json-check/offer-comment-bomb", test_offer_comment_bomb);
  return g_test_run ();
}
