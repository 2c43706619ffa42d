/* ferry-signalling.h
 *
 * Several layers (ICE, QUIC, the transfer) talk to the peer over one FerryChannel; this
 * router owns the channel's receive loop and hands each message to the layer that asked for
 * its type.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ferry-channel.h"

G_BEGIN_DECLS

/* The longest message type we route: types are short protocol words ("ice", "hello"). */
#define FERRY_SIGNALLING_TYPE_MAX_LENGTH 64

#define FERRY_TYPE_SIGNALLING (ferry_signalling_get_type ())

G_DECLARE_FINAL_TYPE (FerrySignalling, ferry_signalling, FERRY, SIGNALLING, GObject)

FerrySignalling *ferry_signalling_new          (FerryChannel     *channel);
FerryChannel    *ferry_signalling_get_channel  (FerrySignalling  *self);
void             ferry_signalling_start        (FerrySignalling  *self);
gboolean         ferry_signalling_send         (FerrySignalling  *self,
                                                const char       *type,
                                                JsonObject       *body);
guint            ferry_signalling_get_n_junk   (FerrySignalling  *self);
guint            ferry_signalling_get_n_unknown (FerrySignalling *self);
gboolean         ferry_signalling_get_closed   (FerrySignalling  *self);
void             ferry_signalling_close        (FerrySignalling  *self);

gboolean         ferry_signalling_parse_message (const char      *data,
                                                 gsize            len,
                                                 JsonObject     **object,
                                                 GError         **error);

G_END_DECLS
