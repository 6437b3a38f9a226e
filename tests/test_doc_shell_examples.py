"""Every console example in docs/ runs, command by command, and prints what the page shows.

A ```console block is a terminal session: `$ ` lines are commands (a trailing `\\` joins the next
line), the lines under a command are its documented output. Each block runs as one bash session
(`toolkit.testing_shell`) in an empty temporary directory with its own HOME, TOOLKIT_HOME and
runtime directory, commands in order, so `cd`, `export` and variables carry over. For each command:

- its exit status must be 0, unless the next command is `echo $?` and shows the expected status;
- its output (stdout and stderr together, as a terminal shows them) must match the documented
  output after the normalisation `toolkit.testing_docs` describes: whitespace runs, `…` wildcards,
  timestamps of the same shape, and hex ids bound to the real ids (later commands get the real id
  wherever the page uses the documented one or a prefix of it).

A comment line just before a block, `<!-- docs-test: KEY=VALUE ... -->` (values may be quoted),
declares what the session needs. The directives:

- `server=NAME`: the block's `$ NAME serve` line (which must be exactly the command of NAME's
  `toolkit_services` spec, comments aside) starts that service on a free loopback port; the lines
  documented under it must appear in the server's output. Later commands and outputs get the real
  address wherever the page shows the documented one (`127.0.0.1:PORT` or `localhost:PORT`).
- `server-env=VAR`: also export VAR=<real address> when the server starts (the variable through
  which the commands find the server by default, e.g. GRAVEYAR_SERVER).
- `until-interrupted="COMMAND"` (repeatable): the commands COMMAND matches (their words, comments
  aside; `…` stands for any words, `"plasmite follow …"`) run until interrupted
  (`follow`, `subscribe`, a TUI): each must still be running after a short time (ALIVE_FOR) and
  have printed exactly its documented output by then (nothing, if none is shown: no error, no
  warning); then it gets SIGINT, as Ctrl-C, and the session goes on.
- `git-repo=DIR`: before the block, DIR is a git repository with one commit and an `origin`
  remote (a bare repository beside it), as a project using grite would be.
- `copy=PATH`: before the block, copy the repository's PATH (a file or folder) to the same
  relative path in the session directory.
- `setup="COMMAND"`: run COMMAND in the session before the block (it must succeed; not shown).
- `continues`: the block continues the previous console block's session on the same page
  (same directory, shell, server and ids) instead of starting a new one.

No block can opt out, and no other fenced shell block is allowed: a ```sh, ```bash or ```shell
block fails `test_docs_have_no_unchecked_shell_blocks` (write a console session, or, for a
command synopsis, a table or prose: the generated CLI reference has the synopses). The example
plugin's README (docs/plugins/example) is the exception: installing a plugin is what
`nox -s example` runs, in a venv of its own, command for command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.testing_docs import Command, ConsoleBlock, OutputMatcher, RunningService, console_blocks, running_service
from toolkit.testing_shell import ShellSession
from toolkit_kernel.paths import toolkit_cache

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIP_DIRS = ("plugins/example", "reference")
SHELL_LANGS = {"sh", "bash", "shell", "zsh", "shell-session", "sh-session"}
DIRECTIVES = {"server", "server-env", "until-interrupted", "git-repo", "copy", "setup", "continues"}
#: How long a command that runs until interrupted must stay up, error-free, to pass.
ALIVE_FOR = 3.0
#: How long such a command may take to print what the page shows (a loaded machine is slow).
OUTPUT_DEADLINE = 60.0
#: Variables of the developer's environment that would point a session at their own data.
PRIVATE_PREFIXES = ("TOOLKIT_", "GRITE_", "GRAVEYAR_", "POM_", "PLASMITE_", "XDG_", "GIT_")


def _pages() -> list[Path]:
    return [p for p in sorted(DOCS.rglob("*.md")) if not p.relative_to(DOCS).as_posix().startswith(SKIP_DIRS)]


@dataclass
class Session:
    page: Path
    blocks: list[ConsoleBlock]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS)}:{self.blocks[0].line}"


def _sessions() -> list[Session]:
    sessions: list[Session] = []
    for page in _pages():
        first = len(sessions)
        for block in console_blocks(page.read_text()):
            if block.lang != "console":
                continue
            if block.values("continues") and len(sessions) > first:
                sessions[-1].blocks.append(block)
            else:
                sessions.append(Session(page, [block]))
    return sessions


SESSIONS = _sessions()


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_PREFIXES)}
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        TOOLKIT_HOME=str(home / "toolkit"),
        TOOLKIT_CACHE_DIR=str(toolkit_cache()),  # the developer's index cache: no rebuild per session
        TOOLKIT_RUNTIME_DIR=str(tmp_path / "run"),
        # The daemon would outlive the session; its output is byte-for-byte that of in-process runs.
        GRITE_NO_DAEMON="1",
        GIT_AUTHOR_NAME="Docs Reader",
        GIT_AUTHOR_EMAIL="reader@example.org",
        GIT_COMMITTER_NAME="Docs Reader",
        GIT_COMMITTER_EMAIL="reader@example.org",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]),
        COLUMNS="80",
        TZ="UTC",
    )
    return env


def _git_repo(work: Path, name: str, env: dict[str, str]) -> None:
    origin = work / f"{name}-origin.git"
    repo = work / name
    for argv, cwd in (
        (["git", "init", "-q", "--bare", str(origin)], work),
        (["git", "init", "-q", str(repo)], work),
        (["git", "commit", "-q", "--allow-empty", "-m", "start"], repo),
        (["git", "remote", "add", "origin", str(origin)], repo),
        (["git", "push", "-q", "origin", "HEAD"], repo),
    ):
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def _copy(work: Path, relative: str) -> None:
    source, target = ROOT / relative, work / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".data", "__pycache__"))
    else:
        shutil.copy2(source, target)


def _same_command(pattern: str, text: str) -> bool:
    """Match a command (its words, comments aside) against a directive's pattern (`…` for any words)."""
    words = " ".join(shlex.split(text, comments=True))
    return re.fullmatch(".*".join(re.escape(part.strip()) for part in pattern.split("…")), words) is not None


