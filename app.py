"""Endpoint Monitor: request rate, latency, failures, dependencies, exceptions and traces of
model endpoints, from Application Insights or the local demo store.

    streamlit run app.py
"""

from __future__ import annotations

import streamlit as st

from components.auth import account_sidebar, require_sign_in
from components.filters import filter_sidebar, read_filters, view_sidebar
from components.navigation import nav_links, st_pages
from components.source import current_source, run_panels
from components.view import focused_panel, is_embedded
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.results import QueryResult

st.set_page_config(page_title="Endpoint Monitor", page_icon=":material/monitoring:", layout="wide")

page = st.navigation(st_pages(), position="hidden")
require_sign_in()
filters, warnings = read_filters()
source = current_source()

# Embeds and single panels take their filters from the URL alone: no sidebar to draw.
if not (is_embedded() or focused_panel()):
    st.sidebar.title("Endpoint Monitor")
    st.sidebar.caption(f"Source: **{source.label}**")
    services_outcome = run_panels([panel("services")], RenderContext.of(filters))[0]
    if isinstance(services_outcome, QueryResult):
        services = list(services_outcome.frame["service"])
    else:
        services = []
        st.error(f"The telemetry source is not answering: {services_outcome}", icon=":material/cloud_off:")
    filters = filter_sidebar(filters, services)
    st.sidebar.divider()
    nav_links(filters)
    st.sidebar.divider()
    view_sidebar()
    account_sidebar()

for warning in warnings:
    st.warning(warning, icon=":material/link_off:")

page.run()
