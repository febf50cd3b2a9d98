"""Trace explorer: search what the services logged, read one request end to end, and turn the
scoring script's logged inputs and predictions into a table to chart and download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import time_chart
from components.charts import operation_timeline, series_chart
from components.filters import around, current_filters, url_params, write_url
from components.panels import empty_text, show_panel
from components.endpoint_rows import console_panels, request_panels, search_in
from components.source import current_source, reads_endpoint_logs, run_panels
from components.tables import show_table
from components.telemetry_rows import plain, show_exception_details, show_trace, trace_title
from components.trace_search import pager, search_form
from components.url_params import set_params, synced_key
from components.view import live, page_heading
from telemetry.filters import grain_name
from telemetry.model import Listing, RenderContext
from telemetry.payloads import (
    PROPERTY_LIMIT, distribution_grain, payload_rows, payload_table, prediction_columns, prediction_distribution,
)
from telemetry.queries import panel
from telemetry.queries.endpoint_traces import console_histogram, console_listing, platform_rows, request_console
from telemetry.queries.traces import (
    PAGE_SIZE,
    PAYLOAD_ROWS,
    PAYLOAD_SIZES,
    SEVERITIES,
    operation_events,
    operation_queries,
    payload_listing,
    response_listing,
    search_from_params,
    search_histogram,
    search_listing,
)
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
search, page, _warnings = search_from_params(url_params())
page_heading("Trace explorer", f"{filters.time.label()} · times in UTC")
for warning in _warnings:
    st.warning(warning, icon=":material/link_off:")

VIEWS = {"search": "Search and operations", "payloads": "Payloads"}
_view_key = synced_key("view", "payloads" if st.query_params.get("view") == "payloads" else "search")
view = st.segmented_control("View", list(VIEWS), key=_view_key, format_func=VIEWS.get, label_visibility="collapsed",
                            on_change=lambda: set_params(view=None if st.session_state[_view_key] != "payloads"
                                                         else "payloads")) or "search"


# --- search and one operation end to end ------------------------------------------------------


def _rows(result: QueryResult, total: int | None = None) -> None:
    if total is not None:
        first = (page - 1) * PAGE_SIZE + 1
        st.caption(f"{total:,} matching traces in {filters.time.label()} (sums of itemCount); showing "
                   f"{first:,}–{first + len(result.frame) - 1:,}, newest first"
                   + (", the search text in bold." if search.text else "."))
    for i, row in enumerate(result.frame.to_dict("records")):
        with st.expander(trace_title(row, search.text)):
            show_trace(row)
            op = str(row.get("operation_Id") or "")
            if op and op != search.operation_id:
                # in a frozen window around the row, so it opens whatever range it was found in
                st.button("Show this operation end to end", key=f"traces.row.{i}.op", icon=":material/timeline:",
                          on_click=lambda op=op, at=row["timestamp"]: write_url(
                              current_filters().with_changes(time=around(at)), op=op, pg=None))


def _calls_table(result: QueryResult) -> None:
    frame = result.frame.assign(timestamp=result.frame["timestamp"].dt.tz_convert(None))
    st.dataframe(frame, hide_index=True, key=f"operation.{result.name}.table")


def _exceptions(result: QueryResult) -> None:
    for i, row in enumerate(result.frame.to_dict("records")):
        with st.expander(plain(f"{row['timestamp']:%H:%M:%S.%f} · {row['type']} · {row['outerMessage']}"[:200]),
                         expanded=i == 0):
            show_exception_details(row["details"])


def _call_payload(op: str, frames: dict[str, pd.DataFrame]) -> None:
    """What the call logged (its input, prediction or response), flattened, beside its request's status."""
    traces, requests = frames.get("traces"), frames.get("requests")
    if traces is None or requests is None:
        return
    table = payload_rows(traces.assign(operation_Id=op), requests.assign(operation_Id=op)).frame
    if len(table):
        st.markdown("**What the call logged**")
        st.dataframe(table.assign(timestamp=table["timestamp"].dt.tz_convert(None)), hide_index=True,
                     key="operation.payload")


