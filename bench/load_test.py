"""Load test: N browser sessions open pages of the served app for a while; loopback only.

    python -m bench.load_test --store bench/stores/10M.duckdb --sessions 20 --seconds 120

Each session (a Chromium context) opens a random page with a random range and service, waits
until the page is drawn, and starts again; the run stops by itself after --seconds. Reports the
p50/p95 time to a drawn page, errors, pages served and the server's peak memory (RSS), as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.navigation import PAGES  # noqa: E402
from scripts.run_app import served  # noqa: E402
from telemetry.store import connect as store_connection  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: E402

RANGES = [timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=7)]
SERVICES = ["", "churn-regressor", "image-classifier", "fraud-scorer"]
DRAWN = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _windows(store: Path) -> list[str]:
    """Absolute ranges ending at the store's last request: a benchmark store ends on a fixed day,
    and relative ranges ending now would show empty pages, fast for the wrong reason."""
    with store_connection(store) as con:
        end = con.execute("SELECT max(timestamp) FROM requests").fetchone()[0]
    iso = "%Y-%m-%dT%H:%MZ"
    return [f"from={(end - span):{iso}}&to={end:{iso}}" for span in RANGES]


async def _session(browser, base: str, stop_at: float, rng: random.Random, times: list[float],
                   errors: list[str], windows: list[str]) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    while time.monotonic() < stop_at:
        path = rng.choice([("" if i == 0 else p[3]) for i, p in enumerate(PAGES)])
        query = rng.choice(windows)
        if service := rng.choice(SERVICES):
            query += f"&service={service}"
        started = time.monotonic()
        try:
            await page.goto(f"{base}/{path}?{query}")
            await page.wait_for_selector(DRAWN, timeout=60_000)
            if await page.locator('[data-testid="stException"]').count():
                errors.append(f"exception box on /{path}?{query}")
            times.append(time.monotonic() - started)
        except Exception as error:  # noqa: BLE001 - every failure is a finding to report
            errors.append(f"/{path}?{query}: {type(error).__name__}: {str(error)[:200]}")
    await context.close()


async def _load(
    base: str, sessions: int, seconds: float, seed: int, windows: list[str],
) -> tuple[list[float], list[str]]:
    times: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                   args=CHROMIUM_ARGS)
        await asyncio.gather(*(_session(browser, base, stop_at, random.Random(seed + i), times, errors, windows)
                               for i in range(sessions)))
        await browser.close()
    return times, errors


def _measure(
    base: str, server: subprocess.Popen[bytes], args: argparse.Namespace,
) -> tuple[list[float], list[str], float]:
    """Drive the sessions while sampling the server's memory; the pages' times, errors and peak RSS."""
    peak = [0.0]

    async def _watch() -> None:
        while server.poll() is None:
            peak[0] = max(peak[0], _rss_mb(server.pid))
            await asyncio.sleep(0.5)

    async def _run() -> tuple[list[float], list[str]]:
        watcher = asyncio.create_task(_watch())
        try:
            return await _load(base, args.sessions, args.seconds, args.seed, _windows(args.store))
        finally:
            watcher.cancel()

    times, errors = asyncio.run(_run())
    return times, errors, peak[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "load_results.json")
    args = parser.parse_args()
    with served(args.store) as (base, server):
        times, errors, peak = _measure(base, server, args)
    quantiles = statistics.quantiles(times, n=20) if len(times) >= 2 else [float("nan")] * 19
    result = {
        "store": str(args.store), "sessions": args.sessions, "seconds": args.seconds,
        "pages_drawn": len(times), "errors": len(errors), "error_samples": errors[:10],
        "p50_s": statistics.median(times) if times else None, "p95_s": quantiles[18],
        "server_peak_rss_mb": round(peak, 1),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
