/* ferry-redis-store.c
 *
 * Every piece of rendezvous state that instances must agree on lives in
 * Redis, and every change of it is one Lua script, so two instances can
 * never hand out the same nameplate or let a third side in. Messages wait
 * in a list per direction until the instance holding the receiver reads
 * them; a PUBLISH on one channel tells every instance that something
 * changed, so nobody polls.
 *
 * Keys (all under "ferry:"):
 *   nums            ZSET  live nameplate numbers, score = number
 *   live            ZSET  live nameplate numbers, score = expiry (ms)
 *   gen             STRING counter: each allocation's generation
 *   mb:N            HASH  gen owner exp joined tok0 tok1 ep0 ep1 left0 left1 carried
 *   q:N:S           LIST  messages for side S (one type byte + payload)
 *   owned:ADDR      ZSET  numbers ADDR allocated, score = expiry
 *   rate:ADDR:a|j|i STRING allocations / joins / ICE requests in the current minute
 *   tok:TOKEN       STRING "N SIDE GEN": the side a token names, until its mailbox expires
 *   rate:tok:TOKEN:i STRING ICE requests of that side in the current minute
 * Channel "ferry:ev": "N GEN KIND SIDE", KIND one of m (message for SIDE),
 * l (SIDE left), b (burned by SIDE), f (freed).
 *
 * hiredis 0.14 drives the sockets; its GLib adapter would touch a freed
 * context when a write fails while the socket is also readable, so a small
 * GSource of our own does the same job with that case covered.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ferry-redis-store.h"

#define EVENT_CHANNEL      "ferry:ev"
#define RECONNECT_DELAY_MS 250

/* Lua: the time of the Redis server, so instances need not agree on clocks. */
#define LUA_NOW \
  "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

#define LUA_FREE \
  "local function free (n, owner) " \
  "  redis.call('DEL', 'ferry:mb:' .. n, 'ferry:q:' .. n .. ':0', 'ferry:q:' .. n .. ':1') " \
  "  redis.call('ZREM', 'ferry:nums', n) redis.call('ZREM', 'ferry:live', n) " \
  "  if owner then redis.call('ZREM', 'ferry:owned:' .. owner, n) end " \
  "end "

/* ARGV: owner ttl per_address per_minute max_total → ok N GEN | err NAME */
static const char allocate_script[] =
  LUA_NOW
  "local owner = ARGV[1] local ttl = tonumber (ARGV[2]) "
  "local expired = redis.call('ZRANGEBYSCORE', 'ferry:live', '-inf', now) "
  "for _, m in ipairs (expired) do redis.call('ZREM', 'ferry:nums', m) end "
  "redis.call('ZREMRANGEBYSCORE', 'ferry:live', '-inf', now) "
  "local rk = 'ferry:rate:' .. owner .. ':a' "
  "if tonumber (redis.call('GET', rk) or '0') >= tonumber (ARGV[4]) then "
  "  return {'err', 'rate-limited'} end "
  "local ok = 'ferry:owned:' .. owner "
  "redis.call('ZREMRANGEBYSCORE', ok, '-inf', now) "
  "if redis.call('ZCARD', ok) >= tonumber (ARGV[3]) then return {'err', 'too-many-mailboxes'} end "
  "local card = redis.call('ZCARD', 'ferry:nums') "
  "if card >= tonumber (ARGV[5]) then return {'err', 'server-full'} end "
  /* The lowest free number: the smallest n with fewer than n numbers in 1..n. */
  "local lo, hi = 1, card + 1 "
  "while lo < hi do "
  "  local mid = math.floor ((lo + hi) / 2) "
  "  if redis.call('ZCOUNT', 'ferry:nums', 1, mid) < mid then hi = mid else lo = mid + 1 end "
  "end "
  "local exp = now + ttl * 1000 "
  "if redis.call('INCR', rk) == 1 then redis.call('EXPIRE', rk, 60) end "
  "local gen = redis.call('INCR', 'ferry:gen') "
  "redis.call('ZADD', 'ferry:nums', lo, lo) redis.call('ZADD', 'ferry:live', exp, lo) "
  "redis.call('ZADD', ok, exp, lo) redis.call('PEXPIREAT', ok, exp) "
  "local k = 'ferry:mb:' .. lo "
  "redis.call('DEL', k, 'ferry:q:' .. lo .. ':0', 'ferry:q:' .. lo .. ':1') "
  "redis.call('HSET', k, 'gen', gen, 'owner', owner, 'exp', exp, 'joined', 0, 'carried', 0) "
  "redis.call('PEXPIREAT', k, exp) "
  "return {'ok', tostring (lo), tostring (gen)}";

