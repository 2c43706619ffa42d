/* ferry-rendezvous-server.c
 *
 * The rendezvous: hands out nameplates, pairs two WebSocket sides in a
 * mailbox and relays their messages, and tells clients which STUN/TURN
 * servers to use. All state is in memory and every piece of it is bounded
 * by a limit, so a misbehaving client costs a known amount.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <string.h>
#include <sys/random.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ferry-message-size-limit-stream.h"
#include "ferry-redis-store.h"
#include "ferry-rendezvous-protocol.h"
#include "ferry-rendezvous-server-private.h"

#define ALLOCATION_WINDOW_US   (60 * G_USEC_PER_SEC)
#define BODY_DATA_KEY          "ferry-request-body"
#define TIMER_DATA_KEY         "ferry-request-timer"
#define TOKEN_DATA_KEY         "ferry-side-token"
#define JOIN_DATA_KEY          "ferry-store-join"
#define TOKEN_BYTES            16

typedef struct _Mailbox Mailbox;

typedef struct
{
  FerryRendezvousServer   *server;
  grefcount                ref;       /* replies from the store hold one */
  Mailbox                 *mailbox;   /* NULL once the mailbox is gone */
  SoupWebsocketConnection *conn;
  char                    *address;
  guint                    index;     /* 0 or 1 in the mailbox */
  gint64                   last_heard;
  guint                    idle_id;
  guint                    first_id;  /* until its first message */
  gboolean                 closing;   /* the server asked it to close */
  char                    *token;     /* for /v1/ice, while it is in the mailbox */
  GHashTable              *server_tokens;
  gint64                   ice_window_start;
  guint                    ice_requests;
  /* With a shared store, the side's mailbox lives there (mailbox is NULL). */
  gboolean                 in_store;
  gboolean                 freed;
  guint                    number;
  char                    *generation;
  char                    *epoch;
  gint64                   expires_at;
  guint                    expire_id;
  guint                    received;  /* messages delivered to this side */
  gboolean                 fetching;
  gboolean                 fetch_again;
  gboolean                 peer_left;
  gboolean                 close_started; /* a close frame went one way or the other */
} Side;

/* What the store said to a join, from the handshake to the upgrade. */
typedef struct
{
  guint     number;
  guint     index;
  char     *generation;
  char     *epoch;
  gboolean  other_left;
  gint64    ms_left;
  guint     received;
} StoreJoin;

struct _Mailbox
{
  FerryRendezvousServer *server;
  guint                  number;
  char                  *nameplate;
  char                  *owner;       /* address that allocated it */
  guint                  expire_id;
  gint64                 expires_at;  /* monotonic */
  Side                  *sides[2];
  guint                  n_joined;    /* joins over its life, at most 2 */
  gboolean               left[2];
  GQueue                 queue;       /* QueuedMessage, for a side not joined yet */
  guint64                carried;     /* bytes relayed or queued, both ways */
};

typedef struct
{
  guint                  from;
  SoupWebsocketDataType  type;
  GBytes                *data;
} QueuedMessage;

typedef struct
{
  guint  live_mailboxes;
  gint64 window_start;
  guint  allocations;
  guint  joins;
  guint  ice_requests;
} AddressState;

typedef struct
{
  GByteArray *data;
  gboolean    overflow;
} RequestBody;

struct _FerryRendezvousServer
{
  GObject      parent_instance;

  SoupServer  *soup;
  GHashTable  *mailboxes;   /* number → Mailbox */
  GHashTable  *addresses;   /* address → AddressState */
  GHashTable  *tokens;      /* token → Side */
  guint        sweep_id;
  FerryRedisStore *store;     /* NULL: everything in memory */
  GHashTable  *store_sides;   /* "N:SIDE" → Side, sides of this instance */

  char        *turn_secret;
  GInetAddress *trusted_proxy;
  char       **stun_uris;
  char       **turn_uris;
  guint        mailbox_ttl;
  guint        idle_timeout;
  guint        max_message_size;
  guint        max_queued_messages;
  guint        max_mailboxes_per_address;
  guint        allocations_per_minute;
  guint        max_mailboxes;
  guint        turn_ttl;
  guint        request_timeout;
  guint        max_mailbox_bytes;
  guint        first_message_timeout;
  guint        joins_per_minute;
  guint        ice_per_minute;
  gboolean     reserved_only; /* serves its reserved nameplate, allocates none */
};

G_DEFINE_FINAL_TYPE (FerryRendezvousServer, ferry_rendezvous_server, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TURN_SECRET,
  PROP_STUN_URIS,
  PROP_TURN_URIS,
  PROP_MAILBOX_TTL,
  PROP_IDLE_TIMEOUT,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_QUEUED_MESSAGES,
  PROP_MAX_MAILBOXES_PER_ADDRESS,
  PROP_ALLOCATIONS_PER_MINUTE,
  PROP_MAX_MAILBOXES,
  PROP_TURN_TTL,
  PROP_REQUEST_TIMEOUT,
  PROP_MAX_MAILBOX_BYTES,
  PROP_FIRST_MESSAGE_TIMEOUT,
  PROP_JOINS_PER_MINUTE,
  PROP_ICE_PER_MINUTE,
  PROP_TRUSTED_PROXY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void side_close (Side *side, gushort code, const char *error, const char *message);
static void store_side_leave (Side *side, gushort code);
static void store_side_message (Side *side, gint type, GBytes *message);
static void store_allocate (FerryRendezvousServer *self, SoupServerMessage *msg,
                            const char *address);
static void store_join (FerryRendezvousServer *self, SoupServerMessage *msg, const char *address,
                        guint number);
static void store_side_join (FerryRendezvousServer *self, Side *side, StoreJoin *join);
static void upgrade_cb (SoupServerMessage *msg, gpointer user_data);

/* JSON helpers --------------------------------------------------------- */

static char *
error_json (const char *error,
            const char *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, error);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
respond_json_node (SoupServerMessage *msg,
                   guint              status,
                   JsonNode          *root)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  gsize length = 0;
  char *body;

  json_generator_set_root (generator, root);
  body = json_generator_to_data (generator, &length);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, length);
}

static void
respond_error (SoupServerMessage *msg,
               guint              status,
               const char        *error,
               const char        *message)
{
  char *body = error_json (error, message);

  soup_server_message_set_status (msg, status,
                                  status == FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS ?
                                  "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    body, strlen (body));
}

/* Addresses and limits ------------------------------------------------- */

/* One "for=" or X-Forwarded-For entry: an address, maybe quoted, maybe
 * with a port ("[v6]:port", "v4:port"). */
static GInetAddress *
parse_forwarded_address (const char *text)
{
  g_autofree char *value = g_strstrip (g_strdup (text));
  char *start = value;
  char *end;

  if (*start == '"')
    {
      start++;
      end = strchr (start, '"');
      if (end != NULL)
        *end = '\0';
    }
  if (*start == '[')
    {
      start++;
      end = strchr (start, ']');
      if (end == NULL)
        return NULL;
      *end = '\0';
    }
  else if ((end = strchr (start, ':')) != NULL && strchr (end + 1, ':') == NULL)
    {
      *end = '\0';
    }

  return g_inet_address_new_from_string (start);
}

/* The last hop is the one our proxy added; earlier ones are the client's
 * word and could be anything. */
static GInetAddress *
forwarded_address (SoupMessageHeaders *headers)
{
  const char *forwarded = soup_message_headers_get_list (headers, "Forwarded");
  const char *xff = soup_message_headers_get_list (headers, "X-Forwarded-For");

  if (forwarded != NULL)
    {
      const char *last = strrchr (forwarded, ',');
      g_auto(GStrv) pairs = g_strsplit (last != NULL ? last + 1 : forwarded, ";", -1);

      for (guint i = 0; pairs[i] != NULL; i++)
        {
          char *pair = g_strstrip (pairs[i]);

          if (g_ascii_strncasecmp (pair, "for=", 4) == 0)
            return parse_forwarded_address (pair + 4);
        }
      return NULL;
    }

  if (xff != NULL)
    {
      const char *last = strrchr (xff, ',');

      return parse_forwarded_address (last != NULL ? last + 1 : xff);
    }

  return NULL;
}

/* The key limits are counted under: an IPv4 address, or an IPv6 /64, the
 * least a home or a cloud machine gets, so one client cannot rotate
 * through its own addresses. */
static char *
address_key (GInetAddress *inet)
{
  guint8 bytes[16];

  if (inet == NULL)
    return g_strdup ("unknown");

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    {
      memcpy (bytes, g_inet_address_to_bytes (inet), sizeof bytes);
      if (g_inet_address_get_is_loopback (inet))
        return g_strdup ("::1");
      /* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket. */
      if (memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
        return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
      {
        g_autoptr(GInetAddress) prefix = NULL;
        g_autofree char *text = NULL;

        memset (bytes + 8, 0, 8);
        prefix = g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV6);
        text = g_inet_address_to_string (prefix);
        return g_strconcat (text, "/64", NULL);
      }
    }

  return g_inet_address_to_string (inet);
}

/* Who a request comes from, as limits count it. */
static char *
client_address (FerryRendezvousServer *self,
                SoupServerMessage     *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  GInetAddress *inet = NULL;

  if (G_IS_INET_SOCKET_ADDRESS (remote))
    inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));

  if (inet != NULL && self->trusted_proxy != NULL && g_inet_address_equal (inet,
                                                                          self->trusted_proxy))
    {
      g_autoptr(GInetAddress) forwarded =
        forwarded_address (soup_server_message_get_request_headers (msg));

      if (forwarded != NULL)
        return address_key (forwarded);
    }

  return address_key (inet);
}

