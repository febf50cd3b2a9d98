"""Azure Monitor log alert rules made from a panel's own query, and what they would have done.

Endpoint Monitor runs no alerts itself: Azure Monitor evaluates, notifies and keeps history. This
module writes the rule (`Microsoft.Insights/scheduledQueryRules`, API version 2023-12-01) as an
ARM template, as Bicep and as an `az monitor scheduled-query create` command, and evaluates the
same rule over data already shown, so a user sees when it would have fired before deploying it.

The rule's query is the panel's query model (its table, its predicates, the sidebar's filters as
escaped literals) summarized per window, rendered by `telemetry.kql` for the rule's scope:

    requests
    | where cloud_RoleName in ("churn-regressor")
    | summarize requests = sum(itemCount), failed = sumif(itemCount, success == "False")
        by timestamp = bin(timestamp, 5m)
    | extend AggregatedValue = todouble(failed) / requests
    | project timestamp, AggregatedValue

One row per window, its value computed inside the query (sampling-correct sums, `percentilew`),
so the rule's Average over the window is that one value (Microsoft's documented `AggregatedValue`
pattern). Azure Monitor sets the query's time range (window × evaluation periods) itself, so the
query carries no time filter. A window without rows has no value: it is never a violation, which
the preview honours too (a `below` rule on a count does not fire when traffic stops entirely).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import pandas as pd

from telemetry.filters import Filters, Window
from telemetry.kql import render_kql
from telemetry.kql_literals import timespan_literal
from telemetry.model import Column, Dimension, Query, RenderContext, Summary, TimeBin
from telemetry.queries import dependencies, exceptions, latency, requests
from telemetry.schema import Schema

__all__ = [
    "API_VERSION",
    "FREQUENCIES",
    "MEASURES",
    "PANEL_MEASURES",
    "PANEL_QUERIES",
    "RESOURCE_TYPE",
    "VALUE_COLUMN",
    "WINDOWS",
    "AlertMeasure",
    "AlertRule",
    "Condition",
    "SERVICE_DIMENSION",
    "any_fired",
    "arm_json",
    "arm_template",
    "az_command",
    "bicep",
    "default_name",
    "downloads",
    "evaluate",
    "evaluate_new_groups",
    "firing_spans",
    "make_rule",
    "preview_context",
    "preview_query",
    "preview_window",
    "rule_kql",
    "rule_query",
    "suggested_threshold",
    "verdicts",
    "window_values",
]

RESOURCE_TYPE: Final = "Microsoft.Insights/scheduledQueryRules"
API_VERSION: Final = "2023-12-01"
VALUE_COLUMN: Final = "AggregatedValue"
TIME_AGGREGATION: Final = "Average"  # of one value per window: the value itself

# Windows and frequencies Azure Monitor accepts that also divide a day, so the rule's bins, the
# panel's bins and the preview's are the same (KQL bin() and DuckDB time_bucket() align on them).
WINDOWS: Final[dict[str, timedelta]] = {
    "5m": timedelta(minutes=5), "10m": timedelta(minutes=10), "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30), "1h": timedelta(hours=1), "2h": timedelta(hours=2),
    "3h": timedelta(hours=3), "6h": timedelta(hours=6), "12h": timedelta(hours=12), "1d": timedelta(days=1),
}
FREQUENCIES: Final[dict[str, timedelta]] = {"1m": timedelta(minutes=1), **WINDOWS}
MAX_PERIODS: Final = 6  # Azure Monitor's limit on numberOfEvaluationPeriods
MAX_LOOKBACK: Final = timedelta(days=2)  # window × periods, Azure Monitor's limit

Operator = Literal["above", "below"]
_OPERATORS: Final[dict[str, str]] = {"above": "GreaterThan", "below": "LessThan"}
_CLI_OPERATORS: Final[dict[str, str]] = {"above": ">", "below": "<"}


@dataclass(frozen=True)
class AlertMeasure:
    """A number worth watching, computed per window from measures the panel's query already has.

    `kql` is the AggregatedValue in terms of those measures' aliases; `value` computes the same
    from a frame of them (the preview's). The two are one formula in two languages, kept side by side.
    """

    key: str
    title: str
    aliases: tuple[str, ...]
    kql: str
    value: Callable[[pd.DataFrame], pd.Series]
    unit: str
    fmt: str  # Python format of one value, for people
    is_count: bool = False
    # A "new" measure counts groups (problemId per service) first seen in a window and not in
    # the `lookback` before it: the query reads further back (overrideQueryTimeRange).
    lookback: timedelta | None = None


def _ratio(frame: pd.DataFrame) -> pd.Series:
    whole = frame["requests"].astype("float64")
    return frame["failed"].astype("float64") / whole.where(whole > 0)


def _column(alias: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda frame: frame[alias].astype("float64")


MEASURES: Final[dict[str, AlertMeasure]] = {m.key: m for m in (
    AlertMeasure("requests", "Requests per window", ("requests",), "requests", _column("requests"),
                 "requests (sum of itemCount) per window", "{:,.0f}", is_count=True),
    AlertMeasure("failure_rate", "Failure rate", ("requests", "failed"), "todouble(failed) / requests", _ratio,
                 "failed ÷ all requests per window (0.05 = 5 %)", "{:.4f}"),
    AlertMeasure("failed_requests", "Failed requests per window", ("failed",), "failed", _column("failed"),
                 "failed requests (sum of itemCount) per window", "{:,.0f}", is_count=True),
    AlertMeasure("p95_ms", "p95 duration", ("p95_ms",), "p95_ms", _column("p95_ms"),
                 "ms, weighted by itemCount, per window", "{:,.1f}"),
    AlertMeasure("p99_ms", "p99 duration", ("p99_ms",), "p99_ms", _column("p99_ms"),
                 "ms, weighted by itemCount, per window", "{:,.1f}"),
    AlertMeasure("failed_dependencies", "Failed dependency calls per window", ("failed",), "failed",
                 _column("failed"), "failed dependency calls (sum of itemCount) per window", "{:,.0f}",
                 is_count=True),
    AlertMeasure("new_exception_groups", "New exception groups", ("first_seen",), "count()", _column("first_seen"),
                 "exception groups (problemId per service) first seen in the window, none in the day before",
                 "{:,.0f}", is_count=True, lookback=timedelta(days=1)),
)}
_GROUP_KEYS: Final = (Column("problemId", "problem"), Column("cloud_RoleName", "service"))

# Alertable panels (their `?panel=` ids) and what each can watch, first the default.
PANEL_MEASURES: Final[dict[str, tuple[str, ...]]] = {
    "requests.rate": ("requests", "failed_requests"),
    "overview.requests": ("requests",),
    "failures.rate": ("failure_rate", "failed_requests"),
    "failures.failed": ("failed_requests", "failure_rate"),
    "overview.failure_rate": ("failure_rate",),
    "latency.over_time": ("p95_ms", "p99_ms"),
    "overview.p95": ("p95_ms", "p99_ms"),
    "dependencies.over_time": ("failed_dependencies",),
    "overview.failed_dependencies": ("failed_dependencies",),
    "exceptions.groups": ("new_exception_groups",),
}
# Each alertable panel's own query (the pages pass the same objects to their panel boxes).
PANEL_QUERIES: Final[dict[str, Summary]] = {
    "requests.rate": requests.RATE,
    "overview.requests": latency.TOTALS,
    "failures.rate": requests.RATE,
    "failures.failed": requests.RATE,
    "overview.failure_rate": latency.TOTALS,
    "latency.over_time": latency.OVER_TIME,
    "overview.p95": latency.TOTALS,
    "dependencies.over_time": dependencies.OVER_TIME,
    "overview.failed_dependencies": dependencies.TOTALS,
    "exceptions.groups": exceptions.GROUPS,
}
assert set(PANEL_QUERIES) == set(PANEL_MEASURES)


SERVICE_DIMENSION: Final = "service"
_SERVICE: Final = Column("cloud_RoleName", SERVICE_DIMENSION)


def rule_query(panel_query: Query, measure: AlertMeasure, time_alias: str, per_service: bool = False) -> Summary:
    """The panel's query reduced to `measure`'s parts, one row per window (the grain), tagged by
    `time_alias` (and per service when `per_service`): its table, its predicates and the filters it
    lets narrow it are kept."""
    if not isinstance(panel_query, Summary):
        raise ValueError(f"{panel_query.name} lists rows; only a summary has a number to alert on")
    by_alias = {m.alias: m for m in panel_query.measures}
    missing = [alias for alias in measure.aliases if alias not in by_alias]
    if missing:
        raise ValueError(f"{panel_query.name} has no {', '.join(missing)} to compute {measure.title.lower()} from")
    # A "new" measure's rule reads each group's first time (then counts them per window in KQL);
    # its preview reads which windows each group was seen in.
    by: tuple[Dimension, ...] = (TimeBin(time_alias), *((_SERVICE,) if per_service else ()))
    if measure.lookback is not None:
        by = _GROUP_KEYS if time_alias != "bucket" else (*_GROUP_KEYS, TimeBin(time_alias))
    return replace(panel_query, name=f"alert.{measure.key}", measures=tuple(by_alias[a] for a in measure.aliases),
                   by=by, compare_previous=False, order_by=(), limit=None,
                   description=f"{measure.title} per window, for an alert rule.")


def _time_column(schema: Schema) -> str:
    # The rule keeps the table's own time column, which Azure Monitor bins the rows on.
    return "timestamp" if schema == "classic" else "TimeGenerated"


# --- the condition and the rule ---------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    operator: Operator
    threshold: float
    window: str = "5m"  # a key of WINDOWS: the aggregation granularity (windowSize)
    frequency: str = "5m"  # a key of FREQUENCIES: how often Azure Monitor runs the query
    periods: int = 1  # numberOfEvaluationPeriods: how many windows back each evaluation looks
    failing: int = 1  # minFailingPeriodsToAlert: how many of those must violate
    severity: int = 2  # 0 (critical) … 4 (verbose)

    def __post_init__(self) -> None:
        problems = []
        if self.operator not in _OPERATORS:
            problems.append(f"the operator must be above or below, not {self.operator!r}")
        if not math.isfinite(self.threshold):
            problems.append("the threshold must be a finite number")
        if self.window not in WINDOWS:
            problems.append(f"the window must be one of {', '.join(WINDOWS)}")
        if self.frequency not in FREQUENCIES:
            problems.append(f"the frequency must be one of {', '.join(FREQUENCIES)}")
        elif self.window in WINDOWS and FREQUENCIES[self.frequency] > WINDOWS[self.window]:
            problems.append("the frequency must not be longer than the window (windows would go unchecked)")
        if not 1 <= self.periods <= MAX_PERIODS:
            problems.append(f"evaluation periods must be 1 to {MAX_PERIODS}")
        if not 1 <= self.failing <= self.periods:
            problems.append("failing periods must be at least 1 and at most the evaluation periods")
        if self.window in WINDOWS and WINDOWS[self.window] * self.periods > MAX_LOOKBACK:
            problems.append("window × evaluation periods must be at most 2 days")
        if self.severity not in range(5):
            problems.append("the severity must be 0 (critical) to 4 (verbose)")
        if problems:
            raise ValueError("This alert cannot be made: " + "; ".join(problems) + ".")

    @property
    def window_size(self) -> timedelta:
        return WINDOWS[self.window]

    def violates(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value > self.threshold if self.operator == "above" else value < self.threshold

    def sentence(self, measure: AlertMeasure) -> str:
        times = "1 window" if self.periods == 1 else f"{self.failing} of {self.periods} windows"
        return (f"{measure.title} {self.operator} {_number(self.threshold)} in {times} of {self.window}, "
                f"checked every {self.frequency}")


_ARM_ID: Final = r"/subscriptions/[0-9a-f-]{36}/resourcegroups/[\w.()-]{1,90}/providers/"
_SCOPE_IDS: Final[dict[str, re.Pattern[str]]] = {
    "classic": re.compile(rf"{_ARM_ID}microsoft\.insights/components/[\w.()-]{{1,255}}\Z", re.IGNORECASE),
    "workspace": re.compile(rf"{_ARM_ID}microsoft\.operationalinsights/workspaces/[\w.()-]{{1,255}}\Z",
                            re.IGNORECASE),
}
_ACTION_GROUP: Final = re.compile(rf"{_ARM_ID}microsoft\.insights/actiongroups/[\w.()-]{{1,260}}\Z", re.IGNORECASE)
_SCOPE_EXAMPLES: Final[dict[str, str]] = {
    "classic": "/subscriptions/<GUID>/resourceGroups/<group>/providers/microsoft.insights/components/<name>",
    "workspace": "/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/"
                 "workspaces/<name>",
}
# Azure's rule names: no <>*%{}&:\?/#| nor control characters, not ending in a space or a dot.
_RULE_NAME: Final = re.compile(r"[^<>*%{}&:\\?/#|\x00-\x1f\x7f]{0,259}[^<>*%{}&:\\?/#|\x00-\x1f\x7f. ]\Z")


@dataclass(frozen=True)
class AlertRule:
    """Everything a deployed rule says: what it watches, how, where, and the chart to open."""

    panel: str
    measure: AlertMeasure
    query: Summary  # the panel's query
    filters: Filters
    condition: Condition
    schema: Schema  # the scope's: a classic Application Insights resource or a workspace
    name: str
    link: str = ""  # the dashboard view whoever is paged should open
    scope_id: str = ""  # the resource the rule reads; empty: a template parameter to fill in
    action_group: str = ""
    per_service: bool = False  # one alert per service (a dimension) instead of one for them all

    def __post_init__(self) -> None:
        problems = []
        if self.per_service and self.measure.lookback is not None:
            problems.append(f"{self.measure.title.lower()} are counted per group of every service already")
        if not _RULE_NAME.match(self.name):
            problems.append("the rule name must be 1 to 260 characters without <>*%{}&:\\?/#| and not end in "
                            "a space or a dot")
        if self.scope_id and not _SCOPE_IDS[self.schema].match(self.scope_id):
            problems.append(f"the scope must be a resource id like {_SCOPE_EXAMPLES[self.schema]}")
        if self.action_group and not _ACTION_GROUP.match(self.action_group):
            problems.append("the action group must be a resource id like /subscriptions/<GUID>/resourceGroups/"
                            "<group>/providers/microsoft.insights/actionGroups/<name>")
        if problems:
            raise ValueError("This alert cannot be made: " + "; ".join(problems) + ".")
        rule_query(self.query, self.measure, "t", self.per_service)  # the panel has what the measure needs

    @property
    def display_name(self) -> str:
        c = self.condition
        each = " (each service)" if self.per_service else ""
        return f"{self.measure.title}{each} {c.operator} {_number(c.threshold)} · {_scope_text(self.filters)}"

    @property
    def description(self) -> str:
        each = ", for each service apart" if self.per_service else ""
        text = (f"{self.condition.sentence(self.measure)}{each}; {self.measure.unit}; {_scope_text(self.filters)}. "
                f"Made by Endpoint Monitor from the panel {self.panel}.")
        return text + (f" Open the chart: {self.link}" if self.link else "")


def default_name(measure: AlertMeasure, filters: Filters) -> str:
    """A rule name from what it watches: letters, digits and dashes only."""
    parts = ["endpoint-monitor", measure.key, *filters.services[:3], filters.operation or ""]
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return slug[:120].rstrip("-")


def _scope_text(filters: Filters) -> str:
    services = ", ".join(filters.services) if filters.services else "every service"
    extra = [f"operation {filters.operation}"] if filters.operation else []
    extra += [f"result code {filters.result_code}"] if filters.result_code else []
    return " · ".join([services, *extra])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _iso_duration(span: timedelta) -> str:
    days, rest = divmod(int(span.total_seconds() // 60), 1440)
    hours, minutes = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def rule_kql(rule: AlertRule) -> str:
    """The rule's query in its scope's dialect: one AggregatedValue per window, no time filter."""
    time = _time_column(rule.schema)
    summary = rule_query(rule.query, rule.measure, time, rule.per_service)
    # The window is not rendered (bounded=False); the context only lends the grain and the filters.
    now = datetime.now(UTC)
    ctx = RenderContext(Window(now - rule.condition.window_size, now), rule.condition.window_size, rule.filters)
    body = render_kql(summary, ctx, rule.schema, bounded=False)
    if rule.measure.lookback is not None:
        # Azure Monitor reads lookback + the evaluated windows (overrideQueryTimeRange); a group
        # counts in the window of its first exception when that falls in the evaluated windows.
        evaluated = timespan_literal(rule.condition.window_size * rule.condition.periods)
        return "\n".join([body, f"| where first_seen >= ago({evaluated})",
                          f"| summarize {VALUE_COLUMN} = count() by {time} = bin(first_seen, "
                          f"{timespan_literal(rule.condition.window_size)})"])
    columns = ", ".join([time, *([SERVICE_DIMENSION] if rule.per_service else []), VALUE_COLUMN])
    return "\n".join([body, f"| extend {VALUE_COLUMN} = {rule.measure.kql}", f"| project {columns}"])


# --- ARM, Bicep, az ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    """A template parameter where a value goes: `[parameters('name')]` in ARM, `name` in Bicep."""

    name: str


def _resource(rule: AlertRule) -> dict[str, Any]:
    """The rule as one resource, the source of both the ARM JSON and the Bicep."""
    c = rule.condition
    condition: dict[str, Any] = {
        "query": rule_kql(rule),
        "timeAggregation": TIME_AGGREGATION,
        "metricMeasureColumn": VALUE_COLUMN,
        "operator": _OPERATORS[c.operator],
        "threshold": c.threshold,
        "failingPeriods": {"numberOfEvaluationPeriods": c.periods, "minFailingPeriodsToAlert": c.failing},
    }
    if rule.per_service:  # every service that reports is a series of its own, alerting apart
        condition["dimensions"] = [{"name": SERVICE_DIMENSION, "operator": "Include", "values": ["*"]}]
    properties: dict[str, Any] = {
        "displayName": rule.display_name,
        "description": rule.description,
        "severity": c.severity,
        "enabled": True,
        "evaluationFrequency": _iso_duration(FREQUENCIES[c.frequency]),
        "windowSize": _iso_duration(c.window_size),
        **({"overrideQueryTimeRange": _iso_duration(rule.measure.lookback + c.window_size * c.periods)}
           if rule.measure.lookback is not None else {}),
        "scopes": [_Param("scopeResourceId")],
        "criteria": {"allOf": [condition]},
        "autoMitigate": True,
    }
    if rule.action_group:
        properties["actions"] = {"actionGroups": [rule.action_group]}
    return {
        "type": RESOURCE_TYPE,
        "apiVersion": API_VERSION,
        "name": rule.name,
        "location": _Param("location"),
        "kind": "LogAlert",
        "tags": {"endpoint-monitor-panel": rule.panel},
        "properties": properties,
    }


def _scope_parameter(rule: AlertRule) -> dict[str, Any]:
    kind = "Application Insights resource" if rule.schema == "classic" else "Log Analytics workspace"
    found: dict[str, Any] = {"type": "string", "metadata": {
        "description": f"Resource id of the {kind} the rule queries ({_SCOPE_EXAMPLES[rule.schema]})."}}
    if rule.scope_id:
        found["defaultValue"] = rule.scope_id
    return found


def _arm_value(value: Any) -> Any:
    if isinstance(value, _Param):
        return f"[parameters('{value.name}')]"
    if isinstance(value, str):
        # A string that starts with "[" is an ARM expression; "[[" keeps a literal one literal.
        return "[" + value if value.startswith("[") else value
    if isinstance(value, dict):
        return {key: _arm_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_arm_value(item) for item in value]
    return value


def arm_template(rule: AlertRule) -> dict[str, Any]:
    """A deployment template with the rule; `scopeResourceId` and `location` are its parameters."""
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"description": f"Endpoint Monitor alert rule: {rule.display_name}"},
        "parameters": {
            "scopeResourceId": _scope_parameter(rule),
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]",
                         "metadata": {"description": "Region of the alert rule resource."}},
        },
        "resources": [_arm_value(_resource(rule))],
    }


def arm_json(rule: AlertRule) -> str:
    return json.dumps(arm_template(rule), indent=2, ensure_ascii=False) + "\n"


_BICEP_ESCAPES: Final = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _bicep_string(text: str) -> str:
    # `${` opens an interpolation in Bicep; escaping its `$` keeps it text.
    return "'" + text.translate(_BICEP_ESCAPES).replace("${", "\\${") + "'"


def _bicep_value(value: Any, indent: int) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, _Param):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Bicep has no fractional literals; json('0.05') is its way to a number with a fraction.
        return _number(value) if value.is_integer() else f"json('{value!r}')"
    if isinstance(value, str):
        return _bicep_string(value)
    if isinstance(value, list):
        return "[\n" + "".join(f"{inner}{_bicep_value(v, indent + 1)}\n" for v in value) + f"{pad}]"
    if isinstance(value, dict):
        lines = [f"{inner}{_bicep_key(k)}: {_bicep_value(v, indent + 1)}\n" for k, v in value.items()]
        return "{\n" + "".join(lines) + f"{pad}}}"
    raise TypeError(f"no Bicep for {value!r}")


def _bicep_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else _bicep_string(key)


def bicep(rule: AlertRule) -> str:
    """The same rule as Bicep (`az deployment group create --template-file rule.bicep`)."""
    resource = _resource(rule)
    body = {k: v for k, v in resource.items() if k not in ("type", "apiVersion")}
    scope = _scope_parameter(rule)
    default = f" = {_bicep_string(scope['defaultValue'])}" if "defaultValue" in scope else ""
    return "\n".join([
        f"// Endpoint Monitor alert rule from the panel {rule.panel}: {rule.measure.title.lower()}",
        f"@description({_bicep_string(scope['metadata']['description'])})",
        f"param scopeResourceId string{default}",
        "",
        "@description('Region of the alert rule resource.')",
        "param location string = resourceGroup().location",
        "",
        f"resource rule '{RESOURCE_TYPE}@{API_VERSION}' = {_bicep_value(body, 0)}",
        "",
    ])


def az_command(rule: AlertRule, resource_group: str = "<resource group>") -> str:
    """The rule as `az monitor scheduled-query create`, quoted for a POSIX shell."""
    c = rule.condition
    times = (f" where {SERVICE_DIMENSION} includes *" if rule.per_service else "") + (
        f" at least {c.failing} violations out of {c.periods} aggregated points")
    condition = f"avg {VALUE_COLUMN} from 'AlertQuery' {_CLI_OPERATORS[c.operator]} {_number(c.threshold)}{times}"
    args = [
        ("--name", rule.name),
        ("--resource-group", resource_group),
        ("--scopes", rule.scope_id or f"<{rule.schema} resource id>"),
        ("--condition", condition),
        ("--condition-query", f"AlertQuery={rule_kql(rule)}"),
        ("--description", rule.description),
        ("--severity", str(c.severity)),
        ("--window-size", c.window),
        ("--evaluation-frequency", c.frequency),
        *((("--action-groups", rule.action_group),) if rule.action_group else ()),
    ]
    return "az monitor scheduled-query create \\\n" + " \\\n".join(f"  {flag} {shlex.quote(v)}" for flag, v in args)


# --- what the rule would have done ------------------------------------------------------------


def preview_window(shown: Window, condition: Condition) -> tuple[Window, Window]:
    """(evaluated, read): the whole windows inside `shown` the preview evaluates, and the range it
    reads, which reaches back the evaluation periods before the first so it is judged in full."""
    size = condition.window_size
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + math.ceil((shown.start - epoch) / size) * size
    end = epoch + ((shown.end - epoch) // size) * size
    if end <= start:
        raise ValueError(f"The shown range holds no whole {condition.window} window; pick a longer range.")
    return Window(start, end), Window(start - size * (condition.periods - 1), end)


def preview_query(panel_query: Query, measure: AlertMeasure, per_service: bool = False) -> Summary:
    """The rule's query for the preview, through any source: one row per window, tagged `bucket`."""
    return rule_query(panel_query, measure, "bucket", per_service)


def preview_context(filters: Filters, shown: Window, condition: Condition,
                    measure: AlertMeasure | None = None) -> RenderContext:
    _, read = preview_window(shown, condition)
    if measure is not None and measure.lookback is not None:
        read = Window(read.start - measure.lookback, read.end)
    return RenderContext(read, condition.window_size, filters)


def verdicts(frame: pd.DataFrame, measure: AlertMeasure, shown: Window, condition: Condition) -> pd.DataFrame:
    """The rule's verdicts over `shown` from the preview query's answer (see `evaluate`); an answer
    per service gets verdicts per service (a `service` column), as the rule's dimension does."""
    if measure.lookback is not None:
        return evaluate_new_groups(frame, shown, condition, measure.lookback)
    if SERVICE_DIMENSION not in frame.columns:
        return evaluate(window_values(frame, measure), shown, condition)
    found = [evaluate(window_values(rows, measure), shown, condition).assign(service=str(service))
             for service, rows in frame.groupby(SERVICE_DIMENSION, sort=True)]
    return pd.concat(found, ignore_index=True) if found else evaluate(window_values(frame.iloc[:0], measure),
                                                                        shown, condition).assign(service="")


def any_fired(found: pd.DataFrame) -> pd.DataFrame:
    """Per evaluation, whether any series fired (the verdicts of a rule alone, unchanged)."""
    if SERVICE_DIMENSION not in found.columns:
        return found
    return found.groupby(["window_start", "evaluated_at"], as_index=False)["fired"].any()


def window_values(frame: pd.DataFrame, measure: AlertMeasure) -> pd.Series:
    """The AggregatedValue per window start from the preview query's answer (windows with rows only)."""
    if frame.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz=UTC))
    values = pd.Series(measure.value(frame).to_numpy(dtype="float64"), index=pd.DatetimeIndex(frame["bucket"]))
    return values.sort_index()


