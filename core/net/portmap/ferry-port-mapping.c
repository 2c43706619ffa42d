/* ferry-port-mapping.c
 *
 * A mapping a router granted: which protocol made it, where it points and until when.
 * Only the clients that make mappings fill one in.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap"

#include "config.h"

#include <string.h>

#include "ferry-port-mapping-private.h"

G_DEFINE_QUARK (ferry-portmap-error-quark, ferry_portmap_error)

G_DEFINE_BOXED_TYPE (FerryPortMapping, ferry_port_mapping,
                     ferry_port_mapping_ref, ferry_port_mapping_unref)

FerryPortMapping *
ferry_port_mapping_new (FerryPortmapProtocol   protocol,
                        FerryPortmapTransport  transport,
                        GInetSocketAddress    *server,
                        guint16                internal_port,
                        GInetAddress          *external_address,
                        guint16                external_port,
                        guint32                lifetime,
                        const guint8          *nonce)
{
  FerryPortMapping *mapping = g_new0 (FerryPortMapping, 1);

  g_atomic_ref_count_init (&mapping->ref_count);
  mapping->protocol = protocol;
  mapping->transport = transport;
  mapping->server = g_object_ref (server);
  mapping->internal_port = internal_port;
  mapping->external_address = g_object_ref (external_address);
  mapping->external_port = external_port;
  mapping->lifetime = lifetime;
  mapping->expiry = g_get_monotonic_time () + (gint64) lifetime * G_USEC_PER_SEC;
  if (nonce != NULL)
    memcpy (mapping->nonce, nonce, sizeof mapping->nonce);

  return mapping;
}

FerryPortMapping *
ferry_port_mapping_ref (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);

  g_atomic_ref_count_inc (&mapping->ref_count);
  return mapping;
}

void
ferry_port_mapping_unref (FerryPortMapping *mapping)
{
  g_return_if_fail (mapping != NULL);

  if (!g_atomic_ref_count_dec (&mapping->ref_count))
    return;

  g_clear_object (&mapping->server);
  g_clear_object (&mapping->external_address);
  g_clear_object (&mapping->internal_address);
  g_free (mapping->upnp_control_url);
  g_free (mapping->upnp_service_type);
  g_free (mapping);
}

FerryPortmapProtocol
ferry_port_mapping_get_protocol (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, FERRY_PORTMAP_PROTOCOL_NATPMP);
  return mapping->protocol;
}

FerryPortmapTransport
ferry_port_mapping_get_transport (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, FERRY_PORTMAP_TRANSPORT_UDP);
  return mapping->transport;
}

/**
 * ferry_port_mapping_get_server:
 *
 * Returns: (transfer none): the router (address and port) that granted the mapping
 */
GInetSocketAddress *
ferry_port_mapping_get_server (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);
  return mapping->server;
}

guint16
ferry_port_mapping_get_internal_port (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);
  return mapping->internal_port;
}

/**
 * ferry_port_mapping_get_external_address:
 *
 * Returns: (transfer none): the router's public address as the router reports it
 */
GInetAddress *
ferry_port_mapping_get_external_address (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);
  return mapping->external_address;
}

guint16
ferry_port_mapping_get_external_port (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);
  return mapping->external_port;
}

/**
 * ferry_port_mapping_get_lifetime:
 *
 * Returns: the lifetime in seconds the router granted (it may differ from the request)
 */
guint32
ferry_port_mapping_get_lifetime (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);
  return mapping->lifetime;
}

/**
 * ferry_port_mapping_get_expiry:
 *
 * Returns: when the mapping ends unless renewed, in g_get_monotonic_time() microseconds
 */
gint64
ferry_port_mapping_get_expiry (FerryPortMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);
  return mapping->expiry;
}

char *
ferry_port_mapping_to_string (FerryPortMapping *mapping)
{
  g_autofree char *external = NULL;

  g_return_val_if_fail (mapping != NULL, NULL);

  external = g_inet_address_to_string (mapping->external_address);
  return g_strdup_printf ("%s %s %s:%u -> port %u for %u s",
                          mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP ? "PCP" :
                          mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP ? "UPnP" : "NAT-PMP",
                          mapping->transport == FERRY_PORTMAP_TRANSPORT_TCP ? "TCP" : "UDP",
                          external, mapping->external_port, mapping->internal_port,
                          mapping->lifetime);
}
