"""The click-free `pom up` path: the same run, output and exit code as the click command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit_pom.cli.fast_up import parse_up_args
from toolkit_pom.testing import write_project

PROBE = """
import atexit, gc, sys
# Runs after SystemExit: the loaded modules, and whether the cyclic GC runs (and froze the start's objects).
# One line of names, without json: whether pom imports json is one of the things asserted.
# The freeze count is compared with the count here: CPython 3.12 starts with objects frozen.
frozen_at_start = gc.get_freeze_count()
gc_state = lambda: f"gc:{gc.isenabled()}:{gc.get_freeze_count() > frozen_at_start}"
atexit.register(lambda: print(" ".join([*sorted(sys.modules), gc_state()]), file=sys.stderr))
which = sys.argv[1]
sys.argv = ["pom", *sys.argv[2:]]
if which == "full":
    from toolkit_pom.cli.main import main
else:
    from toolkit_pom.cli.fast import main
main()
"""
HEAVY = ("click", "pydantic", "yaml", "textual", "fastapi", "uvicorn", "httpx", "psutil")
STACK = """
[processes.a]
command = "echo a up; exec sleep 30"
[processes.b]
command = "echo b up; exec sleep 30"
readiness = { log = "b up" }
"""


def _run(path: str, *args: str, cwd: Path) -> tuple[int, list[str], str, set[str]]:
    """(exit code, stdout lines sorted, stderr's messages, loaded modules), numbers normalized.

    The `ps` table's rows are left out of stderr: states and column widths differ from run to run.
    """
    result = subprocess.run(
        [sys.executable, "-c", PROBE, path, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )
    *err, modules = result.stderr.strip().splitlines()

    def norm(text: str) -> str:
        return re.sub(r" +", " ", re.sub(r"\d+(\.\d+)?", "N", text))

    out = sorted(map(norm, result.stdout.splitlines()))
    messages = [line for line in err if line.startswith(("pom:", "error:", "hint:", "NAME "))]
    return result.returncode, out, norm("\n".join(messages)), set(modules.split())


def _both(*args: str, cwd: Path) -> tuple[Any, Any]:
    fast = _run("fast", *args, cwd=cwd)
    full = _run("full", *args, cwd=cwd)
    assert fast[:3] == full[:3]
    return fast, full


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["up", "--headless"], {"files": [], "headless": True, "no_http": False}),
        (["up", "--headless", "-q", "--no-http", "-f", "a.toml"], {"files": ["a.toml"], "quiet": True}),
        (["up", "--headless", "--file=a.toml", "-fb.toml", "--http", "127.0.0.1:0"], {"files": ["a.toml", "b.toml"]}),
        (["up", "--headless", "--exit-when-ready", "--timeout", "5", "--settle=0.5"], {"timeout": 5.0, "settle": 0.5}),
        (["up"], None),  # no --headless: the TUI may be wanted
        (["up", "--headless", "web"], None),  # names
        (["up", "--headless", "--tui"], None),
        (["up", "--headless", "-d"], None),
        (["up", "--headless", "--timeout", "soon"], None),
        (["up", "--headless", "--http", "a", "--http", "b"], None),
        (["up", "--headless", "-q", "-q"], None),
        (["up", "--headless", "-f"], None),
        (["up", "--headless", "--json"], None),
        (["up", "--headless", "--pc-api", "127.0.0.1:0"], None),
        (["logs", "web"], None),
    ],
)
def test_parse_up_args(argv: list[str], expected: dict[str, Any] | None) -> None:
    parsed = parse_up_args(argv)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert {k: parsed[k] for k in expected} == expected


def test_ready_run_matches_the_click_command_without_click(tmp_path: Path) -> None:
    write_project(tmp_path, STACK)
    args = ("up", "--headless", "--no-http", "--exit-when-ready", "--settle", "0.2")
    _run("fast", *args, cwd=tmp_path)  # the first load of a file validates it with pydantic (config_cache)
    fast, full = _both(*args, cwd=tmp_path)
    assert fast[0] == 0
    assert "pom: all N processes ready in Ns; stopped cleanly" in fast[2]
    assert not set(HEAVY) & fast[3], set(HEAVY) & fast[3]
    assert "ssl" not in fast[3]  # no https probe: asyncio is imported without it (core.lazyssl)
    assert "json" not in fast[3]  # the validation cache is marshal data (core.config_cache)
    assert "dataclasses" not in fast[3]  # the start path's classes are records (core.record)
    assert "click" in full[3]
    # The fast path starts with the cyclic GC off and turns it back on once it serves.
    assert "gc:True:True" in fast[3]
    assert "gc:True:False" in full[3]


def test_failed_process_reports_like_the_click_command(tmp_path: Path) -> None:
    # `bad` starts once `a` has printed: otherwise `a` may be stopped before its line in one run
    # and after it in the other, and the outputs differ (failed once in CI on 3.12).
    stack = '[processes.a]\ncommand = "echo a up; exec sleep 30"\nreadiness = { log = "a up" }\n'
    write_project(tmp_path, stack + '[processes.bad]\ncommand = "exit 3"\ndepends_on = { a = "healthy" }\n')
    fast, _ = _both("up", "--headless", "--no-http", "--exit-when-ready", "--settle", "0.2", cwd=tmp_path)
    assert fast[0] == 1
    assert "error: " in fast[2]
    assert "bad" in fast[2]


def test_already_running_reports_like_the_click_command(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, STACK)
    start_pom(config)
    fast, _ = _both("up", "--headless", "--no-http", "-f", str(config), cwd=tmp_path)
    assert fast[0] != 0
    assert "error: a pom is already running" in fast[2]


def test_bad_config_falls_back_to_the_click_command(tmp_path: Path) -> None:
    write_project(tmp_path, "[processes.a]\ncommand = 3\n")
    fast, _ = _both("up", "--headless", "--no-http", "--exit-when-ready", cwd=tmp_path)
    assert fast[0] == 2
    assert "processes.a.command" in fast[2]
    assert "click" in fast[3]


def test_a_refused_up_starts_nothing(tmp_path: Path, start_pom: Any) -> None:
    # The fast path starts processes before importing the supervisor, but only once it holds the lock.
    import time

    from toolkit_pom.testing import wait_for

    config = write_project(tmp_path, '[processes.a]\ncommand = "echo x >> starts.txt; exec sleep 300"\n')
    start_pom(config)
    starts = tmp_path / "starts.txt"
    wait_for(starts.exists, 20, what="the first pom's process")
    fast = _run("fast", "up", "--headless", "--no-http", "-f", str(config), cwd=tmp_path)
    assert fast[0] == 4
    assert "error: a pom is already running" in fast[2]
    time.sleep(1.0)  # a process started by mistake would have appended by now
    assert starts.read_text() == "x\n"


TLS_SERVER = """
import http.server, ssl, sys

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


@pytest.mark.parametrize("trusted", [True, False])
def test_https_probe_on_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: bool) -> None:
    """asyncio came without ssl; an https probe brings it in, and it verifies the certificate."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "other-ca.pem").write_bytes(trustme.CA().cert_pem.bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / ("ca.pem" if trusted else "other-ca.pem")))
    (tmp_path / "tls_server.py").write_text(TLS_SERVER)
    write_project(
        tmp_path,
        '[project]\nports = ["TLS_PORT"]\n[processes.web]\n'
        f'command = "exec {sys.executable} tls_server.py $TLS_PORT server.pem"\n'
        'readiness = { http = "https://127.0.0.1:${TLS_PORT}/", period = 0.2 }\n',
    )
    args = ("up", "--headless", "--no-http", "--exit-when-ready", "--settle", "0", "--timeout", "4")
    code, _out, messages, modules = _run("fast", *args, cwd=tmp_path)
    if trusted:
        assert code == 0, messages
        assert "pom: all N processes ready in Ns; stopped cleanly" in messages
        assert "ssl" in modules
        assert "click" not in modules  # the fast path ran (an error is printed through click)
    else:
        assert code != 0
        assert "not ready within Ns: web" in messages
