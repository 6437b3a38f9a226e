"""pom's orphan watchdog, run as `python -I -S _watchdog.py` (stdlib only, no package imports).

stdin is a pipe whose write end only the supervisor holds. The supervisor writes `+PGID` when it
starts a process group and `-PGID` when that group is gone. When stdin reaches EOF -- the
supervisor exited, cleanly or by SIGKILL -- every group still registered gets SIGTERM, then
SIGKILL after a short grace, so no child or grandchild outlives pom.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

GRACE_SECONDS = 2.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies (waiting for a slow init to reap them) do not count.
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


def _signal_all(groups: set[int], sig: int) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def main() -> None:
    """Track groups from stdin; at EOF terminate every one still registered."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    buffer = b""
    while True:
        try:
            data = os.read(0, 4096)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data:
            break
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if len(line) < 2 or not line[1:].isdigit():
                continue
            pgid = int(line[1:])
            if line[:1] == b"+":
                groups.add(pgid)
            elif line[:1] == b"-":
                groups.discard(pgid)
    groups = {g for g in groups if g > 1 and _alive(g)}
    _signal_all(groups, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while groups and time.monotonic() < deadline:
        time.sleep(0.05)
        groups = {g for g in groups if _alive(g)}
    _signal_all(groups, signal.SIGKILL)


if __name__ == "__main__":
    main()
