/* ferry-rendezvous-client.c
 *
 * Talks to ferry-rendezvous: asks for a nameplate, opens a mailbox, fetches
 * STUN/TURN settings. Every answer is checked against the contract in
 * ferry-rendezvous-protocol.h before it is handed on, so the rest of Ferry
 * never sees what a wrong or hostile server sent.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous-client"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "ferry-json-check.h"
#include "ferry-mailbox-private.h"
#include "ferry-message-size-limit-stream.h"
#include "ferry-rendezvous-client.h"
#include "ferry-rendezvous-protocol.h"

#define DEFAULT_CONNECT_TIMEOUT 10
#define MAX_RESPONSE_BODY       (64 * 1024)
#define READ_CHUNK              8192
#define MAX_HANDSHAKE_ANSWER    16384
#define WEBSOCKET_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct _FerryRendezvousClient
{
  GObject      parent_instance;

  char        *base_url;
  guint        connect_timeout;
  SoupSession *session;
};

G_DEFINE_FINAL_TYPE (FerryRendezvousClient, ferry_rendezvous_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BASE_URL,
  PROP_CONNECT_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Errors --------------------------------------------------------------- */

static GError *
protocol_error (const char *what)
{
  return g_error_new (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL,
                      "This is not a Ferry rendezvous server (%s)", what);
}

/* One request --------------------------------------------------------- */

typedef JsonNode *(*ValidateFunc) (guint status, JsonNode *root, GError **error);

typedef struct
{
  GCancellable *cancellable;      /* ours: cancelled by the caller's or the timeout */
  GCancellable *user_cancellable;
  gulong        cancelled_id;
  guint         timeout_id;
  gboolean      timed_out;
  SoupMessage  *msg;
  GInputStream *stream;
  GByteArray   *body;
  ValidateFunc  validate;
  GIOStream    *connection;     /* a mailbox's, until the handshake is done */
  char         *handshake;
  guint8        byte;
  gboolean      resume;         /* a mailbox's join again: return the connection */
} Request;

static void
request_free (Request *request)
{
  g_clear_handle_id (&request->timeout_id, g_source_remove);
  if (request->user_cancellable != NULL)
    g_cancellable_disconnect (request->user_cancellable, request->cancelled_id);
  g_clear_object (&request->user_cancellable);
  g_clear_object (&request->cancellable);
  g_clear_object (&request->msg);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_clear_object (&request->connection);
  g_free (request->handshake);
  g_free (request);
}

static void
user_cancelled_cb (GCancellable *user_cancellable,
                   gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

static gboolean
request_timeout_cb (gpointer user_data)
{
  Request *request = user_data;

  request->timeout_id = 0;
  request->timed_out = TRUE;
  g_cancellable_cancel (request->cancellable);
  return G_SOURCE_REMOVE;
}

/* Sets up the timeout and the cancellation link shared by all requests. */
static Request *
request_new (FerryRendezvousClient *self,
             GCancellable          *cancellable)
{
  Request *request = g_new0 (Request, 1);

  request->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      request->user_cancellable = g_object_ref (cancellable);
      request->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (user_cancelled_cb),
                                                     request->cancellable, NULL);
    }
  request->timeout_id = g_timeout_add (self->connect_timeout * 1000, request_timeout_cb, request);
  return request;
}

