/* ferry-history-page.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define FERRY_TYPE_HISTORY_PAGE (ferry_history_page_get_type ())

G_DECLARE_FINAL_TYPE (FerryHistoryPage, ferry_history_page, FERRY, HISTORY_PAGE, AdwBin)

void   ferry_history_page_reload      (FerryHistoryPage *self);
guint  ferry_history_page_get_n_rows  (FerryHistoryPage *self);
char  *ferry_history_page_dup_row_text (FerryHistoryPage *self,
                                        guint             index);
gboolean ferry_history_page_activate_resume (FerryHistoryPage *self,
                                             guint             index);
gboolean ferry_history_page_activate_row_action (FerryHistoryPage *self,
                                                 guint             index,
                                                 const char       *action);
gboolean ferry_history_page_get_row_shown (FerryHistoryPage *self,
                                           guint             index);
guint    ferry_history_page_get_n_days    (FerryHistoryPage *self);
char    *ferry_history_page_dup_days      (FerryHistoryPage *self);
void     ferry_history_page_focus_search (FerryHistoryPage *self);
void     ferry_history_page_set_search    (FerryHistoryPage *self,
                                           const char       *text);

G_END_DECLS
