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
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from telemetry.comparison import PERCENTILE_RESOLUTION
from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import ItemCount, LogBucket, RenderContext, Summary
from telemetry.queries.latency import (
    DISTRIBUTION,
    HISTOGRAM,
    OPERATIONS,
    OVER_TIME,
    SLOWEST,
    SLOWEST_LIMIT,
    TOTALS,
    page_view,
    period_row,
    slowest_operations,
)
from tests.store_answers import local_answer as _answer
from tests.store_answers import window_filters as _filters
from tests.apptest import run_page, texts, window_params
from tests.kusto import assert_valid_kql
from tests.weighted import LOG_TOLERANCE, close_in_log, weighted_mean, weighted_percentile

SAMPLED = "fraud-scorer"


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
    got = _answer(demo_store, DISTRIBUTION, filters)
    rows = _rows(demo_frames["requests"], filters)
    want = _histogram_by_edges(rows["duration"], rows["itemCount"], HISTOGRAM.per_decade)
    assert list(got[HISTOGRAM.alias]) == list(want.index)
    assert list(got["requests"]) == list(want)
    assert got["requests"].sum() == rows["itemCount"].sum() > len(rows) * (services == (SAMPLED,))
    low, high = HISTOGRAM.edges(got[HISTOGRAM.alias].to_numpy(dtype="float64"))
    assert low[0] <= rows["duration"].min() and high[-1] > rows["duration"].max()


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
    assert "max_of(req_duration, 0.001)" in checks[1][1]  # the duration the server measured
    assert_valid_kql(checks)


def _assert_percentiles(got: pd.Series, rows: pd.DataFrame) -> None:
    for percent in (50, 95, 99):
        exact = weighted_percentile(rows["duration"], rows["itemCount"], percent)
        assert close_in_log(got[f"p{percent}_ms"], exact), (percent, got, exact)


def _weighted_mean(rows: pd.DataFrame) -> float:
    return weighted_mean(rows["duration"], rows["itemCount"])


@pytest.mark.parametrize(
    ("split", "column", "services"),
    [("service", "cloud_RoleName", ()), ("operation", "operation_Name", (SAMPLED,))],
)
def test_percentiles_per_bin_are_within_half_a_bucket_of_the_exact_item_count_weighted_ones(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, split: str, column: str,
    services: tuple[str, ...],
) -> None:
    filters = _filters(demo_end - timedelta(days=2), demo_end, split=split, services=services)
    got = _answer(demo_store, OVER_TIME, filters)
    rows = _rows(demo_frames["requests"], filters)
    groups = rows.groupby([rows["timestamp"].dt.floor(filters.grain_for(filters.window())), column])
    assert len(got) == groups.ngroups > 100
    for row in got.itertuples(index=False):
        group = groups.get_group((row.bucket, row.series))
        assert row.requests == group["itemCount"].sum()
        assert row.mean_ms == pytest.approx(_weighted_mean(group), rel=1e-9)
        _assert_percentiles(pd.Series(row._asdict()), group)


def test_the_sampled_service_weighs_each_row_by_its_item_count(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end, services=(SAMPLED,), operation="POST /score")
    now = period_row(_answer(demo_store, TOTALS, filters), "current")
    assert now is not None
    rows = _rows(demo_frames["requests"], filters)
    assert now["requests"] == rows["itemCount"].sum() > len(rows)
    _assert_percentiles(now, rows)
    unweighted = float(np.average(rows["duration"]))
    assert now["mean_ms"] == pytest.approx(_weighted_mean(rows), rel=1e-9)
    assert now["mean_ms"] != pytest.approx(unweighted, rel=1e-6), "rows of different itemCount weigh differently"


