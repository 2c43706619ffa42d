/* ferry-memory-store.c
 *
 * The same state and rules as the Redis store's scripts (see
 * ferry-redis-store.c), in hash tables of this process. Answers and events
 * go out in order from one idle source, as Redis answers one connection's
 * commands in order, so the server sees the same sequence from both.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <string.h>

#include "ferry-memory-store.h"

#define WINDOW_US (60 * G_USEC_PER_SEC)

typedef struct
{
  gint64 start;
  guint  count;
} Window;

typedef struct
{
  guint   live_mailboxes;
  Window  allocations;
  Window  joins;
  Window  ice;
} AddressState;

typedef struct _FerryMemoryStore FerryMemoryStore;

typedef struct
{
  FerryMemoryStore *store;
  guint             number;
  char             *generation;
  char             *owner;        /* NULL for a reserved one */
  gint64            expires_at;   /* monotonic */
  guint             expire_id;
  guint             joined;
  char             *tokens[2];
  guint             epochs[2];
  gboolean          left[2];
  guint64           carried;
  GPtrArray        *queues[2];    /* GBytes: one type byte, then the payload */
  Window            ice[2];
} Mailbox;

/* One answer or event, waiting for the main loop. */
typedef struct
{
  FerryMailboxStoreFunc     func;
  FerryMailboxStoreListFunc list_func;
  gpointer                  user_data;
  GStrv                     reply;
  GPtrArray                *items;
  /* An event instead of an answer. */
  gboolean                  event;
  guint                     number;
  char                     *generation;
  char                      kind[2];
  guint                     side;
} Pending;

struct _FerryMemoryStore
{
  GObject     parent_instance;

  GHashTable *mailboxes;   /* number → Mailbox */
  GHashTable *addresses;   /* address → AddressState */
  GHashTable *tokens;      /* token → Mailbox */
  guint64     generation;
  GQueue      pending;
  guint       flush_id;
  guint       sweep_id;
};

static void ferry_memory_store_iface_init (FerryMailboxStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FerryMemoryStore, ferry_memory_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (FERRY_TYPE_MAILBOX_STORE,
                                                      ferry_memory_store_iface_init))

enum {
  PROP_0,
  PROP_CONNECTED,
};

/* Answers -------------------------------------------------------------- */

static void
pending_free (Pending *pending)
{
  g_strfreev (pending->reply);
  g_clear_pointer (&pending->items, g_ptr_array_unref);
  g_free (pending->generation);
  g_free (pending);
}

static gboolean
flush_cb (gpointer user_data)
{
  FerryMemoryStore *self = user_data;
  g_autoptr(FerryMemoryStore) keep = g_object_ref (self);
  Pending *pending;

  self->flush_id = 0;
  while ((pending = g_queue_pop_head (&self->pending)) != NULL)
    {
      if (pending->event)
        ferry_mailbox_store_emit_event (FERRY_MAILBOX_STORE (self), pending->number,
                                        pending->generation, pending->kind, pending->side);
      else if (pending->list_func != NULL)
        pending->list_func (FERRY_MAILBOX_STORE (self), pending->items, NULL,
                            pending->user_data);
      else
        pending->func (FERRY_MAILBOX_STORE (self), pending->reply, NULL, pending->user_data);
      pending_free (pending);
    }

  return G_SOURCE_REMOVE;
}

static void
push (FerryMemoryStore *self,
      Pending          *pending)
{
  g_queue_push_tail (&self->pending, pending);
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (flush_cb, self);
}

/* Answers with the words in @...; NULL ends them. */
G_GNUC_NULL_TERMINATED static void
answer (FerryMemoryStore      *self,
        FerryMailboxStoreFunc  func,
        gpointer               user_data,
        const char            *first,
        ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  Pending *pending = g_new0 (Pending, 1);
  va_list args;

  va_start (args, first);
  for (const char *word = first; word != NULL; word = va_arg (args, const char *))
    g_strv_builder_add (builder, word);
  va_end (args);

  pending->func = func;
  pending->user_data = user_data;
  pending->reply = g_strv_builder_end (builder);
  push (self, pending);
}

