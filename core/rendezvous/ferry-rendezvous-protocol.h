/* ferry-rendezvous-protocol.h
 *
 * The wire contract between ferry-rendezvous and its clients. Both sides
 * include this file, so a change here is a change of protocol.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * HTTP surface (all bodies are JSON, UTF-8):
 *
 *   GET  /healthz                 200 {"status": "ok", "backend": "memory"}
 *                                 or, with Redis, "backend": "redis" and
 *                                 "store": "connected"; 503 with "status":
 *                                 "unavailable", "store": "disconnected"
 *                                 while Redis does not answer
 *   POST /v1/nameplates           201 {"nameplate": "7", "expires_in": 3600}
 *                                 The lowest free number is handed out first.
 *   GET  /v1/nameplates/<n>       WebSocket upgrade (subprotocol
 *                                 FERRY_RENDEZVOUS_WS_PROTOCOL): joins the
 *                                 mailbox of nameplate <n>. At most two sides.
 *                                 The 101 answer carries FERRY_RENDEZVOUS_HEADER_TOKEN:
 *                                 the side's token, good while it is in the mailbox.
 *   GET  /v1/ice                  200 {"stun": ["stun:host:port", ...],
 *                                      "turn": [{"urls": ["turn:host:port?transport=udp", ...],
 *                                                "username": "<expiry>:ferry",
 *                                                "credential": "<base64 HMAC-SHA1>",
 *                                                "ttl": <seconds>}]}
 *                                 "turn" is empty when the server has no TURN secret,
 *                                 and for a request without "Authorization: Bearer
 *                                 <token>": TURN credentials go only to a side inside
 *                                 a live mailbox (403 "forbidden" once it left), and
 *                                 live no longer than that mailbox may; asking again
 *                                 while the side is in renews them. Both kinds of
 *                                 request are throttled (429).
 *
 * Every error answer over HTTP has the status named below and the body
 *   {"error": "<FERRY_RENDEZVOUS_ERR_* string>", "message": "<sentence>"}
 * Besides the ones named there: 400 for a body that is not a JSON object
 * (POST /v1/nameplates takes an optional object, e.g. {}), for a nameplate
 * that is not a number, or for a plain GET on a mailbox; 405 for a wrong
 * method (with an Allow header); 413 for a body over
 * FERRY_RENDEZVOUS_MAX_REQUEST_BODY; 429 for too many allocations per
 * minute or live mailboxes from one address; 503 when the server holds its
 * maximum of mailboxes; 429 also for too many joins per minute from one
 * address. An address is the client's own, or the one a trusted proxy
 * names in Forwarded / X-Forwarded-For; IPv6 addresses count per /64.
 * Requests libsoup cannot parse at all get a bare
 * 400, or a closed connection when the headers exceed 64 KiB.
 *
 * Inside the mailbox every text or binary message one side sends is
 * delivered to the other side, in order; messages sent before the other
 * side joined are queued (bounded). The server never looks inside them.
 * A side that sends a message over the size limit is closed with 4413; one
 * that overflows the queue, or the bytes a mailbox may carry in its life,
 * with 4429 "too-many-messages".
 *
 * After the upgrade, errors and endings are told with the WebSocket close
 * code FERRY_RENDEZVOUS_CLOSE_BASE + HTTP status (e.g. 4413) and a close
 * reason that is the same compact JSON error object as above.
 *
 * A side that finished normally closes with 1000 (SOUP_WEBSOCKET_CLOSE_NORMAL).
 * A side whose PAKE failed (wrong code) closes with FERRY_RENDEZVOUS_CLOSE_BAD_CODE:
 * the server then burns the mailbox (the other side is closed with the same
 * code) and frees the nameplate, so one code allows one guess.
 * The nameplate is freed when both sides have closed, or when the mailbox
 * expires (sides still connected are closed with 4410 "expired").
 *
 * When one side leaves for any other reason (normal close, lost connection,
 * a limit), the server first delivers what that side sent, then closes the
 * other side with 1000 and the reason {"error": "closed", ...}, so nobody
 * waits on a mailbox that can no longer answer. A mailbox takes at most two
 * joins in its life: a side that left cannot come back, and nobody can take
 * its place.
 *
 * A side that sends no message within the first-message timeout of its
 * join is closed with 4408: nobody can sit in a mailbox it has no code for.
 * When the other side burns the mailbox, the side that joined first (the
 * sender, whose code was right) is told "Someone else tried this code".
 *
 * The server pings every side; a side that answers nothing (no message, no
 * pong) for the idle timeout is closed with 4408. Ordinary WebSocket
 * libraries answer pings by themselves.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_RENDEZVOUS_WS_PROTOCOL      "ferry-mailbox-v1"

#define FERRY_RENDEZVOUS_PATH_HEALTH      "/healthz"
#define FERRY_RENDEZVOUS_PATH_NAMEPLATES  "/v1/nameplates"
#define FERRY_RENDEZVOUS_PATH_ICE         "/v1/ice"

/* The side's token in the 101 answer of a join (see /v1/ice). */
#define FERRY_RENDEZVOUS_HEADER_TOKEN     "Ferry-Side-Token"
/* Resumption (servers with a shared store): a side whose connection dropped
 * joins again with its token in FERRY_RENDEZVOUS_HEADER_RESUME and the
 * count of mailbox messages it got in FERRY_RENDEZVOUS_HEADER_RECEIVED; the
 * server goes on from there, and its 101 answer's
 * FERRY_RENDEZVOUS_HEADER_RECEIVED counts the messages it holds from that
 * side, so the side sends again only what came after. Nothing is lost or
 * delivered twice. */
