"""torsiond web: static files over HTTP/1.1, with curl and raw sockets as clients."""

from __future__ import annotations

import re
import socket
import time

import pytest

from helpers import (Torsiond, free_port, need, random_file, run, sha256, sha256_file,
                     tcp_listening)

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


@pytest.fixture(scope="module")
def https(torsiond_bin, tmp_path_factory):
    """`torsiond web` on an ssl: endpoint with a CA and a server certificate made by openssl
    (for localhost and 127.0.0.1); (port, root, ca_file)."""
    need("openssl")
    pki = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = pki / "ca-key.pem", pki / "ca.pem"
    key, csr, cert = pki / "key.pem", pki / "server.csr", pki / "cert.pem"
    ext = pki / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for argv in (
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=acceptance CA", "-keyout", str(ca_key),
         "-out", str(ca_cert)],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr)],
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert)],
    ):
        r = run(argv, timeout=60)
        assert r.returncode == 0, r.stderr
    root = tmp_path_factory.mktemp("www-tls")
    (root / "hello.txt").write_bytes(b"hello, tls\n")
    (root / "dir").mkdir()
    (root / "dir" / "index.html").write_bytes(b"<p>index</p>\n")
    random_file(root / "big.bin", 4 * 1024 * 1024)
    port = free_port()
    server = Torsiond(torsiond_bin, tmp_path_factory.mktemp("web-tls-run"),
                      ["web", "--listen",
                       f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}",
                       "--path", str(root)], [port])
    server.start()
    yield port, root, ca_cert
    alive = server.alive()
    status = server.stop()
    assert not alive or status == 0, f"exit status {status} on SIGTERM\n{server.describe()}"


def test_https_serves_files_to_a_verifying_client(https, tmp_path):
    port, root, ca = https
    r = curl("--cacert", str(ca), "-i", f"https://localhost:{port}/hello.txt")
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b"hello, tls\n"
    # The big file comes through the TLS layer (no sendfile), whole.
    out = tmp_path / "big.bin"
    r = curl("--cacert", str(ca), "-o", str(out), f"https://127.0.0.1:{port}/big.bin")
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256_file(root / "big.bin")


def test_https_redirects_stay_on_https(https):
    """A directory without its slash is redirected, never to plain http; curl -L lands on its
    index over TLS."""
    port, _, ca = https
    r = curl("--cacert", str(ca), "-i", f"https://localhost:{port}/dir")
    assert r.returncode == 0, r.stderr
    assert re.match(rb"HTTP/1.1 30[12378]", r.stdout), r.stdout[:200]
    location = re.search(rb"\r\nLocation: (\S+)\r\n", r.stdout)
    assert location, r.stdout[:400]
    assert not location.group(1).startswith(b"http://"), location.group(1)
    r = curl("--cacert", str(ca), "-L", "-w", "%{url_effective}", f"https://localhost:{port}/dir")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"<p>index</p>\n" + f"https://localhost:{port}/dir/".encode()


def test_https_refuses_clients_that_do_not_trust_it_and_plaintext(https):
    port, _, _ = https
    # curl with the system CAs only: the certificate is refused (exit 60), the server goes on.
    r = curl(f"https://localhost:{port}/hello.txt")
    assert r.returncode == 60, (r.returncode, r.stderr)
    # Plain HTTP to the TLS port gets no HTTP answer; the connection is closed.
    reply = raw(port, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"HTTP/1.1" not in reply and b"hello, tls" not in reply
    assert tcp_listening(port)
