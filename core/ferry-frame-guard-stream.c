/* ferry-frame-guard-stream.c
 *
 * The server's end of one WebSocket: the client's bytes come through a
 * FerryFrameGuardInputStream, the server's go straight out, and closing
 * closes the connection underneath.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-frame-guard"

#include "config.h"

#include "ferry-frame-guard-input-stream.h"
#include "ferry-frame-guard-stream.h"

struct _FerryFrameGuardStream
{
  GIOStream     parent_instance;

  GIOStream    *base;
  GInputStream *input;
};

G_DEFINE_FINAL_TYPE (FerryFrameGuardStream, ferry_frame_guard_stream, G_TYPE_IO_STREAM)

static GInputStream *
ferry_frame_guard_stream_get_input_stream (GIOStream *stream)
{
  return FERRY_FRAME_GUARD_STREAM (stream)->input;
}

static GOutputStream *
ferry_frame_guard_stream_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (FERRY_FRAME_GUARD_STREAM (stream)->base);
}

static gboolean
ferry_frame_guard_stream_close (GIOStream     *stream,
                                GCancellable  *cancellable,
                                GError       **error)
{
  return g_io_stream_close (FERRY_FRAME_GUARD_STREAM (stream)->base, cancellable, error);
}

static void
base_closed_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (object), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
ferry_frame_guard_stream_close_async (GIOStream           *stream,
                                      int                  io_priority,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, ferry_frame_guard_stream_close_async);
  g_io_stream_close_async (FERRY_FRAME_GUARD_STREAM (stream)->base, io_priority, cancellable,
                           base_closed_cb, task);
}

static gboolean
ferry_frame_guard_stream_close_finish (GIOStream     *stream,
                                       GAsyncResult  *result,
                                       GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
ferry_frame_guard_stream_finalize (GObject *object)
{
  FerryFrameGuardStream *self = FERRY_FRAME_GUARD_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);

  G_OBJECT_CLASS (ferry_frame_guard_stream_parent_class)->finalize (object);
}

static void
ferry_frame_guard_stream_class_init (FerryFrameGuardStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = ferry_frame_guard_stream_finalize;
  stream_class->get_input_stream = ferry_frame_guard_stream_get_input_stream;
  stream_class->get_output_stream = ferry_frame_guard_stream_get_output_stream;
  stream_class->close_fn = ferry_frame_guard_stream_close;
  stream_class->close_async = ferry_frame_guard_stream_close_async;
  stream_class->close_finish = ferry_frame_guard_stream_close_finish;
}

static void
ferry_frame_guard_stream_init (FerryFrameGuardStream *self)
{
}

/**
 * ferry_frame_guard_stream_new:
 * @base_stream: a connection taken over from libsoup after a WebSocket
 *   handshake
 * @max_message_size: the most data bytes one incoming message may have
 *
 * Returns: (transfer full): @base_stream with its input guarded
 */
GIOStream *
ferry_frame_guard_stream_new (GIOStream *base_stream,
                              guint64    max_message_size)
{
  FerryFrameGuardStream *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base_stream), NULL);

  self = g_object_new (FERRY_TYPE_FRAME_GUARD_STREAM, NULL);
  self->base = g_object_ref (base_stream);
  self->input = ferry_frame_guard_input_stream_new (g_io_stream_get_input_stream (base_stream),
                                                    max_message_size);
  return G_IO_STREAM (self);
}
