"""The TUI's modal screens: key help, a one-line prompt, a text view and the quit question."""
# ruff: noqa: TID253 - imported only by the TUI.

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

__all__ = ["HELP", "ConfirmScreen", "HelpScreen", "PromptScreen", "TextScreen"]

HELP = """\
[b]pom keys[/b]

  up/down, j/k   select a process
  s / F7         start the selected process
  x / F9         stop it (SIGKILL after the stop timeout)
  r / ctrl+r     restart it
  S / F2         scale its group (asks for the replica count)
  K              send it a signal (asks: HUP, USR1, 9, ...)
  i / F3         info: everything pom knows about it
  d / ctrl+q     dependency graph
  ctrl+l         reload the configuration files (as pom reload)
  e              namespace: cycle all / each namespace
  F              filter processes by name
  o / O          sort by the next column / reverse the order
  f              log stream: all, stdout, stderr
  /              find in the log (matches highlighted)
  n / N          find next (older) / previous (newer) match
  v              show only the lines that match (and back)
  escape         clear the find text
  w / F6         wrap long lines
  p / F5         pause / resume following the log
  c              copy the shown log lines to the clipboard
  ? / F1         this help
  q / F10        quit (asks first; stops every process)
"""


class HelpScreen(ModalScreen[None]):
    """Key help."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        """Build the help box (it scrolls on a short terminal)."""
        with VerticalScroll(classes="box"):
            yield Static(HELP, id="help")


class TextScreen(ModalScreen[None]):
    """A scrollable read-only text (process info, dependency graph).

    Args:
        title: The box's first line.
        body: Plain text (no markup is interpreted).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "dismiss", "close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        """Build the box."""
        with VerticalScroll(classes="box"):
            yield Label(self.title_text, classes="title", markup=False)
            yield Static(self.body, id="text-body", markup=False)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line; dismissed with the text (enter) or None (escape).

    Args:
        question: What is asked.
        value: The text the box starts with.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        """Build the box."""
        with Vertical(classes="box"):
            yield Label(self.question, markup=False)
            yield Input(value=self.value, id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Answer with the text."""
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Answer nothing."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: `y` answers True, `n` or escape False.

    Args:
        question: What is asked.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        """Build the box."""
        yield Label(f"{self.question}  [b]y[/b]/[b]n[/b]", id="confirm", classes="box")

    def action_answer(self, yes: bool) -> None:
        """Answer."""
        self.dismiss(yes)
