from __future__ import annotations

import random
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_grite.core import ops, projection
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.repo import discover
from toolkit_grite.core.sync import sync
from toolkit_grite.testing import git, grite, make_repo


def bare(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def replica(path: Path, remote: Path) -> Path:
    make_repo(path)
    git(path, "remote", "add", "origin", str(remote))
    return path


def test_clone_then_sync_shows_every_issue(tmp_path):
    hub = bare(tmp_path / "hub.git")
    a = replica(tmp_path / "a", hub)
    git(a, "commit", "-q", "--allow-empty", "-m", "root")
    git(a, "push", "-q", "origin", "HEAD:refs/heads/main")
    ids = {grite(a, "issue", "create", "--title", f"issue {i}", "--json").data["issue_id"] for i in range(3)}
    res = grite(a, "sync", "--json")
    assert res.code == 0, res.err
    assert res.data["pushed"] is True
    subprocess.run(["git", "clone", "-q", str(hub), str(tmp_path / "b")], check=True)
    b = tmp_path / "b"
    assert grite(b, "issue", "list", "--json").data["total"] == 0  # a clone does not carry refs/grite/*
    pulled = grite(b, "sync", "--pull", "--json").data
    assert pulled["pulled_events"] == 3
    assert {s["issue_id"] for s in grite(b, "issue", "list", "--json").data["issues"]} == ids
    assert git(b, "status", "--porcelain") == ""


def test_diverged_replicas_lose_nothing_and_stay_readable(tmp_path):
    hub = bare(tmp_path / "hub.git")
    a, b = replica(tmp_path / "a", hub), replica(tmp_path / "b", hub)
    x = grite(a, "issue", "create", "--title", "from a", "--json").data["issue_id"]
    assert grite(a, "sync", "--json").code == 0
    assert grite(b, "sync", "--json").code == 0
    grite(a, "issue", "comment", x, "--body", "a's comment")
    grite(b, "issue", "comment", x, "--body", "b's comment")
    y = grite(b, "issue", "create", "--title", "from b", "--json").data["issue_id"]
    assert grite(a, "sync", "--json").code == 0
    merged = grite(b, "sync", "--json").data
    assert merged["merged_events"] == 2
    assert merged["pushed"]
    assert grite(a, "sync", "--json").code == 0
    for r in (a, b):
        shown = grite(r, "issue", "show", x, "--json").data["issue"]
        assert sorted(c["body"] for c in shown["comments"]) == ["a's comment", "b's comment"]
        assert grite(r, "issue", "show", y, "--json").code == 0
    # The hub's WAL, read along prev_wal only (as grite 0.5.3 does), holds every event.
    from toolkit_grite.testing import read_like_grite_053

    events = read_like_grite_053(hub)
    assert len({bytes(e[0]) for e in events}) == len(events) == 4


def test_plain_git_fetch_is_seen_by_the_view(tmp_path):
    hub = bare(tmp_path / "hub.git")
    a, b = replica(tmp_path / "a", hub), replica(tmp_path / "b", hub)
    assert grite(b, "sync", "--json").code == 0  # configures the fetch refspec for origin
    iid = grite(a, "issue", "create", "--title", "fetched", "--json").data["issue_id"]
    assert grite(a, "sync", "--json").code == 0
    git(b, "fetch", "-q", "origin")
    assert grite(b, "issue", "show", iid, "--json").data["issue"]["title"] == "fetched"


def test_sync_unknown_remote(repo):
    res = grite(repo, "sync", "--remote", "nowhere", "--json")
    assert res.code in (3, 5)
    assert res.error["code"] in ("not_found", "io_error")


OPS = ["create", "comment", "label_add", "label_remove", "close", "reopen", "title", "assign", "sync", "sync"]


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_three_replicas_converge(tmp_path_factory, seed):
    rnd = random.Random(seed)
    base = tmp_path_factory.mktemp("prop")
    hub = bare(base / "hub.git")
    reps = []
    for i in range(3):
        path = replica(base / f"r{i}", hub)
        reps.append(Grite(discover(path), actor_flag=f"{i + 1:02x}" * 16))
    written: set[str] = set()
    for _step in range(28):
        r = rnd.choice(reps)
        op = rnd.choice(OPS)
        issues = [s["issue_id"] for s in r.ready().states()]
        if op == "sync":
            sync(r, "origin")
            continue
        if op == "create" or not issues:
            out = ops.create_issue(r, f"t{rnd.randint(0, 99)}", "", [rnd.choice("abc")])
            written.add(out["event_id"])
            continue
        target = rnd.choice(issues)
        word = rnd.choice("abc")
        if op == "comment":
            written.add(ops.comment(r, target, f"c{word}")["event_id"])
        elif op in ("label_add", "label_remove"):
            written.update(ops.set_members(r, target, 4 if op == "label_add" else 5, [word])["event_ids"])
        elif op in ("close", "reopen"):
            written.add(ops.set_state(r, target, "closed" if op == "close" else "open")["event_id"])
        elif op == "title":
            written.add(ops.update_issue(r, target, f"title {word}", None)["event_id"])
        else:
            written.update(ops.set_members(r, target, 8, [word])["event_ids"])
        r._caught_up = False
    for _round in range(2):
        for r in reps:
            sync(r, "origin")
    results = []
    for r in reps:
        r._caught_up = False
        view = r.ready()
        ids = {e.event_id.hex() for e in view.all_events()}
        assert written <= ids, "an acknowledged event was lost"
        results.append((ids, sorted((projection.full(s) for s in view.states()), key=lambda s: s["issue_id"])))
        r.close()
    assert results[0] == results[1] == results[2]


def test_locks_travel_with_sync(tmp_path):
    hub = bare(tmp_path / "hub.git")
    a, b = replica(tmp_path / "a", hub), replica(tmp_path / "b", hub)
    assert grite(a, "lock", "acquire", "issue:shared", "--ttl", "300", "--json").code == 0
    assert grite(a, "sync", "--json").code == 0
    assert grite(b, "sync", "--json").code == 0
    status = grite(b, "lock", "status", "--json").data
    assert [lk["resource"] for lk in status["locks"]] == ["issue:shared"]
    res = grite(b, "lock", "acquire", "issue:shared", "--json")
    assert res.code == 4
    assert res.error["code"] == "conflict"
    assert grite(a, "lock", "release", "issue:shared", "--json").code == 0
    assert grite(a, "sync", "--json").code == 0
    assert "refs/grite/locks/" not in git(hub, "for-each-ref", "refs/grite/locks/")
    assert grite(b, "sync", "--json").code == 0
    assert grite(b, "lock", "status", "--json").data["total"] == 0
    assert grite(b, "lock", "acquire", "issue:shared", "--json").code == 0


def test_sync_by_path_and_push_only(tmp_path):
    hub = bare(tmp_path / "hub.git")
    a = make_repo(tmp_path / "a")
    b = make_repo(tmp_path / "b")
    iid = grite(a, "issue", "create", "--title", "by path", "--json").data["issue_id"]
    pushed = grite(a, "sync", "--remote", str(hub), "--push", "--json").data
    assert pushed["pushed"] is True
    assert pushed["remote"] == str(hub)
    assert git(hub, "rev-parse", "refs/grite/wal").strip() == pushed["wal_head"]
    pulled = grite(b, "sync", "--remote", str(hub), "--pull", "--json").data
    assert pulled["pushed"] is False
    assert pulled["pulled_events"] == 1
    assert grite(b, "issue", "show", iid, "--json").data["issue"]["title"] == "by path"
    # a URL remote gets its own tracking namespace and no config change
    assert "url-" in git(b, "for-each-ref", "--format=%(refname)", "refs/remotes/")
    assert "grite" not in git(b, "config", "--list")
