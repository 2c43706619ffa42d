/* ferry-mailbox.c
 *
 * One side of a rendezvous mailbox: an ordered, message-based channel to
 * the other side, relayed by the server over a WebSocket. Messages are
 * kept in order until the caller asks for them, and the way the mailbox
 * ended (peer left, wrong code, expired…) is told as a FerryRendezvousError.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-mailbox"

#include "config.h"

#include <libsoup/soup.h>

#include "ferry-mailbox-private.h"
#include "ferry-rendezvous-protocol.h"

struct _FerryMailbox
{
  GObject                  parent_instance;

  SoupWebsocketConnection *conn;
  GQueue                   messages;  /* GBytes, not yet received */
  GQueue                   waiters;   /* GTask, waiting for a message */
  GError                  *end;       /* why receiving has ended, once closed */
  GError                  *conn_error;
  gboolean                 close_requested;
  gboolean                 closed;
  char                    *token;     /* the server's name for this side */
};

G_DEFINE_FINAL_TYPE (FerryMailbox, ferry_mailbox, G_TYPE_OBJECT)

enum {
  SIGNAL_MESSAGE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
waiter_disconnect (GTask *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  gulong id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (task), "ferry-cancelled-id"));

  if (cancellable != NULL && id != 0)
    g_signal_handler_disconnect (cancellable, id);
  g_object_set_data (G_OBJECT (task), "ferry-cancelled-id", NULL);
}

static gboolean
waiter_cancelled_idle_cb (gpointer user_data)
{
  GTask *task = user_data;
  FerryMailbox *self = g_task_get_source_object (task);

  /* Only a task still waiting is answered here; a task that already got a
   * message keeps it. */
  if (g_queue_remove (&self->waiters, task))
    {
      waiter_disconnect (task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
      g_object_unref (task);
    }

  return G_SOURCE_REMOVE;
}

/* "cancelled" may be emitted in another thread: answer on the task's own
 * main context. */
static void
waiter_cancelled_cb (GCancellable *cancellable,
                     gpointer      user_data)
{
  GTask *task = user_data;

  g_main_context_invoke_full (g_task_get_context (task), G_PRIORITY_DEFAULT,
                              waiter_cancelled_idle_cb, g_object_ref (task), g_object_unref);
}

static void
conn_message_cb (SoupWebsocketConnection *conn,
                 gint                     type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  FerryMailbox *self = user_data;
  gboolean handled = FALSE;
  GTask *waiter;

  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message, &handled);
  if (handled)
    return;

  waiter = g_queue_pop_head (&self->waiters);
  if (waiter != NULL)
    {
      waiter_disconnect (waiter);
      g_task_return_pointer (waiter, g_bytes_ref (message), (GDestroyNotify) g_bytes_unref);
      g_object_unref (waiter);
      return;
    }

  g_queue_push_tail (&self->messages, g_bytes_ref (message));
}

static void
conn_error_cb (SoupWebsocketConnection *conn,
               GError                  *error,
               gpointer                 user_data)
{
  FerryMailbox *self = user_data;

  if (self->conn_error == NULL)
    self->conn_error = g_error_copy (error);
}

static void
conn_closed_cb (SoupWebsocketConnection *conn,
                gpointer                 user_data)
{
  g_autoptr(FerryMailbox) self = g_object_ref (user_data);
  gushort code = soup_websocket_connection_get_close_code (conn);
  g_autoptr(GError) reported = NULL;
  GTask *waiter;

  if (self->closed)
    return;
  self->closed = TRUE;

  if (self->close_requested)
    {
      self->end = g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                                       "The mailbox was closed");
    }
  else
    {
      /* A frame we refused ourselves (too large, malformed) ends the
       * connection without a code from the server. */
      if (code == 0 && (g_error_matches (self->conn_error, SOUP_WEBSOCKET_ERROR,
                                         SOUP_WEBSOCKET_CLOSE_TOO_BIG) ||
                        g_error_matches (self->conn_error, G_IO_ERROR,
                                         G_IO_ERROR_MESSAGE_TOO_LARGE)))
        self->end = ferry_rendezvous_error_for_close_code (SOUP_WEBSOCKET_CLOSE_TOO_BIG);
      else if (code == 0 && self->conn_error != NULL &&
               self->conn_error->domain == SOUP_WEBSOCKET_ERROR)
        self->end = g_error_new (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL,
                                 "The rendezvous server sent a broken message: %s",
                                 self->conn_error->message);
      else
        self->end = ferry_rendezvous_error_for_close_code (code);

      if (code != SOUP_WEBSOCKET_CLOSE_NORMAL)
        reported = g_error_copy (self->end);
    }

  g_debug ("closed with code %u: %s", code, self->end->message);

  while ((waiter = g_queue_pop_head (&self->waiters)) != NULL)
    {
      waiter_disconnect (waiter);
      g_task_return_error (waiter, g_error_copy (self->end));
      g_object_unref (waiter);
    }

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reported);
}

FerryMailbox *
ferry_mailbox_new (SoupWebsocketConnection *conn,
                   const char              *token)
{
  FerryMailbox *self;

  g_return_val_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (conn), NULL);

  self = g_object_new (FERRY_TYPE_MAILBOX, NULL);
  self->conn = g_object_ref (conn);
  self->token = g_strdup (token);
  g_signal_connect (conn, "message", G_CALLBACK (conn_message_cb), self);
  g_signal_connect (conn, "error", G_CALLBACK (conn_error_cb), self);
  g_signal_connect (conn, "closed", G_CALLBACK (conn_closed_cb), self);

  return self;
}

