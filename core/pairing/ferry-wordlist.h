/* ferry-wordlist.h
 *
 * The built-in share-code words: 2048 of them, so each carries 11 bits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_WORDLIST_SIZE 2048
#define FERRY_WORDLIST_BITS 11

/* Sorted (strcmp order), lowercase ASCII, 3 to 8 letters; the first four
 * letters of a word name it alone, and no two words are one edit apart.
 * tests/test-code.c checks all of it. */
extern const char * const ferry_wordlist[FERRY_WORDLIST_SIZE];

G_END_DECLS
