/* ferry-session.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-path.h"
#include "ferry-rendezvous-client.h"
#include "ferry-store.h"
#include "ferry-transfer.h"

G_BEGIN_DECLS

/* The signalling message type that carries the QUIC certificate fingerprint. */
#define FERRY_SESSION_HELLO_TYPE "hello"
#define FERRY_SESSION_PROTOCOL_VERSION 1
/* A peer that vanishes (killed, unplugged) is reported after this much
 * silence; keep-alives go out at a third of it. */
#define FERRY_SESSION_IDLE_TIMEOUT_MS 15000

/**
 * FerrySessionState:
 * @FERRY_SESSION_STATE_NEW: not started
 * @FERRY_SESSION_STATE_PREPARING: getting a code (sender) or opening it (receiver)
 * @FERRY_SESSION_STATE_WAITING: the sender's code is ready; waiting for the receiver
 * @FERRY_SESSION_STATE_CONNECTING: both hold the same key; finding a path and
 *   setting up the encrypted connection
 * @FERRY_SESSION_STATE_OFFER_RECEIVED: the receiver sees the offer and must
 *   call ferry_session_accept() or ferry_session_decline()
 * @FERRY_SESSION_STATE_TRANSFERRING: bytes are moving (see #FerrySession:transfer)
 * @FERRY_SESSION_STATE_DONE: every file arrived verified
 * @FERRY_SESSION_STATE_FAILED: ended with #FerrySession:error
 */
typedef enum
{
  FERRY_SESSION_STATE_NEW,
  FERRY_SESSION_STATE_PREPARING,
  FERRY_SESSION_STATE_WAITING,
  FERRY_SESSION_STATE_CONNECTING,
  FERRY_SESSION_STATE_OFFER_RECEIVED,
  FERRY_SESSION_STATE_TRANSFERRING,
  FERRY_SESSION_STATE_DONE,
  FERRY_SESSION_STATE_FAILED,
} FerrySessionState;

#define FERRY_TYPE_SESSION (ferry_session_get_type ())

G_DECLARE_FINAL_TYPE (FerrySession, ferry_session, FERRY, SESSION, GObject)

FerrySession      *ferry_session_new_sender     (FerryRendezvousClient  *client,
                                                 FerryStore             *store,
                                                 GFile                 **files,
                                                 guint                   n_files);
FerrySession      *ferry_session_new_receiver   (FerryRendezvousClient  *client,
                                                 FerryStore             *store,
                                                 const char             *code,
                                                 GFile                  *download_folder);

void               ferry_session_set_text       (FerrySession           *self,
                                                 const char             *text);
void               ferry_session_set_word_count (FerrySession           *self,
                                                 guint                   n_words);
void               ferry_session_set_portmap    (FerrySession           *self,
                                                 guint                   protocols);
void               ferry_session_set_candidate_types (FerrySession      *self,
                                                      guint              types);

FerrySessionState  ferry_session_get_state      (FerrySession           *self);
gboolean           ferry_session_is_sender      (FerrySession           *self);
const char        *ferry_session_get_code       (FerrySession           *self);
FerryPath         *ferry_session_get_path       (FerrySession           *self);
FerryTransfer     *ferry_session_get_transfer   (FerrySession           *self);
FerryOffer        *ferry_session_get_offer      (FerrySession           *self);
const GError      *ferry_session_get_error      (FerrySession           *self);

void               ferry_session_run_async      (FerrySession           *self,
                                                 GCancellable           *cancellable,
                                                 GAsyncReadyCallback     callback,
                                                 gpointer                user_data);
gboolean           ferry_session_run_finish     (FerrySession           *self,
                                                 GAsyncResult           *result,
                                                 GError                **error);

void               ferry_session_accept         (FerrySession           *self,
                                                 GFile                  *target_folder);
void               ferry_session_decline        (FerrySession           *self,
                                                 const char             *reason);
void               ferry_session_cancel         (FerrySession           *self,
                                                 const char             *reason);

G_END_DECLS
