"""Charts whose series a click chooses: a service, an operation or a dependency picked on a chart
goes into the URL, so it carries into every page (the sidebar's links keep the URL's filters).

A page's panels run in a fragment, and a widget in a fragment re-runs only the fragment. A choice
changes the filters the sidebar and the whole page read, so after one the app re-runs whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

import pandas as pd

import plotly.graph_objects as go
import streamlit as st

from components.charts import raw_text
from components.filters import current_filters, url_params, write_url, zoom_to
from components.time_axis import span
from telemetry.filters import Window

__all__ = ["choosable_chart", "narrow_to_series", "time_chart"]

_PENDING = "chart_choice.pending"


def choosable_chart(figure: go.Figure, *, key: str, choose: Callable[[str], None] | None = None,
                    window: Window | None = None) -> None:
    """Draw `figure`; a click on a bar or point calls `choose` with its series' name. A time chart
    (`window`: the range it spans) also takes a drag across it: the whole dashboard's new range; on
    a chart that also chooses, after picking the modebar's box select (the drag pans by default)."""
    if st.session_state.pop(_PENDING, False):
        st.rerun(scope="app")
    # A new view gets a new chart: the last click's highlight must not outlive the choice it made.
    view = hashlib.sha1(repr(sorted(url_params().items())).encode()).hexdigest()[:12]
    widget = f"{key}.{view}"

    def chosen() -> None:
        selection = st.session_state[widget].selection
        boxes, points = selection.get("box") or [], selection.get("points") or []
        if window is not None and boxes and len(boxes[0].get("x") or []) == 2:
            low, high = sorted(pd.Timestamp(x).tz_localize("UTC").to_pydatetime() for x in boxes[0]["x"])
            zoom_to(max(low, window.start), min(high, window.end))
            st.session_state[_PENDING] = True
        elif choose is not None and points and "curve_number" in points[0]:
            choose(raw_text(str(figure.data[points[0]["curve_number"]].name)))
            st.session_state[_PENDING] = True

    modes: list[Literal["points", "box"]] = ["points"] if choose is not None else []
    if window is not None:
        span(figure, window).update_layout(selectdirection="h")
        if choose is None:
            # Streamlit turns a click into a plain event (no selection) while dragging selects: a
            # chart whose click chooses keeps the click, its drag-select sits in the modebar.
            figure.update_layout(dragmode="select")
        modes.append("box")
    st.plotly_chart(figure, key=widget, on_select=chosen, selection_mode=modes)


def time_chart(figure: go.Figure, *, key: str, window: Window) -> None:
    """A chart over time: it spans `window`, and a drag across it narrows the dashboard's range."""
    choosable_chart(figure, key=key, window=window)


def narrow_to_series(series: str) -> None:
    """Narrow the filters to one series of a chart split by service or operation."""
    filters = current_filters()
    if filters.split == "service":
        write_url(filters.with_changes(services=(series,)))
    else:
        write_url(filters.with_changes(operation=series))
