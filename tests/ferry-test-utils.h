/* ferry-test-utils.h
 *
 * Shared helpers for Ferry's tests: starting the real ferry-rendezvous on
 * 127.0.0.1 port 0, waiting on events and async results with a deadline, a
 * temporary folder per fixture, files of random bytes, and two channels
 * that met through a real rendezvous.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "ferry-channel.h"
#include "ferry-store.h"

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  char        *url;   /* "http://127.0.0.1:PORT" without a trailing slash */
  guint16      port;
  gpointer     redis; /* FerryTestRedis of its own, with $FERRY_TEST_BACKEND=redis */
} FerryTestRendezvous;

void                 ferry_test_init              (int                 *argc,
                                                   char              ***argv);
FerryTestRendezvous *ferry_test_rendezvous_start  (const char * const  *extra_args);
void                 ferry_test_rendezvous_free   (FerryTestRendezvous *server);
GSubprocess         *ferry_test_spawn             (const char * const  *argv,
                                                   GSubprocessFlags     flags);
char                *ferry_test_read_line         (GDataInputStream    *in,
                                                   guint                timeout_ms);

typedef gboolean (*FerryTestCondition) (gpointer user_data);

gboolean             ferry_test_wait_until        (FerryTestCondition   condition,
                                                   gpointer             user_data,
                                                   guint                timeout_ms);
gboolean             ferry_test_wait_for_flag     (const gboolean      *flag,
                                                   guint                timeout_ms);
gboolean             ferry_test_wait_for_pointer  (gpointer            *pointer,
                                                   guint                timeout_ms);

void                 ferry_test_async_result_cb   (GObject             *object,
                                                   GAsyncResult        *result,
                                                   gpointer             user_data);
GAsyncResult        *ferry_test_wait_async_result (GAsyncResult       **result,
                                                   guint                timeout_ms);
FerryStore          *ferry_test_open_store        (const char          *first_element,
                                                   ...) G_GNUC_NULL_TERMINATED;

char                *ferry_test_allocate          (FerryRendezvousClient  *client,
                                                   GCancellable           *cancellable,
                                                   GError                **error);
FerryMailbox        *ferry_test_open_mailbox      (FerryRendezvousClient  *client,
                                                   const char             *nameplate,
                                                   GCancellable           *cancellable,
                                                   GError                **error);
JsonObject          *ferry_test_fetch_ice         (FerryRendezvousClient  *client,
                                                   const char             *token,
                                                   GError                **error);
GBytes              *ferry_test_receive           (FerryMailbox           *mailbox,
                                                   GError                **error);
void                 ferry_test_send_text         (FerryMailbox           *mailbox,
                                                   const char             *text);

char                *ferry_test_wrong_code_for    (const char          *code);
char                *ferry_test_make_temp_dir     (const char          *name);
char                *ferry_test_nested_arrays     (guint                depth);
void                 ferry_test_clear_temp_dir    (char               **path);
void                 ferry_test_remove_tree       (const char          *path);
void                 ferry_test_write_random_file (const char          *path,
                                                   gsize                size,
                                                   guint32              seed);

typedef struct
{
  FerryTestRendezvous   *server;
  FerryRendezvousClient *client;
  FerryChannel          *sender;     /* made the code */
  FerryChannel          *receiver;   /* opened it */
} FerryTestChannelPair;

FerryTestChannelPair *ferry_test_channel_pair_new  (const char * const   *rendezvous_args);
void                  ferry_test_channel_pair_free (FerryTestChannelPair *pair);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestRendezvous, ferry_test_rendezvous_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestChannelPair, ferry_test_channel_pair_free)

G_END_DECLS
