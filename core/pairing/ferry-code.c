/* ferry-code.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-code"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ferry-code.h"
#include "ferry-wordlist.h"

/* The first four letters of every word name it alone (see ferry-wordlist.h). */
#define UNIQUE_PREFIX_LEN 4

/* Error messages quote what was typed; a pasted megabyte should not end up
 * in a dialog. */
#define MAX_QUOTED_CHARS 24

G_DEFINE_QUARK (ferry-code-error-quark, ferry_code_error)

/**
 * ferry_code_secret_bits:
 * @n_words: how many words a code has
 *
 * Returns: how many bits of secret @n_words words carry
 */
guint
ferry_code_secret_bits (guint n_words)
{
  return n_words * FERRY_WORDLIST_BITS;
}

static int
compare_word (const void *key,
              const void *element)
{
  return strcmp (key, *(const char * const *) element);
}

/* Returns the index of @word in the word list, or -1. */
static int
word_index (const char *word)
{
  const char * const *found;

  found = bsearch (word, ferry_wordlist, FERRY_WORDLIST_SIZE, sizeof (char *), compare_word);
  if (found == NULL)
    return -1;

  return found - ferry_wordlist;
}

/**
 * ferry_code_is_word:
 * @word: a lowercase word
 *
 * Returns: %TRUE if @word is one of the code words
 */
gboolean
ferry_code_is_word (const char *word)
{
  g_return_val_if_fail (word != NULL, FALSE);

  return word_index (word) >= 0;
}

/* Index of the first word that is not less than @prefix: words starting
 * with @prefix follow it without gaps, because the list is sorted. */
static guint
lower_bound (const char *prefix)
{
  guint lo = 0;
  guint hi = FERRY_WORDLIST_SIZE;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (strcmp (ferry_wordlist[mid], prefix) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }

  return lo;
}

/* Number of words that start with @prefix; the first is stored in @first. */
static guint
count_prefixed (const char  *prefix,
                const char **first)
{
  guint start = lower_bound (prefix);
  guint i;

  for (i = start; i < FERRY_WORDLIST_SIZE; i++)
    if (!g_str_has_prefix (ferry_wordlist[i], prefix))
      break;

  *first = i > start ? ferry_wordlist[start] : NULL;
  return i - start;
}

/* TRUE if one substitution, insertion, deletion or swap of two neighbouring
 * letters turns @a into @b. */
static gboolean
one_edit_apart (const char *a,
                const char *b)
{
  gsize la = strlen (a);
  gsize lb = strlen (b);
  gsize i = 0;

  if (la > lb)
    {
      const char *t = a;
      gsize tl = la;

      a = b;
      b = t;
      la = lb;
      lb = tl;
    }

  if (lb - la > 1)
    return FALSE;

  while (i < la && a[i] == b[i])
    i++;

  if (la == lb)
    {
      if (i == la)
        return FALSE;
      /* One substitution, or one swap of neighbours. */
      if (strcmp (a + i + 1, b + i + 1) == 0)
        return TRUE;
      return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
             strcmp (a + i + 2, b + i + 2) == 0;
    }

  /* @b has one letter more: skip it. */
  return strcmp (a + i, b + i + 1) == 0;
}

/* A word the person probably meant by @typed, or NULL if there is no single
 * good guess. */
static const char *
suggest_word (const char *typed)
{
  const char *candidate = NULL;
  const char *first;
  gsize len = strlen (typed);

  if (len >= UNIQUE_PREFIX_LEN)
    {
      char prefix[UNIQUE_PREFIX_LEN + 1];

      memcpy (prefix, typed, UNIQUE_PREFIX_LEN);
      prefix[UNIQUE_PREFIX_LEN] = '\0';
      if (count_prefixed (prefix, &first) == 1)
        return first;
    }
  else if (len > 0 && count_prefixed (typed, &first) == 1)
    {
      return first;
    }

  for (guint i = 0; i < FERRY_WORDLIST_SIZE; i++)
    {
      if (!one_edit_apart (typed, ferry_wordlist[i]))
        continue;
      if (candidate != NULL)
        return NULL;
      candidate = ferry_wordlist[i];
    }

  return candidate;
}

/* @text shortened for quoting in a message. */
static char *
quote_for_message (const char *text)
{
  g_autofree char *start = NULL;

  if (g_utf8_strlen (text, -1) <= MAX_QUOTED_CHARS)
    return g_strdup (text);

  start = g_utf8_substring (text, 0, MAX_QUOTED_CHARS);
  return g_strconcat (start, "…", NULL);
}

typedef enum
{
  CHAR_SEPARATOR,
  CHAR_DIGIT,
  CHAR_LETTER,
  CHAR_INVALID,
} CharClass;

