/* ferry-session.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-session"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "ferry-channel.h"
#include "ferry-code.h"
#include "ferry-connector.h"
#include "ferry-lan.h"
#include "ferry-pake.h"
#include "ferry-quic.h"
#include "ferry-session.h"
#include "ferry-signalling.h"

/**
 * FerrySession:
 *
 * One send or one receive, from the share code to the last verified byte:
 * the path of one transfer in DESIGN.md, as one object the app and
 * ferry-cli observe.
 *
 * 1. The sender gets a code (#FerryChannel), the receiver opens it; the
 *    PAKE gives both the same key. The sender waits in the server's
 *    mailbox and in its own on the local network (#FerryLanHost) at once;
 *    the receiver joins the first of the two that opens, and only that one.
 * 2. Over the sealed channel (#FerrySignalling) each side sends a "hello"
 *    with its QUIC certificate fingerprint, and #FerryConnector trickles
 *    ICE candidates and port mappings until a path works.
 * 3. QUIC runs over the ICE datagrams, each side pinning the fingerprint it
 *    got under the PAKE key, so neither the rendezvous server nor a relay
 *    can read or alter anything.
 * 4. #FerryTransfer moves the files; the receiver sees the offer first.
 *
 * Whatever ends the session, the port mappings are deleted and the
 * nameplate is left before ferry_session_run_async() completes.
 */
struct _FerrySession
{
  GObject                 parent_instance;

  FerryRendezvousClient  *client;
  FerryStore             *store;
  GPtrArray              *files;
  char                   *text;
  GFile                  *download_folder;
  char                   *code;
  guint                   n_words;
  guint                   portmap;
  guint                   candidate_types;

  FerrySessionState       state;
  GError                 *error;

  GTask                  *run_task;
  GCancellable           *cancellable;
  gulong                  cancelled_id;

  FerryChannel           *channel;        /* the one mailbox both sides use */
  FerryRendezvousClient  *mailbox_client; /* the server of that mailbox */

  /* Sender: a waiting channel per mailbox (Attempt); the first with a peer wins. */
  GPtrArray              *attempts;
  FerryLanHost           *lan_host;
  guint                   pending;
  GError                 *server_error;
  GError                 *lan_error;
  /* Receiver: the mailbox through the server and the one on the network race. */
  FerryRendezvousClient  *lan_client;
  GCancellable           *server_race;
  GCancellable           *lan_race;
  FerryOffer             *offer;
  FerrySignalling        *signalling;
  FerryConnector         *connector;
  FerryIceSession        *ice;
  FerryPath              *path;
  FerryQuicConnection    *quic;
  FerryTransfer          *transfer;
  guint                   writable_source;

  guint                   is_sender : 1;
  guint                   channel_ready : 1;
  guint                   hello_received : 1;
  guint                   ice_ready : 1;
  guint                   ending : 1;
};

