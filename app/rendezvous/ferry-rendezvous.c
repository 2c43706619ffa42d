/* ferry-rendezvous.c
 *
 * The rendezvous server program: options in, FerryRendezvousServer out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>

#include "ferry-rendezvous-server.h"
#include "ferry-version.h"

#define DEFAULT_LISTEN "127.0.0.1:4477"
#define STORE_WAIT_SECONDS 5

static gboolean
set_flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

/* Accepts "ADDR:PORT" and "[V6ADDR]:PORT"; port 0 means any free port. */
static GSocketAddress *
parse_listen (const char  *text,
              GError     **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');
  g_autoptr(GInetAddress) inet = NULL;
  guint64 port;

  if (colon == NULL || colon == text ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT16, &port, NULL))
    goto bad;

  if (text[0] == '[' && colon[-1] == ']')
    host = g_strndup (text + 1, colon - text - 2);
  else
    host = g_strndup (text, colon - text);

  inet = g_inet_address_new_from_string (host);
  if (inet == NULL)
    goto bad;

  return g_inet_socket_address_new (inet, (guint16) port);

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--listen wants ADDRESS:PORT with a numeric address, not “%s”", text);
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(FerryRendezvousServer) server = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *turn_secret = NULL;
  g_autofree char *url = NULL;
  g_autofree char *trusted_proxy = NULL;
  g_autofree char *redis = NULL;
  g_auto(GStrv) stun = NULL;
  g_auto(GStrv) turn = NULL;
  int mailbox_ttl = FERRY_RENDEZVOUS_DEFAULT_MAILBOX_TTL;
  int idle_timeout = FERRY_RENDEZVOUS_DEFAULT_IDLE_TIMEOUT;
  int max_message_size = FERRY_RENDEZVOUS_DEFAULT_MAX_MESSAGE_SIZE;
  int max_queued = FERRY_RENDEZVOUS_DEFAULT_MAX_QUEUED_MESSAGES;
  int per_address = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES_PER_ADDR;
  int per_minute = FERRY_RENDEZVOUS_DEFAULT_ALLOCATIONS_PER_MINUTE;
  int max_mailboxes = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOXES;
  int turn_ttl = FERRY_RENDEZVOUS_DEFAULT_TURN_TTL;
  int request_timeout = FERRY_RENDEZVOUS_DEFAULT_REQUEST_TIMEOUT;
  int mailbox_bytes = FERRY_RENDEZVOUS_DEFAULT_MAX_MAILBOX_BYTES;
  int first_message = FERRY_RENDEZVOUS_DEFAULT_FIRST_MESSAGE_TIMEOUT;
  int joins = FERRY_RENDEZVOUS_DEFAULT_JOINS_PER_MINUTE;
  int ice = FERRY_RENDEZVOUS_DEFAULT_ICE_PER_MINUTE;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      "Address and port to serve on (default " DEFAULT_LISTEN "; port 0: any)", "ADDR:PORT" },
    { "turn-secret", 0, 0, G_OPTION_ARG_STRING, &turn_secret,
      "coturn static-auth-secret for TURN credentials (better: $FERRY_TURN_SECRET)", "SECRET" },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &stun,
      "STUN server for clients, e.g. stun:host:3478 (repeatable)", "URI" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn,
      "TURN server for clients, e.g. turn:host:3478?transport=udp (repeatable)", "URI" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_INT, &turn_ttl,
      "Seconds a TURN credential is valid", "SECONDS" },
    { "mailbox-ttl", 0, 0, G_OPTION_ARG_INT, &mailbox_ttl,
      "Seconds a nameplate lives", "SECONDS" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Seconds a side may stay silent (no message, no pong)", "SECONDS" },
    { "max-message-size", 0, 0, G_OPTION_ARG_INT, &max_message_size,
      "Largest mailbox message", "BYTES" },
    { "max-mailbox-bytes", 0, 0, G_OPTION_ARG_INT, &mailbox_bytes,
      "Bytes one mailbox may carry in its life, both ways", "BYTES" },
    { "max-queued-messages", 0, 0, G_OPTION_ARG_INT, &max_queued,
      "Messages kept for a side that has not joined yet", "N" },
    { "max-mailboxes-per-address", 0, 0, G_OPTION_ARG_INT, &per_address,
      "Live mailboxes one client address may own", "N" },
    { "allocations-per-minute", 0, 0, G_OPTION_ARG_INT, &per_minute,
      "Nameplates one client address may ask for per minute", "N" },
    { "max-mailboxes", 0, 0, G_OPTION_ARG_INT, &max_mailboxes,
      "Live mailboxes in all", "N" },
    { "request-timeout", 0, 0, G_OPTION_ARG_INT, &request_timeout,
      "Seconds a client may take to send one HTTP request", "SECONDS" },
    { "first-message-timeout", 0, 0, G_OPTION_ARG_INT, &first_message,
      "Seconds a side that joined has to send its first message", "SECONDS" },
    { "joins-per-minute", 0, 0, G_OPTION_ARG_INT, &joins,
      "Mailbox joins one client address may try per minute", "N" },
    { "ice-per-minute", 0, 0, G_OPTION_ARG_INT, &ice,
      "ICE server requests per side (or per address, without a mailbox) per minute", "N" },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING, &trusted_proxy,
      "Believe Forwarded / X-Forwarded-For from this proxy address only", "ADDR" },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &redis,
      "Share codes and mailboxes with other instances through Redis (or $FERRY_REDIS_URL)",
      "redis://HOST:PORT[/DB]" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  const struct { const char *name; const int *value; } limits[] = {
    { "mailbox-ttl", &mailbox_ttl },
    { "idle-timeout", &idle_timeout },
    { "max-message-size", &max_message_size },
    { "max-queued-messages", &max_queued },
    { "max-mailboxes-per-address", &per_address },
    { "allocations-per-minute", &per_minute },
    { "max-mailboxes", &max_mailboxes },
    { "turn-ttl", &turn_ttl },
    { "request-timeout", &request_timeout },
    { "max-mailbox-bytes", &mailbox_bytes },
    { "first-message-timeout", &first_message },
    { "joins-per-minute", &joins },
    { "ice-per-minute", &ice },
  };

  if (!ferry_init (&error))
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "Pairs Ferry senders and receivers by nameplate and relays "
                                "their mailbox messages.\n\n"
                                "By default all state is kept in this process's memory: a "
                                "restart loses every waiting code. With --redis, nameplates "
                                "and mailboxes live in Redis: several instances share them, "
                                "and codes outlive a restart of any one of them.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (version)
    {
      g_print ("ferry-rendezvous %s\n", ferry_version ());
      return EXIT_SUCCESS;
    }

  if (argc > 1)
    {
      g_printerr ("ferry-rendezvous: unexpected argument “%s”\n", argv[1]);
      return EXIT_FAILURE;
    }

  /* The environment keeps the secret out of ps. */
  if (turn_secret == NULL && g_getenv ("FERRY_TURN_SECRET") != NULL &&
      *g_getenv ("FERRY_TURN_SECRET") != '\0')
    turn_secret = g_strdup (g_getenv ("FERRY_TURN_SECRET"));

  if (redis == NULL && g_getenv ("FERRY_REDIS_URL") != NULL &&
      *g_getenv ("FERRY_REDIS_URL") != '\0')
    redis = g_strdup (g_getenv ("FERRY_REDIS_URL"));

  address = parse_listen (listen != NULL ? listen : DEFAULT_LISTEN, &error);
  if (address == NULL)
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (trusted_proxy != NULL)
    {
      g_autoptr(GInetAddress) proxy = g_inet_address_new_from_string (trusted_proxy);

      if (proxy == NULL)
        {
          g_printerr ("ferry-rendezvous: --trusted-proxy wants a numeric address, not “%s”\n",
                      trusted_proxy);
          return EXIT_FAILURE;
        }
    }

  server = ferry_rendezvous_server_new ();
  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      GParamSpecUInt *pspec = G_PARAM_SPEC_UINT (g_object_class_find_property (
                                G_OBJECT_GET_CLASS (server), limits[i].name));

      if (*limits[i].value < 0 || (guint) *limits[i].value < pspec->minimum ||
          (guint) *limits[i].value > pspec->maximum)
        {
          g_printerr ("ferry-rendezvous: --%s must be between %u and %u\n",
                      limits[i].name, pspec->minimum, pspec->maximum);
          return EXIT_FAILURE;
        }
      g_object_set (server, limits[i].name, (guint) *limits[i].value, NULL);
    }
  g_object_set (server,
                "turn-secret", turn_secret,
                "stun-uris", stun,
                "turn-uris", turn,
                "trusted-proxy", trusted_proxy,
                NULL);

  if (redis != NULL && !ferry_rendezvous_server_set_redis (server, redis, &error))
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (turn_secret != NULL && turn == NULL)
    g_printerr ("ferry-rendezvous: a TURN secret without --turn hands out no TURN server\n");

  /* A load balancer may send clients as soon as we listen: give Redis a
   * moment to answer first. Without it the server still starts, and
   * /healthz says that the store is missing. */
  if (redis != NULL)
    {
      gboolean waited = FALSE;
      guint timer = g_timeout_add_seconds (STORE_WAIT_SECONDS, set_flag_cb, &waited);

      while (!ferry_rendezvous_server_is_ready (server) && !waited)
        g_main_context_iteration (NULL, TRUE);
      if (waited)
        g_printerr ("ferry-rendezvous: Redis at %s does not answer yet; serving anyway\n", redis);
      else
        g_source_remove (timer);
    }

  if (!ferry_rendezvous_server_listen (server, address, &error))
    {
      g_printerr ("ferry-rendezvous: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* Tests and scripts read this line to learn the port. */
  url = ferry_rendezvous_server_dup_url (server);
  g_print ("listening on %s\n", url);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);

  g_message ("shutting down");
  return EXIT_SUCCESS;
}
