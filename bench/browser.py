"""Headless Chromium: time from navigation to every chart drawn, per page, against a bare page.

The app is served with the benchmark store (`ENDPOINT_MONITOR_STORE`); the bare page
(bench/bare_page.py, one Plotly chart, no queries) is served beside it. A view counts as drawn
when Streamlit's script run is over and every Plotly chart the page shows has drawn its SVG.

Every timed view asks a range the server has not answered yet (each run's range ends a minute
earlier than the last), so the answer cache never serves it: the time includes the page's
queries, as for a user who just changed the range. A first, untimed view of each page warms up
the server (imports, the first connection) and counts the page's charts.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from playwright.sync_api import Page, sync_playwright

from bench.data import TIMED_PAGES
from bench.stores import END, ROOT
from components.navigation import PAGES
from scripts.run_app import wait_healthy, free_port, served
from telemetry.filters import Filters, TimeRange, to_query_params
from tests.browser.conftest import CHROMIUM_ARGS

__all__ = ["browser_times"]

CHROMIUM: Final = "/usr/bin/chromium"
SETTLE_S: Final = 3.0
BROWSER_RUNS: Final = 3  # a view takes seconds: three timed views a page keep the 10M run in budget
# Before any page script: note when Streamlit's script run starts and when it last ends, in ms
# since navigation started (performance.now()), to tell the server's part from the browser's.
_TIMELINE_JS: Final = """window.__bench = {running: null, done: null};
new MutationObserver(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state === 'running' && window.__bench.running === null) window.__bench.running = performance.now();
  if (state === 'notRunning' && window.__bench.running !== null) window.__bench.done = performance.now();
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-test-script-state']});"""
# Drawn: the script run is over and as many Plotly charts as chart elements (at least `min`) have
# drawn their SVG. Answers the timeline then.
_DRAWN_JS: Final = """(min) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  if (!(charts >= min && plots.length === charts && plots.every(p => p.querySelector('.main-svg')))) return false;
  return {drawn: performance.now(), running: window.__bench.running, done: window.__bench.done};
}"""


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def _bare_served() -> Iterator[str]:
    """bench/bare_page.py on a free loopback port (the app itself starts through scripts/run_app.py)."""
    base = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "bench/bare_page.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", base.rsplit(":", 1)[1],
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(base, process, 60)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _view_url(base: str, page: str, minutes_earlier: int) -> str:
    """The page's default view of the last day of the demo data, ending `minutes_earlier` before its end."""
    path = next((url if i else "" for i, (file, _, _, url) in enumerate(PAGES) if file == f"pages/{page}.py"))
    end = END - timedelta(minutes=minutes_earlier)
    params = to_query_params(Filters(TimeRange(None, end - timedelta(hours=24), end)))
    return f"{base}/{path}?{urlencode(params, doseq=True)}"


def _drawn_after(page: Page, url: str, charts: int) -> dict[str, float]:
    """Seconds from navigation to: the script run starting, it ending, every chart drawn."""
    page.goto(url)
    marks = page.wait_for_function(_DRAWN_JS, arg=charts, timeout=120_000, polling=50).json_value()
    return {"drawn_s": marks["drawn"] / 1000, "script_start_s": (marks["running"] or 0) / 1000,
            "script_end_s": (marks["done"] or marks["drawn"]) / 1000}


def _charts_when_settled(page: Page, url: str) -> int:
    """How many charts a drawn view has: Streamlit adds charts for a while after the script run
    ends (Plotly loads lazily), so count once the number stayed the same for SETTLE_S."""
    _drawn_after(page, url, 1)
    count, since = -1, time.perf_counter()
    while time.perf_counter() - since < SETTLE_S:
        now = page.locator('[data-testid="stPlotlyChart"]').count()
        if now != count:
            count, since = now, time.perf_counter()
        page.wait_for_timeout(100)
    return count


def _times(browser: Any, urls: list[str]) -> dict[str, Any]:
    """Count the charts on urls[0] (the warm-up), then time each other url in a fresh browser
    context (a new session, nothing cached in the browser) until that many charts are drawn."""
    charts, views = 0, []
    for i, url in enumerate(urls):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.add_init_script(_TIMELINE_JS)
            if i == 0:
                charts = _charts_when_settled(page, url)
            else:
                views.append(_drawn_after(page, url, charts))
        finally:
            context.close()
    def median(key: str) -> float:
        return round(statistics.median(v[key] for v in views), 3)

    return {"median_s": median("drawn_s"), "runs_s": [round(v["drawn_s"], 3) for v in views], "charts": charts,
            # where the time goes: loading the app and its session, the script run (our queries
            # and the elements it sends), and drawing after the run
            "script_start_s": median("script_start_s"), "script_end_s": median("script_end_s")}


def browser_times(store: Path, runs: int, log: Any = print, small_store: Path | None = None) -> dict[str, Any]:
    """Every page on `store` and the bare page; with `small_store`, the page with the most data
    work again on it, to tell the data's share of a page's time from the app's own."""
    known = {file for file, *_ in PAGES}
    pages = [p for p in TIMED_PAGES if f"pages/{p}.py" in known]
    views = min(runs, BROWSER_RUNS) + 1  # a warm-up, then the timed views
    result: dict[str, Any] = {"store": store.name, "pages": {}, "skipped": sorted(set(TIMED_PAGES) - set(pages))}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            with _bare_served() as base:
                result["bare_page"] = bare = _times(browser, [base + "/"] * views)
            log(f"  bare page: {_phases(bare)}")
            with served(store, timeout_s=120) as (base, server):
                result["server_rss_after_start_mb"] = round(_status_mb(server.pid, "VmRSS"), 1)
                for k, page in enumerate(pages):
                    found = _times(browser, [_view_url(base, page, 60 * (k + 1) + i) for i in range(views)])
                    found["over_bare"] = round(found["median_s"] / bare["median_s"], 2)
                    result["pages"][page] = found
                    log(f"  {page:<13}: {_phases(found)}, {found['over_bare']}x the bare page")
                result["server_rss_mb"] = round(_status_mb(server.pid, "VmRSS"), 1)
                result["server_peak_rss_mb"] = round(_status_mb(server.pid, "VmHWM"), 1)
            if small_store is not None and pages:
                result["small_store"] = _on_small_store(browser, small_store, result, views, log)
        finally:
            browser.close()
    return result


def _on_small_store(browser: Any, store: Path, result: dict[str, Any], views: int, log: Any) -> dict[str, Any]:
    page = max(result["pages"], key=lambda p: result["pages"][p]["median_s"])  # the slowest on the big store
    with served(store, timeout_s=120) as (base, _):
        found = _times(browser, [_view_url(base, page, 60 + i) for i in range(views)])
    log(f"  {page} on {store.name}: {_phases(found)}")
    return {"store": store.name, "page": page, **found}


def _phases(found: dict[str, Any]) -> str:
    return (f"{found['median_s'] * 1000:.0f} ms to {found['charts']} charts drawn (script ran from "
            f"{found['script_start_s']:.2f} to {found['script_end_s']:.2f} s)")