/* ARGV: n address token resume joins_per_minute
 * → ok SIDE GEN TOKEN EPOCH OTHER_LEFT MS_LEFT SENT_BY_SIDE | err NAME */
static const char join_script[] =
  LUA_NOW
  "local n = ARGV[1] "
  "local rk = 'ferry:rate:' .. ARGV[2] .. ':j' "
  "local joins = redis.call('INCR', rk) if joins == 1 then redis.call('EXPIRE', rk, 60) end "
  "if joins > tonumber (ARGV[5]) then return {'err', 'rate-limited'} end "
  "local k = 'ferry:mb:' .. n "
  "local h = redis.call('HMGET', k, 'gen', 'exp', 'joined', 'tok0', 'tok1', 'left0', 'left1') "
  "if not h[1] or tonumber (h[2]) <= now then return {'err', 'not-found'} end "
  "local side, token "
  "if ARGV[4] ~= '' then "
  "  if h[4] == ARGV[4] and h[6] ~= '1' then side = 0 "
  "  elseif h[5] == ARGV[4] and h[7] ~= '1' then side = 1 "
  "  else return {'err', 'not-found'} end "
  "  token = ARGV[4] "
  "else "
  "  local joined = tonumber (h[3]) "
  "  if joined >= 2 then return {'err', 'crowded'} end "
  "  side = joined token = ARGV[3] "
  "  redis.call('HSET', k, 'tok' .. side, token, 'joined', joined + 1) "
  "  redis.call('SET', 'ferry:tok:' .. token, n .. ' ' .. side .. ' ' .. h[1], 'PXAT', h[2]) "
  "end "
  "local epoch = redis.call('HINCRBY', k, 'ep' .. side, 1) "
  "local other_left = redis.call('HGET', k, 'left' .. (1 - side)) == '1' and '1' or '0' "
  "local sent = redis.call('LLEN', 'ferry:q:' .. n .. ':' .. (1 - side)) "
  "return {'ok', tostring (side), h[1], token, tostring (epoch), other_left, "
  "        tostring (tonumber (h[2]) - now), tostring (sent)}";

/* ARGV: n gen from epoch payload max_queued max_bytes → ok | gone | stale | err NAME */
static const char append_script[] =
  "local n = ARGV[1] local from = tonumber (ARGV[3]) local to = 1 - from "
  "local k = 'ferry:mb:' .. n "
  "local h = redis.call('HMGET', k, 'gen', 'ep' .. from, 'carried', 'left' .. to, 'tok' .. to, "
  "                     'exp') "
  "if h[1] ~= ARGV[2] then return {'gone'} end "
  "if h[2] ~= ARGV[4] then return {'stale'} end "
  "local size = #ARGV[5] - 1 "
  "if tonumber (h[3]) + size > tonumber (ARGV[7]) then return {'err', 'bytes'} end "
  "redis.call('HINCRBY', k, 'carried', size) "
  "if h[4] == '1' then return {'ok'} end "
  "local q = 'ferry:q:' .. n .. ':' .. to "
  "if not h[5] and redis.call('LLEN', q) >= tonumber (ARGV[6]) then "
  "  return {'err', 'queue'} end "
  "redis.call('RPUSH', q, ARGV[5]) redis.call('PEXPIREAT', q, h[6]) "
  "redis.call('PUBLISH', '" EVENT_CHANNEL "', n .. ' ' .. ARGV[2] .. ' m ' .. to) "
  "return {'ok'}";

/* ARGV: n gen side epoch burn → left | burn | free | gone | stale */
static const char leave_script[] =
  LUA_FREE
  "local n = ARGV[1] local side = tonumber (ARGV[3]) "
  "local k = 'ferry:mb:' .. n "
  "local h = redis.call('HMGET', k, 'gen', 'ep' .. side, 'left' .. (1 - side), 'owner') "
  "if h[1] ~= ARGV[2] then return {'gone'} end "
  "if h[2] ~= ARGV[4] then return {'stale'} end "
  "local ev = n .. ' ' .. ARGV[2] .. ' ' "
  "if ARGV[5] == '1' then "
  "  free (n, h[4]) redis.call('PUBLISH', '" EVENT_CHANNEL "', ev .. 'b ' .. side) "
  "  return {'burn'} end "
  "if h[3] == '1' then "
  "  free (n, h[4]) redis.call('PUBLISH', '" EVENT_CHANNEL "', ev .. 'f ' .. side) "
  "  return {'free'} end "
  "redis.call('HSET', k, 'left' .. side, '1') "
  "redis.call('PUBLISH', '" EVENT_CHANNEL "', ev .. 'l ' .. side) "
  "return {'left'}";

