/* ferry-signalling.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-signalling"

#include "config.h"

#include <string.h>

#include "ferry-json-check.h"
#include "ferry-signalling.h"

/**
 * FerrySignalling:
 *
 * Routes the sealed messages of one connected #FerryChannel by type. Every
 * message is a JSON object `{"type": TYPE, ...}`; ferry_signalling_send()
 * makes one and #FerrySignalling::message emits the ones that arrive, with
 * TYPE as the signal detail, so each layer connects to "message::ice",
 * "message::hello" and so on.
 *
 * The router owns the channel's receive loop from ferry_signalling_start()
 * on. The rendezvous mailbox keeps what arrives meanwhile, so every layer
 * connects its handler first and the app starts the router afterwards;
 * nothing the peer sent early is lost.
 *
 * The peer proved it holds the code, but its messages are still input.
 * Each must be strict JSON (ferry_json_check(): RFC 8259 only, bounded
 * depth, size, strings and numbers) before json-glib sees it; anything else
 * is a broken or hostile peer and ends the channel with that error. A JSON
 * value that is not an object with a sensible type is counted as junk and
 * dropped; a message of a type nobody listens to (a later version's) is
 * dropped with a debug message. Neither ends the channel.
 */

struct _FerrySignalling
{
  GObject       parent_instance;

  FerryChannel *channel;
  GCancellable *cancellable;
  guint         n_junk;
  guint         n_unknown;
  guint         started : 1;
  guint         closed : 1;
};

enum {
  PROP_0,
  PROP_CHANNEL,
  PROP_CLOSED,
  N_PROPS
};

enum {
  MESSAGE,
  CLOSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (FerrySignalling, ferry_signalling, G_TYPE_OBJECT)

static gboolean
type_is_valid (const char *type)
{
  gsize len = strlen (type);

  if (len == 0 || len > FERRY_SIGNALLING_TYPE_MAX_LENGTH)
    return FALSE;

  for (const char *p = type; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;

  return TRUE;
}

static void
finish (FerrySignalling *self,
        const GError    *error)
{
  if (self->closed)
    return;

  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
  g_signal_emit (self, signals[CLOSED], 0, error);
}

/**
 * ferry_signalling_parse_message:
 * @data: (array length=len): one message as the peer sent it
 * @len: its length in bytes
 * @object: (out) (transfer full) (nullable): the message, or %NULL when it
 *   is JSON but not a message (not an object, or no valid "type"): junk
 * @error: return location for a %FERRY_JSON_CHECK_ERROR
 *
 * Reads one signalling message, checking it with ferry_json_check() before
 * json-glib parses it. Pure: it only reads @data.
 *
 * Returns: %FALSE when @data is not strict JSON; the channel must end
 */
gboolean
ferry_signalling_parse_message (const char  *data,
                                gsize        len,
                                JsonObject **object,
                                GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;
  const char *type;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (object != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *object = NULL;
  if (!ferry_json_check (data, len, error))
    return FALSE;

  /* Strict JSON is JSON to json-glib too; a failure here would be its bug,
   * and the message is junk either way. */
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return TRUE;

  type = json_object_get_string_member_with_default (json_node_get_object (root), "type", NULL);
  if (type != NULL && type_is_valid (type))
    *object = json_object_ref (json_node_get_object (root));
  return TRUE;
}

/* A message that is not strict JSON: the peer is broken or hostile. */
static void
fail_malformed (FerrySignalling *self,
                GError          *error)
{
  /* Worded as the transfer words it (ferry-transfer.c); the checker's
   * message gives an offset and never quotes the peer. */
  g_prefix_error_literal (&error, "The other side sent a malformed message: ");
  g_debug ("Ending the channel: %s", error->message);
  g_object_ref (self);
  finish (self, error);
  ferry_channel_close (self->channel);
  g_object_unref (self);
}

static void
dispatch (FerrySignalling *self,
          GBytes          *message)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;
  const char *type;
  const char *data;
  gsize size;
  GQuark detail;

  data = g_bytes_get_data (message, &size);
  if (!ferry_signalling_parse_message (data, size, &object, &error))
    {
      fail_malformed (self, error);
      return;
    }
  if (object == NULL)
    {
      self->n_junk++;
      g_debug ("Dropped a signalling message that is not an object with a valid type");
      return;
    }

  type = json_object_get_string_member (object, "type");

  /* g_quark_try_string: a type nobody registered a handler for has no quark, and
   * interning every string a peer makes up would grow the quark table for good. */
  detail = g_quark_try_string (type);
  if (detail == 0 || !g_signal_has_handler_pending (self, signals[MESSAGE], detail, FALSE))
    {
      self->n_unknown++;
      g_debug ("Ignored a signalling message of unknown type “%s”", type);
      return;
    }

  g_signal_emit (self, signals[MESSAGE], detail, object);
}

static void receive_next (FerrySignalling *self);

static void
receive_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(FerrySignalling) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;

  message = ferry_channel_receive_finish (FERRY_CHANNEL (object), result, &error);
  if (self->closed)
    return;

  if (message == NULL)
    {
      if (g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED))
        finish (self, NULL);
      else
        finish (self, error);
      return;
    }

  dispatch (self, message);
  if (!self->closed)
    receive_next (self);
}

static void
receive_next (FerrySignalling *self)
{
  ferry_channel_receive_async (self->channel, self->cancellable, receive_cb,
                               g_object_ref (self));
}

