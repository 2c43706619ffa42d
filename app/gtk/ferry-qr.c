/* ferry-qr.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-qr"

#include "config.h"

#include <string.h>

#include <qrencode.h>

#include "ferry-qr.h"

/* The quiet zone a scanner needs around the symbol, in modules. */
#define QUIET_ZONE 4

/**
 * ferry_qr_texture_new:
 * @text: what the symbol encodes, e.g. "ferry:7-orbit-tulip-canvas"
 * @module_size: pixels per module
 *
 * Draws @text as a QR code, dark on white whatever the style, since
 * scanners read that best.
 *
 * Returns: (transfer full) (nullable): the texture, or %NULL if @text
 *   cannot be encoded
 */
GdkTexture *
ferry_qr_texture_new (const char *text,
                      guint       module_size)
{
  g_autoptr(GBytes) bytes = NULL;
  QRcode *qr;
  guint8 *pixels;
  gsize side, stride;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (module_size > 0 && module_size <= 32, NULL);

  qr = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == NULL)
    return NULL;

  side = ((gsize) qr->width + 2 * QUIET_ZONE) * module_size;
  stride = side * 4;
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);

  for (int y = 0; y < qr->width; y++)
    for (int x = 0; x < qr->width; x++)
      {
        /* Bit 0 of each module byte is its colour. */
        if ((qr->data[y * qr->width + x] & 1) == 0)
          continue;

        for (guint dy = 0; dy < module_size; dy++)
          {
            gsize row = ((gsize) (y + QUIET_ZONE) * module_size + dy) * stride;
            guint8 *p = pixels + row + (gsize) (x + QUIET_ZONE) * module_size * 4;

            for (guint dx = 0; dx < module_size; dx++, p += 4)
              {
                p[0] = p[1] = p[2] = 0x00;
                p[3] = 0xff;
              }
          }
      }

  QRcode_free (qr);

  bytes = g_bytes_new_take (pixels, stride * side);
  return gdk_memory_texture_new ((int) side, (int) side, GDK_MEMORY_R8G8B8A8, bytes, stride);
}
