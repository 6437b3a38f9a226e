"""`grite daemon start|status|stop`."""

from __future__ import annotations

import socket
import time
from typing import Any

import click

from toolkit_grite.cli.base import GriteGroup, common_options, output

__all__ = ["register"]

LEASE_MS = 30_000


def _status_dict(spec: Any) -> dict[str, Any]:
    from toolkit_kernel.ipc import daemon_status

    st = daemon_status(spec)
    data: dict[str, Any] = {"running": st.running, "state": st.state, "socket": st.socket}
    if st.pid is not None:
        data["pid"] = st.pid
        # 0.5.3's keys: its lease is the heartbeat plus 30 s; ours is "the daemon answers".
        expires = (st.heartbeat_at or 0) + LEASE_MS
        data.update(
            host_id=socket.gethostname(),
            ipc_endpoint=st.socket,
            started_ts=st.started_at,
            expires_ts=expires,
            expired=not st.running,
            time_remaining_ms=max(0, expires - int(time.time() * 1000)) if st.running else 0,
        )
    if st.running:
        data["idle_timeout"] = st.info.get("idle_timeout")
        data["requests"] = st.info.get("requests")
    return data


def register(group: click.Group) -> None:
    """Add the `daemon` group."""

    @group.group("daemon", cls=GriteGroup)
    @common_options
    def daemon() -> None:
        """The per-repository daemon (auto-started by the `grite` command)."""

    @daemon.command("start")
    @click.option(
        "--idle-timeout", default=300.0, show_default=True, type=float, help="Seconds idle before exit; 0 never."
    )
    @common_options
    def start(idle_timeout: float) -> None:
        """Start the daemon (no-op when it runs)."""
        from toolkit_grite.core.repo import discover
        from toolkit_grite.daemon.client import spec_for
        from toolkit_kernel.ipc import connect_or_spawn, daemon_status

        paths = discover()
        paths.grite_dir.mkdir(parents=True, exist_ok=True)
        spec = spec_for(paths.common_dir, idle_timeout=idle_timeout)
        already = daemon_status(spec).running
        connect_or_spawn(spec).close()
        data = _status_dict(spec)
        # 0.5.3's keys: whether this call started it, where it listens, its idle timeout.
        data.update(started=not already, endpoint=data["socket"], idle_timeout_secs=idle_timeout)
        if already:
            data["reason"] = "Daemon already running"
        output(data, lambda d: f"daemon running (pid {d.get('pid')})")

    @daemon.command("status")
    @common_options
    def status() -> None:
        """Report whether the daemon runs."""
        from toolkit_grite.core.repo import discover
        from toolkit_grite.daemon.client import spec_for

        output(
            _status_dict(spec_for(discover().common_dir)),
            lambda d: f"daemon {d['state']}" + (f" (pid {d['pid']})" if "pid" in d else ""),
        )

    @daemon.command("stop")
    @common_options
    def stop() -> None:
        """Stop the daemon."""
        from toolkit_grite.core.repo import discover
        from toolkit_grite.daemon.client import spec_for
        from toolkit_kernel.ipc import stop_daemon

        stopped = stop_daemon(spec_for(discover().common_dir))
        data: dict[str, Any] = {"stopped": stopped}
        if not stopped:
            data["reason"] = "Daemon not running"  # 0.5.3's wording
        output(data, lambda d: "daemon stopped" if d["stopped"] else "daemon was not running")
