"""`grite context index`: tree-sitter symbols per language, incremental re-indexing, path and glob filters."""

from __future__ import annotations

import json

from toolkit_grite.testing import git
from toolkit_grite.testing_context import SAMPLES, write_samples


def _symbols(g, path: str) -> list[tuple[str, str, int, int]]:
    shown = g("context", "show", path)
    return [(s["name"], s["kind"], s["line_start"], s["line_end"]) for s in shown["symbols"]]


def _indexed_repo(repo, g) -> None:
    g("init", "--no-agents-md")
    write_samples(repo)
    git(repo, "add", ".")
    assert g("context", "index") == {"indexed": len(SAMPLES) - 1, "skipped": 1, "total_files": len(SAMPLES)}


def test_symbols_per_language(repo, g):
    _indexed_repo(repo, g)
    assert _symbols(g, "src/lib.rs") == [
        ("Config", "struct", 1, 3),
        ("State", "enum", 5, 5),
        ("Handler", "trait", 7, 9),
        ("Config", "impl", 11, 15),
        ("new", "function", 12, 14),
        ("MAX_SIZE", "const", 17, 17),
        ("GREETING", "static", 18, 18),
        ("Res", "type", 19, 19),
    ]
    assert _symbols(g, "app/models.py") == [
        ("Account", "class", 1, 6),
        ("__init__", "function", 2, 3),
        ("balance", "function", 5, 6),
        ("standalone", "function", 8, 9),
        ("fetch", "function", 11, 12),
    ]
    assert [s[:2] for s in _symbols(g, "web/service.ts")] == [
        ("greet", "function"),
        ("UserService", "class"),
        ("Settings", "interface"),
        ("UserId", "type"),
        ("Status", "enum"),
        ("fetchData", "function"),
    ]
    tsx = [("Props", "interface"), ("App", "function"), ("Theme", "type")]
    assert [s[:2] for s in _symbols(g, "web/App.tsx")] == tsx
    js = [("hello", "function"), ("Animal", "class"), ("shout", "function")]
    assert [s[:2] for s in _symbols(g, "web/util.js")] == js
    # A Go struct matches the struct and the plain type patterns: the specific kind is kept, once.
    assert [s[:2] for s in _symbols(g, "cmd/main.go")] == [
        ("main", "function"),
        ("Start", "function"),
        ("Server", "struct"),
        ("Runner", "interface"),
        ("UserID", "type"),
    ]
    assert [s[:2] for s in _symbols(g, "java/UserService.java")] == [
        ("UserService", "class"),
        ("UserService", "method"),
        ("getName", "method"),
        ("Repository", "interface"),
        ("save", "method"),
        ("Level", "enum"),
    ]
    assert [s[:2] for s in _symbols(g, "c/point.c")] == [
        ("Point", "struct"),
        ("Color", "enum"),
        ("ulong", "type"),
        ("main", "function"),
    ]
    assert [s[:2] for s in _symbols(g, "c/point.h")] == [("Pair", "struct"), ("area", "function")]
    assert [s[:2] for s in _symbols(g, "cpp/widget.cpp")] == [
        ("ui", "namespace"),
        ("Widget", "class"),
        ("Size", "struct"),
        ("Color", "enum"),
        ("process", "function"),
    ]
    assert [s[:2] for s in _symbols(g, "lib/auth.rb")] == [
        ("Authentication", "module"),
        ("User", "class"),
        ("initialize", "function"),
        ("find", "function"),
        ("greet", "function"),
    ]
    assert _symbols(g, "lib/users.ex") == [
        ("MyApp.Users", "module", 1, 11),
        ("get_user", "function", 2, 4),
        ("validate", "function", 6, 8),
        ("ping", "function", 10, 10),
    ]


