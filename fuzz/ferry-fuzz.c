/* ferry-fuzz.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>

#include "ferry-fuzz.h"

/* abort(), not G_BREAKPOINT's SIGTRAP: libFuzzer saves the input only for what it catches. */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
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

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_writer_func (log_writer, NULL, NULL);
  if (ferry_fuzz_setup != NULL)
    ferry_fuzz_setup ();
  return 0;
}