/* Counts per address run in windows of a minute. */
static void
address_window (AddressState *state,
                gint64        now)
{
  if (now - state->window_start >= ALLOCATION_WINDOW_US)
    {
      state->window_start = now;
      state->allocations = 0;
      state->joins = 0;
      state->ice_requests = 0;
    }
}

static char *
new_token (void)
{
  guint8 bytes[TOKEN_BYTES];
  GString *text = g_string_sized_new (2 * TOKEN_BYTES);

  /* The token is all a side shows for TURN credentials: it must not be
   * guessable, so only the kernel's random bytes will do. */
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    g_error ("getrandom failed");
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (text, "%02x", bytes[i]);
  return g_string_free (text, FALSE);
}

static AddressState *
address_state (FerryRendezvousServer *self,
               const char            *address)
{
  AddressState *state = g_hash_table_lookup (self->addresses, address);

  if (state == NULL)
    {
      state = g_new0 (AddressState, 1);
      g_hash_table_insert (self->addresses, g_strdup (address), state);
    }

  return state;
}

/* Forgets addresses that own nothing and whose rate window has passed, so
 * the table does not grow with every client ever seen. */
static gboolean
sweep_addresses_cb (gpointer user_data)
{
  FerryRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  AddressState *state;

  g_hash_table_iter_init (&iter, self->addresses);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &state))
    {
      if (state->live_mailboxes == 0 && now - state->window_start >= ALLOCATION_WINDOW_US)
        g_hash_table_iter_remove (&iter);
    }

  return G_SOURCE_CONTINUE;
}

/* Mailboxes ------------------------------------------------------------ */

static void
queued_message_free (QueuedMessage *queued)
{
  g_bytes_unref (queued->data);
  g_free (queued);
}

static void
side_detach (Side *side)
{
  g_clear_handle_id (&side->idle_id, g_source_remove);
  g_clear_handle_id (&side->first_id, g_source_remove);
  side->mailbox = NULL;
}

/* Frees the nameplate. Sides still open are closed with @code, unless it
 * is 0 (they closed already). */
static void
mailbox_free (Mailbox    *mailbox,
              gushort     code,
              const char *error,
              const char *message)
{
  FerryRendezvousServer *self = mailbox->server;
  AddressState *state = g_hash_table_lookup (self->addresses, mailbox->owner);

  if (state != NULL && state->live_mailboxes > 0)
    state->live_mailboxes--;

  for (guint i = 0; i < G_N_ELEMENTS (mailbox->sides); i++)
    {
      Side *side = mailbox->sides[i];

      if (side == NULL)
        continue;
      side_detach (side);
      /* The side that joined first made the code: a burn means somebody
       * else guessed at it, and that is what its user must hear. */
      if (code == FERRY_RENDEZVOUS_CLOSE_BAD_CODE && i == 0)
        side_close (side, code, error, "Someone else tried this code");
      else if (code != 0)
        side_close (side, code, error, message);
    }

  g_clear_handle_id (&mailbox->expire_id, g_source_remove);
  g_queue_clear_full (&mailbox->queue, (GDestroyNotify) queued_message_free);
  g_message ("free nameplate=%s", mailbox->nameplate);

  g_hash_table_remove (self->mailboxes, GUINT_TO_POINTER (mailbox->number));
  g_free (mailbox->nameplate);
  g_free (mailbox->owner);
  g_free (mailbox);
}

static gboolean
mailbox_expire_cb (gpointer user_data)
{
  Mailbox *mailbox = user_data;

  mailbox->expire_id = 0;
  g_message ("expire nameplate=%s client=%s", mailbox->nameplate, mailbox->owner);
  mailbox_free (mailbox, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_GONE,
                FERRY_RENDEZVOUS_ERR_EXPIRED, "The code expired");
  return G_SOURCE_REMOVE;
}

static guint
lowest_free_number (FerryRendezvousServer *self)
{
  for (guint n = 1; ; n++)
    {
      if (!g_hash_table_contains (self->mailboxes, GUINT_TO_POINTER (n)))
        return n;
    }
}

/* Sides ---------------------------------------------------------------- */

