/* ferry-rendezvous-client-private.h
 *
 * Shared by the rendezvous client and the mailbox it opens.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "ferry-mailbox.h"
#include "ferry-rendezvous-client.h"

G_BEGIN_DECLS

/* The most a client accepts in one mailbox message from the server. */
#define FERRY_MAILBOX_MAX_INCOMING (1024 * 1024)

FerryMailbox *ferry_mailbox_new                     (SoupWebsocketConnection *conn);
GError       *ferry_rendezvous_error_for_status     (guint                    status);
GError       *ferry_rendezvous_error_for_close_code (gushort                  code);

G_END_DECLS
