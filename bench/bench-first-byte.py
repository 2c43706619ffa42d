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
# Rows: loopback; and, as root, the NAT lab with both peers behind easy NATs, the internet
# 40 ms round trip away (ferry-netem in the internet namespace), ferry-rendezvous and coturn
# in that internet.

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

PAYLOAD = 4 * 1024 * 1024


def wait_for_event(proc, name, deadline, on_line=None):
    """Reads JSON event lines from proc.stdout until one with "event" == name."""
    buffer = b""
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {name!r} event in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError(f"ferry-cli ended before {name!r}")
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event = json.loads(line)
            if on_line:
                on_line(event)
            if event.get("event") == name:
                return event, time.monotonic()
            if event.get("event") == "error":
                raise RuntimeError(f"ferry-cli failed: {event}")


def one_run(args, prefix, env, workdir, run):
    """One send/receive; returns (ms to first byte, path kind)."""
    source = os.path.join(workdir, "payload.bin")
    out = os.path.join(workdir, f"out-{run}")
    os.makedirs(out, exist_ok=True)
    sender_env = dict(env, XDG_DATA_HOME=os.path.join(workdir, f"a-{run}"))
    receiver_env = dict(env, XDG_DATA_HOME=os.path.join(workdir, f"b-{run}"))

    sender = subprocess.Popen(prefix("a") + [args.cli, "send", "--json", source],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=sender_env)
    receiver = None
    try:
        code_event, _ = wait_for_event(sender, "code", time.monotonic() + 30)
        receiver_env["FERRY_CODE"] = code_event["code"]
        path = {}

        started = time.monotonic()
        receiver = subprocess.Popen(prefix("b") + [args.cli, "receive", "--json", "--yes",
                                                   "--output", out],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    env=receiver_env)
        _, first_byte = wait_for_event(
            receiver, "progress", started + 60,
            on_line=lambda e: path.update(e) if e.get("event") == "path" else None)
        wait_for_event(receiver, "done", time.monotonic() + 60)
        return (first_byte - started) * 1000, path.get("kind", "?")
    finally:
        for proc in (receiver, sender):
            if proc is not None:
                proc.kill()
                proc.wait()


def measure(args, label, prefix, env, workdir):
    times = []
    kind = "?"
    for run in range(args.runs):
        ms, kind = one_run(args, prefix, env, workdir, run)
        times.append(ms)
    return (label, kind, statistics.median(times), min(times), max(times))


def start_rendezvous(args, prefix, listen, extra):
    proc = subprocess.Popen(prefix + [args.rendezvous, "--listen", listen] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(os.environ))
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError("ferry-rendezvous did not start")
    return proc, line[len("listening on "):]


def loopback_row(args, workdir):
    rendezvous, url = start_rendezvous(args, [], "127.0.0.1:0", [])
    try:
        env = dict(os.environ, FERRY_RENDEZVOUS=url)
        return measure(args, "loopback", lambda host: [], env, workdir)
    finally:
        rendezvous.kill()
        rendezvous.wait()


def lab_row(args, workdir):
    lab = subprocess.Popen(["bash", args.lab_sh, "serve", "--coturn", "a:easy", "b:easy"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           env=dict(os.environ))
    info = {}
    try:
        for line in lab.stdout:
            line = line.strip()
            if line == "ready":
                break
            key, name, value = line.split(" ", 2)
            info[(key, name)] = value
        else:
            raise RuntimeError("the lab did not come up")

        lab.stdin.write("netem inet -d 20\n")
        lab.stdin.flush()
        if lab.stdout.readline().strip() != "ok":
            raise RuntimeError("could not shape the lab's internet")

        inet = ["ip", "netns", "exec", info[("ns", "inet")]]
        coturn = info[("coturn", "-")]
        secret = info[("turn-secret", "-")]
        os.environ["FERRY_TURN_SECRET"] = secret
        rendezvous, url = start_rendezvous(
            args, inet, info[("rendezvous", "-")] + ":4477",
            ["--stun", f"stun:{coturn}", "--turn", f"turn:{coturn}?transport=udp",
             "--turn", f"turn:{coturn}?transport=tcp"])
        del os.environ["FERRY_TURN_SECRET"]
        try:
            env = dict(os.environ, FERRY_RENDEZVOUS=url)
            prefix = lambda host: ["ip", "netns", "exec", info[("ns", host)]]
            return measure(args, "lab: easy NAT \\| easy NAT, 40 ms RTT", prefix, env, workdir)
        finally:
            rendezvous.kill()
            rendezvous.wait()
    finally:
        lab.stdin.close()
        lab.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--rendezvous", required=True)
    parser.add_argument("--lab-sh", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="ferry-first-byte-") as workdir:
        with open(os.path.join(workdir, "payload.bin"), "wb") as payload:
            payload.write(os.urandom(PAYLOAD))
        rows.append(loopback_row(args, workdir))
        if os.geteuid() == 0 and subprocess.run(["bash", args.lab_sh, "check"],
                                                capture_output=True).returncode == 0:
            rows.append(lab_row(args, workdir))
        else:
            print("######## NOT ROOT OR NO NETWORK NAMESPACES: ONLY THE LOOPBACK ROW ########",
                  file=sys.stderr)

    table = ["| Code entry → first byte | Path | Median | Min | Max |",
             "| --- | --- | ---: | ---: | ---: |"]
    for label, kind, median, low, high in rows:
        table.append(f"| {label} | {kind} | {median:.0f} ms | {low:.0f} ms | {high:.0f} ms |")
    text = "\n".join(table) + f"\n\n{args.runs} runs each; real ferry-cli and ferry-rendezvous.\n"
    print(text)
    if args.output:
        with open(args.output, "w") as output:
            output.write(text)


if __name__ == "__main__":
    main()
