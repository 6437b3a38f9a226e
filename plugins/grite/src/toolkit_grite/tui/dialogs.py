"""The TUI's modal dialogs: a one-line prompt and a title/body editor.

Each dialog returns what was typed (or None when cancelled); the app decides what to write.
"""
# ruff: noqa: TID253 - imported only by `grite tui`.

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea

__all__ = ["EditResult", "EditorScreen", "PromptScreen"]


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line (a label); enter accepts, escape cancels.

    Args:
        question: The sentence shown above the input.
        value: The initial text.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        """Build the box."""
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(value=self.value, id="prompt")

    def on_mount(self) -> None:
        """Put the cursor in the input."""
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept the line."""
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


EditResult = tuple[str | None, str]


class EditorScreen(ModalScreen[EditResult | None]):
    """Edit a body (and, for an issue, its title); ctrl+s saves, escape cancels.

    Args:
        heading: What is being edited.
        body: The initial body.
        title: The initial title, or None to edit a body only (a comment).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "save", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, heading: str, body: str = "", title: str | None = None) -> None:
        super().__init__()
        self.heading = heading
        self.body = body
        self.title_value = title

    def compose(self) -> ComposeResult:
        """Build the editor."""
        with Vertical(classes="dialog editor"):
            yield Label(f"{self.heading}  (ctrl+s save, escape cancel)")
            if self.title_value is not None:
                yield Input(value=self.title_value, placeholder="title", id="title")
            yield TextArea(self.body, id="body")

    def on_mount(self) -> None:
        """Focus the first field."""
        first = "#title" if self.title_value is not None else "#body"
        self.query_one(first).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the title moves to the body."""
        event.stop()
        self.query_one("#body", TextArea).focus()

    def action_save(self) -> None:
        """Return the edited title (None when not editable) and body."""
        title = self.query_one("#title", Input).value if self.title_value is not None else None
        self.dismiss((title, self.query_one("#body", TextArea).text))

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
