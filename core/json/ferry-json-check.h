/* ferry-json-check.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bounds every peer message is held to. No message of the transfer
 * protocol comes near them; they exist so that hostile input costs a
 * bounded amount of stack and memory before it is refused.
 */
#define FERRY_JSON_MAX_DEPTH         16
#define FERRY_JSON_MAX_SIZE          ((gsize) 64 * 1024 * 1024)
#define FERRY_JSON_MAX_STRING_BYTES  8192
#define FERRY_JSON_MAX_NUMBER_CHARS  24

#define FERRY_JSON_CHECK_ERROR (ferry_json_check_error_quark ())

/**
 * FerryJsonCheckError:
 * @FERRY_JSON_CHECK_ERROR_SYNTAX: not RFC 8259 JSON (comments, single quotes,
 *   hex or NaN, trailing commas, a raw control character, trailing bytes…)
 * @FERRY_JSON_CHECK_ERROR_TOO_LARGE: the message is longer than allowed
 * @FERRY_JSON_CHECK_ERROR_TOO_DEEP: objects and arrays nest too deeply
 * @FERRY_JSON_CHECK_ERROR_STRING_TOO_LONG: a string is longer than allowed
 * @FERRY_JSON_CHECK_ERROR_NUMBER_TOO_LONG: a number has too many characters
 * @FERRY_JSON_CHECK_ERROR_INVALID_TEXT: invalid UTF-8, a lone surrogate
 *   escape or a NUL character
 */
typedef enum
{
  FERRY_JSON_CHECK_ERROR_SYNTAX,
  FERRY_JSON_CHECK_ERROR_TOO_LARGE,
  FERRY_JSON_CHECK_ERROR_TOO_DEEP,
  FERRY_JSON_CHECK_ERROR_STRING_TOO_LONG,
  FERRY_JSON_CHECK_ERROR_NUMBER_TOO_LONG,
  FERRY_JSON_CHECK_ERROR_INVALID_TEXT,
} FerryJsonCheckError;

GQuark   ferry_json_check_error_quark (void);
gboolean ferry_json_check             (const char  *data,
                                       gsize        len,
                                       GError     **error);

G_END_DECLS
