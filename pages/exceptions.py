"""Exceptions: which problems are raised, where, since when, what is new, and one group's stack."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import time_chart
from components.charts import series_chart
from components.filters import current_filters, sample_link_params, url_text
from components.navigation import PAGES
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.tables import show_table
from components.telemetry_rows import capped, plain, show_exception_details
from components.url_params import choose_in_url
from components.view import live, page_heading
from telemetry.comparison import data_starts
from telemetry.filters import grain_name
from telemetry.model import RenderContext
from telemetry.queries.pages import page_queries
from telemetry.queries.exceptions import GROUPS, OVER_TIME, SAMPLE_LIMIT, group_table, samples_listing
from telemetry.results import Outcome, QueryResult

TRACES_PAGE = next(url for path, _, _, url in PAGES if path == "pages/traces.py")

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
_warnings: list[str] = []


url_text("problem", _warnings)  # said once, above the panels
ctx0 = RenderContext.of(filters)
page_heading("Exceptions", f"{filters.time.label()} · bins of {grain_name(ctx0.grain)} · times in UTC · "
             "a group is a problemId in one service; new = none in the period of the same length before")
for warning in _warnings:
    st.warning(warning, icon=":material/link_off:")


def _over_time(result: QueryResult) -> None:
    by = st.radio("Group by", ["problem", "type"], horizontal=True, key="exceptions.group_by",
                  format_func=lambda g: {"problem": "problemId", "type": "exception type"}[g])
    frame = result.frame.assign(series=result.frame[by] + " · " + result.frame["service"])
    frame = frame.groupby(["bucket", "series"], as_index=False)["exceptions"].sum()
    figure = series_chart(frame, "exceptions", y_title="exceptions").update_layout(legend_y=-0.3, height=360)
    time_chart(figure, window=filters.window(), key="exceptions.over_time.chart")


_GROUP_COLUMNS = {"problem": "problemId", "type": "Type", "service": "Service", "exceptions": "Exceptions",
                  "operations": "Affected requests", "first_seen": "First seen", "last_seen": "Last seen",
                  "previous": "Previous period", "new": "New", "message": "Message"}


def _groups(result: QueryResult, problem: str, coverage: Outcome, ctx: RenderContext) -> None:
    starts = data_starts(coverage.frame, ctx.window) if isinstance(coverage, QueryResult) else ctx.window.start
    table = group_table(result.frame, previous_covered=starts is None)
    if starts is not None:
        st.caption(f"No group is marked new: no data before {starts:%Y-%m-%d %H:%M} UTC, so the period of the same "
                   "length before this range is not covered.")
    new = [plain(f"{r.problem} ({r.service})") for r in table[table["new"]].itertuples()]
    if new:
        more = f" and {len(new) - 5} more" if len(new) > 5 else ""
        named = ", ".join(plain(n) for n in new[:5])
        st.warning(f"{len(new)} of {len(table)} groups are new in this period: {named}{more}.",
                   icon=":material/fiber_new:")
    for column in ("first_seen", "last_seen"):  # the page says times are UTC; no "+00:00" to cut off
        table[column] = table[column].dt.tz_convert(None)
    show_table(table, key="exceptions.groups", columns=_GROUP_COLUMNS)
    choose_in_url("problem", "Show a group's stack trace and sample requests",
                  list(dict.fromkeys(table["problem"].astype(str))), problem, placeholder="(choose a problemId)")


def _op_link(op: str, at: datetime) -> str:
    """A relative link to the trace explorer's end-to-end view of `op`, in a frozen window around it."""
    return f"{TRACES_PAGE}?{urlencode(sample_link_params(filters, at, op=op), doseq=True)}"


def _samples(result: QueryResult) -> None:
    frame = result.frame
    newest = frame.iloc[0]
    st.caption(f"Newest of the {len(frame)} newest exceptions (at most {SAMPLE_LIMIT}) in "
               f"{plain(newest['cloud_RoleName'])}, {pd.Timestamp(newest['timestamp']):%Y-%m-%d %H:%M:%S} UTC")
    left, right = st.columns(2)
    for where, label, column in ((left, "Outer message", "outerMessage"), (right, "Innermost message",
                                                                           "innermostMessage")):
        shown, note = capped(newest[column], 4_000)
        where.markdown(f"**{label}** ({plain(newest[column.replace('Message', 'Type')])})")
        where.code(shown, language=None, wrap_lines=True)
        if note:
            where.caption(note)
    st.markdown("**Stack trace**")
    show_exception_details(newest["details"])
    st.page_link("pages/traces.py", label="Open the newest sample end to end", icon=":material/timeline:",
                 query_params=sample_link_params(filters, newest["timestamp"], op=str(newest["operation_Id"])))
    table = frame.drop(columns=["details"]).assign(end_to_end=[_op_link(str(op), at) for op, at in zip(
                                                       frame["operation_Id"], frame["timestamp"], strict=True)],
                                                   timestamp=frame["timestamp"].dt.tz_convert(None))
    st.dataframe(
        table, hide_index=True, key="exceptions.samples.table",
        column_order=["timestamp", "end_to_end", "cloud_RoleName", "cloud_RoleInstance", "type", "outerMessage",
                      "innermostType", "innermostMessage", "itemCount"],
        column_config={"end_to_end": st.column_config.LinkColumn("Operation (end to end)",
                                                                 display_text=r"op=([^&]*)")},
    )


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)
    problem = url_text("problem") or ""
    queries = [*page_queries("exceptions"), *([samples_listing(problem)] if problem else [])]
    outcomes = run_panels(queries, ctx)
    nothing = empty_text("exceptions", ctx)
    show_panel("Exceptions over time", outcomes[0], query=OVER_TIME, ctx=ctx, schema=schema, empty_text=nothing,
               render=_over_time)
    show_panel("Exception groups", outcomes[1], query=GROUPS, ctx=ctx, schema=schema, empty_text=nothing,
               render=lambda r: _groups(r, problem, outcomes[2], ctx))
    if problem:
        show_panel(f"Group {plain(problem)}", outcomes[3], query=queries[3], ctx=ctx, schema=schema,
                   empty_text=f"No exceptions with problemId {plain(problem)} in {filters.time.label()}; "
                              "widen the time range or choose another group.",
                   render=_samples)
    return outcomes


live(_render)
