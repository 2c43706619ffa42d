/* ferry-stun.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-stun"

#include "config.h"

#include <string.h>

#include "ferry-stun.h"

static guint16
read16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static void
write16 (guint8  *p,
         guint16  value)
{
  p[0] = value >> 8;
  p[1] = value & 0xff;
}

/**
 * ferry_stun_message_new:
 * @transaction_id: 12 bytes
 *
 * Returns: (transfer full): a message of @type with no attributes yet
 */
GByteArray *
ferry_stun_message_new (guint16       type,
                        const guint8 *transaction_id)
{
  GByteArray *message = g_byte_array_sized_new (128);
  guint8 header[FERRY_STUN_HEADER_SIZE] = { 0 };

  write16 (header, type);
  header[4] = (FERRY_STUN_MAGIC_COOKIE >> 24) & 0xff;
  header[5] = (FERRY_STUN_MAGIC_COOKIE >> 16) & 0xff;
  header[6] = (FERRY_STUN_MAGIC_COOKIE >> 8) & 0xff;
  header[7] = FERRY_STUN_MAGIC_COOKIE & 0xff;
  memcpy (header + 8, transaction_id, FERRY_STUN_TRANSACTION_ID_SIZE);
  g_byte_array_append (message, header, sizeof header);
  return message;
}

static void
set_length (GByteArray *message)
{
  write16 (message->data + 2, message->len - FERRY_STUN_HEADER_SIZE);
}

/* Appends one attribute, padded to four bytes, and keeps the header's length right. */
void
ferry_stun_message_add (GByteArray *message,
                        guint16     type,
                        const void *value,
                        gsize       length)
{
  static const guint8 zeros[3] = { 0 };
  guint8 head[4];

  g_return_if_fail (message != NULL && length <= G_MAXUINT16);

  write16 (head, type);
  write16 (head + 2, length);
  g_byte_array_append (message, head, sizeof head);
  if (length > 0)
    g_byte_array_append (message, value, length);
  g_byte_array_append (message, zeros, (4 - length % 4) % 4);
  set_length (message);
}

void
ferry_stun_message_add_xor_address (GByteArray         *message,
                                    guint16             type,
                                    GInetSocketAddress *address)
{
  GInetAddress *ip = g_inet_socket_address_get_address (address);
  gsize size = g_inet_address_get_native_size (ip);
  guint8 value[20] = { 0 };

  value[1] = size == 4 ? 0x01 : 0x02;
  write16 (value + 2, g_inet_socket_address_get_port (address) ^ (FERRY_STUN_MAGIC_COOKIE >> 16));
  memcpy (value + 4, g_inet_address_to_bytes (ip), size);
  /* XOR with the cookie, and for IPv6 the transaction id after it: header bytes 4..19. */
  for (gsize i = 0; i < size; i++)
    value[4 + i] ^= message->data[4 + i];
  ferry_stun_message_add (message, type, value, 4 + size);
}

/* MESSAGE-INTEGRITY (RFC 5389 15.4): HMAC-SHA1 over the message so far, with the header's
 * length already counting the attribute itself. */
void
ferry_stun_message_add_integrity (GByteArray   *message,
                                  const guint8 *key,
                                  gsize         key_length)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, key, key_length);
  guint8 digest[20];
  gsize digest_length = sizeof digest;

  write16 (message->data + 2, message->len - FERRY_STUN_HEADER_SIZE + 4 + sizeof digest);
  g_hmac_update (hmac, message->data, message->len);
  g_hmac_get_digest (hmac, digest, &digest_length);
  ferry_stun_message_add (message, FERRY_STUN_ATTR_MESSAGE_INTEGRITY, digest, sizeof digest);
}

