"""The pom TUI: stats header, process table, following log pane (specs/pom/tui.md).

It never blocks on the supervisor: every refresh reads `Process` views and log snapshots
(specs/pom/log-store.md), and every action sends the same control request the CLI and HTTP
send, through `Control.handle`.
"""
# ruff: noqa: TID253 - imported only by daemon/runner.py when the TUI is requested.

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Input, Static

from toolkit_pom.core.control import Control
from toolkit_pom.core.graph import graph_lines
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.render import status_text
from toolkit_pom.tui.logpane import LogPane
from toolkit_pom.tui.screens import ConfirmScreen, HelpScreen, PromptScreen, TextScreen
from toolkit_pom.tui.table import COLUMNS, SORT_KEYS, cells, stats_line, visible

__all__ = ["HelpScreen", "PomApp"]

STREAM_CYCLE = (None, "stdout", "stderr")
SORT_CYCLE = tuple(SORT_KEYS)
MAX_NEW_LINES = 1000


class PomApp(App[None]):
    """The pom TUI over one supervisor.

    Args:
        sup: The supervisor (running on the same event loop).
        refresh_interval: Seconds between snapshot refreshes.
        now: The wall clock the stats header measures pom's uptime with.
    """

    TITLE = "pom"
    CSS = """
    #stats { height: 1; background: $boost; }
    #procs { height: 40%; border: round $primary; }
    #logs { height: 1fr; border: round $secondary; }
    #search { dock: bottom; display: none; }
    #search.visible { display: block; }
    #bar { height: 1; background: $panel; }
    ModalScreen { align: center middle; }
    .box { width: 80; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }
    .title { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,f10", "quit_pom", "quit"),
        Binding("s,f7", "lifecycle('start')", "start"),
        Binding("x,f9", "lifecycle('stop')", "stop"),
        Binding("r,ctrl+r", "lifecycle('restart')", "restart"),
        Binding("S,f2", "scale", "scale"),
        Binding("K", "signal", "signal"),
        Binding("i,f3", "info", "info"),
        Binding("d,ctrl+q", "graph", "graph"),
        Binding("ctrl+l", "reload", "reload", show=False),
        Binding("e", "cycle_namespace", "namespace"),
        Binding("F", "filter", "filter"),
        Binding("o", "cycle_sort", "sort"),
        Binding("O", "reverse_sort", "reverse", show=False),
        Binding("f", "cycle_stream", "stream"),
        Binding("slash", "search", "find"),
        Binding("n", "find_next(1)", "next", show=False),
        Binding("N", "find_next(-1)", "previous", show=False),
        Binding("v", "toggle_only_matching", "matching", show=False),
        Binding("escape", "clear_search", "clear", show=False),
        Binding("w,f6", "toggle_wrap", "wrap"),
        Binding("p,f5", "toggle_follow", "follow"),
        Binding("c", "copy", "copy"),
        Binding("question_mark,f1", "help", "help"),
        Binding("j", "cursor(1)", show=False),
        Binding("k", "cursor(-1)", show=False),
    ]

    def __init__(
        self, sup: Supervisor, *, refresh_interval: float = 0.25, now: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self.sup = sup
        self.control = Control(sup)
        self.refresh_interval = refresh_interval
        self.now = now
        self.selected: str | None = next(iter(sup.instances), None)
        self.stream: str | None = None
        self.search: str | None = None
        self.only_matching = False
        self.follow = True
        self.wrap = False
        self.namespace: str | None = None
        self.name_filter = ""
        self.sort = "NAME"
        self.reverse = False
        #: Index into `matches()` of the line `n`/`N` last jumped to.
        self.match_index: int | None = None
        self._cursor = 0
        self._rows: list[str] = []
        self._table: DataTable[Any]
        self._pane: LogPane
        self._bar: Static
        self._stats: Static
        self._search_box: Input

    def compose(self) -> ComposeResult:
        """Build the layout."""
        yield Header()
        yield Static(id="stats", markup=False)
        with Vertical():
            yield DataTable(id="procs", cursor_type="row", zebra_stripes=True)
            yield Static(id="bar")
            yield LogPane(id="logs")
        yield Input(placeholder="find (enter to apply, escape to clear)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table and start the refresh timer."""
        self.title = f"pom: {self.sup.config.name}"
        self._table = table = self.query_one("#procs", DataTable)
        self._pane = self.query_one("#logs", LogPane)
        self._bar = self.query_one("#bar", Static)
        self._stats = self.query_one("#stats", Static)
        self._search_box = self.query_one("#search", Input)
        for col in COLUMNS:
            table.add_column(col, key=col)
        self.refresh_view()
        self.set_interval(self.refresh_interval, self.refresh_view)
        table.focus()

    # ------------------------------------------------------------ rendering

    def refresh_view(self) -> None:
        """Refresh the header, the table and append new log lines (snapshot reads only)."""
        procs = self.sup.processes()
        self._stats.update(stats_line(self.sup.config.name, procs, self.now() - self.sup.started_at, self.sup.http_url))
        self._refresh_table(procs)
        self._refresh_logs()
        self._refresh_bar()

    def _refresh_table(self, procs: list[dict[str, Any]]) -> None:
        table = self._table
        rows = visible(
            procs, namespace=self.namespace, name_filter=self.name_filter, sort=self.sort, reverse=self.reverse
        )
        names = [p["name"] for p in rows]
        if names != self._rows:
            table.clear()
            for p in rows:
                table.add_row(*cells(p), key=p["name"])
            self._rows = names
            if self.selected in names:
                table.move_cursor(row=names.index(self.selected))
            elif names:
                self._select(names[0])
            return
        for p in rows:
            for col, value in zip(COLUMNS, cells(p), strict=True):
                # update_width: a value that grew (`starting` -> `restarting`) widens its column.
                table.update_cell(p["name"], col, value, update_width=True)

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

    def _refresh_logs(self, *, paused_too: bool = False) -> None:
        # Paused, the pane keeps what it shows; only an explicit reload (new filter) reads again.
        if self.selected is None or not (self.follow or paused_too):
            return
        inst = self.sup.instances.get(self.selected)
        if inst is None:
            return
        snap = inst.log.snapshot()
        contains = self.search if self.only_matching else None
        result = snap.query(stream=self.stream, after_id=self._cursor, contains=contains, limit=None)
        lines = result.lines
        skipped = len(lines) - MAX_NEW_LINES if len(lines) > MAX_NEW_LINES else 0
        if result.gap is not None or skipped:
            missed = (result.gap["missed"] if result.gap else 0) + max(skipped, 0)
            self._write(Text(f"... {missed} lines not shown (evicted or too fast; use `pom logs`)", style="italic dim"))
        for line in lines[-MAX_NEW_LINES:]:
            self._write(self._line_text(line))
        self._cursor = result.next_after_id

    def _write(self, text: Text) -> None:
        self._pane.add(text)

    def _refresh_bar(self) -> None:
        parts: list[str | tuple[str, str]] = [(self.selected or "-", "bold"), f"stream: {self.stream or 'all'}"]
        if self.search:
            where = "" if self.match_index is None else f"{self.match_index + 1}/"
            only = ", only matching" if self.only_matching else ""
            parts.append(f"find: {self.search!r} ({where}{len(self.matches())}{only})")
        if self.name_filter:
            parts.append(f"filter: {self.name_filter!r}")
        parts.append(f"namespace: {self.namespace or 'all'}")
        parts.append(f"sort: {self.sort} {'desc' if self.reverse else 'asc'}")
        if self.wrap:
            parts.append("wrap")
        parts.append("following" if self.follow else ("paused", "yellow"))
        bar = Text()
        for i, part in enumerate(parts):
            bar.append("  |  " if i else "")
            bar.append(*((part,) if isinstance(part, str) else part))
        self._bar.update(bar)

    def _reload_logs(self) -> None:
        self._pane.reset()
        self._cursor = 0
        self.match_index = None
        self._refresh_logs(paused_too=True)
        self._refresh_bar()

    # ------------------------------------------------------------ selection and table

    def _select(self, name: str | None) -> None:
        if name != self.selected:
            self.selected = name
            self._reload_logs()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the table cursor."""
        name = event.row_key.value
        if name:
            self._select(str(name))

    def action_cursor(self, delta: int) -> None:
        """Move the table cursor (j/k)."""
        table = self._table
        table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)))

    def action_cycle_namespace(self) -> None:
        """Show all namespaces, then each one in turn."""
        spaces: list[str | None] = [None, *sorted({p["namespace"] for p in self.sup.processes()})]
        self.namespace = spaces[(spaces.index(self.namespace) + 1) % len(spaces)] if self.namespace in spaces else None
        self.refresh_view()

    def action_filter(self) -> None:
        """Ask for the text process names must contain."""

        def apply(text: str | None) -> None:
            if text is not None:
                self.name_filter = text.strip()
                self.refresh_view()

        self.push_screen(PromptScreen("filter processes by name (empty shows all)", self.name_filter), apply)

    def action_cycle_sort(self) -> None:
        """Sort by the next column."""
        self.sort = SORT_CYCLE[(SORT_CYCLE.index(self.sort) + 1) % len(SORT_CYCLE)]
        self.refresh_view()

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.reverse = not self.reverse
        self.refresh_view()

    # ------------------------------------------------------------ control requests

    def _send(self, request: dict[str, Any], done: str) -> None:
        """Send `request` through Control (as the CLI and HTTP do) without blocking the UI."""
        task = asyncio.create_task(self.control.handle(request))
        task.add_done_callback(self._report)
        self.notify(done, markup=False)

    def _report(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            self.notify(str(task.exception()), severity="error", markup=False)
            return
        for result in task.result().get("results", []):
            if not result["ok"]:
                self.notify(f"{result['name']}: {result['error']}", severity="warning", markup=False)

    async def action_lifecycle(self, op: str) -> None:
        """Start, stop or restart the selected process."""
        if self.selected is not None:
            self._send({"op": op, "names": [self.selected]}, f"{op} {self.selected}")

    def action_scale(self) -> None:
        """Ask for the replica count of the selected process's group."""
        inst = self.sup.instances.get(self.selected or "")
        if inst is None:
            return
        group = inst.spec.name

        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                replicas = int(text.strip())
            except ValueError:
                self.notify(f"not a replica count: {text!r}", severity="error", markup=False)
                return
            self._send({"op": "scale", "name": group, "replicas": replicas}, f"scale {group} to {replicas}")

        count = len(self.sup.groups.get(group, []))
        self.push_screen(PromptScreen(f"replicas of {group} (0..64)", str(count)), apply)

    def action_signal(self) -> None:
        """Ask for a signal and send it to the selected process's group."""
        name = self.selected
        if name is None:
            return

        def apply(text: str | None) -> None:
            if text is not None and text.strip():
                sig = text.strip()
                self._send({"op": "signal", "names": [name], "signal": sig}, f"signal {sig} to {name}")

        self.push_screen(PromptScreen(f"signal to send to {name} (HUP, USR1, 9, ...)", "TERM"), apply)

    async def action_reload(self) -> None:
        """Read the configuration files again (`pom reload`), then say what changed."""
        try:
            kinds = await self.control.handle({"op": "reload"})
        except Exception as exc:  # invalid files: nothing changed, and the error says why
            self.notify(str(exc), severity="error", markup=False)
            return
        changed = [f"{kind} {', '.join(kinds[kind])}" for kind in ("changed", "added", "removed") if kinds[kind]]
        self.notify("reloaded: " + ("; ".join(changed) or "nothing changed"), markup=False)
        self.refresh_view()

    async def action_info(self) -> None:
        """Show everything pom knows about the selected process."""
        if self.selected is None:
            return
        try:
            proc = await self.control.handle({"op": "status", "name": self.selected})
        except Exception as exc:  # the process was just scaled away or removed by a reload
            self.notify(str(exc), severity="error", markup=False)
            return
        self.push_screen(TextScreen(f"info: {proc['name']}", status_text(proc)))

    async def action_graph(self) -> None:
        """Show the dependency graph with live states."""
        graph = await self.control.handle({"op": "graph"})
        self.push_screen(TextScreen("dependency graph", "\n".join(graph_lines(graph))))

    # ------------------------------------------------------------ log pane

    def action_cycle_stream(self) -> None:
        """Cycle all / stdout / stderr."""
        self.stream = STREAM_CYCLE[(STREAM_CYCLE.index(self.stream) + 1) % len(STREAM_CYCLE)]
        self._reload_logs()

    def action_search(self) -> None:
        """Open the find box."""
        box = self._search_box
        box.add_class("visible")
        box.value = self.search or ""
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the find text: highlight it and scroll to the newest match."""
        if event.input is not self._search_box:
            return
        self.search = event.value or None
        event.input.remove_class("visible")
        self._table.focus()
        self._reload_logs()
        if self.search and not self.only_matching:
            self.action_find_next(-1)

    def matches(self) -> list[int]:
        """Indexes of the shown lines that contain the find text."""
        return self._pane.matches(self.search) if self.search else []

    def action_find_next(self, direction: int) -> None:
        """Scroll to the next older (1) or newer (-1) match, wrapping around; following pauses."""
        found = self.matches()
        if not found:
            if self.search:
                self.notify(f"{self.search!r} not found", severity="warning", markup=False)
            return
        if self.match_index is None or self.match_index >= len(found):
            self.match_index = len(found) - 1
        else:
            self.match_index = (self.match_index - direction) % len(found)
        self.follow = False
        self._pane.show_line(found[self.match_index])
        self._refresh_bar()

    def action_toggle_only_matching(self) -> None:
        """Show only the lines that contain the find text, or every line again."""
        self.only_matching = not self.only_matching
        self._reload_logs()

    def action_clear_search(self) -> None:
        """Close the find box and forget the find text."""
        self._search_box.remove_class("visible")
        self._table.focus()
        if self.search:
            self.search = None
            self.only_matching = False
            self._reload_logs()

    def action_toggle_wrap(self) -> None:
        """Wrap long lines, or cut them at the pane's edge."""
        self.wrap = not self.wrap
        self._pane.set_wrap(self.wrap)
        self._refresh_bar()

    def action_toggle_follow(self) -> None:
        """Pause or resume following."""
        self.follow = not self.follow
        self._pane.auto_scroll = self.follow
        if self.follow:
            self.match_index = None
            self._pane.scroll_end(animate=False)
        self._refresh_logs()
        self._refresh_bar()

    def action_copy(self) -> None:
        """Copy the shown log lines (as plain text) to the system clipboard (OSC 52)."""
        self.copy_to_clipboard(self._pane.plain())
        self.notify(f"copied {len(self._pane.shown)} lines")

    def action_help(self) -> None:
        """Show key help."""
        self.push_screen(HelpScreen())

    def action_quit_pom(self) -> None:
        """Ask, then quit: the runner then stops every process."""

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen("Stop every process and quit pom?"), answer)
