"""`grite webui` over real HTTP: the JSON API writes what the CLI writes; bad input changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit_grite.testing import grite, webui


@pytest.fixture
def server(repo: Path) -> Iterator[httpx.Client]:
    with webui(repo) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def shown(repo: Path, issue_id: str) -> dict[str, Any]:
    """The issue as the CLI (another process) reads it back."""
    result: dict[str, Any] = grite(repo, "issue", "show", issue_id, "--json").data
    return result


def test_read_and_write_through_the_api(server: httpx.Client, repo: Path) -> None:
    made = server.post("/api/issues", json={"title": "from the web", "body": "b", "labels": ["bug"]})
    assert made.status_code == 201, made.text
    iid = made.json()["issue_id"]
    assert shown(repo, iid)["issue"]["labels"] == ["bug"]

    assert server.post(f"/api/issues/{iid}/comments", json={"body": "first"}).status_code == 201
    assert server.patch(f"/api/issues/{iid[:8]}", json={"title": "renamed"}).status_code == 200
    labels = server.post(f"/api/issues/{iid}/labels", json={"add": ["a", "b"], "remove": ["bug"]})
    assert labels.status_code == 200, labels.text
    assert len(labels.json()["event_ids"]) == 3
    assert server.post(f"/api/issues/{iid}/state", json={"state": "closed"}).json()["state"] == "closed"

    issue = shown(repo, iid)["issue"]
    assert (issue["title"], issue["body"], issue["state"]) == ("renamed", "b", "closed")
    assert issue["labels"] == ["a", "b"]
    assert [c["body"] for c in issue["comments"]] == ["first"]
    assert server.get(f"/api/issues/{iid}").json()["issue"] == issue

    assert server.get("/api/issues", params={"q": "status:open"}).json() == {"issues": [], "total": 0}
    found = server.get("/api/issues", params={"q": "status:closed label:a renamed"}).json()
    assert [s["issue_id"] for s in found["issues"]] == [iid]
    server.post("/api/issues", json={"title": "second"})
    limited = server.get("/api/issues", params={"limit": 1, "q": "sort:creation"}).json()
    assert ([s["issue_id"] for s in limited["issues"]], limited["total"]) == ([iid], 2)


def test_writes_of_other_processes_show_up(server: httpx.Client, repo: Path) -> None:
    assert server.get("/api/issues").json()["total"] == 0
    iid = grite(repo, "issue", "create", "--title", "by the cli", "--json").data["issue_id"]
    assert [s["issue_id"] for s in server.get("/api/issues").json()["issues"]] == [iid]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/api/issues", {"title": " "}, 400, "title must not be empty"),
        ("POST", "/api/issues", {"title": "x", "colour": "red"}, 400, "colour"),
        ("POST", "/api/issues", {"title": 7}, 400, "title"),
        ("POST", "/api/issues", "not json", 400, "bad request"),
        ("POST", "/api/issues/{iid}/state", {"state": "gone"}, 400, "open or closed"),
        ("POST", "/api/issues/{iid}/labels", {}, 400, "labels to add or remove"),
        ("POST", "/api/issues/{iid}/comments", {"body": ""}, 400, "must not be empty"),
        ("PATCH", "/api/issues/{iid}", {}, 400, "--title or --body"),
        ("GET", "/api/issues/ffffffffffffffff", None, 404, "not found"),
        ("GET", "/api/issues?q=colour:red", None, 400, "unknown qualifier"),
        ("GET", "/api/issues?q=%22unbalanced", None, 400, "quotation"),
        ("GET", "/api/issues?limit=-1", None, 400, "--limit must be >= 0"),
        ("GET", "/api/issues?limit=lots", None, 400, "limit"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    server: httpx.Client, repo: Path, method: str, path: str, body: Any, status: int, needle: str
) -> None:
    iid = server.post("/api/issues", json={"title": "target"}).json()["issue_id"]
    before = shown(repo, iid)
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    reply = server.request(method, path.format(iid=iid), **({} if body is None else kwargs))
    assert reply.status_code == status, reply.text
    assert needle in reply.json()["error"]["message"]
    assert shown(repo, iid) == before
    assert server.get("/api/issues").json()["total"] == 1


def test_page_and_assets_are_local_and_locked_down(server: httpx.Client) -> None:
    page = server.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "app.css"):
        asset = server.get(f"/static/{name}")
        assert asset.status_code == 200
        # No CDN: no absolute URL in any asset (the browser test also watches every request).
        assert not re.search(r"[\"'`(]\s*(https?:)?//", asset.text), name
    assert re.findall(r"(?:src|href)=\"([^\"]*)\"", page.text) == ["/static/app.css", "/static/app.js", "#/"]
    assert server.get("/static/../app.py").status_code == 404
    assert server.get("/static/index.html").status_code == 200


def test_foreign_host_and_origin_are_refused(server: httpx.Client) -> None:
    assert server.get("/api/issues", headers={"host": "evil.example"}).status_code == 403
    refused = server.post("/api/issues", json={"title": "csrf"}, headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden_origin"
    cross = server.post("/api/issues", json={"title": "csrf"}, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    assert server.get("/api/issues").json()["total"] == 0
    same = server.post("/api/issues", json={"title": "ok"}, headers={"origin": str(server.base_url).rstrip("/")})
    assert same.status_code == 201


def test_non_loopback_needs_a_token(repo: Path, tmp_path: Path) -> None:
    refused = grite(repo, "webui", "--host", "0.0.0.0", "--json")
    assert refused.code == 2, refused.err
    assert "without a token" in refused.error["message"]
    missing = grite(repo, "webui", "--token-file", str(tmp_path / "absent"), "--json")
    assert missing.code == 2
    assert "cannot read --token-file" in missing.error["message"]

    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    with webui(repo, "--token-file", str(token_file)) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/").status_code == 200  # the page is public: it asks for the token
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/api/issues").status_code == 401
        wrong = client.get("/api/issues", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/api/issues", headers={"authorization": "Bearer s3cret-token"})
        assert ok.json() == {"issues": [], "total": 0}


def test_edit_comment_and_remove_through_the_api(server: httpx.Client, repo: Path) -> None:
    iid = server.post("/api/issues", json={"title": "to remove"}).json()["issue_id"]
    cid = server.post(f"/api/issues/{iid}/comments", json={"body": "helo"}).json()["event_id"]
    me = server.get("/api/actor").json()["actor_id"]
    assert shown(repo, iid)["issue"]["comments"][0]["actor"] == me
    edited = server.patch(f"/api/issues/{iid}/comments/{cid[:6]}", json={"body": "hello"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["comment_id"] == cid
    comment = shown(repo, iid)["issue"]["comments"][0]
    assert (comment["body"], comment["edited"]) == ("hello", True)
    missing = server.patch(f"/api/issues/{iid}/comments/abcdef", json={"body": "x"})
    assert missing.status_code == 400
    assert "matches no comment" in missing.json()["error"]["message"]

    assert server.delete(f"/api/issues/{iid}").json()["removed"] is True
    assert server.get("/api/issues").json()["total"] == 0
    gone = server.get(f"/api/issues/{iid}")
    assert gone.status_code == 404
    assert "was removed" in gone.json()["error"]["message"]
    assert server.delete(f"/api/issues/{iid}", headers={"origin": "https://evil.example"}).status_code == 403
    restored = grite(repo, "issue", "restore", iid, "--json")
    assert restored.code == 0, restored.err
    assert server.get(f"/api/issues/{iid}").status_code == 200


def test_oversized_bodies_are_refused(server: httpx.Client) -> None:
    huge = {"title": "x", "body": "y" * (5 * 1024 * 1024)}
    refused = server.post("/api/issues", json=huge)
    assert refused.status_code == 413
    assert "exceeds" in refused.json()["error"]["message"]

    def streamed() -> Iterator[bytes]:
        for _ in range(6):
            yield b"z" * (1024 * 1024)

    chunked = server.post("/api/issues", content=streamed(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert server.get("/api/issues").json()["total"] == 0
    assert server.post("/api/issues", json={"title": "still serving"}).status_code == 201


def test_repository_deleted_under_the_server(server: httpx.Client, repo: Path) -> None:
    import shutil

    assert server.post("/api/issues", json={"title": "before"}).status_code == 201
    shutil.rmtree(repo / ".git")
    refused = server.post("/api/issues", json={"title": "after"})
    assert refused.status_code == 500
    assert refused.json()["error"]["code"] == "io"
    assert server.get("/healthz").json() == {"ok": True}  # the server keeps answering
