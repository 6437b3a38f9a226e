"""Symbol extraction for `grite context index`: the languages, symbol kinds and summaries of grite 0.5.3.

Each language is a table of (kind, tree-sitter pattern) rows; a pattern captures the symbol's
name as `@name` and its whole definition as `@definition` (the symbol's line range). As in
0.5.3, symbols are listed by line, a more specific kind wins over `type` when one name on one
line matches twice, and the summary names the first three types and counts the functions.
The grammars are the `tree-sitter-<language>` wheels (compiled in; nothing is fetched at run time).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib
import posixpath
import subprocess
from collections.abc import Callable
from typing import Any

from toolkit_grite.errors import GriteInternal

__all__ = ["LANGUAGES", "detect_language", "extract", "scan", "summary"]

#: File extension -> the language name 0.5.3 records.
_EXTENSIONS = {
    "rs": "rust",
    "py": "python",
    "ts": "typescript",
    "tsx": "typescriptreact",
    "js": "javascript",
    "jsx": "javascript",
    "go": "go",
    "java": "java",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "hpp": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "rb": "ruby",
    "ex": "elixir",
    "exs": "elixir",
}

#: Language -> (grammar module, its language function).
_GRAMMARS = {
    "rust": ("tree_sitter_rust", "language"),
    "python": ("tree_sitter_python", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx"),
    "javascript": ("tree_sitter_javascript", "language"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
}


def _named(node: str, field: str, name_type: str) -> str:
    """A definition node whose `field` child (of type `name_type`) is the symbol's name."""
    return f"({node} {field}: ({name_type}) @name) @definition"


_ARROW = "(lexical_declaration (variable_declarator name: (identifier) @name value: (arrow_function)) @definition)"
_TS_LIKE = [
    ("function", _named("function_declaration", "name", "identifier")),
    ("class", _named("class_declaration", "name", "type_identifier")),
    ("interface", _named("interface_declaration", "name", "type_identifier")),
    ("type", _named("type_alias_declaration", "name", "type_identifier")),
    ("enum", _named("enum_declaration", "name", "identifier")),
    ("function", _ARROW),
]
_GO_TYPE = "(type_declaration (type_spec name: (type_identifier) @name{})) @definition"
_C_FUNCTION = "(function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition"
_ELIXIR_DEF = '(call target: (identifier) @_kw (arguments {}) (#match? @_kw "^{}$")) @definition'

#: Language -> its (kind, pattern) rows, in the order 0.5.3 matches them.
_PATTERNS: dict[str, list[tuple[str, str]]] = {
    "rust": [
        ("function", _named("function_item", "name", "identifier")),
        ("struct", _named("struct_item", "name", "type_identifier")),
        ("enum", _named("enum_item", "name", "type_identifier")),
        ("trait", _named("trait_item", "name", "type_identifier")),
        ("impl", _named("impl_item", "type", "type_identifier")),
        ("const", _named("const_item", "name", "identifier")),
        ("type", _named("type_item", "name", "type_identifier")),
        ("static", _named("static_item", "name", "identifier")),
    ],
    "python": [
        ("function", _named("function_definition", "name", "identifier")),
        ("class", _named("class_definition", "name", "identifier")),
    ],
    "typescript": _TS_LIKE,
    "typescriptreact": _TS_LIKE,
    "javascript": [
        ("function", _named("function_declaration", "name", "identifier")),
        ("class", _named("class_declaration", "name", "identifier")),
        ("function", _ARROW),
    ],
    "go": [
        ("function", _named("function_declaration", "name", "identifier")),
        ("function", _named("method_declaration", "name", "field_identifier")),
        ("struct", _GO_TYPE.format(" type: (struct_type)")),
        ("interface", _GO_TYPE.format(" type: (interface_type)")),
        ("type", _GO_TYPE.format("")),
    ],
    "java": [
        ("method", _named("method_declaration", "name", "identifier")),
        ("class", _named("class_declaration", "name", "identifier")),
        ("interface", _named("interface_declaration", "name", "identifier")),
        ("enum", _named("enum_declaration", "name", "identifier")),
        ("method", _named("constructor_declaration", "name", "identifier")),
    ],
    "c": [
        ("function", _C_FUNCTION),
        ("struct", _named("struct_specifier", "name", "type_identifier")),
        ("enum", _named("enum_specifier", "name", "type_identifier")),
        ("type", _named("type_definition", "declarator", "type_identifier")),
    ],
    "cpp": [
        ("function", _C_FUNCTION),
        ("class", _named("class_specifier", "name", "type_identifier")),
        ("struct", _named("struct_specifier", "name", "type_identifier")),
        ("enum", _named("enum_specifier", "name", "type_identifier")),
        ("namespace", _named("namespace_definition", "name", "namespace_identifier")),
    ],
    "ruby": [
        ("function", _named("method", "name", "identifier")),
        ("class", _named("class", "name", "constant")),
        ("module", _named("module", "name", "constant")),
        ("function", _named("singleton_method", "name", "identifier")),
    ],
    "elixir": [
        ("function", _ELIXIR_DEF.format("(call target: (identifier) @name)", "(def|defp)")),
        ("function", _ELIXIR_DEF.format("(identifier) @name", "(def|defp)")),
        ("module", _ELIXIR_DEF.format("(alias) @name", "defmodule")),
    ],
}