static void
side_close (Side       *side,
            gushort     code,
            const char *error,
            const char *message)
{
  g_autofree char *reason = NULL;

  if (side->closing ||
      soup_websocket_connection_get_state (side->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;

  side->closing = TRUE;
  reason = error_json (error, message);
  g_assert (strlen (reason) <= FERRY_RENDEZVOUS_MAX_CLOSE_REASON);
  soup_websocket_connection_close (side->conn, code, reason);
}

static void
side_limit (Side       *side,
            guint       status,
            const char *error,
            const char *message)
{
  g_message ("limit nameplate=%s client=%s error=%s",
             side->mailbox != NULL ? side->mailbox->nameplate : "-", side->address, error);
  side_close (side, FERRY_RENDEZVOUS_CLOSE_BASE + status, error, message);
}

static gboolean side_idle_cb (gpointer user_data);

static void
side_schedule_idle (Side *side)
{
  FerryRendezvousServer *self = side->server;
  gint64 deadline = side->last_heard + (gint64) self->idle_timeout * G_USEC_PER_SEC;
  gint64 remaining = deadline - g_get_monotonic_time ();

  g_clear_handle_id (&side->idle_id, g_source_remove);
  side->idle_id = g_timeout_add ((guint) CLAMP (remaining / 1000 + 1, 1, G_MAXINT), side_idle_cb,
                                 side);
}

static gboolean
side_idle_cb (gpointer user_data)
{
  Side *side = user_data;
  FerryRendezvousServer *self = side->server;

  side->idle_id = 0;
  if (g_get_monotonic_time () - side->last_heard >= (gint64) self->idle_timeout * G_USEC_PER_SEC)
    side_limit (side, SOUP_STATUS_REQUEST_TIMEOUT, FERRY_RENDEZVOUS_ERR_IDLE,
                "Nothing was heard for too long");
  else
    side_schedule_idle (side);

  return G_SOURCE_REMOVE;
}

static void
side_heard (Side *side)
{
  side->last_heard = g_get_monotonic_time ();
}

static void
side_pong_cb (SoupWebsocketConnection *conn,
              GBytes                  *message,
              gpointer                 user_data)
{
  side_heard (user_data);
}

static void
side_message_cb (SoupWebsocketConnection *conn,
                 gint                     type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  Side *side = user_data;
  Mailbox *mailbox = side->mailbox;
  FerryRendezvousServer *self;
  Side *peer;
  guint other;

  side_heard (side);
  g_clear_handle_id (&side->first_id, g_source_remove);
  if (side->in_store && !side->closing)
    {
      store_side_message (side, type, message);
      return;
    }
  if (mailbox == NULL || side->closing)
    return;

  self = mailbox->server;

  /* Frames are capped by max-incoming-payload-size; this catches a
   * message that arrived in several fragments. */
  if (g_bytes_get_size (message) > self->max_message_size)
    {
      side_limit (side, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                  "The message is too large");
      return;
    }

  /* libsoup queues without limit what a peer does not read fast enough;
   * a budget per mailbox keeps that, and the queue below, bounded. */
  if (mailbox->carried + g_bytes_get_size (message) > self->max_mailbox_bytes)
    {
      side_limit (side, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                  FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES, "The mailbox carried too much");
      return;
    }
  mailbox->carried += g_bytes_get_size (message);

  other = 1 - side->index;
  peer = mailbox->sides[other];

  if (peer != NULL)
    {
      if (!peer->closing &&
          soup_websocket_connection_get_state (peer->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_message (peer->conn, type, message);
      return;
    }

  if (mailbox->left[other])
    return;

  if (g_queue_get_length (&mailbox->queue) >= self->max_queued_messages)
    {
      side_limit (side, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                  FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES,
                  "Too many messages wait for the other side");
      return;
    }

  {
    QueuedMessage *queued = g_new0 (QueuedMessage, 1);

    queued->from = side->index;
    queued->type = type;
    queued->data = g_bytes_ref (message);
    g_queue_push_tail (&mailbox->queue, queued);
  }
}

static void
side_error_cb (SoupWebsocketConnection *conn,
               GError                  *error,
               gpointer                 user_data)
{
  Side *side = user_data;

  /* A side that broke the protocol is not one that lost its connection:
   * it does not get to come back. */
  if (error->domain == SOUP_WEBSOCKET_ERROR)
    side->close_started = TRUE;

  /* The message-size limit (or libsoup's own cap on single frames) stops a
   * message that is too large at its header, so it is never buffered; tell
   * the client with our own code before libsoup drops the connection. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ||
      g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    side_limit (side, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                "The message is too large");
  else
    g_message ("error nameplate=%s client=%s reason=%s",
               side->mailbox != NULL ? side->mailbox->nameplate : "-", side->address,
               error->message);
}

static void
side_unref (Side *side)
{
  if (!g_ref_count_dec (&side->ref))
    return;
  g_free (side->generation);
  g_free (side->epoch);
  g_free (side);
}

static Side *
side_ref (Side *side)
{
  g_ref_count_inc (&side->ref);
  return side;
}

/* The connection's end: a reply from the store that comes later finds the
 * side marked freed and does nothing. */
static void
side_free (Side *side)
{
  side_detach (side);
  g_clear_handle_id (&side->expire_id, g_source_remove);
  side->freed = TRUE;
  /* A side that rejoined holds the same token. */
  if (side->token != NULL && g_hash_table_lookup (side->server_tokens, side->token) == side)
    g_hash_table_remove (side->server_tokens, side->token);
  g_clear_pointer (&side->server_tokens, g_hash_table_unref);
  g_clear_pointer (&side->token, g_free);
  g_signal_handlers_disconnect_by_data (side->conn, side);
  g_clear_object (&side->conn);
  g_clear_pointer (&side->address, g_free);
  side_unref (side);
}

/* Takes @side out of its mailbox. Called as soon as a close starts (ours
 * or the client's) or the connection drops, so the nameplate is free by
 * the time the client learns that it was closed. */
static void
side_leave (Side    *side,
            gushort  code)
{
  Mailbox *mailbox = side->mailbox;
  Side *peer;

  if (side->in_store)
    {
      store_side_leave (side, code);
      return;
    }
  if (mailbox == NULL)
    return;

  mailbox->sides[side->index] = NULL;
  mailbox->left[side->index] = TRUE;
  side_detach (side);
  peer = mailbox->sides[1 - side->index];

  if (code == FERRY_RENDEZVOUS_CLOSE_BAD_CODE && !side->closing)
    {
      g_message ("burn nameplate=%s client=%s", mailbox->nameplate, side->address);
      mailbox_free (mailbox, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, FERRY_RENDEZVOUS_ERR_BAD_CODE,
                    "The other side used a wrong code");
      return;
    }

  g_message ("leave nameplate=%s client=%s code=%u", mailbox->nameplate, side->address, code);

  if (mailbox->left[0] && mailbox->left[1])
    {
      mailbox_free (mailbox, 0, NULL, NULL);
      return;
    }

  /* The peer's own leave may free the mailbox: nothing after this. */
  if (peer != NULL)
    side_close (peer, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED,
                "The other side left");
}

static void
side_closing_cb (SoupWebsocketConnection *conn,
                 gpointer                 user_data)
{
  Side *side = user_data;

  side->close_started = TRUE;
  side_leave (side, soup_websocket_connection_get_close_code (conn));
}

static void
side_closed_cb (SoupWebsocketConnection *conn,
                gpointer                 user_data)
{
  Side *side = user_data;

  side_leave (side, soup_websocket_connection_get_close_code (conn));
  side_free (side);
}

/* HTTP handlers -------------------------------------------------------- */

/**
 * ferry_rendezvous_server_parse_nameplate:
 * @text: the nameplate in a request's path
 *
 * Returns: whether @text is a nameplate (digits, no leading zero), with @number set
 */
gboolean
ferry_rendezvous_server_parse_nameplate (const char *text,
                                         guint      *number)
{
  guint64 value;
  gsize length = strlen (text);

  if (length == 0 || length > FERRY_RENDEZVOUS_MAX_NAMEPLATE_DIGITS || text[0] == '0')
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT, &value, NULL))
    return FALSE;

  *number = (guint) value;
  return TRUE;
}

/**
 * ferry_rendezvous_server_check_allocate_body:
 *
 * Returns: whether @data, the body of an allocation request, is a JSON object
 */
gboolean
ferry_rendezvous_server_check_allocate_body (const char *data,
                                             gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  /* Whitespace alone parses, with no root at all. */
  return json_parser_load_from_data (parser, data, len, NULL)
         && json_parser_get_root (parser) != NULL
         && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser));
}

static void
handle_allocate (FerryRendezvousServer *self,
                 SoupServerMessage     *msg)
{
  g_autofree char *address = client_address (self, msg);
  RequestBody *body = g_object_get_data (G_OBJECT (msg), BODY_DATA_KEY);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  gint64 now = g_get_monotonic_time ();
  AddressState *state;
  Mailbox *mailbox;

  if (self->reserved_only)
    {
      respond_error (msg, SOUP_STATUS_FORBIDDEN, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                     "This rendezvous serves one code and hands out none");
      return;
    }

  if (body != NULL && body->overflow)
    {
      respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                     "The request body is too large");
      return;
    }

  /* The body is optional; when there is one it must be a JSON object, so
   * that later versions can add members without confusing this one. */
  if (body != NULL && body->data->len > 0)
    {
      if (!ferry_rendezvous_server_check_allocate_body ((const char *) body->data->data,
                                                        body->data->len))
        {
          respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                         "The request body is not a JSON object");
          return;
        }
    }

  if (self->store != NULL)
    {
      store_allocate (self, msg, address);
      return;
    }

  state = address_state (self, address);
  address_window (state, now);

  if (state->allocations >= self->allocations_per_minute)
    {
      g_message ("limit client=%s error=%s", address, FERRY_RENDEZVOUS_ERR_RATE_LIMITED);
      respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                     FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                     "Too many codes were asked for; try again in a minute");
      return;
    }

  if (state->live_mailboxes >= self->max_mailboxes_per_address)
    {
      g_message ("limit client=%s error=%s", address, FERRY_RENDEZVOUS_ERR_TOO_MANY_MAILBOXES);
      respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                     FERRY_RENDEZVOUS_ERR_TOO_MANY_MAILBOXES,
                     "Too many codes are in use from this address");
      return;
    }

  if (g_hash_table_size (self->mailboxes) >= self->max_mailboxes)
    {
      g_message ("limit client=%s error=%s", address, FERRY_RENDEZVOUS_ERR_FULL);
      respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, FERRY_RENDEZVOUS_ERR_FULL,
                     "The server is full; try again later");
      return;
    }

  state->allocations++;
  state->live_mailboxes++;

  mailbox = g_new0 (Mailbox, 1);
  mailbox->server = self;
  mailbox->number = lowest_free_number (self);
  mailbox->nameplate = g_strdup_printf ("%u", mailbox->number);
  mailbox->owner = g_strdup (address);
  g_queue_init (&mailbox->queue);
  mailbox->expire_id = g_timeout_add_seconds (self->mailbox_ttl, mailbox_expire_cb, mailbox);
  mailbox->expires_at = now + (gint64) self->mailbox_ttl * G_USEC_PER_SEC;
  g_hash_table_insert (self->mailboxes, GUINT_TO_POINTER (mailbox->number), mailbox);

  g_message ("allocate nameplate=%s client=%s", mailbox->nameplate, address);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "nameplate");
  json_builder_add_string_value (builder, mailbox->nameplate);
  json_builder_set_member_name (builder, "expires_in");
  json_builder_add_int_value (builder, self->mailbox_ttl);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  respond_json_node (msg, SOUP_STATUS_CREATED, root);
}

/* Decides about an upgrade before libsoup answers the handshake: every
 * refusal here is an HTTP answer with a JSON body. */
static void
handle_join (FerryRendezvousServer *self,
             SoupServerMessage     *msg,
             const char            *nameplate)
{
  const char *protocols[] = { FERRY_RENDEZVOUS_WS_PROTOCOL, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *address = client_address (self, msg);
  AddressState *state;
  Mailbox *mailbox;
  char *token;
  guint number;

  if (self->store != NULL)
    {
      if (!ferry_rendezvous_server_parse_nameplate (nameplate, &number))
        respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                       "A nameplate is a number");
      else if (!soup_websocket_server_check_handshake (msg, NULL, (char **) protocols, NULL,
                                                       &error))
        respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                       "A mailbox is joined with a WebSocket handshake");
      else
        store_join (self, msg, address, number);
      return;
    }

  /* Nameplates are small numbers: without this a script could walk
   * through all of them and sit in every mailbox it finds. */
  state = address_state (self, address);
  address_window (state, g_get_monotonic_time ());
  if (state->joins >= self->joins_per_minute)
    {
      g_message ("limit client=%s error=%s join", address, FERRY_RENDEZVOUS_ERR_RATE_LIMITED);
      respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                     FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                     "Too many codes were tried; try again in a minute");
      return;
    }
  state->joins++;

  if (!ferry_rendezvous_server_parse_nameplate (nameplate, &number))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                     "A nameplate is a number");
      return;
    }

  mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (number));
  if (mailbox == NULL)
    {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, FERRY_RENDEZVOUS_ERR_NOT_FOUND,
                     "No such code; it may have expired");
      return;
    }

  if (!soup_websocket_server_check_handshake (msg, NULL, (char **) protocols, NULL, &error))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                     "A mailbox is joined with a WebSocket handshake");
      return;
    }

  if (mailbox->n_joined >= G_N_ELEMENTS (mailbox->sides))
    {
      g_message ("crowded nameplate=%s client=%s", mailbox->nameplate, address);
      respond_error (msg, SOUP_STATUS_CONFLICT, FERRY_RENDEZVOUS_ERR_CROWDED,
                     "Two sides already use this code");
      return;
    }

  /* No extensions are offered: permessage-deflate would let a small frame
   * inflate past the size limit. */
  if (!soup_websocket_server_process_handshake (msg, NULL, (char **) protocols, NULL, NULL))
    {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                     "A mailbox is joined with a WebSocket handshake");
      return;
    }
  token = new_token ();
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                FERRY_RENDEZVOUS_HEADER_TOKEN, token);
  g_object_set_data_full (G_OBJECT (msg), TOKEN_DATA_KEY, token, g_free);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (upgrade_cb), self, 0);
}