def evaluate(values: pd.Series, shown: Window, condition: Condition) -> pd.DataFrame:
    """The rule's verdict at the end of every whole window in `shown`, as Azure Monitor reaches it.

    `values` is the AggregatedValue per window start. An evaluation at time t looks at the
    `periods` windows before t and fires when at least `failing` of them violate the threshold;
    a window without a value does not. Columns: window_start, evaluated_at, value, violated,
    violations (in the lookback), fired.
    """
    evaluated, _ = preview_window(shown, condition)
    size = condition.window_size
    starts = pd.date_range(evaluated.start, evaluated.end - size, freq=size, tz=UTC)
    lookback_starts = pd.date_range(evaluated.start - size * (condition.periods - 1), evaluated.end - size,
                                    freq=size, tz=UTC)
    by_start = values.reindex(lookback_starts)
    violated = pd.Series([condition.violates(float(v)) for v in by_start.to_numpy()], index=lookback_starts)
    violations = violated.astype("int64").rolling(condition.periods, min_periods=1).sum().reindex(starts)
    return pd.DataFrame({
        "window_start": starts,
        "evaluated_at": starts + size,
        "value": by_start.reindex(starts).to_numpy(),
        "violated": violated.reindex(starts).to_numpy(dtype=bool),
        "violations": violations.to_numpy(dtype="int64"),
        "fired": (violations >= condition.failing).to_numpy(dtype=bool),
    })