static void
event (FerryMemoryStore *self,
       Mailbox          *mailbox,
       char              kind,
       guint             side)
{
  Pending *pending = g_new0 (Pending, 1);

  pending->event = TRUE;
  pending->number = mailbox->number;
  pending->generation = g_strdup (mailbox->generation);
  pending->kind[0] = kind;
  pending->side = side;
  push (self, pending);
}

/* State ---------------------------------------------------------------- */

/* Counts one in a window of a minute; FALSE once @limit were counted. */
static gboolean
window_count (Window *window,
              guint   limit)
{
  gint64 now = g_get_monotonic_time ();

  if (now - window->start >= WINDOW_US)
    {
      window->start = now;
      window->count = 0;
    }
  if (window->count >= limit)
    return FALSE;
  window->count++;
  return TRUE;
}

static AddressState *
address_state (FerryMemoryStore *self,
               const char       *address)
{
  AddressState *state = g_hash_table_lookup (self->addresses, address);

  if (state == NULL)
    {
      state = g_new0 (AddressState, 1);
      g_hash_table_insert (self->addresses, g_strdup (address), state);
    }
  return state;
}

/* Forgets addresses that own nothing and whose windows have passed, so the
 * table does not grow with every client ever seen. */
static gboolean
sweep_cb (gpointer user_data)
{
  FerryMemoryStore *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  AddressState *state;

  g_hash_table_iter_init (&iter, self->addresses);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &state))
    if (state->live_mailboxes == 0 && now - state->allocations.start >= WINDOW_US &&
        now - state->joins.start >= WINDOW_US && now - state->ice.start >= WINDOW_US)
      g_hash_table_iter_remove (&iter);

  return G_SOURCE_CONTINUE;
}

static void
mailbox_free (Mailbox *mailbox)
{
  FerryMemoryStore *self = mailbox->store;
  AddressState *state = mailbox->owner != NULL ?
                        g_hash_table_lookup (self->addresses, mailbox->owner) : NULL;

  if (state != NULL && state->live_mailboxes > 0)
    state->live_mailboxes--;
  for (guint i = 0; i < 2; i++)
    {
      if (mailbox->tokens[i] != NULL)
        g_hash_table_remove (self->tokens, mailbox->tokens[i]);
      g_free (mailbox->tokens[i]);
      g_ptr_array_unref (mailbox->queues[i]);
    }
  g_clear_handle_id (&mailbox->expire_id, g_source_remove);
  g_hash_table_remove (self->mailboxes, GUINT_TO_POINTER (mailbox->number));
  g_free (mailbox->generation);
  g_free (mailbox->owner);
  g_free (mailbox);
}

/* As Redis lets the keys expire: the sides' own timers tell them. */
static gboolean
mailbox_expire_cb (gpointer user_data)
{
  Mailbox *mailbox = user_data;

  mailbox->expire_id = 0;
  mailbox_free (mailbox);
  return G_SOURCE_REMOVE;
}

static Mailbox *
mailbox_new (FerryMemoryStore *self,
             guint             number,
             const char       *owner,
             guint             ttl)
{
  Mailbox *mailbox = g_new0 (Mailbox, 1);

  mailbox->store = self;
  mailbox->number = number;
  mailbox->generation = g_strdup_printf ("%" G_GUINT64_FORMAT, ++self->generation);
  mailbox->owner = g_strdup (owner);
  mailbox->expires_at = g_get_monotonic_time () + (gint64) ttl * G_USEC_PER_SEC;
  mailbox->expire_id = g_timeout_add ((guint) MIN ((guint64) ttl * 1000, G_MAXUINT),
                                      mailbox_expire_cb, mailbox);
  for (guint i = 0; i < 2; i++)
    mailbox->queues[i] = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_hash_table_insert (self->mailboxes, GUINT_TO_POINTER (number), mailbox);
  return mailbox;
}

