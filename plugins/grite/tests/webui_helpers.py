"""Start `grite webui` as a real subprocess and wait for the URL it prints."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grite_testutil import GRITE

STARTUP_DEADLINE = 120.0  # generous: the machine is shared and loaded


@contextmanager
def webui(repo: Path, *args: str) -> Iterator[str]:
    """Run `grite webui --json ARGS` in `repo`; yield its base URL; stop it (SIGTERM) afterwards."""
    with subprocess.Popen(
        [*GRITE, "webui", "--json", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    ) as proc:
        yield from _serving(proc)


def _serving(proc: subprocess.Popen[str]) -> Iterator[str]:
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + STARTUP_DEADLINE
            while not sel.select(timeout=1.0):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "grite webui printed no URL"
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        yield str(json.loads(line)["data"]["url"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
