/* ferry-portmap-upnp.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-portmap-upnp"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libsoup/soup.h>

#include "ferry-port-mapping-private.h"
#include "ferry-portmap-gateway.h"
#include "ferry-portmap-upnp.h"

/*
 * Why our own client rather than gupnp-igd: gupnp 1.6 gives every network context an HTTP
 * server (for event subscriptions a port-mapping client never makes) on the port number of
 * its SSDP socket, which fails, with a warning, whenever a TCP socket on that address
 * already holds that number; and it searches with MX 3, so a router such as miniupnpd
 * answers up to three seconds late. This client asks exactly one interface, the one the
 * mapped socket is on: it sends the search both to the SSDP group and straight to the
 * default gateway (a unicast search is answered at once, UDA 1.1 §1.3.3), follows only a
 * LOCATION on the very address that answered, and sends SOAP requests only to that
 * address, so a device on the LAN cannot make us talk to anyone else.
 */

#define SSDP_GROUP          "239.255.255.250"
#define SSDP_PORT           1900
#define SSDP_RETRANSMIT_MS  400
#define MAX_CONFLICT_TRIES  4

#define SOAP_ERROR_NOT_AUTHORIZED          606
#define SOAP_ERROR_CONFLICT                718
#define SOAP_ERROR_ONLY_PERMANENT_LEASES   725

/* Service types we can map with, best first. */
static const char * const service_types[] = {
  "urn:schemas-upnp-org:service:WANIPConnection:2",
  "urn:schemas-upnp-org:service:WANIPConnection:1",
  "urn:schemas-upnp-org:service:WANPPPConnection:1",
};

/* Parsers ---------------------------------------------------------------- */

static void
replace_str (char       **field,
             const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static gboolean
set_protocol_error (GError     **error,
                    const char  *message)
{
  g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL, message);
  return FALSE;
}

/* An http:// URL with a host given as an IPv4 address (a router's own address), as a
 * GUri, or NULL. */
static GUri *
parse_router_url (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GInetAddress) host = NULL;

  if (url == NULL || strlen (url) > 1024)
    return NULL;

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 ||
      g_uri_get_host (uri) == NULL || g_uri_get_userinfo (uri) != NULL)
    return NULL;

  host = g_inet_address_new_from_string (g_uri_get_host (uri));
  if (host == NULL || g_inet_address_get_family (host) != G_SOCKET_FAMILY_IPV4)
    return NULL;

  return g_steal_pointer (&uri);
}

/**
 * ferry_portmap_upnp_parse_ssdp_reply:
 * @data: one datagram that arrived on the search socket
 *
 * Reads an SSDP search response ("HTTP/1.1 200 OK" with a LOCATION header) from an
 * Internet Gateway Device or one of its WAN connection services.
 *
 * Returns: (transfer full) (nullable): the LOCATION, or %NULL with %FERRY_PORTMAP_ERROR_PROTOCOL
 *   for anything else
 */
char *
ferry_portmap_upnp_parse_ssdp_reply (const char  *data,
                                     gsize        length,
                                     GError     **error)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *location = NULL;
  gboolean gateway = FALSE;

  if (length == 0 || length > FERRY_PORTMAP_UPNP_MAX_SSDP_REPLY ||
      memchr (data, '\0', length) != NULL)
    {
      set_protocol_error (error, "Not an SSDP response");
      return NULL;
    }

  text = g_strndup (data, length);
  lines = g_strsplit (text, "\n", 64);
  if (lines[0] == NULL || g_ascii_strncasecmp (lines[0], "HTTP/1.1 200", 12) != 0)
    {
      set_protocol_error (error, "Not an SSDP response");
      return NULL;
    }

  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *colon = strchr (line, ':');
      char *value;

      if (colon == NULL)
        continue;
      *colon = '\0';
      value = g_strstrip (colon + 1);

      if (g_ascii_strcasecmp (g_strstrip (line), "LOCATION") == 0 && location == NULL)
        location = g_strdup (value);
      else if (g_ascii_strcasecmp (line, "ST") == 0)
        {
          g_autofree char *st = g_ascii_strdown (value, -1);

          gateway = strstr (st, "internetgatewaydevice") != NULL ||
                    strstr (st, "wanipconnection") != NULL ||
                    strstr (st, "wanpppconnection") != NULL;
        }
    }

  if (!gateway || location == NULL)
    {
      set_protocol_error (error, "The SSDP response is not from an Internet gateway");
      return NULL;
    }

  {
    g_autoptr(GUri) uri = parse_router_url (location);

    if (uri == NULL)
      {
        set_protocol_error (error, "The gateway's description is not at an http:// address");
        return NULL;
      }
  }

  return g_steal_pointer (&location);
}

/* A GMarkup walk that remembers, for each <service>, its serviceType and controlURL, and
 * the document's URLBase. Element names are compared without their namespace prefix. */