/* The mailbox of @number, unless it expired: as Redis does, the clock is
 * checked, not only the timer, which may run late. */
static Mailbox *
live_mailbox (FerryMemoryStore *self,
              guint             number)
{
  Mailbox *mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (number));

  if (mailbox != NULL && mailbox->expires_at <= g_get_monotonic_time ())
    {
      mailbox_free (mailbox);
      return NULL;
    }
  return mailbox;
}

/* The mailbox of @number in its allocation @generation, if it still is. */
static Mailbox *
lookup (FerryMemoryStore *self,
        guint             number,
        const char       *generation)
{
  Mailbox *mailbox = live_mailbox (self, number);

  if (mailbox == NULL || g_strcmp0 (mailbox->generation, generation) != 0)
    return NULL;
  return mailbox;
}

static gboolean
epoch_is (Mailbox    *mailbox,
          guint       side,
          const char *epoch)
{
  g_autofree char *text = g_strdup_printf ("%u", mailbox->epochs[side]);

  return g_str_equal (text, epoch);
}

/* The interface -------------------------------------------------------- */

static const char *
memory_get_backend (FerryMailboxStore *store)
{
  return "memory";
}

static gboolean
memory_is_connected (FerryMailboxStore *store)
{
  return TRUE;
}

static gboolean
memory_is_shared (FerryMailboxStore *store)
{
  return FALSE;
}

static gboolean
memory_reserve (FerryMailboxStore  *store,
                guint               number,
                guint               ttl,
                GError            **error)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);

  if (live_mailbox (self, number) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "Nameplate %u is in use", number);
      return FALSE;
    }
  mailbox_new (self, number, NULL, ttl);
  return TRUE;
}

static void
memory_allocate (FerryMailboxStore        *store,
                 const char               *owner,
                 const FerryMailboxLimits *limits,
                 FerryMailboxStoreFunc     func,
                 gpointer                  user_data)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  AddressState *state = address_state (self, owner);
  g_autofree char *number = NULL;
  Mailbox *mailbox;
  guint n;

  if (!window_count (&state->allocations, limits->allocations_per_minute))
    {
      answer (self, func, user_data, "err", "rate-limited", NULL);
      return;
    }
  if (state->live_mailboxes >= limits->max_mailboxes_per_address)
    {
      state->allocations.count--;
      answer (self, func, user_data, "err", "too-many-mailboxes", NULL);
      return;
    }
  if (g_hash_table_size (self->mailboxes) >= limits->max_mailboxes)
    {
      state->allocations.count--;
      answer (self, func, user_data, "err", "server-full", NULL);
      return;
    }

  for (n = 1; live_mailbox (self, n) != NULL; n++)
    ;
  state->live_mailboxes++;
  mailbox = mailbox_new (self, n, owner, limits->mailbox_ttl);
  number = g_strdup_printf ("%u", n);
  answer (self, func, user_data, "ok", number, mailbox->generation, NULL);
}

