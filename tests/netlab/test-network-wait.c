/* tests/netlab/test-network-wait.c
 *
 * A session started while its device has no usable network address (here: a host whose
 * link has no carrier, so the kernel does not mark the interface running, which is what
 * libnice and a laptop just back from suspend both see) waits for one instead of failing:
 * once the link comes up it gathers on the new address; if none comes within its
 * network-wait, it fails with a clear error.
 *
 * The test binary plays the session's part: re-executed with
 * `ip netns exec HOST test-network-wait --lab-role ice`, it takes commands on stdin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "ferry-ice-session.h"
#include "ferry-lab.h"
#include "ferry-network-watch.h"
#include "ferry-test-utils.h"
#include "ferry-version.h"

#define CALL_MS 10000

static FerryLab *lab;

/* Child side: one session in the host's namespace --------------------------------------- */

typedef struct
{
  FerryIceSession   *session;
  FerryNetworkWatch *watch;
  FerryLabRequest   *waiting;      /* wait-waiting */
  FerryLabRequest   *result_request;
  FerryLabRequest   *usable_request;
  gboolean           usable_wanted;
  char              *result;
  gint64             started;
} Ice;

static void
ice_finish (Ice  *ice,
            char *result)
{
  if (ice->result != NULL)
    {
      g_free (result);
      return;
    }
  ice->result = result;
  if (ice->result_request != NULL)
    ferry_lab_request_reply (g_steal_pointer (&ice->result_request), "%s", ice->result);
}

static void
local_message_cb (FerryIceSession *session,
                  const char      *message,
                  gpointer         user_data)
{
  Ice *ice = user_data;
  g_autoptr(JsonNode) node = json_from_string (message, NULL);
  const char *line;
  g_auto(GStrv) words = NULL;

  g_assert_nonnull (node);
  line = json_object_get_string_member_with_default (json_node_get_object (node),
                                                     "candidate", NULL);
  if (line == NULL || strstr (line, " typ host") == NULL)
    return;

  /* "a=candidate:F 1 UDP PRIO IP PORT typ host" */
  words = g_strsplit (line, " ", -1);
  g_assert_cmpuint (g_strv_length (words), >=, 6);
  ice_finish (ice, g_strdup_printf ("candidate %s %" G_GINT64_FORMAT, words[4],
                                    (g_get_monotonic_time () - ice->started) / 1000));
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Ice *ice = user_data;
  g_autoptr(GError) error = NULL;

  if (ferry_ice_session_connect_finish (FERRY_ICE_SESSION (object), result, &error))
    ice_finish (ice, g_strdup ("connected"));
  else
    ice_finish (ice, g_strdup_printf ("error %d %" G_GINT64_FORMAT " %s", error->code,
                                      (g_get_monotonic_time () - ice->started) / 1000,
                                      error->message));
}

static void
waiting_notify_cb (GObject    *object,
                   GParamSpec *pspec,
                   gpointer    user_data)
{
  Ice *ice = user_data;

  if (ice->waiting != NULL && ferry_ice_session_get_waiting_for_network (ice->session))
    ferry_lab_request_reply (g_steal_pointer (&ice->waiting), "waiting");
}

static void
network_changed_cb (FerryNetworkWatch *watch,
                    gpointer           user_data)
{
  Ice *ice = user_data;

  if (ice->usable_request != NULL &&
      ferry_network_has_usable_address () == ice->usable_wanted)
    ferry_lab_request_reply (g_steal_pointer (&ice->usable_request), "ok");
}

/* Commands:
 *   wait-usable yes|no  -> ok        (once libnice's enumeration agrees)
 *   start WAIT_MS       -> ok        (a controlling session with no servers starts connecting)
 *   wait-waiting        -> waiting   (once it waits for a network) | not-waiting RESULT
 *   wait-result         -> candidate IP MS | error CODE MS MESSAGE
 */
static void
ice_command (const char * const *words,
             FerryLabRequest    *request,
             gpointer            user_data)
{
  Ice *ice = user_data;
  guint n = g_strv_length ((GStrv) words);

  if (n == 2 && g_str_equal (words[0], "wait-usable"))
    {
      if (ice->watch == NULL)
        {
          ice->watch = ferry_network_watch_new ();
          g_signal_connect (ice->watch, "changed", G_CALLBACK (network_changed_cb), ice);
        }
      ice->usable_wanted = g_str_equal (words[1], "yes");
      ice->usable_request = request;
      network_changed_cb (ice->watch, ice);
    }
  else if (n == 2 && g_str_equal (words[0], "start"))
    {
      g_clear_object (&ice->session);
      g_clear_pointer (&ice->result, g_free);
      ice->session = ferry_ice_session_new (FERRY_ICE_ROLE_CONTROLLING);
      ferry_ice_session_set_network_wait (ice->session, atoi (words[1]));
      g_signal_connect (ice->session, "local-message", G_CALLBACK (local_message_cb), ice);
      g_signal_connect (ice->session, "notify::waiting-for-network",
                        G_CALLBACK (waiting_notify_cb), ice);
      ice->started = g_get_monotonic_time ();
      ferry_ice_session_connect_async (ice->session, NULL, connect_cb, ice);
      ferry_lab_request_reply (request, "ok");
    }
  else if (n == 1 && g_str_equal (words[0], "wait-waiting") && ice->session != NULL)
    {
      if (ferry_ice_session_get_waiting_for_network (ice->session))
        ferry_lab_request_reply (request, "waiting");
      else if (ice->result != NULL)
        ferry_lab_request_reply (request, "not-waiting %s", ice->result);
      else
        ice->waiting = request;
    }
  else if (n == 1 && g_str_equal (words[0], "wait-result") && ice->session != NULL)
    {
      if (ice->result != NULL)
        ferry_lab_request_reply (request, "%s", ice->result);
      else
        ice->result_request = request;
    }
  else
    ferry_lab_request_reply (request, "error bad-command");
}

