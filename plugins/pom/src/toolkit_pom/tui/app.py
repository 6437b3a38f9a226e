"""The pom TUI: a process table above a following log pane, over supervisor snapshots.

It never blocks on the supervisor: every refresh reads `to_dict()` views and log snapshots
(specs/pom/log-store.md), and lifecycle keys schedule the same operations the CLI uses.
"""
# ruff: noqa: TID253 - imported only by runner.py when the TUI is requested.

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, RichLog, Static

from toolkit_pom.control import Control
from toolkit_pom.render import fmt_bytes, fmt_duration
from toolkit_pom.supervisor import Supervisor

__all__ = ["HelpScreen", "PomApp"]

STREAM_CYCLE = (None, "stdout", "stderr")
MAX_NEW_LINES = 1000
PANE_LINES = 5000
COLUMNS = ("NAME", "STATE", "HEALTH", "PID", "RESTARTS", "UPTIME", "CPU", "MEM")
STATE_STYLE = {
    "ready": "green",
    "running": "green",
    "starting": "yellow",
    "pending": "yellow",
    "restarting": "yellow",
    "stopping": "yellow",
    "crashed": "bold red",
    "exited": "dim",
    "stopped": "dim",
    "disabled": "dim",
}

HELP = """\
[b]pom keys[/b]

  up/down, j/k   select a process
  s              start the selected process
  x              stop it (signal to the group, SIGKILL after the timeout)
  r              restart it
  f              cycle the stream filter: all, stdout, stderr
  /              search: show only matching lines, matches highlighted
  escape         clear the search
  p              pause / resume following the log
  c              copy the visible log lines to the clipboard
  ?              this help
  q              quit (stops every process)
"""


