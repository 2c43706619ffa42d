/* ferry-lan.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-lan"

#include "config.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-glib/glib-watch.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "ferry-lan.h"
#include "ferry-rendezvous-server.h"

/**
 * SECTION:ferry-lan
 *
 * Meeting on the local network without any server (issue 18).
 *
 * The sender (#FerryLanHost) runs the rendezvous server inside itself on a
 * port of every local address, for its one nameplate only: the same wire
 * protocol, limits and burn on a wrong code as on the internet. It
 * publishes a `_ferry._tcp` service with the nameplate in its TXT record
 * (never the secret words) through the system's avahi-daemon, and joins
 * its own mailbox over loopback. The receiver (ferry_lan_find_async())
 * browses for the nameplate and gets the URL of that server; everything
 * after that (PAKE, signalling, ICE, QUIC) is unchanged.
 *
 * Whatever a browse finds is attacker input: another machine can publish
 * any nameplate. It can only make the receiver run its one PAKE guess
 * against a server that does not know the words, which fails as a wrong
 * code does.
 */

G_DEFINE_QUARK (ferry-lan-error-quark, ferry_lan_error)

#define TXT_NAMEPLATE "nameplate"

/* Nothing is returned from inside an Avahi callback: whoever gets a result
 * may drop the last reference, and a client must not be freed inside its
 * own callbacks. Results go out from an idle instead. */
typedef struct
{
  AvahiClient   *client;
  AvahiGLibPoll *poll;
} AvahiHandle;

static void
avahi_handle_free (AvahiHandle *handle)
{
  if (handle->client != NULL)
    avahi_client_free (handle->client);
  if (handle->poll != NULL)
    avahi_glib_poll_free (handle->poll);
  g_free (handle);
}

/* Some up interface other than loopback must multicast, or mDNS cannot
 * work at all; that is a different thing to tell a person than "nobody
 * has the code". */
static gboolean
check_multicast (GError **error)
{
  struct ifaddrs *addresses = NULL;
  gboolean found = FALSE;

  if (getifaddrs (&addresses) != 0)
    return TRUE;

  for (struct ifaddrs *a = addresses; a != NULL; a = a->ifa_next)
    {
      if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET)
        continue;
      if ((a->ifa_flags & IFF_UP) && (a->ifa_flags & IFF_MULTICAST) &&
          !(a->ifa_flags & IFF_LOOPBACK))
        found = TRUE;
    }
  freeifaddrs (addresses);

  if (!found)
    g_set_error_literal (error, FERRY_LAN_ERROR, FERRY_LAN_ERROR_NO_MULTICAST,
                         _("This computer is on no network that allows local discovery "
                           "(no connected interface can multicast)."));
  return found;
}

static AvahiHandle *
avahi_handle_new (AvahiClientCallback   callback,
                  gpointer              user_data,
                  GError              **error)
{
  AvahiHandle *handle;
  int avahi_error = 0;

  if (!check_multicast (error))
    return NULL;

  handle = g_new0 (AvahiHandle, 1);
  handle->poll = avahi_glib_poll_new (g_main_context_get_thread_default (), G_PRIORITY_DEFAULT);
  handle->client = avahi_client_new (avahi_glib_poll_get (handle->poll), 0, callback, user_data,
                                     &avahi_error);
  if (handle->client == NULL)
    {
      g_set_error (error, FERRY_LAN_ERROR, FERRY_LAN_ERROR_UNAVAILABLE,
                   _("Local discovery is unavailable: the Avahi service (avahi-daemon) "
                     "is not running (%s)."),
                   avahi_strerror (avahi_error));
      avahi_handle_free (handle);
      return NULL;
    }

  return handle;
}

static GError *
avahi_error_new (AvahiClient *client,
                 const char  *what)
{
  return g_error_new (FERRY_LAN_ERROR, FERRY_LAN_ERROR_UNAVAILABLE,
                      _("Local discovery failed: %s: %s"), what,
                      avahi_strerror (avahi_client_errno (client)));
}

/**
 * ferry_lan_random_nameplate:
 *
 * Returns: (transfer full): a nameplate for a sender without a server, in
 *   a range no server hands out
 */
char *
ferry_lan_random_nameplate (void)
{
  guint32 value;

  if (getrandom (&value, sizeof value, 0) != sizeof value)
    g_error ("getrandom failed");

  return g_strdup_printf ("%u", FERRY_LAN_MIN_NAMEPLATE +
                                value % (FERRY_LAN_MAX_NAMEPLATE - FERRY_LAN_MIN_NAMEPLATE + 1));
}

