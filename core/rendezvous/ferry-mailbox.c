/* ferry-mailbox.c
 *
 * One side of a rendezvous mailbox: an ordered, message-based channel to
 * the other side, relayed by the server over a WebSocket. Messages are
 * kept in order until the caller asks for them, and the way the mailbox
 * ended (peer left, wrong code, expired…) is told as a FerryRendezvousError.
 *
 * With a server that keeps mailboxes in a shared store, a connection that
 * drops (the instance died, a load balancer moved us) is not the end: the
 * side joins again with its token, tells how many messages it got, learns
 * how many of its own the server holds, and sends again only the rest.
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

  /* Resumption, when the server offers it. */
  FerryRendezvousClient   *client;
  char                    *nameplate;
  GPtrArray               *sent;      /* GBytes, everything sent so far */
  gsize                    sent_bytes;
  guint                    received;
  gboolean                 resuming;
  gint64                   resume_deadline;
  GCancellable            *resume_cancellable;
  guint                    retry_id;
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

  self->received++;
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

static void mailbox_end (FerryMailbox *self, const GError *reported);
static void start_resume (FerryMailbox *self);

static void
conn_closed_cb (SoupWebsocketConnection *conn,
                gpointer                 user_data)
{
  g_autoptr(FerryMailbox) self = g_object_ref (user_data);
  gushort code = soup_websocket_connection_get_close_code (conn);
  g_autoptr(GError) reported = NULL;

  if (self->closed)
    return;

  /* No close frame and no broken frame: the connection was lost, not
   * ended, and the server may take us back. */
  if (!self->close_requested && self->sent != NULL && code == 0 &&
      (self->conn_error == NULL || self->conn_error->domain != SOUP_WEBSOCKET_ERROR))
    {
      start_resume (self);
      return;
    }

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
  mailbox_end (self, reported);
}

/* Tells every waiter, and the "closed" handlers, why it ended (self->end). */
static void
mailbox_end (FerryMailbox *self,
             const GError *reported)
{
  GTask *waiter;

  self->closed = TRUE;
  while ((waiter = g_queue_pop_head (&self->waiters)) != NULL)
    {
      waiter_disconnect (waiter);
      g_task_return_error (waiter, g_error_copy (self->end));
      g_object_unref (waiter);
    }

  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reported);
}

static void
attach_conn (FerryMailbox            *self,
             SoupWebsocketConnection *conn)
{
  if (self->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->conn, self);
      g_clear_object (&self->conn);
    }
  g_clear_error (&self->conn_error);
  self->conn = g_object_ref (conn);
  g_signal_connect (conn, "message", G_CALLBACK (conn_message_cb), self);
  g_signal_connect (conn, "error", G_CALLBACK (conn_error_cb), self);
  g_signal_connect (conn, "closed", G_CALLBACK (conn_closed_cb), self);
}

FerryMailbox *
ferry_mailbox_new (SoupWebsocketConnection *conn,
                   const char              *token)
{
  FerryMailbox *self;

  g_return_val_if_fail (SOUP_IS_WEBSOCKET_CONNECTION (conn), NULL);

  self = g_object_new (FERRY_TYPE_MAILBOX, NULL);
  self->token = g_strdup (token);
  attach_conn (self, conn);

  return self;
}

/* The server said how many of our messages it holds: from now on the
 * mailbox keeps what it sends, to send it again after a lost connection. */
void
ferry_mailbox_set_resumable (FerryMailbox          *self,
                             FerryRendezvousClient *client,
                             const char            *nameplate)
{
  g_return_if_fail (FERRY_IS_MAILBOX (self));

  if (self->token == NULL || nameplate == NULL)
    return;
  g_set_object (&self->client, client);
  g_free (self->nameplate);
  self->nameplate = g_strdup (nameplate);
  if (self->sent == NULL)
    self->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

void
ferry_mailbox_resumed_free (FerryMailboxResumed *resumed)
{
  g_clear_object (&resumed->conn);
  g_free (resumed);
}

static void try_resume (FerryMailbox *self);

static gboolean
retry_cb (gpointer user_data)
{
  FerryMailbox *self = user_data;

  self->retry_id = 0;
  try_resume (self);
  return G_SOURCE_REMOVE;
}

static void
resume_failed (FerryMailbox *self,
               const GError *error)
{
  g_autoptr(GError) reported = NULL;

  self->resuming = FALSE;
  g_clear_pointer (&self->sent, g_ptr_array_unref);
  /* The server no longer knows the side: whatever it was, it is over. */
  if (g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND))
    self->end = g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                                     "The connection to the server was lost, and the server "
                                     "no longer knows this side");
  else
    self->end = g_error_copy (error);
  reported = g_error_copy (self->end);
  g_debug ("could not join again: %s", error->message);
  mailbox_end (self, reported);
}

