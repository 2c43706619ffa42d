/* ferry-portmap-renewer.c
 *
 * Both RFCs tell clients to renew at half the granted lifetime. When a renewal fails the
 * renewer tries again at half the time that is left, so a router that missed one request
 * still gets a few more chances; when the mapping has run out it emits ::lost.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap-renewer"

#include "config.h"

#include "ferry-portmap-renewer.h"

/* Below this much time left, another attempt could not finish before the mapping ends. */
#define MIN_RETRY_USEC (500 * 1000)

struct _FerryPortmapRenewer
{
  GObject           parent_instance;

  FerryPortMapping *mapping;
  guint32           lifetime;
  guint             renewals;
  GMainContext     *context;
  GSource          *timer;
  GCancellable     *cancellable;
  gboolean          released;
};

G_DEFINE_FINAL_TYPE (FerryPortmapRenewer, ferry_portmap_renewer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MAPPING,
  PROP_LIFETIME,
  PROP_RENEWALS,
  N_PROPS
};

enum {
  LOST,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void schedule (FerryPortmapRenewer *self,
                      gint64               delay_usec);

static void
stop_timer (FerryPortmapRenewer *self)
{
  if (self->timer != NULL)
    g_source_destroy (self->timer);
  g_clear_pointer (&self->timer, g_source_unref);
}

static void
renew_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(FerryPortmapRenewer) self = user_data;
  g_autoptr(FerryPortMapping) renewed = NULL;
  g_autoptr(GError) error = NULL;
  gint64 left;

  renewed = ferry_portmap_renew_finish (result, &error);
  if (self->released || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (renewed != NULL)
    {
      g_clear_pointer (&self->mapping, ferry_port_mapping_unref);
      self->mapping = g_steal_pointer (&renewed);
      self->renewals++;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAPPING]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RENEWALS]);
      schedule (self, (ferry_port_mapping_get_expiry (self->mapping)
                       - g_get_monotonic_time ()) / 2);
      return;
    }

  left = ferry_port_mapping_get_expiry (self->mapping) - g_get_monotonic_time ();
  if (left / 2 >= MIN_RETRY_USEC)
    {
      g_debug ("Renewing the port mapping failed, trying again: %s", error->message);
      schedule (self, left / 2);
      return;
    }

  g_signal_emit (self, signals[LOST], 0, error);
}

static gboolean
timer_cb (gpointer user_data)
{
  FerryPortmapRenewer *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  ferry_portmap_renew_async (self->mapping, self->lifetime, 0, self->cancellable,
                             renew_cb, g_object_ref (self));

  return G_SOURCE_REMOVE;
}

static void
schedule (FerryPortmapRenewer *self,
          gint64               delay_usec)
{
  stop_timer (self);
  self->timer = g_timeout_source_new (MAX (delay_usec, 0) / 1000);
  g_source_set_static_name (self->timer, "ferry-portmap-renewer");
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_attach (self->timer, self->context);
}

static void
ferry_portmap_renewer_constructed (GObject *object)
{
  FerryPortmapRenewer *self = FERRY_PORTMAP_RENEWER (object);

  G_OBJECT_CLASS (ferry_portmap_renewer_parent_class)->constructed (object);

  g_assert (self->mapping != NULL);
  if (self->lifetime == 0)
    self->lifetime = ferry_port_mapping_get_lifetime (self->mapping);
  /* A router may grant 0 s; renewing must still ask for something (RFC 6886's 2 hours). */
  if (self->lifetime == 0)
    self->lifetime = 7200;

  schedule (self, (ferry_port_mapping_get_expiry (self->mapping) - g_get_monotonic_time ()) / 2);
}

static void
ferry_portmap_renewer_dispose (GObject *object)
{
  FerryPortmapRenewer *self = FERRY_PORTMAP_RENEWER (object);

  stop_timer (self);
  g_cancellable_cancel (self->cancellable);

  G_OBJECT_CLASS (ferry_portmap_renewer_parent_class)->dispose (object);
}

