/* ferry-rendezvous-server.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_RENDEZVOUS_SERVER (ferry_rendezvous_server_get_type ())

G_DECLARE_FINAL_TYPE (FerryRendezvousServer, ferry_rendezvous_server, FERRY, RENDEZVOUS_SERVER,
                      GObject)

/* Defaults of the limits; each is a property of the same name. */
#define FERRY_RENDEZVOUS_DEFAULT_MAILBOX_TTL            3600  /* seconds */
#define FERRY_RENDEZVOUS_DEFAULT_IDLE_TIMEOUT           60    /* seconds */
#define FERRY_RENDEZVOUS_DEFAULT_MAX_MESSAGE_SIZE       65536 /* bytes */
#define FERRY_RENDEZVOUS_DEFAULT_MAX_QUEUED_MESSAGES    64
#define FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES_PER_ADDR 16
#define FERRY_RENDEZVOUS_DEFAULT_ALLOCATIONS_PER_MINUTE 30
#define FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES          10000
/* A server's nameplates are at most this (max-mailboxes can be no more), so
 * those above, with 7 digits, are free for senders without a server (core/lan). */
#define FERRY_RENDEZVOUS_MAX_SERVER_NAMEPLATE           999999
/* coturn checks the credential again at every allocation refresh, so it must
 * outlive the longest relayed transfer: a day, like coturn's own examples;
 * a side gets no more than its mailbox has left to live. */
#define FERRY_RENDEZVOUS_DEFAULT_TURN_TTL               86400 /* seconds */
#define FERRY_RENDEZVOUS_DEFAULT_REQUEST_TIMEOUT        30    /* seconds */
#define FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOX_BYTES      (4 * 1024 * 1024)
/* Both sides send their PAKE message as soon as they join. */
#define FERRY_RENDEZVOUS_DEFAULT_FIRST_MESSAGE_TIMEOUT  10    /* seconds */
#define FERRY_RENDEZVOUS_DEFAULT_JOINS_PER_MINUTE       60
#define FERRY_RENDEZVOUS_DEFAULT_ICE_PER_MINUTE         30

FerryRendezvousServer *ferry_rendezvous_server_new     (void);
gboolean               ferry_rendezvous_server_listen  (FerryRendezvousServer *self,
                                                        GSocketAddress        *address,
                                                        GError               **error);
char                  *ferry_rendezvous_server_dup_url (FerryRendezvousServer *self);
gboolean               ferry_rendezvous_server_set_redis (FerryRendezvousServer  *self,
                                                          const char             *url,
                                                          GError                **error);
gboolean               ferry_rendezvous_server_is_ready  (FerryRendezvousServer  *self);
gboolean               ferry_rendezvous_server_reserve_nameplate (FerryRendezvousServer  *self,
                                                                  const char             *nameplate,
                                                                  GError                **error);

G_END_DECLS
