/* test-rendezvous-server.c
 *
 * Drives the real ferry-rendezvous binary over HTTP, WebSocket and raw
 * TCP, and checks every answer against the contract in
 * ferry-rendezvous-protocol.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-rendezvous-server"

#include "config.h"

#include <signal.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ferry-rendezvous-protocol.h"
#include "ferry-rendezvous-server.h"
#include "ferry-test-redis.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 10000

/* HTTP ----------------------------------------------------------------- */

typedef struct
{
  guint     status;
  GBytes   *body;
  gboolean  done;
  GError   *error;
} Answer;

static void
send_and_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Answer *answer = user_data;

  answer->body = soup_session_send_and_read_finish (SOUP_SESSION (object), result,
                                                    &answer->error);
  answer->done = TRUE;
}

/* Sends one request and returns the parsed JSON body; asserts that the
 * body is JSON, as every answer of the server must be. */
static JsonNode *
http_json_with (FerryTestRendezvous *server,
                const char          *method,
                const char          *path,
                const char          *body,
                const char          *header,
                const char          *value,
                SoupMessageHeaders **out_headers,
                guint               *out_status)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (server->url, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  Answer answer = { 0 };

  g_assert_nonnull (msg);
  if (header != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), header, value);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, send_and_read_cb,
                                    &answer);
  g_assert_true (ferry_test_wait_for_flag (&answer.done, TIMEOUT_MS));
  g_assert_no_error (answer.error);

  *out_status = soup_message_get_status (msg);
  if (out_headers != NULL)
    *out_headers = soup_message_headers_ref (soup_message_get_response_headers (msg));

  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg),
                                                          NULL), ==, "application/json");
  json_parser_load_from_data (parser, g_bytes_get_data (answer.body, NULL),
                              g_bytes_get_size (answer.body), &error);
  g_assert_no_error (error);
  g_bytes_unref (answer.body);

  return json_node_ref (json_parser_get_root (parser));
}

static JsonNode *
http_json (FerryTestRendezvous *server,
           const char          *method,
           const char          *path,
           const char          *body,
           SoupMessageHeaders **out_headers,
           guint               *out_status)
{
  return http_json_with (server, method, path, body, NULL, NULL, out_headers, out_status);
}

static void
assert_error_answer (JsonNode   *root,
                     const char *error)
{
  JsonObject *object;

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (object, "error"), ==, error);
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "message")), >, 0);
}

static void
assert_http_error (FerryTestRendezvous *server,
                   const char          *method,
                   const char          *path,
                   const char          *body,
                   guint                status,
                   const char          *error)
{
  g_autoptr(JsonNode) root = NULL;
  guint got = 0;

  root = http_json (server, method, path, body, NULL, &got);
  g_assert_cmpuint (got, ==, status);
  assert_error_answer (root, error);
}

static void
assert_healthy (FerryTestRendezvous *server)
{
  g_autoptr(JsonNode) root = NULL;
  guint status = 0;

  root = http_json (server, "GET", FERRY_RENDEZVOUS_PATH_HEALTH, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "status"), ==,
                   "ok");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "backend"), ==,
                   ferry_test_redis_wanted () ? "redis" : "memory");
}

static char *
allocate (FerryTestRendezvous *server,
          gint64              *expires_in)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  guint status = 0;

  root = http_json (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 201);
  object = json_node_get_object (root);
  if (expires_in != NULL)
    *expires_in = json_object_get_int_member (object, "expires_in");
  return g_strdup (json_object_get_string_member (object, "nameplate"));
}

/* WebSocket peers ------------------------------------------------------ */

typedef struct
{
  SoupSession             *session;
  SoupMessage             *msg;
  SoupWebsocketConnection *conn;
  GError                  *error;
  gboolean                 connected;
  GPtrArray               *messages;   /* GBytes, text ones end in a NUL */
  GArray                  *types;
  gboolean                 closed;
  gushort                  close_code;
  char                    *close_data;
} Peer;

static void
peer_message_cb (SoupWebsocketConnection *conn,
                 gint                     type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  Peer *peer = user_data;

  g_ptr_array_add (peer->messages, g_bytes_ref (message));
  g_array_append_val (peer->types, type);
}

static void
peer_closed_cb (SoupWebsocketConnection *conn,
                gpointer                 user_data)
{
  Peer *peer = user_data;

  peer->close_code = soup_websocket_connection_get_close_code (conn);
  peer->close_data = g_strdup (soup_websocket_connection_get_close_data (conn));
  peer->closed = TRUE;
}

static void
peer_connect_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Peer *peer = user_data;

  peer->conn = soup_session_websocket_connect_finish (SOUP_SESSION (object), result,
                                                      &peer->error);
  if (peer->conn != NULL)
    {
      soup_websocket_connection_set_max_incoming_payload_size (peer->conn, 0);
      g_signal_connect (peer->conn, "message", G_CALLBACK (peer_message_cb), peer);
      g_signal_connect (peer->conn, "closed", G_CALLBACK (peer_closed_cb), peer);
    }
  peer->connected = TRUE;
}

/* Joins @nameplate; on a refusal returns a peer with ->error set and the
 * HTTP status in ->msg. */
static Peer *
peer_join (FerryTestRendezvous *server,
           const char          *nameplate)
{
  const char *protocols[] = { FERRY_RENDEZVOUS_WS_PROTOCOL, NULL };
  g_autofree char *url = g_strconcat (server->url, FERRY_RENDEZVOUS_PATH_NAMEPLATES "/",
                                      nameplate, NULL);
  Peer *peer = g_new0 (Peer, 1);

  peer->session = soup_session_new ();
  peer->msg = soup_message_new ("GET", url);
  peer->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  peer->types = g_array_new (FALSE, FALSE, sizeof (gint));
  soup_session_websocket_connect_async (peer->session, peer->msg, NULL, (char **) protocols,
                                        G_PRIORITY_DEFAULT, NULL, peer_connect_cb, peer);
  g_assert_true (ferry_test_wait_for_flag (&peer->connected, TIMEOUT_MS));
  return peer;
}