/* ARGV: token address per_minute → ok MS_LEFT | err forbidden | err rate-limited.
 * A side's token is good on every instance while its mailbox lives and it
 * has not left; without one, the request counts against the address. */
static const char ice_script[] =
  LUA_NOW
  "local limit = tonumber (ARGV[3]) "
  "local function count (rk) "
  "  local c = redis.call('INCR', rk) if c == 1 then redis.call('EXPIRE', rk, 60) end "
  "  return c <= limit end "
  "if ARGV[1] == '' then "
  "  if count ('ferry:rate:' .. ARGV[2] .. ':i') then return {'ok', '0'} end "
  "  return {'err', 'rate-limited'} end "
  "local t = redis.call('GET', 'ferry:tok:' .. ARGV[1]) "
  "if not t then return {'err', 'forbidden'} end "
  "local n, side, gen = string.match (t, '(%d+) (%d) (%d+)') "
  "local h = redis.call('HMGET', 'ferry:mb:' .. n, 'gen', 'exp', 'left' .. side) "
  "if h[1] ~= gen or tonumber (h[2]) <= now or h[3] == '1' then return {'err', 'forbidden'} end "
  "if not count ('ferry:rate:tok:' .. ARGV[1] .. ':i') then return {'err', 'rate-limited'} end "
  "return {'ok', tostring (math.max (1, tonumber (h[2]) - now))}";

typedef struct
{
  GSource            source;
  redisAsyncContext *ac;
  GPollFD            poll_fd;
  gboolean           dead;
} RedisSource;

struct _FerryRedisStore
{
  GObject            parent_instance;

  char              *url;
  char              *host;
  guint16            port;
  guint              db;

  redisAsyncContext *commands;
  redisAsyncContext *events;
  GSource           *commands_source;
  GSource           *events_source;
  guint              ready;        /* connections that finished their setup */
  gboolean           connected;
  guint              reconnect_id;
};

static void ferry_redis_store_iface_init (FerryMailboxStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FerryRedisStore, ferry_redis_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (FERRY_TYPE_MAILBOX_STORE,
                                                      ferry_redis_store_iface_init))

enum {
  PROP_0,
  PROP_CONNECTED,
};

static void store_connect (FerryRedisStore *self);

/* The GSource ---------------------------------------------------------- */

static void
source_update (gpointer data,
               gushort  add,
               gushort  remove)
{
  RedisSource *source = data;

  source->poll_fd.events = (source->poll_fd.events | add) & ~remove;
  g_main_context_wakeup (g_source_get_context ((GSource *) source));
}

static void source_add_read (gpointer data) { source_update (data, G_IO_IN, 0); }
static void source_del_read (gpointer data) { source_update (data, 0, G_IO_IN); }
static void source_add_write (gpointer data) { source_update (data, G_IO_OUT, 0); }
static void source_del_write (gpointer data) { source_update (data, 0, G_IO_OUT); }

/* hiredis is about to free the context: nothing may touch it after this. */
static void
source_cleanup (gpointer data)
{
  RedisSource *source = data;

  source->dead = TRUE;
  source->ac = NULL;
  source->poll_fd.events = 0;
  g_source_destroy ((GSource *) source);
}

static gboolean
source_prepare (GSource *gsource,
                gint    *timeout)
{
  RedisSource *source = (RedisSource *) gsource;

  *timeout = -1;
  return (source->poll_fd.events & source->poll_fd.revents) != 0;
}

static gboolean
source_check (GSource *gsource)
{
  RedisSource *source = (RedisSource *) gsource;

  return (source->poll_fd.events & source->poll_fd.revents) != 0;
}

static gboolean
source_dispatch (GSource     *gsource,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  RedisSource *source = (RedisSource *) gsource;
  gushort revents = source->poll_fd.revents;

  source->poll_fd.revents = 0;
  if (!source->dead && (revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)) != 0 &&
      (source->poll_fd.events & G_IO_OUT) != 0)
    redisAsyncHandleWrite (source->ac);
  if (!source->dead && (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)) != 0)
    redisAsyncHandleRead (source->ac);

  return source->dead ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static GSource *
