/* ferry-rendezvous-server.c
 *
 * The rendezvous: hands out nameplates, pairs two WebSocket sides in a
 * mailbox and relays their messages, and tells clients which STUN/TURN
 * servers to use. Nameplates, mailboxes and limits live in a
 * FerryMailboxStore: this process's memory by default, or Redis shared by
 * several instances; the server holds only the connections of its sides.
 * Every piece of state is bounded by a limit, so a misbehaving client costs
 * a known amount.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <string.h>
#include <sys/random.h>

#include <gio/gnetworking.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ferry-json-check.h"
#include "ferry-message-size-limit-stream.h"
#include "ferry-memory-store.h"
#if FERRY_HAVE_REDIS
#include "ferry-redis-store.h"
#endif
#include "ferry-rendezvous-protocol.h"
#include "ferry-rendezvous-server-private.h"

#define BODY_DATA_KEY          "ferry-request-body"
#define TIMER_DATA_KEY         "ferry-request-timer"
#define TOKEN_DATA_KEY         "ferry-side-token"
#define JOIN_DATA_KEY          "ferry-store-join"
#define TOKEN_BYTES            16
#define LISTEN_BACKLOG         1024

typedef struct
{
  FerryRendezvousServer   *server;
  grefcount                ref;       /* replies from the store hold one */
  SoupWebsocketConnection *conn;
  char                    *address;
  guint                    index;     /* 0 or 1 in the mailbox */
  gint64                   last_heard;
  guint                    idle_id;
  guint                    first_id;  /* until its first message */
  gboolean                 closing;   /* the server asked it to close */
  char                    *token;     /* the side's name, for /v1/ice and to join again */
  /* The side's mailbox lives in the store; while it is there, in_store. */
  gboolean                 in_store;
  gboolean                 freed;
  guint                    number;
  char                    *generation;
  char                    *epoch;
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

typedef struct
{
  GByteArray *data;
  gboolean    overflow;
} RequestBody;

struct _FerryRendezvousServer
{
  GObject      parent_instance;

  SoupServer  *soup;
  FerryMailboxStore *store;
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

static void store_side_leave (Side *side, gushort code);
static void store_side_message (Side *side, gint type, GBytes *message);
static void store_allocate (FerryRendezvousServer *self, SoupServerMessage *msg,
                            const char *address);
static void store_join (FerryRendezvousServer *self, SoupServerMessage *msg, const char *address,
                        guint number);
static void store_side_join (FerryRendezvousServer *self, Side *side, StoreJoin *join);
static void upgrade_cb (SoupServerMessage *msg, gpointer user_data);
static void store_unavailable (SoupServerMessage *msg);

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

/* The limits the store applies, as the properties say now. */
static void
server_limits (FerryRendezvousServer *self,
               FerryMailboxLimits    *limits)
{
  limits->mailbox_ttl = self->mailbox_ttl;
  limits->max_mailboxes_per_address = self->max_mailboxes_per_address;
  limits->allocations_per_minute = self->allocations_per_minute;
  limits->max_mailboxes = self->max_mailboxes;
  limits->joins_per_minute = self->joins_per_minute;
  limits->ice_per_minute = self->ice_per_minute;
  limits->max_queued_messages = self->max_queued_messages;
  limits->max_mailbox_bytes = self->max_mailbox_bytes;
}

static void
side_detach (Side *side)
{
  g_clear_handle_id (&side->idle_id, g_source_remove);
  g_clear_handle_id (&side->first_id, g_source_remove);
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
  g_message ("limit nameplate=%u client=%s error=%s", side->number, side->address, error);
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

  side_heard (side);
  g_clear_handle_id (&side->first_id, g_source_remove);
  if (side->in_store && !side->closing)
    store_side_message (side, type, message);
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
    g_message ("error nameplate=%u client=%s reason=%s", side->number, side->address,
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
  if (side->in_store)
    store_side_leave (side, code);
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
 *   (strict RFC 8259 JSON, within ferry_json_check()'s bounds)
 */
gboolean
ferry_rendezvous_server_check_allocate_body (const char *data,
                                             gsize       len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  /* Whitespace alone parses, with no root at all. */
  return ferry_json_check (data, len, NULL)
         && json_parser_load_from_data (parser, data, len, NULL)
         && json_parser_get_root (parser) != NULL
         && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser));
}

static void
handle_allocate (FerryRendezvousServer *self,
                 SoupServerMessage     *msg)
{
  g_autofree char *address = client_address (self, msg);
  RequestBody *body = g_object_get_data (G_OBJECT (msg), BODY_DATA_KEY);

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

  store_allocate (self, msg, address);
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
  guint number;

  /* Nameplates are small numbers: the store limits the joins of an
   * address, or a script could walk through all of them and sit in every
   * mailbox it finds. No extensions are offered: permessage-deflate would
   * let a small frame inflate past the size limit. */
  if (!ferry_rendezvous_server_parse_nameplate (nameplate, &number))
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                   "A nameplate is a number");
  else if (!soup_websocket_server_check_handshake (msg, NULL, (char **) protocols, NULL,
                                                   &error))
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, FERRY_RENDEZVOUS_ERR_BAD_REQUEST,
                   "A mailbox is joined with a WebSocket handshake");
  else
    store_join (self, msg, address, number);
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

static void
ice_cb (FerryMailboxStore *store,
          GStrv              reply,
        const GError      *error,
        gpointer           user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  FerryRendezvousServer *self = g_object_get_data (G_OBJECT (msg), "ferry-server");
  gboolean has_token = g_object_get_data (G_OBJECT (msg), TOKEN_DATA_KEY) != NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) root = NULL;
  guint64 ms_left = 0;

