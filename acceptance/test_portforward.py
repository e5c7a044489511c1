"""torsiond portforward with nc (netcat-openbsd) and socat as clients and targets.

`nc -N` shuts down its sending side when its input ends and keeps reading: the target must
see EOF after every byte, and whatever the target sends afterwards must still reach nc.
"""

from __future__ import annotations

import time

import pytest

from helpers import (Background, Target, digest_then_reply, echo, free_port, need, random_file,
                     run, sha256_file, tcp_listening, unix_listening, wait_for)

pytestmark = pytest.mark.portforward


@pytest.fixture
def forward(torsiond):
    """forward(target_port) -> listening port of `torsiond portforward` (twistd's options)."""

    def start(target_port: int) -> int:
        port = free_port()
        torsiond("portforward", "-p", f"tcp:{port}:interface=127.0.0.1", "-h", "127.0.0.1",
                 "-d", target_port, ready=[port])
        return port

    return start


def nc_send(port: int, path, timeout: float = 30):
    need("nc")
    with open(path, "rb") as f:
        return run(["nc", "-N", "127.0.0.1", port], stdin=f, timeout=timeout)


def test_nc_half_close_reaches_target_after_all_bytes(forward, tmp_path):
    payload = random_file(tmp_path / "payload.bin", 2 << 20)
    with Target(digest_then_reply) as target:
        port = forward(target.port)
        r = nc_send(port, payload)
        record = target.finished()[0]
    assert record.get("eof"), record
    assert record["size"] == 2 << 20
    assert record["sha256"] == sha256_file(payload)
    # The target's answer was sent after the client's EOF and still came back through.
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"{2 << 20} {sha256_file(payload)}\n"


def test_twistd_form_with_a_bare_port_number(torsiond, tmp_path):
    payload = random_file(tmp_path / "payload.bin", 100_000)
    with Target(digest_then_reply) as target:
        port = free_port()
        # A bare -p is tcp on every interface, as in twistd; the test only uses loopback.
        torsiond("portforward", "-p", port, "-h", "localhost", "-d", target.port, ready=[port])
        r = nc_send(port, payload)
    assert r.stdout.decode() == f"100000 {sha256_file(payload)}\n"


def test_nc_echo_round_trip_with_endpoint_strings(torsiond):
    with Target(echo) as target:
        port = free_port()
        torsiond("portforward", "--listen", f"tcp:{port}:interface=127.0.0.1",
                 "--connect", f"tcp:127.0.0.1:{target.port}", ready=[port])
        need("nc")
        lines = b"".join(b"line %d\n" % i for i in range(1000))
        r = run(["nc", "-N", "127.0.0.1", port], input=lines)
    assert r.returncode == 0, r.stderr
    assert r.stdout == lines


@pytest.mark.parametrize("direction", ["to-target", "from-target"])
def test_socat_transfer_keeps_every_byte(forward, tmp_path, direction):
    need("socat")
    source = random_file(tmp_path / "source.bin", 48 << 20)
    received = tmp_path / "received.bin"
    target_port = free_port()
    listen = f"TCP-LISTEN:{target_port},bind=127.0.0.1,reuseaddr"
    if direction == "to-target":
        target_argv = ["socat", "-u", listen, f"CREATE:{received}"]
    else:
        target_argv = ["socat", "-u", f"OPEN:{source}", listen]
    with Background(target_argv) as target:
        wait_for(lambda: tcp_listening(target_port), 10, "socat listening")
        port = forward(target_port)
        if direction == "to-target":
            client = ["socat", "-u", f"OPEN:{source}", f"TCP:127.0.0.1:{port}"]
        else:
            client = ["socat", "-u", f"TCP:127.0.0.1:{port}", f"CREATE:{received}"]
        r = run(client, timeout=40)
        assert r.returncode == 0, r.stderr
        # The target's socat ends when its side of the relay is closed.
        assert target.wait(10) == 0
    assert received.stat().st_size == source.stat().st_size
    assert sha256_file(received) == sha256_file(source)


