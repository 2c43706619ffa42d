/* ferry-channel.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-channel"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "ferry-channel.h"
#include "ferry-code.h"
#include "ferry-mailbox.h"
#include "ferry-pake.h"
#include "ferry-rendezvous-protocol.h"
#include "ferry-seal.h"

/**
 * FerryChannel:
 *
 * The private conversation between the two people holding one share code.
 *
 * The sender allocates a nameplate and makes a code; the receiver opens the
 * same nameplate's mailbox with the code it was told. Both put a PAKE
 * message into the mailbox, answer the other's with a key confirmation and,
 * once each has checked the other's confirmation, every further message is
 * sealed with keys only the two of them know. The rendezvous server sees
 * nothing but opaque bytes.
 *
 * A failed PAKE closes the mailbox with %FERRY_RENDEZVOUS_CLOSE_BAD_CODE,
 * which makes the server burn the nameplate: one code allows one guess.
 */
struct _FerryChannel
{
  GObject                parent_instance;

  FerryRendezvousClient *client;
  FerryMailbox          *mailbox;
  FerryPake             *pake;
  FerrySeal             *seal;
  char                  *code;

  FerryChannelState      state;
  guint                  is_sender : 1;
  guint                  busy : 1;
};

G_DEFINE_FINAL_TYPE (FerryChannel, ferry_channel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_STATE,
  PROP_CODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
ferry_channel_set_state (FerryChannel      *self,
                         FerryChannelState  state)
{
  if (self->state == state)
    return;

  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* The PAKE failed: tell the server so it burns the nameplate, and make the
 * error one a person can act on. */
static void
ferry_channel_fail (FerryChannel *self,
                    gboolean      burn)
{
  if (self->mailbox != NULL && !ferry_mailbox_is_closed (self->mailbox))
    ferry_mailbox_close (self->mailbox,
                         burn ? FERRY_RENDEZVOUS_CLOSE_BAD_CODE : SOUP_WEBSOCKET_CLOSE_NORMAL);
  ferry_channel_set_state (self, FERRY_CHANNEL_STATE_FAILED);
}


/* How long a side that burns the code waits for the server to confirm before it reports the
 * wrong code anyway (a server that is gone cannot be waited for). */
#define BURN_CONFIRM_MS 2000

typedef struct
{
  GTask        *task;
  GError       *error;
  FerryMailbox *mailbox;
  gulong        closed_id;
  GSource      *timeout;
} BurnWait;

static gboolean
burn_confirmed (gpointer user_data)
{
  BurnWait *wait = user_data;

  g_signal_handler_disconnect (wait->mailbox, wait->closed_id);
  g_source_destroy (wait->timeout);
  g_source_unref (wait->timeout);
  g_task_return_error (wait->task, wait->error);
  g_object_unref (wait->task);
  g_object_unref (wait->mailbox);
  g_free (wait);
  return G_SOURCE_REMOVE;
}

static void
burn_closed_cb (FerryMailbox *mailbox,
                const GError *error,
                gpointer      user_data)
{
  burn_confirmed (user_data);
}

/* The PAKE failed on our side: burn the code, and say so only once the server has closed
 * our side (it burns the nameplate as the close starts), so that whoever tries the code next
 * already finds it gone. */
static void
ferry_channel_burn_and_return (FerryChannel *self,
                               GTask        *task,
                               GError       *error)
{
  BurnWait *wait;

  if (self->mailbox == NULL || ferry_mailbox_is_closed (self->mailbox))
    {
      ferry_channel_fail (self, TRUE);
      g_task_return_error (task, error);
      return;
    }

  wait = g_new0 (BurnWait, 1);
  wait->task = g_object_ref (task);
  wait->error = error;
  wait->mailbox = g_object_ref (self->mailbox);
  wait->closed_id = g_signal_connect (self->mailbox, "closed", G_CALLBACK (burn_closed_cb), wait);
  wait->timeout = g_timeout_source_new (BURN_CONFIRM_MS);
  g_source_set_callback (wait->timeout, burn_confirmed, wait, NULL);
  g_source_attach (wait->timeout, g_task_get_context (task));
  ferry_channel_fail (self, TRUE);
}

/* The sender made the code, so for it a failed PAKE can only mean that
 * somebody else guessed at it. */
static GError *
wrong_code_error (FerryChannel *self)
{
  if (self->is_sender)
    return g_error_new_literal (FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE,
                                _("Someone else tried this code, so it can no longer be used. "
                                  "Send again with a new code."));
  return g_error_new_literal (FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE,
                              _("The code is wrong. Check it with the sender and try again "
                                "with a new code."));
}

static void
ferry_channel_dispose (GObject *object)
{
  FerryChannel *self = (FerryChannel *)object;

  if (self->mailbox != NULL && !ferry_mailbox_is_closed (self->mailbox))
    ferry_mailbox_close (self->mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);

  g_clear_object (&self->mailbox);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (ferry_channel_parent_class)->dispose (object);
}

static void
ferry_channel_finalize (GObject *object)
{
  FerryChannel *self = (FerryChannel *)object;

  g_clear_object (&self->pake);
  g_clear_object (&self->seal);
  g_clear_pointer (&self->code, g_free);

  G_OBJECT_CLASS (ferry_channel_parent_class)->finalize (object);
}

static void
ferry_channel_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  FerryChannel *self = FERRY_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;

    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;

    case PROP_CODE:
      g_value_set_string (value, self->code);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_channel_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  FerryChannel *self = FERRY_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      self->client = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_channel_class_init (FerryChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_channel_dispose;
  object_class->finalize = ferry_channel_finalize;
  object_class->get_property = ferry_channel_get_property;
  object_class->set_property = ferry_channel_set_property;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL,
                         FERRY_TYPE_RENDEZVOUS_CLIENT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /* A plain int keeps the core free of generated enum types; the values
   * are those of FerryChannelState. */
  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      FERRY_CHANNEL_STATE_NEW, FERRY_CHANNEL_STATE_CLOSED,
                      FERRY_CHANNEL_STATE_NEW,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CODE] =
    g_param_spec_string ("code", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_channel_init (FerryChannel *self)
{
}

/**
 * ferry_channel_new:
 * @client: the rendezvous server to meet through
 */
FerryChannel *
ferry_channel_new (FerryRendezvousClient *client)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (client), NULL);

  return g_object_new (FERRY_TYPE_CHANNEL,
                       "client", client,
                       NULL);
}

FerryChannelState
ferry_channel_get_state (FerryChannel *self)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), FERRY_CHANNEL_STATE_NEW);

  return self->state;
}