  if (error != NULL)
    store_unavailable (msg);
  else if (g_str_equal (reply[0], "err") && g_strcmp0 (reply[1], "rate-limited") == 0)
    {
      g_message ("limit client=%s error=%s ice",
                 (const char *) g_object_get_data (G_OBJECT (msg), "ferry-address"),
                 FERRY_RENDEZVOUS_ERR_RATE_LIMITED);
      respond_error (msg, FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS,
                     FERRY_RENDEZVOUS_ERR_RATE_LIMITED,
                     "Too many ICE requests; try again in a minute");
    }
  else if (!g_str_equal (reply[0], "ok") || reply[1] == NULL ||
           !g_ascii_string_to_unsigned (reply[1], 10, 0, G_MAXINT64, &ms_left, NULL))
    respond_error (msg, SOUP_STATUS_FORBIDDEN, FERRY_RENDEZVOUS_ERR_FORBIDDEN,
                   "TURN credentials are only for a side inside a live mailbox");
  else
    {
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "stun");
      json_builder_begin_array (builder);
      for (guint i = 0; self->stun_uris != NULL && self->stun_uris[i] != NULL; i++)
        json_builder_add_string_value (builder, self->stun_uris[i]);
      json_builder_end_array (builder);

      json_builder_set_member_name (builder, "turn");
      json_builder_begin_array (builder);
      /* No longer than the mailbox lives: the session that needs the relay
       * holds the mailbox, and asks again while it does. */
      if (has_token && self->turn_secret != NULL && self->turn_uris != NULL &&
          self->turn_uris[0] != NULL)
        add_turn_credential (self, builder,
                             (guint) CLAMP ((ms_left + 999) / 1000, 1, self->turn_ttl));
      json_builder_end_array (builder);
      json_builder_end_object (builder);

      root = json_builder_get_root (builder);
      respond_json_node (msg, SOUP_STATUS_OK, root);
    }
  soup_server_message_unpause (msg);
}

/* A relay credential is worth abusing, so it goes only to a side in a live
 * mailbox, on whichever instance it joined: the store knows its token. STUN
 * servers are public anyway, but the answer costs us, so without a token the
 * address is counted. */
