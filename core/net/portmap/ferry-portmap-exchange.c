/* ferry-portmap-exchange.c
 *
 * One request to the router and its answer over UDP, with the retransmissions of RFC 6886;
 * what the request holds and which answer fits is up to the protocol that asks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ferry-port-mapping.h"
#include "ferry-portmap-exchange.h"

/* PCP messages are at most 1100 bytes (RFC 6887 §7); one more byte tells a longer one. */
#define MAX_DATAGRAM 1101
#define FIRST_RETRANSMIT_MS 250

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
