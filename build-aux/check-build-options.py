#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the build options packagers pass, as TAP, in a scratch build.

-Dtests=false must leave no test, benchmark or test program in the build;
-Ddefault_rendezvous=URL must be the server ferry-cli meets through when the
user named none: a real ferry-rendezvous listens at that URL and a
`ferry-cli send` built with it must get a code from it. A URL that is not
http(s) must stop the configure step.

Usage: check-build-options.py --meson MESON --source-root DIR --rendezvous BIN
"""

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time

# Keep the source tree free of __pycache__ when run from the build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferry_tap import Tap  # noqa: E402

DEADLINE_S = 30


def read_line_with(process, wanted, deadline):
    """The first line of process's stdout that contains wanted, or None once
    the deadline passes or the process ends. Reads the pipe unbuffered, so
    select() never waits on lines already read."""
    pending = b''
    fd = process.stdout.fileno()
    while time.monotonic() < deadline:
        while b'\n' in pending:
            line, pending = pending.split(b'\n', 1)
            if wanted.encode() in line:
                return line.decode('utf-8', 'replace')
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
    return None


def start_server(binary):
    server = subprocess.Popen([binary, '--listen', '127.0.0.1:0'], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    line = read_line_with(server, 'listening on ', time.monotonic() + DEADLINE_S)
    return server, line.split('listening on ', 1)[1].strip() if line else None


def meson_setup(args, builddir, *options):
    return subprocess.run([args.meson, 'setup', builddir, args.source_root, *options],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def introspect(args, builddir, what):
    run = subprocess.run([args.meson, 'introspect', '--' + what, builddir],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def check_no_tests(tap, args, builddir):
    tap.ok(introspect(args, builddir, 'tests') == [], '-Dtests=false: no tests')
    tap.ok(introspect(args, builddir, 'benchmarks') == [], '-Dtests=false: no benchmarks')
    names = [t['name'] for t in introspect(args, builddir, 'targets')]
    built = [n for n in names if n.startswith(('test-', 'bench-', 'ferry-test', 'ferry-lab'))]
    tap.ok(not built, '-Dtests=false: no test or benchmark programs', ', '.join(built))
    tap.ok('ferry-cli' in names and 'ferry' in names, '-Dtests=false still builds the programs')


def check_cli_default(tap, args, builddir, url):
    build = subprocess.run([args.meson, 'compile', '-C', builddir, 'ferry-cli'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not tap.ok(build.returncode == 0, 'ferry-cli builds with -Ddefault_rendezvous',
                  build.stdout[-3000:]):
        return
    cli = os.path.join(builddir, 'app', 'cli', 'ferry-cli')
    with tempfile.TemporaryDirectory(prefix='ferry-options-home-') as home:
        env = {k: v for k, v in os.environ.items() if k != 'FERRY_RENDEZVOUS'}
        env.update(HOME=home, XDG_DATA_HOME=os.path.join(home, 'data'),
                   XDG_CONFIG_HOME=os.path.join(home, 'config'),
                   XDG_CACHE_HOME=os.path.join(home, 'cache'))
        usage = subprocess.run([cli, '--help'], capture_output=True, text=True, env=env)
        tap.ok(url in usage.stdout, 'ferry-cli --help names the built-in server',
               usage.stdout)
        sent = os.path.join(home, 'hello.txt')
        with open(sent, 'w', encoding='utf-8') as f:
            f.write('hello\n')
        sender = subprocess.Popen([cli, 'send', '--json', sent], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env)
        try:
            line = read_line_with(sender, '"code"', time.monotonic() + DEADLINE_S)
        finally:
            sender.kill()
            sender.wait()
        event = json.loads(line) if line else {}
        tap.ok(event.get('code'), 'ferry-cli send, with no server named, gets a code from '
               'the built-in one (%s)' % url, line)


def main():
    parser = argparse.ArgumentParser()
    for name in ('meson', 'source-root', 'rendezvous'):
        parser.add_argument('--' + name, required=True)
    args = parser.parse_args()
    tap = Tap()

    server, url = start_server(args.rendezvous)
    try:
        if not tap.ok(url, 'ferry-rendezvous listens'):
            return tap.finish()
        with tempfile.TemporaryDirectory(prefix='ferry-options-') as scratch:
            builddir = os.path.join(scratch, 'build')
            setup = meson_setup(args, builddir, '-Dtests=false', '-Ddefault_rendezvous=' + url)
            if tap.ok(setup.returncode == 0,
                      'meson setup -Dtests=false -Ddefault_rendezvous=%s succeeds' % url,
                      setup.stdout[-3000:]):
                check_no_tests(tap, args, builddir)
                check_cli_default(tap, args, builddir, url)
            bad = meson_setup(args, os.path.join(scratch, 'bad'),
                              '-Ddefault_rendezvous=ftp://example.org')
            tap.ok(bad.returncode != 0 and 'default_rendezvous must be' in bad.stdout,
                   'a default_rendezvous that is not http(s) is refused', bad.stdout[-2000:])
    finally:
        server.kill()
        server.wait()
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
