"""The grite TUI: an issue list with a query box above the selected issue.

Every read and write goes through `toolkit_grite.core.ops` (the functions the CLI and the daemon
call), so the TUI writes exactly the events `grite issue ...` writes. Titles, bodies and comments
come from any replica, so they are shown through `terminal_safe` and as plain text (never markup).
"""
# ruff: noqa: TID253 - imported only by `grite tui`.

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from toolkit_grite.cli.base import terminal_safe
from toolkit_grite.core import ops
from toolkit_grite.core.grite import Grite
from toolkit_grite.tui.dialogs import EditorScreen, EditResult, PromptScreen
from toolkit_kernel.errors import ToolkitError

__all__ = ["GriteApp", "render_issue"]

COLUMNS = ("ID", "STATE", "TITLE", "LABELS")
LABEL_ADD, LABEL_REMOVE = 4, 5
#: Rows listed at most: building the table costs ~0.1 ms a row, and the list is rebuilt whenever
#: the WAL moves; a narrower query finds the rest.
LIST_LIMIT = 1000


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "-"


def render_issue(issue: dict[str, Any]) -> Text:
    """The detail pane's text for one `issue show` projection (control characters escaped)."""
    text = Text()
    text.append(terminal_safe(issue["title"], single_line=True), style="bold")
    text.append(f"\n{issue['issue_id']}  ")
    text.append(issue["state"], style="green" if issue["state"] == "open" else "red")
    text.append(f"  created {_when(issue['created_ts'])}  updated {_when(issue['updated_ts'])}\n", style="dim")
    if issue["labels"]:
        text.append("labels: " + terminal_safe(", ".join(issue["labels"]), single_line=True) + "\n", style="cyan")
    if issue["assignees"]:
        text.append("assignees: " + terminal_safe(", ".join(issue["assignees"]), single_line=True) + "\n")
    for dep in issue.get("dependencies", ()):
        text.append(f"{dep['dep_type']}: {dep['target'][:8]}\n")
    for link in issue.get("links", ()):
        note = f" ({link['note']})" if link["note"] else ""
        text.append("link: " + terminal_safe(link["url"] + note, single_line=True) + "\n")
    for att in issue.get("attachments", ()):
        text.append("attachment: " + terminal_safe(f"{att['name']} {att['mime']}", single_line=True) + "\n")
    text.append("\n" + (terminal_safe(issue["body"]) or "(no description)") + "\n")
    for number, comment in enumerate(issue["comments"], 1):
        text.append(f"\n#{number} {comment['actor'][:8]} at {_when(comment['ts'])}", style="bold dim")
        if comment.get("edited"):
            text.append(" (edited)", style="dim")
        text.append("\n" + terminal_safe(comment["body"]) + "\n")
    return text