static CharClass
classify (gunichar c)
{
  if (c >= '0' && c <= '9')
    return CHAR_DIGIT;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return CHAR_LETTER;
  if (c == '-' || c == '_' || c == '.' || c == ',')
    return CHAR_SEPARATOR;
  /* Codes get read aloud, written down and pasted from chat programs,
   * which turn spaces into no-break spaces and dashes into en dashes. */
  if (g_unichar_isspace (c) || g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR ||
      g_unichar_type (c) == G_UNICODE_DASH_PUNCTUATION)
    return CHAR_SEPARATOR;

  return CHAR_INVALID;
}

/* Splits @input into runs of digits and runs of letters; anything else
 * must be a separator. "7orbit" gives "7" and "orbit", as a person meant. */
static GPtrArray *
tokenize (const char  *input,
          GError     **error)
{
  g_autoptr(GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  const char *start = NULL;
  CharClass start_class = CHAR_SEPARATOR;
  const char *p;

  for (p = input; ; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      CharClass klass = c == 0 ? CHAR_SEPARATOR : classify (c);

      if (klass == CHAR_INVALID)
        {
          g_autofree char *shown = NULL;

          if (g_unichar_isprint (c))
            shown = g_strdup_printf ("“%.*s”", (int) (g_utf8_next_char (p) - p), p);
          else
            shown = g_strdup_printf ("U+%04X", c);

          g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_INVALID_CHARACTERS,
                       _("The code contains %s, which cannot be part of a code. "
                         "A code has a number and words, like “7-orbit-tulip-canvas”."),
                       shown);
          return NULL;
        }

      if (start != NULL && klass != start_class)
        {
          g_ptr_array_add (tokens, g_ascii_strdown (start, p - start));
          start = NULL;
        }

      if (start == NULL && klass != CHAR_SEPARATOR)
        {
          start = p;
          start_class = klass;
        }

      if (c == 0)
        break;
    }

  return g_steal_pointer (&tokens);
}

static gboolean
is_all_digits (const char *s)
{
  if (*s == '\0')
    return FALSE;

  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;

  return TRUE;
}

/**
 * ferry_code_is_valid_nameplate:
 * @nameplate: a nameplate
 *
 * Returns: %TRUE if @nameplate is 1 to 9 decimal digits without leading zeros
 */
gboolean
ferry_code_is_valid_nameplate (const char *nameplate)
{
  g_return_val_if_fail (nameplate != NULL, FALSE);

  return is_all_digits (nameplate) &&
         nameplate[0] != '0' &&
         strlen (nameplate) <= FERRY_CODE_MAX_NAMEPLATE_DIGITS;
}

static gboolean
check_nameplate (const char  *token,
                 GError     **error)
{
  g_autofree char *quoted = quote_for_message (token);

  if (!is_all_digits (token))
    {
      g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_NO_NAMEPLATE,
                   _("A code starts with its number, like the 7 in “7-orbit-tulip-canvas”, "
                     "but this one starts with “%s”."),
                   quoted);
      return FALSE;
    }

  if (token[0] == '0')
    {
      g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_BAD_NAMEPLATE,
                   _("The number at the start of a code never begins with 0, "
                     "so “%s” cannot be right."),
                   quoted);
      return FALSE;
    }

  if (strlen (token) > FERRY_CODE_MAX_NAMEPLATE_DIGITS)
    {
      g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_BAD_NAMEPLATE,
                   _("The number at the start of a code has at most %d digits, "
                     "so “%s” cannot be right."),
                   FERRY_CODE_MAX_NAMEPLATE_DIGITS, quoted);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_word (const char  *token,
            GError     **error)
{
  g_autofree char *quoted = NULL;
  const char *suggestion;

  if (word_index (token) >= 0)
    return TRUE;

  quoted = quote_for_message (token);

  if (is_all_digits (token))
    {
      g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_UNKNOWN_WORD,
                   _("“%s” is not a code word: only the first part of a code is a number."),
                   quoted);
      return FALSE;
    }

  suggestion = suggest_word (token);
  if (suggestion != NULL)
    g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_UNKNOWN_WORD,
                 _("“%s” is not a code word. Did you mean “%s”?"),
                 quoted, suggestion);
  else
    g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_UNKNOWN_WORD,
                 _("“%s” is not a code word. Please check the code with the sender."),
                 quoted);

  return FALSE;
}

/* The runs of @input (see tokenize()) after separators and a leading
 * "ferry:". */
