#!/usr/bin/env python3
# ferry-make-wordlist.py
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Regenerates core/pairing/ferry-wordlist.c, the 2048 share-code words.  It is
# run by hand, never by the build: the generated file is committed and reviewed
# like any other source.  It needs Debian's wamerican-small (candidate words),
# fortunes (a text corpus to rank words by how common they are) and
# espeak-ng (pronunciations, to keep out homophones):
#
#   apt-get install wamerican-small fortunes espeak-ng
#   build-aux/ferry-make-wordlist.py > core/pairing/ferry-wordlist.c
#
# Words are taken most common first and kept only when they are
#   - lowercase ASCII, 3 to 8 letters, not an inflection of another word,
#   - not on the block lists below (offensive, grim, easily misheard, hard
#     to spell, spelled differently in British English, or a word with no
#     picture such as "which"),
#   - the only word with their first 4 letters (a 3-letter word is also the
#     only word starting with those 3 letters), so 4 letters always name one
#     word and completion can finish it,
#   - not one edit away (substitution, insertion, deletion or swap of two
#     neighbouring letters) from a word already kept,
#   - not pronounced like a word already kept (espeak-ng phonemes).

import collections
import glob
import re
import subprocess
import sys

N_WORDS = 2048
DICT = '/usr/share/dict/american-english-small'
FORTUNES = '/usr/share/games/fortunes'

# Words a person should not have to read out to a stranger, words that are
# grim or charged, and words that are easily confused with others when
# spoken.  Judgement, not completeness: the list only needs to cover words
# common enough to be picked.
BLOCKED = set('''
abort abuse addict adult anal anus arse arson ass assault bastard beer bitch
blood bloody bomb booze boob bosom bottom bowel breast bullet bum butt cancer
chink christ church coke condom coon corpse crap crime cripple crotch cult
cunt curse damn damned dead deadly death devil dick dildo drug drunk dumb dyke
enema erect erotic evil execute fag faggot fart fat fatal feces fetish fuck
fucking gay genital god gonad gook gore grave gun guns hell heroin homo horny
hooker idiot incest jerk jesus jew kill killer kinky knife lesbian lewd liquor
lust maim molest moron murder naked nazi negro nigger nipple nude nudity opium
orgasm orgy panties penis piss poison poop porn porno pimp prick prison prude
pubic pussy queer racism racist rape rapist rectum retard riot satan scrotum
semen sex sexual sexy shit slave slut smut sodomy sperm stab stupid suicide
teat testes tit tits toilet torture turd ugly urine vagina vomit weapon whore
wine witch womb wound virgin bible pope allah islam muslim jewish hindu
catholic satanic demon bleed bruise crud diarrhea gonorrhea herpes syphilis
leper lynch noose sniper terror terrorist thug junkie booty cocaine meth
hemp pot weed pistol rifle pervert creep dope dork nerd loser freak fool crazy
insane lunatic psycho sick sicko hate hatred racial ghetto hussy harlot tramp
wench mistress sissy spank bondage brothel pimple zit snot puke barf gay
homely obese chubby fatso midget dwarf lame spastic mongol gypsy savage
kike spic wetback honky cracker redneck hick hillbilly eunuch hermaphrodite
scum slime sleaze douche enemas laxative diaper bedpan tumor leukemia
coffin casket funeral widow orphan hearse morgue autopsy cadaver
war wars warfare massacre genocide bomber bombing missile grenade ammo
'''.split())

# Words whose spelling is unclear from their sound, or that sound like a
# letter or a number, which would make a spoken code ambiguous.
MISHEARD = set('''
ate eight one won two too four for fore six ten nine three five seven zero
aye eye bee sea see tea pea queue why you ewe owe are our hour knew new gnu
knight night knot not know no write right rite wright colonel kernel
their there they're whose who's
'''.split())

# Words that carry no picture (pronouns, auxiliaries, conjunctions), slang
# and contractions, and words that are hard to spell or are spelled
# differently in British English.  A code word should be a thing or a
# quality a person can see and write down without asking.
PLAIN = set('''
about above after again all also although always among and another any
anybody anyhow anyone anything anyway are been before behind below beneath
beside between both but can could did does done each either else even ever
every everyone from had has have hence her hers him his how however into its
just may might more most much must myself neither never nobody none nor not
nothing now nowhere off often once oneself only other ought our over own
perhaps quite rather said same shall she should since some soon such than
that the their them then there these they this those though through thus
till toward towards under unless until upon very was were what whatever when
whenever where wherever whether which while who whom whose why will with
within without would yes yet you your yours
gimme gonna wanna lemme dunno gotta kinda huh ugh gosh hooray alas iii cox
saki maria martin matt don china french august okay bye ergo via etc
oriental cretin homicide assassin carcass dung crud pregnant puberty nitwit
lobotomy idiocy insanity vulgar sinful filthy hideous perverse alimony
divorce chastity armpit screw gangster robbery perjury slain kosher deity
goddess biblical priest bishop agnostic religion voodoo saint sacred amorous
intimate female feminine gender whiskey vodka alcohol tobacco cocktail casino
hoodlum grievous odious disease illness plague misery agony anguish despair
calamity disaster tragedy violence vicious cruel ruthless revenge torment
punish guilty criminal illegal abusive abnormal inferior ugliness unworthy
brute savage homely bodily belly saliva serum enemy lousy dismal nasty
mnemonic rhythm rhyme bureau bouquet gauge cuisine laureate maneuver plethora
rhetoric pajamas amoeba licorice caffeine leisure receive ceiling foreign
weird seize height heifer mischief ketchup yogurt jewelry aluminum catalog
color behavior harbor honor humor labor neighbor endeavor favorite flavor
valor vigor gray defense license fulfill theater center meter liter fiber
mold plow program prolog analog dialog skeptic savior rumor tumor odor
vapor armor ardor clamor glamor splendor parlor rancor candor fervor
jewelry pretense offense traveler canceled counsel jail tire curb check
gazelle giraffe guinea guru khaki pharaoh psychic psalm pneumonia schedule
seafood sphere symptom syntax onward toward
amen butcher brutal cruelty die felony lethal violent gospel pagan deacon
chapel daemon shotgun theft unlawful malice menace mayhem crypt syndrome
mumps hah hey whoa ken non thee whilst whereas thereby moreover herself
himself itself yourself someone grey theatre catsup favor colorful humorous
fatty feminist bikini garter shoot choke sergeant fleshy ethnic beggar grime
cannot albeit despite amongst awhile anywhere whoever anew offend poison
atheist feminism sexism belabor thereof whence whereby rabies sewage vermin
sultry skimpy despise spinal spleen cyanide wherein trump ascetic
liar slob egotist fraud tyrant sordid slimy stolen steal
'''.split())


