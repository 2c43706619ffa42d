/* ferry-load.c
 *
 * Load on a rendezvous: N concurrent pairs, each going through allocate →
 * both sides join → a PAKE-sized message each way → a few exchanges →
 * close, until a count or a time is reached. Speaks Ferry's protocol, or
 * magic-wormhole's mailbox protocol (bind/allocate/claim/open/add) for the
 * anchor. Loopback only: it refuses any other address.
 *
 * Prints one line of JSON: pair-sessions/s, p50/p99 of each step in ms,
 * and the memory per idle waiting code (RSS growth of --pid processes).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-load"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define PAKE_SIZE      128   /* bytes of a SPAKE2 message and its framing */
#define EXCHANGE_SIZE  400   /* an ICE candidate list, roughly */
#define APPID          "ferry.example/load"

enum { STEP_ALLOCATE, STEP_JOIN, STEP_FIRST, STEP_EXCHANGE, STEP_CLOSE, N_STEPS };
static const char *step_names[N_STEPS] = { "allocate", "join", "join_to_first", "exchange",
                                           "close" };

typedef struct _Pair Pair;

typedef struct
{
  char       **urls;
  gboolean     wormhole;
  guint        total;
  guint        concurrency;
  guint        exchanges;
  guint        time_limit;
  SoupSession *session;
  /* The waiting codes live in a thread of their own, with their own main
   * context and session: a GLib loop walks all its sources at every turn,
   * and a thousand idle sockets in the pairs' loop would measure that walk
   * rather than the server. */
  SoupSession *idle_session;
  GThread     *idle_thread;
  GMainLoop   *idle_loop;
  GMutex       idle_lock;
  GCond        idle_cond;
  gboolean     idle_settled;
  GArray      *samples[N_STEPS];  /* gdouble ms */
  guint        started;
  guint        done;
  guint        failed;
  guint        active;
  gint64       deadline;
  GMainLoop   *loop;
  /* Idle mailboxes, for memory: they are not pairs and count apart. */
  guint        idle_wanted;
  guint        idle_ready;
  guint        idle_failed;
} Load;

typedef struct
{
  Pair                    *pair;
  guint                    index;    /* 0 made the code, 1 joined it */
  SoupWebsocketConnection *conn;
  char                    *side;     /* wormhole side id */
  gint64                   join_started;
  gint64                   joined;
  gboolean                 got_first;
  gboolean                 closed;
  guint                    got;      /* exchange messages received */
} Side;

struct _Pair
{
  Load    *load;
  guint    number;
  char    *nameplate;
  char    *mailbox;                  /* wormhole */
  gboolean idle;                     /* hold the code, do not finish */
  Side     sides[2];
  gint64   allocate_started;
  gint64   exchange_sent;
  gint64   close_started;
  guint    exchanged;
  gboolean finished;
};

static void pair_start (Load *load, gboolean idle);
static void side_join (Side *side);

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
sample (Load  *load,
        guint  step,
        double ms)
{
  g_array_append_val (load->samples[step], ms);
}

static GBytes *
filler (gsize size,
        char  c)
{
  char *data = g_malloc (size);

  memset (data, c, size);
  return g_bytes_new_take (data, size);
}

static const char *
url_for (Pair *pair,
         guint index)
{
  Load *load = pair->load;
  guint n = g_strv_length (load->urls);

  /* With two instances the sides of a pair are on different ones. */
  return load->urls[(pair->number + index) % n];
}

static SoupSession *
pair_session (Pair *pair)
{
  return pair->idle ? pair->load->idle_session : pair->load->session;
}

static void
pair_free (Pair *pair)
{
  for (guint i = 0; i < 2; i++)
    {
      if (pair->sides[i].conn != NULL)
        g_signal_handlers_disconnect_by_data (pair->sides[i].conn, &pair->sides[i]);
      g_clear_object (&pair->sides[i].conn);
      g_free (pair->sides[i].side);
    }
  g_free (pair->nameplate);
  g_free (pair->mailbox);
  g_free (pair);
}