typedef struct
{
  GPtrArray *stack;          /* element local names */
  GString   *text;
  char      *url_base;
  char      *service_type;   /* of the <service> being read */
  char      *control_url;
  char      *best_type;
  char      *best_control;
  guint      best_rank;
} Description;

static const char *
local_name (const char *name)
{
  const char *colon = strrchr (name, ':');

  return colon != NULL ? colon + 1 : name;
}

static const char *
parent_name (Description *d)
{
  return d->stack->len >= 2 ? g_ptr_array_index (d->stack, d->stack->len - 2) : "";
}

static void
description_start (GMarkupParseContext  *context,
                   const char           *element,
                   const char          **attribute_names,
                   const char          **attribute_values,
                   gpointer              user_data,
                   GError              **error)
{
  Description *d = user_data;

  /* A real description is a few levels deep (root/device/deviceList/device/.../service). */
  if (d->stack->len >= 32)
    {
      set_protocol_error (error, "The gateway's description is nested too deeply");
      return;
    }
  g_ptr_array_add (d->stack, g_strdup (local_name (element)));
  g_string_truncate (d->text, 0);
  if (g_str_equal (local_name (element), "service"))
    {
      g_clear_pointer (&d->service_type, g_free);
      g_clear_pointer (&d->control_url, g_free);
    }
}

static void
description_end (GMarkupParseContext  *context,
                 const char           *element,
                 gpointer              user_data,
                 GError              **error)
{
  Description *d = user_data;
  const char *name = local_name (element);
  g_autofree char *value = g_strstrip (g_strdup (d->text->str));

  if (g_str_equal (name, "URLBase") && d->url_base == NULL)
    d->url_base = g_steal_pointer (&value);
  else if (g_str_equal (name, "serviceType") && g_str_equal (parent_name (d), "service"))
    replace_str (&d->service_type, value);
  else if (g_str_equal (name, "controlURL") && g_str_equal (parent_name (d), "service"))
    replace_str (&d->control_url, value);
  else if (g_str_equal (name, "service") && d->service_type != NULL && d->control_url != NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (service_types) && i < d->best_rank; i++)
        if (g_str_equal (d->service_type, service_types[i]))
          {
            d->best_rank = i;
            replace_str (&d->best_type, d->service_type);
            replace_str (&d->best_control, d->control_url);
          }
    }

  g_string_truncate (d->text, 0);
  if (d->stack->len > 0)
    g_ptr_array_set_size (d->stack, d->stack->len - 1);
}

static void
description_text (GMarkupParseContext  *context,
                  const char           *text,
                  gsize                 length,
                  gpointer              user_data,
                  GError              **error)
{
  Description *d = user_data;

  if (d->text->len + length > 1024)
    {
      set_protocol_error (error, "The gateway's description has an overlong value");
      return;
    }
  g_string_append_len (d->text, text, length);
}

/**
 * ferry_portmap_upnp_parse_description:
 * @document: the device description the SSDP LOCATION pointed at
 * @location: that LOCATION, which relative URLs are resolved against (unless the
 *   document has a URLBase)
 * @control_url: (out): where the WAN connection service takes SOAP requests
 * @service_type: (out): which service that is
 *
 * Returns: %TRUE when the device has a service we can map with; it must be on the same
 *   host as @location
 */
gboolean
ferry_portmap_upnp_parse_description (const char  *document,
                                      gsize        length,
                                      const char  *location,
                                      char       **control_url,
                                      char       **service_type,
                                      GError     **error)
{
  static const GMarkupParser parser = {
    description_start, description_end, description_text, NULL, NULL
  };
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GUri) base = NULL;
  g_autoptr(GUri) control = NULL;
  g_autoptr(GUri) from = parse_router_url (location);
  Description d = { 0 };
  gboolean ok;

  g_return_val_if_fail (document != NULL, FALSE);

  if (from == NULL)
    return set_protocol_error (error, "The gateway's description is not at an http:// address");
  if (length > FERRY_PORTMAP_UPNP_MAX_DOCUMENT || memchr (document, '\0', length) != NULL)
    return set_protocol_error (error, "The gateway's description is not a document");

  d.stack = g_ptr_array_new_with_free_func (g_free);
  d.text = g_string_new (NULL);
  d.best_rank = G_N_ELEMENTS (service_types);
  context = g_markup_parse_context_new (&parser, 0, &d, NULL);
  ok = g_markup_parse_context_parse (context, document, length, NULL) &&
       g_markup_parse_context_end_parse (context, NULL);

  if (ok && d.best_control != NULL)
    {
      base = d.url_base != NULL ? parse_router_url (d.url_base) : g_uri_ref (from);
      if (base != NULL)
        control = g_uri_parse_relative (base, d.best_control, G_URI_FLAGS_NONE, NULL);
    }

  if (!ok)
    set_protocol_error (error, "The gateway's description is not well-formed XML");
  else if (d.best_control == NULL)
    g_set_error_literal (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                         "The gateway offers no WAN connection service to map with");
  else if (control == NULL || g_strcmp0 (g_uri_get_scheme (control), "http") != 0 ||
           g_strcmp0 (g_uri_get_host (control), g_uri_get_host (from)) != 0)
    {
      set_protocol_error (error, "The gateway's control address is not on the gateway");
      g_clear_pointer (&control, g_uri_unref);
    }

  if (control != NULL)
    {
      *control_url = g_uri_to_string (control);
      *service_type = g_steal_pointer (&d.best_type);
    }

  g_ptr_array_unref (d.stack);
  g_string_free (d.text, TRUE);
  g_free (d.url_base);
  g_free (d.service_type);
  g_free (d.control_url);
  g_free (d.best_type);
  g_free (d.best_control);
  return control != NULL;
}