static void
memory_join (FerryMailboxStore        *store,
             guint                     number,
             const char               *address,
             const char               *token,
             const char               *resume_token,
             const FerryMailboxLimits *limits,
             FerryMailboxStoreFunc     func,
             gpointer                  user_data)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  AddressState *state = address_state (self, address);
  Mailbox *mailbox = live_mailbox (self, number);
  g_autofree char *side_text = NULL;
  g_autofree char *epoch = NULL;
  g_autofree char *ms_left = NULL;
  g_autofree char *sent = NULL;
  guint side;

  if (!window_count (&state->joins, limits->joins_per_minute))
    {
      answer (self, func, user_data, "err", "rate-limited", NULL);
      return;
    }
  if (mailbox == NULL)
    {
      answer (self, func, user_data, "err", "not-found", NULL);
      return;
    }

  if (resume_token != NULL && *resume_token != '\0')
    {
      if (g_strcmp0 (mailbox->tokens[0], resume_token) == 0 && !mailbox->left[0])
        side = 0;
      else if (g_strcmp0 (mailbox->tokens[1], resume_token) == 0 && !mailbox->left[1])
        side = 1;
      else
        {
          answer (self, func, user_data, "err", "not-found", NULL);
          return;
        }
    }
  else
    {
      if (mailbox->joined >= 2)
        {
          answer (self, func, user_data, "err", "crowded", NULL);
          return;
        }
      side = mailbox->joined++;
      mailbox->tokens[side] = g_strdup (token);
      g_hash_table_insert (self->tokens, mailbox->tokens[side], mailbox);
    }

  mailbox->epochs[side]++;
  side_text = g_strdup_printf ("%u", side);
  epoch = g_strdup_printf ("%u", mailbox->epochs[side]);
  ms_left = g_strdup_printf ("%" G_GINT64_FORMAT,
                             MAX (0, (mailbox->expires_at - g_get_monotonic_time ()) / 1000));
  sent = g_strdup_printf ("%u", mailbox->queues[1 - side]->len);
  answer (self, func, user_data, "ok", side_text, mailbox->generation, mailbox->tokens[side],
          epoch, mailbox->left[1 - side] ? "1" : "0", ms_left, sent, NULL);
}

static void
memory_append (FerryMailboxStore        *store,
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
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  Mailbox *mailbox = lookup (self, number, generation);
  gsize size = g_bytes_get_size (message);
  guint to = 1 - from;
  guint8 *item;

  if (mailbox == NULL)
    {
      answer (self, func, user_data, "gone", NULL);
      return;
    }
  if (!epoch_is (mailbox, from, epoch))
    {
      answer (self, func, user_data, "stale", NULL);
      return;
    }
  if (mailbox->carried + size > limits->max_mailbox_bytes)
    {
      answer (self, func, user_data, "err", "bytes", NULL);
      return;
    }
  mailbox->carried += size;
  if (mailbox->left[to])
    {
      answer (self, func, user_data, "ok", NULL);
      return;
    }
  /* Only a side that never joined has a queue limit: one that did takes
   * what it is sent, within the mailbox's byte budget. */
  if (mailbox->tokens[to] == NULL && mailbox->queues[to]->len >= limits->max_queued_messages)
    {
      answer (self, func, user_data, "err", "queue", NULL);
      return;
    }

  item = g_malloc (size + 1);
  item[0] = type;
  if (size > 0)
    memcpy (item + 1, g_bytes_get_data (message, NULL), size);
  g_ptr_array_add (mailbox->queues[to], g_bytes_new_take (item, size + 1));
  event (self, mailbox, 'm', to);
  answer (self, func, user_data, "ok", NULL);
}

static void
memory_leave (FerryMailboxStore     *store,
              guint                  number,
              const char            *generation,
              guint                  side,
              const char            *epoch,
              gboolean               burn,
              FerryMailboxStoreFunc  func,
              gpointer               user_data)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  Mailbox *mailbox = lookup (self, number, generation);

  if (mailbox == NULL)
    {
      answer (self, func, user_data, "gone", NULL);
      return;
    }
  if (!epoch_is (mailbox, side, epoch))
    {
      answer (self, func, user_data, "stale", NULL);
      return;
    }
  if (burn || mailbox->left[1 - side])
    {
      event (self, mailbox, burn ? 'b' : 'f', side);
      mailbox_free (mailbox);
      answer (self, func, user_data, burn ? "burn" : "free", NULL);
      return;
    }
  mailbox->left[side] = TRUE;
  event (self, mailbox, 'l', side);
  answer (self, func, user_data, "left", NULL);
}

