/* ferry-window.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "ferry-application.h"

G_BEGIN_DECLS

#define FERRY_TYPE_WINDOW (ferry_window_get_type ())

G_DECLARE_FINAL_TYPE (FerryWindow, ferry_window, FERRY, WINDOW, AdwApplicationWindow)

FerryWindow *ferry_window_new               (FerryApplication *application);
void         ferry_window_show_receive_code (FerryWindow      *self,
                                             const char       *code);
void         ferry_window_send_files        (FerryWindow      *self,
                                             GFile           **files,
                                             guint             n_files);
void         ferry_window_add_toast         (FerryWindow      *self,
                                             const char       *title);

GtkWidget   *ferry_window_get_send_page     (FerryWindow      *self);
GtkWidget   *ferry_window_get_history_page  (FerryWindow      *self);
void         ferry_window_resume_receive    (FerryWindow      *self,
                                             const char       *target_folder);
void         ferry_window_resume_send       (FerryWindow        *self,
                                             const char * const *sources);
GtkWidget   *ferry_window_get_receive_page  (FerryWindow      *self);
void         ferry_window_show_page         (FerryWindow      *self,
                                             const char       *name);

G_END_DECLS