/* Turns a transport error into one of ours. */
static void
request_return_transport_error (GTask  *task,
                                GError *error)
{
  Request *request = g_task_get_task_data (task);

  if (request->user_cancellable != NULL && g_cancellable_is_cancelled (request->user_cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
    }
  else if (request->timed_out)
    {
      g_task_return_new_error (task, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE,
                               "The rendezvous server did not answer in time");
    }
  else
    {
      g_task_return_new_error (task, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE,
                               "The rendezvous server cannot be reached: %s", error->message);
    }
}

static void
request_finish_body (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  guint status = soup_message_get_status (request->msg);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *result;

  g_clear_handle_id (&request->timeout_id, g_source_remove);

  /* Strict JSON first: json-glib alone recurses once per nesting level. */
  if (!ferry_json_check ((const char *) request->body->data, request->body->len, NULL) ||
      !json_parser_load_from_data (parser, (const char *) request->body->data,
                                   request->body->len, NULL) ||
      json_parser_get_root (parser) == NULL)
    {
      g_task_return_error (task, protocol_error ("its answer is not JSON"));
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      JsonNode *root = json_parser_get_root (parser);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      JsonNode *member = object != NULL ? json_object_get_member (object, "error") : NULL;

      /* Only an error in our own shape says something about our request;
       * anything else is some other server on that address. */
      if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
          json_node_get_value_type (member) != G_TYPE_STRING)
        g_task_return_error (task, protocol_error ("its error answer is not ours"));
      else
        g_task_return_error (task, ferry_rendezvous_error_for_status (status));
      return;
    }

  result = request->validate (status, json_parser_get_root (parser), &error);
  if (result == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, result, (GDestroyNotify) json_node_unref);
}

static void
request_read_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (chunk == NULL)
    {
      request_return_transport_error (task, error);
      return;
    }

  if (g_bytes_get_size (chunk) == 0)
    {
      request_finish_body (task);
      return;
    }

  g_byte_array_append (request->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  if (request->body->len > MAX_RESPONSE_BODY)
    {
      g_task_return_error (task, protocol_error ("its answer is too large"));
      return;
    }

  g_input_stream_read_bytes_async (request->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   request->cancellable, request_read_cb,
                                   g_steal_pointer (&task));
}

static void
request_send_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  request->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (request->stream == NULL)
    {
      request_return_transport_error (task, error);
      return;
    }

  request->body = g_byte_array_new ();
  g_input_stream_read_bytes_async (request->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   request->cancellable, request_read_cb,
                                   g_steal_pointer (&task));
}

static char *
build_url (FerryRendezvousClient *self,
           const char            *path)
{
  g_autofree char *base = g_strdup (self->base_url);

  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  return g_strconcat (base, path, NULL);
}

/* Makes a GUri of base_url + @path, or fails the task: a wrong URL in the
 * settings is reported like a server that cannot be reached. */
static GUri *
parse_url (FerryRendezvousClient *self,
           const char            *path,
           GTask                 *task)
{
  g_autofree char *url = build_url (self, path);
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);

  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_task_return_new_error (task, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE,
                               "“%s” is not a valid rendezvous server address", self->base_url);
      return NULL;
    }

  return g_steal_pointer (&uri);
}

static void
start_json_request (FerryRendezvousClient *self,
                    GTask                 *task,
                    const char            *method,
                    const char            *path,
                    const char            *token,
                    ValidateFunc           validate)
{
  Request *request;
  g_autoptr(GUri) uri = parse_url (self, path, task);

  if (uri == NULL)
    {
      g_object_unref (task);
      return;
    }

  request = request_new (self, g_task_get_cancellable (task));
  request->validate = validate;
  request->msg = soup_message_new_from_uri (method, uri);
  soup_message_headers_replace (soup_message_get_request_headers (request->msg),
                                "Accept", "application/json");
  if (token != NULL)
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (request->msg),
                                    "Authorization", authorization);
    }
  if (g_str_equal (method, SOUP_METHOD_POST))
    {
      g_autoptr(GBytes) body = g_bytes_new_static ("{}", 2);

      soup_message_set_request_body_from_bytes (request->msg, "application/json", body);
    }
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  soup_session_send_async (self->session, request->msg, G_PRIORITY_DEFAULT,
                           request->cancellable, request_send_cb, task);
}

/* Allocate ------------------------------------------------------------- */

static gboolean
is_nameplate (const char *text)
{
  gsize length = strlen (text);

  if (length == 0 || length > FERRY_RENDEZVOUS_MAX_NAMEPLATE_DIGITS || text[0] == '0')
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
  return TRUE;
}

