"""Each page's data on one store: our time against the pandas baseline and the single-scan floor.

"Our time" is the page's default batch (`page_queries`) as `LocalSource.run` answers it, through
a fresh source each run: no answer cache, a new DuckDB connection, as on a cache miss after a
server start. The ranges end at the demo's fixed end, so every run reads the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from bench.baseline import floor_scan, pandas_page
from bench.stores import END
from bench.timing import measure_interleaved
from telemetry.filters import PRESETS, Filters, TimeRange
from telemetry.model import Query, RenderContext
from telemetry.queries.pages import PAGE_VIEWS, page_queries
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource

__all__ = ["RANGES", "TIMED_PAGES", "context", "page_data"]

RANGES: Final = ("24h", "7d")
# The Model page reads and parses every payload logged in its range (and the two ranges before):
# from 1M requests on, its 7-day view passes the local store's 30 s query limit on 2 cores, which
# would stop the whole run. It has a benchmark of its own, bench/model_bench.py.
TIMED_PAGES: Final = tuple(page for page in PAGE_VIEWS if page != "model")
BASELINE_BUDGET_S: Final = 8.0


def context(range_name: str) -> RenderContext:
    """The page's default view over the last `range_name` of the demo data, as an absolute range."""
    length: timedelta = PRESETS[range_name]
    return RenderContext.of(Filters(TimeRange(None, END - length, END)))


def run_ours(store: Path, queries: Sequence[Query], ctx: RenderContext) -> list[QueryResult]:
    outcomes = LocalSource(store).run(queries, ctx)
    failed = [o for o in outcomes if not isinstance(o, QueryResult)]
    if failed:  # timing a failing query would time an error message
        raise RuntimeError(f"a page query failed on {store.name}: {failed[0]}")
    return outcomes  # type: ignore[return-value]


def _ratio(ours: float, other: float) -> float:
    return round(ours / other, 4) if other > 0 else float("nan")


def page_data(store: Path, runs: int, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per page and range: medians, peaks and the two ratios."""
    rows = []
    for page in TIMED_PAGES:
        for range_name in RANGES:
            queries, ctx = page_queries(page), context(range_name)
            # In turns, so a burst of load on the machine lands on all three. The baseline is slow
            # by nature (up to a minute a view at 10M): no warm-up (ours warmed the OS cache), and
            # no new run once its runs took BASELINE_BUDGET_S.
            timed = measure_interleaved(
                {"ours": lambda: run_ours(store, queries, ctx), "floor": lambda: floor_scan(store, queries, ctx),
                 "baseline": lambda: pandas_page(store, queries, ctx)},
                runs, warmups={"baseline": 0}, budgets={"baseline": BASELINE_BUDGET_S})
            ours, floor, baseline = timed["ours"], timed["floor"], timed["baseline"]
            row: dict[str, Any] = {
                "page": page, "range": range_name, "queries": len(queries),
                "ours": ours.as_json(), "baseline": baseline.as_json(), "floor": floor.as_json(),
                "ours_over_baseline": _ratio(ours.median_s, baseline.median_s),
                "ours_over_floor": _ratio(ours.median_s, floor.median_s),
            }
            log(f"  {page:<13} {range_name:>3}: ours {ours.median_s * 1000:8.1f} ms   "
                f"pandas {baseline.median_s * 1000:9.1f} ms (x{baseline.median_s / ours.median_s:.1f})   "
                f"floor {floor.median_s * 1000:7.1f} ms (ours/floor {row['ours_over_floor']:.2f})")
            rows.append(row)
    return rows
