"""grite's own walkthroughs end to end: the `demo.sh` session and the agent playbook's routines.

Each flow runs as separate processes against our `grite`, and once more against the real grite
0.5.3 (interop) to show the expectations are the real tool's too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pytest

from toolkit_grite.testing import Ours, Real, git, make_repo

GREET_V1 = 'import argparse\n\n\ndef main():\n    print("Hello")\n\n\nif __name__ == "__main__":\n    main()\n'
GREET_V2 = (
    "import argparse\n\nSTYLES = {'formal': 'Good day', 'casual': 'Hey'}\n\n\n"
    "def greet(name, style='casual'):\n    return f'{STYLES[style]}, {name}!'\n\n\n"
    "def main():\n    print(greet('World'))\n"
)


class Grite(Protocol):
    def __call__(self, cwd: Path, *args: str) -> Any: ...

    def run(self, cwd: Path, *args: str) -> Any: ...


@pytest.fixture(params=["ours", pytest.param("real", marks=pytest.mark.interop)])
def grite(request: pytest.FixtureRequest) -> Grite:
    return Ours() if request.param == "ours" else Real()


def _comment_heads(shown: dict[str, Any]) -> list[str]:
    """The text before the first `:` of each comment, from `issue show`'s events (both tools list them)."""
    bodies = [e["kind"]["CommentAdded"]["body"] for e in shown["events"] if "CommentAdded" in e["kind"]]
    return [body.split(":")[0] for body in bodies]


def _ids(listed: dict[str, Any]) -> list[str]:
    return [issue["issue_id"] for issue in listed["issues"]]


def test_demo_session(tmp_path: Path, grite: Grite) -> None:
    """demo.sh: init, a task with plan and checkpoints, a memory, dependencies, context, resume, doctor."""
    repo = make_repo(tmp_path / "greet")
    (repo / "greet.py").write_text(GREET_V1)
    (repo / "README.md").write_text("# Greeting CLI\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Initial commit")

    grite(repo, "init")
    assert "grite" in (repo / "AGENTS.md").read_text()  # the file agents discover

    task = grite(repo, "issue", "create", "--title", "Add personalized greeting styles",
                 "--body", "Add formal and casual styles via --style", "--label", "agent:todo")["issue_id"]  # fmt: skip
    listed = grite(repo, "issue", "list")["issues"]
    assert [(i["issue_id"], i["labels"]) for i in listed] == [(task, ["agent:todo"])]

    grite(repo, "issue", "comment", task, "--body", "Plan: add a greet() function with a style map.")
    (repo / "greet.py").write_text(GREET_V2)
    grite(repo, "issue", "comment", task[:8], "--body", "Checkpoint: greet() with 2 styles.")
    assert _comment_heads(grite(repo, "issue", "show", task)) == ["Plan", "Checkpoint"]

    memory = grite(repo, "issue", "create", "--title", "[Memory] CLI uses argparse",
                   "--body", "ArgumentParser, add_argument, parse_args.", "--label", "memory")["issue_id"]  # fmt: skip
    assert _ids(grite(repo, "issue", "list", "--label", "memory")) == [memory]

    prereq = grite(repo, "issue", "create", "--title", "Validate the name argument", "--label", "agent:todo")
    prereq_id = prereq["issue_id"]
    grite(repo, "issue", "dep", "add", task, "--target", prereq_id, "--type", "depends_on")
    deps = grite(repo, "issue", "dep", "list", task)
    assert [(d["issue_id"], d["dep_type"]) for d in deps["deps"]] == [(prereq_id, "depends_on")]
    topo = grite(repo, "issue", "dep", "topo", "--state", "open")
    order = [issue["issue_id"] for issue in topo["issues"]]
    assert order.index(prereq_id) < order.index(task)  # the prerequisite first

    indexed = grite(repo, "context", "index")
    assert (indexed["indexed"], indexed["total_files"]) == (1, 2)  # tracked: greet.py, README.md (skipped)
    matches = grite(repo, "context", "query", "greet")["matches"]
    assert matches == [{"symbol": "greet", "path": "greet.py"}]  # the edited working tree is indexed
    assert [s["name"] for s in grite(repo, "context", "show", "greet.py")["symbols"]] == ["greet", "main"]
    grite(repo, "context", "set", "conventions", "Use argparse; functions return strings.")
    project = grite(repo, "context", "project")
    assert project["entries"] == [{"key": "conventions", "value": "Use argparse; functions return strings."}]

    grite(repo, "issue", "close", task)
    assert _ids(grite(repo, "issue", "list", "--state", "open", "--label", "agent:todo")) == [prereq_id]
    assert _ids(grite(repo, "issue", "list", "--label", "memory")) == [memory]
    doctor = grite(repo, "doctor")
    assert all(check["status"] == "ok" for check in doctor["checks"]), doctor


