"""The overview page: its four headline numbers and their trends against an independent pandas
computation on the demo rows (the sampled fraud-scorer included), its KQL through Kusto's
language service in both schemas, and the page, the app's default, through AppTest.

Tolerances: counts and failure rates are exact; p95 is the local store's log-bucket percentile,
within ln(1.02) / 2 in log (0.995 %) of the exact itemCount-weighted one (see tests/weighted.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

from components.navigation import PAGES
from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.latency import MIN_REQUESTS
from telemetry.queries.overview import PROBE_OPERATIONS, headline, page_view, trend
from telemetry.queries.pages import page_queries
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from tests.apptest import run_page, texts, window_params
from tests.kusto import assert_valid_kql
from tests.weighted import close_in_log, weighted_percentile

SAMPLED = "fraud-scorer"
PAGE = "pages/overview.py"

FILTERS = {
    "all": {},
    "sampled service": {"services": (SAMPLED,)},
    "service and operation": {"services": ("churn-regressor",), "operation": "POST /score"},
    "result code": {"result_code": "500"},
}


def _filters(end: datetime, days: int = 2, **kwargs: object) -> Filters:
    return Filters(TimeRange(None, end - timedelta(days=days), end), **kwargs)  # type: ignore[arg-type]


def _answers(store: Path, filters: Filters) -> list[pd.DataFrame]:
    outcomes = LocalSource(store).run(page_view(), RenderContext.of(filters))
    assert all(isinstance(o, QueryResult) for o in outcomes), outcomes
    return [o.frame for o in outcomes]  # type: ignore[union-attr]


def _rows(frame: pd.DataFrame, filters: Filters, start: datetime, end: datetime, *, requests: bool) -> pd.DataFrame:
    rows = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    if filters.operation:
        rows = rows[rows["operation_Name"] == filters.operation]
    if filters.result_code and requests:  # a result code is a request's; it does not narrow dependencies
        rows = rows[rows["resultCode"] == filters.result_code]
    return rows.assign(failed_items=rows["itemCount"].where(rows["success"] == "False", 0))


def _periods(filters: Filters) -> dict[str, tuple[datetime, datetime]]:
    window = filters.window()
    return {"current": (window.start, window.end), "previous": (window.previous().start, window.previous().end)}


@pytest.mark.parametrize("case", list(FILTERS))
def test_headline_numbers_equal_pandas_sums_rates_and_weighted_p95_in_both_periods(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, case: str
) -> None:
    filters = _filters(demo_end, **FILTERS[case])
    totals, _, dependency_totals, *_ = _answers(demo_store, filters)
    for period, (start, end) in _periods(filters).items():
        requests = _rows(demo_frames["requests"], filters, start, end, requests=True)
        calls = _rows(demo_frames["dependencies"], filters, start, end, requests=False)
        assert len(requests) > 0 and len(calls) > 0
        assert getattr(headline(totals, "requests"), period) == requests["itemCount"].sum()
        rate = getattr(headline(totals, "failure_rate"), period)
        assert rate == pytest.approx(requests["failed_items"].sum() / requests["itemCount"].sum(), rel=1e-12)
        exact = weighted_percentile(requests["duration"], requests["itemCount"], 95)
        assert close_in_log(getattr(headline(totals, "p95_ms"), period), exact)
        failed_calls = getattr(headline(dependency_totals, "failed", "calls"), period)
        assert failed_calls == calls["failed_items"].sum()


def test_the_sampled_service_counts_the_events_its_rows_stand_for(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end, services=(SAMPLED,))
    totals, _, dependency_totals, *_ = _answers(demo_store, filters)
    start, end = _periods(filters)["current"]
    requests = _rows(demo_frames["requests"], filters, start, end, requests=True)
    calls = _rows(demo_frames["dependencies"], filters, start, end, requests=False)
    assert headline(totals, "requests").current == requests["itemCount"].sum() > len(requests)
    assert headline(dependency_totals, "failed", "calls").current == calls["failed_items"].sum()
    assert calls["failed_items"].sum() > (calls["success"] == "False").sum(), "failed calls weigh their itemCount"


@pytest.mark.parametrize("case", ["all", "sampled service"])
def test_trends_equal_pandas_per_bin(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, case: str
) -> None:
    filters = _filters(demo_end, **FILTERS[case])
    _, request_trend, _, dependency_trend, *_ = _answers(demo_store, filters)
    start, end = _periods(filters)["current"]
    grain = filters.grain_for(filters.window())
    requests = _rows(demo_frames["requests"], filters, start, end, requests=True)
    per_bin = requests.groupby(requests["timestamp"].dt.floor(grain))
    assert list(trend(request_trend, "requests").index) == list(per_bin.groups)
    assert list(trend(request_trend, "requests")) == list(per_bin["itemCount"].sum())
    want_rate = per_bin["failed_items"].sum() / per_bin["itemCount"].sum()
    assert trend(request_trend, "failure_rate").to_numpy() == pytest.approx(want_rate.to_numpy(), rel=1e-12)
    for bucket, p95 in trend(request_trend, "p95_ms").items():
        group = per_bin.get_group(bucket)
        if group["itemCount"].sum() < MIN_REQUESTS["p95_ms"]:  # too few to stand on: not drawn
            assert pd.isna(p95)
        else:
            assert close_in_log(p95, weighted_percentile(group["duration"], group["itemCount"], 95))
    calls = _rows(demo_frames["dependencies"], filters, start, end, requests=False)
    failed = calls.groupby(calls["timestamp"].dt.floor(grain))["failed_items"].sum()
    assert trend(dependency_trend, "failed", "calls").to_dict() == failed.to_dict()


def test_a_period_without_requests_has_no_rate_or_p95_and_counts_zero(
    demo_store: Path, demo_end: datetime
) -> None:
    # The demo data starts 7 days before its end: the period before this range is empty.
    filters = Filters(TimeRange(None, demo_end - timedelta(days=7), demo_end - timedelta(days=6)))
    totals, *_ = _answers(demo_store, filters)
    assert headline(totals, "requests").previous == 0
    assert headline(totals, "failure_rate").previous is None and headline(totals, "p95_ms").previous is None
    assert headline(totals, "p95_ms").current is not None


def test_the_overview_asks_one_batch_of_its_panels_and_each_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    assert [q.name for q in page_queries("overview")] == [
        "latency.totals", "overview.request_trend", "dependencies.totals", "overview.dependency_trend",
        "overview.services", "overview.service_trends", "overview.latency", "overview.latency_trend",
        "overview.service_latency", "overview.service_latency_trends"]
    cases = [Filters(), _filters(demo_end, services=(SAMPLED, 'x" or 1==1 //'), operation="it's\\",
                                 result_code="500", grain="1h")]
    assert_valid_kql([(schema, render_kql(query, RenderContext.of(filters, demo_end), schema))
                      for filters in cases for query in page_view() for schema in ("classic", "workspace")])


# --- the page ---------------------------------------------------------------------------------


def test_the_overview_is_the_default_page(app_env: Path) -> None:
    assert PAGES[0][0] == PAGE
    at = run_page(PAGE, range="7d")  # the first run lands on the default page
    assert not at.exception
    assert at.title[0].value == "Overview"


@pytest.mark.parametrize("case", list(FILTERS))
def test_the_page_shows_the_pandas_headlines_and_four_trends(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, case: str
) -> None:
    filters = _filters(demo_end, **FILTERS[case])
    params = {k: v for k, v in {"service": list(filters.services), "operation": filters.operation,
                                "code": filters.result_code}.items() if v}
    at = run_page(PAGE, **window_params(*_periods(filters)["current"]), **params)  # type: ignore[arg-type]
    assert not at.exception, [e.value for e in at.exception]
    start, end = _periods(filters)["current"]
    requests = _rows(demo_frames["requests"], filters, start, end, requests=True)
    calls = _rows(demo_frames["dependencies"], filters, start, end, requests=False)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Requests"] == f"{requests['itemCount'].sum():,}"
    assert shown["Failure rate"] == f"{requests['failed_items'].sum() / requests['itemCount'].sum():.2%}"
    if not filters.operation:  # the headline latency leaves health probes out unless an operation is chosen
        requests = requests[~requests["operation_Name"].isin(PROBE_OPERATIONS)]
    exact = weighted_percentile(requests["duration"], requests["itemCount"], 95)
    assert abs(float(shown["p95 duration"].removesuffix(" ms").replace(",", "")) - exact) <= exact * 0.00995 + 0.05
    assert shown["Failed dependency calls"] == f"{calls['failed_items'].sum():,}"
    assert len(at.get("plotly_chart")) == 4


def test_each_headline_links_to_its_page_keeping_the_filters(app_env: Path, demo_end: datetime) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=1), demo_end), service=SAMPLED)
    assert not at.exception
    main_links = {link.proto.page: parse_qs(link.proto.query_string) for link in at.main.get("page_link")}
    assert set(main_links) == {"request-rate", "failure-rate", "response-times", "dependency-calls"}
    for query in main_links.values():
        assert query["service"] == [SAMPLED] and "from" in query and "to" in query


@pytest.mark.parametrize("params", [
    {"from": "2020-01-01T00:00Z", "to": "2020-01-02T00:00Z"},
    {"range": "7d", "service": "no-such-service"},
], ids=["empty range", "unknown service"])
def test_the_page_says_there_is_nothing_in_the_range_instead_of_empty_axes(app_env: Path,
                                                                           params: dict[str, str]) -> None:
    at = run_page(PAGE, **params)
    assert not at.exception, [e.value for e in at.exception]
    infos = texts(at, "info")
    assert sum(t.startswith("No requests in") for t in infos) == 4, infos  # three headlines and the services
    assert sum(t.startswith("No dependency calls in") for t in infos) == 1, infos
    assert not at.get("plotly_chart") and not at.metric


@pytest.mark.parametrize("panel", ["overview.requests", "overview.failure_rate", "overview.p95",
                                   "overview.failed_dependencies"])
def test_one_headline_alone_shows_its_number_and_trend_only(app_env: Path, demo_end: datetime, panel: str) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=2), demo_end), panel=panel)
    assert not at.exception
    assert not at.title and len(at.metric) == 1 and len(at.get("plotly_chart")) == 1
    assert not any(e.label == "Queries behind the trends" for e in at.expander)