typedef struct
{
  const char *want;
  guint       depth;
  GString    *text;
  char       *value;
  char       *fault;
} Response;

static void
response_start (GMarkupParseContext  *context,
                const char           *element,
                const char          **attribute_names,
                const char          **attribute_values,
                gpointer              user_data,
                GError              **error)
{
  Response *r = user_data;

  if (++r->depth > 16)
    set_protocol_error (error, "The gateway's answer is nested too deeply");
  g_string_truncate (r->text, 0);
}

static void
response_end (GMarkupParseContext  *context,
              const char           *element,
              gpointer              user_data,
              GError              **error)
{
  Response *r = user_data;
  const char *name = local_name (element);

  if (r->want != NULL && g_str_equal (name, r->want) && r->value == NULL)
    r->value = g_strstrip (g_strdup (r->text->str));
  else if (g_str_equal (name, "errorCode") && r->fault == NULL)
    r->fault = g_strstrip (g_strdup (r->text->str));
  g_string_truncate (r->text, 0);
  r->depth--;
}

static void
response_text (GMarkupParseContext  *context,
               const char           *text,
               gsize                 length,
               gpointer              user_data,
               GError              **error)
{
  Response *r = user_data;

  if (r->text->len + length > 256)
    set_protocol_error (error, "The gateway's answer has an overlong value");
  else
    g_string_append_len (r->text, text, length);
}

/**
 * ferry_portmap_upnp_parse_response:
 * @document: a SOAP response body
 * @element: (nullable): the output argument to return ("NewExternalIPAddress"), or %NULL
 * @fault: (out): the UPnP error code of a SOAP fault, 0 if none
 *
 * Returns: (transfer full) (nullable): the value of @element ("" when @element is %NULL and
 *   the document is no fault), or %NULL: on a fault (@fault set) or a malformed document
 *   (@error set)
 */
char *
ferry_portmap_upnp_parse_response (const char  *document,
                                   gsize        length,
                                   const char  *element,
                                   guint       *fault,
                                   GError     **error)
{
  static const GMarkupParser parser = {
    response_start, response_end, response_text, NULL, NULL
  };
  g_autoptr(GMarkupParseContext) context = NULL;
  Response r = { element };
  char *result = NULL;
  guint64 code = 0;

  *fault = 0;
  if (length > FERRY_PORTMAP_UPNP_MAX_DOCUMENT || memchr (document, '\0', length) != NULL)
    {
      set_protocol_error (error, "The gateway's answer is not a document");
      return NULL;
    }

  r.text = g_string_new (NULL);
  context = g_markup_parse_context_new (&parser, 0, &r, NULL);
  if (!g_markup_parse_context_parse (context, document, length, NULL) ||
      !g_markup_parse_context_end_parse (context, NULL))
    set_protocol_error (error, "The gateway's answer is not well-formed XML");
  else if (r.fault != NULL)
    {
      if (!g_ascii_string_to_unsigned (r.fault, 10, 1, 999, &code, NULL))
        code = 501;
      *fault = code;
      g_set_error (error, FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                   "The gateway refused the request (UPnP error %u)", (guint) code);
    }
  else if (element != NULL && r.value == NULL)
    set_protocol_error (error, "The gateway's answer lacks what was asked for");
  else
    result = element != NULL ? g_steal_pointer (&r.value) : g_strdup ("");

  g_string_free (r.text, TRUE);
  g_free (r.value);
  g_free (r.fault);
  return result;
}

/* One operation ------------------------------------------------------------
 *
 * A map runs: search → description → GetExternalIPAddress → AddPortMapping; a renew is an
 * AddPortMapping of the same port again, an unmap a DeletePortMapping. All of it is bounded
 * by one deadline and one cancellable. */

typedef enum
{
  OP_MAP,
  OP_RENEW,
  OP_UNMAP,
} Op;

