#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installs the build into a temporary DESTDIR and checks it, as TAP.

What must be there is read from the files that refer to it, not from a list
kept here: the Flatpak manifest (app ID, command), the installed desktop file
(Icon, Exec), the metainfo (launchable, provided binaries), LINGUAS (.mo
files), the systemd units (ExecStart) and meson's own install plan. A binary
that something refers to but the build does not define yet is reported as
SKIP; once a meson.build defines it, it must be installed.

Usage: check-install.py --meson MESON --builddir DIR --source-root DIR
         --manifest M --gettext-package NAME
"""

import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402
import ferry_ship  # noqa: E402


def rooted(destdir, path):
    return os.path.join(destdir, path.lstrip('/'))


class Checker:
    def __init__(self, tap, destdir, builddir):
        self.tap = tap
        self.destdir = destdir
        self.prefix = ferry_ship.build_option(builddir, 'prefix')
        self.bindir = os.path.join(self.prefix, ferry_ship.build_option(builddir, 'bindir'))
        self.datadir = os.path.join(self.prefix, ferry_ship.build_option(builddir, 'datadir'))
        self.executables = ferry_ship.build_executables(builddir)
        self.binaries = {}

    def path(self, *parts):
        return rooted(self.destdir, os.path.join(*parts))

    def file(self, path, why):
        exists = os.path.isfile(rooted(self.destdir, path))
        self.tap.ok(exists, '%s is installed (%s)' % (path, why))
        return exists

    def want_binary(self, name, why):
        self.binaries.setdefault(name, []).append(why)

    def check_binaries(self):
        for name, whys in sorted(self.binaries.items()):
            path = os.path.join(self.bindir, name)
            why = ', '.join(sorted(set(whys)))
            if name not in self.executables:
                self.tap.skip('%s is installed (%s)' % (path, why),
                              'expected but not yet built: no meson.build defines %s' % name)
                continue
            full = rooted(self.destdir, path)
            self.tap.ok(self.executables[name] and os.path.isfile(full)
                        and os.access(full, os.X_OK),
                        '%s is installed and executable (%s)' % (path, why),
                        None if self.executables[name] else
                        'the build defines %s without install: true' % name)


def verify_unit(tap, unit, destdir, bindir):
    """systemd-analyze verify on a copy whose programs point into DESTDIR: it
    checks that they exist and warns about every unknown or misspelt key."""
    name = os.path.basename(unit)
    analyze = shutil.which('systemd-analyze')
    if not analyze:
        tap.skip('%s passes systemd-analyze verify' % name, 'systemd-analyze is not installed')
        return
    with open(unit, encoding='utf-8') as f:
        text = f.read().replace('=' + bindir + '/', '=' + rooted(destdir, bindir) + '/')
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, name)
        with open(copy, 'w', encoding='utf-8') as f:
            f.write(text)
        run = subprocess.run([analyze, 'verify', '--man=no', copy],
                             capture_output=True, text=True)
    tap.ok(run.returncode == 0 and not run.stderr.strip() and not run.stdout.strip(),
           '%s passes systemd-analyze verify without warnings' % name,
           run.stderr + run.stdout)


def main():
    parser = argparse.ArgumentParser()
    for name in ('meson', 'builddir', 'source-root', 'manifest', 'gettext-package'):
        parser.add_argument('--' + name, required=True)
    args = parser.parse_args()
    tap = Tap()

    with open(args.manifest, encoding='utf-8') as f:
        manifest = json.load(f)
    app_id = manifest['app-id']

    with tempfile.TemporaryDirectory(prefix='ferry-install-') as destdir:
        install = subprocess.run([args.meson, 'install', '-C', args.builddir, '--no-rebuild',
                                  '--destdir', destdir],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not tap.ok(install.returncode == 0, 'meson install --destdir succeeds',
                      install.stdout[-3000:]):
            return tap.finish()
        check = Checker(tap, destdir, args.builddir)

        # Everything meson planned to install arrived.
        for source, target in sorted(ferry_ship.build_installed(args.builddir).items()):
            tap.ok(os.path.exists(rooted(destdir, target)), '%s is installed (meson)' % target)

        # The desktop file and what it points to.
        desktop_path = os.path.join(check.datadir, 'applications', app_id + '.desktop')
        if check.file(desktop_path, 'app ID in the manifest'):
            entry = ferry_ship.read_desktop_entry(rooted(destdir, desktop_path))
            icon = entry.get('Icon', '')
            icons = glob.glob(check.path(check.datadir, 'icons', 'hicolor', '*', 'apps',
                                         glob.escape(icon) + '.*'))
            tap.ok(icon and icons, 'icon "%s" is installed (desktop file Icon=)' % icon)
            symbolic = glob.glob(check.path(check.datadir, 'icons', 'hicolor', 'symbolic', 'apps',
                                            glob.escape(icon) + '-symbolic.svg'))
            tap.ok(icon and symbolic, 'icon "%s-symbolic" is installed (desktop file Icon=)'
                   % icon)
            program = ferry_ship.desktop_exec_program(entry)
            tap.ok(program, 'the desktop file has an Exec= program')
            check.want_binary(program, 'desktop file Exec=')
            if entry.get('TryExec'):
                check.want_binary(os.path.basename(entry['TryExec']), 'desktop file TryExec=')

        # The metainfo and what it points to.
        metainfo_path = os.path.join(check.datadir, 'metainfo', app_id + '.metainfo.xml')
        if check.file(metainfo_path, 'app ID in the manifest'):
            metainfo = ferry_ship.read_metainfo(rooted(destdir, metainfo_path))
            tap.ok(metainfo['id'] == app_id, 'the metainfo ID is the app ID')
            for kind, value in metainfo['launchables']:
                if kind == 'desktop-id':
                    check.file(os.path.join(check.datadir, 'applications', value),
                               'metainfo launchable')
            for binary in metainfo['binaries']:
                check.want_binary(binary, 'metainfo provides')

        check.want_binary(manifest.get('command', ''), 'Flatpak command')

        # Flathub wants the licence where software centres look for it.
        licence = os.path.join(check.datadir, 'licenses', app_id, 'COPYING')
        if check.file(licence, 'Flathub: share/licenses/<app-id>/'):
            with open(rooted(destdir, licence), encoding='utf-8') as f:
                text = f.read()
            with open(os.path.join(args.source_root, 'COPYING'), encoding='utf-8') as f:
                tap.ok(text == f.read() and 'GNU GENERAL PUBLIC LICENSE' in text
                       and 'Version 3, 29 June 2007' in text,
                       'the installed licence is the GPL version 3 text of COPYING')

        # The app's GSettings schema, named after the app ID.
        schema_dir = os.path.join(check.datadir, 'glib-2.0', 'schemas')
        if check.file(os.path.join(schema_dir, app_id + '.gschema.xml'), 'app ID'):
            compile_run = subprocess.run(['glib-compile-schemas', '--strict', '--dry-run',
                                          rooted(destdir, schema_dir)],
                                         capture_output=True, text=True)
            tap.ok(compile_run.returncode == 0, 'the installed schemas compile',
                   compile_run.stderr)

        # A catalogue for every language in LINGUAS.
        with open(os.path.join(args.source_root, 'po', 'LINGUAS'), encoding='utf-8') as f:
            languages = [word for line in f if not line.lstrip().startswith('#')
                         for word in line.split()]
        for lang in languages:
            check.file(os.path.join(check.datadir, 'locale', lang, 'LC_MESSAGES',
                                    args.gettext_package + '.mo'), 'po/LINGUAS')

        # systemd units start programs that exist.
        for unit in sorted(glob.glob(check.path(check.prefix, 'lib', 'systemd', 'system',
                                                '*.service'))):
            with open(unit, encoding='utf-8') as f:
                starts = [line.split('=', 1)[1].strip() for line in f
                          if line.startswith('ExecStart=')]
            tap.ok(starts, '%s has ExecStart=' % os.path.basename(unit))
            for start in starts:
                program = shlex.split(start.lstrip('-@:+!'))[0]
                tap.ok(program.startswith(check.bindir + '/'),
                       '%s starts a program from %s' % (os.path.basename(unit), check.bindir),
                       'ExecStart=%s' % start)
                check.want_binary(os.path.basename(program), os.path.basename(unit))
            verify_unit(tap, unit, destdir, check.bindir)

        check.check_binaries()

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
