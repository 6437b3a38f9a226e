"""A tiny key/value store speaking `SET k v` / `GET k` lines over TCP (example only)."""

from __future__ import annotations

import os
import socketserver

DATA: dict[str, str] = {}


class Handler(socketserver.StreamRequestHandler):
    """One client connection: a command per line."""

    def handle(self) -> None:
        """Answer SET and GET lines until the client leaves."""
        for raw in self.rfile:
            parts = raw.decode().split(maxsplit=2)
            if len(parts) == 3 and parts[0] == "SET":
                DATA[parts[1]] = parts[2].strip()
                self.wfile.write(b"OK\n")
            elif len(parts) == 2 and parts[0] == "GET":
                self.wfile.write((DATA.get(parts[1], "") + "\n").encode())
            else:
                self.wfile.write(b"ERR unknown command\n")


if __name__ == "__main__":
    port = int(os.environ["DB_PORT"])
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler) as server:
        print(f"db: listening on 127.0.0.1:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("db: shutting down", flush=True)
