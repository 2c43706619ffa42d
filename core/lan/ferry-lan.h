/* ferry-lan.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-mailbox.h"
#include "ferry-rendezvous-client.h"

G_BEGIN_DECLS

/* What a sender publishes, and the receiver browses for. */
#define FERRY_LAN_SERVICE_TYPE "_ferry._tcp"
/* How long the receiver looks on the local network before it says nobody
 * here has the code. mDNS answers within a second on a working network. */
#define FERRY_LAN_FIND_TIMEOUT_MS 3000
/* Nameplates a sender without a server picks at random: 7 digits, above
 * any a server hands out (FERRY_RENDEZVOUS_MAX_SERVER_NAMEPLATE). */
#define FERRY_LAN_MIN_NAMEPLATE 1000000
#define FERRY_LAN_MAX_NAMEPLATE 9999999

#define FERRY_LAN_ERROR (ferry_lan_error_quark ())

/**
 * FerryLanError:
 * @FERRY_LAN_ERROR_NOT_FOUND: nobody on this network published the nameplate
 *   within %FERRY_LAN_FIND_TIMEOUT_MS
 * @FERRY_LAN_ERROR_UNAVAILABLE: the system's avahi-daemon cannot be used
 * @FERRY_LAN_ERROR_NO_MULTICAST: no network interface that can multicast is up
 * @FERRY_LAN_ERROR_FAILED: publishing or serving failed otherwise
 */
typedef enum
{
  FERRY_LAN_ERROR_NOT_FOUND,
  FERRY_LAN_ERROR_UNAVAILABLE,
  FERRY_LAN_ERROR_NO_MULTICAST,
  FERRY_LAN_ERROR_FAILED,
} FerryLanError;

GQuark  ferry_lan_error_quark        (void);
char   *ferry_lan_random_nameplate   (void);

#define FERRY_TYPE_LAN_HOST (ferry_lan_host_get_type ())

G_DECLARE_FINAL_TYPE (FerryLanHost, ferry_lan_host, FERRY, LAN_HOST, GObject)

FerryLanHost          *ferry_lan_host_new          (const char           *nameplate);
void                   ferry_lan_host_start_async  (FerryLanHost         *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
FerryMailbox          *ferry_lan_host_start_finish (FerryLanHost         *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
FerryRendezvousClient *ferry_lan_host_get_client   (FerryLanHost         *self);
void                   ferry_lan_host_unpublish    (FerryLanHost         *self);

void   ferry_lan_find_async  (const char           *nameplate,
                              guint                 timeout_ms,
                              GCancellable         *cancellable,
                              GAsyncReadyCallback   callback,
                              gpointer              user_data);
char  *ferry_lan_find_finish (GAsyncResult         *result,
                              GError              **error);

G_END_DECLS
