"""The browser helper drives a real Chromium against a real loopback HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from toolkit.testing_browser import browser_page, chromium_executable

PAGE = b"""<!doctype html><html><body>
<p id="out">idle</p><button onclick="fetch('/ping').then(r => r.text()).then(t => {
document.getElementById('out').textContent = t; })">Ping</button></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE if self.path == "/" else b"pong"
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_is_found() -> None:
    assert chromium_executable()


def test_a_click_runs_the_page_script_against_the_server(server_url: str) -> None:
    with browser_page() as page:
        page.goto(server_url)
        assert page.locator("#out").text_content() == "idle"
        page.get_by_role("button", name="Ping").click()
        page.wait_for_function("document.getElementById('out').textContent === 'pong'")


def test_a_missing_browser_is_an_error_naming_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOOLKIT_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LookupError, match="ensure-system-deps"):
        chromium_executable()
