/* ferry-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-error"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "ferry-code.h"
#include "ferry-error.h"
#include "ferry-ice-session.h"
#include "ferry-json-check.h"
#include "ferry-lan.h"
#include "ferry-offer.h"
#include "ferry-pake.h"
#include "ferry-quic.h"
#include "ferry-rendezvous-client.h"
#include "ferry-store.h"
#include "ferry-transfer.h"

/* One table turns every error Ferry can end with into what the app shows as
 * a headline and what ferry-cli prints as a stable id, so both say the same
 * thing. The longer sentence is the error's own message. */
typedef struct
{
  GQuark      (*domain) (void);
  int           code;     /* -1 matches any code of the domain */
  const char   *id;
  const char   *title;
} ErrorText;

static const ErrorText error_texts[] = {
  { ferry_pake_error_quark, FERRY_PAKE_ERROR_WRONG_CODE, "wrong-code", N_("Wrong Code") },
  { ferry_code_error_quark, -1, "invalid-code", N_("Not a Ferry Code") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_UNREACHABLE, "server-unreachable",
    N_("Can’t Reach the Server") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_PROTOCOL, "server-protocol",
    N_("The Server Answered Strangely") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_NOT_FOUND, "code-not-found",
    N_("Code Not Found") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_CROWDED, "code-in-use",
    N_("Code Already in Use") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_EXPIRED, "code-expired",
    N_("Code Expired") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_BAD_CODE, "wrong-code",
    N_("Wrong Code") },
  { ferry_rendezvous_error_quark, FERRY_RENDEZVOUS_ERROR_RATE_LIMITED, "rate-limited",
    N_("Too Many Attempts") },
  { ferry_rendezvous_error_quark, -1, "server-error", N_("The Server Ended the Connection") },
  { ferry_lan_error_quark, FERRY_LAN_ERROR_NOT_FOUND, "not-on-network",
    N_("No Ferry on This Network Has This Code") },
  { ferry_lan_error_quark, -1, "no-local-discovery", N_("Local Discovery Unavailable") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_DECLINED, "declined",
    N_("The Receiver Said No") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_CANCELLED_BY_PEER, "cancelled-by-peer",
    N_("Cancelled by the Other Side") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_PEER_GONE, "peer-gone",
    N_("The Other Side Is Gone") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_HOSTILE_OFFER, "unsafe-offer",
    N_("Unsafe Offer Refused") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_NO_SPACE, "no-space",
    N_("Not Enough Disk Space") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_VERIFY_FAILED, "verify-failed",
    N_("A File Arrived Damaged") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_CHANGED_ON_SENDER, "changed-on-sender",
    N_("A File Changed While Sending") },
  { ferry_transfer_error_quark, FERRY_TRANSFER_ERROR_IO, "file-error",
    N_("Can’t Read or Write a File") },
  { ferry_transfer_error_quark, -1, "transfer-failed", N_("The Transfer Failed") },
  { ferry_offer_error_quark, FERRY_OFFER_ERROR_TEXT_TOO_LONG, "text-too-long",
    N_("Text Too Long") },
  { ferry_offer_error_quark, -1, "unsafe-offer", N_("Unsafe Offer Refused") },
  { ferry_ice_error_quark, FERRY_ICE_ERROR_TIMEOUT, "no-path",
    N_("No Connection to the Other Side") },
  { ferry_ice_error_quark, FERRY_ICE_ERROR_FAILED, "no-path",
    N_("No Connection to the Other Side") },
  { ferry_ice_error_quark, -1, "connection-failed", N_("The Connection Failed") },
  { ferry_quic_error_quark, FERRY_QUIC_ERROR_PEER_VERIFICATION, "not-verified",
    N_("The Other Side Could Not Be Verified") },
  { ferry_quic_error_quark, FERRY_QUIC_ERROR_IDLE_TIMEOUT, "peer-gone",
    N_("The Other Side Is Gone") },
  { ferry_quic_error_quark, -1, "connection-failed", N_("The Connection Failed") },
  { ferry_store_error_quark, -1, "storage-error", N_("Can’t Keep Track of Transfers") },
  { ferry_json_check_error_quark, -1, "malformed-message",
    N_("The Other Side Sent a Malformed Message") },
};

static const ErrorText *
lookup (const GError *error)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_texts); i++)
    {
      const ErrorText *text = &error_texts[i];

      if (error->domain == text->domain () && (text->code == -1 || error->code == text->code))
        return text;
    }

  return NULL;
}

/**
 * ferry_error_get_id:
 *
 * Returns: a stable, machine-readable name for @error, e.g. "wrong-code"
 */
const char *
ferry_error_get_id (const GError *error)
{
  const ErrorText *text;

  g_return_val_if_fail (error != NULL, NULL);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return "cancelled";

  text = lookup (error);
  return text != NULL ? text->id : "failed";
}

/**
 * ferry_error_dup_title:
 *
 * Returns: (transfer full): a short, translated headline for @error
 */
char *
ferry_error_dup_title (const GError *error)
{
  const ErrorText *text;

  g_return_val_if_fail (error != NULL, NULL);

  text = lookup (error);
  return g_strdup (text != NULL ? _(text->title) : _("Something Went Wrong"));
}

/**
 * ferry_error_dup_description:
 *
 * Returns: (transfer full): the sentence that explains @error
 */
char *
ferry_error_dup_description (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  return g_strdup (error->message);
}

/**
 * ferry_error_dup_details:
 *
 * Returns: (transfer full): what “Copy Details” puts on the clipboard for a
 *   bug report: the stable id, the error's domain and code, and its message
 */
char *
ferry_error_dup_details (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  return g_strdup_printf ("Ferry %s\nerror: %s (%s %d)\n%s\n",
                          PACKAGE_VERSION, ferry_error_get_id (error),
                          g_quark_to_string (error->domain), error->code, error->message);
}
