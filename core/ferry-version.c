/* ferry-version.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-core"

#include "config.h"

#include <gio/gio.h>
#include <sodium.h>

#include "ferry-version.h"

const char *
ferry_version (void)
{
  return PACKAGE_VERSION;
}

/**
 * ferry_init:
 *
 * Prepares the libraries the core depends on. Every program calls it once
 * before anything else; it is safe to call it again.
 *
 * Returns: %TRUE on success
 */
gboolean
ferry_init (GError **error)
{
  if (sodium_init () < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "libsodium could not be initialised");
      return FALSE;
    }

  return TRUE;
}