/* The service name is for people browsing with other tools; the TXT
 * record is what counts. */
static char *
service_name (const char *nameplate)
{
  return g_strdup_printf ("Ferry %s", nameplate);
}

/* Host ------------------------------------------------------------------ */

/**
 * FerryLanHost:
 *
 * The sender's own rendezvous for one nameplate, published on the local
 * network while the code waits.
 */
struct _FerryLanHost
{
  GObject                 parent_instance;

  char                   *nameplate;
  char                   *name;
  FerryRendezvousServer  *server;
  FerryRendezvousClient  *client;
  guint16                 port;

  AvahiHandle            *avahi;
  AvahiEntryGroup        *group;
  GTask                  *start_task;
  GError                 *start_error;
  gulong                  cancelled_id;
  guint                   return_id;
  FerryMailbox           *mailbox;
};

G_DEFINE_FINAL_TYPE (FerryLanHost, ferry_lan_host, G_TYPE_OBJECT)

static void
ferry_lan_host_dispose (GObject *object)
{
  FerryLanHost *self = FERRY_LAN_HOST (object);

  g_assert (self->start_task == NULL);
  g_assert (self->return_id == 0);

  self->group = NULL;  /* freed with the client */
  g_clear_pointer (&self->avahi, avahi_handle_free);
  g_clear_object (&self->mailbox);
  g_clear_object (&self->client);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (ferry_lan_host_parent_class)->dispose (object);
}

static void
ferry_lan_host_finalize (GObject *object)
{
  FerryLanHost *self = FERRY_LAN_HOST (object);

  g_free (self->nameplate);
  g_free (self->name);

  G_OBJECT_CLASS (ferry_lan_host_parent_class)->finalize (object);
}

static void
ferry_lan_host_class_init (FerryLanHostClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_lan_host_dispose;
  object_class->finalize = ferry_lan_host_finalize;
}

static void
ferry_lan_host_init (FerryLanHost *self)
{
}

/* The server inside the sender logs each mailbox event as a message, as a
 * server should; inside an app or ferry-cli those are debug output. */
static void
server_log_cb (const char     *log_domain,
               GLogLevelFlags  log_level,
               const char     *message,
               gpointer        user_data)
{
  g_log_default_handler (log_domain, G_LOG_LEVEL_DEBUG, message, NULL);
}

/**
 * ferry_lan_host_new:
 * @nameplate: the nameplate to serve and publish
 */
FerryLanHost *
ferry_lan_host_new (const char *nameplate)
{
  FerryLanHost *self;

  static gsize quiet = 0;

  g_return_val_if_fail (nameplate != NULL, NULL);

  if (g_once_init_enter (&quiet))
    g_once_init_leave (&quiet, g_log_set_handler ("ferry-rendezvous", G_LOG_LEVEL_MESSAGE,
                                                  server_log_cb, NULL));

  self = g_object_new (FERRY_TYPE_LAN_HOST, NULL);
  self->nameplate = g_strdup (nameplate);
  self->name = service_name (nameplate);

  return self;
}

static gboolean
host_start_return_cb (gpointer user_data)
{
  FerryLanHost *self = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&self->start_task);
  GError *error = g_steal_pointer (&self->start_error);

  self->return_id = 0;
  if (self->cancelled_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->cancelled_id);
  self->cancelled_id = 0;

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_object_ref (self->mailbox), g_object_unref);

  return G_SOURCE_REMOVE;
}

/* Ends the start with @error, or with the mailbox once it is open and the
 * service is established; the first outcome counts. */
static void
host_start_return (FerryLanHost *self,
                   GError       *error)
{
  if (self->start_task == NULL || self->return_id != 0)
    {
      g_clear_error (&error);
      return;
    }

  self->start_error = error;
  /* The task holds the host until the idle ran. */
  self->return_id = g_idle_add (host_start_return_cb, self);
}

static void host_publish (FerryLanHost *self,
                          AvahiClient  *client);