static GPtrArray *
tokenize_code (const char  *input,
               GError     **error)
{
  const char *p;

  for (p = input; *p != '\0' && classify (g_utf8_get_char (p)) == CHAR_SEPARATOR;
       p = g_utf8_next_char (p))
    ;
  if (g_ascii_strncasecmp (p, "ferry:", strlen ("ferry:")) == 0)
    p += strlen ("ferry:");

  return tokenize (p, error);
}

/**
 * ferry_code_dup_corrected:
 * @input: a code as a person typed it, which ferry_code_normalize() refused
 *
 * The code the person probably meant, for asking again with it filled in:
 * @input in canonical form with each word that is not a code word replaced
 * by the one ferry_code_normalize()'s error suggests. The result may still
 * be no code (a word too few, say); the person reads it before it is used.
 *
 * Returns: (transfer full) (nullable): the corrected code, or %NULL when no
 *   word needs correcting, a word has no single good guess, or @input is
 *   not a code in another way (its number, its characters)
 */
char *
ferry_code_dup_corrected (const char *input)
{
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GString) code = NULL;
  gboolean corrected = FALSE;

  g_return_val_if_fail (input != NULL, NULL);

  if (!g_utf8_validate (input, -1, NULL))
    return NULL;
  tokens = tokenize_code (input, NULL);
  if (tokens == NULL || tokens->len == 0 || !check_nameplate (g_ptr_array_index (tokens, 0), NULL))
    return NULL;

  code = g_string_new (g_ptr_array_index (tokens, 0));
  for (guint i = 1; i < tokens->len; i++)
    {
      const char *word = g_ptr_array_index (tokens, i);

      if (word_index (word) < 0)
        {
          word = is_all_digits (word) ? NULL : suggest_word (word);
          if (word == NULL)
            return NULL;
          corrected = TRUE;
        }
      g_string_append_c (code, '-');
      g_string_append (code, word);
    }

  return corrected ? g_string_free (g_steal_pointer (&code), FALSE) : NULL;
}

/**
 * ferry_code_normalize:
 * @input: a code as a person typed or pasted it
 * @error: return location for a #FERRY_CODE_ERROR
 *
 * Turns @input into the canonical form "NAMEPLATE-word-word-word". Case,
 * surrounding whitespace and separators (spaces, '-', '_', '.', ',', any
 * number of them, and Unicode spaces and dashes) do not matter, and a
 * leading "ferry:" (the URI scheme) is ignored.
 *
 * Words must be typed in full: a unique four-letter prefix is not accepted
 * here, because a code that works only by luck teaches people to type less
 * than the sender reads out. The error for an unknown word suggests the
 * word that was probably meant, and ferry_code_complete() finishes words
 * while typing.
 *
 * Returns: (transfer full): the canonical code, or %NULL with @error set
 */
char *
ferry_code_normalize (const char  *input,
                      GError     **error)
{
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(GString) code = NULL;
  guint n_words;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (input == NULL)
    input = "";

  if (!g_utf8_validate (input, -1, NULL))
    {
      g_set_error_literal (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_INVALID_CHARACTERS,
                           _("The code contains characters that are not text."));
      return NULL;
    }

  tokens = tokenize_code (input, error);
  if (tokens == NULL)
    return NULL;

  if (tokens->len == 0)
    {
      g_set_error_literal (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_EMPTY,
                           _("No code was entered."));
      return NULL;
    }

  if (!check_nameplate (g_ptr_array_index (tokens, 0), error))
    return NULL;

  /* Report the first unknown word before counting, so that a typo in the
   * last word is not mistaken for a missing word. */
  for (guint i = 1; i < tokens->len; i++)
    if (!check_word (g_ptr_array_index (tokens, i), error))
      return NULL;

  n_words = tokens->len - 1;
  if (n_words < FERRY_CODE_MIN_WORDS)
    {
      if (n_words == 0)
        g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_TOO_FEW_WORDS,
                     _("The code has only its number. The words after it are missing."));
      else
        g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_TOO_FEW_WORDS,
                     g_dngettext (GETTEXT_PACKAGE,
                                  "The code has only %u word; a code has at least %u.",
                                  "The code has only %u words; a code has at least %u.",
                                  n_words),
                     n_words, (guint) FERRY_CODE_MIN_WORDS);
      return NULL;
    }

  if (n_words > FERRY_CODE_MAX_WORDS)
    {
      g_set_error (error, FERRY_CODE_ERROR, FERRY_CODE_ERROR_TOO_MANY_WORDS,
                   _("The code has %u words; a code has at most %u."),
                   n_words, (guint) FERRY_CODE_MAX_WORDS);
      return NULL;
    }

  code = g_string_new (g_ptr_array_index (tokens, 0));
  for (guint i = 1; i < tokens->len; i++)
    {
      g_string_append_c (code, '-');
      g_string_append (code, g_ptr_array_index (tokens, i));
    }

  return g_string_free (g_steal_pointer (&code), FALSE);
}

