"""Alert rules from panels: the ARM template validates against the 2023-12-01 schema for every
alertable panel in both scopes, the KQL inside passes Kusto's language service, hostile filter
values stay one literal everywhere the rule is written, and the preview fires exactly when an
independent pandas evaluation of the rule on the demo rows does."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from jsonschema import ValidationError

from telemetry.alerts import (
    API_VERSION,
    MEASURES,
    PANEL_MEASURES,
    PANEL_QUERIES,
    RESOURCE_TYPE,
    VALUE_COLUMN,
    AlertRule,
    Condition,
    arm_template,
    az_command,
    bicep,
    evaluate,
    firing_spans,
    make_rule,
    preview_context,
    preview_query,
    rule_kql,
    suggested_threshold,
    window_values,
)
from telemetry.filters import Filters, Window
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from tests.arm_schema import deployed_body, rule_validator
from tests.kusto import KustoSession, assert_valid_kql
from tests.store_answers import window_filters
from tests.weighted import LOG_TOLERANCE, weighted_percentile

WORKSPACE_ID = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/ml-prod/providers/"
                "Microsoft.OperationalInsights/workspaces/ml-logs")
CLASSIC_ID = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/ml-prod/providers/"
              "microsoft.insights/components/ml-endpoints")
ACTION_GROUP = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/ml-prod/providers/"
                "microsoft.insights/actionGroups/on-call")
SCOPES = {"classic": CLASSIC_ID, "workspace": WORKSPACE_ID}
EVERY_MEASURE = [(panel, measure) for panel, measures in sorted(PANEL_MEASURES.items()) for measure in measures]
HOSTILE = ['a"b', "a\\\"b", "x') | take 1 //", "[concat('x')]", "${evil}", "new\nline", "tab\there", "é ✓ \u202e",
           "'; drop table requests; --", "\\"]


def _rule(panel: str, measure: str, schema: str, **changes: Any) -> AlertRule:
    condition = changes.pop("condition", Condition("above", 0.05, window="15m", frequency="5m", periods=3, failing=2,
                                                    severity=1))
    return make_rule(panel, condition=condition, filters=changes.pop("filters", Filters(services=("churn-regressor",),
                                                                                        operation="POST /score")),
                     schema=schema, measure=measure, link="https://monitor.example/failure-rate?panel=" + panel,
                     **changes)


@pytest.fixture(scope="module")
def validator():
    return rule_validator()


@pytest.mark.parametrize("schema", ["classic", "workspace"])
@pytest.mark.parametrize(("panel", "measure"), EVERY_MEASURE)
def test_every_alertable_panel_makes_a_rule_that_validates_against_the_2023_12_01_schema(
        validator, panel: str, measure: str, schema: str) -> None:
    for extra in ({}, {"scope_id": SCOPES[schema], "action_group": ACTION_GROUP}):
        template = arm_template(_rule(panel, measure, schema, **extra))
        assert template["$schema"].endswith("/2019-04-01/deploymentTemplate.json#")
        (resource,) = template["resources"]
        assert (resource["type"], resource["apiVersion"]) == (RESOURCE_TYPE, API_VERSION)
        body = deployed_body(template, location="westeurope", scopeResourceId=SCOPES[schema])
        validator.validate(body)
        properties = body["properties"]
        assert properties["scopes"] == [SCOPES[schema]]
        (condition,) = properties["criteria"]["allOf"]
        assert condition["metricMeasureColumn"] == VALUE_COLUMN and condition["operator"] == "GreaterThan"
        assert condition["failingPeriods"] == {"numberOfEvaluationPeriods": 3, "minFailingPeriodsToAlert": 2}
        assert (properties["windowSize"], properties["evaluationFrequency"]) == ("PT15M", "PT5M")
        assert properties["actions"]["actionGroups"] == [ACTION_GROUP] if extra else "actions" not in properties
        assert f"?panel={panel}" in properties["description"]


def test_the_schema_check_fails_a_misspelt_field_a_read_only_one_and_a_bad_duration(validator) -> None:
    body = deployed_body(arm_template(_rule("failures.rate", "failure_rate", "workspace")), location="westeurope",
                         scopeResourceId=WORKSPACE_ID)
    validator.validate(body)
    for mutate in (lambda b: b["properties"].update(evaluationFrequncy="PT5M"),
                   lambda b: b.update(etag="x"),
                   lambda b: b["properties"].update(windowSize="5 minutes"),
                   lambda b: b["properties"].update(severity=5),
                   lambda b: b["properties"]["criteria"]["allOf"][0].update(timeAggregation="Percentile95"),
                   lambda b: b["properties"].pop("scopes")):
        broken = json.loads(json.dumps(body))
        mutate(broken)
        with pytest.raises(ValidationError):
            validator.validate(broken)


def test_every_rule_query_passes_kusto_in_both_schemas() -> None:
    checks = [(schema, rule_kql(_rule(panel, measure, schema)))
              for panel, measure in EVERY_MEASURE for schema in ("classic", "workspace")]
    for schema, query in checks:
        time = "timestamp" if schema == "classic" else "TimeGenerated"
        assert query.rstrip().endswith(f"| project {time}, {VALUE_COLUMN}")
        assert f"by {time} = bin({time}, 15m)" in query
        assert " >= datetime(" not in query  # Azure Monitor sets the range
    assert_valid_kql(checks)


def test_percentiles_are_weighted_and_counts_are_sums_of_item_count() -> None:
    p99 = rule_kql(_rule("latency.over_time", "p99_ms", "workspace"))
    assert "p99_ms = percentilew(DurationMs, ItemCount, 99)" in p99
    failed = rule_kql(_rule("dependencies.over_time", "failed_dependencies", "classic"))
    assert 'failed = sumif(itemCount, success == "False")' in failed and "count()" not in failed


def _bicep_strings(text: str) -> list[str]:
    """Every single-quoted Bicep string, decoded (\\\\, \\', \\n, \\r, \\t, \\$)."""
    decode = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}
    return [re.sub(r"\\(.)", lambda m: decode[m.group(1)], raw) for raw in re.findall(r"'((?:[^'\\\n]|\\.)*)'", text)]


