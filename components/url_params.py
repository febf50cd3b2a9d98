"""Widgets that mirror a page's own URL parameter (a search text, a page number, a chosen group).

The URL is the view: a widget starts from the parameter's value, writes it back when the user
changes it, and is reset when the URL changes under it (a link with another value).
"""

from __future__ import annotations

from collections.abc import Hashable

import streamlit as st

__all__ = ["choose_in_url", "set_params", "synced_key"]


def synced_key(param: str, url_value: Hashable) -> str:
    """The session key for a widget showing `param`, holding `url_value` unless the user changed it."""
    key, mark = f"u.{param}", f"u.{param}.synced"
    if key not in st.session_state or st.session_state.get(mark) != url_value:
        st.session_state[key] = url_value
        st.session_state[mark] = url_value
    return key


def set_params(**values: str | None) -> None:
    """Write page parameters to the URL; None or "" removes one. Other parameters are kept."""
    for param, value in values.items():
        if value is None or value == "":
            if param in st.query_params:
                del st.query_params[param]
        else:
            st.query_params[param] = value


def choose_in_url(param: str, label: str, options: list[str], chosen: str | None, *, placeholder: str) -> None:
    """A selectbox of `options` that writes the choice to `param`. A value from a link that is not
    among them (none in this range) is still offered, so the link opens what it names."""
    choices = ["", *options]
    if chosen and chosen not in choices:
        choices.append(chosen)
    key = synced_key(param, chosen or "")
    st.selectbox(label, choices, key=key, format_func=lambda value: value or placeholder,
                 on_change=lambda: set_params(**{param: st.session_state[key]}))
