/* ferry-fuzz.h
 *
 * What every libFuzzer target in fuzz/ shares. ferry-fuzz.c provides LLVMFuzzerInitialize():
 * it makes a GLib critical or warning a crash, since a parser fed hostile bytes must answer
 * with an error, never trip an assertion, then calls the target's ferry_fuzz_setup() if it
 * has one. Each target defines LLVMFuzzerTestOneInput().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

int  LLVMFuzzerInitialize   (int           *argc,
                             char        ***argv);
int  LLVMFuzzerTestOneInput (const guint8  *data,
                             size_t         size);

/* Optional, once before the first input. */
void ferry_fuzz_setup       (void) __attribute__ ((weak));

/* A copy of the input with a NUL after it, for parsers that take C strings. */
static inline char *
ferry_fuzz_dup_string (const guint8 *data,
                       size_t        size)
{
  char *copy = g_malloc (size + 1);

  if (size > 0)
    memcpy (copy, data, size);
  copy[size] = '\0';
  return copy;
}

G_END_DECLS
