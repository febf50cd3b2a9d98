"""The dependencies page: calls, failures and weighted durations per dependency against an
independent pandas computation on the demo rows (the sampled service included), its KQL through
Kusto's language service in both schemas, and the page through AppTest under several filters.

Tolerances: counts, failure rates and the weighted mean are exact. Percentiles come from the
local store's log-bucket histogram (telemetry.sql, ratio 1.02) as the geometric centre of the
bucket holding the exact weighted percentile (nearest rank), so |ln(answer) - ln(exact)| <=
ln(1.02) / 2, 0.995 % relative (tests.weighted.close_in_log). Shown p95s add rounding to 0.1 ms.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from telemetry.demo import INCIDENT_SERVICE, SAMPLED_SERVICE
from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.dependencies import (
    OVER_TIME,
    TARGETS,
    TOTALS,
    callers,
    chosen_queries,
    codes,
    dependency_table,
    distribution,
    percentiles,
)
from telemetry.queries.latency import HISTOGRAM
from telemetry.queries.pages import page_queries
from tests.store_answers import local_answer as _answer
from tests.store_answers import window_filters as _filters
from tests.apptest import run_page, texts, window_params
from tests.kusto import assert_valid_kql, check_kql
from tests.weighted import LOG_TOLERANCE, close_in_log, weighted_mean, weighted_percentile

FEATURES = "features.contoso.internal"  # called by churn-regressor and the sampled fraud-scorer
MODEL_STORE = "mlstore123.blob.core.windows.net"  # model downloads at start-up, outside any request


def _calls(frames: dict[str, pd.DataFrame], start: datetime, end: datetime, filters: Filters) -> pd.DataFrame:
    rows = frames["dependencies"]
    rows = rows[(rows["timestamp"] >= start) & (rows["timestamp"] < end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    if filters.operation:
        rows = rows[rows["operation_Name"] == filters.operation]
    return rows.assign(failed_items=rows["itemCount"].where(rows["success"] == "False", 0))


def _in_window(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    window = filters.window()
    return _calls(frames, window.start, window.end, filters)


def _expected(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    grouped = rows.groupby(by)
    frame = grouped.agg(calls=("itemCount", "sum"), failed=("failed_items", "sum"),
                        services=("cloud_RoleName", "nunique"))
    frame["mean_ms"] = grouped.apply(lambda g: weighted_mean(g["duration"], g["itemCount"]), include_groups=False)
    for p in (50, 95, 99):
        frame[f"p{p}_ms"] = grouped.apply(lambda g, p=p: weighted_percentile(g["duration"], g["itemCount"], p),
                                          include_groups=False)
    return frame


def _assert_percentiles(got: pd.Series, want: pd.Series) -> None:
    assert len(got) == len(want) and all(close_in_log(g, w) for g, w in zip(got, want, strict=True)), (got, want)


def test_calls_failures_and_durations_per_dependency_equal_pandas_weighted_by_item_count(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end)
    got = dependency_table(_answer(demo_store, TARGETS, filters)).set_index(["target", "type"]).sort_index()
    want = _expected(_in_window(demo_frames, filters), ["target", "type"])
    assert list(got.index) == list(want.index) and len(got) == 4
    assert list(got["calls"]) == list(want["calls"])
    assert list(got["failed"]) == list(want["failed"])
    assert list(got["failure_rate"]) == pytest.approx(list(want["failed"] / want["calls"]), rel=1e-12)
    assert list(got["services"]) == list(want["services"])
    assert list(got["mean_ms"]) == pytest.approx(list(want["mean_ms"]), rel=1e-9)
    for p in ("p50_ms", "p95_ms", "p99_ms"):
        _assert_percentiles(got[p], want[p])
    assert got["share"].sum() == pytest.approx(1.0)


def test_per_dependency_over_time_equals_pandas_per_bin_target_and_type(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=2), demo_end, grain="3h")
    got = _answer(demo_store, OVER_TIME, filters).set_index(["bucket", "target", "type"]).sort_index()
    rows = _in_window(demo_frames, filters)
    want = _expected(rows.assign(bucket=rows["timestamp"].dt.floor("3h")), ["bucket", "target", "type"])
    assert list(got.index) == list(want.index) and len(got) > 40
    assert list(got["calls"]) == list(want["calls"]) and list(got["failed"]) == list(want["failed"])
    _assert_percentiles(got["p95_ms"], want["p95_ms"])


def test_totals_compare_calls_failures_and_p95_with_the_period_before(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=2), demo_end)
    got = _answer(demo_store, TOTALS, filters).set_index("period")
    window = filters.window()
    for period, (start, end) in {"current": (window.start, window.end),
                                 "previous": (window.previous().start, window.previous().end)}.items():
        rows = _calls(demo_frames, start, end, filters)
        assert got.loc[period, "calls"] == rows["itemCount"].sum()
        assert got.loc[period, "failed"] == rows["failed_items"].sum()
        assert close_in_log(got.loc[period, "p95_ms"], weighted_percentile(rows["duration"], rows["itemCount"], 95))


def test_the_sampled_service_calls_count_the_events_its_rows_stand_for(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end, services=(SAMPLED_SERVICE,))
    got = _answer(demo_store, TARGETS, filters).set_index("target")
    rows = _in_window(demo_frames, filters)
    features = rows[rows["target"] == FEATURES]
    assert got.loc[FEATURES, "calls"] == features["itemCount"].sum() > len(features)
    assert close_in_log(got.loc[FEATURES, "p95_ms"], weighted_percentile(features["duration"], features["itemCount"], 95))


def test_a_chosen_dependencys_codes_and_callers_equal_pandas(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end)
    rows = _in_window(demo_frames, filters)
    rows = rows[rows["target"] == FEATURES]
    got_codes = _answer(demo_store, codes(FEATURES), filters).set_index(["code", "type"]).sort_index()
    want_codes = rows.groupby(["resultCode", "type"]).agg(calls=("itemCount", "sum"), failed=("failed_items", "sum"))
    assert list(got_codes.index) == list(want_codes.index) and {"200", "504", "404"} <= set(want_codes.index.levels[0])
    assert list(got_codes["calls"]) == list(want_codes["calls"])
    assert list(got_codes["failed"]) == list(want_codes["failed"])
    got = _answer(demo_store, callers(FEATURES), filters).set_index(["operation", "service"]).sort_index()
    want = _expected(rows, ["operation_Name", "cloud_RoleName"])
    assert list(got.index) == list(want.index) == [("POST /score", INCIDENT_SERVICE), ("POST /score", SAMPLED_SERVICE)]
    assert list(got["calls"]) == list(want["calls"]) and list(got["failed"]) == list(want["failed"])
    _assert_percentiles(got["p95_ms"], want["p95_ms"])


@pytest.mark.parametrize("services", [(), (SAMPLED_SERVICE,)], ids=["all services", "sampled service"])
def test_a_chosen_dependencys_duration_distribution_sums_item_counts_between_the_bucket_edges(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, services: tuple[str, ...]
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end, services=services)
    got = _answer(demo_store, distribution(FEATURES), filters)
    rows = _in_window(demo_frames, filters)
    rows = rows[rows["target"] == FEATURES]
    low, high = HISTOGRAM.edges(got[HISTOGRAM.alias].to_numpy(dtype="float64"))
    assert list(got[HISTOGRAM.alias]) == sorted(got[HISTOGRAM.alias]) and len(got) > 10
    for lo, hi, calls in zip(low, high, got["calls"], strict=True):
        inside = rows[(rows["duration"] >= lo) & (rows["duration"] < hi)]
        assert calls == inside["itemCount"].sum() > 0
    assert got["calls"].sum() == rows["itemCount"].sum()
    assert low[0] <= rows["duration"].min() and high[-1] > rows["duration"].max()


def test_a_chosen_dependencys_percentiles_are_the_weighted_ones_of_its_calls(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end)
    (got,) = _answer(demo_store, percentiles(FEATURES), filters).itertuples()
    rows = _in_window(demo_frames, filters)
    rows = rows[rows["target"] == FEATURES]
    assert got.calls == rows["itemCount"].sum() and got.failed == rows["failed_items"].sum()
    for p in (50, 95, 99):
        assert close_in_log(getattr(got, f"p{p}_ms"), weighted_percentile(rows["duration"], rows["itemCount"], p))


def test_calls_made_outside_a_request_have_no_operation_and_leave_when_an_operation_is_chosen(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    everything = _filters(demo_end - timedelta(days=7), demo_end)
    got = _answer(demo_store, callers(MODEL_STORE), everything)
    assert set(got["operation"]) == {""}  # model downloads at start-up
    scoring = everything.with_changes(operation="POST /score")
    targets = _answer(demo_store, TARGETS, scoring)
    assert MODEL_STORE not in set(targets["target"])
    assert targets["calls"].sum() == _in_window(demo_frames, scoring)["itemCount"].sum()


HOSTILE = ('features" or 1==1 //', "it's\\", "a\nb\tc", "x | take 1", "ünï 😀")


def test_every_dependency_panel_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end, services=("churn-regressor",),
                                    operation="POST /score", result_code="500"))
    queries = [*page_queries("dependencies"), *(q for t in (FEATURES, *HOSTILE) for q in chosen_queries(t))]
    assert_valid_kql([(schema, render_kql(q, ctx, schema)) for q in queries for schema in ("classic", "workspace")])


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_a_hostile_dependency_reaches_kql_as_exactly_one_literal(demo_end: datetime, schema: str) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end))
    checks = check_kql([(schema, render_kql(q, ctx, schema)) for t in HOSTILE for q in chosen_queries(t)])
    for target, check in zip([t for t in HOSTILE for _ in range(len(chosen_queries(t)))], checks, strict=True):
        assert check.ok, str(check)
        assert check.string_literals.count(target) == 1


def test_dependency_failures_read_the_classic_string_and_the_workspace_bool(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end))
    for query in page_queries("dependencies"):
        assert 'sumif(itemCount, success == "False")' in render_kql(query, ctx, "classic")
        workspace = render_kql(query, ctx, "workspace")
        assert "AppDependencies" in workspace and "sumif(ItemCount, Success == false)" in workspace
        assert "req_duration = DurationMs" in workspace and "percentilew(req_duration, ItemCount, 95)" in workspace


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {},
    {"service": SAMPLED_SERVICE, "dependency": FEATURES},
    {"service": INCIDENT_SERVICE, "operation": "POST /score", "split": "operation", "grain": "1h"},
    {"code": "500", "dependency": MODEL_STORE},
], ids=["everything", "sampled service, chosen dependency", "service and operation", "result code, start-up calls"])
def test_the_page_shows_the_pandas_totals_under_these_filters(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, params: dict[str, str]
) -> None:
    start = demo_end - timedelta(days=2)
    at = run_page("pages/dependencies.py", **window_params(start, demo_end), **params)
    assert not at.exception, [e.value for e in at.exception]
    filters = _filters(start, demo_end, services=tuple(p for p in [params.get("service")] if p),
                       operation=params.get("operation"))
    rows = _in_window(demo_frames, filters)
    shown = {m.label: m.value for m in reversed(at.metric)}  # the page's totals, not the chosen dependency's
    assert shown["Calls"] == f"{rows['itemCount'].sum():,}"
    assert shown["Failed calls"] == f"{rows['failed_items'].sum():,}"
    assert shown["Failure rate"] == f"{rows['failed_items'].sum() / rows['itemCount'].sum():.2%}"
    p95 = weighted_percentile(rows["duration"], rows["itemCount"], 95)
    shown_p95 = float(shown["p95 duration"].removesuffix(" ms").replace(",", ""))
    assert abs(shown_p95 - p95) <= p95 * LOG_TOLERANCE + 0.05  # the method's error, then rounding to 0.1 ms
    if "dependency" in params:
        titles = texts(at, "markdown")
        assert any("Operations calling" in t for t in titles) and any("Result codes of" in t for t in titles)
        callers_table = next(d.value for d in at.dataframe if "narrow" in d.value.columns)
        chosen = rows[rows["target"] == params["dependency"]]
        assert callers_table["calls"].sum() == chosen["itemCount"].sum()
        glance = {m.label: m.value for m in at.metric[4:]}  # the chosen dependency's own figures
        assert glance["Calls"] == f"{chosen['itemCount'].sum():,}"
        assert len(at.get("plotly_chart")) == 4  # over time, slowest, most failing, its distribution


@pytest.mark.parametrize("params", [
    {"from": "2020-01-01T00:00Z", "to": "2020-01-02T00:00Z", "dependency": FEATURES},
    {"range": "7d", "service": "no-such-service"},
], ids=["empty range", "unknown service"])
def test_the_page_says_there_are_no_calls_instead_of_drawing_empty_axes(
    app_env: Path, params: dict[str, str]
) -> None:
    at = run_page("pages/dependencies.py", **params)
    assert not at.exception, [e.value for e in at.exception]
    infos = texts(at, "info")
    assert sum(t.startswith("No dependency calls in") for t in infos) >= 5, infos
    if "service" in params:
        assert all("no-such-service" in t for t in infos)
    else:
        assert any(t.startswith("No calls to features") for t in infos)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("target", ["no-such-host.example", 'x" or 1==1 //', "ünï 😀 | take 1", "*features*"])
def test_an_unknown_dependency_is_said_and_the_rest_of_the_page_works(
    app_env: Path, demo_end: datetime, target: str
) -> None:
    at = run_page("pages/dependencies.py", **window_params(demo_end - timedelta(days=2), demo_end),
                  dependency=target)
    assert not at.exception
    assert any(f"No calls to dependency {target} in this range" in w for w in texts(at, "warning"))
    assert sum(t.startswith(f"No calls to {target} in") for t in texts(at, "info")) == 4
    assert len(at.get("plotly_chart")) == 3 and len(at.metric) == 4


def test_a_garbled_dependency_parameter_is_ignored_with_a_warning(app_env: Path) -> None:
    at = run_page("pages/dependencies.py", range="7d", dependency="x" * 5_000)
    assert not at.exception
    assert any("Ignored `dependency`" in w for w in texts(at, "warning"))
    assert not any("Operations calling" in t for t in texts(at, "markdown"))


def test_each_dependency_links_to_its_details_and_each_caller_narrows_the_dashboard(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page("pages/dependencies.py", **window_params(demo_end - timedelta(days=2), demo_end), dependency=FEATURES)
    assert not at.exception
    targets = next(d.value for d in at.dataframe if "details" in d.value.columns)
    link = urlsplit(targets["details"].iloc[0])
    assert link.path == "dependency-calls"
    assert parse_qs(link.query)["dependency"] == [targets["target"].iloc[0]]
    callers_table = next(d.value for d in at.dataframe if "narrow" in d.value.columns)
    narrow = parse_qs(urlsplit(callers_table["narrow"].iloc[0]).query)
    assert narrow["operation"] == ["POST /score"] and narrow["dependency"] == [FEATURES]
    assert narrow["service"] == [callers_table["service"].iloc[0]]


@pytest.mark.parametrize("panel", ["dependencies.over_time", "dependencies.slowest", "dependencies.failing"])
def test_one_panel_alone_shows_only_that_chart(app_env: Path, demo_end: datetime, panel: str) -> None:
    at = run_page("pages/dependencies.py", **window_params(demo_end - timedelta(days=7), demo_end), panel=panel)
    assert not at.exception
    assert not at.title and len(at.get("plotly_chart")) == 1 and not at.metric