/**
 * ferry_code_is_normalized:
 * @code: a string
 *
 * Returns: %TRUE if @code is a valid code in canonical form
 */
gboolean
ferry_code_is_normalized (const char *code)
{
  g_autofree char *normalized = NULL;

  g_return_val_if_fail (code != NULL, FALSE);

  normalized = ferry_code_normalize (code, NULL);
  return normalized != NULL && strcmp (normalized, code) == 0;
}

/**
 * ferry_code_generate:
 * @nameplate: the nameplate the rendezvous server handed out
 * @n_words: how many words, %FERRY_CODE_MIN_WORDS to %FERRY_CODE_MAX_WORDS
 *
 * Makes a new code with words drawn uniformly from the word list by
 * libsodium's random generator (ferry_init() must have run).
 *
 * Returns: (transfer full): the code, in canonical form
 */
char *
ferry_code_generate (const char *nameplate,
                     guint       n_words)
{
  g_autoptr(GString) code = NULL;

  g_return_val_if_fail (nameplate != NULL, NULL);
  g_return_val_if_fail (ferry_code_is_valid_nameplate (nameplate), NULL);
  g_return_val_if_fail (n_words >= FERRY_CODE_MIN_WORDS, NULL);
  g_return_val_if_fail (n_words <= FERRY_CODE_MAX_WORDS, NULL);

  code = g_string_new (nameplate);
  for (guint i = 0; i < n_words; i++)
    {
      g_string_append_c (code, '-');
      g_string_append (code, ferry_wordlist[randombytes_uniform (FERRY_WORDLIST_SIZE)]);
    }

  return g_string_free (g_steal_pointer (&code), FALSE);
}

/**
 * ferry_code_get_nameplate:
 * @normalized: a code in canonical form
 *
 * Returns: (transfer full): the nameplate of @normalized
 */
char *
ferry_code_get_nameplate (const char *normalized)
{
  g_return_val_if_fail (normalized != NULL, NULL);
  g_return_val_if_fail (ferry_code_is_normalized (normalized), NULL);

  return g_strndup (normalized, strchr (normalized, '-') - normalized);
}

/**
 * ferry_code_get_password:
 * @normalized: a code in canonical form
 *
 * Returns: (transfer full): the secret part of @normalized: its words,
 *   joined by '-'
 */
char *
ferry_code_get_password (const char *normalized)
{
  g_return_val_if_fail (normalized != NULL, NULL);
  g_return_val_if_fail (ferry_code_is_normalized (normalized), NULL);

  return g_strdup (strchr (normalized, '-') + 1);
}

/**
 * ferry_code_get_n_words:
 * @normalized: a code in canonical form
 *
 * Returns: how many words @normalized has
 */
guint
ferry_code_get_n_words (const char *normalized)
{
  guint n = 0;

  g_return_val_if_fail (normalized != NULL, 0);
  g_return_val_if_fail (ferry_code_is_normalized (normalized), 0);

  for (const char *p = normalized; *p != '\0'; p++)
    if (*p == '-')
      n++;

  return n;
}

/**
 * ferry_code_complete:
 * @prefix: what has been typed so far, possibly a whole partial code
 * @max: at most how many candidates to return, or 0 for all of them
 *
 * Finds the words that could finish the word being typed: the letters at
 * the end of @prefix, in any case. Nothing is offered before the first
 * letter of a word, since all 2048 words would be no help.
 *
 * Returns: (transfer full): the candidate words in alphabetical order,
 *   possibly none, never %NULL
 */
GStrv
ferry_code_complete (const char *prefix,
                     guint       max)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *last = NULL;
  gsize len;
  gsize start;

  g_return_val_if_fail (prefix != NULL, NULL);

  len = strlen (prefix);
  start = len;
  while (start > 0 && g_ascii_isalpha (prefix[start - 1]))
    start--;

  /* No word is longer than 8 letters; a longer run cannot complete. */
  if (start < len && len - start <= 8)
    {
      guint n = 0;

      last = g_ascii_strdown (prefix + start, len - start);
      for (guint i = lower_bound (last); i < FERRY_WORDLIST_SIZE; i++)
        {
          if (!g_str_has_prefix (ferry_wordlist[i], last) || (max > 0 && n == max))
            break;
          g_strv_builder_add (builder, ferry_wordlist[i]);
          n++;
        }
    }

  return g_strv_builder_end (builder);
}
