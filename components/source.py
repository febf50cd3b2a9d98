"""The telemetry source the app reads, shared by every session that reads the same data.

The source is the Azure Monitor Logs API when one is configured or picked in the sidebar
(components/connect.py), else the local store (the demo, or imported exports). Either way it sits
behind one CachedSource per data, kept by st.cache_resource: sessions share its answers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import streamlit as st

from components.connect import chosen_settings, https_enforced
from components.import_form import chosen_store
from telemetry.cache import CachedSource
from telemetry.config import LogsApiSettings
from telemetry.model import Query, RenderContext
from telemetry.queries import panel
from telemetry.results import Outcome
from telemetry.sources.local import LocalSource
from telemetry.store import DEFAULT_STORE

# The sidebar's list of services rides in the page's batch: app.py asks for it before the page
# runs, the page's first run_panels adds it to its queries, and app.py takes the answer after.
_SIDEBAR_SERVICES: Final = "source.sidebar_services"
_WANTED: Final = "wanted"


def store_path() -> Path:
    return Path(os.environ.get("ENDPOINT_MONITOR_STORE", str(DEFAULT_STORE)))


@st.cache_resource(show_spinner=False)
def _local_source(path: str, label: str = "local demo data") -> CachedSource:
    return CachedSource(LocalSource(path, label=label))


@st.cache_resource(show_spinner=False, max_entries=16)
def _logs_api_source(settings: LogsApiSettings) -> CachedSource:
    from telemetry.sources.logs_api import LogsApiSource  # azure-monitor-query: imported when first used

    return CachedSource(LogsApiSource(settings, enforce_https=https_enforced(settings)))


def current_source() -> CachedSource:
    settings = chosen_settings()
    if settings is not None:
        return _logs_api_source(settings)
    store = chosen_store(store_path())  # the demo store, or imported exports picked in the sidebar
    return _local_source(str(store.path), store.label)


def reads_endpoint_logs() -> bool:
    """Whether the source can hold Azure ML online endpoint logs: the local store and a workspace
    can; a classic Application Insights resource cannot (telemetry.endpoint_logs)."""
    settings = chosen_settings()
    return settings is None or settings.schema_name != "classic"


def services_query() -> Query:
    return panel("services")


def ask_sidebar_services() -> None:
    """Have the page's next batch bring the sidebar's services too."""
    st.session_state[_SIDEBAR_SERVICES] = _WANTED


def sidebar_services(ctx: RenderContext) -> Outcome:
    """The services the page's batch brought; asked alone when the page ran no batch."""
    found = st.session_state.pop(_SIDEBAR_SERVICES, None)
    if found is None or found == _WANTED:
        return current_source().run([services_query()], ctx)[0]
    return found


def run_panels(queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]:
    """A page's panels as one batch; answers come from the shared cache when still fresh."""
    asked = list(queries)
    wanted = st.session_state.get(_SIDEBAR_SERVICES) == _WANTED
    if wanted and services_query() not in asked:
        asked.append(services_query())
    with st.spinner("Querying telemetry…"):
        outcomes = current_source().run(asked, ctx)
    if wanted:
        st.session_state[_SIDEBAR_SERVICES] = outcomes[asked.index(services_query())]
    return outcomes[: len(queries)]
