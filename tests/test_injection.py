"""Property-based: whatever a user types into a filter, each value reaches KQL as exactly one
string literal (as Kusto's own parser reads it) and SQL only as a bound parameter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry.filters import Filters
from telemetry.kql import render_kql
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.sql import render_sql
from tests.kusto import KustoSession

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
VALUE = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


@pytest.fixture(scope="module")
def kusto() -> Iterator[KustoSession]:
    session = KustoSession()
    yield session
    session.close()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(service=VALUE, operation=VALUE, code=VALUE, schema=st.sampled_from(["classic", "workspace"]))
def test_every_filter_value_is_one_literal_in_kql_and_a_parameter_in_sql(
    kusto: KustoSession, service: str, operation: str, code: str, schema: str
) -> None:
    filters = Filters(services=(service,), operation=operation, result_code=code)
    ctx = RenderContext.of(filters, NOW)
    result = kusto.check(schema, render_kql(panel("requests.rate"), ctx, schema))
    assert result.ok, str(result)
    # The query's own literals ("False" for failures…) plus exactly one per user value.
    baseline = kusto.check(schema, render_kql(panel("requests.rate"), RenderContext.of(Filters(), NOW), schema))
    assert Counter(result.string_literals) == Counter(baseline.string_literals) + Counter([service, operation, code])
    sql = render_sql(panel("requests.rate"), ctx)
    assert {service, operation, code} <= set(sql.params)
    assert sql.text.count("?") == len(sql.params)