static void
memory_fetch (FerryMailboxStore         *store,
              guint                      number,
              guint                      to,
              guint                      start,
              FerryMailboxStoreListFunc  func,
              gpointer                   user_data)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  Mailbox *mailbox = live_mailbox (self, number);
  Pending *pending = g_new0 (Pending, 1);

  pending->list_func = func;
  pending->user_data = user_data;
  pending->items = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = start; mailbox != NULL && i < mailbox->queues[to]->len; i++)
    g_ptr_array_add (pending->items, g_bytes_ref (mailbox->queues[to]->pdata[i]));
  push (self, pending);
}

static void
memory_ice (FerryMailboxStore        *store,
            const char               *token,
            const char               *address,
            const FerryMailboxLimits *limits,
            FerryMailboxStoreFunc     func,
            gpointer                  user_data)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (store);
  g_autofree char *ms_left = NULL;
  Mailbox *mailbox;
  guint side;

  if (token == NULL)
    {
      if (window_count (&address_state (self, address)->ice, limits->ice_per_minute))
        answer (self, func, user_data, "ok", "0", NULL);
      else
        answer (self, func, user_data, "err", "rate-limited", NULL);
      return;
    }

  mailbox = g_hash_table_lookup (self->tokens, token);
  if (mailbox != NULL)
    mailbox = live_mailbox (self, mailbox->number);
  side = mailbox != NULL && g_strcmp0 (mailbox->tokens[1], token) == 0 ? 1 : 0;
  if (mailbox == NULL || mailbox->left[side])
    answer (self, func, user_data, "err", "forbidden", NULL);
  else if (!window_count (&mailbox->ice[side], limits->ice_per_minute))
    answer (self, func, user_data, "err", "rate-limited", NULL);
  else
    {
      ms_left = g_strdup_printf ("%" G_GINT64_FORMAT,
                                 MAX (1, (mailbox->expires_at - g_get_monotonic_time ()) / 1000));
      answer (self, func, user_data, "ok", ms_left, NULL);
    }
}

/* GObject -------------------------------------------------------------- */

FerryMemoryStore *
ferry_memory_store_new (void)
{
  return g_object_new (FERRY_TYPE_MEMORY_STORE, NULL);
}

static void
ferry_memory_store_dispose (GObject *object)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (object);
  g_autoptr(GList) mailboxes = g_hash_table_get_values (self->mailboxes);

  for (GList *l = mailboxes; l != NULL; l = l->next)
    mailbox_free (l->data);
  /* Whoever waits for an answer holds no reference on the store. */
  g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_handle_id (&self->sweep_id, g_source_remove);

  G_OBJECT_CLASS (ferry_memory_store_parent_class)->dispose (object);
}

static void
ferry_memory_store_finalize (GObject *object)
{
  FerryMemoryStore *self = FERRY_MEMORY_STORE (object);

  g_hash_table_unref (self->mailboxes);
  g_hash_table_unref (self->addresses);
  g_hash_table_unref (self->tokens);

  G_OBJECT_CLASS (ferry_memory_store_parent_class)->finalize (object);
}

static void
ferry_memory_store_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, TRUE);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_memory_store_iface_init (FerryMailboxStoreInterface *iface)
{
  iface->get_backend = memory_get_backend;
  iface->is_connected = memory_is_connected;
  iface->is_shared = memory_is_shared;
  iface->reserve = memory_reserve;
  iface->allocate = memory_allocate;
  iface->join = memory_join;
  iface->append = memory_append;
  iface->leave = memory_leave;
  iface->fetch = memory_fetch;
  iface->ice = memory_ice;
}

static void
ferry_memory_store_class_init (FerryMemoryStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_memory_store_dispose;
  object_class->finalize = ferry_memory_store_finalize;
  object_class->get_property = ferry_memory_store_get_property;

  g_object_class_override_property (object_class, PROP_CONNECTED, "connected");
}

static void
ferry_memory_store_init (FerryMemoryStore *self)
{
  self->mailboxes = g_hash_table_new (NULL, NULL);
  self->addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->tokens = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->pending);
  self->sweep_id = g_timeout_add_seconds (60, sweep_cb, self);
}
