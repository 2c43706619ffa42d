/* ferry-portmap-pcp.c
 *
 * PCP (RFC 6887), MAP opcode only. One exchange creates, renews (same nonce, suggesting the
 * port and address the router gave) or deletes (lifetime 0) a mapping. A router that only
 * speaks NAT-PMP answers a PCP request with a NAT-PMP "unsupported version" reply; then the
 * mapping is made with NAT-PMP instead (RFC 6887 §9).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap-pcp"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ferry-port-mapping-private.h"
#include "ferry-portmap-exchange.h"
#include "ferry-portmap-gateway.h"
#include "ferry-portmap-natpmp.h"
#include "ferry-portmap-pcp.h"

#define PCP_VERSION        2
#define OP_MAP             1
#define RESPONSE_BIT       0x80
#define HEADER_LENGTH      24
#define MAP_LENGTH         60   /* header + MAP opcode data */
#define MAX_LENGTH         1100
#define NATPMP_REPLY_MIN   8
#define NATPMP_REPLY_MAX   16

typedef struct
{
  GInetSocketAddress    *server;
  FerryPortmapTransport  transport;
  guint16                internal_port;
  guint16                suggested_port;
  GInetAddress          *suggested_address;
  guint32                lifetime;
  guint                  timeout_ms;
  guint8                 nonce[FERRY_PORTMAP_PCP_NONCE_SIZE];
  gboolean               natpmp_only;
} MapOp;

typedef struct
{
  GInetAddress *external_address;
  guint16       external_port;
  guint32       lifetime;
} MapReply;

static void
map_op_free (MapOp *op)
{
  g_clear_object (&op->server);
  g_clear_object (&op->suggested_address);
  g_free (op);
}

static void
map_reply_free (MapReply *reply)
{
  g_clear_object (&reply->external_address);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MapReply, map_reply_free)

static GError *
result_error (guint8 result)
{
  switch (result)
    {
    case 1:  /* UNSUPP_VERSION */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                  _("The router does not support this version of PCP"));
    case 2:  /* NOT_AUTHORIZED */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED,
                                  _("The router refused the port mapping"));
    case 4:  /* UNSUPP_OPCODE */
    case 9:  /* UNSUPP_PROTOCOL */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                  _("The router does not support this PCP request"));
    case 12: /* ADDRESS_MISMATCH */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                  _("Another NAT between this computer and the router "
                                    "prevents port mapping"));
    case 7:  /* NETWORK_FAILURE */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NETWORK_FAILURE,
                                  _("The router has no public internet address to map a port on"));
    case 11: /* CANNOT_PROVIDE_EXTERNAL */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_RESOURCES,
                                  _("The router cannot give out a public address and port"));
    case 8:  /* NO_RESOURCES */
    case 10: /* USER_EX_QUOTA */
    case 13: /* EXCESSIVE_REMOTE_PEERS */
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_RESOURCES,
                                  _("The router has no port mappings left"));
    case 3:  /* MALFORMED_REQUEST */
    case 5:  /* UNSUPP_OPTION */
    case 6:  /* MALFORMED_OPTION */
    default:
      return g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                          _("The router rejected the PCP request (result %u)"), result);
    }
}

/* PCP carries IPv4 addresses as IPv4-mapped IPv6 addresses (::ffff:a.b.c.d). */
static void
write_mapped_address (guint8       *data,
                      GInetAddress *address)
{
  memset (data, 0, 16);
  data[10] = 0xff;
  data[11] = 0xff;
  if (address != NULL)
    memcpy (data + 12, g_inet_address_to_bytes (address), 4);
}

static GInetAddress *
read_mapped_address (const guint8 *data)
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  if (memcmp (data, prefix, sizeof prefix) != 0)
    return NULL;

  return g_inet_address_new_from_bytes (data + 12, G_SOCKET_FAMILY_IPV4);
}

static GBytes *
build_map (GInetAddress *local_address,
           gpointer      user_data)
{
  MapOp *op = user_data;
  guint8 *request = g_malloc0 (MAP_LENGTH);

  request[0] = PCP_VERSION;
  request[1] = OP_MAP;
  ferry_portmap_write32 (request + 4, op->lifetime);
  write_mapped_address (request + 8, local_address);
  memcpy (request + 24, op->nonce, sizeof op->nonce);
  request[36] = op->transport;
  ferry_portmap_write16 (request + 40, op->internal_port);
  ferry_portmap_write16 (request + 42, op->suggested_port);
  write_mapped_address (request + 44, op->suggested_address);

  return g_bytes_new_take (request, MAP_LENGTH);
}

