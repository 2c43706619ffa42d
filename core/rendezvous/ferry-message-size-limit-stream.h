/* ferry-message-size-limit-stream.h
 *
 * One WebSocket connection of the rendezvous server with the message-size
 * limit on what the client sends.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_MESSAGE_SIZE_LIMIT_STREAM (ferry_message_size_limit_stream_get_type ())

G_DECLARE_FINAL_TYPE (FerryMessageSizeLimitStream, ferry_message_size_limit_stream,
                      FERRY, MESSAGE_SIZE_LIMIT_STREAM, GIOStream)

GIOStream *ferry_message_size_limit_stream_new (GIOStream *base_stream,
                                                guint64    max_message_size);

G_END_DECLS
