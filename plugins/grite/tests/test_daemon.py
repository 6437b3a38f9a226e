from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.daemon.client import spec_for
from toolkit_grite.testing import GRITE, grite
from toolkit_kernel.ipc import read_state

DAEMON_ENV = {"GRITE_NO_DAEMON": ""}


@pytest.fixture
def daemon_repo(repo):
    assert grite(repo, "init", "--no-agents-md").code == 0
    yield repo
    grite(repo, "daemon", "stop", "--json")


def _state(repo: Path) -> dict[str, Any]:
    state = read_state(spec_for(repo / ".git"))
    assert state is not None
    return state


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
    # a relative --data-dir is the caller's, not the daemon's (which runs in the git dir)
    relative = os.path.relpath(grite(repo, "actor", "list", "--json").data["actors"][0]["data_dir"], repo)
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    mine = os.path.join("..", "..", relative)
    via = grite(sub, "--data-dir", mine, "actor", "current", "--json", env=DAEMON_ENV)
    assert via.code == 0, via.err
    assert via.data["source"] == "data_dir"
    made = grite(sub, "--data-dir", mine, "issue", "create", "--title", "r", "--json", env=DAEMON_ENV)
    assert made.code == 0, made.err


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
    assert grite(repo, "daemon", "stop", "--json").data == {"stopped": False, "reason": "Daemon not running"}


def test_no_daemon_flag_never_spawns(daemon_repo):
    repo = daemon_repo
    assert grite(repo, "issue", "create", "--title", "local", "--no-daemon", "--json", env=DAEMON_ENV).code == 0
    assert grite(repo, "daemon", "status", "--json").data["running"] is False


def test_daemon_of_another_runtime_dir_is_reused_through_its_state_file(daemon_repo, tmp_path):
    repo = daemon_repo
    assert grite(repo, "daemon", "start", "--json").data["running"] is True
    before = grite(repo, "daemon", "status", "--json").data["requests"]
    other = tmp_path / "rt2"
    res = grite(
        repo, "issue", "create", "--title", "elsewhere", "--json", env={**DAEMON_ENV, "TOOLKIT_RUNTIME_DIR": str(other)}
    )
    assert res.code == 0, res.err
    # the status request itself counts once: +2 means the create was served by the running daemon
    assert grite(repo, "daemon", "status", "--json").data["requests"] >= before + 2
    assert not list(other.glob("grite-*.sock"))  # no second daemon was started


def test_unusable_runtime_dir_falls_back_to_local_execution(daemon_repo, tmp_path):
    repo = daemon_repo
    too_long = tmp_path / ("x" * 120)  # no Unix socket path fits: the daemon cannot run
    env = {**DAEMON_ENV, "TOOLKIT_RUNTIME_DIR": str(too_long)}
    via = grite(repo, "issue", "create", "--title", "local anyway", "-q", env=env)
    assert (via.code, via.out, via.err) == (0, "", "")
    assert grite(repo, "issue", "list", "--json", env=env).data["total"] == 1
    assert grite(repo, "daemon", "status", "--json").data["running"] is False


def test_connection_lost_after_the_request_reports_ipc_error(daemon_repo):
    import socket
    import threading

    from toolkit_kernel.ipc.frames import encode_frame, recv_frame

    repo = daemon_repo
    path = spec_for(os.path.realpath(repo / ".git")).socket_path
    received = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(4)
        server.settimeout(60)

        def serve_once() -> None:  # a daemon that dies after reading the request
            conn, _ = server.accept()
            with conn:
                conn.sendall(encode_frame({"hello": {"protocol": 1, "pid": os.getpid(), "name": "grite"}}))
                received.append(recv_frame(conn))

        # the fast path (issue create) and the click path (label add) both send a core call
        lines: list[tuple[str, ...]] = [("issue", "create", "--title", "lost", "-q")]
        lines.append(("issue", "create", "--title", "lost", "--json"))
        lines.append(("issue", "label", "add", "abcd", "--label", "l", "--json"))
        for line in lines:
            args = line[-1:]
            thread = threading.Thread(target=serve_once)
            thread.start()
            res = grite(repo, *line, env=DAEMON_ENV)
            thread.join(60)
            assert res.code == 6, res.err
            assert res.out == ""
            if args == ("--json",):
                assert res.error["code"] == "ipc_error"
                assert "may or may not have been applied" in res.error["details"]["suggestions"][0]
            else:
                assert res.err.startswith("error: grite daemon failed during the request: connection to ")
                assert "hint: the command may or may not have been applied" in res.err
    path.unlink()
    frames = [r for r in received if r is not None]
    assert [(r["op"], r["call"]) for r in frames] == [("call", "issue.create")] * 2 + [("call", "issue.set_members")]
    assert frames[0]["args"] == {"title": "lost", "body": ""}
    assert frames[2]["args"] == {"ident": "abcd", "kind": 4, "values": ["l"], "lock": False}
    assert Path(frames[0]["cwd"]).resolve() == repo.resolve()
    assert grite(repo, "issue", "list", "--json").data["total"] == 0  # never re-run locally


