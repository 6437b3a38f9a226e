"""`plasmite serve` over real loopback sockets: routes, auth, limits, errors, TLS, remote refs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit_plasmite import ErrorKind, NotFoundError, RemoteClient, RetentionGapError


def test_routes_roundtrip(serve) -> None:
    srv = serve("--cors-origin", "https://app.example")
    with httpx.Client(base_url=srv.base_url, timeout=10) as http:
        allowed = http.get("/v0/pools", headers={"Origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = http.get("/v0/pools", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        r = http.post("/v0/pools", json={"pool": "a", "size_bytes": 65536})
        assert r.status_code == 200
        assert r.headers["plasmite-version"] == "0"
        assert r.json()["pool"]["name"] == "a"
        assert http.post("/v0/pools", json={"pool": "a"}).status_code == 409
        assert http.post("/v0/pools/open", json={"pool": "a"}).json()["pool"]["file_size"] == 65536
        assert http.post("/v0/pools/open", json={"pool": "zz"}).status_code == 404
        env = http.post("/v0/pools/a/append", json={"data": {"x": 1}, "tags": ["t"], "durability": "flush"}).json()
        assert env["message"]["seq"] == 1
        assert env["message"]["meta"] == {"tags": ["t"]}
        http.post("/v0/pools/a/append", json={"data": {"x": 2}, "durability": "weird"})  # unknown: fast
        got = http.get("/v0/pools/a/messages/2").json()["message"]
        assert got["data"] == {"x": 2}
        missing = http.get("/v0/pools/a/messages/9")
        assert missing.status_code == 404
        assert missing.json()["error"]["kind"] == "NotFound"
        tail = http.get("/v0/pools/a/tail", params={"since_seq": 1, "max": 5, "timeout_ms": 200})
        assert tail.headers["content-type"].startswith("application/jsonl")
        assert [json.loads(x)["seq"] for x in tail.text.splitlines()] == [1, 2]
        tagged = http.get("/v0/pools/a/tail", params={"since_seq": 1, "timeout_ms": 100, "tag": "t"})
        assert [json.loads(x)["seq"] for x in tagged.text.splitlines()] == [1]
        assert [p["name"] for p in http.get("/v0/pools").json()["pools"]] == ["a"]
        assert http.get("/v0/pools/a/info").json()["pool"]["bounds"] == {"oldest": 1, "newest": 2}
        assert http.delete("/v0/pools/a").json() == {"ok": True}
        assert http.get("/v0/pools/a/info").status_code == 404
        assert http.get("/healthz").json() == {"ok": True}
        assert "/v0/pools/{pool}/tail" in http.get("/openapi.json").json()["paths"]


def test_bad_requests_get_json_errors_and_server_survives(serve) -> None:
    srv = serve("--max-body-bytes", "4K")
    with httpx.Client(base_url=srv.base_url, timeout=10) as http:
        http.post("/v0/pools", json={"pool": "p", "size_bytes": 65536})
        cases = [
            http.post("/v0/pools/p/append", content=b"{not json", headers={"content-type": "application/json"}),
            http.post("/v0/pools/p/append", json=[1, 2]),
            http.post("/v0/pools/p/append", json={"data": [1]}),
            http.post("/v0/pools/p/append", json={"data": {}, "tags": "x"}),
            http.post("/v0/pools", json={"pool": 5}),
            http.post("/v0/pools", json={"pool": "../etc"}),
            http.post("/v0/pools", json={"pool": "q", "size_bytes": "big"}),
            http.get("/v0/pools/p/messages/abc"),
            http.get("/v0/pools/p/tail", params={"timeout_ms": 999_999}),
            http.get("/v0/pools/p/tail", params={"gap_policy": "maybe"}),
            http.get("/v0/pools/bad%20name/info"),
        ]
        for r in cases:
            assert r.status_code == 400, r.text
            assert r.json()["error"]["kind"] == "Usage", r.text
        big = http.post("/v0/pools/p/append", json={"data": {"x": "y" * 10_000}})
        assert big.status_code == 413
        assert big.json()["error"]["kind"] == "Usage"
        chunked = http.post("/v0/pools/p/append", content=iter([b'{"data":{"x":"', b"y" * 9000, b'"}}']))
        assert chunked.status_code == 413
        assert http.get("/nope").status_code == 404
        assert http.get("/nope").json()["error"]["kind"] == "NotFound"
        assert http.put("/v0/pools").status_code == 405
        assert http.post("/v0/pools/p/append", json={"data": {"ok": True}}).status_code == 200
    assert srv.proc.poll() is None


def test_token_and_access_modes(serve, tmp_path: Path) -> None:
    token_file = tmp_path / "tok"
    token_file.write_text("s3cret\n")
    srv = serve("--token-file", str(token_file))
    with httpx.Client(base_url=srv.base_url, timeout=10) as http:
        assert http.get("/v0/pools").status_code == 401
        bad = http.get("/v0/pools", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json()["error"]["kind"] == "Permission"
        assert http.get("/v0/pools", headers={"Authorization": "bearer s3cret"}).status_code == 401
        assert http.get("/v0/pools", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert http.get("/healthz").status_code == 200
    client = RemoteClient(srv.base_url).with_token("s3cret")
    pool = client.create_pool("tok", 65536)
    assert pool.append({"a": 1}, ["x"]).seq == 1
    client.close()
    ro = serve("--access", "read-only")
    with httpx.Client(base_url=ro.base_url, timeout=10) as http:
        r = http.post("/v0/pools", json={"pool": "x"})
        assert r.status_code == 403
        assert r.json()["error"]["kind"] == "Permission"
        assert http.get("/v0/pools").status_code == 200
    wo = serve("--access", "write-only")
    with httpx.Client(base_url=wo.base_url, timeout=10) as http:
        assert http.post("/v0/pools", json={"pool": "w", "size_bytes": 65536}).status_code == 200
        assert http.get("/v0/pools/w/info").status_code == 403


def test_saturation_gives_423(serve) -> None:
    srv = serve("--max-tail-concurrency", "1")
    with httpx.Client(base_url=srv.base_url, timeout=30) as http:
        http.post("/v0/pools", json={"pool": "s", "size_bytes": 65536})
        opened = threading.Event()
        done = threading.Event()

        def hold() -> None:
            with httpx.stream("GET", srv.base_url + "/v0/pools/s/tail", params={"timeout_ms": 3000}, timeout=30) as r:
                assert r.status_code == 200
                opened.set()
                for _ in r.iter_lines():
                    pass
            done.set()

        thread = threading.Thread(target=hold)
        thread.start()
        assert opened.wait(20)
        assert http.get("/v0/pools/s/info").status_code == 200  # storage has its own budget
        busy = http.get("/v0/pools/s/tail", params={"timeout_ms": 100})
        assert busy.status_code == 423
        assert busy.json()["error"]["kind"] == "Busy"
        thread.join(30)
        assert done.is_set()
        deadline = time.monotonic() + 10
        while http.get("/v0/pools/s/tail", params={"timeout_ms": 1}).status_code == 423:
            assert time.monotonic() < deadline
            time.sleep(0.05)  # the permit comes back when the stream ends


def test_aborted_tails_give_their_permits_back(serve) -> None:
    srv = serve("--max-tail-concurrency", "2")
    with httpx.Client(base_url=srv.base_url, timeout=30) as http:
        http.post("/v0/pools", json={"pool": "ab", "size_bytes": 65536})
        for _ in range(10):  # far more aborted 20-second tails than permits
            deadline = time.monotonic() + 10
            while True:
                with httpx.stream("GET", srv.base_url + "/v0/pools/ab/tail", params={"timeout_ms": 20000}) as r:
                    if r.status_code == 200:
                        break  # leaving the block disconnects mid-tail
                assert time.monotonic() < deadline, "aborted tails kept their permits"
                time.sleep(0.05)


def test_tail_without_since_seq_starts_at_the_oldest_retained(serve) -> None:
    srv = serve()
    with httpx.Client(base_url=srv.base_url, timeout=30) as http:
        http.post("/v0/pools", json={"pool": "old", "size_bytes": 65536})
        for i in range(3):
            http.post("/v0/pools/old/append", json={"data": {"i": i}})
        tail = http.get("/v0/pools/old/tail", params={"max": 3, "timeout_ms": 500})
        assert [json.loads(x)["seq"] for x in tail.text.splitlines()] == [1, 2, 3]
        assert tail.headers["plasmite-start-seq"] == "1"


def test_remote_client_tail_and_gap(serve) -> None:
    srv = serve()
    client = RemoteClient(srv.base_url)
    pool = client.create_pool("r", 8 * 1024)
    pool.append({"i": 0})
    got: list[int] = []

    def reader() -> None:
        got.extend(m.data["i"] for m in pool.tail(since_seq=2, max_messages=3, timeout_ms=20_000))

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)
    for i in range(1, 4):
        pool.append({"i": i})
    thread.join(30)
    assert got == [1, 2, 3]
    assert pool.get(1).data == {"i": 0}
    for i in range(300):
        pool.append({"i": i, "pad": "x" * 40})
    with pytest.raises(RetentionGapError) as info:
        list(pool.tail(since_seq=1, timeout_ms=300, error_on_gap=True))
    assert info.value.kind == ErrorKind.RETENTION_GAP
    with pytest.raises(NotFoundError):
        client.open_pool("missing")
    client.close()


def test_remote_follow_tail_requests_only_the_last_n(serve) -> None:
    """`follow --tail N` on a remote pool asks the server for N messages, not the whole history."""
    from toolkit_plasmite.core.follow import FollowRun, FollowSpec
    from toolkit_plasmite.http.remote import RemoteSource

    srv = serve()
    with RemoteClient(srv.base_url) as client:
        pool = client.create_pool("long", 1024 * 1024)
        for i in range(200):
            pool.append({"i": i})
        asked: list[httpx.QueryParams] = []
        client.http().event_hooks["request"].append(
            lambda req: asked.append(req.url.params) if req.url.path.endswith(("/tail", "/tail_lite3")) else None
        )
        run = FollowRun(RemoteSource(pool), FollowSpec(tail=3, no_follow=True))
        assert [env["seq"] for env in run] == [198, 199, 200]
        assert [(p["since_seq"], p["max"]) for p in asked] == [("198", "3")]
        asked.clear()
        odd = FollowSpec(tail=4, no_follow=True, where=(".data.i % 2 == 1",))
        assert [env["data"]["i"] for env in FollowRun(RemoteSource(pool, lite3=True), odd)] == [197, 199]
        assert [(p["since_seq"], p["max"]) for p in asked] == [("197", "4")]
        asked.clear()
        everything = FollowRun(RemoteSource(pool), FollowSpec(tail=500, no_follow=True))
        assert [env["seq"] for env in everything] == list(range(1, 201))
        assert asked[0]["since_seq"] == "1"


def test_remote_feed_and_follow_cli(serve, cli, plasmite_argv: list[str], sub_env) -> None:
    srv = serve()
    with RemoteClient(srv.base_url) as rc:
        rc.create_pool("chat", 65536)
    ref = f"{srv.base_url}/chat"
    res = cli("plasmite", "feed", ref, '{"from":"a","msg":"hi"}', "--tag", "t").assert_success()
    assert res.json()["seq"] == 1
    proc = subprocess.Popen(
        [*plasmite_argv, "follow", ref, "--jsonl", "--where", '.data.msg == "bye"', "--one", "--timeout", "20s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sub_env,
    )
    try:
        out = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cli("plasmite", "feed", ref, '{"msg":"bye"}').assert_success()
            try:
                out, _err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        assert proc.returncode == 0
        assert json.loads(out.splitlines()[0])["data"] == {"msg": "bye"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    res = cli("plasmite", "follow", ref, "--tail", "1", "--jsonl", "--timeout", "200ms")
    assert res.exit_code == 124
    assert lines_of(res.stdout)[-1]["data"]["msg"] == "bye"
    assert cli("plasmite", "follow", ref, "--since", "1h").exit_code == 2
    assert cli("plasmite", "follow", ref, "--create").exit_code == 2
    assert json.loads(cli("plasmite", "fetch", ref, "1").assert_success().stdout)["seq"] == 1


def test_remote_duplex_shows_others_sends_ours_and_ends_at_end_of_input(serve, cli, plasmite_argv, sub_env) -> None:
    srv = serve()
    with RemoteClient(srv.base_url) as rc:
        rc.create_pool("chat", 65536).append({"from": "bob", "msg": "seed"})
    ref = f"{srv.base_url}/chat"
    proc = subprocess.Popen(
        [*plasmite_argv, "duplex", ref, "--me", "alice", "--tail", "1", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sub_env,
    )
    assert proc.stdout is not None
    try:
        assert json.loads(proc.stdout.readline())["data"] == {"from": "bob", "msg": "seed"}
        out, err = proc.communicate('{"from":"alice","msg":"remote-reply"}\n', timeout=60)  # then end of input
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""  # our own message is not echoed
    res = cli("plasmite", "follow", ref, "--tail", "2", "--jsonl", "--no-follow").assert_success()
    assert [m["data"]["from"] for m in lines_of(res.stdout)] == ["bob", "alice"]


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_tls_with_trusted_ca(serve, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    srv = serve("--tls-cert", str(cert_path), "--tls-key", str(key_path))
    assert srv.base_url.startswith("https://")
    assert srv.banner["details"]["tls_fingerprint"].startswith("SHA256:")
    client = RemoteClient(srv.base_url, tls_ca_file=str(ca_path))
    assert client.create_pool("tls", 65536).append({"secure": True}).seq == 1
    client.close()
    with RemoteClient(srv.base_url) as unverified, pytest.raises(Exception):  # noqa: B017, PT011 - must not connect
        unverified.list_pools()
    selfsigned = serve("--tls-self-signed")
    with RemoteClient(selfsigned.base_url).with_tls_skip_verify() as insecure:
        assert [p["name"] for p in insecure.list_pools()] == ["tls"]


def test_serve_check_init_and_loopback_rules(cli, tmp_path: Path) -> None:
    res = cli("plasmite", "serve", "--bind", "127.0.0.1:9999", "check").assert_success()
    check = res.json()["check"]
    assert check["listen"] == "127.0.0.1:9999"
    assert check["auth"] == "none"
    assert (check["mcp"], check["ui"]) == ("http://127.0.0.1:9999/mcp", "http://127.0.0.1:9999/ui")
    assert cli("plasmite", "serve", "--bind", "0.0.0.0:9999", "check").exit_code == 2
    assert cli("plasmite", "serve", "--bind", "0.0.0.0:9999", "--allow-non-loopback", "check").exit_code == 2
    # Read-only is not enough off loopback: the kernel exposure policy wants a token too.
    args = ["serve", "--bind", "0.0.0.0:9999", "--allow-non-loopback", "--access", "read-only"]
    assert cli("plasmite", *args, "check").exit_code == 2
    cli("plasmite", *args, "--token", "s3cret", "check").assert_success()
    assert cli("plasmite", "serve", "--cors-origin", "*", "check").exit_code == 2
    res = cli("plasmite", "serve", "init", "--output-dir", str(tmp_path / "srv")).assert_success()
    assert "tls_fingerprint: SHA256:" in res.stdout
    assert (tmp_path / "srv" / "plasmite-auth-token.txt").stat().st_mode & 0o777 == 0o600
    assert cli("plasmite", "serve", "init", "--output-dir", str(tmp_path / "srv")).exit_code == 2
    d = tmp_path / "srv"
    res = cli(
        "plasmite",
        "serve",
        "--bind",
        "0.0.0.0:9999",
        "--allow-non-loopback",
        "--token-file",
        str(d / "plasmite-auth-token.txt"),
        "--tls-cert",
        str(d / "plasmite-tls-cert.pem"),
        "--tls-key",
        str(d / "plasmite-tls-key.pem"),
        "check",
    ).assert_success()
    assert res.json()["check"]["auth"] == "bearer"


@pytest.mark.parametrize(
    ("extra", "probe"),
    [([], True), ([], False), (["--udp=127.0.0.1:0", "--udp-follow"], False)],
)
def test_serve_ready_means_listening_and_sigterm_exits_0(
    plasmite_argv: list[str], sub_env: dict[str, str], extra: list[str], probe: bool
) -> None:
    proc = subprocess.Popen(
        [*plasmite_argv, "serve", "--bind", "127.0.0.1:0", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=sub_env,
    )
    try:
        assert proc.stderr is not None
        banner = json.loads(proc.stderr.readline())["notice"]
        assert banner["kind"] == "serve_ready"
        if probe:  # the very first request after the banner succeeds: no retry loop
            assert httpx.get(banner["details"]["base_url"] + "/healthz", timeout=30).json() == {"ok": True}
        # Without the probe the signal lands before uvicorn installed its handlers: still a clean stop.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_exposure_policy_refuses_foreign_host_and_origin(serve) -> None:
    srv = serve()
    with httpx.Client(base_url=srv.base_url, timeout=10) as http:
        assert http.get("/v0/pools").status_code == 200
        foreign = http.get("/v0/pools", headers={"Host": "attacker.example"})
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "forbidden_host"
        cross = http.post("/v0/pools", json={"pool": "x"}, headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        assert cross.json()["error"]["code"] == "forbidden_origin"
        assert http.get("/v0/pools/x/info").status_code == 404  # the refused create changed nothing


def test_non_loopback_without_token_is_refused_even_read_only(cli) -> None:
    res = cli("plasmite", "serve", "--bind", "0.0.0.0:0", "--allow-non-loopback", "--access", "read-only")
    assert res.exit_code == 2
    assert "token" in json.loads(res.stderr)["error"]["message"]


def test_remote_fetch_pool_list_and_lite3_routes(serve, cli) -> None:
    from toolkit_plasmite.core import lite3

    srv = serve()
    with RemoteClient(srv.base_url) as rc:
        rc.create_pool("docs", 65536)
    doc = lite3.encode_message({"k": [1, "two"]}, ["t"])
    sent = httpx.post(f"{srv.base_url}/v0/pools/docs/append_lite3?durability=flush", content=doc, timeout=10)
    assert sent.status_code == 200
    assert sent.json()["message"]["data"] == {"k": [1, "two"]}
    back = httpx.get(f"{srv.base_url}/v0/pools/docs/messages/1/lite3", timeout=10)
    assert back.content == doc
    assert back.headers["plasmite-seq"] == "1"
    bad = httpx.post(f"{srv.base_url}/v0/pools/docs/append_lite3", content=doc[:-3], timeout=10)
    assert (bad.status_code, bad.json()["error"]["kind"]) == (500, "Corrupt")
    fetched = cli("plasmite", "fetch", f"{srv.base_url}/docs", "1").assert_success().json()
    assert fetched["meta"]["tags"] == ["t"]
    listed = cli("plasmite", "pool", "list", srv.base_url, "--json").assert_success().json()
    assert [p["name"] for p in listed["pools"]] == ["docs"]
    assert listed["pools"][0]["bounds"] == {"oldest": 1, "newest": 1}
    missing = cli("plasmite", "fetch", f"{srv.base_url}/docs", "2")
    assert missing.exit_code == 3
    history = cli("plasmite", "follow", f"{srv.base_url}/docs", "--no-follow", "--jsonl").assert_success()
    assert [json.loads(line)["seq"] for line in history.stdout.splitlines()] == [1]


def test_lite3_tail_frames_and_ui_events(serve) -> None:
    import struct

    from toolkit_plasmite.core import lite3

    srv = serve()
    with RemoteClient(srv.base_url) as rc:
        pool = rc.create_pool("frames", 65536)
        for n in range(3):
            pool.append({"n": n}, ["odd"] * (n % 2))
    query: dict[str, Any] = {"since_seq": 1, "max": 3, "timeout_ms": 2000}
    res = httpx.get(f"{srv.base_url}/v0/pools/frames/tail_lite3", params=query, timeout=60)
    assert res.headers["content-type"] == "application/x-plasmite-lite3-stream"
    body, frames = res.content, []
    while body:
        seq, ts, size = struct.unpack_from(">QQI", body)
        frames.append((seq, ts > 0, lite3.decode_message(body[20 : 20 + size])))
        body = body[20 + size :]
    assert frames == [(1, True, ({"n": 0}, [])), (2, True, ({"n": 1}, ["odd"])), (3, True, ({"n": 2}, []))]
    only_odd = httpx.get(
        f"{srv.base_url}/v0/pools/frames/tail_lite3", params={**query, "tag": "odd", "timeout_ms": 200}, timeout=60
    )
    assert struct.unpack_from(">Q", only_odd.content)[0] == 2
    refused = httpx.get(f"{srv.base_url}/v0/pools/frames/tail_lite3", params={"gap_policy": "error"}, timeout=60)
    assert (refused.status_code, refused.json()["error"]["kind"]) == (400, "Usage")
    events = httpx.get(f"{srv.base_url}/v0/ui/pools/frames/events", params=query, timeout=60)
    assert events.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in events.text.split("\n\n") if b]
    assert [b.splitlines()[0] for b in blocks] == ["event: message"] * 3
    assert [json.loads(b.splitlines()[1].removeprefix("data: "))["seq"] for b in blocks] == [1, 2, 3]


def test_api_docs_are_served_with_local_assets(serve) -> None:
    srv = serve()
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = httpx.get(srv.base_url + page, timeout=30)
        assert html.status_code == 200
        assert "cdn." not in html.text  # nothing from the internet: /docs works offline
        src = next(part.split('"')[0] for part in html.text.split('src="')[1:] if asset in part.split('"')[0])
        js = httpx.get(srv.base_url + src, timeout=30)
        assert (js.status_code, len(js.content) > 10_000) == (200, True)
    assert httpx.get(srv.base_url + "/openapi.json", timeout=30).json()["info"]["title"] == "plasmite"
