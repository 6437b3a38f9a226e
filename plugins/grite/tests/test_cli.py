from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from toolkit_grite.testing import git, grite


def test_issue_lifecycle(repo, g, cli):
    created = g(
        "issue", "create", "--title", "Crash on start", "--body", "stack trace", "--label", "bug", "--label", "p0"
    )
    iid = created["issue_id"]
    assert len(iid) == 32
    assert len(created["event_id"]) == 64
    g("issue", "comment", iid[:6], "--body", "seen on linux")
    g("issue", "update", iid, "--title", "Crash on startup")
    labels = g("issue", "label", "add", iid, "--label", "ui", "--label", "triaged")
    assert len(labels["event_ids"]) == 2
    g("issue", "label", "remove", iid, "--label", "p0")
    g("issue", "assignee", "add", iid, "--user", "alice")
    g("issue", "link", "add", iid, "--url", "https://example.com/1", "--note", "upstream")
    g("issue", "attachment", "add", iid, "--name", "log.txt", "--sha256", "ab" * 32, "--mime", "text/plain")
    g("issue", "close", iid)
    shown = g("issue", "show", iid)
    issue = shown["issue"]
    assert issue["title"] == "Crash on startup"
    assert issue["body"] == "stack trace"
    assert issue["state"] == "closed"
    assert issue["labels"] == ["bug", "triaged", "ui"]
    assert issue["assignees"] == ["alice"]
    assert issue["comments"][0]["body"] == "seen on linux"
    assert issue["links"][0]["note"] == "upstream"
    assert issue["attachments"][0]["sha256"] == "ab" * 32
    kinds = [next(iter(e["kind"])) for e in shown["events"]]
    assert kinds[0] == "IssueCreated"
    assert "StateChanged" in kinds
    assert len(kinds) == 10
    assert all(e["ts_unix_ms"] <= f["ts_unix_ms"] for e, f in zip(shown["events"], shown["events"][1:], strict=False))
    g("issue", "reopen", iid)
    assert g("issue", "show", iid)["issue"]["state"] == "open"
    # Nothing in the working tree or the index changed (AGENTS.md is only written by init).
    assert git(repo, "status", "--porcelain") == ""


def test_list_filters_and_sort(repo, g):
    a = g("issue", "create", "--title", "Alpha bug", "--label", "bug")["issue_id"]
    b = g("issue", "create", "--title", "beta feature", "--body", "needs SEARCHABLE text", "--label", "feat")[
        "issue_id"
    ]
    c = g("issue", "create", "--title", "Gamma", "--label", "bug", "--label", "ui")["issue_id"]
    g("issue", "close", c)
    g("issue", "assignee", "add", b, "--user", "bob")

    def ids(d: dict[str, Any]) -> list[str]:
        return [s["issue_id"] for s in d["issues"]]

    assert ids(g("issue", "list")) == [a, b, c]
    assert g("issue", "list")["total"] == 3
    assert ids(g("issue", "list", "--state", "open")) == [a, b]
    assert ids(g("issue", "list", "--state", "closed")) == [c]
    assert ids(g("issue", "list", "--label", "bug")) == [a, c]
    assert ids(g("issue", "list", "--label", "bug", "--label", "ui")) == [c]
    assert ids(g("issue", "list", "--assignee", "bob")) == [b]
    assert ids(g("issue", "list", "--search", "searchable")) == [b]
    assert ids(g("issue", "list", "--sort", "title")) == [a, c, b]
    assert ids(g("issue", "list", "--sort", "created", "--desc", "--limit", "2")) == [c, b]
    summary = g("issue", "list")["issues"][0]
    assert set(summary) == {
        "issue_id",
        "title",
        "state",
        "labels",
        "assignees",
        "created_ts",
        "updated_ts",
        "comment_count",
    }


