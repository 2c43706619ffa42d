/* ferry-rendezvous-client.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ferry-mailbox.h"
#include "ferry-rendezvous-protocol.h"

G_BEGIN_DECLS

#define FERRY_TYPE_RENDEZVOUS_CLIENT (ferry_rendezvous_client_get_type ())

G_DECLARE_FINAL_TYPE (FerryRendezvousClient, ferry_rendezvous_client, FERRY, RENDEZVOUS_CLIENT,
                      GObject)

const char            *ferry_rendezvous_default_url (void);
FerryRendezvousClient *ferry_rendezvous_client_new (const char *base_url);
const char            *ferry_rendezvous_client_get_base_url (FerryRendezvousClient *self);
guint                  ferry_rendezvous_client_get_connect_timeout (FerryRendezvousClient *self);
void                   ferry_rendezvous_client_set_connect_timeout (FerryRendezvousClient *self,
                                                                    guint                  seconds);

void          ferry_rendezvous_client_allocate_async       (FerryRendezvousClient  *self,
                                                            GCancellable           *cancellable,
                                                            GAsyncReadyCallback     callback,
                                                            gpointer                user_data);
char         *ferry_rendezvous_client_allocate_finish      (FerryRendezvousClient  *self,
                                                            GAsyncResult           *result,
                                                            GError                **error);

void          ferry_rendezvous_client_open_mailbox_async   (FerryRendezvousClient  *self,
                                                            const char             *nameplate,
                                                            GCancellable           *cancellable,
                                                            GAsyncReadyCallback     callback,
                                                            gpointer                user_data);
FerryMailbox *ferry_rendezvous_client_open_mailbox_finish  (FerryRendezvousClient  *self,
                                                            GAsyncResult           *result,
                                                            GError                **error);

void          ferry_rendezvous_client_fetch_ice_async      (FerryRendezvousClient  *self,
                                                            const char             *token,
                                                            GCancellable           *cancellable,
                                                            GAsyncReadyCallback     callback,
                                                            gpointer                user_data);
JsonObject   *ferry_rendezvous_client_fetch_ice_finish     (FerryRendezvousClient  *self,
                                                            GAsyncResult           *result,
                                                            GError                **error);

G_END_DECLS
