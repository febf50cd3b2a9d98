"""Who may see the data: optional Microsoft Entra sign-in through Streamlit's own st.login.

Sign-in is on when `.streamlit/secrets.toml` has an `[auth]` section (see
secrets.toml.example and the README's "Sign-in"). Without it the app says, in the sidebar,
that anyone who can reach the URL sees the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from telemetry.markdown_text import plain


def _auth_section() -> Mapping[str, Any]:
    try:
        return st.secrets.get("auth") or {}
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def _provider(section: Mapping[str, Any]) -> str | None:
    """The named provider under [auth] (e.g. [auth.microsoft]), or None for the default one."""
    named = [key for key, value in section.items() if isinstance(value, Mapping) and "client_id" in value]
    return named[0] if named and "client_id" not in section else None


def sign_in_configured() -> bool:
    section = _auth_section()
    return bool(section) and ("client_id" in section or _provider(section) is not None)


def require_sign_in() -> None:
    """Stop the run at a sign-in screen unless the viewer is signed in (when sign-in is on)."""
    if not sign_in_configured():
        return
    if not st.user.get("is_logged_in", False):
        st.title("Endpoint Monitor")
        st.write("Sign in with your organisation's Microsoft account to see the telemetry.")
        provider = _provider(_auth_section())
        st.button("Sign in with Microsoft", icon=":material/login:", type="primary",
                  on_click=st.login, args=(provider,) if provider else ())
        st.stop()


def account_sidebar() -> None:
    """Who is signed in, or the warning that the data is open to anyone with the URL."""
    if not sign_in_configured():
        st.sidebar.caption(
            ":material/lock_open: No sign-in configured: anyone who can reach this URL sees the "
            "telemetry. See the README's *Sign-in* to require Microsoft Entra accounts."
        )
        return
    st.sidebar.caption(f"Signed in as {plain(st.user.get('name') or st.user.get('email'))}")
    st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:")
