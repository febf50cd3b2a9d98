"""The latency page: weighted percentiles, the duration histogram, the slowest operations and requests
against an independent pandas computation on the demo rows (the sampled fraud-scorer included),
its KQL through Kusto's language service in both schemas, and the page through AppTest.

Tolerances. Counts and the weighted mean are exact. Percentiles: the local store answers from a
log-bucket histogram of ratio 1.02 (telemetry.sql) and gives the geometric centre of the bucket
that holds the exact weighted percentile (nearest rank: the smallest duration whose cumulative
itemCount reaches p % of the total), so |ln(answer) - ln(exact)| <= ln(1.02) / 2: within 0.995 %
relative (plus 1e-9 for floating point; a duration on a bucket edge still lands within half a
bucket of the centre it is given). A change of p95 between two periods divides two such answers,
so its ratio (1 + change) is within a factor 1.02 of the exact one.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import ItemCount, LogBucket, Query, RenderContext, Summary
from telemetry.queries.latency import DISTRIBUTION, HISTOGRAM, histogram
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.sql import BUCKET_RATIO
from tests.kusto import assert_valid_kql

LOG_TOLERANCE = math.log(BUCKET_RATIO) / 2 + 1e-9
SAMPLED = "fraud-scorer"


def _filters(start: datetime, end: datetime, **kwargs: object) -> Filters:
    return Filters(TimeRange(None, start, end), **kwargs)  # type: ignore[arg-type]


def _answer(store: Path, query: Query, filters: Filters) -> pd.DataFrame:
    (outcome,) = LocalSource(store).run([query], RenderContext.of(filters))
    assert isinstance(outcome, QueryResult), outcome
    return outcome.frame


def _rows(frame: pd.DataFrame, filters: Filters, start: datetime | None = None,
          end: datetime | None = None) -> pd.DataFrame:
    window = filters.window()
    start, end = start or window.start, end or window.end
    rows = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    if filters.operation:
        rows = rows[rows["operation_Name"] == filters.operation]
    if filters.result_code:
        rows = rows[rows["resultCode"] == filters.result_code]
    return rows


def _histogram_by_edges(durations: pd.Series, weights: pd.Series, per_decade: int) -> pd.Series:
    """Sum of weights per bucket, found by comparing with the edges 10**(k/n) (no logarithms)."""
    values = np.maximum(durations.to_numpy(dtype="float64"), 0.001)
    ks = np.arange(-3 * per_decade, 7 * per_decade + 1)
    edges = 10.0 ** (ks / per_decade)
    index = ks[np.searchsorted(edges, values, side="right") - 1]
    return pd.Series(weights.to_numpy(), index=index).groupby(level=0).sum()


@pytest.mark.parametrize("services", [(), (SAMPLED,)])
def test_duration_histogram_counts_sum_item_count_between_log_edges(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, services: tuple[str, ...]
) -> None:
    filters = _filters(demo_end - timedelta(days=2), demo_end, services=services)
    got = histogram(_answer(demo_store, DISTRIBUTION, filters))
    rows = _rows(demo_frames["requests"], filters)
    want = _histogram_by_edges(rows["duration"], rows["itemCount"], HISTOGRAM.per_decade)
    assert list(got[HISTOGRAM.alias]) == list(want.index)
    assert list(got["requests"]) == list(want)
    assert got["requests"].sum() == rows["itemCount"].sum() > len(rows) * (services == (SAMPLED,))
    assert np.allclose(got["high_ms"] / got["low_ms"], 10 ** (1 / HISTOGRAM.per_decade))
    assert got["low_ms"].iloc[0] <= rows["duration"].min() and got["high_ms"].iloc[-1] > rows["duration"].max()


def test_the_histogram_dimension_cuts_dependencies_with_any_buckets_per_decade(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    bucket = LogBucket("duration", per_decade=4, alias="k")
    query = Summary(name="t", table="dependencies", measures=(ItemCount("calls"),), by=(bucket,),
                    order_by=(("k", "asc"),))
    filters = _filters(demo_end - timedelta(days=3), demo_end)
    got = _answer(demo_store, query, filters)
    rows = _rows(demo_frames["dependencies"], filters)
    want = _histogram_by_edges(rows["duration"], rows["itemCount"], 4)
    assert list(got["k"]) == list(want.index)
    assert list(got["calls"]) == list(want)
    low, high = bucket.edges(np.array([0, 4]))
    assert list(low) == [1.0, 10.0] and high[0] == pytest.approx(10 ** 0.25)


def test_the_histogram_dimension_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end, services=(SAMPLED,)))
    checks = [(schema, render_kql(DISTRIBUTION, ctx, schema)) for schema in ("classic", "workspace")]
    assert "max_of(DurationMs, 0.001)" in checks[1][1]
    assert_valid_kql(checks)
