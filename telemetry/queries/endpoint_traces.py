"""The online endpoint's own logs in the trace explorer: its console (what score.py printed, even
without App Insights) searched beside App Insights traces, and one request's platform row and
console lines beside its App Insights operation.

A request is joined on its ids: the endpoint's XRequestId (the `x-request-id` the inference
server reports as its `Request Id`, and the App Insights request's operation id) or
XMSClientRequestId (the caller's `x-ms-client-request-id`, the inference server's `Client Request
Id`). Application Insights writes an operation id as 32 hex digits, the endpoint a request id as a
UUID: both spellings are asked for. Console lines carry no id column: a line names its request in
its text (the demo's score.py prints it first).
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from telemetry.endpoint_logs import CONSOLE_LOG, TRAFFIC_LOG
from telemetry.model import AnyOf, Column, Contains, Has, ItemCount, Listing, OneOf, PanelFactory, Summary, TimeBin
from telemetry.queries.deployments import CODE_REASONS
from telemetry.queries.traces import MAX_PAGE, PAGE_SIZE, TraceSearch

__all__ = ["PANELS", "console_histogram", "console_listing", "platform_rows", "request_console", "request_ids",
           "with_reasons"]

_CONSOLE_COLUMNS: Final = tuple(Column(c, a) for c, a in (
    ("timestamp", "timestamp"), ("DeploymentName", "deployment"), ("InstanceId", "instance"),
    ("ContainerName", "container"), ("Message", "message")))
_NEWEST_FIRST: Final = (("timestamp", "desc"), ("InstanceId", "asc"), ("Message", "asc"))
_HEX32: Final = re.compile(r"^[0-9a-fA-F]{32}$")
_UUID: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def _text_where(search: TraceSearch) -> tuple:
    if not search.text:
        return ()
    return ((Has if search.match == "has" else Contains)("Message", search.text),)


def console_listing(search: TraceSearch = TraceSearch(), page: int = 1) -> Listing:
    """Console lines matching the search's text (the console has no severity), newest first."""
    return Listing(
        name="endpoint.console", table=CONSOLE_LOG, columns=_CONSOLE_COLUMNS, where=_text_where(search),
        applies=frozenset(), order_by=_NEWEST_FIRST, limit=PAGE_SIZE,
        offset=(max(1, min(page, MAX_PAGE)) - 1) * PAGE_SIZE,
        description=f"Endpoint console lines (AmlOnlineEndpointConsoleLog) matching the search, newest first, "
                    f"{PAGE_SIZE} a page.")


def console_histogram(search: TraceSearch = TraceSearch()) -> Summary:
    return Summary(
        name="endpoint.console_histogram", table=CONSOLE_LOG, measures=(ItemCount("lines"),),
        by=(TimeBin(), Column("DeploymentName", "deployment")), where=_text_where(search), applies=frozenset(),
        order_by=(("bucket", "asc"), ("deployment", "asc")),
        description="Matching console lines per bin and deployment.")


def request_ids(op: str) -> tuple[str, ...]:
    """The spellings a request id may have in the other logs: as given, as a UUID, as 32 hex digits."""
    found = [op]
    if _HEX32.match(op):
        found.append(f"{op[:8]}-{op[8:12]}-{op[12:16]}-{op[16:20]}-{op[20:]}".lower())
    elif _UUID.match(op):
        found.append(op.replace("-", "").lower())
    return tuple(dict.fromkeys(found))


def platform_rows(op: str) -> Listing:
    ids = request_ids(op)
    return Listing(
        name="endpoint.platform", table=TRAFFIC_LOG, applies=frozenset(),
        columns=tuple(Column(c) for c in (
            "timestamp", "EndpointName", "DeploymentName", "ResponseCode", "ResponseCodeReason", "ModelStatusCode",
            "ModelStatusReason", "RequestDurationMs", "ResponseDurationMs", "TotalDurationMs",
            "RequestThrottlingDelayMs", "ResponseThrottlingDelayMs", "RequestPayloadSize", "ResponsePayloadSize",
            "XRequestId", "XMSClientRequestId")),
        where=(AnyOf((OneOf("XRequestId", ids), OneOf("XMSClientRequestId", ids))),),
        order_by=(("timestamp", "asc"),), limit=20,
        description="The endpoint's own row of the request (XRequestId or XMSClientRequestId is its id).")


def request_console(op: str) -> Listing:
    return Listing(
        name="endpoint.request_console", table=CONSOLE_LOG, columns=_CONSOLE_COLUMNS, applies=frozenset(),
        where=(AnyOf(tuple(Contains("Message", i) for i in request_ids(op))),),
        order_by=(("timestamp", "asc"),), limit=100,
        description="Console lines that name the request's id.")


def with_reasons(platform: pd.DataFrame) -> pd.DataFrame:
    """The platform rows with what their status code means (the model's own code for a 424)."""
    reasons = platform["ResponseCode"].map(lambda c: CODE_REASONS.get(int(c), "") if pd.notna(c) else "")
    return platform.assign(meaning=reasons)


PANELS: Final[dict[str, PanelFactory]] = {
    "endpoint.console": console_listing,
    "endpoint.console_histogram": console_histogram,
    "endpoint.platform": platform_rows,
    "endpoint.request_console": request_console,
}
