/* ferry-ice-server.c
 *
 * The STUN and TURN servers an ICE session uses, as the rendezvous hands
 * them out: URLs (RFC 7064/7065) and, for TURN, the short-lived credentials.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-ice"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "ferry-ice-error.h"
#include "ferry-ice-server.h"

#define DEFAULT_STUN_PORT  3478
#define DEFAULT_TURNS_PORT 5349

void
ferry_ice_server_free (FerryIceServer *server)
{
  g_free (server->host);
  g_free (server->ip);
  g_free (server->username);
  g_free (server->password);
  g_free (server);
}

static gboolean
is_hostname (const char *host)
{
  if (*host == '\0' || strlen (host) > 253)
    return FALSE;

  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;

  return TRUE;
}

/* Parses "stun:host[:port]", "turn:host[:port][?transport=udp|tcp]" and
 * "turns:host[:port][?transport=tcp]" (RFC 7064/7065); host may be a name,
 * an IPv4 address or an IPv6 address in brackets. */
static FerryIceServer *
parse_server_url (const char  *url,
                  gboolean     want_turn,
                  GError     **error)
{
  g_autoptr(FerryIceServer) server = g_new0 (FerryIceServer, 1);
  g_autofree char *host = NULL;
  const char *rest;
  const char *query;
  gboolean secure = FALSE;
  gboolean tcp = FALSE;

  if (want_turn && g_str_has_prefix (url, "turn:"))
    rest = url + strlen ("turn:");
  else if (want_turn && g_str_has_prefix (url, "turns:"))
    rest = url + strlen ("turns:"), secure = TRUE;
  else if (!want_turn && g_str_has_prefix (url, "stun:"))
    rest = url + strlen ("stun:");
  else
    goto bad;

  query = strchr (rest, '?');
  if (query != NULL)
    {
      if (!want_turn)
        goto bad;
      if (g_str_equal (query, "?transport=tcp"))
        tcp = TRUE;
      else if (!g_str_equal (query, "?transport=udp") || secure)
        goto bad;
    }
  else
    {
      query = rest + strlen (rest);
    }

  if (*rest == '[')
    {
      const char *end = memchr (rest, ']', query - rest);

      if (end == NULL)
        goto bad;
      host = g_strndup (rest + 1, end - rest - 1);
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        goto bad;
      rest = end + 1;
    }
  else
    {
      const char *end = memchr (rest, ':', query - rest);

      if (end == NULL)
        end = query;
      host = g_strndup (rest, end - rest);
      if (!is_hostname (host))
        goto bad;
      rest = end;
    }

  if (rest < query && *rest == ':')
    {
      guint64 port;
      g_autofree char *digits = g_strndup (rest + 1, query - rest - 1);

      if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT16, &port, NULL))
        goto bad;
      server->port = port;
    }
  else if (rest == query)
    {
      server->port = secure ? DEFAULT_TURNS_PORT : DEFAULT_STUN_PORT;
    }
  else
    {
      goto bad;
    }

  server->host = g_steal_pointer (&host);
  server->is_turn = want_turn;
  if (secure)
    server->relay_type = NICE_RELAY_TYPE_TURN_TLS;
  else if (tcp)
    server->relay_type = NICE_RELAY_TYPE_TURN_TCP;
  else
    server->relay_type = NICE_RELAY_TYPE_TURN_UDP;
  if (g_hostname_is_ip_address (server->host))
    server->ip = g_strdup (server->host);

  return g_steal_pointer (&server);

bad:
  g_set_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
               want_turn ? "“%s” is not a TURN URL (turn:host:port?transport=udp|tcp)"
                         : "“%s” is not a STUN URL (stun:host:port)", url);
  return NULL;
}

/* The member's string, or NULL when it is missing or not a string. */
static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
}