static Peer *
peer_join_ok (FerryTestRendezvous *server,
              const char          *nameplate)
{
  Peer *peer = peer_join (server, nameplate);

  g_assert_no_error (peer->error);
  g_assert_cmpstr (soup_websocket_connection_get_protocol (peer->conn), ==,
                   FERRY_RENDEZVOUS_WS_PROTOCOL);
  return peer;
}

static void
peer_free (Peer *peer)
{
  if (peer->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (peer->conn, peer);
      if (soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (peer->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (peer->conn);
    }
  g_clear_error (&peer->error);
  g_clear_object (&peer->msg);
  g_clear_object (&peer->session);
  g_ptr_array_unref (peer->messages);
  g_array_unref (peer->types);
  g_free (peer->close_data);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

typedef struct
{
  Peer  *peer;
  guint  count;
} CountWait;

static gboolean
peer_has_count (gpointer user_data)
{
  CountWait *wait = user_data;

  return wait->peer->messages->len >= wait->count;
}

static void
peer_wait_messages (Peer  *peer,
                    guint  count)
{
  CountWait wait = { peer, count };

  g_assert_true (ferry_test_wait_until (peer_has_count, &wait, TIMEOUT_MS));
  g_assert_cmpuint (peer->messages->len, ==, count);
}

static void
assert_message (Peer       *peer,
                guint       index,
                gint        type,
                const char *text)
{
  GBytes *bytes = g_ptr_array_index (peer->messages, index);
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpint (g_array_index (peer->types, gint, index), ==, type);
  g_assert_cmpmem (data, size, text, strlen (text));
}

/* Waits until @peer is closed and checks the code and the JSON reason. */
static void
assert_closed_with (Peer       *peer,
                    gushort     code,
                    const char *error)
{
  g_assert_true (ferry_test_wait_for_flag (&peer->closed, TIMEOUT_MS));
  g_assert_cmpuint (peer->close_code, ==, code);
  if (error != NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) parse_error = NULL;

      g_assert_nonnull (peer->close_data);
      json_parser_load_from_data (parser, peer->close_data, -1, &parse_error);
      g_assert_no_error (parse_error);
      assert_error_answer (json_parser_get_root (parser), error);
    }
}

/* Raw TCP -------------------------------------------------------------- */

typedef struct
{
  GSocketConnection *conn;
  GByteArray        *in;
  gboolean           eof;
  gboolean           reading;
  GError            *error;
  guint8             buffer[16384];
} Raw;

static Raw *
raw_connect (FerryTestRendezvous *server)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  Raw *raw = g_new0 (Raw, 1);

  raw->conn = g_socket_client_connect_to_host (client, "127.0.0.1", server->port, NULL, &error);
  g_assert_no_error (error);
  raw->in = g_byte_array_new ();
  return raw;
}

static void
raw_free (Raw *raw)
{
  g_assert_false (raw->reading);
  g_io_stream_close (G_IO_STREAM (raw->conn), NULL, NULL);
  g_object_unref (raw->conn);
  g_byte_array_unref (raw->in);
  g_clear_error (&raw->error);
  g_free (raw);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Raw, raw_free)

static void
raw_write (Raw          *raw,
           const void   *data,
           gsize         size)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (raw->conn));

  /* The peer may stop reading and close early; that is an answer too. */
  g_output_stream_write_all (out, data, size, NULL, NULL, &error);
  if (error != NULL)
    g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
                   g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED));
}

static void
raw_read_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Raw *raw = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &raw->error);

  raw->reading = FALSE;
  if (n <= 0)
    {
      /* A reset after the answer counts as the end of it. */
      g_clear_error (&raw->error);
      raw->eof = TRUE;
      return;
    }
  g_byte_array_append (raw->in, raw->buffer, n);
}

static gboolean
raw_not_reading (gpointer user_data)
{
  return !((Raw *) user_data)->reading;
}

/* Reads more bytes, or notes the end of the stream. */
static void
raw_read_more (Raw *raw)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (raw->conn));
  gsize before = raw->in->len;

  g_assert_false (raw->eof);
  raw->reading = TRUE;
  g_input_stream_read_async (in, raw->buffer, sizeof raw->buffer, G_PRIORITY_DEFAULT, NULL,
                             raw_read_cb, raw);
  g_assert_true (ferry_test_wait_until (raw_not_reading, raw, TIMEOUT_MS));
  g_assert_true (raw->eof || raw->in->len > before);
}

static const char *
raw_find (Raw        *raw,
          const char *needle)
{
  if (raw->in->len == 0)
    return NULL;
  return g_strstr_len ((const char *) raw->in->data, raw->in->len, needle);
}

static gboolean
raw_has_headers (Raw *raw)
{
  return raw_find (raw, "\r\n\r\n") != NULL;
}

/* Reads an HTTP answer's head; returns its status, or 0 when the server
 * closed without answering. */
static guint
raw_read_status (Raw *raw)
{
  guint status = 0;
  const char *end;

  while (!raw->eof && !raw_has_headers (raw))
    raw_read_more (raw);
  if (!raw_has_headers (raw))
    return 0;

  /* libsoup answers a request it cannot parse in HTTP/1.0. */
  g_assert_true (raw->in->len > 12 && (memcmp (raw->in->data, "HTTP/1.1 ", 9) == 0 ||
                                       memcmp (raw->in->data, "HTTP/1.0 ", 9) == 0));
  status = (guint) g_ascii_strtoull ((const char *) raw->in->data + 9, NULL, 10);

  end = raw_find (raw, "\r\n\r\n");
  g_byte_array_remove_range (raw->in, 0, end + 4 - (const char *) raw->in->data);
  return status;
}

/* Completes a WebSocket handshake by hand, so the test controls every
 * byte afterwards. */
static Raw *
raw_join (FerryTestRendezvous *server,
          const char          *nameplate)
{
  Raw *raw = raw_connect (server);
  g_autofree char *request = g_strdup_printf (
    "GET " FERRY_RENDEZVOUS_PATH_NAMEPLATES "/%s HTTP/1.1\r\n"
    "Host: 127.0.0.1:%u\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: " FERRY_RENDEZVOUS_WS_PROTOCOL "\r\n"
    "\r\n", nameplate, server->port);

  raw_write (raw, request, strlen (request));
  g_assert_cmpuint (raw_read_status (raw), ==, 101);
  return raw;
}

