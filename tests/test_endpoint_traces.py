"""The endpoint's console log searched in the trace explorer, and one request's platform row and
console lines beside its App Insights operation, joined on the request ids."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from telemetry.endpoint_logs import CONSOLE_LOG, ENDPOINT_LOG_TABLES, TRAFFIC_LOG
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.endpoint_traces import (
    console_histogram,
    console_listing,
    platform_rows,
    request_console,
    request_ids,
)
from telemetry.queries.traces import PAGE_SIZE, TraceSearch
from tests.apptest import run_page, texts, window_params
from tests.azure_login import configure, day, fake, signed_in  # noqa: F401 (fixtures)
from tests.fake_logs_api import RESOURCE_ID, FakeLogsApi
from tests.kusto import assert_valid_kql
from tests.store_answers import endpoint_frames, local_answer, window_filters

HOSTILE = 'x" or 1==1 | take 1 // \\'


@pytest.fixture(scope="module")
def logs(demo_store: Path) -> dict[str, pd.DataFrame]:
    return endpoint_frames(demo_store)


def _fraud_op(demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> str:
    requests = demo_frames["requests"]
    scored = requests[(requests["cloud_RoleName"] == "fraud-scorer") & (requests["operation_Name"] == "POST /score")
                      & (requests["timestamp"] > demo_end - timedelta(hours=20))]
    return str(scored["operation_Id"].iloc[0])


def test_a_request_id_is_asked_for_in_both_spellings() -> None:
    assert request_ids("1f39b171d2261849f83ae86a5d790d76") == (
        "1f39b171d2261849f83ae86a5d790d76", "1f39b171-d226-1849-f83a-e86a5d790d76")
    assert request_ids("1F39B171-D226-1849-F83A-E86A5D790D76")[1] == "1f39b171d2261849f83ae86a5d790d76"
    assert request_ids("not-an-id") == ("not-an-id",)


def test_the_console_search_finds_lines_containing_the_text_newest_first(
        demo_store: Path, logs: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    week = window_filters(demo_end - timedelta(days=7), demo_end)
    console = logs[CONSOLE_LOG]
    got = local_answer(demo_store, console_listing(TraceSearch("memoryerror")), week)
    expected = console[console["Message"].str.lower().str.contains("memoryerror")]
    assert list(got["message"]) == list(expected["Message"]) and len(got) == 1
    page2 = local_answer(demo_store, console_listing(TraceSearch("scored"), page=2), week)
    scored = console[console["Message"].str.contains("scored")].sort_values(
        ["TimeGenerated", "InstanceId", "Message"], ascending=[False, True, True])
    assert list(page2["message"]) == list(scored["Message"].iloc[PAGE_SIZE:2 * PAGE_SIZE])
    histogram = local_answer(demo_store, console_histogram(TraceSearch("scored")), week)
    assert histogram["lines"].sum() == len(scored)


def test_a_request_finds_its_platform_row_and_console_line_by_its_app_insights_operation_id(
        demo_store: Path, demo_frames: dict[str, pd.DataFrame], logs: dict[str, pd.DataFrame],
        demo_end: datetime) -> None:
    op = _fraud_op(demo_frames, demo_end)
    day = window_filters(demo_end - timedelta(days=1), demo_end)
    (row,) = local_answer(demo_store, platform_rows(op), day).itertuples()
    assert row.XRequestId.replace("-", "") == op
    traffic = logs[TRAFFIC_LOG].set_index("XRequestId").loc[row.XRequestId]
    assert row.TotalDurationMs == traffic["TotalDurationMs"] and row.DeploymentName == traffic["DeploymentName"]
    lines = local_answer(demo_store, request_console(op), day)
    if traffic["ModelStatusCode"] in (200, 500):  # score.py ran, and printed
        assert len(lines) == 1 and lines["message"].iloc[0].startswith(row.XRequestId)
    by_client = local_answer(demo_store, platform_rows(str(traffic["XMSClientRequestId"]) or op), day)
    assert row.XRequestId in set(by_client["XRequestId"])


def test_every_endpoint_trace_panel_passes_kusto_on_the_workspace_schema(demo_end: datetime) -> None:
    ctx = RenderContext.of(window_filters(demo_end - timedelta(days=1), demo_end))
    queries = [console_listing(), console_listing(TraceSearch(HOSTILE, "has"), 3), console_histogram(TraceSearch("x")),
               platform_rows(HOSTILE), platform_rows("1f39b171d2261849f83ae86a5d790d76"), request_console(HOSTILE)]
    assert_valid_kql([("workspace", render_kql(q, ctx, "workspace")) for q in queries])


def test_the_trace_explorer_searches_the_console_log(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/traces.py", **window_params(demo_end - timedelta(days=7), demo_end), q="MemoryError",
                  **{"in": "console"})
    assert not at.exception, [e.value for e in at.exception]
    (lines,) = [d.value for d in at.dataframe]
    assert list(lines["message"]) == ["MemoryError: Unable to allocate 1.52 GiB for an array"]
    assert any("Console lines, newest first" in t for t in texts(at, "markdown"))


def test_the_end_to_end_view_shows_the_requests_platform_row_and_console_line(
        app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    op = _fraud_op(demo_frames, demo_end)
    at = run_page("pages/traces.py", **window_params(demo_end - timedelta(days=1), demo_end), op=op)
    assert not at.exception, [e.value for e in at.exception]
    platform = next(d.value for d in at.dataframe if "XRequestId" in d.value.columns)
    assert platform["XRequestId"].str.replace("-", "").tolist() == [op]
    assert "meaning" in platform.columns


def test_over_a_classic_resource_the_end_to_end_view_asks_for_no_endpoint_table(
        fake: FakeLogsApi, signed_in: Path, monkeypatch: pytest.MonkeyPatch, day: dict[str, str],
        demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    configure(monkeypatch, fake, resource_id=RESOURCE_ID)
    before = len(fake.requests)
    at = run_page("pages/traces.py", **day, op=_fraud_op(demo_frames, demo_end), **{"in": "console"})
    assert not at.exception, [e.value for e in at.exception]
    assert not any(t in q for r in fake.requests[before:] for q in r.queries for t in ENDPOINT_LOG_TABLES)
    # (the fake answers the operation's own parts only for queries it knows; what matters is what was asked)
    assert not any("lives in a Log Analytics workspace" in e.value for e in at.main.error)
