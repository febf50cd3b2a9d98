"""Serve the app on the demo store and drive it in Debian's headless Chromium.

Screenshots land in test-artifacts/screenshots/ (kept by CI as artifacts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scripts.run_app import served

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ENDPOINT_MONITOR_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
# Without the background-networking switches Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def live_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store ending now, so the relative ranges a person picks show data."""
    from telemetry.demo import build_demo_store

    path = tmp_path_factory.mktemp("live") / "demo.duckdb"
    return build_demo_store(path, requests_per_day=3_000, days=7, seed=7)


@pytest.fixture(scope="session")
def app_url(live_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with log_path.open("wb") as log, served(live_store, log=log) as (base, _):
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the README's test command installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# The dark theme as a person picks it (Settings → Dark): Streamlit keeps the choice in localStorage,
# keyed by the page's path. A URL ending in #dark sets it before the app starts, so dark screenshots
# show the whole page (embed_options=dark_theme would also turn on the compact embed layout).
_DARK = "if (location.hash === '#dark') localStorage.setItem(`stActiveTheme-${location.pathname}-v2`, '\"Dark\"')"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.add_init_script(_DARK)
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


CHART = ".js-plotly-plot .main-svg"
THEMES = {"light": "", "dark": "#dark"}  # appended to a URL


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the script run (and its fragments)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)


def open_drawn(page: Page, url: str, *, height: int = 3000) -> None:
    """Open `url` and wait for its first chart. Streamlit scrolls inside its own container, so a
    tall window gets the whole page into a screenshot."""
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(url)
    settle(page)
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(500)  # let Plotly finish laying out before the screenshot


def assert_no_error(page: Page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
