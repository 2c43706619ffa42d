/* ferry-channel.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-mailbox.h"
#include "ferry-rendezvous-client.h"

G_BEGIN_DECLS

#define FERRY_TYPE_CHANNEL (ferry_channel_get_type ())

G_DECLARE_FINAL_TYPE (FerryChannel, ferry_channel, FERRY, CHANNEL, GObject)

/**
 * FerryChannelState:
 * @FERRY_CHANNEL_STATE_NEW: nothing happened yet
 * @FERRY_CHANNEL_STATE_WAITING: the mailbox is open and our PAKE message is
 *   in it; waiting for the other side
 * @FERRY_CHANNEL_STATE_CONNECTED: both sides proved they hold the same code;
 *   sealed messages flow
 * @FERRY_CHANNEL_STATE_FAILED: the channel ended with an error
 * @FERRY_CHANNEL_STATE_CLOSED: the channel was closed normally
 */
typedef enum
{
  FERRY_CHANNEL_STATE_NEW,
  FERRY_CHANNEL_STATE_WAITING,
  FERRY_CHANNEL_STATE_CONNECTED,
  FERRY_CHANNEL_STATE_FAILED,
  FERRY_CHANNEL_STATE_CLOSED,
} FerryChannelState;

FerryChannel      *ferry_channel_new                (FerryRendezvousClient  *client);
FerryChannelState  ferry_channel_get_state          (FerryChannel           *self);
const char        *ferry_channel_get_code           (FerryChannel           *self);
const char        *ferry_channel_get_ice_token      (FerryChannel           *self);
gboolean           ferry_channel_is_sender          (FerryChannel           *self);

void               ferry_channel_create_code_async  (FerryChannel           *self,
                                                     guint                   n_words,
                                                     GCancellable           *cancellable,
                                                     GAsyncReadyCallback     callback,
                                                     gpointer                user_data);
char              *ferry_channel_create_code_finish (FerryChannel           *self,
                                                     GAsyncResult           *result,
                                                     GError                **error);
void               ferry_channel_open_code_async    (FerryChannel           *self,
                                                     const char             *code,
                                                     GCancellable           *cancellable,
                                                     GAsyncReadyCallback     callback,
                                                     gpointer                user_data);
gboolean           ferry_channel_open_code_finish   (FerryChannel           *self,
                                                     GAsyncResult           *result,
                                                     GError                **error);
void               ferry_channel_adopt_mailbox      (FerryChannel           *self,
                                                     const char             *code,
                                                     FerryMailbox           *mailbox,
                                                     gboolean                is_sender);
void               ferry_channel_connect_async      (FerryChannel           *self,
                                                     GCancellable           *cancellable,
                                                     GAsyncReadyCallback     callback,
                                                     gpointer                user_data);
gboolean           ferry_channel_connect_finish     (FerryChannel           *self,
                                                     GAsyncResult           *result,
                                                     GError                **error);

void               ferry_channel_send               (FerryChannel           *self,
                                                     GBytes                 *message);
void               ferry_channel_receive_async      (FerryChannel           *self,
                                                     GCancellable           *cancellable,
                                                     GAsyncReadyCallback     callback,
                                                     gpointer                user_data);
GBytes            *ferry_channel_receive_finish     (FerryChannel           *self,
                                                     GAsyncResult           *result,
                                                     GError                **error);
void               ferry_channel_derive_key         (FerryChannel           *self,
                                                     const char             *purpose,
                                                     guint8                  key[32]);
void               ferry_channel_close              (FerryChannel           *self);

G_END_DECLS
