#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the app's GSettings schema as compiled for the tests, as TAP.

Reads it back through gsettings (GSETTINGS_SCHEMA_DIR = the compiled
directory): the schema exists at the app's path, every key is documented,
and the share code can never drop below 32 bits of secret.

Usage: check-gschema.py SCHEMA_XML COMPILED_DIR APP_ID
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402

BITS_PER_WORD = 11  # one word of a 2048-word list
MIN_SECRET_BITS = 32


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    xml_path, compiled_dir, app_id = sys.argv[1:]
    tap = Tap()
    env = dict(os.environ, GSETTINGS_SCHEMA_DIR=compiled_dir, GSETTINGS_BACKEND='memory')

    def gsettings(*args):
        run = subprocess.run(['gsettings'] + list(args), capture_output=True, text=True, env=env)
        return run.returncode, run.stdout.strip(), run.stderr.strip()

    root = ElementTree.parse(xml_path).getroot()
    schema = root.find("schema[@id='%s']" % app_id)
    if not tap.ok(schema is not None, 'the XML defines schema %s' % app_id):
        return tap.finish()
    expected_path = '/' + app_id.replace('.', '/') + '/'
    tap.ok(schema.get('path') == expected_path, 'its path is %s' % expected_path)
    tap.ok(root.get('gettext-domain'), 'the schema list names its gettext domain')
    for key in schema.findall('key'):
        name = key.get('name')
        tap.ok((key.findtext('summary') or '').strip()
               and (key.findtext('description') or '').strip(),
               'key %s has a summary and a description' % name)

    rc, out, err = gsettings('list-keys', app_id)
    tap.ok(rc == 0, 'gsettings finds the compiled schema', err)
    compiled_keys = set(out.split())
    for name in ('rendezvous-url', 'download-folder', 'code-word-count', 'notifications',
                 'window-width', 'window-height', 'window-maximized'):
        tap.ok(name in compiled_keys, 'key %s exists' % name)
    for name in ('rendezvous-url', 'download-folder'):
        rc, out, err = gsettings('get', app_id, name)
        tap.ok(rc == 0 and out == "''", '%s defaults to empty (use the default)' % name,
               out + err)

    rc, out, err = gsettings('range', app_id, 'code-word-count')
    words = out.split()
    if tap.ok(rc == 0 and len(words) == 4 and words[0] == 'range',
              'code-word-count has a range', out + err):
        low, high = int(words[2]), int(words[3])
        tap.ok(low * BITS_PER_WORD >= MIN_SECRET_BITS,
               'the shortest code has %d >= %d bits of secret' % (low * BITS_PER_WORD,
                                                                  MIN_SECRET_BITS))
        rc, out, err = gsettings('get', app_id, 'code-word-count')
        tap.ok(rc == 0 and low <= int(out or -1) <= high, 'the default word count is in range',
               out + err)
        rc, out, err = gsettings('set', app_id, 'code-word-count', str(low - 1))
        tap.ok(rc != 0, 'a word count below the range is refused')

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
