# bench/ferrybench.py — what the benchmarks that run the real programs share.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Proc: a child process whose output lines are read by threads as they come, each with the
#   monotonic time it arrived, and which is reaped with wait4() so its peak RSS is known.
#   Every Proc is registered in a Procs set that stops them all, also when the benchmark
#   fails or gets SIGTERM (meson's timeout).
# Lab: tests/netlab/lab.sh serve held open; its namespaces go when it is closed or when this
#   process dies (the script watches its stdin).
# Waiting is always on an event with a deadline: a line a server prints, or a listening port.

import hashlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

TIME = "/usr/bin/time"


class BenchError(RuntimeError):
    """A benchmark that cannot give an honest number: wrong bytes, a failed run."""


def on_sigterm_raise():
    """meson's timeout sends SIGTERM: unwind, so every finally stops what it started."""
    def handler(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


class LineReader:
    """Reads a binary pipe line by line in a thread; keeps (time, line) pairs."""

    def __init__(self, pipe, name):
        self.lines = []
        self.name = name
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe):
        for raw in pipe:
            self._queue.put((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
        self._queue.put(None)
        pipe.close()

    def next(self, deadline):
        """The next (time, line), or None at end of file."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{self.name}: nothing in time")
        try:
            item = self._queue.get(timeout=left)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: nothing in time") from None
        if item is not None:
            self.lines.append(item)
        return item

    def wait_for(self, predicate, deadline, what):
        """Returns the first (time, line) from now on for which predicate(line) holds."""
        while True:
            item = self.next(deadline)
            if item is None:
                raise BenchError(f"{self.name} ended before {what}; its last lines: "
                                 + " | ".join(line for _, line in self.lines[-5:]))
            if predicate(item[1]):
                return item

    def drain(self, timeout=5):
        """Everything up to end of file (after the process exited)."""
        deadline = time.monotonic() + timeout
        try:
            while self.next(deadline) is not None:
                pass
        except TimeoutError:
            pass
        return self.lines


class Proc:
    """A started program, in a process group of its own. stdout and stderr are read by
    LineReaders unless redirected. With rss, GNU time measures its peak RSS and CPU time:
    wait4()'s own ru_maxrss would count the Python image the child was forked from."""

    def __init__(self, procs, argv, name, env=None, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, rss=False):
        self.name = name
        self.argv = argv
        self.peak_rss_kib = None
        self.cpu_s = None           # user + system time
        self._rss_file = None
        if rss and os.access(TIME, os.X_OK):
            fd, self._rss_file = tempfile.mkstemp(prefix="ferry-rss-")
            os.close(fd)
            argv = [TIME, "-f", "%M %U %S", "-o", self._rss_file] + list(argv)
        self.started = time.monotonic()
        self.popen = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                      env=env, start_new_session=True)
        self.out = LineReader(self.popen.stdout, f"{name} (stdout)") if stdout == subprocess.PIPE else None
        self.err = LineReader(self.popen.stderr, f"{name} (stderr)") if stderr == subprocess.PIPE else None
        self.exited = None          # monotonic time of exit
        self.status = None          # exit code, or -signal
        self._reaped = threading.Event()
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()
        procs.add(self)

    def _reap(self):
        _, status = os.waitpid(self.popen.pid, 0)
        self.exited = time.monotonic()
        self.status = os.waitstatus_to_exitcode(status)
        # Popen must not wait for a pid that is gone.
        self.popen.returncode = self.status
        if self._rss_file:
            with open(self._rss_file) as f:
                last = f.read().split()
            os.remove(self._rss_file)
            # GNU time's last line; a line before it says why the child died, if it did.
            if len(last) >= 3 and last[-3].isdigit():
                self.peak_rss_kib = int(last[-3])
                self.cpu_s = float(last[-2]) + float(last[-1])
        self._reaped.set()

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return not self._reaped.is_set()

    def wait(self, deadline, ok=True):
        """Waits for the exit; with ok, anything but status 0 is an error."""
        if not self._reaped.wait(max(0, deadline - time.monotonic())):
            raise TimeoutError(f"{self.name} did not exit in time")
        if ok and self.status != 0:
            raise BenchError(f"{self.name} exited with {self.status}; {self.tail()}")
        return self.status

    def tail(self):
        lines = []
        for reader in (self.out, self.err):
            if reader is not None:
                lines += [line for _, line in reader.lines[-4:]]
        return "last lines: " + " | ".join(lines)

    def stop(self):
        """Kills the program and whatever it started (its process group)."""
        if self.running():
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reaped.wait(10)

    def wait_event(self, name, deadline):
        """ferry-cli --json: the first event called name; (event, time). An error event
        or the end of the program before it is an error."""
        while True:
            item = self.out.next(deadline)
            if item is None:
                raise BenchError(f"{self.name} ended before its {name!r} event; {self.tail()}")
            stamp, line = item
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == name:
                return event, stamp
            if event.get("event") == "error":
                raise BenchError(f"{self.name} failed: {line}")

    def events(self, name=None):
        """Every JSON event read so far, as (time, event)."""
        found = []
        for stamp, line in self.out.lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                found.append((stamp, event))
        return found


class Procs:
    """Every process a benchmark started; stop_all() ends those still running."""

    def __init__(self):
        self.procs = []

    def add(self, proc):
        self.procs.append(proc)

    def start(self, argv, name, **kwargs):
        return Proc(self, argv, name, **kwargs)

    def stop_all(self, keep=()):
        """Stops every process but those in keep (servers that serve several runs)."""
        for proc in reversed(self.procs):
            if proc not in keep:
                proc.stop()
        self.procs = [proc for proc in self.procs if proc in keep]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()


def start_rendezvous(procs, rendezvous, prefix, listen, extra=(), env=None):
    """ferry-rendezvous, waited for by its "listening on URL" line; (proc, url)."""
    proc = procs.start(prefix + [rendezvous, "--listen", listen] + list(extra),
                       "ferry-rendezvous", env=env if env is not None else dict(os.environ),
                       stderr=subprocess.DEVNULL)
    _, line = proc.out.wait_for(lambda l: l.startswith("listening on "),
                                time.monotonic() + 10, "listening")
    return proc, line[len("listening on "):]


def start_lab_rendezvous(procs, rendezvous, lab):
    """ferry-rendezvous in the lab's internet, handing out the lab's coturn (STUN, TURN over
    UDP and over TCP) with credentials from its secret; its URL."""
    coturn = lab.get("coturn")
    env = dict(os.environ, FERRY_TURN_SECRET=lab.get("turn-secret"))
    _, url = start_rendezvous(procs, rendezvous, lab.prefix("inet"),
                              lab.get("rendezvous") + ":4477",
                              ["--stun", f"stun:{coturn}",
                               "--turn", f"turn:{coturn}?transport=udp",
                               "--turn", f"turn:{coturn}?transport=tcp"], env=env)
    return url


def wait_port(prefix, proto, port, deadline, address=None):
    """Polls ss until something listens on proto ("tcp"/"udp") port, in prefix's namespace:
    nothing else tells us when another program has bound its socket."""
    flag = "-Hltn" if proto == "tcp" else "-Hlun"
    query = f"src {address}:{port}" if address else f"sport = :{port}"
    while True:
        out = subprocess.run(prefix + ["ss", flag, query], capture_output=True, text=True)
        if out.stdout.strip():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {proto} {address or ''}:{port}")
        time.sleep(0.02)


class Lab:
    """The NAT lab: `lab.sh serve [--coturn] HOST:KIND…`, held until close()."""

    def __init__(self, lab_sh, hosts, coturn=False):
        self.info = {}
        self.proc = subprocess.Popen(["bash", lab_sh, "serve"] + (["--coturn"] if coturn else [])
                                     + list(hosts),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ))
        try:
            for line in self.proc.stdout:
                line = line.strip()
                if line == "ready":
                    break
                key, name, value = line.split(" ", 2)
                self.info[(key, name)] = value
            else:
                raise BenchError("the lab did not come up")
        except BaseException:
            self.close()
            raise

    def get(self, key, name="-"):
        return self.info[(key, name)]

    def prefix(self, host):
        return ["ip", "netns", "exec", self.get("ns", host)]

    def netem(self, host, delay_ms=0, loss_percent=0, rate=None, inbound=False):
        """Shapes every packet leaving host's namespace (lab_netem), and with inbound
        those delivered to it too."""
        command = f"netem {host} -d {delay_ms} -l {loss_percent}"
        if rate:
            command += f" -r {rate}"
        if inbound:
            command += " -i"
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise BenchError(f"the lab could not do: {command}")

    def close(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def lab_usable(lab_sh):
    """(True, "") when a lab can be built here, else (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    out = subprocess.run(["bash", lab_sh, "check"], capture_output=True, text=True)
    return out.returncode == 0, out.stdout.strip()


def blake2b_file(path):
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return digest.hexdigest()
            digest.update(chunk)


def tree_digests(root):
    """{relative path: BLAKE2b-256} of every regular file below root."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = blake2b_file(path)
    return found


def write_random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 16 << 20)
            f.write(os.urandom(n))
            left -= n
