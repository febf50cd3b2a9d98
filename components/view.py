"""How the page is being viewed: whole, embedded in a wiki, or one panel alone.

`?embed=true` is Streamlit's own embed mode (no sidebar, no toolbar; filters come from the
URL); `?panel=<id>` shows one panel alone, sized for an iframe. `?refresh=30s` re-runs the
page's panels on a timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from components.telemetry_rows import plain
from telemetry.results import Outcome, QueryResult

REFRESH_CHOICES: Final[dict[str, int | None]] = {"off": None, "10s": 10, "30s": 30, "1m": 60, "5m": 300}


def focused_panel() -> str | None:
    value = st.query_params.get("panel")
    return value.strip() if value and value.strip() else None


def is_embedded() -> bool:
    return bool(st.context.is_embedded) or st.query_params.get("embed", "").lower() == "true"


_SEEN = "view.panel_ids"  # the panels this run of the page offered, for a `?panel=` that matched none

# Which page holds a panel, by its id's first part (the query module that defines it).
_PAGE_OF_PANEL: Final = {"overview": "Overview", "requests": "Request rate", "latency": "Latency",
                         "failures": "Failure rate", "dependencies": "Dependencies", "exceptions": "Exceptions",
                         "traces": "Trace explorer", "operation": "Trace explorer", "payloads": "Trace explorer"}


def shows(panel_id: str) -> bool:
    """Whether a panel is drawn in this view (all of them, unless one was asked for alone)."""
    st.session_state.setdefault(_SEEN, []).append(panel_id)
    focus = focused_panel()
    return focus is None or focus == panel_id


def _no_such_panel(focus: str, offered: Sequence[str]) -> None:
    """Say that `?panel=` names no panel of this page, where it lives if elsewhere, and the valid ids."""
    here = ", ".join(f"`{p}`" for p in dict.fromkeys(offered)) or "none in this view"
    page = _PAGE_OF_PANEL.get(focus.split(".", 1)[0])
    name = plain(focus[:80])  # from the URL: shown as text
    where = f"Panel {name} is on the {page} page, not this one." if page else f"There is no panel {name} on this page."
    st.warning(f"{where} Panels on this page: {here}.", icon=":material/link_off:")


def page_heading(title: str, caption: str | None = None) -> None:
    """The page's title, left out when one panel is shown alone; in an embed a line of it with
    the link to the full view instead (a wiki's iframe has no room for a big title)."""
    if is_embedded():
        st.markdown(f"**{title}** · {caption or ''} · [Open the full view ↗]({full_view_url()})")
        return
    if focused_panel() is not None:
        return
    st.title(title)
    if caption:
        st.caption(caption)


def full_view_url() -> str:
    """This view's URL without the embed and one-panel parameters: the page whole, with its sidebar."""
    base = urlsplit(st.context.url or "http://127.0.0.1:8501/")
    params = [(key, value) for key in st.query_params if key not in ("embed", "embed_options", "panel")
              for value in st.query_params.get_all(key)]
    return urlunsplit((base.scheme, base.netloc, base.path, urlencode(params), ""))


def refresh_seconds() -> int | None:
    return REFRESH_CHOICES.get(st.query_params.get("refresh", "off"), None)


def shareable_url(**extra: str) -> str:
    """This view's URL, with every parameter (and `extra` ones), for pasting into chat or a wiki."""
    base = urlsplit(st.context.url or "http://127.0.0.1:8501/")
    params = [(key, value) for key in st.query_params if key not in extra for value in st.query_params.get_all(key)]
    return urlunsplit((base.scheme, base.netloc, base.path, urlencode([*params, *extra.items()]), ""))


def live(render: Callable[[], Sequence[Outcome] | None]) -> None:
    """Draw a page's panels; with `?refresh=` re-run only them on that timer.

    `render` returns the outcomes it drew, so the page can say how old its data is (answers
    come from the shared cache until its TTL runs out).
    """
    seconds = refresh_seconds()

    @st.fragment(run_every=seconds)
    def _panels() -> None:
        st.session_state[_SEEN] = []
        outcomes = render() or ()
        focus = focused_panel()
        if focus is not None and focus not in st.session_state[_SEEN]:
            _no_such_panel(focus, st.session_state[_SEEN])
        if seconds is None:
            return
        fetched = [o.fetched_at for o in outcomes if isinstance(o, QueryResult)]
        age = f"data from {time.time() - min(fetched):.0f} s ago" if fetched else "no data yet"
        st.caption(f"Auto refresh every {seconds} s · updated {time.strftime('%H:%M:%S', time.gmtime())} UTC · {age}")

    _panels()
