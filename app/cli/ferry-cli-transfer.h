/* ferry-cli-transfer.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-rendezvous-client.h"

G_BEGIN_DECLS

int ferry_cli_send    (FerryRendezvousClient  *client,
                       int                     argc,
                       char                  **argv);
int ferry_cli_receive (FerryRendezvousClient  *client,
                       int                     argc,
                       char                  **argv);

G_END_DECLS
