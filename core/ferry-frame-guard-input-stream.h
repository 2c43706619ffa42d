/* ferry-frame-guard-input-stream.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_FRAME_GUARD_INPUT_STREAM (ferry_frame_guard_input_stream_get_type ())

G_DECLARE_FINAL_TYPE (FerryFrameGuardInputStream, ferry_frame_guard_input_stream,
                      FERRY, FRAME_GUARD_INPUT_STREAM, GFilterInputStream)

GInputStream *ferry_frame_guard_input_stream_new (GInputStream *base_stream,
                                                  guint64       max_message_size);

G_END_DECLS
