# SPDX-License-Identifier: GPL-3.0-or-later
"""Readers shared by the ship checks: desktop file, metainfo, meson's
introspection files. Standard library only."""

import configparser
import json
import os
import shlex
import xml.etree.ElementTree as ElementTree


def read_desktop_entry(path):
    """The [Desktop Entry] group of a desktop file as a dict."""
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       delimiters=('=',), comment_prefixes=('#',))
    parser.optionxform = str
    with open(path, encoding='utf-8') as f:
        parser.read_file(f)
    return dict(parser['Desktop Entry'])


def desktop_exec_program(entry):
    """The program an Exec= line starts, without field codes or a path."""
    words = shlex.split(entry.get('Exec', ''))
    return os.path.basename(words[0]) if words else ''


def read_metainfo(path):
    root = ElementTree.parse(path).getroot()
    return {
        'id': (root.findtext('id') or '').strip(),
        'launchables': [(e.get('type'), (e.text or '').strip())
                        for e in root.findall('launchable')],
        'binaries': [(e.text or '').strip() for e in root.findall('provides/binary')],
        'screenshots': [(e.text or '').strip()
                        for e in root.findall('screenshots/screenshot/image')],
    }


def _intro(builddir, name):
    with open(os.path.join(builddir, 'meson-info', 'intro-%s.json' % name),
              encoding='utf-8') as f:
        return json.load(f)


def build_executables(builddir):
    """{name: installed?} for every executable target the build defines."""
    return {t['name']: bool(t.get('installed'))
            for t in _intro(builddir, 'targets') if t['type'] == 'executable'}


def build_installed(builddir):
    """{source or build path: install path} as meson will install them."""
    return _intro(builddir, 'installed')


def build_option(builddir, name):
    for option in _intro(builddir, 'buildoptions'):
        if option['name'] == name:
            return option['value']
    raise KeyError(name)


def project_version(builddir):
    return _intro(builddir, 'projectinfo')['version']
