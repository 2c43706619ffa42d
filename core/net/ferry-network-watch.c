/* ferry-network-watch.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-network"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <nice/interfaces.h>

#include "ferry-network-watch.h"

/**
 * FerryNetworkWatch:
 *
 * Emits #FerryNetworkWatch::changed, on the thread-default main context of
 * its creation, whenever a link, an address or a route of this machine (of
 * this network namespace) comes or goes.
 *
 * It listens on an rtnetlink socket rather than through #GNetworkMonitor:
 * GLib's netlink monitor follows routes only, and what makes an interface
 * usable for ICE is a link flag. libnice lists the addresses of interfaces
 * that are IFF_UP and IFF_RUNNING, and the kernel sets IFF_RUNNING from the
 * link's operational state (RFC 2863), which it updates from carrier in its
 * link-watch work, after the address and the carrier are already there: an
 * interface can be configured and yet, for a moment, not usable. Where
 * rtnetlink cannot be opened (a sandbox without it) #GNetworkMonitor's
 * signal stands in.
 */

struct _FerryNetworkWatch
{
  GObject          parent_instance;

  GSocket         *socket;
  GSource         *source;
  GNetworkMonitor *monitor;
  gulong           monitor_id;
};

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (FerryNetworkWatch, ferry_network_watch, G_TYPE_OBJECT)

/**
 * ferry_network_has_usable_address:
 *
 * Whether libnice would find an address to gather host candidates on: the
 * same enumeration it runs itself (loopback excluded).
 *
 * Returns: %TRUE if at least one non-loopback address is usable
 */
gboolean
ferry_network_has_usable_address (void)
{
  GList *addresses = nice_interfaces_get_local_ips (FALSE);
  gboolean found = addresses != NULL;

  g_list_free_full (addresses, g_free);
  return found;
}

static gboolean
socket_readable_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  FerryNetworkWatch *self = user_data;
  char buffer[8192];
  gboolean changed = FALSE;

  /* Drain everything queued, then say so once: one change often comes as a
   * burst of messages (link, then addresses, then routes). */
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

      if (n > 0)
        {
          changed = TRUE;
          continue;
        }
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      /* ENOBUFS: the kernel dropped messages; something changed anyway. */
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          changed = TRUE;
          continue;
        }
      if (n < 0)
        g_debug ("Reading rtnetlink failed: %s", error->message);
      break;
    }

  if (changed)
    g_signal_emit (self, signals[CHANGED], 0);

  return G_SOURCE_CONTINUE;
}

static GSocket *
open_rtnetlink (GError **error)
{
  struct sockaddr_nl address = { 0 };
  GSocket *netlink;
  int fd;

  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "Cannot open rtnetlink: %s", g_strerror (errno));
      return NULL;
    }

  address.nl_family = AF_NETLINK;
  address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                      RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0)
    {
      int saved = errno;

      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Cannot listen on rtnetlink: %s", g_strerror (saved));
      return NULL;
    }

  netlink = g_socket_new_from_fd (fd, error);
  if (netlink == NULL)
    {
      close (fd);
      return NULL;
    }

  /* The drain loop in socket_readable_cb relies on reads that do not wait. */
  g_socket_set_blocking (netlink, FALSE);
  return netlink;
}

static void
monitor_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    gpointer         user_data)
{
  g_signal_emit (user_data, signals[CHANGED], 0);
}

FerryNetworkWatch *
ferry_network_watch_new (void)
{
  return g_object_new (FERRY_TYPE_NETWORK_WATCH, NULL);
}

static void
ferry_network_watch_constructed (GObject *object)
{
  FerryNetworkWatch *self = FERRY_NETWORK_WATCH (object);
  g_autoptr(GError) error = NULL;

  G_OBJECT_CLASS (ferry_network_watch_parent_class)->constructed (object);

  self->socket = open_rtnetlink (&error);
  if (self->socket != NULL)
    {
      self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
      g_source_set_callback (self->source, G_SOURCE_FUNC (socket_readable_cb), self, NULL);
      g_source_set_static_name (self->source, "[ferry] network watch");
      g_source_attach (self->source, g_main_context_get_thread_default ());
      return;
    }

  g_debug ("%s; following GNetworkMonitor instead", error->message);
  self->monitor = g_object_ref (g_network_monitor_get_default ());
  self->monitor_id = g_signal_connect (self->monitor, "network-changed",
                                       G_CALLBACK (monitor_changed_cb), self);
}

static void
ferry_network_watch_dispose (GObject *object)
{
  FerryNetworkWatch *self = FERRY_NETWORK_WATCH (object);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  if (self->monitor != NULL)
    g_clear_signal_handler (&self->monitor_id, self->monitor);
  g_clear_object (&self->monitor);

  G_OBJECT_CLASS (ferry_network_watch_parent_class)->dispose (object);
}

static void
ferry_network_watch_class_init (FerryNetworkWatchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ferry_network_watch_constructed;
  object_class->dispose = ferry_network_watch_dispose;

  /**
   * FerryNetworkWatch::changed:
   *
   * A link, address or route came or went.
   */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ferry_network_watch_init (FerryNetworkWatch *self)
{
}
