"""One bash process that runs documented commands one at a time, as a reader would type them.

`cd`, `export` and variables persist from one command to the next, because every command runs in
the same shell (inside `{ ...; }`, never a subshell). Each command's stdin is /dev/null (it cannot
swallow the commands that follow), its stdout and stderr go to one file, in order, as a terminal
would show them; its exit status is restored after the bookkeeping, so a following `echo $?`
prints it. A command that runs until interrupted (`follow`, `subscribe`) is started as a job of
its own (`set -m`: its own process group) and later interrupted with SIGINT, as Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["Background", "Finished", "ShellError", "ShellSession"]

_MARK = "__toolkit_docs_mark__"


class ShellError(Exception):
    """The shell did not answer in time or died (an unterminated quote, a command that hangs)."""


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end."""

    status: int
    output: str


@dataclass(frozen=True)
class Background:
    """A command left running in its own process group."""

    pgid: int
    #: stdout and stderr, in order
    output: Path

    def printed(self) -> str:
        """Return what it printed so far (nothing, before its shell opened the file)."""
        try:
            return self.output.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        """Return True while its process group leader has not exited (a zombie counts as exited)."""
        try:
            state = Path(f"/proc/{self.pgid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")


class ShellSession:
    """Run commands in one bash process started in `cwd` with `env`.

    Args:
        cwd: The session's starting directory.
        env: Its complete environment.
        scratch: An empty directory outside `cwd` for the commands' captured output.
        timeout: Seconds any one command may take before the session fails.
    """

    def __init__(self, cwd: Path, env: dict[str, str], scratch: Path, *, timeout: float = 180.0) -> None:
        self.cwd = cwd
        self.timeout = timeout
        self._scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._buffer = b""
        with (scratch / "shell.log").open("wb") as log:  # bash's own complaints, for post-mortems
            self._proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc"],
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self._send("set -m\n")  # each job its own process group, so an interrupt reaches all of it

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _send(self, script: str) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(script.encode())
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise ShellError(f"the shell exited with {self._proc.poll()}") from exc

    def _await_mark(self, what: str) -> str:
        """Read the shell's stdout (only our marks go there) up to the next mark; return its value."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer.partition(_MARK.encode())[2]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ShellError(f"{what} did not finish within {self.timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise ShellError(f"the shell exited with {self._proc.wait()} during {what}")
                self._buffer += chunk
        _, _, rest = self._buffer.partition(_MARK.encode())
        value, _, self._buffer = rest.partition(b"\n")
        return value.decode().strip()

    def run(self, command: str) -> Finished:
        """Run `command` to its end in the session; return its status and combined output."""
        self._count += 1
        out = self._scratch / f"{self._count}.out"
        self._send(
            f"{{ {command}\n}} </dev/null >{shlex.quote(str(out))} 2>&1\n"
            f'__status=$?; printf \'\\n{_MARK} %s\\n\' "$__status"; (exit "$__status")\n'
        )
        status = int(self._await_mark(f"`{command}`"))
        return Finished(status, out.read_text(errors="replace"))

    def start(self, command: str) -> Background:
        """Start `command` as a job of its own and return at once."""
        self._count += 1
        out = self._scratch / f"{self._count}.out"
        self._send(f"{{ {command}\n}} </dev/null >{shlex.quote(str(out))} 2>&1 &\nprintf '\\n{_MARK} %s\\n' \"$!\"\n")
        return Background(int(self._await_mark(f"starting `{command}`")), out)

    def interrupt(self, job: Background) -> None:
        """Send SIGINT to the job's process group (Ctrl-C); SIGKILL what is left once it ended or timed out."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pgid, signal.SIGINT)
        deadline = time.monotonic() + self.timeout
        while job.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pgid, signal.SIGKILL)
        self._send(f"wait {job.pgid} 2>/dev/null; printf '\\n{_MARK} %s\\n' \"$?\"\n")
        self._await_mark("the interrupted job")

    def close(self) -> None:
        """End the shell and every job still running in it."""
        if self._proc.poll() is None:
            try:
                self._send("kill -KILL $(jobs -p) 2>/dev/null; exit 0\n")
                self._proc.wait(timeout=30)
            except (ShellError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
