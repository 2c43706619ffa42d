/* ferry-ice-error.h
 *
 * The error domain of the ICE layer: the session and its server settings.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_ICE_ERROR (ferry_ice_error_quark ())

/**
 * FerryIceError:
 * @FERRY_ICE_ERROR_FAILED: every candidate pair was tried and none works
 * @FERRY_ICE_ERROR_TIMEOUT: nothing connected before the deadline
 * @FERRY_ICE_ERROR_BAD_CONFIG: the STUN/TURN settings cannot be used
 * @FERRY_ICE_ERROR_BAD_MESSAGE: a signalling message from the peer is malformed
 * @FERRY_ICE_ERROR_CLOSED: the session was closed or is in the wrong state
 */
typedef enum
{
  FERRY_ICE_ERROR_FAILED,
  FERRY_ICE_ERROR_TIMEOUT,
  FERRY_ICE_ERROR_BAD_CONFIG,
  FERRY_ICE_ERROR_BAD_MESSAGE,
  FERRY_ICE_ERROR_CLOSED,
} FerryIceError;

GQuark ferry_ice_error_quark (void);

G_END_DECLS