#define FERRY_RENDEZVOUS_HEADER_RESUME    "Ferry-Resume"
#define FERRY_RENDEZVOUS_HEADER_RECEIVED  "Ferry-Received"

/* Close codes after the upgrade: base + HTTP status. */
#define FERRY_RENDEZVOUS_CLOSE_BASE       4000
#define FERRY_RENDEZVOUS_CLOSE_BAD_CODE   4001 /* sent by a client whose PAKE failed; relayed by the server */

/* Machine-readable error strings ("error" member). */
#define FERRY_RENDEZVOUS_ERR_BAD_REQUEST       "bad-request"        /* 400 */
#define FERRY_RENDEZVOUS_ERR_NOT_FOUND         "not-found"          /* 404: unknown or expired nameplate */
#define FERRY_RENDEZVOUS_ERR_CROWDED           "crowded"            /* 409: a third side */
#define FERRY_RENDEZVOUS_ERR_IDLE              "idle-timeout"       /* 408: nothing heard for too long */
#define FERRY_RENDEZVOUS_ERR_EXPIRED           "expired"            /* 410: the mailbox lived its TTL */
#define FERRY_RENDEZVOUS_ERR_TOO_LARGE         "message-too-large"  /* 413 */
#define FERRY_RENDEZVOUS_ERR_TOO_MANY_MESSAGES "too-many-messages"  /* 429 */
#define FERRY_RENDEZVOUS_ERR_TOO_MANY_MAILBOXES "too-many-mailboxes" /* 429 */
#define FERRY_RENDEZVOUS_ERR_RATE_LIMITED      "rate-limited"       /* 429 */
#define FERRY_RENDEZVOUS_ERR_BAD_CODE          "bad-code"           /* close 4001: PAKE failed, burned */
#define FERRY_RENDEZVOUS_ERR_INTERNAL          "internal"           /* 500 */
#define FERRY_RENDEZVOUS_ERR_METHOD            "method-not-allowed" /* 405 */
#define FERRY_RENDEZVOUS_ERR_FULL              "server-full"        /* 503: total mailbox cap */
#define FERRY_RENDEZVOUS_ERR_CLOSED            "closed"             /* close 1000: peer left */
#define FERRY_RENDEZVOUS_ERR_FORBIDDEN         "forbidden"          /* 403: token of no live side */

/* libsoup 3.2 has no name for this status. */
#define FERRY_RENDEZVOUS_STATUS_TOO_MANY_REQUESTS 429

/* Limits of the contract itself, independent of a server's configuration. */
#define FERRY_RENDEZVOUS_MAX_NAMEPLATE_DIGITS  9     /* "1" … "999999999" */
#define FERRY_RENDEZVOUS_MAX_REQUEST_BODY      16384 /* bytes of an HTTP request body */
#define FERRY_RENDEZVOUS_MAX_CLOSE_REASON      123   /* bytes: a close frame holds 125 */

/* What a status or close code means ------------------------------------- */

#define FERRY_RENDEZVOUS_ERROR (ferry_rendezvous_error_quark ())

/**
 * FerryRendezvousError:
 * @FERRY_RENDEZVOUS_ERROR_UNREACHABLE: the server could not be reached, or
 *   did not answer within the connect timeout
 * @FERRY_RENDEZVOUS_ERROR_PROTOCOL: the server answered something that is
 *   not the Ferry rendezvous protocol
 * @FERRY_RENDEZVOUS_ERROR_NOT_FOUND: no such code (nameplate)
 * @FERRY_RENDEZVOUS_ERROR_CROWDED: two other sides already use the code
 * @FERRY_RENDEZVOUS_ERROR_EXPIRED: the code lived its time
 * @FERRY_RENDEZVOUS_ERROR_BAD_CODE: a side used a wrong code; the code is burned
 * @FERRY_RENDEZVOUS_ERROR_TOO_LARGE: a message was larger than the server allows
 * @FERRY_RENDEZVOUS_ERROR_RATE_LIMITED: too many requests, or the server is
 *   full; try again later
 * @FERRY_RENDEZVOUS_ERROR_IDLE: the server heard nothing for too long
 * @FERRY_RENDEZVOUS_ERROR_CLOSED: the other side or the server closed the
 *   mailbox, or the connection was lost
 *
 * Cancellation is reported as %G_IO_ERROR_CANCELLED.
 */
typedef enum
{
  FERRY_RENDEZVOUS_ERROR_UNREACHABLE,
  FERRY_RENDEZVOUS_ERROR_PROTOCOL,
  FERRY_RENDEZVOUS_ERROR_NOT_FOUND,
  FERRY_RENDEZVOUS_ERROR_CROWDED,
  FERRY_RENDEZVOUS_ERROR_EXPIRED,
  FERRY_RENDEZVOUS_ERROR_BAD_CODE,
  FERRY_RENDEZVOUS_ERROR_TOO_LARGE,
  FERRY_RENDEZVOUS_ERROR_RATE_LIMITED,
  FERRY_RENDEZVOUS_ERROR_IDLE,
  FERRY_RENDEZVOUS_ERROR_CLOSED,
} FerryRendezvousError;

GQuark ferry_rendezvous_error_quark (void);

/* The client's reading of an HTTP status, or of a close code after the
 * upgrade (FERRY_RENDEZVOUS_CLOSE_BASE + status), as a FerryRendezvousError;
 * and the "error" name the server gives an answer libsoup wrote without a
 * body. One table in ferry-rendezvous-protocol.c serves both sides. */
GError     *ferry_rendezvous_error_for_status      (guint   status);
GError     *ferry_rendezvous_error_for_close_code  (gushort code);
const char *ferry_rendezvous_error_name_for_status (guint   status);

G_END_DECLS
