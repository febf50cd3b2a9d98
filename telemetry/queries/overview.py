"""Overview panels: the four headline numbers of an endpoint's health (requests, failure rate,
p95 duration, failed dependency calls), each against the period before and with its trend.

The numbers come from the latency and dependencies pages' own totals panels (one definition, and
a cache entry shared with those pages); the trends are one cheap pass over each table per bin.
Counts are sums of itemCount, the failure rate divides two such sums, p95 is itemCount-weighted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

from telemetry.model import ALL_FILTERS, Failed, ItemCount, PanelFactory, Query, Summary, TimeBin
from telemetry.queries import dependencies, latency
from telemetry.queries.latency import period_row

__all__ = ["DEPENDENCY_TREND", "PANELS", "REQUEST_TREND", "Headline", "headline", "page_view", "trend"]

REQUEST_TREND: Final = Summary(
    name="overview.request_trend",
    table="requests",
    applies=ALL_FILTERS,
    measures=(ItemCount("requests"), ItemCount("failed", Failed()), latency.PERCENTILES[1]),
    by=(TimeBin(),),
    order_by=(("bucket", "asc"),),
    description="Requests and failed requests (sums of itemCount) and the weighted p95 duration (ms) per bin.",
)

DEPENDENCY_TREND: Final = Summary(
    name="overview.dependency_trend",
    table="dependencies",
    measures=(ItemCount("calls"), ItemCount("failed", Failed())),
    by=(TimeBin(),),
    order_by=(("bucket", "asc"),),
    description="Dependency calls and failed calls (sums of itemCount) per bin.",
)

PANELS: Final[dict[str, PanelFactory]] = {q.name: (lambda q=q: q) for q in (REQUEST_TREND, DEPENDENCY_TREND)}


def page_view() -> list[Query]:
    """The overview's batch: request totals, request trend, dependency totals, dependency trend."""
    return [latency.TOTALS, REQUEST_TREND, dependencies.TOTALS, DEPENDENCY_TREND]


Figure = Literal["requests", "failure_rate", "p95_ms", "failed"]


@dataclass(frozen=True)
class Headline:
    """A headline figure now and in the period before; None where it has no value (a failure
    rate or a p95 without requests). Counts of a period without rows are 0."""

    current: float | None
    previous: float | None


def _value(frame: pd.DataFrame, period: str, figure: Figure, total: str) -> float | None:
    row = period_row(frame, period)
    if figure in ("requests", "failed"):
        return 0.0 if row is None else float(row[figure])
    if row is None or not row[total]:
        return None
    value = row["failed"] / row[total] if figure == "failure_rate" else row[figure]
    return None if pd.isna(value) else float(value)


def headline(totals: pd.DataFrame, figure: Figure, total: str = "requests") -> Headline:
    """One figure of a totals panel (split by Period); `total` names its count of all calls."""
    return Headline(_value(totals, "current", figure, total), _value(totals, "previous", figure, total))


def trend(frame: pd.DataFrame, figure: Figure, total: str = "requests") -> pd.Series:
    """One figure per bin of a trend panel, indexed by bin (a failure rate is NaN without calls)."""
    values = frame.set_index("bucket")
    if figure == "failure_rate":
        counts = values[total].astype("float64")
        return values["failed"].astype("float64") / counts.where(counts > 0)
    return values[figure].astype("float64")
