"""The failure-rate and dependencies pages in headless Chromium: their Plotly charts drawn, no
exception box, in the light and the dark theme (screenshots in test-artifacts/screenshots/); a
dependency chosen in the list or on the chart, and a service clicked on a chart, go into the URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHART, THEMES, assert_no_error, open_drawn, screenshot, settle

pytestmark = pytest.mark.browser

FEATURES = "features.contoso.internal"


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_failure_rate_page_draws_its_charts(page: Page, app_url: str, theme: str) -> None:
    open_drawn(page, f"{app_url}/failure-rate?range=7d{THEMES[theme]}", height=3200)
    assert_no_error(page)
    assert page.locator(".js-plotly-plot").count() == 3  # failure rate, failed count, failed result codes
    for title in ("Failure rate per service", "Result codes", "Top failing operations",
                  "Exceptions raised in failed requests"):
        expect(page.get_by_text(title, exact=True)).to_be_visible()
    screenshot(page, f"failures-page-{theme}")


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_dependencies_page_draws_its_charts_and_a_chosen_dependency(page: Page, app_url: str, theme: str) -> None:
    open_drawn(page, f"{app_url}/dependency-calls?range=7d&dependency={FEATURES}{THEMES[theme]}", height=3200)
    assert_no_error(page)
    assert page.locator(".js-plotly-plot").count() >= 3  # over time, slowest, most failing (+ distribution)
    expect(page.get_by_text(f"Operations calling {FEATURES}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Result codes of {FEATURES}", exact=True)).to_be_visible()
    screenshot(page, f"dependencies-page-{theme}")


def test_the_dependency_measure_switches_the_chart_to_p95_on_a_log_axis(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/dependency-calls?range=7d", height=3200)
    page.locator('[data-testid="stButtonGroup"]').get_by_text("p95 duration", exact=True).click()
    settle(page)
    expect(page.get_by_text("p95 duration (ms)").first).to_be_visible(timeout=30_000)
    assert_no_error(page)


@pytest.mark.parametrize("panel", ["failure-rate?panel=failures.rate", "dependency-calls?panel=dependencies.slowest"])
def test_one_panel_alone_draws_one_chart(page: Page, app_url: str, panel: str) -> None:
    open_drawn(page, f"{app_url}/{panel}&range=7d&embed=true", height=3200)
    assert page.locator(".js-plotly-plot").count() == 1
    expect(page.locator("h1")).to_have_count(0)


def test_an_empty_range_says_so_without_a_chart(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/dependency-calls?from=2020-01-01T00:00Z&to=2020-01-02T00:00Z&dependency=nowhere")
    settle(page)
    expect(page.get_by_text("No dependency calls in").first).to_be_visible(timeout=30_000)
    assert_no_error(page)
    assert page.locator(".js-plotly-plot").count() == 0
    screenshot(page, "dependencies-page-empty")


def _click_a_bar(page: Page, chart: int) -> None:
    """Click the tallest bar of the `chart`-th Plotly chart (a bar of 0 has nothing to click)."""
    bars = page.locator(".js-plotly-plot").nth(chart).locator("g.point path")
    boxes = [box for i in range(bars.count()) if (box := bars.nth(i).bounding_box())]
    tallest = max(boxes, key=lambda box: box["height"])
    page.mouse.click(tallest["x"] + tallest["width"] / 2, tallest["y"] + tallest["height"] / 2)


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_choosing_a_dependency_shows_its_panels_and_puts_it_in_the_url(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/dependency-calls?range=7d", height=3200)
    page.get_by_role("combobox", name="Show a dependency").click()
    page.get_by_role("option", name=FEATURES, exact=True).click()
    expect(page.get_by_text(f"Operations calling {FEATURES}", exact=True)).to_be_visible(timeout=30_000)
    assert _query(page)["dependency"] == [FEATURES]
    assert_no_error(page)


def test_a_click_on_a_dependency_in_the_chart_chooses_it(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/dependency-calls?range=7d", height=3200)
    _click_a_bar(page, 0)
    expect(page.get_by_text(re.compile(r"^Operations calling "))).to_be_visible(timeout=30_000)
    assert _query(page)["dependency"][0] in {FEATURES, "tcp:sql-ml.database.windows.net | featuresdb",
                                             "contosoimages.blob.core.windows.net", "mlstore123.blob.core.windows.net"}


def test_a_click_on_a_service_in_a_failure_chart_narrows_every_page_to_it(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/failure-rate?range=7d", height=3200)
    _click_a_bar(page, 1)  # failed requests per service
    expect(page).to_have_url(re.compile(r"service="), timeout=30_000)
    settle(page)
    (service,) = _query(page)["service"]
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text(service, exact=True)).to_be_visible()  # the sidebar follows the URL
    latency_link = sidebar.get_by_role("link", name="Latency")
    assert f"service={service}" in (latency_link.get_attribute("href") or "")
    assert_no_error(page)
