"""The writer lock: plasmite's whole-file `flock`, tried a few times without blocking, then blocking."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

from toolkit_plasmite.core.lock import WriterLock

HOLDER = r"""
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(0.5)  # longer than the non-blocking attempts: the waiter must fall back to blocking
print("releasing", flush=True)
fcntl.flock(f, fcntl.LOCK_UN)
time.sleep(30)
"""

PROBE = r"""
import fcntl, sys
f = open(sys.argv[1], "rb")
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except BlockingIOError:
    print("busy")
"""


def test_a_waiter_gets_the_lock_only_after_another_process_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "pool"
    path.write_bytes(b"\0" * 4096)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    fd = os.open(path, os.O_RDWR)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lock = WriterLock(fd)
        lock.acquire()
        # The holder said "releasing" before it unlocked, so the line is already there.
        assert select.select([holder.stdout], [], [], 0)[0], "acquired while another process held the lock"
        assert holder.stdout.readline().strip() == "releasing"
        probe = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
        assert probe.stdout.strip() == "busy"  # and now we exclude the others
        lock.release()
        probe = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
        assert probe.stdout.strip() == "free"
    finally:
        os.close(fd)
        holder.kill()
        holder.communicate()
