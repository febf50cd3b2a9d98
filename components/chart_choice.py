"""Charts whose series a click chooses: a service, an operation or a dependency picked on a chart
goes into the URL, so it carries into every page (the sidebar's links keep the URL's filters).

A page's panels run in a fragment, and a widget in a fragment re-runs only the fragment. A choice
changes the filters the sidebar and the whole page read, so after one the app re-runs whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from components.charts import raw_text
from components.filters import current_filters, url_params, write_url

__all__ = ["choosable_chart", "narrow_to_series"]

_PENDING = "chart_choice.pending"


def choosable_chart(figure: go.Figure, *, key: str, choose: Callable[[str], None]) -> None:
    """Draw `figure`; a click on a bar or point calls `choose` with its series' name."""
    if st.session_state.pop(_PENDING, False):
        st.rerun(scope="app")
    # A new view gets a new chart: the last click's highlight must not outlive the choice it made.
    view = hashlib.sha1(repr(sorted(url_params().items())).encode()).hexdigest()[:12]
    widget = f"{key}.{view}"

    def chosen() -> None:
        points = st.session_state[widget].selection.points
        if points and "curve_number" in points[0]:
            choose(raw_text(str(figure.data[points[0]["curve_number"]].name)))
            st.session_state[_PENDING] = True

    st.plotly_chart(figure, key=widget, on_select=chosen, selection_mode="points")


def narrow_to_series(series: str) -> None:
    """Narrow the filters to one series of a chart split by service or operation."""
    filters = current_filters()
    if filters.split == "service":
        write_url(filters.with_changes(services=(series,)))
    else:
        write_url(filters.with_changes(operation=series))
