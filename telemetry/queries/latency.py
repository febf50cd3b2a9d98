"""Latency panels: weighted p50/p95/p99 over time, the distribution of durations, the slowest
operations against the previous period, and the slowest requests themselves.

Percentiles are weighted by itemCount: a sampled row stands for itemCount requests, so it
weighs that much (KQL `percentilew`). The local store answers them from a log-bucket histogram
of ratio 1.02 (see telemetry.sql): the answer is the geometric centre of the bucket that holds
the exact weighted percentile (nearest rank: the smallest duration whose cumulative itemCount
reaches p % of the total), so it is within a factor sqrt(1.02) of it: 0.995 % relative at most.
Kusto's own `percentilew` is approximate too (within 1 % at these sizes).

The distribution is a histogram of durations in log buckets (`LogBucket`, 10 a decade: edges
at 1, 1.26, 1.58, 2.0 … 10 ms …), counted as sums of itemCount.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from telemetry.comparison import FIRST_SEEN, PERCENTILE_RESOLUTION, change
from telemetry.derived import REQ_CODE, REQ_DURATION, REQ_ID
from telemetry.model import (
    ALL_FILTERS,
    Column,
    Failed,
    ItemCount,
    Listing,
    LogBucket,
    PanelFactory,
    Period,
    Query,
    SeriesSplit,
    Summary,
    TimeBin,
    WeightedMean,
    WeightedPercentile,
)

__all__ = [
    "DISTRIBUTION",
    "HISTOGRAM",
    "OPERATIONS",
    "OVER_TIME",
    "PANELS",
    "PERCENTILES",
    "SLOWEST",
    "SLOWEST_LIMIT",
    "TOTALS",
    "MIN_REQUESTS",
    "page_view",
    "period_row",
    "slowest_operations",
    "thin_bins",
]

PERCENTILES: Final = (
    WeightedPercentile("p50_ms", REQ_DURATION, 50),
    WeightedPercentile("p95_ms", REQ_DURATION, 95),
    WeightedPercentile("p99_ms", REQ_DURATION, 99),
)
_MEAN: Final = WeightedMean("mean_ms", REQ_DURATION)
_REQUESTS: Final = ItemCount("requests")
HISTOGRAM: Final = LogBucket(REQ_DURATION, per_decade=10)

OVER_TIME: Final = Summary(
    name="latency.over_time",
    table="requests",
    applies=ALL_FILTERS,
    measures=(_REQUESTS, *PERCENTILES, _MEAN),
    by=(TimeBin(), SeriesSplit()),
    order_by=(("bucket", "asc"), ("series", "asc")),
    description="Weighted p50/p95/p99 and mean request duration (ms) per bin, per service or operation "
                "(each row weighted by itemCount).",
)

TOTALS: Final = Summary(
    name="latency.totals",
    table="requests",
    applies=ALL_FILTERS,
    measures=(_REQUESTS, ItemCount("failed", Failed()), *PERCENTILES, _MEAN, FIRST_SEEN),
    by=(Period(),),
    compare_previous=True,
    description="Requests, failed requests and weighted p50/p95/p99 and mean duration (ms), in the range and in "
                "the period of the same length before it, with each period's first request.",
)

DISTRIBUTION: Final = Summary(
    name="latency.distribution",
    table="requests",
    applies=ALL_FILTERS,
    measures=(_REQUESTS,),
    by=(HISTOGRAM,),
    order_by=((HISTOGRAM.alias, "asc"),),
    description="Requests (sum of itemCount) per duration bucket: bucket k holds durations from 10^(k/10) to "
                "10^((k+1)/10) ms.",
)

OPERATIONS: Final = Summary(
    name="latency.operations",
    table="requests",
    applies=ALL_FILTERS,
    measures=(_REQUESTS, *PERCENTILES),
    by=(Column("cloud_RoleName", "service"), Column("operation_Name", "operation"), Period()),
    compare_previous=True,
    order_by=(("p95_ms", "desc"), ("service", "asc"), ("operation", "asc")),
    limit=2_000,
    description="Per service and operation: requests and weighted p50/p95/p99 duration (ms), in the range and in "
                "the period of the same length before it.",
)

SLOWEST_LIMIT: Final = 20

SLOWEST: Final = Listing(
    name="latency.slowest",
    table="requests",
    applies=ALL_FILTERS,
    columns=(Column("timestamp"), Column(REQ_ID, "operation_Id"), Column("cloud_RoleName"), Column("operation_Name"),
             Column(REQ_DURATION, "duration"), Column(REQ_CODE, "resultCode"), Column("itemCount")),
    order_by=((REQ_DURATION, "desc"), ("timestamp", "desc")),
    limit=SLOWEST_LIMIT,
    description=f"The {SLOWEST_LIMIT} slowest requests in the range, slowest first.",
)

PANELS: Final[dict[str, PanelFactory]] = {
    q.name: (lambda q=q: q) for q in (OVER_TIME, TOTALS, DISTRIBUTION, OPERATIONS, SLOWEST)
}


def page_view() -> list[Query]:
    """The latency page's panels, in the order it shows them."""
    return [TOTALS, OVER_TIME, DISTRIBUTION, OPERATIONS, SLOWEST]


# Requests a bin needs for its percentile to be more than its slowest few requests: with fewer than
# 20, a p95 is the slowest request itself; with fewer than 100, so is a p99.
MIN_REQUESTS: Final = {"p95_ms": 20, "p99_ms": 100}


def thin_bins(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The frame with p95/p99 blanked in bins of too few requests (`MIN_REQUESTS`), and how many
    bins each lost, for the chart to say so."""
    blanked = frame.copy()
    lost: dict[str, int] = {}
    for column, needed in MIN_REQUESTS.items():
        if column in blanked:
            thin = blanked["requests"] < needed
            blanked[column] = blanked[column].astype("float64").mask(thin)
            lost[column] = int(thin.sum())
    return blanked, lost


def period_row(frame: pd.DataFrame, period: str) -> pd.Series | None:
    """The row of a Period-split panel for "current" or "previous"; None when it had no rows."""
    rows = frame[frame["period"] == period]
    return None if rows.empty else rows.iloc[0]


def slowest_operations(frame: pd.DataFrame) -> pd.DataFrame:
    """The operations panel as one row per service and operation in the range, slowest p95 first,
    with the previous period's p95 and the change against it (NaN when it had no requests, 0 when
    within the percentile method's resolution)."""
    keys = ["service", "operation"]
    current = frame[frame["period"] == "current"].drop(columns="period")
    previous = frame.loc[frame["period"] == "previous", [*keys, "p95_ms"]].rename(
        columns={"p95_ms": "previous_p95_ms"})
    table = current.merge(previous, on=keys, how="left")
    table["p95_change"] = pd.Series([change(now, before, PERCENTILE_RESOLUTION) for now, before in zip(
        table["p95_ms"], table["previous_p95_ms"], strict=True)], index=table.index, dtype="float64")
    return table.sort_values(["p95_ms", *keys], ascending=[False, True, True], ignore_index=True)
