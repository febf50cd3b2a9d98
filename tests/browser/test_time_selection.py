"""A drag across a time chart in headless Chromium sets the whole dashboard's range (the URL
included), and the sidebar's "Back to …" returns to the range before."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_no_error, settle

pytestmark = pytest.mark.browser


def _drag_across(page: Page, chart_index: int, start: float, end: float) -> None:
    """Press, move and release the mouse across the plot area of a chart, from `start` to `end` of its width."""
    area = page.locator(".js-plotly-plot .nsewdrag").nth(chart_index)
    box = area.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (start + (end - start) * step / 10), y)
    page.mouse.up()


def test_a_drag_across_a_time_chart_narrows_the_range_and_back_returns(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(f"{app_url}/request-rate?range=24h")
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=180_000)  # a slow shared machine
    settle(page)
    _drag_across(page, 0, 0.25, 0.5)
    page.wait_for_function("location.search.includes('from=')", timeout=30_000)
    settle(page)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    assert_no_error(page)
    query = parse_qs(urlsplit(page.evaluate("location.href")).query)
    assert "range" not in query
    start, end = (query[k][0] for k in ("from", "to"))
    hours = (pd_time(end) - pd_time(start)).total_seconds() / 3600
    assert 4 <= hours <= 8, (start, end)  # a quarter of 24 hours, give or take the plot's margins
    sidebar = page.locator('[data-testid="stSidebar"]')
    back = sidebar.get_by_role("button", name=re.compile("Back to last 24h"))
    expect(back).to_be_visible()
    back.click()
    page.wait_for_function("!location.search.includes('from=')", timeout=30_000)  # 24h is the default range
    settle(page)
    expect(sidebar.get_by_role("combobox", name="Time range")).to_have_value("Last 24h")


def pd_time(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
