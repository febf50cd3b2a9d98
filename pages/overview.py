"""Overview: is my model endpoint healthy? Four headline numbers against the period before, each
with its trend and a link to the page that explains it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.auth import require_sign_in
from components.charts import FAILED_COLOUR, PERCENTILE_COLOURS, sparkline
from components.filters import current_filters, link_params
from components.metrics import change_metric, explain_failure_rate
from components.navigation import PAGES, narrow_links
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.url_params import set_params, synced_key
from components.view import focused_panel, is_embedded, live, page_heading
from components.time_axis import span
from telemetry.comparison import PERCENTILE_RESOLUTION, data_starts
from telemetry.filters import grain_name
from telemetry.kql import render_kql
from telemetry.model import Query, RenderContext
from telemetry.queries.overview import PROBE_OPERATIONS, Figure, headline, page_view, service_table, trend
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
    Card("overview.p95", "Latency", "p95 duration", "p95_ms", "{:,.1f} ms", "pages/latency.py", (6, 7),
         colour=PERCENTILE_COLOURS["p95_ms"]),
    Card("overview.failed_dependencies", "Dependencies", "Failed dependency calls", "failed", "{:,.0f}", "pages/dependencies.py",
         (2, 3), total="calls", colour=FAILED_COLOUR, what="dependency calls"),
)
_PAGE_TITLES = {path: title for path, title, *_ in PAGES}
_SERVICE_PAGES = {"requests": "pages/requests.py", "failures": "pages/failures.py", "latency": "pages/latency.py"}


def _card(card: Card, totals: QueryResult, trend_outcome: Outcome, ctx: RenderContext) -> None:
    figures = headline(totals.frame, card.figure, card.total)
    if figures.current is None:
        st.metric(card.title, "—", help=f"No {card.what} in this range to compute it from.")
    else:
        change_metric(st.container(), card.title, figures.current, figures.previous or 0.0, fmt=card.fmt,
                      higher_is_worse=card.higher_is_worse, data_starts=data_starts(totals.frame, ctx.window),
                      resolution=PERCENTILE_RESOLUTION if card.figure == "p95_ms" else 0.0)
        if card.figure == "failure_rate":
            explain_failure_rate(ctx.filters.result_code)
    if isinstance(trend_outcome, QueryResult) and not trend_outcome.empty:
        values = trend(trend_outcome.frame, card.figure, card.total)
        hover = card.fmt.replace("{:", "%{y:")  # the same format, in Plotly's hover syntax
        st.plotly_chart(span(sparkline(values.index.to_series(), values, hover=hover, colour=card.colour,
                                       log=card.figure == "p95_ms"), ctx.window),
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
        for query in (queries[1], queries[3], queries[5], *queries[7:]):
            st.caption(query.description)
            st.code(render_kql(query, ctx, schema), language="kql")


_SERVICE_COLUMNS = {
    "service": st.column_config.TextColumn("Service", pinned=True),
    "requests": st.column_config.NumberColumn("Requests", format="localized"),
    "requests_change": st.column_config.NumberColumn("Requests change", format="percent"),
    "requests_trend": st.column_config.AreaChartColumn("Requests per bin", y_min=0),
    "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
    "failure_rate_change": st.column_config.NumberColumn(
        "Failure rate change", format="%+.2f pp", help="In percentage points against the period before"),
    "failure_trend": st.column_config.LineChartColumn("Failure rate per bin", y_min=0),
    "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.1f"),
    "p95_change": st.column_config.NumberColumn("p95 change", format="percent",
                                                help="Changes within ±2 % (the percentile method's resolution) are 0"),
    "p95_trend": st.column_config.LineChartColumn("p95 per bin"),
    **{f"open_{page}": st.column_config.LinkColumn(_PAGE_TITLES[path], display_text="open ›")
       for page, path in _SERVICE_PAGES.items()},
}


def _services(outcomes: list[Outcome], ctx: RenderContext) -> None:
    totals, trends, latency, latency_trends = outcomes[4], outcomes[5], outcomes[8], outcomes[9]
    if not all(isinstance(o, QueryResult) for o in (trends, latency, latency_trends)):
        failed = next(o for o in (trends, latency, latency_trends) if not isinstance(o, QueryResult))
        st.error(f"Part of the services table could not be loaded. {failed}", icon=":material/error:")
        return
    assert isinstance(totals, QueryResult) and isinstance(trends, QueryResult)  # for mypy: checked above
    assert isinstance(latency, QueryResult) and isinstance(latency_trends, QueryResult)
    table = service_table(totals.frame, trends.frame, latency.frame, latency_trends.frame,
                          covered=data_starts(totals.frame, ctx.window) is None)
    for page, path in _SERVICE_PAGES.items():
        table[f"open_{page}"] = narrow_links(path, filters, table["service"], [""] * len(table))
    table["failure_rate_change"] = table["failure_rate_change"] * 100  # shown in percentage points
    st.dataframe(table, hide_index=True, key="overview.services.table", column_config=_SERVICE_COLUMNS,
                 column_order=list(_SERVICE_COLUMNS))
    st.caption("Least healthy first (failure rate, then p95). Changes against the period of the same length before; "
               "blank where it had no requests or the data does not cover it. p95 "
               + ("includes" if _probes() else "leaves out") + " health probes and swagger.")


def _probes() -> bool:
    """Whether the latency counts health-probe operations: `?probes=include`, or an operation chosen."""
    return st.query_params.get("probes") == "include" or bool(filters.operation)


def _probe_switch() -> None:
    if focused_panel() is not None or filters.operation:
        return
    key = synced_key("probes", st.query_params.get("probes") == "include")
    st.toggle("Count health probes and swagger in latency", key=key,
              help=f"Left out by default: {', '.join(PROBE_OPERATIONS)} are fast and regular, and would pull p95 "
                   "towards the probe's own.",
              on_change=lambda: set_params(probes="include" if st.session_state[key] else None))


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)  # inside: an auto refresh slides a relative window
    queries = page_view(_probes())
    outcomes = run_panels(queries, ctx)
    for column, card in zip(st.columns(len(CARDS)), CARDS, strict=True):
        totals_at, trend_at = card.sources
        with column:
            show_panel(card.area, outcomes[totals_at], query=queries[totals_at], ctx=ctx, schema=schema,
                       empty_text=empty_text(card.what, ctx), panel_id=card.panel_id,
                       render=lambda r, card=card, trend_at=trend_at: _card(card, r, outcomes[trend_at], ctx))
    show_panel("Services", outcomes[4], query=queries[4], ctx=ctx, schema=schema,
               empty_text=empty_text("requests", ctx), panel_id="overview.services",
               render=lambda r: _services(outcomes, ctx))
    if focused_panel() is None and not is_embedded():
        _trend_queries(queries, ctx)
    return outcomes


_probe_switch()
live(_render)
