/* fuzz-upnp-description.c
 *
 * The UPnP device-description parser, on whatever the SSDP LOCATION served, and the SOAP
 * answer parser on the same bytes: both documents come from a device anyone on the LAN
 * can impersonate.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "ferry-fuzz.h"
#include "ferry-portmap-upnp.h"

#define LOCATION "http://192.168.1.1:5000/rootDesc.xml"

static void
parse_description (const char *document,
                   size_t      size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *control_url = NULL;
  g_autofree char *service_type = NULL;

  if (ferry_portmap_upnp_parse_description (document, size, LOCATION, &control_url,
                                            &service_type, &error))
    {
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (control_url, "http://192.168.1.1"));
      g_assert_nonnull (service_type);
    }
  else
    g_assert_nonnull (error);
}

static void
parse_response (const char *document,
                size_t      size,
                const char *element)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = NULL;
  guint fault = 0;

  value = ferry_portmap_upnp_parse_response (document, size, element, &fault, &error);
  if (value != NULL)
    g_assert_true (error == NULL && fault == 0);
  else
    g_assert_nonnull (error);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  parse_description ((const char *) data, size);
  parse_response ((const char *) data, size, "NewExternalIPAddress");
  parse_response ((const char *) data, size, NULL);

  return 0;
}
