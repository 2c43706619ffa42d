/* test-lan.c
 *
 * The parts of meeting on the local network that need no Avahi (the netlab
 * test tests/netlab/test-lan.sh runs the rest between two namespaces): the
 * code space, the sender's own server for one reserved nameplate with a
 * real PAKE through it, and the clear errors when local discovery cannot
 * work.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "ferry-code.h"
#include "ferry-lan.h"
#include "ferry-pake.h"
#include "ferry-rendezvous-server.h"
#include "ferry-session.h"
#include "ferry-test-utils.h"

#define TIMEOUT_MS 10000

/* A nameplate a sender picks without a server is one no server hands out. */
static void
test_code_space (void)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (FERRY_TYPE_RENDEZVOUS_SERVER);
  GParamSpec *pspec;

  pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), "max-mailboxes");
  g_assert_nonnull (pspec);
  g_assert_cmpuint (G_PARAM_SPEC_UINT (pspec)->maximum, <=,
                    FERRY_RENDEZVOUS_MAX_SERVER_NAMEPLATE);
  g_assert_cmpuint (FERRY_LAN_MIN_NAMEPLATE, >, FERRY_RENDEZVOUS_MAX_SERVER_NAMEPLATE);

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *nameplate = ferry_lan_random_nameplate ();
      guint64 value = g_ascii_strtoull (nameplate, NULL, 10);

      g_assert_true (ferry_code_is_valid_nameplate (nameplate));
      g_assert_cmpuint (strlen (nameplate), ==, 7);
      g_assert_cmpuint (value, >=, FERRY_LAN_MIN_NAMEPLATE);
      g_assert_cmpuint (value, <=, FERRY_LAN_MAX_NAMEPLATE);
    }
}

