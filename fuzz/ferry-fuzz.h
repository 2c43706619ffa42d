/* ferry-fuzz.h
 *
 * What every libFuzzer target in fuzz/ shares: the two entry points libFuzzer calls, and a
 * setup that makes a GLib critical or warning a crash, since a parser fed hostile bytes must
 * answer with an error, never trip an assertion.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <stdlib.h>
#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

int LLVMFuzzerInitialize   (int           *argc,
                            char        ***argv);
int LLVMFuzzerTestOneInput (const guint8  *data,
                            size_t         size);

/* abort(), not G_BREAKPOINT's SIGTRAP: libFuzzer saves the input only for what it catches. */
static inline GLogWriterOutput
ferry_fuzz_log_writer (GLogLevelFlags   level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static inline void
ferry_fuzz_init (void)
{
  g_log_set_writer_func (ferry_fuzz_log_writer, NULL, NULL);
}

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
