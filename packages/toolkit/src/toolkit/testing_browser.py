"""A real Chromium for web UI tests, driven by playwright (imported only by the tests that use it).

playwright cannot download its own browser here, so it drives the system's chromium (Debian's
`chromium` package, which `tools/ci/ensure-system-deps.sh` installs). A missing browser fails the
test with the command that installs it, never a silent skip:

    from toolkit.testing_browser import browser_page

    def test_index(server_url: str) -> None:
        with browser_page() as page:
            page.goto(server_url)
            page.get_by_role("button", name="Create").click()

`TOOLKIT_CHROMIUM` names another Chromium executable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["browser_page", "chromium_executable"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_executable() -> str:
    """The Chromium the tests drive: `$TOOLKIT_CHROMIUM`, else the first of chromium/chrome on PATH."""
    configured = os.environ.get("TOOLKIT_CHROMIUM")
    if configured:
        return configured
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise LookupError(
        "no Chromium found for the web UI tests: run `bash tools/ci/ensure-system-deps.sh` "
        "(apt-get install chromium) or set TOOLKIT_CHROMIUM"
    )


@contextmanager
def browser_page(*, timeout_ms: float = 30_000) -> Iterator[Page]:
    """A fresh headless Chromium page (own browser context, no shared cookies), closed afterwards.

    The default timeout is generous: tests run on loaded 2-core machines.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as driver:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        browser = driver.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
            context.close()
        finally:
            browser.close()