/* coturn's use-auth-secret scheme: the username carries its expiry and
 * the password is an HMAC of it, so coturn can check it without talking to
 * us. */
static void
add_turn_credential (FerryRendezvousServer *self,
                     JsonBuilder           *builder,
                     guint                  ttl)
{
  gint64 expiry = g_get_real_time () / G_USEC_PER_SEC + ttl;
  g_autofree char *username = g_strdup_printf ("%" G_GINT64_FORMAT ":ferry", expiry);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) self->turn_secret,
                                      strlen (self->turn_secret));
  guint8 digest[20];
  gsize digest_len = sizeof digest;
  g_autofree char *credential = NULL;

  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  credential = g_base64_encode (digest, digest_len);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "urls");
  json_builder_begin_array (builder);
  for (guint i = 0; self->turn_uris[i] != NULL; i++)
    json_builder_add_string_value (builder, self->turn_uris[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "username");
  json_builder_add_string_value (builder, username);
  json_builder_set_member_name (builder, "credential");
  json_builder_add_string_value (builder, credential);
  json_builder_set_member_name (builder, "ttl");
  json_builder_add_int_value (builder, ttl);
  json_builder_end_object (builder);
}

/* Counts one /v1/ice request against its window; FALSE past the limit. */
static gboolean
ice_allowed (FerryRendezvousServer *self,
             gint64                *window_start,
             guint                 *requests)
{
  gint64 now = g_get_monotonic_time ();

  if (now - *window_start >= ALLOCATION_WINDOW_US)
    {
      *window_start = now;
      *requests = 0;
    }
  if (*requests >= self->ice_per_minute)
    return FALSE;
  (*requests)++;
  return TRUE;
}

/* The side a "Bearer" token names, or NULL (with the answer given) when
 * there is a token but it names no side in a live mailbox. @found tells
 * whether there was a token at all. */
static Side *
ice_side (FerryRendezvousServer *self,
          SoupServerMessage     *msg,
          gboolean              *found)
{
  const char *authorization = soup_message_headers_get_one (
    soup_server_message_get_request_headers (msg), "Authorization");
  Side *side;

  *found = authorization != NULL;
  if (authorization == NULL)
    return NULL;

  side = g_str_has_prefix (authorization, "Bearer ") ?
         g_hash_table_lookup (self->tokens, authorization + strlen ("Bearer ")) : NULL;
  if (side == NULL || (side->mailbox == NULL && !side->in_store) || side->closing)
    {
      respond_error (msg, SOUP_STATUS_FORBIDDEN, FERRY_RENDEZVOUS_ERR_FORBIDDEN,
                     "TURN credentials are only for a side inside a live mailbox");
      return NULL;
    }

  return side;
}

static void
handle_ice (FerryRendezvousServer *self,
            SoupServerMessage     *msg)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *address = client_address (self, msg);
  gboolean has_token = FALSE;
  Side *side = ice_side (self, msg, &has_token);
  gboolean allowed;

  if (has_token && side == NULL)
    return;

  /* A relay credential is worth abusing, so it goes only to a side in a
   * mailbox; STUN servers are public anyway, but the answer costs us. */
  if (side != NULL)
    allowed = ice_allowed (self, &side->ice_window_start, &side->ice_requests);
  else
    {
      AddressState *state = address_state (self, address);

      address_window (state, g_get_monotonic_time ());
      allowed = ice_allowed (self, &state->window_start, &state->ice_requests);
    }
  if (!allowed)
    {
      g_message ("limit client=%s error=%s ice", address, FERRY_RENDEZVOUS_ERR_RATE_LIMITED);
      respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                     FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                     "Too many ICE requests; try again in a minute");
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "stun");
  json_builder_begin_array (builder);
  for (guint i = 0; self->stun_uris != NULL && self->stun_uris[i] != NULL; i++)
    json_builder_add_string_value (builder, self->stun_uris[i]);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "turn");
  json_builder_begin_array (builder);
  if (side != NULL && self->turn_secret != NULL && self->turn_uris != NULL &&
      self->turn_uris[0] != NULL)
    {
      /* No longer than the mailbox lives: the session that needs the
       * relay holds the mailbox, and asks again while it does. */
      gint64 expires_at = side->mailbox != NULL ? side->mailbox->expires_at : side->expires_at;
      gint64 left = (expires_at - g_get_monotonic_time () + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;

      add_turn_credential (self, builder, (guint) CLAMP (left, 1, (gint64) self->turn_ttl));
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  respond_json_node (msg, SOUP_STATUS_OK, root);
}

static void
method_not_allowed (SoupServerMessage *msg,
                    const char        *allow)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
  respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, FERRY_RENDEZVOUS_ERR_METHOD,
                 "This method is not allowed here");
}

static void
handle_request_cb (SoupServer        *server,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           user_data)
{
  FerryRendezvousServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD;
  const char *prefix = FERRY_RENDEZVOUS_PATH_NAMEPLATES "/";

  if (g_str_equal (path, FERRY_RENDEZVOUS_PATH_HEALTH))
    {
      g_autoptr(JsonBuilder) builder = NULL;
      g_autoptr(JsonNode) root = NULL;

      if (!get)
        {
          method_not_allowed (msg, "GET, HEAD");
          return;
        }

      gboolean up = self->store == NULL || ferry_redis_store_is_connected (self->store);

      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, up ? "ok" : "unavailable");
      /* Where nameplates and mailboxes live, and whether it answers: a
       * load balancer takes an instance without its store out. */
      json_builder_set_member_name (builder, "backend");
      json_builder_add_string_value (builder, self->store != NULL ? "redis" : "memory");
      if (self->store != NULL)
        {
          json_builder_set_member_name (builder, "store");
          json_builder_add_string_value (builder, up ? "connected" : "disconnected");
        }
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      respond_json_node (msg, up ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, root);
    }
  else if (g_str_equal (path, FERRY_RENDEZVOUS_PATH_NAMEPLATES))
    {
      if (method != SOUP_METHOD_POST)
        {
          method_not_allowed (msg, "POST");
          return;
        }
      handle_allocate (self, msg);
    }
  else if (g_str_has_prefix (path, prefix) && strchr (path + strlen (prefix), '/') == NULL)
    {
      if (method != SOUP_METHOD_GET)
        {
          method_not_allowed (msg, "GET");
          return;
        }
      handle_join (self, msg, path + strlen (prefix));
    }
  else if (g_str_equal (path, FERRY_RENDEZVOUS_PATH_ICE))
    {
      if (!get)
        {
          method_not_allowed (msg, "GET, HEAD");
          return;
        }
      handle_ice (self, msg);
    }
  else
    {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, FERRY_RENDEZVOUS_ERR_NOT_FOUND,
                     "There is nothing here");
    }
}

static gboolean
side_first_cb (gpointer user_data)
{
  Side *side = user_data;

  side->first_id = 0;
  side_limit (side, SOUP_STATUS_REQUEST_TIMEOUT, FERRY_RENDEZVOUS_ERR_IDLE,
              "No message came after the join");
  return G_SOURCE_REMOVE;
}