/**
 * ferry_signalling_new:
 * @channel: a connected channel; the router becomes its only reader
 */
FerrySignalling *
ferry_signalling_new (FerryChannel *channel)
{
  g_return_val_if_fail (FERRY_IS_CHANNEL (channel), NULL);

  return g_object_new (FERRY_TYPE_SIGNALLING, "channel", channel, NULL);
}

FerryChannel *
ferry_signalling_get_channel (FerrySignalling *self)
{
  g_return_val_if_fail (FERRY_IS_SIGNALLING (self), NULL);

  return self->channel;
}

/**
 * ferry_signalling_start:
 *
 * Starts reading the channel. Connect the #FerrySignalling::message handlers
 * first: a message of a type without a handler is dropped. The read loop
 * keeps the router alive until the channel ends or ferry_signalling_close()
 * is called, so call it when done.
 */
void
ferry_signalling_start (FerrySignalling *self)
{
  g_return_if_fail (FERRY_IS_SIGNALLING (self));

  if (self->started || self->closed)
    return;

  self->started = TRUE;
  receive_next (self);
}

/**
 * ferry_signalling_send:
 * @type: the message type: 1 to 64 of a-z, 0-9 and "-"
 * @body: (nullable): further members; a "type" member in it is replaced
 *
 * Sends `{"type": @type, ...@body}` sealed to the peer, in order.
 *
 * Returns: %FALSE when the channel is closed, so nothing was sent
 */
gboolean
ferry_signalling_send (FerrySignalling *self,
                       const char      *type,
                       JsonObject      *body)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  GList *members;
  char *text;
  gsize length;

  g_return_val_if_fail (FERRY_IS_SIGNALLING (self), FALSE);
  g_return_val_if_fail (type != NULL && type_is_valid (type), FALSE);

  if (self->closed || ferry_channel_get_state (self->channel) != FERRY_CHANNEL_STATE_CONNECTED)
    return FALSE;

  json_object_set_string_member (object, "type", type);
  members = body != NULL ? json_object_get_members (body) : NULL;
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "type"))
      json_object_set_member (object, l->data, json_object_dup_member (body, l->data));
  g_list_free (members);

  json_node_set_object (root, object);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &length);
  bytes = g_bytes_new_take (text, length);
  ferry_channel_send (self->channel, bytes);

  return TRUE;
}

/**
 * ferry_signalling_get_n_junk:
 *
 * Returns: how many messages were dropped for not being a JSON object with a
 *   valid type
 */
guint
ferry_signalling_get_n_junk (FerrySignalling *self)
{
  g_return_val_if_fail (FERRY_IS_SIGNALLING (self), 0);

  return self->n_junk;
}

/**
 * ferry_signalling_get_n_unknown:
 *
 * Returns: how many well-formed messages were dropped because no layer
 *   handles their type
 */
guint
ferry_signalling_get_n_unknown (FerrySignalling *self)
{
  g_return_val_if_fail (FERRY_IS_SIGNALLING (self), 0);

  return self->n_unknown;
}

gboolean
ferry_signalling_get_closed (FerrySignalling *self)
{
  g_return_val_if_fail (FERRY_IS_SIGNALLING (self), TRUE);

  return self->closed;
}

/**
 * ferry_signalling_close:
 *
 * Stops routing and closes the channel; #FerrySignalling::closed is emitted
 * without an error unless the channel had ended already.
 */
void
ferry_signalling_close (FerrySignalling *self)
{
  g_return_if_fail (FERRY_IS_SIGNALLING (self));

  if (self->closed)
    return;

  g_object_ref (self);
  finish (self, NULL);
  ferry_channel_close (self->channel);
  g_object_unref (self);
}

static void
ferry_signalling_dispose (GObject *object)
{
  FerrySignalling *self = FERRY_SIGNALLING (object);

  /* No signal from a dying object: just stop the loop. */
  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);

  G_OBJECT_CLASS (ferry_signalling_parent_class)->dispose (object);
}

static void
ferry_signalling_finalize (GObject *object)
{
  FerrySignalling *self = FERRY_SIGNALLING (object);

  g_clear_object (&self->channel);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (ferry_signalling_parent_class)->finalize (object);
}

static void
ferry_signalling_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  FerrySignalling *self = FERRY_SIGNALLING (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:
      g_value_set_object (value, self->channel);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, self->closed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_signalling_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  FerrySignalling *self = FERRY_SIGNALLING (object);

  switch (prop_id)
    {
    case PROP_CHANNEL:
      self->channel = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_signalling_class_init (FerrySignallingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_signalling_dispose;
  object_class->finalize = ferry_signalling_finalize;
  object_class->get_property = ferry_signalling_get_property;
  object_class->set_property = ferry_signalling_set_property;

  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, FERRY_TYPE_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FerrySignalling::message:
   * @body: the whole message, "type" member included
   *
   * A message arrived; the detail is its type.
   */
  signals[MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  JSON_TYPE_OBJECT | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * FerrySignalling::closed:
   * @error: (nullable): why the channel ended, %NULL for a normal close
   *
   * The channel ended (the peer or we closed it, or it failed); no message
   * follows.
   */
  signals[CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ferry_signalling_init (FerrySignalling *self)
{
  self->cancellable = g_cancellable_new ();
}
