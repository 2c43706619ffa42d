/* ferry-path.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-path"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include <glib/gi18n-lib.h>

#include "ferry-path.h"

/**
 * FerryPath:
 *
 * What the selected ICE pair of a session looks like, for the UI and the
 * CLI: whether bytes go directly (inside one network or across the
 * internet) or through a TURN relay, which port mapping helped, the two
 * candidates and the round-trip time.
 *
 * A #FerryIceSession owns one and updates it live, whenever libnice selects
 * a new pair and whenever a new RTT sample arrives. Every property notifies
 * only when its value really changed.
 */

struct _FerryPath
{
  GObject           parent_instance;

  FerryPathKind     kind;
  FerryPathMapping  mapped;
  char             *local_type;
  char             *local_address;
  char             *remote_type;
  char             *remote_address;
  char             *relay_server;
  char             *relay_transport;
  double            rtt_ms;
};

G_DEFINE_FINAL_TYPE (FerryPath, ferry_path, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KIND,
  PROP_MAPPED,
  PROP_LOCAL_TYPE,
  PROP_LOCAL_ADDRESS,
  PROP_REMOTE_TYPE,
  PROP_REMOTE_ADDRESS,
  PROP_RELAY_SERVER,
  PROP_RELAY_TRANSPORT,
  PROP_RTT_MS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const GEnumValue kind_values[] = {
  { FERRY_PATH_KIND_UNKNOWN, "FERRY_PATH_KIND_UNKNOWN", "unknown" },
  { FERRY_PATH_KIND_DIRECT_LAN, "FERRY_PATH_KIND_DIRECT_LAN", "direct-lan" },
  { FERRY_PATH_KIND_DIRECT_INTERNET, "FERRY_PATH_KIND_DIRECT_INTERNET", "direct-internet" },
  { FERRY_PATH_KIND_RELAYED, "FERRY_PATH_KIND_RELAYED", "relayed" },
  { 0, NULL, NULL }
};

static const GEnumValue mapping_values[] = {
  { FERRY_PATH_MAPPING_NONE, "FERRY_PATH_MAPPING_NONE", "none" },
  { FERRY_PATH_MAPPING_UPNP, "FERRY_PATH_MAPPING_UPNP", "upnp" },
  { FERRY_PATH_MAPPING_PCP, "FERRY_PATH_MAPPING_PCP", "pcp" },
  { FERRY_PATH_MAPPING_NAT_PMP, "FERRY_PATH_MAPPING_NAT_PMP", "nat-pmp" },
  { 0, NULL, NULL }
};

GType
ferry_path_kind_get_type (void)
{
  static gsize type_id = 0;

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("FerryPathKind", kind_values));

  return type_id;
}

GType
ferry_path_mapping_get_type (void)
{
  static gsize type_id = 0;

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("FerryPathMapping", mapping_values));

  return type_id;
}

static const char *
enum_to_nick (const GEnumValue *values,
              int               value)
{
  for (guint i = 0; values[i].value_nick != NULL; i++)
    if (values[i].value == value)
      return values[i].value_nick;

  return NULL;
}

static gboolean
enum_from_nick (const GEnumValue *values,
                const char       *nick,
                int              *value)
{
  if (nick == NULL)
    return FALSE;

  for (guint i = 0; values[i].value_nick != NULL; i++)
    {
      if (g_str_equal (values[i].value_nick, nick))
        {
          *value = values[i].value;
          return TRUE;
        }
    }

  return FALSE;
}

/**
 * ferry_path_kind_to_string:
 *
 * Returns: "unknown", "direct-lan", "direct-internet" or "relayed"
 */
const char *
ferry_path_kind_to_string (FerryPathKind kind)
{
  return enum_to_nick (kind_values, kind);
}

/**
 * ferry_path_kind_from_string:
 *
 * Returns: %TRUE if @string names a kind; @kind is untouched otherwise
 */
gboolean
ferry_path_kind_from_string (const char    *string,
                             FerryPathKind *kind)
{
  int value;

  g_return_val_if_fail (kind != NULL, FALSE);

  if (!enum_from_nick (kind_values, string, &value))
    return FALSE;

  *kind = value;
  return TRUE;
}