static gboolean
parse_map (const guint8  *data,
           gsize          length,
           gpointer       user_data,
           gpointer      *result,
           GError       **error)
{
  MapOp *op = user_data;
  g_autoptr(MapReply) reply = NULL;
  guint8 code;

  /* A NAT-PMP-only router answers our version 2 with its own "unsupported version". */
  if (length >= NATPMP_REPLY_MIN && length <= NATPMP_REPLY_MAX && data[0] == 0
      && data[1] == (RESPONSE_BIT | OP_MAP) && ferry_portmap_read16 (data + 2) == 1)
    {
      op->natpmp_only = TRUE;
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                           _("The router only supports NAT-PMP"));
      return TRUE;
    }

  if (length < HEADER_LENGTH || length > MAX_LENGTH || length % 4 != 0
      || data[0] != PCP_VERSION || data[1] != (RESPONSE_BIT | OP_MAP))
    return FALSE;

  /* RFC 6887 §7.2 lets a failure come without the opcode data, but then it
   * has no nonce: anyone on the path could forge it and stop the mapping.
   * Such a reply is ignored; a real failure is repeated with the nonce, or
   * the exchange times out. */
  code = data[3];
  if (length < MAP_LENGTH)
    return FALSE;

  /* The nonce proves the answer is to this request and not forged by someone on the path
   * who did not see it; the rest must be about our mapping. */
  if (memcmp (data + 24, op->nonce, sizeof op->nonce) != 0
      || data[36] != op->transport
      || ferry_portmap_read16 (data + 40) != op->internal_port)
    return FALSE;

  if (code != 0)
    {
      g_propagate_error (error, result_error (code));
      return TRUE;
    }

  reply = g_new0 (MapReply, 1);
  reply->lifetime = ferry_portmap_read32 (data + 4);
  reply->external_port = ferry_portmap_read16 (data + 42);
  reply->external_address = read_mapped_address (data + 44);
  if (reply->external_address == NULL)
    return FALSE;

  if (op->lifetime > 0
      && (reply->external_port == 0 || g_inet_address_get_is_any (reply->external_address)))
    {
      g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                           _("The router answered without an external address and port"));
      return TRUE;
    }

  *result = g_steal_pointer (&reply);
  return TRUE;
}

static const FerryPortmapExchangeFuncs map_funcs = {
  build_map,
  parse_map,
  (GDestroyNotify) map_reply_free,
};

/**
 * ferry_portmap_pcp_parse_map_reply:
 * @nonce: the request's nonce
 * @external_address: (out) (transfer full): on success, the mapped address
 *
 * One datagram read as the answer to a MAP request of @transport, @internal_port, @lifetime
 * and @nonce, as an exchange reads it: for tests and fuzzing.
 *
 * Returns: %FALSE to ignore the datagram; %TRUE when it ends the exchange, with @error set
 *   if the router refused
 */
gboolean
ferry_portmap_pcp_parse_map_reply (const guint8           *data,
                                   gsize                   length,
                                   FerryPortmapTransport   transport,
                                   guint16                 internal_port,
                                   guint32                 lifetime,
                                   const guint8           *nonce,
                                   GInetAddress          **external_address,
                                   guint16                *external_port,
                                   guint32                *reply_lifetime,
                                   GError                **error)
{
  MapOp op = { .transport = transport, .internal_port = internal_port, .lifetime = lifetime };
  g_autoptr(MapReply) reply = NULL;
  gboolean done;

  memcpy (op.nonce, nonce, sizeof op.nonce);
  done = parse_map (data, length, &op, (gpointer *) &reply, error);
  if (reply != NULL)
    {
      *external_address = g_steal_pointer (&reply->external_address);
      *external_port = reply->external_port;
      *reply_lifetime = reply->lifetime;
    }
  return done;
}

static void
natpmp_fallback_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryPortMapping *mapping;
  GError *error = NULL;

  mapping = ferry_portmap_natpmp_map_finish (result, &error);
  if (mapping == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, mapping, (GDestroyNotify) ferry_port_mapping_unref);
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
      if (op->natpmp_only && g_task_get_source_tag (task) == ferry_portmap_pcp_map_async)
        {
          g_debug ("The router speaks only NAT-PMP; mapping with NAT-PMP");
          g_error_free (error);
          ferry_portmap_natpmp_map_async (op->server, op->transport, op->internal_port,
                                          op->suggested_port, op->lifetime, op->timeout_ms,
                                          g_task_get_cancellable (task), natpmp_fallback_cb,
                                          g_object_ref (task));
          return;
        }
      g_task_return_error (task, error);
      return;
    }

  if (g_task_get_source_tag (task) == ferry_portmap_pcp_unmap_async)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_pointer (task,
                           ferry_port_mapping_new (FERRY_PORTMAP_PROTOCOL_PCP, op->transport,
                                                   op->server, op->internal_port,
                                                   reply->external_address,
                                                   reply->external_port, reply->lifetime,
                                                   op->nonce),
                           (GDestroyNotify) ferry_port_mapping_unref);
  map_reply_free (reply);
}

