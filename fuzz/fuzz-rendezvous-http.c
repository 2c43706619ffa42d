/* fuzz-rendezvous-http.c
 *
 * What the rendezvous server reads of an HTTP request itself (libsoup reads the rest): the
 * body of an allocation (first byte 'B') and the nameplate in a join's path (anything
 * else). Every request to the server is attacker input.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-rendezvous-protocol.h"
#include "ferry-rendezvous-server-private.h"

static void
parse_nameplate (const char *text)
{
  g_autofree char *again = NULL;
  guint number = 0;

  if (!ferry_rendezvous_server_parse_nameplate (text, &number))
    return;

  /* A nameplate names one mailbox: only its canonical spelling is accepted. */
  g_assert_cmpuint (number, >, 0);
  again = g_strdup_printf ("%u", number);
  g_assert_cmpstr (again, ==, text);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = NULL;

  if (size == 0)
    return 0;

  if (data[0] == 'B')
    {
      ferry_rendezvous_server_check_allocate_body ((const char *) data + 1, size - 1);
      return 0;
    }

  text = ferry_fuzz_dup_string (data + 1, size - 1);
  parse_nameplate (text);
  return 0;
}
