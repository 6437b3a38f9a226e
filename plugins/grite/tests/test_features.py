from __future__ import annotations

import json

from toolkit_grite.testing import git


def test_snapshots(repo, g):
    ids = [g("issue", "create", "--title", f"t{i}")["issue_id"] for i in range(3)]
    snap = g("snapshot", "create")
    assert snap["event_count"] == 3
    assert snap["ref_name"].startswith("refs/grite/snapshots/")
    tree = git(repo, "ls-tree", "-r", "--name-only", snap["oid"]).split()
    assert tree == ["events/0000.bin", "snapshot.json"]
    meta = json.loads(git(repo, "show", f"{snap['oid']}:snapshot.json"))
    assert meta["chunks"][0]["event_count"] == 3
    assert meta["wal_head"] == snap["wal_head"]
    g("issue", "close", ids[0])  # after the snapshot: must survive rebuild --from-snapshot
    out = g("rebuild", "--from-snapshot")
    assert out["source"] == "snapshot"
    assert out["event_count"] == 4
    assert g("issue", "show", ids[0])["issue"]["state"] == "closed"
    g("snapshot", "create")
    g("snapshot", "create")
    listed = g("snapshot", "list")
    assert listed["total"] == 3
    assert g("snapshot", "gc", "--keep", "1") == {"deleted": 2, "kept": 1}
    assert g("snapshot", "list")["total"] == 1


def test_locks_and_policy(repo, g, cli):
    g("init", "--no-agents-md")
    other = g("actor", "init", "--label", "other")["actor_id"]
    iid = g("issue", "create", "--title", "locked")["issue_id"]
    lock = g("--actor", other, "lock", "acquire", f"issue:{iid}", "--ttl", "60")
    assert lock["owner"] == other
    assert lock["ttl_seconds"] == 60
    # conflicting acquire by someone else
    res = cli("grite", "lock", "acquire", f"issue:{iid}", "--json")
    assert res.exit_code == 4
    err = json.loads(res.stderr.strip().splitlines()[-1])["error"]
    assert err["code"] == "conflict"
    assert err["details"]["holder"] == other
    # policy warn (default): the write proceeds with a warning
    out = g("issue", "comment", iid, "--body", "despite the lock")
    assert out["warnings"]
    assert other in out["warnings"][0]
    # policy require: the write fails and changes nothing
    cfg = repo / ".git" / "grite" / "config.toml"
    cfg.write_text(cfg.read_text().replace('lock_policy = "warn"', 'lock_policy = "require"'))
    res = cli("grite", "issue", "comment", iid, "--body", "blocked", "--json")
    assert res.exit_code == 4
    assert g("issue", "show", iid)["issue"]["comment_count"] == 1
    # --lock needs the lock too
    assert cli("grite", "issue", "close", iid, "--lock", "--json").exit_code == 4
    # the owner can renew and release
    assert g("--actor", other, "lock", "renew", f"issue:{iid}", "--ttl", "120")["ttl_seconds"] == 120
    status = g("lock", "status")
    assert status["total"] == 1
    assert status["locks"][0]["resource"] == f"issue:{iid}"
    assert cli("grite", "lock", "release", f"issue:{iid}", "--json").exit_code == 4
    assert g("--actor", other, "lock", "release", f"issue:{iid}") == {"resource": f"issue:{iid}", "released": True}
    g("issue", "close", iid, "--lock")
    assert g("lock", "status")["total"] == 0
    # repo: conflicts with everything, path: with overlapping paths
    g("--actor", other, "lock", "acquire", "path:src/core")
    assert cli("grite", "lock", "acquire", "path:src", "--json").exit_code == 4
    assert cli("grite", "lock", "acquire", "path:src/core/x.py", "--json").exit_code == 4
    g("lock", "acquire", "path:docs")
    assert cli("grite", "lock", "acquire", "repo:global", "--json").exit_code == 4
    cfg.write_text(cfg.read_text().replace('lock_policy = "require"', 'lock_policy = "bogus"'))
    assert cli("grite", "issue", "create", "--title", "x", "--json").exit_code == 2


def test_lock_gc(repo, g):
    g("lock", "acquire", "issue:abc", "--ttl", "1")
    import time

    time.sleep(1.1)
    st = g("lock", "status")
    assert st["locks"][0]["expired"] is True
    assert g("lock", "gc") == {"removed": 1, "kept": 0}


