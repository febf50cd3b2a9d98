"""Failure-rate panels: how much of the traffic fails, with which result codes, in which
operations, and the exceptions raised in the failed requests.

A request failed when App Insights says so (`Failed`: classic `success == "False"`, workspace
`Success == false`); 4xx answers count, as App Insights counts them. Rates are sums of
itemCount divided, never row counts, so the sampled service weighs what it stands for.
The totals and the rate per bin are the request-rate page's own panels (`requests.totals`,
`requests.rate`): one definition, and a shared cache entry between the two pages.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from telemetry.derived import REQ_CODE, REQ_ID
from telemetry.model import (
    ALL_FILTERS,
    Column,
    DistinctCount,
    Equals,
    Failed,
    InOperationsOf,
    ItemCount,
    PanelFactory,
    Predicate,
    Query,
    Summary,
    TimeBin,
)
from telemetry.queries.requests import RATE, TOTALS

__all__ = [
    "CODES",
    "CODES_OVER_TIME",
    "OPERATIONS",
    "PANELS",
    "code_table",
    "exception_types",
    "failure_rate",
    "operation_table",
    "page_view",
]

_COUNTS: Final = (ItemCount("requests"), ItemCount("failed", Failed()))

CODES_OVER_TIME: Final = Summary(
    name="failures.codes_over_time",
    table="requests",
    applies=ALL_FILTERS,
    where=(Failed(),),
    measures=(ItemCount("failed"),),
    by=(TimeBin(), Column(REQ_CODE, "code")),
    order_by=(("bucket", "asc"), ("code", "asc")),
    description="Failed requests per bin (sum of itemCount) per result code.",
)

CODES: Final = Summary(
    name="failures.codes",
    table="requests",
    applies=ALL_FILTERS,
    measures=_COUNTS,
    by=(Column(REQ_CODE, "code"),),
    order_by=(("requests", "desc"), ("code", "asc")),
    limit=200,
    description="Requests per result code in the range (sum of itemCount), failed among them.",
)

OPERATIONS: Final = Summary(
    name="failures.operations",
    table="requests",
    applies=ALL_FILTERS,
    measures=_COUNTS,
    by=(Column("operation_Name", "operation"), Column("cloud_RoleName", "service")),
    order_by=(("failed", "desc"), ("requests", "desc"), ("operation", "asc"), ("service", "asc")),
    limit=20,
    description="The 20 operations (per service) with the most failed requests in the range.",
)

EXCEPTION_LIMIT: Final = 50


def exception_types(result_code: str = "") -> Summary:
    """Exceptions raised in failed requests: their operation_Id is among the failed requests'.

    The sidebar's result code cannot narrow the exceptions table (it has none), so it narrows
    the failed requests the exceptions are joined to instead.
    """
    failing: tuple[Predicate, ...] = (Failed(), *((Equals(REQ_CODE, result_code),) if result_code else ()))
    return Summary(
        name="failures.exception_types",
        table="exceptions",
        where=(InOperationsOf("requests", failing),),
        measures=(ItemCount("exceptions"), DistinctCount("operations", REQ_ID)),
        by=(Column("problemId", "problem"), Column("type"), Column("cloud_RoleName", "service")),
        order_by=(("exceptions", "desc"), ("problem", "asc"), ("service", "asc")),
        limit=EXCEPTION_LIMIT,
        description=("Exceptions (sum of itemCount) and the failed requests they were raised in (distinct "
                     "operation_Id), per problemId and service, among the failed requests of the range."),
    )


PANELS: Final[dict[str, PanelFactory]] = {
    CODES_OVER_TIME.name: lambda: CODES_OVER_TIME,
    CODES.name: lambda: CODES,
    OPERATIONS.name: lambda: OPERATIONS,
    "failures.exception_types": exception_types,
}


def page_view(result_code: str = "") -> list[Query]:
    """The page's panels in the order it shows them; the sidebar's result code narrows the failed
    requests the exceptions are joined to (the default view has none)."""
    return [TOTALS, RATE, CODES_OVER_TIME, CODES, OPERATIONS, exception_types(result_code)]


def failure_rate(frame: pd.DataFrame, total: str = "requests") -> pd.DataFrame:
    """Add `failure_rate` = failed ÷ `total` to a frame of those two sums (NaN where `total` is 0)."""
    whole = frame[total].astype("float64")
    return frame.assign(failure_rate=frame["failed"].astype("float64") / whole.where(whole > 0))


def code_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The codes panel with each code's share of all requests and whether its requests failed."""
    total = float(frame["requests"].sum())
    return frame.assign(share=frame["requests"].astype("float64") / total if total else 0.0,
                        outcome=["failed" if f == r else "succeeded" if f == 0 else "mixed"
                                 for f, r in zip(frame["failed"], frame["requests"], strict=True)])


def operation_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Failing operations only (an operation with no failure is no answer to "what fails?")."""
    return failure_rate(frame[frame["failed"] > 0]).reset_index(drop=True)