class Runner:
    """Runs one session's blocks and fails with the page and line of the first wrong command."""

    def __init__(self, session: Session, tmp_path: Path, stack: ExitStack) -> None:
        self.session = session
        self.env = _environment(tmp_path)
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.stack = stack
        self.shell = stack.enter_context(ShellSession(self.work, self.env, tmp_path / "scratch"))
        self.matcher = OutputMatcher()
        self.services: list[RunningService] = []

    def where(self, line: int) -> str:
        return f"{self.session.page.relative_to(ROOT)}:{line}"

    def real(self, text: str) -> str:
        for service in self.services:
            text = service.replace(text)
        return self.matcher.substitute(text)

    def prepare(self, block: ConsoleBlock) -> None:
        unknown = {key for key, _ in block.directives} - DIRECTIVES
        assert not unknown, f"{self.where(block.line)}: unknown docs-test directives {sorted(unknown)}"
        for name in block.values("git-repo"):
            _git_repo(self.work, name, self.env)
        for relative in block.values("copy"):
            _copy(self.work, relative)
        for command in block.values("setup"):
            result = self.shell.run(command)
            assert result.status == 0, f"{self.where(block.line)}: setup `{command}` failed:\n{result.output}"

    def run_block(self, block: ConsoleBlock) -> None:
        self.prepare(block)
        commands = block.commands()
        servers = block.values("server")
        for number, command in enumerate(commands):
            text = self.real(command.text)
            if servers and self._is_serve_line(servers[0], text):
                self.start_server(block, servers.pop(0), command)
            elif any(_same_command(pattern, command.text) for pattern in block.values("until-interrupted")):
                self.run_until_interrupted(command, text)
            else:
                following = commands[number + 1] if number + 1 < len(commands) else None
                self.run_command(command, text, following)
        assert not servers, f"{self.where(block.line)}: no `$ {servers[0]} serve` line starts the declared server"
        for pattern in block.values("until-interrupted"):
            assert any(_same_command(pattern, c.text) for c in commands), (
                f"{self.where(block.line)}: until-interrupted={pattern!r} matches no command of the block"
            )

    @staticmethod
    def _is_serve_line(name: str, text: str) -> bool:
        argv = shlex.split(text, comments=True)
        return argv[:1] in ([name], ["toolkit"]) and "serve" in argv

    def start_server(self, block: ConsoleBlock, name: str, command: Command) -> None:
        service = self.stack.enter_context(running_service(name, self.env, self.work))
        argv = shlex.split(command.text, comments=True)
        assert service.serves(argv), f"{self.where(command.line)}: `{command.text}` is not the {name} service's command"
        self.services.append(service)
        for variable in block.values("server-env"):
            self.shell.run(f"export {variable}={service.actual}")
        expected = [line for line in self.real(command.expected_output).splitlines() if line.strip()]
        deadline = time.monotonic() + 30
        while True:
            shown = service.log.read_text(errors="replace").splitlines()
            missing = [line for line in expected if not any(self.matcher.matches(line, out) for out in shown)]
            if not missing:
                return
            assert time.monotonic() < deadline, f"{self.where(command.line)}: the server never printed {missing}"
            time.sleep(0.1)

    def run_until_interrupted(self, command: Command, text: str) -> None:
        job = self.shell.start(text)
        started = time.monotonic()
        expected = self.real(command.expected_output)
        try:
            while True:
                output = job.printed()
                assert job.running(), f"{self.where(command.line)}: `{text}` ended instead of running:\n{output}"
                elapsed = time.monotonic() - started
                if elapsed >= ALIVE_FOR and self.matcher.matches(expected, output):
                    return
                assert elapsed < OUTPUT_DEADLINE, (
                    f"{self.where(command.line)}: `{text}` printed\n{output}\nwhich does not match the page:\n"
                    f"{command.expected_output}"
                )
                time.sleep(0.05)
        finally:
            self.shell.interrupt(job)

    def run_command(self, command: Command, text: str, following: Command | None) -> None:
        expected_status = 0
        if following is not None and following.text == "echo $?":
            expected_status = int(following.expected_output.strip())
        result = self.shell.run(text)
        where = self.where(command.line)
        assert result.status == expected_status, (
            f"{where}: `{text}` exited with {result.status}, not {expected_status}:\n{result.output}"
        )
        expected = self.real(command.expected_output)
        assert self.matcher.matches(expected, result.output), (
            f"{where}: `{text}` printed\n{result.output}\nwhich does not match the page:\n{command.expected_output}"
        )


