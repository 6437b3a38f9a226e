"""The web UI in a real Chromium (playwright): every form writes through the server, read back by the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.testing import grite, webui

HOSTILE_TITLE = "<img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>"


@pytest.fixture
def page_at(repo: Path) -> Iterator[tuple[Any, str]]:
    from toolkit.testing_browser import browser_page

    with webui(repo) as url, browser_page() as page:
        errors: list[str] = []
        requested: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda request: requested.append(request.url))
        yield page, url
        assert errors == []  # no script error on any page
        assert requested
        assert [r for r in requested if not r.startswith(url)] == []  # no CDN, nothing from elsewhere


def cli_issue(repo: Path, ident: str) -> dict[str, Any]:
    issue: dict[str, Any] = grite(repo, "issue", "show", ident, "--json").data["issue"]
    return issue


def test_create_comment_edit_label_close_in_the_browser(page_at: tuple[Any, str], repo: Path) -> None:
    from playwright.sync_api import expect

    page, url = page_at
    page.goto(url)
    expect(page.locator("#count")).to_have_text("0 issue(s)")

    page.get_by_role("button", name="New issue").click()
    page.locator("#create-title").fill("made in chromium")
    page.locator("#create-body").fill("line one\nline two")
    page.locator("#create-labels").fill("bug, ui")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#issue-title")).to_have_text("made in chromium")
    iid = page.locator("#issue-id").inner_text()
    assert cli_issue(repo, iid)["labels"] == ["bug", "ui"]
    expect(page.locator("#issue-body")).to_have_text("line one\nline two")

    page.locator("#comment-body").fill("looks right")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator("#comments li")).to_have_count(1)
    expect(page.locator("#comments li .text")).to_have_text("looks right")

    page.get_by_role("button", name="Edit", exact=True).click()
    page.locator("#edit-title").fill("renamed in chromium")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#issue-title")).to_have_text("renamed in chromium")

    page.locator("#label-name").fill("urgent")
    page.get_by_role("button", name="Add label").click()
    expect(page.locator("#issue-labels li")).to_have_text(["bug", "ui", "urgent"])
    page.locator("#label-name").fill("bug")
    page.get_by_role("button", name="Remove label").click()
    expect(page.locator("#issue-labels li")).to_have_text(["ui", "urgent"])

    page.get_by_role("button", name="Close issue").click()
    expect(page.locator("#issue-state")).to_have_text("closed")
    issue = cli_issue(repo, iid)
    assert (issue["title"], issue["state"], issue["labels"]) == ("renamed in chromium", "closed", ["ui", "urgent"])
    assert [c["body"] for c in issue["comments"]] == ["looks right"]
    page.get_by_role("button", name="Reopen issue").click()
    expect(page.locator("#issue-state")).to_have_text("open")
    assert cli_issue(repo, iid)["state"] == "open"


def test_list_query_and_hostile_text_stays_text(page_at: tuple[Any, str], repo: Path) -> None:
    from playwright.sync_api import expect

    page, url = page_at
    hostile = grite(repo, "issue", "create", "--title", HOSTILE_TITLE, "--label", "sec", "--json").data["issue_id"]
    grite(repo, "issue", "create", "--title", "plain one", "--json")
    page.goto(url)
    expect(page.locator("#issues tbody tr")).to_have_count(2)

    page.locator("#query").fill("label:sec")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#issues tbody tr")).to_have_count(1)
    page.locator("#issues tbody tr").first.click()
    expect(page.locator("#issue-title")).to_have_text(HOSTILE_TITLE)
    assert page.locator("#issue-title img, #issue-title b").count() == 0
    assert page.title() == "grite"
    assert hostile.startswith(page.locator("#issue-id").inner_text()[:8])

    grite(repo, "issue", "link", "add", hostile, "--url", "javascript:document.title='pwned'", "--json")
    grite(repo, "issue", "link", "add", hostile, "--url", "https://example.com/x", "--note", "upstream", "--json")
    grite(repo, "issue", "assignee", "add", hostile, "--user", "alice", "--json")
    page.reload()
    expect(page.locator("#issue-facts dd")).to_have_text(
        ["alice", "javascript:document.title='pwned'", "https://example.com/x (upstream)"]
    )
    links = page.locator("#issue-facts a")
    expect(links).to_have_count(1)  # only the http(s) URL is clickable
    assert links.get_attribute("href") == "https://example.com/x"
    assert links.get_attribute("rel") == "noopener noreferrer"

    page.goto(url)
    page.locator("#query").fill("colour:red")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#error")).to_contain_text("unknown qualifier colour:")


def test_refused_write_shows_the_error_and_changes_nothing(page_at: tuple[Any, str], repo: Path) -> None:
    from playwright.sync_api import expect

    page, url = page_at
    iid = grite(repo, "issue", "create", "--title", "target", "--json").data["issue_id"]
    page.goto(f"{url}#/issue/{iid}")
    expect(page.locator("#issue-title")).to_have_text("target")
    page.get_by_role("button", name="Edit", exact=True).click()
    page.locator("#edit-title").fill("   ")  # `required` passes, the server refuses blank titles
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error")).to_contain_text("title must not be empty")
    assert cli_issue(repo, iid)["title"] == "target"


def test_edit_own_comment_and_remove_in_the_browser(page_at: tuple[Any, str], repo: Path) -> None:
    from playwright.sync_api import expect

    page, url = page_at
    iid = grite(repo, "issue", "create", "--title", "short-lived", "--json").data["issue_id"]
    grite(repo, "issue", "comment", iid, "--body", "teh typo", "--json")
    other = grite(repo, "actor", "init", "--label", "other", "--json").data["actor_id"]
    grite(repo, "--actor", other, "issue", "comment", iid, "--body", "not yours", "--json")
    page.goto(f"{url}#/issue/{iid}")
    expect(page.locator("#comments li")).to_have_count(2)
    # Only the acting actor's comment offers an edit.
    expect(page.get_by_role("button", name="Edit comment")).to_have_count(1)
    page.get_by_role("button", name="Edit comment").click()
    page.get_by_label("comment text").fill("the typo")
    page.get_by_role("button", name="Save comment").click()
    expect(page.locator("#comments li .text").first).to_have_text("the typo")
    expect(page.locator("#comments li .meta").first).to_contain_text("(edited)")
    assert [c["body"] for c in cli_issue(repo, iid)["comments"]] == ["the typo", "not yours"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove issue").click()
    expect(page.locator("#count")).to_have_text("0 issue(s)")
    assert grite(repo, "issue", "show", iid, "--json").code == 3


def test_the_page_asks_for_the_token_of_a_token_server(repo: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from toolkit.testing_browser import browser_page

    grite(repo, "issue", "create", "--title", "behind a token", "--json")
    token_file = tmp_path / "token"
    token_file.write_text("tok-123\n")
    with webui(repo, "--token-file", str(token_file)) as url, browser_page() as page:
        page.goto(url)
        expect(page.locator("#token-box")).to_be_visible()
        expect(page.locator("#error")).to_contain_text("Authorization: Bearer")
        page.locator("#token").fill("wrong")
        page.get_by_role("button", name="Use token").click()
        expect(page.locator("#token-box")).to_be_visible()
        page.locator("#token").fill("tok-123")
        page.get_by_role("button", name="Use token").click()
        expect(page.locator("#issues tbody tr")).to_have_count(1)
        expect(page.locator("#token-box")).to_be_hidden()
        expect(page.locator("#error")).to_be_hidden()
