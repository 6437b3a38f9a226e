"""HTTP API with /health and /version backed by the db (example only)."""

from __future__ import annotations

import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def db_get(key: str) -> str:
    """Read one key from the example db."""
    with socket.create_connection(("127.0.0.1", int(os.environ["DB_PORT"])), timeout=2) as conn:
        conn.sendall(f"GET {key}\n".encode())
        return conn.makefile().readline().strip()


class Handler(BaseHTTPRequestHandler):
    """Serves /health and /version."""

    def do_GET(self) -> None:
        """Answer a GET."""
        if self.path == "/health":
            body = {"ok": True}
        elif self.path == "/version":
            body = {"schema_version": db_get("schema_version")}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        """Log requests to stdout (so pom stores them as stdout lines)."""
        print("api: " + fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ["API_PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"api: serving on http://127.0.0.1:{port} (schema {db_get('schema_version')})", flush=True)
    server.serve_forever()