/* Reads one server frame (never masked); returns its opcode and payload,
 * or -1 at the end of the stream. */
static int
raw_read_frame (Raw    *raw,
                GBytes **payload)
{
  for (;;)
    {
      const guint8 *data = raw->in->data;
      gsize header = 2;
      guint64 length;

      if (raw->in->len >= 2)
        {
          length = data[1] & 0x7f;
          if (length == 126)
            header = 4;
          else if (length == 127)
            header = 10;

          if (raw->in->len >= header)
            {
              if (length == 126)
                length = ((guint64) data[2] << 8) | data[3];
              else if (length == 127)
                {
                  length = 0;
                  for (int i = 2; i < 10; i++)
                    length = (length << 8) | data[i];
                }
              if (raw->in->len >= header + length)
                {
                  int opcode = data[0] & 0x0f;

                  g_assert_cmpuint (data[1] & 0x80, ==, 0);
                  *payload = g_bytes_new (data + header, length);
                  g_byte_array_remove_range (raw->in, 0, header + length);
                  return opcode;
                }
            }
        }

      if (raw->eof)
        return -1;
      raw_read_more (raw);
    }
}

/* Sends one client frame, masked as the RFC wants. */
static void
raw_send_frame (Raw          *raw,
                gboolean      fin,
                guint8        opcode,
                const guint8 *data,
                gsize         size)
{
  const guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  guint8 head[2] = { (fin ? 0x80 : 0x00) | opcode, 0x80 };

  if (size < 126)
    {
      head[1] |= size;
      g_byte_array_append (frame, head, 2);
    }
  else
    {
      guint8 length[2] = { size >> 8, size & 0xff };

      g_assert_cmpuint (size, <=, G_MAXUINT16);
      head[1] |= 126;
      g_byte_array_append (frame, head, 2);
      g_byte_array_append (frame, length, 2);
    }
  g_byte_array_append (frame, mask, 4);
  for (gsize i = 0; i < size; i++)
    {
      guint8 byte = data[i] ^ mask[i % 4];

      g_byte_array_append (frame, &byte, 1);
    }
  raw_write (raw, frame->data, frame->len);
}

/* Reads frames up to the close frame, skipping pings and pongs; returns
 * its code. */
static gushort
raw_read_close (Raw   *raw,
                char **reason)
{
  for (;;)
    {
      g_autoptr(GBytes) payload = NULL;
      int opcode = raw_read_frame (raw, &payload);
      const guint8 *data;
      gsize size;

      g_assert_cmpint (opcode, !=, -1);
      if (opcode != 0x8)
        {
          g_assert_true (opcode == 0x9 || opcode == 0xa);
          continue;
        }

      data = g_bytes_get_data (payload, &size);
      g_assert_cmpuint (size, >=, 2);
      if (reason != NULL)
        *reason = g_strndup ((const char *) data + 2, size - 2);
      return (gushort) ((data[0] << 8) | data[1]);
    }
}

/* Tests ---------------------------------------------------------------- */

static void
test_healthz (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(JsonNode) root = NULL;
  guint status = 0;

  root = http_json (server, "GET", FERRY_RENDEZVOUS_PATH_HEALTH, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "status"), ==,
                   "ok");
}

