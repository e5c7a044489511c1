"""torsiond wire: the small inetd services (RFC 862-868), with nc as the client."""

from __future__ import annotations

import datetime
import os
import re
import select
import subprocess
import time

import pytest

from helpers import Background, Torsiond, free_port, need, random_file, run, sha256

pytestmark = pytest.mark.wire

SERVICES = ("echo", "discard", "chargen", "daytime", "qotd", "time")
SECONDS_1900_TO_1970 = 2_208_988_800


@pytest.fixture(scope="module")
def wire(torsiond_bin, tmp_path_factory):
    """One torsiond serving every service for the whole module; {service: port}."""
    ports = {name: free_port() for name in SERVICES}
    args = ["wire"]
    for name, port in ports.items():
        args += [f"--{name}", f"tcp:{port}:interface=127.0.0.1"]
    server = Torsiond(torsiond_bin, tmp_path_factory.mktemp("wire"), args, list(ports.values()))
    server.start()
    yield ports
    alive = server.alive()
    status = server.stop()
    assert not alive or status == 0, f"exit status {status} on SIGTERM\n{server.describe()}"


def nc(port, *, input=b"", timeout=15):
    need("nc")
    return run(["nc", "-N", "127.0.0.1", port], input=input, timeout=timeout)


def test_echo_sends_lines_back(wire):
    text = b"".join(b"echo line %d\r\n" % i for i in range(500))
    r = nc(wire["echo"], input=text)
    assert r.returncode == 0, r.stderr
    assert r.stdout == text


def test_echo_sends_binary_data_back(wire, tmp_path):
    data = random_file(tmp_path / "data.bin", 1 << 20).read_bytes()
    r = nc(wire["echo"], input=data)
    assert len(r.stdout) == len(data)
    assert sha256(r.stdout) == sha256(data)


def test_discard_answers_nothing(wire):
    r = nc(wire["discard"], input=b"x" * 500_000)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""


def test_daytime_sends_the_utc_time_and_closes(wire):
    r = nc(wire["daytime"])
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(rb"(\w{3}) (\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) (\d{4})\r\n", r.stdout)
    assert m, r.stdout
    sent = datetime.datetime.strptime(
        " ".join(part.decode().strip() for part in m.groups()), "%a %b %d %H:%M:%S %Y")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - sent).total_seconds()) < 120


def test_time_sends_seconds_since_1900_and_closes(wire):
    r = nc(wire["time"])
    assert len(r.stdout) == 4, r.stdout
    sent = int.from_bytes(r.stdout, "big")
    assert abs(sent - (int(time.time()) + SECONDS_1900_TO_1970) % (1 << 32)) < 120


def test_qotd_sends_a_quote_and_closes(wire):
    r = nc(wire["qotd"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), r.stdout
    assert r.stdout.endswith(b"\n")


def read_some(proc: subprocess.Popen, count: int, timeout: float = 10) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while len(data) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(data)} of {count} bytes within {timeout}s"
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            block = os.read(fd, 65536)
            assert block, f"EOF after {len(data)} bytes"
            data += block
    return bytes(data)


def chargen_line(i: int) -> bytes:
    """Line i of RFC 864's pattern: 72 of the 95 printable characters starting at i mod 95."""
    printable = bytes(range(32, 127))
    start = i % 95
    return (printable + printable)[start:start + 72] + b"\r\n"


def test_chargen_streams_the_rfc_864_pattern_until_the_client_leaves(wire):
    need("nc")
    lines = 300  # more than three periods of 95 lines
    with Background(["nc", "127.0.0.1", wire["chargen"]], stdout=subprocess.PIPE) as client:
        data = read_some(client.proc, lines * 74)
    assert data[:lines * 74] == b"".join(chargen_line(i) for i in range(lines))
    # The server is still serving after the client went away mid-stream.
    r = nc(wire["echo"], input=b"still here\n")
    assert r.stdout == b"still here\n"