def evaluate_new_groups(seen: pd.DataFrame, shown: Window, condition: Condition,
                        lookback: timedelta) -> pd.DataFrame:
    """`evaluate` for a "new" measure, whose windows' values depend on when the rule runs.

    `seen` has a row per group (problem, service) and window (`bucket`) it raised exceptions in.
    At time t the rule reads [t - lookback - periods × window, t); a group is new in the window
    holding its first exception there, when that is one of the evaluated windows. A window with
    no new group has no row in the rule's answer, so no value. `value` is the last window's.
    """
    evaluated, _ = preview_window(shown, condition)
    size, periods = condition.window_size, condition.periods
    starts = pd.date_range(evaluated.start, evaluated.end - size, freq=size, tz=UTC)
    # The group seen in window w counts at t = w + k windows when it was not seen in the
    # lookback + (periods - k) windows before w: the gap to its previous window is longer.
    ordered = seen.sort_values(["problem", "service", "bucket"])
    buckets = pd.Series(pd.DatetimeIndex(ordered["bucket"]), index=ordered.index)
    gaps = buckets - buckets.groupby([ordered["problem"], ordered["service"]]).shift()
    new_at = [buckets[gaps.isna() | (gaps > lookback + (periods - k) * size)].value_counts()
              for k in range(1, periods + 1)]
    rows = []
    for start in starts:
        t = start + size
        values = [float(new_at[k - 1].get(t - k * size, math.nan)) for k in range(1, periods + 1)]
        violations = sum(condition.violates(v) for v in values)
        rows.append((start, t, values[0], condition.violates(values[0]), violations, violations >= condition.failing))
    return pd.DataFrame(rows, columns=["window_start", "evaluated_at", "value", "violated", "violations", "fired"])


