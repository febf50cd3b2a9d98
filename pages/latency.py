"""Latency: how long requests take (weighted p50/p95/p99), how durations spread, which operations
are slowest and whether they got slower, and the slowest requests to open end to end."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import time_chart
from components.charts import duration_histogram, percentile_panels
from components.filters import current_filters, link_params, sample_link_params
from components.metrics import change_metric
from components.navigation import NARROW_COLUMN, narrow_links, page_href
from components.panels import empty_text, show_panel
from components.tables import duration_column
from components.source import current_source, run_panels
from components.view import live, page_heading
from telemetry.comparison import PERCENTILE_RESOLUTION, data_starts
from telemetry.filters import grain_name
from telemetry.model import RenderContext
from telemetry.queries.latency import (
    HISTOGRAM,
    MIN_REQUESTS,
    SLOWEST_LIMIT,
    page_view,
    period_row,
    slowest_operations,
    thin_bins,
)
from telemetry.results import Outcome, QueryResult

MAX_SERIES = 6  # small charts in the percentiles panel; the busiest series get one each

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
_ctx = RenderContext.of(filters)
page_heading("Latency", f"{filters.time.label()} · bins of {grain_name(_ctx.grain)} · times in UTC · "
             "durations in ms, percentiles weighted by itemCount")

_HEADLINES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("mean_ms", "Mean"))


def _totals(result: QueryResult, ctx: RenderContext) -> None:
    now, before = period_row(result.frame, "current"), period_row(result.frame, "previous")
    if now is None:
        st.info(f"No requests in {filters.time.label()}; the period before had {int(before['requests']):,}.",
                icon=":material/info:")
        return
    cols = st.columns(len(_HEADLINES) + 1)
    starts = data_starts(result.frame, ctx.window)
    for col, (name, title) in zip(cols, _HEADLINES, strict=False):
        previous = float(before[name]) if before is not None else 0.0
        change_metric(col, title, float(now[name]), previous, fmt="{:,.1f} ms", higher_is_worse=True,
                      data_starts=starts, resolution=0.0 if name == "mean_ms" else PERCENTILE_RESOLUTION)
    change_metric(cols[-1], "Requests", float(now["requests"]),
                  float(before["requests"]) if before is not None else 0.0, data_starts=starts)


def _over_time(result: QueryResult) -> None:
    series = result.frame["series"].nunique()
    if series > MAX_SERIES:
        st.caption(f"The {MAX_SERIES} busiest of {series} {filters.split}s; narrow the sidebar to see others.")
    frame, lost = thin_bins(result.frame)
    time_chart(percentile_panels(frame, max_series=MAX_SERIES), window=filters.window(), key="latency.over_time.chart")
    if any(lost.values()):
        st.caption(f"Not drawn where a bin has too few requests to stand on: p95 in {lost['p95_ms']:,} bins (under "
                   f"{MIN_REQUESTS['p95_ms']} requests), p99 in {lost['p99_ms']:,} (under {MIN_REQUESTS['p99_ms']}); "
                   "a coarser grain gives each bin more.")


def _distribution(result: QueryResult, totals: Outcome) -> None:
    now = period_row(totals.frame, "current") if isinstance(totals, QueryResult) else None
    markers = {} if now is None else {p: float(now[f"{p}_ms"]) for p in ("p50", "p95", "p99")}
    st.plotly_chart(duration_histogram(result.frame, HISTOGRAM, markers=markers), key="latency.distribution.chart")
    st.caption(f"{HISTOGRAM.per_decade} buckets a decade; bars count requests as sums of itemCount.")


def _operations(result: QueryResult, totals: Outcome, ctx: RenderContext) -> None:
    table = slowest_operations(result.frame)
    if not isinstance(totals, QueryResult) or data_starts(totals.frame, ctx.window) is not None:
        # the period before is not covered by data: no p95 before, and no change against it
        table[["previous_p95_ms", "p95_change"]] = float("nan")
    if table.empty:
        st.info("No requests in this range; the operations listed before had some in the previous period.",
                icon=":material/info:")
        return
    table["narrow"] = narrow_links("pages/latency.py", filters, table["service"], table["operation"])
    st.dataframe(
        table, hide_index=True, key="latency.operations.table",
        column_order=["service", "operation", "requests", "p50_ms", "p95_ms", "p99_ms", "previous_p95_ms",
                      "p95_change", "narrow"],
        column_config={
            "service": "Service", "operation": "Operation", "requests": "Requests",
            **{f"{p}_ms": st.column_config.NumberColumn(f"{p} (ms)", format="%.1f") for p in ("p50", "p95", "p99")},
            "previous_p95_ms": st.column_config.NumberColumn("p95 before (ms)", format="%.1f",
                                                             help="p95 in the period of the same length before"),
            "p95_change": st.column_config.NumberColumn("p95 change", format="percent"),
            "narrow": NARROW_COLUMN,
        },
    )


def _slowest(result: QueryResult) -> None:
    frame = result.frame
    durations, duration_config = duration_column(frame["duration"].astype("float64"), "Duration")
    table = frame.assign(
        duration=durations,
        timestamp=frame["timestamp"].dt.tz_convert(None),
        end_to_end=[page_href("pages/traces.py", sample_link_params(filters, at, op=str(op)))
                    for op, at in zip(frame["operation_Id"], frame["timestamp"], strict=True)])
    st.dataframe(
        table, hide_index=True, key="latency.slowest.table",
        column_order=["end_to_end", "timestamp", "duration", "resultCode", "cloud_RoleName", "operation_Name",
                      "itemCount"],
        column_config={
            "end_to_end": st.column_config.LinkColumn("Operation id (end to end)", display_text=r"op=([^&]*)"),
            "timestamp": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
            "duration": duration_config,
            "resultCode": "Result code", "cloud_RoleName": "Service", "operation_Name": "Operation",
            "itemCount": st.column_config.NumberColumn("itemCount", help="Requests this sampled row stands for"),
        },
    )


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)  # inside: an auto refresh slides a relative window
    queries = page_view()
    outcomes = run_panels(queries, ctx)
    totals_out, time_out, dist_out, ops_out, slow_out = outcomes
    nothing = empty_text("requests", ctx) + (f" (operation {filters.operation})" if filters.operation else "")
    panel = {"ctx": ctx, "schema": schema, "empty_text": nothing}
    show_panel("Durations against the previous period", totals_out, query=queries[0],
               render=lambda r: _totals(r, ctx), **panel)
    show_panel(f"p50 / p95 / p99 per {filters.split} (mean dotted)", time_out, query=queries[1],
               render=_over_time, **panel)
    show_panel("Distribution of durations", dist_out, query=queries[2],
               render=lambda r: _distribution(r, totals_out), **panel)
    show_panel("Slowest operations (p95 against the previous period)", ops_out, query=queries[3],
               render=lambda r: _operations(r, totals_out, ctx), **panel)
    show_panel(f"Slowest {SLOWEST_LIMIT} requests", slow_out, query=queries[4], render=_slowest, **panel)
    return outcomes


live(_render)
