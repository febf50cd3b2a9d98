"""Endpoint Monitor: request rate, latency, failures, dependencies, exceptions and traces of
model endpoints, from Application Insights or the local demo store.

    streamlit run app.py
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components.auth import account_sidebar, require_sign_in
from components.connect import chosen_settings, connect_sidebar
from components.filters import filter_sidebar, read_filters, view_sidebar
from components.import_form import store_sidebar
from components.navigation import nav_links, st_pages
from components.source import ask_sidebar_services, current_source, sidebar_services, store_path
from components.view import focused_panel, is_embedded
from telemetry.model import RenderContext
from telemetry.results import QueryResult

# The icon is served by the app itself: a :material/…: page icon makes every browser fetch it
# from Google's font CDN on each load.
st.set_page_config(page_title="Endpoint Monitor", page_icon=str(Path(__file__).with_name("components") / "favicon.png"),
                   layout="wide")

page = st.navigation(st_pages(), position="hidden")
require_sign_in()
filters, warnings = read_filters()
source = current_source()
notices = st.container()  # above the page: what went wrong outside its panels

# Embeds and single panels take their filters from the URL alone: no sidebar to draw.
with_sidebar = not (is_embedded() or focused_panel())
if with_sidebar:
    st.sidebar.title("Endpoint Monitor")
    connect_sidebar(source.label)
    if chosen_settings() is None:
        store_sidebar(store_path())
    filters, services_picker = filter_sidebar(filters)
    st.sidebar.divider()
    nav_links(filters)
    st.sidebar.divider()
    view_sidebar()
    account_sidebar()
    ask_sidebar_services()  # the services list comes with the page's batch: one request per page view

for warning in warnings:
    notices.warning(warning, icon=":material/link_off:")

page.run()

if with_sidebar:
    services_outcome = sidebar_services(RenderContext.of(filters))
    if isinstance(services_outcome, QueryResult):
        services_picker(list(services_outcome.frame["service"]))
    else:
        services_picker([])
        notices.error(f"The telemetry source is not answering: {services_outcome}", icon=":material/cloud_off:")
