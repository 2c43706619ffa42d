/* ferry-application.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-rendezvous-client.h"
#include "ferry-session.h"
#include "ferry-store.h"

G_BEGIN_DECLS

#define FERRY_TYPE_APPLICATION (ferry_application_get_type ())

G_DECLARE_FINAL_TYPE (FerryApplication, ferry_application, FERRY, APPLICATION, AdwApplication)

FerryApplication      *ferry_application_new                   (void);
FerryApplication      *ferry_application_get_default           (void);
GSettings             *ferry_application_get_settings          (FerryApplication *self);
char                  *ferry_application_dup_rendezvous_url    (FerryApplication *self);
gboolean               ferry_application_has_internet_rendezvous (FerryApplication *self);
FerryRendezvousClient *ferry_application_dup_rendezvous_client (FerryApplication *self);
FerryStore            *ferry_application_get_store             (FerryApplication *self);
GFile                 *ferry_application_dup_download_folder   (FerryApplication *self);
GFile                 *ferry_application_dup_default_download_folder (void);
void                   ferry_application_apply_settings        (FerryApplication *self,
                                                                FerrySession     *session);
void                   ferry_application_watch_session         (FerryApplication *self,
                                                                GtkWindow        *window,
                                                                FerrySession     *session);

G_END_DECLS
