"""Every peer that `tools/peers` installs is listed, pinned, and runs (one smoke test each).

The per-system interop suites (plugins/*/tests/interop) use these peers against our code; the
tests here only prove the peers themselves are usable, so a broken install fails loudly here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.testing import free_port
from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "peers"))

from catalog import PEERS  # noqa: E402  (tools/peers is a script folder, not a package)


def test_peers_list_json_shows_every_pinned_peer_installed() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "peers"), "list", "--json"], capture_output=True, text=True, check=True
    ).stdout
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert set(rows) == {peer.name for peer in PEERS}
    for peer in PEERS:
        row = rows[peer.name]
        assert row["installed"], row
        assert Path(row["path"]).exists(), row
        if peer.version:
            assert row["version"] == peer.version, row


def test_peers_path_prints_the_main_executable_and_fails_for_unknown() -> None:
    peers = [sys.executable, str(ROOT / "tools" / "peers")]
    out = subprocess.run([*peers, "path", "honcho"], capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(require_peer("honcho").path)
    bad = subprocess.run([*peers, "path", "no-such-peer"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "unknown peer" in bad.stderr


def test_honcho_runs_a_procfile(tmp_path: Path) -> None:
    honcho = require_peer("honcho")
    (tmp_path / "Procfile").write_text("hello: echo hello-from-honcho\n")
    proc = subprocess.run(
        [str(honcho.path), "start"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert "hello-from-honcho" in proc.stdout


def test_supervisord_reports_its_pinned_version() -> None:
    supervisor = require_peer("supervisor")
    out = subprocess.run([str(supervisor.path), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == supervisor.version


def test_eventsourcing_runs_an_application_and_ships_its_test_cases() -> None:
    peer = require_peer("eventsourcing")
    script = (
        "from eventsourcing.application import Application\n"
        "from eventsourcing.domain import Aggregate, event\n"
        "import eventsourcing.tests.persistence as cases\n"
        "assert hasattr(cases, 'AggregateRecorderTestCase')\n"
        "class Dog(Aggregate):\n"
        "    @event('Registered')\n"
        "    def __init__(self, name: str) -> None:\n"
        "        self.name = name\n"
        "app = Application()\n"
        "dog = Dog('fido')\n"
        "app.save(dog)\n"
        "print(app.repository.get(dog.id).name)\n"
    )
    out = subprocess.run([str(peer.python), "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "fido"


def test_kurrentdbclient_imports_its_client() -> None:
    peer = require_peer("kurrentdbclient")
    script = "import kurrentdbclient, importlib.metadata as m; print(m.version('kurrentdbclient'))"
    out = subprocess.run([str(peer.python), "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == peer.version


def test_redis_server_starts_on_loopback_and_answers_ping(tmp_path: Path) -> None:
    redis = require_peer("redis")
    port = free_port()
    argv = [str(redis.path), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    assert conn.recv(64) == b"+PONG\r\n"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=10)