@pytest.fixture(scope="module")
def kusto():
    session = KustoSession()
    yield session
    session.close()


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_a_hostile_filter_value_stays_one_literal_in_the_query_the_template_the_bicep_and_the_command(
        kusto, validator, value: str, schema: str) -> None:
    filters = Filters(services=(value,), operation=value)
    rule = _rule("failures.rate", "failure_rate", schema, filters=filters)
    query = rule_kql(rule)
    checked = kusto.check(schema, query)
    assert checked.ok, str(checked)
    assert checked.string_literals.count(value) == 2  # the service and the operation, nothing else of it
    body = deployed_body(arm_template(rule), location="westeurope", scopeResourceId=SCOPES[schema])
    validator.validate(body)
    assert body["properties"]["criteria"]["allOf"][0]["query"] == query
    assert value in body["properties"]["displayName"] and value in body["properties"]["description"]
    text = bicep(rule)
    assert query in _bicep_strings(text) and rule.description in _bicep_strings(text)
    assert not re.search(r"(?<!\\)\$\{", text)  # no interpolation Bicep would evaluate
    import shlex
    words = shlex.split(az_command(rule).replace("\\\n", " "))
    assert words[words.index("--condition-query") + 1] == f"AlertQuery={query}"
    assert words[words.index("--description") + 1] == rule.description


def test_a_rule_name_that_looks_like_an_arm_expression_stays_a_literal_name() -> None:
    template = arm_template(_rule("failures.rate", "failure_rate", "classic", name="[concat('a', 'b')]"))
    assert template["resources"][0]["name"] == "[[concat('a', 'b')]"


def test_bad_choices_are_refused_with_a_message_that_names_them() -> None:
    for make, words in (
        (lambda: Condition("above", 1, window="5m", frequency="15m"), "frequency"),
        (lambda: Condition("above", 1, periods=2, failing=3), "failing periods"),
        (lambda: Condition("above", float("nan")), "finite"),
        (lambda: Condition("above", 1, severity=7), "severity"),
        (lambda: Condition("above", 1, window="1d", periods=3), "2 days"),
        (lambda: _rule("failures.rate", "failure_rate", "workspace", scope_id=CLASSIC_ID), "resource id like"),
        (lambda: _rule("failures.rate", "failure_rate", "classic", action_group="not-an-id"), "action group"),
        (lambda: _rule("failures.rate", "failure_rate", "classic", name="a/b"), "rule name"),
        (lambda: _rule("latency.over_time", "failure_rate", "classic"), "can alert on"),
        (lambda: _rule("latency.slowest", None, "classic"), "no number to alert on"),
    ):
        with pytest.raises(ValueError, match=words):
            make()


# --- the preview against pandas ----------------------------------------------------------------


def _pandas_values(frames: dict[str, pd.DataFrame], measure: str, filters: Filters, read: Window,
                   window: timedelta) -> pd.Series:
    """The rule's value per window, straight from the rows (itemCount-weighted), windows with rows only."""
    table = "dependencies" if measure == "failed_dependencies" else "requests"
    rows = frames[table]
    rows = rows[(rows["timestamp"] >= read.start) & (rows["timestamp"] < read.end)]
    if filters.services:
        rows = rows[rows["cloud_RoleName"].isin(filters.services)]
    if filters.operation:
        rows = rows[rows["operation_Name"] == filters.operation]
    rows = rows.assign(start=rows["timestamp"].dt.floor(window), failed=(rows["success"] == "False") * rows["itemCount"])
    groups = rows.groupby("start")
    if measure in ("requests",):
        values = groups["itemCount"].sum()
    elif measure in ("failed_requests", "failed_dependencies"):
        values = groups["failed"].sum()
    elif measure == "failure_rate":
        values = groups["failed"].sum() / groups["itemCount"].sum()
    else:
        percent = float(measure[1:3])
        values = groups.apply(lambda g: weighted_percentile(g["duration"], g["itemCount"], percent))
    return values.astype("float64")


