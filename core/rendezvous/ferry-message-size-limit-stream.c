/* ferry-message-size-limit-stream.c
 *
 * The server's end of one WebSocket: the client's bytes come through a
 * FerryMessageSizeLimitInputStream, the server's go straight out, and closing
 * closes the connection underneath.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-message-size-limit"

#include "config.h"

#include "ferry-message-size-limit-input-stream.h"
#include "ferry-message-size-limit-stream.h"

struct _FerryMessageSizeLimitStream
{
  GIOStream     parent_instance;

  GIOStream    *base;
  GInputStream *input;
};

G_DEFINE_FINAL_TYPE (FerryMessageSizeLimitStream, ferry_message_size_limit_stream,
                     G_TYPE_IO_STREAM)

static GInputStream *
ferry_message_size_limit_stream_get_input_stream (GIOStream *stream)
{
  return FERRY_MESSAGE_SIZE_LIMIT_STREAM (stream)->input;
}

static GOutputStream *
ferry_message_size_limit_stream_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (FERRY_MESSAGE_SIZE_LIMIT_STREAM (stream)->base);
}

static gboolean
ferry_message_size_limit_stream_close (GIOStream     *stream,
                                       GCancellable  *cancellable,
                                       GError       **error)
{
  return g_io_stream_close (FERRY_MESSAGE_SIZE_LIMIT_STREAM (stream)->base, cancellable, error);
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
ferry_message_size_limit_stream_close_async (GIOStream           *stream,
                                             int                  io_priority,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, ferry_message_size_limit_stream_close_async);
  g_io_stream_close_async (FERRY_MESSAGE_SIZE_LIMIT_STREAM (stream)->base, io_priority,
                           cancellable, base_closed_cb, task);
}

static gboolean
ferry_message_size_limit_stream_close_finish (GIOStream     *stream,
                                              GAsyncResult  *result,
                                              GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
ferry_message_size_limit_stream_finalize (GObject *object)
{
  FerryMessageSizeLimitStream *self = FERRY_MESSAGE_SIZE_LIMIT_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);

  G_OBJECT_CLASS (ferry_message_size_limit_stream_parent_class)->finalize (object);
}

static void
ferry_message_size_limit_stream_class_init (FerryMessageSizeLimitStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = ferry_message_size_limit_stream_finalize;
  stream_class->get_input_stream = ferry_message_size_limit_stream_get_input_stream;
  stream_class->get_output_stream = ferry_message_size_limit_stream_get_output_stream;
  stream_class->close_fn = ferry_message_size_limit_stream_close;
  stream_class->close_async = ferry_message_size_limit_stream_close_async;
  stream_class->close_finish = ferry_message_size_limit_stream_close_finish;
}

static void
ferry_message_size_limit_stream_init (FerryMessageSizeLimitStream *self)
{
}

/**
 * ferry_message_size_limit_stream_new:
 * @base_stream: a connection taken over from libsoup after a WebSocket
 *   handshake
 * @max_message_size: the most data bytes one incoming message may have
 *
 * Returns: (transfer full): @base_stream with its input guarded
 */
GIOStream *
ferry_message_size_limit_stream_new (GIOStream *base_stream,
                                     guint64    max_message_size)
{
  FerryMessageSizeLimitStream *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base_stream), NULL);

  self = g_object_new (FERRY_TYPE_MESSAGE_SIZE_LIMIT_STREAM, NULL);
  self->base = g_object_ref (base_stream);
  self->input =
    ferry_message_size_limit_input_stream_new (g_io_stream_get_input_stream (base_stream),
                                               max_message_size);
  return G_IO_STREAM (self);
}
