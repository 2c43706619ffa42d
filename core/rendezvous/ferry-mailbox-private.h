/* ferry-mailbox-private.h
 *
 * Shared by the mailbox and the rendezvous client that opens it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <libsoup/soup.h>

#include "ferry-mailbox.h"

G_BEGIN_DECLS

/* The most a client accepts in one mailbox message from the server. */
#define FERRY_MAILBOX_MAX_INCOMING (1024 * 1024)

FerryMailbox *ferry_mailbox_new (SoupWebsocketConnection *conn,
                                 const char              *token);

G_END_DECLS