static int
ice_main (int    argc,
          char **argv)
{
  Ice ice = { 0 };
  g_autoptr(GError) error = NULL;
  int status;

  g_log_writer_default_set_use_stderr (TRUE);
  if (!ferry_init (&error))
    g_error ("%s", error->message);

  status = ferry_lab_run_role (argc, argv, "ice", ice_command, &ice);
  if (ice.session != NULL)
    ferry_ice_session_close (ice.session);
  g_clear_object (&ice.session);
  g_clear_object (&ice.watch);
  g_free (ice.result);
  return status;
}

/* Parent side ---------------------------------------------------------------------------- */

/* pub1 sits on the internet behind the lab's veth "s1"; taking the internet's end down
 * takes pub1's carrier away. */
static void
set_link (gboolean up)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = ferry_lab_run (lab, "inet", &error, "ip", "link", "set", "s1",
                                        up ? "up" : "down", NULL);

  g_assert_no_error (error);
}

static void
call_ok (FerryLabChild *child,
         const char    *expected,
         const char    *command)
{
  g_autofree char *reply = ferry_lab_child_call (child, CALL_MS, "%s", command);

  g_assert_cmpstr (reply, ==, expected);
}

static void
test_link_comes_up (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryLabChild) child = ferry_lab_child_new (lab, "pub1", "ice", &error);
  g_autofree char *result = NULL;
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  set_link (FALSE);
  call_ok (child, "ok", "wait-usable no");
  call_ok (child, "ok", "start 10000");
  call_ok (child, "waiting", "wait-waiting");

  /* The session waits; the link comes back and it gathers on its address. */
  set_link (TRUE);
  result = ferry_lab_child_call (child, CALL_MS, "wait-result");
  g_test_message ("result: %s", result);
  expected = g_strdup_printf ("candidate %s ", ferry_lab_addr (lab, "pub1"));
  g_assert_nonnull (result);
  g_assert_true (g_str_has_prefix (result, expected));
}

static void
test_no_network_fails (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryLabChild) child = ferry_lab_child_new (lab, "pub1", "ice", &error);
  g_autofree char *result = NULL;
  g_auto(GStrv) words = NULL;

  g_assert_no_error (error);
  set_link (FALSE);
  call_ok (child, "ok", "wait-usable no");
  call_ok (child, "ok", "start 800");
  call_ok (child, "waiting", "wait-waiting");

  /* Nothing comes: after network-wait, a clear failure, not a hang to the deadline. */
  result = ferry_lab_child_call (child, CALL_MS, "wait-result");
  g_test_message ("result: %s", result);
  g_assert_nonnull (result);
  words = g_strsplit (result, " ", 4);
  g_assert_cmpuint (g_strv_length (words), ==, 4);
  g_assert_cmpstr (words[0], ==, "error");
  g_assert_cmpint (atoi (words[1]), ==, FERRY_ICE_ERROR_FAILED);
  g_assert_cmpint (atoi (words[2]), >=, 800);
  g_assert_cmpint (atoi (words[2]), <, 5000);
  g_assert_cmpstr (words[3], ==, "This device has no usable network address");
  set_link (TRUE);
}

int
main (int   argc,
      char *argv[])
{
  const char * const hosts[] = { "pub1:none", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  int status;

  status = ice_main (argc, argv);
  if (status >= 0)
    return status;

  if (!ferry_lab_available (&reason))
    {
      g_printerr ("######## SKIPPING THE NAT LAB NETWORK-WAIT TEST: %s ########\n", reason);
      g_print ("1..0 # SKIP NAT lab unavailable: %s\n", reason);
      return 0;
    }

  ferry_test_init (&argc, &argv);
  lab = ferry_lab_new (hosts, FALSE, &error);
  g_assert_no_error (error);

  g_test_add_func ("/netlab/network-wait/link-comes-up", test_link_comes_up);
  g_test_add_func ("/netlab/network-wait/no-network-fails", test_no_network_fails);

  status = g_test_run ();
  g_clear_pointer (&lab, ferry_lab_free);
  return status;
}