def _pandas_firings(values: pd.Series, shown: Window, window: timedelta, operator: str, threshold: float,
                    periods: int, failing: int) -> list[pd.Timestamp]:
    """Evaluation times at which the rule fires: at each whole window's end in the shown range,
    count the violating windows among the `periods` before it, by hand."""
    first = pd.Timestamp(shown.start).ceil(window)
    fired = []
    t = first + window
    while t <= pd.Timestamp(shown.end):
        violations = 0
        for k in range(1, periods + 1):
            value = values.get(t - k * window, math.nan)
            if not math.isnan(value) and (value > threshold if operator == "above" else value < threshold):
                violations += 1
        if violations >= failing:
            fired.append(t)
        t += window
    return fired


CASES = [
    ("requests.rate", "requests", "below", (), 6, 2, "15m"),
    ("failures.rate", "failure_rate", "above", ("churn-regressor",), 3, 2, "15m"),
    ("failures.failed", "failed_requests", "above", (), 1, 1, "30m"),
    ("latency.over_time", "p95_ms", "above", ("fraud-scorer",), 4, 3, "1h"),
    ("dependencies.over_time", "failed_dependencies", "above", (), 2, 1, "15m"),
]


@pytest.mark.parametrize(("panel", "measure", "operator", "services", "periods", "failing", "window"), CASES)
def test_the_preview_fires_exactly_when_pandas_evaluating_the_rule_on_the_demo_rows_does(
        demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, panel: str, measure: str,
        operator: str, services: tuple[str, ...], periods: int, failing: int, window: str) -> None:
    filters = window_filters(demo_end - timedelta(days=2, minutes=7), demo_end, services=services)
    shown = filters.window()
    chosen = MEASURES[measure]
    probe = Condition(operator, 0.0, window=window, frequency=window, periods=periods, failing=failing)
    ctx = preview_context(filters, shown, probe)
    (outcome,) = LocalSource(demo_store).run([preview_query(PANEL_QUERIES[panel], chosen)], ctx)
    assert isinstance(outcome, QueryResult), outcome
    ours = window_values(outcome.frame, chosen)
    theirs = _pandas_values(demo_frames, measure, filters, ctx.window, probe.window_size)
    assert list(ours.index) == list(theirs.index)
    if measure.startswith("p"):
        assert np.all(np.abs(np.log(ours.to_numpy()) - np.log(theirs.to_numpy())) <= LOG_TOLERANCE)
    else:
        assert np.allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)
    # A threshold the data crosses (near the median window), halfway between two values further apart
    # than the percentile method's tolerance, so the verdicts are the rule's, not rounding's.
    distinct = np.unique(theirs.to_numpy())
    middle = sorted(range(1, len(distinct)), key=lambda i: abs(i - len(distinct) / 2))
    i = next(i for i in middle if distinct[i] - distinct[i - 1] > 0.03 * abs(distinct[i]))
    threshold = float(distinct[i - 1] + distinct[i]) / 2
    condition = Condition(operator, threshold, window=window, frequency=window, periods=periods, failing=failing)
    verdicts = evaluate(ours, shown, condition)
    expected = _pandas_firings(theirs, shown, probe.window_size, operator, threshold, periods, failing)
    assert expected and len(expected) < len(verdicts)  # the case shows both verdicts
    assert list(verdicts.loc[verdicts["fired"], "evaluated_at"]) == expected
    spans = firing_spans(verdicts)
    assert sum((end - start) // probe.window_size for start, end in spans) == len(expected)


def test_a_window_without_data_never_violates_and_failing_periods_count_within_the_lookback() -> None:
    start = pd.Timestamp("2026-11-20T00:00Z")
    size = timedelta(minutes=15)
    values = pd.Series([5.0, 1.0, 5.0, 5.0], index=[start + i * size for i in (0, 1, 2, 4)])  # window 3 has no data
    verdicts = evaluate(values, Window(start.to_pydatetime(), (start + 6 * size).to_pydatetime()),
                        Condition("above", 2, window="15m", frequency="15m", periods=2, failing=2))
    assert list(verdicts["violated"]) == [True, False, True, False, True, False]
    assert list(verdicts["violations"]) == [1, 1, 1, 1, 1, 1]
    assert not verdicts["fired"].any()
    shown = Window(start.to_pydatetime(), (start + 6 * size).to_pydatetime())
    one_of_two = evaluate(values, shown, Condition("above", 2, window="15m", frequency="15m", periods=2, failing=1))
    assert firing_spans(one_of_two) == [(start, start + 6 * size)]
    each = evaluate(values, shown, Condition("above", 2, window="15m", frequency="15m"))
    assert firing_spans(each) == [(start, start + size), (start + 2 * size, start + 3 * size),
                                  (start + 4 * size, start + 5 * size)]


def test_the_threshold_starts_just_past_the_worst_window_shown() -> None:
    values = pd.Series([0.012, 0.034, 0.0051])
    assert suggested_threshold(values, "above") == 0.035
    assert suggested_threshold(values, "below") == 0.005
    assert suggested_threshold(pd.Series([812.0, 640.0]), "above") == 820.0
    assert suggested_threshold(pd.Series(dtype="float64"), "above") == 0.0