static void
side_join (FerryRendezvousServer   *self,
           const char              *address,
           const char              *token,
           const char              *path,
           StoreJoin               *join,
           SoupWebsocketConnection *conn)
{
  const char *nameplate = path + strlen (FERRY_RENDEZVOUS_PATH_NAMEPLATES "/");
  Mailbox *mailbox = NULL;
  Side *side;
  guint number;

  side = g_new0 (Side, 1);
  g_ref_count_init (&side->ref);
  side->server = self;
  side->conn = g_object_ref (conn);
  side->address = g_strdup (address != NULL ? address : "unknown");
  side->server_tokens = g_hash_table_ref (self->tokens);
  side_heard (side);

  g_signal_connect (conn, "message", G_CALLBACK (side_message_cb), side);
  g_signal_connect (conn, "pong", G_CALLBACK (side_pong_cb), side);
  g_signal_connect (conn, "error", G_CALLBACK (side_error_cb), side);
  g_signal_connect (conn, "closing", G_CALLBACK (side_closing_cb), side);
  g_signal_connect (conn, "closed", G_CALLBACK (side_closed_cb), side);

  soup_websocket_connection_set_max_incoming_payload_size (conn, self->max_message_size);

  if (join != NULL)
    {
      if (token != NULL)
        {
          side->token = g_strdup (token);
          g_hash_table_insert (self->tokens, side->token, side);
        }
      store_side_join (self, side, join);
      return;
    }

  /* handle_join() checked this, but another side may have won the race
   * between that check and the end of the handshake. */
  if (ferry_rendezvous_server_parse_nameplate (nameplate, &number))
    mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (number));
  if (mailbox == NULL)
    {
      side_close (side, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_NOT_FOUND,
                  FERRY_RENDEZVOUS_ERR_NOT_FOUND, "No such code; it may have expired");
      return;
    }
  if (mailbox->n_joined >= G_N_ELEMENTS (mailbox->sides))
    {
      side_close (side, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_CONFLICT,
                  FERRY_RENDEZVOUS_ERR_CROWDED, "Two sides already use this code");
      return;
    }

  side->index = mailbox->left[0] || mailbox->sides[0] != NULL ? 1 : 0;
  side->mailbox = mailbox;
  mailbox->sides[side->index] = side;
  mailbox->n_joined++;
  g_message ("join nameplate=%s client=%s side=%u", mailbox->nameplate, side->address,
             side->index);

  /* Pings make live clients answer even when they have nothing to say.
   * libsoup pings on a whole-second timer, so the first one may take up to
   * two seconds: hence at least three per timeout, and a minimum of 3 s. */
  soup_websocket_connection_set_keepalive_interval (conn, MAX (1, self->idle_timeout / 3));
  side_schedule_idle (side);
  side->first_id = g_timeout_add_seconds (self->first_message_timeout, side_first_cb, side);
  if (token != NULL)
    {
      side->token = g_strdup (token);
      g_hash_table_insert (self->tokens, side->token, side);
    }

  /* Deliver, in order, what the other side left before this one came. */
  while (!g_queue_is_empty (&mailbox->queue))
    {
      QueuedMessage *queued = g_queue_pop_head (&mailbox->queue);

      g_assert (queued->from != side->index);
      soup_websocket_connection_send_message (conn, queued->type, queued->data);
      queued_message_free (queued);
    }

  if (mailbox->left[1 - side->index])
    side_close (side, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED,
                "The other side left");
}

/* Takes the connection over from libsoup once the 101 answer is out, as
 * soup_server_add_websocket_handler() would, but with the client's bytes
 * going through a FerryMessageSizeLimitStream: libsoup 3.2 caps single frames
 * only, and would gather a message of many fragments without limit. */
static void
upgrade_cb (SoupServerMessage *msg,
            gpointer           user_data)
{
  FerryRendezvousServer *self = user_data;
  g_autoptr(SoupServerMessage) keep = g_object_ref (msg);
  g_autofree char *address = client_address (self, msg);
  g_autofree char *token = g_strdup (g_object_get_data (G_OBJECT (msg), TOKEN_DATA_KEY));
  g_autoptr(GUri) uri = g_uri_ref (soup_server_message_get_uri (msg));
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GIOStream) guarded = NULL;
  g_autoptr(SoupWebsocketConnection) conn = NULL;

  g_signal_handlers_disconnect_by_func (msg, upgrade_cb, user_data);

  stream = soup_server_message_steal_connection (msg);
  guarded = ferry_message_size_limit_stream_new (stream, self->max_message_size);
  conn = soup_websocket_connection_new (guarded, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
                                        soup_message_headers_get_one (
                                          soup_server_message_get_request_headers (msg),
                                          "Origin"),
                                        FERRY_RENDEZVOUS_WS_PROTOCOL, NULL);
  side_join (self, address, token, g_uri_get_path (uri),
             g_object_get_data (G_OBJECT (msg), JOIN_DATA_KEY), conn);
}

/* Keeps request bodies bounded: libsoup would otherwise gather any amount. */
static void
request_body_free (RequestBody *body)
{
  g_byte_array_unref (body->data);
  g_free (body);
}

static void
got_chunk_cb (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  RequestBody *body = user_data;
  gsize size = g_bytes_get_size (chunk);

  if (body->overflow || body->data->len + size > FERRY_RENDEZVOUS_MAX_REQUEST_BODY)
    {
      body->overflow = TRUE;
      return;
    }
  g_byte_array_append (body->data, g_bytes_get_data (chunk, NULL), size);
}

static void
early_handler_cb (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  RequestBody *body;

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > FERRY_RENDEZVOUS_MAX_REQUEST_BODY)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Connection", "close");
      respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                     "The request body is too large");
    }

  body = g_new0 (RequestBody, 1);
  body->data = g_byte_array_new ();
  g_object_set_data_full (G_OBJECT (msg), BODY_DATA_KEY, body,
                          (GDestroyNotify) request_body_free);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), body);
}

/* A client that trickles a request byte by byte would hold its connection
 * forever; libsoup 3.2 has no timeout for reading a request, so cut the
 * socket ourselves. */
static gboolean
request_timeout_cb (gpointer user_data)
{
  SoupServerMessage *msg = user_data;
  GSocket *socket = soup_server_message_get_socket (msg);
  const char *address = soup_server_message_get_remote_host (msg);

  g_message ("limit client=%s error=request-timeout", address != NULL ? address : "unknown");
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
source_destroy_and_unref (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

static void
request_started_cb (SoupServer        *server,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  FerryRendezvousServer *self = user_data;
  GSource *timer = g_timeout_source_new_seconds (self->request_timeout);

  /* The timer lives no longer than the message it watches. */
  g_source_set_callback (timer, request_timeout_cb, msg, NULL);
  g_source_attach (timer, NULL);
  g_object_set_data_full (G_OBJECT (msg), TIMER_DATA_KEY, timer,
                          (GDestroyNotify) source_destroy_and_unref);
}

/* libsoup answers some broken requests itself, with an empty body; give
 * those the same JSON error shape as ours. */
static void
request_read_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  guint status = soup_server_message_get_status (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);

  g_object_set_data (G_OBJECT (msg), TIMER_DATA_KEY, NULL);
  if (status >= 400 && body->length == 0)
    respond_error (msg, status, ferry_rendezvous_error_name_for_status (status),
                   soup_status_get_phrase (status));
}

/* A shared store ------------------------------------------------------- */

/* With --redis, the mailbox of a side is in Redis and this instance only
 * holds its connection: what it sends is appended there, and an event on
 * the store's channel tells the instance of the other side to read it. */

static char *
store_side_key (guint number,
                guint index)
{
  return g_strdup_printf ("%u:%u", number, index);
}

static Side *
store_lookup (FerryRendezvousServer *self,
              guint                  number,
              const char            *generation,
              guint                  index)
{
  g_autofree char *key = store_side_key (number, index);
  Side *side = g_hash_table_lookup (self->store_sides, key);

  if (side == NULL || !side->in_store || g_strcmp0 (side->generation, generation) != 0)
    return NULL;
  return side;
}

static void
store_forget (Side *side)
{
  FerryRendezvousServer *self = side->server;
  g_autofree char *key = store_side_key (side->number, side->index);

  if (g_hash_table_lookup (self->store_sides, key) == side)
    g_hash_table_remove (self->store_sides, key);
  side->in_store = FALSE;
  g_clear_handle_id (&side->expire_id, g_source_remove);
  side_detach (side);
}

static void
store_lost (Side *side)
{
  g_message ("store-error nameplate=%u client=%s", side->number, side->address);
  store_forget (side);
  side_close (side, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_SERVICE_UNAVAILABLE,
              FERRY_RENDEZVOUS_ERR_INTERNAL, "The server lost its shared store");
}

static void store_fetch (Side *side);

static void
fetch_cb (FerryRedisStore *store,
          GPtrArray       *items,
          const GError    *error,
          gpointer         user_data)
{
  Side *side = user_data;

  side->fetching = FALSE;
  if (side->freed || !side->in_store || side->closing)
    goto out;
  if (error != NULL)
    {
      store_lost (side);
      goto out;
    }

  for (guint i = 0; i < items->len; i++)
    {
      GBytes *item = items->pdata[i];
      gsize size = g_bytes_get_size (item);
      const guint8 *data = g_bytes_get_data (item, NULL);
      g_autoptr(GBytes) payload = g_bytes_new_from_bytes (item, 1, size - 1);

      soup_websocket_connection_send_message (side->conn,
                                              data[0] == SOUP_WEBSOCKET_DATA_TEXT ?
                                              SOUP_WEBSOCKET_DATA_TEXT :
                                              SOUP_WEBSOCKET_DATA_BINARY,
                                              payload);
      side->received++;
    }

  if (side->fetch_again)
    {
      side->fetch_again = FALSE;
      store_fetch (side);
    }
  else if (side->peer_left)
    {
      /* Everything the other side sent is out: now tell this one. Its
       * leave frees the mailbox. */
      side_close (side, SOUP_WEBSOCKET_CLOSE_NORMAL, FERRY_RENDEZVOUS_ERR_CLOSED,
                  "The other side left");
    }

out:
  side_unref (side);
}

/* One read at a time, so messages go out in the order they were queued. */
static void
store_fetch (Side *side)
{
  if (side->fetching)
    {
      side->fetch_again = TRUE;
      return;
    }
  side->fetching = TRUE;
  ferry_redis_store_fetch (side->server->store, side->number, side->index, side->received,
                           fetch_cb, side_ref (side));
}

static void
store_event_cb (FerryRedisStore *store,
                guint            number,
                const char      *generation,
                const char      *kind,
                guint            index,
                gpointer         user_data)
{
  FerryRendezvousServer *self = user_data;
  Side *side;

  if (g_str_equal (kind, "m") && (side = store_lookup (self, number, generation, index)) != NULL)
    {
      store_fetch (side);
    }
  else if (g_str_equal (kind, "l") &&
           (side = store_lookup (self, number, generation, 1 - index)) != NULL)
    {
      side->peer_left = TRUE;
      store_fetch (side);
    }
  else if (g_str_equal (kind, "b"))
    {
      for (guint i = 0; i < 2; i++)
        {
          if ((side = store_lookup (self, number, generation, i)) == NULL)
            continue;
          store_forget (side);
          /* As mailbox_free(): the side that made the code hears why. */
          side_close (side, FERRY_RENDEZVOUS_CLOSE_BAD_CODE, FERRY_RENDEZVOUS_ERR_BAD_CODE,
                      i == 0 ? "Someone else tried this code" :
                      "The other side used a wrong code");
        }
    }
}

static void
store_connected_cb (FerryRedisStore *store,
                    GParamSpec      *pspec,
                    gpointer         user_data)
{
  FerryRendezvousServer *self = user_data;
  g_autoptr(GList) sides = NULL;

  if (ferry_redis_store_is_connected (store))
    return;

  /* Whatever the sides wait for may be gone with the store: say so now
   * rather than leave them hanging. */
  sides = g_hash_table_get_values (self->store_sides);
  for (GList *l = sides; l != NULL; l = l->next)
    store_lost (l->data);
}

static void
leave_cb (FerryRedisStore *store,
          GStrv            reply,
          const GError    *error,
          gpointer         user_data)
{
  if (error != NULL)
    g_message ("store-error leave: %s", error->message);
}

typedef struct
{
  FerryRedisStore *store;
  guint            number;
  guint            index;
  char            *generation;
  char            *epoch;
} LateLeave;

static void
late_leave_free (LateLeave *late)
{
  g_object_unref (late->store);
  g_free (late->generation);
  g_free (late->epoch);
  g_free (late);
}

/* Unless the side came back (with a new epoch), it left for good. */
static gboolean
late_leave_cb (gpointer user_data)
{
  LateLeave *late = user_data;

  ferry_redis_store_leave (late->store, late->number, late->generation, late->index,
                           late->epoch, FALSE, leave_cb, NULL);
  return G_SOURCE_REMOVE;
}

static void
store_side_leave (Side    *side,
                  gushort  code)
{
  FerryRendezvousServer *self = side->server;
  gboolean burn = code == FERRY_RENDEZVOUS_CLOSE_BAD_CODE && !side->closing;

  store_forget (side);

  /* A connection that dropped without a close frame (an instance or a
   * network died) may come back with its token: it leaves only if it has
   * not after an idle timeout. */
  if (!side->close_started && !side->closing)
    {
      LateLeave *late = g_new0 (LateLeave, 1);

      late->store = g_object_ref (self->store);
      late->number = side->number;
      late->index = side->index;
      late->generation = g_strdup (side->generation);
      late->epoch = g_strdup (side->epoch);
      g_message ("drop nameplate=%u client=%s side=%u", side->number, side->address,
                 side->index);
      g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, self->idle_timeout, late_leave_cb, late,
                                  (GDestroyNotify) late_leave_free);
      return;
    }

  g_message ("%s nameplate=%u client=%s code=%u", burn ? "burn" : "leave", side->number,
             side->address, code);
  ferry_redis_store_leave (self->store, side->number, side->generation, side->index,
                           side->epoch, burn, leave_cb, NULL);
}

