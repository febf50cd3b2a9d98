"""The served app in headless Chromium: what a person opening a link actually sees."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from components.navigation import PAGES
from scripts.run_app import served
from tests.browser.conftest import CHART, THEMES, screenshot, settle

pytestmark = pytest.mark.browser

RANGE = "range=7d"
URL_PATHS = ["" if i == 0 else url for i, (_, _, _, url) in enumerate(PAGES)]
REQUESTS = "request-rate"  # the request-rate page (the overview is the default page, at /)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    settle(page)
    page.wait_for_timeout(500)


@pytest.mark.parametrize("path", URL_PATHS)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_draws_without_an_exception_box(page: Page, app_url: str, path: str, theme: str) -> None:
    _open(page, f"{app_url}/{path}?{RANGE}{THEMES[theme]}")
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator("h1").first).to_be_visible()
    screenshot(page, f"{path or 'home'}-{theme}")


def test_the_request_page_draws_its_plotly_charts(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}")
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    assert page.locator(CHART).count() >= 2


def test_a_copied_link_reopens_the_same_filters_in_a_new_browser(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?range=6h&split=operation&grain=15m")
    page.get_by_role("button", name=re.compile("Copy link")).click()
    link = page.locator('[data-testid="stPopoverBody"] code').inner_text().strip()
    assert "range=6h" in link and "split=operation" in link and "grain=15m" in link
    other = page.context.browser.new_context()
    try:
        fresh = other.new_page()
        _open(fresh, link)
        sidebar = fresh.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_role("combobox", name="Time range")).to_have_value("Last 6h")
        expect(sidebar.get_by_role("combobox", name="Grain")).to_have_value("15m")
        expect(fresh.get_by_text("Requests per operation", exact=True)).to_be_visible()
    finally:
        other.close()


def test_embed_mode_is_compact_and_links_to_the_full_view(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}&embed=true")
    expect(page.locator('[data-testid="stSidebar"]')).to_have_count(0)
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    expect(page.locator("h1")).to_have_count(0)
    expect(page.get_by_text("Query behind this panel")).to_have_count(0)
    full = page.get_by_role("link", name=re.compile("Open the full view"))
    href = full.get_attribute("href") or ""
    assert "embed" not in href and RANGE in href and href.startswith(app_url)


def test_single_panel_mode_shows_one_chart_alone(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}&embed=true&panel=requests.rate")
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    assert page.locator(".js-plotly-plot").count() == 1
    expect(page.locator("h1")).to_have_count(0)
    screenshot(page, "single-panel")


def test_csv_download_returns_the_tables_rows(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="CSV", exact=True).first.click()
    text = download_info.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {"Operation", "Requests", "Share"} <= set(rows[0])
    assert any(row["Operation"] == "POST /score" for row in rows)


def test_a_charts_data_downloads_as_csv_from_its_details(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}&panel=requests.rate")
    page.get_by_text("Query behind this panel").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Data as CSV").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert rows and {"bucket", "series", "requests", "failed"} <= set(rows[0])
    assert sum(int(row["requests"]) for row in rows) > 0


def test_dark_theme_applies_to_the_charts(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}&embed=true&embed_options=dark_theme")
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    tick = page.locator(".js-plotly-plot .xtick text").first
    fill = tick.evaluate("e => getComputedStyle(e).fill")
    channels = [int(c) for c in re.findall(r"\d+", fill)[:3]]
    assert sum(channels) / 3 > 128, f"axis labels should be light on a dark page, got {fill}"


def test_auto_refresh_updates_the_timestamp(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/{REQUESTS}?{RANGE}&refresh=30s")
    stamp = page.get_by_text(re.compile(r"updated \d\d:\d\d:\d\d UTC"))
    expect(stamp).to_be_visible()
    first = stamp.inner_text()
    expect(stamp).not_to_have_text(first, timeout=45_000)


def test_the_first_visitor_of_a_fresh_server_opens_a_deep_link_without_a_page_not_found(
    page: Page, live_store: Path,
) -> None:
    with served(live_store) as (base, _):
        _open(page, f"{base}/{URL_PATHS[-1]}?{RANGE}")
        expect(page.get_by_role("heading", name=PAGES[-1][1])).to_be_visible()
        expect(page.get_by_text("Page not found")).to_have_count(0)


def test_choosing_an_exception_group_shows_its_stack_at_once(page: Page, app_url: str) -> None:
    exceptions_page = next(url for path, _, _, url in PAGES if path == "pages/exceptions.py")
    _open(page, f"{app_url}/{exceptions_page}?{RANGE}")
    page.get_by_role("combobox", name="Show a group's stack trace and sample requests").click()
    page.keyboard.press("ArrowDown")  # the first group
    page.keyboard.press("Enter")
    expect(page.get_by_text("Stack trace", exact=True)).to_be_visible(timeout=30_000)
    assert "problem=" in page.url
