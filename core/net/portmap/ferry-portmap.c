/* ferry-portmap.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "ferry-portmap-private.h"
#include "ferry-portmap-natpmp.h"
#include "ferry-portmap-pcp.h"

/* PCP messages are at most 1100 bytes (RFC 6887 §7); one more byte tells a longer one. */
#define MAX_DATAGRAM 1101
#define FIRST_RETRANSMIT_MS 250

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
                          mapping->protocol == FERRY_PORTMAP_PROTOCOL_PCP ? "PCP" : "NAT-PMP",
                          mapping->transport == FERRY_PORTMAP_TRANSPORT_TCP ? "TCP" : "UDP",
                          external, mapping->external_port, mapping->internal_port,
                          mapping->lifetime);
}

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

/* One exchange: send the request from a connected UDP socket, retransmit after 250 ms,
 * 500 ms, 1 s… until the deadline, and hand every datagram from the server to the
 * protocol's parser until it accepts one. Connecting the socket makes the kernel drop
 * datagrams from anyone but the server and report the router's ICMP port-unreachable. */
typedef struct
{
  GSocket                         *socket;
  GInetSocketAddress              *server;
  GBytes                          *request;
  const FerryPortmapExchangeFuncs *funcs;
  gpointer                         funcs_data;
  GDestroyNotify                   funcs_data_free;
  GSource                         *socket_source;
  GSource                         *retransmit_source;
  GSource                         *deadline_source;
  guint                            interval_ms;
} Exchange;

static void
exchange_stop (Exchange *exchange)
{
  if (exchange->socket_source != NULL)
    g_source_destroy (exchange->socket_source);
  g_clear_pointer (&exchange->socket_source, g_source_unref);
  if (exchange->retransmit_source != NULL)
    g_source_destroy (exchange->retransmit_source);
  g_clear_pointer (&exchange->retransmit_source, g_source_unref);
  if (exchange->deadline_source != NULL)
    g_source_destroy (exchange->deadline_source);
  g_clear_pointer (&exchange->deadline_source, g_source_unref);
  if (exchange->socket != NULL)
    g_socket_close (exchange->socket, NULL);
}

static void
exchange_free (Exchange *exchange)
{
  exchange_stop (exchange);
  g_clear_object (&exchange->socket);
  g_clear_object (&exchange->server);
  g_clear_pointer (&exchange->request, g_bytes_unref);
  if (exchange->funcs_data_free != NULL)
    exchange->funcs_data_free (exchange->funcs_data);
  g_free (exchange);
}

/* Ends the exchange: the task's own reference, held while sources could fire, goes. */
static void
exchange_complete (GTask    *task,
                   gpointer  result,
                   GError   *error)
{
  Exchange *exchange = g_task_get_task_data (task);

  exchange_stop (exchange);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, result, exchange->funcs->result_free);
  g_object_unref (task);
}

static GError *
exchange_socket_error (Exchange *exchange,
                       GError   *socket_error)
{
  g_autofree char *server = NULL;
  GError *error;

  server = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (exchange->server));
  if (g_error_matches (socket_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    error = g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                         _("The router at %s does not offer port mapping"), server);
  else if (g_error_matches (socket_error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE)
           || g_error_matches (socket_error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
    error = g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_GATEWAY,
                         _("The router at %s cannot be reached"), server);
  else
    error = g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_FAILED,
                         _("Cannot talk to the router at %s: %s"), server, socket_error->message);
  g_error_free (socket_error);
  return error;
}

static gboolean exchange_retransmit_cb (gpointer user_data);

