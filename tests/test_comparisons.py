"""Comparisons a user can trust: a change against the previous period only where the data covers
that period, "new" exception groups only then, percentile changes inside the method's resolution
as "no change", and a failure rate under a result-code filter that says what it means.

The demo store starts DEMO_DAYS (7) days before DEMO_END: a 4-day range compares with a period
the data covers only from its last quarter on, a 7-day range with nothing at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from telemetry.comparison import PERCENTILE_RESOLUTION, change, data_starts
from telemetry.model import RenderContext
from telemetry.queries.exceptions import COVERAGE, GROUPS, group_table
from telemetry.queries.latency import slowest_operations
from tests.apptest import run_page, texts, window_params
from tests.store_answers import local_answer, window_filters

COMPARING_PAGES = ("pages/overview.py", "pages/requests.py", "pages/latency.py", "pages/failures.py",
                   "pages/dependencies.py")


def _first_request(demo_frames: dict[str, pd.DataFrame], table: str = "requests") -> datetime:
    return demo_frames[table]["timestamp"].min().to_pydatetime()


@pytest.mark.parametrize("page", COMPARING_PAGES)
def test_a_range_whose_previous_period_the_data_does_not_cover_says_when_the_data_starts(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, page: str
) -> None:
    at = run_page(page, **window_params(demo_end - timedelta(days=4), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    table = "dependencies" if page.endswith("dependencies.py") else "requests"
    starts = f"no data before {_first_request(demo_frames, table):%d %b}"
    deltas = [m.delta for m in at.metric if m.value != "—"]
    assert deltas and all(d == starts for d in deltas), deltas


def test_a_range_before_which_there_is_no_data_at_all_says_when_its_own_data_starts(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    at = run_page("pages/overview.py", **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    first = demo_frames["requests"]["timestamp"].min()
    assert at.metric[0].delta == f"no data before {first:%d %b}"
    assert f"The data starts at {first:%Y-%m-%d %H:%M} UTC" in at.metric[0].help


def test_a_covered_previous_period_is_compared_as_a_change(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/overview.py", **window_params(demo_end - timedelta(days=2), demo_end))
    deltas = [m.delta for m in at.metric]
    assert all(d and ("previous period" in d or d == "no change") for d in deltas), deltas


def test_the_previous_period_counts_as_covered_when_its_data_starts_within_its_first_tenth(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    first = _first_request(demo_frames)
    # data from 7 days back covers the previous period of a d-day range when 7 >= 2d - d/10: d <= 3.68
    for days, covered in ((1.0, True), (3.6, True), (3.7, False), (4.0, False), (7.0, False)):
        filters = window_filters(demo_end - timedelta(days=days), demo_end)
        window = RenderContext.of(filters).window
        # covered exactly when the data starts in the first tenth of the previous period
        assert (first <= window.previous().start + window.length / 10) == covered
        assert (data_starts(local_answer(demo_store, COVERAGE, filters), window) is None) == covered, days


def test_no_group_is_new_when_the_previous_period_is_not_covered(
    app_env: Path, demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = window_filters(demo_end - timedelta(days=4), demo_end)
    window = RenderContext.of(filters).window
    starts = data_starts(local_answer(demo_store, COVERAGE, filters), window)
    assert starts == _first_request(demo_frames)
    groups = local_answer(demo_store, GROUPS, filters)
    assert group_table(groups)["new"].any(), "groups first raised after the data starts would read as new"
    assert not group_table(groups, previous_covered=False)["new"].any()

    at = run_page("pages/exceptions.py", **window_params(demo_end - timedelta(days=4), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    assert not any("new in this period" in w for w in texts(at, "warning"))
    assert any(f"no data before {starts:%Y-%m-%d %H:%M} UTC" in c for c in texts(at, "caption"))
    assert not at.dataframe[0].value["New"].any()


@pytest.mark.parametrize(("current", "previous", "expected"), [
    (100.0, 100.0, 0.0),
    (101.9, 100.0, 0.0),  # inside one log bucket of ratio 1.02
    (98.1, 100.0, 0.0),
    (102.0, 100.0, 0.0),  # exactly one bucket apart: the same value may read either
    (100.0, 102.0, 0.0),
    (103.0, 100.0, pytest.approx(0.03)),
    (96.0, 100.0, pytest.approx(-0.04)),
])
def test_a_percentile_change_inside_the_methods_resolution_is_no_change(
    current: float, previous: float, expected: object
) -> None:
    assert change(current, previous, PERCENTILE_RESOLUTION) == expected
    assert change(current, previous) == pytest.approx(current / previous - 1)  # counts have no such margin


def test_the_slowest_operations_table_reads_a_change_inside_the_resolution_as_none() -> None:
    frame = pd.DataFrame({
        "service": ["a", "a", "b", "b", "c"], "operation": ["op"] * 5,
        "period": ["current", "previous", "current", "previous", "current"],
        "requests": [10, 10, 10, 10, 10], "p50_ms": [1.0] * 5, "p95_ms": [101.5, 100.0, 150.0, 100.0, 80.0],
        "p99_ms": [1.0] * 5,
    })
    table = slowest_operations(frame).set_index("service")
    assert table.at["a", "p95_change"] == 0.0
    assert table.at["b", "p95_change"] == pytest.approx(0.5)
    assert pd.isna(table.at["c", "p95_change"])


def _metric_app(current: float, previous: float, resolution: float) -> AppTest:
    def app(current: float, previous: float, resolution: float) -> None:
        import streamlit as st

        from components.metrics import change_metric

        change_metric(st.container(), "p95", current, previous, fmt="{:,.1f} ms", higher_is_worse=True,
                      resolution=resolution)

    return AppTest.from_function(app, args=(current, previous, resolution)).run()


def test_a_metric_within_the_resolution_says_no_change_in_neutral_colour() -> None:
    (metric,) = _metric_app(101.5, 100.0, PERCENTILE_RESOLUTION).metric
    assert metric.delta == "no change"
    assert metric.proto.color == metric.proto.MetricColor.GRAY
    assert metric.proto.direction == metric.proto.MetricDirection.NONE


def test_a_metric_outside_the_resolution_shows_its_percentage() -> None:
    (metric,) = _metric_app(110.0, 100.0, PERCENTILE_RESOLUTION).metric
    assert metric.delta == "+10.0% vs previous period"


def test_a_result_code_filter_says_what_the_failure_rate_then_means(app_env: Path, demo_end: datetime) -> None:
    for page in ("pages/overview.py", "pages/failures.py", "pages/requests.py"):
        at = run_page(page, **window_params(demo_end - timedelta(days=2), demo_end), code="500")
        assert not at.exception, [e.value for e in at.exception]
        assert any("Only requests with result code 500 are counted" in c for c in texts(at, "caption")), page
        plain = run_page(page, **window_params(demo_end - timedelta(days=2), demo_end))
        assert not any("Only requests with result code" in c for c in texts(plain, "caption")), page


def test_the_slowest_operations_claim_no_change_where_the_period_before_is_not_covered(
    app_env: Path, demo_end: datetime
) -> None:
    uncovered = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=4), demo_end))
    operations = uncovered.dataframe[0].value
    assert operations["p95_change"].isna().all() and operations["previous_p95_ms"].isna().all()
    covered = run_page("pages/latency.py", **window_params(demo_end - timedelta(days=2), demo_end))
    assert covered.dataframe[0].value["p95_change"].notna().any()
