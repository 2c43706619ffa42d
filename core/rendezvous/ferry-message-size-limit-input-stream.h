/* ferry-message-size-limit-input-stream.h
 *
 * The rendezvous server's limit on the size of one WebSocket message, on the
 * bytes a client sends.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_MESSAGE_SIZE_LIMIT_INPUT_STREAM \
  (ferry_message_size_limit_input_stream_get_type ())

G_DECLARE_FINAL_TYPE (FerryMessageSizeLimitInputStream, ferry_message_size_limit_input_stream,
                      FERRY, MESSAGE_SIZE_LIMIT_INPUT_STREAM, GFilterInputStream)

GInputStream *ferry_message_size_limit_input_stream_new (GInputStream *base_stream,
                                                         guint64       max_message_size);

G_END_DECLS