static gboolean
pair_free_cb (gpointer user_data)
{
  pair_free (user_data);
  return G_SOURCE_REMOVE;
}

/* Frees @pair from the loop of the thread it lives in. */
static void
later_free (Pair *pair)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_callback (source, pair_free_cb, pair, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
}

static void
pair_finish (Pair     *pair,
             gboolean  ok)
{
  Load *load = pair->load;

  if (pair->finished)
    return;
  pair->finished = TRUE;
  /* A waiting code that failed is no pair: it neither frees a slot nor
   * starts another. */
  if (pair->idle)
    {
      load->idle_failed++;
      later_free (pair);
      return;
    }
  if (ok)
    load->done++;
  else
    load->failed++;
  load->active--;
  for (guint i = 0; i < 2; i++)
    if (pair->sides[i].conn != NULL &&
        soup_websocket_connection_get_state (pair->sides[i].conn) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (pair->sides[i].conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  later_free (pair);

  if (load->started < load->total && g_get_monotonic_time () < load->deadline)
    pair_start (load, FALSE);
  else if (load->active == 0)
    g_main_loop_quit (load->loop);
}

static void
pair_fail (Pair       *pair,
           const char *why)
{
  if (pair->load->failed + pair->load->idle_failed < 5)
    g_printerr ("ferry-load: pair %u: %s\n", pair->number, why);
  pair_finish (pair, FALSE);
}

/* Wormhole JSON --------------------------------------------------------- */

static void
wormhole_send (Side       *side,
               const char *type,
               ...)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  const char *name;
  va_list args;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  va_start (args, type);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      json_builder_set_member_name (builder, name);
      json_builder_add_string_value (builder, va_arg (args, const char *));
    }
  va_end (args);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  soup_websocket_connection_send_text (side->conn, text);
}

static void
wormhole_add (Side       *side,
              const char *phase,
              gsize       size)
{
  g_autofree char *body = g_malloc (2 * size + 1);

  memset (body, 'a', 2 * size);
  body[2 * size] = '\0';
  wormhole_send (side, "add", "phase", phase, "body", body, NULL);
}

/* Both protocols: what happens when a side gets a message ---------------- */

static void
side_send_exchange (Side *side)
{
  Pair *pair = side->pair;

  if (pair->load->wormhole)
    wormhole_add (side, "x", EXCHANGE_SIZE);
  else
    {
      g_autoptr(GBytes) bytes = filler (EXCHANGE_SIZE, 'x');

      soup_websocket_connection_send_message (side->conn, SOUP_WEBSOCKET_DATA_BINARY, bytes);
    }
}

static void
side_send_pake (Side *side)
{
  if (side->pair->load->wormhole)
    wormhole_add (side, "pake", PAKE_SIZE);
  else
    {
      g_autoptr(GBytes) bytes = filler (PAKE_SIZE, 'p');

      soup_websocket_connection_send_message (side->conn, SOUP_WEBSOCKET_DATA_BINARY, bytes);
    }
}

