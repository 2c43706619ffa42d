/* ferry-turn-probe.c
 *
 * One coturn on one address cannot answer from a second address (RFC 5780 needs two), so
 * two STUN answers from it say nothing about how our NAT maps. A TURN allocation gives us a
 * second destination on the same server: we allocate a relay (learning M1, our mapping
 * toward the server), permit our own public address, send one datagram from the same socket
 * to our relay address, and read in the Data indication the address the relay saw it from
 * (M2, our mapping toward the relay port). M1 = M2: the NAT maps endpoint-independently
 * ("easy"); a new port: endpoint-dependently ("hard"). The allocation is deleted at the end.
 *
 * Everything the server sends is attacker input: answers must carry our transaction ID,
 * the Data indication our random payload and our own public address.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-turn-probe"

#include "config.h"

#include <string.h>

#include "ferry-stun.h"
#include "ferry-turn-probe.h"

#define RETRANSMIT_MS   250
#define PAYLOAD_SIZE    16
#define MAX_TEXT        763    /* RFC 5389's bound on REALM and NONCE, in bytes */

typedef enum
{
  STEP_ALLOCATE,
  STEP_PERMIT,
  STEP_SEND,
} Step;

typedef struct
{
  GInetSocketAddress *server;
  char               *username;
  char               *password;
  GSocket            *socket;
  GSource            *readable;
  GSource            *timer;
  gint64              deadline;
  GCancellable       *cancellable;
  gulong              cancelled_id;

  Step                step;
  gboolean            done;
  guint8              transaction_id[FERRY_STUN_TRANSACTION_ID_SIZE];
  char               *realm;
  char               *nonce;
  guint8              key[16];
  guint               auth_tries;

  guint8              payload[PAYLOAD_SIZE];
  GInetSocketAddress *toward_server;
  GInetSocketAddress *relayed;
  GInetSocketAddress *toward_relay;
} Probe;

typedef struct
{
  GInetSocketAddress *toward_server;
  GInetSocketAddress *toward_relay;
} Result;

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
probe_free (Probe *probe)
{
  destroy_source (&probe->readable);
  destroy_source (&probe->timer);
  g_cancellable_disconnect (probe->cancellable, probe->cancelled_id);
  g_clear_object (&probe->cancellable);
  g_clear_object (&probe->socket);
  g_clear_object (&probe->server);
  g_free (probe->username);
  g_free (probe->password);
  g_free (probe->realm);
  g_free (probe->nonce);
  g_clear_object (&probe->toward_server);
  g_clear_object (&probe->relayed);
  g_clear_object (&probe->toward_relay);
  g_free (probe);
}

static void
result_free (Result *result)
{
  g_clear_object (&result->toward_server);
  g_clear_object (&result->toward_relay);
  g_free (result);
}

static void
new_transaction (Probe *probe)
{
  for (guint i = 0; i < FERRY_STUN_TRANSACTION_ID_SIZE; i++)
    probe->transaction_id[i] = g_random_int_range (0, 256);
}

/* A request of @type with the long-term credentials, once the server told us its realm. */
static GByteArray *
build_request (Probe   *probe,
               guint16  type)
{
  GByteArray *message = ferry_stun_message_new (type, probe->transaction_id);

  if (probe->realm != NULL)
    {
      ferry_stun_message_add (message, FERRY_STUN_ATTR_USERNAME, probe->username,
                              strlen (probe->username));
      ferry_stun_message_add (message, FERRY_STUN_ATTR_REALM, probe->realm,
                              strlen (probe->realm));
      ferry_stun_message_add (message, FERRY_STUN_ATTR_NONCE, probe->nonce,
                              strlen (probe->nonce));
    }
  return message;
}

static void
finish_request (Probe      *probe,
                GByteArray *message)
{
  if (probe->realm != NULL)
    ferry_stun_message_add_integrity (message, probe->key, sizeof probe->key);
}

static void
send_bytes (Probe              *probe,
            GInetSocketAddress *to,
            const guint8       *data,
            gsize               length)
{
  g_autoptr(GError) error = NULL;

  if (g_socket_send_to (probe->socket, G_SOCKET_ADDRESS (to), (const char *) data, length,
                        NULL, &error) < 0)
    g_debug ("Cannot send to the TURN server: %s", error->message);
}

/* Sends what the current step needs; called again on every retransmission tick. */
static void
send_step (Probe *probe)
{
  g_autoptr(GByteArray) message = NULL;

  switch (probe->step)
    {
    case STEP_ALLOCATE:
      {
        const guint8 udp[4] = { 17, 0, 0, 0 };

        message = build_request (probe, FERRY_STUN_ALLOCATE_REQUEST);
        ferry_stun_message_add (message, FERRY_STUN_ATTR_REQUESTED_TRANSPORT, udp, sizeof udp);
      }
      break;

    case STEP_PERMIT:
      message = build_request (probe, FERRY_STUN_CREATE_PERMISSION_REQUEST);
      ferry_stun_message_add_xor_address (message, FERRY_STUN_ATTR_XOR_PEER_ADDRESS,
                                          probe->toward_server);
      break;

    case STEP_SEND:
      /* Not STUN: plain data to our relay, from the socket the allocation belongs to. */
      send_bytes (probe, probe->relayed, probe->payload, sizeof probe->payload);
      return;
    }

  finish_request (probe, message);
  send_bytes (probe, probe->server, message->data, message->len);
}

