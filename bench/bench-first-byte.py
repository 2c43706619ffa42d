#!/usr/bin/env python3
# bench/bench-first-byte.py — time from code entry to the first byte, through everything.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A real ferry-cli sender waits with its code; the clock starts when a real ferry-cli
# receiver is started with that code (the moment a person presses Enter) and stops at the
# receiver's first "progress" event, i.e. the first file bytes written. In between: the
# rendezvous, the PAKE, ICE with port-mapping probes, the QUIC handshake and the offer
# (the receiver accepts with --yes). Each row is the median of several runs.
#
# Rows: loopback; and, as root, one NAT lab row per kind of path — public hosts, easy NATs,
# hard NATs (relayed through coturn), a hard NAT with a port-mapping router, hard NATs with
# IPv6 — with everything 40 ms round trip away: the other peer, and ferry-rendezvous and
# coturn in the lab's internet (ferry-netem there, on what leaves it and what it receives).
# Each row tells the first and the final path of the last run.

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferrybench import (Lab, Procs, lab_usable, on_sigterm_raise,  # noqa: E402
                        start_lab_rendezvous, start_rendezvous)

PAYLOAD = 4 * 1024 * 1024


def one_run(args, procs, prefix, env, workdir, run):
    """One send/receive; returns (ms to first byte, first path, final path)."""
    source = os.path.join(workdir, "payload.bin")
    out = os.path.join(workdir, f"out-{run}")
    os.makedirs(out, exist_ok=True)
    sender_env = dict(env, XDG_DATA_HOME=os.path.join(workdir, f"a-{run}"))
    receiver_env = dict(env, XDG_DATA_HOME=os.path.join(workdir, f"b-{run}"))
    sender = procs.start(prefix("a") + [args.cli, "send", "--json", source], "ferry-cli send",
                         env=sender_env)
    code_event, _ = sender.wait_event("code", time.monotonic() + 30)
    receiver_env["FERRY_CODE"] = code_event["code"]

    started = time.monotonic()
    receiver = procs.start(prefix("b") + [args.cli, "receive", "--json", "--yes",
                                          "--output", out],
                           "ferry-cli receive", env=receiver_env)
    _, first_byte = receiver.wait_event("progress", started + 60)
    receiver.wait_event("done", time.monotonic() + 60)
    paths = [describe_path(event) for event, _ in receiver.events("path")]
    if not paths:
        return (first_byte - started) * 1000, "?", "?"
    return (first_byte - started) * 1000, paths[0], paths[-1]


def describe_path(event):
    """"direct-internet (upnp, IPv6)" from a path event."""
    notes = [event["mapped"]] if event.get("mapped", "none") != "none" else []
    if event.get("remote", "").startswith("["):
        notes.append("IPv6")
    return event["kind"] + (f" ({', '.join(notes)})" if notes else "")


def measure(args, procs, label, prefix, env, workdir):
    times = []
    first = final = "?"
    servers = procs.procs[:]
    for run in range(args.runs):
        try:
            ms, first, final = one_run(args, procs, prefix, env, workdir, run)
        finally:
            procs.stop_all(keep=servers)
        times.append(ms)
    return (label, first, final, statistics.median(times), min(times), max(times))


def loopback_row(args, procs, workdir):
    _, url = start_rendezvous(procs, args.rendezvous, [], "127.0.0.1:0")
    env = dict(os.environ, FERRY_RENDEZVOUS=url)
    return measure(args, procs, "loopback", lambda host: [], env, workdir)


# (label, sender's kind, receiver's kind), as lab.sh names them.
LAB_ROWS = [
    ("public \\| public", "none", "none"),
    ("easy NAT \\| easy NAT", "easy", "easy"),
    ("hard NAT \\| hard NAT (relayed)", "hard", "hard"),
    ("hard NAT + UPnP/PCP \\| hard NAT (mapped)", "hard+mappable", "hard"),
    ("hard NAT + IPv6 \\| hard NAT + IPv6", "hard+v6", "hard+v6"),
]


def lab_row(args, procs, workdir, label, sender, receiver):
    with Lab(args.lab_sh, [f"a:{sender}", f"b:{receiver}"], coturn=True) as lab:
        lab.netem("inet", 20, inbound=True)
        url = start_lab_rendezvous(procs, args.rendezvous, lab)
        env = dict(os.environ, FERRY_RENDEZVOUS=url)
        return measure(args, procs, f"lab: {label}, 40 ms RTT", lab.prefix, env, workdir)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--rendezvous", required=True)
    parser.add_argument("--lab-sh", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output")
    args = parser.parse_args()
    on_sigterm_raise()

    rows = []
    with tempfile.TemporaryDirectory(prefix="ferry-first-byte-") as workdir:
        with open(os.path.join(workdir, "payload.bin"), "wb") as payload:
            payload.write(os.urandom(PAYLOAD))
        with Procs() as procs:
            rows.append(loopback_row(args, procs, workdir))
            procs.stop_all()
            usable, why = lab_usable(args.lab_sh)
            if usable:
                for label, sender, receiver in LAB_ROWS:
                    rows.append(lab_row(args, procs, workdir, label, sender, receiver))
                    procs.stop_all()
            else:
                print(f"######## NOT ROOT OR NO NETWORK NAMESPACES ({why}): ONLY THE LOOPBACK "
                      "ROW ########", file=sys.stderr)

    table = ["| Code entry → first byte | First path | Final path | Median | Min | Max |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for label, first, final, median, low, high in rows:
        table.append(f"| {label} | {first} | {final} | {median:.0f} ms | {low:.0f} ms "
                     f"| {high:.0f} ms |")
    text = "\n".join(table) + f"\n\n{args.runs} runs each; real ferry-cli and ferry-rendezvous.\n"
    print(text)
    if args.output:
        with open(args.output, "w") as output:
            output.write(text)


if __name__ == "__main__":
    main()