static JsonNode *
validate_allocation (guint      status,
                     JsonNode  *root,
                     GError   **error)
{
  JsonObject *object;
  JsonNode *nameplate;
  JsonNode *expires_in;

  if (status != SOUP_STATUS_CREATED || !JSON_NODE_HOLDS_OBJECT (root))
    goto bad;

  object = json_node_get_object (root);
  nameplate = json_object_get_member (object, "nameplate");
  expires_in = json_object_get_member (object, "expires_in");
  if (nameplate == NULL || !JSON_NODE_HOLDS_VALUE (nameplate) ||
      json_node_get_value_type (nameplate) != G_TYPE_STRING ||
      !is_nameplate (json_node_get_string (nameplate)) ||
      expires_in == NULL || !JSON_NODE_HOLDS_VALUE (expires_in) ||
      json_node_get_value_type (expires_in) != G_TYPE_INT64 ||
      json_node_get_int (expires_in) <= 0)
    goto bad;

  return json_node_ref (nameplate);

bad:
  g_propagate_error (error, protocol_error ("it gave no valid nameplate"));
  return NULL;
}

/**
 * ferry_rendezvous_client_allocate_async:
 *
 * Asks the server for a free nameplate, the number that starts a code.
 */
void
ferry_rendezvous_client_allocate_async (FerryRendezvousClient *self,
                                        GCancellable          *cancellable,
                                        GAsyncReadyCallback    callback,
                                        gpointer               user_data)
{
  GTask *task;

  g_return_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_rendezvous_client_allocate_async);
  start_json_request (self, task, SOUP_METHOD_POST, FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL,
                      validate_allocation);
}

/**
 * ferry_rendezvous_client_allocate_finish:
 *
 * Returns: (transfer full): the nameplate, digits only
 */
char *
ferry_rendezvous_client_allocate_finish (FerryRendezvousClient *self,
                                         GAsyncResult          *result,
                                         GError               **error)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_rendezvous_client_allocate_async, NULL);

  node = g_task_propagate_pointer (G_TASK (result), error);
  return node != NULL ? g_strdup (json_node_get_string (node)) : NULL;
}

/* ICE ------------------------------------------------------------------ */

static gboolean
is_string_array (JsonNode   *node,
                 const char *prefix,
                 const char *prefix_secure,
                 gboolean    allow_empty)
{
  JsonArray *array;
  guint length;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;

  array = json_node_get_array (node);
  length = json_array_get_length (array);
  if (length == 0 && !allow_empty)
    return FALSE;

  for (guint i = 0; i < length; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *text;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return FALSE;
      text = json_node_get_string (element);
      if (!g_str_has_prefix (text, prefix) && !g_str_has_prefix (text, prefix_secure))
        return FALSE;
    }

  return TRUE;
}

static gboolean
is_string_member (JsonObject *object,
                  const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING &&
         *json_node_get_string (node) != '\0';
}

static JsonNode *
validate_ice (guint      status,
              JsonNode  *root,
              GError   **error)
{
  JsonObject *object;
  JsonNode *turn;

  if (status != SOUP_STATUS_OK || !JSON_NODE_HOLDS_OBJECT (root))
    goto bad;

  object = json_node_get_object (root);
  if (!is_string_array (json_object_get_member (object, "stun"), "stun:", "stuns:", TRUE))
    goto bad;

  turn = json_object_get_member (object, "turn");
  if (turn == NULL || !JSON_NODE_HOLDS_ARRAY (turn))
    goto bad;

  for (guint i = 0; i < json_array_get_length (json_node_get_array (turn)); i++)
    {
      JsonNode *element = json_array_get_element (json_node_get_array (turn), i);
      JsonObject *server;
      JsonNode *ttl;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        goto bad;
      server = json_node_get_object (element);
      ttl = json_object_get_member (server, "ttl");
      if (!is_string_array (json_object_get_member (server, "urls"), "turn:", "turns:", FALSE) ||
          !is_string_member (server, "username") || !is_string_member (server, "credential") ||
          ttl == NULL || !JSON_NODE_HOLDS_VALUE (ttl) ||
          json_node_get_value_type (ttl) != G_TYPE_INT64 || json_node_get_int (ttl) <= 0)
        goto bad;
    }

  return json_node_ref (root);

bad:
  g_propagate_error (error, protocol_error ("its STUN/TURN answer is malformed"));
  return NULL;
}

