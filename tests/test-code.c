/* test-code.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-code.h"
#include "ferry-test-utils.h"
#include "ferry-wordlist.h"

/* Written independently of the core's check on purpose: the test must not
 * share a bug with the code it tests. Levenshtein distance with adjacent
 * swaps, cut off at 2. */
static guint
edit_distance (const char *a,
               const char *b)
{
  guint la = strlen (a), lb = strlen (b);
  guint d[10][10];

  g_assert_cmpuint (la, <=, 8);
  g_assert_cmpuint (lb, <=, 8);

  for (guint i = 0; i <= la; i++)
    d[i][0] = i;
  for (guint j = 0; j <= lb; j++)
    d[0][j] = j;

  for (guint i = 1; i <= la; i++)
    for (guint j = 1; j <= lb; j++)
      {
        guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
        guint best = MIN (d[i - 1][j] + 1, d[i][j - 1] + 1);

        best = MIN (best, d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          best = MIN (best, d[i - 2][j - 2] + 1);
        d[i][j] = best;
      }

  return d[la][lb];
}

static void
test_wordlist_properties (void)
{
  g_autoptr(GHashTable) prefixes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_cmpuint (G_N_ELEMENTS (ferry_wordlist), ==, 2048);
  g_assert_cmpuint (1u << FERRY_WORDLIST_BITS, ==, FERRY_WORDLIST_SIZE);

  for (guint i = 0; i < FERRY_WORDLIST_SIZE; i++)
    {
      const char *word = ferry_wordlist[i];
      gsize len = strlen (word);
      char *prefix;

      g_assert_cmpuint (len, >=, 3);
      g_assert_cmpuint (len, <=, 8);
      for (gsize j = 0; j < len; j++)
        g_assert_true (word[j] >= 'a' && word[j] <= 'z');

      /* Sorted and unique, which lookups rely on. */
      if (i > 0)
        g_assert_cmpint (strcmp (ferry_wordlist[i - 1], word), <, 0);

      prefix = g_strndup (word, 4);
      if (g_hash_table_contains (prefixes, prefix))
        g_error ("“%s” shares its first letters with another word", word);
      g_hash_table_add (prefixes, prefix);
    }

  for (guint i = 0; i < FERRY_WORDLIST_SIZE; i++)
    for (guint j = i + 1; j < FERRY_WORDLIST_SIZE; j++)
      {
        const char *a = ferry_wordlist[i];
        const char *b = ferry_wordlist[j];

        /* A short word must not be the start of another, or typing it in
         * full would still leave two candidates. */
        if (g_str_has_prefix (b, a))
          g_error ("“%s” is the start of “%s”", a, b);

        if (ABS ((int) strlen (a) - (int) strlen (b)) <= 1 && edit_distance (a, b) <= 1)
          g_error ("“%s” and “%s” are one edit apart", a, b);
      }
}

static void
test_edit_distance_helper (void)
{
  /* The property test above is only as good as this helper. */
  g_assert_cmpuint (edit_distance ("orbit", "orbit"), ==, 0);
  g_assert_cmpuint (edit_distance ("orbit", "orbt"), ==, 1);
  g_assert_cmpuint (edit_distance ("orbit", "orbits"), ==, 1);
  g_assert_cmpuint (edit_distance ("form", "from"), ==, 1);
  g_assert_cmpuint (edit_distance ("card", "cart"), ==, 1);
  g_assert_cmpuint (edit_distance ("card", "cast"), ==, 2);
}

static void
test_secret_bits (void)
{
  g_assert_cmpuint (ferry_code_secret_bits (FERRY_CODE_DEFAULT_WORDS), ==, 33);
  g_assert_cmpuint (ferry_code_secret_bits (FERRY_CODE_MIN_WORDS), >=,
                    FERRY_CODE_MIN_SECRET_BITS);
  g_assert_cmpuint (ferry_code_secret_bits (FERRY_CODE_MIN_WORDS - 1), <,
                    FERRY_CODE_MIN_SECRET_BITS);
  g_assert_cmpuint (ferry_code_secret_bits (8), ==, 88);
}

static void
test_generate_format (void)
{
  g_autoptr(GRegex) regex = g_regex_new ("^42(-[a-z]{3,8}){3}$", 0, 0, NULL);

  for (guint n = FERRY_CODE_MIN_WORDS; n <= FERRY_CODE_MAX_WORDS; n++)
    {
      g_autofree char *code = ferry_code_generate ("42", n);
      g_auto(GStrv) parts = g_strsplit (code, "-", -1);

      g_assert_cmpuint (g_strv_length (parts), ==, n + 1);
      g_assert_cmpstr (parts[0], ==, "42");
      for (guint i = 1; i <= n; i++)
        g_assert_true (ferry_code_is_word (parts[i]));
      g_assert_cmpuint (ferry_code_get_n_words (code), ==, n);
    }

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *code = ferry_code_generate ("42", FERRY_CODE_DEFAULT_WORDS);

      g_assert_true (g_regex_match (regex, code, 0, NULL));
    }
}