source_new (redisAsyncContext *ac)
{
  static GSourceFuncs funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
  };
  RedisSource *source = (RedisSource *) g_source_new (&funcs, sizeof *source);

  source->ac = ac;
  source->poll_fd.fd = ac->c.fd;
  g_source_add_poll ((GSource *) source, &source->poll_fd);

  ac->ev.addRead = source_add_read;
  ac->ev.delRead = source_del_read;
  ac->ev.addWrite = source_add_write;
  ac->ev.delWrite = source_del_write;
  ac->ev.cleanup = source_cleanup;
  ac->ev.data = source;
  g_source_attach ((GSource *) source, NULL);

  return (GSource *) source;
}

/* Connections ---------------------------------------------------------- */

static void
set_connected (FerryRedisStore *self,
               gboolean         connected)
{
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_message ("redis %s %s", self->url, connected ? "connected" : "disconnected");
  g_object_notify (G_OBJECT (self), "connected");
}

static gboolean
reconnect_cb (gpointer user_data)
{
  FerryRedisStore *self = user_data;

  self->reconnect_id = 0;
  store_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (FerryRedisStore *self)
{
  if (self->reconnect_id == 0)
    self->reconnect_id = g_timeout_add (RECONNECT_DELAY_MS, reconnect_cb, self);
}

/* Both connections go when one does: a store with commands but no events
 * would miss deliveries. */
static void
drop_connections (FerryRedisStore *self)
{
  redisAsyncContext *commands = g_steal_pointer (&self->commands);
  redisAsyncContext *events = g_steal_pointer (&self->events);

  self->ready = 0;
  if (commands != NULL)
    redisAsyncDisconnect (commands);
  if (events != NULL)
    redisAsyncDisconnect (events);
  g_clear_pointer (&self->commands_source, g_source_unref);
  g_clear_pointer (&self->events_source, g_source_unref);
  set_connected (self, FALSE);
}

static void
disconnect_cb (const redisAsyncContext *ac,
               int                      status)
{
  FerryRedisStore *self = ac->data;

  if (self == NULL)
    return;
  if (ac == self->commands)
    self->commands = NULL;
  if (ac == self->events)
    self->events = NULL;
  drop_connections (self);
  schedule_reconnect (self);
}

/* A connection that never came up: hiredis frees it without telling the
 * disconnect callback. */
static void
connect_cb (const redisAsyncContext *ac,
            int                      status)
{
  if (status != REDIS_OK)
    disconnect_cb (ac, status);
}

static void
setup_cb (redisAsyncContext *ac,
          void              *r,
          void              *privdata)
{
  FerryRedisStore *self = ac->data;
  redisReply *reply = r;

  if (self == NULL || reply == NULL || reply->type == REDIS_REPLY_ERROR)
    {
      if (self != NULL && reply != NULL)
        g_warning ("redis %s: %s", self->url, reply->str);
      return;
    }
  /* SELECT on both, then SUBSCRIBE on the events connection. */
  if (++self->ready == 3)
    set_connected (self, TRUE);
}

static void
event_cb (redisAsyncContext *ac,
          void              *r,
          void              *privdata)
{
  FerryRedisStore *self = ac->data;
  redisReply *reply = r;
  g_auto(GStrv) fields = NULL;
  guint64 number, side;

  if (self == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
    return;
  if (strcmp (reply->element[0]->str, "subscribe") == 0)
    {
      setup_cb (ac, r, privdata);
      return;
    }
  if (strcmp (reply->element[0]->str, "message") != 0 ||
      reply->element[2]->type != REDIS_REPLY_STRING)
    return;

  fields = g_strsplit (reply->element[2]->str, " ", 5);
  if (g_strv_length (fields) != 4 ||
      !g_ascii_string_to_unsigned (fields[0], 10, 1, G_MAXUINT, &number, NULL) ||
      !g_ascii_string_to_unsigned (fields[3], 10, 0, 1, &side, NULL))
    return;

  ferry_mailbox_store_emit_event (FERRY_MAILBOX_STORE (self), (guint) number, fields[1],
                                  fields[2], (guint) side);
}

static redisAsyncContext *
connect_one (FerryRedisStore  *self,
             GSource         **source)
{
  redisAsyncContext *ac = redisAsyncConnect (self->host, self->port);
  g_autofree char *db = g_strdup_printf ("%u", self->db);
  const char *argv[] = { "SELECT", db };

  if (ac == NULL)
    return NULL;
  if (ac->err != 0)
    {
      g_message ("redis %s: %s", self->url, ac->errstr);
      redisAsyncFree (ac);
      return NULL;
    }
  ac->data = self;
  *source = source_new (ac);
  redisAsyncSetConnectCallback (ac, connect_cb);
  redisAsyncSetDisconnectCallback (ac, disconnect_cb);
  redisAsyncCommandArgv (ac, setup_cb, NULL, G_N_ELEMENTS (argv), argv, NULL);
  return ac;
}

static void
store_connect (FerryRedisStore *self)
{
  self->commands = connect_one (self, &self->commands_source);
  self->events = self->commands != NULL ? connect_one (self, &self->events_source) : NULL;
  if (self->commands == NULL || self->events == NULL)
    {
      drop_connections (self);
      schedule_reconnect (self);
      return;
    }
  redisAsyncCommand (self->events, event_cb, NULL, "SUBSCRIBE " EVENT_CHANNEL);
}

/* Commands ------------------------------------------------------------- */

typedef struct
{
  FerryRedisStore        *store;
  FerryMailboxStoreFunc     func;
  FerryMailboxStoreListFunc list_func;
  gpointer                user_data;
  GError                 *error;
} Call;

static void
call_free (Call *call)
{
  g_clear_object (&call->store);
  g_clear_error (&call->error);
  g_free (call);
}

static gboolean
call_fail_cb (gpointer user_data)
{
  Call *call = user_data;

  if (call->func != NULL)
    call->func (FERRY_MAILBOX_STORE (call->store), NULL, call->error, call->user_data);
  else
    call->list_func (FERRY_MAILBOX_STORE (call->store), NULL, call->error, call->user_data);
  return G_SOURCE_REMOVE;
}

/* Failures are told from the main loop, never inside the caller. */
static void
call_fail (Call       *call,
           const char *message)
{
  call->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "Redis: %s", message);
  g_idle_add_full (G_PRIORITY_DEFAULT, call_fail_cb, call, (GDestroyNotify) call_free);
}

static void
reply_cb (redisAsyncContext *ac,
          void              *r,
          void              *privdata)
{
  Call *call = privdata;
  redisReply *reply = r;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) strv = NULL;
  g_autoptr(GPtrArray) items = NULL;

  if (reply == NULL || reply->type == REDIS_REPLY_ERROR || reply->type != REDIS_REPLY_ARRAY)
    {
      if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        g_warning ("redis: %s", reply->str);
      call_fail (call, reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str :
                 "the connection was lost");
      return;
    }

  if (call->list_func != NULL)
    {
      items = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      for (gsize i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING && reply->element[i]->len > 0)
          g_ptr_array_add (items, g_bytes_new (reply->element[i]->str, reply->element[i]->len));
      call->list_func (FERRY_MAILBOX_STORE (call->store), items, NULL, call->user_data);
      call_free (call);
      return;
    }

  builder = g_strv_builder_new ();
  for (gsize i = 0; i < reply->elements; i++)
    {
      redisReply *element = reply->element[i];

      if (element->type == REDIS_REPLY_STRING || element->type == REDIS_REPLY_STATUS)
        g_strv_builder_add (builder, element->str);
      else if (element->type == REDIS_REPLY_INTEGER)
        {
          g_autofree char *text = g_strdup_printf ("%lld", element->integer);

          g_strv_builder_add (builder, text);
        }
    }
  strv = g_strv_builder_end (builder);
  if (strv[0] == NULL)
    {
      call_fail (call, "an empty answer");
      return;
    }
  call->func (FERRY_MAILBOX_STORE (call->store), strv, NULL, call->user_data);
  call_free (call);
}

