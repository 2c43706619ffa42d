/* ferry-lab.h
 *
 * The NAT lab (lab.sh) from C tests.
 *
 * A test builds a lab with ferry_lab_new(), which runs `lab.sh serve` as a child process:
 * the script builds the namespaces, prints what it made and holds the lab until its stdin
 * closes. ferry_lab_free() closes it; if the test crashes the kernel closes it, so the lab
 * is torn down in every case.
 *
 * Code runs inside a namespace in a separate process, never by switching namespaces inside
 * the test: `ip netns exec NS PROGRAM`, where PROGRAM is either another binary
 * (ferry_lab_spawn(), e.g. ferry-cli for the ICE matrix) or the test binary itself
 * re-executed in a "role" (ferry_lab_child_new()). A role is a small command loop: the
 * parent writes one command line, the child answers one line (ferry_lab_serve() and
 * ferry_lab_request_reply() on the child side). The test's main() calls
 * ferry_lab_run_role() first, which returns -1 unless argv asks for a role.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _FerryLab FerryLab;
typedef struct _FerryLabChild FerryLabChild;
typedef struct _FerryLabRequest FerryLabRequest;

/* Parent side. */
gboolean       ferry_lab_available       (char               **reason);
FerryLab      *ferry_lab_new             (const char * const  *hosts,
                                          gboolean             with_coturn,
                                          GError             **error);
void           ferry_lab_free            (FerryLab            *lab);
const char    *ferry_lab_get             (FerryLab            *lab,
                                          const char          *key,
                                          const char          *name);
const char    *ferry_lab_ns              (FerryLab            *lab,
                                          const char          *host);
const char    *ferry_lab_addr            (FerryLab            *lab,
                                          const char          *host);
const char    *ferry_lab_public_addr     (FerryLab            *lab,
                                          const char          *host);
const char    *ferry_lab_gateway         (FerryLab            *lab,
                                          const char          *host);
const char    *ferry_lab_router_ns       (FerryLab            *lab,
                                          const char          *host);
const char    *ferry_lab_coturn          (FerryLab            *lab);
const char    *ferry_lab_turn_secret     (FerryLab            *lab);
const char    *ferry_lab_rendezvous_ip   (FerryLab            *lab);
gboolean       ferry_lab_netem           (FerryLab            *lab,
                                          const char          *host,
                                          guint                delay_ms,
                                          double               loss_percent,
                                          const char          *rate,
                                          GError             **error);
GSubprocess   *ferry_lab_spawnv          (FerryLab            *lab,
                                          const char          *where,
                                          GSubprocessFlags     flags,
                                          const char * const  *argv,
                                          GError             **error);
char          *ferry_lab_run             (FerryLab            *lab,
                                          const char          *where,
                                          GError             **error,
                                          const char          *argv0,
                                          ...) G_GNUC_NULL_TERMINATED;

FerryLabChild *ferry_lab_child_new       (FerryLab            *lab,
                                          const char          *where,
                                          const char          *role,
                                          GError             **error);
char          *ferry_lab_child_call      (FerryLabChild       *child,
                                          guint                timeout_ms,
                                          const char          *format,
                                          ...) G_GNUC_PRINTF (3, 4);
void           ferry_lab_child_free      (FerryLabChild       *child);

/* Child side. */
typedef void (*FerryLabCommandFunc) (const char * const *words,
                                     FerryLabRequest    *request,
                                     gpointer            user_data);

int            ferry_lab_run_role        (int                  argc,
                                          char               **argv,
                                          const char          *role,
                                          FerryLabCommandFunc  func,
                                          gpointer             user_data);
void           ferry_lab_request_reply   (FerryLabRequest     *request,
                                          const char          *format,
                                          ...) G_GNUC_PRINTF (2, 3);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryLab, ferry_lab_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryLabChild, ferry_lab_child_free)

G_END_DECLS