G_DEFINE_FINAL_TYPE (FerrySession, ferry_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_CODE,
  PROP_PATH,
  PROP_TRANSFER,
  PROP_OFFER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The steps, in the order they run and this file follows: each one, once
 * done, starts the next (see the class comment). */
static void start_link        (FerrySession *self);
static void start_ice         (FerrySession *self);
static void maybe_start_quic  (FerrySession *self);
static void start_transfer    (FerrySession *self);
static void record_path       (FerrySession *self);
static void ferry_session_end (FerrySession *self,
                               GError       *error);

static void
ferry_session_set_state (FerrySession      *self,
                         FerrySessionState  state)
{
  if (self->state == state)
    return;

  g_debug ("Session state %d → %d", self->state, state);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Every callback of a step holds a reference; once the session is ending,
 * what comes back late is dropped. */
static gboolean
ferry_session_is_live (FerrySession *self)
{
  return self->run_task != NULL && !self->ending;
}

static void
ferry_session_fail (FerrySession *self,
                    GError       *error)
{
  if (!ferry_session_is_live (self))
    {
      g_error_free (error);
      return;
    }

  ferry_session_end (self, error);
}

/* Whatever still holds the connection after the session is gone must not
 * reach back into it. */
static gboolean
drop_datagram (const guint8 *data,
               gsize         len,
               gpointer      user_data)
{
  return TRUE;
}

static void
ferry_session_dispose (GObject *object)
{
  FerrySession *self = (FerrySession *)object;

  g_clear_handle_id (&self->writable_source, g_source_remove);
  if (self->cancelled_id != 0 && self->run_task != NULL)
    g_cancellable_disconnect (g_task_get_cancellable (self->run_task), self->cancelled_id);
  self->cancelled_id = 0;

  if (self->ice != NULL)
    ferry_ice_session_set_receive_func (self->ice, NULL, NULL, NULL);
  if (self->quic != NULL)
    ferry_quic_connection_set_send_func (self->quic, drop_datagram, NULL, NULL);

  g_clear_object (&self->transfer);
  g_clear_object (&self->quic);
  g_clear_object (&self->path);
  g_clear_object (&self->ice);
  g_clear_object (&self->connector);
  g_clear_object (&self->signalling);
  g_clear_object (&self->channel);
  g_clear_pointer (&self->attempts, g_ptr_array_unref);
  g_clear_object (&self->lan_host);
  g_clear_object (&self->lan_client);
  g_clear_object (&self->mailbox_client);
  g_clear_object (&self->server_race);
  g_clear_object (&self->lan_race);
  g_clear_object (&self->offer);
  g_clear_object (&self->run_task);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (ferry_session_parent_class)->dispose (object);
}

static void
ferry_session_finalize (GObject *object)
{
  FerrySession *self = (FerrySession *)object;

  g_clear_pointer (&self->files, g_ptr_array_unref);
  g_clear_pointer (&self->text, g_free);
  g_clear_object (&self->download_folder);
  g_clear_pointer (&self->code, g_free);
  g_clear_error (&self->error);
  g_clear_error (&self->server_error);
  g_clear_error (&self->lan_error);

  G_OBJECT_CLASS (ferry_session_parent_class)->finalize (object);
}

static void
ferry_session_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  FerrySession *self = FERRY_SESSION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;

    case PROP_CODE:
      g_value_set_string (value, self->code);
      break;

    case PROP_PATH:
      g_value_set_object (value, self->path);
      break;

    case PROP_TRANSFER:
      g_value_set_object (value, self->transfer);
      break;

    case PROP_OFFER:
      g_value_set_object (value, ferry_session_get_offer (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_session_class_init (FerrySessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ferry_session_dispose;
  object_class->finalize = ferry_session_finalize;
  object_class->get_property = ferry_session_get_property;

  /* An int like FerryChannel:state; the values are FerrySessionState's. */
  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      FERRY_SESSION_STATE_NEW, FERRY_SESSION_STATE_FAILED,
                      FERRY_SESSION_STATE_NEW,
                      (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CODE] =
    g_param_spec_string ("code", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PATH] =
    g_param_spec_object ("path", NULL, NULL,
                         FERRY_TYPE_PATH,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TRANSFER] =
    g_param_spec_object ("transfer", NULL, NULL,
                         FERRY_TYPE_TRANSFER,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_OFFER] =
    g_param_spec_object ("offer", NULL, NULL,
                         FERRY_TYPE_OFFER,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_session_init (FerrySession *self)
{
  self->n_words = FERRY_CODE_DEFAULT_WORDS;
  self->portmap = FERRY_CONNECTOR_PORTMAP_ALL;
  self->candidate_types = FERRY_ICE_CANDIDATE_ALL;
  self->attempts = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * ferry_session_new_sender:
 * @client: the rendezvous server to meet through
 * @store: (nullable): where progress, history and resume state live
 * @files: (array length=n_files): the files and folders to send; none
 *   when ferry_session_set_text() gives text to send alone
 */
FerrySession *
ferry_session_new_sender (FerryRendezvousClient  *client,
                          FerryStore             *store,
                          GFile                 **files,
                          guint                   n_files)
{
  FerrySession *self;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (client), NULL);
  g_return_val_if_fail (store == NULL || FERRY_IS_STORE (store), NULL);
  g_return_val_if_fail (files != NULL || n_files == 0, NULL);

  self = g_object_new (FERRY_TYPE_SESSION, NULL);
  self->client = g_object_ref (client);
  self->store = store != NULL ? g_object_ref (store) : NULL;
  self->is_sender = TRUE;
  self->files = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (self->files, g_object_ref (files[i]));

  return self;
}

/**
 * ferry_session_new_receiver:
 * @client: the rendezvous server to meet through
 * @store: (nullable): where progress, history and resume state live
 * @code: the share code as the user typed it
 * @download_folder: where accepted files land unless ferry_session_accept()
 *   names another folder
 */
FerrySession *
ferry_session_new_receiver (FerryRendezvousClient *client,
                            FerryStore            *store,
                            const char            *code,
                            GFile                 *download_folder)
{
  FerrySession *self;

  g_return_val_if_fail (FERRY_IS_RENDEZVOUS_CLIENT (client), NULL);
  g_return_val_if_fail (store == NULL || FERRY_IS_STORE (store), NULL);
  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (download_folder), NULL);

  self = g_object_new (FERRY_TYPE_SESSION, NULL);
  self->client = g_object_ref (client);
  self->store = store != NULL ? g_object_ref (store) : NULL;
  self->code = g_strdup (code);
  self->download_folder = g_object_ref (download_folder);

  return self;
}

/**
 * ferry_session_set_text:
 * @text: (nullable): a note or link the sender offers, checked as
 *   ferry_offer_check_text() says when the offer is built
 */
void
ferry_session_set_text (FerrySession *self,
                        const char   *text)
{
  g_return_if_fail (FERRY_IS_SESSION (self));
  g_return_if_fail (self->is_sender && self->state == FERRY_SESSION_STATE_NEW);

  g_free (self->text);
  self->text = g_strdup (text);
}

void
ferry_session_set_word_count (FerrySession *self,
                              guint         n_words)
{
  g_return_if_fail (FERRY_IS_SESSION (self));
  g_return_if_fail (n_words >= FERRY_CODE_MIN_WORDS && n_words <= FERRY_CODE_MAX_WORDS);

  self->n_words = n_words;
}

/**
 * ferry_session_set_portmap:
 * @protocols: #FerryConnectorPortmap flags
 *
 * Which port-mapping protocols to ask the router for; all by default.
 */
void
ferry_session_set_portmap (FerrySession *self,
                           guint         protocols)
{
  g_return_if_fail (FERRY_IS_SESSION (self));

  self->portmap = protocols;
}

/**
 * ferry_session_set_candidate_types:
 * @types: #FerryIceCandidateTypes flags
 *
 * Which local candidates to offer; e.g. only relays when the user turned
 * direct connections off. All by default.
 */
void
ferry_session_set_candidate_types (FerrySession *self,
                                   guint         types)
{
  g_return_if_fail (FERRY_IS_SESSION (self));

  self->candidate_types = types;
}

FerrySessionState
ferry_session_get_state (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), FERRY_SESSION_STATE_NEW);

  return self->state;
}

gboolean
ferry_session_is_sender (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), FALSE);

  return self->is_sender;
}

/**
 * ferry_session_get_code:
 *
 * Returns: (nullable): the normalized share code once there is one
 */
const char *
ferry_session_get_code (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), NULL);

  if (self->state == FERRY_SESSION_STATE_NEW ||
      (self->is_sender && self->state == FERRY_SESSION_STATE_PREPARING))
    return NULL;

  return self->code;
}

