"""The overview answers "which service is unhealthy?": one row per service with its requests,
failure rate and p95, their change and a sparkline each, linking to that service's pages; health
probes (GET /, swagger) left out of the headline latency unless the URL asks for them.

Checked against pandas on the demo rows (counts exact, p95 within the log-bucket method's
0.995 % in log), the KQL through Kusto's language service, the page through AppTest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.overview import PROBE_OPERATIONS, page_view, service_table
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from tests.apptest import run_page, window_params
from tests.kusto import assert_valid_kql
from tests.store_answers import window_filters
from tests.weighted import close_in_log, weighted_percentile

PAGE = "pages/overview.py"


def _table(store: Path, filters: Filters, probes: bool = False) -> pd.DataFrame:
    outcomes = LocalSource(store).run(page_view(probes), RenderContext.of(filters))
    assert all(isinstance(o, QueryResult) for o in outcomes), outcomes
    frames = [o.frame for o in outcomes]  # type: ignore[union-attr]
    return service_table(frames[4], frames[5], frames[8], frames[9], covered=True).set_index("service")


def _rows(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]


def test_each_service_has_its_requests_failure_rate_and_p95_without_probes_like_pandas(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=2)
    table = _table(demo_store, window_filters(start, demo_end))
    rows = _rows(demo_frames["requests"], start, demo_end)
    assert set(table.index) == set(rows["cloud_RoleName"]) and len(table) >= 3
    for service, mine in rows.groupby("cloud_RoleName"):
        row = table.loc[service]
        assert row["requests"] == mine["itemCount"].sum()
        failed = mine.loc[mine["success"] == "False", "itemCount"].sum()
        assert row["failure_rate"] == pytest.approx(failed / mine["itemCount"].sum(), rel=1e-12)
        scored = mine[~mine["operation_Name"].isin(PROBE_OPERATIONS)]
        assert close_in_log(row["p95_ms"], weighted_percentile(scored["duration"], scored["itemCount"], 95))
        assert len(row["requests_trend"]) == len(row["p95_trend"]) == len(row["failure_trend"]) > 100
        assert sum(row["requests_trend"]) == row["requests"]


def test_the_previous_periods_figures_give_each_services_change(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=2)
    table = _table(demo_store, window_filters(start, demo_end))
    before = _rows(demo_frames["requests"], start - timedelta(days=2), start)
    for service, mine in before.groupby("cloud_RoleName"):
        previous = mine["itemCount"].sum()
        assert table.at[service, "requests_change"] == pytest.approx(table.at[service, "requests"] / previous - 1)
        rate = mine.loc[mine["success"] == "False", "itemCount"].sum() / previous
        assert table.at[service, "failure_rate_change"] == pytest.approx(table.at[service, "failure_rate"] - rate)


def test_health_probes_pull_p95_down_and_are_left_out_unless_asked(
    demo_store: Path, demo_end: datetime
) -> None:
    filters = window_filters(demo_end - timedelta(days=2), demo_end)
    without, with_probes = _table(demo_store, filters), _table(demo_store, filters, probes=True)
    assert (without["p95_ms"] >= with_probes["p95_ms"]).all()
    assert (without["p95_ms"] > with_probes["p95_ms"] * 1.02).any(), "probes matter to some service's p95"
    assert (without["requests"] == with_probes["requests"]).all(), "requests count every operation"


def test_every_overview_query_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    ctx = RenderContext.of(window_filters(demo_end - timedelta(days=1), demo_end, services=("churn-regressor",)))
    queries = [*page_view(), *page_view(probes=True)]
    assert_valid_kql([(schema, render_kql(q, ctx, schema)) for q in queries for schema in ("classic", "workspace")])


def test_the_page_lists_services_least_healthy_first_with_links_to_their_pages(
    app_env: Path, demo_end: datetime
) -> None:
    at = run_page(PAGE, **window_params(demo_end - timedelta(days=2), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["failure_rate"]) == sorted(table["failure_rate"], reverse=True)
    for service, link in zip(table["service"], table["open_latency"], strict=True):
        url = urlsplit(link)
        assert url.path == "response-times" and parse_qs(url.query)["service"] == [service]
    assert {urlsplit(link).path for link in table["open_failures"]} == {"failure-rate"}
    assert any("leaves out health probes" in c.value for c in at.caption)


def test_the_probe_switch_writes_the_url_and_the_url_turns_it_on(app_env: Path, demo_end: datetime) -> None:
    params = window_params(demo_end - timedelta(days=2), demo_end)
    at = run_page(PAGE, **params)
    p95 = at.metric[2].value
    (switch,) = [t for t in at.toggle if "health probes" in t.label]
    assert not switch.value
    at = switch.set_value(True).run()
    assert at.query_params["probes"] == "include"
    assert at.metric[2].value != p95, "the headline p95 now counts the fast probes"
    reopened = run_page(PAGE, **params, probes="include")
    assert reopened.metric[2].value == at.metric[2].value
    assert any("includes health probes" in c.value for c in reopened.caption)
