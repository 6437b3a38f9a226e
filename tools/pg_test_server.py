"""Throwaway PostgreSQL servers for graveyar's tests and benchmarks (stdlib only).

    python tools/pg_test_server.py --ensure     # install PostgreSQL with apt if initdb is missing
    python tools/pg_test_server.py --run        # start one, print its DSN, stop on Ctrl-C

`start_server()` runs initdb in a fresh temp dir and starts postgres on 127.0.0.1 with a free
port and a unix socket in that dir. As root (initdb refuses root) both run as the `postgres`
OS user through runuser. `PgServer.stop()` stops it and removes the dir.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PgServer", "ensure_installed", "find_bin_dir", "start_server"]


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb, or the directory of initdb on PATH."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if cands:
        return Path(cands[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def ensure_installed() -> Path:
    """Return the PostgreSQL bin dir, installing the Debian package first when it is missing (root only)."""
    bin_dir = find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0:
        raise SystemExit("PostgreSQL is not installed and we are not root: apt-get install postgresql")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True, env=env)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("apt-get installed postgresql but initdb is still missing")
    return bin_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_db_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@dataclass
class PgServer:
    """A running throwaway server."""

    root: Path
    port: int
    bin_dir: Path
    opts: str = ""

    @property
    def dsn(self) -> str:
        """DSN of the `postgres` database over TCP on loopback."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        """DSN of another database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def pause(self) -> None:
        """Stop the server (fast mode) but keep its data, to start it again with `resume` (fault tests)."""
        subprocess.run(
            _as_db_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"]),
            check=True,
            capture_output=True,
        )

    def resume(self) -> None:
        """Start a paused server again on the same port."""
        data, log = str(self.root / "data"), str(self.root / "log")
        subprocess.run(
            _as_db_user([str(self.bin_dir / "pg_ctl"), "-D", data, "-o", self.opts, "-l", log, "-w", "start"]),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop the server (fast mode) and delete its directory."""
        subprocess.run(
            _as_db_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(*, fsync: bool = True, bin_dir: Path | None = None) -> PgServer:
    """initdb + start a server on 127.0.0.1:<free port>; raise RuntimeError with the log on failure."""
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found; run `python tools/pg_test_server.py --ensure`")
    root = Path(tempfile.mkdtemp(prefix="graveyar-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    init = subprocess.run(
        _as_db_user(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stdout}\n{init.stderr}")
    last_err = ""
    for _ in range(5):
        port = _free_port()
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync={'on' if fsync else 'off'} "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        run = subprocess.run(
            _as_db_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    opts,
                    "-l",
                    str(root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode == 0:
            return PgServer(root, port, bin_dir, opts)
        last_err = (
            run.stdout + run.stderr + (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        )
        time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"postgres did not start: {last_err}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="install PostgreSQL if initdb is missing")
    parser.add_argument("--run", action="store_true", help="start a server, print its DSN, wait for Ctrl-C")
    ns = parser.parse_args()
    if ns.ensure:
        print(ensure_installed())
    if ns.run:
        server = start_server()
        print(server.dsn, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