static void
append_cb (FerryRedisStore *store,
           GStrv            reply,
           const GError    *error,
           gpointer         user_data)
{
  Side *side = user_data;

  if (side->freed || !side->in_store)
    goto out;
  if (error != NULL)
    store_lost (side);
  else if (g_str_equal (reply[0], "stale"))
    side_limit (side, SOUP_STATUS_CONFLICT, FERRY_RENDEZVOUS_ERR_CROWDED,
                "This side joined again on another connection");
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "bytes") == 0)
    side_limit (side, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES, "The mailbox carried too much");
  else if (g_str_equal (reply[0], "err"))
    side_limit (side, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES,
                "Too many messages wait for the other side");

out:
  side_unref (side);
}

static void
store_side_message (Side   *side,
                    gint    type,
                    GBytes *message)
{
  FerryRendezvousServer *self = side->server;

  if (g_bytes_get_size (message) > self->max_message_size)
    {
      side_limit (side, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                  "The message is too large");
      return;
    }
  /* One connection to Redis runs the scripts in the order they were sent. */
  ferry_redis_store_append (self->store, side->number, side->generation, side->index,
                            side->epoch, (guint8) type, message, self->max_queued_messages,
                            self->max_mailbox_bytes, append_cb, side_ref (side));
}

static gboolean
store_expire_cb (gpointer user_data)
{
  Side *side = user_data;

  side->expire_id = 0;
  g_message ("expire nameplate=%u client=%s", side->number, side->address);
  side_close (side, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_GONE,
              FERRY_RENDEZVOUS_ERR_EXPIRED, "The code expired");
  return G_SOURCE_REMOVE;
}

static void
store_side_join (FerryRendezvousServer *self,
                 Side                  *side,
                 StoreJoin             *join)
{
  g_autofree char *key = store_side_key (join->number, join->index);
  Side *old = g_hash_table_lookup (self->store_sides, key);

  /* The same side came back here while its old connection lingers. */
  if (old != NULL)
    {
      store_forget (old);
      side_close (old, FERRY_RENDEZVOUS_CLOSE_BASE + SOUP_STATUS_CONFLICT,
                  FERRY_RENDEZVOUS_ERR_CROWDED, "This side joined again on another connection");
    }

  side->in_store = TRUE;
  side->number = join->number;
  side->index = join->index;
  side->generation = g_strdup (join->generation);
  side->epoch = g_strdup (join->epoch);
  side->received = join->received;
  side->peer_left = join->other_left;
  side->expires_at = g_get_monotonic_time () + join->ms_left * 1000;
  side->expire_id = g_timeout_add ((guint) CLAMP (join->ms_left, 1, G_MAXINT), store_expire_cb,
                                   side);
  g_hash_table_insert (self->store_sides, g_steal_pointer (&key), side);
  g_message ("join nameplate=%u client=%s side=%u epoch=%s", side->number, side->address,
             side->index, side->epoch);

  soup_websocket_connection_set_keepalive_interval (side->conn, MAX (1, self->idle_timeout / 3));
  side_schedule_idle (side);
  /* A side that came back has had its first message already. */
  if (g_str_equal (side->epoch, "1"))
    side->first_id = g_timeout_add_seconds (self->first_message_timeout, side_first_cb, side);

  store_fetch (side);
}

static void
store_unavailable (SoupServerMessage *msg)
{
  respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, FERRY_RENDEZVOUS_ERR_INTERNAL,
                 "The server cannot reach its store; try again later");
}

static void
allocate_cb (FerryRedisStore *store,
             GStrv            reply,
             const GError    *error,
             gpointer         user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  FerryRendezvousServer *self = g_object_get_data (G_OBJECT (msg), "ferry-server");
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (error != NULL)
    store_unavailable (msg);
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "rate-limited") == 0)
    respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                   FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                   "Too many codes were asked for; try again in a minute");
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "too-many-mailboxes") == 0)
    respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                   FERRY_RENDEZVOUS_ERR_TOO_MANY_MAILBOXES,
                   "Too many codes are in use from this address");
  else if (g_str_equal (reply[0], "err"))
    respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, FERRY_RENDEZVOUS_ERR_FULL,
                   "The server is full; try again later");
  else if (g_strv_length (reply) < 2)
    store_unavailable (msg);
  else
    {
      g_message ("allocate nameplate=%s", reply[1]);
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "nameplate");
      json_builder_add_string_value (builder, reply[1]);
      json_builder_set_member_name (builder, "expires_in");
      json_builder_add_int_value (builder, self->mailbox_ttl);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      respond_json_node (msg, SOUP_STATUS_CREATED, root);
    }
  soup_server_message_unpause (msg);
}

static void
store_allocate (FerryRendezvousServer *self,
                SoupServerMessage     *msg,
                const char            *address)
{
  g_object_set_data (G_OBJECT (msg), "ferry-server", self);
  soup_server_message_pause (msg);
  ferry_redis_store_allocate (self->store, address, self->mailbox_ttl,
                              self->max_mailboxes_per_address, self->allocations_per_minute,
                              self->max_mailboxes, allocate_cb, g_object_ref (msg));
}

static void
store_join_free (StoreJoin *join)
{
  g_free (join->generation);
  g_free (join->epoch);
  g_free (join);
}

