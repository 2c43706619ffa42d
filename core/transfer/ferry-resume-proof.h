/* ferry-resume-proof.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_RESUME_SECRET_SIZE 32
#define FERRY_RESUME_PROOF_SIZE  32

char     *ferry_resume_binding_new    (const char   *sender_fingerprint,
                                       const char   *receiver_fingerprint);
void      ferry_resume_proof_compute  (const guint8 *secret,
                                       const char   *binding,
                                       guint8       *proof);
gboolean  ferry_resume_proof_verify   (const guint8 *secret,
                                       const char   *binding,
                                       const guint8 *proof);

G_END_DECLS