LANGUAGES = tuple(_GRAMMARS)

# Lower sorts first: when one name on one line matches twice, the more specific kind is kept.
_PRIORITY = {
    **dict.fromkeys(("struct", "class", "interface", "enum", "trait", "module", "namespace"), 0),
    **dict.fromkeys(("function", "method", "impl", "const", "static"), 1),
    "type": 2,
}
_TYPE_KINDS = ("struct", "class", "interface")
_FUNCTION_KINDS = ("function", "method")


def detect_language(path: str) -> str | None:
    """The language 0.5.3 records for `path` (by extension), or None when it does not index it."""
    _stem, dot, extension = posixpath.basename(path).rpartition(".")
    return _EXTENSIONS.get(extension) if dot and _stem else None


@functools.cache
def _compiled(language: str) -> tuple[Any, Any]:
    """The parser and the query of `language` (built once per process)."""
    import tree_sitter

    module, function = _GRAMMARS[language]
    capsule: object = getattr(importlib.import_module(module), function)()  # a PyCapsule
    grammar = tree_sitter.Language(capsule)
    query = tree_sitter.Query(grammar, "\n".join(pattern for _kind, pattern in _PATTERNS[language]))
    return tree_sitter.Parser(grammar), query


def extract(content: bytes, language: str) -> list[list[Any]]:
    """The symbols of a source file as `[name, kind, line_start, line_end]` rows (1-based lines)."""
    import tree_sitter

    parser, query = _compiled(language)
    tree = parser.parse(content)
    kinds = [kind for kind, _pattern in _PATTERNS[language]]
    found: list[list[Any]] = []
    for pattern_index, captures in tree_sitter.QueryCursor(query).matches(tree.root_node):
        names = captures.get("name")
        if not names:
            continue
        name_node = names[-1]
        span = captures.get("definition", names)[-1]
        text = content[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
        found.append([text, kinds[pattern_index], span.start_point.row + 1, span.end_point.row + 1])
    found.sort(key=lambda s: (s[2], _PRIORITY.get(s[1], 3)))  # stable: match order breaks ties
    symbols: list[list[Any]] = []
    for symbol in found:
        if symbols and symbols[-1][2] == symbol[2] and symbols[-1][0] == symbol[0]:
            continue
        symbols.append(symbol)
    return symbols


def summary(path: str, symbols: list[list[Any]], language: str) -> str:
    """The one-line summary 0.5.3 stores with a file's symbols."""
    shown = "typescript" if language == "typescriptreact" else language
    if not symbols:
        return f"{shown} file"
    types = [s[0] for s in symbols if s[1] in _TYPE_KINDS]
    functions = sum(1 for s in symbols if s[1] in _FUNCTION_KINDS)
    parts = []
    if types:
        more = f" (+{len(types) - 3} more)" if len(types) > 3 else ""
        parts.append(f"defines {', '.join(types[:3])}{more}")
    if functions:
        parts.append(f"{functions} functions")
    return "; ".join(parts) if parts else f"{posixpath.basename(path)} ({shown})"


def scan(
    cwd: str,
    paths: list[str],
    pattern: str | None,
    recorded: Callable[[list[str]], dict[str, str]] | None = None,
) -> tuple[list[dict[str, Any]], int, int]:
    """Extract the files `git ls-files` lists in `cwd` (limited to `paths`, then to the glob `pattern`).

    Paths are relative to `cwd`, as 0.5.3 records them. Files that are not UTF-8 or not in an
    indexed language are skipped, and so, without being parsed, are files whose SHA-256 equals
    the hash `recorded` (called once with every candidate path) returns for them.

    Returns:
        The file contexts (the entries `context.record_files` takes), the number skipped, and the
        number of files listed.

    Raises:
        GriteInternal: `git ls-files` failed.
    """
    try:
        listed = subprocess.run(["git", "ls-files", "--", *paths], cwd=cwd, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GriteInternal(f"git ls-files failed: {exc}") from None
    files = [line for line in listed.stdout.decode("utf-8", "replace").splitlines() if line]
    if pattern is not None:
        # `*` crosses `/` here as in 0.5.3's glob matching.
        files = [f for f in files if fnmatch.fnmatchcase(f, pattern)]
    # Only indexed languages are opened at all.
    candidates = [(path, language) for path in files if (language := detect_language(path)) is not None]
    known = recorded([path for path, _language in candidates]) if recorded is not None and candidates else {}
    entries: list[dict[str, Any]] = []
    for path, language in candidates:
        try:
            with open(posixpath.join(cwd, path), "rb") as fh:
                content = fh.read()
            content.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        content_hash = hashlib.sha256(content).hexdigest()
        if known.get(path) == content_hash:
            continue  # unchanged since it was recorded: parsing it again would record nothing
        symbols = extract(content, language)
        entries.append(
            {
                "path": path,
                "language": language,
                "symbols": symbols,
                "summary": summary(path, symbols, language),
                "content_hash": content_hash,
            }
        )
    return entries, len(files) - len(entries), len(files)
