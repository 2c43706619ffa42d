/* ferry-portmap-gateway.c
 *
 * The default IPv4 gateway, from the kernel's routing table: where NAT-PMP and PCP send
 * their requests unless told otherwise.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ferry-port-mapping.h"
#include "ferry-portmap-gateway.h"

/**
 * ferry_portmap_parse_route_table:
 * @contents: the text of /proc/net/route
 *
 * Finds the IPv4 default gateway (destination and mask 0, flags up and gateway) with the
 * lowest metric. The kernel prints addresses as the host-order value of the network-order
 * word, so the bytes are taken back in host order.
 *
 * Returns: (transfer full): the gateway, or %NULL with %FERRY_PORTMAP_ERROR_NO_GATEWAY
 */
GInetAddress *
ferry_portmap_parse_route_table (const char  *contents,
                                 GError     **error)
{
  g_auto(GStrv) lines = NULL;
  guint32 best_gateway = 0;
  guint64 best_metric = G_MAXUINT64;
  gboolean found = FALSE;

  g_return_val_if_fail (contents != NULL, NULL);

  lines = g_strsplit (contents, "\n", -1);
  /* The first line holds the column names. */
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      g_autoptr(GPtrArray) columns = g_ptr_array_new ();
      guint64 destination, gateway, flags, metric, mask;

      for (guint j = 0; fields[j] != NULL; j++)
        if (fields[j][0] != '\0')
          g_ptr_array_add (columns, fields[j]);
      /* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT */
      if (columns->len < 8)
        continue;
      if (!g_ascii_string_to_unsigned (columns->pdata[1], 16, 0, G_MAXUINT32, &destination, NULL)
          || !g_ascii_string_to_unsigned (columns->pdata[2], 16, 0, G_MAXUINT32, &gateway, NULL)
          || !g_ascii_string_to_unsigned (columns->pdata[3], 16, 0, G_MAXUINT32, &flags, NULL)
          || !g_ascii_string_to_unsigned (columns->pdata[6], 10, 0, G_MAXUINT32, &metric, NULL)
          || !g_ascii_string_to_unsigned (columns->pdata[7], 16, 0, G_MAXUINT32, &mask, NULL))
        continue;
      /* RTF_UP (0x1) and RTF_GATEWAY (0x2) */
      if (destination != 0 || mask != 0 || (flags & 0x3) != 0x3 || gateway == 0)
        continue;
      if (!found || metric < best_metric)
        {
          best_gateway = (guint32) gateway;
          best_metric = metric;
          found = TRUE;
        }
    }

  if (!found)
    {
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_GATEWAY,
                           _("This computer has no router to ask for a port mapping"));
      return NULL;
    }

  return g_inet_address_new_from_bytes ((const guint8 *) &best_gateway, G_SOCKET_FAMILY_IPV4);
}

/**
 * ferry_portmap_discover_gateway:
 *
 * Returns: (transfer full): the IPv4 default gateway of this network namespace
 */
GInetAddress *
ferry_portmap_discover_gateway (GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!g_file_get_contents ("/proc/net/route", &contents, NULL, &local_error))
    {
      g_set_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_GATEWAY,
                   _("Cannot read the routing table: %s"), local_error->message);
      return NULL;
    }

  return ferry_portmap_parse_route_table (contents, error);
}

/**
 * ferry_portmap_default_server:
 *
 * Returns: (transfer full): the default gateway's port-mapping server (port 5351)
 */
GInetSocketAddress *
ferry_portmap_default_server (GError **error)
{
  g_autoptr(GInetAddress) gateway = ferry_portmap_discover_gateway (error);

  if (gateway == NULL)
    return NULL;

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (gateway, FERRY_PORTMAP_SERVER_PORT));
}

GInetSocketAddress *
ferry_portmap_resolve_server (GInetSocketAddress  *server,
                              GError             **error)
{
  if (server == NULL)
    return ferry_portmap_default_server (error);

  if (g_socket_address_get_family (G_SOCKET_ADDRESS (server)) != G_SOCKET_FAMILY_IPV4)
    {
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_GATEWAY,
                           _("Port mapping needs an IPv4 router"));
      return NULL;
    }

  return g_object_ref (server);
}