static void
test_allocate_lowest_first (void)
{
  const char *args[] = { "--mailbox-ttl", "77", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(Peer) a = NULL;
  g_autoptr(Peer) b = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *again = NULL;
  g_autofree char *fourth = NULL;
  gint64 expires_in = 0;

  first = allocate (server, &expires_in);
  second = allocate (server, NULL);
  third = allocate (server, NULL);
  g_assert_cmpstr (first, ==, "1");
  g_assert_cmpstr (second, ==, "2");
  g_assert_cmpstr (third, ==, "3");
  g_assert_cmpint (expires_in, ==, 77);

  /* Both sides of 2 leave: 2 is free again and comes before 4. */
  a = peer_join_ok (server, "2");
  b = peer_join_ok (server, "2");
  soup_websocket_connection_close (a->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed_with (a, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed_with (b, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);

  again = allocate (server, NULL);
  fourth = allocate (server, NULL);
  g_assert_cmpstr (again, ==, "2");
  g_assert_cmpstr (fourth, ==, "4");
}

static void
test_relay_in_order (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) a = NULL;
  g_autoptr(Peer) b = NULL;

  /* These wait in the mailbox until b comes. */
  a = peer_join_ok (server, nameplate);
  soup_websocket_connection_send_text (a->conn, "one");
  soup_websocket_connection_send_binary (a->conn, "two", 3);
  soup_websocket_connection_send_text (a->conn, "three");

  b = peer_join_ok (server, nameplate);
  peer_wait_messages (b, 3);
  assert_message (b, 0, SOUP_WEBSOCKET_DATA_TEXT, "one");
  assert_message (b, 1, SOUP_WEBSOCKET_DATA_BINARY, "two");
  assert_message (b, 2, SOUP_WEBSOCKET_DATA_TEXT, "three");

  soup_websocket_connection_send_binary (b->conn, "four", 4);
  soup_websocket_connection_send_text (b->conn, "five");
  peer_wait_messages (a, 2);
  assert_message (a, 0, SOUP_WEBSOCKET_DATA_BINARY, "four");
  assert_message (a, 1, SOUP_WEBSOCKET_DATA_TEXT, "five");

  soup_websocket_connection_send_text (a->conn, "six");
  peer_wait_messages (b, 4);
  assert_message (b, 3, SOUP_WEBSOCKET_DATA_TEXT, "six");
  g_assert_false (a->closed || b->closed);
}

static guint
raw_upgrade_status (FerryTestRendezvous *server,
                    const char          *nameplate,
                    const char          *error)
{
  g_autoptr(Raw) raw = raw_connect (server);
  g_autofree char *request = g_strdup_printf (
    "GET " FERRY_RENDEZVOUS_PATH_NAMEPLATES "/%s HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: " FERRY_RENDEZVOUS_WS_PROTOCOL "\r\n"
    "\r\n", nameplate);
  g_autofree char *expected = g_strdup_printf ("\"error\":\"%s\"", error);
  guint status;

  raw_write (raw, request, strlen (request));
  status = raw_read_status (raw);
  while (!raw->eof && raw_find (raw, "}") == NULL)
    raw_read_more (raw);
  if (raw_find (raw, expected) == NULL)
    g_test_message ("answer body: %.*s", (int) raw->in->len, (const char *) raw->in->data);
  g_assert_nonnull (raw_find (raw, expected));
  return status;
}

static void
test_crowded (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) b = peer_join_ok (server, nameplate);
  g_autoptr(Peer) c = peer_join (server, nameplate);

  g_assert_error (c->error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET);
  g_assert_cmpuint (soup_message_get_status (c->msg), ==, 409);
  g_assert_cmpuint (raw_upgrade_status (server, nameplate, FERRY_RENDEZVOUS_ERR_CROWDED), ==,
                    409);

  /* The two sides are not disturbed. */
  soup_websocket_connection_send_text (a->conn, "still here");
  peer_wait_messages (b, 1);
  assert_message (b, 0, SOUP_WEBSOCKET_DATA_TEXT, "still here");

  /* A side that left cannot be replaced either. */
  soup_websocket_connection_close (a->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed_with (b, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
  g_assert_cmpuint (raw_upgrade_status (server, nameplate, FERRY_RENDEZVOUS_ERR_NOT_FOUND), ==,
                    404);
}

static void
test_not_found (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(Peer) peer = peer_join (server, "42");

  g_assert_nonnull (peer->error);
  g_assert_cmpuint (soup_message_get_status (peer->msg), ==, 404);
  g_assert_cmpuint (raw_upgrade_status (server, "42", FERRY_RENDEZVOUS_ERR_NOT_FOUND), ==, 404);
  g_assert_cmpuint (raw_upgrade_status (server, "4x2", FERRY_RENDEZVOUS_ERR_BAD_REQUEST), ==,
                    400);
  assert_healthy (server);
}

static void
test_expiry (void)
{
  const char *args[] = { "--mailbox-ttl", "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autofree char *again = NULL;
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) b = peer_join_ok (server, nameplate);

  assert_closed_with (a, FERRY_RENDEZVOUS_CLOSE_BASE + 410, FERRY_RENDEZVOUS_ERR_EXPIRED);
  assert_closed_with (b, FERRY_RENDEZVOUS_CLOSE_BASE + 410, FERRY_RENDEZVOUS_ERR_EXPIRED);

  again = allocate (server, NULL);
  g_assert_cmpstr (again, ==, nameplate);
}

static void
test_burn (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autofree char *again = NULL;
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) b = peer_join_ok (server, nameplate);

  soup_websocket_connection_close (a->conn, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, NULL);
  assert_closed_with (b, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, FERRY_RENDEZVOUS_ERR_BAD_CODE);
  g_assert_null (strstr (b->close_data, "Someone else"));

  /* Burned: nobody can join it, and the number is free again. */
  g_assert_cmpuint (raw_upgrade_status (server, nameplate, FERRY_RENDEZVOUS_ERR_NOT_FOUND), ==,
                    404);
  again = allocate (server, NULL);
  g_assert_cmpstr (again, ==, nameplate);

  /* When the guesser burns it, the sender, who joined first and whose
   * code was right, is told that someone else tried it. */
  g_clear_pointer (&a, peer_free);
  g_clear_pointer (&b, peer_free);
  a = peer_join_ok (server, again);
  b = peer_join_ok (server, again);
  soup_websocket_connection_close (b->conn, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, NULL);
  assert_closed_with (a, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, FERRY_RENDEZVOUS_ERR_BAD_CODE);
  g_assert_nonnull (strstr (a->close_data, "Someone else tried this code"));
}

static guint64
process_high_water_kb (FerryTestRendezvous *server)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status",
                                           g_subprocess_get_identifier (server->process));
  g_autofree char *text = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10);
}

