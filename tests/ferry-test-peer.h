/* ferry-test-peer.h
 *
 * The hostile-peer kit: one side of a real QUIC connection over two real
 * libnice agents that speaks Ferry's transfer protocol by hand, so a test
 * can send any offer, frame or file stream to a real FerryTransfer (the
 * "victim" connection) and read what it answers. Plus snapshots of a folder
 * tree, to assert that nothing outside the reserved folder was written and
 * no existing file changed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-quic.h"
#include "ferry-transfer.h"

G_BEGIN_DECLS

typedef struct _FerryTestPeer FerryTestPeer;

/* @hostile_sender: the kit plays the sender (the victim receives), or the
 * receiver (the victim sends and opens the control stream). */
FerryTestPeer       *ferry_test_peer_new              (gboolean        hostile_sender);
void                 ferry_test_peer_free             (FerryTestPeer  *peer);
FerryQuicConnection *ferry_test_peer_get_victim       (FerryTestPeer  *peer);
FerryQuicConnection *ferry_test_peer_get_quic         (FerryTestPeer  *peer);

/* Hostile sender: opens the control stream and writes the preamble. */
void                 ferry_test_peer_start            (FerryTestPeer  *peer);
void                 ferry_test_peer_send_frame       (FerryTestPeer  *peer,
                                                       guint8          kind,
                                                       const char     *payload,
                                                       gsize           len);
/* Hostile sender: ends its half of the control stream, as after 'V'. */
void                 ferry_test_peer_end_control      (FerryTestPeer  *peer);
/* Opens a file stream: header (@index, @offset), the bytes of @data (the
 * whole file, @len bytes) from @offset on, its digest, then FIN. */
void                 ferry_test_peer_send_file        (FerryTestPeer  *peer,
                                                       guint           index,
                                                       guint64         offset,
                                                       const void     *data,
                                                       gsize           len);
/* The same in steps: a file stream with its header, then bytes. */
gint64               ferry_test_peer_open_file        (FerryTestPeer  *peer,
                                                       guint           index,
                                                       guint64         offset);
void                 ferry_test_peer_write            (FerryTestPeer  *peer,
                                                       gint64          stream_id,
                                                       const void     *data,
                                                       gsize           len,
                                                       gboolean        fin);
/* Ends a file stream as a sender does: the digest of @data (the whole
 * file, @len bytes), then FIN. */
void                 ferry_test_peer_end_file         (FerryTestPeer  *peer,
                                                       gint64          stream_id,
                                                       const void     *data,
                                                       gsize           len);
/* Waits for the next frame from the victim; NULL when none came. */
GBytes              *ferry_test_peer_wait_frame       (FerryTestPeer  *peer,
                                                       guint8         *kind,
                                                       guint           timeout_ms);
/* Waits for the victim to close the connection; the reason it gave. */
char                *ferry_test_peer_wait_closed      (FerryTestPeer  *peer,
                                                       guint64        *code,
                                                       guint           timeout_ms);

char                *ferry_test_content_id            (const void     *data,
                                                       gsize           len);

/* Relative path → "kind:size:content id" of everything below @dir. */
GHashTable          *ferry_test_tree_snapshot         (const char     *dir);
/* Every entry of @before is still there unchanged, and every new entry is
 * below one of @allowed (new top-level names), or is one of them. */
void                 ferry_test_assert_tree_kept      (GHashTable     *before,
                                                       const char     *dir,
                                                       const char * const *allowed);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestPeer, ferry_test_peer_free)

G_END_DECLS
