/* ferry-network-watch.h
 *
 * Tells when this machine's network changes: links, addresses or routes
 * appear or go (rtnetlink), and whether it has an address ICE can use.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_NETWORK_WATCH (ferry_network_watch_get_type ())

G_DECLARE_FINAL_TYPE (FerryNetworkWatch, ferry_network_watch, FERRY, NETWORK_WATCH, GObject)

FerryNetworkWatch *ferry_network_watch_new                  (void);
gboolean           ferry_network_has_usable_address        (void);

G_END_DECLS
