#!/usr/bin/env python3
# bench/bench-end-to-end.py — Ferry end to end against its anchors (issue 12), one table.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The real programs on real files on disk (--workdir, the same filesystem for both sides of
# every comparison). Every row checks the received bytes: BLAKE2b-256 of each received file
# equals the source's, nothing more and nothing less arrived, or the run fails loudly.
#
# The clock. A sender waits, ready (Ferry: its code printed; the anchors: listening). The
# clock starts when the receiving program is started — the moment a person presses Enter on
# the code — and stops when every file is verified on disk: Ferry's receiver's "done" event
# (it must then exit 0), the TLS pipe's and the anchors' exit with status 0. The receiver is
# started as soon as the sender is ready, as if the code were typed at once: whatever the
# sender still does before its offer (today: hashing every file) is in the time.
#
# Rows (median of --runs runs, the programs of one comparison interleaved in each run):
#   loopback, one 300 MB file: Ferry vs ferry-tls-pipe (TLS 1.3 over TCP, BLAKE2b on both
#     ends, the receiver writes FILE.part, fdatasync, rename; bench/ferry-tls-pipe.c)
#   loopback, 10,000 files of 4 KiB: Ferry vs `tar c | ferry-tls-pipe | tar x`
#   time to offer: from `ferry-cli send` starting (receiver started at its code) to the
#     receiver's "offer" event, and from code entry to it; 4 KiB, 300 MB, 2 GB, the folder
#   peak RSS (wait4's ru_maxrss) of both Ferry sides moving 64 MiB and 4 GiB on loopback
#   as root, the NAT lab (two public hosts; the internet namespace between them adds half the
#   RTT and the loss each way with ferry-netem and the rate with TBF): 48 MB at 100 Mbit/s,
#     40 ms, 1 % and at 200 Mbit/s, 80 ms, 2 %: Ferry vs ngtcp2's example client/server
#     (gtlsclient/gtlsserver --cc=bbr2, 64 MB windows; its time includes its handshake)
#     vs magic-wormhole (local mailbox server and transit relay, direct TCP with BBR);
#     on the first link also Ferry through the lab's coturn: TURN over UDP (two hard NATs)
#     and TURN over TCP (a UDP-blocked sender), vs Ferry direct on that link.
# Without root the lab rows are skipped after a loud message.

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ferrybench import (BenchError, Lab, Procs, blake2b_file, lab_usable,  # noqa: E402
                        on_sigterm_raise, start_lab_rendezvous, start_rendezvous,
                        tree_digests, wait_port, write_random_file)

MB = 1000 * 1000
MIB = 1024 * 1024
LOOPBACK = "127.0.0.1"
LINKS = [  # (label, Mbit/s, RTT ms, loss %, with the relayed rows)
    ("100 Mbit/s, 40 ms, 1 %", 100, 40, 1, True),
    ("200 Mbit/s, 80 ms, 2 %", 200, 80, 2, False),
]
MAILBOX_IP, TRANSIT_IP = "11.0.0.4", "11.0.0.5"
NGTCP2_PORT = 4433
NGTCP2_WINDOW = "64M"
RAMP_SHARE = 0.85        # "reaches 85 % of the link after N MB"
RAMP_WINDOW_S = 0.5


def median(values):
    return statistics.median(values) if values else None


