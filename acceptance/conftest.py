"""torsion's own black-box tests of torsiond: configuration and fixtures.

    /usr/bin/python3 -m pytest acceptance -q                       # from the repository root
    /usr/bin/python3 -m pytest acceptance --torsiond=/path/to/torsiond -m "not slow"
    TORSIOND=build-rel/apps/torsiond /usr/bin/python3 -m pytest acceptance -k socks

torsiond is found from --torsiond, then $TORSIOND, then build/apps/torsiond.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from helpers import Torsiond  # noqa: E402

REPO = HERE.parent


def pytest_addoption(parser):
    parser.addoption("--torsiond", default=None, metavar="PATH",
                     help="torsiond to test (default: $TORSIOND, then build/apps/torsiond)")


def _find_torsiond(config) -> Path:
    given = config.getoption("--torsiond") or os.environ.get("TORSIOND")
    path = Path(given) if given else REPO / "build" / "apps" / "torsiond"
    if not path.is_absolute():
        # Relative to where pytest was started (make runs it from the repository root).
        path = Path.cwd() / path
    return path


def pytest_report_header(config):
    return f"torsiond: {_find_torsiond(config)}"


@pytest.fixture(scope="session")
def torsiond_bin(request) -> str:
    path = _find_torsiond(request.config)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.exit(f"torsiond not found at {path}: build it (make build) or pass "
                    "--torsiond=PATH / TORSIOND=PATH", returncode=4)
    return str(path)


@pytest.fixture
def torsiond(request, torsiond_bin, tmp_path):
    """torsiond(*plugin_args, ready=[port or unix path, ...]) -> a running `torsiond -n`.

    Each server gets its own directory under the test's tmp_path. At the end of the test every
    server still running is stopped with SIGTERM, and must exit with status 0 within 5 s (a
    graceful shutdown is part of what is tested)."""
    started: list[Torsiond] = []
    request.node.torsiond_servers = started

    def launch(*args, ready=(), timeout: float = 15) -> Torsiond:
        server = Torsiond(torsiond_bin, tmp_path / f"torsiond{len(started)}", args, ready)
        started.append(server)
        return server.start(timeout)

    yield launch
    problems = []
    for server in reversed(started):
        was_running = server.alive()
        status = server.stop()
        if was_running and status != 0:
            problems.append(f"torsiond exited with status {status} on SIGTERM\n"
                            f"{server.describe()}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for i, server in enumerate(getattr(item, "torsiond_servers", [])):
            report.sections.append((f"torsiond #{i} (pid {server.proc.pid if server.proc else '-'})",
                                    server.describe()))