/* The long-term credential key (RFC 5389 15.4): MD5 (username ":" realm ":" password). */
void
ferry_stun_long_term_key (const char *username,
                          const char *realm,
                          const char *password,
                          guint8      key[16])
{
  g_autoptr(GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  gsize length = 16;

  g_checksum_update (md5, (const guchar *) username, -1);
  g_checksum_update (md5, (const guchar *) ":", 1);
  g_checksum_update (md5, (const guchar *) realm, -1);
  g_checksum_update (md5, (const guchar *) ":", 1);
  g_checksum_update (md5, (const guchar *) password, -1);
  g_checksum_get_digest (md5, key, &length);
}

/**
 * ferry_stun_parse_header:
 *
 * Returns: whether @data is a whole STUN message (magic cookie, length that matches,
 *   attributes that fit exactly)
 */
gboolean
ferry_stun_parse_header (const guint8  *data,
                         gsize          length,
                         guint16       *type,
                         const guint8 **transaction_id)
{
  gsize offset;

  if (data == NULL || length < FERRY_STUN_HEADER_SIZE || length > 65535 || (length % 4) != 0 ||
      (data[0] & 0xc0) != 0 || read16 (data + 2) != length - FERRY_STUN_HEADER_SIZE ||
      data[4] != ((FERRY_STUN_MAGIC_COOKIE >> 24) & 0xff) ||
      data[5] != ((FERRY_STUN_MAGIC_COOKIE >> 16) & 0xff) ||
      data[6] != ((FERRY_STUN_MAGIC_COOKIE >> 8) & 0xff) ||
      data[7] != (FERRY_STUN_MAGIC_COOKIE & 0xff))
    return FALSE;

  for (offset = FERRY_STUN_HEADER_SIZE; offset < length;)
    {
      gsize attr_length;

      if (length - offset < 4)
        return FALSE;
      attr_length = read16 (data + offset + 2);
      if (attr_length > length - offset - 4)
        return FALSE;
      offset += 4 + ((attr_length + 3) & ~(gsize) 3);
    }
  if (offset != length)
    return FALSE;

  *type = read16 (data);
  *transaction_id = data + 8;
  return TRUE;
}

/* The first attribute of @type; @data must have passed ferry_stun_parse_header(). */
gboolean
ferry_stun_find_attribute (const guint8  *data,
                           gsize          length,
                           guint16        type,
                           const guint8 **value,
                           gsize         *value_length)
{
  for (gsize offset = FERRY_STUN_HEADER_SIZE; offset + 4 <= length;)
    {
      gsize attr_length = read16 (data + offset + 2);

      if (attr_length > length - offset - 4)
        return FALSE;
      if (read16 (data + offset) == type)
        {
          *value = data + offset + 4;
          *value_length = attr_length;
          return TRUE;
        }
      offset += 4 + ((attr_length + 3) & ~(gsize) 3);
    }

  return FALSE;
}

/**
 * ferry_stun_get_address:
 * @type: an address attribute; the XOR-… ones are unmasked
 *
 * Returns: (transfer full) (nullable): the address, %NULL if absent or malformed
 */
GInetSocketAddress *
ferry_stun_get_address (const guint8 *data,
                        gsize         length,
                        guint16       type)
{
  g_autoptr(GInetAddress) address = NULL;
  const guint8 *value;
  gsize value_length, size;
  gboolean xored = type != FERRY_STUN_ATTR_MAPPED_ADDRESS;
  guint8 bytes[16];
  guint16 port;

  if (!ferry_stun_find_attribute (data, length, type, &value, &value_length) ||
      value_length < 4)
    return NULL;

  switch (value[1])
    {
    case 0x01:
      size = 4;
      break;
    case 0x02:
      size = 16;
      break;
    default:
      return NULL;
    }
  if (value_length != 4 + size)
    return NULL;

  port = read16 (value + 2);
  memcpy (bytes, value + 4, size);
  if (xored)
    {
      port ^= FERRY_STUN_MAGIC_COOKIE >> 16;
      for (gsize i = 0; i < size; i++)
        bytes[i] ^= data[4 + i];
    }
  if (port == 0)
    return NULL;

  address = g_inet_address_new_from_bytes (bytes, size == 4 ? G_SOCKET_FAMILY_IPV4
                                                             : G_SOCKET_FAMILY_IPV6);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, port));
}

/* ERROR-CODE (class * 100 + number), 0 if absent or malformed. */
guint
ferry_stun_get_error_code (const guint8 *data,
                           gsize         length)
{
  const guint8 *value;
  gsize value_length;
  guint code;

  if (!ferry_stun_find_attribute (data, length, FERRY_STUN_ATTR_ERROR_CODE, &value,
                                  &value_length) || value_length < 4)
    return 0;

  code = (value[2] & 0x07) * 100 + value[3];
  return code >= 300 && code <= 699 ? code : 0;
}

/* A text attribute (REALM, NONCE) as a new string, if it is valid UTF-8 without NUL and
 * at most @max_length bytes. */
char *
ferry_stun_get_string (const guint8 *data,
                       gsize         length,
                       guint16       type,
                       gsize         max_length)
{
  const guint8 *value;
  gsize value_length;

  if (!ferry_stun_find_attribute (data, length, type, &value, &value_length) ||
      value_length == 0 || value_length > max_length ||
      memchr (value, '\0', value_length) != NULL ||
      !g_utf8_validate ((const char *) value, value_length, NULL))
    return NULL;

  return g_strndup ((const char *) value, value_length);
}