class GriteApp(App[None]):
    """The TUI over one repository.

    Args:
        g: The repository (its actor signs every write).
        query: The initial query (git-bug's language, as `grite issue list`).
    """

    TITLE = "grite"
    CSS = """
    #main { height: 1fr; }
    #issues { width: 45%; height: 1fr; border: round $primary; }
    #detail-box { width: 1fr; border: round $secondary; }
    #status { height: 1; background: $panel; }
    PromptScreen, EditorScreen { align: center middle; }
    .dialog { width: 80%; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    .editor TextArea { height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("slash", "focus_query", "query"),
        Binding("n", "create", "new"),
        Binding("c", "comment", "comment"),
        Binding("e", "edit", "edit"),
        Binding("l", "label('add')", "label+"),
        Binding("L", "label('remove')", "label-"),
        Binding("E", "edit_comment", "edit comment"),
        Binding("x", "toggle_state", "close/reopen"),
        Binding("D", "remove", "remove"),
        Binding("r", "reload", "reload"),
    ]

    def __init__(self, g: Grite, *, query: str = "status:open", watch_interval: float = 2.0) -> None:
        super().__init__()
        self.g = g
        self.query_text = query
        self.watch_interval = watch_interval
        self.rows: list[str] = []
        self.current: dict[str, Any] | None = None
        self._heads: list[str] = []

    def compose(self) -> ComposeResult:
        """Build the layout."""
        yield Header()
        yield Input(
            self.query_text, placeholder="query: status:open label:bug author:alice sort:edit-desc words", id="query"
        )
        with Horizontal(id="main"):
            yield DataTable(id="issues", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-box"):
                yield Static(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the list."""
        table = self.query_one("#issues", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.reload()
        table.focus()
        self.set_interval(self.watch_interval, self._watch)

    def _watch(self) -> None:
        """Read again when a WAL head moved (another writer, a sync), unless a dialog is open."""
        if len(self.screen_stack) == 1 and self._attempt(self.g.wal_heads) not in (None, self._heads):
            self.reload()

    # -- reading ------------------------------------------------------------------------------

    def status(self, message: str, *, error: bool = False) -> None:
        """Show one line in the status bar."""
        self.query_one("#status", Static).update(
            Text(terminal_safe(message, single_line=True), style="red" if error else "")
        )

    def _attempt(self, what: Callable[[], Any]) -> Any:
        """Run a core call; a refusal (bad query, unknown issue, busy lock) goes to the status bar."""
        try:
            return what()
        except ToolkitError as exc:
            self.status(f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), error=True)
        except OSError as exc:  # the repository went away under us, a full disk, ...
            self.status(f"error: {exc}", error=True)
        return None

    def reload(self) -> None:
        """Re-run the query (after catching up with the WAL: other writers and syncs) and the detail."""
        heads = self._attempt(self.g.wal_heads)
        if heads is None or self._attempt(lambda: self.g.catch_up(force=True)) is None:
            return
        self._heads = heads
        result = self._attempt(lambda: ops.list_issues(self.g, text=self.query_text, limit=LIST_LIMIT))
        if result is None:
            return
        table = self.query_one("#issues", DataTable)
        keep = self.current["issue_id"] if self.current else None
        table.clear()
        self.rows = [s["issue_id"] for s in result["issues"]]
        for s in result["issues"]:
            labels = terminal_safe(", ".join(s["labels"]), single_line=True)
            title = terminal_safe(s["title"], single_line=True)
            table.add_row(s["issue_id"][:8], s["state"], Text(title), Text(labels), key=s["issue_id"])
        shown = f", the first {len(self.rows)} shown" if result["total"] > len(self.rows) else ""
        self.status(f"{result['total']} issue(s) match {self.query_text!r}{shown}")
        if keep in self.rows:
            table.move_cursor(row=self.rows.index(keep))
            self.show(keep)
        elif self.rows:
            table.move_cursor(row=0)
            self.show(self.rows[0])
        else:
            self.current = None
            self.query_one("#detail", Static).update("no issue selected")

    def show(self, issue_id: str) -> None:
        """Show one issue in the detail pane."""
        data = self._attempt(lambda: ops.show_issue(self.g, issue_id))
        if data is not None:
            self.current = data["issue"]
            self.query_one("#detail", Static).update(render_issue(data["issue"]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the cursor."""
        key = event.row_key.value
        if key and (self.current is None or self.current["issue_id"] != key):
            self.show(key)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the query."""
        if event.input.id == "query":
            self.query_text = event.value
            self.reload()
            self.query_one("#issues", DataTable).focus()

    def action_focus_query(self) -> None:
        """Edit the query."""
        self.query_one("#query", Input).focus()

    def action_reload(self) -> None:
        """Read again (others may have written or synced)."""
        self.reload()

    # -- writing ------------------------------------------------------------------------------

    def _write(self, what: Callable[[], Any], done: str) -> None:
        if self._attempt(what) is not None:
            self.reload()
            self.status(done)

    def _selected(self) -> dict[str, Any] | None:
        if self.current is None:
            self.status("no issue selected", error=True)
        return self.current

    def action_create(self) -> None:
        """Write a new issue."""

        def save(result: EditResult | None) -> None:
            if result is not None:
                title, body = result
                created = self._attempt(lambda: ops.create_issue(self.g, title or "", body))
                if created is not None:
                    self.current = {"issue_id": created["issue_id"]}
                    self.reload()
                    self.status(f"created {created['issue_id'][:8]}")

        self.push_screen(EditorScreen("new issue", "", ""), save)

    def action_comment(self) -> None:
        """Comment on the selected issue."""
        issue = self._selected()
        if issue is None:
            return

        def save(result: EditResult | None) -> None:
            if result is not None:
                self._write(lambda: ops.comment(self.g, issue["issue_id"], result[1]), "commented")

        self.push_screen(EditorScreen(f"comment on {issue['issue_id'][:8]}"), save)

    def action_edit(self) -> None:
        """Edit the selected issue's title and body (only what changed is written)."""
        issue = self._selected()
        if issue is None:
            return

        def save(result: EditResult | None) -> None:
            if result is None:
                return
            title = result[0] if result[0] != issue["title"] else None
            body = result[1] if result[1] != issue["body"] else None
            if title is None and body is None:
                self.status("nothing changed")
                return
            self._write(lambda: ops.update_issue(self.g, issue["issue_id"], title, body), "updated")

        self.push_screen(EditorScreen(f"edit {issue['issue_id'][:8]}", issue["body"], issue["title"]), save)

    def action_label(self, action: str) -> None:
        """Add or remove a label on the selected issue."""
        issue = self._selected()
        if issue is None:
            return
        kind = LABEL_ADD if action == "add" else LABEL_REMOVE

        def save(label: str | None) -> None:
            if label is not None:
                self._write(
                    lambda: ops.set_members(self.g, issue["issue_id"], kind, [label]), f"label {action}: {label}"
                )

        self.push_screen(PromptScreen(f"label to {action} on {issue['issue_id'][:8]}"), save)

    def action_edit_comment(self) -> None:
        """Edit one of your comments on the selected issue, chosen by its number (#n)."""
        issue = self._selected()
        if issue is None:
            return
        comments = issue["comments"]
        mine = [n for n, c in enumerate(comments, 1) if c["actor"] == self.g.actor.actor_id.hex()]
        if not mine:
            self.status("none of this issue's comments is yours", error=True)
            return

        def chosen(answer: str | None) -> None:
            if answer is None:
                return
            number = answer.strip().lstrip("#")
            if not number.isdigit() or int(number) not in mine:
                self.status(f"#{number} is not one of your comments ({', '.join(f'#{n}' for n in mine)})", error=True)
                return
            target = comments[int(number) - 1]

            def save(result: EditResult | None) -> None:
                if result is not None and result[1] != target["body"]:
                    text = result[1]
                    self._write(
                        lambda: ops.edit_comment(self.g, issue["issue_id"], target["event_id"], text),
                        f"edited comment #{number}",
                    )

            self.push_screen(EditorScreen(f"edit comment #{number}", target["body"]), save)

        self.push_screen(PromptScreen("edit which of your comments?", f"#{mine[-1]}"), chosen)

    def action_remove(self) -> None:
        """Remove the selected issue after a confirmation (`grite issue restore` brings it back)."""
        issue = self._selected()
        if issue is None:
            return

        def confirmed(answer: str | None) -> None:
            if answer is not None and answer.strip().lower() in ("y", "yes"):
                self.current = None
                self._write(lambda: ops.remove_issue(self.g, issue["issue_id"]), f"removed {issue['issue_id'][:8]}")

        self.push_screen(PromptScreen(f"remove issue {issue['issue_id'][:8]}? (y/n)"), confirmed)

    def action_toggle_state(self) -> None:
        """Close an open issue, reopen a closed one."""
        issue = self._selected()
        if issue is None:
            return
        new = "closed" if issue["state"] == "open" else "open"
        self._write(lambda: ops.set_state(self.g, issue["issue_id"], new), "closed" if new == "closed" else "reopened")
