# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny TAP writer shared by the ship checks in build-aux/.

Test points are collected first and printed at the end, so the plan line
comes first and a crash in a check still leaves a failing run.
"""

import sys


class Tap:
    def __init__(self):
        self.points = []

    def ok(self, passed, description, diagnostics=None):
        self.points.append((bool(passed), description, None, diagnostics))
        return bool(passed)

    def skip(self, description, reason):
        self.points.append((True, description, 'SKIP ' + reason, None))

    def todo(self, passed, description, reason, diagnostics=None):
        self.points.append((bool(passed), description, 'TODO ' + reason, diagnostics))

    def bail_out(self, reason):
        print('Bail out! ' + reason)
        sys.exit(1)

    def finish(self):
        """Prints the plan and every point; returns the exit status."""
        print('1..%d' % len(self.points))
        failed = 0
        for number, (passed, description, directive, diagnostics) in enumerate(self.points, 1):
            # A '#' would start a TAP directive.
            description = description.replace('#', '\\#')
            line = '%s %d - %s' % ('ok' if passed else 'not ok', number, description)
            if directive:
                line += ' # ' + directive
            print(line)
            if not passed:
                for diag in (diagnostics or '').splitlines():
                    print('#   ' + diag)
            if not passed and not (directive and directive.startswith('TODO')):
                failed += 1
        return 1 if failed else 0
