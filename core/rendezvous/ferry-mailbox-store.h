/* ferry-mailbox-store.h
 *
 * Where the rendezvous server keeps nameplates, mailbox queues, joins and
 * per-address limits: in this process (FerryMemoryStore) or in Redis, shared
 * by several instances (FerryRedisStore). The server's logic is written once
 * against this interface.
 *
 * Every operation answers through its callback from the main loop, never
 * from inside the call, with a status word and its values as strings:
 *
 *   allocate  → ok N GEN | err rate-limited | err too-many-mailboxes | err server-full
 *   join      → ok SIDE GEN TOKEN EPOCH OTHER_LEFT MS_LEFT SENT_BY_OTHER
 *               | err rate-limited | err crowded | err not-found
 *   append    → ok | gone | stale | err bytes | err queue
 *   leave     → left | burn | free | gone | stale
 *   ice       → ok MS_LEFT (0 without a token) | err forbidden | err rate-limited
 *
 * or with an error when the store could not be asked at all. The "event"
 * signal tells every server on the store what happened to a mailbox.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_TYPE_MAILBOX_STORE (ferry_mailbox_store_get_type ())

G_DECLARE_INTERFACE (FerryMailboxStore, ferry_mailbox_store, FERRY, MAILBOX_STORE, GObject)

typedef void (*FerryMailboxStoreFunc) (FerryMailboxStore *store,
                                       GStrv              reply,
                                       const GError      *error,
                                       gpointer           user_data);

/* The messages queued for a side (each: one type byte, then the payload). */
typedef void (*FerryMailboxStoreListFunc) (FerryMailboxStore *store,
                                           GPtrArray         *items,
                                           const GError      *error,
                                           gpointer           user_data);

/* The limits a store applies, all from the server's properties. */
typedef struct
{
  guint mailbox_ttl;           /* seconds */
  guint max_mailboxes_per_address;
  guint allocations_per_minute;
  guint max_mailboxes;
  guint joins_per_minute;
  guint ice_per_minute;
  guint max_queued_messages;
  guint max_mailbox_bytes;
} FerryMailboxLimits;

struct _FerryMailboxStoreInterface
{
  GTypeInterface parent_iface;

  const char *(*get_backend)  (FerryMailboxStore *self);
  gboolean    (*is_connected) (FerryMailboxStore *self);
  gboolean    (*is_shared)    (FerryMailboxStore *self);
  gboolean    (*reserve)      (FerryMailboxStore *self,
                               guint              number,
                               guint              ttl,
                               GError           **error);
  void        (*allocate)     (FerryMailboxStore        *self,
                               const char               *owner,
                               const FerryMailboxLimits *limits,
                               FerryMailboxStoreFunc     func,
                               gpointer                  user_data);
  void        (*join)         (FerryMailboxStore        *self,
                               guint                     number,
                               const char               *address,
                               const char               *token,
                               const char               *resume_token,
                               const FerryMailboxLimits *limits,
                               FerryMailboxStoreFunc     func,
                               gpointer                  user_data);
  void        (*append)       (FerryMailboxStore        *self,
                               guint                     number,
                               const char               *generation,
                               guint                     from,
                               const char               *epoch,
                               guint8                    type,
                               GBytes                   *message,
                               const FerryMailboxLimits *limits,
                               FerryMailboxStoreFunc     func,
                               gpointer                  user_data);
  void        (*leave)        (FerryMailboxStore        *self,
                               guint                     number,
                               const char               *generation,
                               guint                     side,
                               const char               *epoch,
                               gboolean                  burn,
                               FerryMailboxStoreFunc     func,
                               gpointer                  user_data);
  void        (*fetch)        (FerryMailboxStore        *self,
                               guint                     number,
                               guint                     to,
                               guint                     start,
                               FerryMailboxStoreListFunc func,
                               gpointer                  user_data);
  void        (*ice)          (FerryMailboxStore        *self,
                               const char               *token,
                               const char               *address,
                               const FerryMailboxLimits *limits,
                               FerryMailboxStoreFunc     func,
                               gpointer                  user_data);
};

const char *ferry_mailbox_store_get_backend  (FerryMailboxStore *self);
gboolean    ferry_mailbox_store_is_connected (FerryMailboxStore *self);
gboolean    ferry_mailbox_store_is_shared    (FerryMailboxStore *self);
gboolean    ferry_mailbox_store_reserve      (FerryMailboxStore *self,
                                              guint              number,
                                              guint              ttl,
                                              GError           **error);
void        ferry_mailbox_store_allocate     (FerryMailboxStore        *self,
                                              const char               *owner,
                                              const FerryMailboxLimits *limits,
                                              FerryMailboxStoreFunc     func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_join         (FerryMailboxStore        *self,
                                              guint                     number,
                                              const char               *address,
                                              const char               *token,
                                              const char               *resume_token,
                                              const FerryMailboxLimits *limits,
                                              FerryMailboxStoreFunc     func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_append       (FerryMailboxStore        *self,
                                              guint                     number,
                                              const char               *generation,
                                              guint                     from,
                                              const char               *epoch,
                                              guint8                    type,
                                              GBytes                   *message,
                                              const FerryMailboxLimits *limits,
                                              FerryMailboxStoreFunc     func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_leave        (FerryMailboxStore        *self,
                                              guint                     number,
                                              const char               *generation,
                                              guint                     side,
                                              const char               *epoch,
                                              gboolean                  burn,
                                              FerryMailboxStoreFunc     func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_fetch        (FerryMailboxStore        *self,
                                              guint                     number,
                                              guint                     to,
                                              guint                     start,
                                              FerryMailboxStoreListFunc func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_ice          (FerryMailboxStore        *self,
                                              const char               *token,
                                              const char               *address,
                                              const FerryMailboxLimits *limits,
                                              FerryMailboxStoreFunc     func,
                                              gpointer                  user_data);
void        ferry_mailbox_store_emit_event   (FerryMailboxStore        *self,
                                              guint                     number,
                                              const char               *generation,
                                              const char               *kind,
                                              guint                     side);

G_END_DECLS
