"""The page list, and links between pages that carry the current filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import urlencode

import streamlit as st

from components.filters import link_params
from telemetry.filters import Filters

# (file, title, icon, url path): the one list of pages app.py and the links use.
# A url path must not be a file name under pages/: Streamlit would run that file on its own,
# without app.py and its sidebar, when a link opens it (its legacy pages/ routing).
PAGES: Final = (
    ("pages/overview.py", "Overview", ":material/monitor_heart:", "home"),
    ("pages/requests.py", "Request rate", ":material/show_chart:", "request-rate"),
    ("pages/latency.py", "Latency", ":material/timer:", "response-times"),
    ("pages/failures.py", "Failure rate", ":material/error:", "failure-rate"),
    ("pages/dependencies.py", "Dependencies", ":material/hub:", "dependency-calls"),
    ("pages/exceptions.py", "Exceptions", ":material/bug_report:", "exception-groups"),
    ("pages/traces.py", "Trace explorer", ":material/manage_search:", "trace-explorer"),
    ("pages/deployments.py", "Deployments", ":material/deployed_code:", "endpoint-deployments"),
    ("pages/model.py", "Model", ":material/model_training:", "model-monitoring"),
    ("pages/checkup.py", "Telemetry check-up", ":material/health_and_safety:", "telemetry-checkup"),
)


def st_pages() -> list[st.Page]:
    # The first page is the default one and lives at "/", but Streamlit still names its reruns
    # by a hash of its url_path: left out, that is the file's stem, the legacy pages/ routing's
    # name for the file, and a widget's rerun on "/" ran pages/overview.py alone, no sidebar.
    return [
        st.Page(path, title=title, icon=icon, url_path=url, default=(i == 0))
        for i, (path, title, icon, url) in enumerate(PAGES)
    ]


def page_href(path: str, params: Mapping[str, str | list[str]]) -> str:
    """A relative link to the page in file `path` with these query parameters (for table link columns)."""
    index, url = next((i, url) for i, (p, _, _, url) in enumerate(PAGES) if p == path)
    return f"{'./' if index == 0 else url}?{urlencode(params, doseq=True)}"


def narrow_links(path: str, filters: Filters, services: Iterable[object], operations: Iterable[object],
                 **page_params: str) -> list[str]:
    """Links to `path` with the filters narrowed to each row's service and operation: how a row
    chosen in a table carries into every page (the sidebar's links keep the narrowed filters)."""
    return [page_href(path, link_params(filters.with_changes(services=(str(s),), operation=str(o) or None),
                                        **page_params))
            for s, o in zip(services, operations, strict=True)]


NARROW_COLUMN: Final = st.column_config.LinkColumn("Whole dashboard", display_text="narrow to this operation")


def nav_links(filters: Filters) -> None:
    """Sidebar links to every page, keeping the filters (Streamlit's own menu would drop them)."""
    for path, title, icon, _ in PAGES:
        st.sidebar.page_link(path, label=title, icon=icon, query_params=link_params(filters))
