"""Every panel's KQL passes Kusto's own language service, in both schemas, whatever the filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import PANELS, panel
from telemetry.schema import is_endpoint_table
from telemetry.sql import render_sql
from tests.kusto import assert_valid_kql, check_kql

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOSTILE = ('churn" or 1==1 //', "it's\\", "line\nbreak\ttab", "'; drop table requests; --", "ünï 😀")

FILTER_CASES = {
    "defaults": Filters(),
    "absolute range, hourly grain": Filters(
        TimeRange(None, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC)), grain="1h"
    ),
    "services, operation and code": Filters(
        TimeRange(preset="7d"), services=("churn-regressor", "image-classifier"), operation="POST /score",
        result_code="500", split="operation",
    ),
    "hostile values": Filters(services=HOSTILE[:3], operation=HOSTILE[3], result_code=HOSTILE[4]),
}


def _panels_without_parameters() -> list[str]:
    names = []
    for name, factory in PANELS.items():
        try:
            factory()
        except TypeError:
            continue  # panels with parameters are checked by their own pages' tests
        names.append(name)
    return names


def test_every_parameterless_panel_passes_kusto_in_both_schemas_under_every_filter() -> None:
    checks = []
    for filters in FILTER_CASES.values():
        ctx = RenderContext.of(filters, NOW)
        for name in _panels_without_parameters():
            for schema in _schemas_of(name):
                checks.append((schema, render_kql(panel(name), ctx, schema)))
    assert_valid_kql(checks)


def _schemas_of(name: str) -> tuple[str, ...]:
    """The schemas a panel's table exists in: online endpoint logs live only in workspaces (a
    classic resource is told so: tests/test_deployments_page.py)."""
    return ("workspace",) if is_endpoint_table(panel(name).table) else ("classic", "workspace")


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_hostile_filter_values_reach_kql_as_exactly_one_literal_each(schema: str) -> None:
    ctx = RenderContext.of(FILTER_CASES["hostile values"], NOW)
    (result,) = check_kql([(schema, render_kql(panel("requests.rate"), ctx, schema))])
    assert result.ok, str(result)
    for value in HOSTILE:
        assert result.string_literals.count(value) == 1


def test_hostile_filter_values_reach_sql_only_as_bound_parameters() -> None:
    ctx = RenderContext.of(FILTER_CASES["hostile values"], NOW)
    for name in _panels_without_parameters():
        sql = render_sql(panel(name), ctx)
        for value in HOSTILE:
            assert value not in sql.text
        # the result code only narrows panels it applies to (requests); trace or exception panels ignore it,
        # and the endpoint logs' panels take none of the sidebar's filters (they have no services)
        applies = panel(name).applies
        applied = HOSTILE if "result_code" in applies else HOSTILE[:4] if applies else ()
        assert all(value in sql.params for value in applied if name != "services")


def test_failures_read_the_classic_string_and_the_workspace_bool() -> None:
    ctx = RenderContext.of(Filters(), NOW)
    assert 'success == "False"' in render_kql(panel("requests.rate"), ctx, "classic")
    assert "Success == false" in render_kql(panel("requests.rate"), ctx, "workspace")


def test_counts_are_sums_of_item_count_never_row_counts() -> None:
    ctx = RenderContext.of(Filters(), NOW)
    for name in _panels_without_parameters():
        for schema in _schemas_of(name):
            assert "count()" not in render_kql(panel(name), ctx, schema)