typedef struct
{
  Op                     op;
  FerryPortmapTransport  transport;
  GInetAddress          *internal_address;
  guint16                internal_port;
  guint16                external_port;
  guint32                lifetime;
  guint                  conflicts;
  gboolean               permanent;

  GSocket               *ssdp;
  GSource               *ssdp_readable;
  GSource               *ssdp_timer;
  GSocketAddress        *gateway;
  char                  *location;
  GInetAddress          *router;

  SoupSession           *session;
  char                  *control_url;
  char                  *service_type;
  GInetAddress          *external_address;

  gboolean               done;          /* the task has been returned */
  GSource               *deadline;
  GSource               *cancel_source;
  GCancellable          *cancellable;   /* ours: the caller's, chained, and the deadline */
  gulong                 cancelled_id;
  GCancellable          *caller_cancellable;
} Run;

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
run_free (Run *run)
{
  destroy_source (&run->ssdp_readable);
  destroy_source (&run->ssdp_timer);
  destroy_source (&run->deadline);
  destroy_source (&run->cancel_source);
  if (run->caller_cancellable != NULL)
    g_cancellable_disconnect (run->caller_cancellable, run->cancelled_id);
  g_clear_object (&run->caller_cancellable);
  g_clear_object (&run->cancellable);
  g_clear_object (&run->ssdp);
  g_clear_object (&run->gateway);
  g_clear_object (&run->router);
  g_clear_object (&run->session);
  g_clear_object (&run->internal_address);
  g_clear_object (&run->external_address);
  g_free (run->location);
  g_free (run->control_url);
  g_free (run->service_type);
  g_free (run);
}

static void
run_stop_search (Run *run)
{
  destroy_source (&run->ssdp_readable);
  destroy_source (&run->ssdp_timer);
  if (run->ssdp != NULL)
    g_socket_close (run->ssdp, NULL);
  g_clear_object (&run->ssdp);
}

/* Every ending goes through here once; later callbacks find the task returned. */
static void
run_fail (GTask  *task,
          GError *error)
{
  Run *run = g_task_get_task_data (task);

  if (run->done)
    {
      g_error_free (error);
      return;
    }
  run->done = TRUE;
  run_stop_search (run);
  destroy_source (&run->deadline);
  destroy_source (&run->cancel_source);
  g_task_return_error (task, error);
}

static gboolean
deadline_cb (gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);

  g_clear_pointer (&run->deadline, g_source_unref);
  run_fail (task, g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_TIMEOUT,
                                       run->control_url == NULL
                                       ? "No UPnP gateway answered in time"
                                       : "The UPnP gateway did not answer in time"));
  /* Ends whatever HTTP request is still out. */
  g_cancellable_cancel (run->cancellable);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

/* Also while nothing is in flight (the search), cancelling ends the operation at once. */
static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);

  g_clear_pointer (&run->cancel_source, g_source_unref);
  if (!run->done)
    run_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "Port mapping was cancelled"));
  return G_SOURCE_REMOVE;
}

static GTask *
run_new (Op                   op,
         gpointer             source_tag,
         guint                timeout_ms,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Run *run = g_new0 (Run, 1);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  g_task_set_check_cancellable (task, FALSE);
  run->op = op;
  run->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      run->caller_cancellable = g_object_ref (cancellable);
      run->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb),
                                                 g_object_ref (run->cancellable),
                                                 g_object_unref);
    }

  run->deadline = g_timeout_source_new (timeout_ms > 0 ? timeout_ms
                                                       : FERRY_PORTMAP_DEFAULT_TIMEOUT_MS);
  g_source_set_static_name (run->deadline, "[ferry] UPnP deadline");
  g_source_set_callback (run->deadline, deadline_cb, g_object_ref (task), g_object_unref);
  g_source_attach (run->deadline, g_main_context_get_thread_default ());

  run->cancel_source = g_cancellable_source_new (run->cancellable);
  g_source_set_callback (run->cancel_source, G_SOURCE_FUNC (cancelled_cb), g_object_ref (task),
                         g_object_unref);
  g_source_attach (run->cancel_source, g_main_context_get_thread_default ());

  run->session = soup_session_new ();
  /* A gateway on the LAN is never reached through a proxy. */
  soup_session_set_proxy_resolver (run->session, NULL);
  return task;
}

/* Whether the operation already ended (the deadline, or the caller cancelled): then a
 * late callback has nothing to do. Takes @error either way when it returns %TRUE. */
static gboolean
run_failed_by (GTask   *task,
               GError **error)
{
  Run *run = g_task_get_task_data (task);

  if (!run->done && g_cancellable_is_cancelled (run->cancellable))
    run_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "Port mapping was cancelled"));
  if (!run->done)
    return FALSE;

  g_clear_error (error);
  return TRUE;
}

/* HTTP ------------------------------------------------------------------ */

typedef void (*SoapDoneFunc) (GTask       *task,
                              const char  *value,
                              guint        fault,
                              GError      *error);

typedef void (*BodyDoneFunc) (GTask       *task,
                              const char  *document,
                              gsize        length,
                              GError      *error);