def _operation(op: str, queries: list[Listing], outcomes: list[Outcome], ctx: RenderContext) -> None:
    frames = {q.table: o.frame for q, o in zip(queries, outcomes, strict=True) if isinstance(o, QueryResult)}
    events = operation_events(frames)
    with st.container(border=True):
        st.markdown(f"**Operation** {plain(op)} **end to end**")
        if events.empty:
            st.info(f"No request, dependency, trace or exception with operation_Id {plain(op)} in "
                    f"{filters.time.label()}. Widen the time range, or check the id.", icon=":material/info:")
        else:
            st.plotly_chart(operation_timeline(events), key="operation.timeline")
            st.caption(f"{len(events)} rows: request and dependencies as bars from their start for their "
                       "duration (red: failed); traces and exceptions as points.")
        _call_payload(op, frames)
    tabs = st.tabs(["Request", "Dependencies", "Traces", "Exceptions"])
    renders = (_calls_table, _calls_table, _rows, _exceptions)
    for tab, query, outcome, render in zip(tabs, queries, outcomes, renders, strict=True):
        with tab:
            show_panel(f"{query.table.capitalize()} of the operation", outcome, query=query, ctx=ctx, schema=schema,
                       empty_text=f"No {query.table} with this operation_Id in {filters.time.label()}.",
                       render=render)


def _histogram(result: QueryResult) -> None:
    frame = result.frame.assign(series=result.frame["severity"].map(
        lambda s: SEVERITIES.get(int(s), str(s)) if pd.notna(s) else "?"))
    time_chart(series_chart(frame, "traces", y_title="traces", palette="severity"), window=filters.window(),
               key="traces.histogram.chart")


def _search_view(ctx: RenderContext) -> list[Outcome]:
    search_form(search)
    op = search.operation_id
    endpoint_logs = reads_endpoint_logs()
    if endpoint_logs and not op and search_in() == "console":  # the endpoint's console instead of traces
        console = [console_listing(search, page), console_histogram(search)]
        outcomes = run_panels(console, ctx)
        console_panels(console, outcomes, ctx, page)
        pager(page, len(outcomes[0].frame) if isinstance(outcomes[0], QueryResult) else 0)
        return outcomes
    # One batch: the page of traces and either their histogram or the four parts of the operation
    # (over one operation's few rows a histogram says nothing the timeline does not), with the
    # endpoint's own row and console lines of the request where the source can hold them.
    platform = [platform_rows(op), request_console(op)] if op and endpoint_logs else []
    queries: list = [search_listing(search, page), *(operation_queries(op) if op else [search_histogram(search)]),
                     *platform]
    outcomes = run_panels(queries, ctx)
    if platform:
        queries, outcomes, platform_outcomes = queries[:-2], outcomes[:-2], outcomes[-2:]
    nothing = empty_text("traces matching the search", ctx)
    if op:
        st.button("Back to the search", icon=":material/close:", key="traces.clear_op",
                  on_click=lambda: set_params(op=None, pg=None))
        _operation(op, queries[1:], outcomes[1:], ctx)
        if platform:
            request_panels(op, platform, platform_outcomes, ctx)
    else:
        show_panel(f"Matching traces per {grain_name(ctx.grain)}", outcomes[1], query=queries[1], ctx=ctx,
                   schema=schema, empty_text=nothing, render=_histogram)
    listing = show_panel("Traces, newest first", outcomes[0], query=queries[0], ctx=ctx, schema=schema,
                         empty_text=nothing if page == 1 else f"No traces on page {page}; go back to newer ones.",
                         render=lambda r: _rows(r, None if op else _total(outcomes[1])))
    pager(page, len(listing.frame) if listing is not None else 0)
    return [*outcomes, *(platform_outcomes if platform else [])]


def _total(histogram: Outcome) -> int | None:
    """All matching traces (the histogram's sum of itemCount), beyond the page shown."""
    return int(histogram.frame["traces"].sum()) if isinstance(histogram, QueryResult) else None


# --- payloads ---------------------------------------------------------------------------------