static void
side_close (Side *side)
{
  Pair *pair = side->pair;

  pair->close_started = g_get_monotonic_time ();
  if (pair->load->wormhole)
    {
      for (guint i = 0; i < 2; i++)
        {
          wormhole_send (&pair->sides[i], "release", NULL);
          wormhole_send (&pair->sides[i], "close", "mailbox", pair->mailbox, "mood", "happy",
                         NULL);
        }
    }
  else
    soup_websocket_connection_close (side->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* One mailbox message from the other side. */
static void
side_got (Side *side)
{
  Pair *pair = side->pair;
  Load *load = pair->load;

  if (!side->got_first)
    {
      side->got_first = TRUE;
      if (side->index == 1)
        {
          sample (load, STEP_FIRST, ms_since (side->joined));
          side_send_pake (side);
        }
      else if (pair->idle)
        {
          /* never happens: an idle code has no second side */
        }
      else
        {
          /* Side 0 has both PAKE messages: start the exchanges. */
          pair->exchange_sent = g_get_monotonic_time ();
          side_send_exchange (side);
        }
      return;
    }

  if (side->index == 1)
    {
      side_send_exchange (side);
      return;
    }

  sample (load, STEP_EXCHANGE, ms_since (pair->exchange_sent));
  if (++pair->exchanged < load->exchanges)
    {
      pair->exchange_sent = g_get_monotonic_time ();
      side_send_exchange (side);
    }
  else
    side_close (side);
}

static void
side_closed (Side *side)
{
  Pair *pair = side->pair;

  side->closed = TRUE;
  if (pair->finished)
    return;
  /* The server never closes a waiting code before its time. */
  if (pair->idle)
    {
      pair_fail (pair, "waiting code closed");
      return;
    }
  if (pair->close_started == 0)
    {
      pair_fail (pair, "closed early");
      return;
    }
  if (pair->sides[0].closed && pair->sides[1].closed)
    {
      sample (pair->load, STEP_CLOSE, ms_since (pair->close_started));
      pair_finish (pair, TRUE);
    }
}

static void
conn_closed_cb (SoupWebsocketConnection *conn,
                gpointer                 user_data)
{
  side_closed (user_data);
}

static void
wormhole_message (Side       *side,
                  JsonObject *object)
{
  Pair *pair = side->pair;
  Load *load = pair->load;
  const char *type = json_object_get_string_member_with_default (object, "type", "");

  if (g_str_equal (type, "welcome"))
    {
      wormhole_send (side, "bind", "appid", APPID, "side", side->side, NULL);
      if (side->index == 0)
        wormhole_send (side, "allocate", NULL);
      else
        wormhole_send (side, "claim", "nameplate", pair->nameplate, NULL);
    }
  else if (g_str_equal (type, "allocated"))
    {
      pair->nameplate = g_strdup (json_object_get_string_member (object, "nameplate"));
      sample (load, STEP_ALLOCATE, ms_since (pair->allocate_started));
      wormhole_send (side, "claim", "nameplate", pair->nameplate, NULL);
    }
  else if (g_str_equal (type, "claimed"))
    {
      if (pair->mailbox == NULL)
        pair->mailbox = g_strdup (json_object_get_string_member (object, "mailbox"));
      wormhole_send (side, "open", "mailbox", pair->mailbox, NULL);
      side->joined = g_get_monotonic_time ();
      if (side->index == 0)
        {
          side_send_pake (side);
          if (pair->idle)
            load->idle_ready++;
          else
            side_join (&pair->sides[1]);
        }
      else
        sample (load, STEP_JOIN, ms_since (side->join_started));
    }
  else if (g_str_equal (type, "message"))
    {
      /* The server echoes a side's own messages back to it. */
      if (g_strcmp0 (json_object_get_string_member (object, "side"), side->side) != 0)
        side_got (side);
    }
  else if (g_str_equal (type, "closed"))
    {
      side_closed (side);
    }
  else if (g_str_equal (type, "error"))
    {
      pair_fail (pair, json_object_get_string_member_with_default (object, "error", "error"));
    }
}

static void
conn_message_cb (SoupWebsocketConnection *conn,
                 gint                     type,
                 GBytes                  *message,
                 gpointer                 user_data)
{
  Side *side = user_data;
  g_autoptr(JsonParser) parser = NULL;

  if (!side->pair->load->wormhole)
    {
      side_got (side);
      return;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, g_bytes_get_data (message, NULL),
                                   g_bytes_get_size (message), NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      pair_fail (side->pair, "not JSON");
      return;
    }
  wormhole_message (side, json_node_get_object (json_parser_get_root (parser)));
}

static void
connected_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Side *side = user_data;
  Pair *pair = side->pair;
  g_autoptr(GError) error = NULL;

  side->conn = soup_session_websocket_connect_finish (SOUP_SESSION (object), result, &error);
  if (side->conn == NULL)
    {
      pair_fail (pair, error->message);
      return;
    }
  soup_websocket_connection_set_max_incoming_payload_size (side->conn, 1024 * 1024);
  g_signal_connect (side->conn, "message", G_CALLBACK (conn_message_cb), side);
  g_signal_connect (side->conn, "closed", G_CALLBACK (conn_closed_cb), side);
  if (pair->load->wormhole)
    return;   /* the welcome drives it */

  side->joined = g_get_monotonic_time ();
  if (side->index == 0)
    {
      side_send_pake (side);
      if (pair->idle)
        pair->load->idle_ready++;
      else
        side_join (&pair->sides[1]);
    }
  else
    sample (pair->load, STEP_JOIN, ms_since (side->join_started));
}

static void
side_join (Side *side)
{
  Pair *pair = side->pair;
  g_autofree char *url = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  const char *ferry_protocols[] = { "ferry-mailbox-v1", NULL };
  const char *base = url_for (pair, side->index);

  if (pair->load->wormhole)
    url = g_strconcat ("ws", base + strlen ("http"), "/v1", NULL);
  else
    url = g_strdup_printf ("%s/v1/nameplates/%s", base, pair->nameplate);
  msg = soup_message_new ("GET", url);
  side->join_started = g_get_monotonic_time ();
  soup_session_websocket_connect_async (pair_session (pair), msg, NULL,
                                        pair->load->wormhole ? NULL : (char **) ferry_protocols,
                                        G_PRIORITY_DEFAULT, NULL, connected_cb, side);
}

static void
allocated_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Pair *pair = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (object), result,
                                                              &error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (body == NULL)
    {
      pair_fail (pair, error->message);
      return;
    }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                   g_bytes_get_size (body), NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !json_object_has_member (json_node_get_object (root), "nameplate"))
    {
      pair_fail (pair, "allocation refused");
      return;
    }
  sample (pair->load, STEP_ALLOCATE, ms_since (pair->allocate_started));
  pair->nameplate = g_strdup (json_object_get_string_member (json_node_get_object (root),
                                                             "nameplate"));
  side_join (&pair->sides[0]);
}

