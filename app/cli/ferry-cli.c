/* ferry-cli.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-cli"

#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ferry-cli-transfer.h"
#include "ferry-version.h"

/* Used when neither --rendezvous nor $FERRY_RENDEZVOUS names a server. */
#define DEFAULT_RENDEZVOUS_URL "http://127.0.0.1:4477"

typedef struct
{
  const char *name;
  const char *summary;
  int       (*run) (FerryRendezvousClient *client, int argc, char **argv);
} Command;

static const Command commands[] = {
  { "send", N_("Send files and folders; prints a code"), ferry_cli_send },
  { "receive", N_("Receive with a code"), ferry_cli_receive },
};

static void
print_usage (void)
{
  g_printerr (_("Usage: ferry-cli [--rendezvous URL] COMMAND [OPTIONS…]\n\nCommands:\n"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_printerr ("  %-10s %s\n", commands[i].name, _(commands[i].summary));
  g_printerr (_("\n`ferry-cli COMMAND --help` tells more. The server can also be set with "
                "$FERRY_RENDEZVOUS.\n"));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(FerryRendezvousClient) client = NULL;
  g_autoptr(GError) error = NULL;
  const char *url = g_getenv ("FERRY_RENDEZVOUS");
  int first = 1;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (!ferry_init (&error))
    {
      g_printerr ("ferry-cli: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Global options stand before the command. */
  while (first < argc && argv[first][0] == '-')
    {
      if (g_str_equal (argv[first], "--rendezvous") && first + 1 < argc)
        {
          url = argv[first + 1];
          first += 2;
        }
      else if (g_str_has_prefix (argv[first], "--rendezvous="))
        {
          url = argv[first] + strlen ("--rendezvous=");
          first++;
        }
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("ferry-cli %s\n", ferry_version ());
          return EXIT_SUCCESS;
        }
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage ();
          return EXIT_SUCCESS;
        }
      else
        {
          g_printerr (_("ferry-cli: unknown option %s\n"), argv[first]);
          print_usage ();
          return 2;
        }
    }

  if (first >= argc)
    {
      print_usage ();
      return 2;
    }

  client = ferry_rendezvous_client_new (url != NULL && url[0] != '\0' ? url
                                                                     : DEFAULT_RENDEZVOUS_URL);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[first], commands[i].name))
      return commands[i].run (client, argc - first, argv + first);

  g_printerr (_("ferry-cli: no command “%s”\n"), argv[first]);
  print_usage ();
  return 2;
}
