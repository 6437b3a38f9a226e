"""The `pom` script's click-free `logs` path: same output as the click command, falls back otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit_pom.cli.fast import parse_logs_args
from toolkit_pom.testing import wait_for, write_project

# Reports the modules loaded by the time main returned (and those a bare interpreter loads) on
# stderr's last line; nothing is imported for the report before main runs (json imports `re`).
PROBE = """
import sys
before = sorted(sys.modules)
sys.argv = ["pom", *sys.argv[1:]]
from toolkit_pom.cli.fast import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
sys.stdout.flush()
print(" ".join(sorted(sys.modules)) + "|" + " ".join(before), file=sys.stderr)
sys.exit(code)
"""
HEAVY = ("click", "pydantic", "yaml", "re2", "asyncio", "textual", "fastapi", "uvicorn", "httpx", "psutil")
#: What a plain `logs` must not add to a bare interpreter either: each costs milliseconds of a
#: command agents run in loops (`typing` and `pathlib` bring `re`; the `cbor2` package brings typing).
STARTUP = ("typing", "pathlib", "re", "cbor2", "contextlib", "json")


def _script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `pom` console script's main as the installed script does, reporting loaded modules."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


def _modules(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(result.stderr.strip().splitlines()[-1].partition("|")[0].split())


def _added(result: subprocess.CompletedProcess[str]) -> set[str]:
    """Modules main loaded beyond what the interpreter had loaded before it."""
    loaded, _, before = result.stderr.strip().splitlines()[-1].partition("|")
    return set(loaded.split()) - set(before.split())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["logs", "a"], {"names": ["a"], "lines": None}),
        (["logs", "a", "b", "-n", "5"], {"names": ["a", "b"], "lines": 5}),
        (["logs", "-n5", "a"], {"names": ["a"], "lines": 5}),
        (["logs", "a", "--lines=7", "--stderr", "-t"], {"lines": 7, "stream": "stderr", "timestamps": True}),
        (
            ["logs", "a", "--grep", "x y", "--regex=^z", "--after-id", "3"],
            {"grep": "x y", "regex": "^z", "after_id": 3},
        ),
        (["logs", "-f", "p.toml", "--", "-odd"], {"file": "p.toml", "names": ["-odd"]}),
    ],
)
def test_plain_logs_lines_are_parsed(argv: list[str], expected: dict[str, Any]) -> None:
    opts = parse_logs_args(argv)
    assert opts is not None
    assert {key: opts[key] for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        [], ["ps"], ["logs"], ["logs", "a", "--json"], ["logs", "a", "-F"], ["logs", "a", "--help"],
        ["logs", "a", "-n", "x"], ["logs", "a", "-n", "-1"], ["logs", "a", "-n", "100001"], ["logs", "a", "-n"],
        ["logs", "a", "--after-id", "-2"], ["logs", "a", "--stdout", "--stderr"], ["logs", "a", "-n", "1", "-n", "2"],
        ["logs", "a", "--unknown"], ["logs", "a", "-tx"], ["-e", ".env", "logs", "a"],
    ],
)  # fmt: skip
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert parse_logs_args(argv) is None


def test_fast_logs_prints_what_click_prints_and_imports_nothing_heavy(tmp_path: Path, start_pom: Any, cli: Any) -> None:
    config = write_project(
        tmp_path,
        """
        [processes.job]
        command = "for i in $(seq 1 1500); do echo job line $i; echo err $i >&2; done"
        [processes.other]
        command = "echo other line; exec sleep 300"
        """,
    )
    pom = start_pom(config)
    wait_for(lambda: pom.ps()["job"]["log"]["lines"] >= 3000 and pom.ps()["other"]["log"]["lines"] >= 1, what="lines")
    f = ["-f", str(config)]
    for argv in (
        ["logs", "job", "--lines", "1000", *f],
        ["logs", "job", "other", "-n", "20", "--stderr", *f],
        ["logs", "all", "--grep", "line 14", *f],
        ["logs", "job", "--regex", "^err 1..$", "--after-id", "10", *f],
        ["logs", "job", "-t", "-n3", *f],
    ):
        fast = _script(*argv)
        assert fast.returncode == 0, fast.stderr
        heavy = sorted(m for m in _modules(fast) if m.split(".")[0] in HEAVY or m == "toolkit_pom.cli.main")
        assert heavy == [], f"pom {' '.join(argv)} imported {heavy}"
        assert sorted(_added(fast) & set(STARTUP)) == [], f"pom {' '.join(argv)} imported them"
        assert fast.stdout == cli("pom", *argv).assert_success().output
    assert _script("logs", "job", "-n", "1000", *f).stdout.count("\n") == 1000
    # Without -f the config is discovered from the working directory (or a parent), still light.
    deeper = config.parent / "sub" / "dir"
    deeper.mkdir(parents=True)
    found = _script("logs", "other", cwd=deeper)
    assert found.returncode == 0, found.stderr
    assert found.stdout == cli("pom", "logs", "other", *f).assert_success().output
    assert found.stdout.endswith("other line\n")
    assert sorted(_added(found) & set(STARTUP)) == []

    # Errors and other forms go to click, which reports them as always.
    bad = _script("logs", "job", "--regex", "(", *f)
    assert bad.returncode == 2
    assert "regular expression" in bad.stderr
    assert "click" in _modules(bad)
    unknown = _script("logs", "nope", *f)
    assert unknown.returncode == 3
    as_json = _script("logs", "job", "-n", "2", "--json", *f)
    assert as_json.returncode == 0
    assert len(json.loads(as_json.stdout)["lines"]) == 2


def test_fast_logs_without_a_running_pom_reports_through_click(tmp_path: Path) -> None:
    config = write_project(tmp_path, '[processes.a]\ncommand = "true"\n')
    result = _script("logs", "a", "-f", str(config))
    assert result.returncode == 6
    assert "no pom is running" in result.stderr
