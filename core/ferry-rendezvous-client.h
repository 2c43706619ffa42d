/* ferry-rendezvous-client.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ferry-mailbox.h"

G_BEGIN_DECLS

#define FERRY_RENDEZVOUS_ERROR (ferry_rendezvous_error_quark ())

/**
 * FerryRendezvousError:
 * @FERRY_RENDEZVOUS_ERROR_UNREACHABLE: the server could not be reached, or
 *   did not answer within the connect timeout
 * @FERRY_RENDEZVOUS_ERROR_PROTOCOL: the server answered something that is
 *   not the Ferry rendezvous protocol
 * @FERRY_RENDEZVOUS_ERROR_NOT_FOUND: no such code (nameplate)
 * @FERRY_RENDEZVOUS_ERROR_CROWDED: two other sides already use the code
 * @FERRY_RENDEZVOUS_ERROR_EXPIRED: the code lived its time
 * @FERRY_RENDEZVOUS_ERROR_BAD_CODE: a side used a wrong code; the code is burned
 * @FERRY_RENDEZVOUS_ERROR_TOO_LARGE: a message was larger than the server allows
 * @FERRY_RENDEZVOUS_ERROR_RATE_LIMITED: too many requests, or the server is
 *   full; try again later
 * @FERRY_RENDEZVOUS_ERROR_IDLE: the server heard nothing for too long
 * @FERRY_RENDEZVOUS_ERROR_CLOSED: the other side or the server closed the
 *   mailbox, or the connection was lost
 *
 * Cancellation is reported as %G_IO_ERROR_CANCELLED.
 */
typedef enum
{
  FERRY_RENDEZVOUS_ERROR_UNREACHABLE,
  FERRY_RENDEZVOUS_ERROR_PROTOCOL,
  FERRY_RENDEZVOUS_ERROR_NOT_FOUND,
  FERRY_RENDEZVOUS_ERROR_CROWDED,
  FERRY_RENDEZVOUS_ERROR_EXPIRED,
  FERRY_RENDEZVOUS_ERROR_BAD_CODE,
  FERRY_RENDEZVOUS_ERROR_TOO_LARGE,
  FERRY_RENDEZVOUS_ERROR_RATE_LIMITED,
  FERRY_RENDEZVOUS_ERROR_IDLE,
  FERRY_RENDEZVOUS_ERROR_CLOSED,
} FerryRendezvousError;

GQuark ferry_rendezvous_error_quark (void);

#define FERRY_TYPE_RENDEZVOUS_CLIENT (ferry_rendezvous_client_get_type ())

G_DECLARE_FINAL_TYPE (FerryRendezvousClient, ferry_rendezvous_client, FERRY, RENDEZVOUS_CLIENT,
                      GObject)

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
                                                            GCancellable           *cancellable,
                                                            GAsyncReadyCallback     callback,
                                                            gpointer                user_data);
JsonObject   *ferry_rendezvous_client_fetch_ice_finish     (FerryRendezvousClient  *self,
                                                            GAsyncResult           *result,
                                                            GError                **error);

G_END_DECLS
