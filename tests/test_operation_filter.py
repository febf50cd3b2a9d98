"""The operation filter on dependencies, exceptions and traces: a row belongs to the operation by
its own operation_Name, or through its request's operation_Id when it has no name of its own
(exports that leave it out, the inference server's rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.store import build_store
from tests.kusto import assert_valid_kql
from tests.store_answers import local_answer

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AT = END.replace(tzinfo=None) - timedelta(minutes=30)
SCORE = "POST /score"


def _rows(table: str, rows: list[dict]) -> tuple[str, pa.Table]:
    base = {"timestamp": AT, "cloud_RoleName": "svc", "itemCount": 1, "operation_Name": None}
    return table, pa.Table.from_pylist([{**base, **row} for row in rows])  # the first row names the columns


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    call = {"success": "True", "resultCode": "200", "duration": 12.0}
    return build_store(tmp_path_factory.mktemp("ops") / "ops.duckdb", [
        _rows("requests", [{**call, "id": "r1", "name": SCORE, "operation_Id": "A", "operation_Name": SCORE},
                           {**call, "id": "r2", "name": "GET /health", "operation_Id": "B", "operation_Name": "GET /health"}]),
        _rows("dependencies", [
            {**call, "id": "d1", "name": "GET /features", "type": "HTTP", "target": "f", "operation_Id": "A"},  # no name
            {**call, "id": "d2", "name": "GET /features", "type": "HTTP", "target": "f", "operation_Id": "B"},
            {**call, "id": "d3", "name": "GET /features", "type": "HTTP", "target": "f", "operation_Id": "C",
             "operation_Name": SCORE},  # named, and no request in the store
        ]),
        _rows("traces", [{"message": "scored", "severityLevel": 1, "operation_Id": "A"},
                         {"message": "healthy", "severityLevel": 1, "operation_Id": "B"}]),
        _rows("exceptions", [{"problemId": "ValueError at score.run", "type": "ValueError", "outerMessage": "bad",
                              "severityLevel": 3, "operation_Id": "A"},
                             {"problemId": "OSError at health", "type": "OSError", "outerMessage": "disk",
                              "severityLevel": 3, "operation_Id": "B"}]),
    ])


FILTERS = Filters(TimeRange(None, END - timedelta(hours=1), END), operation=SCORE)


def test_dependencies_without_an_operation_name_count_in_their_requests_operation(store: Path) -> None:
    frame = local_answer(store, panel("dependencies.targets"), FILTERS)
    assert int(frame["calls"].sum()) == 2  # d1 through its request, d3 by its own name


def test_traces_and_exceptions_without_an_operation_name_are_found_through_their_request(store: Path) -> None:
    assert list(local_answer(store, panel("traces.search"), FILTERS)["message"]) == ["scored"]
    groups = local_answer(store, panel("exceptions.groups"), FILTERS)
    assert list(groups["problem"]) == ["ValueError at score.run"], groups


def test_a_comparison_with_the_period_before_looks_for_requests_in_both_periods(store: Path) -> None:
    later = Filters(TimeRange(None, END + timedelta(minutes=30), END + timedelta(hours=1, minutes=30)), operation=SCORE)
    query = panel("dependencies.totals")
    frame = local_answer(store, query, later)
    previous = frame[frame["period"] == "previous"]
    assert int(previous["calls"].sum()) == 2, frame


def test_the_operation_filters_kql_passes_kusto_in_both_schemas() -> None:
    ctx = RenderContext.of(FILTERS)
    names = ("dependencies.targets", "dependencies.totals", "traces.search", "exceptions.groups")
    assert_valid_kql([(schema, render_kql(panel(n), ctx, schema)) for n in names for schema in ("classic", "workspace")])
