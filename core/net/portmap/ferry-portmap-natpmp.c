/* ferry-portmap-natpmp.c
 *
 * NAT-PMP (RFC 6886). A mapping takes two exchanges: the external address request (the map
 * response does not carry the address) and the map request itself. Renewing repeats the map
 * request with the port the router gave; deleting sends lifetime 0.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap-natpmp"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ferry-port-mapping-private.h"
#include "ferry-portmap-exchange.h"
#include "ferry-portmap-gateway.h"
#include "ferry-portmap-natpmp.h"

#define NATPMP_VERSION          0
#define OP_EXTERNAL_ADDRESS     0
#define OP_MAP_UDP              1
#define OP_MAP_TCP              2
#define OP_REPLY                128
#define EXTERNAL_ADDRESS_LENGTH 12
#define MAP_REQUEST_LENGTH      12
#define MAP_REPLY_LENGTH        16
#define ERROR_REPLY_MIN_LENGTH  8   /* version, opcode, result, epoch */

typedef struct
{
  GInetSocketAddress    *server;
  FerryPortmapTransport  transport;
  guint16                internal_port;
  guint16                suggested_port;
  guint32                lifetime;
  guint                  timeout_ms;
  GInetAddress          *external_address;
} MapOp;

typedef struct
{
  guint16 external_port;
  guint32 lifetime;
} MapReply;

static void
map_op_free (MapOp *op)
{
  g_clear_object (&op->server);
  g_clear_object (&op->external_address);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MapOp, map_op_free)

static guint8
map_opcode (FerryPortmapTransport transport)
{
  return transport == FERRY_PORTMAP_TRANSPORT_TCP ? OP_MAP_TCP : OP_MAP_UDP;
}

static GError *
result_error (guint16 result)
{
  switch (result)
    {
    case 1:
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                  _("The router does not support this version of NAT-PMP"));
    case 2:
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED,
                                  _("The router refused the port mapping"));
    case 3:
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NETWORK_FAILURE,
                                  _("The router has no public internet address to map a port on"));
    case 4:
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_RESOURCES,
                                  _("The router has no port mappings left"));
    case 5:
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                  _("The router does not support this NAT-PMP request"));
    default:
      return g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                          _("The router answered with the unknown NAT-PMP result %u"), result);
    }
}

/* Returns %FALSE for a datagram that is not a reply to @opcode (ignore it), %TRUE with
 * @error set for a failure reply, and %TRUE alone for a success of the exact length. */
static gboolean
check_reply (const guint8  *data,
             gsize          length,
             guint8         opcode,
             gsize          success_length,
             GError       **error)
{
  guint16 result;

  if (length < ERROR_REPLY_MIN_LENGTH || length > success_length
      || data[0] != NATPMP_VERSION || data[1] != (OP_REPLY | opcode))
    return FALSE;

  result = ferry_portmap_read16 (data + 2);
  if (result != 0)
    {
      g_propagate_error (error, result_error (result));
      return TRUE;
    }

  return length == success_length;
}

static GBytes *
build_external_address (GInetAddress *local_address,
                        gpointer      user_data)
{
  static const guint8 request[2] = { NATPMP_VERSION, OP_EXTERNAL_ADDRESS };

  return g_bytes_new_static (request, sizeof request);
}

static gboolean
parse_external_address (const guint8  *data,
                        gsize          length,
                        gpointer       user_data,
                        gpointer      *result,
                        GError       **error)
{
  GInetAddress *address;

  if (!check_reply (data, length, OP_EXTERNAL_ADDRESS, EXTERNAL_ADDRESS_LENGTH, error))
    return FALSE;
  if (error != NULL && *error != NULL)
    return TRUE;

  address = g_inet_address_new_from_bytes (data + 8, G_SOCKET_FAMILY_IPV4);
  /* RFC 6886 §3.2: 0.0.0.0 means the router has no public address (yet). */
  if (g_inet_address_get_is_any (address))
    {
      g_object_unref (address);
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NETWORK_FAILURE,
                           _("The router has no public address"));
      return TRUE;
    }

  *result = address;
  return TRUE;
}

static const FerryPortmapExchangeFuncs external_address_funcs = {
  build_external_address,
  parse_external_address,
  g_object_unref,
};

static GBytes *
build_map (GInetAddress *local_address,
           gpointer      user_data)
{
  MapOp *op = user_data;
  guint8 *request = g_malloc0 (MAP_REQUEST_LENGTH);

  request[0] = NATPMP_VERSION;
  request[1] = map_opcode (op->transport);
  ferry_portmap_write16 (request + 4, op->internal_port);
  ferry_portmap_write16 (request + 6, op->suggested_port);
  ferry_portmap_write32 (request + 8, op->lifetime);

  return g_bytes_new_take (request, MAP_REQUEST_LENGTH);
}