static void
pair_start (Load     *load,
            gboolean  idle)
{
  Pair *pair = g_new0 (Pair, 1);

  pair->load = load;
  pair->number = load->started++;
  pair->idle = idle;
  for (guint i = 0; i < 2; i++)
    {
      pair->sides[i].pair = pair;
      pair->sides[i].index = i;
      pair->sides[i].side = g_strdup_printf ("%08x%u", g_random_int (), i);
    }
  if (!idle)
    load->active++;
  pair->allocate_started = g_get_monotonic_time ();

  if (load->wormhole)
    {
      side_join (&pair->sides[0]);
      return;
    }
  {
    g_autofree char *url = g_strconcat (url_for (pair, 0), "/v1/nameplates", NULL);
    g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
    g_autoptr(GBytes) empty = g_bytes_new_static ("{}", 2);

    soup_message_set_request_body_from_bytes (msg, "application/json", empty);
    soup_session_send_and_read_async (pair_session (pair), msg, G_PRIORITY_DEFAULT, NULL,
                                      allocated_cb, pair);
  }
}

/* Memory ----------------------------------------------------------------- */

/* The sum over @pids of a /proc status field: VmRSS now, VmHWM the peak. */
static guint64
status_kib (char       **pids,
            const char  *field)
{
  guint64 total = 0;

  for (guint i = 0; pids != NULL && pids[i] != NULL; i++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/status", pids[i]);
      g_autofree char *text = NULL;
      const char *line;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      line = strstr (text, field);
      if (line != NULL)
        total += g_ascii_strtoull (line + strlen (field), NULL, 10);
    }
  return total;
}

