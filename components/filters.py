"""The shared sidebar: time range, services, operation, result code, grain, split.

The URL is the view: filters are read from it on every run and written back when a widget
changes, so a copied link reopens the same view. Widgets keep their own state between pages;
when the URL changes under them (a link with other filters) they are reset from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from telemetry.filters import GRAINS, PRESETS, Filters, TimeRange, from_query_params, to_query_params

_SYNCED = "filters.synced"
_KEYS = ("f.range", "f.services", "f.operation", "f.code", "f.grain", "f.split")

# Parameters a page owns (a chosen exception group, an operation id) survive filter changes.
PAGE_PARAMS: tuple[str, ...] = ("panel", "problem", "op", "q", "dependency", "severity", "pg")


def url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def read_filters() -> tuple[Filters, list[str]]:
    return from_query_params(url_params())


def _reset_widgets(filters: Filters) -> None:
    st.session_state["f.range"] = filters.time.preset or "custom"
    st.session_state["f.services"] = list(filters.services)
    st.session_state["f.operation"] = filters.operation or ""
    st.session_state["f.code"] = filters.result_code or ""
    st.session_state["f.grain"] = filters.grain or "auto"
    st.session_state["f.split"] = filters.split
    st.session_state[_SYNCED] = filters


def filter_sidebar(filters: Filters, services: Sequence[str]) -> Filters:
    """Draw the filter widgets; return the filters they now say, with the URL updated to match."""
    if st.session_state.get(_SYNCED) != filters or any(k not in st.session_state for k in _KEYS):
        _reset_widgets(filters)
    ranges = [*PRESETS, *([] if filters.time.is_relative else ["custom"])]
    sb = st.sidebar
    preset = sb.selectbox(
        "Time range", ranges, key="f.range",
        format_func=lambda p: f"Last {p}" if p in PRESETS else f"Custom: {filters.time.label()}",
    )
    options = sorted(set(services) | set(st.session_state["f.services"]))
    chosen = sb.multiselect("Services", options, key="f.services", placeholder="All services")
    operation = sb.text_input("Operation", key="f.operation", placeholder="e.g. POST /score")
    code = sb.text_input("Result code", key="f.code", placeholder="e.g. 500")
    grain = sb.selectbox("Grain", ["auto", *GRAINS], key="f.grain")
    split = sb.radio("Split charts by", ["service", "operation"], key="f.split", horizontal=True)

    time = filters.time if preset == "custom" else TimeRange(preset=preset)
    chosen_filters, warnings = from_query_params(
        to_query_params(
            Filters(time, tuple(chosen), operation.strip() or None, code.strip() or None,
                    None if grain == "auto" else grain, split)  # type: ignore[arg-type]
        )
    )
    for warning in warnings:
        sb.warning(warning)
    if chosen_filters != filters:
        write_url(chosen_filters)
        st.session_state[_SYNCED] = chosen_filters
    return chosen_filters


def write_url(filters: Filters, **page_params: str | None) -> None:
    """Make the URL say `filters`, keeping the page's own parameters (or setting new ones)."""
    kept = {k: v for k, v in url_params().items() if k in PAGE_PARAMS}
    for key, value in page_params.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = [value]
    st.query_params.from_dict({**to_query_params(filters), **kept})


def link_params(filters: Filters, **page_params: str) -> dict[str, str | list[str]]:
    """Query parameters for a link to another page with the same filters (and page params)."""
    return {**to_query_params(filters), **page_params}


def current_filters() -> Filters:
    """The filters a page renders for: the URL, as the sidebar just left it."""
    return read_filters()[0]