def fmt_s(seconds):
    return "–" if seconds is None else (f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s")


def fmt_range(values):
    if len(values) < 2:
        return ""
    return f" ({min(values):.2f}–{max(values):.2f})"


def mbit(size, seconds):
    return size * 8 / seconds / 1e6


class Source:
    """What is sent: a file or a folder below a source folder, and what must arrive."""

    def __init__(self, path, size, files):
        self.path = path
        self.size = size
        self.files = files
        parent = os.path.dirname(path)
        self.expected = {os.path.relpath(os.path.join(parent, name), parent): digest
                         for name, digest in self._digests().items()}

    def _digests(self):
        name = os.path.basename(self.path)
        if os.path.isdir(self.path):
            return {os.path.join(name, rel): d for rel, d in tree_digests(self.path).items()}
        return {name: blake2b_file(self.path)}

    def check(self, out, who):
        got = tree_digests(out)
        if got != self.expected:
            missing = sorted(set(self.expected) - set(got))[:3]
            extra = sorted(set(got) - set(self.expected))[:3]
            wrong = sorted(k for k in self.expected if k in got and got[k] != self.expected[k])[:3]
            raise BenchError(f"!!!!! {who} DELIVERED WRONG FILES: missing {missing}, extra "
                             f"{extra}, other bytes in {wrong} !!!!!")


class Bench:
    def __init__(self, args, workdir, procs):
        self.args = args
        self.workdir = workdir
        self.procs = procs
        self.failures = []
        self.runs = 0

    def run_dir(self):
        self.runs += 1
        path = os.path.join(self.workdir, f"run-{self.runs}")
        os.makedirs(os.path.join(path, "out"))
        return path

    def ensure_space(self, size):
        stat = os.statvfs(self.workdir)
        free = stat.f_bavail * stat.f_frsize
        if free < size * 1.1 + 512 * MIB:
            raise BenchError(f"{self.workdir} has {free // MIB} MiB free; "
                             f"this row needs {size * 1.1 // MIB} MiB")

    # Ferry ------------------------------------------------------------------------------

    def ferry(self, source, env, send_prefix=(), recv_prefix=(), accept=True, timeout=600,
              at_offer=None):
        """One ferry-cli send → receive; a dict of times (monotonic) and what was seen."""
        run = self.run_dir()
        out = os.path.join(run, "out")
        send_start = time.monotonic()
        sender = self.procs.start(list(send_prefix) + [self.args.cli, "send", "--json",
                                                       source.path],
                                  "ferry-cli send", env=dict(env, XDG_DATA_HOME=f"{run}/a"),
                                  rss=True)
        code, _ = sender.wait_event("code", send_start + 60)
        entry = time.monotonic()
        receiver = self.procs.start(
            list(recv_prefix) + [self.args.cli, "receive", "--json"]
            + (["--yes"] if accept else []) + ["--output", out],
            "ferry-cli receive",
            env=dict(env, XDG_DATA_HOME=f"{run}/b", FERRY_CODE=code["code"]), rss=True)
        offer, offer_at = receiver.wait_event("offer", entry + timeout)
        if offer["bytes"] != source.size or offer["files"] != source.files:
            raise BenchError(f"the offer is {offer['files']} files, {offer['bytes']} bytes; "
                             f"sent were {source.files}, {source.size}")
        result = {"send_start": send_start, "entry": entry, "offer": offer_at}
        if at_offer is not None:
            at_offer()
        if not accept:
            # Without --yes and a terminal the receiver declines: both end.
            receiver.wait(offer_at + 30, ok=False)
            sender.wait(offer_at + 30, ok=False)
            shutil.rmtree(run)
            return result
        done, done_at = receiver.wait_event("done", entry + timeout)
        receiver.wait(done_at + 30)
        sender.wait_event("done", done_at + 30)
        sender.wait(done_at + 30)
        if done["bytes"] != source.size:
            raise BenchError(f"ferry-cli received {done['bytes']} bytes of {source.size}")
        source.check(out, "FERRY")
        paths = receiver.events("path")
        result.update(done=done_at, seconds=done_at - entry,
                      path=paths[-1][1]["kind"] if paths else "?",
                      relay=paths[-1][1].get("relay") if paths else None,
                      progress=[(t, e["bytes"]) for t, e in receiver.events("progress")],
                      rss=(sender.peak_rss_kib, receiver.peak_rss_kib),
                      cpu=(sender.cpu_s, receiver.cpu_s))
        shutil.rmtree(run)
        return result

    # The reference pipe -----------------------------------------------------------------

    def pipe(self, source, tar=False):
        """ferry-tls-pipe on loopback, of the file or (tar) of a tar of the folder."""
        run = self.run_dir()
        out = os.path.join(run, "out")
        fds = []
        try:
            if tar:
                r, w = os.pipe()
                fds += [r, w]
                tar_c = self.procs.start(["tar", "c", "-C", os.path.dirname(source.path),
                                          os.path.basename(source.path)], "tar c", stdout=w)
                sender = self.procs.start([self.args.pipe, "send", "--listen", f"{LOOPBACK}:0",
                                           "-"], "ferry-tls-pipe send", stdin=r)
            else:
                sender = self.procs.start([self.args.pipe, "send", "--listen", f"{LOOPBACK}:0",
                                           source.path], "ferry-tls-pipe send")
            _, line = sender.err.wait_for(lambda l: l.startswith("listening "),
                                          time.monotonic() + 30, "listening")
            _, bound, pin = line.split()
            receive = [self.args.pipe, "receive", "--connect", bound, "--pin", pin, "--output"]
            entry = time.monotonic()
            if tar:
                r2, w2 = os.pipe()
                fds += [r2, w2]
                receiver = self.procs.start(receive + ["-"], "ferry-tls-pipe receive", stdout=w2)
                untar = self.procs.start(["tar", "x", "-C", out], "tar x", stdin=r2)
                for fd in fds:
                    os.close(fd)
                fds = []
                receiver.wait(entry + 600)
                untar.wait(entry + 600)
                end = max(receiver.exited, untar.exited)
            else:
                receiver = self.procs.start(receive + [os.path.join(out, os.path.basename(
                    source.path))], "ferry-tls-pipe receive")
                receiver.wait(entry + 600)
                end = receiver.exited
            sender.wait(end + 30)
            if tar:
                tar_c.wait(end + 30)
        finally:
            for fd in fds:
                os.close(fd)
        source.check(out, "THE TLS PIPE")
        shutil.rmtree(run)
        return {"seconds": end - entry}

    # Anchors in the lab -----------------------------------------------------------------

    def ngtcp2(self, lab, source, server_addr):
        run = self.run_dir()
        out = os.path.join(run, "out")
        window = NGTCP2_WINDOW
        client = self.procs.start(
            lab.prefix("b") + ["gtlsclient", "-q", "--cc=bbr2", "--exit-on-all-streams-close",
                               f"--download={out}", f"--max-data={window}",
                               f"--max-stream-data-bidi-local={window}",
                               f"--max-window={window}", f"--max-stream-window={window}",
                               server_addr, str(NGTCP2_PORT),
                               f"https://{server_addr}:{NGTCP2_PORT}/"
                               + os.path.basename(source.path)],
            "gtlsclient")
        client.wait(client.started + 600)
        source.check(out, "NGTCP2'S EXAMPLE")
        shutil.rmtree(run)
        return {"seconds": client.exited - client.started, "path": "direct QUIC"}

    def wormhole(self, lab, source, env):
        run = self.run_dir()
        out = os.path.join(run, "out")
        common = ["wormhole", "--relay-url", f"ws://{MAILBOX_IP}:4000/v1",
                  "--transit-helper", f"tcp:{TRANSIT_IP}:4001"]
        env = dict(env, HOME=run)
        sender = self.procs.start(lab.prefix("a") + common + ["send", "--hide-progress",
                                                              source.path],
                                  "wormhole send", env=env)
        _, line = sender.err.wait_for(lambda l: l.startswith("Wormhole code is: "),
                                      time.monotonic() + 60, "its code")
        code = line.split(": ", 1)[1].strip()
        receiver = self.procs.start(
            lab.prefix("b") + common + ["receive", "--accept-file", "--hide-progress", "-o",
                                        os.path.join(out, os.path.basename(source.path)), code],
            "wormhole receive", env=env)
        receiver.wait(receiver.started + 600)
        sender.wait(receiver.exited + 30)
        hint = [l for _, l in receiver.err.drain() + receiver.out.drain() if "Receiving (" in l]
        source.check(out, "MAGIC-WORMHOLE")
        shutil.rmtree(run)
        # "Receiving (->tcp:ADDR:PORT)" or "(<-ADDR:PORT)" when direct, "relay" in it if not.
        route = hint[0].split("(", 1)[1].split(")", 1)[0] if hint else "?"
        return {"seconds": receiver.exited - receiver.started,
                "path": "relayed TCP" if "relay" in route else f"direct TCP ({route})"}

    def record(self, results, key, what, call, keep=()):
        """Runs one measurement; a failure is kept for the report and the exit status.
        Afterwards every process it started is stopped (not the servers in keep)."""
        try:
            results.setdefault(key, []).append(call())
        except (BenchError, TimeoutError) as error:
            print(f"!!!!! {what} FAILED: {error}", file=sys.stderr)
            self.failures.append(f"{what}: {error}")
        finally:
            self.procs.stop_all(keep)


# Rows --------------------------------------------------------------------------------

def make_small_files(root, count, size):
    os.makedirs(root)
    for i in range(count):
        with open(os.path.join(root, f"file-{i:05d}.bin"), "wb") as f:
            f.write(os.urandom(size))
    return root


LOOPBACK_ROWS = ["big", "small", "offer", "rss"]


def loopback_rows(bench, tables):
    args = bench.args
    procs = bench.procs
    rendezvous, url = start_rendezvous(procs, args.rendezvous, [], f"{LOOPBACK}:0")
    env = dict(os.environ, FERRY_RENDEZVOUS=url)
    results = {}
    src = os.path.join(bench.workdir, "src")
    os.makedirs(src)

    def record(key, what, call):
        bench.record(results, key, what, call, keep=[rendezvous])

    rows = set(args.rows)
    try:
        print(f"loopback: one {args.big_mb} MB file", file=sys.stderr)
        bench.ensure_space(3 * args.big_mb * MB)
        path = os.path.join(src, "payload.bin")
        write_random_file(path, args.big_mb * MB)
        big = Source(path, args.big_mb * MB, 1)
        for _ in range(args.runs if "big" in rows else 0):
            record("big-ferry", "Ferry, loopback, big file", lambda: bench.ferry(big, env))
            record("big-pipe", "TLS pipe, loopback, big file", lambda: bench.pipe(big))

        print(f"loopback: {args.small_files} files of 4 KiB", file=sys.stderr)
        folder = make_small_files(os.path.join(src, "small"), args.small_files, 4096)
        small = Source(folder, args.small_files * 4096, args.small_files)
        for _ in range(args.runs if "small" in rows else 0):
            record("small-ferry", "Ferry, loopback, small files",
                   lambda: bench.ferry(small, env))
            record("small-pipe", "tar | TLS pipe | tar x, loopback, small files",
                   lambda: bench.pipe(small, tar=True))

        print("time to offer", file=sys.stderr)
        tiny_path = os.path.join(src, "tiny.bin")
        write_random_file(tiny_path, 4096)
        tiny = Source(tiny_path, 4096, 1)
        for _ in range(args.runs if "offer" in rows else 0):
            record("offer-tiny", "time to offer, 4 KiB",
                   lambda: bench.ferry(tiny, env, accept=False))
            record("offer-small", "time to offer, folder",
                   lambda: bench.ferry(small, env, accept=False))
        os.remove(path)
        if "offer" in rows:
            bench.ensure_space(args.offer_mb * MB)
            path = os.path.join(src, "offer.bin")
            write_random_file(path, args.offer_mb * MB)
            offer = Source(path, args.offer_mb * MB, 1)
            for _ in range(args.runs):
                record("offer-big", "time to offer, big file",
                       lambda: bench.ferry(offer, env, accept=False))
            os.remove(path)

        print("peak RSS", file=sys.stderr)
        for mib in args.rss_mib if "rss" in rows else []:
            bench.ensure_space(2 * mib * MIB)
            path = os.path.join(src, f"rss-{mib}.bin")
            write_random_file(path, mib * MIB)
            rss = Source(path, mib * MIB, 1)
            record(f"rss-{mib}", f"peak RSS, {mib} MiB", lambda: bench.ferry(rss, env))
            os.remove(path)
    finally:
        procs.stop_all()

    if rows & {"big", "small"}:
        tables.append(loopback_table(args, results, big, small))
    if "offer" in rows:
        tables.append(offer_table(args, results, big, small))
    if "rss" in rows:
        tables.append(rss_table(args, results))


def ramp_up(progress, start, link_mbit):
    """(seconds after the first byte, bytes by then) when the progress rate over half a
    second first reaches RAMP_SHARE of the link; None if never."""
    if not progress:
        return None
    first_t = progress[0][0]
    for k in range(1, len(progress)):
        t_k, b_k = progress[k]
        j = max((i for i in range(k) if t_k - progress[i][0] >= RAMP_WINDOW_S), default=None)
        if j is None:
            continue
        t_j, b_j = progress[j]
        if (b_k - b_j) * 8 / (t_k - t_j) / 1e6 >= RAMP_SHARE * link_mbit:
            return t_j - first_t, b_j
    return None


def lab_link_rows(bench, link, tables):
    label, rate, rtt, loss, relayed = link
    args = bench.args
    procs = bench.procs
    hosts = ["a:none", "b:none"]
    if relayed:
        hosts += ["c:hard", "d:hard", "e:udp-blocked", "f:easy"]
    size = args.lab_mb * MB
    results = {}
    print(f"lab: {label}", file=sys.stderr)
    with Lab(args.lab_sh, hosts, coturn=True) as lab:
        lab.netem("inet", rtt // 2, loss, f"{rate}mbit")
        for host in ("a", "b"):
            subprocess.run(lab.prefix(host) + ["sysctl", "-qw",
                                               "net.ipv4.tcp_congestion_control=bbr"],
                           check=True)
        src = os.path.join(bench.workdir, "lab-src")
        os.makedirs(src, exist_ok=True)
        path = os.path.join(src, "payload.bin")
        if not os.path.exists(path):
            write_random_file(path, size)
        source = Source(path, size, 1)
        inet = lab.prefix("inet")
        coturn = lab.get("coturn")
        url = start_lab_rendezvous(procs, args.rendezvous, lab)
        env = dict(os.environ, FERRY_RENDEZVOUS=url)
        cert = os.path.join(bench.workdir, "ngtcp2.crt")
        key = os.path.join(bench.workdir, "ngtcp2.key")
        subprocess.run([args.pipe, "make-cert", key, cert], check=True)
        a_addr = lab.get("addr", "a")
        procs.start(lab.prefix("a") + ["gtlsserver", "-q", "--cc=bbr2",
                                       f"--max-window={NGTCP2_WINDOW}",
                                       f"--max-stream-window={NGTCP2_WINDOW}", "-d", src,
                                       a_addr, str(NGTCP2_PORT), key, cert], "gtlsserver")
        wait_port(lab.prefix("a"), "udp", NGTCP2_PORT, time.monotonic() + 10)
        procs.start(inet + ["twist3", "wormhole-mailbox",
                            f"--port=tcp:4000:interface={MAILBOX_IP}",
                            f"--channel-db={bench.workdir}/mailbox.sqlite"], "mailbox server")
        procs.start(inet + ["twist3", "transitrelay", f"--port=tcp:4001:interface={TRANSIT_IP}"],
                    "transit relay")
        wait_port(inet, "tcp", 4000, time.monotonic() + 30, MAILBOX_IP)
        wait_port(inet, "tcp", 4001, time.monotonic() + 30, TRANSIT_IP)
        servers = procs.procs[:]

        def record(key, what, call):
            bench.record(results, key, what, call, keep=servers)

        def tcp_to_coturn():
            established = subprocess.run(
                lab.prefix("e") + ["ss", "-Htn", "state", "established", "dst", coturn],
                capture_output=True, text=True).stdout
            if not established.strip():
                raise BenchError("the UDP-blocked sender has no TCP connection to coturn")

        try:
            for _ in range(args.runs):
                record("ferry", f"Ferry, lab {label}",
                       lambda: bench.ferry(source, env, lab.prefix("a"), lab.prefix("b")))
                record("ngtcp2", f"ngtcp2 example, lab {label}",
                       lambda: bench.ngtcp2(lab, source, a_addr))
                record("wormhole", f"magic-wormhole, lab {label}",
                       lambda: bench.wormhole(lab, source, env))
                if relayed:
                    record("turn-udp", f"Ferry via TURN/UDP, lab {label}",
                           lambda: bench.ferry(source, env, lab.prefix("c"), lab.prefix("d")))
                    record("turn-tcp", f"Ferry via TURN/TCP, lab {label}",
                           lambda: bench.ferry(source, env, lab.prefix("e"), lab.prefix("f"),
                                               at_offer=tcp_to_coturn))
        finally:
            procs.stop_all()
    tables.append(lab_table(args, label, rate, results, source))


# Tables ------------------------------------------------------------------------------

def verdict(value, target, higher_is_better=True):
    if value is None:
        return "–"
    return "met" if (value >= target if higher_is_better else value <= target) else "MISSED"


def row_time(results, key):
    times = [r["seconds"] for r in results.get(key, [])]
    return median(times), times


def cells(*values):
    return "| " + " | ".join(values) + " |"


def loopback_table(args, results, big, small):
    lines = [cells("Row (loopback, disk)", "Program", "Path", "Code entry → done", "Rate",
                   "Ratio", "Target"),
             "| --- | --- | --- | ---: | ---: | ---: | --- |"]

    def compare(label, key, anchor, rate, by_time, target, limit):
        """Ferry's line and its anchor's; the ratio is of speed, or of time (by_time)."""
        if key not in args.rows:
            return
        runs = results.get(f"{key}-ferry")
        path = runs[0]["path"] if runs else "–"
        ferry, ferry_all = row_time(results, f"{key}-ferry")
        pipe, pipe_all = row_time(results, f"{key}-pipe")
        ratio = None
        if ferry and pipe:
            ratio = ferry / pipe if by_time else pipe / ferry
        lines.append(cells(label, "Ferry (`ferry-cli`)", path,
                           fmt_s(ferry) + fmt_range(ferry_all),
                           rate(ferry) if ferry else "FAILED",
                           f"{ratio:.2f}× the anchor's {'time' if by_time else 'speed'}"
                           if ratio else "–",
                           f"{target}: {verdict(ratio, limit, not by_time)}"))
        lines.append(cells(label, anchor, "TCP", fmt_s(pipe) + fmt_range(pipe_all),
                           rate(pipe) if pipe else "FAILED", "anchor", ""))

    compare(f"one {big.size // MB} MB file", "big", "TLS 1.3 + BLAKE2b pipe (C, GnuTLS)",
            lambda t: f"{mbit(big.size, t):.0f} Mbit/s", False, "≥ 0.8× (goal ≥ 1.0×)", 0.8)
    compare(f"{small.files:,} files of 4 KiB", "small", "`tar c \\| pipe \\| tar x`",
            lambda t: f"{small.files / t:.0f} files/s", True, "≤ 2× (goal ≤ 1.25×)", 2)
    return ("### Loopback, real files\n\n" + "\n".join(lines) + "\n\n"
            f"Median of {args.runs} runs (range in brackets), the two programs of a row "
            "alternating. Ratio: Ferry's speed ÷ the anchor's, or for the small files Ferry's "
            "time ÷ the anchor's.\n"
            + where_time_goes([(f"{big.size // MB} MB", results.get("big-ferry", []), big.size),
                               ("small files", results.get("small-ferry", []), small.size)]))


def offer_table(args, results, big, small):
    lines = ["| Offer of | Send start → offer | Code entry → offer |",
             "| --- | ---: | ---: |"]
    rows = [("one 4 KiB file", "offer-tiny"),
            (f"one {big.size // MB} MB file", "big-ferry"),
            (f"one {args.offer_mb / 1000:g} GB file", "offer-big"),
            (f"{small.files:,} files of 4 KiB", "offer-small")]
    for label, key in rows:
        runs = results.get(key, [])
        if not runs:
            lines.append(f"| {label} | FAILED | FAILED |")
            continue
        send = [r["offer"] - r["send_start"] for r in runs]
        entry = [r["offer"] - r["entry"] for r in runs]
        lines.append(f"| {label} | {fmt_s(median(send))}{fmt_range(send)} | "
                     f"{fmt_s(median(entry))}{fmt_range(entry)} |")
    return ("### Time to offer (loopback)\n\n" + "\n".join(lines) + "\n\n"
            "From `ferry-cli send` starting — the receiver started the moment the code is "
            "printed — to the receiver's `offer` event, and from that code entry to it. Warm "
            "page cache (the files were just written). The sender reads no file's contents "
            "before it offers (transfer protocol 2: each file is hashed while it is sent).\n")


def rss_table(args, results):
    lines = ["| Moved (loopback, one file) | Sender peak RSS | Receiver peak RSS | Time |",
             "| --- | ---: | ---: | ---: |"]
    peaks = []
    for mib in args.rss_mib:
        runs = results.get(f"rss-{mib}", [])
        size = f"{mib} MiB" if mib < 1024 else f"{mib / 1024:g} GiB"
        if not runs:
            lines.append(f"| {size} | FAILED | FAILED | |")
            continue
        send, recv = runs[0]["rss"]
        peaks.append((send, recv))
        lines.append(f"| {size} | {send / 1024:.1f} MiB | {recv / 1024:.1f} MiB | "
                     f"{fmt_s(runs[0]['seconds'])} |")
    note = ""
    if len(peaks) == len(args.rss_mib) and len(peaks) > 1:
        growth = max(peaks[-1][0] / peaks[0][0], peaks[-1][1] / peaks[0][1])
        note = (f"Growth from the smallest to the largest: {growth:.2f}× — target flat "
                f"(≤ 1.10×): {verdict(growth, 1.10, False)}.\n")
    return ("### Peak RSS of both Ferry sides\n\n" + "\n".join(lines) + "\n\n"
            "wait4()'s ru_maxrss of each `ferry-cli`. " + note)


def where_time_goes(rows, link_mbit=None):
    """Each Ferry run split at the offer and the first byte, with both sides' CPU time and,
    on a link of known rate, how soon the progress rate reached RAMP_SHARE of it."""
    detail = []
    for name, runs, size in rows:
        for r in runs:
            if not r.get("progress"):
                continue
            first, first_bytes = r["progress"][0]
            data_s = r["done"] - first
            ramp = "–"
            if link_mbit:
                found = ramp_up(r["progress"], first, link_mbit)
                ramp = f"{found[0]:.2f} s, {found[1] / MB:.1f} MB" if found else "never"
            cpu = " / ".join("?" if c is None else f"{c:.2f} s" for c in r["cpu"])
            detail.append(cells(name, fmt_s(r["offer"] - r["entry"]), fmt_s(first - r["entry"]),
                                fmt_s(data_s), f"{mbit(size - first_bytes, data_s):.1f} Mbit/s",
                                ramp, cpu))
    if not detail:
        return ""
    return ("\nWhere Ferry's time goes, each run (first progress: the receiver's first "
            "`progress` event, then one at most every 250 ms; data rate: the bytes after it ÷ "
            "the time after it; CPU: user + system time of the whole run of each "
            "`ferry-cli`):\n\n"
            + cells("Ferry", "Code entry → offer", "→ first progress", "First progress → done",
                    "Data rate", f"Progress rate ≥ {RAMP_SHARE:.0%} of the link after",
                    "CPU sender / receiver")
            + "\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(detail) + "\n")


def lab_table(args, label, rate, results, source):
    lines = [f"| Program (lab {label}) | Path | Code entry → done | Rate | Ratio | Target |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    ferry, ferry_all = row_time(results, "ferry")
    ngtcp2, ngtcp2_all = row_time(results, "ngtcp2")
    wormhole, wormhole_all = row_time(results, "wormhole")

    def line(name, key, value, values, ratio_text, target):
        runs = results.get(key, [])
        if value is None:
            lines.append(f"| {name} | – | FAILED | | | |")
            return
        path = runs[0].get("path", "?")
        if runs[0].get("relay"):
            path += f" via {runs[0]['relay']}"
        lines.append(f"| {name} | {path} | {fmt_s(value)}{fmt_range(values)} | "
                     f"{mbit(source.size, value):.1f} Mbit/s | {ratio_text} | {target} |")

    vs_ngtcp2 = ngtcp2 / ferry if ferry and ngtcp2 else None
    vs_wormhole = wormhole / ferry if ferry and wormhole else None
    line("Ferry (`ferry-cli`)", "ferry", ferry, ferry_all,
         (f"{vs_ngtcp2:.2f}× ngtcp2" if vs_ngtcp2 else "–") + ", "
         + (f"{vs_wormhole:.2f}× wormhole" if vs_wormhole else "–"),
         f"≥ 0.95× ngtcp2: {verdict(vs_ngtcp2, 0.95)}; > 1.0× wormhole: "
         + ("met" if vs_wormhole and vs_wormhole > 1.0 else "MISSED" if vs_wormhole else "–"))
    line("ngtcp2 example (`gtlsclient`/`gtlsserver --cc=bbr2`)", "ngtcp2", ngtcp2, ngtcp2_all,
         "anchor", "")
    line("magic-wormhole 0.12 (TCP BBR)", "wormhole", wormhole, wormhole_all, "anchor", "")
    if "turn-udp" in results or "turn-tcp" in results:
        udp, udp_all = row_time(results, "turn-udp")
        tcp, tcp_all = row_time(results, "turn-tcp")
        r_udp = ferry / udp if ferry and udp else None
        r_tcp = ferry / tcp if ferry and tcp else None
        line("Ferry via coturn, TURN over UDP (hard \\| hard NAT)", "turn-udp", udp, udp_all,
             f"{r_udp:.2f}× Ferry direct" if r_udp else "–",
             f"≥ 0.9× direct: {verdict(r_udp, 0.9)}")
        line("Ferry via coturn, TURN over TCP (UDP-blocked \\| easy NAT)", "turn-tcp", tcp,
             tcp_all, f"{r_tcp:.2f}× Ferry direct" if r_tcp else "–", "shown")

    text = (f"### Lab link {label}, {source.size // MB} MB\n\n" + "\n".join(lines) + "\n\n"
            f"Median of {args.runs} runs (range in brackets), the programs alternating on the "
            "same lab link. Ratio: Ferry's speed ÷ the anchor's.\n")
    text += where_time_goes([("direct", results.get("ferry", []), source.size),
                             ("TURN/UDP", results.get("turn-udp", []), source.size),
                             ("TURN/TCP", results.get("turn-tcp", []), source.size)], rate)
    return text


def main():
    parser = argparse.ArgumentParser(description="Ferry end to end against its anchors.")
    parser.add_argument("--cli", required=True)
    parser.add_argument("--rendezvous", required=True)
    parser.add_argument("--pipe", required=True, help="ferry-tls-pipe")
    parser.add_argument("--lab-sh", required=True)
    parser.add_argument("--output", help="also write the Markdown tables here")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="where the files are made and received (a disk, not tmpfs)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["loopback", "lab"])
    parser.add_argument("--rows", nargs="+", choices=LOOPBACK_ROWS, default=LOOPBACK_ROWS,
                        help="which loopback rows to run (all by default)")
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--small-files", type=int, default=10000)
    parser.add_argument("--offer-mb", type=int, default=2000)
    parser.add_argument("--rss-mib", type=int, nargs="+", default=[64, 4096])
    parser.add_argument("--lab-mb", type=int, default=48)
    args = parser.parse_args()
    on_sigterm_raise()

    tables = []
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="ferry-e2e-", dir=args.workdir)
    fstype = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", workdir],
                            capture_output=True, text=True).stdout.split()
    fstype = " on ".join(fstype) or "?"
    try:
        with Procs() as procs:
            bench = Bench(args, workdir, procs)
            if args.only in (None, "loopback"):
                loopback_rows(bench, tables)
            if args.only in (None, "lab"):
                usable, why = lab_usable(args.lab_sh)
                if usable:
                    for link in LINKS:
                        lab_link_rows(bench, link, tables)
                else:
                    print("\n######## NOT ROOT OR NO NETWORK NAMESPACES: THE LAB ROWS DID NOT "
                          f"RUN ({why}) ########\n", file=sys.stderr)
                    tables.append(f"**The lab rows did not run: {why}.** Run as root.\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    text = "\n".join(tables)
    text += (f"\nFiles on {fstype} ({args.workdir}), both sides. "
             f"{time.monotonic() - started:.0f} s in all.\n")
    if bench.failures:
        text += "\n**FAILED:**\n\n" + "".join(f"- {f}\n" for f in bench.failures)
    print("\n" + text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as output:
            output.write(text)
    if bench.failures:
        print("\n!!!!! A RUN FAILED OR MOVED WRONG BYTES: see above. !!!!!", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
