"""Request-rate panels, and the service list the sidebar offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from telemetry.comparison import FIRST_SEEN
from telemetry.filters import Window
from telemetry.model import (
    ALL_FILTERS,
    Column,
    DistinctCount,
    Failed,
    ItemCount,
    PanelFactory,
    Period,
    SeriesSplit,
    Summary,
    TimeBin,
)

__all__ = ["PANELS", "PeriodTotals", "operations_table", "totals"]

_COUNTS: Final = (ItemCount("requests"), ItemCount("failed", Failed()))

RATE: Final = Summary(
    name="requests.rate",
    table="requests",
    applies=ALL_FILTERS,
    measures=_COUNTS,
    by=(TimeBin(), SeriesSplit()),
    order_by=(("bucket", "asc"), ("series", "asc")),
    description="Requests per bin (sum of itemCount), failed among them, per service or operation.",
)

TOTALS: Final = Summary(
    name="requests.totals",
    table="requests",
    applies=ALL_FILTERS,
    measures=(*_COUNTS, FIRST_SEEN),
    by=(Period(),),
    compare_previous=True,
    description="Requests and failures in the range and in the period of the same length before it, with each "
                "period's first request (whether the data covers the period before).",
)

OPERATIONS: Final = Summary(
    name="requests.operations",
    table="requests",
    applies=ALL_FILTERS,
    measures=(*_COUNTS, DistinctCount("services", "cloud_RoleName")),
    by=(Column("operation_Name", "operation"),),
    order_by=(("requests", "desc"), ("operation", "asc")),
    limit=100,
    description="Requests per operation in the range, busiest first.",
)

SERVICES: Final = Summary(
    name="services",
    table="requests",
    measures=(ItemCount("requests"),),
    by=(Column("cloud_RoleName", "service"),),
    applies=frozenset(),  # the list of services must not be narrowed by the services chosen
    order_by=(("requests", "desc"), ("service", "asc")),
    limit=500,
    description="Services (cloud_RoleName) that reported requests in the range.",
)

PANELS: Final[dict[str, PanelFactory]] = {q.name: (lambda q=q: q) for q in (RATE, TOTALS, OPERATIONS, SERVICES)}


@dataclass(frozen=True)
class PeriodTotals:
    requests: int
    failed: int
    minutes: float

    @property
    def per_minute(self) -> float:
        return self.requests / self.minutes

    @property
    def failure_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


def totals(frame: pd.DataFrame, window: Window) -> dict[str, PeriodTotals]:
    """The totals panel as {"current": …, "previous": …}; a period with no rows counts zero."""
    minutes = window.length.total_seconds() / 60
    found = {period: PeriodTotals(0, 0, minutes) for period in ("current", "previous")}
    for row in frame.itertuples(index=False):
        found[str(row.period)] = PeriodTotals(int(row.requests), int(row.failed), minutes)
    return found


def operations_table(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Add the rate per minute and the share of all requests to the operations panel."""
    total = int(frame["requests"].sum())
    minutes = window.length.total_seconds() / 60
    table = frame.copy()
    table["rate_per_min"] = table["requests"].astype("float64") / minutes
    table["share"] = table["requests"].astype("float64") / total if total else 0.0
    table["failure_rate"] = table["failed"].astype("float64") / table["requests"].astype("float64").where(
        table["requests"] > 0
    )
    return table
