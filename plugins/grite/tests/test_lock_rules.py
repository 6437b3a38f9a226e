"""Lock rules: what an issue: lock blocks, prefixes, overlapping offline locks, skewed clocks (specs/grite/locks.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.core import leases
from toolkit_grite.testing import grite, two_replicas


def _policy(repo: Path, policy: str) -> None:
    cfg = repo / ".git" / "grite" / "config.toml"
    text = cfg.read_text()
    cfg.write_text(
        "\n".join(line for line in text.splitlines() if "lock_policy" not in line) + f'\nlock_policy = "{policy}"\n'
    )


@pytest.fixture
def two_actors(repo: Path) -> tuple[Path, str, str]:
    assert grite(repo, "init", "--no-agents-md").code == 0
    other = grite(repo, "actor", "init", "--label", "other", "--json").data["actor_id"]
    me = grite(repo, "actor", "current", "--json").data["actor_id"]
    return repo, me, other


def test_an_issue_lock_does_not_block_issue_create(two_actors: tuple[Path, str, str]) -> None:
    repo, _me, other = two_actors
    _policy(repo, "require")
    iid = grite(repo, "issue", "create", "--title", "a", "--json").data["issue_id"]
    assert grite(repo, "--actor", other, "lock", "acquire", f"issue:{iid}", "--json").code == 0
    made = grite(repo, "issue", "create", "--title", "b", "--json")
    assert made.code == 0, made.err
    assert "warnings" not in made.data
    assert grite(repo, "issue", "create", "--title", "c", "--lock", "--json").code == 0
    # ... while a repo: lock still does
    assert grite(repo, "--actor", other, "lock", "acquire", "repo:release", "--json").code == 0
    assert grite(repo, "issue", "create", "--title", "d", "--json").code == 4


def test_require_enforces_an_issue_prefix_lock(two_actors: tuple[Path, str, str]) -> None:
    repo, _me, other = two_actors
    iid = grite(repo, "issue", "create", "--title", "a", "--json").data["issue_id"]
    assert grite(repo, "--actor", other, "lock", "acquire", f"issue:{iid[:6]}", "--json").code == 0
    warned = grite(repo, "issue", "comment", iid, "--body", "x", "--json")
    assert warned.code == 0
    assert f"issue:{iid[:6]}" in warned.data["warnings"][0]
    _policy(repo, "require")
    blocked = grite(repo, "issue", "comment", iid, "--body", "y", "--json")
    assert blocked.code == 4
    assert blocked.error["details"]["resource"] == f"issue:{iid[:6]}"
    assert grite(repo, "--actor", other, "issue", "comment", iid, "--body", "owner may", "--json").code == 0


def test_overlapping_path_locks_taken_offline_are_reported_after_sync(tmp_path: Path) -> None:
    alice, bob = two_replicas(tmp_path)
    assert grite(alice, "lock", "acquire", "path:src/", "--json").code == 0
    assert grite(bob, "lock", "acquire", "path:src/main.py", "--json").code == 0  # offline: no conflict seen
    assert grite(alice, "sync", "--json").data["lock_conflicts"] == []
    assert grite(bob, "sync", "--json").data["lock_conflicts"] == ["path:src/main.py"]
    assert grite(alice, "sync", "--json").data["lock_conflicts"] == ["path:src/"]


def test_a_skewed_clock_cannot_take_over_a_live_lease(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = two_replicas(tmp_path)
    assert grite(alice, "lock", "acquire", "path:db/", "--ttl", "60", "--json").code == 0
    assert grite(alice, "sync", "--json").code == 0

    # Bob's clock runs 2 minutes ahead: by his clock alone, alice's 60 s lease already ended.
    real_now = leases.now_ms
    skew = {"ms": 120_000}
    monkeypatch.setattr(leases, "now_ms", lambda: real_now() + skew["ms"])
    monkeypatch.chdir(bob)

    def bob_json(*args: str) -> tuple[int, dict[str, Any]]:
        res = cli("grite", *args, "--json")
        text = res.stdout if res.exit_code == 0 else res.stderr.strip().splitlines()[-1]
        return res.exit_code, json.loads(text)

    code, _doc = bob_json("sync")
    assert code == 0
    code, doc = bob_json("lock", "acquire", "path:db/schema.sql")
    assert code == 4, doc
    assert doc["error"]["details"]["holder"] == grite(alice, "actor", "current", "--json").data["actor_id"]
    # Once bob has watched that lease for its whole length (by his own clock), it is over.
    skew["ms"] += 61_000
    code, doc = bob_json("lock", "acquire", "path:db/schema.sql")
    assert code == 0, doc