static gboolean
idle_ready (gpointer user_data)
{
  Load *load = user_data;

  return load->idle_ready + load->idle_failed >= load->idle_wanted;
}

static gboolean
wake_cb (gpointer user_data)
{
  return G_SOURCE_REMOVE;
}

static gpointer
idle_thread (gpointer user_data)
{
  Load *load = user_data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  GSource *deadline;

  g_main_context_push_thread_default (context);
  load->idle_session = soup_session_new_with_options ("max-conns", 100000,
                                                      "max-conns-per-host", 100000,
                                                      "timeout", 30, NULL);
  load->idle_loop = g_main_loop_new (context, FALSE);
  for (guint i = 0; i < load->idle_wanted; i++)
    pair_start (load, TRUE);

  deadline = g_timeout_source_new ((guint) ((load->deadline - g_get_monotonic_time ()) / 1000));
  g_source_set_callback (deadline, wake_cb, NULL, NULL);
  g_source_attach (deadline, context);
  while (!idle_ready (load) && g_get_monotonic_time () < load->deadline)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);

  g_mutex_lock (&load->idle_lock);
  load->idle_settled = TRUE;
  g_cond_signal (&load->idle_cond);
  g_mutex_unlock (&load->idle_lock);

  /* Hold the codes until the pairs are done. */
  g_main_loop_run (load->idle_loop);
  g_clear_object (&load->idle_session);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static double
percentile (GArray *values,
            double  p)
{
  gsize index;

  if (values->len == 0)
    return 0;
  index = (gsize) (p * (values->len - 1) + 0.5);
  return g_array_index (values, double, index);
}

