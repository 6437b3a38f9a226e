"""`tap` core: run a command, record its lifecycle and every output line in a pool."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import IO

from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.errors import UsageError

__all__ = ["run_tap"]

_FORWARDED = (signal.SIGINT, signal.SIGTERM)


def _pump(
    pool: PoolFile,
    stream: IO[bytes],
    name: str,
    tags: list[str],
    sink: IO[bytes] | None,
    flush: bool,
    failures: list[BaseException],
) -> None:
    """Copy one output stream line by line into the pool (and to `sink`)."""
    try:
        for raw in iter(stream.readline, b""):
            if sink is not None:
                try:
                    sink.write(raw)
                    sink.flush()
                except (BrokenPipeError, ValueError, OSError):
                    sink = None
            body = raw.rstrip(b"\r\n")
            try:
                line = body.decode("utf-8")
                data: dict[str, object] = {"kind": "line", "stream": name, "line": line}
            except UnicodeDecodeError:
                data = {"kind": "line", "stream": name, "line": body.decode("utf-8", "replace"), "lossy": True}
            pool.append(pool.encode_payload(data, tags), flush)
    except BaseException as exc:  # surfaced by run_tap after the child ends
        failures.append(exc)
        for _ in iter(lambda: stream.read(65536), b""):
            pass  # keep draining so the child never blocks on a full pipe
    finally:
        stream.close()


def run_tap(
    pool: PoolFile,
    argv: Sequence[str],
    *,
    tags: Sequence[str] = (),
    quiet: bool = False,
    flush: bool = False,
    stdout_sink: IO[bytes] | None = None,
    stderr_sink: IO[bytes] | None = None,
) -> int:
    """Run `argv`, recording start/line/exit messages; return the exit status (128 + signal if killed).

    Raises:
        UsageError: the command cannot be started.
    """
    if not argv:
        raise UsageError("tap needs a command after --", hint="plasmite tap POOL -- make test")
    pool.append(pool.encode_payload({"kind": "start", "cmd": list(argv)}, ["lifecycle"]), flush)
    # Forwarding is set up before the child exists: a SIGTERM that arrives while the child starts
    # (its first line may already be in the pool) is held and passed on, never kills tap itself.
    children: list[subprocess.Popen[bytes]] = []
    held: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not children:
            held.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            children[0].send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    try:
        started = time.monotonic()
        try:
            child = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            pool.append(
                pool.encode_payload(
                    {"kind": "exit", "code": 127, "elapsed_ms": elapsed, "error": str(exc)}, ["lifecycle"]
                ),
                flush,
            )
            raise UsageError(
                f"cannot run {argv[0]!r}: {exc.strerror or exc}", hint="check the command and PATH"
            ) from None
        children.append(child)
        for signum in held:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)
        assert child.stdout is not None
        assert child.stderr is not None
        failures: list[BaseException] = []
        line_tags = list(tags)
        threads = [
            threading.Thread(
                target=_pump,
                args=(pool, child.stdout, "stdout", line_tags, None if quiet else stdout_sink, flush, failures),
                daemon=True,
            ),
            threading.Thread(
                target=_pump,
                args=(pool, child.stderr, "stderr", line_tags, None if quiet else stderr_sink, flush, failures),
                daemon=True,
            ),
        ]
        for t in threads:
            t.start()
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for t in threads:  # drain: every line is recorded before the exit message
        t.join()
    elapsed = int((time.monotonic() - started) * 1000)
    if status < 0:
        sig_name = signal.Signals(-status).name
        pool.append(
            pool.encode_payload({"kind": "exit", "signal": sig_name, "elapsed_ms": elapsed}, ["lifecycle"]), flush
        )
        code = 128 - status
    else:
        pool.append(pool.encode_payload({"kind": "exit", "code": status, "elapsed_ms": elapsed}, ["lifecycle"]), flush)
        code = status
    if failures:
        raise failures[0]
    return code
