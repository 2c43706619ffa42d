/* ferry-turn-probe.h
 *
 * Telling an easy NAT from a hard one with a single TURN server: the mapping our socket got
 * toward the server, and the mapping the same socket got toward our own relay address (the
 * same server, another port), as the relay saw it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void      ferry_turn_probe_async  (GInetSocketAddress   *server,
                                   const char           *username,
                                   const char           *password,
                                   guint                 timeout_ms,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data);
gboolean  ferry_turn_probe_finish (GAsyncResult         *result,
                                   GInetSocketAddress  **toward_server,
                                   GInetSocketAddress  **toward_relay,
                                   GError              **error);

G_END_DECLS