def test_db_stats_check_verify_tampered(repo, g):
    g("init", "--no-agents-md")
    signer = g("actor", "init", "--label", "signer", "--generate-key")["actor_id"]
    iid = g("--actor", signer, "issue", "create", "--title", "signed")["issue_id"]
    g("--actor", signer, "issue", "comment", iid, "--body", "also signed")
    g("issue", "comment", iid, "--body", "unsigned")
    stats = g("db", "stats")
    assert stats["event_count"] == 3
    assert stats["issue_count"] == 1
    assert stats["size_bytes"] > 0
    ok = g("db", "verify")
    assert ok["signatures_checked"] == 2
    assert ok["signatures_valid"] == 2
    assert ok["error_count"] == 0
    assert g("db", "check")["corrupt_count"] == 0
    # Tamper: replace one signature in the view (as a forged WAL would deliver it).
    from toolkit_grite.core.grite import Grite
    from toolkit_grite.core.model import Event
    from toolkit_grite.core.view import _encode_event

    grite_ctx = Grite()
    view = grite_ctx.ready()
    victim = next(e for e in view.all_events() if e.sig is not None)
    forged = Event(
        victim.event_id, victim.issue_id, victim.actor, victim.ts, victim.parent, victim.kind, victim.payload, bytes(64)
    )
    with view.env.begin(write=True) as txn:
        txn.put(victim.event_id, _encode_event(forged), db=view.events)
    grite_ctx.close()
    bad = g("db", "verify")
    assert bad["error_count"] == 1
    assert bad["errors"] == [{"event_id": victim.event_id.hex(), "issue_id": iid, "error": "invalid signature"}]


def test_db_check_reports_a_tampered_event(repo, g, cli):
    iid = g("issue", "create", "--title", "original")["issue_id"]
    from toolkit_grite.core.grite import Grite
    from toolkit_grite.core.view import _encode_event

    ctx = Grite()
    view = ctx.ready()
    ev = view.all_events()[0]
    forged = ev._replace(payload=("forged", ev.payload[1], ev.payload[2]))
    with view.env.begin(write=True) as txn:
        txn.put(ev.event_id, _encode_event(forged), db=view.events)
    ctx.close()
    res = cli("grite", "db", "check", "--json")
    assert res.exit_code == 5, (res.stdout, res.stderr)
    report = json.loads(res.stderr.strip().splitlines()[-1])["error"]["details"]["report"]
    assert report["corrupt_count"] == 1
    assert report["errors"] == [{"event_id": ev.event_id.hex(), "issue_id": iid, "error": "event_id mismatch"}]


def test_create_with_lock_refuses_a_repo_lock(repo, g, cli):
    g("init", "--no-agents-md")
    other = g("actor", "init", "--label", "other")["actor_id"]
    g("--actor", other, "lock", "acquire", "repo:release")
    # default policy warn: proceeds with a warning; --lock: refuses
    assert g("issue", "create", "--title", "warned")["warnings"]
    res = cli("grite", "issue", "create", "--title", "refused", "--lock", "--json")
    assert res.exit_code == 4
    assert [s["title"] for s in g("issue", "list")["issues"]] == ["warned"]


def test_appends_run_git_gc_auto(repo, g, monkeypatch):
    from toolkit_grite.core import grite as core

    def packs() -> int:
        stats = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
        return int(stats["packs"])

    monkeypatch.setattr(core, "GC_EVERY", 5)
    monkeypatch.setenv("GRITE_AUTO_GC", "0")
    g("issue", "create", "--title", "a")
    git(repo, "repack", "-q")
    g("issue", "create", "--title", "b")
    git(repo, "repack", "-q")
    assert packs() == 2
    # git's own rule (more packs than gc.autoPackLimit) makes `gc --auto` consolidate them.
    git(repo, "config", "gc.autoPackLimit", "1")
    git(repo, "config", "gc.autoDetach", "false")
    monkeypatch.setenv("GRITE_AUTO_GC", "1")
    for i in range(5):
        g("issue", "create", "--title", f"t{i}")
    assert packs() == 1
    assert g("issue", "list")["total"] == 7
