"""Opening the dashboard asks nothing of any other host: its page icon included (a :material/…:
page icon was fetched from Google's font CDN on every load)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import settle

pytestmark = pytest.mark.browser


def test_a_page_load_requests_nothing_from_another_host(page: Page, app_url: str) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{app_url}/response-times")
    settle(page)
    own = urlsplit(app_url).netloc
    page.wait_for_function("() => /\\/media\\//.test(document.querySelector('link[rel~=\"icon\"]').href)")
    icons = page.eval_on_selector_all('link[rel~="icon"]', "links => links.map(l => l.href)")
    assert icons and all(urlsplit(href).netloc == own for href in icons), icons
    elsewhere = [url for url in asked if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own]
    assert elsewhere == []
