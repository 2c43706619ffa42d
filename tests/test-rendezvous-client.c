/* test-rendezvous-client.c
 *
 * FerryRendezvousClient and FerryMailbox against the real ferry-rendezvous,
 * and against sockets and a fake server for the failures a real
 * rendezvous cannot produce.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-rendezvous-client"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "ferry-mailbox.h"
#include "ferry-rendezvous-client.h"
#include "ferry-rendezvous-protocol.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 10000

static JsonObject *
fetch_ice (FerryRendezvousClient  *client,
           FerryMailbox           *mailbox,
           GError                **error)
{
  return ferry_test_fetch_ice (client, mailbox != NULL ? ferry_mailbox_get_token (mailbox) : NULL,
                               error);
}

static void
assert_receive (FerryMailbox *mailbox,
                const char   *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = ferry_test_receive (mailbox, &error);
  gsize size;
  const char *data;

  g_assert_no_error (error);
  data = g_bytes_get_data (message, &size);
  g_assert_cmpmem (data, size, text, strlen (text));
}

static void
assert_receive_error (FerryMailbox *mailbox,
                      GQuark        domain,
                      int           code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = ferry_test_receive (mailbox, &error);

  g_assert_null (message);
  g_assert_error (error, domain, code);
}

typedef struct
{
  gboolean  closed;
  GError   *error;
} Closed;

static void
closed_cb (FerryMailbox *mailbox,
           const GError *error,
           gpointer      user_data)
{
  Closed *closed = user_data;

  g_assert_false (closed->closed);
  closed->closed = TRUE;
  closed->error = error != NULL ? g_error_copy (error) : NULL;
}

static FerryRendezvousClient *
client_for (FerryTestRendezvous *server)
{
  return ferry_rendezvous_client_new (server->url);
}

/* Against the real server ---------------------------------------------- */

static void
test_exchange (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) sender = NULL;
  g_autoptr(FerryMailbox) receiver = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *second = NULL;
  Closed sender_closed = { 0 };
  Closed receiver_closed = { 0 };

  nameplate = ferry_test_allocate (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nameplate, ==, "1");
  second = ferry_test_allocate (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second, ==, "2");

  sender = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (ferry_mailbox_is_closed (sender));
  g_signal_connect (sender, "closed", G_CALLBACK (closed_cb), &sender_closed);

  /* Sent before the receiver is there: the server keeps them. */
  ferry_test_send_text (sender, "hello");
  ferry_test_send_text (sender, "pake-message");

  receiver = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (receiver, "closed", G_CALLBACK (closed_cb), &receiver_closed);
  assert_receive (receiver, "hello");
  assert_receive (receiver, "pake-message");

  ferry_test_send_text (receiver, "reply-1");
  ferry_test_send_text (receiver, "reply-2");
  ferry_test_send_text (receiver, "reply-3");
  assert_receive (sender, "reply-1");
  assert_receive (sender, "reply-2");
  assert_receive (sender, "reply-3");

  /* The last message still arrives before the end is told. */
  ferry_test_send_text (sender, "bye");
  ferry_mailbox_close (sender, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_assert_true (ferry_mailbox_is_closed (sender));
  assert_receive (receiver, "bye");
  assert_receive_error (receiver, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
  g_assert_true (receiver_closed.closed);
  g_assert_null (receiver_closed.error);
  g_assert_true (ferry_test_wait_for_flag (&sender_closed.closed, TIMEOUT_MS));
  g_assert_null (sender_closed.error);
  assert_receive_error (sender, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);

  /* Both left, so 1 is handed out again. */
  g_clear_pointer (&nameplate, g_free);
  nameplate = ferry_test_allocate (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nameplate, ==, "1");
}

static gboolean
message_signal_cb (FerryMailbox *mailbox,
                   GBytes       *message,
                   gpointer      user_data)
{
  GPtrArray *seen = user_data;

  g_ptr_array_add (seen, g_bytes_ref (message));
  return TRUE;
}

static void
test_message_signal (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);
  g_autoptr(GAsyncResult) result = NULL;

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);

  g_signal_connect (b, "message", G_CALLBACK (message_signal_cb), seen);
  ferry_test_send_text (a, "first");
  ferry_test_send_text (a, "second");
  ferry_mailbox_close (a, SOUP_WEBSOCKET_CLOSE_NORMAL);

  /* The handler took both, so receiving goes straight to the end. */
  ferry_mailbox_receive_async (b, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_null (ferry_mailbox_receive_finish (b, result, &error));
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpmem (g_bytes_get_data (seen->pdata[0], NULL), g_bytes_get_size (seen->pdata[0]),
                   "first", 5);
  g_assert_cmpmem (g_bytes_get_data (seen->pdata[1], NULL), g_bytes_get_size (seen->pdata[1]),
                   "second", 6);
}

