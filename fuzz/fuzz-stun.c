/* fuzz-stun.c
 *
 * The STUN/TURN reader netcheck uses on whatever arrives on its socket: the header, every
 * attribute walk, addresses, error codes and strings, and the binding-response parser.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-netcheck.h"
#include "ferry-stun.h"

static const guint16 address_types[] = {
  FERRY_STUN_ATTR_MAPPED_ADDRESS,
  FERRY_STUN_ATTR_XOR_MAPPED_ADDRESS,
  FERRY_STUN_ATTR_XOR_RELAYED_ADDRESS,
  FERRY_STUN_ATTR_XOR_PEER_ADDRESS,
};

static const guint16 string_types[] = {
  FERRY_STUN_ATTR_REALM,
  FERRY_STUN_ATTR_NONCE,
  FERRY_STUN_ATTR_USERNAME,
};

static void
read_attributes (const guint8 *data,
                 size_t        size)
{
  const guint8 *value;
  gsize value_length;

  for (guint i = 0; i < G_N_ELEMENTS (address_types); i++)
    {
      GInetSocketAddress *address = ferry_stun_get_address (data, size, address_types[i]);

      g_clear_object (&address);
    }
  for (guint i = 0; i < G_N_ELEMENTS (string_types); i++)
    g_free (ferry_stun_get_string (data, size, string_types[i], 763));

  ferry_stun_get_error_code (data, size);
  if (ferry_stun_find_attribute (data, size, FERRY_STUN_ATTR_DATA, &value, &value_length))
    g_assert_true (value >= data && value + value_length <= data + size);
  ferry_stun_find_attribute (data, size, FERRY_STUN_ATTR_LIFETIME, &value, &value_length);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GInetSocketAddress) mapped = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *transaction_id;
  guint16 type;

  if (!ferry_stun_parse_header (data, size, &type, &transaction_id))
    return 0;

  g_assert_true (transaction_id > data && transaction_id + FERRY_STUN_TRANSACTION_ID_SIZE
                                          <= data + FERRY_STUN_HEADER_SIZE);
  read_attributes (data, size);

  /* Answered as if it were the reply to our own request, so the id always matches. */
  mapped = ferry_netcheck_parse_binding_response (data, size, transaction_id, &error);
  g_assert_true ((mapped == NULL) == (error != NULL));

  return 0;
}
