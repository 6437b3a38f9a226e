"""`graveyar scavenge`: remove deleted, truncated and expired events from the server's store for good."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from toolkit.cliutil import emit
from toolkit_graveyar.cli.common import client_from
from toolkit_graveyar.core.errors import StorageFailure

__all__ = ["compact", "scavenge"]


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


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    envvar=["GRAVEYAR_DATA_DIR", "DB_PATH"],
    show_envvar=True,
    help="LMDB directory (default: $TOOLKIT_HOME/graveyar).",
)
def compact(data_dir: Path | None) -> None:
    """Rewrite a stopped server's LMDB file without free pages: after a scavenge, the removed bytes leave the disk.

    LMDB reuses the pages a scavenge frees but keeps them, old bytes included, in its file until
    then. PostgreSQL needs no such step (VACUUM FULL is PostgreSQL's own).
    """
    from toolkit_graveyar.cli.serve import default_data_dir
    from toolkit_graveyar.storage.lmdb_store import compact as compact_lmdb

    directory = data_dir or default_data_dir()
    before, after = compact_lmdb(directory)
    emit(
        {"data_dir": str(directory), "bytes_before": before, "bytes_after": after},
        f"compacted {directory}: {before} -> {after} bytes",
    )
