"""The failure-rate and dependencies pages in headless Chromium: their Plotly charts drawn, no
exception box, in the light and the dark theme; screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot .main-svg"
FEATURES = "features.contoso.internal"
THEMES = {"light": "", "dark": "&embed=true&embed_options=dark_theme"}


def _open(page: Page, url: str) -> None:
    # Streamlit scrolls inside its own container: a tall window gets the whole page in the screenshot.
    page.set_viewport_size({"width": 1400, "height": 3200})
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)  # let Plotly finish laying out before the screenshot


def _no_exception(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_failure_rate_page_draws_its_charts(page: Page, app_url: str, theme: str) -> None:
    _open(page, f"{app_url}/failure-rate?range=7d{THEMES[theme]}")
    _no_exception(page)
    assert page.locator(".js-plotly-plot").count() == 3  # failure rate, failed count, failed result codes
    for title in ("Failure rate per service", "Result codes", "Top failing operations",
                  "Exceptions raised in failed requests"):
        expect(page.get_by_text(title, exact=True)).to_be_visible()
    screenshot(page, f"failures-page-{theme}")


@pytest.mark.parametrize("theme", list(THEMES))
def test_the_dependencies_page_draws_its_charts_and_a_chosen_dependency(page: Page, app_url: str, theme: str) -> None:
    _open(page, f"{app_url}/dependency-calls?range=7d&dependency={FEATURES}{THEMES[theme]}")
    _no_exception(page)
    assert page.locator(".js-plotly-plot").count() >= 3  # over time, slowest, most failing (+ distribution)
    expect(page.get_by_text(f"Operations calling {FEATURES}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Result codes of {FEATURES}", exact=True)).to_be_visible()
    screenshot(page, f"dependencies-page-{theme}")


def test_the_dependency_measure_switches_the_chart_to_p95_on_a_log_axis(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/dependency-calls?range=7d")
    page.locator('[data-testid="stButtonGroup"]').get_by_text("p95 duration", exact=True).click()
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    expect(page.get_by_text("p95 duration (ms)").first).to_be_visible(timeout=30_000)
    _no_exception(page)


@pytest.mark.parametrize("panel", ["failure-rate?panel=failures.rate", "dependency-calls?panel=dependencies.slowest"])
def test_one_panel_alone_draws_one_chart(page: Page, app_url: str, panel: str) -> None:
    _open(page, f"{app_url}/{panel}&range=7d&embed=true")
    assert page.locator(".js-plotly-plot").count() == 1
    expect(page.locator("h1")).to_have_count(0)


def test_an_empty_range_says_so_without_a_chart(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/dependency-calls?from=2020-01-01T00:00Z&to=2020-01-02T00:00Z&dependency=nowhere")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    expect(page.get_by_text("No dependency calls in").first).to_be_visible(timeout=30_000)
    _no_exception(page)
    assert page.locator(".js-plotly-plot").count() == 0
    screenshot(page, "dependencies-page-empty")
