"""Every toolkit server refuses what a hostile web page can send it, with and without a token.

A page in the user's browser can POST `text/plain` to any loopback port (CSRF) and, after DNS
rebinding, send any request with its own name in `Host`. Each server is started the way a user
starts it (its console script, a free loopback port) and sent exactly those requests over raw
HTTP/1.1; each must refuse them and change nothing, whether or not it requires a token.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from toolkit.testing import free_port, stop_process

BIN = Path(sys.executable).parent
TOKEN = "s3cret-token-for-tests"
EVIL = "http://evil.example"


@contextmanager
def _server(argv: list[str], port: int, workdir: Path, env: dict[str, str]) -> Iterator[None]:
    log = workdir / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"{argv[0]} exited with {proc.returncode}:\n{log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{argv[0]} never listened:\n{log.read_text()}"
                time.sleep(0.05)
        yield
    finally:
        stop_process(proc, timeout=20)


def _request(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """Send one raw HTTP/1.1 request (what a browser sends); a dropped connection is status 0."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    except (ConnectionError, http.client.HTTPException):
        return 0, b""
    finally:
        conn.close()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "POM_", "GRAVEYAR_", "PLASMITE_"))}
    env.update(TOOLKIT_HOME=str(tmp_path / "home"), TOOLKIT_RUNTIME_DIR=str(tmp_path / "run"), HOME=str(tmp_path))
    return env


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_plasmite_serve_refuses_foreign_host_and_cross_site_posts(tmp_path: Path, token: str | None) -> None:
    port, env = free_port(), _env(tmp_path)
    pools = tmp_path / "pools"
    argv = [str(BIN / "plasmite"), "--dir", str(pools), "serve", "--bind", f"127.0.0.1:{port}"]
    with _server([*argv, *(["--token", token] if token else [])], port, tmp_path, env):
        here = {"Host": f"127.0.0.1:{port}", **_auth(token)}
        create = b'{"pool": "victim"}'
        rebound, _ = _request(port, "POST", "/v0/pools", {**here, "Host": "evil.example"}, create)
        forged, _ = _request(port, "POST", "/v0/pools", {**here, "Origin": EVIL, "Content-Type": "text/plain"}, create)
        assert (rebound, forged) == (403, 403)
        listed, body = _request(port, "GET", "/v0/pools", here)
        assert listed == 200
        assert "victim" not in body.decode()  # nothing was created
        if token:
            assert _request(port, "GET", "/v0/pools", {"Host": here["Host"]})[0] == 401
        # The same request from the server's own origin works: it was refused for where it came from.
        same_site = {**here, "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
        assert _request(port, "POST", "/v0/pools", same_site, create)[0] in (200, 201)
        assert "victim" in _request(port, "GET", "/v0/pools", here)[1].decode()


def _wait_until_running(port: int, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        status, body = _request(port, "GET", "/processes/victim", headers)
        if status == 200 and json.loads(body)["state"] == "running":
            return
        assert time.monotonic() < deadline, f"victim never ran: {status} {body!r}"
        time.sleep(0.1)


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_pom_http_api_refuses_foreign_host_and_cross_site_posts(tmp_path: Path, token: str | None) -> None:
    port, env = free_port(), _env(tmp_path)
    (tmp_path / "pom.toml").write_text('[processes.victim]\ncommand = "sleep 600"\n')
    argv = [str(BIN / "pom"), "up", "--headless", "--http", f"127.0.0.1:{port}", "-f", str(tmp_path / "pom.toml")]
    with _server([*argv, *(["--token", token] if token else [])], port, tmp_path, env):
        here = {"Host": f"127.0.0.1:{port}", **_auth(token)}
        _wait_until_running(port, here)  # the API listens before the first start under load
        rebound, _ = _request(port, "POST", "/processes/victim/stop", {**here, "Host": "evil.example"})
        forged, _ = _request(
            port, "POST", "/processes/victim/stop", {**here, "Origin": EVIL, "Content-Type": "text/plain"}, b"x"
        )
        assert (rebound, forged) == (403, 403)
        status, body = _request(port, "GET", "/processes/victim", here)
        assert status == 200
        assert json.loads(body)["state"] not in ("stopping", "stopped")  # still running
        if token:
            assert _request(port, "GET", "/processes", {"Host": here["Host"]})[0] == 401
        same_site = {**here, "Origin": f"http://127.0.0.1:{port}"}
        assert _request(port, "POST", "/processes/victim/stop", same_site)[0] == 200


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_graveyar_refuses_what_a_browser_can_send(tmp_path: Path, token: str | None) -> None:
    """gRPC is HTTP/2 only: a page's HTTP/1.1 POST, however addressed, must append nothing."""
    port, env = free_port(), _env(tmp_path)
    argv = [str(BIN / "graveyar"), "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data")]
    with _server([*argv, *(["--token", token] if token else [])], port, tmp_path, env):
        here = {"Host": f"127.0.0.1:{port}", **_auth(token)}
        path = "/graveyar.v1.Graveyar/Append"
        for headers in (
            {**here, "Host": "evil.example", "Content-Type": "application/grpc"},
            {**here, "Origin": EVIL, "Content-Type": "text/plain"},
        ):
            status, _ = _request(port, "POST", path, headers, b"\x00\x00\x00\x00\x05hello")
            assert status not in range(200, 300)
        client_env = {**env, **({"GRAVEYAR_TOKEN": token} if token else {})}
        read = subprocess.run(
            [str(BIN / "graveyar"), "--server", f"127.0.0.1:{port}", "--json", "read-all"],
            env=client_env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert read.returncode == 0, read.stderr
        assert json.loads(read.stdout) == []  # nothing was appended


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_grite_webui_refuses_foreign_host_and_cross_site_posts(tmp_path: Path, token: str | None) -> None:
    port, env = free_port(), {**_env(tmp_path), "GRITE_NO_DAEMON": "1"}
    repo = tmp_path / "repo"
    repo.mkdir()
    for line in (["init", "-q"], ["config", "user.email", "t@example.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", *line], cwd=repo, env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "grite"), "init", "--no-agents-md"], cwd=repo, env=env, check=True, capture_output=True)
    argv = [str(BIN / "grite"), "webui", "--port", str(port)]
    if token:
        (tmp_path / "token").write_text(token)
        argv += ["--token-file", str(tmp_path / "token")]
    with _server(argv, port, repo, env):
        here = {"Host": f"127.0.0.1:{port}", **_auth(token)}
        create = b'{"title": "victim"}'
        rebound, _ = _request(port, "POST", "/api/issues", {**here, "Host": "evil.example"}, create)
        forged, _ = _request(
            port, "POST", "/api/issues", {**here, "Origin": EVIL, "Content-Type": "text/plain"}, create
        )
        assert (rebound, forged) == (403, 403)
        listed, body = _request(port, "GET", "/api/issues", here)
        assert listed == 200
        assert json.loads(body)["total"] == 0  # nothing was created
        if token:
            assert _request(port, "GET", "/api/issues", {"Host": here["Host"]})[0] == 401
        same_site = {**here, "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
        assert _request(port, "POST", "/api/issues", same_site, create)[0] == 201
        assert [i["title"] for i in json.loads(_request(port, "GET", "/api/issues", here)[1])["issues"]] == ["victim"]