static gboolean
parse_map (const guint8  *data,
           gsize          length,
           gpointer       user_data,
           gpointer      *result,
           GError       **error)
{
  MapOp *op = user_data;
  MapReply *reply;

  if (!check_reply (data, length, map_opcode (op->transport), MAP_REPLY_LENGTH, error))
    return FALSE;
  /* Even a failure must be about our port when it is long enough to say so. */
  if (length >= 10 && ferry_portmap_read16 (data + 8) != op->internal_port)
    {
      g_clear_error (error);
      return FALSE;
    }
  if (error != NULL && *error != NULL)
    return TRUE;

  reply = g_new0 (MapReply, 1);
  reply->external_port = ferry_portmap_read16 (data + 10);
  reply->lifetime = ferry_portmap_read32 (data + 12);

  /* A mapping needs a port; only a deletion may answer with none. */
  if (op->lifetime > 0 && reply->external_port == 0)
    {
      g_free (reply);
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                           _("The router answered without an external port"));
      return TRUE;
    }

  *result = reply;
  return TRUE;
}

static const FerryPortmapExchangeFuncs map_funcs = {
  build_map,
  parse_map,
  g_free,
};

/**
 * ferry_portmap_natpmp_parse_external_address_reply:
 * @external_address: (out) (transfer full): on success, the router's public address
 *
 * One datagram read as the answer to an external-address request, as an exchange reads it:
 * for tests and fuzzing.
 *
 * Returns: %FALSE to ignore the datagram; %TRUE when it ends the exchange, with @error set
 *   if the router answered with a failure
 */
gboolean
ferry_portmap_natpmp_parse_external_address_reply (const guint8   *data,
                                                   gsize           length,
                                                   GInetAddress  **external_address,
                                                   GError        **error)
{
  return parse_external_address (data, length, NULL, (gpointer *) external_address, error);
}

/**
 * ferry_portmap_natpmp_parse_map_reply:
 *
 * One datagram read as the answer to a map request of @transport, @internal_port and
 * @lifetime, as an exchange reads it: for tests and fuzzing.
 *
 * Returns: as ferry_portmap_natpmp_parse_external_address_reply()
 */
gboolean
ferry_portmap_natpmp_parse_map_reply (const guint8           *data,
                                      gsize                   length,
                                      FerryPortmapTransport   transport,
                                      guint16                 internal_port,
                                      guint32                 lifetime,
                                      guint16                *external_port,
                                      guint32                *reply_lifetime,
                                      GError                **error)
{
  MapOp op = { .transport = transport, .internal_port = internal_port, .lifetime = lifetime };
  g_autofree MapReply *reply = NULL;
  gboolean done;

  done = parse_map (data, length, &op, (gpointer *) &reply, error);
  if (reply != NULL)
    {
      *external_port = reply->external_port;
      *reply_lifetime = reply->lifetime;
    }
  return done;
}

