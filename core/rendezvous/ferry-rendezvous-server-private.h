/* ferry-rendezvous-server-private.h
 *
 * The server's readers of what a client sends in a request, outside the server so that the
 * fuzzer (fuzz/fuzz-rendezvous-http.c) drives them alone.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-rendezvous-server.h"

G_BEGIN_DECLS

gboolean ferry_rendezvous_server_parse_nameplate     (const char *text,
                                                      guint      *number);
gboolean ferry_rendezvous_server_check_allocate_body (const char *data,
                                                      gsize       len);

G_END_DECLS