@pytest.mark.parametrize("session", SESSIONS, ids=[s.id for s in SESSIONS])
def test_docs_console_session_runs_as_shown(session: Session, tmp_path: Path) -> None:
    with ExitStack() as stack:
        runner = Runner(session, tmp_path, stack)
        for block in session.blocks:
            runner.run_block(block)


def test_docs_have_no_unchecked_shell_blocks() -> None:
    unchecked = [
        f"{page.relative_to(ROOT)}:{block.line} ({block.lang})"
        for page in _pages()
        for block in console_blocks(page.read_text())
        if block.lang in SHELL_LANGS
    ]
    assert unchecked == [], "write these as ```console sessions, or as tables or prose: " + ", ".join(unchecked)


def test_docs_have_console_sessions_on_every_system_page() -> None:
    pages = {session.page.name for session in SESSIONS}
    assert {"grite.md", "plasmite.md", "pom.md", "graveyar.md"} <= pages


def test_continues_always_follows_a_session_on_the_same_page() -> None:
    for page in _pages():
        blocks = [b for b in console_blocks(page.read_text()) if b.lang == "console"]
        if blocks and blocks[0].values("continues"):
            pytest.fail(f"{page.relative_to(ROOT)}:{blocks[0].line}: `continues` on the page's first session")


def test_only_pages_outside_the_site_are_left_to_other_checks() -> None:
    """The example plugin's README is not a docs page (mkdocs excludes it); `nox -s example` runs it."""
    config = (ROOT / "mkdocs.yml").read_text()
    assert "plugins/example/" in config.split("exclude_docs:", 1)[1].split("\n\n", 1)[0]
    noxfile = (ROOT / "noxfile.py").read_text()
    for step in ('"plugins"', '"hello", "greet"'):
        assert step in noxfile[noxfile.index("def example(") :], f"nox -s example no longer runs {step}"
