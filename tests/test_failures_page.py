"""The failure-rate page: every number against an independent pandas computation on the demo rows
(the sampled service included), its KQL through Kusto's language service in both schemas, and
the page itself through AppTest under several filters, an empty range among them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from telemetry.demo import INCIDENT_SERVICE, SAMPLED_SERVICE, incident_window
from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.failures import (
    CODES,
    CODES_OVER_TIME,
    OPERATIONS,
    code_table,
    exception_types,
    failure_rate,
    operation_table,
    page_view,
)
from telemetry.queries.requests import RATE
from tests.store_answers import local_answer as _answer
from tests.store_answers import window_filters as _filters
from tests.apptest import run_page, texts, window_params
from tests.conftest import DEMO_DAYS
from tests.kusto import assert_valid_kql, check_kql


def _requests(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    """The request rows the filters select, with the failed itemCount beside the itemCount."""
    window = filters.window()
    rows = frames["requests"]
    rows = rows[(rows["timestamp"] >= window.start) & (rows["timestamp"] < window.end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    if filters.operation:
        rows = rows[rows["operation_Name"] == filters.operation]
    if filters.result_code:
        rows = rows[rows["resultCode"] == filters.result_code]
    return rows.assign(failed_items=rows["itemCount"].where(rows["success"] == "False", 0))


def _sums(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return rows.groupby(by).agg(requests=("itemCount", "sum"), failed=("failed_items", "sum"))


@pytest.mark.parametrize(("split", "column"), [("service", "cloud_RoleName"), ("operation", "operation_Name")])
def test_failure_rate_equals_failed_over_all_weighted_by_item_count(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, split: str, column: str
) -> None:
    filters = _filters(demo_end - timedelta(days=3), demo_end, split=split, grain="1h")
    got = failure_rate(_answer(demo_store, RATE, filters)).set_index(["bucket", "series"]).sort_index()
    rows = _requests(demo_frames, filters)
    want = _sums(rows.assign(bucket=rows["timestamp"].dt.floor("1h")), ["bucket", column])
    want["failure_rate"] = want["failed"] / want["requests"]
    assert len(got) == len(want) > 100
    assert list(got.index) == list(want.index)
    assert list(got["failed"]) == list(want["failed"])
    assert list(got["failure_rate"]) == pytest.approx(list(want["failure_rate"]), rel=1e-12)
    if split == "service":
        incident = got.xs(INCIDENT_SERVICE, level="series")["failure_rate"]
        assert incident.max() > 5 * incident.median(), "the incident's bins fail far more than the rest"


def test_the_sampled_service_fails_by_the_events_its_rows_stand_for(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end, services=(SAMPLED_SERVICE,), grain="1d")
    got = failure_rate(_answer(demo_store, RATE, filters))
    rows = _requests(demo_frames, filters)
    weighted = rows["failed_items"].sum() / rows["itemCount"].sum()
    per_row = (rows["success"] == "False").mean()
    assert got["failed"].sum() == rows["failed_items"].sum() > (rows["success"] == "False").sum()
    assert got["failed"].sum() / got["requests"].sum() == pytest.approx(weighted, rel=1e-12)
    assert weighted != pytest.approx(per_row, rel=1e-3), "counting rows would give another rate"


def test_result_codes_give_count_share_and_failed_like_pandas(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end)
    table = code_table(_answer(demo_store, CODES, filters)).set_index("code")
    want = _sums(_requests(demo_frames, filters), ["resultCode"])
    assert sorted(table.index) == sorted(want.index) == ["200", "400", "500", "502", "503", "504"]
    for code, row in want.iterrows():
        assert table.loc[code, "requests"] == row["requests"]
        assert table.loc[code, "failed"] == row["failed"]
        assert table.loc[code, "share"] == pytest.approx(row["requests"] / want["requests"].sum())
        assert table.loc[code, "outcome"] == ("succeeded" if code == "200" else "failed")
    assert table["share"].sum() == pytest.approx(1.0)


def test_failed_result_codes_over_time_sum_failed_item_counts_per_bin_and_code(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=2), demo_end, grain="30m")
    got = _answer(demo_store, CODES_OVER_TIME, filters).set_index(["bucket", "code"])["failed"].sort_index()
    rows = _requests(demo_frames, filters)
    rows = rows[rows["success"] == "False"]
    want = rows.groupby([rows["timestamp"].dt.floor("30min"), "resultCode"])["itemCount"].sum()
    assert list(got.index) == list(want.index) and list(got) == list(want)
    assert "200" not in set(got.index.get_level_values("code"))


def test_top_failing_operations_are_those_with_the_most_failed_item_counts(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end)
    table = operation_table(_answer(demo_store, OPERATIONS, filters))
    want = _sums(_requests(demo_frames, filters), ["operation_Name", "cloud_RoleName"])
    want = want[want["failed"] > 0].sort_values("failed", ascending=False)
    assert len(table) == len(want) >= 3
    assert list(table["failed"]) == list(want["failed"])
    for row in table.itertuples():
        expected = want.loc[(row.operation, row.service)]
        assert row.requests == expected["requests"]
        assert row.failure_rate == pytest.approx(expected["failed"] / expected["requests"])


def _exceptions_in_failed_requests(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    failed_ops = set(_requests(frames, filters).query("success == 'False'")["operation_Id"])
    window = filters.window()
    rows = frames["exceptions"]
    rows = rows[(rows["timestamp"] >= window.start) & (rows["timestamp"] < window.end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    rows = rows[rows["operation_Id"].isin(failed_ops)]
    return rows.groupby(["problemId", "type", "cloud_RoleName"]).agg(
        exceptions=("itemCount", "sum"), operations=("operation_Id", "nunique"))


@pytest.mark.parametrize("code", ["", "500"])
def test_exception_types_are_the_exceptions_raised_in_the_failed_requests(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, code: str
) -> None:
    filters = _filters(demo_end - timedelta(days=7), demo_end, result_code=code or None)
    got = _answer(demo_store, exception_types(code), filters)
    got = got.set_index(["problem", "type", "service"]).sort_index()
    want = _exceptions_in_failed_requests(demo_frames, filters)
    assert len(got) == len(want) > 3
    assert list(got.index) == list(want.index)
    assert list(got["exceptions"]) == list(want["exceptions"])
    assert list(got["operations"]) == list(want["operations"])
    sampled = got.xs(SAMPLED_SERVICE, level="service")
    assert (sampled["exceptions"] > sampled["operations"]).all(), "sampled rows stand for several exceptions"
    if code == "500":  # bad input (400) raises ValueError "Expected 2D array": not behind a 500
        assert "Expected 2D" not in " ".join(got.index.get_level_values("problem"))


def test_the_incident_shows_its_memory_errors_behind_the_failures(
    demo_store: Path, demo_end: datetime
) -> None:
    start, stop = incident_window(demo_end, DEMO_DAYS)
    got = _answer(demo_store, exception_types(), _filters(start, stop, services=(INCIDENT_SERVICE,)))
    assert got.iloc[0]["problem"] in {"MemoryError at score.run", "RuntimeError at score.run"}


HOSTILE_CODES = ('500" or 1==1 //', "it's\\", "a\nb", "ünï 😀")


def test_every_failure_panel_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    filters = _filters(demo_end - timedelta(days=1), demo_end, services=("churn-regressor",), operation="POST /score",
                       result_code="500")
    ctx = RenderContext.of(filters)
    queries = [*page_view(), *page_view("500"), *(exception_types(c) for c in HOSTILE_CODES)]
    assert_valid_kql([(schema, render_kql(q, ctx, schema)) for q in queries for schema in ("classic", "workspace")])


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_a_hostile_result_code_reaches_the_joined_requests_as_exactly_one_literal(
    demo_end: datetime, schema: str
) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end))
    checks = check_kql([(schema, render_kql(exception_types(code), ctx, schema)) for code in HOSTILE_CODES])
    for code, check in zip(HOSTILE_CODES, checks, strict=True):
        assert check.ok, str(check)
        assert check.string_literals.count(code) == 1


def test_failures_read_the_classic_string_and_the_workspace_bool_in_every_panel(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end - timedelta(days=1), demo_end))
    for query in page_view():
        classic, workspace = (render_kql(query, ctx, schema) for schema in ("classic", "workspace"))
        if query.name == "requests.totals" or "Failed" in repr(query):
            assert 'success == "False"' in classic and "Success == false" in workspace, query.name
            assert '"False"' not in workspace and "== false" not in classic
    joined = render_kql(exception_types(), ctx, "workspace")
    assert "AppExceptions" in joined and "req_id in (AppRequests" in joined and "Success == false" in joined


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"service": SAMPLED_SERVICE},
    {"service": INCIDENT_SERVICE, "operation": "POST /score", "split": "operation"},
    {"code": "500", "grain": "1h"},
    {"code": "200"},  # nothing failed: the failure panels say so
], ids=["sampled service", "service and operation", "result code", "only successes"])
def test_the_page_shows_the_pandas_failure_rate_under_these_filters(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, params: dict[str, str]
) -> None:
    start = demo_end - timedelta(days=2)
    at = run_page("pages/failures.py", **window_params(start, demo_end), **params)
    assert not at.exception, [e.value for e in at.exception]
    filters = _filters(start, demo_end, services=tuple(p for p in [params.get("service")] if p),
                       operation=params.get("operation"), result_code=params.get("code"))
    rows = _requests(demo_frames, filters)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Requests"] == f"{rows['itemCount'].sum():,}"
    assert shown["Failed requests"] == f"{rows['failed_items'].sum():,}"
    assert shown["Failure rate"] == f"{rows['failed_items'].sum() / rows['itemCount'].sum():.2%}"
    if params.get("code") == "200":
        assert any(t.startswith("No failed requests in") for t in texts(at, "info"))


@pytest.mark.parametrize("params", [
    {"from": "2020-01-01T00:00Z", "to": "2020-01-02T00:00Z"},
    {"range": "7d", "service": "no-such-service"},
], ids=["empty range", "unknown service"])
def test_the_page_says_there_are_no_requests_instead_of_drawing_empty_axes(
    app_env: Path, params: dict[str, str]
) -> None:
    at = run_page("pages/failures.py", **params)
    assert not at.exception, [e.value for e in at.exception]
    infos = texts(at, "info")
    assert sum(t.startswith("No requests in") for t in infos) >= 4, infos
    if "service" in params:
        assert all("no-such-service" in t for t in infos if t.startswith("No requests in"))
    assert not at.get("plotly_chart")


def test_the_exceptions_behind_the_failures_link_to_their_group_on_the_exceptions_page(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page("pages/failures.py", **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception
    (table,) = [d for d in at.dataframe if "open" in d.value.columns]
    link = urlsplit(table.value["open"].iloc[0])
    assert link.path == "exception-groups"
    assert parse_qs(link.query)["problem"] == [table.value["problem"].iloc[0]]
    ops = next(d.value for d in at.dataframe if "narrow" in d.value.columns)
    narrow = parse_qs(urlsplit(ops["narrow"].iloc[0]).query)
    assert narrow["operation"] == [ops["operation"].iloc[0]] and narrow["service"] == [ops["service"].iloc[0]]


def test_one_panel_alone_shows_only_that_panel(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/failures.py", **window_params(demo_end - timedelta(days=7), demo_end), panel="failures.rate")
    assert not at.exception
    assert not at.title and len(at.get("plotly_chart")) == 1 and not at.metric
