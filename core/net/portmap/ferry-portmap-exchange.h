/* ferry-portmap-exchange.h
 *
 * The one request/retransmit/reply exchange with the router that NAT-PMP and PCP both use,
 * and the byte order both put on the wire.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Builds the request once the socket is connected and its local address is known
 * (PCP puts the client's own address into the request). */
typedef GBytes *(*FerryPortmapBuildFunc) (GInetAddress *local_address,
                                          gpointer      user_data);

/* Looks at one datagram that came from the server. Returns %FALSE to ignore it (not an
 * answer to this request); %TRUE when it ends the exchange, with *result set on success or
 * @error set when the server answered with a failure. */
typedef gboolean (*FerryPortmapParseFunc) (const guint8  *data,
                                           gsize          length,
                                           gpointer       user_data,
                                           gpointer      *result,
                                           GError       **error);

typedef struct
{
  FerryPortmapBuildFunc build;
  FerryPortmapParseFunc parse;
  GDestroyNotify        result_free;
} FerryPortmapExchangeFuncs;

void     ferry_portmap_exchange_async  (GInetSocketAddress              *server,
                                        const FerryPortmapExchangeFuncs *funcs,
                                        gpointer                         funcs_data,
                                        GDestroyNotify                   funcs_data_free,
                                        guint                            timeout_ms,
                                        GCancellable                    *cancellable,
                                        GAsyncReadyCallback              callback,
                                        gpointer                         user_data);
gpointer ferry_portmap_exchange_finish (GAsyncResult                    *result,
                                        GError                         **error);

/* Both protocols are big-endian on the wire and unaligned in the buffer. */
static inline guint16
ferry_portmap_read16 (const guint8 *data)
{
  return (guint16) ((data[0] << 8) | data[1]);
}

static inline guint32
ferry_portmap_read32 (const guint8 *data)
{
  return ((guint32) data[0] << 24) | ((guint32) data[1] << 16) | ((guint32) data[2] << 8) | data[3];
}

static inline void
ferry_portmap_write16 (guint8  *data,
                       guint16  value)
{
  data[0] = value >> 8;
  data[1] = value & 0xff;
}

static inline void
ferry_portmap_write32 (guint8  *data,
                       guint32  value)
{
  data[0] = value >> 24;
  data[1] = (value >> 16) & 0xff;
  data[2] = (value >> 8) & 0xff;
  data[3] = value & 0xff;
}

G_END_DECLS
