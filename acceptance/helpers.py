"""Helpers for torsion's black-box tests: the torsiond process, ports, real client programs,
and small targets (HTTP site, TCP/UNIX servers) that the relays under test connect to.

Everything is on 127.0.0.1 or a UNIX socket in the test's own directory, and every wait has a
deadline. Processes are only ever signalled by the pid we started.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
LISTEN_STATE = "0A"  # TCP_LISTEN in /proc/net/tcp
SO_ACCEPTCON = 0x10000  # a listening socket in /proc/net/unix


# ---- ports and readiness -----------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice, so rarely reused soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def tcp_listening(port: int) -> bool:
    """Whether some socket listens on TCP `port`, read from /proc so that checking does not
    open a connection (a connection to a relay would reach its target and be counted there)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(wanted) and fields[3] == LISTEN_STATE:
                        return True
        except FileNotFoundError:
            continue
    return False


def unix_listening(path) -> bool:
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == str(path) and int(fields[3], 16) & SO_ACCEPTCON:
                return True
    return False


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


# ---- data ----------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def random_file(path, size: int) -> Path:
    """`size` bytes of random data (written in 1 MiB blocks)."""
    path = Path(path)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    return path


# ---- real clients --------------------------------------------------------------------------


def need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip("not installed: " + ", ".join(missing) + " (scripts/install-deps)")


def run(argv, *, input: bytes | None = None, stdin=None, timeout: float = 30,
        cwd=None) -> subprocess.CompletedProcess:
    """Runs a client program to completion with a hard time limit; a timeout is a test failure
    that shows what the client had printed."""
    if input is None and stdin is None:
        stdin = subprocess.DEVNULL
    try:
        return subprocess.run([str(a) for a in argv], input=input, stdin=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{argv[0]} did not finish within {timeout}s: {argv}\n"
                             f"stdout: {(e.stdout or b'')[:300]!r}\n"
                             f"stderr: {(e.stderr or b'')[:300]!r}") from None


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> int:
    """SIGTERM to proc's pid, then SIGKILL if it has not exited after `grace` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(grace)
    return proc.returncode


class Background:
    """A helper program (socat as a target, nc reading chargen) run for the length of a
    `with` block and stopped by its pid at the end."""

    def __init__(self, argv, cwd=None, stdout=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        self.proc = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=stdout, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop_process(self.proc)
        if self.proc.stderr:
            self.proc.stderr.close()
        if self.proc.stdout:
            self.proc.stdout.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv} still running after {timeout}s") from None


# ---- torsiond ------------------------------------------------------------------------------


class StartError(AssertionError):
    """torsiond exited or never listened."""


class Torsiond:
    """One `torsiond -n` in its own directory (pid file, log file and output there).

    `ready` lists what it must listen on before start() returns: TCP ports (int) or UNIX
    socket paths (str/Path)."""

    def __init__(self, binary: str, workdir: Path, args, ready=()):
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pidfile = self.workdir / "torsiond.pid"
        self.logfile = self.workdir / "torsiond.log"
        self.output = self.workdir / "output.txt"
        self.argv = [binary, "-n", "--pidfile", str(self.pidfile), "-l", str(self.logfile),
                     *[str(a) for a in args]]
        self.ready = list(ready)
        self.proc: subprocess.Popen | None = None
        self.exit_status: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 15) -> "Torsiond":
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        pending = list(self.ready)
        while pending:
            if self.proc.poll() is not None:
                raise StartError(f"torsiond exited with status {self.proc.returncode} before "
                                 f"listening\n{self.describe()}")
            pending = [r for r in pending if not self._listening(r)]
            if not pending:
                break
            if time.monotonic() >= deadline:
                self.stop()
                raise StartError(f"torsiond not listening on {pending} after {timeout}s\n"
                                 f"{self.describe()}")
            time.sleep(0.02)
        return self

    @staticmethod
    def _listening(what) -> bool:
        return tcp_listening(what) if isinstance(what, int) else unix_listening(what)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM (a graceful stop), SIGKILL after 5 s; returns the exit status."""
        if self.proc is not None and self.exit_status is None:
            self.exit_status = stop_process(self.proc)
        return self.exit_status

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self, tail: int = 3000) -> str:
        parts = ["command: " + " ".join(self.argv)]
        for label, path in (("output", self.output), ("log", self.logfile)):
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            parts.append(f"--- torsiond {label} ---\n{text[-tail:]}")
        return "\n".join(parts)


# ---- targets -------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class HttpSite:
    """A threaded HTTP server on 127.0.0.1 serving a directory; counts the requests it got
    (so a test can tell that a refused proxy request never reached it)."""

    def __init__(self, directory):
        site = self

        class Handler(_QuietHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(directory), **kw)

            def do_GET(self):
                with site.lock:
                    site.requests += 1
                super().do_GET()

        self.lock = threading.Lock()
        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class Target:
    """A threaded stream server (TCP on 127.0.0.1, or a UNIX socket when `path` is given).
    `handler(conn, record)` serves one connection; `record` is a dict it may fill, kept in
    `records` in accept order. Every accept and recv is bounded."""

    def __init__(self, handler, path=None):
        self.handler = handler
        if path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((LOOPBACK, 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
            self.port = None
        self.path = path
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.records: list[dict] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.acceptor.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.acceptor.join(5)
        for t in list(self.threads):
            t.join(5)
        self.sock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(30)
            record: dict = {}
            with self.lock:
                self.records.append(record)
            t = threading.Thread(target=self._serve, args=(conn, record), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn, record):
        try:
            self.handler(conn, record)
        except Exception as e:  # the test inspects it
            record["error"] = repr(e)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            record["done"] = True

    def finished(self, count: int = 1, timeout: float = 10) -> list[dict]:
        """Waits until `count` connections have been served completely."""
        wait_for(lambda: sum(1 for r in self.records if r.get("done")) >= count, timeout,
                 f"{count} connection(s) served by the target")
        return self.records


def read_to_eof(conn: socket.socket, timeout: float = 30) -> tuple[bytes, bool]:
    """Everything until EOF; (data, True) on EOF, (data, False) on a reset or the deadline."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while time.monotonic() < deadline:
        conn.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
        try:
            block = conn.recv(1 << 16)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(data), False
        if not block:
            return bytes(data), True
        data += block
    return bytes(data), False


def digest_then_reply(conn: socket.socket, record: dict) -> None:
    """Reads until the client half-closes, then answers with the length and SHA-256 of what
    arrived (so the answer can only come after EOF) and closes."""
    data, eof = read_to_eof(conn)
    record.update(size=len(data), sha256=sha256(data), eof=eof)
    if eof:
        conn.sendall(f"{len(data)} {sha256(data)}\n".encode())


def echo(conn: socket.socket, record: dict) -> None:
    total = 0
    while True:
        block = conn.recv(1 << 16)
        if not block:
            break
        total += len(block)
        conn.sendall(block)
    record["size"] = total