/* One request, its body read whole (at most FERRY_PORTMAP_UPNP_MAX_DOCUMENT); then either
 * @body_done gets the document, or it is a SOAP answer and @soap_done gets @element of it. */
typedef struct
{
  GTask        *task;
  SoupMessage  *message;
  GInputStream *body;
  GByteArray   *data;
  BodyDoneFunc  body_done;
  SoapDoneFunc  soap_done;
  const char   *element;
} Http;

static void
http_free (Http *http)
{
  g_clear_object (&http->task);
  g_clear_object (&http->message);
  g_clear_object (&http->body);
  g_clear_pointer (&http->data, g_byte_array_unref);
  g_free (http);
}

static void http_read (Http *http);

static void
http_finish (Http   *http,
             GError *error)
{
  GTask *task = http->task;
  guint status = soup_message_get_status (http->message);
  const char *document = (const char *) http->data->data;
  gsize length = http->data->len;

  if (run_failed_by (task, &error))
    {
      http_free (http);
      return;
    }

  if (http->body_done != NULL)
    {
      if (error == NULL && status != SOUP_STATUS_OK)
        error = g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                             "The UPnP gateway answered HTTP %u", status);
      http->body_done (task, document, length, error);
    }
  else
    {
      guint fault = 0;
      g_autofree char *value = NULL;

      /* A SOAP fault comes with status 500; anything else but 200 is no answer. */
      if (error == NULL && status != SOUP_STATUS_OK && status != SOUP_STATUS_INTERNAL_SERVER_ERROR)
        error = g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                             "The UPnP gateway answered HTTP %u", status);
      if (error == NULL)
        value = ferry_portmap_upnp_parse_response (document, length, http->element, &fault,
                                                   &error);
      http->soap_done (task, value, fault, error);
    }
  http_free (http);
}

static void
http_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Http *http = user_data;
  g_autoptr(GBytes) chunk = NULL;
  GError *error = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (chunk == NULL || g_bytes_get_size (chunk) == 0)
    {
      http_finish (http, error);
      return;
    }
  if (http->data->len + g_bytes_get_size (chunk) > FERRY_PORTMAP_UPNP_MAX_DOCUMENT)
    {
      http_finish (http, g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_PROTOCOL,
                                              "The UPnP gateway's answer is too long"));
      return;
    }
  g_byte_array_append (http->data, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  http_read (http);
}

static void
http_read (Http *http)
{
  Run *run = g_task_get_task_data (http->task);

  g_input_stream_read_bytes_async (http->body, 8192, G_PRIORITY_DEFAULT, run->cancellable,
                                   http_read_cb, http);
}

static void
http_sent_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Http *http = user_data;
  GError *error = NULL;

  http->body = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (http->body == NULL)
    {
      http_finish (http, error);
      return;
    }
  http_read (http);
}

static void
http_send (GTask        *task,
           SoupMessage  *message,
           BodyDoneFunc  body_done,
           SoapDoneFunc  soap_done,
           const char   *element)
{
  Run *run = g_task_get_task_data (task);
  Http *http = g_new0 (Http, 1);

  http->task = g_object_ref (task);
  http->message = message;
  http->data = g_byte_array_new ();
  http->body_done = body_done;
  http->soap_done = soap_done;
  http->element = element;
  soup_session_send_async (run->session, message, G_PRIORITY_DEFAULT, run->cancellable,
                           http_sent_cb, http);
}

static void
soap_call (GTask        *task,
           const char   *action,
           const char   *arguments,
           const char   *element,
           SoapDoneFunc  done)
{
  Run *run = g_task_get_task_data (task);
  g_autofree char *soap_action = g_strdup_printf ("\"%s#%s\"", run->service_type, action);
  g_autoptr(GBytes) bytes = NULL;
  SoupMessage *message;
  char *body;

  body = g_strdup_printf ("<?xml version=\"1.0\"?>\r\n"
                          "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                          "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
                          "<s:Body><u:%s xmlns:u=\"%s\">%s</u:%s></s:Body></s:Envelope>\r\n",
                          action, run->service_type, arguments, action);
  bytes = g_bytes_new_take (body, strlen (body));

  message = soup_message_new (SOUP_METHOD_POST, run->control_url);
  soup_message_headers_replace (soup_message_get_request_headers (message), "SOAPAction",
                                soap_action);
  soup_message_set_request_body_from_bytes (message, "text/xml; charset=\"utf-8\"", bytes);
  http_send (task, message, NULL, done, element);
}

static const char *
transport_name (FerryPortmapTransport transport)
{
  return transport == FERRY_PORTMAP_TRANSPORT_TCP ? "TCP" : "UDP";
}

static GError *
fault_error (guint   fault,
             GError *error)
{
  if (fault == SOAP_ERROR_NOT_AUTHORIZED)
    {
      g_clear_error (&error);
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_AUTHORIZED,
                                  "The UPnP gateway refuses to map this port");
    }
  if (fault == SOAP_ERROR_CONFLICT)
    {
      g_clear_error (&error);
      return g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NO_RESOURCES,
                                  "The UPnP gateway has no free port to map");
    }
  return error;
}

