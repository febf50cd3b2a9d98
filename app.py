"""Endpoint Monitor: request rate, latency, failures, dependencies, exceptions and traces of
model endpoints, from Application Insights or the local demo store.

    streamlit run app.py
"""

from __future__ import annotations

import streamlit as st

from components.filters import filter_sidebar, read_filters
from components.navigation import nav_links, st_pages
from components.source import current_source, run_panels
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.results import QueryResult

st.set_page_config(page_title="Endpoint Monitor", page_icon=":material/monitoring:", layout="wide")

page = st.navigation(st_pages(), position="hidden")
filters, warnings = read_filters()

st.sidebar.title("Endpoint Monitor")
source = current_source()
st.sidebar.caption(f"Source: **{source.label}**")

services_outcome = run_panels([panel("services")], RenderContext.of(filters))[0]
services = list(services_outcome.frame["service"]) if isinstance(services_outcome, QueryResult) else []
filters = filter_sidebar(filters, services)
st.sidebar.divider()
nav_links(filters)

for warning in warnings:
    st.warning(warning, icon=":material/link_off:")
if not isinstance(services_outcome, QueryResult):
    st.error(f"The telemetry source is not answering: {services_outcome}", icon=":material/cloud_off:")

page.run()
