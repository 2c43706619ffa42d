/* test-version.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-test-utils.h"
#include "ferry-version.h"

static void
test_version_matches_build (void)
{
  g_assert_cmpstr (ferry_version (), ==, PACKAGE_VERSION);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/version/matches-build", test_version_matches_build);

  return g_test_run ();
}
