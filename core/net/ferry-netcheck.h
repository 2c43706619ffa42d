/* ferry-netcheck.h
 *
 * What this network lets Ferry do: the public address STUN sees, whether the NAT maps
 * endpoint-independently, which port-mapping protocols the router answers and whether TURN
 * is reachable over UDP and TCP.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ferry-rendezvous-client.h"
#include "ferry-stun.h"

G_BEGIN_DECLS

#define FERRY_NETCHECK_ERROR (ferry_netcheck_error_quark ())

/**
 * FerryNetcheckError:
 * @FERRY_NETCHECK_ERROR_BAD_RESPONSE: a STUN answer is malformed or not ours
 */
typedef enum
{
  FERRY_NETCHECK_ERROR_BAD_RESPONSE,
} FerryNetcheckError;

#define FERRY_NETCHECK_DEFAULT_TIMEOUT_MS 1500

#define FERRY_TYPE_NETCHECK (ferry_netcheck_get_type ())

G_DECLARE_FINAL_TYPE (FerryNetcheck, ferry_netcheck, FERRY, NETCHECK, GObject)

GQuark              ferry_netcheck_error_quark             (void);

void                ferry_netcheck_build_binding_request   (guint8             *request,
                                                            const guint8       *transaction_id);
GInetSocketAddress *ferry_netcheck_parse_binding_response  (const guint8       *data,
                                                            gsize               length,
                                                            const guint8       *transaction_id,
                                                            GError            **error);
const char         *ferry_netcheck_classify_mappings       (GPtrArray          *mapped);

FerryNetcheck      *ferry_netcheck_new                     (FerryRendezvousClient *client);
guint               ferry_netcheck_get_timeout             (FerryNetcheck      *self);
void                ferry_netcheck_set_timeout             (FerryNetcheck      *self,
                                                            guint               timeout_ms);
gboolean            ferry_netcheck_get_portmap             (FerryNetcheck      *self);
void                ferry_netcheck_set_portmap             (FerryNetcheck      *self,
                                                            gboolean            enabled);
void                ferry_netcheck_run_async               (FerryNetcheck      *self,
                                                            GCancellable       *cancellable,
                                                            GAsyncReadyCallback callback,
                                                            gpointer            user_data);
JsonObject         *ferry_netcheck_run_finish              (FerryNetcheck      *self,
                                                            GAsyncResult       *result,
                                                            GError            **error);
char               *ferry_netcheck_format_text             (JsonObject         *report);

G_END_DECLS
