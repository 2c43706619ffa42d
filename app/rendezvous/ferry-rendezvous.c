/* ferry-rendezvous.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <stdlib.h>

#include "ferry-version.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;

  if (!ferry_init (&error))
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  g_print ("ferry-rendezvous %s\n", ferry_version ());
  return EXIT_SUCCESS;
}
