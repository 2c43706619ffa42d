/* ferry-mailbox-private.h
 *
 * Shared by the mailbox and the rendezvous client that opens it.
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

/* The most a side keeps of what it sent, to send again after a lost
 * connection; past it, the mailbox cannot be resumed. */
#define FERRY_MAILBOX_MAX_RESEND (4 * 1024 * 1024)
/* How long a side keeps trying to join again after its connection dropped. */
#define FERRY_MAILBOX_RESUME_SECONDS 30

FerryMailbox *ferry_mailbox_new           (SoupWebsocketConnection *conn,
                                           const char              *token);
void          ferry_mailbox_set_resumable (FerryMailbox            *self,
                                           FerryRendezvousClient   *client,
                                           const char              *nameplate);

typedef struct
{
  SoupWebsocketConnection *conn;
  gint64                   server_received; /* -1: the server does not say */
} FerryMailboxResumed;

void ferry_mailbox_resumed_free (FerryMailboxResumed *resumed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryMailboxResumed, ferry_mailbox_resumed_free)

void                 ferry_rendezvous_client_resume_mailbox_async  (FerryRendezvousClient *self,
                                                                    const char            *nameplate,
                                                                    const char            *token,
                                                                    guint                  received,
                                                                    GCancellable          *cancellable,
                                                                    GAsyncReadyCallback    callback,
                                                                    gpointer               user_data);
FerryMailboxResumed *ferry_rendezvous_client_resume_mailbox_finish (FerryRendezvousClient *self,
                                                                    GAsyncResult          *result,
                                                                    GError               **error);

G_END_DECLS