static void
test_generate_uses_whole_list (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) codes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* 16000 draws from 2048 words miss on average less than one word; a
   * generator that favours part of the list, or repeats, fails. */
  for (guint i = 0; i < 2000; i++)
    {
      char *code = ferry_code_generate ("1", FERRY_CODE_MAX_WORDS);
      g_auto(GStrv) parts = g_strsplit (code, "-", -1);

      for (guint j = 1; parts[j] != NULL; j++)
        g_hash_table_add (seen, (gpointer) g_intern_string (parts[j]));
      g_assert_false (g_hash_table_contains (codes, code));
      g_hash_table_add (codes, code);
    }

  g_assert_cmpuint (g_hash_table_size (seen), >=, 2030);
}

static void
test_generate_refuses_weak (void)
{
  g_autofree char *weak = NULL;
  g_autofree char *bad_nameplate = NULL;

  g_test_expect_message ("ferry-code", G_LOG_LEVEL_CRITICAL, "*n_words >= FERRY_CODE_MIN_WORDS*");
  weak = ferry_code_generate ("7", 2);
  g_test_assert_expected_messages ();
  g_assert_null (weak);

  g_test_expect_message ("ferry-code", G_LOG_LEVEL_CRITICAL, "*is_valid_nameplate*");
  bad_nameplate = ferry_code_generate ("07", 3);
  g_test_assert_expected_messages ();
  g_assert_null (bad_nameplate);
}

static void
test_generated_codes_normalize_to_themselves (void)
{
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *code = ferry_code_generate ("123", 3 + i % 6);
      g_autofree char *shouted = g_ascii_strup (code, -1);
      g_autofree char *spaced = NULL;
      g_autofree char *again = NULL;
      g_autofree char *from_shouted = NULL;
      g_autoptr(GError) error = NULL;

      again = ferry_code_normalize (code, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again, ==, code);
      g_assert_true (ferry_code_is_normalized (code));

      g_strdelimit (shouted, "-", ' ');
      spaced = g_strconcat ("  ", shouted, " \n", NULL);
      from_shouted = ferry_code_normalize (spaced, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (from_shouted, ==, code);
    }
}

