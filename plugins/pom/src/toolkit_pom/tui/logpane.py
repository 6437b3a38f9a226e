"""The TUI's log pane: a RichLog that remembers the lines it shows, to find, wrap and copy them."""
# ruff: noqa: TID253 - imported only by the TUI.

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

__all__ = ["PANE_LINES", "LogPane"]

#: Lines the pane keeps (older ones scroll away).
PANE_LINES = 5000


class LogPane(RichLog):
    """A log pane whose shown lines stay available as `Text` (the RichLog keeps only rendered rows).

    Args:
        id: The widget id.
    """

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, max_lines=PANE_LINES, wrap=False, markup=False, highlight=False)
        self.shown: list[Text] = []

    def add(self, text: Text) -> None:
        """Show one more line."""
        self.write(text)
        self.shown.append(text)
        if len(self.shown) > PANE_LINES:
            del self.shown[: len(self.shown) - PANE_LINES]

    def reset(self) -> None:
        """Forget every line."""
        self.clear()
        self.shown = []

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines or cut them at the edge; the shown lines are written again (RichLog wraps on write)."""
        self.wrap = wrap
        self.clear()
        for text in self.shown:
            self.write(text)

    def matches(self, needle: str) -> list[int]:
        """Indexes of the shown lines whose text (after the time stamp) contains `needle`."""
        return [i for i, text in enumerate(self.shown) if needle in text.plain.split(" ", 1)[-1]]

    def row_of(self, index: int) -> int:
        """The pane row where shown line `index` starts (a wrapped line takes several rows)."""
        if not self.wrap:
            return index
        width = max(1, self.scrollable_content_region.width)
        return sum(len(text.wrap(self.app.console, width)) for text in self.shown[:index])

    def show_line(self, index: int) -> None:
        """Stop following and scroll so shown line `index` is near the top."""
        self.auto_scroll = False
        self.scroll_to(y=max(0, self.row_of(index) - 2), animate=False)

    def plain(self) -> str:
        """The shown lines as plain text."""
        return "\n".join(text.plain for text in self.shown)
