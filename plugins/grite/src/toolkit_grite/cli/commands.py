"""The `grite` click group and its issue commands (adapters over `toolkit_grite.core.ops`)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from toolkit_grite.cli.base import GriteGroup, call, common_options, emit_call, output
from toolkit_grite.cli.render import done, show, table

__all__ = ["grite"]


#: The grite release whose formats, commands and JSON this implementation follows.
COMPATIBLE_WITH = "0.5.3"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    from toolkit.cliutil import write_json
    from toolkit_grite.cli.base import wants_json

    ours = version("toolkit-grite")
    if wants_json(ctx):
        write_json(
            {
                "schema_version": 1,
                "ok": True,
                "data": {"name": "grite", "version": ours, "compatible_with": COMPATIBLE_WITH},
            }
        )
    else:
        click.echo(f"grite {ours} (toolkit-grite, compatible with grite {COMPATIBLE_WITH})")
    ctx.exit(0)


class _RootGroup(GriteGroup):
    """The `grite` group; the repository-level commands join it on the first lookup that needs them.

    Building those ~40 commands (`commands_admin` and the modules it registers: daemon, bridge,
    context) is about a third of the group's construction, which an `issue ...` command line
    (the common case, and every no-daemon call) never uses.
    """

    _admin_registered = False
    _admin_lock = threading.Lock()  # the daemon and MCP look commands up from worker threads

    def _register_admin(self) -> None:
        with self._admin_lock:
            if not self._admin_registered:
                from toolkit_grite.cli import admin as commands_admin

                commands_admin.register(self)
                self._admin_registered = True

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand `cmd_name` (registering the repository-level ones when it is not an issue-level one)."""
        if cmd_name not in self.commands:
            self._register_admin()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand's name."""
        self._register_admin()
        return super().list_commands(ctx)


@click.group(cls=_RootGroup, name="grite")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version (JSON under --json) and exit.",
)
@common_options
def grite() -> None:
    """grite: issues stored as an event log in git refs (grite 0.5.3 compatible)."""


@grite.group(cls=GriteGroup)
@common_options
def issue() -> None:
    """Create, change and query issues."""