static FerryMailbox *
open_mailbox (FerryRendezvousClient  *client,
              const char             *nameplate,
              GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ferry_rendezvous_client_open_mailbox_async (client, nameplate, NULL,
                                              ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  return ferry_rendezvous_client_open_mailbox_finish (client, result, error);
}

static gboolean
connect_channel (FerryChannel  *channel,
                 GAsyncResult **result)
{
  ferry_channel_connect_async (channel, NULL, ferry_test_async_result_cb, result);
  return TRUE;
}

/* The server inside a sender serves its reserved nameplate and nothing else:
 * no allocation over HTTP, a second reservation refused, and two channels
 * that adopt its mailboxes run the real PAKE to the same key. */
static void
test_reserved_server (void)
{
  g_autoptr(FerryRendezvousServer) server = ferry_rendezvous_server_new ();
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(GAsyncResult) allocated = NULL;
  g_autoptr(GAsyncResult) sender_result = NULL;
  g_autoptr(GAsyncResult) receiver_result = NULL;
  g_autoptr(FerryMailbox) sender_mailbox = NULL;
  g_autoptr(FerryMailbox) receiver_mailbox = NULL;
  g_autoptr(FerryChannel) sender = NULL;
  g_autoptr(FerryChannel) receiver = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *code = NULL;
  guint8 sender_key[32];
  guint8 receiver_key[32];

  g_assert_true (ferry_rendezvous_server_listen (server, address, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_rendezvous_server_reserve_nameplate (server, "4242424", &error));
  g_assert_no_error (error);
  g_assert_false (ferry_rendezvous_server_reserve_nameplate (server, "4242424", &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  url = ferry_rendezvous_server_dup_url (server);
  client = ferry_rendezvous_client_new (url);
  ferry_rendezvous_client_allocate_async (client, NULL, ferry_test_async_result_cb, &allocated);
  ferry_test_wait_async_result (&allocated, TIMEOUT_MS);
  nameplate = ferry_rendezvous_client_allocate_finish (client, allocated, &error);
  g_assert_null (nameplate);
  g_assert_nonnull (error);
  g_clear_error (&error);

  sender_mailbox = open_mailbox (client, "4242424", &error);
  g_assert_no_error (error);
  receiver_mailbox = open_mailbox (client, "4242424", &error);
  g_assert_no_error (error);

  code = ferry_code_generate ("4242424", FERRY_CODE_DEFAULT_WORDS);
  sender = ferry_channel_new (client);
  receiver = ferry_channel_new (client);
  ferry_channel_adopt_mailbox (sender, code, sender_mailbox, TRUE);
  ferry_channel_adopt_mailbox (receiver, code, receiver_mailbox, FALSE);
  connect_channel (sender, &sender_result);
  connect_channel (receiver, &receiver_result);
  ferry_test_wait_async_result (&sender_result, TIMEOUT_MS);
  ferry_test_wait_async_result (&receiver_result, TIMEOUT_MS);
  g_assert_true (ferry_channel_connect_finish (sender, sender_result, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_channel_connect_finish (receiver, receiver_result, &error));
  g_assert_no_error (error);
  g_assert_true (ferry_channel_is_sender (sender));
  g_assert_false (ferry_channel_is_sender (receiver));

  ferry_channel_derive_key (sender, "test", sender_key);
  ferry_channel_derive_key (receiver, "test", receiver_key);
  g_assert_cmpmem (sender_key, sizeof sender_key, receiver_key, sizeof receiver_key);

  ferry_channel_close (sender);
  ferry_channel_close (receiver);
}

static void
assert_lan_unusable (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == FERRY_LAN_ERROR);
  g_assert_true (error->code == FERRY_LAN_ERROR_UNAVAILABLE ||
                 error->code == FERRY_LAN_ERROR_NO_MULTICAST);
}

/* Without avahi-daemon (here: a system bus that is not there) the browse
 * fails at once with that reason, not after its bound. */
static void
test_find_without_avahi (void)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  gint64 start = g_get_monotonic_time ();

  ferry_lan_find_async ("1234567", 60000, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  url = ferry_lan_find_finish (result, &error);
  g_assert_null (url);
  assert_lan_unusable (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static GError *
run_session (FerrySession *session)
{
  g_autoptr(GAsyncResult) result = NULL;
  GError *error = NULL;

  ferry_session_run_async (session, NULL, ferry_test_async_result_cb, &result);
  ferry_test_wait_async_result (&result, TIMEOUT_MS);
  g_assert_false (ferry_session_run_finish (session, result, &error));
  return error;
}

/* No server and no local discovery: both sides say so, and soon. */
static void
test_no_server_no_avahi (void)
{
  g_autofree char *dir = ferry_test_make_temp_dir ("lan");
  g_autofree char *path = g_build_filename (dir, "file.bin", NULL);
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) folder = g_file_new_for_path (dir);
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(FerrySession) sender = NULL;
  g_autoptr(FerrySession) receiver = NULL;
  g_autoptr(GError) error = NULL;

  /* Port 1 on loopback refuses at once: no server. */
  client = ferry_rendezvous_client_new ("http://127.0.0.1:1");
  ferry_test_write_random_file (path, 1000, 7);
  file = g_file_new_for_path (path);

  sender = ferry_session_new_sender (client, NULL, &file, 1);
  error = run_session (sender);
  assert_lan_unusable (error);
  g_assert_cmpint (ferry_session_get_state (sender), ==, FERRY_SESSION_STATE_FAILED);
  g_clear_error (&error);

  receiver = ferry_session_new_receiver (client, NULL, "1234567-abandon-ability-able", folder);
  error = run_session (receiver);
  assert_lan_unusable (error);

  ferry_test_clear_temp_dir (&dir);
}

int
main (int   argc,
      char *argv[])
{
  /* No system bus, hence no Avahi, whatever runs on this machine. */
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/ferry-test-bus", TRUE);
  ferry_test_init (&argc, &argv);

  g_test_add_func ("/lan/code-space", test_code_space);
  g_test_add_func ("/lan/reserved-server", test_reserved_server);
  g_test_add_func ("/lan/find-without-avahi", test_find_without_avahi);
  g_test_add_func ("/lan/no-server-no-avahi", test_no_server_no_avahi);

  return g_test_run ();
}