static void
handle_ice (FerryRendezvousServer *self,
            SoupServerMessage     *msg)
{
  const char *authorization = soup_message_headers_get_one (
    soup_server_message_get_request_headers (msg), "Authorization");
  const char *token = NULL;
  FerryMailboxLimits limits;

  if (authorization != NULL)
    {
      token = g_str_has_prefix (authorization, "Bearer ") ?
              authorization + strlen ("Bearer ") : "";
      /* Tokens are ours: anything else names no side. */
      if (strlen (token) != 2 * TOKEN_BYTES ||
          strspn (token, "0123456789abcdef") != 2 * TOKEN_BYTES)
        {
          respond_error (msg, SOUP_STATUS_FORBIDDEN, FERRY_RENDEZVOUS_ERR_FORBIDDEN,
                         "TURN credentials are only for a side inside a live mailbox");
          return;
        }
      g_object_set_data_full (G_OBJECT (msg), TOKEN_DATA_KEY, g_strdup (token), g_free);
    }

  server_limits (self, &limits);
  g_object_set_data (G_OBJECT (msg), "ferry-server", self);
  g_object_set_data_full (G_OBJECT (msg), "ferry-address", client_address (self, msg), g_free);
  soup_server_message_pause (msg);
  ferry_mailbox_store_ice (self->store, token, g_object_get_data (G_OBJECT (msg),
                                                                  "ferry-address"),
                           &limits, ice_cb, g_object_ref (msg));
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

      gboolean up = ferry_mailbox_store_is_connected (self->store);
      gboolean shared = ferry_mailbox_store_is_shared (self->store);

      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "status");
      json_builder_add_string_value (builder, up ? "ok" : "unavailable");
      /* Where nameplates and mailboxes live, and whether it answers: a
       * load balancer takes an instance without its store out. */
      json_builder_set_member_name (builder, "backend");
      json_builder_add_string_value (builder, ferry_mailbox_store_get_backend (self->store));
      if (shared)
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
           StoreJoin               *join,
           SoupWebsocketConnection *conn)
{
  Side *side;

  side = g_new0 (Side, 1);
  g_ref_count_init (&side->ref);
  side->server = self;
  side->conn = g_object_ref (conn);
  side->address = g_strdup (address != NULL ? address : "unknown");
  side->token = g_strdup (token);
  side_heard (side);

  g_signal_connect (conn, "message", G_CALLBACK (side_message_cb), side);
  g_signal_connect (conn, "pong", G_CALLBACK (side_pong_cb), side);
  g_signal_connect (conn, "error", G_CALLBACK (side_error_cb), side);
  g_signal_connect (conn, "closing", G_CALLBACK (side_closing_cb), side);
  g_signal_connect (conn, "closed", G_CALLBACK (side_closed_cb), side);

  soup_websocket_connection_set_max_incoming_payload_size (conn, self->max_message_size);
  store_side_join (self, side, join);
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
  side_join (self, address, token, g_object_get_data (G_OBJECT (msg), JOIN_DATA_KEY), conn);
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

/* The store ------------------------------------------------------------ */

/* The mailbox of a side is in the store and this instance only holds its
 * connection: what it sends is appended there, and an event from the store
 * tells the instance of the other side to read it. */

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
fetch_cb (FerryMailboxStore *store,
            GPtrArray         *items,
          const GError      *error,
          gpointer           user_data)
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
  ferry_mailbox_store_fetch (side->server->store, side->number, side->index, side->received,
                           fetch_cb, side_ref (side));
}

static void
store_event_cb (FerryMailboxStore *store,
                  guint            number,
                const char      *generation,
                const char      *kind,
                guint            index,
                gpointer           user_data)
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
store_connected_cb (FerryMailboxStore *store,
                      GParamSpec      *pspec,
                    gpointer           user_data)
{
  FerryRendezvousServer *self = user_data;
  g_autoptr(GList) sides = NULL;

  if (ferry_mailbox_store_is_connected (store))
    return;

  /* Whatever the sides wait for may be gone with the store: say so now
   * rather than leave them hanging. */
  sides = g_hash_table_get_values (self->store_sides);
  for (GList *l = sides; l != NULL; l = l->next)
    store_lost (l->data);
}

static void
leave_cb (FerryMailboxStore *store,
            GStrv              reply,
          const GError      *error,
          gpointer           user_data)
{
  if (error != NULL)
    g_message ("store-error leave: %s", error->message);
}

typedef struct
{
  FerryMailboxStore *store;
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

  ferry_mailbox_store_leave (late->store, late->number, late->generation, late->index,
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
  ferry_mailbox_store_leave (self->store, side->number, side->generation, side->index,
                           side->epoch, burn, leave_cb, NULL);
}

static void
append_cb (FerryMailboxStore *store,
             GStrv              reply,
           const GError      *error,
           gpointer           user_data)
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
  FerryMailboxLimits limits;

  if (g_bytes_get_size (message) > self->max_message_size)
    {
      side_limit (side, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
                  "The message is too large");
      return;
    }
  /* The store answers, and appends, in the order it was asked. */
  server_limits (self, &limits);
  ferry_mailbox_store_append (self->store, side->number, side->generation, side->index,
                              side->epoch, (guint8) type, message, &limits, append_cb,
                              side_ref (side));
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
allocate_cb (FerryMailboxStore *store,
               GStrv              reply,
             const GError      *error,
             gpointer           user_data)
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
  FerryMailboxLimits limits;

  server_limits (self, &limits);
  g_object_set_data (G_OBJECT (msg), "ferry-server", self);
  soup_server_message_pause (msg);
  ferry_mailbox_store_allocate (self->store, address, &limits, allocate_cb, g_object_ref (msg));
}

