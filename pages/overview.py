"""Overview: is my model endpoint healthy? Four headline numbers against the period before, each
with its trend and a link to the page that explains it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.auth import require_sign_in
from components.charts import FAILED_COLOUR, PERCENTILE_COLOURS, sparkline
from components.filters import current_filters, link_params
from components.metrics import change_metric
from components.navigation import PAGES
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.view import focused_panel, live, page_heading
from telemetry.filters import grain_name
from telemetry.kql import render_kql
from telemetry.model import Query, RenderContext
from telemetry.queries.overview import Figure, headline, page_view, trend
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
_ctx = RenderContext.of(filters)
page_heading("Overview", f"{filters.time.label()} · trends in bins of {grain_name(_ctx.grain)} · times in UTC · "
             "counts as sums of itemCount, p95 weighted by itemCount")


@dataclass(frozen=True)
class Card:
    panel_id: str
    area: str  # the panel's title: what the linked page is about
    title: str  # the figure's
    figure: Figure
    fmt: str
    page: str
    sources: tuple[int, int]  # indexes of its totals and its trend in the batch
    total: str = "requests"  # the count of all calls a rate divides by
    colour: str | None = None
    what: str = "requests"  # for "No … in this range"

    @property
    def higher_is_worse(self) -> bool:
        return self.figure != "requests"


CARDS = (
    Card("overview.requests", "Traffic", "Requests", "requests", "{:,.0f}", "pages/requests.py", (0, 1)),
    Card("overview.failure_rate", "Failures", "Failure rate", "failure_rate", "{:.2%}", "pages/failures.py", (0, 1),
         colour=FAILED_COLOUR),
    Card("overview.p95", "Latency", "p95 duration", "p95_ms", "{:,.1f} ms", "pages/latency.py", (0, 1),
         colour=PERCENTILE_COLOURS["p95_ms"]),
    Card("overview.failed_dependencies", "Dependencies", "Failed dependency calls", "failed", "{:,.0f}", "pages/dependencies.py",
         (2, 3), total="calls", colour=FAILED_COLOUR, what="dependency calls"),
)
_PAGE_TITLES = {path: title for path, title, *_ in PAGES}


def _card(card: Card, totals: QueryResult, trend_outcome: Outcome) -> None:
    figures = headline(totals.frame, card.figure, card.total)
    if figures.current is None:
        st.metric(card.title, "—", help=f"No {card.what} in this range to compute it from.")
    else:
        change_metric(st.container(), card.title, figures.current, figures.previous or 0.0, fmt=card.fmt,
                      higher_is_worse=card.higher_is_worse)
    if isinstance(trend_outcome, QueryResult) and not trend_outcome.empty:
        values = trend(trend_outcome.frame, card.figure, card.total)
        hover = card.fmt.replace("{:", "%{y:")  # the same format, in Plotly's hover syntax
        st.plotly_chart(sparkline(values.index.to_series(), values, hover=hover, colour=card.colour,
                                  log=card.figure == "p95_ms"),
                        key=f"{card.panel_id}.trend", config={"displayModeBar": False})
    elif isinstance(trend_outcome, QueryResult):
        st.caption(f"No {card.what} in this range to draw a trend from.")
    else:
        st.caption(f"The trend could not be loaded. {trend_outcome}")
    st.page_link(card.page, label=f"Open {_PAGE_TITLES[card.page]}", icon=":material/arrow_forward:",
                 query_params=link_params(filters))


def _trend_queries(queries: list[Query], ctx: RenderContext) -> None:
    """The trends' own KQL, one click away like every panel's (the cards show their totals')."""
    with st.expander("Queries behind the trends"):
        for query in (queries[1], queries[3]):
            st.caption(query.description)
            st.code(render_kql(query, ctx, schema), language="kql")


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)  # inside: an auto refresh slides a relative window
    queries = page_view()
    outcomes = run_panels(queries, ctx)
    for column, card in zip(st.columns(len(CARDS)), CARDS, strict=True):
        totals_at, trend_at = card.sources
        with column:
            show_panel(card.area, outcomes[totals_at], query=queries[totals_at], ctx=ctx, schema=schema,
                       empty_text=empty_text(card.what, ctx), panel_id=card.panel_id,
                       render=lambda r, card=card, trend_at=trend_at: _card(card, r, outcomes[trend_at]))
    if focused_panel() is None:
        _trend_queries(queries, ctx)
    return outcomes


live(_render)