/**
 * ferry_path_mapping_to_string:
 *
 * Returns: "none", "upnp", "pcp" or "nat-pmp"
 */
const char *
ferry_path_mapping_to_string (FerryPathMapping mapping)
{
  return enum_to_nick (mapping_values, mapping);
}

gboolean
ferry_path_mapping_from_string (const char       *string,
                                FerryPathMapping *mapping)
{
  int value;

  g_return_val_if_fail (mapping != NULL, FALSE);

  if (!enum_from_nick (mapping_values, string, &value))
    return FALSE;

  *mapping = value;
  return TRUE;
}

/* The block a LAN address belongs to, so that two addresses count as "the
 * same network" only when they share one: two different RFC 1918 blocks are
 * almost always two different sites. 0 means "not a LAN address".
 * CGNAT space (100.64.0.0/10) is deliberately not a LAN: two peers there are
 * usually in different homes behind the same carrier. */
enum {
  LAN_BLOCK_NONE,
  LAN_BLOCK_LOOPBACK,
  LAN_BLOCK_LINK_LOCAL,
  LAN_BLOCK_10,
  LAN_BLOCK_172_16,
  LAN_BLOCK_192_168,
  LAN_BLOCK_ULA,
};

static int
lan_block (const NiceAddress *address)
{
  if (address->s.addr.sa_family == AF_INET)
    {
      guint32 ip = ntohl (address->s.ip4.sin_addr.s_addr);

      if ((ip >> 24) == 127)
        return LAN_BLOCK_LOOPBACK;
      if ((ip >> 16) == ((169u << 8) | 254u))
        return LAN_BLOCK_LINK_LOCAL;
      if ((ip >> 24) == 10)
        return LAN_BLOCK_10;
      if ((ip >> 20) == ((172u << 4) | 1u))
        return LAN_BLOCK_172_16;
      if ((ip >> 16) == ((192u << 8) | 168u))
        return LAN_BLOCK_192_168;
      return LAN_BLOCK_NONE;
    }
  else if (address->s.addr.sa_family == AF_INET6)
    {
      const guint8 *b = address->s.ip6.sin6_addr.s6_addr;
      static const guint8 loopback[16] = { [15] = 1 };

      if (memcmp (b, loopback, 16) == 0)
        return LAN_BLOCK_LOOPBACK;
      if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return LAN_BLOCK_LINK_LOCAL;
      if ((b[0] & 0xfe) == 0xfc)
        return LAN_BLOCK_ULA;
      return LAN_BLOCK_NONE;
    }

  return LAN_BLOCK_NONE;
}

/**
 * ferry_path_address_is_lan:
 *
 * Returns: %TRUE if @address is private, link-local or loopback
 */
gboolean
ferry_path_address_is_lan (const NiceAddress *address)
{
  g_return_val_if_fail (address != NULL, FALSE);

  return lan_block (address) != LAN_BLOCK_NONE;
}

static gboolean
same_lan (const NiceAddress *a,
          const NiceAddress *b)
{
  int block = lan_block (a);

  if (block == LAN_BLOCK_NONE || block != lan_block (b))
    return FALSE;

  /* ULAs are random /48 prefixes: different ones are different sites. */
  if (block == LAN_BLOCK_ULA)
    return memcmp (a->s.ip6.sin6_addr.s6_addr, b->s.ip6.sin6_addr.s6_addr, 6) == 0;

  return TRUE;
}

static gboolean
is_host_like (const NiceCandidate *candidate)
{
  /* A peer-reflexive candidate with a LAN address in our own block is the
   * peer's host candidate seen before its trickled description arrived:
   * a NAT's mapped address is never inside the LAN it serves (Linux does
   * not even hairpin). So it counts as host for classification. */
  return candidate->type == NICE_CANDIDATE_TYPE_HOST ||
         candidate->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
}

/**
 * ferry_path_classify:
 * @local: the local candidate of a pair
 * @remote: the remote candidate of a pair
 *
 * Relayed if either end is a relay candidate; direct-lan when both ends are
 * host candidates (see is_host_like() for peer-reflexive ones) in the same
 * private, link-local or loopback network, or at the same address (both on this
 * machine); direct-internet otherwise.
 */