/**
 * ferry_channel_get_ice_token:
 *
 * Returns: (nullable): the rendezvous token of our side of the mailbox,
 *   which TURN credentials are handed out for, once the mailbox is open
 */
const char *
ferry_channel_get_ice_token (FerryChannel *self)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), NULL);

  return self->mailbox != NULL ? ferry_mailbox_get_token (self->mailbox) : NULL;
}

/**
 * ferry_channel_get_code:
 *
 * Returns: (nullable): the normalized share code, once there is one
 */
const char *
ferry_channel_get_code (FerryChannel *self)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), NULL);

  return self->code;
}

gboolean
ferry_channel_is_sender (FerryChannel *self)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), FALSE);

  return self->is_sender;
}

static void
ferry_channel_set_code (FerryChannel *self,
                        const char   *code)
{
  if (g_strcmp0 (self->code, code) == 0)
    return;

  g_free (self->code);
  self->code = g_strdup (code);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);
}

/* Both sides, once the mailbox is open: put our PAKE message in it. */
static void
ferry_channel_start_pake (FerryChannel  *self,
                          FerryMailbox  *mailbox,
                          FerryPakeRole  role)
{
  g_autoptr(GBytes) message = NULL;

  g_assert (self->mailbox == NULL);
  g_assert (self->pake == NULL);

  self->mailbox = g_object_ref (mailbox);
  self->pake = ferry_pake_new (role, self->code);

  message = ferry_pake_get_message (self->pake);
  ferry_mailbox_send (self->mailbox, message);

  ferry_channel_set_state (self, FERRY_CHANNEL_STATE_WAITING);
}

/* Both sides, once their mailbox is open: leave the PAKE message in it. */
static void
mailbox_opened_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryChannel *self = g_task_get_source_object (task);
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;

  mailbox = ferry_rendezvous_client_open_mailbox_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                         result, &error);
  self->busy = FALSE;

  if (mailbox == NULL)
    {
      ferry_channel_set_state (self, FERRY_CHANNEL_STATE_FAILED);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  ferry_channel_start_pake (self, mailbox,
                            self->is_sender ? FERRY_PAKE_ROLE_SENDER : FERRY_PAKE_ROLE_RECEIVER);
  g_task_return_boolean (task, TRUE);
}

static void
create_code_allocate_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryChannel *self = g_task_get_source_object (task);
  g_autofree char *nameplate = NULL;
  g_autofree char *code = NULL;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  nameplate = ferry_rendezvous_client_allocate_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                       result, &error);
  if (nameplate == NULL)
    {
      self->busy = FALSE;
      ferry_channel_set_state (self, FERRY_CHANNEL_STATE_FAILED);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  code = ferry_code_generate (nameplate, GPOINTER_TO_UINT (g_task_get_task_data (task)));
  ferry_channel_set_code (self, code);

  /* The cancellable is read before the task is handed on: argument order is unspecified. */
  cancellable = g_task_get_cancellable (task);
  ferry_rendezvous_client_open_mailbox_async (self->client,
                                              nameplate,
                                              cancellable,
                                              mailbox_opened_cb,
                                              g_steal_pointer (&task));
}

