from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from grite_testutil import GRITE, grite

DAEMON_ENV = {"GRITE_NO_DAEMON": ""}


@pytest.fixture
def daemon_repo(repo):
    assert grite(repo, "init", "--no-agents-md").code == 0
    yield repo
    grite(repo, "daemon", "stop", "--json")


def _state(repo) -> dict:
    return json.loads((repo / ".git" / "grite" / "daemon.lock.json").read_text())


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return not stat.split(") ", 1)[1].startswith("Z")


def test_daemon_output_is_byte_identical(daemon_repo):
    repo = daemon_repo
    iid = grite(repo, "issue", "create", "--title", "via daemon", "--label", "x", "--json", env=DAEMON_ENV).data[
        "issue_id"
    ]
    status = grite(repo, "daemon", "status", "--json").data
    assert status["running"] is True
    assert status["requests"] >= 1
    grite(repo, "issue", "comment", iid, "--body", "hello", env=DAEMON_ENV)
    commands = [
        ("issue", "list", "--json"),
        ("issue", "list"),
        ("issue", "show", iid, "--json"),
        ("issue", "show", iid),
        ("issue", "show", "ffff", "--json"),
        ("issue", "show", "ffff"),
        ("issue", "list", "--state", "bogus", "--json"),
        ("issue", "list", "--bogus-flag"),
        ("db", "stats", "--json"),
        ("lock", "status", "--json"),
        ("actor", "current", "--json"),
    ]
    for args in commands:
        via = grite(repo, *args, env=DAEMON_ENV)
        local = grite(repo, *args, "--no-daemon")
        if args[0] == "db":  # size may grow between the two calls; compare the stable fields
            a, b = via.data, local.data
            assert a["event_count"] == b["event_count"]
            assert a["issue_count"] == b["issue_count"]
            continue
        assert (via.code, via.out, via.err) == (local.code, local.out, local.err), args
    assert grite(repo, "daemon", "status", "--json").data["requests"] > len(commands)


def test_actor_env_is_forwarded(daemon_repo):
    repo = daemon_repo
    other = grite(repo, "actor", "init", "--label", "agent-7", "--json").data["actor_id"]
    out = grite(repo, "actor", "current", "--json", env={**DAEMON_ENV, "GRITE_ACTOR": other}).data
    assert out == {"actor_id": other, "data_dir": out["data_dir"], "source": "env"}
    iid = grite(repo, "--actor", "agent-7", "issue", "create", "--title", "t", "--json", env=DAEMON_ENV).data[
        "issue_id"
    ]
    assert grite(repo, "issue", "show", iid, "--json", env=DAEMON_ENV).data["events"][0]["actor"] == other
    assert grite(repo, "daemon", "status", "--json").data["running"] is True


def test_ten_parallel_creates_through_the_daemon(daemon_repo):
    repo = daemon_repo
    env = dict(os.environ, GRITE_NO_DAEMON="")

    def create(i: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GRITE, "issue", "create", "--title", f"p{i}", "--json"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    assert grite(repo, "issue", "list", "--json").data["total"] == 10


def test_kill_9_then_next_command_recovers(daemon_repo):
    repo = daemon_repo
    assert grite(repo, "issue", "create", "--title", "one", "--json", env=DAEMON_ENV).code == 0
    pid = _state(repo)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    res = grite(repo, "issue", "create", "--title", "two", "--json", env=DAEMON_ENV)
    assert res.code == 0, res.err
    assert grite(repo, "daemon", "status", "--json").data["pid"] != pid
    assert grite(repo, "issue", "list", "--json").data["total"] == 2


def test_idle_timeout_and_stop(daemon_repo):
    repo = daemon_repo
    started = grite(repo, "daemon", "start", "--idle-timeout", "1", "--json").data
    assert started["running"] is True
    pid = started["pid"]
    # poll without connecting (a status request would count as activity)
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert grite(repo, "daemon", "status", "--json").data["running"] is False
    grite(repo, "daemon", "start", "--json")
    assert grite(repo, "daemon", "stop", "--json").data == {"stopped": True}
    assert grite(repo, "daemon", "stop", "--json").data == {"stopped": False}


def test_no_daemon_flag_never_spawns(daemon_repo):
    repo = daemon_repo
    assert grite(repo, "issue", "create", "--title", "local", "--no-daemon", "--json", env=DAEMON_ENV).code == 0
    assert grite(repo, "daemon", "status", "--json").data["running"] is False