def _body(body: str | None, body_file: str | None, *, required: bool = False) -> str | None:
    """The body from `--body`, or from `--body-file PATH` (`-`: standard input); not both."""
    from toolkit_grite.errors import InvalidArgs

    if body is not None and body_file is not None:
        raise InvalidArgs("give --body or --body-file, not both")
    if body_file is not None:
        try:
            if body_file == "-":
                return str(sys.stdin.read())
            with open(body_file, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidArgs(f"cannot read --body-file {body_file}: {exc}") from None
    if body is None and required:
        raise InvalidArgs("give --body or --body-file")
    return body


_BODY_FILE = click.option("--body-file", metavar="PATH", help="Read the body from PATH (- for standard input).")


@issue.command("create")
@click.option("--title", required=True, help="Issue title.")
@click.option("--body", help="Issue body.")
@_BODY_FILE
@click.option("--label", "labels", multiple=True, help="Label (repeatable).")
@click.option("--lock", is_flag=True, help="Fail (conflict) if another owner holds a repo: lock.")
@common_options
def issue_create(title: str, body: str | None, body_file: str | None, labels: tuple[str, ...], lock: bool) -> None:
    """Create an issue."""
    text = _body(body, body_file) or ""
    emit_call("issue.create", done("created"), title=title, body=text, labels=list(labels), lock=lock)


@issue.command("list")
@click.argument("query", nargs=-1)
@click.option("--state", default="all", help="open, closed or all (default).")
@click.option("--label", "labels", multiple=True, help="Only issues with this label (repeatable: all must match).")
@click.option("--assignee", help="Only issues assigned to this user.")
@click.option("--search", help="Case-insensitive text in title or body.")
@click.option("--sort", default="created", help="created (default), updated or title.")
@click.option("--desc", is_flag=True, help="Reverse the order.")
@click.option("--limit", type=int, help="Show at most N issues.")
@common_options
def issue_list(
    query: tuple[str, ...],
    state: str,
    labels: tuple[str, ...],
    assignee: str | None,
    search: str | None,
    sort: str,
    desc: bool,
    limit: int | None,
) -> None:
    """List issues; QUERY is git-bug's language: status:open author:A label:L no:label sort:edit-desc words."""
    from toolkit.cliutil import json_mode
    from toolkit_grite.cli.base import quiet

    data, warnings = call(
        "issue.list",
        state=state,
        labels=list(labels),
        assignee=assignee,
        search=search,
        sort=sort,
        desc=desc,
        limit=limit,
        text=" ".join(query),  # as git-bug: the arguments joined; quote a phrase inside the query
    )
    envelope_json = getattr(data, "envelope_json", None)
    if envelope_json is not None and json_mode() and not quiet() and not warnings:
        click.echo(envelope_json())  # same bytes as output(), without re-encoding 10k summaries
        return
    output(data, table, warnings)


@issue.command("show")
@click.argument("issue_id")
@common_options
def issueshow(issue_id: str) -> None:
    """Show an issue with its events."""
    emit_call("issue.show", show, ident=issue_id)


@issue.command("update")
@click.argument("issue_id")
@click.option("--title", help="New title.")
@click.option("--body", help="New body.")
@_BODY_FILE
@click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
@common_options
def issue_update(issue_id: str, title: str | None, body: str | None, body_file: str | None, lock: bool) -> None:
    """Change an issue's title and/or body."""
    text = _body(body, body_file)
    emit_call("issue.update", done("updated"), ident=issue_id, title=title, body=text, lock=lock)


@issue.command("comment")
@click.argument("issue_id")
@click.option("--body", help="Comment text.")
@_BODY_FILE
@click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
@common_options
def issue_comment(issue_id: str, body: str | None, body_file: str | None, lock: bool) -> None:
    """Comment on an issue."""
    text = _body(body, body_file, required=True)
    emit_call("issue.comment", done("commented on"), ident=issue_id, body=text, lock=lock)


def _state_command(name: str, state: str, verb: str) -> None:
    @issue.command(name, help=f"{name.capitalize()} an issue.")
    @click.argument("issue_id")
    @click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
    @common_options
    def command(issue_id: str, lock: bool) -> None:
        emit_call("issue.set_state", done(verb), ident=issue_id, state=state, lock=lock)


_state_command("close", "closed", "closed")
_state_command("reopen", "open", "reopened")


def _members_group(name: str, option: str, add_kind: int, help_text: str) -> None:
    @issue.group(name, cls=GriteGroup, help=help_text)
    @common_options
    def group() -> None:
        pass

    for action, kind in (("add", add_kind), ("remove", add_kind + 1)):

        def make(kind: int = kind, action: str = action) -> None:
            @group.command(action, help=f"{action.capitalize()} {option}s.")
            @click.argument("issue_id")
            @click.option(f"--{option}", "values", multiple=True, required=True, help=f"{option} (repeatable).")
            @click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
            @common_options
            def command(issue_id: str, values: tuple[str, ...], lock: bool) -> None:
                verb = "added" if action == "add" else "removed"
                emit_call(
                    "issue.set_members",
                    lambda d: f"{verb} {', '.join(values)} on {d['issue_id']}",
                    ident=issue_id,
                    kind=kind,
                    values=list(values),
                    lock=lock,
                )

        make()


_members_group("label", "label", 4, "Add, remove or list labels.")


_LABELS = issue.commands["label"]
assert isinstance(_LABELS, click.Group)


@_LABELS.command("list")
@common_options
def label_list() -> None:
    """List every label in use with its number of open and of all issues."""
    emit_call(
        "label.list",
        lambda d: "\n".join(f"{r['label']}  {r['open']} open / {r['issues']}" for r in d["labels"]) or "no labels",
    )


_members_group("assignee", "user", 8, "Add or remove assignees.")


@issue.group("link", cls=GriteGroup)
@common_options
def link() -> None:
    """Attach URLs."""


@link.command("add")
@click.argument("issue_id")
@click.option("--url", required=True, help="The URL.")
@click.option("--note", help="A note about it.")
@click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
@common_options
def link_add(issue_id: str, url: str, note: str | None, lock: bool) -> None:
    """Add a link."""
    emit_call("issue.add_link", done("linked"), ident=issue_id, url=url, note=note, lock=lock)


@issue.group("attachment", cls=GriteGroup)
@common_options
def attachment() -> None:
    """Record attachment metadata."""


@attachment.command("add")
@click.argument("issue_id")
@click.option("--name", required=True, help="File name.")
@click.option("--sha256", required=True, help="64-hex SHA-256 of the content.")
@click.option("--mime", required=True, help="MIME type.")
@click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
@common_options
def attachment_add(issue_id: str, name: str, sha256: str, mime: str, lock: bool) -> None:
    """Add attachment metadata."""
    args = {"ident": issue_id, "name": name, "sha256": sha256, "mime": mime, "lock": lock}
    emit_call("issue.add_attachment", done("attached to"), **args)


@issue.group("dep", cls=GriteGroup)
@common_options
def dep() -> None:
    """Dependencies between issues."""


def _dep_command(action: str) -> None:
    @dep.command(action, help=f"{action.capitalize()} a dependency.")
    @click.argument("issue_id")
    @click.option("--target", required=True, help="The other issue (id or unique prefix).")
    @click.option("--type", "dep_type", default="depends_on", help="blocks, depends_on (default) or related_to.")
    @click.option("--lock", is_flag=True, help="Hold issue:<id> while writing.")
    @common_options
    def command(issue_id: str, target: str, dep_type: str, lock: bool) -> None:
        emit_call(
            "issue.dep_change",
            lambda d: f"{d['action']} {d['dep_type']} {d['issue_id'][:8]} -> {d['target'][:8]}",
            ident=issue_id,
            target=target,
            dep_type=dep_type,
            add=action == "add",
            lock=lock,
        )


_dep_command("add")
_dep_command("remove")


@dep.command("list")
@click.argument("issue_id")
@click.option("--reverse", is_flag=True, help="Issues that depend on this one.")
@common_options
def dep_list(issue_id: str, reverse: bool) -> None:
    """List dependencies."""

    def human(d: dict[str, Any]) -> str:
        if not d["deps"]:
            return "no dependencies"
        return "\n".join(f"{r['dep_type']:<11} {r['issue_id'][:8]}  [{r['state']}]  {r['title']}" for r in d["deps"])

    emit_call("issue.dep_list", human, ident=issue_id, reverse=reverse)


@dep.command("topo")
@click.option("--state", default="all", help="open, closed or all.")
@click.option("--label", "labels", multiple=True, help="Only issues with this label.")
@common_options
def dep_topo(state: str, labels: tuple[str, ...]) -> None:
    """Issues in dependency order (targets first)."""
    emit_call("issue.dep_topo", table, state=state, labels=list(labels))