static void
run (FerryRedisStore         *self,
     FerryMailboxStoreFunc      func,
     FerryMailboxStoreListFunc  list_func,
     gpointer                 user_data,
     guint                    argc,
     const char             **argv,
     const gsize             *lengths)
{
  Call *call = g_new0 (Call, 1);

  call->store = g_object_ref (self);
  call->func = func;
  call->list_func = list_func;
  call->user_data = user_data;

  /* While a connection is being made hiredis keeps the commands, after
   * the SELECT; they fail with it if it does not come up. */
  if (self->commands == NULL)
    {
      call_fail (call, "not connected");
      return;
    }
  if (redisAsyncCommandArgv (self->commands, reply_cb, call, (int) argc, argv, lengths) !=
      REDIS_OK)
    call_fail (call, "the command could not be sent");
}

static void
run_script (FerryRedisStore     *self,
            const char          *script,
            FerryMailboxStoreFunc  func,
            gpointer             user_data,
            guint                argc,
            const char         **args,
            const gsize         *lengths)
{
  const char *argv[12] = { "EVAL", script, "0" };
  gsize argvlen[12] = { 4, strlen (script), 1 };

  g_assert (argc + 3 <= G_N_ELEMENTS (argv));
  for (guint i = 0; i < argc; i++)
    {
      argv[3 + i] = args[i];
      argvlen[3 + i] = lengths != NULL ? lengths[i] : strlen (args[i]);
    }
  run (self, func, NULL, user_data, argc + 3, argv, argvlen);
}