/**
 * ferry_session_get_path:
 *
 * Returns: (transfer none) (nullable): the live path once ICE connected
 */
FerryPath *
ferry_session_get_path (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), NULL);

  return self->path;
}

/**
 * ferry_session_get_transfer:
 *
 * Returns: (transfer none) (nullable): the transfer once QUIC is up
 */
FerryTransfer *
ferry_session_get_transfer (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), NULL);

  return self->transfer;
}

/**
 * ferry_session_get_offer:
 *
 * Returns: (transfer none) (nullable): what is sent: the sender's once its
 *   files are read, the receiver's once the offer arrived
 */
FerryOffer *
ferry_session_get_offer (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), NULL);

  if (self->offer != NULL)
    return self->offer;

  return self->transfer != NULL ? ferry_transfer_get_offer (self->transfer) : NULL;
}

/**
 * ferry_session_get_error:
 *
 * Returns: (nullable): why the session failed
 */
const GError *
ferry_session_get_error (FerrySession *self)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), NULL);

  return self->error;
}

/* 1. Code and PAKE ------------------------------------------------------ */

/* The sender gets a code while its files are hashed; the receiver opens the
 * code it was given. Connecting the channel runs the PAKE: then both sides
 * hold the same key. */

/* The sender needs both the receiver and its own offer before going on. */
static void
maybe_start_link (FerrySession *self)
{
  if (!self->channel_ready || (self->is_sender && self->offer == NULL))
    return;

  start_link (self);
}

static void
channel_connect_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  GError *error = NULL;

  if (!ferry_channel_connect_finish (FERRY_CHANNEL (object), result, &error))
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    return;

  self->channel_ready = TRUE;
  maybe_start_link (self);
}

/* The sender: the first mailbox where the receiver proved the code wins;
 * the others are left. A wrong code in any of them ends the session, as
 * one code allows one guess wherever it is made. */