static void
join_cb (FerryRedisStore *store,
         GStrv            reply,
         const GError    *error,
         gpointer         user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  FerryRendezvousServer *self = g_object_get_data (G_OBJECT (msg), "ferry-server");
  const char *protocols[] = { FERRY_RENDEZVOUS_WS_PROTOCOL, NULL };
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *wanted = soup_message_headers_get_one (
    soup_server_message_get_request_headers (msg), FERRY_RENDEZVOUS_HEADER_RECEIVED);
  guint64 index, ms_left, sent, received = 0;
  StoreJoin *join;

  if (error != NULL)
    store_unavailable (msg);
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "rate-limited") == 0)
    respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                   FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                   "Too many codes were tried; try again in a minute");
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "crowded") == 0)
    respond_error (msg, SOUP_STATUS_CONFLICT, FERRY_RENDEZVOUS_ERR_CROWDED,
                   "Two sides already use this code");
  else if (g_str_equal (reply[0], "err") || g_strv_length (reply) < 8 ||
           !g_ascii_string_to_unsigned (reply[1], 10, 0, 1, &index, NULL) ||
           !g_ascii_string_to_unsigned (reply[6], 10, 0, G_MAXINT, &ms_left, NULL) ||
           !g_ascii_string_to_unsigned (reply[7], 10, 0, G_MAXUINT, &sent, NULL))
    respond_error (msg, SOUP_STATUS_NOT_FOUND, FERRY_RENDEZVOUS_ERR_NOT_FOUND,
                   "No such code; it may have expired");
  /* What the client says it got is its word: no more than there is. */
  else if (wanted != NULL &&
           !g_ascii_string_to_unsigned (wanted, 10, 0, G_MAXUINT, &received, NULL))
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                   "Ferry-Received is a count");
  else if (!soup_websocket_server_process_handshake (msg, NULL, (char **) protocols, NULL,
                                                     NULL))
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                   "A mailbox is joined with a WebSocket handshake");
  else
    {
      g_autofree char *count = g_strdup_printf ("%" G_GUINT64_FORMAT, sent);

      join = g_new0 (StoreJoin, 1);
      join->number = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (msg), "ferry-number"));
      join->index = (guint) index;
      join->generation = g_strdup (reply[2]);
      join->epoch = g_strdup (reply[4]);
      join->other_left = g_str_equal (reply[5], "1");
      join->ms_left = (gint64) ms_left;
      join->received = (guint) received;
      g_object_set_data_full (G_OBJECT (msg), JOIN_DATA_KEY, join,
                              (GDestroyNotify) store_join_free);
      soup_message_headers_replace (headers, FERRY_RENDEZVOUS_HEADER_TOKEN, reply[3]);
      soup_message_headers_replace (headers, FERRY_RENDEZVOUS_HEADER_RECEIVED, count);
      g_object_set_data_full (G_OBJECT (msg), TOKEN_DATA_KEY, g_strdup (reply[3]), g_free);
      g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (upgrade_cb), self, 0);
    }
  soup_server_message_unpause (msg);
}

static void
store_join (FerryRendezvousServer *self,
            SoupServerMessage     *msg,
            const char            *address,
            guint                  number)
{
  const char *resume = soup_message_headers_get_one (
    soup_server_message_get_request_headers (msg), FERRY_RENDEZVOUS_HEADER_RESUME);
  g_autofree char *token = new_token ();

  /* Tokens are ours: anything else cannot name a side. */
  if (resume != NULL && (strlen (resume) != 2 * TOKEN_BYTES ||
                         strspn (resume, "0123456789abcdef") != 2 * TOKEN_BYTES))
    resume = "-";

  g_object_set_data (G_OBJECT (msg), "ferry-server", self);
  g_object_set_data (G_OBJECT (msg), "ferry-number", GUINT_TO_POINTER (number));
  soup_server_message_pause (msg);
  ferry_redis_store_join (self->store, number, address, token, resume, self->joins_per_minute,
                          join_cb, g_object_ref (msg));
}

/* GObject -------------------------------------------------------------- */

static void
ferry_rendezvous_server_dispose (GObject *object)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);
  g_autoptr(GList) mailboxes = g_hash_table_get_values (self->mailboxes);

  for (GList *l = mailboxes; l != NULL; l = l->next)
    mailbox_free (l->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, FERRY_RENDEZVOUS_ERR_INTERNAL,
                  "The server is shutting down");

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (ferry_rendezvous_server_parent_class)->dispose (object);
}

static void
ferry_rendezvous_server_finalize (GObject *object)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);

  g_hash_table_unref (self->mailboxes);
  g_hash_table_unref (self->addresses);
  g_hash_table_unref (self->tokens);
  g_hash_table_unref (self->store_sides);
  g_clear_object (&self->trusted_proxy);
  g_free (self->turn_secret);
  g_strfreev (self->stun_uris);
  g_strfreev (self->turn_uris);

  G_OBJECT_CLASS (ferry_rendezvous_server_parent_class)->finalize (object);
}

static guint *
uint_field (FerryRendezvousServer *self,
            guint                  prop_id)
{
  switch (prop_id)
    {
    case PROP_MAILBOX_TTL: return &self->mailbox_ttl;
    case PROP_IDLE_TIMEOUT: return &self->idle_timeout;
    case PROP_MAX_MESSAGE_SIZE: return &self->max_message_size;
    case PROP_MAX_QUEUED_MESSAGES: return &self->max_queued_messages;
    case PROP_MAX_MAILBOXES_PER_ADDRESS: return &self->max_mailboxes_per_address;
    case PROP_ALLOCATIONS_PER_MINUTE: return &self->allocations_per_minute;
    case PROP_MAX_MAILBOXES: return &self->max_mailboxes;
    case PROP_TURN_TTL: return &self->turn_ttl;
    case PROP_REQUEST_TIMEOUT: return &self->request_timeout;
    case PROP_MAX_MAILBOX_BYTES: return &self->max_mailbox_bytes;
    case PROP_FIRST_MESSAGE_TIMEOUT: return &self->first_message_timeout;
    case PROP_JOINS_PER_MINUTE: return &self->joins_per_minute;
    case PROP_ICE_PER_MINUTE: return &self->ice_per_minute;
    default: return NULL;
    }
}