static void
ferry_portmap_renewer_finalize (GObject *object)
{
  FerryPortmapRenewer *self = FERRY_PORTMAP_RENEWER (object);

  g_clear_pointer (&self->mapping, ferry_port_mapping_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (ferry_portmap_renewer_parent_class)->finalize (object);
}

static void
ferry_portmap_renewer_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  FerryPortmapRenewer *self = FERRY_PORTMAP_RENEWER (object);

  switch (prop_id)
    {
    case PROP_MAPPING:
      g_value_set_boxed (value, self->mapping);
      break;

    case PROP_LIFETIME:
      g_value_set_uint (value, self->lifetime);
      break;

    case PROP_RENEWALS:
      g_value_set_uint (value, self->renewals);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_portmap_renewer_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  FerryPortmapRenewer *self = FERRY_PORTMAP_RENEWER (object);

  switch (prop_id)
    {
    case PROP_MAPPING:
      self->mapping = g_value_dup_boxed (value);
      break;

    case PROP_LIFETIME:
      self->lifetime = g_value_get_uint (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_portmap_renewer_class_init (FerryPortmapRenewerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ferry_portmap_renewer_constructed;
  object_class->dispose = ferry_portmap_renewer_dispose;
  object_class->finalize = ferry_portmap_renewer_finalize;
  object_class->get_property = ferry_portmap_renewer_get_property;
  object_class->set_property = ferry_portmap_renewer_set_property;

  /**
   * FerryPortmapRenewer:mapping:
   *
   * The mapping as last granted; it changes (and notifies) on every renewal.
   */
  properties[PROP_MAPPING] =
    g_param_spec_boxed ("mapping", NULL, NULL,
                        FERRY_TYPE_PORT_MAPPING,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * FerryPortmapRenewer:lifetime:
   *
   * The lifetime asked for on each renewal, in seconds; 0 asks for the granted one again.
   */
  properties[PROP_LIFETIME] =
    g_param_spec_uint ("lifetime", NULL, NULL,
                       0, G_MAXUINT32, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  properties[PROP_RENEWALS] =
    g_param_spec_uint ("renewals", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * FerryPortmapRenewer::lost:
   * @error: why the last renewal failed
   *
   * The mapping ran out because the router stopped renewing it.
   */
  signals[LOST] =
    g_signal_new ("lost",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ferry_portmap_renewer_init (FerryPortmapRenewer *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cancellable = g_cancellable_new ();
}

/**
 * ferry_portmap_renewer_new:
 * @mapping: the mapping to keep alive
 * @lifetime: the lifetime to ask for on renewal, 0 for the one @mapping has
 *
 * Starts renewing at once; the renewals run on the thread-default main context.
 */
FerryPortmapRenewer *
ferry_portmap_renewer_new (FerryPortMapping *mapping,
                           guint32           lifetime)
{
  g_return_val_if_fail (mapping != NULL, NULL);

  return g_object_new (FERRY_TYPE_PORTMAP_RENEWER,
                       "mapping", mapping,
                       "lifetime", lifetime,
                       NULL);
}

/**
 * ferry_portmap_renewer_dup_mapping:
 *
 * Returns: (transfer full): the mapping as last granted
 */
FerryPortMapping *
ferry_portmap_renewer_dup_mapping (FerryPortmapRenewer *self)
{
  g_return_val_if_fail (FERRY_IS_PORTMAP_RENEWER (self), NULL);

  return ferry_port_mapping_ref (self->mapping);
}

guint
ferry_portmap_renewer_get_renewals (FerryPortmapRenewer *self)
{
  g_return_val_if_fail (FERRY_IS_PORTMAP_RENEWER (self), 0);

  return self->renewals;
}

static void
release_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (ferry_portmap_unmap_finish (result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * ferry_portmap_renewer_release_async:
 *
 * Stops renewing and deletes the mapping on the router: the session is over.
 */
void
ferry_portmap_renewer_release_async (FerryPortmapRenewer *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (FERRY_IS_PORTMAP_RENEWER (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ferry_portmap_renewer_release_async);

  self->released = TRUE;
  stop_timer (self);
  g_cancellable_cancel (self->cancellable);

  ferry_portmap_unmap_async (self->mapping, 0, cancellable, release_cb, g_steal_pointer (&task));
}

gboolean
ferry_portmap_renewer_release_finish (FerryPortmapRenewer  *self,
                                      GAsyncResult         *result,
                                      GError              **error)
{
  g_return_val_if_fail (FERRY_IS_PORTMAP_RENEWER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