/**
 * ferry_rendezvous_client_fetch_ice_async:
 * @token: (nullable): ferry_mailbox_get_token() of a mailbox this client is
 *   in, or %NULL for STUN servers only
 *
 * Fetches the STUN and TURN servers the rendezvous recommends, with fresh
 * TURN credentials for a side in a live mailbox; ask again while it is
 * open to renew them.
 */
void
ferry_rendezvous_client_fetch_ice_async (FerryRendezvousClient *self,
                                         const char            *token,
                                         GCancellable          *cancellable,
                                         GAsyncReadyCallback    callback,
                                         gpointer               user_data)
{
  GTask *task;

  g_return_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_rendezvous_client_fetch_ice_async);
  start_json_request (self, task, SOUP_METHOD_GET, FERRY_RENDEZVOUS_PATH_ICE, token,
                      validate_ice);
}

/**
 * ferry_rendezvous_client_fetch_ice_finish:
 *
 * Returns: (transfer full): the /v1/ice object: "stun" is an array of
 *   stun:/stuns: URIs, "turn" an array of objects with "urls", "username",
 *   "credential" and "ttl" (all checked)
 */
JsonObject *
ferry_rendezvous_client_fetch_ice_finish (FerryRendezvousClient *self,
                                          GAsyncResult          *result,
                                          GError               **error)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_rendezvous_client_fetch_ice_async, NULL);

  node = g_task_propagate_pointer (G_TASK (result), error);
  return node != NULL ? json_node_dup_object (node) : NULL;
}

/* Mailbox -------------------------------------------------------------- */

/* The WebSocket handshake is made here rather than by libsoup so that the
 * server's bytes can go through a FerryMessageSizeLimitStream: libsoup 3.2
 * caps single frames only and would gather a message of many fragments
 * from a hostile server without limit, as the server guards against its
 * clients. */

static char *
expected_accept (const char *key)
{
  g_autofree char *both = g_strconcat (key, WEBSOCKET_GUID, NULL);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize length = sizeof digest;

  g_checksum_update (sha1, (const guchar *) both, -1);
  g_checksum_get_digest (sha1, digest, &length);
  return g_base64_encode (digest, length);
}

/* Checks a complete answer; returns the upgraded connection. */
static SoupWebsocketConnection *
finish_handshake (Request  *request,
                  GError  **error)
{
  SoupMessageHeaders *answer = soup_message_get_response_headers (request->msg);
  SoupMessageHeaders *asked = soup_message_get_request_headers (request->msg);
  g_autoptr(GIOStream) guarded = NULL;
  g_autoptr(SoupWebsocketConnection) conn = NULL;
  g_autofree char *accept = NULL;
  guint status = 0;

  if (!soup_headers_parse_response ((const char *) request->body->data, request->body->len,
                                    answer, NULL, &status, NULL))
    {
      g_propagate_error (error, protocol_error ("its answer is not HTTP"));
      return NULL;
    }

  /* A refused upgrade's body is not read; the status alone tells. */
  if (status != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_propagate_error (error, status < 300 ? protocol_error ("it did not accept the WebSocket")
                                             : ferry_rendezvous_error_for_status (status));
      return NULL;
    }

  accept = expected_accept (soup_message_headers_get_one (asked, "Sec-WebSocket-Key"));
  if (!soup_message_headers_header_equals (answer, "Upgrade", "websocket") ||
      g_strcmp0 (soup_message_headers_get_one (answer, "Sec-WebSocket-Accept"), accept) != 0 ||
      soup_message_headers_get_one (answer, "Sec-WebSocket-Extensions") != NULL)
    {
      g_propagate_error (error, protocol_error ("its WebSocket handshake is broken"));
      return NULL;
    }
  if (g_strcmp0 (soup_message_headers_get_one (answer, "Sec-WebSocket-Protocol"),
                 FERRY_RENDEZVOUS_WS_PROTOCOL) != 0)
    {
      g_propagate_error (error, protocol_error ("it speaks another WebSocket protocol"));
      return NULL;
    }

  guarded = ferry_message_size_limit_stream_new (request->connection, FERRY_MAILBOX_MAX_INCOMING);
  conn = soup_websocket_connection_new (guarded, soup_message_get_uri (request->msg),
                                        SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL,
                                        FERRY_RENDEZVOUS_WS_PROTOCOL, NULL);
  soup_websocket_connection_set_max_incoming_payload_size (conn, FERRY_MAILBOX_MAX_INCOMING);
  return g_steal_pointer (&conn);
}

