"""pom's orphan watchdog, run as `python -I -S _watchdog.py MARKER` (stdlib only, no package imports).

stdin is a pipe whose write end only the supervisor holds. The supervisor writes `+PGID` when it
starts a process group and `-PGID` when that group is gone, and `.` before it closes the pipe on
a clean shutdown (nothing is being spawned then: no need to look twice). When stdin reaches EOF -- the
supervisor exited, cleanly or by SIGKILL -- every group still registered, and every process whose
environment holds an entry starting with MARKER (`POM_INSTANCE=<pom pid>/`, inherited by every
descendant), gets SIGTERM, then SIGKILL after a short grace, so no child or grandchild outlives
pom. The marker covers what registration cannot: a child spawned in the instant before pom
registered its group, and descendants that left their group (`setsid`) before pom noticed them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
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


def _marked(marker: bytes) -> set[int]:
    """Pids of live processes (not zombies) whose environment has an entry starting with `marker`."""
    found: set[int] = set()
    if not marker:
        return found
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
            if not (environ.startswith(marker) or b"\0" + marker in environ):
                continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                if fh.read().rpartition(b")")[2].split()[:1] != [b"Z"]:
                    found.add(int(entry))
        except OSError:
            continue
    return found


def _signal_all(groups: set[int], pids: set[int], sig: int) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def main(argv: list[str]) -> None:
    """Track groups from stdin; at EOF terminate every one still registered, and every marked process."""
    marker = argv[1].encode() if len(argv) > 1 else b""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    rescans = 2  # a child vforked just before pom died execs (and shows the marker) a moment later
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
            if line == b".":
                rescans = 0
            if len(line) < 2 or not line[1:].isdigit():
                continue
            pgid = int(line[1:])
            if line[:1] == b"+":
                groups.add(pgid)
            elif line[:1] == b"-":
                groups.discard(pgid)
    groups = {g for g in groups if g > 1 and _alive(g)}
    pids = _marked(marker)
    _signal_all(groups, pids, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while (groups or pids or rescans) and time.monotonic() < deadline:
        time.sleep(0.05)
        rescans = max(0, rescans - 1)
        groups = {g for g in groups if _alive(g)}
        found = _marked(marker)
        _signal_all(set(), found - pids, signal.SIGTERM)
        pids = found
    _signal_all(groups, pids, signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv)