/* The interface -------------------------------------------------------- */

static void
redis_allocate (FerryMailboxStore        *store,
                const char               *owner,
                const FerryMailboxLimits *limits,
                FerryMailboxStoreFunc     func,
                gpointer                  user_data)
{
  g_autofree char *a = g_strdup_printf ("%u", limits->mailbox_ttl);
  g_autofree char *b = g_strdup_printf ("%u", limits->max_mailboxes_per_address);
  g_autofree char *c = g_strdup_printf ("%u", limits->allocations_per_minute);
  g_autofree char *d = g_strdup_printf ("%u", limits->max_mailboxes);
  const char *args[] = { owner, a, b, c, d };

  run_script (FERRY_REDIS_STORE (store), allocate_script, func, user_data, G_N_ELEMENTS (args),
              args, NULL);
}

static void
redis_join (FerryMailboxStore        *store,
            guint                     number,
            const char               *address,
            const char               *token,
            const char               *resume_token,
            const FerryMailboxLimits *limits,
            FerryMailboxStoreFunc     func,
            gpointer                  user_data)
{
  g_autofree char *n = g_strdup_printf ("%u", number);
  g_autofree char *limit = g_strdup_printf ("%u", limits->joins_per_minute);
  const char *args[] = { n, address, token, resume_token != NULL ? resume_token : "", limit };

  run_script (FERRY_REDIS_STORE (store), join_script, func, user_data, G_N_ELEMENTS (args), args,
              NULL);
}

static void
redis_append (FerryMailboxStore        *store,
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
  g_autofree char *n = g_strdup_printf ("%u", number);
  g_autofree char *f = g_strdup_printf ("%u", from);
  g_autofree char *q = g_strdup_printf ("%u", limits->max_queued_messages);
  g_autofree char *b = g_strdup_printf ("%u", limits->max_mailbox_bytes);
  gsize size = g_bytes_get_size (message);
  g_autofree char *payload = g_malloc (size + 1);
  const char *args[] = { n, generation, f, epoch, payload, q, b };
  gsize lengths[] = { strlen (n), strlen (generation), strlen (f), strlen (epoch), size + 1,
                      strlen (q), strlen (b) };

  payload[0] = (char) type;
  if (size > 0)
    memcpy (payload + 1, g_bytes_get_data (message, NULL), size);
  run_script (FERRY_REDIS_STORE (store), append_script, func, user_data, G_N_ELEMENTS (args),
              args, lengths);
}

static void
redis_leave (FerryMailboxStore     *store,
             guint                  number,
             const char            *generation,
             guint                  side,
             const char            *epoch,
             gboolean               burn,
             FerryMailboxStoreFunc  func,
             gpointer               user_data)
{
  g_autofree char *n = g_strdup_printf ("%u", number);
  g_autofree char *s = g_strdup_printf ("%u", side);
  const char *args[] = { n, generation, s, epoch, burn ? "1" : "0" };

  run_script (FERRY_REDIS_STORE (store), leave_script, func, user_data, G_N_ELEMENTS (args),
              args, NULL);
}

static void
redis_fetch (FerryMailboxStore         *store,
             guint                      number,
             guint                      to,
             guint                      start,
             FerryMailboxStoreListFunc  func,
             gpointer                   user_data)
{
  g_autofree char *key = g_strdup_printf ("ferry:q:%u:%u", number, to);
  g_autofree char *from = g_strdup_printf ("%u", start);
  const char *argv[] = { "LRANGE", key, from, "-1" };

  run (FERRY_REDIS_STORE (store), NULL, func, user_data, G_N_ELEMENTS (argv), argv, NULL);
}