/* What a server with a shared store says it holds from us; -1 from one
 * that cannot take a side back. */
static gint64
server_received (SoupMessageHeaders *answer)
{
  const char *text = soup_message_headers_get_one (answer, FERRY_RENDEZVOUS_HEADER_RECEIVED);
  guint64 value;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    return -1;
  return (gint64) value;
}

/* The answer is read a byte at a time: the server may send queued
 * messages right behind it, and those belong to the WebSocket. */
static void
handshake_read_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GByteArray *answer = request->body;
  gssize read;
  g_autoptr(SoupWebsocketConnection) conn = NULL;
  SoupMessageHeaders *headers;
  FerryMailbox *mailbox;

  read = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (read < 0)
    {
      request_return_transport_error (task, error);
      return;
    }
  if (read == 0)
    {
      g_task_return_error (task, protocol_error ("it closed the connection"));
      return;
    }

  g_byte_array_append (answer, &request->byte, 1);
  if (answer->len > MAX_HANDSHAKE_ANSWER)
    {
      g_task_return_error (task, protocol_error ("its answer is too large"));
      return;
    }
  if (answer->len < 4 || memcmp (answer->data + answer->len - 4, "\r\n\r\n", 4) != 0)
    {
      g_input_stream_read_async (g_io_stream_get_input_stream (request->connection),
                                 &request->byte, 1, G_PRIORITY_DEFAULT, request->cancellable,
                                 handshake_read_cb, g_steal_pointer (&task));
      return;
    }

  g_clear_handle_id (&request->timeout_id, g_source_remove);
  conn = finish_handshake (request, &error);
  if (conn == NULL)
    {
      g_io_stream_close_async (request->connection, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  headers = soup_message_get_response_headers (request->msg);
  if (request->resume)
    {
      FerryMailboxResumed *resumed = g_new0 (FerryMailboxResumed, 1);

      resumed->conn = g_steal_pointer (&conn);
      resumed->server_received = server_received (headers);
      g_task_return_pointer (task, resumed, (GDestroyNotify) ferry_mailbox_resumed_free);
      return;
    }
  mailbox = ferry_mailbox_new (conn, soup_message_headers_get_one (headers,
                                                                  FERRY_RENDEZVOUS_HEADER_TOKEN));
  /* Only a server that counts what it holds can take a side back. */
  if (server_received (headers) >= 0)
    ferry_mailbox_set_resumable (mailbox, g_task_get_source_object (task),
                                 g_object_get_data (G_OBJECT (request->msg), "ferry-nameplate"));
  g_task_return_pointer (task, mailbox, g_object_unref);
}

static void
handshake_written_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      request_return_transport_error (task, error);
      return;
    }

  request->body = g_byte_array_new ();
  g_input_stream_read_async (g_io_stream_get_input_stream (request->connection), &request->byte,
                             1, G_PRIORITY_DEFAULT, request->cancellable, handshake_read_cb,
                             g_steal_pointer (&task));
}

static void
append_header (const char *name,
               const char *value,
               gpointer    user_data)
{
  g_string_append_printf (user_data, "%s: %s\r\n", name, value);
}