static void
attempt_connect_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  FerryChannel *channel = FERRY_CHANNEL (object);
  GError *error = NULL;
  gboolean connected;

  connected = ferry_channel_connect_finish (channel, result, &error);
  if (!ferry_session_is_live (self) || (self->channel != NULL && self->channel != channel))
    {
      g_clear_error (&error);
      return;
    }

  if (!connected)
    {
      g_ptr_array_remove (self->attempts, channel);
      if (self->attempts->len > 0 &&
          !g_error_matches (error, FERRY_PAKE_ERROR, FERRY_PAKE_ERROR_WRONG_CODE))
        {
          g_debug ("Leaving a mailbox that ended: %s", error->message);
          g_error_free (error);
          return;
        }
      ferry_session_fail (self, error);
      return;
    }

  self->channel = g_object_ref (channel);
  g_object_get (channel, "client", &self->mailbox_client, NULL);
  for (guint i = 0; i < self->attempts->len; i++)
    if (g_ptr_array_index (self->attempts, i) != channel)
      ferry_channel_close (g_ptr_array_index (self->attempts, i));

  if (self->lan_host != NULL && self->mailbox_client == ferry_lan_host_get_client (self->lan_host))
    {
      g_debug ("The receiver came through the local network");
      ferry_lan_host_unpublish (self->lan_host);
    }
  else
    {
      g_clear_object (&self->lan_host);
    }

  self->channel_ready = TRUE;
  maybe_start_link (self);
}

/* Once every mailbox is open, the code is shown and the sender waits in all. */
static void
sender_maybe_wait (FerrySession *self)
{
  g_autoptr(GPtrArray) attempts = NULL;

  if (self->pending > 0)
    return;

  if (self->attempts->len == 0)
    {
      GError *error = g_steal_pointer (&self->lan_error);

      if (self->server_error != NULL)
        {
          GError *both = g_error_new (error->domain, error->code, "%s %s",
                                      self->server_error->message, error->message);

          g_error_free (error);
          error = both;
        }
      ferry_session_fail (self, error);
      return;
    }

  ferry_session_set_state (self, FERRY_SESSION_STATE_WAITING);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);

  /* A callback may drop an attempt from the array while this goes on. */
  attempts = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->attempts->len; i++)
    g_ptr_array_add (attempts, g_object_ref (g_ptr_array_index (self->attempts, i)));
  for (guint i = 0; i < attempts->len; i++)
    ferry_channel_connect_async (g_ptr_array_index (attempts, i), self->cancellable,
                                 attempt_connect_cb, g_object_ref (self));
}

static void
sender_add_attempt (FerrySession          *self,
                    FerryRendezvousClient *client,
                    FerryMailbox          *mailbox)
{
  FerryChannel *channel = ferry_channel_new (client);

  ferry_channel_adopt_mailbox (channel, self->code, mailbox, TRUE);
  g_ptr_array_add (self->attempts, channel);
}

static void
server_mailbox_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autoptr(FerryMailbox) mailbox = NULL;
  GError *error = NULL;

  mailbox = ferry_rendezvous_client_open_mailbox_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                         result, &error);
  if (mailbox == NULL)
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    return;

  self->pending--;
  sender_add_attempt (self, self->client, mailbox);
  sender_maybe_wait (self);
}

static void
lan_host_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autoptr(FerryMailbox) mailbox = NULL;
  GError *error = NULL;

  mailbox = ferry_lan_host_start_finish (FERRY_LAN_HOST (object), result, &error);
  if (!ferry_session_is_live (self))
    {
      g_clear_error (&error);
      return;
    }

  self->pending--;
  if (mailbox == NULL)
    {
      g_debug ("Not on the local network: %s", error->message);
      self->lan_error = error;
      g_clear_object (&self->lan_host);
    }
  else
    {
      sender_add_attempt (self, ferry_lan_host_get_client (self->lan_host), mailbox);
    }

  sender_maybe_wait (self);
}

/* With a server, its nameplate is published on the local network too, so
 * the same code works both ways; without one, a nameplate from the range
 * no server hands out. */
static void
allocate_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autofree char *nameplate = NULL;
  GError *error = NULL;

  nameplate = ferry_rendezvous_client_allocate_finish (FERRY_RENDEZVOUS_CLIENT (object),
                                                       result, &error);
  if (nameplate == NULL &&
      !g_error_matches (error, FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_UNREACHABLE))
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    {
      g_clear_error (&error);
      return;
    }

  if (nameplate == NULL)
    {
      g_debug ("No server (%s): on the local network only", error->message);
      self->server_error = error;
      nameplate = ferry_lan_random_nameplate ();
    }
  else
    {
      self->pending++;
      ferry_rendezvous_client_open_mailbox_async (self->client, nameplate, self->cancellable,
                                                  server_mailbox_cb, g_object_ref (self));
    }

  g_free (self->code);
  self->code = ferry_code_generate (nameplate, self->n_words);

  self->pending++;
  self->lan_host = ferry_lan_host_new (nameplate);
  ferry_lan_host_start_async (self->lan_host, self->cancellable, lan_host_cb,
                              g_object_ref (self));
}

