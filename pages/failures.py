"""Failure rate: how much of the traffic fails, where, with which codes, and which exceptions
were raised in the failed requests."""

from __future__ import annotations

import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import choosable_chart, narrow_to_series, time_chart
from components.charts import series_chart
from components.filters import current_filters, link_params
from components.metrics import change_metric, explain_failure_rate
from components.navigation import NARROW_COLUMN, narrow_links, page_href
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.tables import show_table
from components.view import live, page_heading
from telemetry.filters import grain_name
from telemetry.model import RenderContext
from telemetry.queries.failures import code_table, failure_rate, operation_table, page_view
from telemetry.comparison import data_starts
from telemetry.queries.requests import totals
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
_ctx = RenderContext.of(filters)
page_heading("Failure rate", f"{filters.time.label()} · bins of {grain_name(_ctx.grain)} · times in UTC · "
             "failed ÷ all requests, both as sums of itemCount; 4xx and 5xx answers count as failed")


def _totals(result: QueryResult, ctx: RenderContext) -> None:
    both = totals(result.frame, ctx.window)
    now, before = both["current"], both["previous"]
    cols = st.columns(3)
    starts = data_starts(result.frame, ctx.window)
    change_metric(cols[0], "Failure rate", now.failure_rate, before.failure_rate, fmt="{:.2%}",
                  higher_is_worse=True, data_starts=starts)
    change_metric(cols[1], "Failed requests", now.failed, before.failed, higher_is_worse=True, data_starts=starts)
    change_metric(cols[2], "Requests", now.requests, before.requests, data_starts=starts)
    explain_failure_rate(ctx.filters.result_code)


def _rate_chart(result: QueryResult) -> None:
    figure = series_chart(failure_rate(result.frame), "failure_rate", y_title="failure rate", kind="line")
    choosable_chart(figure.update_yaxes(tickformat=".1%", rangemode="tozero"), window=filters.window(),
                    key="failures.rate.chart",
                    choose=narrow_to_series)
    st.caption(f"Click a point to narrow the whole dashboard to its {filters.split}.")


def _failed_chart(result: QueryResult) -> None:
    choosable_chart(series_chart(result.frame, "failed", y_title="failed requests"), window=filters.window(),
                    key="failures.failed.chart",
                    choose=narrow_to_series)
    st.caption(f"Click a bar to narrow the whole dashboard to its {filters.split}.")


def _codes_chart(result: QueryResult) -> None:
    frame = result.frame.rename(columns={"code": "series"})
    time_chart(series_chart(frame, "failed", y_title="failed requests", palette="codes"), window=filters.window(),
               key="failures.codes_over_time.chart")


def _codes(result: QueryResult) -> None:
    show_table(code_table(result.frame), key="failures.codes",
               columns={"code": "Result code", "requests": "Requests", "share": "Share", "failed": "Failed",
                        "outcome": "Outcome"})


def _operations(result: QueryResult) -> None:
    table = operation_table(result.frame)
    if table.empty:
        st.info("No operation failed in this range.", icon=":material/check_circle:")
        return
    table = table.assign(narrow=narrow_links("pages/failures.py", filters, table["service"], table["operation"]),
                         latency=narrow_links("pages/latency.py", filters, table["service"], table["operation"]))
    st.dataframe(
        table, hide_index=True, key="failures.operations.table",
        column_order=["operation", "service", "failed", "requests", "failure_rate", "narrow", "latency"],
        column_config={
            "operation": "Operation", "service": "Service", "failed": "Failed", "requests": "Requests",
            "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
            "narrow": NARROW_COLUMN,
            "latency": st.column_config.LinkColumn("Latency", display_text="its latency"),
        },
    )


def _exception_types(result: QueryResult) -> None:
    table = result.frame.assign(
        open=[page_href("pages/exceptions.py", link_params(filters, problem=str(p))) for p in result.frame["problem"]])
    st.dataframe(
        table, hide_index=True, key="failures.exception_types.table",
        column_order=["problem", "type", "service", "exceptions", "operations", "open"],
        column_config={
            "problem": "problemId", "type": "Type", "service": "Service", "exceptions": "Exceptions",
            "operations": "Failed requests with it",
            "open": st.column_config.LinkColumn("Exceptions page", display_text="stack and samples"),
        },
    )
    st.caption("502, 503 and 504 answers (a crashed, overloaded or timed-out container) usually come with no "
               "exception from score.py, so fewer requests appear here than failed.")


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)  # inside: an auto refresh slides a relative window
    queries = page_view(filters.result_code or "")
    outcomes = run_panels(queries, ctx)
    totals_out, rate_out, codes_time_out, codes_out, ops_out, exc_out = outcomes
    nothing, no_failures = empty_text("requests", ctx), empty_text("failed requests", ctx)
    show_panel("Failure rate against the previous period", totals_out, query=queries[0], ctx=ctx, schema=schema,
               empty_text=nothing, panel_id="failures.totals", render=lambda r: _totals(r, ctx))

    left, right = st.columns(2)
    with left:
        show_panel(f"Failure rate per {filters.split}", rate_out, query=queries[1], ctx=ctx, schema=schema,
                   empty_text=nothing, panel_id="failures.rate", render=_rate_chart)
    with right:
        show_panel(f"Failed requests per {filters.split}", rate_out, query=queries[1], ctx=ctx, schema=schema,
                   empty_text=nothing, panel_id="failures.failed", render=_failed_chart)

    left, right = st.columns(2)
    with left:
        show_panel("Failed requests per result code", codes_time_out, query=queries[2], ctx=ctx, schema=schema,
                   empty_text=no_failures, render=_codes_chart)
    with right:
        show_panel("Result codes", codes_out, query=queries[3], ctx=ctx, schema=schema, empty_text=nothing,
                   render=_codes)
    show_panel("Top failing operations", ops_out, query=queries[4], ctx=ctx, schema=schema, empty_text=nothing,
               render=_operations)
    show_panel("Exceptions raised in failed requests", exc_out, query=queries[5], ctx=ctx, schema=schema,
               empty_text=f"No exceptions were raised in failed requests in {ctx.filters.time.label()} for "
                          f"{', '.join(ctx.filters.services) or 'any service'}.",
               render=_exception_types)
    return outcomes


live(_render)
