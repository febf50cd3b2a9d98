"""The online endpoint's own rows in the trace explorer: console lines found by a search, and one
request's platform row and console lines. Logged text is shown in tables, never as markdown."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from components.charts import series_chart
from components.panels import show_panel
from components.telemetry_rows import plain
from components.url_params import set_params, synced_key
from telemetry.endpoint_logs import CONSOLE_LOG, diagnostic_setting_hint
from telemetry.model import Query, RenderContext
from telemetry.queries.endpoint_traces import with_reasons
from telemetry.results import Outcome, QueryResult

__all__ = ["console_panels", "request_panels", "search_in"]

# These tables exist only in workspaces; on the local store they keep their workspace names.
_SCHEMA = "workspace"
_WHERE = {"traces": "App Insights traces", "console": "Endpoint console log"}


def search_in() -> str:
    """Where the search looks (`?in=console`: the endpoint's console log), chosen beside the form."""
    key = synced_key("in", "console" if st.query_params.get("in") == "console" else "traces")
    return st.segmented_control(
        "Search in", list(_WHERE), key=key, format_func=_WHERE.get,
        help="The endpoint's console log (AmlOnlineEndpointConsoleLog) holds what score.py printed, "
             "App Insights or not.",
        on_change=lambda: set_params(**{"in": None if st.session_state[key] != "console" else "console", "pg": None}),
    ) or "traces"


def _lines(result: QueryResult) -> None:
    frame = result.frame.assign(timestamp=result.frame["timestamp"].dt.tz_convert(None))
    st.dataframe(frame, hide_index=True, key=f"{result.name}.table", column_config={
        "timestamp": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS"),
        "message": st.column_config.TextColumn("Message", width="large")})


def _histogram(result: QueryResult) -> None:
    st.plotly_chart(series_chart(result.frame.rename(columns={"deployment": "series"}), "lines",
                                 y_title="console lines"), key="endpoint.console_histogram.chart")


def console_panels(queries: Sequence[Query], outcomes: Sequence[Outcome], ctx: RenderContext, page: int) -> None:
    """The console search: its lines per bin and deployment, then a page of lines."""
    nothing = (f"No console lines matching the search in {ctx.filters.time.label()}. "
               + diagnostic_setting_hint([CONSOLE_LOG]))
    show_panel("Matching console lines per deployment", outcomes[1], query=queries[1], ctx=ctx, schema=_SCHEMA,
               empty_text=nothing, render=_histogram)
    show_panel("Console lines, newest first", outcomes[0], query=queries[0], ctx=ctx, schema=_SCHEMA,
               empty_text=nothing if page == 1 else f"No console lines on page {page}; go back to newer ones.",
               render=_lines)


def _platform(result: QueryResult) -> None:
    frame = with_reasons(result.frame)
    st.dataframe(frame.assign(timestamp=frame["timestamp"].dt.tz_convert(None)), hide_index=True,
                 key="endpoint.platform.table")
    st.caption("Durations are marks from the request's start: RequestDurationMs (request received), "
               "ResponseDurationMs (the model's first byte), TotalDurationMs (response sent).")


def request_panels(op: str, queries: Sequence[Query], outcomes: Sequence[Outcome], ctx: RenderContext) -> None:
    """One request as the endpoint saw it, joined on its request ids."""
    label = plain(op)
    show_panel("The endpoint's row of this request", outcomes[0], query=queries[0], ctx=ctx, schema=_SCHEMA,
               empty_text=f"No AmlOnlineEndpointTrafficLog row with XRequestId or XMSClientRequestId {label} in "
                          f"{ctx.filters.time.label()}.", render=_platform)
    show_panel("Console lines naming this request", outcomes[1], query=queries[1], ctx=ctx, schema=_SCHEMA,
               empty_text=f"No console line mentions {label} in {ctx.filters.time.label()}.", render=_lines)