FerryPathKind
ferry_path_classify (const NiceCandidate *local,
                     const NiceCandidate *remote)
{
  g_return_val_if_fail (local != NULL, FERRY_PATH_KIND_UNKNOWN);
  g_return_val_if_fail (remote != NULL, FERRY_PATH_KIND_UNKNOWN);

  if (local->type == NICE_CANDIDATE_TYPE_RELAYED || remote->type == NICE_CANDIDATE_TYPE_RELAYED)
    return FERRY_PATH_KIND_RELAYED;

  if (local->type == NICE_CANDIDATE_TYPE_HOST && is_host_like (remote) &&
      same_lan (&local->addr, &remote->addr))
    return FERRY_PATH_KIND_DIRECT_LAN;

  /* A peer whose own address is ours runs on this machine, whatever the address is (a
   * public one, or a documentation block such as 192.0.2.0/24 on a test machine). */
  if (local->type == NICE_CANDIDATE_TYPE_HOST && is_host_like (remote) &&
      nice_address_equal_no_port (&local->addr, &remote->addr))
    return FERRY_PATH_KIND_DIRECT_LAN;

  if (local->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE && is_host_like (remote) &&
      same_lan (&local->addr, &remote->addr))
    return FERRY_PATH_KIND_DIRECT_LAN;

  return FERRY_PATH_KIND_DIRECT_INTERNET;
}

/**
 * ferry_path_format_address:
 *
 * Returns: (transfer full): "192.0.2.1:4000" or "[2001:db8::1]:4000"
 */
char *
ferry_path_format_address (const NiceAddress *address)
{
  char ip[NICE_ADDRESS_STRING_LEN];

  g_return_val_if_fail (address != NULL, NULL);

  nice_address_to_string (address, ip);
  if (address->s.addr.sa_family == AF_INET6)
    return g_strdup_printf ("[%s]:%u", ip, nice_address_get_port (address));

  return g_strdup_printf ("%s:%u", ip, nice_address_get_port (address));
}

static gboolean
set_string (FerryPath  *self,
            char      **field,
            const char *value,
            int         prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;

  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
  return TRUE;
}

static void
set_kind (FerryPath     *self,
          FerryPathKind  kind)
{
  if (self->kind == kind)
    return;

  self->kind = kind;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KIND]);
}

static void
set_mapped (FerryPath        *self,
            FerryPathMapping  mapped)
{
  if (self->mapped == mapped)
    return;

  self->mapped = mapped;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAPPED]);
}

/**
 * ferry_path_update_pair:
 * @local: the selected local candidate
 * @remote: the selected remote candidate
 * @mapped: which port mapping made the pair direct, if any
 * @relay_server: (nullable): "host:port" of the TURN server when relayed
 * @relay_transport: (nullable): "udp" or "tcp" (to the TURN server)
 *
 * Describes a newly selected pair. Properties notify only when they change,
 * so the same pair given twice is silent.
 */
void
ferry_path_update_pair (FerryPath           *self,
                        const NiceCandidate *local,
                        const NiceCandidate *remote,
                        FerryPathMapping     mapped,
                        const char          *relay_server,
                        const char          *relay_transport)
{
  g_autofree char *local_address = NULL;
  g_autofree char *remote_address = NULL;
  FerryPathKind kind;

  g_return_if_fail (FERRY_IS_PATH (self));
  g_return_if_fail (local != NULL);
  g_return_if_fail (remote != NULL);

  kind = ferry_path_classify (local, remote);
  local_address = ferry_path_format_address (&local->addr);
  remote_address = ferry_path_format_address (&remote->addr);

  if (kind != FERRY_PATH_KIND_RELAYED)
    {
      relay_server = NULL;
      relay_transport = NULL;
    }
  /* A mapping only matters for a pair that crosses a NAT: not inside one
   * network, and a relay is not a port mapping. */
  if (kind != FERRY_PATH_KIND_DIRECT_INTERNET)
    mapped = FERRY_PATH_MAPPING_NONE;

  g_object_freeze_notify (G_OBJECT (self));
  set_kind (self, kind);
  set_mapped (self, mapped);
  set_string (self, &self->local_type, nice_candidate_type_to_string (local->type),
              PROP_LOCAL_TYPE);
  set_string (self, &self->local_address, local_address, PROP_LOCAL_ADDRESS);
  set_string (self, &self->remote_type, nice_candidate_type_to_string (remote->type),
              PROP_REMOTE_TYPE);
  set_string (self, &self->remote_address, remote_address, PROP_REMOTE_ADDRESS);
  set_string (self, &self->relay_server, relay_server, PROP_RELAY_SERVER);
  set_string (self, &self->relay_transport, relay_transport, PROP_RELAY_TRANSPORT);
  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * ferry_path_set_rtt_ms:
 * @rtt_ms: the smoothed round-trip time, or a negative value for unknown
 *
 * The value is kept to a tenth of a millisecond, which is what a person
 * can read, so jitter below that does not flood listeners.
 */
void
ferry_path_set_rtt_ms (FerryPath *self,
                       double     rtt_ms)
{
  g_return_if_fail (FERRY_IS_PATH (self));

  rtt_ms = rtt_ms < 0 ? -1 : ((gint64) (rtt_ms * 10 + 0.5)) / 10.0;
  if (self->rtt_ms == rtt_ms)
    return;

  self->rtt_ms = rtt_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_MS]);
}

