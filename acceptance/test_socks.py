"""torsiond socks with curl as the client, fetching from an HTTP server the test runs.

curl speaks every variant: --socks4 (the client resolves), --socks4a and --socks5-hostname
(the proxy resolves), --socks5, and --proxy-user for RFC 1929 username/password. curl exits
with 97 (CURLE_PROXY) when the proxy refuses.
"""

from __future__ import annotations

import pytest

from helpers import HttpSite, free_port, need, random_file, run, sha256_file

pytestmark = pytest.mark.socks

CURLE_PROXY = 97


def curl(*args, timeout: float = 30):
    need("curl")
    return run(["curl", "-sS", "--max-time", str(int(timeout) - 5), *args], timeout=timeout)


@pytest.fixture
def site(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello.txt").write_bytes(b"hello through socks\n")
    random_file(www / "blob.bin", 3 << 20)
    with HttpSite(www) as s:
        s.dir = www
        yield s


class Proxy:
    def __init__(self, server, port, log):
        self.server, self.port, self.log = server, port, log

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def socks(torsiond, tmp_path):
    port = free_port()
    log = tmp_path / "socks-requests.log"
    server = torsiond("socks", "-i", "127.0.0.1", "-p", port, "-l", log, ready=[port])
    return Proxy(server, port, log)


@pytest.fixture
def socks_auth(torsiond, tmp_path):
    port = free_port()
    log = tmp_path / "socks-requests.log"
    server = torsiond("socks", "--listen", f"tcp:{port}:interface=127.0.0.1",
                      "--user", "alice:secret", "--user", "bob:hunter2", "-l", log,
                      ready=[port])
    return Proxy(server, port, log)


@pytest.mark.parametrize("variant", ["--socks4", "--socks5"])
def test_curl_fetches_by_address(socks, site, tmp_path, variant):
    out = tmp_path / "blob.out"
    r = curl(variant, socks.addr, "-o", out, f"http://127.0.0.1:{site.port}/blob.bin")
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256_file(site.dir / "blob.bin")
    version = variant[-1]
    assert any(f" v{version} CONNECT 127.0.0.1:{site.port} granted" in line
               for line in socks.log_lines()), socks.log_lines()


@pytest.mark.parametrize("variant", ["--socks4a", "--socks5-hostname"])
def test_curl_lets_the_proxy_resolve_the_name(socks, site, variant):
    r = curl(variant, socks.addr, f"http://localhost:{site.port}/hello.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello through socks\n"
    # The proxy, not curl, saw the name.
    version = "4" if variant == "--socks4a" else "5"
    assert any(f" v{version} CONNECT localhost:{site.port} granted" in line
               for line in socks.log_lines()), socks.log_lines()


@pytest.mark.parametrize("variant, code", [("--socks4", "(91)"), ("--socks5", "(5)")])
def test_refused_destination_gets_the_protocol_failure_code(socks, variant, code):
    dead = free_port()
    r = curl(variant, socks.addr, f"http://127.0.0.1:{dead}/")
    assert r.returncode == CURLE_PROXY, r.stderr
    # SOCKSv4 answers 91 (rejected or failed), SOCKSv5 5 (connection refused).
    assert code in r.stderr.decode(), r.stderr


def test_socks5_unknown_host_is_reported(socks):
    r = curl("--socks5-hostname", socks.addr, "http://no-such-host.invalid/")
    assert r.returncode == CURLE_PROXY, r.stderr
    assert "(4)" in r.stderr.decode(), r.stderr  # host unreachable


def test_socks5_with_the_right_password(socks_auth, site):
    for user in ("alice:secret", "bob:hunter2"):
        r = curl("--socks5", socks_auth.addr, "--proxy-user", user,
                 f"http://127.0.0.1:{site.port}/hello.txt")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"hello through socks\n"
    assert site.requests == 2
    assert any("user=alice granted" in line for line in socks_auth.log_lines())


@pytest.mark.parametrize("user", ["alice:wrong", "mallory:secret", "bob:secret"])
def test_socks5_wrong_credentials_are_refused(socks_auth, site, user):
    r = curl("--socks5", socks_auth.addr, "--proxy-user", user,
             f"http://127.0.0.1:{site.port}/hello.txt")
    assert r.returncode == CURLE_PROXY, r.stderr
    assert "rejected" in r.stderr.decode(), r.stderr
    assert r.stdout == b""
    assert site.requests == 0


def test_socks5_without_credentials_is_refused_when_users_are_set(socks_auth, site):
    r = curl("--socks5", socks_auth.addr, f"http://127.0.0.1:{site.port}/hello.txt")
    assert r.returncode == CURLE_PROXY, r.stderr
    assert "No authentication method was acceptable" in r.stderr.decode(), r.stderr
    assert site.requests == 0


def test_socks4_is_refused_when_users_are_set(socks_auth, site):
    # SOCKSv4 carries no password, so it cannot pass authentication.
    r = curl("--socks4", socks_auth.addr, f"http://127.0.0.1:{site.port}/hello.txt")
    assert r.returncode == CURLE_PROXY, r.stderr
    assert "(91)" in r.stderr.decode(), r.stderr
    assert site.requests == 0


def test_proxy_keeps_serving_after_refusals(socks_auth, site):
    for _ in range(3):
        assert curl("--socks5", socks_auth.addr, "--proxy-user", "alice:nope",
                    f"http://127.0.0.1:{site.port}/hello.txt").returncode == CURLE_PROXY
    r = curl("--socks5-hostname", socks_auth.addr, "--proxy-user", "alice:secret",
             f"http://localhost:{site.port}/hello.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello through socks\n"


@pytest.mark.slow
def test_parallel_curl_transfers(socks, site, tmp_path):
    urls = []
    for i in range(24):
        urls += ["-o", tmp_path / f"out{i}.bin", f"http://127.0.0.1:{site.port}/blob.bin"]
    r = curl("--socks5", socks.addr, "--parallel", "--parallel-max", "12", *urls, timeout=45)
    assert r.returncode == 0, r.stderr
    want = sha256_file(site.dir / "blob.bin")
    assert all(sha256_file(tmp_path / f"out{i}.bin") == want for i in range(24))
    assert site.requests == 24
