#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks po/POTFILES.in against the source tree, as TAP.

Fails for every tracked file with translatable strings that POTFILES.in does
not list, and for every listed file that does not exist. Files named in
po/POTFILES.skip are not required.

Usage: check-potfiles.py SOURCE_ROOT
"""

import os
import re
import subprocess
import sys

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402

# Marked strings in code: _("…"), N_("…"), C_("ctx", "…"), NC_(…), with or
# without the GNU space before the parenthesis, plus the gettext calls.
CODE_MARK = re.compile(r'(?<![\w])(?:NC_|[NCQ]?_)\s*\(\s*"'
                       r'|(?<![\w])(?:g_d?c?n?p?gettext2?|d?n?gettext)\s*\(')
# GtkBuilder and other XML: translatable="yes".
XML_MARK = re.compile(r'translatable\s*=\s*"(?:yes|true|1)"')
# Formats whose every visible string is translatable through an ITS rule or
# xgettext's own parser, whether or not they carry a mark.
TRANSLATABLE_NAMES = re.compile(r'\.(?:desktop\.in|metainfo\.xml\.in|appdata\.xml\.in'
                                r'|policy\.in)$')
GSCHEMA = re.compile(r'\.gschema\.xml$')
SKIPPED_DIRS = {'.git', 'po', 'subprojects', '.flatpak-builder'}


def read_list(path):
    """Entries of a POTFILES-style list: one path a line, # comments."""
    entries = []
    try:
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    entries.append(line)
    except FileNotFoundError:
        pass
    return entries


def source_files(root):
    """Files git knows or would add (tracked and new, not ignored) in a git
    checkout, else every file but build directories."""
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z', '--cached', '--others',
                              '--exclude-standard'], check=True,
                             capture_output=True).stdout
        files = [f for f in out.decode('utf-8').split('\0') if f]
        if files:
            return sorted(f for f in files if os.path.isfile(os.path.join(root, f)))
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for top, dirs, names in os.walk(root):
        rel_top = os.path.relpath(top, root)
        dirs[:] = [d for d in dirs
                   if d not in SKIPPED_DIRS and not (rel_top == '.' and
                                                     (d.startswith('build') and d != 'build-aux'
                                                      or d.startswith('_build')))]
        for name in names:
            files.append(os.path.normpath(os.path.join(rel_top, name)))
    return sorted(files)


def has_translatable_strings(root, rel):
    if rel.startswith('po/'):
        return False
    if TRANSLATABLE_NAMES.search(rel):
        return True
    try:
        with open(os.path.join(root, rel), 'rb') as f:
            data = f.read()
    except OSError:
        return False
    if b'\0' in data:
        return False
    text = data.decode('utf-8', errors='replace')
    if GSCHEMA.search(rel):
        return '<summary' in text or '<description' in text
    return bool(CODE_MARK.search(text) or XML_MARK.search(text))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    tap = Tap()

    potfiles_path = os.path.join(root, 'po', 'POTFILES.in')
    if not os.path.isfile(potfiles_path):
        tap.bail_out('po/POTFILES.in is missing')
    listed = read_list(potfiles_path)
    skipped = set(read_list(os.path.join(root, 'po', 'POTFILES.skip')))

    seen = set()
    for entry in listed:
        tap.ok(entry not in seen, 'POTFILES.in names %s once' % entry)
        seen.add(entry)
        tap.ok(os.path.isfile(os.path.join(root, entry)),
               'POTFILES.in entry %s exists' % entry,
               None if os.path.isfile(os.path.join(root, entry)) else
               'remove it from po/POTFILES.in or restore the file')
    for entry in sorted(skipped):
        tap.ok(os.path.isfile(os.path.join(root, entry)),
               'POTFILES.skip entry %s exists' % entry)

    for rel in source_files(root):
        if rel in skipped or not has_translatable_strings(root, rel):
            continue
        tap.ok(rel in seen, '%s has translatable strings and is in POTFILES.in' % rel,
               None if rel in seen else 'add "%s" to po/POTFILES.in' % rel)

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
