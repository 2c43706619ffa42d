/* fuzz-upnp-ssdp.c
 *
 * The SSDP search-reply parser: any datagram that reaches the UPnP search socket, from
 * anyone on the LAN. A LOCATION it returns is always an http URL (any case, as URL schemes
 * are) to an IPv4 host.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-portmap-upnp.h"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *location = NULL;

  location = ferry_portmap_upnp_parse_ssdp_reply ((const char *) data, size, &error);
  g_assert_true ((location == NULL) == (error != NULL));
  if (location != NULL)
    g_assert_true (g_ascii_strncasecmp (location, "http://", 7) == 0);

  return 0;
}
