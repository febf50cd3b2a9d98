"""Requests logged without a duration: percentiles and the mean leave them out, as KQL's
percentilew and sum() do, so the local store and the Logs API give the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries.latency import OVER_TIME, TOTALS, period_row
from telemetry.store import build_store
from tests.kusto import assert_valid_kql
from tests.store_answers import local_answer, window_filters
from tests.weighted import close_in_log, weighted_mean, weighted_percentile

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 2_000
    durations = rng.lognormal(4, 1, n)
    durations[rng.random(n) < 0.3] = np.nan  # a third logged without one
    return pd.DataFrame({
        "timestamp": [END - timedelta(minutes=1 + i % 600) for i in range(n)], "id": [f"r{i}" for i in range(n)],
        "name": "POST /score", "success": "True", "resultCode": "200", "duration": durations,
        "operation_Id": [f"op{i}" for i in range(n)], "operation_Name": "POST /score", "cloud_RoleName": "svc",
        "itemCount": rng.integers(1, 5, n).astype("int32"),
    })


@pytest.fixture(scope="module")
def store(rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = pa.Table.from_pandas(rows, preserve_index=False)
    return build_store(tmp_path_factory.mktemp("nulls") / "nulls.duckdb", [("requests", table)])


def _with_values(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.dropna(subset=["duration"])


def test_totals_leave_requests_without_a_duration_out_of_the_percentiles_and_the_mean(
    store: Path, rows: pd.DataFrame
) -> None:
    filters = window_filters(END - timedelta(hours=12), END)
    row = period_row(local_answer(store, TOTALS, filters), "current")
    assert row is not None
    assert row["requests"] == rows["itemCount"].sum(), "they still count as requests"
    timed = _with_values(rows)
    assert row["mean_ms"] == pytest.approx(weighted_mean(timed["duration"], timed["itemCount"]), rel=1e-9)
    for column, percent in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        assert close_in_log(row[column], weighted_percentile(timed["duration"], timed["itemCount"], percent))


def test_a_bin_whose_requests_all_lack_a_duration_has_no_percentiles(store: Path, rows: pd.DataFrame) -> None:
    filters = window_filters(END - timedelta(hours=12), END, grain="1h")
    frame = local_answer(store, OVER_TIME, filters)
    assert frame["p95_ms"].notna().all() and (frame["p50_ms"] > 0.01).all(), "no bin's percentile is the 0.001 ms floor"
    only_nulls = rows.assign(duration=np.nan)
    empty = build_store(store.with_name("all-null.duckdb"), [("requests", pa.Table.from_pandas(only_nulls))])
    answer = local_answer(empty, OVER_TIME, filters)
    assert answer["p50_ms"].isna().all() and answer["mean_ms"].isna().all()


def test_the_kql_mean_divides_by_the_weight_of_the_rows_with_a_value() -> None:
    ctx = RenderContext.of(window_filters(END - timedelta(hours=12), END))
    checks = [(schema, render_kql(TOTALS, ctx, schema)) for schema in ("classic", "workspace")]
    # the duration is the request's own (the inference server's where it writes it): telemetry/derived.py
    assert "sumif(itemCount, isnotnull(req_duration))" in checks[0][1]
    assert "sumif(ItemCount, isnotnull(req_duration))" in checks[1][1]
    assert_valid_kql(checks)