def test_repository_deleted_and_recreated_is_not_served_by_the_old_daemon(daemon_repo):
    import shutil

    from toolkit_grite.testing import make_repo

    repo = daemon_repo
    grite(repo, "issue", "create", "--title", "old repo", "--json", env=DAEMON_ENV)
    old_pid = _state(repo)["pid"]
    shutil.rmtree(repo)
    make_repo(repo)
    assert grite(repo, "init", "--no-agents-md", "--json").code == 0
    made = grite(repo, "issue", "create", "--title", "new repo", "--json", env=DAEMON_ENV)
    assert made.code == 0, made.err
    listed = grite(repo, "issue", "list", "--json", env=DAEMON_ENV).data
    assert [i["title"] for i in listed["issues"]] == ["new repo"]
    deadline = time.monotonic() + 10
    while _alive(old_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(old_pid)  # the stale daemon left on its own


def test_frozen_daemon_times_out_and_the_command_runs_locally(daemon_repo):
    repo = daemon_repo
    grite(repo, "issue", "create", "--title", "one", "--json", env=DAEMON_ENV)
    pid = _state(repo)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        res = grite(
            repo, "issue", "create", "--title", "two", "--json", env={**DAEMON_ENV, "GRITE_DAEMON_TIMEOUT": "1"}
        )
        elapsed = time.monotonic() - start
        assert res.code == 0, res.err
        assert elapsed < 8, elapsed  # one liveness timeout, then local (never 300 s)
    finally:
        os.kill(pid, signal.SIGCONT)
    titles = [i["title"] for i in grite(repo, "issue", "list", "--json").data["issues"]]
    assert titles == ["one", "two"]


def test_a_state_file_pointing_at_a_foreign_socket_is_ignored(daemon_repo, tmp_path):
    import json
    import socket

    from toolkit_grite.daemon.client import owned_by_me

    repo = daemon_repo
    grite(repo, "daemon", "stop", "--json")
    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    evil = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    evil.bind(str(evil_dir / "s.sock"))
    evil.listen(4)
    evil.setblocking(False)
    os.chown(evil_dir / "s.sock", 65534, 65534)  # as another user would own it
    os.chown(evil_dir, 65534, 65534)
    assert not owned_by_me(evil_dir / "s.sock")
    spec = spec_for(repo / ".git")
    spec.state_path.write_text(json.dumps({"socket": str(evil_dir / "s.sock"), "pid": 1}))
    try:
        res = grite(repo, "issue", "create", "--title", "safe", "--json", env=DAEMON_ENV)
        assert res.code == 0, res.err
        with pytest.raises(BlockingIOError):
            evil.accept()  # nobody connected to her socket
    finally:
        evil.close()


def test_sync_runs_in_the_client_with_its_environment(daemon_repo, tmp_path):
    repo = daemon_repo
    grite(repo, "issue", "create", "--title", "x", "--json", env=DAEMON_ENV)
    first = grite(repo, "daemon", "status", "--json").data["requests"]
    before = grite(repo, "daemon", "status", "--json").data["requests"]
    per_status = before - first  # what asking for the status itself counts
    hub = tmp_path / "hub.git"
    subprocess.run(["git", "init", "-q", "--bare", str(hub)], check=True)
    # A remote reachable only through the caller's environment (a git config given by env).
    env = {**DAEMON_ENV, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "url." + str(hub) + ".insteadOf",
           "GIT_CONFIG_VALUE_0": "only-the-caller-knows:"}  # fmt: skip
    res = grite(repo, "sync", "--remote", "only-the-caller-knows:", "--json", env=env)
    assert res.code == 0, res.err
    assert res.data["pushed"] is True
    after = grite(repo, "daemon", "status", "--json").data["requests"]
    assert after - before == per_status  # the sync itself was not forwarded