static void
host_group_cb (AvahiEntryGroup      *group,
               AvahiEntryGroupState  state,
               void                 *user_data)
{
  FerryLanHost *self = user_data;

  switch (state)
    {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      g_debug ("Published %s for nameplate %s on port %u", self->name, self->nameplate,
               self->port);
      if (self->start_task != NULL && self->mailbox != NULL)
        host_start_return (self, NULL);
      break;

    case AVAHI_ENTRY_GROUP_COLLISION:
      {
        char *name = avahi_alternative_service_name (self->name);

        g_debug ("Service name %s is taken; trying %s", self->name, name);
        g_free (self->name);
        self->name = g_strdup (name);
        avahi_free (name);
        avahi_entry_group_reset (group);
        host_publish (self, avahi_entry_group_get_client (group));
      }
      break;

    case AVAHI_ENTRY_GROUP_FAILURE:
      host_start_return (self, avahi_error_new (avahi_entry_group_get_client (group),
                                                "publishing"));
      break;

    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
    default:
      break;
    }
}

/* Publishes the service once the daemon runs and the mailbox is open. */
static void
host_publish (FerryLanHost *self,
              AvahiClient  *client)
{
  g_autofree char *txt = NULL;
  int ret;

  if (self->mailbox == NULL || avahi_client_get_state (client) != AVAHI_CLIENT_S_RUNNING)
    return;

  if (self->group == NULL)
    {
      self->group = avahi_entry_group_new (client, host_group_cb, self);
      if (self->group == NULL)
        {
          host_start_return (self, avahi_error_new (client, "publishing"));
          return;
        }
    }

  if (!avahi_entry_group_is_empty (self->group))
    return;

  txt = g_strdup_printf (TXT_NAMEPLATE "=%s", self->nameplate);
  ret = avahi_entry_group_add_service (self->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET, 0,
                                       self->name, FERRY_LAN_SERVICE_TYPE, NULL, NULL,
                                       self->port, txt, "v=1", NULL);
  if (ret == AVAHI_ERR_COLLISION)
    {
      host_group_cb (self->group, AVAHI_ENTRY_GROUP_COLLISION, self);
      return;
    }
  if (ret < 0 || avahi_entry_group_commit (self->group) < 0)
    host_start_return (self, avahi_error_new (client, "publishing"));
}

static void
host_client_cb (AvahiClient      *client,
                AvahiClientState  state,
                void             *user_data)
{
  FerryLanHost *self = user_data;

  switch (state)
    {
    case AVAHI_CLIENT_S_RUNNING:
      host_publish (self, client);
      break;

    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      /* The host name changes; the service comes back once it runs again. */
      if (self->group != NULL)
        avahi_entry_group_reset (self->group);
      break;

    case AVAHI_CLIENT_FAILURE:
      host_start_return (self, avahi_error_new (client, "the Avahi service"));
      break;

    case AVAHI_CLIENT_CONNECTING:
    default:
      break;
    }
}

static void
host_mailbox_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(FerryLanHost) self = user_data;
  GError *error = NULL;

  self->mailbox = ferry_rendezvous_client_open_mailbox_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                               result, &error);
  if (self->mailbox == NULL)
    {
      host_start_return (self, error);
      return;
    }

  if (self->start_task == NULL || self->return_id != 0)
    return;

  host_publish (self, self->avahi->client);
}

static void
host_cancelled_cb (GCancellable *cancellable,
                   FerryLanHost *self)
{
  host_start_return (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                "Cancelled"));
}

/**
 * ferry_lan_host_start_async:
 *
 * Starts the server for the nameplate on a port of every IPv4 address,
 * joins its mailbox over loopback and publishes the service. Fails at once
 * with %FERRY_LAN_ERROR_UNAVAILABLE or %FERRY_LAN_ERROR_NO_MULTICAST when
 * the network cannot be used.
 */