/* The receiver: neither mailbox has seen anything of ours yet. */
static void
receiver_maybe_fail (FerrySession *self)
{
  GError *error;

  if (self->pending > 0 || self->channel != NULL)
    return;

  /* A server that answered knows best; without one, what the network said. */
  if (self->server_error != NULL &&
      !g_error_matches (self->server_error, FERRY_RENDEZVOUS_ERROR,
                        FERRY_RENDEZVOUS_ERROR_UNREACHABLE))
    error = g_steal_pointer (&self->server_error);
  else
    error = g_steal_pointer (&self->lan_error);

  ferry_session_fail (self, error);
}

/* The first mailbox to open is the one: the other attempt is stopped, and
 * a mailbox that opens after all is left before anything is sent in it. */
static void
receiver_mailbox_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  FerryRendezvousClient *client = FERRY_RENDEZVOUS_CLIENT (object);
  gboolean from_server = client == self->client;
  g_autoptr(FerryMailbox) mailbox = NULL;
  GError *error = NULL;

  mailbox = ferry_rendezvous_client_open_mailbox_finish (client, result, &error);
  if (!ferry_session_is_live (self) || self->channel != NULL)
    {
      if (mailbox != NULL)
        ferry_mailbox_close (mailbox, SOUP_WEBSOCKET_CLOSE_NORMAL);
      g_clear_error (&error);
      return;
    }

  self->pending--;
  if (mailbox == NULL)
    {
      g_debug ("No mailbox %s: %s", from_server ? "through the server" : "on the network",
               error->message);
      g_clear_error (from_server ? &self->server_error : &self->lan_error);
      if (from_server)
        self->server_error = error;
      else
        self->lan_error = error;
      receiver_maybe_fail (self);
      return;
    }

  g_cancellable_cancel (from_server ? self->lan_race : self->server_race);
  self->mailbox_client = g_object_ref (client);
  self->channel = ferry_channel_new (client);
  ferry_channel_adopt_mailbox (self->channel, self->code, mailbox, FALSE);
  ferry_session_set_state (self, FERRY_SESSION_STATE_WAITING);

  ferry_channel_connect_async (self->channel, self->cancellable, channel_connect_cb,
                               g_object_ref (self));
}

static void
lan_found_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  GError *error = NULL;

  url = ferry_lan_find_finish (result, &error);
  if (!ferry_session_is_live (self) || self->channel != NULL)
    {
      g_clear_error (&error);
      return;
    }

  if (url == NULL)
    {
      self->pending--;
      self->lan_error = error;
      receiver_maybe_fail (self);
      return;
    }

  nameplate = ferry_code_get_nameplate (self->code);
  self->lan_client = ferry_rendezvous_client_new (url);
  ferry_rendezvous_client_open_mailbox_async (self->lan_client, nameplate, self->lan_race,
                                              receiver_mailbox_cb, g_object_ref (self));
}

/* The receiver looks for the code through the server and on the local
 * network at once. A malformed code fails at once, and nothing is sent
 * anywhere. */
static void
open_code (FerrySession *self)
{
  g_autofree char *normalized = NULL;
  g_autofree char *nameplate = NULL;
  GError *error = NULL;

  normalized = ferry_code_normalize (self->code, &error);
  if (normalized == NULL)
    {
      ferry_session_end (self, error);
      return;
    }

  g_free (self->code);
  self->code = g_steal_pointer (&normalized);
  nameplate = ferry_code_get_nameplate (self->code);
  ferry_session_set_state (self, FERRY_SESSION_STATE_PREPARING);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);

  self->server_race = g_cancellable_new ();
  self->lan_race = g_cancellable_new ();
  self->pending = 2;
  ferry_rendezvous_client_open_mailbox_async (self->client, nameplate, self->server_race,
                                              receiver_mailbox_cb, g_object_ref (self));
  ferry_lan_find_async (nameplate, FERRY_LAN_FIND_TIMEOUT_MS, self->lan_race, lan_found_cb,
                        g_object_ref (self));
}
static void
offer_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  GError *error = NULL;
  FerryOffer *offer;

  offer = ferry_offer_new_from_files_finish (result, &error);
  if (offer == NULL)
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    {
      g_object_unref (offer);
      return;
    }

  self->offer = offer;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OFFER]);
  maybe_start_link (self);
}

/* 2. Signalling --------------------------------------------------------- */

/* Over the sealed channel each side sends a "hello" with its QUIC
 * certificate fingerprint, beside the connector's ICE messages. */

