# ruff: noqa: E501 - TOML fixtures hold long shell commands verbatim
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from toolkit_pom.testing import wait_for, write_project

STACK = """
[processes.api]
command = "echo 'api: listening'; echo 'Traceback (most recent call last):' >&2; echo 'ValueError: bad' >&2; exec sleep 300"
readiness = { log = "listening" }

[processes.count]
command = "for i in $(seq 1 500); do echo n $i; done; exec sleep 300"
"""


def test_http_api_end_to_end(tmp_path: Path, start_pom: Any) -> None:
    pom = start_pom(write_project(tmp_path, STACK), http=True)
    url = pom.call("info")["http_url"]
    assert url.startswith("http://127.0.0.1:")
    pom.wait_state("api", "ready")
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/health").json() == {"ok": True}
        procs = http.get("/processes").json()
        assert {p["name"] for p in procs["processes"]} == {"api", "count"}
        assert http.get("/processes/api").json()["health"] == "ready"
        missing = http.get("/processes/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["kind"] == "not_found"

        wait_for(lambda: http.get("/processes/count/logs", params={"stream": "stdout", "limit": 1}).json()["lines"], 10)
        wait_for(
            lambda: (
                http.get("/processes/count/logs", params={"limit": 1, "stream": "stdout"}).json()["lines"][0]["text"]
                == "n 500"
            ),
            10,
        )
        page = http.get("/processes/count/logs", params={"stream": "stdout", "after_id": 0, "limit": 10}).json()
        assert [line["text"] for line in page["lines"]] == [f"n {i}" for i in range(1, 11)]
        assert page["cursors"]["count"] == page["lines"][-1]["id"]
        grep = http.get("/logs", params={"process": "count,api", "grep": "n 49", "stream": "stdout"}).json()
        assert [line["text"] for line in grep["lines"]] == ["n 49"] + [f"n {i}" for i in range(490, 500)]
        bad = http.get("/processes/count/logs", params={"regex": "("})
        assert bad.status_code == 400
        assert "regular expression" in bad.json()["error"]["message"]
        assert http.get("/processes/count/logs", params={"limit": -1}).status_code == 422

        errors = http.get("/errors").json()["errors"]
        assert [(e["process"], e["severity"]) for e in errors] == [("api", "panic"), ("api", "error")]
        summary = http.get("/summary").json()
        assert summary["counts"] == {"ready": 1, "running": 1}
        assert summary["recent_errors"][0]["text"].startswith("Traceback")

        graph = http.get("/graph").json()
        assert graph["roots"] == ["api", "count"]
        assert [g["instances"] for g in graph["groups"]] == [{"api": "ready"}, {"count": "running"}]

        dropped = http.delete("/processes/count/logs").json()["results"][0]["dropped"]
        assert dropped >= 500
        assert http.get("/processes/count/logs").json()["lines"] == []

        # /docs and /redoc take every asset from pom itself (works offline), through the exposure guard.
        for page in ("/docs", "/redoc"):
            html = http.get(page)
            assert html.status_code == 200
            urls = re.findall(r'(?:src|href)="([^"]+)"|url: *[\'"]([^\'"]+)', html.text)
            found = [a or b for a, b in urls]
            assert not [u for u in found if u.startswith(("http://", "https://", "//"))], found
            local = [u for u in found if u.startswith("/_docs-assets/")]
            assert local, found
            for asset in local:
                assert len(http.get(asset).raise_for_status().content) > 100, asset

        spec = http.get("/openapi.json").json()
        assert "/processes/{name}/logs/stream" in spec["paths"]
        assert "/summary" in spec["paths"]

        first = http.get("/processes/api/logs", params={"limit": 1}).json()["cursors"]["api"]
        with http.stream("GET", "/processes/api/logs/stream", params={"after_id": first}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            http.post("/processes/api/restart").raise_for_status()
            events: list[dict[str, Any]] = []
            for raw in resp.iter_lines():
                if raw.startswith("data: "):
                    events.append(json.loads(raw[6:]))
                    if any(e.get("text") == "api: listening" for e in events):
                        break
        assert events[0]["id"] == first + 1
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)

        stop = http.post("/processes/count/stop").json()
        assert stop["results"][0]["state"] == "stopped"
        assert http.post("/processes/count/start").json()["results"][0]["ok"]
        assert http.post("/processes/nope/stop").status_code == 404
        scaled = http.post("/processes/count/scale/2").json()
        assert [r["name"] for r in scaled["results"]] == ["count", "count.2"]


def test_token_is_enforced(tmp_path: Path, start_pom: Any) -> None:
    pom = start_pom(
        write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n'), "--token", "s3cret-token", http=True
    )
    url = pom.call("info")["http_url"]
    with httpx.Client(base_url=url, timeout=10) as http:
        denied = http.get("/processes")
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "unauthorized"
        assert http.get("/processes", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/processes", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert http.get("/processes", headers={"X-Pom-Token": "s3cret-token"}).status_code == 200
        assert http.get("/health").status_code == 200  # public: no token, still Host-checked


def test_exposure_policy_refuses_foreign_host_and_cross_site_posts(tmp_path: Path, start_pom: Any) -> None:
    pom = start_pom(write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n'), http=True)
    url = pom.call("info")["http_url"]
    with httpx.Client(base_url=url, timeout=10) as http:
        rebound = http.get("/processes", headers={"Host": "evil.example:80"})
        assert rebound.status_code == 403
        assert rebound.json()["error"]["code"] == "forbidden_host"
        foreign = http.post("/processes/a/signal/HUP", headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "forbidden_origin"
        assert http.post("/processes/a/signal/HUP", headers={"Origin": url}).status_code == 200


def test_non_loopback_without_token_is_refused(tmp_path: Path) -> None:
    config = write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n')
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "up", "--headless", "--http", "0.0.0.0:0", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={k: v for k, v in __import__("os").environ.items() if k != "POM_TOKEN"},
    )
    assert out.returncode == 2
    assert "without a token" in out.stderr


def test_sse_reports_an_eviction_gap_first(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(
        tmp_path,
        '[processes.loud]\ncommand = "seq 1 20000; exec sleep 300"\nlog_max_bytes = "16KiB"\n',
    )
    pom = start_pom(config, http=True)
    url = pom.call("info")["http_url"]
    wait_for(lambda: pom.ps()["loud"]["log"]["last_id"] >= 20001, 20, what="all lines read")
    first_id = pom.ps()["loud"]["log"]["first_id"]
    assert first_id > 1
    with (
        httpx.Client(base_url=url, timeout=10) as http,
        http.stream("GET", "/processes/loud/logs/stream", params={"after_id": 0, "stream": "stdout"}) as resp,
    ):
        lines = resp.iter_lines()
        assert next(lines) == "event: gap"
        gap = json.loads(next(lines)[len("data: ") :])
        assert gap == {"process": "loud", "after_id": 0, "first_id": first_id, "missed": first_id - 1}
        assert next(lines) == ""
        assert next(lines) == "event: line"
        assert next(lines) == f"id: {first_id}"


def test_catastrophic_regex_cannot_stall_pom(tmp_path: Path, start_pom: Any) -> None:
    """`(a+)+$` against a long run of `a`s is exponential for a backtracking engine; pom answers at once."""
    stack = """
    [processes.evil]
    command = "python3 -c \\"print('a' * 40 + '!')\\"; exec sleep 300"
    """
    pom = start_pom(write_project(tmp_path, stack), http=True)
    url = pom.call("info")["http_url"]
    wait_for(lambda: pom.call("logs", names=["evil"], stream="stdout")["lines"], 10)
    with httpx.Client(base_url=url, timeout=5) as http:
        for _ in range(3):
            answer = http.get("/processes/evil/logs", params={"regex": "(a+)+$"})
            assert answer.status_code == 200
            assert answer.json()["lines"] == []
        assert http.get("/processes/evil/logs", params={"regex": "(a+)+!"}).json()["lines"][0]["text"].endswith("!")
        backref = http.get("/processes/evil/logs", params={"regex": r"(a)\1"})
        assert backref.status_code == 400
        assert "RE2" in backref.json()["error"]["message"]
    assert pom.call("ps")["processes"][0]["state"] == "running"