def test_listen_on_a_unix_socket(torsiond, tmp_path):
    need("nc")
    path = tmp_path / "forward.sock"
    payload = random_file(tmp_path / "payload.bin", 300_000)
    with Target(digest_then_reply) as target:
        torsiond("portforward", "--listen", f"unix:{path}",
                 "--connect", f"tcp:127.0.0.1:{target.port}", ready=[path])
        with open(payload, "rb") as f:
            r = run(["nc", "-N", "-U", path], stdin=f)
        record = target.finished()[0]
    assert record.get("eof") and record["sha256"] == sha256_file(payload)
    assert r.stdout.decode() == f"300000 {sha256_file(payload)}\n"


def test_connect_to_a_unix_socket(torsiond, tmp_path):
    need("nc")
    path = tmp_path / "target.sock"
    payload = random_file(tmp_path / "payload.bin", 300_000)
    with Target(digest_then_reply, path=path) as target:
        port = free_port()
        torsiond("portforward", "--listen", f"tcp:{port}:interface=127.0.0.1",
                 "--connect", f"unix:{path}", ready=[port])
        with open(payload, "rb") as f:
            r = run(["nc", "-N", "127.0.0.1", port], stdin=f)
        record = target.finished()[0]
    assert record.get("eof") and record["size"] == 300_000
    assert r.stdout.decode() == f"300000 {sha256_file(payload)}\n"


def test_socat_over_unix_sockets_on_both_sides(torsiond, tmp_path):
    need("socat")
    front, back = tmp_path / "front.sock", tmp_path / "back.sock"
    source = random_file(tmp_path / "source.bin", 8 << 20)
    received = tmp_path / "received.bin"
    with Background(["socat", "-u", f"UNIX-LISTEN:{back}", f"CREATE:{received}"]) as target:
        wait_for(lambda: unix_listening(back), 10, "socat listening")
        torsiond("portforward", "--listen", f"unix:{front}", "--connect", f"unix:{back}",
                 ready=[front])
        r = run(["socat", "-u", f"OPEN:{source}", f"UNIX-CONNECT:{front}"])
        assert r.returncode == 0, r.stderr
        assert target.wait(10) == 0
    assert sha256_file(received) == sha256_file(source)


def test_target_down_closes_the_client(forward):
    need("nc")
    port = forward(free_port())  # nothing listens there
    began = time.monotonic()
    r = run(["nc", "127.0.0.1", port], timeout=10)
    assert r.stdout == b""
    assert time.monotonic() - began < 5


def test_target_closing_first_delivers_its_data_then_eof(forward):
    need("nc")
    banner = b"".join(b"%05d banner line\n" % i for i in range(20000))

    def speak_and_hang_up(conn, record):
        conn.sendall(banner)
        record["sent"] = True

    with Target(speak_and_hang_up) as target:
        port = forward(target.port)
        # nc's input ends at once; without -N it keeps reading until the relay closes.
        r = run(["nc", "127.0.0.1", port], input=b"", timeout=15)
    assert r.stdout == banner


@pytest.mark.slow
def test_many_concurrent_nc_clients(forward, tmp_path):
    need("nc")
    import subprocess

    payloads = [random_file(tmp_path / f"p{i}.bin", 200_000 + i * 1000) for i in range(40)]
    with Target(digest_then_reply) as target:
        port = forward(target.port)
        files = [open(p, "rb") for p in payloads]
        try:
            procs = [subprocess.Popen(["nc", "-N", "127.0.0.1", str(port)], stdin=f,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for f in files]
            outputs = [p.communicate(timeout=30)[0] for p in procs]
        finally:
            for f in files:
                f.close()
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
        target.finished(40)
    for p, out in zip(payloads, outputs):
        assert out.decode() == f"{p.stat().st_size} {sha256_file(p)}\n"


@pytest.mark.slow
def test_socat_large_transfer(forward, tmp_path):
    need("socat")
    source = random_file(tmp_path / "source.bin", 400 << 20)
    received = tmp_path / "received.bin"
    target_port = free_port()
    target_argv = ["socat", "-u", f"TCP-LISTEN:{target_port},bind=127.0.0.1,reuseaddr",
                   f"CREATE:{received}"]
    with Background(target_argv) as target:
        wait_for(lambda: tcp_listening(target_port), 10, "socat listening")
        port = forward(target_port)
        r = run(["socat", "-u", f"OPEN:{source}", f"TCP:127.0.0.1:{port}"], timeout=50)
        assert r.returncode == 0, r.stderr
        assert target.wait(10) == 0
    assert sha256_file(received) == sha256_file(source)
