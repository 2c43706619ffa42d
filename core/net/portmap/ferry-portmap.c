/* ferry-portmap.c
 *
 * The one entry point on top of the three clients: ask for a mapping with a named protocol,
 * then renew and delete it with the protocol that made it, so callers need not know which
 * one did.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap"

#include "config.h"

#include "ferry-port-mapping-private.h"
#include "ferry-portmap.h"
#include "ferry-portmap-natpmp.h"
#include "ferry-portmap-pcp.h"
#include "ferry-portmap-upnp.h"

typedef struct
{
  FerryPortmapProtocol protocol;
} MapData;

static void
map_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MapData *data = g_task_get_task_data (task);
  FerryPortMapping *mapping;
  GError *error = NULL;

  if (data->protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    mapping = ferry_portmap_pcp_map_finish (result, &error);
  else if (data->protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    mapping = ferry_portmap_upnp_map_finish (result, &error);
  else
    mapping = ferry_portmap_natpmp_map_finish (result, &error);

  if (mapping == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, mapping, (GDestroyNotify) ferry_port_mapping_unref);
}

/**
 * ferry_portmap_map_async:
 * @protocol: which protocol to ask with
 * @local: the socket address to map (its port is the internal port; UPnP also names its
 *   address to the router)
 * @server: (nullable): the PCP or NAT-PMP server, %NULL for the default gateway; ignored
 *   by UPnP, which finds its router by SSDP
 * @suggested_port: the external port we would like, 0 for any
 * @lifetime: the lifetime to ask for, in seconds
 * @timeout_ms: how long to wait for the router, 0 for the protocol's default
 *
 * Asks the router for a mapping of @local with one protocol. Finish with
 * ferry_portmap_map_finish(), which also says which protocol was asked, failed or not.
 */
void
ferry_portmap_map_async (FerryPortmapProtocol   protocol,
                         GInetSocketAddress    *local,
                         GInetSocketAddress    *server,
                         FerryPortmapTransport  transport,
                         guint16                suggested_port,
                         guint32                lifetime,
                         guint                  timeout_ms,
                         GCancellable          *cancellable,
                         GAsyncReadyCallback    callback,
                         gpointer               user_data)
{
  guint16 internal_port;
  MapData *data;
  GTask *task;

  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (local));
  g_return_if_fail (server == NULL || G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_map_async);
  data = g_new0 (MapData, 1);
  data->protocol = protocol;
  g_task_set_task_data (task, data, g_free);

  internal_port = g_inet_socket_address_get_port (local);
  if (protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    ferry_portmap_pcp_map_async (server, transport, internal_port, suggested_port, lifetime,
                                 timeout_ms, cancellable, map_done_cb, task);
  else if (protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    ferry_portmap_upnp_map_async (local, transport, suggested_port, lifetime, timeout_ms,
                                  cancellable, map_done_cb, task);
  else
    ferry_portmap_natpmp_map_async (server, transport, internal_port, suggested_port, lifetime,
                                    timeout_ms, cancellable, map_done_cb, task);
}

/**
 * ferry_portmap_map_finish:
 * @protocol: (out) (optional): where to store the protocol that was asked
 *
 * Returns: (transfer full): the mapping the router granted, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_map_finish (GAsyncResult          *result,
                          FerryPortmapProtocol  *protocol,
                          GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_map_async,
                        NULL);

  if (protocol != NULL)
    *protocol = ((MapData *) g_task_get_task_data (G_TASK (result)))->protocol;
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
renew_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryPortMapping *mapping = g_task_get_task_data (task);
  FerryPortMapping *renewed;
  GError *error = NULL;

  if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    renewed = ferry_portmap_pcp_renew_finish (result, &error);
  else if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    renewed = ferry_portmap_upnp_renew_finish (result, &error);
  else
    renewed = ferry_portmap_natpmp_renew_finish (result, &error);

  if (renewed == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, renewed, (GDestroyNotify) ferry_port_mapping_unref);
}

/**
 * ferry_portmap_renew_async:
 * @mapping: a mapping from any of the clients (NAT-PMP, PCP, UPnP)
 * @lifetime: the lifetime to ask for, in seconds
 * @timeout_ms: how long to wait for the router, 0 for %FERRY_PORTMAP_DEFAULT_TIMEOUT_MS
 *
 * Asks the same router with the same protocol (and for PCP the same nonce) to extend the
 * mapping, suggesting the external port it has now.
 */
void
ferry_portmap_renew_async (FerryPortMapping    *mapping,
                           guint32              lifetime,
                           guint                timeout_ms,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (lifetime > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_renew_async);
  g_task_set_task_data (task, ferry_port_mapping_ref (mapping),
                        (GDestroyNotify) ferry_port_mapping_unref);

  if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    ferry_portmap_pcp_renew_async (mapping, lifetime, timeout_ms, cancellable,
                                   renew_done_cb, task);
  else if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    ferry_portmap_upnp_renew_async (mapping, lifetime, timeout_ms, cancellable,
                                    renew_done_cb, task);
  else
    ferry_portmap_natpmp_renew_async (mapping, lifetime, timeout_ms, cancellable,
                                      renew_done_cb, task);
}

/**
 * ferry_portmap_renew_finish:
 *
 * Returns: (transfer full): the renewed mapping, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_renew_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_renew_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
unmap_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryPortMapping *mapping = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok;

  if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    ok = ferry_portmap_pcp_unmap_finish (result, &error);
  else if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    ok = ferry_portmap_upnp_unmap_finish (result, &error);
  else
    ok = ferry_portmap_natpmp_unmap_finish (result, &error);

  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * ferry_portmap_unmap_async:
 * @mapping: a mapping from either protocol
 * @timeout_ms: how long to wait for the router, 0 for %FERRY_PORTMAP_DEFAULT_TIMEOUT_MS
 *
 * Deletes the mapping (lifetime 0) with the protocol that made it.
 */
void
ferry_portmap_unmap_async (FerryPortMapping    *mapping,
                           guint                timeout_ms,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_unmap_async);
  g_task_set_task_data (task, ferry_port_mapping_ref (mapping),
                        (GDestroyNotify) ferry_port_mapping_unref);

  if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP)
    ferry_portmap_pcp_unmap_async (mapping, timeout_ms, cancellable, unmap_done_cb, task);
  else if (mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP)
    ferry_portmap_upnp_unmap_async (mapping, timeout_ms, cancellable, unmap_done_cb, task);
  else
    ferry_portmap_natpmp_unmap_async (mapping, timeout_ms, cancellable, unmap_done_cb, task);
}

gboolean
ferry_portmap_unmap_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_unmap_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
