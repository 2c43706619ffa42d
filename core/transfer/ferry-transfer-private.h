/* ferry-transfer-private.h
 *
 * What the three files of FerryTransfer share: its fields, the half that
 * makes it a sender or a receiver, and the parts of ferry-transfer.c that
 * both halves use.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-receive-plan.h"
#include "ferry-transfer.h"

G_BEGIN_DECLS

/* What only one side does. ferry-transfer.c reaches the sender's or the
 * receiver's code only through these, so neither half is below the other
 * and both are above what they share. */
typedef struct
{
  gboolean is_sender;
  /* Starts a run that this side begins; NULL for the receiver, which waits. */
  void (*start)        (FerryTransfer *self);
  /* One whole frame from the control stream. */
  void (*handle_frame) (FerryTransfer *self,
                        guint8         kind,
                        const guint8  *payload,
                        gsize          len);
  /* Bytes on any other stream, a file's. */
  void (*stream_data)  (FerryTransfer *self,
                        gint64         stream_id,
                        const guint8  *data,
                        gsize          len,
                        gboolean       fin);
  /* The transfer ended: let go of whatever no worker thread holds. */
  void (*ended)        (FerryTransfer *self);
} FerryTransferHalf;

struct _FerryTransfer
{
  GObject                  parent_instance;

  GMainContext            *context;         /* the connection's */
  FerryQuicConnection     *quic;
  FerryStore              *store;
  FerryOffer              *offer;
  const FerryTransferHalf *half;
  gboolean                 is_sender;
  FerryOfferLimits         limits;
  GFile                   *default_folder;
  GFile                   *target_folder;

  FerryTransferState       state;
  GError                  *error;
  gboolean                 ended;
  gboolean                 draining;
  GTask                   *run_task;
  GCancellable            *run_cancellable;
  gulong                   run_cancelled_id;
  guint                    n_workers;
  gboolean                 completing;
  gboolean                 completed;

  /* Control stream */
  gint64                   control_id;
  GByteArray              *control_in;
  gboolean                 preamble_seen;
  gboolean                 control_fin_seen;
  gboolean                 sent_all_verified;

  /* Store */
  gint64                   store_transfer_id;
  char                    *path_kind;
  char                    *path_relay;
  FerryStoreTransfer      *store_transfer;

  /* Resume: the receiver's record of the sender's proof (a RESUME frame),
   * and the secret the sender holds (from its store) or learnt (from the
   * accept). See ferry-resume-proof.c. */
  gboolean                 resume_claimed;
  guint8                   resume_proof[FERRY_RESUME_PROOF_SIZE];
  GBytes                  *resume_secret;

  /* Progress */
  guint64                  bytes_total;
  guint64                  bytes_done;
  guint64                  bytes_resumed;
  guint64                  bytes_on_wire;
  guint64                  rate;
  gint64                   eta_seconds;
  char                    *current_file;
  guint                    n_files_done;
  guint                    n_files;
  guint                    progress_source;
  gint64                   last_tick_time;
  gint64                   moving_since;  /* real time, for the history */
  guint64                  last_tick_bytes;
  double                   smoothed_rate;
  guint64                  notified_done;
  guint64                  notified_wire;
  guint64                  notified_resumed;
  guint                    notified_files_done;
  char                    *notified_current;

  /* Sender */
  guint                    next_file;
  guint                    n_active;
  guint64                 *start_offsets;   /* per entry */
  guint8                  *skip;            /* per entry */
  GHashTable              *outgoing;        /* stream id → Outgoing */

  /* Receiver */
  FerryReceivePlan        *plan;            /* once accepted */
  guint8                  *started;         /* per entry */
  gint64                  *store_file_ids;  /* per entry */
  GHashTable              *incoming;        /* stream id → Incoming */
};

/* The receiver's answer to an offer, as ferry_transfer_parse_accept() reads it. */
typedef struct
{
  guint8  *skip;            /* per entry: the receiver has the whole file */
  guint64 *start_offsets;   /* per entry: the first byte the receiver lacks */
  guint64  bytes_resumed;   /* added to: bytes the receiver need not be sent */
  guint    n_skipped;       /* added to: files skipped */
  gboolean has_resume_secret;
  guint8   resume_secret[FERRY_RESUME_SECRET_SIZE];   /* what a resume will have to prove */
} FerryTransferAccept;

gboolean       ferry_transfer_read_frame_header       (const guint8            *data,
                                                       gsize                    len,
                                                       gsize                    max_offer_size,
                                                       guint8                  *kind,
                                                       gsize                   *frame_len);

/* ferry-transfer-sender.c */
gboolean       ferry_transfer_parse_accept            (FerryOffer              *offer,
                                                       const char              *json,
                                                       gsize                    len,
                                                       FerryTransferAccept     *accept);

FerryTransfer *ferry_transfer_new_half                (FerryQuicConnection     *quic,
                                                       FerryStore              *store,
                                                       const FerryTransferHalf *half);
void           ferry_transfer_set_state               (FerryTransfer           *self,
                                                       FerryTransferState       state);
void           ferry_transfer_set_current_file        (FerryTransfer           *self,
                                                       const char              *path);
void           ferry_transfer_start_progress          (FerryTransfer           *self);
void           ferry_transfer_control_send            (FerryTransfer           *self,
                                                       guint8                   kind,
                                                       const char              *payload,
                                                       gsize                    len);
void           ferry_transfer_control_end             (FerryTransfer           *self);
void           ferry_transfer_fail                    (FerryTransfer           *self,
                                                       FerryTransferError       code,
                                                       FerryTransferCloseCode   close_code,
                                                       const char              *format,
                                                       ...) G_GNUC_PRINTF (4, 5);
void           ferry_transfer_fail_from_receive_error (FerryTransfer           *self,
                                                       const GError            *error);
void           ferry_transfer_end                     (FerryTransfer           *self,
                                                       FerryTransferState       state,
                                                       GError                  *error,
                                                       guint64                  close_code);
void           ferry_transfer_maybe_complete          (FerryTransfer           *self);
void           ferry_transfer_record_path             (FerryTransfer           *self);

G_END_DECLS
