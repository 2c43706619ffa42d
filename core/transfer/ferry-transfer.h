/* ferry-transfer.h
 *
 * One transfer of an offer over an already secured FerryQuicConnection.
 *
 * Wire protocol, version 1 (FERRY_TRANSFER_PROTOCOL_VERSION)
 * ===========================================================
 *
 * Control stream. The sender opens the first bidirectional stream of the
 * connection. Its half starts with the 8-byte preamble "FERRYXFR" followed
 * by the protocol version as a big-endian u32. Then, in both directions,
 * frames: a big-endian u32 length L, one kind byte, L bytes of payload.
 * L is at most FERRY_TRANSFER_MAX_FRAME; a longer frame is a protocol error
 * (for an offer: a hostile offer).
 *
 *   'R' sender → receiver, optional, only before the offer: JSON
 *       {"proof": "hex"}: the sender claims to be the peer of an earlier
 *       attempt at this offer and proves it (ferry-resume-proof.c). Without
 *       it, or when the proof matches no earlier attempt, nothing resumes.
 *   'O' sender → receiver: the offer, as ferry_offer_to_json() writes it.
 *       The receiver validates it (ferry_offer_new_from_json() with its
 *       limits) and shows it; nothing is written before the person accepts.
 *   'A' receiver → sender: accept. JSON {"resume": [{"index": I, "blocks":
 *       ["hex", …]}, …], "skip": [I, …]}: for file I the receiver holds the
 *       verified leading blocks listed (BLAKE2b-256 of each FERRY_BLOCK_SIZE
 *       block); "skip" lists files it already holds complete. The sender
 *       confirms each block against its own hashes and starts the file at
 *       the first block it cannot confirm. "resume_secret" (hex, 32 bytes)
 *       is the secret the sender must prove to resume this transfer later.
 *   'D' receiver → sender: JSON {"index": I}: file I arrived and its whole
 *       BLAKE2b matched the content id; it is in place.
 *   'V' receiver → sender: empty; every file is verified. The sender then
 *       ends its half of the control stream, the receiver answers in kind.
 *
 * File streams. Each file goes on its own stream opened by the sender,
 * starting with a 12-byte header: the file's index in the offer (u32) and
 * the offset it starts at (u64, a multiple of FERRY_BLOCK_SIZE or the file's
 * size), both big-endian; then the bytes up to the offered size and FIN.
 * The receiver ends its half once the file is verified and in place.
 * At most FERRY_TRANSFER_FILES_IN_FLIGHT files are being sent at a time.
 *
 * Endings. Decline, cancel and every failure close the connection with an
 * application error code (FerryTransferCloseCode) and a reason a person can
 * read; the other side's run fails with the matching FerryTransferError. A
 * connection that ends without such a code (idle timeout, closed without a
 * reason) is FERRY_TRANSFER_ERROR_PEER_GONE. A successful transfer leaves
 * the connection open for its owner to close.
 *
 * Resuming. Only the peer of the earlier attempt resumes it: one that
 * proves, in an 'R' frame bound to this connection's certificates, the
 * resume secret the receiver issued in that attempt's accept. Any other
 * sender, whatever its names, gets new top-level folders and never
 * touches the earlier partial files. The receiver re-reads each partial file it means to resume
 * before accepting; when it is gone or no longer holds the recorded blocks,
 * that file starts over. The sender confirms every offered block hash
 * against its own, so a file changed since the last attempt (or a damaged
 * partial) is never completed from old bytes.
 *
 * For whoever sets up the connection: the QUIC idle timeout decides how
 * fast a vanished peer is noticed; set FERRY_TRANSFER_IDLE_TIMEOUT_MS with
 * ferry_quic_connection_set_idle_timeout() before the handshake. The
 * receiver returns flow-control credit only once bytes are on disk, so its
 * memory is bounded by the connection's receive window (64 MiB by default;
 * lower it with ferry_quic_connection_set_connection_window() on small
 * machines). The sender sets the per-stream send buffer to 4 MiB.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "ferry-offer.h"
#include "ferry-quic.h"
#include "ferry-store.h"

G_BEGIN_DECLS

#define FERRY_TRANSFER_PROTOCOL_VERSION 1
#define FERRY_TRANSFER_PREAMBLE         "FERRYXFR"
#define FERRY_TRANSFER_PREAMBLE_SIZE    12
#define FERRY_TRANSFER_FILE_HEADER_SIZE 12
#define FERRY_TRANSFER_MAX_FRAME        ((guint32) 64 * 1024 * 1024)
#define FERRY_TRANSFER_FILES_IN_FLIGHT  4
#define FERRY_TRANSFER_IDLE_TIMEOUT_MS  20000

#define FERRY_TRANSFER_FRAME_OFFER        'O'
#define FERRY_TRANSFER_FRAME_ACCEPT       'A'
#define FERRY_TRANSFER_FRAME_FILE_DONE    'D'
#define FERRY_TRANSFER_FRAME_ALL_VERIFIED 'V'
#define FERRY_TRANSFER_FRAME_RESUME       'R'

/**
 * FerryTransferCloseCode:
 *
 * The QUIC application error codes a transfer closes the connection with.
 */