static void
ferry_rendezvous_server_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);
  guint *field = uint_field (self, prop_id);

  if (field != NULL)
    {
      g_value_set_uint (value, *field);
      return;
    }

  switch (prop_id)
    {
    case PROP_TURN_SECRET:
      g_value_set_string (value, self->turn_secret);
      break;
    case PROP_STUN_URIS:
      g_value_set_boxed (value, self->stun_uris);
      break;
    case PROP_TURN_URIS:
      g_value_set_boxed (value, self->turn_uris);
      break;
    case PROP_TRUSTED_PROXY:
      g_value_take_string (value, self->trusted_proxy != NULL ?
                           g_inet_address_to_string (self->trusted_proxy) : NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_rendezvous_server_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);
  guint *field = uint_field (self, prop_id);

  if (field != NULL)
    {
      if (*field != g_value_get_uint (value))
        {
          *field = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      return;
    }

  switch (prop_id)
    {
    case PROP_TURN_SECRET:
      if (g_strcmp0 (self->turn_secret, g_value_get_string (value)) != 0)
        {
          g_free (self->turn_secret);
          self->turn_secret = g_value_dup_string (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_STUN_URIS:
      g_strfreev (self->stun_uris);
      self->stun_uris = g_value_dup_boxed (value);
      g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_TURN_URIS:
      g_strfreev (self->turn_uris);
      self->turn_uris = g_value_dup_boxed (value);
      g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_TRUSTED_PROXY:
      g_clear_object (&self->trusted_proxy);
      if (g_value_get_string (value) != NULL)
        self->trusted_proxy = g_inet_address_new_from_string (g_value_get_string (value));
      g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
uint_param (const char *name,
            const char *blurb,
            guint       minimum,
            guint       maximum,
            guint       value)
{
  return g_param_spec_uint (name, NULL, blurb, minimum, maximum, value,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                            G_PARAM_EXPLICIT_NOTIFY);
}

static void
ferry_rendezvous_server_class_init (FerryRendezvousServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_rendezvous_server_dispose;
  object_class->finalize = ferry_rendezvous_server_finalize;
  object_class->get_property = ferry_rendezvous_server_get_property;
  object_class->set_property = ferry_rendezvous_server_set_property;

  properties[PROP_TURN_SECRET] =
    g_param_spec_string ("turn-secret", NULL, "coturn static-auth-secret, or NULL for no TURN",
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STUN_URIS] =
    g_param_spec_boxed ("stun-uris", NULL, "STUN server URIs handed to clients", G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TURN_URIS] =
    g_param_spec_boxed ("turn-uris", NULL, "TURN server URIs handed to clients", G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAILBOX_TTL] =
    uint_param ("mailbox-ttl", "Seconds a mailbox lives", 1, G_MAXINT / 1000,
                FERRY_RENDEZVOUS_DEFAULT_MAILBOX_TTL);
  properties[PROP_IDLE_TIMEOUT] =
    uint_param ("idle-timeout", "Seconds a silent side is kept", 3, G_MAXINT / 1000,
                FERRY_RENDEZVOUS_DEFAULT_IDLE_TIMEOUT);
  properties[PROP_MAX_MESSAGE_SIZE] =
    uint_param ("max-message-size", "Largest message in bytes", 1, 64 * 1024 * 1024,
                FERRY_RENDEZVOUS_DEFAULT_MAX_MESSAGE_SIZE);
  properties[PROP_MAX_QUEUED_MESSAGES] =
    uint_param ("max-queued-messages", "Messages kept for a side not joined yet", 0, 65536,
                FERRY_RENDEZVOUS_DEFAULT_MAX_QUEUED_MESSAGES);
  properties[PROP_MAX_MAILBOXES_PER_ADDRESS] =
    uint_param ("max-mailboxes-per-address", "Live mailboxes one address may own", 1, G_MAXUINT,
                FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES_PER_ADDR);
  properties[PROP_ALLOCATIONS_PER_MINUTE] =
    uint_param ("allocations-per-minute", "Nameplates one address may ask for per minute", 1,
                G_MAXUINT, FERRY_RENDEZVOUS_DEFAULT_ALLOCATIONS_PER_MINUTE);
  properties[PROP_MAX_MAILBOXES] =
    uint_param ("max-mailboxes", "Live mailboxes in all",
                1, FERRY_RENDEZVOUS_MAX_SERVER_NAMEPLATE,
                FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES);
  properties[PROP_TURN_TTL] =
    uint_param ("turn-ttl", "Seconds a TURN credential is valid", 60, G_MAXINT,
                FERRY_RENDEZVOUS_DEFAULT_TURN_TTL);
  properties[PROP_REQUEST_TIMEOUT] =
    uint_param ("request-timeout", "Seconds a client may take to send one request", 1,
                G_MAXINT / 1000, FERRY_RENDEZVOUS_DEFAULT_REQUEST_TIMEOUT);
  properties[PROP_MAX_MAILBOX_BYTES] =
    uint_param ("max-mailbox-bytes", "Bytes one mailbox may carry in its life", 1, G_MAXUINT,
                FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOX_BYTES);

  properties[PROP_FIRST_MESSAGE_TIMEOUT] =
    uint_param ("first-message-timeout", "Seconds a joined side has for its first message", 1,
                G_MAXINT / 1000, FERRY_RENDEZVOUS_DEFAULT_FIRST_MESSAGE_TIMEOUT);
  properties[PROP_JOINS_PER_MINUTE] =
    uint_param ("joins-per-minute", "Mailbox joins one address may try per minute", 1,
                G_MAXUINT, FERRY_RENDEZVOUS_DEFAULT_JOINS_PER_MINUTE);
  properties[PROP_ICE_PER_MINUTE] =
    uint_param ("ice-per-minute", "ICE requests per side, or per address without one", 1,
                G_MAXUINT, FERRY_RENDEZVOUS_DEFAULT_ICE_PER_MINUTE);
  properties[PROP_TRUSTED_PROXY] =
    g_param_spec_string ("trusted-proxy", NULL,
                         "Address whose Forwarded / X-Forwarded-For headers are believed",
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_rendezvous_server_init (FerryRendezvousServer *self)
{
  self->mailbox_ttl = FERRY_RENDEZVOUS_DEFAULT_MAILBOX_TTL;
  self->idle_timeout = FERRY_RENDEZVOUS_DEFAULT_IDLE_TIMEOUT;
  self->max_message_size = FERRY_RENDEZVOUS_DEFAULT_MAX_MESSAGE_SIZE;
  self->max_queued_messages = FERRY_RENDEZVOUS_DEFAULT_MAX_QUEUED_MESSAGES;
  self->max_mailboxes_per_address = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES_PER_ADDR;
  self->allocations_per_minute = FERRY_RENDEZVOUS_DEFAULT_ALLOCATIONS_PER_MINUTE;
  self->max_mailboxes = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES;
  self->turn_ttl = FERRY_RENDEZVOUS_DEFAULT_TURN_TTL;
  self->request_timeout = FERRY_RENDEZVOUS_DEFAULT_REQUEST_TIMEOUT;
  self->max_mailbox_bytes = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOX_BYTES;
  self->first_message_timeout = FERRY_RENDEZVOUS_DEFAULT_FIRST_MESSAGE_TIMEOUT;
  self->joins_per_minute = FERRY_RENDEZVOUS_DEFAULT_JOINS_PER_MINUTE;
  self->ice_per_minute = FERRY_RENDEZVOUS_DEFAULT_ICE_PER_MINUTE;
  self->tokens = g_hash_table_new (g_str_hash, g_str_equal);

  self->mailboxes = g_hash_table_new (NULL, NULL);
  self->store_sides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->sweep_id = g_timeout_add_seconds (60, sweep_addresses_cb, self);

  self->soup = soup_server_new ("server-header", "ferry-rendezvous ", NULL);
  soup_server_add_early_handler (self->soup, NULL, early_handler_cb, self, NULL);
  soup_server_add_early_handler (self->soup, FERRY_RENDEZVOUS_PATH_NAMEPLATES,
                                 early_handler_cb, self, NULL);
  soup_server_add_handler (self->soup, NULL, handle_request_cb, self, NULL);
  soup_server_add_handler (self->soup, FERRY_RENDEZVOUS_PATH_NAMEPLATES,
                           handle_request_cb, self, NULL);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (request_started_cb), self);
  g_signal_connect (self->soup, "request-read", G_CALLBACK (request_read_cb), self);
}

FerryRendezvousServer *
ferry_rendezvous_server_new (void)
{
  return g_object_new (FERRY_TYPE_RENDEZVOUS_SERVER, NULL);
}

/**
 * ferry_rendezvous_server_set_redis:
 * @url: redis://HOST:PORT[/DB]
 *
 * Keeps nameplates and mailboxes in Redis at @url instead of this process,
 * so that several instances share them and one can die without losing
 * codes. Call before ferry_rendezvous_server_listen(); the server keeps
 * reconnecting when Redis goes away, and /healthz tells whether it is there.
 *
 * Returns: %FALSE for a URL that is not one
 */
gboolean
ferry_rendezvous_server_set_redis (FerryRendezvousServer  *self,
                                   const char             *url,
                                   GError                **error)
{
  g_autoptr(FerryRedisStore) store = NULL;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (self->store == NULL, FALSE);

  store = ferry_redis_store_new (url, error);
  if (store == NULL)
    return FALSE;
  self->store = g_steal_pointer (&store);
  g_signal_connect (self->store, "event", G_CALLBACK (store_event_cb), self);
  g_signal_connect (self->store, "notify::connected", G_CALLBACK (store_connected_cb), self);
  return TRUE;
}

/**
 * ferry_rendezvous_server_is_ready:
 *
 * Returns: whether the server's store answers (always, in memory)
 */
gboolean
ferry_rendezvous_server_is_ready (FerryRendezvousServer *self)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);

  return self->store == NULL || ferry_redis_store_is_connected (self->store);
}

/**
 * ferry_rendezvous_server_listen:
 * @address: where to listen; port 0 picks a free port
 *
 * Starts serving on @address (plain HTTP; put a TLS proxy in front of it
 * on the internet). See ferry_rendezvous_server_dup_url() for the port
 * that was picked.
 */
gboolean
ferry_rendezvous_server_listen (FerryRendezvousServer *self,
                                GSocketAddress        *address,
                                GError               **error)
{
  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);

  return soup_server_listen (self->soup, address, 0, error);
}

/**
 * ferry_rendezvous_server_reserve_nameplate:
 * @nameplate: the nameplate, e.g. one the sender got from another server
 *
 * Makes the mailbox of @nameplate, as an allocation would, for a server
 * that runs inside a sender (core/lan): from then on it hands out no
 * nameplates over HTTP, and the mailbox lives, burns and expires as any.
 */
gboolean
ferry_rendezvous_server_reserve_nameplate (FerryRendezvousServer  *self,
                                           const char             *nameplate,
                                           GError                **error)
{
  Mailbox *mailbox;
  guint number;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (nameplate != NULL, FALSE);

  if (!ferry_rendezvous_server_parse_nameplate (nameplate, &number) ||
      g_hash_table_contains (self->mailboxes, GUINT_TO_POINTER (number)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot reserve nameplate %s", nameplate);
      return FALSE;
    }

  self->reserved_only = TRUE;
  mailbox = g_new0 (Mailbox, 1);
  mailbox->server = self;
  mailbox->number = number;
  mailbox->nameplate = g_strdup (nameplate);
  mailbox->owner = g_strdup ("reserved");
  g_queue_init (&mailbox->queue);
  mailbox->expire_id = g_timeout_add_seconds (self->mailbox_ttl, mailbox_expire_cb, mailbox);
  mailbox->expires_at = g_get_monotonic_time () + (gint64) self->mailbox_ttl * G_USEC_PER_SEC;
  g_hash_table_insert (self->mailboxes, GUINT_TO_POINTER (number), mailbox);
  g_debug ("reserve nameplate=%s", nameplate);

  return TRUE;
}

/**
 * ferry_rendezvous_server_dup_url:
 *
 * Returns: (transfer full) (nullable): "http://ADDR:PORT" of the first
 *   listening socket, or %NULL when not listening
 */
char *
ferry_rendezvous_server_dup_url (FerryRendezvousServer *self)
{
  GSList *uris;
  char *url = NULL;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), NULL);

  uris = soup_server_get_uris (self->soup);
  if (uris != NULL)
    {
      GUri *uri = uris->data;
      const char *host = g_uri_get_host (uri);

      url = g_strdup_printf (strchr (host, ':') != NULL ? "http://[%s]:%d" : "http://%s:%d",
                             host, g_uri_get_port (uri));
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  return url;
}
