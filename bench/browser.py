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

from bench.stores import END, ROOT
from components.navigation import PAGES
from scripts.run_app import _wait_healthy, free_port, served
from telemetry.filters import Filters, TimeRange, to_query_params
from telemetry.queries.pages import PAGE_VIEWS
from tests.browser.conftest import CHROMIUM_ARGS

__all__ = ["browser_times"]

CHROMIUM: Final = "/usr/bin/chromium"
SETTLE_S: Final = 3.0
BROWSER_RUNS: Final = 3  # a view takes seconds: three timed views a page keep the 10M run in budget
# Script run over, and as many drawn Plotly charts as chart elements (at least `min`).
_DRAWN_JS: Final = """(min) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  return charts >= min && plots.length === charts && plots.every(p => p.querySelector('.main-svg'));
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
        _wait_healthy(base, process, 60)
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


def _drawn_after(page: Page, url: str, charts: int) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_DRAWN_JS, arg=charts, timeout=120_000, polling=50)
    return time.perf_counter() - started


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
    charts, times = 0, []
    for i, url in enumerate(urls):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            if i == 0:
                charts = _charts_when_settled(page, url)
            else:
                times.append(_drawn_after(page, url, charts))
        finally:
            context.close()
    return {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
            "charts": charts}


def browser_times(store: Path, runs: int, log: Any = print) -> dict[str, Any]:
    known = {file for file, *_ in PAGES}
    pages = [p for p in PAGE_VIEWS if f"pages/{p}.py" in known]
    result: dict[str, Any] = {"store": store.name, "pages": {}, "skipped": sorted(set(PAGE_VIEWS) - set(pages))}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            with _bare_served() as base:
                result["bare_page"] = _times(browser, [base + "/"] * (min(runs, BROWSER_RUNS) + 1))
            log(f"  bare page: {result['bare_page']['median_s'] * 1000:.0f} ms")
            with served(store, timeout_s=120) as (base, server):
                result["server_rss_after_start_mb"] = round(_status_mb(server.pid, "VmRSS"), 1)
                for k, page in enumerate(pages):
                    urls = [_view_url(base, page, 60 * (k + 1) + i) for i in range(min(runs, BROWSER_RUNS) + 1)]
                    found = _times(browser, urls)
                    found["over_bare"] = round(found["median_s"] / result["bare_page"]["median_s"], 2)
                    result["pages"][page] = found
                    log(f"  {page:<13}: {found['median_s'] * 1000:.0f} ms to {found['charts']} charts drawn "
                        f"({found['over_bare']}x the bare page)")
                result["server_rss_mb"] = round(_status_mb(server.pid, "VmRSS"), 1)
                result["server_peak_rss_mb"] = round(_status_mb(server.pid, "VmHWM"), 1)
        finally:
            browser.close()
    return result
