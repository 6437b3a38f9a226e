"""`graveyar scavenge`: remove deleted, truncated and expired events from the server's store for good."""

from __future__ import annotations

import json
from typing import Any

import click

from toolkit.cliutil import emit
from toolkit_graveyar.cli.common import client_from
from toolkit_graveyar.core.errors import StorageFailure

__all__ = ["scavenge"]


def _report_line(r: dict[str, Any]) -> str:
    return (
        f"scavenge {r['scavengeId']}: {r['result']}, {r['streamsScanned']} streams scanned, "
        f"{r['eventsRemoved']} events ({r['bytesRemoved']} bytes) removed" + (f", {r['error']}" if r["error"] else "")
    )


@click.command()
@click.option("--wait", is_flag=True, help="Wait for the scavenge to finish and print what it removed.")
@click.option("--stop", "stop_id", metavar="ID", help="Stop the running scavenge with this id instead.")
@click.pass_context
def scavenge(ctx: click.Context, wait: bool, stop_id: str | None) -> None:
    """Start a scavenge (or join the one running): events no read can return any more are removed.

    That is every event of deleted and tombstoned streams and those below a stream's truncate
    point, beyond its max count or older than its max age. The outcome is also written to the
    stream `$scavenges-<id>`.
    """
    from toolkit_graveyar.core.scavenge import COMPLETED_TYPE, scavenge_stream_name

    with client_from(ctx) as client:
        if stop_id is not None:
            stopped = client.stop_scavenge(stop_id)
            emit({"scavenge_id": stopped, "result": "Stopped"}, f"scavenge {stopped}: stopping")
            return
        scavenge_id, started = client.start_scavenge()
        if not wait:
            state = "started" if started else "already running"
            emit({"scavenge_id": scavenge_id, "started": started}, f"scavenge {scavenge_id}: {state}")
            return
        for msg in client.subscribe(scavenge_stream_name(scavenge_id)):
            if msg.event is not None and msg.event.event_type == COMPLETED_TYPE:
                report: dict[str, Any] = json.loads(msg.event.data)
                break
        else:  # the server ended the subscription without an outcome
            raise StorageFailure(f"scavenge {scavenge_id} ended without reporting its outcome")
    emit(report, _report_line)
    if report["result"] == "Failed":
        raise StorageFailure(f"scavenge {scavenge_id} failed: {report['error']}")