static void
test_limit_message_size (void)
{
  const char *args[] = { "--max-message-size", "1024", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *first = allocate (server, NULL);
  g_autofree char *second = allocate (server, NULL);
  g_autofree guint8 *big = g_malloc0 (10 * 1024 * 1024);
  g_autoptr(Peer) a = peer_join_ok (server, first);
  g_autoptr(Peer) b = peer_join_ok (server, first);
  g_autoptr(Peer) c = NULL;
  g_autoptr(Peer) d = NULL;
  guint64 before;

  /* Exactly the limit passes. */
  soup_websocket_connection_send_binary (a->conn, big, 1024);
  peer_wait_messages (b, 1);
  g_assert_cmpuint (g_bytes_get_size (g_ptr_array_index (b->messages, 0)), ==, 1024);

  soup_websocket_connection_send_binary (a->conn, big, 1025);
  assert_closed_with (a, FERRY_RENDEZVOUS_CLOSE_BASE + 413, FERRY_RENDEZVOUS_ERR_TOO_LARGE);
  assert_closed_with (b, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);

  /* 10 MB is refused at the frame header, never gathered: the server's
   * peak memory stays far below the message. */
  c = peer_join_ok (server, second);
  d = peer_join_ok (server, second);
  before = process_high_water_kb (server);
  soup_websocket_connection_send_binary (c->conn, big, 10 * 1024 * 1024);
  assert_closed_with (c, FERRY_RENDEZVOUS_CLOSE_BASE + 413, FERRY_RENDEZVOUS_ERR_TOO_LARGE);
  assert_closed_with (d, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
  g_assert_cmpuint (process_high_water_kb (server), <, before + 4 * 1024);
  g_assert_cmpuint (d->messages->len, ==, 0);

  assert_healthy (server);
}

static void
test_limit_fragments (void)
{
  const char *args[] = { "--max-message-size", "1000", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Raw) raw = raw_join (server, nameplate);
  g_autoptr(Peer) peer = peer_join_ok (server, nameplate);
  g_autofree char *reason = NULL;
  guint8 chunk[600] = { 0 };
  const guint8 ping[] = "?";

  /* A fragmented message within the limit arrives whole, even with a
   * control frame between its fragments. */
  raw_send_frame (raw, FALSE, 0x1, (const guint8 *) "hel", 3);
  raw_send_frame (raw, TRUE, 0x9, ping, 1);
  raw_send_frame (raw, TRUE, 0x0, (const guint8 *) "lo", 2);
  peer_wait_messages (peer, 1);
  assert_message (peer, 0, SOUP_WEBSOCKET_DATA_TEXT, "hello");

  /* Every fragment is small, their sum is not: refused at the second
   * one, before the message is complete, so it was never gathered. */
  raw_send_frame (raw, FALSE, 0x2, chunk, 600);
  raw_send_frame (raw, FALSE, 0x0, chunk, 600);
  g_assert_cmpuint (raw_read_close (raw, &reason), ==, FERRY_RENDEZVOUS_CLOSE_BASE + 413);
  g_assert_nonnull (strstr (reason, "\"error\":\"" FERRY_RENDEZVOUS_ERR_TOO_LARGE "\""));
  assert_closed_with (peer, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
  g_assert_cmpuint (peer->messages->len, ==, 1);
  assert_healthy (server);
}

static void
test_limit_queued (void)
{
  const char *args[] = { "--max-queued-messages", "2", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autofree char *other = allocate (server, NULL);
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) x = NULL;
  g_autoptr(Peer) y = NULL;

  soup_websocket_connection_send_text (a->conn, "1");
  soup_websocket_connection_send_text (a->conn, "2");
  soup_websocket_connection_send_text (a->conn, "3");
  assert_closed_with (a, FERRY_RENDEZVOUS_CLOSE_BASE + 429,
                      FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES);

  /* Another mailbox still works, and past the queue limit once joined. */
  x = peer_join_ok (server, other);
  y = peer_join_ok (server, other);
  for (guint i = 0; i < 5; i++)
    soup_websocket_connection_send_text (x->conn, "m");
  peer_wait_messages (y, 5);
  assert_healthy (server);
}

static void
test_limit_mailbox_bytes (void)
{
  const char *args[] = { "--max-mailbox-bytes", "10000", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autofree guint8 *chunk = g_malloc0 (4000);
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) b = peer_join_ok (server, nameplate);

  /* 4000 + 4000 fit in 10000 bytes, a third message does not, whoever
   * sends it. */
  soup_websocket_connection_send_binary (a->conn, chunk, 4000);
  peer_wait_messages (b, 1);
  soup_websocket_connection_send_binary (b->conn, chunk, 4000);
  peer_wait_messages (a, 1);
  soup_websocket_connection_send_binary (a->conn, chunk, 4000);
  assert_closed_with (a, FERRY_RENDEZVOUS_CLOSE_BASE + 429,
                      FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES);
  assert_closed_with (b, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
  g_assert_cmpuint (b->messages->len, ==, 1);
  assert_healthy (server);
}

static void
test_limit_per_address (void)
{
  const char *args[] = { "--max-mailboxes-per-address", "2", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *first = allocate (server, NULL);
  g_autofree char *second = allocate (server, NULL);

  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, 429,
                     FERRY_RENDEZVOUS_ERR_TOO_MANY_MAILBOXES);
  assert_healthy (server);
}

static void
test_limit_rate (void)
{
  const char *args[] = { "--allocations-per-minute", "3", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);

  for (guint i = 0; i < 3; i++)
    g_free (allocate (server, NULL));
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, 429,
                     FERRY_RENDEZVOUS_ERR_RATE_LIMITED);
  assert_healthy (server);
}

static void
test_limit_total (void)
{
  const char *args[] = { "--max-mailboxes", "2", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);

  for (guint i = 0; i < 2; i++)
    g_free (allocate (server, NULL));
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, 503,
                     FERRY_RENDEZVOUS_ERR_FULL);
  assert_healthy (server);
}

static void
test_limit_idle (void)
{
  const char *args[] = { "--idle-timeout", "3", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *silent = allocate (server, NULL);
  g_autofree char *live = allocate (server, NULL);
  g_autofree char *reason = NULL;
  g_autoptr(Peer) a = peer_join_ok (server, live);
  g_autoptr(Peer) b = peer_join_ok (server, live);
  g_autoptr(Raw) raw = raw_join (server, silent);
  gint64 start = g_get_monotonic_time ();
  gushort code;

  /* The raw side never answers the pings and is closed; the libsoup
   * sides, silent as well, answer them and stay. */
  code = raw_read_close (raw, &reason);
  g_assert_cmpuint (code, ==, FERRY_RENDEZVOUS_CLOSE_BASE + 408);
  g_assert_nonnull (strstr (reason, "\"error\":\"" FERRY_RENDEZVOUS_ERR_IDLE "\""));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2500 * 1000);

  g_assert_false (a->closed || b->closed);
  soup_websocket_connection_send_text (a->conn, "alive");
  peer_wait_messages (b, 1);
  assert_message (b, 0, SOUP_WEBSOCKET_DATA_TEXT, "alive");
  assert_healthy (server);
}

/* A side that joins and says nothing is closed; one that speaks stays. */
static void
test_limit_first_message (void)
{
  const char *args[] = { "--first-message-timeout", "2", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) speaker = peer_join_ok (server, nameplate);
  g_autoptr(Peer) lurker = NULL;
  gint64 start;

  soup_websocket_connection_send_text (speaker->conn, "pake");
  start = g_get_monotonic_time ();
  lurker = peer_join_ok (server, nameplate);
  peer_wait_messages (lurker, 1);
  assert_closed_with (lurker, FERRY_RENDEZVOUS_CLOSE_BASE + 408, FERRY_RENDEZVOUS_ERR_IDLE);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1500 * 1000);
  /* Its leaving ends the mailbox for the speaker as any leave does. */
  assert_closed_with (speaker, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
}

static void
test_limit_joins (void)
{
  const char *args[] = { "--joins-per-minute", "3", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);

  /* Unknown nameplates count too: walking the numbers is what is limited. */
  g_assert_cmpuint (raw_upgrade_status (server, "77", FERRY_RENDEZVOUS_ERR_NOT_FOUND), ==, 404);
  g_assert_cmpuint (raw_upgrade_status (server, "78", FERRY_RENDEZVOUS_ERR_NOT_FOUND), ==, 404);
  g_assert_cmpuint (raw_upgrade_status (server, nameplate, FERRY_RENDEZVOUS_ERR_RATE_LIMITED),
                    ==, 429);
  assert_healthy (server);
}

static guint
allocate_from (FerryTestRendezvous *server,
               const char          *header,
               const char          *value)
{
  g_autoptr(JsonNode) root = NULL;
  guint status = 0;

  root = http_json_with (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, header, value,
                         NULL, &status);
  return status;
}

static void
test_trusted_proxy (void)
{
  const char *args[] = { "--trusted-proxy", "127.0.0.1", "--max-mailboxes-per-address", "1",
                         NULL };
  const char *untrusting[] = { "--trusted-proxy", "192.0.2.1", "--max-mailboxes-per-address",
                               "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryTestRendezvous) other = ferry_test_rendezvous_start (untrusting);

  /* Behind the proxy each client is counted by the address it names. */
  g_assert_cmpuint (allocate_from (server, "X-Forwarded-For", "203.0.113.9, 198.51.100.1"), ==,
                    201);
  g_assert_cmpuint (allocate_from (server, "X-Forwarded-For", "198.51.100.1"), ==, 429);
  g_assert_cmpuint (allocate_from (server, "X-Forwarded-For", "198.51.100.1, 198.51.100.2"), ==,
                    201);
  g_assert_cmpuint (allocate_from (server, "Forwarded", "for=198.51.100.3:4711;proto=https"), ==,
                    201);
  /* IPv6 counts per /64: a client has a whole one to pick from. */
  g_assert_cmpuint (allocate_from (server, "Forwarded", "for=\"[2001:db8:1:2::5]:4711\""), ==,
                    201);
  g_assert_cmpuint (allocate_from (server, "Forwarded", "for=\"[2001:db8:1:2:ffff::6]\""), ==,
                    429);
  g_assert_cmpuint (allocate_from (server, "Forwarded",
                                   "for=192.0.2.7, for=\"[2001:db8:1:3::1]\""), ==, 201);
  /* The proxy's own requests, with no header, are the proxy's. */
  g_assert_cmpuint (allocate_from (server, NULL, NULL), ==, 201);

  /* From anyone but the trusted proxy the headers are the client's word. */
  g_assert_cmpuint (allocate_from (other, "X-Forwarded-For", "198.51.100.1"), ==, 201);
  g_assert_cmpuint (allocate_from (other, "X-Forwarded-For", "198.51.100.2"), ==, 429);
}

static void
test_junk_http (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *huge_body = NULL;

  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, "{not json", 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_healthy (server);
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, "[1, 2]", 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_healthy (server);
  /* Only strict JSON, as every peer message: json-glib alone takes these. */
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, "{/* hi */}", 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, "{'a': 1}", 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES,
                     "{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  g_free (allocate (server, NULL));
  assert_healthy (server);

  huge_body = g_strnfill (FERRY_RENDEZVOUS_MAX_REQUEST_BODY + 1, ' ');
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_NAMEPLATES, huge_body, 413,
                     FERRY_RENDEZVOUS_ERR_TOO_LARGE);
  assert_healthy (server);

  g_free (allocate (server, NULL));
  assert_http_error (server, "GET", FERRY_RENDEZVOUS_PATH_NAMEPLATES "/1", NULL, 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_http_error (server, "GET", "/nothing/here", NULL, 404, FERRY_RENDEZVOUS_ERR_NOT_FOUND);
  assert_http_error (server, "GET", FERRY_RENDEZVOUS_PATH_NAMEPLATES "/1/extra", NULL, 404,
                     FERRY_RENDEZVOUS_ERR_NOT_FOUND);
  assert_http_error (server, "GET", FERRY_RENDEZVOUS_PATH_NAMEPLATES "/0", NULL, 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_http_error (server, "GET", FERRY_RENDEZVOUS_PATH_NAMEPLATES "/99999999999", NULL, 400,
                     FERRY_RENDEZVOUS_ERR_BAD_REQUEST);
  assert_http_error (server, "GET", FERRY_RENDEZVOUS_PATH_NAMEPLATES, NULL, 405,
                     FERRY_RENDEZVOUS_ERR_METHOD);
  assert_http_error (server, "DELETE", FERRY_RENDEZVOUS_PATH_HEALTH, NULL, 405,
                     FERRY_RENDEZVOUS_ERR_METHOD);
  assert_http_error (server, "POST", FERRY_RENDEZVOUS_PATH_ICE, "{}", 405,
                     FERRY_RENDEZVOUS_ERR_METHOD);
  assert_healthy (server);
}

static void
test_junk_tcp (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  guint8 garbage[4096];

  /* Binary garbage instead of a request. */
  {
    g_autoptr(Raw) raw = raw_connect (server);
    guint status;

    for (gsize i = 0; i < sizeof garbage; i++)
      garbage[i] = (guint8) g_random_int ();
    garbage[0] = 0x16;  /* like a TLS hello: not a method */
    raw_write (raw, garbage, sizeof garbage);
    raw_write (raw, "\r\n\r\n", 4);
    status = raw_read_status (raw);
    g_assert_cmpuint (status, ==, 400);
  }
  assert_healthy (server);

  /* Garbage, then the end of the stream without any line end. */
  {
    g_autoptr(Raw) raw = raw_connect (server);
    g_autoptr(GError) error = NULL;

    for (gsize i = 0; i < sizeof garbage; i++)
      garbage[i] = (guint8) g_random_int_range (0x80, 0x100);
    raw_write (raw, garbage, sizeof garbage);
    g_socket_shutdown (g_socket_connection_get_socket (raw->conn), FALSE, TRUE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (raw_read_status (raw), ==, 400);
  }
  assert_healthy (server);

  /* A request line with a path that escapes the root: refused, or
   * resolved inside the root where nothing is. */
  {
    g_autoptr(Raw) raw = raw_connect (server);
    const char *request = "GET /v1/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n";
    guint status;

    raw_write (raw, request, strlen (request));
    status = raw_read_status (raw);
    g_assert_true (status == 400 || status == 404);
  }
  assert_healthy (server);

  /* Headers far beyond any sane size. libsoup 3.2 stops reading at 64 KiB
   * of headers and drops the connection without an answer (there is no
   * hook to answer instead); what matters is that nothing more is read
   * and the server goes on. */
  {
    g_autoptr(Raw) raw = raw_connect (server);
    g_autoptr(GString) request = g_string_new ("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    guint status;

    for (guint i = 0; i < 4000; i++)
      g_string_append_printf (request, "X-Junk-%u: %s\r\n", i,
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    g_string_append (request, "\r\n");
    raw_write (raw, request->str, request->len);
    status = raw_read_status (raw);
    g_assert_true (status == 0 || (status >= 400 && status < 500));
    g_assert_true (raw->eof);
  }
  assert_healthy (server);
}

static void
test_request_timeout (void)
{
  const char *args[] = { "--request-timeout", "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(Raw) raw = raw_connect (server);
  const char *partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  gint64 start = g_get_monotonic_time ();

  /* Half a request, then nothing: the server hangs up. */
  raw_write (raw, partial, strlen (partial));
  while (!raw->eof)
    raw_read_more (raw);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 500 * 1000);
  assert_healthy (server);
}

static void
test_junk_websocket (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Raw) raw = raw_join (server, nameplate);
  g_autoptr(Peer) peer = peer_join_ok (server, nameplate);
  /* An unmasked frame with a reserved opcode and bits set: doubly wrong. */
  const guint8 frame[] = { 0xf3, 0x05, 'j', 'u', 'n', 'k', '!' };

  raw_write (raw, frame, sizeof frame);
  g_assert_cmpuint (raw_read_close (raw, NULL), ==, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);

  /* The other side learns that its peer is gone; nothing was relayed. */
  assert_closed_with (peer, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED);
  g_assert_cmpuint (peer->messages->len, ==, 0);
  assert_healthy (server);
}

static void
test_ice_without_secret (void)
{
  const char *args[] = { "--stun", "stun:127.0.0.1:3478", "--stun", "stun:[::1]:3478",
                         "--turn", "turn:127.0.0.1:3478?transport=udp", NULL };
  g_autoptr(FerryTestRendezvous) server = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  JsonArray *stun;
  guint status = 0;

  g_unsetenv ("FERRY_TURN_SECRET");
  server = ferry_test_rendezvous_start (args);
  root = http_json (server, "GET", FERRY_RENDEZVOUS_PATH_ICE, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  object = json_node_get_object (root);
  stun = json_object_get_array_member (object, "stun");
  g_assert_cmpuint (json_array_get_length (stun), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (stun, 0), ==, "stun:127.0.0.1:3478");
  g_assert_cmpstr (json_array_get_string_element (stun, 1), ==, "stun:[::1]:3478");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "turn")), ==,
                    0);
}

static JsonNode *
ice_for (FerryTestRendezvous *server,
         Peer                *peer,
         guint               *status)
{
  const char *token = soup_message_headers_get_one (soup_message_get_response_headers (peer->msg),
                                                    FERRY_RENDEZVOUS_HEADER_TOKEN);
  g_autofree char *authorization = NULL;

  g_assert_nonnull (token);
  g_assert_cmpuint (strlen (token), ==, 32);
  authorization = g_strconcat ("Bearer ", token, NULL);
  return http_json_with (server, "GET", FERRY_RENDEZVOUS_PATH_ICE, NULL, "Authorization",
                         authorization, NULL, status);
}

static void
assert_turn_credential (FerryTestRendezvous *server,
                        const char          *secret,
                        gint64               ttl)
{
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) peer = peer_join_ok (server, nameplate);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHmac) hmac = NULL;
  g_autofree char *expected = NULL;
  g_auto(GStrv) parts = NULL;
  JsonObject *turn;
  JsonArray *urls;
  const char *username;
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expiry;
  guint status = 0;

  root = ice_for (server, peer, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (root), "turn")), ==, 1);
  turn = json_array_get_object_element (json_object_get_array_member (
                                          json_node_get_object (root), "turn"), 0);

  urls = json_object_get_array_member (turn, "urls");
  g_assert_cmpuint (json_array_get_length (urls), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (urls, 0), ==,
                   "turn:127.0.0.1:3478?transport=udp");
  g_assert_cmpstr (json_array_get_string_element (urls, 1), ==,
                   "turn:127.0.0.1:443?transport=tcp");
  /* The mailbox's remaining life may have lost a second meanwhile. */
  g_assert_cmpint (json_object_get_int_member (turn, "ttl"), <=, ttl);
  g_assert_cmpint (json_object_get_int_member (turn, "ttl"), >=, ttl - 1);

  username = json_object_get_string_member (turn, "username");
  parts = g_strsplit (username, ":", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_assert_cmpstr (parts[1], ==, "ferry");
  expiry = g_ascii_strtoll (parts[0], NULL, 10);
  g_assert_cmpint (expiry, >=, now + ttl - 6);
  g_assert_cmpint (expiry, <=, now + ttl + 5);

  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  expected = g_base64_encode (digest, digest_len);
  g_assert_cmpstr (json_object_get_string_member (turn, "credential"), ==, expected);
}

static void
test_ice_with_secret (void)
{
  const char *args[] = { "--turn-secret", "s3cret", "--turn-ttl", "600",
                         "--turn", "turn:127.0.0.1:3478?transport=udp",
                         "--turn", "turn:127.0.0.1:443?transport=tcp", NULL };
  const char *env_args[] = { "--turn", "turn:127.0.0.1:3478?transport=udp",
                             "--turn", "turn:127.0.0.1:443?transport=tcp", NULL };
  g_autoptr(FerryTestRendezvous) server = NULL;
  g_autoptr(FerryTestRendezvous) env_server = NULL;

  server = ferry_test_rendezvous_start (args);
  assert_turn_credential (server, "s3cret", 600);

  /* The environment keeps the secret out of the command line. */
  g_setenv ("FERRY_TURN_SECRET", "from the environment", TRUE);
  env_server = ferry_test_rendezvous_start (env_args);
  g_unsetenv ("FERRY_TURN_SECRET");
  /* A day-long default, but never past the mailbox's own life. */
  assert_turn_credential (env_server, "from the environment", FERRY_RENDEZVOUS_DEFAULT_MAILBOX_TTL);
}

/* TURN credentials only for a side in a live mailbox, and not too often. */
static void
test_ice_needs_mailbox (void)
{
  const char *args[] = { "--turn-secret", "s3cret", "--turn", "turn:127.0.0.1:3478?transport=udp",
                         "--ice-per-minute", "3", "--mailbox-ttl", "120", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) a = peer_join_ok (server, nameplate);
  g_autoptr(Peer) b = peer_join_ok (server, nameplate);
  g_autoptr(JsonNode) anonymous = NULL;
  g_autoptr(JsonNode) root = NULL;
  guint status = 0;

  anonymous = http_json (server, "GET", FERRY_RENDEZVOUS_PATH_ICE, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (anonymous), "turn")), ==, 0);
  root = http_json_with (server, "GET", FERRY_RENDEZVOUS_PATH_ICE, NULL, "Authorization",
                         "Bearer 00000000000000000000000000000000", NULL, &status);
  g_assert_cmpuint (status, ==, 403);
  assert_error_answer (root, FERRY_RENDEZVOUS_ERR_FORBIDDEN);

  /* Renewable while the side is in: each answer is a fresh credential. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonNode) ice = ice_for (server, a, &status);
      JsonObject *turn;

      g_assert_cmpuint (status, ==, 200);
      turn = json_array_get_object_element (json_object_get_array_member (
                                              json_node_get_object (ice), "turn"), 0);
      g_assert_cmpint (json_object_get_int_member (turn, "ttl"), <=, 120);
      g_assert_cmpint (json_object_get_int_member (turn, "ttl"), >=, 100);
    }
  g_clear_pointer (&root, json_node_unref);
  root = ice_for (server, a, &status);
  g_assert_cmpuint (status, ==, 429);
  assert_error_answer (root, FERRY_RENDEZVOUS_ERR_RATE_LIMITED);

  /* The throttle is per side. */
  g_clear_pointer (&root, json_node_unref);
  root = ice_for (server, b, &status);
  g_assert_cmpuint (status, ==, 200);

  /* A side that left has no more claim on the relay. */
  soup_websocket_connection_close (b->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  assert_closed_with (b, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_pointer (&root, json_node_unref);
  root = ice_for (server, b, &status);
  g_assert_cmpuint (status, ==, 403);
  assert_error_answer (root, FERRY_RENDEZVOUS_ERR_FORBIDDEN);
}

static void
assert_refused (const char *binary,
                const char *option,
                const char *value)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, binary, option, value,
                              NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (process), !=, 0);
  g_assert_nonnull (strstr (err, option));
}