static gboolean
exchange_send (GTask *task)
{
  Exchange *exchange = g_task_get_task_data (task);
  GError *error = NULL;
  gsize length;
  const guint8 *data = g_bytes_get_data (exchange->request, &length);

  if (g_socket_send (exchange->socket, (const char *) data, length, NULL, &error) < 0)
    {
      /* A full send buffer is no reason to give up: the next retransmission tries again. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          exchange_complete (task, NULL, exchange_socket_error (exchange, error));
          return FALSE;
        }
      g_clear_error (&error);
    }

  if (exchange->retransmit_source != NULL)
    g_source_destroy (exchange->retransmit_source);
  g_clear_pointer (&exchange->retransmit_source, g_source_unref);
  exchange->retransmit_source = g_timeout_source_new (exchange->interval_ms);
  g_source_set_static_name (exchange->retransmit_source, "ferry-portmap-retransmit");
  g_task_attach_source (task, exchange->retransmit_source, exchange_retransmit_cb);
  exchange->interval_ms *= 2;

  return TRUE;
}

static gboolean
exchange_retransmit_cb (gpointer user_data)
{
  exchange_send (G_TASK (user_data));
  return G_SOURCE_REMOVE;
}

static gboolean
exchange_deadline_cb (gpointer user_data)
{
  GTask *task = user_data;
  Exchange *exchange = g_task_get_task_data (task);
  g_autofree char *server = NULL;

  server = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (exchange->server));
  exchange_complete (task, NULL,
                     g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_TIMEOUT,
                                  _("The router at %s did not answer"), server));
  return G_SOURCE_REMOVE;
}

static gboolean
same_endpoint (GSocketAddress     *from,
               GInetSocketAddress *server)
{
  GInetSocketAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return FALSE;
  inet = G_INET_SOCKET_ADDRESS (from);

  return g_inet_socket_address_get_port (inet) == g_inet_socket_address_get_port (server)
         && g_inet_address_equal (g_inet_socket_address_get_address (inet),
                                  g_inet_socket_address_get_address (server));
}

static gboolean
exchange_readable_cb (GSocket      *socket,
                      GIOCondition  condition,
                      gpointer      user_data)
{
  GTask *task = user_data;
  Exchange *exchange = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      exchange_stop (exchange);
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      guint8 buffer[MAX_DATAGRAM];
      gpointer result = NULL;
      GError *error = NULL;
      gssize received;

      received = g_socket_receive_from (socket, &from, (char *) buffer, sizeof buffer,
                                        NULL, &error);
      if (received < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              return G_SOURCE_CONTINUE;
            }
          exchange_complete (task, NULL, exchange_socket_error (exchange, error));
          return G_SOURCE_REMOVE;
        }

      /* The connected socket already filters senders; checking again costs nothing and
       * keeps a spoofed answer out should the socket ever be unconnected. */
      if (!same_endpoint (from, exchange->server))
        {
          g_debug ("Ignoring a datagram from someone other than the router");
          continue;
        }

      if (exchange->funcs->parse (buffer, received, exchange->funcs_data, &result, &error))
        {
          g_assert ((result != NULL) != (error != NULL));
          exchange_complete (task, result, error);
          return G_SOURCE_REMOVE;
        }
      g_debug ("Ignoring a datagram that does not answer the request (%zd bytes)", received);
    }
}

void
ferry_portmap_exchange_async (GInetSocketAddress              *server,
                              const FerryPortmapExchangeFuncs *funcs,
                              gpointer                         funcs_data,
                              GDestroyNotify                   funcs_data_free,
                              guint                            timeout_ms,
                              GCancellable                    *cancellable,
                              GAsyncReadyCallback              callback,
                              gpointer                         user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  GError *error = NULL;
  Exchange *exchange;

  g_assert (G_IS_INET_SOCKET_ADDRESS (server));
  g_assert (funcs != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_exchange_async);

  exchange = g_new0 (Exchange, 1);
  exchange->server = g_object_ref (server);
  exchange->funcs = funcs;
  exchange->funcs_data = funcs_data;
  exchange->funcs_data_free = funcs_data_free;
  exchange->interval_ms = FIRST_RETRANSMIT_MS;
  g_task_set_task_data (task, exchange, (GDestroyNotify) exchange_free);

  if (g_task_return_error_if_cancelled (task))
    return;

  exchange->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                   G_SOCKET_PROTOCOL_UDP, &error);
  if (exchange->socket == NULL
      || !g_socket_connect (exchange->socket, G_SOCKET_ADDRESS (server), NULL, &error)
      || (local = g_socket_get_local_address (exchange->socket, &error)) == NULL)
    {
      g_task_return_error (task, exchange_socket_error (exchange, error));
      return;
    }
  g_socket_set_blocking (exchange->socket, FALSE);

  exchange->request =
    funcs->build (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)), funcs_data);

  /* From here the sources hold the task through this reference until exchange_complete. */
  g_object_ref (task);

  exchange->socket_source = g_socket_create_source (exchange->socket, G_IO_IN | G_IO_ERR,
                                                    cancellable);
  g_source_set_static_name (exchange->socket_source, "ferry-portmap-socket");
  g_task_attach_source (task, exchange->socket_source, G_SOURCE_FUNC (exchange_readable_cb));

  exchange->deadline_source = g_timeout_source_new (timeout_ms > 0
                                                    ? timeout_ms
                                                    : FERRY_PORTMAP_DEFAULT_TIMEOUT_MS);
  g_source_set_static_name (exchange->deadline_source, "ferry-portmap-deadline");
  g_task_attach_source (task, exchange->deadline_source, exchange_deadline_cb);

  exchange_send (task);
}

gpointer
ferry_portmap_exchange_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_assert (g_task_is_valid (result, NULL));
  g_assert (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_exchange_async);

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
  else
    renewed = ferry_portmap_natpmp_renew_finish (result, &error);

  if (renewed == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, renewed, (GDestroyNotify) ferry_port_mapping_unref);
}

/**
 * ferry_portmap_renew_async:
 * @mapping: a mapping from ferry_portmap_natpmp_map_async() or ferry_portmap_pcp_map_async()
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
