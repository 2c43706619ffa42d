/* ferry-code.h
 *
 * Share codes: "NAMEPLATE-word-word-word", e.g. "7-orbit-tulip-canvas".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Codes always carry at least 32 bits of secret: three words of 11 bits.
 * There is deliberately no way to make or accept a weaker code, not even
 * for tests, so a weak code can never leak into a real transfer. */
#define FERRY_CODE_MIN_WORDS      3
#define FERRY_CODE_MAX_WORDS      8
#define FERRY_CODE_DEFAULT_WORDS  3
#define FERRY_CODE_MIN_SECRET_BITS 32

/* A nameplate is a decimal number of 1 to 9 digits without leading zeros. */
#define FERRY_CODE_MAX_NAMEPLATE_DIGITS 9

#define FERRY_CODE_ERROR (ferry_code_error_quark ())

/**
 * FerryCodeError:
 * @FERRY_CODE_ERROR_EMPTY: nothing was typed
 * @FERRY_CODE_ERROR_NO_NAMEPLATE: the code does not start with its number
 * @FERRY_CODE_ERROR_BAD_NAMEPLATE: the number is too long or has leading zeros
 * @FERRY_CODE_ERROR_UNKNOWN_WORD: a word is not in Ferry's word list
 * @FERRY_CODE_ERROR_TOO_FEW_WORDS: fewer than %FERRY_CODE_MIN_WORDS words
 * @FERRY_CODE_ERROR_TOO_MANY_WORDS: more than %FERRY_CODE_MAX_WORDS words
 * @FERRY_CODE_ERROR_INVALID_CHARACTERS: something that is neither a digit, a
 *   letter nor a separator
 */
typedef enum
{
  FERRY_CODE_ERROR_EMPTY,
  FERRY_CODE_ERROR_NO_NAMEPLATE,
  FERRY_CODE_ERROR_BAD_NAMEPLATE,
  FERRY_CODE_ERROR_UNKNOWN_WORD,
  FERRY_CODE_ERROR_TOO_FEW_WORDS,
  FERRY_CODE_ERROR_TOO_MANY_WORDS,
  FERRY_CODE_ERROR_INVALID_CHARACTERS,
} FerryCodeError;

GQuark    ferry_code_error_quark        (void);

char     *ferry_code_generate           (const char  *nameplate,
                                         guint        n_words);
char     *ferry_code_normalize          (const char  *input,
                                         GError     **error);
char     *ferry_code_dup_corrected      (const char  *input);
gboolean  ferry_code_is_normalized      (const char  *code);
char     *ferry_code_get_nameplate      (const char  *normalized);
char     *ferry_code_get_password       (const char  *normalized);
guint     ferry_code_get_n_words        (const char  *normalized);
gboolean  ferry_code_is_valid_nameplate (const char  *nameplate);
gboolean  ferry_code_is_word            (const char  *word);
GStrv     ferry_code_complete           (const char  *prefix,
                                         guint        max);
guint     ferry_code_secret_bits        (guint        n_words);

G_END_DECLS