static void
hello_cb (FerrySignalling *signalling,
          JsonObject      *body,
          FerrySession    *self)
{
  const char *fingerprint;
  GError *error = NULL;

  if (!ferry_session_is_live (self))
    return;

  if (self->hello_received)
    {
      g_debug ("Ignoring a second hello");
      return;
    }

  fingerprint = json_object_get_string_member_with_default (body, "fingerprint", NULL);
  if (fingerprint == NULL ||
      !ferry_quic_connection_set_peer_fingerprint (self->quic, fingerprint, &error))
    {
      if (error == NULL)
        error = g_error_new_literal (FERRY_TRANSFER_ERROR, FERRY_TRANSFER_ERROR_PROTOCOL,
                                     _("The other side sent no certificate fingerprint."));
      ferry_session_fail (self, error);
      return;
    }

  self->hello_received = TRUE;
  maybe_start_quic (self);
}

static void
signalling_closed_cb (FerrySignalling *signalling,
                      const GError    *error,
                      FerrySession    *self)
{
  /* Once QUIC is up the mailbox is no longer needed: its end means nothing. */
  if (!ferry_session_is_live (self) || self->transfer != NULL)
    return;

  if (error != NULL)
    ferry_session_fail (self, g_error_copy (error));
  else
    ferry_session_fail (self,
                        g_error_new_literal (FERRY_TRANSFER_ERROR,
                                             FERRY_TRANSFER_ERROR_PEER_GONE,
                                             _("The other side left before the transfer began.")));
}

/* Both sides hold the same key: find a path and set up QUIC over it. */
static void
start_link (FerrySession *self)
{
  g_autoptr(JsonObject) hello = json_object_new ();
  GError *error = NULL;

  ferry_session_set_state (self, FERRY_SESSION_STATE_CONNECTING);

  self->quic = ferry_quic_connection_new (self->is_sender ? FERRY_QUIC_ROLE_CLIENT
                                                          : FERRY_QUIC_ROLE_SERVER,
                                          &error);
  if (self->quic == NULL)
    {
      ferry_session_fail (self, error);
      return;
    }
  ferry_quic_connection_set_idle_timeout (self->quic, FERRY_SESSION_IDLE_TIMEOUT_MS);

  self->signalling = ferry_signalling_new (self->channel);
  g_signal_connect_object (self->signalling, "message::" FERRY_SESSION_HELLO_TYPE,
                           G_CALLBACK (hello_cb), self, 0);
  g_signal_connect_object (self->signalling, "closed",
                           G_CALLBACK (signalling_closed_cb), self, 0);

  start_ice (self);

  /* Every handler is in place before the first message is read. */
  ferry_signalling_start (self->signalling);

  json_object_set_int_member (hello, "version", FERRY_SESSION_PROTOCOL_VERSION);
  json_object_set_string_member (hello, "fingerprint",
                                 ferry_quic_connection_get_local_fingerprint (self->quic));
  ferry_signalling_send (self->signalling, FERRY_SESSION_HELLO_TYPE, hello);
}

/* 3. ICE ---------------------------------------------------------------- */

/* The connector finds a path. What arrives on it goes to QUIC, and the path
 * stays live: the transfer records where it moves. */

static void
receive_datagram (FerryIceSession *session,
                  const guint8    *data,
                  gsize            length,
                  gpointer         user_data)
{
  FerrySession *self = user_data;

  if (self->quic != NULL)
    ferry_quic_connection_receive_datagram (self->quic, data, length);
}

static void
path_kind_cb (FerryPath    *path,
              GParamSpec   *pspec,
              FerrySession *self)
{
  record_path (self);
}

static void
connector_connect_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autoptr(FerryIceSession) ice = NULL;
  FerryPath *path = NULL;
  GError *error = NULL;

  ice = ferry_connector_connect_finish (FERRY_CONNECTOR (object), result, &path, &error);
  if (ice == NULL)
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    return;

  self->ice = g_steal_pointer (&ice);
  self->path = g_object_ref (path != NULL ? path : ferry_ice_session_get_path (self->ice));
  g_signal_connect_object (self->path, "notify::kind", G_CALLBACK (path_kind_cb), self, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);

  /* Early QUIC packets are kept by the connection until its handshake starts. */
  ferry_ice_session_set_receive_func (self->ice, receive_datagram, self, NULL);

  self->ice_ready = TRUE;
  maybe_start_quic (self);
}

/* The connector trickles ICE candidates and port mappings over the
 * signalling until a path works. */
static void
start_ice (FerrySession *self)
{
  self->connector = ferry_connector_new (self->signalling, self->mailbox_client,
                                         self->is_sender ? FERRY_ICE_ROLE_CONTROLLING
                                                         : FERRY_ICE_ROLE_CONTROLLED);
  ferry_connector_set_portmap (self->connector, self->portmap);
  ferry_connector_set_candidate_types (self->connector, self->candidate_types);
  ferry_connector_connect_async (self->connector, self->cancellable, connector_connect_cb,
                                 g_object_ref (self));
}

/* 4. QUIC --------------------------------------------------------------- */

