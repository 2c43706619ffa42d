/* ferry-resume-proof.c
 *
 * What ties a resume to the peer that started the transfer. A name match
 * is not enough: anyone can offer "Photos" again. So the receiver issues a
 * random resume secret for each transfer it receives, sends it inside the
 * accept (on the QUIC connection whose certificates were exchanged under
 * the PAKE key, so only that sender learns it) and keeps it in its store;
 * the sender keeps it too, with its record of what it sent.
 *
 * To resume, the sender does not show the secret: it sends a proof, the
 * secret's keyed BLAKE2b of a binding to this session, the fingerprints of
 * both sides' ephemeral certificates. The certificates are new for every
 * connection, so a proof seen (or made up) for one session is worth nothing
 * in another, and the receiver, which knows the secrets of its earlier
 * transfers, checks a proof against each in constant time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "ferry-transfer"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "ferry-resume-proof.h"

#define BINDING_LABEL "ferry resume proof v1"

G_STATIC_ASSERT (FERRY_RESUME_SECRET_SIZE >= crypto_generichash_KEYBYTES_MIN);
G_STATIC_ASSERT (FERRY_RESUME_PROOF_SIZE >= crypto_generichash_BYTES_MIN);

/**
 * ferry_resume_binding_new:
 * @sender_fingerprint: the sending side's certificate fingerprint
 * @receiver_fingerprint: the receiving side's
 *
 * Returns: (transfer full): what a resume proof is bound to in this session
 */
char *
ferry_resume_binding_new (const char *sender_fingerprint,
                          const char *receiver_fingerprint)
{
  g_return_val_if_fail (sender_fingerprint != NULL, NULL);
  g_return_val_if_fail (receiver_fingerprint != NULL, NULL);

  return g_strconcat (BINDING_LABEL "\n", sender_fingerprint, "\n", receiver_fingerprint, NULL);
}

/**
 * ferry_resume_proof_compute:
 * @secret: FERRY_RESUME_SECRET_SIZE bytes
 * @binding: from ferry_resume_binding_new()
 * @proof: (out caller-allocates): FERRY_RESUME_PROOF_SIZE bytes
 */
void
ferry_resume_proof_compute (const guint8 *secret,
                            const char   *binding,
                            guint8       *proof)
{
  g_return_if_fail (secret != NULL);
  g_return_if_fail (binding != NULL);
  g_return_if_fail (proof != NULL);

  crypto_generichash (proof, FERRY_RESUME_PROOF_SIZE, (const guint8 *) binding,
                      strlen (binding), secret, FERRY_RESUME_SECRET_SIZE);
}

/**
 * ferry_resume_proof_verify:
 *
 * Returns: whether @proof is @secret's proof for @binding; compared in
 *   constant time
 */
gboolean
ferry_resume_proof_verify (const guint8 *secret,
                           const char   *binding,
                           const guint8 *proof)
{
  guint8 expected[FERRY_RESUME_PROOF_SIZE];
  gboolean same;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (binding != NULL, FALSE);
  g_return_val_if_fail (proof != NULL, FALSE);

  ferry_resume_proof_compute (secret, binding, expected);
  same = sodium_memcmp (expected, proof, FERRY_RESUME_PROOF_SIZE) == 0;
  sodium_memzero (expected, sizeof expected);
  return same;
}
