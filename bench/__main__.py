"""`python -m bench`: how fast every page is at 100k, 1M and 10M requests, and against what.

    python -m bench [--sizes 100k,1m,10m] [--runs 5] [--skip-browser] [--out bench] [--stores bench/stores]

For each size: build the demo store once (bench/stores/, reused while its parameters match),
time each page's data against the pandas baseline and the single-scan floor (bench/data.py),
count Logs API requests and bytes per page view (bench/logs_api.py); on the largest store, time
each page in headless Chromium against a bare page and read the server's memory
(bench/browser.py). Writes <out>/results.json and <out>/results.md (the README's table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from bench import stores  # noqa: E402
from bench.data import page_data  # noqa: E402
from bench.report import markdown, targets  # noqa: E402


def _log(text: str) -> None:
    print(text, flush=True)


def _sizes(text: str) -> list[str]:
    labels = [part.strip().lower() for part in text.split(",") if part.strip()]
    for label in labels:
        stores.parse_size(label)  # fail early on a bad size
    return sorted(labels, key=stores.parse_size)


def _machine() -> dict[str, Any]:
    cpus = os.cpu_count() or 0
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "summary": f"{cpus} CPU cores, {memory_gb:.0f} GB RAM, Python {platform.python_version()}, "
                   f"DuckDB {duckdb.__version__}, pandas {pd.__version__}",
        "cpus": cpus, "memory_gb": round(memory_gb, 1), "python": platform.python_version(),
        "duckdb": duckdb.__version__, "pandas": pd.__version__, "platform": platform.platform(),
    }


def _logs_api(store: Path) -> list[dict[str, Any]]:
    from bench.logs_api import page_requests

    return page_requests(store)


def run(sizes: list[str], runs: int, browser: bool, out: Path, store_dir: Path = stores.STORE_DIR) -> dict[str, Any]:
    started = time.perf_counter()
    # The machine may be shared: its load says how much the figures were squeezed.
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    results: dict[str, Any] = {"sizes": sizes, "runs": runs, "machine": _machine(),
                               "started": datetime.now(UTC).isoformat(timespec="seconds"),
                               "stores": {}, "data": {}, "logs_api": {}, "browser": None}
    for label in sizes:
        spec = stores.spec(label, store_dir)
        results["stores"][label] = stores.ensure(spec, _log)
        _log(f"page data on {label}:")
        results["data"][label] = page_data(spec.path, runs, _log)
        _log(f"Logs API on {label}:")
        results["logs_api"][label] = _logs_api(spec.path)
    if browser:
        from bench.browser import browser_times

        _log(f"browser on {sizes[-1]}:")
        small = stores.spec(sizes[0], store_dir).path if len(sizes) > 1 else None
        results["browser"] = browser_times(stores.spec(sizes[-1], store_dir).path, runs, _log, small)
    results["total_s"] = round(time.perf_counter() - started, 1)
    results["load_average"] = {"start": load_at_start, "end": [round(x, 2) for x in os.getloadavg()]}
    out.mkdir(parents=True, exist_ok=True)
    if (previous := out / "results.json").exists():  # bench/capacity.py's figures: kept until it runs again
        if capacity := json.loads(previous.read_text()).get("capacity"):
            results["capacity"] = capacity
    results["targets"] = targets(results)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m,10m", type=_sizes,
                        help="store sizes in requests, comma-separated (default 100k,1m,10m)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement, after a warm-up")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium timings")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="where results.json/.md go")
    parser.add_argument("--stores", type=Path, default=stores.STORE_DIR, help="where the demo stores are kept")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    results = run(args.sizes, args.runs, not args.skip_browser, args.out, args.stores)
    for check in results["targets"]:
        _log(f"{'met   ' if check['met'] else 'MISSED'} {check['target']}: {check['worst']} (limit {check['limit']})")
    _log(f"done in {results['total_s']} s; wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