def test_summary_language_and_hash(repo, g):
    _indexed_repo(repo, g)
    tsx = g("context", "show", "web/App.tsx")
    assert (tsx["language"], tsx["summary"]) == ("typescriptreact", "defines Props; 1 functions")
    assert g("context", "show", "cpp/widget.cpp")["summary"] == "defines Widget, Size; 1 functions"
    assert g("context", "show", "lib/script.exs")["summary"] == "script.exs (elixir)"
    empty = g("context", "show", "empty.py")
    assert (empty["summary"], empty["symbols"]) == ("python file", [])
    assert empty["content_hash"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert [m["path"] for m in g("context", "query", "Color")["matches"]] == ["c/point.c", "cpp/widget.cpp"]


def test_incremental_force_path_and_pattern(repo, g):
    _indexed_repo(repo, g)
    head = git(repo, "rev-parse", "refs/grite/wal")
    # Nothing changed: every file is skipped and nothing is written.
    assert g("context", "index") == {"indexed": 0, "skipped": len(SAMPLES), "total_files": len(SAMPLES)}
    assert git(repo, "rev-parse", "refs/grite/wal") == head
    (repo / "app/models.py").write_text("def renamed():\n    pass\n")
    assert g("context", "index")["indexed"] == 1
    assert _symbols(g, "app/models.py") == [("renamed", "function", 1, 2)]
    assert g("context", "index", "--force", "--path", "lib") == {"indexed": 3, "skipped": 0, "total_files": 3}
    assert g("context", "index", "--force", "--pattern", "*.c*") == {"indexed": 4, "skipped": 0, "total_files": 4}


def test_unreadable_untracked_and_unknown_files_are_skipped(repo, g, cli):
    g("init", "--no-agents-md")
    (repo / "bin.py").write_bytes(b"\xff\xfe not utf-8")
    (repo / "notes.txt").write_text("text\n")
    (repo / "ok.py").write_text("def ok():\n    pass\n")
    (repo / "untracked.py").write_text("def no():\n    pass\n")
    git(repo, "add", "bin.py", "notes.txt", "ok.py")
    assert g("context", "index") == {"indexed": 1, "skipped": 2, "total_files": 3}
    missing = cli("grite", "context", "show", "untracked.py", "--json")
    assert missing.exit_code == 3
    assert json.loads(missing.stderr)["error"]["code"] == "not_found"


def test_paths_are_relative_to_the_current_directory(repo, g, monkeypatch):
    _indexed_repo(repo, g)
    monkeypatch.chdir(repo / "lib")
    assert g("context", "index", "--force")["total_files"] == 3
    assert [s["name"] for s in g("context", "show", "auth.rb")["symbols"]][:2] == ["Authentication", "User"]


def test_malformed_entries_are_refused_and_change_nothing(repo, g):
    import pytest

    from toolkit_grite.core.calls import run
    from toolkit_grite.core.grite import Grite
    from toolkit_grite.errors import InvalidArgs

    g("init", "--no-agents-md")
    good = {"path": "a.py", "language": "python", "symbols": [], "summary": "python file", "content_hash": "00" * 32}
    bad_entries = [
        dict(good, content_hash="zz"),
        dict(good, content_hash="00" * 31),
        dict(good, symbols=[["f", "function", -1, 2]]),
        dict(good, symbols=[["f", "function"]]),
        {"path": "a.py"},
    ]
    grite = Grite()
    try:
        for bad in bad_entries:
            with pytest.raises(InvalidArgs):
                run(grite, "context.record", {"files": [good, bad]})
        with pytest.raises(InvalidArgs):
            run(grite, "context.record", {"files": "a.py"})
        assert run(grite, "context.query", {"text": ""})["count"] == 0
        assert run(grite, "context.record", {"files": [good]})["indexed"] == 1
    finally:
        grite.close()


def test_unchanged_files_are_hashed_but_not_parsed(repo, g, monkeypatch):
    from toolkit_grite.core import symbols

    _indexed_repo(repo, g)
    parsed: list[str] = []
    real_extract = symbols.extract

    def counting_extract(content: bytes, language: str) -> list[list[object]]:
        parsed.append(language)  # the real extractor still runs: this only counts its calls
        return real_extract(content, language)

    monkeypatch.setattr(symbols, "extract", counting_extract)
    assert g("context", "index") == {"indexed": 0, "skipped": len(SAMPLES), "total_files": len(SAMPLES)}
    assert parsed == []
    (repo / "app/models.py").write_text("def renamed():\n    pass\n")
    assert g("context", "index") == {"indexed": 1, "skipped": len(SAMPLES) - 1, "total_files": len(SAMPLES)}
    assert parsed == ["python"]
    # --force parses every file of an indexed language again, and records them all.
    parsed.clear()
    forced = g("context", "index", "--force")
    assert forced == {"indexed": len(SAMPLES) - 1, "skipped": 1, "total_files": len(SAMPLES)}
    assert len(parsed) == len(SAMPLES) - 1


def test_scan_asks_for_the_recorded_hashes_once_and_skips_matches(repo):
    import hashlib

    from toolkit_grite.core.symbols import scan

    (repo / "same.py").write_text("def same():\n    pass\n")
    (repo / "changed.py").write_text("def changed():\n    pass\n")
    (repo / "notes.txt").write_text("not indexed\n")
    git(repo, "add", ".")
    asked: list[list[str]] = []

    def recorded(paths: list[str]) -> dict[str, str]:
        asked.append(paths)
        return {
            "same.py": hashlib.sha256((repo / "same.py").read_bytes()).hexdigest(),
            "changed.py": "00" * 32,
        }

    entries, skipped, total = scan(str(repo), [], None, recorded)
    assert asked == [["changed.py", "same.py"]]  # only files of an indexed language
    assert [e["path"] for e in entries] == ["changed.py"]
    assert (skipped, total) == (2, 3)


def test_incremental_index_through_the_daemon(repo):
    from toolkit_grite.testing import grite

    env = {"GRITE_NO_DAEMON": ""}
    assert grite(repo, "init", "--no-agents-md").code == 0
    try:
        (repo / "a.py").write_text("def a():\n    pass\n")
        (repo / "b.py").write_text("class B:\n    pass\n")
        git(repo, "add", ".")
        assert grite(repo, "context", "index", "--json", env=env).data == {"indexed": 2, "skipped": 0, "total_files": 2}
        assert grite(repo, "daemon", "status", "--json").data["running"] is True
        (repo / "b.py").write_text("class C:\n    pass\n")
        again = grite(repo, "context", "index", "--json", env=env).data
        assert again == {"indexed": 1, "skipped": 1, "total_files": 2}
        assert [s["name"] for s in grite(repo, "context", "show", "b.py", "--json", env=env).data["symbols"]] == ["C"]
    finally:
        grite(repo, "daemon", "stop", "--json")