def is_inflection(word, words):
  '''True when word looks like an inflection of another candidate word.'''
  for suffix, stems in (('s', ['']), ('es', ['']), ('ies', ['y']),
                        ('ed', ['', 'e']), ('ied', ['y']),
                        ('ing', ['', 'e']), ('er', ['', 'e']),
                        ('est', ['', 'e']), ('ly', ['', 'le'])):
    if word.endswith(suffix):
      base = word[:-len(suffix)]
      for stem in stems:
        if len(base + stem) >= 3 and base + stem in words:
          return True
      # Doubled final consonants: "stopped", "running", "bigger".
      if len(base) >= 4 and base[-1] == base[-2] and base[:-1] in words:
        return True
  return False


def is_roman_numeral(word):
  '''The dictionary lists "viii" and "xii"; "mix" and "civic" are words.'''
  roman = r'm{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})'
  return word not in ('mix', 'mid', 'dim') and re.fullmatch(roman, word) is not None


def one_edit_neighbours(word):
  letters = 'abcdefghijklmnopqrstuvwxyz'
  out = set()
  for i in range(len(word) + 1):
    for c in letters:
      out.add(word[:i] + c + word[i:])
  for i in range(len(word)):
    out.add(word[:i] + word[i + 1:])
    for c in letters:
      out.add(word[:i] + c + word[i + 1:])
  for i in range(len(word) - 1):
    out.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
  out.discard(word)
  return out


def pronunciations(words):
  text = '\n'.join(words) + '\n'
  res = subprocess.run(['espeak-ng', '-q', '-x', '-v', 'en-us'],
                       input=text, capture_output=True, text=True, check=True)
  lines = [l.strip() for l in res.stdout.splitlines() if l.strip()]
  if len(lines) != len(words):
    sys.exit('espeak-ng returned %d lines for %d words' % (len(lines), len(words)))
  # Stress marks do not tell words apart when a person reads a code aloud.
  return {w: re.sub(r"[',%=_:]", '', p) for w, p in zip(words, lines)}


def main():
  with open(DICT, encoding='utf-8') as f:
    words = {w.strip() for w in f if re.fullmatch(r'[a-z]{3,8}', w.strip())}

  counts = collections.Counter()
  for path in glob.glob(FORTUNES + '/*'):
    if path.endswith('.dat') or path.endswith('.u8'):
      continue
    with open(path, encoding='utf-8', errors='replace') as f:
      counts.update(w.lower() for w in re.findall(r'[A-Za-z]+', f.read()))

  candidates = [w for w in words
                if w not in BLOCKED and w not in MISHEARD and w not in PLAIN
                and not any(w.startswith(b) for b in BLOCKED if len(b) >= 4)
                and not is_roman_numeral(w)
                and not is_inflection(w, words)
                and counts[w] >= 2]
  # Most common first; among equally common words, the shorter one.
  candidates.sort(key=lambda w: (-counts[w], len(w), w))
  sounds = pronunciations(candidates)

  chosen = []
  chosen_set = set()
  prefixes = set()
  sounds_used = set()
  for w in candidates:
    prefix = w[:4]
    if prefix in prefixes:
      continue
    # A 3-letter word must not be the start of a longer word's prefix, and
    # a longer word must not start with a chosen 3-letter word.
    if len(w) == 3 and any(p.startswith(w) for p in prefixes):
      continue
    if w[:3] in chosen_set:
      continue
    if any(n in chosen_set for n in one_edit_neighbours(w)):
      continue
    if sounds[w] in sounds_used:
      continue
    chosen.append(w)
    chosen_set.add(w)
    prefixes.add(prefix)
    sounds_used.add(sounds[w])
    if len(chosen) == N_WORDS:
      break

  if len(chosen) != N_WORDS:
    sys.exit('only %d words qualify' % len(chosen))

  chosen.sort()
  out = sys.stdout
  out.write('/* ferry-wordlist.c\n'
            ' *\n'
            ' * Generated by build-aux/ferry-make-wordlist.py, then reviewed;\n'
            ' * see that script for how the words were chosen.  Our own data.\n'
            ' *\n'
            ' * SPDX-License-Identifier: GPL-3.0-or-later\n'
            ' */\n\n'
            '#include "config.h"\n\n'
            '#include "ferry-wordlist.h"\n\n'
            '/* Sorted, so lookups and completion can bisect. */\n'
            'const char * const ferry_wordlist[FERRY_WORDLIST_SIZE] = {\n')
  line = ' '
  for w in chosen:
    item = ' "%s",' % w
    if len(line) + len(item) > 78:
      out.write(line + '\n')
      line = ' '
    line += item
  out.write(line + '\n};\n')


if __name__ == '__main__':
  main()
