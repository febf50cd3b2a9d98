"""The shared sidebar: time range, services, operation, result code, grain, split.

The URL is the view: filters are read from it on every run and written back when a widget
changes, so a copied link reopens the same view. Widgets keep their own state between pages;
when the URL changes under them (a link with other filters) they are reset from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from telemetry.filters import (
    GRAINS,
    PRESETS,
    Filters,
    TimeRange,
    clean_text,
    from_query_params,
    to_query_params,
)

_SYNCED = "filters.synced"
_KEYS = ("f.range", "f.frozen", "f.services", "f.operation", "f.code", "f.grain", "f.split")

# Parameters a page owns (a chosen exception group, an operation id) survive filter changes.
PAGE_PARAMS: tuple[str, ...] = ("panel", "problem", "op", "q", "match", "dependency", "severity", "pg", "view",
                                "endpoint", "deployment", "against", "in", "probes")
# Parameters of the view itself, carried by every link between pages.
VIEW_PARAMS: tuple[str, ...] = ("refresh",)


def url_params() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def url_text(param: str, warnings: list[str] | None = None) -> str | None:
    """A page's own text parameter (a chosen group, a dependency), cleaned; a bad one is None with
    a warning. Read it inside a page's panels fragment, not once: a chooser there re-runs only them."""
    return clean_text(param, (url_params().get(param) or [""])[0], [] if warnings is None else warnings)


def read_filters() -> tuple[Filters, list[str]]:
    return from_query_params(url_params())


def _reset_widgets(filters: Filters) -> None:
    window = filters.window()
    st.session_state["f.from"] = window.start.astimezone(UTC).replace(tzinfo=None)
    st.session_state["f.to"] = window.end.astimezone(UTC).replace(tzinfo=None)
    st.session_state["f.range"] = filters.time.preset or "custom"
    st.session_state["f.frozen"] = not filters.time.is_relative
    st.session_state["f.services"] = list(filters.services)
    st.session_state["f.operation"] = filters.operation or ""
    st.session_state["f.code"] = filters.result_code or ""
    st.session_state["f.grain"] = filters.grain or "auto"
    st.session_state["f.split"] = filters.split
    st.session_state[_SYNCED] = filters


def filter_sidebar(filters: Filters) -> tuple[Filters, Callable[[Sequence[str]], None]]:
    """Draw the filter widgets; return the filters they now say, with the URL updated to match,
    and the function that draws the services picker in the place kept for it. The list of
    services comes with the page's own batch (one request per page view), so the picker is drawn
    after the page; the filters already hold its choice, from the widget's state."""
    if st.session_state.get(_SYNCED) != filters or any(k not in st.session_state for k in _KEYS):
        _reset_widgets(filters)
    ranges = [*PRESETS, "custom"]
    sb = st.sidebar
    sb.selectbox(
        "Time range", ranges, key="f.range", on_change=_on_time_change,
        format_func=lambda p: f"Last {p}" if p in PRESETS else "Custom range (UTC)",
    )
    if st.session_state["f.range"] == "custom":
        _absolute_range_picker(sb)
    _zoom_back_button(sb)
    services_box = sb.container()
    chosen = list(st.session_state["f.services"])

    def services_picker(services: Sequence[str]) -> None:
        options = sorted(set(services) | set(chosen))
        services_box.multiselect("Services", options, key="f.services", placeholder="All services")

    operation = sb.text_input("Operation", key="f.operation", placeholder="e.g. POST /score")
    code = sb.text_input("Result code", key="f.code", placeholder="e.g. 500")
    grain = sb.selectbox("Grain", ["auto", *GRAINS], key="f.grain")
    split = sb.radio("Split charts by", ["service", "operation"], key="f.split", horizontal=True)

    sb.toggle("Freeze range", key="f.frozen", on_change=_on_time_change,
              help="Turn the range into fixed times, so a link shows this incident later too.")
    time = read_filters()[0].time  # the callbacks put the chosen range in the URL
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
    return chosen_filters, services_picker


def _absolute_range_picker(sb: DeltaGenerator) -> None:
    """From and to as dates and times (UTC), beside the presets; a change freezes that window."""
    start, end = sb.columns(2)
    for where, label, key in ((start, "From (UTC)", "f.from"), (end, "To (UTC)", "f.to")):
        where.datetime_input(label, key=key, step=timedelta(minutes=1), format="YYYY-MM-DD",
                             on_change=_on_absolute_change)
    if st.session_state["f.from"] >= st.session_state["f.to"]:
        sb.warning("The range must end after it starts; the view keeps the last valid range.")


