/* ferry-cli-netcheck.c
 *
 * ferry-cli netcheck [--json] [--timeout MS]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-cli"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ferry-cli-commands.h"
#include "ferry-netcheck.h"
#include "ferry-rendezvous-client.h"

typedef struct
{
  GMainLoop  *loop;
  JsonObject *report;
  GError     *error;
} Wait;

static void
run_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  Wait *wait = user_data;

  wait->report = ferry_netcheck_run_finish (FERRY_NETCHECK (object), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

int
ferry_cli_netcheck (FerryCliContext  *context,
                    int               argc,
                    char            **argv)
{
  gboolean json = FALSE;
  int timeout_ms = FERRY_NETCHECK_DEFAULT_TIMEOUT_MS;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms,
      "How long each probe waits for an answer (default 1500)", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new (NULL);
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(FerryNetcheck) netcheck = NULL;
  g_autoptr(GError) error = NULL;
  Wait wait = { 0 };

  g_option_context_set_summary (options,
                                "Shows the public address STUN sees, whether this NAT maps "
                                "endpoint-independently (easy) or not (hard), which port-mapping "
                                "protocols the router answers and whether TURN is reachable over "
                                "UDP and TCP.");
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_add_group (options, ferry_cli_global_options_new (context));
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      fprintf (stderr, "ferry-cli netcheck: %s\n", error->message);
      return FERRY_CLI_EXIT_USAGE;
    }
  if (argc > 1)
    {
      fprintf (stderr, "ferry-cli netcheck: unexpected argument “%s”\n", argv[1]);
      return FERRY_CLI_EXIT_USAGE;
    }
  if (timeout_ms <= 0)
    {
      fprintf (stderr, "ferry-cli netcheck: --timeout must be positive\n");
      return FERRY_CLI_EXIT_USAGE;
    }
  if (context->rendezvous_url == NULL)
    {
      fprintf (stderr, "ferry-cli netcheck: no rendezvous server: "
                       "pass --rendezvous URL or set FERRY_RENDEZVOUS\n");
      return FERRY_CLI_EXIT_USAGE;
    }

  client = ferry_rendezvous_client_new (context->rendezvous_url);
  netcheck = ferry_netcheck_new (client);
  ferry_netcheck_set_timeout (netcheck, timeout_ms);

  wait.loop = g_main_loop_new (NULL, FALSE);
  ferry_netcheck_run_async (netcheck, NULL, run_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);

  if (wait.report == NULL)
    {
      fprintf (stderr, "ferry-cli netcheck: %s\n", wait.error->message);
      g_error_free (wait.error);
      return FERRY_CLI_EXIT_FAILURE;
    }

  if (json)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), wait.report);
      g_autofree char *text = json_to_string (node, TRUE);

      printf ("%s\n", text);
    }
  else
    {
      g_autofree char *text = ferry_netcheck_format_text (wait.report);

      fputs (text, stdout);
    }

  json_object_unref (wait.report);
  return EXIT_SUCCESS;
}
