"""torsiond web: static files over HTTP/1.1, with curl and raw sockets as clients."""

from __future__ import annotations

import re
import socket
import time

import pytest

from helpers import Torsiond, free_port, need, random_file, run, sha256, sha256_file

pytestmark = pytest.mark.web


@pytest.fixture(scope="module")
def web(torsiond_bin, tmp_path_factory):
    """One `torsiond web` over a small tree for the whole module; (port, root)."""
    root = tmp_path_factory.mktemp("www")
    (root / "hello.txt").write_bytes(b"hello, web\n")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<p>index</p>\n")
    (root / "files").mkdir()
    (root / "files" / "a <b>.txt").write_bytes(b"x")
    random_file(root / "big.bin", 8 * 1024 * 1024)
    (tmp_path_factory.getbasetemp() / "secret.txt").write_bytes(b"top secret")
    port = free_port()
    access = root.parent / "access.log"
    server = Torsiond(torsiond_bin, tmp_path_factory.mktemp("web-run"),
                      ["web", "--listen", f"tcp:{port}:interface=127.0.0.1", "--path", str(root),
                       "--add-header", "X-Served-By: torsiond", "-l", str(access)], [port])
    server.start()
    yield port, root, access
    alive = server.alive()
    status = server.stop()
    assert not alive or status == 0, f"exit status {status} on SIGTERM\n{server.describe()}"


def curl(*args, timeout=30):
    need("curl")
    return run(["curl", "-sS", "--max-time", str(timeout - 5), *args], timeout=timeout)


def raw(port, data: bytes, timeout=10) -> bytes:
    """Sends `data` and returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return bytes(out)


def test_curl_gets_a_file_with_headers(web):
    port, _, _ = web
    r = curl("-i", f"http://127.0.0.1:{port}/hello.txt")
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: text/plain" in head
    assert b"X-Served-By: torsiond" in head
    assert b"Last-Modified: " in head and b"ETag: " in head
    assert body == b"hello, web\n"


def test_big_file_arrives_whole(web, tmp_path):
    port, root, _ = web
    out = tmp_path / "big.bin"
    r = curl("-o", str(out), f"http://127.0.0.1:{port}/big.bin")
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256_file(root / "big.bin")


def test_range_and_conditional_requests(web):
    port, root, _ = web
    r = curl("-r", "100-199", f"http://127.0.0.1:{port}/big.bin")
    assert r.stdout == (root / "big.bin").read_bytes()[100:200]
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-r", "99999999-",
             f"http://127.0.0.1:{port}/big.bin")
    assert r.stdout == b"416"
    head = curl("-I", f"http://127.0.0.1:{port}/hello.txt").stdout.decode()
    modified = re.search(r"Last-Modified: ([^\r]+)", head).group(1)
    etag = re.search(r"ETag: ([^\r]+)", head).group(1)
    for condition in (f"If-Modified-Since: {modified}", f"If-None-Match: {etag}"):
        r = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", condition,
                 f"http://127.0.0.1:{port}/hello.txt")
        assert r.stdout == b"304", condition


def test_directories_index_listing_and_redirect(web):
    port, _, _ = web
    r = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://127.0.0.1:{port}/sub")
    code, _, location = r.stdout.decode().partition(" ")
    assert code in ("301", "302") and location.endswith("/sub/")
    assert curl(f"http://127.0.0.1:{port}/sub/").stdout == b"<p>index</p>\n"
    listing = curl(f"http://127.0.0.1:{port}/files/").stdout
    assert b"a &lt;b&gt;.txt" in listing and b"<b>.txt" not in listing


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/..%2f..%2fsecret.txt",
                                  "/%2E%2E%2Fsecret.txt", "/..\\secret.txt", "/hello.txt%00"])
def test_no_path_leaves_the_root(web, path):
    port, _, _ = web
    out = raw(port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
    assert b"top secret" not in out
    assert out.split(b" ", 2)[1] in (b"400", b"403", b"404")


def test_pipelined_requests_are_answered_in_order(web):
    port, _, _ = web
    req = b"".join(f"GET {p} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
                   for p in ("/hello.txt", "/sub/", "/missing", "/hello.txt"))
    out = raw(port, req + b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    assert statuses == [b"200", b"200", b"404", b"200", b"200"]
    assert out.index(b"hello, web") < out.index(b"<p>index</p>")


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded: yes\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
])
def test_malformed_requests_get_400_and_the_server_goes_on(web, request_bytes):
    port, _, _ = web
    out = raw(port, request_bytes)
    assert out.startswith(b"HTTP/1.1 400 "), out[:80]
    assert curl(f"http://127.0.0.1:{port}/hello.txt").stdout == b"hello, web\n"


def test_head_and_unsupported_method(web):
    port, _, _ = web
    r = curl("-I", f"http://127.0.0.1:{port}/hello.txt")
    assert b"Content-Length: 11" in r.stdout
    out = raw(port, b"DELETE /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405 ") and b"Allow: " in out


def test_keep_alive_reuses_the_connection(web):
    port, _, _ = web
    r = curl("-v", f"http://127.0.0.1:{port}/hello.txt", f"http://127.0.0.1:{port}/sub/")
    assert r.stderr.count(b"Connected to") == 1, r.stderr
    assert b"Re-using existing connection" in r.stderr or b"Reusing existing connection" in r.stderr


def test_the_access_log_has_combined_lines(web):
    port, _, access = web
    curl("-A", "acceptance-agent", f"http://127.0.0.1:{port}/hello.txt")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = access.read_text() if access.exists() else ""
        if "acceptance-agent" in text:
            break
        time.sleep(0.05)
    line = [ln for ln in text.splitlines() if "acceptance-agent" in ln][-1]
    assert line.startswith("127.0.0.1 - - [")
    assert '"GET /hello.txt HTTP/1.1" 200 11 "-" "acceptance-agent"' in line


def test_h2load_h1_pipelined_smoke(web):
    """h2load's HTTP/1.1 mode, 8 requests pipelined per connection: every one answered."""
    need("h2load")
    port, _, _ = web
    r = run(["h2load", "--h1", "-n", "4000", "-c", "8", "-m", "8",
             f"http://127.0.0.1:{port}/hello.txt"], timeout=60)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    assert "4000 succeeded, 0 failed, 0 errored, 0 timeout" in out, out
    assert "4000 2xx" in out, out


def test_wrk_smoke(web):
    """wrk for one second over 8 keep-alive connections: no socket errors, no non-2xx."""
    need("wrk")
    port, _, _ = web
    r = run(["wrk", "-t1", "-c8", "-d1s", f"http://127.0.0.1:{port}/hello.txt"], timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    assert "Socket errors" not in out, out
    assert "Non-2xx" not in out, out
    requests = re.search(r"(\d+) requests in", out)
    assert requests and int(requests.group(1)) > 0, out
