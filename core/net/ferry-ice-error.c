/* ferry-ice-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-ice-error.h"

G_DEFINE_QUARK (ferry-ice-error-quark, ferry_ice_error)