static void
test_normalize_tolerant (void)
{
  static const struct {
    const char *input;
    const char *expected;
  } cases[] = {
    { "7-orbit-tulip-canvas", "7-orbit-tulip-canvas" },
    { "  7 Orbit TULIP canvas \n", "7-orbit-tulip-canvas" },
    { "7_orbit.tulip,canvas", "7-orbit-tulip-canvas" },
    { "7--orbit  -  tulip__canvas..", "7-orbit-tulip-canvas" },
    { "\t7,, orbit .-_ tulip\r\ncanvas", "7-orbit-tulip-canvas" },
    { "7orbit-tulip-canvas", "7-orbit-tulip-canvas" },
    { "7\u2013orbit\u00a0tulip\u2014canvas", "7-orbit-tulip-canvas" },
    { "ferry:7-orbit-tulip-canvas", "7-orbit-tulip-canvas" },
    { " FERRY:7 orbit tulip canvas", "7-orbit-tulip-canvas" },
    { "123456789-orbit-tulip-canvas-zebra-yellow-apple-piano-water",
      "123456789-orbit-tulip-canvas-zebra-yellow-apple-piano-water" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *code = ferry_code_normalize (cases[i].input, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (code, ==, cases[i].expected);
    }
}

static void
test_normalize_errors (void)
{
  static const struct {
    const char *input;
    FerryCodeError code;
    const char *message;  /* exact message, or NULL */
    const char *contains; /* a part of the message, or NULL */
  } cases[] = {
    { "", FERRY_CODE_ERROR_EMPTY, "No code was entered.", NULL },
    { "   \n", FERRY_CODE_ERROR_EMPTY, NULL, NULL },
    { " - _ ., ", FERRY_CODE_ERROR_EMPTY, NULL, NULL },
    { "orbit-tulip-canvas", FERRY_CODE_ERROR_NO_NAMEPLATE, NULL, "“orbit”" },
    { "orbit-7-tulip-canvas", FERRY_CODE_ERROR_NO_NAMEPLATE, NULL, NULL },
    { "07-orbit-tulip-canvas", FERRY_CODE_ERROR_BAD_NAMEPLATE, NULL, "“07”" },
    { "0-orbit-tulip-canvas", FERRY_CODE_ERROR_BAD_NAMEPLATE, NULL, NULL },
    { "1234567890-orbit-tulip-canvas", FERRY_CODE_ERROR_BAD_NAMEPLATE, NULL, "9 digits" },
    { "99999999999999999999999999999999999-orbit-tulip-canvas",
      FERRY_CODE_ERROR_BAD_NAMEPLATE, NULL, "…" },
    { "7", FERRY_CODE_ERROR_TOO_FEW_WORDS, NULL, "only its number" },
    { "  7 - ", FERRY_CODE_ERROR_TOO_FEW_WORDS, NULL, NULL },
    { "7-orbit-tulip", FERRY_CODE_ERROR_TOO_FEW_WORDS, NULL, "only 2 words" },
    { "7-orbit-tulip-canvas-zebra-yellow-apple-piano-water-lemon",
      FERRY_CODE_ERROR_TOO_MANY_WORDS, NULL, "9 words" },
    { "7-orbt-tulip-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD,
      "“orbt” is not a code word. Did you mean “orbit”?", NULL },
    { "7-ORBITS-tulip-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD,
      "“orbits” is not a code word. Did you mean “orbit”?", NULL },
    { "7-orbital-tulip-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD,
      "“orbital” is not a code word. Did you mean “orbit”?", NULL },
    { "7-orbit-tulpi-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD, NULL, "Did you mean “tulip”?" },
    { "7-orbit-tuli-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD, NULL, "Did you mean “tulip”?" },
    { "7-orbit-tulip-qqqq", FERRY_CODE_ERROR_UNKNOWN_WORD,
      "“qqqq” is not a code word. Please check the code with the sender.", NULL },
    { "7-orbit-12-canvas", FERRY_CODE_ERROR_UNKNOWN_WORD, NULL, "“12”" },
    { "7-orbt", FERRY_CODE_ERROR_UNKNOWN_WORD, NULL, NULL },
    { "7-orbit-tülip-canvas", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, "“ü”" },
    { "7-orbit-tulip-canvas!", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, "“!”" },
    { "7-orbit-\xf0\x9f\x98\x80-canvas", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, NULL },
    { "7-orbit-\x01-canvas", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, "U+0001" },
    { "7-orbit-\xff-canvas", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, NULL },
    { "\xef\xbc\x97-orbit-tulip-canvas", FERRY_CODE_ERROR_INVALID_CHARACTERS, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *code = ferry_code_normalize (cases[i].input, &error);
      g_autofree char *escaped = g_strescape (cases[i].input, NULL);

      g_test_message ("input: %s", escaped);
      g_assert_null (code);
      g_assert_error (error, FERRY_CODE_ERROR, (int) cases[i].code);
      if (cases[i].message != NULL)
        g_assert_cmpstr (error->message, ==, cases[i].message);
      if (cases[i].contains != NULL)
        g_assert_nonnull (strstr (error->message, cases[i].contains));
    }
}

static void
test_normalize_null_and_huge (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autoptr(GString) huge = g_string_new ("7-");

  code = ferry_code_normalize (NULL, &error);
  g_assert_null (code);
  g_assert_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_EMPTY);
  g_clear_error (&error);

  /* A pasted megabyte gets a short answer that still names the word. */
  for (guint i = 0; i < 1024 * 1024; i++)
    g_string_append_c (huge, 'a');
  code = ferry_code_normalize (huge->str, &error);
  g_assert_null (code);
  g_assert_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_UNKNOWN_WORD);
  g_assert_cmpuint (strlen (error->message), <, 200);
  g_assert_true (g_str_has_prefix (error->message, "“aaaaaaaa"));
}

static void
test_nameplate_and_password (void)
{
  g_autofree char *nameplate = ferry_code_get_nameplate ("7-orbit-tulip-canvas");
  g_autofree char *password = ferry_code_get_password ("7-orbit-tulip-canvas");
  g_autofree char *long_nameplate = ferry_code_get_nameplate ("987654321-zebra-apple-water");
  g_autofree char *not_normalized = NULL;

  g_assert_cmpstr (nameplate, ==, "7");
  g_assert_cmpstr (password, ==, "orbit-tulip-canvas");
  g_assert_cmpstr (long_nameplate, ==, "987654321");

  g_assert_true (ferry_code_is_valid_nameplate ("1"));
  g_assert_true (ferry_code_is_valid_nameplate ("999999999"));
  g_assert_false (ferry_code_is_valid_nameplate ("0"));
  g_assert_false (ferry_code_is_valid_nameplate ("01"));
  g_assert_false (ferry_code_is_valid_nameplate ("1000000000"));
  g_assert_false (ferry_code_is_valid_nameplate (""));
  g_assert_false (ferry_code_is_valid_nameplate ("7a"));

  g_assert_false (ferry_code_is_normalized ("7 orbit tulip canvas"));
  g_assert_false (ferry_code_is_normalized ("7-Orbit-tulip-canvas"));
  g_test_expect_message ("ferry-code", G_LOG_LEVEL_CRITICAL, "*is_normalized*");
  not_normalized = ferry_code_get_nameplate ("7 orbit tulip canvas");
  g_test_assert_expected_messages ();
  g_assert_null (not_normalized);
}

static void
assert_complete (const char         *prefix,
                 guint               max,
                 const char * const *expected)
{
  g_auto(GStrv) got = ferry_code_complete (prefix, max);

  g_assert_nonnull (got);
  g_assert_cmpstrv (got, expected);
}

static void
test_complete (void)
{
  const char * const none[] = { NULL };
  const char * const tulip[] = { "tulip", NULL };
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) tu = NULL;
  g_auto(GStrv) four = NULL;

  /* Against a brute-force scan of the list. */
  for (guint i = 0; i < FERRY_WORDLIST_SIZE; i++)
    if (g_str_has_prefix (ferry_wordlist[i], "tu"))
      g_strv_builder_add (builder, ferry_wordlist[i]);
  tu = g_strv_builder_end (builder);
  g_assert_cmpuint (g_strv_length (tu), >, 3);

  assert_complete ("tu", 0, (const char * const *) tu);
  assert_complete ("7-orbit-tu", 0, (const char * const *) tu);
  assert_complete ("7 ORBIT Tu", 0, (const char * const *) tu);
  assert_complete ("7-orbit-tuli", 0, tulip);
  assert_complete ("7-orbit-tulip", 0, tulip);
  assert_complete ("7-orbit-", 0, none);
  assert_complete ("7", 0, none);
  assert_complete ("", 0, none);
  assert_complete ("7-orbit-tulipp", 0, none);
  assert_complete ("7-orbit-qz", 0, none);
  assert_complete ("7-orbit-aaaaaaaaaaaaaaaa", 0, none);

  four = ferry_code_complete ("a", 4);
  g_assert_cmpuint (g_strv_length (four), ==, 4);
  g_assert_cmpstr (four[0], ==, ferry_wordlist[0]);
  g_assert_cmpstr (four[3], ==, ferry_wordlist[3]);

  /* Four letters (or a whole short word) always name exactly one word. */
  for (guint i = 0; i < FERRY_WORDLIST_SIZE; i++)
    {
      g_autofree char *prefix = g_strndup (ferry_wordlist[i], 4);
      g_auto(GStrv) got = ferry_code_complete (prefix, 0);

      g_assert_cmpuint (g_strv_length (got), ==, 1);
      g_assert_cmpstr (got[0], ==, ferry_wordlist[i]);
    }
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/code/wordlist/properties", test_wordlist_properties);
  g_test_add_func ("/code/wordlist/edit-distance-helper", test_edit_distance_helper);
  g_test_add_func ("/code/secret-bits", test_secret_bits);
  g_test_add_func ("/code/generate/format", test_generate_format);
  g_test_add_func ("/code/generate/uses-whole-list", test_generate_uses_whole_list);
  g_test_add_func ("/code/generate/refuses-weak", test_generate_refuses_weak);
  g_test_add_func ("/code/normalize/generated", test_generated_codes_normalize_to_themselves);
  g_test_add_func ("/code/normalize/tolerant", test_normalize_tolerant);
  g_test_add_func ("/code/normalize/errors", test_normalize_errors);
  g_test_add_func ("/code/normalize/null-and-huge", test_normalize_null_and_huge);
  g_test_add_func ("/code/nameplate-and-password", test_nameplate_and_password);
  g_test_add_func ("/code/complete", test_complete);

  return g_test_run ();
}
