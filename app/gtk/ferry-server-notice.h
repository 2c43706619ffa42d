/* ferry-server-notice.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define FERRY_TYPE_SERVER_NOTICE (ferry_server_notice_get_type ())

G_DECLARE_FINAL_TYPE (FerryServerNotice, ferry_server_notice, FERRY, SERVER_NOTICE, AdwBin)

G_END_DECLS
