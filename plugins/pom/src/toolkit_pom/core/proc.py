"""Spawning children in their own process group, waiting for them, and killing whole trees.

Children are spawned without Python code between fork and exec (no `preexec_fn`), so CPython
uses vfork: cheap for a big interpreter, and safe while other threads hold locks. The watchdog
process (`_watchdog.py`) keeps children from outliving pom, even when pom dies by SIGKILL: when
its pipe from pom closes it SIGTERMs, then SIGKILLs, every registered process group and every
process whose environment carries this pom's `POM_INSTANCE` marker (`instance_marker`) -- which
also covers a child spawned but not yet registered, and descendants that left their group.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # asyncio is imported where it is used: `prestart` spawns before pom imports it
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "Watchdog",
    "adopted_children",
    "become_subreaper",
    "group_alive",
    "group_members",
    "instance_marker",
    "kill_group",
    "spawn",
    "spawn_off_loop",
    "wait_exit",
]

_PR_SET_CHILD_SUBREAPER = 36
#: Children pom started itself (their exit is awaited by whoever spawned them).
_OWN_CHILDREN: set[int] = set()
#: Spawns between fork and their `_OWN_CHILDREN` entry (worker threads): no child is "adopted" then.
_in_flight = 0
_in_flight_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None
_libc: ctypes.CDLL | None = None


def _prctl() -> Callable[..., int] | None:
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fn: Callable[..., int] = _libc.prctl
    return fn


def instance_marker() -> str:
    """The `POM_INSTANCE=` prefix every descendant of this pom carries in its environment."""
    return f"POM_INSTANCE={os.getpid()}/"


def become_subreaper() -> bool:
    """Make orphaned descendants (e.g. a child that forked and called setsid) re-parent to pom.

    Returns False where the kernel has no child subreapers (then only process groups are tracked).
    """
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def adopted_children() -> list[int]:
    """Pids of this process's children that pom did not spawn: orphans it adopted as subreaper."""
    me = str(os.getpid())
    try:
        with open(f"/proc/{me}/task/{me}/children") as fh:
            direct = {int(p) for p in fh.read().split()}
        for task in os.listdir(f"/proc/{me}/task"):
            if task != me:
                with contextlib.suppress(OSError), open(f"/proc/{me}/task/{task}/children") as fh:
                    direct |= {int(p) for p in fh.read().split()}
    except OSError:
        return []
    if _in_flight:  # a child forked by a spawner thread may not be in _OWN_CHILDREN yet
        return []
    return sorted(direct - _OWN_CHILDREN)


def reap(pid: int) -> bool:
    """Collect an adopted orphan's exit status if it has exited; True when it is gone."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], tty: bool = False
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start `argv` as leader of a new process group with stdin from /dev/null.

    With `tty`, the child instead gets a new session whose controlling terminal is a fresh
    pseudo-terminal (stdin, stdout and stderr), and the first fd returned is its master side
    (read the output, write the input); the second is then -1.

    Returns:
        The Popen, and the read ends of its stdout and stderr pipes (caller owns them).

    Raises:
        OSError: the program could not be started (not found, not executable, bad cwd).
    """
    global _in_flight
    with _in_flight_lock:
        _in_flight += 1
    try:
        proc, out_r, err_r = _popen_tty(argv, cwd, env) if tty else _popen(argv, cwd, env)
        _OWN_CHILDREN.add(proc.pid)
    finally:
        with _in_flight_lock:
            _in_flight -= 1
    return proc, out_r, err_r


def _popen_tty(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int, int]:
    import shutil  # here: only terminals need it, and `pom up` starts its processes before the rest imports

    setsid = shutil.which("setsid")
    if setsid is not None:
        # util-linux `setsid --ctty`: a new session whose controlling terminal is stdin (the
        # slave), then exec -- same pid. It reports a missing program only by its exit code, so
        # look the program up first and fail like Popen does.
        _check_program(argv[0], cwd, env)
        argv = [setsid, "--ctty", "--", *argv]
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=slave, stdout=slave, stderr=slave,
            start_new_session=setsid is None, preexec_fn=None if setsid else _take_ctty, close_fds=True,  # noqa: PLW1509
        )  # fmt: skip
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return proc, master, -1


def _take_ctty() -> None:  # pragma: no cover - only without util-linux setsid (not Linux)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin (the slave) becomes the controlling terminal


def _check_program(program: str, cwd: Path, env: Mapping[str, str]) -> None:
    """Raise FileNotFoundError/PermissionError as Popen would when `program` cannot be executed."""
    import shutil

    path = os.path.join(cwd, program) if "/" in program else shutil.which(program, path=env.get("PATH", os.defpath))
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if not os.access(path, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)


def _popen(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int, int]:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            process_group=0,  # allowed with vfork (no preexec_fn, no uid/gid changes)
            close_fds=True,
        )
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return proc, out_r, err_r


async def spawn_off_loop(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], tty: bool = False
) -> tuple[subprocess.Popen[bytes], int, int]:
    """`spawn` on a spawner thread, so the loop runs (and other spawns proceed) meanwhile.

    `Popen` blocks until the child has exec'd (and builds its environment and argv first).
    A cancelled caller does not leak the child: it is killed and reaped.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    global _spawner
    if _spawner is None:
        _spawner = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pom-spawn")
    future = asyncio.get_running_loop().run_in_executor(_spawner, lambda: spawn(argv, cwd=cwd, env=env, tty=tty))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            proc, out_r, err_r = await future
            kill_group(proc.pid, signal.SIGKILL)
            for fd in (out_r, err_r):
                if fd >= 0:
                    os.close(fd)
            await wait_exit(proc)
        raise


async def wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """Wait without blocking the loop until `proc` exits; return its code (negative = signal)."""
    try:
        return await _wait_exit(proc)
    finally:
        if proc.returncode is not None:
            _OWN_CHILDREN.discard(proc.pid)


async def _wait_exit(proc: subprocess.Popen[bytes]) -> int:
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(proc.pid)
    except (OSError, AttributeError):
        while proc.poll() is None:
            await asyncio.sleep(0.05)
        return int(proc.returncode)
    done: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, ready)
    try:
        while proc.poll() is None:
            await done
            done = loop.create_future()
            if proc.poll() is None:  # spurious wake-up
                loop.remove_reader(fd)
                loop.add_reader(fd, ready)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return int(proc.returncode)


def kill_group(pgid: int, sig: int) -> bool:
    """Send `sig` to process group `pgid`; return False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Return the pids of group `pgid` that are not zombies (read from /proc)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def group_alive(pgid: int) -> bool:
    """Return True while any live (non-zombie) process of group `pgid` exists.

    Zombies are ignored: an orphan's zombie lingers until init reaps it, which some
    container inits do slowly, and a zombie holds no resources.
    """
    if not kill_group(pgid, 0):
        return False
    if not sys.platform.startswith("linux"):
        return True
    return bool(group_members(pgid))


class Watchdog:
    """The supervisor's end of the orphan watchdog (see `_watchdog.py`)."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("_watchdog.py")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(script), instance_marker()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        assert self.proc.stdin is not None
        self._fd = self.proc.stdin.fileno()
        _OWN_CHILDREN.add(self.proc.pid)

    @property
    def pid(self) -> int:
        """The watchdog's pid."""
        return self.proc.pid

    def _send(self, line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._fd, line.encode())

    def register(self, pgid: int) -> None:
        """Track a new process group."""
        self._send(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        """Forget a group that is gone."""
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        """Close the pipe (the watchdog cleans up what is left and exits) and reap it."""
        self._send(".\n")  # a clean shutdown: nothing is mid-spawn
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
