/* ferry-cli.c
 *
 * ferry-cli [--rendezvous URL] COMMAND [OPTIONS]: Ferry from a terminal. This file only
 * reads the options every command shares and hands over to the command from the table;
 * the shared options are also accepted after the command, where people tend to put them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-cli"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib/gi18n.h>

#include "ferry-cli-commands.h"
#include "ferry-rendezvous-client.h"
#include "ferry-version.h"

static const FerryCliCommand commands[] = {
  { "send", N_("Send files, folders or text; prints a code to give the receiver"), ferry_cli_send },
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
           "  --rendezvous URL   the rendezvous server (default: $FERRY_RENDEZVOUS,\n"
           "                     else the one Ferry was built with: %s)\n"
           "  -h, --help         show this help\n"
           "  --version          show the version\n"
           "\n"
           "Commands:\n",
           FERRY_DEFAULT_RENDEZVOUS[0] != '\0' ? FERRY_DEFAULT_RENDEZVOUS : "none");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-18s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\nRun “ferry-cli COMMAND --help” for a command's options.\n");
}

static gboolean
set_rendezvous_cb (const char  *option_name,
                   const char  *value,
                   gpointer     user_data,
                   GError     **error)
{
  FerryCliContext *context = user_data;

  g_free (context->rendezvous_url);
  context->rendezvous_url = g_strdup (value);
  return TRUE;
}

/**
 * ferry_cli_global_options_new:
 *
 * Returns: (transfer full): the options every command shares, writing into
 *   @context; give it to one GOptionContext
 */
GOptionGroup *
ferry_cli_global_options_new (FerryCliContext *context)
{
  static const GOptionEntry entries[] = {
    { "rendezvous", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) set_rendezvous_cb,
      N_("The rendezvous server (default: $FERRY_RENDEZVOUS)"), N_("URL") },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("global", _("Options of every command:"),
                                            _("Show the options of every command"),
                                            context, NULL);

  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  return group;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) options = NULL;
  g_autofree char *command_name = NULL;
  FerryCliContext context = { 0 };
  gboolean help = FALSE, version = FALSE;
  const GOptionEntry entries[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, NULL, NULL },
    { NULL }
  };
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  /* Stdout is for results (and --json); messages go to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  /* The options before the command; parsing stops at the command's name
   * and leaves the rest to the command. */
  options = g_option_context_new (NULL);
  g_option_context_set_help_enabled (options, FALSE);
  g_option_context_set_strict_posix (options, TRUE);
  g_option_context_set_main_group (options, ferry_cli_global_options_new (&context));
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      fprintf (stderr, "ferry-cli: %s\n\n", error->message);
      print_usage (stderr);
      g_free (context.rendezvous_url);
      return FERRY_CLI_EXIT_USAGE;
    }

  if (help || version)
    {
      if (help)
        print_usage (stdout);
      else
        printf ("ferry-cli %s\n", ferry_version ());
      g_free (context.rendezvous_url);
      return EXIT_SUCCESS;
    }

  if (argc < 2)
    {
      print_usage (stderr);
      g_free (context.rendezvous_url);
      return FERRY_CLI_EXIT_USAGE;
    }

  if (context.rendezvous_url == NULL)
    context.rendezvous_url = g_strdup (ferry_rendezvous_default_url ());

  if (!ferry_init (&error))
    {
      fprintf (stderr, "ferry-cli: %s\n", error->message);
      g_free (context.rendezvous_url);
      return FERRY_CLI_EXIT_FAILURE;
    }

  status = -1;
  for (guint c = 0; c < G_N_ELEMENTS (commands) && status < 0; c++)
    if (g_str_equal (argv[1], commands[c].name))
      {
        /* The command sees itself as argv[0], its options after it. */
        command_name = g_strdup_printf ("ferry-cli %s", commands[c].name);
        argv[1] = command_name;
        status = commands[c].run (&context, argc - 1, argv + 1);
      }

  if (status < 0)
    {
      fprintf (stderr, "ferry-cli: unknown command “%s”\n\n", argv[1]);
      print_usage (stderr);
      status = FERRY_CLI_EXIT_USAGE;
    }

  g_free (context.rendezvous_url);
  return status;
}
