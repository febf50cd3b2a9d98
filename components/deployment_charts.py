"""Plotly figures of an online endpoint's deployments: series per deployment over time, with the
containers' life-cycle events drawn on them, so a restart is seen where it hurts.

Deployments named blue and green (the usual names of a blue/green rollout) get those colours;
others take the theme's.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from components.charts import FAILED_COLOUR, plotly_text

__all__ = ["event_clusters", "mark_events", "per_deployment_chart"]

_NAMED = {"blue": "#1f77b4", "green": "#2ca02c"}
_ROUTINE_COLOUR = "#8c8c8c"
_CLUSTER_GAP = pd.Timedelta(minutes=15)


def _colour(deployment: str) -> str | None:
    return _NAMED.get(deployment.lower())


def _layout(fig: go.Figure, y_title: str) -> go.Figure:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10}, height=340, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.2}, yaxis_title=y_title, xaxis_title=None)
    return fig


def per_deployment_chart(frame: pd.DataFrame, value: str, *, y_title: str, kind: str = "line",
                         dash: str | None = None, figure: go.Figure | None = None, suffix: str = "") -> go.Figure:
    """One trace per deployment of `value` over the bins: stacked bars for counts, lines else.
    Pass `figure` to add another measure's lines to it (e.g. p99 dashed beside p95)."""
    fig = figure or go.Figure()
    for deployment, rows in frame.groupby("deployment", sort=True):
        name = plotly_text(f"{deployment}{suffix}")  # a deployment name is telemetry
        x, y = rows["bucket"].dt.tz_convert(None), rows[value].astype("float64")
        if kind == "bar":
            fig.add_trace(go.Bar(x=x, y=y, name=name, marker_color=_colour(str(deployment))))
        else:
            fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines",
                                     line={"color": _colour(str(deployment)), "dash": dash, "width": 1.5}))
    if kind == "bar":
        fig.update_layout(barmode="stack", bargap=0.05)
    return _layout(fig, y_title)


def event_clusters(events: pd.DataFrame, trouble: frozenset[str]) -> pd.DataFrame:
    """Container events grouped per instance into bursts (events less than 15 min apart): one row
    a burst with its start, instance, deployment, whether any event in it is trouble, and what
    happened ("LivenessProbeFailed ×3, Killing, BackOff ×6, …")."""
    if events.empty:
        return pd.DataFrame(columns=["start", "instance", "deployment", "trouble", "what"])
    rows = events.sort_values(["instance", "timestamp"])
    burst = (rows.groupby("instance")["timestamp"].diff() > _CLUSTER_GAP).groupby(rows["instance"]).cumsum()
    found = []
    for (instance, _), group in rows.groupby([rows["instance"], burst], sort=False):
        names = group["name"].astype(str)
        runs = names.groupby((names != names.shift()).cumsum()).agg(["first", "size"])
        what = ", ".join(f"{n} ×{k}" if k > 1 else str(n) for n, k in zip(runs["first"], runs["size"], strict=True))
        found.append({"start": group["timestamp"].min(), "instance": str(instance),
                      "deployment": str(group["deployment"].iloc[0]), "trouble": bool(names.isin(trouble).any()),
                      "what": what})
    return pd.DataFrame(found).sort_values("start", ignore_index=True)


def mark_events(fig: go.Figure, clusters: pd.DataFrame, *, y: float) -> go.Figure:
    """A dotted line at each burst of container events (red for trouble, grey for routine starts),
    and a marker at height `y` whose hover says what happened on which instance."""
    if clusters.empty:
        return fig
    for row in clusters.itertuples():
        fig.add_vline(x=row.start.tz_convert(None), line={"dash": "dot", "width": 1.2,
                                                          "color": FAILED_COLOUR if row.trouble else _ROUTINE_COLOUR})
    fig.add_trace(go.Scatter(
        x=clusters["start"].dt.tz_convert(None), y=[y] * len(clusters), mode="markers", name="container events",
        marker={"symbol": "triangle-down", "size": 11,
                "color": [FAILED_COLOUR if t else _ROUTINE_COLOUR for t in clusters["trouble"]]},
        # Instance names and event names are telemetry: escaped, so Plotly's hover markup cannot style or link.
        customdata=[html.escape(f"{d} · {i}") + "<br>" + html.escape(w)
                    for d, i, w in zip(clusters["deployment"], clusters["instance"], clusters["what"], strict=True)],
        hovertemplate="%{customdata}<extra></extra>",
    ))
    return fig


# p50 dotted, p95 solid; p99 (timeouts' 5 s beside tens of ms) would hide them: it is in the tables.
PERCENTILE_DASH = {"total_p50_ms": "dot", "total_p95_ms": None}