/**
 * ferry_path_reset:
 *
 * Forgets the pair, for when the session has no path any more.
 */
void
ferry_path_reset (FerryPath *self)
{
  g_return_if_fail (FERRY_IS_PATH (self));

  g_object_freeze_notify (G_OBJECT (self));
  set_kind (self, FERRY_PATH_KIND_UNKNOWN);
  set_mapped (self, FERRY_PATH_MAPPING_NONE);
  set_string (self, &self->local_type, NULL, PROP_LOCAL_TYPE);
  set_string (self, &self->local_address, NULL, PROP_LOCAL_ADDRESS);
  set_string (self, &self->remote_type, NULL, PROP_REMOTE_TYPE);
  set_string (self, &self->remote_address, NULL, PROP_REMOTE_ADDRESS);
  set_string (self, &self->relay_server, NULL, PROP_RELAY_SERVER);
  set_string (self, &self->relay_transport, NULL, PROP_RELAY_TRANSPORT);
  ferry_path_set_rtt_ms (self, -1);
  g_object_thaw_notify (G_OBJECT (self));
}

FerryPath *
ferry_path_new (void)
{
  return g_object_new (FERRY_TYPE_PATH, NULL);
}

FerryPathKind
ferry_path_get_kind (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), FERRY_PATH_KIND_UNKNOWN);
  return self->kind;
}

FerryPathMapping
ferry_path_get_mapped (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), FERRY_PATH_MAPPING_NONE);
  return self->mapped;
}

/**
 * ferry_path_get_local_type:
 *
 * Returns: (nullable): "host", "srflx", "prflx" or "relay"
 */
const char *
ferry_path_get_local_type (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->local_type;
}

const char *
ferry_path_get_local_address (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->local_address;
}

const char *
ferry_path_get_remote_type (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->remote_type;
}

const char *
ferry_path_get_remote_address (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->remote_address;
}

/**
 * ferry_path_get_relay_server:
 *
 * Returns: (nullable): "host:port" of the TURN server in use, when relayed
 *   and known (our own relay, or the peer's when it told us)
 */
const char *
ferry_path_get_relay_server (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->relay_server;
}

/**
 * ferry_path_get_relay_transport:
 *
 * Returns: (nullable): "udp" or "tcp", how the relay is reached
 */
const char *
ferry_path_get_relay_transport (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);
  return self->relay_transport;
}

/**
 * ferry_path_get_rtt_ms:
 *
 * Returns: the smoothed round-trip time in milliseconds, or -1 while unknown
 */
double
ferry_path_get_rtt_ms (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), -1);
  return self->rtt_ms;
}

static void
ferry_path_finalize (GObject *object)
{
  FerryPath *self = FERRY_PATH (object);

  g_clear_pointer (&self->local_type, g_free);
  g_clear_pointer (&self->local_address, g_free);
  g_clear_pointer (&self->remote_type, g_free);
  g_clear_pointer (&self->remote_address, g_free);
  g_clear_pointer (&self->relay_server, g_free);
  g_clear_pointer (&self->relay_transport, g_free);

  G_OBJECT_CLASS (ferry_path_parent_class)->finalize (object);
}