def test_agent_playbook_routines(tmp_path: Path, grite: Grite) -> None:
    """The playbook: startup (pull, pick work), plan, lock, checkpoint, dependencies, finish (close, push).

    A second agent in its own clone picks up the first one's work; the first sees it finished.
    """
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    first = make_repo(tmp_path / "first")
    (first / "app.py").write_text("def run():\n    pass\n")
    git(first, "add", ".")
    git(first, "commit", "-q", "-m", "start")
    git(first, "remote", "add", "origin", str(remote))
    git(first, "push", "-q", "origin", "HEAD:main")
    grite(first, "init", "--no-agents-md")
    urgent = grite(first, "issue", "create", "--title", "Fix crash", "--label", "agent:todo",
                   "--label", "priority:P0")["issue_id"]  # fmt: skip
    later = grite(first, "issue", "create", "--title", "Refactor", "--label", "agent:todo")["issue_id"]
    grite(first, "issue", "dep", "add", later, "--target", urgent, "--type", "depends_on")
    grite(first, "sync", "--push")

    # A second agent in its own clone: the startup routine.
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(remote), str(second))
    grite(second, "init", "--no-agents-md")
    grite(second, "sync", "--pull")
    if isinstance(grite, Real):
        grite.refresh(second)  # 0.5.3 shows nothing pulled into a fresh clone until a rebuild; ours does
    assert sorted(_ids(grite(second, "issue", "list", "--state", "open", "--label", "agent:todo"))) == sorted(
        [urgent, later]
    )
    assert _ids(grite(second, "issue", "list", "--state", "open", "--label", "priority:P0")) == [urgent]
    waiting = grite(second, "issue", "dep", "list", urgent, "--reverse")["deps"]
    assert [d["issue_id"] for d in waiting] == [later]

    plan = "Intended changes: app.py\nTests: pytest\nRollback: git revert"
    grite(second, "issue", "comment", urgent, "--body", plan)
    # The playbook spells `lock acquire --resource R --ttl 15m`; 0.5.3 (and so ours) takes the
    # resource as an argument and the TTL in seconds, and refuses that spelling as a usage error.
    refused = grite.run(second, "--json", "lock", "acquire", "--resource", "path:app.py", "--ttl", "15m")
    assert refused.code == 2
    lock = grite(second, "lock", "acquire", "path:app.py", "--ttl", "900")
    assert lock["resource"] == "path:app.py"
    grite(second, "lock", "renew", "path:app.py", "--ttl", "900")
    grite(second, "issue", "comment", urgent, "--body", "Checkpoint: fixed the crash; pytest passes")
    grite(second, "lock", "release", "path:app.py")
    grite(second, "issue", "comment", urgent, "--body", "Verified: python app.py exits 0")
    grite(second, "issue", "close", urgent)
    grite(second, "sync", "--push")

    # The first agent's next session sees the finished work and what is unblocked.
    grite(first, "sync", "--pull")
    if isinstance(grite, Real):
        grite.refresh(first)  # likewise: 0.5.3's store does not see pulled events until a rebuild
    assert _ids(grite(first, "issue", "list", "--state", "open", "--label", "agent:todo")) == [later]
    assert _comment_heads(grite(first, "issue", "show", urgent)) == ["Intended changes", "Checkpoint", "Verified"]
    assert grite(first, "issue", "show", urgent)["issue"]["state"] == "closed"