static void
map_start (GTask *task,
           MapOp *op)
{
  g_task_set_task_data (task, op, (GDestroyNotify) map_op_free);
  ferry_portmap_exchange_async (op->server, &map_funcs, op, NULL, op->timeout_ms,
                                g_task_get_cancellable (task), map_reply_cb,
                                g_object_ref (task));
}

static MapOp *
map_op_new_for_mapping (FerryPortMapping *mapping,
                        guint32           lifetime,
                        guint             timeout_ms)
{
  MapOp *op = g_new0 (MapOp, 1);

  op->server = g_object_ref (mapping->server);
  op->transport = mapping->transport;
  op->internal_port = mapping->internal_port;
  op->suggested_port = mapping->external_port;
  op->suggested_address = g_object_ref (mapping->external_address);
  op->lifetime = lifetime;
  op->timeout_ms = timeout_ms;
  memcpy (op->nonce, mapping->nonce, sizeof op->nonce);

  return op;
}

/**
 * ferry_portmap_pcp_map_async:
 * @server: (nullable): the PCP server, %NULL for the default gateway on port 5351
 * @transport: UDP or TCP
 * @internal_port: the local port to reach from outside
 * @suggested_port: the external port to ask for, or 0 for any
 * @lifetime: seconds the mapping should last
 * @timeout_ms: how long to wait for the router, 0 for %FERRY_PORTMAP_DEFAULT_TIMEOUT_MS
 *
 * Sends a PCP MAP request with a fresh random nonce. When the router only speaks NAT-PMP
 * the mapping is made with NAT-PMP; ferry_port_mapping_get_protocol() tells which.
 */
void
ferry_portmap_pcp_map_async (GInetSocketAddress    *server,
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
  GInetSocketAddress *resolved;
  GError *error = NULL;
  MapOp *op;

  g_return_if_fail (!server || G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (transport == FERRY_PORTMAP_TRANSPORT_UDP
                    || transport == FERRY_PORTMAP_TRANSPORT_TCP);
  g_return_if_fail (internal_port > 0);
  g_return_if_fail (lifetime > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_pcp_map_async);

  resolved = ferry_portmap_resolve_server (server, &error);
  if (resolved == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  op = g_new0 (MapOp, 1);
  op->server = resolved;
  op->transport = transport;
  op->internal_port = internal_port;
  op->suggested_port = suggested_port;
  op->lifetime = lifetime;
  op->timeout_ms = timeout_ms;
  randombytes_buf (op->nonce, sizeof op->nonce);
  map_start (task, op);
}

/**
 * ferry_portmap_pcp_map_finish:
 *
 * Returns: (transfer full): the mapping the router granted, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_pcp_map_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_pcp_map_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_portmap_pcp_renew_async:
 * @mapping: a PCP mapping
 * @lifetime: seconds the mapping should last from now
 *
 * Repeats the MAP request with the mapping's nonce, suggesting its external address and port.
 */
void
ferry_portmap_pcp_renew_async (FerryPortMapping    *mapping,
                               guint32              lifetime,
                               guint                timeout_ms,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP);
  g_return_if_fail (lifetime > 0);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_pcp_renew_async);
  map_start (task, map_op_new_for_mapping (mapping, lifetime, timeout_ms));
}

/**
 * ferry_portmap_pcp_renew_finish:
 *
 * Returns: (transfer full): the renewed mapping, or %NULL with @error set
 */
FerryPortMapping *
ferry_portmap_pcp_renew_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_pcp_renew_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_portmap_pcp_unmap_async:
 * @mapping: a PCP mapping
 *
 * Deletes the mapping: its MAP request again with lifetime 0 (RFC 6887 §15).
 */
void
ferry_portmap_pcp_unmap_async (FerryPortMapping    *mapping,
                               guint                timeout_ms,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (mapping != NULL);
  g_return_if_fail (mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_pcp_unmap_async);
  map_start (task, map_op_new_for_mapping (mapping, 0, timeout_ms));
}

gboolean
ferry_portmap_pcp_unmap_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_pcp_unmap_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