static void
test_crowded (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(FerryMailbox) c = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  c = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CROWDED);

  ferry_test_send_text (a, "unharmed");
  assert_receive (b, "unharmed");
}

static void
test_not_found (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;

  mailbox = ferry_test_open_mailbox (client, "42", NULL, &error);
  g_assert_null (mailbox);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* What a user mistyped never reaches the server as a path. */
  mailbox = ferry_test_open_mailbox (client, "../healthz", NULL, &error);
  g_assert_null (mailbox);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND);
}

static void
test_expired (void)
{
  const char *args[] = { "--mailbox-ttl", "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);
  Closed closed = { 0 };

  g_assert_no_error (error);
  mailbox = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (mailbox, "closed", G_CALLBACK (closed_cb), &closed);

  assert_receive_error (mailbox, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_EXPIRED);
  g_assert_true (closed.closed);
  g_assert_error (closed.error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_EXPIRED);
  g_clear_error (&closed.error);

  g_clear_object (&mailbox);
  mailbox = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND);
}

static void
test_bad_code (void)
{
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(FerryMailbox) retry = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);
  Closed closed = { 0 };

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (b, "closed", G_CALLBACK (closed_cb), &closed);

  ferry_mailbox_close (a, FERRY_RENDEZVOUS_CLOSE_BAD_CODE);
  assert_receive_error (b, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_BAD_CODE);
  g_assert_error (closed.error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_BAD_CODE);
  g_clear_error (&closed.error);

  /* One guess per code: the mailbox is gone. */
  retry = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_NOT_FOUND);
}

static void
test_too_large (void)
{
  const char *args[] = { "--max-message-size", "4096", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(GBytes) big = g_bytes_new_take (g_malloc0 (10 * 1024 * 1024), 10 * 1024 * 1024);
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);

  ferry_mailbox_send (a, big);
  assert_receive_error (a, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_TOO_LARGE);
  assert_receive_error (b, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
}

static void
test_rate_limited (void)
{
  const char *args[] = { "--allocations-per-minute", "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(GError) error = NULL;
  g_autofree char *first = ferry_test_allocate (client, NULL, &error);
  g_autofree char *second = NULL;

  g_assert_no_error (error);
  second = ferry_test_allocate (client, NULL, &error);
  g_assert_null (second);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
}

static void
test_queue_limit (void)
{
  const char *args[] = { "--max-queued-messages", "1", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  ferry_test_send_text (a, "kept");
  ferry_test_send_text (a, "one too many");
  assert_receive_error (a, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED);
}

static void
test_ice (void)
{
  const char *args[] = { "--turn-secret", "t0p", "--stun", "stun:127.0.0.1:3478",
                         "--turn", "turn:127.0.0.1:3478?transport=udp", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(JsonObject) ice = NULL;
  g_autoptr(JsonObject) stun_only = NULL;
  g_autoptr(JsonObject) after = NULL;
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);
  Closed closed = { 0 };
  JsonObject *turn;

  /* Outside a mailbox: STUN only, no relay for anyone who asks. */
  g_assert_no_error (error);
  stun_only = fetch_ice (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (stun_only,
                                                                                "stun"), 0),
                   ==, "stun:127.0.0.1:3478");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (stun_only, "turn")), ==,
                    0);

  mailbox = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ferry_mailbox_get_token (mailbox));
  ice = fetch_ice (client, mailbox, &error);
  g_assert_no_error (error);
  turn = json_array_get_object_element (json_object_get_array_member (ice, "turn"), 0);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (turn, "username"), ":ferry"));
  g_assert_cmpuint (strlen (json_object_get_string_member (turn, "credential")), ==, 28);
  /* No longer than the mailbox lives (an hour by default). */
  g_assert_cmpint (json_object_get_int_member (turn, "ttl"), <=, 3600);

  /* Once our side left, its token buys nothing. */
  g_signal_connect (mailbox, "closed", G_CALLBACK (closed_cb), &closed);
  ferry_mailbox_close (mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_assert_true (ferry_test_wait_for_flag (&closed.closed, TIMEOUT_MS));
  after = fetch_ice (client, mailbox, &error);
  g_assert_null (after);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED);
}

