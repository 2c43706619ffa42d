/* ferry-stun.h
 *
 * Just enough STUN (RFC 5389) and TURN (RFC 5766) for netcheck: building requests with
 * attributes and MESSAGE-INTEGRITY, and reading answers, all of them attacker input.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FERRY_STUN_HEADER_SIZE          20
#define FERRY_STUN_TRANSACTION_ID_SIZE  12
#define FERRY_STUN_MAGIC_COOKIE         0x2112A442u

/* Message types: method | class bits. */
#define FERRY_STUN_BINDING_REQUEST              0x0001
#define FERRY_STUN_BINDING_RESPONSE             0x0101
#define FERRY_STUN_ALLOCATE_REQUEST             0x0003
#define FERRY_STUN_ALLOCATE_RESPONSE            0x0103
#define FERRY_STUN_ALLOCATE_ERROR               0x0113
#define FERRY_STUN_REFRESH_REQUEST              0x0004
#define FERRY_STUN_CREATE_PERMISSION_REQUEST    0x0008
#define FERRY_STUN_CREATE_PERMISSION_RESPONSE   0x0108
#define FERRY_STUN_CREATE_PERMISSION_ERROR      0x0118
#define FERRY_STUN_DATA_INDICATION              0x0017

/* Attributes. */
#define FERRY_STUN_ATTR_MAPPED_ADDRESS          0x0001
#define FERRY_STUN_ATTR_USERNAME                0x0006
#define FERRY_STUN_ATTR_MESSAGE_INTEGRITY       0x0008
#define FERRY_STUN_ATTR_ERROR_CODE              0x0009
#define FERRY_STUN_ATTR_LIFETIME                0x000D
#define FERRY_STUN_ATTR_XOR_PEER_ADDRESS        0x0012
#define FERRY_STUN_ATTR_DATA                    0x0013
#define FERRY_STUN_ATTR_REALM                   0x0014
#define FERRY_STUN_ATTR_NONCE                   0x0015
#define FERRY_STUN_ATTR_XOR_RELAYED_ADDRESS     0x0016
#define FERRY_STUN_ATTR_REQUESTED_TRANSPORT     0x0019
#define FERRY_STUN_ATTR_XOR_MAPPED_ADDRESS      0x0020

GByteArray         *ferry_stun_message_new           (guint16             type,
                                                      const guint8       *transaction_id);
void                ferry_stun_message_add           (GByteArray         *message,
                                                      guint16             type,
                                                      const void         *value,
                                                      gsize               length);
void                ferry_stun_message_add_xor_address (GByteArray       *message,
                                                        guint16           type,
                                                        GInetSocketAddress *address);
void                ferry_stun_message_add_integrity (GByteArray         *message,
                                                      const guint8       *key,
                                                      gsize               key_length);
void                ferry_stun_long_term_key         (const char         *username,
                                                      const char         *realm,
                                                      const char         *password,
                                                      guint8              key[16]);

gboolean            ferry_stun_parse_header          (const guint8       *data,
                                                      gsize               length,
                                                      guint16            *type,
                                                      const guint8      **transaction_id);
gboolean            ferry_stun_find_attribute        (const guint8       *data,
                                                      gsize               length,
                                                      guint16             type,
                                                      const guint8      **value,
                                                      gsize              *value_length);
GInetSocketAddress *ferry_stun_get_address           (const guint8       *data,
                                                      gsize               length,
                                                      guint16             type);
guint               ferry_stun_get_error_code        (const guint8       *data,
                                                      gsize               length);
char               *ferry_stun_get_string            (const guint8       *data,
                                                      gsize               length,
                                                      guint16             type,
                                                      gsize               max_length);

G_END_DECLS