static void
mailbox_connected_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  const char *protocols[] = { FERRY_RENDEZVOUS_WS_PROTOCOL, NULL };
  GUri *uri = soup_message_get_uri (request->msg);
  const char *host = g_uri_get_host (uri);
  g_autoptr(GError) error = NULL;
  GString *text;

  request->connection = G_IO_STREAM (g_socket_client_connect_to_uri_finish (
                                       G_SOCKET_CLIENT (object), result, &error));
  if (request->connection == NULL)
    {
      request_return_transport_error (task, error);
      return;
    }

  /* No extensions are offered: permessage-deflate would let a small frame
   * inflate past the size limit. */
  soup_websocket_client_prepare_handshake (request->msg, NULL, (char **) protocols, NULL);
  text = g_string_new (NULL);
  g_string_append_printf (text, "GET %s HTTP/1.1\r\nHost: %s%s%s", g_uri_get_path (uri),
                          strchr (host, ':') != NULL ? "[" : "", host,
                          strchr (host, ':') != NULL ? "]" : "");
  if (g_uri_get_port (uri) != -1)
    g_string_append_printf (text, ":%d", g_uri_get_port (uri));
  g_string_append (text, "\r\n");
  soup_message_headers_foreach (soup_message_get_request_headers (request->msg), append_header,
                                text);
  g_string_append (text, "\r\n");
  request->handshake = g_string_free (text, FALSE);

  g_output_stream_write_all_async (g_io_stream_get_output_stream (request->connection),
                                   request->handshake, strlen (request->handshake),
                                   G_PRIORITY_DEFAULT, request->cancellable,
                                   handshake_written_cb, g_steal_pointer (&task));
}

/**
 * ferry_rendezvous_client_open_mailbox_async:
 * @nameplate: the number from a code
 *
 * Joins the mailbox of @nameplate over a WebSocket.
 */
static void
join_mailbox (FerryRendezvousClient *self,
              GTask                 *task,
              const char            *nameplate,
              const char            *resume_token,
              guint                  received,
              GCancellable          *cancellable);

void
ferry_rendezvous_client_open_mailbox_async (FerryRendezvousClient *self,
                                            const char            *nameplate,
                                            GCancellable          *cancellable,
                                            GAsyncReadyCallback    callback,
                                            gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_rendezvous_client_open_mailbox_async);
  join_mailbox (self, task, nameplate, NULL, 0, cancellable);
}

/* Joins again as the side @token names, after a lost connection; gives a
 * FerryMailboxResumed. */
void
ferry_rendezvous_client_resume_mailbox_async (FerryRendezvousClient *self,
                                              const char            *nameplate,
                                              const char            *token,
                                              guint                  received,
                                              GCancellable          *cancellable,
                                              GAsyncReadyCallback    callback,
                                              gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (token != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_rendezvous_client_resume_mailbox_async);
  join_mailbox (self, task, nameplate, token, received, cancellable);
}

FerryMailboxResumed *
ferry_rendezvous_client_resume_mailbox_finish (FerryRendezvousClient *self,
                                               GAsyncResult          *result,
                                               GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
join_mailbox (FerryRendezvousClient *self,
              GTask                 *owned_task,
              const char            *nameplate,
              const char            *resume_token,
              guint                  received,
              GCancellable          *cancellable)
{
  g_autoptr(GTask) task = g_object_ref (owned_task);
  g_autoptr(GSocketClient) socket_client = NULL;
  g_autofree char *path = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GUri) uri = NULL;
  SoupMessageHeaders *headers;
  gboolean tls;
  Request *request;

  /* Whatever the user typed, only a number can be a nameplate. */
  if (!is_nameplate (nameplate))
    {
      g_task_return_error (task, ferry_rendezvous_error_for_status (SOUP_STATUS_NOT_FOUND));
      return;
    }

  path = g_strconcat (FERRY_RENDEZVOUS_PATH_NAMEPLATES "/", nameplate, NULL);
  uri = parse_url (self, path, task);
  if (uri == NULL)
    return;

  request = request_new (self, cancellable);
  request->msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  request->resume = resume_token != NULL;
  g_object_set_data_full (G_OBJECT (request->msg), "ferry-nameplate", g_strdup (nameplate),
                          g_free);
  headers = soup_message_get_request_headers (request->msg);
  soup_message_headers_replace (headers, "User-Agent",
                                soup_session_get_user_agent (self->session));
  if (resume_token != NULL)
    {
      g_autofree char *count = g_strdup_printf ("%u", received);

      soup_message_headers_replace (headers, FERRY_RENDEZVOUS_HEADER_RESUME, resume_token);
      soup_message_headers_replace (headers, FERRY_RENDEZVOUS_HEADER_RECEIVED, count);
    }
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  tls = g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ||
        g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") == 0;
  socket_client = g_socket_client_new ();
  g_socket_client_set_tls (socket_client, tls);
  address = g_uri_to_string (uri);
  g_socket_client_connect_to_uri_async (socket_client, address, tls ? 443 : 80,
                                        request->cancellable, mailbox_connected_cb,
                                        g_steal_pointer (&task));
}

