"""The same command prints the same JSON keys as the real grite 0.5.3 (ours may add keys).

Each implementation runs the same script on its own repository (and its own bare remote); for
every command the real `data` is compared with ours key by key, recursively (the first element
of lists): every key 0.5.3 prints must be there with the same JSON type (null may stand for any
type on either side), and enumerations (`state`, `action`, `direction`, `dep_type`, `order`,
`format`, `running`...) must be equal.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.testing import Ours, Real, Run, git, make_repo

pytestmark = pytest.mark.interop

ENUMS = {
    "state",
    "action",
    "direction",
    "dep_type",
    "order",
    "running",
    "ok",
    "schema_version",
    "pulled",
    "agents_md_action",
}


def _type(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def missing_keys(real: Any, ours: Any, path: str = "data") -> list[str]:
    """Differences that break a 0.5.3 consumer: absent keys, other types, other enumeration values."""
    problems: list[str] = []
    if real is None or ours is None:
        return problems
    if _type(real) != _type(ours):
        return [f"{path}: {_type(real)} in 0.5.3, {_type(ours)} in ours"]
    if isinstance(real, dict):
        for key, value in real.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
                continue
            if key in ENUMS and not isinstance(value, dict | list) and value != ours[key]:
                problems.append(f"{path}.{key}: {value!r} in 0.5.3, {ours[key]!r} in ours")
            problems += missing_keys(value, ours[key], f"{path}.{key}")
    elif isinstance(real, list) and real and ours:
        problems += missing_keys(real[0], ours[0], f"{path}[0]")
    return problems


class Twin:
    """One script, two repositories: the real grite on one, ours on the other; ids mapped by role."""

    def __init__(self, tmp_path: Path) -> None:
        self.real, self.ours = Real(), Ours()
        self.repos: dict[str, Path] = {}
        for side in ("real", "ours"):
            remote = tmp_path / f"{side}-remote.git"
            remote.mkdir()
            git(remote, "init", "-q", "--bare", ".")
            repo = make_repo(tmp_path / side)
            git(repo, "remote", "add", "origin", str(remote))
            self.repos[side] = repo
        self.ids: dict[str, dict[str, str]] = {"real": {}, "ours": {}}
        self.problems: list[str] = []

    def _args(self, side: str, args: tuple[str, ...]) -> list[str]:
        return [self.ids[side].get(a, a) for a in args]

    def run(self, side: str, *args: str) -> Run:
        impl = self.real if side == "real" else self.ours
        return impl.run(self.repos[side], "--json", *self._args(side, args))

    def both(self, *args: str, keep: str | None = None) -> tuple[Any, Any]:
        """Run `args` on both sides, record key differences; `keep` names the new `issue_id` as a role."""
        out = {}
        for side in ("real", "ours"):
            res = self.run(side, *args)
            assert res.code == 0, (side, args, res.out, res.err)
            out[side] = res.data
            if keep:
                self.ids[side][keep] = out[side]["issue_id"]
        self.problems += [f"{' '.join(args)}: {p}" for p in missing_keys(out["real"], out["ours"])]
        return out["real"], out["ours"]


def test_same_keys_as_real_grite(tmp_path: Path) -> None:
    t = Twin(tmp_path)
    t.both("init", "--no-agents-md")
    t.both("issue", "create", "--title", "A", "--body", "b", "--label", "x", keep="A")
    t.both("issue", "create", "--title", "B", keep="B")
    for args in (
        ("issue", "update", "A", "--title", "A2"),
        ("issue", "comment", "A", "--body", "c"),
        ("issue", "close", "A"),
        ("issue", "reopen", "A"),
        ("issue", "label", "add", "A", "--label", "y"),
        ("issue", "label", "remove", "A", "--label", "y"),
        ("issue", "assignee", "add", "A", "--user", "u"),
        ("issue", "assignee", "remove", "A", "--user", "u"),
        ("issue", "link", "add", "A", "--url", "https://e.com", "--note", "n"),
        ("issue", "attachment", "add", "A", "--name", "f", "--sha256", "cd" * 32, "--mime", "text/plain"),
        ("issue", "dep", "add", "A", "--target", "B", "--type", "blocks"),
        ("issue", "dep", "list", "A"),
        ("issue", "dep", "list", "B", "--reverse"),
        ("issue", "dep", "topo"),
        ("issue", "dep", "remove", "A", "--target", "B", "--type", "blocks"),
        ("issue", "list"),
        ("issue", "list", "--state", "open", "--label", "x"),
        ("actor", "current"),
        ("actor", "list"),
        ("actor", "show"),
        ("db", "stats"),
        ("db", "check"),
        ("db", "verify"),
        ("lock", "acquire", "repo:global", "--ttl", "60"),
        ("lock", "renew", "repo:global", "--ttl", "120"),
        ("lock", "status"),
        ("lock", "release", "repo:global"),
        ("lock", "gc"),
        ("sync", "--push"),
        ("sync", "--pull"),
        ("sync",),
        ("snapshot", "create"),
        ("snapshot", "list"),
        ("rebuild",),
        ("rebuild", "--from-snapshot"),
        ("snapshot", "gc", "--keep", "1"),
        ("daemon", "status"),
        ("doctor",),
        ("install-skill",),
        ("context", "set", "owner", "a"),
        ("context", "project"),
    ):
        if args[0] == "daemon":
            # 0.5.3 prints daemon JSON without the envelope; compare its object with our `data`.
            raw = t.real.run(t.repos["real"], "--json", *args)
            import json

            ours = t.run("ours", *args).data
            t.problems += [f"daemon status: {p}" for p in missing_keys(json.loads(raw.out), ours)]
            continue
        t.both(*args)
    real_show, our_show = t.both("issue", "show", "A")
    assert t.problems == [], "\n".join(t.problems)
    assert real_show["events"][0].keys() <= our_show["events"][0].keys()


def test_usage_errors_json_and_version(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    repo = make_repo(tmp_path / "r")
    assert real.run(repo, "--version").out.strip() == "grite 0.5.3"
    assert "compatible with grite 0.5.3" in ours.run(repo, "--version").out
    assert ours.run(repo, "--json", "--version").data["compatible_with"] == "0.5.3"
    for args in (("--json", "issue", "bogus"), ("issue", "create", "--json"), ("--json", "--bogus")):
        theirs, mine = real.run(repo, *args), ours.run(repo, *args)
        assert theirs.code == mine.code == 2
        assert mine.error["code"] == "invalid_args"  # 0.5.3 prints clap's text even under --json
    # --json with --quiet still prints the envelope (0.5.3's local path does the same).
    real.run(repo, "--json", "init", "--no-agents-md")
    assert real.run(repo, "--json", "--quiet", "issue", "list").out.strip().startswith("{")
    assert ours.run(repo, "--json", "-q", "issue", "list").data["total"] == 0


def test_daemon_keys_as_real_grite(tmp_path: Path) -> None:
    """`daemon start|status|stop` of the real grite-daemon against ours (0.5.3 prints them without envelope)."""
    import json

    real, ours = Real(), Ours()
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    real_repo, our_repo = make_repo(tmp_path / "real"), make_repo(tmp_path / "ours")
    real.run(real_repo, "init", "--no-agents-md")
    ours.run(our_repo, "init", "--no-agents-md")
    problems: list[str] = []
    started: dict[str, Any] = {}
    try:
        steps = (
            ("daemon", "start", "--idle-timeout", "60"),
            ("issue", "list"),  # 0.5.3's daemon says "not running" until a request opened the repository
            ("daemon", "status"),
            ("daemon", "stop"),
            ("daemon", "stop"),
        )
        for args in steps:
            theirs = real.run(real_repo, "--json", *args, daemon=True, env=env)
            assert theirs.code == 0, (args, theirs.out, theirs.err)
            if args[0] == "issue":
                continue
            mine = ours.run(our_repo, "--json", *args)
            assert mine.code == 0, (args, mine.out, mine.err)
            raw = json.loads(theirs.out)
            started = started or raw
            problems += [f"{' '.join(args)}: {p}" for p in missing_keys(raw, mine.data)]
    finally:
        ours.run(our_repo, "daemon", "stop")
        real.run(real_repo, "--json", "daemon", "stop", daemon=True, env=env)
        if "pid" in started:  # 0.5.3's stop can miss its own daemon (issue #28): never leave it running
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(started["pid"]), signal.SIGTERM)
    assert problems == [], "\n".join(problems)
