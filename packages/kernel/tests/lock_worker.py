"""Worker process for lock and lease contention tests.

    python lock_worker.py flock PATH LOG ROUNDS HOLD_S [shared|exclusive] [TIMEOUT_S|none]
    python lock_worker.py lease DIR LOG ROUNDS HOLD_S OWNER TTL_S
    python lock_worker.py hold PATH READY_FILE SECONDS [shared|exclusive]

Every holding appends one line `kind pid enter_ns exit_ns` (CLOCK_MONOTONIC is system-wide)
to LOG with a single O_APPEND write.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from toolkit_kernel.locks import FileLeaseStore, FileLock, LeaseManager


def _record(log: int, kind: str, enter: int, leave: int) -> None:
    os.write(log, f"{kind} {os.getpid()} {enter} {leave}\n".encode())


def flock_loop(path: str, log_path: str, rounds: int, hold: float, mode: str, timeout: str) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    lock = FileLock(path, shared=mode == "shared", timeout=None if timeout == "none" else float(timeout))
    for _ in range(rounds):
        with lock:
            enter = time.monotonic_ns()
            time.sleep(hold)
            leave = time.monotonic_ns()
        _record(log, mode, enter, leave)


def lease_loop(directory: str, log_path: str, rounds: int, hold: float, owner: str, ttl: float) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    leases = LeaseManager(FileLeaseStore(directory))
    held = 0
    while held < rounds:
        lease = leases.try_acquire("shared resource", owner, ttl)
        if lease is None:
            time.sleep(0.001)
            continue
        enter = time.monotonic_ns()
        time.sleep(hold)
        leave = time.monotonic_ns()
        assert leases.release(lease), "lost a lease we held"
        _record(log, owner, enter, leave)
        held += 1


def hold(path: str, ready: str, seconds: float, mode: str) -> None:
    with FileLock(path, shared=mode == "shared"):
        Path(ready).write_text(str(os.getpid()))
        time.sleep(seconds)


def main(argv: list[str]) -> None:
    cmd, *args = argv
    if cmd == "flock":
        flock_loop(args[0], args[1], int(args[2]), float(args[3]), args[4], args[5])
    elif cmd == "lease":
        lease_loop(args[0], args[1], int(args[2]), float(args[3]), args[4], float(args[5]))
    elif cmd == "hold":
        hold(args[0], args[1], float(args[2]), args[3])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
