/* ferry-path.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>
#include <nice/agent.h>

G_BEGIN_DECLS

/**
 * FerryPathKind:
 * @FERRY_PATH_KIND_UNKNOWN: no pair has been selected yet
 * @FERRY_PATH_KIND_DIRECT_LAN: both ends are host candidates in the same
 *   private, link-local or loopback network
 * @FERRY_PATH_KIND_DIRECT_INTERNET: a direct pair that crosses the internet
 *   (server-reflexive, peer-reflexive or public host candidates)
 * @FERRY_PATH_KIND_RELAYED: at least one end is a TURN relay candidate
 */
typedef enum
{
  FERRY_PATH_KIND_UNKNOWN,
  FERRY_PATH_KIND_DIRECT_LAN,
  FERRY_PATH_KIND_DIRECT_INTERNET,
  FERRY_PATH_KIND_RELAYED,
} FerryPathKind;

/**
 * FerryPathMapping:
 * @FERRY_PATH_MAPPING_NONE: no port mapping is involved
 * @FERRY_PATH_MAPPING_UPNP: a UPnP IGD mapping
 * @FERRY_PATH_MAPPING_PCP: a PCP (RFC 6887) mapping
 * @FERRY_PATH_MAPPING_NAT_PMP: a NAT-PMP (RFC 6886) mapping
 *
 * Which port mapping, on either side, made a direct pair possible.
 */
typedef enum
{
  FERRY_PATH_MAPPING_NONE,
  FERRY_PATH_MAPPING_UPNP,
  FERRY_PATH_MAPPING_PCP,
  FERRY_PATH_MAPPING_NAT_PMP,
} FerryPathMapping;

#define FERRY_TYPE_PATH_KIND (ferry_path_kind_get_type ())
#define FERRY_TYPE_PATH_MAPPING (ferry_path_mapping_get_type ())
#define FERRY_TYPE_PATH (ferry_path_get_type ())

GType ferry_path_kind_get_type    (void) G_GNUC_CONST;
GType ferry_path_mapping_get_type (void) G_GNUC_CONST;

G_DECLARE_FINAL_TYPE (FerryPath, ferry_path, FERRY, PATH, GObject)

const char      *ferry_path_kind_to_string       (FerryPathKind        kind);
gboolean         ferry_path_kind_from_string     (const char          *string,
                                                  FerryPathKind       *kind);
const char      *ferry_path_mapping_to_string    (FerryPathMapping     mapping);
gboolean         ferry_path_mapping_from_string  (const char          *string,
                                                  FerryPathMapping    *mapping);

FerryPathKind    ferry_path_classify             (const NiceCandidate *local,
                                                  const NiceCandidate *remote);
gboolean         ferry_path_address_is_lan      (const NiceAddress   *address);

FerryPath       *ferry_path_new                  (void);

FerryPathKind    ferry_path_get_kind             (FerryPath           *self);
FerryPathMapping ferry_path_get_mapped           (FerryPath           *self);
const char      *ferry_path_get_local_type       (FerryPath           *self);
const char      *ferry_path_get_local_address    (FerryPath           *self);
const char      *ferry_path_get_remote_type      (FerryPath           *self);
const char      *ferry_path_get_remote_address   (FerryPath           *self);
const char      *ferry_path_get_relay_server     (FerryPath           *self);
const char      *ferry_path_get_relay_transport  (FerryPath           *self);
double           ferry_path_get_rtt_ms           (FerryPath           *self);

void             ferry_path_update_pair          (FerryPath           *self,
                                                  const NiceCandidate *local,
                                                  const NiceCandidate *remote,
                                                  FerryPathMapping     mapped,
                                                  const char          *relay_server,
                                                  const char          *relay_transport);
void             ferry_path_set_rtt_ms           (FerryPath           *self,
                                                  double               rtt_ms);
void             ferry_path_reset                (FerryPath           *self);
char            *ferry_path_dup_label            (FerryPath           *self);

char            *ferry_path_format_address       (const NiceAddress   *address);

G_END_DECLS
