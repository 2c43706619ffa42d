/* ferry-test-peer.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry-hasher.h"
#include "ferry-test-nice.h"
#include "ferry-test-peer.h"
#include "ferry-test-utils.h"

#define HANDSHAKE_TIMEOUT_MS 10000

struct _FerryTestPeer
{
  FerryQuicConnection *quic;       /* the kit's */
  FerryQuicConnection *victim;     /* the one a FerryTransfer uses */
  FerryTestNicePair   *nice;
  gboolean             hostile_sender;
  guint                n_handshakes;
  GError              *error;
  gint64               control_id;
  gboolean             preamble_seen;
  GByteArray          *control_in;
  gboolean             closed;
  guint64              close_code;
  char                *close_reason;
};

static void
handshake_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  FerryTestPeer *peer = user_data;

  if (!ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result,
                                               peer->error ? NULL : &peer->error))
    g_assert_nonnull (peer->error);
  peer->n_handshakes++;
}

static gboolean
handshakes_done (gpointer user_data)
{
  return ((FerryTestPeer *) user_data)->n_handshakes == 2;
}

/* What the victim sends on the control stream, collected as frames; file
 * streams from a victim sender are read and dropped.
 */
static void
on_stream_data (FerryQuicConnection *quic,
                gint64               stream_id,
                gconstpointer        data,
                guint64              len,
                gboolean             fin,
                FerryTestPeer       *peer)
{
  ferry_quic_connection_stream_consume (quic, stream_id, len);
  if (peer->control_id < 0 && !peer->hostile_sender)
    peer->control_id = stream_id;
  if (stream_id != peer->control_id)
    return;
  g_byte_array_append (peer->control_in, data, (guint) len);
  if (!peer->hostile_sender && !peer->preamble_seen
      && peer->control_in->len >= FERRY_TRANSFER_PREAMBLE_SIZE)
    {
      g_assert_cmpmem (peer->control_in->data, 8, FERRY_TRANSFER_PREAMBLE, 8);
      g_byte_array_remove_range (peer->control_in, 0, FERRY_TRANSFER_PREAMBLE_SIZE);
      peer->preamble_seen = TRUE;
    }
}

static void
on_closed (FerryQuicConnection *quic,
           GError              *error,
           FerryTestPeer       *peer)
{
  g_autofree char *reason = NULL;

  peer->closed = TRUE;
  if (ferry_quic_connection_get_peer_close (quic, &peer->close_code, &reason))
    peer->close_reason = g_steal_pointer (&reason);
}

FerryTestPeer *
ferry_test_peer_new (gboolean hostile_sender)
{
  FerryTestPeer *peer = g_new0 (FerryTestPeer, 1);
  g_autoptr(GError) error = NULL;
  FerryQuicConnection *client, *server;

  peer->hostile_sender = hostile_sender;
  peer->control_id = -1;
  peer->control_in = g_byte_array_new ();
  client = ferry_quic_connection_new (FERRY_QUIC_ROLE_CLIENT, &error);
  g_assert_no_error (error);
  server = ferry_quic_connection_new (FERRY_QUIC_ROLE_SERVER, &error);
  g_assert_no_error (error);
  /* The sender is the QUIC client, as in a real session. */
  peer->quic = hostile_sender ? client : server;
  peer->victim = hostile_sender ? server : client;

  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    client, ferry_quic_connection_get_local_fingerprint (server), &error));
  g_assert_true (ferry_quic_connection_set_peer_fingerprint (
    server, ferry_quic_connection_get_local_fingerprint (client), &error));
  g_assert_no_error (error);
  peer->nice = ferry_test_nice_pair_new (HANDSHAKE_TIMEOUT_MS);
  ferry_test_nice_pair_bind (peer->nice, client, server);
  g_signal_connect (peer->quic, "stream-data", G_CALLBACK (on_stream_data), peer);
  g_signal_connect (peer->quic, "closed", G_CALLBACK (on_closed), peer);

  ferry_quic_connection_handshake_async (server, NULL, handshake_cb, peer);
  ferry_quic_connection_handshake_async (client, NULL, handshake_cb, peer);
  g_assert_true (ferry_test_wait_until (handshakes_done, peer, HANDSHAKE_TIMEOUT_MS));
  g_assert_no_error (peer->error);
  return peer;
}