def test_dependencies(repo, g, cli):
    a = g("issue", "create", "--title", "A")["issue_id"]
    b = g("issue", "create", "--title", "B")["issue_id"]
    c = g("issue", "create", "--title", "C")["issue_id"]
    out = g("issue", "dep", "add", a, "--target", b[:8])
    assert out == {
        "event_id": out["event_id"],
        "issue_id": a,
        "target": b,
        "dep_type": "depends_on",
        "action": "added",
        "wal_head": out["wal_head"],
    }
    assert len(out["wal_head"]) == 40
    listed = g("issue", "dep", "list", a)
    assert listed["direction"] == "dependencies"
    g("issue", "dep", "add", b, "--target", c)
    res = cli("grite", "issue", "dep", "add", c, "--target", a, "--json")
    assert res.exit_code == 2
    assert json.loads(res.stderr.strip().splitlines()[-1])["error"]["code"] == "invalid_args"
    g("issue", "dep", "add", c, "--target", a, "--type", "related_to")  # other type: no cycle
    assert [d["issue_id"] for d in g("issue", "dep", "list", a)["deps"]] == [b]
    reverse = g("issue", "dep", "list", b, "--reverse")
    assert [d["issue_id"] for d in reverse["deps"]] == [a]
    assert reverse["direction"] == "dependents"
    topo = g("issue", "dep", "topo")
    assert [s["issue_id"] for s in topo["issues"]] == [c, b, a]
    g("issue", "dep", "remove", a, "--target", b)
    assert g("issue", "dep", "list", a)["deps"] == []


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (("issue", "show", "ffff"), "not_found", 3),
        (("issue", "show", "zz"), "invalid_args", 2),
        (("issue", "update", "ffff", "--title", "x"), "not_found", 3),
        (("issue", "list", "--state", "weird"), "invalid_args", 2),
        (("issue", "create", "--title", " "), "invalid_args", 2),
        (("issue", "attachment", "add", "ffff", "--name", "a", "--sha256", "xyz", "--mime", "m"), "invalid_args", 2),
        (("lock", "acquire", "nonsense"), "invalid_args", 2),
        (("export", "--format", "csv"), "invalid_args", 2),
        (("snapshot", "list", "--bogus"), "invalid_args", 2),
        (("issue", "bogus"), "invalid_args", 2),
        (("issue", "create"), "invalid_args", 2),
    ],
)
def test_error_envelope_and_exit_codes(repo, cli, args, code, exit_code):
    res = cli("grite", *args, "--json")
    assert res.exit_code == exit_code, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    if code:
        err = json.loads(res.stderr.strip().splitlines()[-1])
        assert err["schema_version"] == 1
        assert err["ok"] is False
        assert err["error"]["code"] == code
        assert res.stdout == ""


def test_ambiguous_prefix(repo, g):
    from toolkit_grite.core.grite import Grite
    from toolkit_grite.core.model import make_event
    from toolkit_grite.errors import GriteNotFound, InvalidArgs

    grite_ctx = Grite()
    view = grite_ctx.ready()
    actor = bytes(16)
    evs = [
        make_event(bytes.fromhex(h), actor, 1000, 1, ["t", "", []]) for h in ("abcd01" + "0" * 26, "abcd02" + "0" * 26)
    ]
    view.ingest([], extra=evs)
    with pytest.raises(InvalidArgs) as exc:
        view.resolve_issue("abcd")
    assert exc.value.code == "invalid_args"
    assert len(exc.value.details["suggestions"]) == 2
    assert view.resolve_issue("abcd01").hex().startswith("abcd01")
    with pytest.raises(GriteNotFound):
        view.resolve_issue("abce")
    grite_ctx.close()


def test_human_output_and_quiet(repo, cli):
    res = cli("grite", "issue", "create", "--title", "Hello")
    assert res.exit_code == 0
    assert res.stdout.startswith("created ")
    res = cli("grite", "issue", "list")
    assert "Hello" in res.stdout
    assert res.stdout.startswith("ID")
    res = cli("grite", "--quiet", "issue", "create", "--title", "Silent")
    assert res.exit_code == 0
    assert res.stdout == ""
    res = cli("grite", "issue", "show", "ffff")
    assert res.exit_code == 3
    assert "error:" in res.stderr
    assert "hint:" in res.stderr


