"""The web UI of `plasmite serve` in a real Chromium (playwright): pools, the live SSE log, appending."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.testing_browser import browser_page
from toolkit_plasmite import RemoteClient

pytestmark = pytest.mark.slow


def _row(page: Any, seq: int) -> Any:
    return page.locator(f'#log tbody tr[data-seq="{seq}"]')


def test_ui_lists_pools_streams_live_messages_and_appends(serve: Any) -> None:
    srv = serve()
    with RemoteClient(srv.base_url) as rc:
        chat = rc.create_pool("chat", 65536)
        chat.append({"from": "bob", "msg": "seed"}, ["greeting"])
        rc.create_pool("empty-one", 65536)
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:  # an injected alert() would land here
            dialogs.append(dialog.message)
            dialog.dismiss()

        with browser_page() as page:
            page.on("dialog", on_dialog)
            page.goto(srv.base_url + "/ui")
            rows = page.locator("#pools tbody tr")
            rows.first.wait_for()
            assert [r.split("\t")[:3] for r in rows.all_inner_texts()] == [
                ["chat", "1", "1..1"],
                ["empty-one", "0", "empty"],
            ]

            page.get_by_role("link", name="chat").click()
            page.wait_for_url("**/ui/pools/chat")
            assert "seed" in _row(page, 1).inner_text()
            page.locator("#live.on").wait_for()

            # Another process appends: the row arrives over the SSE stream, markup shown as text.
            chat.append({"msg": "<img src=x onerror=alert(1)>"}, ["evil"])
            assert "<img src=x onerror=alert(1)>" in _row(page, 2).inner_text()
            assert page.locator("#log img").count() == 0

            # The browser appends through the API; the message is in the pool and in the log.
            page.fill("#send-data", '{"from": "browser", "msg": "hi from chromium"}')
            page.fill("#send-tags", "ui, test")
            page.get_by_role("button", name="Append").click()
            assert "hi from chromium" in _row(page, 3).inner_text()
            stored = chat.get(3)
            assert (stored.data, list(stored.tags)) == ({"from": "browser", "msg": "hi from chromium"}, ["ui", "test"])

            page.fill("#send-data", "[not json")
            page.get_by_role("button", name="Append").click()
            page.get_by_text("not JSON").wait_for()
            page.fill("#send-data", '"a string"')
            page.get_by_role("button", name="Append").click()
            page.get_by_text("Usage:").wait_for()  # the server's error, shown; nothing appended
            assert rc.pool_info("chat")["bounds"]["newest"] == 3

            page.fill("#filter", "greeting")
            assert _row(page, 1).is_visible()
            assert not _row(page, 3).is_visible()
            assert dialogs == []


def test_ui_on_a_server_with_a_token(serve: Any, tmp_path: Any) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    srv = serve("--token-file", str(token_file))
    with RemoteClient(srv.base_url, token="s3cret") as rc:
        pool = rc.create_pool("guarded", 65536)
        pool.append({"msg": "first"})
        with browser_page() as page:
            page.goto(srv.base_url + "/ui")
            page.get_by_text("Permission: missing or invalid bearer token").wait_for()

            page.goto("about:blank")  # a fresh load (a fragment change alone does not reload)
            page.goto(srv.base_url + "/ui#token=s3cret")  # handed over once, in the fragment
            page.get_by_role("link", name="guarded").click()
            page.wait_for_url("**/ui/pools/guarded")
            assert "#" not in page.url  # the token left the address bar
            assert "first" in _row(page, 1).inner_text()
            page.locator("#live.on").wait_for()
            pool.append({"msg": "second"})
            assert "second" in _row(page, 2).inner_text()
            page.fill("#send-data", '{"msg": "third"}')
            page.get_by_role("button", name="Append").click()
            assert "third" in _row(page, 3).inner_text()
        assert pool.get(3).data == {"msg": "third"}
