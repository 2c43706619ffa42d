/* ferry-mailbox.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_MAILBOX (ferry_mailbox_get_type ())

G_DECLARE_FINAL_TYPE (FerryMailbox, ferry_mailbox, FERRY, MAILBOX, GObject)

void      ferry_mailbox_send           (FerryMailbox         *self,
                                        GBytes               *message);
void      ferry_mailbox_receive_async  (FerryMailbox         *self,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
GBytes   *ferry_mailbox_receive_finish (FerryMailbox         *self,
                                        GAsyncResult         *result,
                                        GError              **error);
void      ferry_mailbox_close          (FerryMailbox         *self,
                                        gushort               code);
gboolean  ferry_mailbox_is_closed      (FerryMailbox         *self);
const char *ferry_mailbox_get_token    (FerryMailbox         *self);

G_END_DECLS
