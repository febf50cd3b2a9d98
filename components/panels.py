"""A panel's frame: its title, its data or a clear error, and the query behind it."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from components.alert import alert_action
from components.connect import portal_link_button
from components.tables import download_buttons
from components.view import is_embedded, shareable_url, shows
from telemetry.errors import TelemetryError
from telemetry.kql import render_kql
from telemetry.markdown_text import plain
from telemetry.model import Query, RenderContext
from telemetry.results import Outcome, QueryResult
from telemetry.schema import Schema


def show_panel(
    title: str,
    outcome: Outcome,
    *,
    query: Query,
    ctx: RenderContext,
    schema: Schema,
    empty_text: str,
    render: Callable[[QueryResult], None],
    panel_id: str | None = None,
) -> QueryResult | None:
    """Render one panel; a failure or empty data is said in the panel, never raised.

    `panel_id` (default: the query's name) is what `?panel=` asks for to show it alone.
    """
    if not shows(panel_id or query.name):
        return outcome if isinstance(outcome, QueryResult) else None
    with st.container(border=True):
        st.markdown(f"**{title}**")
        result: QueryResult | None = None
        if isinstance(outcome, TelemetryError):
            st.error(f"{title} could not be loaded. {outcome}", icon=":material/error:")
        else:
            result = outcome
            if outcome.stale_because is not None:
                age = (time.time() - outcome.fetched_at) / 60
                st.warning(f"Showing data from {age:.0f} min ago, marked stale: the latest query failed. "
                           f"{outcome.stale_because}", icon=":material/history:")
            for warning in outcome.warnings:
                st.warning(warning, icon=":material/warning:")
            if outcome.empty:
                st.info(empty_text, icon=":material/info:")
            else:
                render(outcome)
        if not is_embedded():  # an embed shows the numbers; its "Open the full view" has the rest
            alert_action(panel_id or query.name, query, ctx, schema)
            _details(query, ctx, schema, outcome, panel_id or query.name)
    return result


def _details(query: Query, ctx: RenderContext, schema: Schema, outcome: Outcome, panel_id: str) -> None:
    with st.expander("Query behind this panel"):
        if query.description:
            st.caption(query.description)
        st.caption(f"This panel alone, for a wiki iframe (panel id `{panel_id}`):")
        st.code(shareable_url(panel=panel_id, embed="true"), language=None)
        kql = render_kql(query, ctx, schema)
        st.code(kql, language="kql")
        portal_link_button(kql, ctx.read_window(query))
        if isinstance(outcome, QueryResult):
            st.caption(f"{len(outcome.frame):,} rows in {outcome.elapsed_s * 1000:.0f} ms from {outcome.source}")
            if not outcome.empty:
                download_buttons(outcome.frame, key=f"{panel_id}.data", formats=("CSV",), prefix="Data as ")
            if outcome.language == "sql":
                st.caption("Run on the local store as:")
                st.code(outcome.query_text, language="sql")
        elif outcome.query:
            st.code(outcome.query)


def empty_text(what: str, ctx: RenderContext) -> str:
    services = ", ".join(plain(s) for s in ctx.filters.services) or "any service"
    return f"No {what} in {ctx.filters.time.label()} for {services}."