/**
 * ferry_mailbox_send:
 * @message: the bytes to deliver to the other side
 *
 * Queues @message as one binary WebSocket message. Messages sent on a
 * closed mailbox are dropped; the reason comes from receiving.
 */
void
ferry_mailbox_send (FerryMailbox *self,
                    GBytes       *message)
{
  g_return_if_fail (FERRY_IS_MAILBOX (self));
  g_return_if_fail (message != NULL);

  if (self->closed || self->close_requested ||
      soup_websocket_connection_get_state (self->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    {
      g_debug ("dropping a message sent on a closed mailbox");
      return;
    }

  soup_websocket_connection_send_message (self->conn, SOUP_WEBSOCKET_DATA_BINARY, message);
}

/**
 * ferry_mailbox_receive_async:
 *
 * Waits for the next message from the other side, in the order they were
 * sent. Messages that a "message" handler claimed are not queued. Once the
 * mailbox is closed and the queue is empty, fails with the reason.
 */
void
ferry_mailbox_receive_async (FerryMailbox        *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GBytes *message;

  g_return_if_fail (FERRY_IS_MAILBOX (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_mailbox_receive_async);

  message = g_queue_pop_head (&self->messages);
  if (message != NULL)
    {
      g_task_return_pointer (task, message, (GDestroyNotify) g_bytes_unref);
      return;
    }

  if (self->closed)
    {
      g_task_return_error (task, g_error_copy (self->end));
      return;
    }

  if (cancellable != NULL)
    {
      gulong id;

      if (g_cancellable_is_cancelled (cancellable))
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
          return;
        }

      id = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled_cb), task, NULL);
      g_object_set_data (G_OBJECT (task), "ferry-cancelled-id", GSIZE_TO_POINTER (id));
    }

  g_queue_push_tail (&self->waiters, g_steal_pointer (&task));
}

/**
 * ferry_mailbox_receive_finish:
 *
 * Returns: (transfer full): the next message, or %NULL with a
 *   #FERRY_RENDEZVOUS_ERROR telling why the mailbox closed
 */
GBytes *
ferry_mailbox_receive_finish (FerryMailbox  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_mailbox_receive_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_mailbox_close:
 * @code: %SOUP_WEBSOCKET_CLOSE_NORMAL when done, or
 *   %FERRY_RENDEZVOUS_CLOSE_BAD_CODE when the PAKE failed (the server then
 *   burns the code)
 */
void
ferry_mailbox_close (FerryMailbox *self,
                     gushort       code)
{
  g_autofree char *reason = NULL;

  g_return_if_fail (FERRY_IS_MAILBOX (self));
  g_return_if_fail (code == SOUP_WEBSOCKET_CLOSE_NORMAL ||
                    code == FERRY_RENDEZVOUS_CLOSE_BAD_CODE);

  if (self->closed || self->close_requested ||
      soup_websocket_connection_get_state (self->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;

  self->close_requested = TRUE;
  if (code == FERRY_RENDEZVOUS_CLOSE_BAD_CODE)
    reason = g_strdup ("{\"error\":\"" FERRY_RENDEZVOUS_ERR_BAD_CODE "\"}");
  soup_websocket_connection_close (self->conn, code, reason);
}

/**
 * ferry_mailbox_get_token:
 *
 * Returns: (nullable): the token the server gave this side at its join,
 *   for ferry_rendezvous_client_fetch_ice_async(); %NULL from a server
 *   that gives none
 */
const char *
ferry_mailbox_get_token (FerryMailbox *self)
{
  g_return_val_if_fail (FERRY_IS_MAILBOX (self), NULL);

  return self->token;
}

gboolean
ferry_mailbox_is_closed (FerryMailbox *self)
{
  g_return_val_if_fail (FERRY_IS_MAILBOX (self), TRUE);

  return self->closed || self->close_requested;
}

static void
ferry_mailbox_dispose (GObject *object)
{
  FerryMailbox *self = FERRY_MAILBOX (object);

  if (self->conn != NULL)
    {
      if (soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN &&
          !self->close_requested)
        soup_websocket_connection_close (self->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_signal_handlers_disconnect_by_data (self->conn, self);
      g_clear_object (&self->conn);
    }

  G_OBJECT_CLASS (ferry_mailbox_parent_class)->dispose (object);
}

static void
ferry_mailbox_finalize (GObject *object)
{
  FerryMailbox *self = FERRY_MAILBOX (object);

  /* Each waiting task holds a reference to us, so none is left here. */
  g_assert (g_queue_is_empty (&self->waiters));
  g_queue_clear_full (&self->messages, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&self->end);
  g_clear_error (&self->conn_error);
  g_free (self->token);

  G_OBJECT_CLASS (ferry_mailbox_parent_class)->finalize (object);
}

static void
ferry_mailbox_class_init (FerryMailboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_mailbox_dispose;
  object_class->finalize = ferry_mailbox_finalize;

  /**
   * FerryMailbox::message:
   * @message: the bytes from the other side
   *
   * Emitted for each message, in order. A handler that returns %TRUE takes
   * the message; otherwise it is queued for ferry_mailbox_receive_async().
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, G_TYPE_BYTES);

  /**
   * FerryMailbox::closed:
   * @error: (nullable): why, or %NULL for a normal close by either side
   *
   * Emitted once, when the mailbox has closed.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ferry_mailbox_init (FerryMailbox *self)
{
  g_queue_init (&self->messages);
  g_queue_init (&self->waiters);
}
