/* fuzz-natpmp.c
 *
 * The NAT-PMP reply parsers, on any datagram that reaches the mapping socket: as the
 * answer to an external-address request, to a map request and to a deletion.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-portmap-natpmp.h"

static void
parse_external_address (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  if (!ferry_portmap_natpmp_parse_external_address_reply (data, size, &address, &error))
    g_assert_true (address == NULL && error == NULL);
  else
    g_assert_true ((address == NULL) != (error == NULL));
}

static void
parse_map (const guint8          *data,
           size_t                 size,
           FerryPortmapTransport  transport,
           guint32                lifetime)
{
  g_autoptr(GError) error = NULL;
  guint16 port = 0;
  guint32 granted = 0;

  if (!ferry_portmap_natpmp_parse_map_reply (data, size, transport, 4477, lifetime, &port,
                                             &granted, &error))
    g_assert_null (error);
  else if (error == NULL)
    g_assert_true (lifetime == 0 || port != 0);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  parse_external_address (data, size);
  parse_map (data, size, FERRY_PORTMAP_TRANSPORT_UDP, 7200);
  parse_map (data, size, FERRY_PORTMAP_TRANSPORT_TCP, 7200);
  parse_map (data, size, FERRY_PORTMAP_TRANSPORT_UDP, 0);

  return 0;
}
