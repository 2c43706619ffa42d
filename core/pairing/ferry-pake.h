/* ferry-pake.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

#include "ferry-seal.h"

G_BEGIN_DECLS

/**
 * FerryPakeRole:
 * @FERRY_PAKE_ROLE_SENDER: the side that made the code (CPace initiator)
 * @FERRY_PAKE_ROLE_RECEIVER: the side that typed the code (CPace responder)
 */
typedef enum
{
  FERRY_PAKE_ROLE_SENDER,
  FERRY_PAKE_ROLE_RECEIVER,
} FerryPakeRole;

#define FERRY_PAKE_KEY_BYTES 32

#define FERRY_PAKE_ERROR (ferry_pake_error_quark ())

/**
 * FerryPakeError:
 * @FERRY_PAKE_ERROR_WRONG_CODE: the two sides did not use the same code
 * @FERRY_PAKE_ERROR_BAD_MESSAGE: the other side sent something that is not a
 *   valid message (wrong size, version or type, or an invalid point)
 * @FERRY_PAKE_ERROR_STATE: a step was called out of order, or after a failure
 */
typedef enum
{
  FERRY_PAKE_ERROR_WRONG_CODE,
  FERRY_PAKE_ERROR_BAD_MESSAGE,
  FERRY_PAKE_ERROR_STATE,
} FerryPakeError;

GQuark ferry_pake_error_quark (void);

#define FERRY_TYPE_PAKE (ferry_pake_get_type ())

G_DECLARE_FINAL_TYPE (FerryPake, ferry_pake, FERRY, PAKE, GObject)

FerryPake     *ferry_pake_new                  (FerryPakeRole   role,
                                                const char     *normalized_code);
FerryPakeRole  ferry_pake_get_role             (FerryPake      *self);
GBytes        *ferry_pake_get_message          (FerryPake      *self);
GBytes        *ferry_pake_process_message      (FerryPake      *self,
                                                GBytes         *peer_message,
                                                GError        **error);
gboolean       ferry_pake_process_confirmation (FerryPake      *self,
                                                GBytes         *peer_confirmation,
                                                GError        **error);
gboolean       ferry_pake_is_confirmed         (FerryPake      *self);
FerrySeal     *ferry_pake_create_seal          (FerryPake      *self,
                                                const char     *purpose);
void           ferry_pake_derive_key           (FerryPake      *self,
                                                const char     *purpose,
                                                guint8          out[FERRY_PAKE_KEY_BYTES]);

G_END_DECLS