typedef enum
{
  FERRY_TRANSFER_CLOSE_DECLINED = 0x4601,
  FERRY_TRANSFER_CLOSE_CANCELLED,
  FERRY_TRANSFER_CLOSE_NO_SPACE,
  FERRY_TRANSFER_CLOSE_HOSTILE_OFFER,
  FERRY_TRANSFER_CLOSE_VERIFY_FAILED,
  FERRY_TRANSFER_CLOSE_CHANGED_ON_SENDER,
  FERRY_TRANSFER_CLOSE_PROTOCOL,
  FERRY_TRANSFER_CLOSE_IO,
} FerryTransferCloseCode;

#define FERRY_TRANSFER_ERROR (ferry_transfer_error_quark ())

/**
 * FerryTransferError:
 * @FERRY_TRANSFER_ERROR_DECLINED: the receiver said no (the message has its reason)
 * @FERRY_TRANSFER_ERROR_CANCELLED_BY_PEER: the other side cancelled (with its reason)
 * @FERRY_TRANSFER_ERROR_PEER_GONE: the other side vanished or hung up without a word
 * @FERRY_TRANSFER_ERROR_HOSTILE_OFFER: the offer is unsafe or malformed
 * @FERRY_TRANSFER_ERROR_NO_SPACE: the receiving disk is full; partial files are kept
 * @FERRY_TRANSFER_ERROR_VERIFY_FAILED: a file did not arrive as offered
 * @FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER: a file changed while it was being sent
 * @FERRY_TRANSFER_ERROR_PROTOCOL: the other side broke the transfer protocol
 * @FERRY_TRANSFER_ERROR_IO: reading or writing a file failed
 */
typedef enum
{
  FERRY_TRANSFER_ERROR_DECLINED,
  FERRY_TRANSFER_ERROR_CANCELLED_BY_PEER,
  FERRY_TRANSFER_ERROR_PEER_GONE,
  FERRY_TRANSFER_ERROR_HOSTILE_OFFER,
  FERRY_TRANSFER_ERROR_NO_SPACE,
  FERRY_TRANSFER_ERROR_VERIFY_FAILED,
  FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER,
  FERRY_TRANSFER_ERROR_PROTOCOL,
  FERRY_TRANSFER_ERROR_IO,
} FerryTransferError;

typedef enum
{
  FERRY_TRANSFER_STATE_NEW,
  FERRY_TRANSFER_STATE_OFFERING,
  FERRY_TRANSFER_STATE_OFFER_RECEIVED,
  FERRY_TRANSFER_STATE_TRANSFERRING,
  FERRY_TRANSFER_STATE_VERIFYING,
  FERRY_TRANSFER_STATE_DONE,
  FERRY_TRANSFER_STATE_FAILED,
  FERRY_TRANSFER_STATE_CANCELLED,
  FERRY_TRANSFER_STATE_DECLINED,
} FerryTransferState;

GQuark ferry_transfer_error_quark (void);
GType  ferry_transfer_state_get_type (void) G_GNUC_CONST;
#define FERRY_TYPE_TRANSFER_STATE (ferry_transfer_state_get_type ())

#define FERRY_TYPE_TRANSFER (ferry_transfer_get_type ())

G_DECLARE_FINAL_TYPE (FerryTransfer, ferry_transfer, FERRY, TRANSFER, GObject)

FerryTransfer      *ferry_transfer_new_sender        (FerryQuicConnection  *quic,
                                                      FerryOffer           *offer,
                                                      FerryStore           *store);
FerryTransfer      *ferry_transfer_new_receiver      (FerryQuicConnection  *quic,
                                                      FerryStore           *store,
                                                      GFile                *default_target_folder);
void                ferry_transfer_set_offer_limits  (FerryTransfer          *self,
                                                      const FerryOfferLimits *limits);
void                ferry_transfer_run_async         (FerryTransfer        *self,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
gboolean            ferry_transfer_run_finish        (FerryTransfer        *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

FerryOffer         *ferry_transfer_get_offer         (FerryTransfer        *self);
void                ferry_transfer_accept            (FerryTransfer        *self,
                                                      GFile                *target_folder);
void                ferry_transfer_decline           (FerryTransfer        *self,
                                                      const char           *reason);
void                ferry_transfer_cancel            (FerryTransfer        *self,
                                                      const char           *reason);

FerryTransferState  ferry_transfer_get_state         (FerryTransfer        *self);
gboolean            ferry_transfer_get_is_sender     (FerryTransfer        *self);
guint64             ferry_transfer_get_bytes_total   (FerryTransfer        *self);
guint64             ferry_transfer_get_bytes_done    (FerryTransfer        *self);
guint64             ferry_transfer_get_bytes_resumed (FerryTransfer        *self);
guint64             ferry_transfer_get_bytes_sent_on_wire (FerryTransfer   *self);
guint64             ferry_transfer_get_rate          (FerryTransfer        *self);
gint64              ferry_transfer_get_eta_seconds   (FerryTransfer        *self);
const char         *ferry_transfer_get_current_file  (FerryTransfer        *self);
guint               ferry_transfer_get_n_files_done  (FerryTransfer        *self);
const GError       *ferry_transfer_get_error         (FerryTransfer        *self);
GFile              *ferry_transfer_get_target_folder (FerryTransfer        *self);
void                ferry_transfer_set_path          (FerryTransfer        *self,
                                                      const char           *kind,
                                                      const char           *relay);

G_END_DECLS
