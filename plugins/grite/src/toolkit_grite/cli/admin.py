"""Repository-level commands: init, actor, export, rebuild, sync, snapshot, lock, doctor, db."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from toolkit_grite.cli.base import GriteGroup, call, common_options, emit_call, fail_with_report, get_grite, output

__all__ = ["register"]


def _init_cmd(group: click.Group) -> None:
    @group.command("init")
    @click.option("--no-agents-md", is_flag=True, help="Do not create or extend AGENTS.md.")
    @common_options
    def init(no_agents_md: bool) -> None:
        """Set up grite in this repository (actor, config, AGENTS.md)."""
        from toolkit_grite.core.actors import init as do
        from toolkit_grite.core.repo import discover

        output(
            do(discover(), agents_md=not no_agents_md),
            lambda d: f"grite initialised ({d['action']} actor {d['actor_id']})",
        )


def _identity_cmds(actor: click.Group) -> None:
    """`actor set` and `actor identities` (published names and emails)."""

    @actor.command("set")
    @click.option("--name", help="Your name, shown to every replica after sync.")
    @click.option("--email", help="Your email, shown to every replica after sync.")
    @common_options
    def actor_set(name: str | None, email: str | None) -> None:
        """Publish the acting actor's name and email (refs/grite/identities/<actor>)."""
        emit_call(
            "actor.set", lambda d: f"{d['actor_id']}: {d['name'] or ''} <{d['email'] or ''}>", name=name, email=email
        )

    @actor.command("identities")
    @common_options
    def actor_identities() -> None:
        """List every known identity (local and synced): actor id, name, email."""
        emit_call(
            "actor.identities",
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
        from toolkit_grite.core.actors import actor_init as do
        from toolkit_grite.core.repo import discover

        output(do(discover(), label=label, generate_key=generate_key), lambda d: f"created actor {d['actor_id']}")

    @actor.command("list")
    @common_options
    def actor_list() -> None:
        """List local actors."""
        from toolkit_grite.core.actors import actor_list as do
        from toolkit_grite.core.repo import discover

        def human(d: dict[str, Any]) -> str:
            return "\n".join(f"{a['actor_id']}  {a['label'] or ''}" for a in d["actors"]) or "no actors"

        output(do(discover()), human)

    @actor.command("show")
    @click.argument("actor_id", required=False)
    @common_options
    def actor_show(actor_id: str | None) -> None:
        """Show an actor (default: the current one)."""
        emit_call("actor.show", actor_id=actor_id)

    _identity_cmds(actor)

    @actor.command("current")
    @common_options
    def actor_current() -> None:
        """Show the acting actor and how it was chosen."""
        emit_call("actor.current", lambda d: d["actor_id"])

    @actor.command("use")
    @click.argument("actor_id")
    @common_options
    def actor_use(actor_id: str) -> None:
        """Make an actor the default (of this worktree when inside a linked worktree)."""
        from toolkit_grite.core.actors import actor_use as do
        from toolkit_grite.core.repo import discover

        output(do(discover(), actor_id), lambda d: f"default actor is {d['default_actor']}")


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
        emit_call(
            "rebuild",
            lambda d: f"rebuilt: {d['event_count']} events, {d['issue_count']} issues",
            from_snapshot=from_snapshot,
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

        def human(d: dict[str, Any]) -> str:
            lines = [f"[{c['status']:>5}] {c['id']}: {c['message']}" for c in d["checks"]]
            lines += [f"fixed: {a}" for a in d["applied"]]
            return "\n".join(lines)

        report, _warnings = call("doctor", fix=fix)
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
        emit_call("snapshot.create", lambda d: f"snapshot {d['ref_name']} ({d['event_count']} events)")

    @snapshot.command("list")
    @common_options
    def list_() -> None:
        """List snapshots, newest first."""

        def human(d: dict[str, Any]) -> str:
            return "\n".join(f"{s['ref_name']}  {s['event_count']} events" for s in d["snapshots"]) or "no snapshots"

        emit_call("snapshot.list", human)

    @snapshot.command("gc")
    @click.option("--keep", default=5, show_default=True, type=int, help="How many to keep.")
    @common_options
    def gc(keep: int) -> None:
        """Delete old snapshots."""
        emit_call("snapshot.gc", lambda d: f"deleted {d['deleted']}, kept {d['kept']}", keep=keep)


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
        emit_call(
            "lock.acquire",
            lambda d: f"locked {d['resource']} until {d['expires_unix_ms']}",
            resource=resource,
            ttl_s=ttl,
        )

    @lock.command("renew")
    @click.argument("resource")
    @click.option("--ttl", default=300, show_default=True, type=int, help="New lease time in seconds.")
    @common_options
    def renew(resource: str, ttl: int) -> None:
        """Renew a lease you hold."""
        emit_call("lock.renew", lambda d: f"renewed {d['resource']}", resource=resource, ttl_s=ttl)

    @lock.command("release")
    @click.argument("resource")
    @common_options
    def release(resource: str) -> None:
        """Release a lease you hold."""
        emit_call("lock.release", lambda d: f"released {d['resource']}", resource=resource)

    @lock.command("status")
    @common_options
    def status() -> None:
        """List locks."""

        def human(d: dict[str, Any]) -> str:
            rows = []
            for lk in d["locks"]:
                left = "expired" if lk["expired"] else f"{lk['time_remaining_seconds']}s"
                rows.append(f"{lk['resource']}  {lk['owner'][:8]}  {left}")
            return "\n".join(rows) or "no locks"

        emit_call("lock.status", human)

    @lock.command("gc")
    @common_options
    def gc() -> None:
        """Delete expired locks."""
        emit_call("lock.gc", lambda d: f"removed {d['removed']}, kept {d['kept']}")


def _db_cmds(group: click.Group) -> None:
    @group.group("db", cls=GriteGroup)
    @common_options
    def db() -> None:
        """Inspect the materialized view."""

    @db.command("stats")
    @common_options
    def stats() -> None:
        """Size and counters."""
        emit_call("db.stats")

    @db.command("check")
    @click.option("--verify-parents", is_flag=True, help="Also check that parent events exist.")
    @common_options
    def check(verify_parents: bool) -> None:
        """Recompute every event id."""
        report, _warnings = call("db.check", verify_parents=verify_parents)
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
        emit_call("db.verify", verbose=verbose)


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

    daemon_cli.register(group)
    bridge_cli.register(group)
    context_cli.register(group)
    context_cli.register_skill(group)