static gint
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static gboolean
loopback_only (char **urls)
{
  for (guint i = 0; urls[i] != NULL; i++)
    {
      g_autoptr(GUri) uri = g_uri_parse (urls[i], G_URI_FLAGS_NONE, NULL);
      g_autoptr(GInetAddress) inet = NULL;

      if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0)
        return FALSE;
      inet = g_inet_address_new_from_string (g_uri_get_host (uri));
      if (inet == NULL || !g_inet_address_get_is_loopback (inet))
        return FALSE;
    }
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  g_auto(GStrv) urls = NULL;
  g_auto(GStrv) pids = NULL;
  g_autofree char *protocol = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  int pairs = 2000, concurrency = 100, exchanges = 4, idle = 1000, time_limit = 60;
  const GOptionEntry entries[] = {
    { "url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &urls, "Rendezvous (repeatable)", "http://127.0.0.1:PORT" },
    { "protocol", 0, 0, G_OPTION_ARG_STRING, &protocol, "ferry or wormhole", "NAME" },
    { "pairs", 0, 0, G_OPTION_ARG_INT, &pairs, "Pair sessions in all (≤ 100000)", "N" },
    { "concurrency", 0, 0, G_OPTION_ARG_INT, &concurrency, "Pairs at once (≤ 2000)", "N" },
    { "exchanges", 0, 0, G_OPTION_ARG_INT, &exchanges, "Round trips after the PAKE", "N" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &idle, "Waiting codes held for the memory figure (≤ 5000)", "N" },
    { "time-limit", 0, 0, G_OPTION_ARG_INT, &time_limit, "Seconds at most (≤ 600)", "S" },
    { "pid", 0, 0, G_OPTION_ARG_STRING_ARRAY, &pids, "Process whose RSS counts (repeatable)", "PID" },
    { NULL }
  };
  Load load = { 0 };
  guint64 rss_before, rss_after;
  gint64 start;
  double elapsed;
  g_autoptr(GString) out = g_string_new ("{");

  context = g_option_context_new (NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("ferry-load: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (urls == NULL || !loopback_only (urls))
    {
      g_printerr ("ferry-load: give --url http://127.0.0.1:PORT (loopback only)\n");
      return EXIT_FAILURE;
    }
  if (pairs < 1 || pairs > 100000 || concurrency < 1 || concurrency > 2000 || exchanges < 1 ||
      exchanges > 100 || idle < 0 || idle > 5000 || time_limit < 1 || time_limit > 600)
    {
      g_printerr ("ferry-load: a count or time is out of bounds\n");
      return EXIT_FAILURE;
    }

  /* Each side is a socket: a thousand waiting codes pass the usual soft limit. */
  {
    struct rlimit limit;

    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
      {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
      }
  }

  load.urls = urls;
  load.wormhole = g_strcmp0 (protocol, "wormhole") == 0;
  load.total = (guint) pairs;
  load.concurrency = (guint) concurrency;
  load.exchanges = (guint) exchanges;
  load.loop = g_main_loop_new (NULL, FALSE);
  load.session = soup_session_new_with_options ("max-conns", 100000,
                                                "max-conns-per-host", 100000,
                                                "timeout", 30, NULL);
  for (guint i = 0; i < N_STEPS; i++)
    load.samples[i] = g_array_new (FALSE, FALSE, sizeof (double));

  /* Waiting codes: allocated, the sender in, its PAKE message queued. */
  rss_before = status_kib (pids, "VmRSS:");
  load.idle_wanted = (guint) idle;
  load.deadline = g_get_monotonic_time () + (gint64) time_limit * G_USEC_PER_SEC;
  g_mutex_init (&load.idle_lock);
  g_cond_init (&load.idle_cond);
  load.idle_thread = g_thread_new ("idle-codes", idle_thread, &load);
  g_mutex_lock (&load.idle_lock);
  while (!load.idle_settled)
    g_cond_wait (&load.idle_cond, &load.idle_lock);
  g_mutex_unlock (&load.idle_lock);
  rss_after = status_kib (pids, "VmRSS:");
  g_string_append_printf (out, "\"idle_codes\": %u, \"idle_failed\": %u, "
                          "\"idle_kib_per_code\": %.2f", load.idle_ready, load.idle_failed,
                          load.idle_ready > 0 && rss_after > rss_before ?
                          (double) (rss_after - rss_before) / load.idle_ready : 0.0);

  /* The pairs, with the idle codes still waiting. */
  for (guint i = 0; i < N_STEPS; i++)
    g_array_set_size (load.samples[i], 0);
  load.started = 0;
  load.deadline = g_get_monotonic_time () + (gint64) time_limit * G_USEC_PER_SEC;
  start = g_get_monotonic_time ();
  for (guint i = 0; i < load.concurrency && i < load.total; i++)
    pair_start (&load, FALSE);
  /* Pairs still open at the time limit count as failed: the run ends. */
  g_timeout_add_seconds ((guint) time_limit + 5, quit_cb, load.loop);
  g_main_loop_run (load.loop);
  load.failed += load.active;
  g_main_loop_quit (load.idle_loop);
  g_thread_join (load.idle_thread);
  elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;

  g_string_append_printf (out, ", \"pairs\": %u, \"failed\": %u, \"seconds\": %.2f, "
                          "\"sessions_per_s\": %.1f", load.done, load.failed, elapsed,
                          load.done / elapsed);
  g_string_append_printf (out, ", \"peak_rss_kib\": %" G_GUINT64_FORMAT,
                          status_kib (pids, "VmHWM:"));
  for (guint i = 0; i < N_STEPS; i++)
    {
      g_array_sort (load.samples[i], compare_doubles);
      g_string_append_printf (out, ", \"%s_p50_ms\": %.2f, \"%s_p99_ms\": %.2f",
                              step_names[i], percentile (load.samples[i], 0.5),
                              step_names[i], percentile (load.samples[i], 0.99));
    }
  g_string_append (out, "}");
  g_print ("%s\n", out->str);

  /* Stopping at the time limit is no failure; a pair that failed is. */
  return load.failed == 0 && load.idle_failed == 0 && load.done > 0 ?
         EXIT_SUCCESS : EXIT_FAILURE;
}
