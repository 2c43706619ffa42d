/* ferry-message-size-limit-input-stream.c
 *
 * Watches the WebSocket frames a client sends and fails the read as soon
 * as one message, summed over its fragments, grows past the limit.
 * libsoup 3.2 caps single frames (max-incoming-payload-size) but gathers
 * the fragments of a message without any cap, so without this a client
 * could fill the server's memory with many small continuation frames.
 * Bytes pass through unchanged; only frame headers are read.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-message-size-limit"

#include "config.h"

#include "ferry-message-size-limit-input-stream.h"

#define MAX_HEADER 14  /* 2 + 8 bytes of length + 4 bytes of mask */

struct _FerryMessageSizeLimitInputStream
{
  GFilterInputStream  parent_instance;

  guint64             max_message_size;
  guint8              header[MAX_HEADER];
  gsize               header_len;
  guint64             payload_left;   /* bytes of the current frame still to pass */
  guint64             message_size;   /* data bytes of the current message so far */
  gboolean            failed;
};

static void pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FerryMessageSizeLimitInputStream,
                               ferry_message_size_limit_input_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      pollable_iface_init))

static gsize
header_size (const guint8 *header)
{
  guint8 length = header[1] & 0x7f;
  gsize size = 2;

  if (length == 126)
    size += 2;
  else if (length == 127)
    size += 8;
  if (header[1] & 0x80)
    size += 4;
  return size;
}

static guint64
header_payload_length (const guint8 *header)
{
  guint8 length = header[1] & 0x7f;
  guint64 value = 0;

  if (length < 126)
    return length;
  if (length == 126)
    return ((guint64) header[2] << 8) | header[3];
  for (int i = 2; i < 10; i++)
    value = (value << 8) | header[i];
  return value;
}

/* Follows the frames in @data. Returns how many of its bytes may pass:
 * all of them, or those before the header of a frame that breaks the
 * limit (then the stream has failed). */
static gsize
scan (FerryMessageSizeLimitInputStream *self,
      const guint8                     *data,
      gsize                             size)
{
  gsize at = 0;

  while (at < size)
    {
      gsize frame_start;

      if (self->payload_left > 0)
        {
          guint64 skip = MIN (self->payload_left, (guint64) (size - at));

          self->payload_left -= skip;
          at += skip;
          continue;
        }

      /* A header, possibly split over reads. */
      frame_start = at;
      while (at < size && (self->header_len < 2 ||
                           self->header_len < header_size (self->header)))
        self->header[self->header_len++] = data[at++];
      if (self->header_len < 2 || self->header_len < header_size (self->header))
        break;

      {
        guint8 opcode = self->header[0] & 0x0f;
        guint64 length = header_payload_length (self->header);

        self->header_len = 0;
        self->payload_left = length;

        /* Control frames are small by the RFC and libsoup checks that. */
        if (opcode & 0x08)
          continue;

        if (opcode != 0)
          self->message_size = 0;
        if (length > self->max_message_size - self->message_size)
          {
            self->failed = TRUE;
            return frame_start;
          }
        self->message_size += length;
      }
    }

  return size;
}

static gssize
guard (FerryMessageSizeLimitInputStream  *self,
       void                              *buffer,
       gssize                             count,
       GError                           **error)
{
  gsize allowed;

  if (count <= 0)
    return count;

  allowed = scan (self, buffer, count);
  if (allowed > 0 || !self->failed)
    return allowed;

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "A WebSocket message is larger than allowed");
  return -1;
}

static gboolean
check_failed (FerryMessageSizeLimitInputStream  *self,
              GError                           **error)
{
  if (!self->failed)
    return FALSE;

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "A WebSocket message is larger than allowed");
  return TRUE;
}

static GInputStream *
base_stream (gpointer self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

static gssize
ferry_message_size_limit_input_stream_read (GInputStream  *stream,
                                            void          *buffer,
                                            gsize          count,
                                            GCancellable  *cancellable,
                                            GError       **error)
{
  FerryMessageSizeLimitInputStream *self = FERRY_MESSAGE_SIZE_LIMIT_INPUT_STREAM (stream);

  if (check_failed (self, error))
    return -1;

  return guard (self, buffer,
                g_input_stream_read (base_stream (self), buffer, count, cancellable, error),
                error);
}

static gboolean
ferry_message_size_limit_input_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_stream (stream);

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
ferry_message_size_limit_input_stream_is_readable (GPollableInputStream *stream)
{
  return FERRY_MESSAGE_SIZE_LIMIT_INPUT_STREAM (stream)->failed ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_stream (stream)));
}

static GSource *
ferry_message_size_limit_input_stream_create_source (GPollableInputStream *stream,
                                                     GCancellable         *cancellable)
{
  GPollableInputStream *base = G_POLLABLE_INPUT_STREAM (base_stream (stream));
  g_autoptr(GSource) base_source = g_pollable_input_stream_create_source (base, cancellable);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
ferry_message_size_limit_input_stream_read_nonblocking (GPollableInputStream  *stream,
                                                        void                  *buffer,
                                                        gsize                  count,
                                                        GError               **error)
{
  FerryMessageSizeLimitInputStream *self = FERRY_MESSAGE_SIZE_LIMIT_INPUT_STREAM (stream);
  GPollableInputStream *base = G_POLLABLE_INPUT_STREAM (base_stream (stream));

  if (check_failed (self, error))
    return -1;

  return guard (self, buffer,
                g_pollable_input_stream_read_nonblocking (base, buffer, count, NULL, error),
                error);
}

static void
pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = ferry_message_size_limit_input_stream_can_poll;
  iface->is_readable = ferry_message_size_limit_input_stream_is_readable;
  iface->create_source = ferry_message_size_limit_input_stream_create_source;
  iface->read_nonblocking = ferry_message_size_limit_input_stream_read_nonblocking;
}

static void
ferry_message_size_limit_input_stream_class_init (FerryMessageSizeLimitInputStreamClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  input_class->read_fn = ferry_message_size_limit_input_stream_read;
}

static void
ferry_message_size_limit_input_stream_init (FerryMessageSizeLimitInputStream *self)
{
}

/**
 * ferry_message_size_limit_input_stream_new:
 * @base_stream: the client's side of a WebSocket, just after the handshake
 * @max_message_size: the most data bytes one message may have
 *
 * Returns: (transfer full): a stream that reads @base_stream and fails
 *   with %G_IO_ERROR_MESSAGE_TOO_LARGE at the first frame that makes a
 *   message too large; the bytes before that frame are still delivered
 */
GInputStream *
ferry_message_size_limit_input_stream_new (GInputStream *base_stream,
                                           guint64       max_message_size)
{
  FerryMessageSizeLimitInputStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base_stream), NULL);

  self = g_object_new (FERRY_TYPE_MESSAGE_SIZE_LIMIT_INPUT_STREAM,
                       "base-stream", base_stream,
                       "close-base-stream", FALSE,
                       NULL);
  self->max_message_size = max_message_size;
  return G_INPUT_STREAM (self);
}
