#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs ferry-load against real servers on 127.0.0.1 and writes the table.

Scenarios: one ferry-rendezvous in memory, one on Redis, two on one Redis
(the sides of each pair on different instances), and magic-wormhole's
mailbox server as the anchor when it is installed. Every process is started
here on a free loopback port and stopped at the end; every wait has a
deadline, so a stuck server fails the run instead of hanging it.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

START_TIMEOUT = 15  # seconds for a server to say it is up

# Limits out of the way: the load comes from one address.
RENDEZVOUS_LIMITS = [
    "--allocations-per-minute", "100000000",
    "--max-mailboxes-per-address", "100000",
    "--max-mailboxes", "999999",
    "--joins-per-minute", "100000000",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drain(stream, log):
    """Keeps a child's pipe flowing so it never blocks on a full pipe."""
    for line in stream:
        log.write(line)
    stream.close()


class Server:
    def __init__(self, name, argv, ready, logdir):
        self.name = name
        self.log = open(os.path.join(logdir, name + ".log"), "w")
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.line = self._wait_for(ready)
        threading.Thread(target=drain, args=(self.process.stdout, self.log),
                         daemon=True).start()

    def _wait_for(self, ready):
        result = {}

        def read():
            for line in self.process.stdout:
                self.log.write(line)
                if ready in line:
                    result["line"] = line.strip()
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if "line" not in result:
            self.stop()
            raise RuntimeError(f"{self.name} did not start (see {self.log.name})")
        return result["line"]

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=START_TIMEOUT)
        self.log.close()


def start_redis(logdir, tmp):
    port = free_port()
    server = Server("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp,
                              "--daemonize", "no"],
                    "Ready to accept connections", logdir)
    return server, f"redis://127.0.0.1:{port}"


def start_rendezvous(binary, name, redis_url, logdir):
    argv = [binary, "--listen", "127.0.0.1:0"] + RENDEZVOUS_LIMITS
    if redis_url:
        argv += ["--redis", redis_url]
    server = Server(name, argv, "listening on ", logdir)
    return server, server.line[len("listening on "):].rstrip("/")


def start_wormhole(logdir):
    twist = shutil.which("twist")
    if twist is None:
        return None, None
    try:
        import wormhole_mailbox_server  # noqa: F401
    except ImportError:
        return None, None
    port = free_port()
    server = Server("wormhole", [twist, "--log-format=text", "wormhole-mailbox",
                                 f"--port=tcp:{port}:interface=127.0.0.1",
                                 "--channel-db=:memory:", "--usage-db="],
                    "Starting", logdir)
    # twist says "Starting" before it listens; wait for the port.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("wormhole-mailbox did not listen")


def run_load(args, urls, pids, protocol):
    argv = [args.load, "--protocol", protocol, "--pairs", str(args.pairs),
            "--concurrency", str(args.concurrency), "--idle", str(args.idle),
            "--time-limit", str(args.time_limit)]
    for url in urls:
        argv += ["--url", url]
    for pid in pids:
        argv += ["--pid", str(pid)]
    # The load generator bounds itself; this bounds it again from outside.
    done = subprocess.run(argv, capture_output=True, text=True,
                          timeout=2 * args.time_limit + 30)
    sys.stderr.write(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["ok"] = done.returncode == 0
    return result


def scenario(args, name, logdir, tmp):
    servers = []
    try:
        if name == "wormhole":
            server, url = start_wormhole(logdir)
            if server is None:
                return None
            servers.append(server)
            return run_load(args, [url], [server.pid], "wormhole")

        redis_url = None
        if name != "memory":
            redis, redis_url = start_redis(logdir, tmp)
            servers.append(redis)
        urls = []
        for i in range(2 if name == "redis-2" else 1):
            server, url = start_rendezvous(args.rendezvous, f"{name}-{i}", redis_url, logdir)
            servers.append(server)
            urls.append(url)
        return run_load(args, urls, [s.pid for s in servers], "ferry")
    finally:
        for server in reversed(servers):
            server.stop()


LABELS = {
    "memory": "1 instance, in memory",
    "redis-1": "1 instance on Redis",
    "redis-2": "2 instances on one Redis",
    "wormhole": "magic-wormhole mailbox server",
}


def table(results, args):
    lines = [
        f"`bench/load/run-load.py` ({args.pairs} pairs, {args.concurrency} at once, "
        f"{args.idle} waiting codes held meanwhile):",
        "",
        "| Setup | sessions/s | allocate p50/p99 ms | join p50/p99 ms | "
        "join → first p50/p99 ms | exchange p99 ms | failed | KiB per waiting code | "
        "peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results:
        if r is None:
            lines.append(f"| {LABELS[name]} | not run: python3-magic-wormhole-mailbox-server "
                         "is not installed | | | | | | | |")
            continue
        lines.append(
            f"| {LABELS[name]} | {r['sessions_per_s']:.0f} "
            f"| {r['allocate_p50_ms']:.1f} / {r['allocate_p99_ms']:.1f} "
            f"| {r['join_p50_ms']:.1f} / {r['join_p99_ms']:.1f} "
            f"| {r['join_to_first_p50_ms']:.1f} / {r['join_to_first_p99_ms']:.1f} "
            f"| {r['exchange_p99_ms']:.1f} "
            f"| {r['failed'] + r['idle_failed']} "
            f"| {r['idle_kib_per_code']:.1f} "
            f"| {r['peak_rss_kib'] / 1024:.0f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load", required=True, help="the ferry-load binary")
    parser.add_argument("--rendezvous", required=True, help="the ferry-rendezvous binary")
    parser.add_argument("--output", help="where to write the Markdown table")
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--time-limit", type=int, default=60)
    parser.add_argument("--only", choices=list(LABELS), action="append")
    args = parser.parse_args()

    # Every side is a socket, in the servers and in the load generator.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    results = []
    with tempfile.TemporaryDirectory(prefix="ferry-load-") as tmp:
        logdir = os.path.join(tmp, "logs")
        os.mkdir(logdir)
        for name in args.only or list(LABELS):
            print(f"run-load: {LABELS[name]}", file=sys.stderr, flush=True)
            results.append((name, scenario(args, name, logdir, tmp)))
            if results[-1][1] is not None and not results[-1][1]["ok"]:
                for log in sorted(os.listdir(logdir)):
                    print(f"--- {log} (tail)", file=sys.stderr)
                    with open(os.path.join(logdir, log)) as f:
                        sys.stderr.writelines(f.readlines()[-20:])

    text = table(results, args)
    print(text)
    for name, r in results:
        if r is not None:
            print(json.dumps({"setup": name, **r}), file=sys.stderr)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0 if all(r is None or r["ok"] for _, r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
