/* ferry-frame-guard-stream.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_FRAME_GUARD_STREAM (ferry_frame_guard_stream_get_type ())

G_DECLARE_FINAL_TYPE (FerryFrameGuardStream, ferry_frame_guard_stream, FERRY, FRAME_GUARD_STREAM,
                      GIOStream)

GIOStream *ferry_frame_guard_stream_new (GIOStream *base_stream,
                                         guint64    max_message_size);

G_END_DECLS
