"""git-bug's query language for `issue list` (see specs/grite/cli.md, "Query language").

`status:open author:alice label:bug no:label sort:edit-desc "free text"`: qualifiers are
case-insensitive, values may be quoted, every free-text word must occur (case-insensitive) in the
title, the body or a comment.
"""

from __future__ import annotations

from toolkit_grite.errors import InvalidArgs

__all__ = ["Query", "parse"]

#: git-bug's sort names -> ours.
_SORTS = {"id": "id", "creation": "created", "created": "created", "edit": "updated", "updated": "updated",
          "title": "title"}  # fmt: skip


class Query:
    """A parsed query; fields left empty do not filter (a plain class: `dataclasses` costs every `issue list` ~4 ms)."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.labels: list[str] = []
        self.no_label = False
        self.authors: list[str] = []
        self.assignees: list[str] = []
        self.words: list[str] = []
        self.sort: str | None = None
        self.desc: bool | None = None


def parse(text: str) -> Query:
    """Parse a query string.

    Raises:
        InvalidArgs: unknown qualifier or value, or unbalanced quotes.
    """
    import shlex  # here: `ops` imports this module, and `issue create` never parses a query

    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InvalidArgs(f"query: {exc}") from None
    q = Query()
    for token in tokens:
        name, sep, value = token.partition(":")
        if not sep or not name.isalpha():
            q.words.append(token.lower())
            continue
        if not value:
            raise InvalidArgs(f"query: {name.lower()}: needs a value")
        _qualifier(q, name.lower(), value)
    return q


def _qualifier(q: Query, name: str, value: str) -> None:
    if name in ("status", "state"):
        if value.lower() not in ("open", "closed", "all"):
            raise InvalidArgs("query: status: must be open, closed or all")
        q.state = value.lower()
    elif name == "label":
        q.labels.append(value)
    elif name == "no":
        if value.lower() != "label":
            raise InvalidArgs("query: no: only supports no:label")
        q.no_label = True
    elif name == "author":
        q.authors.append(value.lower())
    elif name == "assignee":
        q.assignees.append(value)
    elif name == "sort":
        base, _dash, order = value.lower().partition("-")
        if base not in _SORTS or order not in ("", "asc", "desc"):
            raise InvalidArgs("query: sort: must be id, creation or edit, optionally -asc or -desc")
        q.sort = _SORTS[base]
        q.desc = order == "desc" if order else None
    else:
        raise InvalidArgs(
            f"query: unknown qualifier {name}:",
            hint="use status:, author:, label:, no:label, assignee:, sort: or free text",
        )
