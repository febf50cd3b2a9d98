"""Plotly figure builders: pure functions from a panel's frame to a figure (testable alone).

Colours are left to Streamlit's theme (st.plotly_chart's default), so charts follow light and
dark; only succeeded/failed get fixed colours, because green and red carry meaning, and p50/p95/p99,
so the small multiples of one latency chart read alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.colours import Palette, colour, series_order
from components.figure_cache import cached_figure
from telemetry.model import LogBucket

__all__ = [
    "duration_histogram", "operation_timeline", "outcome_bars", "percentile_panels", "plotly_text", "ranking_bars",
    "raw_text", "series_chart", "sparkline",
]

OK_COLOUR = "#2ca02c"
FAILED_COLOUR = "#d62728"


def plotly_text(value: object) -> str:
    """Telemetry as Plotly text (a legend name, axis category or title, hover text) shown as
    itself: Plotly renders its HTML subset (<a href>, <br>, <span style>) and entities in them."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;")


def raw_text(label: str) -> str:
    """The telemetry value behind a `plotly_text` label (a clicked series' name)."""
    return re.sub(r"&(amp|lt);", lambda m: "&" if m[1] == "amp" else "<", label)


def _layout(fig: go.Figure, y_title: str) -> go.Figure:
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=320,
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
        yaxis_title=plotly_text(y_title),
        xaxis_title=None,
    )
    return fig


@cached_figure
def series_chart(frame: pd.DataFrame, value: str, *, y_title: str, kind: str = "bar",
                 palette: Palette = "series") -> go.Figure:
    """One trace per series over the time bins: stacked bars for counts, lines for rates; each
    series in its fixed colour (components.colours: a service the same on every page)."""
    fig = go.Figure()
    ordered = frame.sort_values("bucket", kind="stable")  # lines join in time
    groups = sorted(ordered.groupby("series", sort=True), key=lambda g: series_order(str(g[0]), palette))
    for series, rows in groups:
        x = rows["bucket"].dt.tz_convert(None)
        y = rows[value].astype("float64")
        hue = colour(str(series), palette)
        if kind == "bar":
            fig.add_trace(go.Bar(x=x, y=y, name=plotly_text(series), marker_color=hue))
        else:
            fig.add_trace(go.Scatter(x=x, y=y, name=plotly_text(series), mode="lines", line={"color": hue}))
    if kind == "bar":
        fig.update_layout(barmode="stack", bargap=0.05)
    return _layout(fig, y_title)


@cached_figure
def outcome_bars(frame: pd.DataFrame) -> go.Figure:
    """Succeeded and failed requests per bin, all series together."""
    per_bin = frame.groupby("bucket", sort=True)[["requests", "failed"]].sum()
    x = per_bin.index.tz_convert(None)
    fig = go.Figure(
        [
            go.Bar(x=x, y=(per_bin["requests"] - per_bin["failed"]).astype("float64"), name="succeeded",
                   marker_color=OK_COLOUR),
            go.Bar(x=x, y=per_bin["failed"].astype("float64"), name="failed", marker_color=FAILED_COLOUR),
        ]
    )
    fig.update_layout(barmode="stack", bargap=0.05)
    return _layout(fig, "requests")