void
ferry_lan_host_start_async (FerryLanHost        *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *url = NULL;
  g_autofree char *loopback_url = NULL;
  GError *error = NULL;

  g_return_if_fail (FERRY_IS_LAN_HOST (self));
  g_return_if_fail (self->server == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_lan_host_start_async);

  self->avahi = avahi_handle_new (host_client_cb, self, &error);
  if (self->avahi == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  self->server = ferry_rendezvous_server_new ();
  any = g_inet_socket_address_new_from_string ("0.0.0.0", 0);
  if (!ferry_rendezvous_server_listen (self->server, any, &error) ||
      !ferry_rendezvous_server_reserve_nameplate (self->server, self->nameplate, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  url = ferry_rendezvous_server_dup_url (self->server);
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  self->port = (guint16) g_uri_get_port (uri);
  loopback_url = g_strdup_printf ("http://127.0.0.1:%u", self->port);
  self->client = ferry_rendezvous_client_new (loopback_url);

  self->start_task = g_steal_pointer (&task);
  if (cancellable != NULL)
    self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (host_cancelled_cb),
                                                self, NULL);

  ferry_rendezvous_client_open_mailbox_async (self->client, self->nameplate, cancellable,
                                              host_mailbox_cb, g_object_ref (self));
}

/**
 * ferry_lan_host_start_finish:
 *
 * Returns: (transfer full): our side of the mailbox, where nothing was sent yet
 */
FerryMailbox *
ferry_lan_host_start_finish (FerryLanHost  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (FERRY_IS_LAN_HOST (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ferry_lan_host_get_client:
 *
 * Returns: (transfer none) (nullable): the client of our own server, over
 *   loopback, once started
 */
FerryRendezvousClient *
ferry_lan_host_get_client (FerryLanHost *self)
{
  g_return_val_if_fail (FERRY_IS_LAN_HOST (self), NULL);

  return self->client;
}

/**
 * ferry_lan_host_unpublish:
 *
 * The code no longer waits: nobody else needs to find it. The server goes
 * on serving the mailbox until the host is dropped.
 */
void
ferry_lan_host_unpublish (FerryLanHost *self)
{
  g_return_if_fail (FERRY_IS_LAN_HOST (self));

  if (self->group != NULL)
    avahi_entry_group_reset (self->group);
}

/* Finding --------------------------------------------------------------- */

typedef struct
{
  char        *nameplate;
  char        *name;
  AvahiHandle *avahi;
  GSource     *timeout;
  gulong       cancelled_id;
  gboolean     done;
  char        *url;
  GError      *error;
} Find;

static void
find_free (Find *find)
{
  g_clear_pointer (&find->avahi, avahi_handle_free);
  g_free (find->nameplate);
  g_free (find->name);
  g_free (find->url);
  g_clear_error (&find->error);
  g_free (find);
}

static gboolean
find_return_cb (gpointer user_data)
{
  GTask *task = user_data;
  Find *find = g_task_get_task_data (task);

  if (find->cancelled_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), find->cancelled_id);
  find->cancelled_id = 0;
  g_clear_pointer (&find->avahi, avahi_handle_free);

  if (find->error != NULL)
    g_task_return_error (task, g_steal_pointer (&find->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&find->url), g_free);
  g_object_unref (task);

  return G_SOURCE_REMOVE;
}

/* The first outcome counts: @url or @error. The task holds itself until
 * then. */
static void
find_return (GTask  *task,
             char   *url,
             GError *error)
{
  Find *find = g_task_get_task_data (task);

  if (find->done)
    {
      g_free (url);
      g_clear_error (&error);
      return;
    }

  find->done = TRUE;
  find->url = url;
  find->error = error;
  g_source_destroy (find->timeout);
  g_clear_pointer (&find->timeout, g_source_unref);
  g_idle_add (find_return_cb, task);
}

static gboolean
find_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  Find *find = g_task_get_task_data (task);

  g_debug ("Nobody on the local network has nameplate %s", find->nameplate);
  find_return (task, NULL, g_error_new_literal (FERRY_LAN_ERROR, FERRY_LAN_ERROR_NOT_FOUND,
                                                _("No Ferry on this network has this code. "
                                                  "Check the code with the sender; if it is "
                                                  "on this network, the network may block the "
                                                  "multicast Ferry finds it with.")));
  return G_SOURCE_REMOVE;
}

static void
find_cancelled_cb (GCancellable *cancellable,
                   GTask        *task)
{
  find_return (task, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled"));
}

static gboolean
txt_has_nameplate (AvahiStringList *txt,
                   const char      *nameplate)
{
  AvahiStringList *item = avahi_string_list_find (txt, TXT_NAMEPLATE);
  char *key = NULL;
  char *value = NULL;
  size_t size = 0;
  gboolean matches;

  if (item == NULL || avahi_string_list_get_pair (item, &key, &value, &size) < 0)
    return FALSE;

  matches = value != NULL && strlen (value) == size && g_str_equal (value, nameplate);
  avahi_free (key);
  avahi_free (value);
  return matches;
}

static void
resolve_cb (AvahiServiceResolver   *resolver,
            AvahiIfIndex            interface,
            AvahiProtocol           protocol,
            AvahiResolverEvent      event,
            const char             *name,
            const char             *type,
            const char             *domain,
            const char             *host_name,
            const AvahiAddress     *address,
            uint16_t                port,
            AvahiStringList        *txt,
            AvahiLookupResultFlags  flags,
            void                   *user_data)
{
  GTask *task = user_data;
  Find *find = g_task_get_task_data (task);
  char text[AVAHI_ADDRESS_STR_MAX];

  if (find->done)
    {
      avahi_service_resolver_free (resolver);
      return;
    }

  if (event != AVAHI_RESOLVER_FOUND)
    {
      g_debug ("Could not resolve %s: %s", name,
               avahi_strerror (avahi_client_errno (avahi_service_resolver_get_client (resolver))));
      avahi_service_resolver_free (resolver);
      return;
    }

  if (address->proto != AVAHI_PROTO_INET || port == 0 || !txt_has_nameplate (txt, find->nameplate))
    {
      g_debug ("Ignoring %s: not nameplate %s over IPv4", name, find->nameplate);
      avahi_service_resolver_free (resolver);
      return;
    }

  avahi_address_snprint (text, sizeof text, address);
  avahi_service_resolver_free (resolver);
  g_debug ("Nameplate %s is at %s:%u", find->nameplate, text, port);
  find_return (task, g_strdup_printf ("http://%s:%u", text, port), NULL);
}

/* "Ferry 12", or the same renamed after a collision ("Ferry 12 #2"). */
static gboolean
name_may_match (const char *name,
                const char *wanted)
{
  gsize length = strlen (wanted);

  return strncmp (name, wanted, length) == 0 && (name[length] == '\0' || name[length] == ' ');
}

static void
browse_cb (AvahiServiceBrowser    *browser,
           AvahiIfIndex            interface,
           AvahiProtocol           protocol,
           AvahiBrowserEvent       event,
           const char             *name,
           const char             *type,
           const char             *domain,
           AvahiLookupResultFlags  flags,
           void                   *user_data)
{
  GTask *task = user_data;
  Find *find = g_task_get_task_data (task);
  AvahiClient *client = avahi_service_browser_get_client (browser);

  if (find->done)
    return;

  switch (event)
    {
    case AVAHI_BROWSER_NEW:
      if (!name_may_match (name, find->name))
        break;
      if (avahi_service_resolver_new (client, interface, protocol, name, type, domain,
                                      AVAHI_PROTO_INET, 0, resolve_cb, task) == NULL)
        g_debug ("Cannot resolve %s: %s", name, avahi_strerror (avahi_client_errno (client)));
      break;

    case AVAHI_BROWSER_FAILURE:
      find_return (task, NULL, avahi_error_new (client, "browsing"));
      break;

    case AVAHI_BROWSER_REMOVE:
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
    default:
      break;
    }
}

static void
find_client_cb (AvahiClient      *client,
                AvahiClientState  state,
                void             *user_data)
{
  GTask *task = user_data;
  Find *find = g_task_get_task_data (task);

  if (state == AVAHI_CLIENT_FAILURE && !find->done)
    find_return (task, NULL, avahi_error_new (client, "the Avahi service"));
}

/**
 * ferry_lan_find_async:
 * @nameplate: the nameplate of the code the receiver was given
 * @timeout_ms: how long to look
 *
 * Browses the local network for a sender that publishes @nameplate.
 * Fails with %FERRY_LAN_ERROR_NOT_FOUND once @timeout_ms passed, or at once
 * when the network cannot be used (%FERRY_LAN_ERROR_UNAVAILABLE,
 * %FERRY_LAN_ERROR_NO_MULTICAST).
 */
void
ferry_lan_find_async (const char          *nameplate,
                      guint                timeout_ms,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task;
  Find *find;
  GError *error = NULL;

  g_return_if_fail (nameplate != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_lan_find_async);
  find = g_new0 (Find, 1);
  find->nameplate = g_strdup (nameplate);
  find->name = service_name (nameplate);
  g_task_set_task_data (task, find, (GDestroyNotify) find_free);

  /* The task holds itself until find_return(). */
  find->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (find->timeout, find_timeout_cb, task, NULL);
  g_source_attach (find->timeout, g_task_get_context (task));

  find->avahi = avahi_handle_new (find_client_cb, task, &error);
  if (find->avahi == NULL)
    {
      find_return (task, NULL, error);
      return;
    }

  if (avahi_service_browser_new (find->avahi->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                 FERRY_LAN_SERVICE_TYPE, NULL, 0, browse_cb, task) == NULL)
    {
      find_return (task, NULL, avahi_error_new (find->avahi->client, "browsing"));
      return;
    }

  if (cancellable != NULL)
    find->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (find_cancelled_cb),
                                                task, NULL);
}

/**
 * ferry_lan_find_finish:
 *
 * Returns: (transfer full): the URL of the sender's rendezvous
 */
char *
ferry_lan_find_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
