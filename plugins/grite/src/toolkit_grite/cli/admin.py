"""Repository-level commands: init, actor, export, rebuild, sync, snapshot, lock, doctor, db."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from toolkit_grite.cli.base import GriteGroup, common_options, fail_with_report, get_grite, output

__all__ = ["register"]

AGENTS_SECTION = """## Grite

This repository tracks issues with grite (events in `refs/grite/*`, never in the working tree).
Useful commands for agents (add `--json` for machine output):

- `grite issue list --state open` / `grite issue show <id>`
- `grite issue create --title "..." --body "..." --label bug`
- `grite issue comment <id> --body "..."`, `grite issue close <id>`
- `grite lock acquire issue:<id>` before long work, `grite lock release issue:<id>` after
- `grite sync` to exchange issues with `origin`
- set `GRITE_ACTOR=<id>` (see `grite actor init --label <name>`) so each agent has its own identity
"""


def _init_cmd(group: click.Group) -> None:
    @group.command("init")
    @click.option("--no-agents-md", is_flag=True, help="Do not create or extend AGENTS.md.")
    @common_options
    def init(no_agents_md: bool) -> None:
        """Set up grite in this repository (actor, config, AGENTS.md)."""
        from toolkit_grite.core import repo as r
        from toolkit_grite.core.repo import discover

        paths = discover()
        paths.grite_dir.mkdir(parents=True, exist_ok=True)
        cfg = r.read_toml(paths.config_path)
        action = "existing"
        if not cfg.get("default_actor"):
            cfg["default_actor"] = r.create_actor(paths)["actor_id"]
            action = "created"
        cfg.setdefault("lock_policy", "warn")
        r.write_toml(paths.config_path, cfg)
        actor_hex = str(cfg["default_actor"])
        data: dict[str, Any] = {
            "actor_id": actor_hex,
            "data_dir": str(r.actor_dir(paths, actor_hex)),
            "repo_config": str(paths.config_path),
            "action": action,
        }
        if not no_agents_md and paths.workdir is not None:
            agents = paths.workdir / "AGENTS.md"
            if not agents.exists():
                agents.write_text("# Agents\n\n" + AGENTS_SECTION, encoding="utf-8")
                data["agents_md_action"] = "created"
            elif "## Grite" not in agents.read_text(encoding="utf-8"):
                with agents.open("a", encoding="utf-8") as fh:
                    fh.write("\n" + AGENTS_SECTION)
                data["agents_md_action"] = "updated"
            else:
                data["agents_md_action"] = "skipped"
            data["agents_md_path"] = str(agents)
        else:
            data["agents_md_action"] = "disabled"
        output(data, lambda d: f"grite initialised ({d['action']} actor {d['actor_id']})")


def _identity_cmds(actor: click.Group) -> None:
    """`actor set` and `actor identities` (published names and emails)."""

    @actor.command("set")
    @click.option("--name", help="Your name, shown to every replica after sync.")
    @click.option("--email", help="Your email, shown to every replica after sync.")
    @common_options
    def actor_set(name: str | None, email: str | None) -> None:
        """Publish the acting actor's name and email (refs/grite/identities/<actor>)."""
        from toolkit_grite.core.identities import publish

        output(publish(get_grite(), name, email), lambda d: f"{d['actor_id']}: {d['name'] or ''} <{d['email'] or ''}>")

    @actor.command("identities")
    @common_options
    def actor_identities() -> None:
        """List every known identity (local and synced): actor id, name, email."""
        from toolkit_grite.core.identities import known

        rows = sorted(known(get_grite()).values(), key=lambda r: r["actor_id"])
        output(
            {"identities": rows},
            lambda d: (
                "\n".join(f"{r['actor_id']}  {r['name'] or ''} <{r['email'] or ''}>" for r in d["identities"])
                or "no identities"
            ),
        )


