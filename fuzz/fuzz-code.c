/* fuzz-code.c
 *
 * The share-code parser: whatever a person types or pastes (or a ferry: link carries).
 * A code it accepts must be canonical, split into a valid nameplate and a password, and
 * normalize to itself.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-code.h"
#include "ferry-fuzz.h"

static void
check_accepted (const char *code)
{
  g_autofree char *nameplate = ferry_code_get_nameplate (code);
  g_autofree char *password = ferry_code_get_password (code);
  g_autofree char *again = NULL;
  guint n_words = ferry_code_get_n_words (code);

  g_assert_true (ferry_code_is_normalized (code));
  g_assert_true (ferry_code_is_valid_nameplate (nameplate));
  g_assert_nonnull (password);
  g_assert_cmpuint (n_words, >=, FERRY_CODE_MIN_WORDS);
  g_assert_cmpuint (n_words, <=, FERRY_CODE_MAX_WORDS);

  again = ferry_code_normalize (code, NULL);
  g_assert_cmpstr (again, ==, code);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *input = ferry_fuzz_dup_string (data, size);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = ferry_code_normalize (input, &error);
  g_auto(GStrv) completions = NULL;

  if (code != NULL)
    check_accepted (code);
  else
    g_assert_nonnull (error);

  /* What a person typed so far also goes through completion and the word checks. */
  if (g_utf8_validate (input, -1, NULL))
    {
      completions = ferry_code_complete (input, 8);
      ferry_code_is_word (input);
      ferry_code_is_valid_nameplate (input);
    }

  return 0;
}
