/* ferry-rendezvous-protocol.c
 *
 * What the statuses and close codes of ferry-rendezvous-protocol.h mean, in
 * one table that both sides read: the client turns them into a
 * FerryRendezvousError, the server names the errors libsoup answered for it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-rendezvous-protocol"

#include "config.h"

#include <libsoup/soup.h>

#include "ferry-rendezvous-protocol.h"

G_DEFINE_QUARK (ferry-rendezvous-error-quark, ferry_rendezvous_error)

/* No client error: the status is not one the protocol gives a meaning. */
#define NOT_OURS -1

typedef struct
{
  guint       status;
  /* The name the server gives a bare answer with this status. The server
   * answers the others only in its own words (with their own names), so a
   * bare one is named by its class. */
  const char *name;
  int         error;
  const char *message;
} StatusMeaning;

static const StatusMeaning status_meanings[] = {
  { SOUP_STATUS_NOT_FOUND, FERRY_RENDEZVOUS_ERR_NOT_FOUND,
    FERRY_RENDEZVOUS_ERROR_NOT_FOUND, "There is no such code; it may have expired" },
  { SOUP_STATUS_METHOD_NOT_ALLOWED, FERRY_RENDEZVOUS_ERR_METHOD, NOT_OURS, NULL },
  { SOUP_STATUS_CONFLICT, NULL,
    FERRY_RENDEZVOUS_ERROR_CROWDED, "Two other sides already use this code" },
  { SOUP_STATUS_GONE, NULL, FERRY_RENDEZVOUS_ERROR_EXPIRED, "The code expired" },
  { SOUP_STATUS_FORBIDDEN, FERRY_RENDEZVOUS_ERR_FORBIDDEN,
    FERRY_RENDEZVOUS_ERROR_CLOSED, "The mailbox this was asked for is closed" },
  { SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, FERRY_RENDEZVOUS_ERR_TOO_LARGE,
    FERRY_RENDEZVOUS_ERROR_TOO_LARGE, "A message was larger than the rendezvous server allows" },
  { FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS, NULL,
    FERRY_RENDEZVOUS_ERROR_RATE_LIMITED, "The rendezvous server is busy; try again later" },
  { SOUP_STATUS_SERVICE_UNAVAILABLE, NULL,
    FERRY_RENDEZVOUS_ERROR_RATE_LIMITED, "The rendezvous server is busy; try again later" },
  { SOUP_STATUS_REQUEST_TIMEOUT, NULL,
    FERRY_RENDEZVOUS_ERROR_IDLE, "The rendezvous server heard nothing for too long" },
};

static const StatusMeaning *
lookup_status (guint status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_meanings); i++)
    if (status_meanings[i].status == status)
      return &status_meanings[i];

  return NULL;
}

/**
 * ferry_rendezvous_error_for_status:
 * @status: the HTTP status of an error answer
 *
 * Returns: (transfer full): what @status means to a client; a status the
 *   protocol does not name is %FERRY_RENDEZVOUS_ERROR_PROTOCOL
 */
GError *
ferry_rendezvous_error_for_status (guint status)
{
  const StatusMeaning *meaning = lookup_status (status);

  if (meaning == NULL || meaning->error == NOT_OURS)
    return g_error_new (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL,
                        "The rendezvous server answered with an unexpected status %u", status);

  return g_error_new_literal (FERRY_RENDEZVOUS_ERROR, meaning->error, meaning->message);
}

/**
 * ferry_rendezvous_error_for_close_code:
 * @code: the close code of a mailbox's WebSocket, 0 when there was none
 *
 * Returns: (transfer full): why the mailbox ended, as a client tells it
 */
GError *
ferry_rendezvous_error_for_close_code (gushort code)
{
  switch (code)
    {
    case SOUP_WEBSOCKET_CLOSE_NORMAL:
    case SOUP_WEBSOCKET_CLOSE_GOING_AWAY:
      return g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                                  "The other side closed the mailbox");
    case 0:
    case SOUP_WEBSOCKET_CLOSE_NO_STATUS:
    case SOUP_WEBSOCKET_CLOSE_ABNORMAL:
      return g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_CLOSED,
                                  "The connection to the rendezvous server was lost");
    case SOUP_WEBSOCKET_CLOSE_TOO_BIG:
      return ferry_rendezvous_error_for_status (SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE);
    case FERRY_RENDEZVOUS_CLOSE_BAD_CODE:
      return g_error_new_literal (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_BAD_CODE,
                                  "A wrong code was used; the code cannot be used again");
    default:
      if (code > FERRY_RENDEZVOUS_CLOSE_BASE + 100 && code < FERRY_RENDEZVOUS_CLOSE_BASE + 600)
        return ferry_rendezvous_error_for_status (code - FERRY_RENDEZVOUS_CLOSE_BASE);
      return g_error_new (FERRY_RENDEZVOUS_ERROR, FERRY_RENDEZVOUS_ERROR_PROTOCOL,
                          "The rendezvous server closed the mailbox with code %u", code);
    }
}

/**
 * ferry_rendezvous_error_name_for_status:
 * @status: the HTTP status of an answer libsoup wrote without a body
 *
 * Returns: the FERRY_RENDEZVOUS_ERR_* name the server puts in its body
 */
const char *
ferry_rendezvous_error_name_for_status (guint status)
{
  const StatusMeaning *meaning = lookup_status (status);

  if (meaning != NULL && meaning->name != NULL)
    return meaning->name;

  return status >= 500 ? FERRY_RENDEZVOUS_ERR_INTERNAL : FERRY_RENDEZVOUS_ERR_BAD_REQUEST;
}
