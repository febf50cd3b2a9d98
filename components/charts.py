"""Plotly figure builders: pure functions from a panel's frame to a figure (testable alone).

Colours are left to Streamlit's theme (st.plotly_chart's default), so charts follow light and
dark; only succeeded/failed get fixed colours, because green and red carry meaning.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

__all__ = ["operation_timeline", "outcome_bars", "ranking_bars", "series_chart"]

OK_COLOUR = "#2ca02c"
FAILED_COLOUR = "#d62728"


def _layout(fig: go.Figure, y_title: str) -> go.Figure:
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=320,
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
        yaxis_title=y_title,
        xaxis_title=None,
    )
    return fig


def series_chart(frame: pd.DataFrame, value: str, *, y_title: str, kind: str = "bar") -> go.Figure:
    """One trace per series over the time bins: stacked bars for counts, lines for rates."""
    fig = go.Figure()
    for series, rows in frame.groupby("series", sort=True):
        x = rows["bucket"].dt.tz_convert(None)
        y = rows[value].astype("float64")
        if kind == "bar":
            fig.add_trace(go.Bar(x=x, y=y, name=str(series)))
        else:
            fig.add_trace(go.Scatter(x=x, y=y, name=str(series), mode="lines"))
    if kind == "bar":
        fig.update_layout(barmode="stack", bargap=0.05)
    return _layout(fig, y_title)


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


def ranking_bars(labels: pd.Series, values: pd.Series, *, x_title: str, text: pd.Series,
                 colour: str | None = None, log: bool = False) -> go.Figure:
    """Horizontal bars, the largest on top, each with its value written beside it: the few worst of
    something (slowest, most failing). `log` for values spanning decades (seconds beside milliseconds)."""
    fig = go.Figure(go.Bar(y=labels.astype(str).to_numpy(), x=values.astype("float64").to_numpy(), orientation="h",
                           marker_color=colour, text=text.astype(str).to_numpy(), textposition="auto",
                           hovertemplate="%{y}<br>%{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=x_title, type="log" if log else "linear")
    _layout(fig, "")
    fig.update_layout(height=max(160, 36 * len(labels) + 90), hovermode="closest", showlegend=False)
    return fig


_SPAN_KINDS = ("requests", "dependencies")


def operation_timeline(events: pd.DataFrame) -> go.Figure:
    """One operation as a Gantt chart: a bar per request and dependency from its start for its
    duration, a marker per trace and exception on their own rows; failures in red."""
    spans = events[events["kind"].isin(_SPAN_KINDS)].reset_index(drop=True)
    # Each span gets its own row, numbered so two calls of the same name stay apart.
    rows = [f"{i + 1}. {label}" for i, label in enumerate(spans["label"])]
    fig = go.Figure()
    if len(spans):
        millis = (spans["end"] - spans["start"]).dt.total_seconds() * 1000
        fig.add_trace(go.Bar(
            y=rows, x=millis.to_numpy(), base=spans["start"].dt.tz_convert(None).astype(str).to_numpy(),
            orientation="h", name="calls", customdata=spans["detail"].to_numpy(),
            marker_color=[FAILED_COLOUR if f else OK_COLOUR for f in spans["failed"]],
            hovertemplate="%{y}<br>%{base} + %{x:.1f} ms<br>%{customdata}<extra></extra>",
        ))
    for kind, symbol in (("traces", "circle"), ("exceptions", "x")):
        points = events[events["kind"] == kind]
        if len(points):
            fig.add_trace(go.Scatter(
                x=points["start"].dt.tz_convert(None), y=[kind] * len(points), mode="markers", name=kind,
                marker={"symbol": symbol, "size": 10, "color": FAILED_COLOUR if kind == "exceptions" else None},
                customdata=(points["label"] + " · " + points["detail"]).to_numpy(),
                hovertemplate="%{x}<br>%{customdata}<extra></extra>",
            ))
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed", categoryorder="array",
                     categoryarray=[*rows, "traces", "exceptions"])
    _layout(fig, "")
    fig.update_layout(height=max(220, 28 * (len(rows) + 2) + 80), hovermode="closest", showlegend=False)
    return fig
