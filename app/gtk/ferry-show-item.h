/* ferry-show-item.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void ferry_show_item (GtkWindow *parent,
                      GFile     *item);

G_END_DECLS