/**
 * ferry_rendezvous_client_open_mailbox_finish:
 *
 * Returns: (transfer full): the joined mailbox
 */
FerryMailbox *
ferry_rendezvous_client_open_mailbox_finish (FerryRendezvousClient *self,
                                             GAsyncResult          *result,
                                             GError               **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_rendezvous_client_open_mailbox_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GObject -------------------------------------------------------------- */

static void
ferry_rendezvous_client_finalize (GObject *object)
{
  FerryRendezvousClient *self = FERRY_RENDEZVOUS_CLIENT (object);

  g_clear_object (&self->session);
  g_free (self->base_url);

  G_OBJECT_CLASS (ferry_rendezvous_client_parent_class)->finalize (object);
}

static void
ferry_rendezvous_client_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  FerryRendezvousClient *self = FERRY_RENDEZVOUS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_rendezvous_client_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  FerryRendezvousClient *self = FERRY_RENDEZVOUS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      self->base_url = g_value_dup_string (value);
      break;
    case PROP_CONNECT_TIMEOUT:
      ferry_rendezvous_client_set_connect_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_rendezvous_client_class_init (FerryRendezvousClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ferry_rendezvous_client_finalize;
  object_class->get_property = ferry_rendezvous_client_get_property;
  object_class->set_property = ferry_rendezvous_client_set_property;

  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, "http(s)://host:port of the rendezvous server", NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", NULL,
                       "Seconds to wait for the server to connect and answer", 1, 3600,
                       DEFAULT_CONNECT_TIMEOUT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_rendezvous_client_init (FerryRendezvousClient *self)
{
  g_autofree char *user_agent = g_strdup_printf ("ferry/%s", PACKAGE_VERSION);

  self->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
  self->session = soup_session_new_with_options ("user-agent", user_agent, NULL);
}

/**
 * ferry_rendezvous_default_url:
 *
 * The server to meet through when the user named none: $FERRY_RENDEZVOUS,
 * else the one chosen when Ferry was built (`-Ddefault_rendezvous`).
 *
 * Returns: (nullable): the URL, or %NULL when there is none and only the
 *   rendezvous on this computer (127.0.0.1:4477) is left
 */
const char *
ferry_rendezvous_default_url (void)
{
  const char *env = g_getenv ("FERRY_RENDEZVOUS");

  if (env != NULL && env[0] != '\0')
    return env;
  if (FERRY_DEFAULT_RENDEZVOUS[0] != '\0')
    return FERRY_DEFAULT_RENDEZVOUS;
  return NULL;
}

FerryRendezvousClient *
ferry_rendezvous_client_new (const char *base_url)
{
  g_return_val_if_fail (base_url != NULL, NULL);

  return g_object_new (FERRY_TYPE_RENDEZVOUS_CLIENT, "base-url", base_url, NULL);
}

const char *
ferry_rendezvous_client_get_base_url (FerryRendezvousClient *self)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self), NULL);

  return self->base_url;
}

guint
ferry_rendezvous_client_get_connect_timeout (FerryRendezvousClient *self)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self), 0);

  return self->connect_timeout;
}

void
ferry_rendezvous_client_set_connect_timeout (FerryRendezvousClient *self,
                                             guint                  seconds)
{
  g_return_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (seconds > 0);

  if (self->connect_timeout == seconds)
    return;

  self->connect_timeout = seconds;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECT_TIMEOUT]);
}
