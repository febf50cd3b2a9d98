"""Plotly figures of the Model page: a feature's two distributions, and a drift metric over time
beside the calls it was computed from. Labels from the telemetry (categories, feature names) are
attacker-controlled: they go through `plotly_text`, as every chart's do."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts import plotly_text as label

__all__ = ["distribution_overlay", "drift_over_time"]


def distribution_overlay(hist: pd.DataFrame, feature: str) -> go.Figure:
    """Reference and current shares of one feature, side by side per bin or category."""
    numeric = hist["category"].isna().all()
    if numeric:
        x = ((hist["low"] + hist["high"]) / 2).astype("float64")
        width = (hist["high"] - hist["low"]).astype("float64") * 0.45
        ticks = [f"{lo:.4g}–{hi:.4g}" for lo, hi in zip(hist["low"], hist["high"], strict=True)]
    else:
        x = pd.Series([label(c) for c in hist["category"].fillna("")])
        width = None
        ticks = list(x)
    fig = go.Figure()
    for side, offset in (("reference", -1), ("current", 1)):
        shares = hist[f"{side}_share"].astype("float64")
        bar = go.Bar(x=x + offset * width / 2 if numeric else x, y=shares, name=side, width=width,
                     customdata=ticks, hovertemplate="%{customdata}: %{y:.1%}<extra>" + side + "</extra>")
        fig.add_trace(bar)
    fig.update_layout(barmode="overlay" if numeric else "group", bargap=0.1, height=320,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.2},
                      yaxis_title="share of calls (itemCount)", xaxis_title=label(feature), yaxis_tickformat=".0%")
    return fig


def drift_over_time(series: pd.DataFrame, *, metric: str, threshold: float, title: str) -> go.Figure:
    """Calls per bucket as bars and the drift metric as a line over the same time axis, with the
    metric's threshold dashed; buckets without calls leave the line open."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = series["bucket"].dt.tz_convert(None)
    fig.add_trace(go.Bar(x=x, y=series["calls"].astype("float64"), name="logged calls (itemCount)", opacity=0.35),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=series["value"].astype("float64"), name=label(f"{title}: {metric}"),
                             mode="lines+markers"), secondary_y=True)
    fig.add_hline(y=threshold, line_dash="dash", secondary_y=True, annotation_text=f"threshold {threshold:g}")
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, bargap=0.05,
                      legend={"orientation": "h", "y": -0.2}, hovermode="x unified")
    fig.update_yaxes(title_text="calls", secondary_y=False)
    fig.update_yaxes(title_text=metric.replace("_", " "), secondary_y=True, rangemode="tozero")
    return fig