static void
return_mapping (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GInetSocketAddress) server = NULL;
  g_autoptr(GUri) control = g_uri_parse (run->control_url, G_URI_FLAGS_NONE, NULL);
  FerryPortMapping *mapping;

  server = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (run->router,
                                                             g_uri_get_port (control) > 0
                                                             ? g_uri_get_port (control) : 80));
  run->done = TRUE;
  destroy_source (&run->deadline);
  destroy_source (&run->cancel_source);
  mapping = ferry_port_mapping_new (FERRY_PORTMAP_PROTOCOL_UPNP, run->transport, server,
                                    run->internal_port, run->external_address,
                                    run->external_port, run->lifetime, NULL);
  mapping->upnp_control_url = g_strdup (run->control_url);
  mapping->upnp_service_type = g_strdup (run->service_type);
  mapping->internal_address = g_object_ref (run->internal_address);
  g_task_return_pointer (task, mapping, (GDestroyNotify) ferry_port_mapping_unref);
}

static void add_mapping (GTask *task);

static void
add_done (GTask      *task,
          const char *value,
          guint       fault,
          GError     *error)
{
  Run *run = g_task_get_task_data (task);

  if (fault == SOAP_ERROR_CONFLICT && run->op == OP_MAP && ++run->conflicts < MAX_CONFLICT_TRIES)
    {
      /* Someone else holds that external port: another in the dynamic range. */
      g_clear_error (&error);
      run->external_port = g_random_int_range (49152, 65536);
      add_mapping (task);
      return;
    }
  if (fault == SOAP_ERROR_ONLY_PERMANENT_LEASES && !run->permanent)
    {
      /* An IGD:1 router that only does leases without end: one it is, deleted at close. */
      g_clear_error (&error);
      run->permanent = TRUE;
      add_mapping (task);
      return;
    }
  if (error != NULL)
    {
      run_fail (task, fault_error (fault, error));
      return;
    }

  return_mapping (task);
}

static void
add_mapping (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  g_autofree char *client = g_inet_address_to_string (run->internal_address);
  g_autofree char *arguments = NULL;

  arguments = g_strdup_printf ("<NewRemoteHost></NewRemoteHost>"
                               "<NewExternalPort>%u</NewExternalPort>"
                               "<NewProtocol>%s</NewProtocol>"
                               "<NewInternalPort>%u</NewInternalPort>"
                               "<NewInternalClient>%s</NewInternalClient>"
                               "<NewEnabled>1</NewEnabled>"
                               "<NewPortMappingDescription>Ferry</NewPortMappingDescription>"
                               "<NewLeaseDuration>%u</NewLeaseDuration>",
                               run->external_port, transport_name (run->transport),
                               run->internal_port, client, run->permanent ? 0 : run->lifetime);
  soap_call (task, "AddPortMapping", arguments, NULL, add_done);
}

static void
external_address_done (GTask      *task,
                       const char *value,
                       guint       fault,
                       GError     *error)
{
  Run *run = g_task_get_task_data (task);

  if (error != NULL)
    {
      run_fail (task, fault_error (fault, error));
      return;
    }

  run->external_address = g_inet_address_new_from_string (value);
  if (run->external_address == NULL ||
      g_inet_address_get_family (run->external_address) != G_SOCKET_FAMILY_IPV4 ||
      g_inet_address_get_is_any (run->external_address))
    {
      g_clear_object (&run->external_address);
      /* An IGD answers "" or 0.0.0.0 while it has no connection upstream. */
      run_fail (task, g_error_new_literal (FERRY_PORTMAP_ERROR,
                                           FERRY_PORTMAP_ERROR_NETWORK_FAILURE,
                                           "The UPnP gateway has no public address"));
      return;
    }

  add_mapping (task);
}

/* The description is no SOAP answer: parse it here from the raw body. */
static void
description_fetched (GTask      *task,
                     const char *document,
                     gsize       length,
                     GError     *error)
{
  Run *run = g_task_get_task_data (task);

  if (error == NULL)
    ferry_portmap_upnp_parse_description (document, length, run->location, &run->control_url,
                                          &run->service_type, &error);
  if (error != NULL)
    {
      run_fail (task, error);
      return;
    }

  g_debug ("UPnP gateway %s, service %s", run->control_url, run->service_type);
  soap_call (task, "GetExternalIPAddress", "", "NewExternalIPAddress", external_address_done);
}

static void
fetch_description (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  http_send (task, soup_message_new (SOUP_METHOD_GET, run->location), description_fetched,
             NULL, NULL);
}

/* SSDP ------------------------------------------------------------------ */

