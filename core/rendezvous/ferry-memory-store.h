/* ferry-memory-store.h
 *
 * The rendezvous server's store in this process: the default, with nothing
 * to set up; a restart loses every code.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "ferry-mailbox-store.h"

G_BEGIN_DECLS

#define FERRY_TYPE_MEMORY_STORE (ferry_memory_store_get_type ())

G_DECLARE_FINAL_TYPE (FerryMemoryStore, ferry_memory_store, FERRY, MEMORY_STORE, GObject)

FerryMemoryStore *ferry_memory_store_new (void);

G_END_DECLS