/* QUIC runs over the ICE datagrams, each side pinning the fingerprint it
 * got under the PAKE key, so neither the rendezvous nor a relay can read or
 * alter anything. */

static gboolean
datagram_writable_cb (gpointer user_data)
{
  FerrySession *self = user_data;

  self->writable_source = 0;
  if (self->quic != NULL)
    ferry_quic_connection_datagram_writable (self->quic);

  return G_SOURCE_REMOVE;
}

/* QUIC's datagrams go out through the ICE session's selected pair. libnice
 * tells nothing when a full socket drains, so a refused datagram is tried
 * again on the next millisecond tick. */
static gboolean
send_datagram (const guint8 *data,
               gsize         len,
               gpointer      user_data)
{
  FerrySession *self = user_data;

  if (self->ice != NULL && ferry_ice_session_send (self->ice, data, len))
    return TRUE;

  if (self->writable_source == 0)
    self->writable_source = g_timeout_add (1, datagram_writable_cb, self);

  return FALSE;
}

static void
handshake_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  GError *error = NULL;

  if (!ferry_quic_connection_handshake_finish (FERRY_QUIC_CONNECTION (object), result, &error))
    {
      ferry_session_fail (self, error);
      return;
    }

  if (!ferry_session_is_live (self))
    return;

  start_transfer (self);
}

/* QUIC starts once both the path and the peer's fingerprint are there. */
static void
maybe_start_quic (FerrySession *self)
{
  if (!self->hello_received || !self->ice_ready)
    return;

  ferry_quic_connection_set_send_func (self->quic, send_datagram, self, NULL);
  ferry_quic_connection_handshake_async (self->quic, self->cancellable, handshake_cb,
                                         g_object_ref (self));
}

/* 5. Transfer ----------------------------------------------------------- */

/* Over the verified connection the transfer moves the files; the receiver
 * sees the offer first. */

static void
transfer_state_cb (FerryTransfer *transfer,
                   GParamSpec    *pspec,
                   FerrySession  *self)
{
  if (!ferry_session_is_live (self))
    return;

  switch (ferry_transfer_get_state (transfer))
    {
    case FERRY_TRANSFER_STATE_OFFER_RECEIVED:
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OFFER]);
      ferry_session_set_state (self, FERRY_SESSION_STATE_OFFER_RECEIVED);
      break;

    case FERRY_TRANSFER_STATE_TRANSFERRING:
    case FERRY_TRANSFER_STATE_VERIFYING:
      ferry_session_set_state (self, FERRY_SESSION_STATE_TRANSFERRING);
      break;

    case FERRY_TRANSFER_STATE_NEW:
    case FERRY_TRANSFER_STATE_OFFERING:
    case FERRY_TRANSFER_STATE_DONE:
    case FERRY_TRANSFER_STATE_FAILED:
    case FERRY_TRANSFER_STATE_CANCELLED:
    case FERRY_TRANSFER_STATE_DECLINED:
    default:
      break;
    }
}

/* The transfer keeps the path in the history; a path that changes mid-way
 * (say, relayed first, direct once a better pair wins) is recorded too. */
static void
record_path (FerrySession *self)
{
  FerryPathKind kind;

  if (self->transfer == NULL || self->path == NULL)
    return;

  kind = ferry_path_get_kind (self->path);
  if (kind == FERRY_PATH_KIND_UNKNOWN)
    return;

  ferry_transfer_set_path (self->transfer, ferry_path_kind_to_string (kind),
                           ferry_path_get_relay_server (self->path));
}

static void
transfer_run_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  GError *error = NULL;

  if (!ferry_transfer_run_finish (FERRY_TRANSFER (object), result, &error))
    {
      ferry_session_fail (self, error);
      return;
    }

  if (ferry_session_is_live (self))
    ferry_session_end (self, NULL);
}

static void
start_transfer (FerrySession *self)
{
  if (self->is_sender)
    self->transfer = ferry_transfer_new_sender (self->quic, self->offer, self->store);
  else
    self->transfer = ferry_transfer_new_receiver (self->quic, self->store,
                                                  self->download_folder);

  g_signal_connect_object (self->transfer, "notify::state",
                           G_CALLBACK (transfer_state_cb), self, 0);
  record_path (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRANSFER]);

  ferry_transfer_run_async (self->transfer, self->cancellable, transfer_run_cb,
                            g_object_ref (self));
}

/* 6. End ---------------------------------------------------------------- */

/* The run completes only after the port mappings are deleted, so a session
 * never leaves a hole in somebody's router. */

/* Completes the run with the session's outcome. */
static void
return_run (FerrySession *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->run_task);

  if (self->cancelled_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), self->cancelled_id);
  self->cancelled_id = 0;

  if (self->error != NULL)
    g_task_return_error (task, g_error_copy (self->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
connector_closed_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(FerrySession) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ferry_connector_close_finish (FERRY_CONNECTOR (object), result, &error))
    g_debug ("Closing the connector: %s", error->message);

  return_run (self);
}

