"""The telemetry source the app reads, chosen once per server and shared by every session."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from telemetry.cache import CachedSource
from telemetry.model import Query, RenderContext
from telemetry.results import Outcome
from telemetry.sources.local import LocalSource
from telemetry.store import DEFAULT_STORE


def store_path() -> Path:
    return Path(os.environ.get("ENDPOINT_MONITOR_STORE", str(DEFAULT_STORE)))


@st.cache_resource(show_spinner=False)
def _local_source(path: str) -> CachedSource:
    return CachedSource(LocalSource(path, label="local demo data"))


def current_source() -> CachedSource:
    return _local_source(str(store_path()))


def run_panels(queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]:
    """A page's panels as one batch; answers come from the shared cache when still fresh."""
    with st.spinner("Querying telemetry…"):
        return current_source().run(queries, ctx)