void
ferry_test_peer_free (FerryTestPeer *peer)
{
  g_signal_handlers_disconnect_by_data (peer->quic, peer);
  if (ferry_quic_connection_is_open (peer->quic))
    ferry_quic_connection_close (peer->quic, 0, NULL);
  if (ferry_quic_connection_is_open (peer->victim))
    ferry_quic_connection_close (peer->victim, 0, NULL);
  g_clear_pointer (&peer->nice, ferry_test_nice_pair_free);
  g_clear_object (&peer->quic);
  g_clear_object (&peer->victim);
  g_byte_array_unref (peer->control_in);
  g_clear_error (&peer->error);
  g_free (peer->close_reason);
  g_free (peer);
}

FerryQuicConnection *
ferry_test_peer_get_victim (FerryTestPeer *peer)
{
  return peer->victim;
}

FerryQuicConnection *
ferry_test_peer_get_quic (FerryTestPeer *peer)
{
  return peer->quic;
}

static void
write_bytes (FerryTestPeer *peer,
             gint64         stream_id,
             const void    *data,
             gsize          len,
             gboolean       fin)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GError) error = NULL;

  g_assert_true (ferry_quic_connection_stream_write (peer->quic, stream_id, bytes, fin, &error));
  g_assert_no_error (error);
}

void
ferry_test_peer_start (FerryTestPeer *peer)
{
  g_autoptr(GError) error = NULL;
  guint8 head[FERRY_TRANSFER_PREAMBLE_SIZE];
  guint32 version = GUINT32_TO_BE (FERRY_TRANSFER_PROTOCOL_VERSION);

  g_assert_true (peer->hostile_sender);
  peer->control_id = ferry_quic_connection_open_stream (peer->quic, &error);
  g_assert_no_error (error);
  memcpy (head, FERRY_TRANSFER_PREAMBLE, 8);
  memcpy (head + 8, &version, 4);
  write_bytes (peer, peer->control_id, head, sizeof head, FALSE);
}

void
ferry_test_peer_send_frame (FerryTestPeer *peer,
                            guint8         kind,
                            const char    *payload,
                            gsize          len)
{
  guint8 head[5];
  guint32 be_len = GUINT32_TO_BE ((guint32) len);

  g_assert_cmpint (peer->control_id, >=, 0);
  memcpy (head, &be_len, 4);
  head[4] = kind;
  write_bytes (peer, peer->control_id, head, sizeof head, FALSE);
  if (len > 0)
    write_bytes (peer, peer->control_id, payload, len, FALSE);
}

void
ferry_test_peer_end_control (FerryTestPeer *peer)
{
  write_bytes (peer, peer->control_id, NULL, 0, TRUE);
}

gint64
ferry_test_peer_open_file (FerryTestPeer *peer,
                           guint          index,
                           guint64        offset)
{
  g_autoptr(GError) error = NULL;
  guint8 head[FERRY_TRANSFER_FILE_HEADER_SIZE];
  guint32 be_index = GUINT32_TO_BE (index);
  guint64 be_offset = GUINT64_TO_BE (offset);
  gint64 id = ferry_quic_connection_open_stream (peer->quic, &error);

  g_assert_no_error (error);
  memcpy (head, &be_index, 4);
  memcpy (head + 4, &be_offset, 8);
  write_bytes (peer, id, head, sizeof head, FALSE);
  return id;
}

void
ferry_test_peer_write (FerryTestPeer *peer,
                       gint64         stream_id,
                       const void    *data,
                       gsize          len,
                       gboolean       fin)
{
  write_bytes (peer, stream_id, data, len, fin);
}

void
ferry_test_peer_send_file (FerryTestPeer *peer,
                           guint          index,
                           guint64        offset,
                           const void    *data,
                           gsize          len)
{
  gint64 stream = ferry_test_peer_open_file (peer, index, offset);

  g_assert_cmpuint (offset, <=, len);
  write_bytes (peer, stream, (const guint8 *) data + offset, len - offset, FALSE);
  ferry_test_peer_end_file (peer, stream, data, len);
}