static void
ferry_path_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  FerryPath *self = FERRY_PATH (object);

  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_MAPPED:
      g_value_set_enum (value, self->mapped);
      break;
    case PROP_LOCAL_TYPE:
      g_value_set_string (value, self->local_type);
      break;
    case PROP_LOCAL_ADDRESS:
      g_value_set_string (value, self->local_address);
      break;
    case PROP_REMOTE_TYPE:
      g_value_set_string (value, self->remote_type);
      break;
    case PROP_REMOTE_ADDRESS:
      g_value_set_string (value, self->remote_address);
      break;
    case PROP_RELAY_SERVER:
      g_value_set_string (value, self->relay_server);
      break;
    case PROP_RELAY_TRANSPORT:
      g_value_set_string (value, self->relay_transport);
      break;
    case PROP_RTT_MS:
      g_value_set_double (value, self->rtt_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ferry_path_class_init (FerryPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = ferry_path_finalize;
  object_class->get_property = ferry_path_get_property;

  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL,
                       FERRY_TYPE_PATH_KIND, FERRY_PATH_KIND_UNKNOWN, flags);
  properties[PROP_MAPPED] =
    g_param_spec_enum ("mapped", NULL, NULL,
                       FERRY_TYPE_PATH_MAPPING, FERRY_PATH_MAPPING_NONE, flags);
  properties[PROP_LOCAL_TYPE] = g_param_spec_string ("local-type", NULL, NULL, NULL, flags);
  properties[PROP_LOCAL_ADDRESS] = g_param_spec_string ("local-address", NULL, NULL, NULL, flags);
  properties[PROP_REMOTE_TYPE] = g_param_spec_string ("remote-type", NULL, NULL, NULL, flags);
  properties[PROP_REMOTE_ADDRESS] =
    g_param_spec_string ("remote-address", NULL, NULL, NULL, flags);
  properties[PROP_RELAY_SERVER] = g_param_spec_string ("relay-server", NULL, NULL, NULL, flags);
  properties[PROP_RELAY_TRANSPORT] =
    g_param_spec_string ("relay-transport", NULL, NULL, NULL, flags);
  properties[PROP_RTT_MS] =
    g_param_spec_double ("rtt-ms", NULL, NULL, -1, G_MAXDOUBLE, -1, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ferry_path_init (FerryPath *self)
{
  self->rtt_ms = -1;
}

/**
 * ferry_path_dup_label:
 *
 * The path in the words the app's badge and ferry-cli show: "Direct · local
 * network", "Direct · internet", "Direct · port mapped (PCP)" or "Relayed
 * via HOST".
 *
 * Returns: (transfer full) (nullable): the label, or %NULL while unknown
 */
char *
ferry_path_dup_label (FerryPath *self)
{
  g_return_val_if_fail (FERRY_IS_PATH (self), NULL);

  switch (ferry_path_get_kind (self))
    {
    case FERRY_PATH_KIND_DIRECT_LAN:
      return g_strdup (_("Direct · local network"));

    case FERRY_PATH_KIND_DIRECT_INTERNET:
      switch (ferry_path_get_mapped (self))
        {
        case FERRY_PATH_MAPPING_UPNP:
          return g_strdup (_("Direct · port mapped (UPnP)"));
        case FERRY_PATH_MAPPING_PCP:
          return g_strdup (_("Direct · port mapped (PCP)"));
        case FERRY_PATH_MAPPING_NAT_PMP:
          return g_strdup (_("Direct · port mapped (NAT-PMP)"));
        case FERRY_PATH_MAPPING_NONE:
        default:
          return g_strdup (_("Direct · internet"));
        }

    case FERRY_PATH_KIND_RELAYED:
      /* Translators: %s is the relay (TURN) server, e.g. turn.example.org:3478 */
      return g_strdup_printf (_("Relayed via %s"),
                              ferry_path_get_relay_server (self) != NULL
                              ? ferry_path_get_relay_server (self) : _("a relay"));

    case FERRY_PATH_KIND_UNKNOWN:
    default:
      return NULL;
    }
}