/* Deletes the allocation: a Refresh with lifetime 0, sent once; the server's answer does
 * not matter (the allocation also times out by itself). */
static void
release_allocation (Probe *probe)
{
  g_autoptr(GByteArray) message = NULL;
  const guint8 zero[4] = { 0 };

  if (probe->relayed == NULL)
    return;
  new_transaction (probe);
  message = build_request (probe, FERRY_STUN_REFRESH_REQUEST);
  ferry_stun_message_add (message, FERRY_STUN_ATTR_LIFETIME, zero, sizeof zero);
  finish_request (probe, message);
  send_bytes (probe, probe->server, message->data, message->len);
}

static void
probe_return (GTask  *task,
              GError *error)
{
  Probe *probe = g_task_get_task_data (task);

  probe->done = TRUE;
  destroy_source (&probe->readable);
  destroy_source (&probe->timer);
  release_allocation (probe);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    {
      Result *result = g_new0 (Result, 1);

      result->toward_server = g_steal_pointer (&probe->toward_server);
      result->toward_relay = g_steal_pointer (&probe->toward_relay);
      g_task_return_pointer (task, result, (GDestroyNotify) result_free);
    }
  /* The sources did not hold the task; ferry_turn_probe_async() took this reference. */
  g_object_unref (task);
}

static void
next_step (GTask *task,
           Step   step)
{
  Probe *probe = g_task_get_task_data (task);

  probe->step = step;
  new_transaction (probe);
  send_step (probe);
}

/* A 401 (or 438, stale nonce) carries the realm and nonce to retry with. */
static GError *
take_challenge (Probe        *probe,
                const guint8 *data,
                gsize         length)
{
  g_autofree char *realm = ferry_stun_get_string (data, length, FERRY_STUN_ATTR_REALM, MAX_TEXT);
  g_autofree char *nonce = ferry_stun_get_string (data, length, FERRY_STUN_ATTR_NONCE, MAX_TEXT);

  if (realm == NULL || nonce == NULL || probe->auth_tries++ >= 2)
    return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                "The TURN server refused our credentials");
  g_free (probe->realm);
  probe->realm = g_steal_pointer (&realm);
  g_free (probe->nonce);
  probe->nonce = g_steal_pointer (&nonce);
  ferry_stun_long_term_key (probe->username, probe->realm, probe->password, probe->key);
  return NULL;
}

/* Handles an answer to our current request: on to the next step, the same one again with
 * credentials, or the end. */
static void
handle_answer (GTask        *task,
               const guint8 *data,
               gsize         length,
               guint16       type)
{
  Probe *probe = g_task_get_task_data (task);
  guint code;
  GError *error;

  if (type == FERRY_STUN_ALLOCATE_ERROR || type == FERRY_STUN_CREATE_PERMISSION_ERROR)
    {
      code = ferry_stun_get_error_code (data, length);
      if (code == 401 || code == 438)
        {
          error = take_challenge (probe, data, length);
          if (error == NULL)
            {
              next_step (task, probe->step);
              return;
            }
        }
      else
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                             "The TURN server refused the %s (error %u)",
                             probe->step == STEP_ALLOCATE ? "allocation" : "permission", code);
      probe_return (task, error);
      return;
    }

  if (probe->step == STEP_ALLOCATE && type == FERRY_STUN_ALLOCATE_RESPONSE)
    {
      probe->toward_server = ferry_stun_get_address (data, length,
                                                     FERRY_STUN_ATTR_XOR_MAPPED_ADDRESS);
      probe->relayed = ferry_stun_get_address (data, length, FERRY_STUN_ATTR_XOR_RELAYED_ADDRESS);
      if (probe->toward_server == NULL || probe->relayed == NULL ||
          g_socket_address_get_family (G_SOCKET_ADDRESS (probe->relayed)) !=
          G_SOCKET_FAMILY_IPV4)
        {
          g_clear_object (&probe->relayed);
          probe_return (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                                   "The TURN allocation lacks our mapped or "
                                                   "an IPv4 relayed address"));
          return;
        }
      next_step (task, STEP_PERMIT);
      return;
    }

  if (probe->step == STEP_PERMIT && type == FERRY_STUN_CREATE_PERMISSION_RESPONSE)
    {
      next_step (task, STEP_SEND);
      return;
    }
}

/* The relay's Data indication: it must carry our payload, from our own public address. */
static void
handle_indication (GTask        *task,
                   const guint8 *data,
                   gsize         length)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(GInetSocketAddress) peer = NULL;
  const guint8 *value;
  gsize value_length;

  if (probe->step != STEP_SEND ||
      !ferry_stun_find_attribute (data, length, FERRY_STUN_ATTR_DATA, &value, &value_length) ||
      value_length != sizeof probe->payload ||
      memcmp (value, probe->payload, sizeof probe->payload) != 0)
    return;
  peer = ferry_stun_get_address (data, length, FERRY_STUN_ATTR_XOR_PEER_ADDRESS);
  if (peer == NULL ||
      !g_inet_address_equal (g_inet_socket_address_get_address (peer),
                             g_inet_socket_address_get_address (probe->toward_server)))
    return;

  probe->toward_relay = g_steal_pointer (&peer);
  probe_return (task, NULL);
}