@cached_figure
def ranking_bars(labels: pd.Series, values: pd.Series, *, x_title: str, text: pd.Series,
                 colour: str | None = None, log: bool = False) -> go.Figure:
    """Horizontal bars, the largest on top, each with its value written beside it: the few worst of
    something (slowest, most failing). `log` for values spanning decades (seconds beside milliseconds)."""
    fig = go.Figure(go.Bar(y=labels.map(plotly_text).to_numpy(), x=values.astype("float64").to_numpy(),
                           orientation="h", marker_color=colour, text=text.map(plotly_text).to_numpy(),
                           textposition="auto",
                           hovertemplate="%{y}<br>%{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=x_title, type="log" if log else "linear")
    _layout(fig, "")
    fig.update_layout(height=max(160, 36 * len(labels) + 90), hovermode="closest", showlegend=False)
    return fig


PERCENTILE_COLOURS = {"p50_ms": "#5b9bd5", "p95_ms": "#f58518", "p99_ms": "#a66bd3"}
MEAN_COLOUR = "#8c8c8c"


@cached_figure
def percentile_panels(frame: pd.DataFrame, *, max_series: int = 6) -> go.Figure:
    """p50/p95/p99 over time, one small chart per series (the busiest `max_series`), the mean dotted
    beside them; durations on a log axis, since a timeout's minute sits beside milliseconds."""
    busiest = frame.groupby("series")["requests"].sum().sort_values(ascending=False).index[:max_series]
    fig = make_subplots(rows=len(busiest), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[plotly_text(s) for s in busiest])
    for row, series in enumerate(busiest, start=1):
        rows = frame[frame["series"] == series].sort_values("bucket", kind="stable")  # the Logs API keeps no order
        x = rows["bucket"].dt.tz_convert(None)
        for column, colour in PERCENTILE_COLOURS.items():
            fig.add_trace(go.Scatter(x=x, y=rows[column].astype("float64"), name=column.removesuffix("_ms"),
                                     mode="lines", line={"color": colour, "width": 2 if column == "p95_ms" else 1.3},
                                     legendgroup=column, showlegend=row == 1), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=rows["mean_ms"].astype("float64"), name="mean", mode="lines",
                                 line={"color": MEAN_COLOUR, "width": 1, "dash": "dot"}, legendgroup="mean",
                                 showlegend=row == 1), row=row, col=1)
    fig.update_yaxes(type="log", dtick=1, title_text="ms")  # a tick a decade: 1, 10, 100 ms…
    _layout(fig, "ms")
    fig.update_layout(height=140 + 200 * len(busiest), legend={"orientation": "h", "y": 1.0, "yanchor": "bottom",
                                                               "x": 1, "xanchor": "right"})
    fig.update_traces(hovertemplate="%{y:,.1f} ms")
    return fig


def _ms(value: float) -> str:
    return f"{value / 1000:,.3g} s" if value >= 1000 else f"{value:,.3g} ms"


@cached_figure
def duration_histogram(frame: pd.DataFrame, bucket: LogBucket, *, count: str = "requests",
                       markers: Mapping[str, float] | None = None) -> go.Figure:
    """Counts per log bucket (a panel grouped by `bucket`) as equal-width bars on a log-of-duration
    axis labelled in ms, with dashed lines at `markers` (e.g. {"p50": 41.0, "p95": 312.0})."""
    k = frame[bucket.alias].astype("float64").to_numpy()
    low, high = bucket.edges(k)
    label = [f"{_ms(lo)} – {_ms(hi)}" for lo, hi in zip(low, high, strict=True)]
    n = bucket.per_decade
    fig = go.Figure(go.Bar(x=k + 0.5, y=frame[count].astype("float64").to_numpy(), width=1.0, name=count,
                           customdata=label, hovertemplate=f"%{{customdata}}<br>%{{y:,}} {count}<extra></extra>"))
    decades = range(int(k.min()) // n, int(k.max()) // n + 2)
    ticks = [d * n + math.log10(m) * n for d in decades for m in (1, 2, 5)]
    fig.update_xaxes(tickvals=ticks, ticktext=[_ms(10 ** (t / n)) for t in ticks],
                     range=[k.min() - 0.5, k.max() + 1.5], title="duration (log scale)")
    colours = list(PERCENTILE_COLOURS.values())
    for i, (name, value) in enumerate((markers or {}).items()):
        if pd.notna(value) and value > 0:
            fig.add_vline(x=math.log10(value) * n, line={"dash": "dash", "width": 1.5, "color": colours[i % 3]},
                          annotation={"text": f"{name} {_ms(value)}", "yref": "paper", "y": 1 - 0.08 * i,
                                      "yanchor": "top"})
    _layout(fig, count)
    fig.update_layout(bargap=0.05, hovermode="closest", showlegend=False)
    return fig


@cached_figure
def sparkline(x: pd.Series, y: pd.Series, *, hover: str = "%{y:,}", colour: str | None = None,
              log: bool = False) -> go.Figure:
    """A headline number's trend: a small line without axes, the value shown on hover; `log` for
    durations, where one timeout's minute would flatten a week of milliseconds."""
    order = x.argsort(kind="stable").to_numpy()  # the Logs API keeps no order: a line joins points in time
    x, y = x.iloc[order], y.iloc[order]
    fig = go.Figure(go.Scatter(x=x.dt.tz_convert(None), y=y.astype("float64"), mode="lines",
                               fill=None if log else "tozeroy", line={"width": 1.5, "color": colour},
                               hovertemplate=f"%{{x}}<br>{hover}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, type="log" if log else "linear", rangemode="normal" if log else "tozero")
    fig.update_layout(height=70, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False, hovermode="x")
    return fig


_SPAN_KINDS = ("requests", "dependencies")


@cached_figure
def operation_timeline(events: pd.DataFrame) -> go.Figure:
    """One operation as a Gantt chart: a bar per request and dependency from its start for its
    duration, a marker per trace and exception on their own rows; failures in red."""
    spans = events[events["kind"].isin(_SPAN_KINDS)].reset_index(drop=True)
    # Each span gets its own row, numbered so two calls of the same name stay apart.
    rows = [f"{i + 1}. {plotly_text(label)}" for i, label in enumerate(spans["label"])]
    fig = go.Figure()
    if len(spans):
        millis = (spans["end"] - spans["start"]).dt.total_seconds() * 1000
        fig.add_trace(go.Bar(
            y=rows, x=millis.to_numpy(), base=spans["start"].dt.tz_convert(None).astype(str).to_numpy(),
            orientation="h", name="calls", customdata=spans["detail"].map(plotly_text).to_numpy(),
            marker_color=[FAILED_COLOUR if f else OK_COLOUR for f in spans["failed"]],
            hovertemplate="%{y}<br>%{base} + %{x:.1f} ms<br>%{customdata}<extra></extra>",
        ))
    for kind, symbol in (("traces", "circle"), ("exceptions", "x")):
        points = events[events["kind"] == kind]
        if len(points):
            fig.add_trace(go.Scatter(
                x=points["start"].dt.tz_convert(None), y=[kind] * len(points), mode="markers", name=kind,
                marker={"symbol": symbol, "size": 10, "color": FAILED_COLOUR if kind == "exceptions" else None},
                customdata=(points["label"] + " · " + points["detail"]).map(plotly_text).to_numpy(),
                hovertemplate="%{x}<br>%{customdata}<extra></extra>",
            ))
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed", categoryorder="array",
                     categoryarray=[*rows, "traces", "exceptions"])
    _layout(fig, "")
    fig.update_layout(height=max(220, 28 * (len(rows) + 2) + 80), hovermode="closest", showlegend=False)
    return fig