void
ferry_test_peer_end_file (FerryTestPeer *peer,
                          gint64         stream_id,
                          const void    *data,
                          gsize          len)
{
  g_autofree char *hex = ferry_test_content_id (data, len);
  guint8 digest[FERRY_HASH_SIZE];

  g_assert_true (ferry_hash_from_hex (hex, digest));
  write_bytes (peer, stream_id, digest, sizeof digest, TRUE);
}

static gboolean
frame_or_closed (gpointer user_data)
{
  FerryTestPeer *peer = user_data;
  guint32 be_len;

  if (peer->closed)
    return TRUE;
  if (peer->control_in->len < 5)
    return FALSE;
  memcpy (&be_len, peer->control_in->data, 4);
  return peer->control_in->len >= 5 + GUINT32_FROM_BE (be_len);
}

GBytes *
ferry_test_peer_wait_frame (FerryTestPeer *peer,
                            guint8        *kind,
                            guint          timeout_ms)
{
  guint32 be_len;
  gsize len;
  GBytes *payload;

  g_assert_true (ferry_test_wait_until (frame_or_closed, peer, timeout_ms));
  if (peer->control_in->len < 5)
    return NULL;
  memcpy (&be_len, peer->control_in->data, 4);
  len = GUINT32_FROM_BE (be_len);
  if (peer->control_in->len < 5 + len)
    return NULL;
  *kind = peer->control_in->data[4];
  payload = g_bytes_new (peer->control_in->data + 5, len);
  g_byte_array_remove_range (peer->control_in, 0, (guint) (5 + len));
  return payload;
}

static gboolean
is_closed (gpointer user_data)
{
  return ((FerryTestPeer *) user_data)->closed;
}

char *
ferry_test_peer_wait_closed (FerryTestPeer *peer,
                             guint64       *code,
                             guint          timeout_ms)
{
  g_assert_true (ferry_test_wait_until (is_closed, peer, timeout_ms));
  *code = peer->close_code;
  return g_strdup (peer->close_reason);
}

char *
ferry_test_content_id (const void *data,
                       gsize       len)
{
  g_autoptr(FerryStreamHasher) hasher = ferry_stream_hasher_new ();
  g_autoptr(FerryFileDigest) digest = NULL;

  ferry_stream_hasher_update (hasher, data, len);
  digest = ferry_stream_hasher_finish (hasher);
  return ferry_file_digest_dup_content_id_hex (digest);
}

/* Tree snapshots */

static void
snapshot_into (GHashTable *table,
               const char *root,
               const char *relative)
{
  g_autofree char *path = g_build_filename (root, relative, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = *relative ? g_build_filename (relative, name, NULL)
                                         : g_strdup (name);
      g_autofree char *full = g_build_filename (root, child, NULL);
      GStatBuf st;

      g_assert_no_errno (g_lstat (full, &st));
      if (S_ISDIR (st.st_mode))
        {
          g_hash_table_insert (table, g_strdup (child), g_strdup ("folder"));
          snapshot_into (table, root, child);
        }
      else if (S_ISREG (st.st_mode))
        {
          g_autofree char *contents = NULL;
          gsize len;

          g_assert_true (g_file_get_contents (full, &contents, &len, NULL));
          g_hash_table_insert (table, g_strdup (child),
                               g_strdup_printf ("file:%o:%s", st.st_mode & 0777,
                                                ferry_test_content_id (contents, len)));
        }
      else
        g_hash_table_insert (table, g_strdup (child), g_strdup ("other"));
    }
}

GHashTable *
ferry_test_tree_snapshot (const char *dir)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  snapshot_into (table, dir, "");
  return table;
}

static gboolean
is_allowed (const char         *path,
            const char * const *allowed)
{
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    {
      gsize n = strlen (allowed[i]);

      if (strncmp (path, allowed[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
        return TRUE;
    }
  return FALSE;
}

void
ferry_test_assert_tree_kept (GHashTable         *before,
                             const char         *dir,
                             const char * const *allowed)
{
  g_autoptr(GHashTable) after = ferry_test_tree_snapshot (dir);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_test_message ("kept: %s", (char *) key);
      g_assert_cmpstr (g_hash_table_lookup (after, key), ==, value);
    }

  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (before, key))
      {
        g_test_message ("new: %s", (char *) key);
        g_assert_true (is_allowed (key, allowed));
      }
}
