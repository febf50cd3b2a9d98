"""Request rate: how much traffic each service or operation gets, and how much of it fails."""

from __future__ import annotations

import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import time_chart
from components.charts import outcome_bars, series_chart
from components.filters import current_filters
from components.metrics import change_metric, explain_failure_rate
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.tables import show_table
from components.view import live, page_heading
from telemetry.filters import grain_name
from telemetry.model import RenderContext
from telemetry.comparison import data_starts
from telemetry.queries.pages import page_queries
from telemetry.queries.requests import operations_table, totals
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
ctx = RenderContext.of(filters)
schema = current_source().kql_schema
page_heading("Request rate", f"{filters.time.label()} · {ctx.window.length / ctx.grain:.0f} bins of "
             f"{grain_name(ctx.grain)} · times in UTC")

queries = page_queries("requests")


def _totals(result: QueryResult, ctx: RenderContext) -> None:
    both = totals(result.frame, ctx.window)
    now, before = both["current"], both["previous"]
    cols = st.columns(3)
    starts = data_starts(result.frame, ctx.window)
    change_metric(cols[0], "Requests", now.requests, before.requests, data_starts=starts)
    change_metric(cols[1], "Requests / min", now.per_minute, before.per_minute, fmt="{:,.1f}", data_starts=starts)
    change_metric(cols[2], "Failed", now.failure_rate, before.failure_rate, fmt="{:.2%}", higher_is_worse=True,
                  data_starts=starts)
    explain_failure_rate(ctx.filters.result_code)


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)  # inside: an auto refresh slides a relative window
    nothing = empty_text("requests", ctx)
    outcomes = run_panels(queries, ctx)
    totals_out, rate_out, ops_out = outcomes
    show_panel("Totals against the previous period", totals_out, query=queries[0], ctx=ctx, schema=schema,
               empty_text=nothing, render=lambda r: _totals(r, ctx))

    left, right = st.columns(2)
    with left:
        show_panel(f"Requests per {filters.split}", rate_out, query=queries[1], ctx=ctx, schema=schema,
                   empty_text=nothing,
                   render=lambda r: time_chart(series_chart(r.frame, "requests", y_title="requests"),
                                               window=ctx.window, key="requests.rate.chart"))
    with right:
        show_panel("Succeeded and failed", rate_out, query=queries[1], ctx=ctx, schema=schema, empty_text=nothing,
                   panel_id="requests.outcome",
                   render=lambda r: time_chart(outcome_bars(r.frame), window=ctx.window, key="requests.outcome.chart"))

    show_panel("Operations", ops_out, query=queries[2], ctx=ctx, schema=schema, empty_text=nothing,
               render=lambda r: show_table(operations_table(r.frame, ctx.window), key="requests.operations",
                                           columns={"operation": "Operation", "requests": "Requests",
                                                    "rate_per_min": "Rate / min", "share": "Share",
                                                    "failed": "Failed", "failure_rate": "Failure rate",
                                                    "services": "Services"}))
    return outcomes


live(_render)
