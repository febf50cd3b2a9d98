"""The "Alert" action of a panel: an Azure Monitor log alert rule made from the panel's query.

Off by default, so a page view costs no query more; switched on, it asks for the condition
(prefilled from what the panel shows), previews when the rule would have fired over the shown
range, and gives the rule as KQL, ARM JSON, Bicep and an az command, with downloads.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.charts import FAILED_COLOUR
from components.connect import chosen_settings
from components.source import current_source
from telemetry.alerts import (
    FREQUENCIES,
    MEASURES,
    PANEL_MEASURES,
    SERVICE_DIMENSION,
    WINDOWS,
    AlertMeasure,
    AlertRule,
    Condition,
    any_fired,
    az_command,
    default_name,
    downloads,
    firing_spans,
    make_rule,
    preview_context,
    preview_query,
    rule_kql,
    suggested_threshold,
    verdicts,
)
from telemetry.errors import TelemetryError
from telemetry.filters import Filters, TimeRange, to_query_params
from telemetry.markdown_text import plain
from telemetry.model import Query, RenderContext
from telemetry.schema import Schema

__all__ = ["alert_action", "preview_chart"]

THRESHOLD_COLOUR = "#d62728"
_SEVERITIES = {0: "0 · critical", 1: "1 · error", 2: "2 · warning", 3: "3 · informational", 4: "4 · verbose"}


def alert_action(panel_id: str, query: Query, ctx: RenderContext, schema: Schema) -> None:
    """An "Alert" switch under a panel that has a number worth watching; nothing for the others."""
    if panel_id not in PANEL_MEASURES:
        return
    if st.toggle("Alert", key=f"{panel_id}.alert", help="Make an Azure Monitor log alert rule from this panel"):
        with st.container(border=True):
            _alert_form(panel_id, query, ctx, schema)


def _dashboard_link(filters: Filters, panel_id: str) -> str:
    """This view alone, for whoever is paged; a frozen from/to becomes the default relative range,
    so the link shows the time of the alert, not the time the rule was made."""
    relative = filters if filters.time.is_relative else filters.with_changes(time=TimeRange())
    base = urlsplit(st.context.url or "http://127.0.0.1:8501/")
    query = urlencode([*to_query_params(relative).items(), ("panel", panel_id)], doseq=True)
    return urlunsplit((base.scheme, base.netloc, base.path, query, ""))


def _scope_id(schema: Schema) -> str:
    settings = chosen_settings()
    if settings is None:
        return ""
    found = settings.resource_id if schema == "classic" else settings.workspace_resource_id
    return found or ""


def _alert_form(panel_id: str, query: Query, ctx: RenderContext, schema: Schema) -> None:
    key = f"{panel_id}.alert"
    choices = PANEL_MEASURES[panel_id]
    top = st.columns(4)
    measure = MEASURES[top[0].selectbox("Watch", choices, key=f"{key}.measure",
                                        format_func=lambda k: MEASURES[k].title)]
    operator = top[1].radio("Fire when the value is", ["above", "below"], horizontal=True, key=f"{key}.operator")
    window = top[2].selectbox("Window", list(WINDOWS), index=0, key=f"{key}.window",
                              help="Aggregation granularity (windowSize): one value per window")
    frequencies = [f for f, span in FREQUENCIES.items() if span <= WINDOWS[window]]
    frequency = top[3].selectbox("Checked every", frequencies, index=len(frequencies) - 1,
                                 key=f"{key}.frequency.{window}",  # its choices depend on the window
                                 help="evaluationFrequency: how often Azure Monitor runs the query")
    row = st.columns(4)
    periods = int(row[0].number_input("Evaluation periods", 1, 6, 1, key=f"{key}.periods",
                                      help="numberOfEvaluationPeriods: windows each evaluation looks back at"))
    failing = int(row[1].number_input("Failing periods to fire", 1, periods, 1,
                                      key=f"{key}.failing.{periods}",  # its maximum is the periods
                                      help="minFailingPeriodsToAlert: of those windows, how many must violate"))
    severity = int(row[2].selectbox("Severity", list(_SEVERITIES), index=2, format_func=_SEVERITIES.__getitem__,
                                    key=f"{key}.severity"))
    services = ", ".join(plain(s) for s in ctx.filters.services) or "every service"
    per_service = measure.lookback is None and st.checkbox(
        "One alert per service", key=f"{key}.per_service",
        help="Split by service (a dimension of the rule): each service is judged and alerts apart")
    st.caption(f"The rule watches {services} with the sidebar's filters, "
               + ("each service apart." if per_service else "as one series."))

    # The shown data, per window: the threshold's starting point and the preview's series.
    try:
        probe = Condition(operator, 0.0, window=window, frequency=frequency, periods=periods, failing=failing,
                          severity=severity)
        alert_query = preview_query(query, measure, per_service)
        outcome = current_source().run([alert_query], preview_context(ctx.filters, ctx.window, probe, measure))[0]
    except ValueError as error:
        st.error(str(error), icon=":material/error:")
        return
    frame: pd.DataFrame | None = None
    values = pd.Series(dtype="float64")
    if isinstance(outcome, TelemetryError):
        st.error(f"The preview could not be loaded. {outcome}", icon=":material/error:")
    else:
        frame = outcome.frame
        values = verdicts(frame, measure, ctx.window, probe)["value"]
    threshold = row[3].number_input(
        "Threshold", value=suggested_threshold(values, operator), format="%g",
        key=f"{key}.threshold.{measure.key}.{window}.{operator}",
        help=f"In {measure.unit}; prefilled just past the worst window in the shown range")

    left, right = st.columns(2)
    rule_schema: Schema = left.radio(
        "Rule scope", ["classic", "workspace"], index=0 if schema == "classic" else 1, horizontal=True,
        key=f"{key}.scope", format_func=lambda s: {"classic": "Application Insights resource (classic tables)",
                                                  "workspace": "Log Analytics workspace"}[s])
    scope_id = left.text_input("Scope resource id (optional: else a template parameter)", _scope_id(rule_schema),
                               key=f"{key}.scope_id.{rule_schema}")
    action_group = right.text_input("Action group resource id (optional)", key=f"{key}.action_group")
    name = right.text_input("Rule name", default_name(measure, ctx.filters), key=f"{key}.name.{measure.key}")
    try:
        condition = Condition(operator, float(threshold), window=window, frequency=frequency, periods=periods,
                              failing=failing, severity=severity)
        rule = make_rule(panel_id, condition=condition, filters=ctx.filters, schema=rule_schema, measure=measure.key,
                         name=name, link=_dashboard_link(ctx.filters, panel_id), scope_id=scope_id,
                         action_group=action_group, panel_query=query, per_service=per_service)
    except ValueError as error:
        st.error(str(error), icon=":material/error:")
        return
    if frame is not None:
        _preview(rule, frame, ctx)
    _rule_texts(rule, key)


def _preview(rule: AlertRule, frame: pd.DataFrame, ctx: RenderContext) -> None:
    found = verdicts(frame, rule.measure, ctx.window, rule.condition)
    overall = any_fired(found)
    spans = firing_spans(overall)
    st.plotly_chart(preview_chart(found, rule.condition, rule.measure), key=f"{rule.panel}.alert.chart")
    fired = int(overall["fired"].sum())
    if fired:
        st.warning(f"Would have fired at {fired} of {len(overall)} evaluations in the shown range, in "
                   f"{len(spans)} period{'s' if len(spans) != 1 else ''} (shaded).", icon=":material/notifications:")
        series = found.groupby(SERVICE_DIMENSION, sort=True) if SERVICE_DIMENSION in found.columns else [("", found)]
        rows = [(str(name), start.tz_convert(None), end.tz_convert(None))
                for name, verdict in series for start, end in firing_spans(verdict)]
        table = pd.DataFrame(rows, columns=["service", "from (UTC)", "to (UTC)"])
        st.dataframe(table if rule.per_service else table.drop(columns="service"), hide_index=True,
                     key=f"{rule.panel}.alert.spans")
    else:
        st.success(f"Would not have fired in the shown range ({len(overall)} evaluations).",
                   icon=":material/notifications_off:")
    st.caption(f"Evaluated at the end of each whole {rule.condition.window} window, as the rule's query computes "
               "it; a window with no data has no value and does not count as violating."
               + ("" if rule.condition.frequency == rule.condition.window else
                  f" Azure Monitor also checks between, every {rule.condition.frequency}."))


def preview_chart(found: pd.DataFrame, condition: Condition, measure: AlertMeasure) -> go.Figure:
    """The value per window (per service when split), the threshold dashed, violating windows
    marked and the periods when the rule fires shaded."""
    fig = go.Figure()
    series = found.groupby(SERVICE_DIMENSION, sort=True) if SERVICE_DIMENSION in found.columns else [
        (measure.title, found)]
    for name, rows in series:
        fig.add_trace(go.Scatter(x=rows["window_start"].dt.tz_convert(None), y=rows["value"], mode="lines+markers",
                                 name=str(name), marker={"size": 4}))
    bad = found[found["violated"]]
    if len(bad):
        fig.add_trace(go.Scatter(x=bad["window_start"].dt.tz_convert(None), y=bad["value"], mode="markers",
                                 name="violates", marker={"color": FAILED_COLOUR, "size": 8, "symbol": "x"}))
    fig.add_hline(y=condition.threshold, line={"dash": "dash", "color": THRESHOLD_COLOUR},
                  annotation={"text": f"threshold {condition.threshold:g}"})
    for start, end in firing_spans(any_fired(found)):
        fig.add_vrect(x0=start.tz_convert(None), x1=end.tz_convert(None), fillcolor=FAILED_COLOUR, opacity=0.12,
                      line_width=0)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.2}, yaxis_title=measure.title)
    if measure.key == "failure_rate":
        fig.update_yaxes(tickformat=".1%")
    return fig


def _rule_texts(rule: AlertRule, key: str) -> None:
    files = downloads(rule)
    st.caption("The rule as Azure Monitor takes it (copy with the button at a block's corner):")
    kql, arm, bicep_tab, az = st.tabs(["KQL", "ARM template", "Bicep", "az CLI"])
    kql.code(rule_kql(rule), language="kql")
    arm.code(files["arm"][2], language="json")
    bicep_tab.code(files["bicep"][2], language="bicep")
    az.code(az_command(rule), language="bash")
    with st.container(horizontal=True):
        for label, fmt in (("ARM JSON", "arm"), ("Bicep", "bicep")):
            file_name, mime, text = files[fmt]
            st.download_button(f"Download {label}", text.encode(), file_name=file_name, mime=mime,
                               key=f"{key}.download.{fmt}", icon=":material/download:", on_click="ignore",
                               width="content")
