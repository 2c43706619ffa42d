/* ferry-mailbox-store.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include "ferry-mailbox-store.h"

G_DEFINE_INTERFACE (FerryMailboxStore, ferry_mailbox_store, G_TYPE_OBJECT)

enum {
  SIGNAL_EVENT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
ferry_mailbox_store_default_init (FerryMailboxStoreInterface *iface)
{
  /**
   * FerryMailboxStore:connected:
   *
   * Whether the store answers; an in-memory one always does.
   */
  g_object_interface_install_property (iface,
    g_param_spec_boolean ("connected", NULL, "Whether the store answers", FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));

  /**
   * FerryMailboxStore::event:
   * @number: the nameplate
   * @generation: which allocation of that nameplate
   * @kind: "m" (a message for @side), "l" (@side left), "b" (@side burned it),
   *   "f" (freed)
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT);
}

const char *
ferry_mailbox_store_get_backend (FerryMailboxStore *self)
{
  g_return_val_if_fail (FERRY_IS_MAILBOX_STORE (self), NULL);
  return FERRY_MAILBOX_STORE_GET_IFACE (self)->get_backend (self);
}

gboolean
ferry_mailbox_store_is_connected (FerryMailboxStore *self)
{
  g_return_val_if_fail (FERRY_IS_MAILBOX_STORE (self), FALSE);
  return FERRY_MAILBOX_STORE_GET_IFACE (self)->is_connected (self);
}

/**
 * ferry_mailbox_store_is_shared:
 *
 * Returns: whether the mailboxes outlive this process (other instances
 *   may take its sides over)
 */
gboolean
ferry_mailbox_store_is_shared (FerryMailboxStore *self)
{
  g_return_val_if_fail (FERRY_IS_MAILBOX_STORE (self), FALSE);
  return FERRY_MAILBOX_STORE_GET_IFACE (self)->is_shared (self);
}

/**
 * ferry_mailbox_store_reserve:
 * @number: the nameplate to make a mailbox for, as an allocation would
 *
 * Returns: %FALSE when the nameplate is taken or the store cannot reserve
 */
gboolean
ferry_mailbox_store_reserve (FerryMailboxStore  *self,
                             guint               number,
                             guint               ttl,
                             GError            **error)
{
  FerryMailboxStoreInterface *iface;

  g_return_val_if_fail (FERRY_IS_MAILBOX_STORE (self), FALSE);

  iface = FERRY_MAILBOX_STORE_GET_IFACE (self);
  if (iface->reserve == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "This store cannot reserve nameplates");
      return FALSE;
    }
  return iface->reserve (self, number, ttl, error);
}

void
ferry_mailbox_store_allocate (FerryMailboxStore        *self,
                              const char               *owner,
                              const FerryMailboxLimits *limits,
                              FerryMailboxStoreFunc     func,
                              gpointer                  user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->allocate (self, owner, limits, func, user_data);
}

void
ferry_mailbox_store_join (FerryMailboxStore        *self,
                          guint                     number,
                          const char               *address,
                          const char               *token,
                          const char               *resume_token,
                          const FerryMailboxLimits *limits,
                          FerryMailboxStoreFunc     func,
                          gpointer                  user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->join (self, number, address, token, resume_token,
                                              limits, func, user_data);
}

void
ferry_mailbox_store_append (FerryMailboxStore        *self,
                            guint                     number,
                            const char               *generation,
                            guint                     from,
                            const char               *epoch,
                            guint8                    type,
                            GBytes                   *message,
                            const FerryMailboxLimits *limits,
                            FerryMailboxStoreFunc     func,
                            gpointer                  user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->append (self, number, generation, from, epoch, type,
                                                message, limits, func, user_data);
}

void
ferry_mailbox_store_leave (FerryMailboxStore     *self,
                           guint                  number,
                           const char            *generation,
                           guint                  side,
                           const char            *epoch,
                           gboolean               burn,
                           FerryMailboxStoreFunc  func,
                           gpointer               user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->leave (self, number, generation, side, epoch, burn,
                                               func, user_data);
}

void
ferry_mailbox_store_fetch (FerryMailboxStore         *self,
                           guint                      number,
                           guint                      to,
                           guint                      start,
                           FerryMailboxStoreListFunc  func,
                           gpointer                   user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->fetch (self, number, to, start, func, user_data);
}

/**
 * ferry_mailbox_store_ice:
 * @token: (nullable): the side's token; without one the request counts
 *   against @address
 *
 * Counts a /v1/ice request and says whether the token names a side in a
 * live mailbox, wherever that side joined.
 */
void
ferry_mailbox_store_ice (FerryMailboxStore        *self,
                         const char               *token,
                         const char               *address,
                         const FerryMailboxLimits *limits,
                         FerryMailboxStoreFunc     func,
                         gpointer                  user_data)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  FERRY_MAILBOX_STORE_GET_IFACE (self)->ice (self, token, address, limits, func, user_data);
}

/* For implementations: tells the servers on the store what happened. */
void
ferry_mailbox_store_emit_event (FerryMailboxStore *self,
                                guint              number,
                                const char        *generation,
                                const char        *kind,
                                guint              side)
{
  g_return_if_fail (FERRY_IS_MAILBOX_STORE (self));
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, number, generation, kind, side);
}