static void
resume_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(FerryMailbox) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryMailboxResumed) resumed =
    ferry_rendezvous_client_resume_mailbox_finish (FERRY_RENDEZVOUS_CLIENT (object), result,
                                                   &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || !self->resuming)
    return;

  if (resumed == NULL)
    {
      /* Another instance may be on its way up: keep trying for a while. */
      if ((g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE) ||
           g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED) ||
           g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL)) &&
          g_get_monotonic_time () < self->resume_deadline)
        {
          self->retry_id = g_timeout_add (250, retry_cb, self);
          return;
        }
      resume_failed (self, error);
      return;
    }

  /* The server's count is its word; it cannot hold more than we sent. */
  if (resumed->server_received < 0 || resumed->server_received > (gint64) self->sent->len)
    {
      g_autoptr(GError) bad = g_error_new_literal (FERRY_RENDEZVOUS_ERROR,
                                                   FERRY_RENDEZVOUS_ERROR_PROTOCOL,
                                                   "The rendezvous server miscounted the "
                                                   "messages of this side");

      soup_websocket_connection_close (resumed->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      resume_failed (self, bad);
      return;
    }

  g_debug ("joined again; the server holds %" G_GINT64_FORMAT " of our %u messages",
           resumed->server_received, self->sent->len);
  self->resuming = FALSE;
  attach_conn (self, resumed->conn);
  for (guint i = (guint) resumed->server_received; i < self->sent->len; i++)
    soup_websocket_connection_send_message (self->conn, SOUP_WEBSOCKET_DATA_BINARY,
                                            self->sent->pdata[i]);
}

static void
try_resume (FerryMailbox *self)
{
  ferry_rendezvous_client_resume_mailbox_async (self->client, self->nameplate, self->token,
                                                self->received, self->resume_cancellable,
                                                resume_cb, g_object_ref (self));
}

static void
start_resume (FerryMailbox *self)
{
  g_debug ("connection lost; joining again");
  self->resuming = TRUE;
  self->resume_deadline = g_get_monotonic_time () +
                          FERRY_MAILBOX_RESUME_SECONDS * G_USEC_PER_SEC;
  if (self->resume_cancellable == NULL)
    self->resume_cancellable = g_cancellable_new ();
  try_resume (self);
}

static void
stop_resume (FerryMailbox *self)
{
  self->resuming = FALSE;
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->resume_cancellable != NULL)
    g_cancellable_cancel (self->resume_cancellable);
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

  if (self->closed || self->close_requested)
    {
      g_debug ("dropping a message sent on a closed mailbox");
      return;
    }

  if (self->sent != NULL)
    {
      self->sent_bytes += g_bytes_get_size (message);
      if (self->sent_bytes > FERRY_MAILBOX_MAX_RESEND)
        g_clear_pointer (&self->sent, g_ptr_array_unref);
      else
        g_ptr_array_add (self->sent, g_bytes_ref (message));
    }

  /* Sent again once the mailbox is back. */
  if (self->resuming && self->sent != NULL)
    return;

  if (soup_websocket_connection_get_state (self->conn) != SOUP_WEBSOCKET_STATE_OPEN)
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

  if (self->resuming && !self->closed)
    {
      stop_resume (self);
      self->close_requested = TRUE;
      self->end = g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                                       "The mailbox was closed");
      mailbox_end (self, NULL);
      return;
    }

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

  stop_resume (self);
  g_clear_object (&self->resume_cancellable);
  g_clear_object (&self->client);
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
  g_free (self->nameplate);
  g_clear_pointer (&self->sent, g_ptr_array_unref);

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
