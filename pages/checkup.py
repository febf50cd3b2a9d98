"""Telemetry check-up: per service, who writes its telemetry and what is wrong with it, each finding
with its fix in one sentence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.charts import FAILED_COLOUR, ranking_bars
from components.filters import current_filters
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.tables import show_table
from components.telemetry_rows import plain
from components.view import live, page_heading
from telemetry.model import RenderContext
from telemetry.queries.checkup import EXCEPTIONS, REQUESTS, TRACES, ServiceCheckup, checkups, page_view
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
page_heading("Telemetry check-up", f"{filters.time.label()} · what each service's telemetry gets wrong, and the fix")

# Findings are statements about the telemetry, not errors of this page: icons, not alert boxes.
_ICONS = {"ok": ":green[:material/check_circle:]", "info": ":blue[:material/info:]",
          "warning": ":orange[:material/warning:]", "problem": ":red[:material/error:]"}


def _frame(outcome: Outcome) -> pd.DataFrame | None:
    return outcome.frame if isinstance(outcome, QueryResult) else None


def _service(checkup: ServiceCheckup) -> None:
    with st.container(border=True):
        st.markdown(f"**{plain(checkup.service)}**")
        st.caption("Written by " + "; ".join(f"{plain(name)} ({share:.0%})" for name, share in checkup.writers))
        for finding in checkup.findings:
            text = f"{_ICONS[finding.level]} **{plain(finding.title)}.** {plain(finding.detail)}"
            if finding.fix:
                text += f"  \n*Fix:* {plain(finding.fix)}"
            st.markdown(text)


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)
    queries = page_view()
    outcomes = run_panels(queries, ctx)
    requests, traces, exceptions = outcomes

    def findings(result: QueryResult) -> None:
        missing = [q.table for q, o in zip(queries[1:], outcomes[1:], strict=True) if not isinstance(o, QueryResult)]
        if missing:
            st.warning(f"The {' and '.join(missing)} could not be read: their findings are left out.",
                       icon=":material/warning:")
        frame = result.frame
        per_service = frame.groupby("service")["requests"].sum()
        wrong = frame[frame["values"] == "server_disagrees"].groupby("service")["requests"].sum()
        share = (wrong.reindex(per_service.index, fill_value=0) / per_service).sort_values(ascending=False)
        st.caption("Share of each service's requests whose standard columns (resultCode, success, duration) "
                   "disagree with the server's own values: what other dashboards get wrong.")
        st.plotly_chart(ranking_bars(pd.Series(share.index.astype(str)), share, x_title="share of requests",
                                     text=share.map(lambda v: f"{v:.1%}"), colour=FAILED_COLOUR),
                        key="checkup.disagreeing.chart")
        empty = pd.DataFrame(columns=["service"])
        for checkup in checkups(result.frame, _frame(traces) if _frame(traces) is not None else empty,
                                _frame(exceptions) if _frame(exceptions) is not None else empty):
            _service(checkup)

    show_panel("Check-up per service", requests, query=REQUESTS, ctx=ctx, schema=schema,
               empty_text=empty_text("requests", ctx), render=findings)
    left, right = st.columns(2)
    with left:
        show_panel("Traces per service", traces, query=TRACES, ctx=ctx, schema=schema,
                   empty_text=empty_text("traces", ctx), render=lambda r: show_table(r.frame, key="checkup.traces"))
    with right:
        show_panel("Exceptions per service", exceptions, query=EXCEPTIONS, ctx=ctx, schema=schema,
                   empty_text=empty_text("exceptions", ctx),
                   render=lambda r: show_table(r.frame, key="checkup.exceptions"))
    return outcomes


live(_render)
