"""Dependencies: what the services call (model blobs, feature stores, SQL, HTTP), how often it
fails and how long it takes; for one chosen dependency, its codes and the operations calling it."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.chart_choice import choosable_chart
from components.charts import FAILED_COLOUR, duration_histogram, ranking_bars, series_chart
from components.filters import current_filters, link_params, url_text
from components.metrics import change_metric
from components.navigation import NARROW_COLUMN, narrow_links, page_href
from components.panels import show_panel
from components.source import current_source, run_panels
from components.tables import show_table
from components.telemetry_rows import plain
from components.url_params import choose_in_url, set_params
from components.view import live, page_heading
from telemetry.comparison import PERCENTILE_RESOLUTION, data_starts
from telemetry.filters import grain_name
from telemetry.model import Query, RenderContext
from telemetry.queries.dependencies import chosen_queries, dependency_table, label, page_view
from telemetry.queries.latency import HISTOGRAM
from telemetry.queries.failures import failure_rate
from telemetry.results import Outcome, QueryResult

RANKED = 5  # dependencies in the slowest and most failing charts

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema


_warnings: list[str] = []
url_text("dependency", _warnings)  # said once, above the panels
_ctx = RenderContext.of(filters)
page_heading("Dependencies", f"{filters.time.label()} · bins of {grain_name(_ctx.grain)} · times in UTC · "
             "calls as sums of itemCount, durations as itemCount-weighted percentiles"
             + (" · the result-code filter applies to requests, not to these calls" if filters.result_code else ""))
for warning in _warnings:
    st.warning(warning, icon=":material/link_off:")


def _nothing(ctx: RenderContext, what: str = "dependency calls") -> str:
    services = ", ".join(ctx.filters.services) or "any service"
    operation = f" in operation {ctx.filters.operation}" if ctx.filters.operation else ""
    return f"No {what} in {ctx.filters.time.label()} for {services}{operation}."


_HEADLINES = (("calls", "Calls", "{:,.0f}", False), ("failed", "Failed calls", "{:,.0f}", True),
              ("failure_rate", "Failure rate", "{:.2%}", True), ("p95_ms", "p95 duration", "{:,.1f} ms", True))


def _totals(result: QueryResult, ctx: RenderContext) -> None:
    starts = data_starts(result.frame, ctx.window)
    frame = failure_rate(result.frame, "calls").set_index("period")

    def value(period: str, name: str) -> float:  # a period without calls has no row: 0, and no change shown
        return float(frame.at[period, name]) if period in frame.index and pd.notna(frame.at[period, name]) else 0.0

    for col, (name, title, fmt, worse) in zip(st.columns(len(_HEADLINES)), _HEADLINES, strict=True):
        change_metric(col, title, value("current", name), value("previous", name), fmt=fmt, higher_is_worse=worse,
                      data_starts=starts, resolution=PERCENTILE_RESOLUTION if name == "p95_ms" else 0.0)


_MEASURES = {"calls": ("Calls", "calls"), "failure_rate": ("Failure rate", "failure rate"),
             "p95_ms": ("p95 duration", "p95 duration (ms)")}


def _over_time(result: QueryResult) -> None:
    measure = st.segmented_control("Show", list(_MEASURES), default="calls", key="dependencies.measure",
                                   format_func=lambda m: _MEASURES[m][0], label_visibility="collapsed") or "calls"
    frame = failure_rate(result.frame, "calls").assign(series=label(result.frame))
    figure = series_chart(frame, measure, y_title=_MEASURES[measure][1], kind="bar" if measure == "calls" else "line")
    if measure == "failure_rate":
        figure.update_yaxes(tickformat=".1%", rangemode="tozero")
    elif measure == "p95_ms":
        figure.update_yaxes(type="log")  # model downloads take seconds, feature lookups milliseconds
    targets = dict(zip(frame["series"], frame["target"].astype(str), strict=True))
    choosable_chart(figure.update_layout(legend_y=-0.3, height=360), window=filters.window(),
                    key="dependencies.over_time.chart",
                    choose=lambda series: set_params(dependency=targets[series]))
    st.caption("Click a bar or point to show that dependency's distribution, result codes and callers below.")


def _dependency_link(target: str) -> str:
    return page_href("pages/dependencies.py", link_params(filters, dependency=target))


def _targets(result: QueryResult, chosen: str | None) -> None:
    table = dependency_table(result.frame).assign(
        dependency=label(result.frame), details=[_dependency_link(str(t)) for t in result.frame["target"]])
    st.dataframe(
        table, hide_index=True, key="dependencies.targets.table",
        column_order=["type", "target", "calls", "share", "failed", "failure_rate", "p50_ms", "p95_ms", "p99_ms",
                      "mean_ms", "services", "details"],
        column_config={
            "type": "Type", "target": "Target", "calls": "Calls", "failed": "Failed", "services": "Services",
            "share": st.column_config.NumberColumn("Share", format="percent"),
            "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
            **{f"{p}_ms": st.column_config.NumberColumn(f"{p} (ms)", format="%.1f") for p in ("p50", "p95", "p99")},
            "mean_ms": st.column_config.NumberColumn("Mean (ms)", format="%.1f"),
            "details": st.column_config.LinkColumn("Details", display_text="codes and callers"),
        },
    )
    _choose(list(dict.fromkeys(table["target"].astype(str))), chosen)


def _choose(targets: list[str], chosen: str | None) -> None:
    choose_in_url("dependency", "Show a dependency's result codes and callers", targets, chosen,
                  placeholder="(choose a dependency target)")


def _slowest(result: QueryResult) -> None:
    top = result.frame.assign(dependency=label(result.frame)).nlargest(RANKED, "p95_ms")
    figure = ranking_bars(top["dependency"], top["p95_ms"], x_title="p95 duration (ms, log scale)", log=True,
                          text=top["p95_ms"].map("{:,.1f} ms".format))
    st.plotly_chart(figure, key="dependencies.slowest.chart")


def _failing(result: QueryResult) -> None:
    frame = dependency_table(result.frame).assign(dependency=label(result.frame))
    top = frame[frame["failed"] > 0].sort_values(["failed", "calls"], ascending=False).head(RANKED)
    if top.empty:
        st.info("No dependency call failed in this range.", icon=":material/check_circle:")
        return
    text = top["failed"].map("{:,}".format) + " of " + top["calls"].map("{:,}".format) + " (" \
        + top["failure_rate"].map("{:.1%}".format) + ")"
    st.plotly_chart(ranking_bars(top["dependency"], top["failed"], x_title="failed calls", text=text,
                                 colour=FAILED_COLOUR), key="dependencies.failing.chart")


def _codes(result: QueryResult) -> None:
    frame = result.frame
    total = float(frame["calls"].sum())
    show_table(frame.assign(share=frame["calls"].astype("float64") / total if total else 0.0),
               key="dependencies.codes", columns={"code": "Result code", "type": "Type", "calls": "Calls",
                                                  "share": "Share", "failed": "Failed"})


def _callers(result: QueryResult, chosen: str) -> None:
    frame = failure_rate(result.frame, "calls")
    frame = frame.assign(
        operation=frame["operation"].mask(frame["operation"] == "", "(none: outside a request, e.g. start-up)"),
        narrow=narrow_links("pages/dependencies.py", filters, frame["service"], result.frame["operation"],
                            dependency=chosen))
    st.dataframe(
        frame, hide_index=True, key="dependencies.callers.table",
        column_order=["operation", "service", "calls", "failed", "failure_rate", "p95_ms", "narrow"],
        column_config={
            "operation": "Operation", "service": "Service", "calls": "Calls", "failed": "Failed",
            "failure_rate": st.column_config.NumberColumn("Failure rate", format="percent"),
            "p95_ms": st.column_config.NumberColumn("p95 (ms)", format="%.1f"),
            "narrow": NARROW_COLUMN,
        },
    )


def _chosen_figures(result: QueryResult) -> None:
    row = failure_rate(result.frame, "calls").iloc[0]
    cols = st.columns(5)
    cols[0].metric("Calls", f"{int(row['calls']):,}")
    cols[1].metric("Failure rate", f"{row['failure_rate']:.2%}" if pd.notna(row["failure_rate"]) else "–")
    for col, p in zip(cols[2:], ("p50", "p95", "p99"), strict=True):
        col.metric(f"{p} duration", f"{row[f'{p}_ms']:,.1f} ms" if pd.notna(row[f"{p}_ms"]) else "–")


def _distribution(result: QueryResult, figures: Outcome) -> None:
    row = figures.frame.iloc[0] if isinstance(figures, QueryResult) and not figures.empty else None
    markers = {} if row is None else {p: float(row[f"{p}_ms"]) for p in ("p50", "p95", "p99")}
    st.plotly_chart(duration_histogram(result.frame, HISTOGRAM, count="calls", markers=markers),
                    key="dependencies.distribution.chart")
    st.caption(f"{HISTOGRAM.per_decade} buckets a decade; bars count calls as sums of itemCount.")


def _chosen_panels(target: str, queries: list[Query], outcomes: list[Outcome], ctx: RenderContext) -> None:
    none = _nothing(ctx, f"calls to {plain(target)}")
    figures_out, distribution_out, codes_out, callers_out = outcomes
    # A summary without groups answers one row even when nothing matched: no calls means empty.
    if isinstance(figures_out, QueryResult) and not figures_out.empty and not figures_out.frame["calls"].iloc[0]:
        figures_out = replace(figures_out, frame=figures_out.frame.iloc[0:0])
    show_panel(f"{plain(target)} at a glance", figures_out, query=queries[0], ctx=ctx, schema=schema,
               empty_text=none, render=_chosen_figures)
    left, right = st.columns(2)
    with left:
        show_panel(f"Duration distribution of {plain(target)}", distribution_out, query=queries[1], ctx=ctx,
                   schema=schema, empty_text=none, render=lambda r: _distribution(r, figures_out))
    with right:
        show_panel(f"Result codes of {plain(target)}", codes_out, query=queries[2], ctx=ctx, schema=schema,
                   empty_text=none, render=_codes)
    show_panel(f"Operations calling {plain(target)}", callers_out, query=queries[3], ctx=ctx, schema=schema,
               empty_text=none, render=lambda r: _callers(r, target))


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)
    chosen = url_text("dependency")
    queries = page_view()
    extra = chosen_queries(chosen) if chosen else []
    outcomes = run_panels([*queries, *extra], ctx)
    (totals_out, time_out, targets_out), chosen_out = outcomes[:3], outcomes[3:]
    nothing = _nothing(ctx)
    show_panel("Dependency calls against the previous period", totals_out, query=queries[0], ctx=ctx, schema=schema,
               empty_text=nothing, render=lambda r: _totals(r, ctx))
    show_panel("Per dependency over time", time_out, query=queries[1], ctx=ctx, schema=schema, empty_text=nothing,
               render=_over_time)
    left, right = st.columns(2)
    with left:
        show_panel(f"Slowest {RANKED} (p95)", targets_out, query=queries[2], ctx=ctx, schema=schema,
                   empty_text=nothing, panel_id="dependencies.slowest", render=_slowest)
    with right:
        show_panel(f"Most failing {RANKED}", targets_out, query=queries[2], ctx=ctx, schema=schema,
                   empty_text=nothing, panel_id="dependencies.failing", render=_failing)
    show_panel("Dependencies", targets_out, query=queries[2], ctx=ctx, schema=schema, empty_text=nothing,
               render=lambda r: _targets(r, chosen))
    if chosen:
        if isinstance(targets_out, QueryResult) and chosen not in set(targets_out.frame["target"].astype(str)):
            st.warning(f"No calls to dependency {plain(chosen)} in this range: check the target, or widen the range.",
                       icon=":material/search_off:")
        _chosen_panels(chosen, extra, chosen_out, ctx)
    return outcomes


live(_render)