static gboolean
parse_turn_entry (JsonNode   *node,
                  GPtrArray  *servers,
                  GError    **error)
{
  JsonObject *object;
  JsonNode *urls;
  const char *username;
  const char *credential;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    goto bad;

  object = json_node_get_object (node);
  username = string_member (object, "username");
  credential = string_member (object, "credential");
  urls = json_object_get_member (object, "urls");
  if (username == NULL || credential == NULL || urls == NULL)
    goto bad;

  /* WebRTC's RTCIceServer allows one URL as a plain string. */
  if (JSON_NODE_HOLDS_VALUE (urls) && json_node_get_value_type (urls) == G_TYPE_STRING)
    {
      FerryIceServer *server = parse_server_url (json_node_get_string (urls), TRUE, error);

      if (server == NULL)
        return FALSE;
      server->username = g_strdup (username);
      server->password = g_strdup (credential);
      g_ptr_array_add (servers, server);
      return TRUE;
    }

  if (!JSON_NODE_HOLDS_ARRAY (urls))
    goto bad;

  for (guint i = 0; i < json_array_get_length (json_node_get_array (urls)); i++)
    {
      JsonNode *url = json_array_get_element (json_node_get_array (urls), i);
      FerryIceServer *server;

      if (!JSON_NODE_HOLDS_VALUE (url) || json_node_get_value_type (url) != G_TYPE_STRING)
        goto bad;
      server = parse_server_url (json_node_get_string (url), TRUE, error);
      if (server == NULL)
        return FALSE;
      server->username = g_strdup (username);
      server->password = g_strdup (credential);
      g_ptr_array_add (servers, server);
    }

  return TRUE;

bad:
  g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                       "A TURN entry needs “urls”, “username” and “credential”");
  return FALSE;
}

/**
 * ferry_ice_server_parse_list:
 * @json: the rendezvous' `GET /v1/ice` answer
 * @length: its length, or -1 if nul-terminated
 *
 * Reads the STUN and TURN servers of @json: "stun" a list of stun: URLs,
 * "turn" a list of entries with "urls" (a list, or one URL as a string),
 * "username" and "credential". Host names are left for the caller to
 * resolve.
 *
 * Returns: (transfer full) (element-type FerryIceServer): the servers, in
 *   order; %NULL with %FERRY_ICE_ERROR_BAD_CONFIG
 */
GPtrArray *
ferry_ice_server_parse_list (const char  *json,
                             gssize       length,
                             GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GPtrArray) servers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_ice_server_free);
  g_autoptr(GError) local_error = NULL;
  JsonObject *root;
  JsonNode *member;

  g_return_val_if_fail (json != NULL, NULL);

  if (!json_parser_load_from_data (parser, json, length, &local_error) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                   "The ICE server settings are not a JSON object%s%s",
                   local_error ? ": " : "", local_error ? local_error->message : "");
      return NULL;
    }

  root = json_node_get_object (json_parser_get_root (parser));

  member = json_object_get_member (root, "stun");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_ARRAY (member))
        goto bad_member;
      for (guint i = 0; i < json_array_get_length (json_node_get_array (member)); i++)
        {
          JsonNode *url = json_array_get_element (json_node_get_array (member), i);
          FerryIceServer *server;

          if (!JSON_NODE_HOLDS_VALUE (url) || json_node_get_value_type (url) != G_TYPE_STRING)
            goto bad_member;
          server = parse_server_url (json_node_get_string (url), FALSE, error);
          if (server == NULL)
            return NULL;
          g_ptr_array_add (servers, server);
        }
    }

  member = json_object_get_member (root, "turn");
  if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
    {
      if (!JSON_NODE_HOLDS_ARRAY (member))
        goto bad_member;
      for (guint i = 0; i < json_array_get_length (json_node_get_array (member)); i++)
        if (!parse_turn_entry (json_array_get_element (json_node_get_array (member), i),
                               servers, error))
          return NULL;
    }

  return g_steal_pointer (&servers);

bad_member:
  g_set_error_literal (error, FERRY_ICE_ERROR, FERRY_ICE_ERROR_BAD_CONFIG,
                       "“stun” must be a list of URLs and “turn” a list of servers");
  return NULL;
}
