"""`lock_file_is_held`: the path-level probe behind `lock_is_held`, against real holder processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit_kernel.ipc import DaemonSpec, lock_is_held
from toolkit_kernel.ipc.daemon import lock_file_is_held
from toolkit_kernel.locks import FileLock

WORKER = Path(__file__).with_name("lock_worker.py")


@pytest.fixture
def hold(tmp_path: Path, wait_until: Callable[..., None]) -> Iterator[Callable[[Path, str], subprocess.Popen[bytes]]]:
    """Start `lock_worker.py hold` on a path (another process, as a running daemon would be)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(path: Path, mode: str) -> subprocess.Popen[bytes]:
        ready = tmp_path / f"ready-{len(started)}"
        proc = subprocess.Popen([sys.executable, str(WORKER), "hold", str(path), str(ready), "60", mode])
        started.append(proc)
        wait_until(ready.exists, what="the holder to take its lock")
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_missing_file_or_directory_is_not_held_and_nothing_is_created(tmp_path: Path) -> None:
    base = tmp_path / "probe"
    base.mkdir()
    assert not lock_file_is_held(base / "x.lock")
    assert not lock_file_is_held(base / "no" / "such" / "dir.lock")
    (base / "file").write_text("")
    assert not lock_file_is_held(base / "file" / "under-a-file.lock")
    assert sorted(p.name for p in base.iterdir()) == ["file"]


def test_exclusive_holder_in_another_process_until_it_dies(
    tmp_path: Path, hold: Callable[[Path, str], subprocess.Popen[bytes]], wait_until: Callable[..., None]
) -> None:
    path = tmp_path / "d.lock"
    path.write_text("")
    assert not lock_file_is_held(path)
    holder = hold(path, "exclusive")
    assert lock_file_is_held(path)
    assert lock_file_is_held(str(path))  # str paths too
    os.kill(holder.pid, signal.SIGKILL)  # the kernel drops a flock when its holder dies
    holder.wait()
    wait_until(lambda: not lock_file_is_held(path), what="the lock to be free after kill -9")


def test_a_shared_holder_is_not_a_daemon_and_probes_leave_no_lock_behind(
    tmp_path: Path, hold: Callable[[Path, str], subprocess.Popen[bytes]]
) -> None:
    path = tmp_path / "p.lock"
    path.write_text("")
    for _ in range(3):
        assert not lock_file_is_held(path)
    owner = FileLock(path)
    try:
        assert owner.acquire(blocking=False)  # the probes dropped their shared locks
    finally:
        owner.close()
    reader = hold(path, "shared")  # e.g. another probe in flight: shared locks do not exclude each other
    assert not lock_file_is_held(path)
    reader.kill()
    reader.wait()


def test_in_process_holder_on_another_descriptor_counts(tmp_path: Path) -> None:
    path = tmp_path / "own.lock"
    owner = FileLock(path)
    try:
        owner.acquire()
        assert lock_file_is_held(path)
        owner.release()
        assert not lock_file_is_held(path)
    finally:
        owner.close()


def test_lock_is_held_is_the_probe_on_the_spec_lock_path(
    tmp_path: Path, hold: Callable[[Path, str], subprocess.Popen[bytes]]
) -> None:
    spec = DaemonSpec(name="t", socket_path=tmp_path / "t.sock", lock_path=tmp_path / "sub" / "t.lock", argv=["true"])
    assert not lock_is_held(spec)
    assert not (tmp_path / "sub").exists()  # probing creates no directory or file
    spec.lock_path.parent.mkdir()
    hold(spec.lock_path, "exclusive")
    assert lock_is_held(spec)