static void
store_join_free (StoreJoin *join)
{
  g_free (join->generation);
  g_free (join->epoch);
  g_free (join);
}

static void
join_cb (FerryMailboxStore *store,
           GStrv              reply,
         const GError      *error,
         gpointer           user_data)
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
  FerryMailboxLimits limits;

  /* Tokens are ours: anything else cannot name a side. */
  if (resume != NULL && (strlen (resume) != 2 * TOKEN_BYTES ||
                         strspn (resume, "0123456789abcdef") != 2 * TOKEN_BYTES))
    resume = "-";

  g_object_set_data (G_OBJECT (msg), "ferry-server", self);
  g_object_set_data (G_OBJECT (msg), "ferry-number", GUINT_TO_POINTER (number));
  server_limits (self, &limits);
  soup_server_message_pause (msg);
  ferry_mailbox_store_join (self->store, number, address, token, resume, &limits, join_cb,
                            g_object_ref (msg));
}

/* GObject -------------------------------------------------------------- */

static void
ferry_rendezvous_server_dispose (GObject *object)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);
  g_autoptr(GList) sides = g_hash_table_get_values (self->store_sides);

  /* Mailboxes in memory end with the server, and their sides hear it; in
   * a shared store they live on, and a connection dropped without a close
   * frame makes the side join again through another instance. */
  for (GList *l = sides; l != NULL; l = l->next)
    {
      Side *side = l->data;

      store_forget (side);
      if (self->store != NULL && ferry_mailbox_store_is_shared (self->store))
        g_io_stream_close (soup_websocket_connection_get_io_stream (side->conn), NULL, NULL);
      else
        side_close (side, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, FERRY_RENDEZVOUS_ERR_INTERNAL,
                    "The server is shutting down");
    }

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (ferry_rendezvous_server_parent_class)->dispose (object);
}

static void
ferry_rendezvous_server_finalize (GObject *object)
{
  FerryRendezvousServer *self = FERRY_RENDEZVOUS_SERVER (object);

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

/* Takes @store (transfer full) as where the mailboxes live. */
static void
set_store (FerryRendezvousServer *self,
           FerryMailboxStore     *store)
{
  g_assert (g_hash_table_size (self->store_sides) == 0);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (self->store, self);
  g_clear_object (&self->store);
  self->store = store;
  g_signal_connect (self->store, "event", G_CALLBACK (store_event_cb), self);
  g_signal_connect (self->store, "notify::connected", G_CALLBACK (store_connected_cb), self);
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

  self->store_sides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  set_store (self, FERRY_MAILBOX_STORE (ferry_memory_store_new ()));

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
 * Returns: %FALSE for a URL that is not one, or when this build has no
 *   Redis support (G_IO_ERROR_NOT_SUPPORTED; built with -Dredis=disabled)
 */
gboolean
ferry_rendezvous_server_set_redis (FerryRendezvousServer  *self,
                                   const char             *url,
                                   GError                **error)
{
#if FERRY_HAVE_REDIS
  FerryRedisStore *store;
#endif

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (!ferry_mailbox_store_is_shared (self->store), FALSE);

#if FERRY_HAVE_REDIS
  store = ferry_redis_store_new (url, error);
  if (store == NULL)
    return FALSE;
  set_store (self, FERRY_MAILBOX_STORE (store));
  return TRUE;
#else
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "This ferry-rendezvous was built without Redis support (-Dredis=disabled)");
  return FALSE;
#endif
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

  return ferry_mailbox_store_is_connected (self->store);
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
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (address), FALSE);

  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  /* GSocket's backlog of 10 (what soup_server_listen() gets) drops
   * connections when many clients come at once, and each retry costs them
   * a second. As libsoup does, an IPv6 socket serves IPv6 only. */
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
      !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
    return FALSE;
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;

  return soup_server_listen_socket (self->soup, socket, 0, error);
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
  guint number;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (nameplate != NULL, FALSE);

  if (!ferry_rendezvous_server_parse_nameplate (nameplate, &number) ||
      !ferry_mailbox_store_reserve (self->store, number, self->mailbox_ttl, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot reserve nameplate %s", nameplate);
      return FALSE;
    }

  self->reserved_only = TRUE;
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