@pytest.mark.parametrize("code", [None, "504"])
def test_totals_give_both_periods_percentiles_mean_and_failures(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, code: str | None
) -> None:
    # 504s (the scoring timeout) come mostly with the incident, 30 hours before the end; a period without any has no row
    filters = _filters(demo_end - timedelta(days=2), demo_end, result_code=code)
    got = _answer(demo_store, TOTALS, filters)
    window = filters.window()
    for period, (start, end) in {"current": (window.start, window.end),
                                 "previous": (window.previous().start, window.previous().end)}.items():
        row = period_row(got, period)
        rows = _rows(demo_frames["requests"], filters, start, end)
        if row is None:
            assert rows.empty and period == "previous"
            continue
        assert row["requests"] == rows["itemCount"].sum()
        assert row["failed"] == rows.loc[rows["success"] == "False", "itemCount"].sum()
        assert row["mean_ms"] == pytest.approx(_weighted_mean(rows), rel=1e-9)
        _assert_percentiles(row, rows)


def test_slowest_operations_give_count_percentiles_and_the_change_of_p95(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    # The day of the incident against the calm day before it: churn-regressor's p95 rises.
    filters = _filters(demo_end - timedelta(days=2), demo_end - timedelta(days=1))
    table = slowest_operations(_answer(demo_store, OPERATIONS, filters))
    window = filters.window()
    now = _rows(demo_frames["requests"], filters)
    before = _rows(demo_frames["requests"], filters, window.previous().start, window.previous().end)
    assert len(table) == now.groupby(["cloud_RoleName", "operation_Name"]).ngroups
    assert list(table["p95_ms"]) == sorted(table["p95_ms"], reverse=True)
    assert SAMPLED in set(table["service"])
    for row in table.itertuples(index=False):
        mine = now[(now["cloud_RoleName"] == row.service) & (now["operation_Name"] == row.operation)]
        theirs = before[(before["cloud_RoleName"] == row.service) & (before["operation_Name"] == row.operation)]
        assert row.requests == mine["itemCount"].sum()
        _assert_percentiles(pd.Series(row._asdict()), mine)
        if theirs.empty:
            assert pd.isna(row.p95_change)
            continue
        exact = (weighted_percentile(mine["duration"], mine["itemCount"], 95)
                 / weighted_percentile(theirs["duration"], theirs["itemCount"], 95))
        if row.p95_change == 0:  # read as "no change": the two p95s were within the resolution of each other
            assert abs(math.log(exact)) <= math.log1p(PERCENTILE_RESOLUTION) + 2 * LOG_TOLERANCE
        else:
            assert close_in_log(1 + row.p95_change, exact, buckets=2)
    churn = table[(table["service"] == "churn-regressor") & (table["operation"] == "POST /score")].iloc[0]
    assert churn["p95_change"] > 0.5, "the incident shows as a slower p95 than the day before"


def test_slowest_requests_are_the_longest_durations_with_their_operation_ids(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=3), demo_end, services=(SAMPLED, "image-classifier"))
    got = _answer(demo_store, SLOWEST, filters)
    rows = _rows(demo_frames["requests"], filters).sort_values(["duration", "timestamp"], ascending=False)
    want = rows.head(SLOWEST_LIMIT)
    assert list(got["duration"]) == list(want["duration"])
    assert list(got["operation_Id"]) == list(want["operation_Id"])
    assert list(got["resultCode"]) == list(want["resultCode"])
    assert list(got["timestamp"]) == list(want["timestamp"])


def test_every_latency_panel_passes_kusto_in_both_schemas_under_several_filters(demo_end: datetime) -> None:
    cases = [
        Filters(),
        _filters(demo_end - timedelta(days=1), demo_end, services=(SAMPLED,), operation="POST /score",
                 result_code="500", split="operation"),
        Filters(services=('x" or 1==1 //',), operation="it's\\"),
    ]
    checks = [(schema, render_kql(query, RenderContext.of(filters, demo_end), schema))
              for filters in cases for query in page_view() for schema in ("classic", "workspace")]
    assert len(checks) == 30
    assert_valid_kql(checks)


# --- the page ---------------------------------------------------------------------------------

PAGE = "pages/latency.py"


def _shown_ms(text: str) -> float:
    return float(text.removesuffix(" ms").replace(",", ""))


