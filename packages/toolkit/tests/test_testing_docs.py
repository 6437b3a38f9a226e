"""The console-example reader and matcher (`toolkit.testing_docs`) and the shell session (`toolkit.testing_shell`)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.testing_docs import OutputMatcher, console_blocks
from toolkit.testing_shell import ShellSession

PAGE = """# A page

<!-- docs-test: server=demo until-interrupted="demo follow …" setup="printf 'a > b\\\\n' > f" -->
```console
$ demo serve      # a comment
listening
$ printf '%s\\n' one two \\
    | demo feed -
fed 2
$ demo follow
```

```python
print("not a console block")
```
"""


def test_blocks_directives_commands_and_continuations() -> None:
    console, python = console_blocks(PAGE)
    assert (console.lang, console.line, python.lang) == ("console", 5, "python")
    assert console.values("server") == ["demo"]
    assert console.values("until-interrupted") == ["demo follow …"]
    assert console.values("setup") == ["printf 'a > b\\n' > f"]  # `>` inside a directive is fine
    commands = console.commands()
    assert [c.text for c in commands] == [
        "demo serve      # a comment",
        "printf '%s\\n' one two | demo feed -",
        "demo follow",
    ]
    assert [c.line for c in commands] == [5, 7, 10]
    assert [c.output for c in commands] == [["listening"], ["fed 2"], []]


def test_a_block_must_start_with_a_prompt_and_end_its_continuations() -> None:
    (block,) = console_blocks("```console\noutput first\n$ echo\n```\n")
    with pytest.raises(ValueError, match="starts with a `\\$ ` command"):
        block.commands()
    (block,) = console_blocks("```console\n$ echo \\\n```\n")
    with pytest.raises(ValueError, match="never ends"):
        block.commands()


PLAIN = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="…\r", exclude_categories=("Cs", "Cc")))


@given(PLAIN)
def test_plain_output_matches_itself(text: str) -> None:
    assert OutputMatcher().matches(text, text)


@given(PLAIN.filter(lambda t: t.strip() != ""), st.data())
def test_any_changed_visible_character_is_a_mismatch(text: str, data: st.DataObject) -> None:
    positions = [i for i, c in enumerate(text) if not c.isspace()]
    index = data.draw(st.sampled_from(positions))
    changed = text[:index] + ("x" if text[index] != "x" else "y") + text[index + 1 :]
    assert not OutputMatcher().matches(text, changed)  # x and y are neither hex, digits nor space


def test_whitespace_ellipsis_and_timestamps() -> None:
    matcher = OutputMatcher()
    assert matcher.matches("a  b\tc", "a b    c\n\n")
    assert matcher.matches('{"id":"…","n":3,…}', '{"id":"x y","n":3,"more":[1]}')
    assert not matcher.matches('{"id":"…","n":3}', '{"id":"x","n":4}')
    assert matcher.matches("first\n…\nlast", "first\n1\n2\nlast")
    assert matcher.matches("first\n…\nlast", "first\nlast")
    assert not matcher.matches("first\nlast", "first\nmiddle\nlast")
    assert matcher.matches("at 2026-11-21T10:00:00.123456789Z", "at 2027-01-02T03:04:05.6Z")
    assert matcher.matches("at 2026-11-21T10:00:00Z", "at 2027-01-02T03:04:05+01:00")
    assert not matcher.matches("at 2026-11-21T10:00:00Z", "at 2027-01-02T03:04Z")
    assert matcher.matches("2026-11-21 09:12  x", "2030-12-31 23:59 x")
    assert not matcher.matches("2026-11-21 09:12", "2030-12-31")


def test_ids_bind_to_the_real_ids_and_commands_get_them() -> None:
    matcher = OutputMatcher()
    real = "00b8b2d60a43df6f77a0aa50e88732d1"
    assert matcher.matches("created 5f0c3a1e…", f"created {real}")
    assert matcher.matches("5f0c3a1e  open", "00b8b2d6  open")
    assert not matcher.matches("5f0c3a1e  open", "11b8b2d6  open")  # another id where the page shows the same one
    assert (
        matcher.substitute("grite issue close 5f0c --lock issue:5f0c3a1e")
        == "grite issue close 00b8 --lock issue:00b8b2d6"
    )
    assert matcher.substitute("version 2026 face") == "version 2026 face"  # no digit+letter mix: not an id
    assert not matcher.matches("id 9d1e4c07", "id 9d1e4c")  # an exact id keeps its length
    assert matcher.matches("id 9d1e4c07", "id abcdef12")


@pytest.fixture
def shell(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with ShellSession(work, env, tmp_path / "scratch", timeout=60) as session:
        yield session


def test_state_persists_and_statuses_are_kept(shell: ShellSession) -> None:
    assert shell.run("mkdir sub && cd sub").status == 0
    assert shell.run("export GREETING=hello; NAME=world").status == 0
    result = shell.run('pwd; echo "$GREETING $NAME"; echo oops >&2')
    assert result.status == 0
    assert result.output.splitlines()[1:] == ["hello world", "oops"]
    assert result.output.splitlines()[0].endswith("/work/sub")
    assert shell.run("exit_code() { return 4; }; exit_code").status == 4
    assert shell.run("false").status == 1
    assert shell.run("echo $?").output == "1\n"  # the status survives the bookkeeping
    assert shell.run("cat").output == ""  # stdin is /dev/null, never the session's own input


def test_background_jobs_run_until_interrupted(shell: ShellSession) -> None:
    job = shell.start("trap 'echo interrupted; exit 130' INT; echo started; while :; do sleep 0.1; done")
    deadline = time.monotonic() + 60
    while not job.printed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.running()
    shell.interrupt(job)
    assert not job.running()
    assert job.printed().startswith("started")
    assert shell.run("echo after").output == "after\n"  # the session goes on


def test_a_command_that_never_ends_fails_the_session(tmp_path: Path) -> None:
    from toolkit.testing_shell import ShellError

    work = tmp_path / "work"
    work.mkdir()
    with ShellSession(work, dict(os.environ), tmp_path / "scratch", timeout=2) as session, pytest.raises(ShellError):
        session.run("echo 'unterminated")
