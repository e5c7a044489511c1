"""torsiond as a daemon, its pid file, errors at start-up and on the command line.

A daemonised torsiond is not our child: it is watched through its pid file and /proc, and
signalled only by the pid that file names after checking that the pid is a torsiond.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat

import pytest

from helpers import free_port, need, pid_alive, run, tcp_listening, wait_for

pytestmark = pytest.mark.daemon


def is_torsiond(pid: int, binary: str) -> bool:
    try:
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(binary)
    except OSError:
        return False


@pytest.fixture
def daemon_pids(torsiond_bin):
    """Pids of daemons a test started; any still alive at the end is killed (by pid, once it is
    confirmed to be a torsiond)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid) and is_torsiond(pid, torsiond_bin):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def read_pid(path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def echo_args(port: int) -> list:
    return ["wire", "--echo", f"tcp:{port}:interface=127.0.0.1"]


def test_daemon_starts_detached_and_sigterm_removes_its_pid_file(torsiond_bin, tmp_path,
                                                                 daemon_pids):
    need("nc")
    port = free_port()
    pidfile, logfile = tmp_path / "d.pid", tmp_path / "d.log"
    # capture: the launcher's pipes reach EOF only if the daemon let go of them, so a daemon
    # that kept stdout open would make this time out.
    launcher = run([torsiond_bin, "--pidfile", pidfile, "-l", logfile, *echo_args(port)],
                   cwd=tmp_path, timeout=15)
    pid = read_pid(pidfile)
    if pid:
        daemon_pids.append(pid)
    assert launcher.returncode == 0, launcher.stderr
    # "Started" means listening already: no waiting here.
    assert tcp_listening(port)
    assert pid is not None and pid_alive(pid) and is_torsiond(pid, torsiond_bin)
    # Detached: another session, no controlling terminal of ours, parent gone.
    assert os.getsid(pid) != os.getsid(0)
    assert os.getsid(pid) != pid  # the double fork: not a session leader either
    r = run(["nc", "-N", "127.0.0.1", port], input=b"daemon echo\n")
    assert r.stdout == b"daemon echo\n"
    # twistd's umask 0077 when none is given: the log file is private.
    assert stat.S_IMODE(logfile.stat().st_mode) & 0o077 == 0
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), 10, "the daemon to exit on SIGTERM")
    wait_for(lambda: not pidfile.exists(), 5, "the pid file to be removed")
    assert not tcp_listening(port)
    assert "Main loop terminated" in logfile.read_text()


def test_port_in_use_is_reported_by_the_launching_command(torsiond_bin, tmp_path, daemon_pids):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pidfile = tmp_path / "d.pid"
        r = run([torsiond_bin, "--pidfile", pidfile, "-l", tmp_path / "d.log",
                 *echo_args(port)], cwd=tmp_path, timeout=15)
        pid = read_pid(pidfile)
        if pid:
            daemon_pids.append(pid)
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = r.stderr.decode()
    assert str(port) in err and "in use" in err, err
    wait_for(lambda: not pidfile.exists(), 5, "no pid file to be left behind")


def test_port_in_use_in_the_foreground(torsiond_bin, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run([torsiond_bin, "-n", "--pidfile", tmp_path / "d.pid", "-l", tmp_path / "d.log",
                 *echo_args(port)], cwd=tmp_path, timeout=15)
    assert r.returncode == 1
    assert f"127.0.0.1:{port}: Address already in use" in r.stderr.decode(), r.stderr
    assert not (tmp_path / "d.pid").exists()


def test_a_live_pid_file_refuses_a_second_instance(torsiond, torsiond_bin, tmp_path):
    port = free_port()
    first = torsiond(*echo_args(port), ready=[port])
    assert read_pid(first.pidfile) == first.pid
    r = run([torsiond_bin, "-n", "--pidfile", first.pidfile, "-l", tmp_path / "second.log",
             *echo_args(free_port())], cwd=tmp_path, timeout=15)
    assert r.returncode == 1
    assert str(first.pid) in r.stderr.decode(), r.stderr
    # The first one and its pid file are untouched.
    assert first.alive() and read_pid(first.pidfile) == first.pid


def test_a_stale_pid_file_is_replaced(torsiond, tmp_path):
    port = free_port()
    workdir = tmp_path / "torsiond0"
    workdir.mkdir()
    (workdir / "torsiond.pid").write_text("999999999\n")  # above any pid_max
    server = torsiond(*echo_args(port), ready=[port])
    assert read_pid(server.pidfile) == server.pid


def test_foreground_sigterm_removes_the_pid_file(torsiond):
    port = free_port()
    server = torsiond(*echo_args(port), ready=[port])
    assert server.pidfile.exists()
    assert server.stop() == 0
    assert not server.pidfile.exists()
    assert "Received SIGTERM" in server.log_text()


@pytest.mark.parametrize("args, names", [
    (["nosuchplugin"], "nosuchplugin"),
    (["wire", "--echo", "bogus:7"], "bogus"),
    (["portforward", "-p", "tcp:notaport", "-d", "1"], "notaport"),
    (["portforward", "--no-such-option"], "--no-such-option"),
    (["socks", "--user", "nopassword"], "nopassword"),
])
def test_bad_command_lines_get_one_line_and_status_2(torsiond_bin, tmp_path, args, names):
    r = run([torsiond_bin, "-n", "-l", tmp_path / "log", *args], cwd=tmp_path, timeout=15)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and names in lines[0], lines


def test_help_lists_the_relay_plugins(torsiond_bin):
    r = run([torsiond_bin, "--help"])
    assert r.returncode == 0
    out = r.stdout.decode()
    for plugin in ("portforward", "socks", "wire"):
        assert plugin in out, out
    r = run([torsiond_bin, "portforward", "--help"])
    assert r.returncode == 0
    assert "--dest_port" in r.stdout.decode() and "--connect" in r.stdout.decode()
