/* ferry-cli.c
 *
 * ferry-cli [--rendezvous URL] COMMAND [OPTIONS]: Ferry from a terminal. This file only
 * reads the options every command shares and hands over to the command from the table.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-cli"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ferry-cli-commands.h"
#include "ferry-version.h"

static const FerryCliCommand commands[] = {
  { "send", N_("Send files and folders; prints a code to give the receiver"), ferry_cli_send },
  { "receive", N_("Receive with a code (argument, $FERRY_CODE or a prompt)"), ferry_cli_receive },
  { "netcheck", N_("Show what this network allows: public address, NAT kind, port mapping, TURN"),
    ferry_cli_netcheck },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: ferry-cli [--rendezvous URL] COMMAND [OPTIONS]\n"
           "\n"
           "Options:\n"
           "  --rendezvous URL   the rendezvous server (default: $FERRY_RENDEZVOUS)\n"
           "  -h, --help         show this help\n"
           "  --version          show the version\n"
           "\n"
           "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-18s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\nRun “ferry-cli COMMAND --help” for a command's options.\n");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *rendezvous = NULL;
  g_autofree char *command_name = NULL;
  FerryCliContext context = { 0 };
  int i;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  /* Stdout is for results (and --json); messages go to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          print_usage (stdout);
          return EXIT_SUCCESS;
        }
      else if (g_str_equal (argv[i], "--version"))
        {
          printf ("ferry-cli %s\n", ferry_version ());
          return EXIT_SUCCESS;
        }
      else if (g_str_equal (argv[i], "--rendezvous") && i + 1 < argc)
        {
          g_free (rendezvous);
          rendezvous = g_strdup (argv[++i]);
        }
      else if (g_str_has_prefix (argv[i], "--rendezvous="))
        {
          g_free (rendezvous);
          rendezvous = g_strdup (argv[i] + strlen ("--rendezvous="));
        }
      else
        {
          fprintf (stderr, "ferry-cli: unknown option “%s”\n\n", argv[i]);
          print_usage (stderr);
          return FERRY_CLI_EXIT_USAGE;
        }
    }

  if (i >= argc)
    {
      print_usage (stderr);
      return FERRY_CLI_EXIT_USAGE;
    }

  if (rendezvous == NULL && g_getenv ("FERRY_RENDEZVOUS") != NULL &&
      *g_getenv ("FERRY_RENDEZVOUS") != '\0')
    rendezvous = g_strdup (g_getenv ("FERRY_RENDEZVOUS"));
  context.rendezvous_url = rendezvous;

  if (!ferry_init (&error))
    {
      fprintf (stderr, "ferry-cli: %s\n", error->message);
      return FERRY_CLI_EXIT_FAILURE;
    }

  for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
    if (g_str_equal (argv[i], commands[c].name))
      {
        /* The command sees itself as argv[0], its options after it. */
        command_name = g_strdup_printf ("ferry-cli %s", commands[c].name);
        argv[i] = command_name;
        return commands[c].run (&context, argc - i, argv + i);
      }

  fprintf (stderr, "ferry-cli: unknown command “%s”\n\n", argv[i]);
  print_usage (stderr);
  return FERRY_CLI_EXIT_USAGE;
}
