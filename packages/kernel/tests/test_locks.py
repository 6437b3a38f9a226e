"""FileLock with real contending processes."""

from __future__ import annotations

import fcntl
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit_kernel.errors import IoFailure, LockTimeout, UsageError
from toolkit_kernel.locks import FileLock

WORKER = Path(__file__).with_name("lock_worker.py")


def read_intervals(log: Path) -> list[tuple[str, int, int, int]]:
    rows = []
    for line in log.read_text().splitlines():
        kind, pid, enter, leave = line.split()
        rows.append((kind, int(pid), int(enter), int(leave)))
    return rows


def overlapping(a, b) -> bool:
    return bool(a[2] < b[3] and b[2] < a[3])


def run_workers(commands: list[list[str]]) -> None:
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), *cmd], stderr=subprocess.PIPE, text=True) for cmd in commands
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def start_holder(tmp_path: Path, path: Path, seconds: float, mode: str, wait_until) -> subprocess.Popen[bytes]:
    ready = tmp_path / f"ready-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, str(WORKER), "hold", str(path), str(ready), str(seconds), mode])
    wait_until(ready.exists, what="holder to take the lock")
    return proc


@pytest.mark.slow
def test_exclusive_intervals_never_overlap(tmp_path):
    path, log = tmp_path / "x.lock", tmp_path / "log"
    # half the workers wait in flock(2) itself, half poll with a timeout
    commands = [["flock", str(path), str(log), "15", "0.002", "exclusive", "none" if i % 2 else "60"] for i in range(6)]
    run_workers(commands)
    rows = sorted(read_intervals(log), key=lambda r: r[2])
    assert len(rows) == 90
    assert len({r[1] for r in rows}) == 6
    for prev, cur in itertools.pairwise(rows):
        assert prev[3] <= cur[2], f"overlap: {prev} {cur}"


@pytest.mark.slow
def test_shared_holders_coexist_and_exclude_writers(tmp_path):
    path, log = tmp_path / "rw.lock", tmp_path / "log"
    commands = [["flock", str(path), str(log), "10", "0.01", "shared", "none"] for _ in range(3)]
    commands += [["flock", str(path), str(log), "10", "0.003", "exclusive", "30"] for _ in range(2)]
    run_workers(commands)
    rows = read_intervals(log)
    assert len(rows) == 50
    exclusive = [r for r in rows if r[0] == "exclusive"]
    for ex in exclusive:
        for other in rows:
            if other is not ex:
                assert not overlapping(ex, other), f"exclusive {ex} overlaps {other}"


@pytest.mark.slow
def test_shared_lock_held_elsewhere(tmp_path, wait_until):
    path = tmp_path / "s.lock"
    holder = start_holder(tmp_path, path, 30, "shared", wait_until)
    try:
        reader = FileLock(path, shared=True)
        assert reader.acquire(blocking=False)
        writer = FileLock(path)
        assert writer.acquire(blocking=False) is False
        started = time.monotonic()
        with pytest.raises(LockTimeout) as info:
            writer.acquire(timeout=0.3)
        assert time.monotonic() - started >= 0.3
        assert info.value.details["timeout_s"] == 0.3
        assert "exclusive" in info.value.message
        reader.release()
    finally:
        holder.kill()
        holder.wait()
    assert writer.acquire(timeout=10)  # the killed holder's lock is gone
    writer.close()
    reader.close()


@pytest.mark.slow
def test_timeout_and_non_blocking(tmp_path, wait_until):
    path = tmp_path / "t.lock"
    holder = start_holder(tmp_path, path, 30, "exclusive", wait_until)
    try:
        lock = FileLock(path, timeout=0.2)
        assert lock.acquire(blocking=False) is False
        assert not lock.locked
        with pytest.raises(LockTimeout):
            lock.acquire()
        with pytest.raises(LockTimeout):
            lock.acquire(timeout=0)
        with pytest.raises(LockTimeout), FileLock(path, timeout=0.1):
            pass
        shared = FileLock(path, shared=True)
        assert shared.acquire(blocking=False) is False
    finally:
        holder.kill()
        holder.wait()
    assert lock.acquire(timeout=10)
    lock.close()


def test_context_manager_and_state(tmp_path):
    path = tmp_path / "c.lock"
    lock = FileLock(path)
    other = FileLock(path)
    with lock as held:
        assert held is lock
        assert lock.locked
        assert other.acquire(blocking=False) is False  # same process, other description: still excluded
        with pytest.raises(UsageError, match="already held"):
            lock.acquire()
    assert not lock.locked
    fd = lock._fd
    assert fd is not None
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert lock.acquire()
    assert lock._fd == fd  # kept open across release/acquire
    lock.release()
    lock.release()  # no-op
    assert other.acquire(blocking=False)
    other.close()
    lock.close()
    assert lock._fd is None
    assert "exclusive" in repr(lock)


def test_missing_directory_is_io_failure(tmp_path):
    with pytest.raises(IoFailure, match="cannot open lock file") as info:
        FileLock(tmp_path / "nope" / "x.lock").acquire()
    assert info.value.hint


@pytest.mark.slow
def test_exec_child_does_not_inherit_lock(tmp_path):
    path = tmp_path / "e.lock"
    lock = FileLock(path)
    lock.acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], close_fds=False)
    try:
        lock.close()
        probe = FileLock(path)
        # Linux resumes a vfork parent just before exec closes O_CLOEXEC descriptors, so allow a
        # moment; a child that inherited the lock would keep it for 30 s.
        try:
            probe.acquire(timeout=5)
        except LockTimeout:
            pytest.fail("the exec'd child kept the lock")
        probe.close()
    finally:
        child.kill()
        child.wait()


def test_forked_child_neither_holds_nor_releases_parent_lock(tmp_path):
    path = tmp_path / "f.lock"
    lock = FileLock(path)
    lock.acquire()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            if lock.locked:
                code = 10
            lock.release()  # must not drop the parent's lock
            if lock.acquire(blocking=False):  # the parent still holds it
                code = 11
        except BaseException:
            code = 12
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lock.locked
    probe = FileLock(path)
    assert probe.acquire(blocking=False) is False, "the child released the parent's lock"
    lock.release()
    assert probe.acquire(blocking=False)
    probe.close()
    lock.close()
