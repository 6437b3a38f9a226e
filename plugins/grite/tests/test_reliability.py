from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from toolkit_grite.testing import GRITE, grite


def test_ten_parallel_creates_all_succeed(repo):
    assert grite(repo, "init", "--no-agents-md", "--json").code == 0
    env = dict(os.environ, GRITE_NO_DAEMON="1")

    def create(i: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GRITE, "issue", "create", "--title", f"parallel {i}", "--json"],
            check=False,
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    listed = grite(repo, "issue", "list", "--json").data
    assert listed["total"] == 10
    assert sorted(s["title"] for s in listed["issues"]) == sorted(f"parallel {i}" for i in range(10))


WRITER = """
import sys
from toolkit_grite.core import ops
from toolkit_grite.core.grite import Grite
g = Grite()
i = 0
while True:
    out = ops.create_issue(g, f"crash {i}")
    print(out["issue_id"], flush=True)
    i += 1
"""


def test_sigkill_during_appends_then_doctor_fix(repo):
    grite(repo, "init", "--no-agents-md")
    acknowledged: list[str] = []
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER], cwd=repo, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(3 + round_ * 2):
            acknowledged.append(proc.stdout.readline().strip())
        time.sleep(0.005 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # whatever it printed before dying was acknowledged too
        acknowledged.extend(line.strip() for line in proc.stdout if line.strip())
        proc.stdout.close()
        # the documented recovery after a crash: doctor --fix (removes a ref lock left mid-update)
        assert grite(repo, "doctor", "--fix", "--json").code == 0
    assert all(acknowledged)
    fixed = grite(repo, "doctor", "--fix", "--json")
    assert fixed.code == 0, fixed.err
    assert all(c["status"] != "error" for c in fixed.data["checks"]), fixed.data
    listed = {s["issue_id"] for s in grite(repo, "issue", "list", "--json").data["issues"]}
    assert set(acknowledged) <= listed
    assert grite(repo, "db", "check", "--json").data["corrupt_count"] == 0
    assert grite(repo, "issue", "create", "--title", "after", "--json").code == 0


def test_stale_ref_lock_left_by_a_killed_writer(repo):
    first = grite(repo, "issue", "create", "--title", "before", "--json").data["issue_id"]
    # A writer killed inside libgit2's ref update leaves refs/grite/wal.lock behind.
    lock = repo / ".git" / "refs" / "grite" / "wal.lock"
    lock.write_text("0" * 40 + "\n")
    res = grite(repo, "issue", "create", "--title", "blocked", "--json")
    assert res.code == 5
    assert "doctor --fix" in " ".join(res.error["details"]["suggestions"])
    failed = grite(repo, "doctor", "--json")
    assert failed.code == 5  # a failed check: db_error with the report
    assert failed.error["details"]["report"]["checks"][1]["status"] == "error"
    fixed = grite(repo, "doctor", "--fix", "--json").data
    assert any("stale ref lock" in a for a in fixed["applied"])
    assert not lock.exists()
    assert grite(repo, "issue", "create", "--title", "after", "--json").code == 0
    titles = {s["title"] for s in grite(repo, "issue", "list", "--json").data["issues"]}
    assert titles == {"before", "after"}
    assert first


def test_view_is_derivable_and_catches_up(repo, g):
    ids = [g("issue", "create", "--title", f"t{i}")["issue_id"] for i in range(5)]
    g("issue", "comment", ids[0], "--body", "c")
    before = g("issue", "list")
    # Delete the view entirely: the next command rebuilds it from the WAL by catching up.
    import shutil

    shutil.rmtree(repo / ".git" / "grite" / "view")
    assert g("issue", "list") == before
    out = g("rebuild")
    assert out["event_count"] == 6
    assert out["issue_count"] == 5
    assert out["source"] == "wal"
    assert g("issue", "list") == before


def test_corrupt_view_is_repaired_by_doctor(repo, g):
    g("issue", "create", "--title", "x")
    data = repo / ".git" / "grite" / "view" / "data.mdb"
    data.write_bytes(b"garbage" * 100)
    report = g("doctor", "--fix")
    assert any("rebuilt" in a for a in report["applied"])
    assert g("issue", "list")["total"] == 1
