from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit_pom.testing import RunningPom, wait_for


@pytest.fixture
def start_pom(tmp_path: Path) -> Iterator[Callable[..., RunningPom]]:
    started: list[RunningPom] = []

    def start(config: Path, *args: str, http: bool = False) -> RunningPom:
        out = tmp_path / f"pom-{len(started)}.out"
        argv = [sys.executable, "-m", "toolkit_pom", "up", "--headless", "-f", str(config)]
        argv += ["--http", "127.0.0.1:0"] if http else ["--no-http"]
        with open(out, "wb") as fh:
            proc = subprocess.Popen([*argv, *args], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        pom = RunningPom(config, proc, out)
        started.append(pom)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"pom exited early ({proc.returncode}):\n{pom.output()}")
            try:
                return bool(pom.call("info"))
            except Exception:
                return False

        wait_for(ready, 30, what="pom to answer")
        return pom

    yield start
    for pom in started:
        pom.client.close()
        if pom.proc.poll() is None:
            pom.proc.send_signal(signal.SIGTERM)
            try:
                pom.proc.wait(30)
            except subprocess.TimeoutExpired:
                pom.proc.kill()
                pom.proc.wait()