def firing_spans(verdicts: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of consecutive firing evaluations as (first window's start, last evaluation time)."""
    spans: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for row in verdicts[verdicts["fired"]].itertuples(index=False):
        if spans and spans[-1][1] == row.window_start:
            spans[-1] = (spans[-1][0], row.evaluated_at)
        else:
            spans.append((row.window_start, row.evaluated_at))
    return spans


def suggested_threshold(values: pd.Series, operator: Operator) -> float:
    """A starting threshold from what the panel shows: just past the worst window of the range,
    so the rule would have stayed quiet over it; two significant digits."""
    present = values.dropna()
    if present.empty:
        return 0.0
    worst = float(present.max() if operator == "above" else present.min())
    if worst == 0:
        return 0.0
    digits = 1 - math.floor(math.log10(abs(worst)))
    step = 10.0 ** -digits
    value = (math.floor(worst / step) + 1) * step if operator == "above" else (math.ceil(worst / step) - 1) * step
    if operator == "above" and value <= worst:  # worst on the grid, up to floating point
        value += step
    if operator == "below" and value >= worst:
        value -= step
    return float(round(value, max(digits, 0)))


def make_rule(panel: str, *, condition: Condition, filters: Filters, schema: Schema, measure: str | None = None,
              name: str = "", link: str = "", scope_id: str = "", action_group: str = "",
              panel_query: Query | None = None, per_service: bool = False) -> AlertRule:
    """The rule for an alertable panel; `measure` defaults to the panel's first. Raises ValueError
    with a message for people when the panel or any choice cannot make a rule."""
    if panel not in PANEL_MEASURES:
        raise ValueError(f"The panel {panel!r} has no number to alert on; alertable panels: "
                         f"{', '.join(sorted(PANEL_MEASURES))}.")
    choices = PANEL_MEASURES[panel]
    key = measure or choices[0]
    if key not in choices:
        raise ValueError(f"The panel {panel} can alert on {', '.join(choices)}, not {key!r}.")
    chosen = MEASURES[key]
    return AlertRule(panel=panel, measure=chosen, query=_summary(panel_query or PANEL_QUERIES[panel]),
                     filters=filters, condition=condition, schema=schema,
                     name=name.strip() or default_name(chosen, filters), link=link, scope_id=scope_id.strip(),
                     action_group=action_group.strip(), per_service=per_service)


def _summary(query: Query) -> Summary:
    if not isinstance(query, Summary):
        raise ValueError(f"{query.name} lists rows; only a summary has a number to alert on")
    return query


def downloads(rule: AlertRule) -> Mapping[str, tuple[str, str, str]]:
    """File name, MIME type and text of each download, by format."""
    return {
        "arm": (f"{rule.name}.json", "application/json", arm_json(rule)),
        "bicep": (f"{rule.name}.bicep", "text/plain", bicep(rule)),
    }
