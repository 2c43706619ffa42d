/* ferry-seal.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define FERRY_SEAL_KEY_BYTES 32

/* Bytes a sealed message adds to its plaintext. */
#define FERRY_SEAL_OVERHEAD (1 + 8 + 16)

#define FERRY_SEAL_ERROR (ferry_seal_error_quark ())

/**
 * FerrySealError:
 * @FERRY_SEAL_ERROR_BAD_MESSAGE: not a sealed message (too short, unknown version)
 * @FERRY_SEAL_ERROR_TAMPERED: the message was changed on its way, or was sealed
 *   with another key
 * @FERRY_SEAL_ERROR_REPLAYED: a genuine message, but not the next one: it was
 *   already opened, or came out of order because one before it is missing
 */
typedef enum
{
  FERRY_SEAL_ERROR_BAD_MESSAGE,
  FERRY_SEAL_ERROR_TAMPERED,
  FERRY_SEAL_ERROR_REPLAYED,
} FerrySealError;

GQuark ferry_seal_error_quark (void);

#define FERRY_TYPE_SEAL (ferry_seal_get_type ())

G_DECLARE_FINAL_TYPE (FerrySeal, ferry_seal, FERRY, SEAL, GObject)

FerrySeal *ferry_seal_new                (const guint8  send_key[FERRY_SEAL_KEY_BYTES],
                                          const guint8  recv_key[FERRY_SEAL_KEY_BYTES]);
GBytes    *ferry_seal_seal               (FerrySeal     *self,
                                          GBytes        *plain);
GBytes    *ferry_seal_open               (FerrySeal     *self,
                                          GBytes        *sealed,
                                          GError       **error);
guint64    ferry_seal_get_n_sent         (FerrySeal     *self);
guint64    ferry_seal_get_n_received     (FerrySeal     *self);

G_END_DECLS
