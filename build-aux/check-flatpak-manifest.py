#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the Flatpak manifest, as TAP, without building it.

It must parse, name the app ID, runtime and command the rest of the tree
uses, ask only for the permissions Ferry needs, and pin every source: an
archive by https URL and sha256, a git source by commit, a dir or patch by a
path that exists (shell sources are written out in the manifest). The metainfo's screenshots must be files in the tree once any
screenshot exists.

Usage: check-flatpak-manifest.py --manifest M --source-root DIR --builddir DIR
         --app-id ID --desktop FILE --metainfo FILE
"""

import argparse
import json
import os
import re
import sys

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402
import ferry_ship  # noqa: E402

ALLOWED_FINISH_ARGS = {
    '--share=network', '--share=ipc', '--socket=wayland', '--socket=fallback-x11',
    '--device=dri', '--filesystem=xdg-download',
}
REQUIRED_FINISH_ARGS = {'--share=network', '--socket=wayland', '--socket=fallback-x11'}
BUILDSYSTEMS = {'autotools', 'cmake', 'cmake-ninja', 'meson', 'simple', 'qmake'}
SHA256 = re.compile(r'^[0-9a-f]{64}$')
COMMIT = re.compile(r'^[0-9a-f]{40}$')
SCREENSHOT_BASE = 'https://raw.githubusercontent.com/ferryapp/ferry/main/'


def check_source(tap, module, index, source, manifest_dir):
    label = '%s source %d' % (module, index)
    kind = source.get('type')
    if kind in ('archive', 'file'):
        url = source.get('url', '')
        if url or 'path' not in source:
            tap.ok(url.startswith('https://'), '%s (%s) is fetched over https' % (label, url))
            tap.ok(SHA256.match(source.get('sha256', '')),
                   '%s (%s) is pinned by sha256' % (label, url))
        else:
            tap.ok(os.path.isfile(os.path.join(manifest_dir, source['path'])),
                   '%s: %s exists' % (label, source['path']))
    elif kind == 'git':
        tap.ok(source.get('url', '').startswith('https://'), '%s is fetched over https' % label)
        tap.ok(COMMIT.match(source.get('commit', '')), '%s is pinned by commit' % label)
    elif kind == 'shell':
        # Commands written in the manifest itself need no pinning.
        tap.ok(source.get('commands'), '%s has commands' % label)
    elif kind in ('dir', 'patch'):
        path = os.path.normpath(os.path.join(manifest_dir, source.get('path', '')))
        exists = os.path.isdir(path) if kind == 'dir' else os.path.isfile(path)
        tap.ok(source.get('path') and exists, '%s: %s exists' % (label, source.get('path')))
    else:
        tap.ok(False, '%s has a known, pinned type' % label, 'type is %r' % kind)


def main():
    parser = argparse.ArgumentParser()
    for name in ('manifest', 'source-root', 'builddir', 'app-id', 'desktop', 'metainfo'):
        parser.add_argument('--' + name, required=True)
    args = parser.parse_args()
    tap = Tap()

    try:
        with open(args.manifest, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        tap.ok(False, 'the manifest parses as JSON', str(error))
        return tap.finish()
    tap.ok(isinstance(manifest, dict), 'the manifest parses as a JSON object')
    if not isinstance(manifest, dict):
        return tap.finish()
    manifest_dir = os.path.dirname(os.path.abspath(args.manifest))
    source_root = os.path.abspath(args.source_root)

    app_id = manifest.get('app-id', manifest.get('id'))
    tap.ok(app_id == args.app_id, 'app-id is %s' % args.app_id, 'found %r' % app_id)
    tap.ok(os.path.basename(args.manifest).startswith(args.app_id + '.'),
           'the manifest file is named after the app ID')
    tap.ok(manifest.get('runtime') == 'org.gnome.Platform', 'runtime is org.gnome.Platform')
    tap.ok(manifest.get('sdk') == 'org.gnome.Sdk', 'sdk is org.gnome.Sdk')
    version = str(manifest.get('runtime-version', ''))
    tap.ok(version.isdigit() and int(version) >= 47, 'runtime-version is 47 or newer',
           'found %r' % version)

    desktop = ferry_ship.read_desktop_entry(args.desktop)
    metainfo = ferry_ship.read_metainfo(args.metainfo)
    command = manifest.get('command', '')
    tap.ok(command and command == ferry_ship.desktop_exec_program(desktop),
           'command "%s" is what the desktop file runs' % command,
           'Exec=%s' % desktop.get('Exec'))
    # ferry:CODE links open the app with the code.
    tap.ok('x-scheme-handler/ferry' in desktop.get('MimeType', '').split(';'),
           'the desktop file handles the ferry: URI scheme')
    tap.ok(any(code in desktop.get('Exec', '').split() for code in ('%u', '%U')),
           'the desktop file passes the URI to the program', 'Exec=%s' % desktop.get('Exec'))
    tap.ok(command in metainfo['binaries'], 'command "%s" is a binary the metainfo provides'
           % command)
    executables = ferry_ship.build_executables(args.builddir)
    if command in executables:
        tap.ok(executables[command], 'command "%s" is installed by the build' % command)
    else:
        tap.skip('command "%s" is installed by the build' % command,
                 'the build does not define %s yet' % command)

    finish_args = manifest.get('finish-args', [])
    for arg in finish_args:
        tap.ok(arg in ALLOWED_FINISH_ARGS, 'finish-arg %s is one Ferry needs' % arg,
               'see flatpak/README.md for the permissions and why')
    for arg in sorted(REQUIRED_FINISH_ARGS):
        tap.ok(arg in finish_args, 'finish-args include %s' % arg)

    modules = manifest.get('modules', [])
    tap.ok(isinstance(modules, list) and modules, 'the manifest has modules')
    names = set()
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, str):
            tap.ok(os.path.isfile(os.path.join(manifest_dir, module)),
                   'module file %s exists' % module)
            continue
        name = module.get('name', '')
        tap.ok(name and name not in names, 'module "%s" has a unique name' % name)
        names.add(name)
        tap.ok(module.get('buildsystem', 'autotools') in BUILDSYSTEMS,
               'module "%s" has a known buildsystem' % name)
        sources = module.get('sources', [])
        tap.ok(sources, 'module "%s" has sources' % name)
        for index, source in enumerate(sources, 1):
            if isinstance(source, str):
                tap.ok(os.path.isfile(os.path.join(manifest_dir, source)),
                       'module "%s" source file %s exists' % (name, source))
            else:
                check_source(tap, name, index, source, manifest_dir)

    app = modules[-1] if isinstance(modules, list) and modules else {}
    app_dirs = [os.path.normpath(os.path.join(manifest_dir, s.get('path', '')))
                for s in app.get('sources', []) if isinstance(s, dict) and s.get('type') == 'dir']
    tap.ok(isinstance(app, dict) and app.get('buildsystem') == 'meson'
           and source_root in app_dirs,
           'the last module builds this source tree with meson',
           'dir sources: %s' % ', '.join(app_dirs))

    # The metainfo's screenshots are files the GUI's screenshot test writes
    # into data/screenshots/; until the first exists they are not checked.
    shots_dir = os.path.join(source_root, 'data', 'screenshots')
    have_shots = os.path.isdir(shots_dir) and any(
        n.endswith('.png') for n in os.listdir(shots_dir))
    tap.ok(metainfo['screenshots'], 'the metainfo has screenshots')
    for url in metainfo['screenshots']:
        if not url.startswith(SCREENSHOT_BASE):
            tap.ok(False, 'screenshot %s lives in this repository' % url)
            continue
        path = url[len(SCREENSHOT_BASE):]
        if have_shots:
            tap.ok(os.path.isfile(os.path.join(source_root, path)),
                   'screenshot %s exists' % path)
        else:
            tap.skip('screenshot %s exists' % path, 'no screenshot has been made yet')

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