static void
ferry_session_end (FerrySession *self,
                   GError       *error)
{
  g_assert (ferry_session_is_live (self));

  self->ending = TRUE;
  g_clear_handle_id (&self->writable_source, g_source_remove);

  /* Stop whatever step is still under way. */
  g_cancellable_cancel (self->cancellable);
  if (self->server_race != NULL)
    g_cancellable_cancel (self->server_race);
  if (self->lan_race != NULL)
    g_cancellable_cancel (self->lan_race);
  if (self->lan_host != NULL)
    ferry_lan_host_unpublish (self->lan_host);

  if (error != NULL)
    {
      g_debug ("Session failed: %s", error->message);
      self->error = error;
      ferry_session_set_state (self, FERRY_SESSION_STATE_FAILED);
    }
  else
    {
      ferry_session_set_state (self, FERRY_SESSION_STATE_DONE);
    }

  if (self->quic != NULL && ferry_quic_connection_is_open (self->quic))
    ferry_quic_connection_close (self->quic, 0, error != NULL ? "failed" : "done");

  if (self->signalling != NULL)
    ferry_signalling_close (self->signalling);
  else if (self->channel != NULL)
    ferry_channel_close (self->channel);
  for (guint i = 0; i < self->attempts->len; i++)
    if (g_ptr_array_index (self->attempts, i) != self->channel)
      ferry_channel_close (g_ptr_array_index (self->attempts, i));

  if (self->connector != NULL)
    {
      ferry_connector_close_async (self->connector, NULL, connector_closed_cb,
                                   g_object_ref (self));
      return;
    }

  return_run (self);
}

/* Running --------------------------------------------------------------- */

static void
run_cancelled_cb (GCancellable *cancellable,
                  FerrySession *self)
{
  /* Runs in the thread that cancelled; the session lives on its context. */
  g_cancellable_cancel (self->cancellable);
}

/**
 * ferry_session_run_async:
 *
 * Runs the whole session. The sender's #FerrySession:code is set (state
 * %FERRY_SESSION_STATE_WAITING) as soon as there is a code to show; while
 * the receiver's files are hashed in the background. Completes when every
 * file arrived verified or the session failed; either way the session has
 * cleaned up behind itself by then.
 */
void
ferry_session_run_async (FerrySession        *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (FERRY_IS_SESSION (self));
  g_return_if_fail (self->state == FERRY_SESSION_STATE_NEW);
  g_return_if_fail (self->run_task == NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  self->run_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->run_task, ferry_session_run_async);

  self->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (run_cancelled_cb),
                                                self, NULL);

  if (self->is_sender)
    {
      ferry_session_set_state (self, FERRY_SESSION_STATE_PREPARING);
      ferry_offer_new_async ((GFile **) self->files->pdata, self->files->len, self->text,
                             self->cancellable, offer_cb, g_object_ref (self));
      ferry_rendezvous_client_allocate_async (self->client, self->cancellable, allocate_cb,
                                              g_object_ref (self));
    }
  else
    {
      open_code (self);
    }
}

gboolean
ferry_session_run_finish (FerrySession  *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (FERRY_IS_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ferry_session_accept:
 * @target_folder: (nullable): where to save, or %NULL for the download folder
 *
 * The receiver accepts the offer it was shown.
 */
void
ferry_session_accept (FerrySession *self,
                      GFile        *target_folder)
{
  g_return_if_fail (FERRY_IS_SESSION (self));
  g_return_if_fail (self->state == FERRY_SESSION_STATE_OFFER_RECEIVED);

  ferry_transfer_accept (self->transfer, target_folder);
}

void
ferry_session_decline (FerrySession *self,
                       const char   *reason)
{
  g_return_if_fail (FERRY_IS_SESSION (self));
  g_return_if_fail (self->state == FERRY_SESSION_STATE_OFFER_RECEIVED);

  ferry_transfer_decline (self->transfer, reason);
}

/**
 * ferry_session_cancel:
 * @reason: (nullable): what the other side is told
 *
 * Stops the session from either side, at any step. During the transfer the
 * other side sees @reason; partial files stay resumable.
 */
void
ferry_session_cancel (FerrySession *self,
                      const char   *reason)
{
  g_return_if_fail (FERRY_IS_SESSION (self));

  if (!ferry_session_is_live (self))
    return;

  if (self->transfer != NULL)
    {
      ferry_transfer_cancel (self->transfer, reason);
      return;
    }

  ferry_session_end (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                reason != NULL ? reason : _("Cancelled")));
}