def test_export(repo, g, cli, tmp_path):
    a = g("issue", "create", "--title", "A", "--label", "x")["issue_id"]
    g("issue", "comment", a, "--body", "hi")
    res = cli("grite", "export", "--format", "json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["meta"]["schema_version"] == 1
    assert doc["meta"]["event_count"] == 2
    assert doc["issues"][0]["issue_id"] == a
    assert [next(iter(e["kind"])) for e in doc["events"]] == ["IssueCreated", "CommentAdded"]
    first = doc["events"][0]
    assert set(first) == {"event_id", "issue_id", "actor", "ts_unix_ms", "parent", "kind", "sig"}
    since = cli("grite", "export", "--format", "json", "--since", first["event_id"])
    assert [e["event_id"] for e in json.loads(since.stdout)["events"]] == [doc["events"][1]["event_id"]]
    out = tmp_path / "out.md"
    data = g("export", "--format", "md", "--output", str(out))
    assert data["output_path"] == str(out)
    assert data["event_count"] == 2
    assert "# Issues" in out.read_text()
    assert "hi" in out.read_text()
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".grite").exists()


def test_actors_and_env(repo, g, cli):
    first = g("init", "--no-agents-md")
    assert first["action"] == "created"
    assert g("init", "--no-agents-md")["action"] == "existing"
    agent = g("actor", "init", "--label", "agent-1", "--generate-key")
    assert len(agent["public_key"]) == 64
    assert g("actor", "current")["source"] == "repo_default"
    cur = g("--actor", "agent-1", "actor", "current")
    assert cur == {"actor_id": agent["actor_id"], "data_dir": agent["data_dir"], "source": "flag"}
    res = cli("grite", "actor", "current", "--json", env={"GRITE_ACTOR": agent["actor_id"]})
    assert json.loads(res.stdout)["data"]["source"] == "env"
    res = cli("grite", "actor", "current", "--json", env={"GRITE_HOME": agent["data_dir"]})
    assert json.loads(res.stdout)["data"]["source"] == "data_dir"
    iid = g("--actor", "agent-1", "issue", "create", "--title", "signed")["issue_id"]
    ev = g("issue", "show", iid)["events"][0]
    assert ev["actor"] == agent["actor_id"]
    assert len(ev["sig"]) == 128
    assert len(g("actor", "list")["actors"]) == 2
    assert g("actor", "show", agent["actor_id"])["actor"]["key_scheme"] == "ed25519"
    g("actor", "use", agent["actor_id"])
    assert g("actor", "current")["actor_id"] == agent["actor_id"]


def test_init_agents_md(repo, g):
    (repo / "AGENTS.md").write_text("# Rules\n")
    out = g("init")
    assert out["agents_md_action"] == "updated"
    assert "## Grite" in (repo / "AGENTS.md").read_text()
    assert g("init")["agents_md_action"] == "skipped"


def test_worktree_has_own_actor(repo, g, tmp_path):
    g("init", "--no-agents-md")
    git(repo, "commit", "-q", "--allow-empty", "-m", "root")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt))
    other = g("actor", "init", "--label", "wt-agent")
    res = grite(wt, "actor", "use", other["actor_id"], "--json")
    assert res.code == 0, res.err
    assert "worktrees" in res.data["repo_config"]
    assert grite(wt, "actor", "current", "--json").data["actor_id"] == other["actor_id"]
    assert g("actor", "current")["actor_id"] != other["actor_id"]
    iid = grite(wt, "issue", "create", "--title", "from worktree", "--json").data["issue_id"]
    assert g("issue", "show", iid)["issue"]["title"] == "from worktree"


def test_not_a_repo(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    res = cli("grite", "issue", "list", "--json")
    assert res.exit_code == 3
    assert json.loads(res.stderr.strip().splitlines()[-1])["error"]["code"] == "not_found"


def test_console_script_matches_toolkit(repo, g):
    g("issue", "create", "--title", "same")
    via_script = grite(repo, "issue", "list", "--json")
    via_toolkit = subprocess.run(
        [__import__("sys").executable, "-m", "toolkit", "grite", "issue", "list", "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert via_script.code == 0
    assert via_toolkit.returncode == 0, via_toolkit.stderr
    assert via_script.out == via_toolkit.stdout


def test_list_json_fast_path_is_canonical(repo, g, cli):
    g("issue", "create", "--title", 'Ünïcode "quoted" \\ title', "--label", "é")
    g("issue", "create", "--title", "second")
    out = cli("grite", "issue", "list", "--json").stdout
    doc = json.loads(out)
    assert out == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert doc["data"]["total"] == 2
