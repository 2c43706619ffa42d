/* ferry-cli-commands.h
 *
 * The subcommands of ferry-cli. Each lives in its own ferry-cli-NAME.c and is listed in
 * the table in ferry-cli.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  /* From --rendezvous (before or after the command) or $FERRY_RENDEZVOUS;
   * NULL when neither was given. Owned by the context. */
  char *rendezvous_url;
} FerryCliContext;

/* argv[0] is "ferry-cli COMMAND"; returns the exit status. */
typedef int (*FerryCliCommandFunc) (FerryCliContext *context,
                                    int              argc,
                                    char           **argv);

typedef struct
{
  const char          *name;
  const char          *summary;
  FerryCliCommandFunc  run;
} FerryCliCommand;

#define FERRY_CLI_EXIT_FAILURE 1
#define FERRY_CLI_EXIT_USAGE   2

/* The options every command takes, before or after its name: each command
 * adds this group to its own GOptionContext. */
GOptionGroup *ferry_cli_global_options_new (FerryCliContext *context);

int ferry_cli_netcheck (FerryCliContext  *context,
                        int               argc,
                        char            **argv);
int ferry_cli_send     (FerryCliContext  *context,
                        int               argc,
                        char            **argv);
int ferry_cli_receive  (FerryCliContext  *context,
                        int               argc,
                        char            **argv);

G_END_DECLS
