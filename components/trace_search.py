"""The trace explorer's search form and pager, each widget mirroring its URL parameter."""

from __future__ import annotations

import streamlit as st

from components.url_params import set_params, synced_key
from telemetry.queries.traces import MAX_PAGE, PAGE_SIZE, SEVERITIES, TraceSearch

__all__ = ["MATCH_HELP", "pager", "search_form"]

MATCH_HELP = (
    "**contains**: the text occurs anywhere, ignoring case (KQL `contains`).  \n"
    "**has**: the text occurs as whole terms, ignoring case (KQL `has`). A term is a run of ASCII letters "
    "and digits, so `has timeout` finds \"Read timeout=2.0\" but not \"timeouts\"; `has_hello` style "
    "underscores separate terms. Text is looked for in the message, in customDimensions as JSON text and "
    "in the printed text (customDimensions.Contents)."
)


def _text_param(param: str, value: str | None, label: str, **kwargs: object) -> None:
    key = synced_key(param, value or "")
    st.text_input(label, key=key, on_change=lambda: set_params(**{param: st.session_state[key].strip(), "pg": None}),
                  **kwargs)


def search_form(search: TraceSearch) -> None:
    text, match, severity, op = st.columns([4, 2, 2, 3])
    with text:
        _text_param("q", search.text, "Text", placeholder="e.g. ValueError, 0794c58b, \"label\": \"cat\"")
    with match:
        key = synced_key("match", search.match)
        st.radio("Match", ["contains", "has"], key=key, horizontal=True, help=MATCH_HELP,
                 on_change=lambda: set_params(match=None if st.session_state[key] == "contains" else "has", pg=None))
    with severity:
        # -1 stands for "any": a selectbox shows None as no choice at all
        key = synced_key("severity", -1 if search.min_severity is None else search.min_severity)
        st.selectbox("Minimum severity", [-1, *SEVERITIES], key=key,
                     format_func=lambda s: "any" if s < 0 else f"{SEVERITIES[s]} ({s})",
                     on_change=lambda: set_params(severity=None if st.session_state[key] < 0
                                                  else str(st.session_state[key]), pg=None))
    with op:
        _text_param("op", search.operation_id, "Operation id", placeholder="paste an operation_Id",
                    help="Also shows that operation end to end: its request, dependencies, traces and exceptions.")


def pager(page: int, rows_on_page: int) -> None:
    """Newer / older buttons; a full page may have more after it, a short one is the last."""
    first = (page - 1) * PAGE_SIZE + 1
    left, middle, right = st.columns([1, 3, 1])
    left.button("Newer", icon=":material/chevron_left:", disabled=page <= 1, key="traces.newer",
                on_click=lambda: set_params(pg=None if page <= 2 else str(page - 1)))
    middle.caption(f"Page {page} · rows {first:,}–{first + rows_on_page - 1:,}, newest first, "
                   f"{PAGE_SIZE} a page" if rows_on_page else f"Page {page} · no rows")
    right.button("Older", icon=":material/chevron_right:", key="traces.older",
                 disabled=rows_on_page < PAGE_SIZE or page >= MAX_PAGE,
                 on_click=lambda: set_params(pg=str(page + 1)))
