/* fuzz-pcp.c
 *
 * The PCP reply parser, on any datagram that reaches the mapping socket: as the answer to
 * a MAP request, to a renewal and to a deletion. A success always names an address and,
 * unless it answers a deletion, a port.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-portmap-pcp.h"

static const guint8 nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void
parse (const guint8          *data,
       size_t                 size,
       FerryPortmapTransport  transport,
       guint32                lifetime)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = 0;
  guint32 granted = 0;
  gboolean done;

  done = ferry_portmap_pcp_parse_map_reply (data, size, transport, 4477, lifetime, nonce,
                                            &address, &port, &granted, &error);
  if (!done)
    g_assert_true (address == NULL && error == NULL);
  else if (error == NULL)
    {
      g_assert_nonnull (address);
      g_assert_true (lifetime == 0 || port != 0);
    }
  else
    g_assert_null (address);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  parse (data, size, FERRY_PORTMAP_TRANSPORT_UDP, 7200);
  parse (data, size, FERRY_PORTMAP_TRANSPORT_TCP, 7200);
  parse (data, size, FERRY_PORTMAP_TRANSPORT_UDP, 0);

  return 0;
}