def _actor_cmds(group: click.Group) -> None:
    @group.group("actor", cls=GriteGroup)
    @common_options
    def actor() -> None:
        """Manage actors (identities that sign and own events and locks)."""

    @actor.command("init")
    @click.option("--label", help="A human name, usable with --actor.")
    @click.option("--generate-key", is_flag=True, help="Create an Ed25519 signing key.")
    @common_options
    def actor_init(label: str | None, generate_key: bool) -> None:
        """Create a new actor."""
        from toolkit_grite.core import repo as r

        paths = r.discover()
        cfg = r.create_actor(paths, label=label, generate_key=generate_key)
        data = {"actor_id": cfg["actor_id"], "label": label, "data_dir": str(r.actor_dir(paths, cfg["actor_id"]))}
        if cfg.get("public_key"):
            data["public_key"] = cfg["public_key"]
        output(data, lambda d: f"created actor {d['actor_id']}")

    @actor.command("list")
    @common_options
    def actor_list() -> None:
        """List local actors."""
        from toolkit_grite.core import repo as r

        actors = [
            {"actor_id": a["actor_id"], "label": a.get("label"), "data_dir": a["data_dir"]}
            for a in r.list_actors(r.discover())
        ]

        def human(d: dict[str, Any]) -> str:
            return "\n".join(f"{a['actor_id']}  {a['label'] or ''}" for a in d["actors"]) or "no actors"

        output({"actors": actors}, human)

    @actor.command("show")
    @click.argument("actor_id", required=False)
    @common_options
    def actor_show(actor_id: str | None) -> None:
        """Show an actor (default: the current one)."""
        from toolkit_grite.core import repo as r
        from toolkit_grite.errors import GriteNotFound

        g = get_grite()
        ident = r.lookup_actor(g.paths, actor_id) if actor_id else g.actor.actor_id.hex()
        cfg = r.read_actor(r.actor_dir(g.paths, ident))
        if not cfg:
            raise GriteNotFound(f"actor {ident} has no local config", hint="see `grite actor list`")
        keys = ("actor_id", "label", "created_ts", "public_key", "key_scheme")
        output({"actor": {k: cfg.get(k) for k in keys if k in cfg or k in ("actor_id", "label")}})

    _identity_cmds(actor)

    @actor.command("current")
    @common_options
    def actor_current() -> None:
        """Show the acting actor and how it was chosen."""
        g = get_grite()
        a = g.actor
        output({"actor_id": a.actor_id.hex(), "data_dir": str(a.data_dir), "source": a.source}, lambda d: d["actor_id"])

    @actor.command("use")
    @click.argument("actor_id")
    @common_options
    def actor_use(actor_id: str) -> None:
        """Make an actor the default (of this worktree when inside a linked worktree)."""
        from toolkit_grite.core import repo as r
        from toolkit_grite.errors import GriteNotFound

        paths = r.discover()
        ident = r.lookup_actor(paths, actor_id)
        if not (r.actor_dir(paths, ident) / "config.toml").is_file():
            raise GriteNotFound(f"actor {ident} does not exist here", hint="create one with `grite actor init`")
        target = paths.worktree_config_path or paths.config_path
        cfg = r.read_toml(target)
        cfg["default_actor"] = ident
        r.write_toml(target, cfg)
        output({"default_actor": ident, "repo_config": str(target)}, lambda d: f"default actor is {d['default_actor']}")


def _data_cmds(group: click.Group) -> None:
    @group.command("export")
    @click.option("--format", "fmt", required=True, help="json or md.")
    @click.option("--since", help="Only events after this ms timestamp or event id.")
    @click.option("--output", "-o", "out", help="Write to this file instead of stdout.")
    @common_options
    def export(fmt: str, since: str | None, out: str | None) -> None:
        """Export issues and events (to stdout unless --output)."""
        from toolkit_grite.core.exporting import build_export
        from toolkit_kernel.snapshot import atomic_write_text

        doc, info = build_export(get_grite(), fmt, since)
        if out in (None, "-"):
            click.echo(doc, nl=False)
            return
        path = Path(out).resolve()
        atomic_write_text(path, doc)
        output(dict(info, output_path=str(path)), lambda d: f"wrote {d['event_count']} events to {d['output_path']}")

    @group.command("rebuild")
    @click.option("--from-snapshot", is_flag=True, help="Start from the newest snapshot, then replay the WAL above it.")
    @common_options
    def rebuild(from_snapshot: bool) -> None:
        """Rebuild the view from the WAL."""
        from toolkit_grite.core.dbops import rebuild as do

        output(
            do(get_grite(), from_snapshot=from_snapshot),
            lambda d: f"rebuilt: {d['event_count']} events, {d['issue_count']} issues",
        )

    @group.command("sync")
    @click.option("--remote", default="origin", help="Remote name or URL (default origin).")
    @click.option("--pull", is_flag=True, help="Only fetch and ingest.")
    @click.option("--push", is_flag=True, help="Merge and push (fetches first).")
    @common_options
    def sync(remote: str, pull: bool, push: bool) -> None:
        """Exchange issues with a remote."""
        from toolkit_grite.core.sync import sync as do

        do_push = push or not pull
        data = do(get_grite(), remote, pull=True, push=do_push, push_only=push and not pull)
        output(data, lambda d: f"synced with {d['remote']}: pulled {d['pulled_events']} events, pushed={d['pushed']}")

    @group.command("doctor")
    @click.option("--fix", is_flag=True, help="Repair what can be repaired.")
    @common_options
    def doctor(fix: bool) -> None:
        """Check (and repair) grite's storage."""
        from toolkit_grite.core.doctor import doctor as do

        def human(d: dict[str, Any]) -> str:
            lines = [f"[{c['status']:>5}] {c['id']}: {c['message']}" for c in d["checks"]]
            lines += [f"fixed: {a}" for a in d["applied"]]
            return "\n".join(lines)

        report = do(get_grite(), fix=fix)
        failed = [c["id"] for c in report["checks"] if c["status"] == "error"]
        if failed:
            fail_with_report(
                report, human, f"doctor: {len(failed)} check(s) failed: {', '.join(failed)}", "see each check's plan"
            )
        output(report, human)