static void
ssdp_send (Run *run)
{
  static const char search[] =
    "M-SEARCH * HTTP/1.1\r\n"
    "HOST: " SSDP_GROUP ":1900\r\n"
    "MAN: \"ssdp:discover\"\r\n"
    "MX: 1\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "\r\n";
  g_autoptr(GInetAddress) group = g_inet_address_new_from_string (SSDP_GROUP);
  g_autoptr(GSocketAddress) target = g_inet_socket_address_new (group, SSDP_PORT);
  g_autoptr(GError) error = NULL;

  if (g_socket_send_to (run->ssdp, target, search, sizeof search - 1, NULL, &error) < 0)
    g_debug ("Cannot send the SSDP search: %s", error->message);
  g_clear_error (&error);
  if (run->gateway != NULL &&
      g_socket_send_to (run->ssdp, run->gateway, search, sizeof search - 1, NULL, &error) < 0)
    g_debug ("Cannot send the SSDP search to the gateway: %s", error->message);
}

static gboolean
ssdp_timer_cb (gpointer user_data)
{
  GTask *task = user_data;

  ssdp_send (g_task_get_task_data (task));
  return G_SOURCE_CONTINUE;
}

static gboolean
ssdp_readable_cb (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  char buffer[FERRY_PORTMAP_UPNP_MAX_SSDP_REPLY];
  gssize n;

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GUri) uri = NULL;
      g_autoptr(GInetAddress) host = NULL;
      g_autofree char *location = NULL;
      GInetAddress *sender;

      n = g_socket_receive_from (socket, &from, buffer, sizeof buffer, NULL, &error);
      if (n < 0)
        return G_SOURCE_CONTINUE;

      location = ferry_portmap_upnp_parse_ssdp_reply (buffer, n, &error);
      if (location == NULL || !G_IS_INET_SOCKET_ADDRESS (from))
        continue;

      /* Only the device that answered may describe itself. */
      uri = g_uri_parse (location, G_URI_FLAGS_NONE, NULL);
      host = g_inet_address_new_from_string (g_uri_get_host (uri));
      sender = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from));
      if (!g_inet_address_equal (host, sender))
        {
          g_debug ("Ignoring an SSDP answer whose description is elsewhere: %s", location);
          continue;
        }

      run->location = g_steal_pointer (&location);
      run->router = g_object_ref (sender);
      fetch_description (task);
      run_stop_search (run);
      return G_SOURCE_REMOVE;
    }
}

static gboolean
ssdp_start (GTask   *task,
            GError **error)
{
  Run *run = g_task_get_task_data (task);
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (run->internal_address, 0);
  g_autoptr(GInetAddress) gateway = NULL;
  struct in_addr interface;

  run->ssdp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                            G_SOCKET_PROTOCOL_UDP, error);
  if (run->ssdp == NULL || !g_socket_bind (run->ssdp, local, FALSE, error))
    return FALSE;
  g_socket_set_blocking (run->ssdp, FALSE);
  g_socket_set_multicast_ttl (run->ssdp, 2);
  g_socket_set_multicast_loopback (run->ssdp, FALSE);

  /* Search on the mapped socket's own interface. */
  memcpy (&interface, g_inet_address_to_bytes (run->internal_address), sizeof interface);
  if (setsockopt (g_socket_get_fd (run->ssdp), IPPROTO_IP, IP_MULTICAST_IF,
                  &interface, sizeof interface) < 0)
    g_debug ("Cannot pick the multicast interface: %s", g_strerror (errno));

  gateway = ferry_portmap_discover_gateway (NULL);
  if (gateway != NULL)
    run->gateway = g_inet_socket_address_new (gateway, SSDP_PORT);

  run->ssdp_readable = g_socket_create_source (run->ssdp, G_IO_IN, NULL);
  g_source_set_callback (run->ssdp_readable, G_SOURCE_FUNC (ssdp_readable_cb),
                         g_object_ref (task), g_object_unref);
  g_source_attach (run->ssdp_readable, g_main_context_get_thread_default ());

  run->ssdp_timer = g_timeout_source_new (SSDP_RETRANSMIT_MS);
  g_source_set_callback (run->ssdp_timer, ssdp_timer_cb, g_object_ref (task), g_object_unref);
  g_source_attach (run->ssdp_timer, g_main_context_get_thread_default ());

  ssdp_send (run);
  return TRUE;
}

/* Map ------------------------------------------------------------------- */

/**
 * ferry_portmap_upnp_map_async:
 * @local: the IPv4 address and port of the socket to map (its address picks the
 *   interface to search on and is the mapping's internal client)
 * @suggested_port: the external port to ask for, 0 for the internal port
 * @lifetime: seconds
 * @timeout_ms: for the whole exchange, 0 for %FERRY_PORTMAP_DEFAULT_TIMEOUT_MS
 *
 * Finds the UPnP Internet Gateway Device on @local's network and asks it to forward
 * @transport traffic on an external port to @local. Fails with %FERRY_PORTMAP_ERROR_TIMEOUT
 * when no gateway answers in time, %FERRY_PORTMAP_ERROR_NOT_SUPPORTED when it offers no WAN
 * connection service, %FERRY_PORTMAP_ERROR_NETWORK_FAILURE without a public address,
 * %FERRY_PORTMAP_ERROR_NOT_AUTHORIZED or %FERRY_PORTMAP_ERROR_NO_RESOURCES when it refuses.
 */
