#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks what Flathub asks of the metainfo beyond `appstreamcli validate`, as TAP.

Debian 12's appstreamcli (0.16) predates some of it: a <developer id=…> with
a <name> instead of <developer_name>, <branding> colours for light and dark,
a <release> for every version up to the one being built (newest first, each
dated), and screenshot URLs at the release's tag, never at a branch.

Usage: check-metainfo.py --metainfo FILE --builddir DIR
"""

import argparse
import datetime
import os
import re
import sys
from xml.etree import ElementTree

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402
import ferry_ship  # noqa: E402

COLOUR = re.compile(r'^#[0-9a-fA-F]{6}$')
REVERSE_DNS = re.compile(r'^[a-z][a-z0-9-]*(\.[a-zA-Z0-9_-]+)+$')
SCREENSHOT_AT = re.compile(r'^https://raw\.githubusercontent\.com/ferryapp/ferry/([^/]+)/')


def version_key(version):
    return tuple(int(part) for part in version.split('.'))


def check_developer(tap, root):
    tap.ok(root.find('developer_name') is None, 'no deprecated <developer_name>')
    developer = root.find('developer')
    tap.ok(developer is not None and REVERSE_DNS.match(developer.get('id', '')),
           '<developer> has a reverse-DNS id',
           None if developer is None else 'id=%r' % developer.get('id'))
    tap.ok(developer is not None and (developer.findtext('name') or '').strip(),
           '<developer> has a <name>')


def check_branding(tap, root):
    colours = {c.get('scheme_preference'): (c.text or '').strip()
               for c in root.findall('branding/color') if c.get('type') == 'primary'}
    for scheme in ('light', 'dark'):
        tap.ok(COLOUR.match(colours.get(scheme, '')),
               '<branding> has a primary colour for the %s scheme' % scheme,
               repr(colours.get(scheme)))


def check_releases(tap, root, project_version):
    releases = root.findall('releases/release')
    versions = [r.get('version', '') for r in releases]
    if not tap.ok(versions and all(re.match(r'^\d+(\.\d+)*$', v) for v in versions),
                  'every <release> names a version', repr(versions)):
        return
    tap.ok(versions[0] == project_version,
           'the newest release is the version being built (%s)' % project_version,
           'found %s' % versions[0])
    tap.ok(versions == sorted(set(versions), key=version_key, reverse=True),
           'releases are newest first, each version once', repr(versions))
    for release in releases:
        date = release.get('date', '')
        try:
            datetime.date.fromisoformat(date)
            dated = True
        except ValueError:
            dated = False
        tap.ok(dated, 'release %s has a date' % release.get('version'), repr(date))
        tap.ok((release.findtext('description/p') or '').strip(),
               'release %s says what changed' % release.get('version'))


def check_screenshots(tap, root, tag):
    images = [(i.text or '').strip() for i in root.findall('screenshots/screenshot/image')]
    tap.ok(images, 'the metainfo has screenshots')
    for url in images:
        match = SCREENSHOT_AT.match(url)
        tap.ok(match and match.group(1) == tag,
               'screenshot %s is linked at the tag %s' % (os.path.basename(url), tag), url)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--metainfo', required=True)
    parser.add_argument('--builddir', required=True)
    args = parser.parse_args()
    tap = Tap()

    root = ElementTree.parse(args.metainfo).getroot()
    version = ferry_ship.project_version(args.builddir)
    check_developer(tap, root)
    check_branding(tap, root)
    check_releases(tap, root, version)
    check_screenshots(tap, root, 'v' + version)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