/**
 * ferry_channel_create_code_async:
 * @n_words: how many secret words the code has
 *
 * The sender's first step: allocates a nameplate, makes a code with it,
 * joins the mailbox and leaves the PAKE message there for the receiver.
 * The code is ready to be shown once this completes; then call
 * ferry_channel_connect_async() to wait for the receiver.
 */
void
ferry_channel_create_code_async (FerryChannel        *self,
                                 guint                n_words,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_NEW);
  g_return_if_fail (!self->busy);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_channel_create_code_async);
  g_task_set_task_data (task, GUINT_TO_POINTER (n_words), NULL);

  self->is_sender = TRUE;
  self->busy = TRUE;

  ferry_rendezvous_client_allocate_async (self->client,
                                          cancellable,
                                          create_code_allocate_cb,
                                          g_steal_pointer (&task));
}

/**
 * ferry_channel_create_code_finish:
 *
 * Returns: (transfer full): the share code to show to the user
 */
char *
ferry_channel_create_code_finish (FerryChannel  *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;

  return g_strdup (self->code);
}

/**
 * ferry_channel_open_code_async:
 * @code: the share code as the user typed it
 *
 * The receiver's first step: checks the code, joins the mailbox of its
 * nameplate and leaves the PAKE message there. A malformed code fails at
 * once with a %FERRY_CODE_ERROR and nothing is sent to the server.
 */
void
ferry_channel_open_code_async (FerryChannel        *self,
                               const char          *code,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *normalized = NULL;
  g_autofree char *nameplate = NULL;

  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (code != NULL);
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_NEW);
  g_return_if_fail (!self->busy);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_channel_open_code_async);

  normalized = ferry_code_normalize (code, &error);
  if (normalized == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  nameplate = ferry_code_get_nameplate (normalized);
  ferry_channel_set_code (self, normalized);
  self->is_sender = FALSE;
  self->busy = TRUE;

  ferry_rendezvous_client_open_mailbox_async (self->client,
                                              nameplate,
                                              cancellable,
                                              mailbox_opened_cb,
                                              g_steal_pointer (&task));
}

gboolean
ferry_channel_open_code_finish (FerryChannel  *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ferry_channel_adopt_mailbox:
 * @code: the normalized share code
 * @mailbox: a mailbox of @code's nameplate, already open, with nothing sent
 * @is_sender: whether we made the code
 *
 * Instead of ferry_channel_create_code_async() or
 * ferry_channel_open_code_async(), when the caller chose the mailbox itself
 * (core/lan: on the local network or through the server, whichever answered
 * first): leaves the PAKE message in @mailbox; go on with
 * ferry_channel_connect_async().
 */
void
ferry_channel_adopt_mailbox (FerryChannel *self,
                             const char   *code,
                             FerryMailbox *mailbox,
                             gboolean      is_sender)
{
  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (ferry_code_is_normalized (code));
  g_return_if_fail (FERRY_IS_MAILBOX (mailbox));
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_NEW);
  g_return_if_fail (!self->busy);

  self->is_sender = is_sender;
  ferry_channel_set_code (self, code);
  ferry_channel_start_pake (self, mailbox,
                            is_sender ? FERRY_PAKE_ROLE_SENDER : FERRY_PAKE_ROLE_RECEIVER);
}

/* While the PAKE runs, the peer burning the mailbox means its side of the
 * PAKE failed: to the user that is the same wrong code. */
static GError *
handshake_error (FerryChannel *self,
                 GError       *error)
{
  if (g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_BAD_CODE) ||
      g_error_matches (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE))
    {
      g_error_free (error);
      return wrong_code_error (self);
    }

  return error;
}

static void
connect_confirmation_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryChannel *self = g_task_get_source_object (task);
  g_autoptr(GBytes) confirmation = NULL;
  GError *error = NULL;

  self->busy = FALSE;

  confirmation = ferry_mailbox_receive_finish (FERRY_MAILBOX (object), result, &error);
  if (confirmation == NULL)
    {
      ferry_channel_fail (self, FALSE);
      g_task_return_error (task, handshake_error (self, error));
      return;
    }

  if (!ferry_pake_process_confirmation (self->pake, confirmation, &error))
    {
      g_debug ("Key confirmation failed: %s", error->message);
      ferry_channel_burn_and_return (self, task, handshake_error (self, error));
      return;
    }

  self->seal = ferry_pake_create_seal (self->pake, "mailbox");
  ferry_channel_set_state (self, FERRY_CHANNEL_STATE_CONNECTED);
  g_task_return_boolean (task, TRUE);
}