static void
test_help (void)
{
  const char *binary = g_getenv ("FERRY_RENDEZVOUS_BIN");
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *options[] = { "--listen", "--turn-secret", "--stun", "--turn", "--mailbox-ttl",
                            "--idle-timeout", "--max-message-size", "--max-queued-messages",
                            "--max-mailboxes-per-address", "--allocations-per-minute",
                            "--max-mailboxes", "--max-mailbox-bytes", "--request-timeout",
                            "--turn-ttl", "--first-message-timeout", "--joins-per-minute",
                            "--ice-per-minute", "--trusted-proxy", "restart loses" };

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, binary, "--help", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    g_assert_nonnull (strstr (out, options[i]));

  /* A bad value is refused with a message, not started with. */
  assert_refused (binary, "--listen", "nowhere");
  assert_refused (binary, "--trusted-proxy", "proxy.example.org");
}

static void
wait_check_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  gboolean *done = user_data;

  g_assert_true (g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL));
  *done = TRUE;
}

static void
test_sigterm (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autofree char *nameplate = allocate (server, NULL);
  g_autoptr(Peer) peer = peer_join_ok (server, nameplate);
  gboolean done = FALSE;

  g_subprocess_send_signal (server->process, SIGTERM);
  g_subprocess_wait_async (server->process, NULL, wait_check_cb, &done);
  g_assert_true (ferry_test_wait_for_flag (&done, TIMEOUT_MS));
  g_assert_true (g_subprocess_get_if_exited (server->process));
  g_assert_cmpint (g_subprocess_get_exit_status (server->process), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/rendezvous-server/healthz", test_healthz);
  g_test_add_func ("/rendezvous-server/allocate-lowest-first", test_allocate_lowest_first);
  g_test_add_func ("/rendezvous-server/relay-in-order", test_relay_in_order);
  g_test_add_func ("/rendezvous-server/crowded", test_crowded);
  g_test_add_func ("/rendezvous-server/not-found", test_not_found);
  g_test_add_func ("/rendezvous-server/expiry", test_expiry);
  g_test_add_func ("/rendezvous-server/burn", test_burn);
  g_test_add_func ("/rendezvous-server/limit/first-message", test_limit_first_message);
  g_test_add_func ("/rendezvous-server/limit/joins-per-minute", test_limit_joins);
  g_test_add_func ("/rendezvous-server/trusted-proxy", test_trusted_proxy);
  g_test_add_func ("/rendezvous-server/limit/message-size", test_limit_message_size);
  g_test_add_func ("/rendezvous-server/limit/fragments", test_limit_fragments);
  g_test_add_func ("/rendezvous-server/limit/queued-messages", test_limit_queued);
  g_test_add_func ("/rendezvous-server/limit/mailbox-bytes", test_limit_mailbox_bytes);
  g_test_add_func ("/rendezvous-server/limit/mailboxes-per-address", test_limit_per_address);
  g_test_add_func ("/rendezvous-server/limit/allocations-per-minute", test_limit_rate);
  g_test_add_func ("/rendezvous-server/limit/max-mailboxes", test_limit_total);
  g_test_add_func ("/rendezvous-server/limit/idle", test_limit_idle);
  g_test_add_func ("/rendezvous-server/junk/http", test_junk_http);
  g_test_add_func ("/rendezvous-server/junk/tcp", test_junk_tcp);
  g_test_add_func ("/rendezvous-server/junk/websocket", test_junk_websocket);
  g_test_add_func ("/rendezvous-server/limit/request-timeout", test_request_timeout);
  g_test_add_func ("/rendezvous-server/ice/without-secret", test_ice_without_secret);
  g_test_add_func ("/rendezvous-server/ice/with-secret", test_ice_with_secret);
  g_test_add_func ("/rendezvous-server/ice/needs-mailbox", test_ice_needs_mailbox);
  g_test_add_func ("/rendezvous-server/help", test_help);
  g_test_add_func ("/rendezvous-server/sigterm", test_sigterm);

  return g_test_run ();
}
