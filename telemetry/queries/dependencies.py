"""Dependency panels: the calls a service makes (model blobs, feature stores, SQL, HTTP), how
many fail and how long they take, per target and type; and, for one chosen target, its duration
distribution (the latency page's log buckets), its result codes and the operations that call it.

A dependency row carries the operation_Name and operation_Id of the request it was made in, so
the sidebar's service and operation narrow dependencies directly, and "which operations call
it" needs no join. Calls made outside a request (a model download at start-up) have an empty
operation. The sidebar's result code is a request's and does not narrow dependencies.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from telemetry.comparison import FIRST_SEEN
from telemetry.model import (
    Column,
    DistinctCount,
    Equals,
    Failed,
    ItemCount,
    PanelFactory,
    Period,
    Query,
    Summary,
    TimeBin,
    WeightedMean,
)
from telemetry.queries.failures import failure_rate
from telemetry.queries.latency import HISTOGRAM, PERCENTILES

__all__ = [
    "OVER_TIME",
    "PANELS",
    "TARGETS",
    "TOTALS",
    "callers",
    "chosen_queries",
    "codes",
    "dependency_table",
    "distribution",
    "label",
    "page_view",
    "percentiles",
]

_CALLS: Final = (ItemCount("calls"), ItemCount("failed", Failed()))
_P95: Final = PERCENTILES[1]
_TARGET: Final = (Column("target"), Column("type"))

TOTALS: Final = Summary(
    name="dependencies.totals",
    table="dependencies",
    measures=(*_CALLS, _P95, FIRST_SEEN),
    by=(Period(),),
    compare_previous=True,
    description="Dependency calls (sum of itemCount), failed among them and their weighted p95 duration, in the "
                "range and in the period of the same length before it, with each period's first call.",
)

OVER_TIME: Final = Summary(
    name="dependencies.over_time",
    table="dependencies",
    measures=(*_CALLS, _P95),
    by=(TimeBin(), *_TARGET),
    order_by=(("bucket", "asc"), ("target", "asc"), ("type", "asc")),
    description="Calls, failed calls and weighted p95 duration per bin, per dependency target and type.",
)

TARGETS: Final = Summary(
    name="dependencies.targets",
    table="dependencies",
    measures=(*_CALLS, *PERCENTILES, WeightedMean("mean_ms", "duration"), DistinctCount("services", "cloud_RoleName")),
    by=_TARGET,
    order_by=(("calls", "desc"), ("target", "asc"), ("type", "asc")),
    limit=500,
    description="Per dependency target and type in the range: calls, failed calls, weighted p50/p95/p99 and "
                "mean duration (ms), and how many services call it.",
)


def percentiles(target: str = "") -> Summary:
    return Summary(
        name="dependencies.percentiles",
        table="dependencies",
        where=(Equals("target", target),),
        measures=(*_CALLS, *PERCENTILES),
        description="The chosen dependency's calls, failed calls and weighted p50/p95/p99 duration (ms).",
    )


def distribution(target: str = "") -> Summary:
    return Summary(
        name="dependencies.distribution",
        table="dependencies",
        where=(Equals("target", target),),
        measures=(ItemCount("calls"),),
        by=(HISTOGRAM,),
        order_by=((HISTOGRAM.alias, "asc"),),
        description=f"The chosen dependency's calls (sum of itemCount) per duration bucket: bucket k holds "
                    f"durations from 10^(k/{HISTOGRAM.per_decade}) to 10^((k+1)/{HISTOGRAM.per_decade}) ms.",
    )


def codes(target: str = "") -> Summary:
    return Summary(
        name="dependencies.codes",
        table="dependencies",
        where=(Equals("target", target),),
        measures=_CALLS,
        by=(Column("resultCode", "code"), Column("type")),
        order_by=(("calls", "desc"), ("code", "asc")),
        limit=200,
        description="The chosen dependency's calls per result code (sum of itemCount), failed among them.",
    )


def callers(target: str = "") -> Summary:
    return Summary(
        name="dependencies.callers",
        table="dependencies",
        where=(Equals("target", target),),
        measures=(*_CALLS, _P95),
        by=(Column("operation_Name", "operation"), Column("cloud_RoleName", "service")),
        order_by=(("calls", "desc"), ("operation", "asc"), ("service", "asc")),
        limit=200,
        description="Which operations (the requests the calls were made in) call the chosen dependency, per "
                    "service: calls, failed calls, weighted p95 duration.",
    )


PANELS: Final[dict[str, PanelFactory]] = {
    TOTALS.name: lambda: TOTALS,
    OVER_TIME.name: lambda: OVER_TIME,
    TARGETS.name: lambda: TARGETS,
    "dependencies.percentiles": percentiles,
    "dependencies.distribution": distribution,
    "dependencies.codes": codes,
    "dependencies.callers": callers,
}


def page_view() -> list[Query]:
    """The page's panels before a dependency is chosen, in the order it shows them."""
    return [TOTALS, OVER_TIME, TARGETS]


def chosen_queries(target: str) -> list[Query]:
    """The panels of one chosen dependency, asked in the same batch as the page's."""
    return [percentiles(target), distribution(target), codes(target), callers(target)]


def label(frame: pd.DataFrame) -> pd.Series:
    """A dependency's name for people: its type and target ("SQL · tcp:sql-ml… | featuresdb")."""
    return frame["type"].astype("string") + " · " + frame["target"].astype("string")


def dependency_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The targets panel with each dependency's failure rate and its share of all calls."""
    total = float(frame["calls"].sum())
    return failure_rate(frame, "calls").assign(share=frame["calls"].astype("float64") / total if total else 0.0)