def _on_absolute_change() -> None:
    start, end = st.session_state.get("f.from"), st.session_state.get("f.to")
    if start is None or end is None or start >= end:
        return
    filters = read_filters()[0]
    st.session_state["f.frozen"] = True
    write_url(filters.with_changes(time=TimeRange(None, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))))


def _on_time_change() -> None:
    """Write the chosen range to the URL: a preset, or the window it covers now when frozen."""
    filters = read_filters()[0]
    preset, frozen = st.session_state["f.range"], st.session_state["f.frozen"]
    if preset == "custom" and filters.time.is_relative:  # chosen in the list: the preset's window, frozen
        window = filters.window()
        time = TimeRange(None, window.start, window.end)
        st.session_state["f.frozen"] = True
    elif preset == "custom":
        time = filters.time if frozen else TimeRange()
    elif frozen:
        window = TimeRange(preset=preset).resolve()
        time = TimeRange(None, window.start, window.end)
    else:
        time = TimeRange(preset=preset)
    write_url(filters.with_changes(time=time))


def write_url(filters: Filters, **page_params: str | None) -> None:
    """Make the URL say `filters`, keeping the page's own parameters (or setting new ones)."""
    kept = {k: v for k, v in url_params().items() if k in PAGE_PARAMS + VIEW_PARAMS}
    for key, value in page_params.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = [value]
    st.query_params.from_dict({**to_query_params(filters), **kept})


def link_params(filters: Filters, **page_params: str) -> dict[str, str | list[str]]:
    """Query parameters for a link to another page with the same filters (and page params)."""
    view = {k: v for k, v in url_params().items() if k in VIEW_PARAMS}
    return {**to_query_params(filters), **view, **page_params}


_BACK = "filters.zoom_back"  # the ranges before each drag-selection on a time chart, newest last


def zoom_to(start: datetime, end: datetime) -> None:
    """Narrow the whole dashboard to [start, end) in whole minutes, remembering the range before."""
    filters = read_filters()[0]
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    end = max(end.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1),
              start + timedelta(minutes=1))
    st.session_state.setdefault(_BACK, []).append(filters.time)
    write_url(filters.with_changes(time=TimeRange(None, start, end)))


def _zoom_back() -> None:
    write_url(read_filters()[0].with_changes(time=st.session_state[_BACK].pop()))


def _zoom_back_button(sb: DeltaGenerator) -> None:
    """After a drag-selection on a chart: the way back to the range before it."""
    if st.session_state.get(_BACK):
        sb.button(f"Back to {st.session_state[_BACK][-1].label()}", icon=":material/undo:", key="f.zoom_back",
                  on_click=_zoom_back, help="The range before the last one chosen on a chart")


# A link to one request or sample opens a frozen window this far either side of its time: it still
# opens when the row is older than the range it was found in, and its dependencies fit around it.
SAMPLE_MARGIN = timedelta(hours=1)


def around(moment: datetime) -> TimeRange:
    """The frozen window of a link to one row at `moment`: whole minutes, `SAMPLE_MARGIN` either side."""
    start = (moment - SAMPLE_MARGIN).astimezone(UTC).replace(second=0, microsecond=0)
    end = (moment + SAMPLE_MARGIN).astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return TimeRange(None, start, end)


def sample_link_params(filters: Filters, moment: datetime, **page_params: str) -> dict[str, str | list[str]]:
    """Query parameters for a link to one row (an operation, a sample) at `moment`."""
    return link_params(filters.with_changes(time=around(moment)), **page_params)


def current_filters() -> Filters:
    """The filters a page renders for: the URL, as the sidebar just left it."""
    return read_filters()[0]


def view_sidebar() -> None:
    """Auto refresh and the link to this view."""
    from components.view import REFRESH_CHOICES, shareable_url

    current = st.query_params.get("refresh", "off")
    choice = st.sidebar.selectbox(
        "Auto refresh", list(REFRESH_CHOICES), index=list(REFRESH_CHOICES).index(current)
        if current in REFRESH_CHOICES else 0, key="v.refresh",
    )
    if choice != current:
        if choice == "off":
            del st.query_params["refresh"]
        else:
            st.query_params["refresh"] = choice
    with st.sidebar.popover("Copy link", icon=":material/link:"):
        st.caption("This view, filters included (use the copy button):")
        st.code(shareable_url(), language=None, wrap_lines=True)