def _snapshot_cmds(group: click.Group) -> None:
    @group.group("snapshot", cls=GriteGroup)
    @common_options
    def snapshot() -> None:
        """Snapshots of the event set in refs/grite/snapshots/."""

    @snapshot.command("create")
    @common_options
    def create() -> None:
        """Create a snapshot."""
        from toolkit_grite.core import snapshots

        output(snapshots.create(get_grite()), lambda d: f"snapshot {d['ref_name']} ({d['event_count']} events)")

    @snapshot.command("list")
    @common_options
    def list_() -> None:
        """List snapshots, newest first."""
        from toolkit_grite.core import snapshots

        def human(d: dict[str, Any]) -> str:
            return "\n".join(f"{s['ref_name']}  {s['event_count']} events" for s in d["snapshots"]) or "no snapshots"

        output(snapshots.list_snapshots(get_grite()), human)

    @snapshot.command("gc")
    @click.option("--keep", default=5, show_default=True, type=int, help="How many to keep.")
    @common_options
    def gc(keep: int) -> None:
        """Delete old snapshots."""
        from toolkit_grite.core import snapshots

        output(snapshots.gc(get_grite(), keep), lambda d: f"deleted {d['deleted']}, kept {d['kept']}")


def _lock_cmds(group: click.Group) -> None:
    @group.group("lock", cls=GriteGroup)
    @common_options
    def lock() -> None:
        """Lease locks on repo:, path: and issue: resources."""

    @lock.command("acquire")
    @click.argument("resource")
    @click.option("--ttl", default=300, show_default=True, type=int, help="Lease time in seconds.")
    @common_options
    def acquire(resource: str, ttl: int) -> None:
        """Acquire a lease."""
        from toolkit_grite.core import leases

        output(
            leases.acquire(get_grite(), resource, ttl), lambda d: f"locked {d['resource']} until {d['expires_unix_ms']}"
        )

    @lock.command("renew")
    @click.argument("resource")
    @click.option("--ttl", default=300, show_default=True, type=int, help="New lease time in seconds.")
    @common_options
    def renew(resource: str, ttl: int) -> None:
        """Renew a lease you hold."""
        from toolkit_grite.core import leases

        output(leases.renew(get_grite(), resource, ttl), lambda d: f"renewed {d['resource']}")

    @lock.command("release")
    @click.argument("resource")
    @common_options
    def release(resource: str) -> None:
        """Release a lease you hold."""
        from toolkit_grite.core import leases

        output(leases.release(get_grite(), resource), lambda d: f"released {d['resource']}")

    @lock.command("status")
    @common_options
    def status() -> None:
        """List locks."""
        from toolkit_grite.core import leases

        def human(d: dict[str, Any]) -> str:
            rows = []
            for lk in d["locks"]:
                left = "expired" if lk["expired"] else f"{lk['time_remaining_seconds']}s"
                rows.append(f"{lk['resource']}  {lk['owner'][:8]}  {left}")
            return "\n".join(rows) or "no locks"

        output(leases.status(get_grite()), human)

    @lock.command("gc")
    @common_options
    def gc() -> None:
        """Delete expired locks."""
        from toolkit_grite.core import leases

        output(leases.gc(get_grite()), lambda d: f"removed {d['removed']}, kept {d['kept']}")


def _db_cmds(group: click.Group) -> None:
    @group.group("db", cls=GriteGroup)
    @common_options
    def db() -> None:
        """Inspect the materialized view."""

    @db.command("stats")
    @common_options
    def stats() -> None:
        """Size and counters."""
        from toolkit_grite.core import dbops

        output(dbops.stats(get_grite()))

    @db.command("check")
    @click.option("--verify-parents", is_flag=True, help="Also check that parent events exist.")
    @common_options
    def check(verify_parents: bool) -> None:
        """Recompute every event id."""
        from toolkit_grite.core import dbops

        report = dbops.check(get_grite(), verify_parents=verify_parents)
        if report["corrupt_count"]:
            fail_with_report(
                report,
                None,
                f"db check: {report['corrupt_count']} event(s) do not match their id or lack their parent",
                "forged or damaged events are never applied; `grite doctor` says which commits carry them",
            )
        output(report)

    @db.command("verify")
    @click.option("--verbose", is_flag=True, help="Also list signatures of unknown actors.")
    @common_options
    def verify(verbose: bool) -> None:
        """Check Ed25519 signatures."""
        from toolkit_grite.core import dbops

        output(dbops.verify_signatures(get_grite(), verbose=verbose))


def register(group: click.Group) -> None:
    """Add the repository-level commands to the `grite` group."""
    _init_cmd(group)
    _actor_cmds(group)
    _data_cmds(group)
    _snapshot_cmds(group)
    _lock_cmds(group)
    _db_cmds(group)
    from toolkit_grite.cli import bridge as bridge_cli
    from toolkit_grite.cli import context as context_cli
    from toolkit_grite.cli import daemon as daemon_cli
    from toolkit_grite.cli import ui as ui_cli

    daemon_cli.register(group)
    bridge_cli.register(group)
    context_cli.register(group)
    context_cli.register_skill(group)
    ui_cli.register(group)