class HelpScreen(ModalScreen[None]):
    """Key help."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        """Build the help box."""
        yield Static(HELP, id="help")


class PomApp(App[None]):
    """The pom TUI over one supervisor.

    Args:
        sup: The supervisor (running on the same event loop).
        refresh_interval: Seconds between snapshot refreshes.
    """

    TITLE = "pom"
    CSS = """
    #procs { height: 40%; border: round $primary; }
    #logs { height: 1fr; border: round $secondary; }
    #search { dock: bottom; display: none; }
    #search.visible { display: block; }
    #bar { height: 1; background: $panel; }
    HelpScreen { align: center middle; }
    #help { width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_pom", "quit"),
        Binding("s", "lifecycle('start')", "start"),
        Binding("x", "lifecycle('stop')", "stop"),
        Binding("r", "lifecycle('restart')", "restart"),
        Binding("f", "cycle_stream", "stream"),
        Binding("slash", "search", "search"),
        Binding("escape", "clear_search", "clear", show=False),
        Binding("p", "toggle_follow", "follow"),
        Binding("c", "copy", "copy"),
        Binding("question_mark", "help", "help"),
        Binding("j", "cursor(1)", show=False),
        Binding("k", "cursor(-1)", show=False),
    ]

    def __init__(self, sup: Supervisor, *, refresh_interval: float = 0.25) -> None:
        super().__init__()
        self.sup = sup
        self.control = Control(sup)
        self.refresh_interval = refresh_interval
        self.selected: str | None = next(iter(sup.instances), None)
        self.stream: str | None = None
        self.search: str | None = None
        self.follow = True
        self._cursor = 0
        self._shown: list[Text] = []
        self._rows: list[str] = []
        self._table: DataTable[Any]
        self._pane: RichLog
        self._bar: Static
        self._search_box: Input

    def compose(self) -> ComposeResult:
        """Build the layout."""
        yield Header()
        with Vertical():
            yield DataTable(id="procs", cursor_type="row", zebra_stripes=True)
            yield Static(id="bar")
            yield RichLog(id="logs", max_lines=PANE_LINES, wrap=False, markup=False, highlight=False)
        yield Input(placeholder="search (enter to apply, escape to clear)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table and start the refresh timer."""
        self.title = f"pom: {self.sup.config.name}"
        self._table = table = self.query_one("#procs", DataTable)
        self._pane = self.query_one("#logs", RichLog)
        self._bar = self.query_one("#bar", Static)
        self._search_box = self.query_one("#search", Input)
        for col in COLUMNS:
            table.add_column(col, key=col)
        self.refresh_view()
        self.set_interval(self.refresh_interval, self.refresh_view)
        table.focus()

    # ------------------------------------------------------------ rendering

    def refresh_view(self) -> None:
        """Refresh the table and append new log lines (snapshot reads only)."""
        self._refresh_table()
        self._refresh_logs()
        self._refresh_bar()

    def _cells(self, p: dict[str, Any]) -> list[Any]:
        return [
            p["name"],
            Text(p["state"], style=STATE_STYLE.get(p["state"], "")),
            p["health"] or "-",
            str(p["pid"] or "-"),
            str(p["restarts"]),
            fmt_duration(p["uptime_s"]),
            "-" if p["cpu_percent"] is None else f"{p['cpu_percent']:.1f}%",
            fmt_bytes(p["memory_rss"]),
        ]

    def _refresh_table(self) -> None:
        table = self._table
        procs = self.sup.processes()
        names = [p["name"] for p in procs]
        if names != self._rows:
            table.clear()
            for p in procs:
                table.add_row(*self._cells(p), key=p["name"])
            self._rows = names
            if self.selected in names:
                table.move_cursor(row=names.index(self.selected))
            return
        for p in procs:
            for col, value in zip(COLUMNS, self._cells(p), strict=True):
                table.update_cell(p["name"], col, value)

    def _line_text(self, line: Any) -> Text:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.ts))
        style = {"stderr": "red", "pom": "cyan"}.get(line.stream, "")
        text = Text(f"{stamp} ", style="dim")
        # Children's colours survive (ANSI escapes become styles), as in cdi's ansi-to-tui pane.
        body = Text.from_ansi(("[pom] " if line.stream == "pom" else "") + line.text, style=style)
        if self.search:
            body.highlight_regex(re.escape(self.search), style="black on yellow")
        text.append_text(body)
        return text

    def _refresh_logs(self) -> None:
        if self.selected is None or not self.follow:
            return
        inst = self.sup.instances.get(self.selected)
        if inst is None:
            return
        snap = inst.log.snapshot()
        result = snap.query(stream=self.stream, after_id=self._cursor, contains=self.search, limit=None)
        lines = result.lines
        pane = self._pane
        skipped = len(lines) - MAX_NEW_LINES if len(lines) > MAX_NEW_LINES else 0
        if result.gap is not None or skipped:
            missed = (result.gap["missed"] if result.gap else 0) + max(skipped, 0)
            note = Text(f"... {missed} lines not shown (evicted or too fast; use `pom logs`)", style="italic dim")
            pane.write(note)
            self._shown.append(note)
        for line in lines[-MAX_NEW_LINES:]:
            text = self._line_text(line)
            pane.write(text)
            self._shown.append(text)
        if len(self._shown) > PANE_LINES:
            del self._shown[: len(self._shown) - PANE_LINES]
        self._cursor = result.next_after_id

    def _refresh_bar(self) -> None:
        parts = [f"[b]{self.selected or '-'}[/b]", f"stream: {self.stream or 'all'}"]
        if self.search:
            parts.append(f"search: {self.search!r}")
        parts.append("following" if self.follow else "[yellow]paused[/yellow]")
        if self.sup.http_url:
            parts.append(self.sup.http_url)
        self._bar.update("  |  ".join(parts))

    def _reload_logs(self) -> None:
        self._pane.clear()
        self._shown = []
        self._cursor = 0
        self._refresh_logs()
        self._refresh_bar()

    # ------------------------------------------------------------ events and actions

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the table cursor."""
        name = event.row_key.value
        if name and name != self.selected:
            self.selected = str(name)
            self._reload_logs()

    def action_cursor(self, delta: int) -> None:
        """Move the table cursor (j/k)."""
        table = self._table
        table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)))

    async def action_lifecycle(self, op: str) -> None:
        """Start, stop or restart the selected process without blocking the UI."""
        if self.selected is None:
            return
        name = self.selected
        task = asyncio.create_task(self.control.lifecycle(op, [name]))
        task.add_done_callback(self._report)
        self.notify(f"{op} {name}")

    def _report(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.notify(str(task.exception()), severity="error")

    def action_cycle_stream(self) -> None:
        """Cycle all / stdout / stderr."""
        self.stream = STREAM_CYCLE[(STREAM_CYCLE.index(self.stream) + 1) % len(STREAM_CYCLE)]
        self._reload_logs()

    def action_search(self) -> None:
        """Open the search box."""
        box = self._search_box
        box.add_class("visible")
        box.value = self.search or ""
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the search."""
        self.search = event.value or None
        event.input.remove_class("visible")
        self._table.focus()
        self._reload_logs()

    def action_clear_search(self) -> None:
        """Close the search box and show every line again."""
        self._search_box.remove_class("visible")
        self._table.focus()
        if self.search:
            self.search = None
            self._reload_logs()

    def action_toggle_follow(self) -> None:
        """Pause or resume following."""
        self.follow = not self.follow
        self._pane.auto_scroll = self.follow
        self._refresh_logs()
        self._refresh_bar()

    def action_copy(self) -> None:
        """Copy the visible log lines (as plain text) to the system clipboard (OSC 52)."""
        text = "\n".join(t.plain for t in self._shown)
        self.copy_to_clipboard(text)
        self.notify(f"copied {len(self._shown)} lines")

    def action_help(self) -> None:
        """Show key help."""
        self.push_screen(HelpScreen())

    def action_quit_pom(self) -> None:
        """Quit: the runner then stops every process."""
        self.exit()
