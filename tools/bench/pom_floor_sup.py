"""The least a Python supervisor can do to start N processes and report them ready.

Bench workload for tools/bench/pom_floor.py, not a product: it spawns N copies of a shell
command (process group of their own, output on pipes, as pom does), counts the processes that
printed a line `ready`, and answers every connection on a Unix socket with that count. No
config, log store, probes, control protocol, watchdog or subreaper: what it costs is the floor
under any Python supervisor that does this work.

Usage: python pom_floor_sup.py asyncio|selectors SOCKET N COMMAND

`asyncio` spawns first and then imports asyncio without `ssl` (as `pom up` does, see
`toolkit_pom.core.lazyssl`); `selectors` never imports asyncio.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def _spawn(n: int, command: str) -> list[int]:
    """Start `n` copies of `command`; return the read ends of their stdout pipes."""
    fds = []
    for _ in range(n):
        read, write = os.pipe()
        subprocess.Popen(
            ["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=write, process_group=0, close_fds=True
        )
        os.close(write)
        os.set_blocking(read, False)
        fds.append(read)
    return fds


class _Counter:
    """Processes whose output had a `ready` line so far."""

    def __init__(self) -> None:
        self.ready: set[int] = set()
        self.tails: dict[int, bytes] = {}

    def feed(self, fd: int) -> bool:
        """Read what `fd` has; False at end of output."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        lines = (self.tails.get(fd, b"") + data).split(b"\n")
        self.tails[fd] = lines.pop()
        if b"ready" in lines:
            self.ready.add(fd)
        return True


def _listen(path: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(100)
    server.setblocking(False)
    return server


def run_selectors(path: str, fds: list[int]) -> None:
    """Serve the count and read the pipes with a plain selector loop."""
    import selectors

    counter = _Counter()
    sel = selectors.DefaultSelector()
    server = _listen(path)
    sel.register(server, selectors.EVENT_READ)
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    while True:
        for key, _mask in sel.select():
            if key.fileobj is server:
                conn, _ = server.accept()
                conn.sendall(b"%d\n" % len(counter.ready))
                conn.close()
            elif not counter.feed(int(key.fd)):
                sel.unregister(key.fd)


def run_asyncio(path: str, fds: list[int]) -> None:
    """Serve the count and read the pipes on an asyncio loop."""
    sys.modules["ssl"] = None  # type: ignore[assignment]  # asyncio as on a Python without ssl
    import asyncio

    del sys.modules["ssl"]

    counter = _Counter()

    async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"%d\n" % len(counter.ready))
        await writer.drain()
        writer.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def readable(fd: int) -> None:
            if not counter.feed(fd):
                loop.remove_reader(fd)

        for fd in fds:
            loop.add_reader(fd, readable, fd)
        server = await asyncio.start_unix_server(answer, sock=_listen(path))
        await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    mode, sock_path, count, cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pipes = _spawn(count, cmd)
    (run_asyncio if mode == "asyncio" else run_selectors)(sock_path, pipes)
