/* ferry-test-coturn.h
 *
 * Starting a real coturn (`turnserver`) on 127.0.0.1 for a test, with the
 * time-limited credentials of its REST scheme (use-auth-secret).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char        *dir;      /* config, log and database live here */
  char        *secret;   /* static-auth-secret */
  char        *realm;
  guint16      port;     /* UDP and TCP listening port on 127.0.0.1 */
} FerryTestCoturn;

FerryTestCoturn *ferry_test_coturn_start            (void);
void             ferry_test_coturn_free             (FerryTestCoturn *coturn);

void             ferry_test_coturn_make_credentials (const char       *secret,
                                                     gint64            expiry,
                                                     char            **username,
                                                     char            **credential);
char            *ferry_test_coturn_dup_ice_json     (FerryTestCoturn  *coturn,
                                                     gboolean          stun,
                                                     gboolean          turn_udp,
                                                     gboolean          turn_tcp);
char            *ferry_test_coturn_dup_address      (FerryTestCoturn  *coturn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestCoturn, ferry_test_coturn_free)

G_END_DECLS
