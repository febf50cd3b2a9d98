"""Alert rules from panels: the ARM template validates against the 2023-12-01 schema for every
alertable panel in both scopes, the KQL inside passes Kusto's language service, hostile filter
values stay one literal everywhere the rule is written, and the preview fires exactly when an
independent pandas evaluation of the rule on the demo rows does."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import replace
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
    any_fired,
    verdicts,
    window_values,
)
from telemetry.config import LogsApiSettings
from telemetry.filters import Filters, Window
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.sources.logs_api import LogsApiSource
from tests.arm_schema import deployed_body, rule_validator
from tests.bicep_subset import read_resource
from tests.fake_logs_api import RESOURCE_ID as FAKE_RESOURCE
from tests.fake_logs_api import WORKSPACE_ID as FAKE_WORKSPACE
from tests.fake_logs_api import StaticCredential, serve
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
    splittable = MEASURES[measure].lookback is None
    for extra in ({}, {"scope_id": SCOPES[schema], "action_group": ACTION_GROUP}, *([{"per_service": True}]
                                                                                     if splittable else [])):
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
        if "action_group" in extra:
            assert properties["actions"]["actionGroups"] == [ACTION_GROUP]
        else:
            assert "actions" not in properties
        if "per_service" in extra:
            assert condition["dimensions"] == [{"name": "service", "operator": "Include", "values": ["*"]}]
            assert "service = " in condition["query"] and "(each service)" in properties["displayName"]
        else:
            assert "dimensions" not in condition
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
    checks = [(schema, rule_kql(_rule(panel, measure, schema, per_service=split)))
              for panel, measure in EVERY_MEASURE for schema in ("classic", "workspace")
              for split in ((False, True) if MEASURES[measure].lookback is None else (False,))]
    for schema, query in checks:
        time = "timestamp" if schema == "classic" else "TimeGenerated"
        last = query.splitlines()[-1]  # the rule's two columns: the table's time and the value
        assert last in (f"| project {time}, {VALUE_COLUMN}", f"| project {time}, service, {VALUE_COLUMN}") or (
            last.endswith(f"by {time} = bin(first_seen, 15m)"))
        assert f"by {time} = bin({time}, 15m)" in query or "bin(first_seen, 15m)" in query
        assert " >= datetime(" not in query  # Azure Monitor sets the range
    assert_valid_kql(checks)


def test_percentiles_are_weighted_and_counts_are_sums_of_item_count() -> None:
    p99 = rule_kql(_rule("latency.over_time", "p99_ms", "workspace"))
    # the duration is the request's own: the inference server's where a row comes from it
    assert "p99_ms = percentilew(req_duration, ItemCount, 99)" in p99 and 'Properties["duration"]' in p99
    failed = rule_kql(_rule("dependencies.over_time", "failed_dependencies", "classic"))
    assert 'failed = sumif(itemCount, success == "False")' in failed and "count()" not in failed


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
    read = read_resource(bicep(rule), location="westeurope", scopeResourceId=SCOPES[schema])
    assert read["properties"]["criteria"]["allOf"][0]["query"] == query  # and no ${…} Bicep would evaluate
    assert read["properties"]["description"] == rule.description
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
    rows = rows.assign(start=rows["timestamp"].dt.floor(window),
                       failed=(rows["success"] == "False") * rows["itemCount"])
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


@pytest.mark.parametrize("scope", ["workspace", "resource"])
def test_the_preview_over_the_logs_api_gives_the_verdicts_of_the_local_store(
        demo_store: Path, demo_end: datetime, scope: str) -> None:
    filters = window_filters(demo_end - timedelta(days=1), demo_end, services=("churn-regressor",))
    measure = MEASURES["failure_rate"]
    condition = Condition("above", 0.02, window="30m", frequency="30m", periods=2, failing=2)
    query, ctx = preview_query(PANEL_QUERIES["failures.rate"], measure), preview_context(
        filters, filters.window(), condition)
    (local,) = LocalSource(demo_store).run([query], ctx)
    assert isinstance(local, QueryResult)
    ids = {"workspace_id": FAKE_WORKSPACE} if scope == "workspace" else {"resource_id": FAKE_RESOURCE}
    with serve(demo_store) as fake:
        fake.learn([query], ctx)
        source = LogsApiSource(LogsApiSettings(endpoint=fake.endpoint, **ids), StaticCredential(), enforce_https=False)
        (remote,) = source.run([query], ctx)
    assert isinstance(remote, QueryResult), remote
    assert remote.language == "kql" and "bin(" in remote.query_text
    ours, theirs = (evaluate(window_values(r.frame, measure), filters.window(), condition) for r in (remote, local))
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours["fired"].any() and not ours["fired"].all()


def test_new_exception_groups_fire_when_pandas_finds_groups_unseen_for_a_day_before_the_window(
        demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    measure = MEASURES["new_exception_groups"]
    filters = window_filters(demo_end - timedelta(days=3), demo_end)
    shown = filters.window()
    condition = Condition("above", 0, window="1h", frequency="1h", periods=2, failing=1)
    query = preview_query(PANEL_QUERIES["exceptions.groups"], measure)
    (outcome,) = LocalSource(demo_store).run([query], preview_context(filters, shown, condition, measure))
    assert isinstance(outcome, QueryResult), outcome
    found = verdicts(outcome.frame, measure, shown, condition)

    rows = demo_frames["exceptions"]
    size, lookback = timedelta(hours=1), timedelta(days=1)
    expected = []
    for t in found["evaluated_at"]:
        read = rows[(rows["timestamp"] >= t - lookback - 2 * size) & (rows["timestamp"] < t)]
        first = read.groupby(["problemId", "cloud_RoleName"])["timestamp"].min()
        if (first >= t - 2 * size).any():  # a group first seen in one of the two windows: a count above 0
            expected.append(t)
    assert expected and len(expected) < len(found)
    assert list(found.loc[found["fired"], "evaluated_at"]) == expected
    # Two of two windows must each have a new group: fewer evaluations fire, never more.
    both = verdicts(outcome.frame, measure, shown, replace(condition, failing=2))
    assert set(both.loc[both["fired"], "evaluated_at"]) < set(expected)


def test_the_new_exception_groups_rule_reads_a_day_before_its_windows() -> None:
    rule = _rule("exceptions.groups", "new_exception_groups", "workspace",
                 condition=Condition("above", 0, window="15m", frequency="15m", periods=2))
    query = rule_kql(rule)
    assert "| summarize first_seen = min(TimeGenerated) by problem = ProblemId, service = AppRoleName" in query
    assert query.endswith("| where first_seen >= ago(30m)\n| summarize AggregatedValue = count() by "
                          "TimeGenerated = bin(first_seen, 15m)")
    assert arm_template(rule)["resources"][0]["properties"]["overrideQueryTimeRange"] == "P1DT30M"


def test_split_by_service_the_preview_fires_for_each_service_when_pandas_does(
        demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    filters = window_filters(demo_end - timedelta(days=2), demo_end)
    shown, measure = filters.window(), MEASURES["failure_rate"]
    condition = Condition("above", 0.025, window="30m", frequency="30m", periods=2, failing=2)
    query = preview_query(PANEL_QUERIES["failures.rate"], measure, per_service=True)
    (outcome,) = LocalSource(demo_store).run([query], preview_context(filters, shown, condition))
    assert isinstance(outcome, QueryResult), outcome
    found = verdicts(outcome.frame, measure, shown, condition)
    expected = set()
    for service in demo_frames["requests"]["cloud_RoleName"].unique():
        alone = replace(filters, services=(str(service),))
        values = _pandas_values(demo_frames, "failure_rate", alone, preview_context(alone, shown, condition).window,
                                condition.window_size)
        expected |= {(str(service), t) for t in _pandas_firings(values, shown, condition.window_size, "above",
                                                                 0.025, 2, 2)}
    assert len({s for s, _ in expected}) >= 2  # more than one service fires, at its own times
    assert set(zip(found.loc[found["fired"], "service"], found.loc[found["fired"], "evaluated_at"])) == expected
    overall = any_fired(found)
    assert set(overall.loc[overall["fired"], "evaluated_at"]) == {t for _, t in expected}


@pytest.mark.parametrize(("panel", "measure"), EVERY_MEASURE)
def test_the_bicep_says_what_the_arm_template_says(panel: str, measure: str) -> None:
    hostile = Filters(services=("it's ${x} \\ [y]",), operation="a\nb")
    rule = _rule(panel, measure, "workspace", filters=hostile, action_group=ACTION_GROUP,
                 per_service=MEASURES[measure].lookback is None)
    template = arm_template(rule)
    (resource,) = template["resources"]
    expected = deployed_body(template, location="westeurope", scopeResourceId=WORKSPACE_ID)
    read = read_resource(bicep(rule), location="westeurope", scopeResourceId=WORKSPACE_ID)
    assert read.pop("type@apiVersion") == f"{resource['type']}@{resource['apiVersion']}"
    assert read.pop("name") == resource["name"]
    assert read == expected