def _chosen_service(ctx: RenderContext) -> str | None:
    if len(filters.services) == 1:
        return filters.services[0]
    outcome = run_panels([panel("services")], ctx)[0]
    services = list(outcome.frame["service"]) if isinstance(outcome, QueryResult) else []
    if not services:
        st.info(f"No services reported requests in {filters.time.label()}.", icon=":material/info:")
        return None
    # The busiest service first (the list comes busiest first), rather than a blank page to pick from.
    choice = st.selectbox("Service", services, index=0,
                          help="Payloads are flattened per service: each model has its own input and output. "
                               "The busiest is shown first.")
    if choice != services[0]:
        write_url(filters.with_changes(services=(choice,)))
        st.rerun(scope="app")
    return choice


def _sizes(result: QueryResult) -> None:
    frame = result.frame
    total, cut = int(frame["payloads"].sum()), int(frame["at_limit"].sum())
    a, b, c = st.columns(3)
    a.metric("Payload rows (sum of itemCount)", f"{total:,}")
    b.metric(f"At the {PROPERTY_LIMIT:,}-character limit", f"{cut:,}")
    c.metric("Share cut", f"{cut / total:.2%}" if total else "–")
    shares = frame.assign(share=frame["at_limit"].astype("float64") / frame["payloads"].astype("float64"))
    st.plotly_chart(series_chart(shares, "share", y_title="share cut", kind="line"), key="traces.sizes.chart")


def _payloads(result: QueryResult, responses: Outcome) -> None:
    if not isinstance(responses, QueryResult):
        st.warning(f"The requests' responses could not be read, so calls show without their status: {responses}",
                   icon=":material/warning:")
    table = payload_table(result, responses if isinstance(responses, QueryResult) else None)
    frame = table.frame
    st.caption(f"The newest {PAYLOAD_ROWS:,} payload rows of the range at most ({table.rows_read:,} read, "
               f"{len(frame):,} scoring calls, each with its request's status and duration where it logged a "
               "response). Columns are the JSON paths of the input and the output. "
               f"{table.truncated_share:.1%} of these calls were cut at a size limit: their JSON no longer "
               "parses, so their columns hold only what model data collection kept, if anything.")
    if table.columns_left_out:
        st.caption(f"{table.columns_left_out:,} values past the first columns of a call were left out.")
    if table.rare_columns:
        st.caption(f"{table.rare_columns:,} more columns, each in fewer calls than those shown, were left out.")
    choices = prediction_columns(frame)
    if choices:
        column = st.selectbox("Prediction", choices, key="traces.prediction")
        grain = distribution_grain(frame["timestamp"])
        st.caption(f"Distribution of {plain(column)} per {grain_name(grain)} over these calls.")
        dist = prediction_distribution(frame, column, grain)
        if "p50" in dist:
            long = dist.melt(id_vars=["bucket"], value_vars=["p10", "p50", "p90"], var_name="series")
            st.plotly_chart(series_chart(long, "value", y_title=column, kind="line"), key="traces.prediction.chart")
        else:
            st.plotly_chart(series_chart(dist.rename(columns={"value": "series"}), "n", y_title="calls"),
                            key="traces.prediction.chart")
    show_table(frame.assign(timestamp=frame["timestamp"].dt.tz_convert(None)), key="traces.payloads")  # UTC


def _payload_view(ctx: RenderContext) -> list[Outcome]:
    service = _chosen_service(ctx)
    if service is None:
        return []
    queries = [PAYLOAD_SIZES, payload_listing(), response_listing()]
    outcomes = run_panels(queries, ctx)
    nothing = empty_text("logged payloads", ctx)
    show_panel(f"Payload sizes against the {PROPERTY_LIMIT:,}-character property limit", outcomes[0],
               query=queries[0], ctx=ctx, schema=schema, empty_text=nothing, render=_sizes)
    show_panel(f"Logged scoring calls of {plain(service)}", outcomes[1], query=queries[1], ctx=ctx, schema=schema,
               empty_text=nothing, render=lambda r: _payloads(r, outcomes[2]))
    return outcomes


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)
    return _payload_view(ctx) if view == "payloads" else _search_view(ctx)


live(_render)