void
ferry_portmap_natpmp_external_address_async (GInetSocketAddress  *server,
                                             guint                timeout_ms,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  g_autoptr(GInetSocketAddress) resolved = NULL;
  GError *error = NULL;

  g_return_if_fail (!server || G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  resolved = ferry_portmap_resolve_server (server, &error);
  if (resolved == NULL)
    {
      g_task_report_error (NULL, callback, user_data,
                           ferry_portmap_natpmp_external_address_async, error);
      return;
    }

  ferry_portmap_exchange_async (resolved, &external_address_funcs, NULL, NULL, timeout_ms,
                                cancellable, callback, user_data);
}

/**
 * ferry_portmap_natpmp_external_address_finish:
 *
 * Returns: (transfer full): the router's public IPv4 address, or %NULL with @error set
 */
GInetAddress *
ferry_portmap_natpmp_external_address_finish (GAsyncResult  *result,
                                              GError       **error)
{
  if (g_async_result_is_tagged (result, ferry_portmap_natpmp_external_address_async))
    return g_task_propagate_pointer (G_TASK (result), error);

  return ferry_portmap_exchange_finish (result, error);
}

static void
map_reply_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MapOp *op = g_task_get_task_data (task);
  MapReply *reply;
  GError *error = NULL;

  reply = ferry_portmap_exchange_finish (result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  g_task_return_pointer (task,
                         ferry_port_mapping_new (FERRY_PORTMAP_PROTOCOL_NATPMP, op->transport,
                                                 op->server, op->internal_port,
                                                 op->external_address, reply->external_port,
                                                 reply->lifetime, NULL),
                         (GDestroyNotify) ferry_port_mapping_unref);
  g_free (reply);
}

static void
map_send (GTask *task)
{
  MapOp *op = g_task_get_task_data (task);

  ferry_portmap_exchange_async (op->server, &map_funcs, op, NULL, op->timeout_ms,
                                g_task_get_cancellable (task), map_reply_cb, g_object_ref (task));
}

static void
map_external_address_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MapOp *op = g_task_get_task_data (task);
  GError *error = NULL;

  op->external_address = ferry_portmap_exchange_finish (result, &error);
  if (op->external_address == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  map_send (task);
}

/**
 * ferry_portmap_natpmp_map_async:
 * @server: (nullable): the NAT-PMP server, %NULL for the default gateway on port 5351
 * @transport: UDP or TCP
 * @internal_port: the local port to reach from outside
 * @suggested_port: the external port to ask for, or 0 for any
 * @lifetime: seconds the mapping should last (RFC 6886 recommends 7200)
 * @timeout_ms: how long to wait for the router, 0 for %FERRY_PORTMAP_DEFAULT_TIMEOUT_MS
 *
 * Asks the router for its public address, then for a mapping of @internal_port. The router
 * may grant another external port and another lifetime than requested.
 */
void
ferry_portmap_natpmp_map_async (GInetSocketAddress    *server,
                                FerryPortmapTransport  transport,
                                guint16                internal_port,
                                guint16                suggested_port,
                                guint32                lifetime,
                                guint                  timeout_ms,
                                GCancellable          *cancellable,
                                GAsyncReadyCallback    callback,
                                gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MapOp) op = NULL;
  GError *error = NULL;

  g_return_if_fail (!server || G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (transport == FERRY_PORTMAP_TRANSPORT_UDP
                    || transport == FERRY_PORTMAP_TRANSPORT_TCP);
  g_return_if_fail (internal_port > 0);
  g_return_if_fail (lifetime > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_natpmp_map_async);

  op = g_new0 (MapOp, 1);
  op->server = ferry_portmap_resolve_server (server, &error);
  if (op->server == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  op->transport = transport;
  op->internal_port = internal_port;
  op->suggested_port = suggested_port;
  op->lifetime = lifetime;
  op->timeout_ms = timeout_ms;
  g_task_set_task_data (task, g_steal_pointer (&op), (GDestroyNotify) map_op_free);

  ferry_portmap_exchange_async (((MapOp *) g_task_get_task_data (task))->server,
                                &external_address_funcs, NULL, NULL, timeout_ms, cancellable,
                                map_external_address_cb, g_object_ref (task));
}

/**
 * ferry_portmap_natpmp_map_finish:
 *
 * Returns: (transfer full): the mapping the router granted, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_natpmp_map_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_natpmp_map_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_portmap_natpmp_renew_async:
 * @mapping: a NAT-PMP mapping
 * @lifetime: seconds the mapping should last from now
 *
 * Repeats the map request for the port the router gave, so the mapping keeps its port.
 */
void
ferry_portmap_natpmp_renew_async (FerryPortMapping    *mapping,
                                  guint32              lifetime,
                                  guint                timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MapOp *op;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (mapping->protocol == FERRY_PORTMAP_PROTOCOL_NATPMP);
  g_return_if_fail (lifetime > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_natpmp_renew_async);

  op = g_new0 (MapOp, 1);
  op->server = g_object_ref (mapping->server);
  op->transport = mapping->transport;
  op->internal_port = mapping->internal_port;
  op->suggested_port = mapping->external_port;
  op->lifetime = lifetime;
  op->timeout_ms = timeout_ms;
  op->external_address = g_object_ref (mapping->external_address);
  g_task_set_task_data (task, op, (GDestroyNotify) map_op_free);

  map_send (task);
}

/**
 * ferry_portmap_natpmp_renew_finish:
 *
 * Returns: (transfer full): the renewed mapping, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_natpmp_renew_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_portmap_natpmp_renew_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
unmap_reply_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MapReply *reply;
  GError *error = NULL;

  reply = ferry_portmap_exchange_finish (result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  g_free (reply);
  g_task_return_boolean (task, TRUE);
}

/**
 * ferry_portmap_natpmp_unmap_async:
 * @mapping: a NAT-PMP mapping
 *
 * Deletes the mapping: a map request with lifetime 0 and suggested port 0 (RFC 6886 §3.4).
 */
void
ferry_portmap_natpmp_unmap_async (FerryPortMapping    *mapping,
                                  guint                timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MapOp *op;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (mapping->protocol == FERRY_PORTMAP_PROTOCOL_NATPMP);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_natpmp_unmap_async);

  op = g_new0 (MapOp, 1);
  op->server = g_object_ref (mapping->server);
  op->transport = mapping->transport;
  op->internal_port = mapping->internal_port;
  g_task_set_task_data (task, op, (GDestroyNotify) map_op_free);

  ferry_portmap_exchange_async (op->server, &map_funcs, op, NULL, timeout_ms, cancellable,
                                unmap_reply_cb, g_object_ref (task));
}

gboolean
ferry_portmap_natpmp_unmap_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == ferry_portmap_natpmp_unmap_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
