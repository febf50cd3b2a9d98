"""The latency and overview pages in headless Chromium: their Plotly charts drawn, no exception
box, in the light and the dark theme; screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHART, THEMES, assert_no_error, open_drawn, screenshot, settle

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_overview_is_the_default_page_with_four_headlines_and_trends(page: Page, app_url: str,
                                                                         theme: str) -> None:
    open_drawn(page, f"{app_url}/?range=7d{THEMES[theme]}")
    assert_no_error(page)
    expect(page.locator('[data-testid="stMain"] h1')).to_have_text("Overview")
    expect(page.locator(CHART).nth(3)).to_be_visible(timeout=30_000)
    assert page.locator(".js-plotly-plot").count() == 4
    for label in ("Requests", "Failure rate", "p95 duration", "Failed dependency calls"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    screenshot(page, f"overview-page-{theme}")


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_latency_page_draws_its_charts_and_tables(page: Page, app_url: str, theme: str) -> None:
    open_drawn(page, f"{app_url}/response-times?range=7d{THEMES[theme]}")
    assert_no_error(page)
    assert page.locator(".js-plotly-plot").count() == 2  # percentiles over time, distribution
    for title in ("p50 / p95 / p99 per service (mean dotted)", "Distribution of durations",
                  "Slowest operations (p95 against the previous period)", "Slowest 20 requests"):
        expect(page.get_by_text(title, exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^p95 \d"))).to_be_visible()  # the marker on the histogram
    screenshot(page, f"latency-page-{theme}")


def test_a_headline_opens_its_page_with_the_same_filters(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/?range=7d&split=operation")
    page.locator('[data-testid="stMain"]').get_by_role("link", name=re.compile("Open Latency")).click()
    page.wait_for_url(re.compile(r"/response-times\?"), timeout=30_000)
    settle(page)
    assert "range=7d" in page.url and "split=operation" in page.url
    expect(page.get_by_text("p50 / p95 / p99 per operation (mean dotted)", exact=True)).to_be_visible(timeout=30_000)
    assert_no_error(page)


@pytest.mark.parametrize("path", ["response-times?panel=latency.distribution", "?panel=overview.p95"])
def test_one_panel_alone_draws_one_chart(page: Page, app_url: str, path: str) -> None:
    open_drawn(page, f"{app_url}/{path}&range=7d&embed=true")
    assert page.locator(".js-plotly-plot").count() == 1
    expect(page.locator("h1")).to_have_count(0)
    screenshot(page, f"single-panel-{path.split('=')[-1]}")


@pytest.mark.parametrize("path", ["response-times", ""])
def test_an_empty_range_says_so_without_a_chart(page: Page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}?from=2020-01-01T00:00Z&to=2020-01-02T00:00Z")
    settle(page)
    expect(page.get_by_text("No requests in").first).to_be_visible(timeout=30_000)
    assert_no_error(page)
    assert page.locator(".js-plotly-plot").count() == 0
    screenshot(page, f"{path or 'overview'}-empty")