static void
redis_ice (FerryMailboxStore        *store,
           const char               *token,
           const char               *address,
           const FerryMailboxLimits *limits,
           FerryMailboxStoreFunc     func,
           gpointer                  user_data)
{
  g_autofree char *limit = g_strdup_printf ("%u", limits->ice_per_minute);
  const char *args[] = { token != NULL ? token : "", address, limit };

  run_script (FERRY_REDIS_STORE (store), ice_script, func, user_data, G_N_ELEMENTS (args), args,
              NULL);
}

static const char *
redis_get_backend (FerryMailboxStore *store)
{
  return "redis";
}

static gboolean
redis_is_connected (FerryMailboxStore *store)
{
  return FERRY_REDIS_STORE (store)->connected;
}

static gboolean
redis_is_shared (FerryMailboxStore *store)
{
  return TRUE;
}

const char *
ferry_redis_store_get_url (FerryRedisStore *self)
{
  g_return_val_if_fail (FERRY_IS_REDIS_STORE (self), NULL);
  return self->url;
}

/* "redis://HOST:PORT[/DB]", HOST a name or address ([v6] too). */
static gboolean
parse_url (FerryRedisStore  *self,
           const char       *url,
           GError          **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *path;
  guint64 db = 0;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0 ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL)
    goto bad;

  path = g_uri_get_path (uri);
  if (*path != '\0' && strcmp (path, "/") != 0 &&
      !g_ascii_string_to_unsigned (path + 1, 10, 0, 15, &db, NULL))
    goto bad;

  self->host = g_strdup (g_uri_get_host (uri));
  self->port = g_uri_get_port (uri) > 0 ? (guint16) g_uri_get_port (uri) : 6379;
  self->db = (guint) db;
  self->url = g_strdup (url);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "A Redis URL is redis://HOST:PORT[/DB], not “%s”", url);
  return FALSE;
}

/**
 * ferry_redis_store_new:
 * @url: redis://HOST:PORT[/DB]
 *
 * Starts connecting (and keeps reconnecting) to Redis at @url; see
 * #FerryRedisStore:connected.
 *
 * Returns: (transfer full) (nullable): the store, or %NULL for a bad URL
 */
FerryRedisStore *
ferry_redis_store_new (const char  *url,
                       GError     **error)
{
  g_autoptr(FerryRedisStore) self = g_object_new (FERRY_TYPE_REDIS_STORE, NULL);

  g_return_val_if_fail (url != NULL, NULL);

  if (!parse_url (self, url, error))
    return NULL;
  store_connect (self);
  return g_steal_pointer (&self);
}

static void
ferry_redis_store_dispose (GObject *object)
{
  FerryRedisStore *self = FERRY_REDIS_STORE (object);

  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  /* Replies still due find no store. */
  if (self->commands != NULL)
    self->commands->data = NULL;
  if (self->events != NULL)
    self->events->data = NULL;
  drop_connections (self);

  G_OBJECT_CLASS (ferry_redis_store_parent_class)->dispose (object);
}

static void
ferry_redis_store_finalize (GObject *object)
{
  FerryRedisStore *self = FERRY_REDIS_STORE (object);

  g_free (self->url);
  g_free (self->host);

  G_OBJECT_CLASS (ferry_redis_store_parent_class)->finalize (object);
}

static void
ferry_redis_store_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  FerryRedisStore *self = FERRY_REDIS_STORE (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_redis_store_class_init (FerryRedisStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_redis_store_dispose;
  object_class->finalize = ferry_redis_store_finalize;
  object_class->get_property = ferry_redis_store_get_property;

  g_object_class_override_property (object_class, PROP_CONNECTED, "connected");
}

static void
ferry_redis_store_iface_init (FerryMailboxStoreInterface *iface)
{
  iface->get_backend = redis_get_backend;
  iface->is_connected = redis_is_connected;
  iface->is_shared = redis_is_shared;
  iface->allocate = redis_allocate;
  iface->join = redis_join;
  iface->append = redis_append;
  iface->leave = redis_leave;
  iface->fetch = redis_fetch;
  iface->ice = redis_ice;
}

static void
ferry_redis_store_init (FerryRedisStore *self)
{
}