static void
connect_pake_message_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryChannel *self = g_task_get_source_object (task);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) confirmation = NULL;
  GCancellable *cancellable;
  GError *error = NULL;

  message = ferry_mailbox_receive_finish (FERRY_MAILBOX (object), result, &error);
  if (message == NULL)
    {
      self->busy = FALSE;
      ferry_channel_fail (self, FALSE);
      g_task_return_error (task, handshake_error (self, error));
      return;
    }

  confirmation = ferry_pake_process_message (self->pake, message, &error);
  if (confirmation == NULL)
    {
      /* Whatever the other side sent, it did not complete a PAKE with
       * this code: burn the nameplate so it cannot try again. */
      g_debug ("PAKE message rejected: %s", error->message);
      self->busy = FALSE;
      ferry_channel_burn_and_return (self, task, handshake_error (self, error));
      return;
    }

  ferry_mailbox_send (self->mailbox, confirmation);
  cancellable = g_task_get_cancellable (task);
  ferry_mailbox_receive_async (self->mailbox,
                               cancellable,
                               connect_confirmation_cb,
                               g_steal_pointer (&task));
}

/**
 * ferry_channel_connect_async:
 *
 * Waits for the other side's PAKE message, answers it and checks the other
 * side's key confirmation. Completes once both sides hold the same key; a
 * wrong code fails with %FERRY_PAKE_ERROR_WRONG_CODE on both sides.
 */
void
ferry_channel_connect_async (FerryChannel        *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_WAITING);
  g_return_if_fail (!self->busy);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_channel_connect_async);

  self->busy = TRUE;
  ferry_mailbox_receive_async (self->mailbox,
                               cancellable,
                               connect_pake_message_cb,
                               g_steal_pointer (&task));
}

gboolean
ferry_channel_connect_finish (FerryChannel  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ferry_channel_send:
 * @message: the plain message
 *
 * Seals @message for the other side and puts it in the mailbox.
 */
void
ferry_channel_send (FerryChannel *self,
                    GBytes       *message)
{
  g_autoptr(GBytes) sealed = NULL;

  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_CONNECTED);
  g_return_if_fail (message != NULL);

  sealed = ferry_seal_seal (self->seal, message);
  ferry_mailbox_send (self->mailbox, sealed);
}

static void
receive_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FerryChannel *self = g_task_get_source_object (task);
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) message = NULL;
  GError *error = NULL;

  sealed = ferry_mailbox_receive_finish (FERRY_MAILBOX (object), result, &error);
  if (sealed == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ferry_channel_set_state (self, FERRY_CHANNEL_STATE_CLOSED);
      g_task_return_error (task, error);
      return;
    }

  /* Anything that does not open is not from the other side: the channel
   * cannot be trusted any further. */
  message = ferry_seal_open (self->seal, sealed, &error);
  if (message == NULL)
    {
      ferry_channel_fail (self, FALSE);
      g_task_return_error (task, error);
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&message), (GDestroyNotify) g_bytes_unref);
}

/**
 * ferry_channel_receive_async:
 *
 * Receives the next sealed message from the other side, in order.
 */
void
ferry_channel_receive_async (FerryChannel        *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_channel_receive_async);

  if (self->state != FERRY_CHANNEL_STATE_CONNECTED)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "The channel is not connected");
      return;
    }

  ferry_mailbox_receive_async (self->mailbox, cancellable, receive_cb, g_steal_pointer (&task));
}

/**
 * ferry_channel_receive_finish:
 *
 * Returns: (transfer full): the opened message
 */
GBytes *
ferry_channel_receive_finish (FerryChannel  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_channel_derive_key:
 * @purpose: what the key is for, e.g. "transfer"
 * @key: (out caller-allocates): 32 bytes
 *
 * Derives a key that both sides of a connected channel compute alike and
 * nobody else can.
 */
void
ferry_channel_derive_key (FerryChannel *self,
                          const char   *purpose,
                          guint8        key[32])
{
  g_return_if_fail (FERRY_IS_CHANNEL (self));
  g_return_if_fail (self->state == FERRY_CHANNEL_STATE_CONNECTED);
  g_return_if_fail (purpose != NULL);

  ferry_pake_derive_key (self->pake, purpose, key);
}

/**
 * ferry_channel_close:
 *
 * Leaves the mailbox normally. The server frees the nameplate once both
 * sides have left.
 */
void
ferry_channel_close (FerryChannel *self)
{
  g_return_if_fail (FERRY_IS_CHANNEL (self));

  if (self->mailbox != NULL && !ferry_mailbox_is_closed (self->mailbox))
    ferry_mailbox_close (self->mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);

  if (self->state != FERRY_CHANNEL_STATE_FAILED)
    ferry_channel_set_state (self, FERRY_CHANNEL_STATE_CLOSED);
}