@pytest.mark.parametrize("params", [
    {},
    {"service": SAMPLED},
    {"service": "churn-regressor", "operation": "POST /score", "split": "operation", "grain": "1h"},
    {"code": "500", "split": "operation"},
], ids=["all", "sampled service", "service, operation, split and grain", "result code"])
def test_the_page_shows_the_pandas_percentiles_under_these_filters(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, params: dict[str, str]
) -> None:
    start = demo_end - timedelta(days=2)
    at = run_page(PAGE, **window_params(start, demo_end), **params)
    assert not at.exception, [e.value for e in at.exception]
    filters = _filters(start, demo_end, services=tuple(p for p in [params.get("service")] if p),
                       operation=params.get("operation"), result_code=params.get("code"))
    rows = _rows(demo_frames["requests"], filters)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Requests"] == f"{rows['itemCount'].sum():,}"
    for percent in (50, 95, 99):
        exact = weighted_percentile(rows["duration"], rows["itemCount"], percent)
        # the method's error, then rounding to 0.1 ms
        assert abs(_shown_ms(shown[f"p{percent}"]) - exact) <= exact * (1.02 ** 0.5 - 1) + 0.05 + 1e-9
    assert abs(_shown_ms(shown["Mean"]) - _weighted_mean(rows)) <= 0.05 + 1e-9
    assert len(at.get("plotly_chart")) == 2
    operations, slowest = (d.value for d in at.dataframe)
    assert operations["requests"].sum() == rows["itemCount"].sum()
    longest = rows["duration"].max()  # shown in seconds when over 10 s (components.tables.duration_column)
    assert slowest["duration"].max() == (longest / 1000 if longest > 10_000 else longest)


@pytest.mark.parametrize("params", [
    {"from": "2020-01-01T00:00Z", "to": "2020-01-02T00:00Z"},
    {"range": "7d", "service": "no-such-service"},
    {"from": "2026-11-18T12:00Z", "to": "2026-11-20T12:00Z", "service": SAMPLED, "operation": "no such operation"},
], ids=["empty range", "unknown service", "unknown operation"])
def test_the_page_says_there_are_no_requests_instead_of_drawing_empty_axes(app_env: Path,
                                                                            params: dict[str, str]) -> None:
    at = run_page(PAGE, **params)
    assert not at.exception, [e.value for e in at.exception]
    infos = texts(at, "info")
    assert sum(t.startswith("No requests in") for t in infos) == 5, infos
    if "service" in params:
        assert all(params["service"] in t for t in infos)
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric


def test_slowest_requests_link_to_the_trace_explorer_keeping_the_filters(app_env: Path, demo_end: datetime) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=1), demo_end), service=SAMPLED)
    assert not at.exception
    slowest = next(d.value for d in at.dataframe if "end_to_end" in d.value.columns)
    link = urlsplit(slowest["end_to_end"].iloc[0])
    query = parse_qs(link.query)
    assert link.path == "trace-explorer"
    assert query["op"] == [slowest["operation_Id"].iloc[0]] and query["service"] == [SAMPLED]
    assert "from" in query and "to" in query


def test_each_slow_operation_narrows_the_whole_dashboard_to_it(app_env: Path, demo_end: datetime) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=1), demo_end))
    assert not at.exception
    operations = next(d.value for d in at.dataframe if "narrow" in d.value.columns)
    link = urlsplit(operations["narrow"].iloc[0])
    query = parse_qs(link.query)
    assert link.path == "response-times"
    assert query["service"] == [operations["service"].iloc[0]]
    assert query["operation"] == [operations["operation"].iloc[0]]
    narrowed = run_page(PAGE, **{k: v[0] for k, v in query.items()})
    assert not narrowed.exception
    (only,) = (d.value for d in narrowed.dataframe if "narrow" in d.value.columns)
    assert list(zip(only["service"], only["operation"], strict=True)) == [
        (operations["service"].iloc[0], operations["operation"].iloc[0])]


@pytest.mark.parametrize("panel", ["latency.over_time", "latency.distribution"])
def test_one_panel_alone_shows_only_that_chart(app_env: Path, demo_end: datetime, panel: str) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=7), demo_end), panel=panel)
    assert not at.exception
    assert not at.title and len(at.get("plotly_chart")) == 1 and not at.metric and not at.dataframe
