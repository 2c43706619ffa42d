#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the Flatpak manifest, as TAP, without building it.

It must parse, name the app ID, a current runtime and the command the rest
of the tree uses, ask only for the permissions Ferry needs, and pin every
source: an archive by https URL and sha256, a git source by commit, a dir or
patch by a path that exists (shell sources are written out in the manifest).

Every dependency() the build asks for (tests/ and bench/ only when the app
module builds tests) must be built by a module or be in the runtime's list
of pkg-config names (flatpak/gnome-VERSION-sdk-pkgconfig.txt), and every
module must provide something the build asks for. CMake modules pass the
policy minimum CMake 4 needs; the app module passes -Dtests=false and
-Ddefault_rendezvous.

--kind release: the app module is this repository's git source at the tag
v<project version> and a commit of its history, and the manifest equals the
devel manifest (<app-id>.Devel.json beside it) but for that source.
--kind devel: the app module builds this checkout (a dir source).
The metainfo's screenshots are files in the tree, linked at the release tag.

Usage: check-flatpak-manifest.py --kind release|devel --manifest M
         --source-root DIR --builddir DIR --app-id ID --desktop FILE --metainfo FILE
"""

import argparse
import json
import os
import re
import subprocess
import sys

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402
import ferry_ship  # noqa: E402

ALLOWED_FINISH_ARGS = {
    '--share=network', '--share=ipc', '--socket=wayland', '--socket=fallback-x11',
    '--device=dri', '--filesystem=xdg-download',
    # LAN discovery: find other Ferry computers through the system's Avahi.
    '--system-talk-name=org.freedesktop.Avahi',
}
REQUIRED_FINISH_ARGS = {'--share=network', '--socket=wayland', '--socket=fallback-x11'}
BUILDSYSTEMS = {'autotools', 'cmake', 'cmake-ninja', 'meson', 'simple', 'qmake'}
SHA256 = re.compile(r'^[0-9a-f]{64}$')
COMMIT = re.compile(r'^[0-9a-f]{40}$')
REPOSITORY = 'https://github.com/ferryapp/ferry.git'
SCREENSHOT_BASE = 'https://raw.githubusercontent.com/ferryapp/ferry/%s/'
# The oldest GNOME runtime Flathub still accepts for new submissions.
CURRENT_RUNTIME = 49
# What each module of the manifest installs, by pkg-config name: a module
# must provide something the build asks for, or it is not needed.
MODULE_PROVIDES = {
    'libsodium': {'libsodium'},
    'qrencode': {'libqrencode'},
    'libnice': {'nice'},
    'ngtcp2': {'libngtcp2', 'libngtcp2_crypto_gnutls'},
    'avahi': {'avahi-client', 'avahi-glib'},
}
# Directories meson.build only enters with -Dtests=true.
TEST_DIRS = ('tests', 'bench')
DEPENDENCY = re.compile(r"dependency\(\s*'([^']+)'([^)]*)\)")


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


def build_dependencies(source_root, with_tests, enabled=()):
    """{pkg-config name: first meson.build asking for it}, required ones only.

    A dependency whose `required:` is a feature option (`get_option('redis')`)
    is required only when that option is in @enabled; `auto` builds without it."""
    wanted = {}
    for top, dirs, files in os.walk(source_root):
        rel = os.path.relpath(top, source_root)
        first = rel.split(os.sep)[0] if rel != '.' else ''
        if first.startswith('.') or first.startswith('build') or first == 'flatpak' or (
                not with_tests and first in TEST_DIRS):
            dirs[:] = []
            continue
        if 'meson.build' not in files:
            continue
        path = os.path.join(top, 'meson.build')
        with open(path, encoding='utf-8') as f:
            for name, rest in DEPENDENCY.findall(f.read()):
                feature = re.search(r"required:\s*get_option\('([^']+)'", rest)
                optional = 'required: false' in rest or (feature and feature.group(1) not in enabled)
                if not optional:
                    wanted.setdefault(name, os.path.relpath(path, source_root))
    return wanted


def read_runtime_pc(path):
    with open(path, encoding='utf-8') as f:
        return {line.strip() for line in f if line.strip() and not line.startswith('#')}


def enabled_features(source_root):
    """The feature options whose default is `enabled`."""
    with open(os.path.join(source_root, 'meson_options.txt'), encoding='utf-8') as f:
        return set(re.findall(r"option\(\s*'([^']+)',\s*type:\s*'feature',\s*value:\s*'enabled'",
                              f.read()))


def meson_options(source_root):
    with open(os.path.join(source_root, 'meson_options.txt'), encoding='utf-8') as f:
        return set(re.findall(r"option\(\s*'([^']+)'", f.read()))


def check_dependencies(tap, modules, app, source_root, runtime_pc):
    opts = app.get('config-opts', [])
    enabled = {o[2:].split('=', 1)[0] for o in opts if o.startswith('-D') and o.endswith('=enabled')}
    enabled |= enabled_features(source_root)
    wanted = build_dependencies(source_root, '-Dtests=false' not in opts, enabled)
    provided = {}
    for module in modules[:-1]:
        name = module.get('name', '')
        provides = MODULE_PROVIDES.get(name)
        if not tap.ok(provides is not None, 'module "%s" is known to check-flatpak-manifest.py'
                      % name, 'add what it provides to MODULE_PROVIDES'):
            continue
        for pc in provides:
            provided[pc] = name
        needed = sorted(provides & set(wanted))
        tap.ok(needed, 'module "%s" provides what the build asks for (%s)'
               % (name, ', '.join(needed) or 'nothing'),
               'no dependency() asks for %s: drop the module' % ', '.join(sorted(provides)))
    for pc, where in sorted(wanted.items()):
        by = provided.get(pc) or ('the runtime' if pc in runtime_pc else None)
        tap.ok(by, 'dependency(%r) of %s is provided by %s' % (pc, where, by or 'nothing'),
               'build a module for it, or add it to the runtime list if the SDK has it')


def check_app_options(tap, app, source_root):
    opts = app.get('config-opts', [])
    tap.ok('-Dtests=false' in opts, 'the app module builds no tests (-Dtests=false)')
    rendezvous = [o for o in opts if o.startswith('-Ddefault_rendezvous=')]
    url = rendezvous[0].split('=', 1)[1] if rendezvous else None
    tap.ok(url is not None and (url == '' or url.startswith('https://')),
           'the app module passes -Ddefault_rendezvous (empty or https)', repr(url))
    known = meson_options(source_root)
    for opt in opts:
        if opt.startswith('-D') and '=' in opt:
            name = opt[2:].split('=', 1)[0]
            tap.ok(name in known or ':' in name or name in ('buildtype', 'b_lto'),
                   'app option %s exists in meson_options.txt' % name)


def git(source_root, *args):
    return subprocess.run(['git', '-C', source_root, *args], capture_output=True, text=True)


def check_release_source(tap, app, source_root, tag):
    gits = [s for s in app.get('sources', []) if isinstance(s, dict) and s.get('type') == 'git']
    source = gits[0] if gits else {}
    tap.ok(len(gits) == 1 and source.get('url') == REPOSITORY,
           'the release builds the git source %s' % REPOSITORY, repr(source))
    tap.ok(source.get('tag') == tag, 'the release source names the tag %s' % tag,
           'found %r' % source.get('tag'))
    commit = source.get('commit', '')
    if not tap.ok(COMMIT.match(commit), 'the release source names a commit'):
        return
    if git(source_root, 'rev-parse', '--git-dir').returncode != 0:
        tap.skip('commit %s is in the history' % commit, 'the source is not a git checkout')
        return
    if not tap.ok(git(source_root, 'cat-file', '-e', commit + '^{commit}').returncode == 0,
                  'commit %s is in the history' % commit):
        return
    # The release builds that commit, so it must know the options passed.
    shown = git(source_root, 'show', commit + ':meson_options.txt')
    known = set(re.findall(r"option\(\s*'([^']+)'", shown.stdout))
    for opt in app.get('config-opts', []):
        name = opt[2:].split('=', 1)[0] if opt.startswith('-D') else None
        if name and name not in ('buildtype', 'b_lto') and ':' not in name:
            tap.ok(name in known, 'option %s exists at commit %s' % (name, commit[:12]))
    tagged = git(source_root, 'rev-parse', '-q', '--verify', tag + '^{commit}')
    if tagged.returncode == 0:
        tap.ok(tagged.stdout.strip() == commit, 'tag %s points at %s' % (tag, commit),
               'it points at %s' % tagged.stdout.strip())
    else:
        tap.skip('tag %s points at %s' % (tag, commit), 'the tag is not made yet: '
                 'git tag -s %s %s' % (tag, commit))


def check_same_as_devel(tap, manifest, path, app_id):
    devel_path = os.path.join(os.path.dirname(path), app_id + '.Devel.json')
    try:
        with open(devel_path, encoding='utf-8') as f:
            devel = json.load(f)
    except (OSError, ValueError) as error:
        tap.ok(False, 'the devel manifest parses', str(error))
        return
    release = json.loads(json.dumps(manifest))
    for m in (release, devel):
        if m.get('modules'):
            m['modules'][-1].pop('sources', None)
    tap.ok(release == devel, 'the release manifest is the devel manifest but for the '
           'app source')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--kind', choices=('release', 'devel'), required=True)
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
    tap.ok(version.isdigit() and int(version) >= CURRENT_RUNTIME,
           'runtime-version is %d or newer' % CURRENT_RUNTIME, 'found %r' % version)
    runtime_list = os.path.join(source_root, 'flatpak', 'gnome-%s-sdk-pkgconfig.txt' % version)
    have_list = tap.ok(os.path.isfile(runtime_list),
                       'the pkg-config names of runtime %s are listed' % version,
                       '%s is missing' % runtime_list)
    project_version = ferry_ship.project_version(args.builddir)
    tag = 'v' + project_version

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
        if module.get('buildsystem', '').startswith('cmake'):
            # CMake 4 refuses cmake_minimum_required() below 3.5 without it.
            tap.ok('-DCMAKE_POLICY_VERSION_MINIMUM=3.5' in module.get('config-opts', []),
                   'cmake module "%s" passes -DCMAKE_POLICY_VERSION_MINIMUM=3.5' % name)
        sources = module.get('sources', [])
        tap.ok(sources, 'module "%s" has sources' % name)
        for index, source in enumerate(sources, 1):
            if isinstance(source, str):
                tap.ok(os.path.isfile(os.path.join(manifest_dir, source)),
                       'module "%s" source file %s exists' % (name, source))
            else:
                check_source(tap, name, index, source, manifest_dir)

    app = modules[-1] if isinstance(modules, list) and modules else {}
    if not isinstance(app, dict) or not all(isinstance(m, dict) for m in modules):
        tap.ok(False, 'every module is written in the manifest')
        return tap.finish()
    tap.ok(app.get('buildsystem') == 'meson' and app.get('name') == 'ferry',
           'the last module builds Ferry with meson')
    if args.kind == 'devel':
        app_dirs = [os.path.normpath(os.path.join(manifest_dir, s.get('path', '')))
                    for s in app.get('sources', []) if s.get('type') == 'dir']
        tap.ok(source_root in app_dirs, 'the devel app module builds this source tree',
               'dir sources: %s' % ', '.join(app_dirs))
    else:
        check_release_source(tap, app, source_root, tag)
        check_same_as_devel(tap, manifest, args.manifest, args.app_id)
    check_app_options(tap, app, source_root)
    if have_list:
        check_dependencies(tap, modules, app, source_root, read_runtime_pc(runtime_list))

    # The metainfo's screenshots are files the GUI's screenshot test writes
    # into data/screenshots/; until the first exists they are not checked.
    shots_dir = os.path.join(source_root, 'data', 'screenshots')
    have_shots = os.path.isdir(shots_dir) and any(
        n.endswith('.png') for n in os.listdir(shots_dir))
    tap.ok(metainfo['screenshots'], 'the metainfo has screenshots')
    base = SCREENSHOT_BASE % tag
    for url in metainfo['screenshots']:
        if not url.startswith(base):
            tap.ok(False, 'screenshot %s lives in this repository at tag %s' % (url, tag))
            continue
        path = url[len(base):]
        if have_shots:
            tap.ok(os.path.isfile(os.path.join(source_root, path)),
                   'screenshot %s exists' % path)
        else:
            tap.skip('screenshot %s exists' % path, 'no screenshot has been made yet')

    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
