/* ferry-test-nice.h
 *
 * Two real libnice agents on loopback carrying a pair of
 * FerryQuicConnections, with credentials and candidates exchanged in
 * process. A stand-in for Ferry's ICE session in transport tests and
 * benchmarks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-quic.h"

G_BEGIN_DECLS

typedef struct _FerryTestNicePair FerryTestNicePair;

FerryTestNicePair *ferry_test_nice_pair_new  (guint                timeout_ms);
void               ferry_test_nice_pair_bind (FerryTestNicePair   *pair,
                                              FerryQuicConnection *controlling,
                                              FerryQuicConnection *controlled);
void               ferry_test_nice_pair_free (FerryTestNicePair   *pair);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryTestNicePair, ferry_test_nice_pair_free)

G_END_DECLS
