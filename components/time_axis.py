"""Time charts span the window asked for: a service that went silent shows as silence at the end
of the axis, not as a shorter axis that reads as "all fine until now"."""

from __future__ import annotations

from datetime import UTC

import plotly.graph_objects as go

from telemetry.filters import Window

__all__ = ["span"]


def span(figure: go.Figure, window: Window) -> go.Figure:
    """Fix every x axis of `figure` (bins drawn as naive UTC times) to [window.start, window.end)."""
    start = window.start.astimezone(UTC).replace(tzinfo=None)
    end = window.end.astimezone(UTC).replace(tzinfo=None)
    return figure.update_xaxes(range=[start, end], autorange=False)
