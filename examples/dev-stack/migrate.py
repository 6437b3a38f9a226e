"""One-shot migration: writes the schema version into the db (example only)."""

from __future__ import annotations

import os
import socket

port = int(os.environ["DB_PORT"])
with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
    conn.sendall(b"SET schema_version 3\n")
    reply = conn.makefile().readline().strip()
if reply != "OK":
    raise SystemExit(f"migrate: db said {reply!r}")
print("migrate: schema at version 3", flush=True)