static void
test_idle_timeout_kept_alive (void)
{
  const char *args[] = { "--idle-timeout", "3", NULL };
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (args);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = ferry_test_allocate (client, NULL, &error);
  gboolean never = FALSE;

  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);

  /* Silent for longer than the idle timeout: the pongs keep both sides. This is the
   * one wait on time itself, as the property is that nothing happens. */
  g_assert_false (ferry_test_wait_for_flag (&never, 4500));
  g_assert_false (ferry_mailbox_is_closed (a) || ferry_mailbox_is_closed (b));
  ferry_test_send_text (b, "still here");
  assert_receive (a, "still here");
}

/* Failures a real rendezvous cannot produce ----------------------------- */

static guint16
closed_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  g_socket_close (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_unreachable (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", closed_port ());
  g_autoptr(FerryRendezvousClient) client = ferry_rendezvous_client_new (url);
  g_autoptr(FerryRendezvousClient) bad_url = ferry_rendezvous_client_new ("not a url");
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(JsonObject) ice = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = NULL;

  nameplate = ferry_test_allocate (client, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
  g_clear_error (&error);

  mailbox = ferry_test_open_mailbox (client, "1", NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
  g_clear_error (&error);

  ice = fetch_ice (client, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
  g_clear_error (&error);

  nameplate = ferry_test_allocate (bad_url, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
}

/* A socket that accepts connections (the kernel does) but never answers. */
static GSocket *
silent_listener (guint16 *port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *socket;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  g_socket_listen (socket, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

static void
test_connect_timeout (void)
{
  guint16 port;
  g_autoptr(GSocket) listener = silent_listener (&port);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autoptr(FerryRendezvousClient) client = ferry_rendezvous_client_new (url);
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = NULL;
  gint64 start;

  g_object_set (client, "connect-timeout", 1, NULL);
  g_assert_cmpuint (ferry_rendezvous_client_get_connect_timeout (client), ==, 1);

  start = g_get_monotonic_time ();
  nameplate = ferry_test_allocate (client, NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 900 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  mailbox = ferry_test_open_mailbox (client, "1", NULL, &error);
  g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  guint16 port;
  g_autoptr(GSocket) listener = silent_listener (&port);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autoptr(FerryRendezvousClient) silent = ferry_rendezvous_client_new (url);
  g_autoptr(FerryTestRendezvous) server = ferry_test_rendezvous_start (NULL);
  g_autoptr(FerryRendezvousClient) client = client_for (server);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) precancelled = g_cancellable_new ();
  g_autoptr(FerryMailbox) a = NULL;
  g_autoptr(FerryMailbox) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *none = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  /* A request that hangs is cancelled long before its timeout. */
  g_idle_add (cancel_cb, cancellable);
  none = ferry_test_allocate (silent, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_cancellable_cancel (precancelled);
  b = ferry_test_open_mailbox (client, "1", precancelled, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* A cancelled receive loses nothing: the next one gets the message. */
  nameplate = ferry_test_allocate (client, NULL, &error);
  g_assert_no_error (error);
  a = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);
  b = ferry_test_open_mailbox (client, nameplate, NULL, &error);
  g_assert_no_error (error);

  g_cancellable_reset (cancellable);
  ferry_mailbox_receive_async (b, cancellable, ferry_test_async_result_cb, &result);
  g_cancellable_cancel (cancellable);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_null (ferry_mailbox_receive_finish (b, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (ferry_mailbox_is_closed (b));

  ferry_test_send_text (a, "after the cancel");
  assert_receive (b, "after the cancel");
}

/* A fake server is the only way to get answers that ferry-rendezvous never
 * gives: wrong JSON, HTML, an HTTP server that is something else. */
static void
junk_handler_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  const char *mode = user_data;

  if (g_str_equal (mode, "html"))
    {
      const char *html = "<html><body>Welcome to nginx!</body></html>";

      soup_server_message_set_status (msg, g_str_equal (path, "/v1/nameplates") ? 201 : 200,
                                      NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, html,
                                        strlen (html));
    }
  else if (g_str_equal (mode, "wrong-json"))
    {
      const char *json = g_str_equal (path, "/v1/nameplates") ?
                         "{\"nameplate\": 7, \"expires_in\": \"soon\"}" :
                         "{\"stun\": [\"http://evil\"], \"turn\": {}}";

      soup_server_message_set_status (msg, g_str_equal (path, "/v1/nameplates") ? 201 : 200,
                                      NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, json,
                                        strlen (json));
    }
  else
    {
      const char *html = "<h1>Not Found</h1>";

      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, html,
                                        strlen (html));
    }
}

static SoupServer *
junk_server (const char  *mode,
             char       **url)
{
  SoupServer *server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  soup_server_add_handler (server, NULL, junk_handler_cb, (gpointer) mode, NULL);
  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  *url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return server;
}

static void
test_protocol (void)
{
  const char *modes[] = { "html", "wrong-json", "not-found" };

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autofree char *url = NULL;
      g_autoptr(SoupServer) server = junk_server (modes[i], &url);
      g_autoptr(FerryRendezvousClient) client = ferry_rendezvous_client_new (url);
      g_autoptr(GError) error = NULL;
      g_autofree char *nameplate = NULL;
      g_autoptr(JsonObject) ice = NULL;
      g_autoptr(FerryMailbox) mailbox = NULL;

      g_test_message ("fake server answers %s", modes[i]);
      nameplate = ferry_test_allocate (client, NULL, &error);
      g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL);
      g_clear_error (&error);

      ice = fetch_ice (client, NULL, &error);
      g_assert_error (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL);
      g_clear_error (&error);

      /* A refused upgrade has no body to judge; only its status counts. */
      mailbox = ferry_test_open_mailbox (client, "1", NULL, &error);
      g_assert_nonnull (error);
      g_assert_true (error->domain == FERRY_RENDEZVOUS_ERROR);
      g_assert_cmpint (error->code, ==, g_str_equal (modes[i], "not-found") ?
                       FERRY_RENDEZVOUS_ERROR_NOT_FOUND : FERRY_RENDEZVOUS_ERROR_PROTOCOL);
    }
}

/* A hostile server: it accepts the upgrade, then sends one message in
 * fragments that are each small but together far past the client's cap.
 * A real rendezvous never does this, so it is played by hand. */
static gboolean
fragment_server_run_cb (GThreadedSocketService *service,
                        GSocketConnection      *connection,
                        GObject                *source,
                        gpointer                user_data)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GString) request = g_string_new (NULL);
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree char *answer = NULL;
  g_autofree char *accept = NULL;
  g_autofree guint8 *payload = g_malloc0 (60000);
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  const char *key;
  char *end;
  char byte;

  while (!g_str_has_suffix (request->str, "\r\n\r\n"))
    {
      if (g_input_stream_read (in, &byte, 1, NULL, NULL) != 1)
        return TRUE;
      g_string_append_c (request, byte);
    }
  key = strstr (request->str, "Sec-WebSocket-Key: ");
  g_assert_nonnull (key);
  key += strlen ("Sec-WebSocket-Key: ");
  end = strstr (key, "\r\n");
  g_checksum_update (sha1, (const guchar *) key, end - key);
  g_checksum_update (sha1, (const guchar *) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", -1);
  g_checksum_get_digest (sha1, digest, &digest_len);
  accept = g_base64_encode (digest, digest_len);
  answer = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                            "Sec-WebSocket-Protocol: " FERRY_RENDEZVOUS_WS_PROTOCOL "\r\n\r\n",
                            accept);
  if (!g_output_stream_write_all (out, answer, strlen (answer), NULL, NULL, NULL))
    return TRUE;

  /* 40 fragments of 60000 bytes: 2.4 MB, each frame under the 1 MiB cap. */
  for (guint i = 0; i < 40; i++)
    {
      guint8 header[4] = { i == 0 ? 0x02 : 0x00, 126, 60000 >> 8, 60000 & 0xff };

      if (!g_output_stream_write_all (out, header, sizeof header, NULL, NULL, NULL) ||
          !g_output_stream_write_all (out, payload, 60000, NULL, NULL, NULL))
        break;
    }
  return TRUE;
}

static void
test_fragments_capped (void)
{
  g_autoptr(GSocketService) service = g_threaded_socket_service_new (1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(FerryMailbox) mailbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "run", G_CALLBACK (fragment_server_run_cb), NULL);
  g_socket_service_start (service);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  client = ferry_rendezvous_client_new (url);

  mailbox = ferry_test_open_mailbox (client, "1", NULL, &error);
  g_assert_no_error (error);
  assert_receive_error (mailbox, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_TOO_LARGE);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

/* Some endings cannot be caused with a libsoup client (it always answers
 * pings, so it is never idle): check the whole table of codes. */
static void
test_close_codes (void)
{
  const struct { gushort code; int error; } table[] = {
    { 1000, FERRY_RENDEZVOUS_ERROR_CLOSED },
    { 1001, FERRY_RENDEZVOUS_ERROR_CLOSED },
    { 1006, FERRY_RENDEZVOUS_ERROR_CLOSED },
    { 0, FERRY_RENDEZVOUS_ERROR_CLOSED },
    { 1002, FERRY_RENDEZVOUS_ERROR_PROTOCOL },
    { 1009, FERRY_RENDEZVOUS_ERROR_TOO_LARGE },
    { FERRY_RENDEZVOUS_CLOSE_BAD_CODE, FERRY_RENDEZVOUS_ERROR_BAD_CODE },
    { 4404, FERRY_RENDEZVOUS_ERROR_NOT_FOUND },
    { 4408, FERRY_RENDEZVOUS_ERROR_IDLE },
    { 4409, FERRY_RENDEZVOUS_ERROR_CROWDED },
    { 4410, FERRY_RENDEZVOUS_ERROR_EXPIRED },
    { 4413, FERRY_RENDEZVOUS_ERROR_TOO_LARGE },
    { 4429, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED },
    { 4503, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED },
    { 4500, FERRY_RENDEZVOUS_ERROR_PROTOCOL },
    { 4000, FERRY_RENDEZVOUS_ERROR_PROTOCOL },
    { 3000, FERRY_RENDEZVOUS_ERROR_PROTOCOL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    {
      g_autoptr(GError) error = ferry_rendezvous_error_for_close_code (table[i].code);

      g_test_message ("close code %u", table[i].code);
      g_assert_error (error, FERRY_RENDEZVOUS_ERROR, table[i].error);
      g_assert_cmpuint (strlen (error->message), >, 0);
    }
}

int
main (int   argc,
      char *argv[])
{
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/rendezvous-client/exchange", test_exchange);
  g_test_add_func ("/rendezvous-client/message-signal", test_message_signal);
  g_test_add_func ("/rendezvous-client/crowded", test_crowded);
  g_test_add_func ("/rendezvous-client/not-found", test_not_found);
  g_test_add_func ("/rendezvous-client/expired", test_expired);
  g_test_add_func ("/rendezvous-client/bad-code", test_bad_code);
  g_test_add_func ("/rendezvous-client/too-large", test_too_large);
  g_test_add_func ("/rendezvous-client/rate-limited", test_rate_limited);
  g_test_add_func ("/rendezvous-client/queue-limit", test_queue_limit);
  g_test_add_func ("/rendezvous-client/ice", test_ice);
  g_test_add_func ("/rendezvous-client/idle-kept-alive", test_idle_timeout_kept_alive);
  g_test_add_func ("/rendezvous-client/unreachable", test_unreachable);
  g_test_add_func ("/rendezvous-client/connect-timeout", test_connect_timeout);
  g_test_add_func ("/rendezvous-client/cancel", test_cancel);
  g_test_add_func ("/rendezvous-client/protocol", test_protocol);
  g_test_add_func ("/rendezvous-client/close-codes", test_close_codes);
  g_test_add_func ("/rendezvous-client/fragments-capped", test_fragments_capped);

  return g_test_run ();
}