void
ferry_portmap_upnp_map_async (GInetSocketAddress    *local,
                              FerryPortmapTransport  transport,
                              guint16                suggested_port,
                              guint32                lifetime,
                              guint                  timeout_ms,
                              GCancellable          *cancellable,
                              GAsyncReadyCallback    callback,
                              gpointer               user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  Run *run;

  g_return_if_fail (G_IS_INET_SOCKET_ADDRESS (local));
  g_return_if_fail (g_inet_socket_address_get_port (local) > 0);
  g_return_if_fail (lifetime > 0);

  task = run_new (OP_MAP, ferry_portmap_upnp_map_async, timeout_ms, cancellable,
                  callback, user_data);
  run = g_task_get_task_data (task);
  run->transport = transport;
  run->internal_address = g_object_ref (g_inet_socket_address_get_address (local));
  run->internal_port = g_inet_socket_address_get_port (local);
  run->external_port = suggested_port != 0 ? suggested_port : run->internal_port;
  run->lifetime = lifetime;

  if (g_inet_address_get_family (run->internal_address) != G_SOCKET_FAMILY_IPV4)
    {
      run_fail (task, g_error_new_literal (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_NOT_SUPPORTED,
                                           "UPnP port mapping needs an IPv4 address"));
      return;
    }
  if (!ssdp_start (task, &error))
    {
      run_fail (task, g_error_new (FERRY_PORTMAP_ERROR, FERRY_PORTMAP_ERROR_FAILED,
                                   "Cannot search for a UPnP gateway: %s", error->message));
      g_error_free (error);
    }
}

FerryPortMapping *
ferry_portmap_upnp_map_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ferry_portmap_upnp_map_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Renew and unmap --------------------------------------------------------- */

static GTask *
run_for_mapping (Op                   op,
                 gpointer             source_tag,
                 FerryPortMapping    *mapping,
                 guint                timeout_ms,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  GTask *task = run_new (op, source_tag, timeout_ms, cancellable, callback, user_data);
  Run *run = g_task_get_task_data (task);

  run->transport = mapping->transport;
  run->internal_address = g_object_ref (mapping->internal_address);
  run->internal_port = mapping->internal_port;
  run->external_port = mapping->external_port;
  run->external_address = g_object_ref (mapping->external_address);
  run->router = g_object_ref (g_inet_socket_address_get_address (mapping->server));
  run->control_url = g_strdup (mapping->upnp_control_url);
  run->service_type = g_strdup (mapping->upnp_service_type);
  run->lifetime = mapping->lifetime;
  return task;
}

void
ferry_portmap_upnp_renew_async (FerryPortMapping    *mapping,
                                guint32              lifetime,
                                guint                timeout_ms,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (mapping != NULL && mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP);
  g_return_if_fail (lifetime > 0);

  task = run_for_mapping (OP_RENEW, ferry_portmap_upnp_renew_async, mapping, timeout_ms,
                          cancellable, callback, user_data);
  ((Run *) g_task_get_task_data (task))->lifetime = lifetime;
  add_mapping (task);
}

FerryPortMapping *
ferry_portmap_upnp_renew_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_portmap_upnp_renew_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
delete_done (GTask      *task,
             const char *value,
             guint       fault,
             GError     *error)
{
  Run *run = g_task_get_task_data (task);

  if (error != NULL)
    {
      run_fail (task, fault_error (fault, error));
      return;
    }
  run->done = TRUE;
  destroy_source (&run->deadline);
  destroy_source (&run->cancel_source);
  g_task_return_boolean (task, TRUE);
}

void
ferry_portmap_upnp_unmap_async (FerryPortMapping    *mapping,
                                guint                timeout_ms,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *arguments = NULL;

  g_return_if_fail (mapping != NULL && mapping->protocol == FERRY_PORTMAP_PROTOCOL_UPNP);

  task = run_for_mapping (OP_UNMAP, ferry_portmap_upnp_unmap_async, mapping, timeout_ms,
                          cancellable, callback, user_data);
  arguments = g_strdup_printf ("<NewRemoteHost></NewRemoteHost>"
                               "<NewExternalPort>%u</NewExternalPort>"
                               "<NewProtocol>%s</NewProtocol>",
                               mapping->external_port, transport_name (mapping->transport));
  soap_call (task, "DeletePortMapping", arguments, NULL, delete_done);
}

gboolean
ferry_portmap_upnp_unmap_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ferry_portmap_upnp_unmap_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