static gboolean
readable_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  /* Returning the result may drop the last other reference: hold one while we look. */
  g_autoptr(GTask) task = g_object_ref (user_data);
  Probe *probe = g_task_get_task_data (task);
  guint8 buffer[1500];
  gssize n;

  while (!probe->done &&
         (n = g_socket_receive_from (socket, NULL, (char *) buffer, sizeof buffer,
                                     NULL, NULL)) >= 0)
    {
      const guint8 *id;
      guint16 type;

      if (!ferry_stun_parse_header (buffer, n, &type, &id))
        continue;
      if (type == FERRY_STUN_DATA_INDICATION)
        handle_indication (task, buffer, n);
      else if (memcmp (id, probe->transaction_id, FERRY_STUN_TRANSACTION_ID_SIZE) == 0)
        handle_answer (task, buffer, n, type);
    }
  return probe->done ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static gboolean
timer_cb (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);
  static const char * const waiting_for[] = {
    [STEP_ALLOCATE] = "an allocation",
    [STEP_PERMIT] = "a permission",
    [STEP_SEND] = "our datagram back through the relay",
  };

  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (probe->cancellable, &error))
    {
      probe_return (task, error);
      return G_SOURCE_REMOVE;
    }
  if (g_get_monotonic_time () >= probe->deadline)
    {
      probe_return (task, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                       "The TURN server did not answer in time (waiting for %s)",
                                       waiting_for[probe->step]));
      return G_SOURCE_REMOVE;
    }
  send_step (probe);
  return G_SOURCE_CONTINUE;
}

static void
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  /* Return from the main loop, not from inside g_cancellable_cancel(). */
  destroy_source (&probe->timer);
  probe->timer = g_timeout_source_new (0);
  g_source_set_callback (probe->timer, timer_cb, task, NULL);
  g_source_attach (probe->timer, g_task_get_context (task));
}

/**
 * ferry_turn_probe_async:
 * @server: the TURN server, over UDP
 * @username: (nullable): the long-term credential, %NULL when the server needs none
 * @password: (nullable): its password
 * @timeout_ms: how long the whole probe may take
 *
 * Learns our mapping toward @server and toward our relay address on it. It takes a few
 * round trips; each is retransmitted every 250 ms.
 */
void
ferry_turn_probe_async (GInetSocketAddress  *server,
                        const char          *username,
                        const char          *password,
                        guint                timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (any, 0);
  g_autoptr(GError) error = NULL;
  GTask *task;
  Probe *probe;

  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (server));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_turn_probe_async);
  probe = g_new0 (Probe, 1);
  probe->server = g_object_ref (server);
  probe->username = g_strdup (username != NULL ? username : "");
  probe->password = g_strdup (password != NULL ? password : "");
  for (guint i = 0; i < sizeof probe->payload; i++)
    probe->payload[i] = g_random_int_range (0, 256);
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);

  probe->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                G_SOCKET_PROTOCOL_UDP, &error);
  if (probe->socket == NULL || !g_socket_bind (probe->socket, local, FALSE, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_socket_set_blocking (probe->socket, FALSE);

  probe->deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  probe->readable = g_socket_create_source (probe->socket, G_IO_IN, NULL);
  g_source_set_callback (probe->readable, G_SOURCE_FUNC (readable_cb), task, NULL);
  g_source_attach (probe->readable, g_task_get_context (task));
  probe->timer = g_timeout_source_new (RETRANSMIT_MS);
  g_source_set_callback (probe->timer, timer_cb, task, NULL);
  g_source_attach (probe->timer, g_task_get_context (task));
  if (cancellable != NULL)
    {
      probe->cancellable = g_object_ref (cancellable);
      probe->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb),
                                                   task, NULL);
    }

  next_step (task, STEP_ALLOCATE);
}

/**
 * ferry_turn_probe_finish:
 * @toward_server: (out) (transfer full): our public address as the server saw it
 * @toward_relay: (out) (transfer full): our public address as our relay saw it
 *
 * Returns: %TRUE with both addresses, or %FALSE with @error set
 */
gboolean
ferry_turn_probe_finish (GAsyncResult         *result,
                         GInetSocketAddress  **toward_server,
                         GInetSocketAddress  **toward_relay,
                         GError              **error)
{
  Result *addresses;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_turn_probe_async,
                        FALSE);

  addresses = g_task_propagate_pointer (G_TASK (result), error);
  if (addresses == NULL)
    return FALSE;
  *toward_server = g_steal_pointer (&addresses->toward_server);
  *toward_relay = g_steal_pointer (&addresses->toward_relay);
  result_free (addresses);
  return TRUE;
}
