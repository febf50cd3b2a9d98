"""The request-rate panels equal an independent pandas computation on the same demo rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from telemetry.filters import Filters, TimeRange
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.queries.requests import operations_table, totals
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from tests.apptest import run_page


def _window_filters(end: datetime, days: int = 2, **kwargs: object) -> Filters:
    return Filters(TimeRange(None, end - timedelta(days=days), end), **kwargs)  # type: ignore[arg-type]


def _answer(store: Path, name: str, filters: Filters) -> pd.DataFrame:
    outcome = LocalSource(store).run([panel(name)], RenderContext.of(filters))[0]
    assert isinstance(outcome, QueryResult), outcome
    return outcome.frame


def _rows_in(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]


def _expected_rate(requests: pd.DataFrame, filters: Filters, column: str) -> pd.DataFrame:
    window = filters.window()
    rows = _rows_in(requests, window.start, window.end).copy()
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    rows["bucket"] = rows["timestamp"].dt.floor(filters.grain_for(window))
    rows["failed_items"] = rows["itemCount"].where(rows["success"] == "False", 0)
    grouped = rows.groupby(["bucket", column]).agg(requests=("itemCount", "sum"), failed=("failed_items", "sum"))
    return grouped.reset_index().rename(columns={column: "series"})


@pytest.mark.parametrize(
    ("split", "column"), [("service", "cloud_RoleName"), ("operation", "operation_Name")]
)
def test_requests_per_bin_equal_pandas_sums_of_item_count(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, split: str, column: str
) -> None:
    filters = _window_filters(demo_end, split=split)
    got = _answer(demo_store, "requests.rate", filters).sort_values(["bucket", "series"]).reset_index(drop=True)
    want = _expected_rate(demo_frames["requests"], filters, column).sort_values(["bucket", "series"])
    assert len(got) == len(want) > 0
    assert list(got["bucket"]) == list(want["bucket"])
    assert list(got["series"]) == list(want["series"])
    assert list(got["requests"]) == list(want["requests"])
    assert list(got["failed"]) == list(want["failed"])


def test_sampled_rows_count_as_the_events_they_stand_for(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    requests = demo_frames["requests"]
    sampled = requests.loc[requests["itemCount"] > 1, "cloud_RoleName"].unique()
    assert len(sampled) >= 1, "the demo data has a sampled service"
    filters = _window_filters(demo_end, services=tuple(sampled))
    got = _answer(demo_store, "requests.rate", filters)
    window = filters.window()
    rows = _rows_in(requests, window.start, window.end)
    rows = rows[rows["cloud_RoleName"].isin(sampled)]
    assert got["requests"].sum() == rows["itemCount"].sum() > len(rows)


def test_totals_compare_with_the_previous_period_of_the_same_length(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _window_filters(demo_end, days=1)
    window = filters.window()
    got = totals(_answer(demo_store, "requests.totals", filters), window)
    for period, (start, end) in {
        "current": (window.start, window.end),
        "previous": (window.previous().start, window.previous().end),
    }.items():
        rows = _rows_in(demo_frames["requests"], start, end)
        assert got[period].requests == rows["itemCount"].sum()
        assert got[period].failed == rows.loc[rows["success"] == "False", "itemCount"].sum()


def test_operations_table_gives_count_rate_per_minute_and_share(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _window_filters(demo_end)
    window = filters.window()
    table = operations_table(_answer(demo_store, "requests.operations", filters), window)
    rows = _rows_in(demo_frames["requests"], window.start, window.end)
    per_op = rows.groupby("operation_Name")["itemCount"].sum()
    for row in table.itertuples():
        assert row.requests == per_op[row.operation]
        assert row.rate_per_min == pytest.approx(per_op[row.operation] / (2 * 24 * 60))
        assert row.share == pytest.approx(per_op[row.operation] / per_op.sum())
    assert table["share"].sum() == pytest.approx(1.0)


def test_request_rate_page_shows_the_pandas_total(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    start = demo_end - timedelta(days=1)
    at = run_page("pages/requests.py", **{"from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         "to": demo_end.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert not at.exception
    rows = _rows_in(demo_frames["requests"], start, demo_end)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Requests"] == f"{rows['itemCount'].sum():,}"
