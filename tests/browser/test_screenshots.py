"""Screenshots a person would see: the main pages in light and dark at 1400 and 1024 px, and a
panel in a 600×400 wiki iframe. Saved to test-artifacts/screenshots/ (the README's come from here);
each view must draw its charts without an error box."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHART, THEMES, assert_no_error, screenshot, settle

pytestmark = pytest.mark.browser

PAGES = {"overview": "", "latency": "response-times", "failures": "failure-rate"}


@pytest.mark.parametrize("width", [1400, 1024])
@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize("name", list(PAGES))
def test_main_pages_in_both_themes_at_two_widths(page: Page, app_url: str, name: str, theme: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 2600})
    page.goto(f"{app_url}/{PAGES[name]}?range=7d{THEMES[theme]}")
    expect(page.locator(CHART).first).to_be_visible(timeout=120_000)  # a shared machine can be slow
    settle(page)
    page.wait_for_timeout(800)  # Plotly relayouts to the new width
    assert_no_error(page)
    background = page.locator('[data-testid="stApp"]').evaluate("e => getComputedStyle(e).backgroundColor")
    dark = sum(int(c) for c in background.strip("rgba()").split(",")[:3]) / 3 < 128
    assert dark == (theme == "dark"), background
    screenshot(page, f"{name}-page-{theme}-{width}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_panel_in_a_600_by_400_iframe(page: Page, app_url: str, theme: str) -> None:
    options = "&embed_options=dark_theme" if theme == "dark" else ""
    src = f"{app_url}/?range=7d&embed=true&panel=overview.requests{options}"
    page.set_viewport_size({"width": 640, "height": 440})
    page.set_content(f'<iframe src="{src}" width="600" height="400" style="border:1px solid #ccc"></iframe>')
    frame = page.frame_locator("iframe")
    expect(frame.locator(CHART).first).to_be_visible(timeout=120_000)
    expect(frame.locator('[data-testid="stMetricValue"]')).to_be_visible()
    expect(frame.get_by_role("link", name="Open the full view ↗")).to_be_visible()
    page.wait_for_timeout(800)
    path = screenshot(page, f"iframe-600x400-{theme}")
    assert path.stat().st_size > 0
