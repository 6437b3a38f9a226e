from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from toolkit_grite.testing import grite

HEAVY = ("pygit2", "lmdb", "nacl")


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    return [m for m in out.split(",") if m]


def test_command_group_imports_nothing_heavy():
    assert _loaded("from toolkit_grite.cli import grite; grite.list_commands(None)") == []
    assert _loaded("import toolkit_grite.plugin") == []


def test_daemon_client_path_is_light():
    # everything the fast path imports before it knows whether the daemon serves the command
    code = "import toolkit_grite.cli, toolkit_grite.cli.fast, toolkit_grite.core.locate, toolkit_grite.error_codes"
    assert _loaded(code) == []
    probe = code + "\nimport sys\nprint(*(m in sys.modules for m in ('click', 'asyncio', 'subprocess', 'typing')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False", "False"]
    probe = code + "\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('toolkit_kernel.')))"
    kernel = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert kernel == "[]"  # the kernel's IPC client (cbor2, typing, pathlib) is for starting a daemon only


def _imported_by(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[set[str], str]:
    """Modules a real `grite ...` process imports (from `-X importtime`), and its stdout."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "toolkit_grite", *argv],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = (line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:"))
    return {name for name in lines if name and name != "package"}, proc.stdout


def test_list_served_by_the_daemon_imports_no_click_git_lmdb_or_asyncio(repo: Path) -> None:
    daemon = {"GRITE_NO_DAEMON": ""}
    assert grite(repo, "init", "--no-agents-md").code == 0
    try:
        assert grite(repo, "issue", "create", "--title", "served", "--json", env=daemon).code == 0
        assert grite(repo, "daemon", "status", "--json").data["running"] is True
        modules, out = _imported_by(["issue", "list", "--json"], repo, daemon)
    finally:
        grite(repo, "daemon", "stop", "--json")
    assert [i["title"] for i in json.loads(out)["data"]["issues"]] == ["served"]
    heavy = {
        *HEAVY,
        "click",
        "asyncio",
        "subprocess",
        "toolkit",
        "toolkit_grite.cli.commands",
        "toolkit_grite.core.ops",
        "toolkit_kernel.ipc.client",
        "cbor2",
    }
    assert modules & heavy == set()
    assert "toolkit_grite.daemon.wire" in modules  # the probe sees the fast path's imports


def test_help_imports_no_git_lmdb_or_crypto(repo: Path) -> None:
    modules, out = _imported_by(["--help"], repo, {})
    assert "issue" in out
    assert "click" in modules
    assert modules & set(HEAVY) == set()


def test_issue_command_line_builds_only_the_issue_commands(repo: Path) -> None:
    assert grite(repo, "init", "--no-agents-md").code == 0
    modules, out = _imported_by(["issue", "dep", "topo", "--json"], repo, {"GRITE_NO_DAEMON": "1"})
    assert json.loads(out)["data"]["issues"] == []
    assert "toolkit_grite.cli.commands" in modules
    assert {
        "toolkit_grite.cli.admin",
        "toolkit_grite.cli.daemon",
        "toolkit_grite.core.leases",
        "pygit2",
        "nacl",
    } & modules == set()


def test_local_everyday_commands_import_neither_click_nor_libgit2(repo: Path) -> None:
    assert grite(repo, "init", "--no-agents-md").code == 0
    local = {"GRITE_NO_DAEMON": "1"}
    modules, out = _imported_by(["issue", "create", "--title", "fast", "--json"], repo, local)
    iid = json.loads(out)["data"]["issue_id"]
    never = {"click", "pygit2", "toolkit_grite.cli.commands"}
    assert modules & never == set()
    assert "toolkit_kernel.locks" in modules
    assert "toolkit_kernel.lease" not in modules  # a writer's FileLock does not load the lease machinery
    assert "toolkit_grite.daemon.client" not in modules  # no daemon asked for: no IPC client either
    for argv in (["issue", "list", "--json"], ["issue", "show", iid], ["issue", "close", iid, "-q"]):
        modules, out = _imported_by(argv, repo, local)
        assert modules & never == set(), argv
        if argv[1] != "close":
            assert "toolkit_kernel.locks" not in modules  # readers take no lock
    assert grite(repo, "issue", "show", iid, "--json").data["issue"]["state"] == "closed"


def test_rebuild_of_a_plain_wal_reads_it_in_bulk_without_libgit2(repo: Path) -> None:
    # the bulk reader needs only git's plumbing; libgit2 is opened for unusual commits alone
    assert grite(repo, "init", "--no-agents-md").code == 0
    local = {"GRITE_NO_DAEMON": "1"}
    for i in range(3):
        assert grite(repo, "issue", "create", "--title", f"bulk {i}", env=local).code == 0
    modules, out = _imported_by(["rebuild", "--json", "--no-daemon"], repo, local)
    assert "pygit2" not in modules
    data = json.loads(out)["data"]
    assert (data["event_count"], data["issue_count"], data["quarantined"]) == (3, 3, 0)
    rev = subprocess.run(["git", "rev-parse", "refs/grite/wal"], cwd=repo, capture_output=True, text=True, check=True)
    assert data["wal_head"] == rev.stdout.strip()
