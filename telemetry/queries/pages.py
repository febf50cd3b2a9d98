"""What each page asks for in its default view: the one list the pages, the benchmarks and the
Logs API tests share, so a page's batch is timed and counted exactly as a user's browser sends it.

A page may add panels for a user's choice (an exception group, an operation); those come on top
of this list, in the same batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from telemetry.model import Query
from telemetry.queries import dependencies, failures, latency, overview, panel
from telemetry.queries.exceptions import COVERAGE, GROUPS, OVER_TIME
from telemetry.queries.model_monitoring import MonitoringView
from telemetry.queries.traces import search_histogram, search_listing

__all__ = ["PAGE_VIEWS", "page_queries"]

PAGE_VIEWS: Final[dict[str, Callable[[], list[Query]]]] = {
    "requests": lambda: [panel("requests.totals"), panel("requests.rate"), panel("requests.operations")],
    "exceptions": lambda: [OVER_TIME, GROUPS, COVERAGE],
    "traces": lambda: [search_listing(), search_histogram()],
    "failures": failures.page_view,
    "dependencies": dependencies.page_view,
    "latency": latency.page_view,
    "overview": overview.page_view,
    "model": lambda: list(MonitoringView().queries()),
}


def page_queries(page: str) -> list[Query]:
    """The queries of `page`'s default view, in the order the page shows them."""
    return PAGE_VIEWS[page]()
