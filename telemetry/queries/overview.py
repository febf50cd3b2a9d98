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

from telemetry.comparison import FIRST_SEEN, PERCENTILE_RESOLUTION, change
from telemetry.model import ALL_FILTERS, Column, Failed, ItemCount, OneOf, PanelFactory, Period, Query, Summary, TimeBin
from telemetry.queries import dependencies, latency
from telemetry.queries.latency import period_row, thin_bins

__all__ = ["DEPENDENCY_TREND", "PANELS", "PROBE_OPERATIONS", "REQUEST_TREND", "SERVICES", "SERVICE_TRENDS", "Headline",
           "headline", "latency_queries", "page_view", "service_table", "trend"]

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

# Operations that health probes and API browsers call: fast, regular and many, they would pull a
# service's latency down to the probe's. The overview's latency leaves them out unless asked.
PROBE_OPERATIONS: Final = ("GET /", "HEAD /", "GET /swagger.json", "GET /health", "GET /healthz", "GET /ready",
                           "GET /readyz", "GET /live", "GET /livez")
_NO_PROBES: Final = OneOf("operation_Name", PROBE_OPERATIONS, negate=True)
_SERVICE: Final = Column("cloud_RoleName", "service")
_P95: Final = latency.PERCENTILES[1]

SERVICES: Final = Summary(
    name="overview.services",
    table="requests",
    applies=ALL_FILTERS,
    measures=(ItemCount("requests"), ItemCount("failed", Failed()), FIRST_SEEN),
    by=(_SERVICE, Period()),
    compare_previous=True,
    order_by=(("service", "asc"), ("period", "asc")),
    limit=1_000,
    description="Per service: requests and failed requests (sums of itemCount), in the range and in the period "
                "of the same length before it.",
)

SERVICE_TRENDS: Final = Summary(
    name="overview.service_trends",
    table="requests",
    applies=ALL_FILTERS,
    measures=(ItemCount("requests"), ItemCount("failed", Failed())),
    by=(TimeBin(), _SERVICE),
    order_by=(("bucket", "asc"), ("service", "asc")),
    description="Per service and bin: requests and failed requests (sums of itemCount).",
)


def latency_queries(probes: bool = False) -> tuple[Summary, Summary, Summary, Summary]:
    """The overview's latency: p95 in both periods and per bin, overall and per service; without
    the health-probe operations unless `probes`."""
    where = () if probes else (_NO_PROBES,)
    suffix = "" if probes else ", health probes and swagger left out"
    return (
        Summary(name="overview.latency", table="requests", applies=ALL_FILTERS, where=where,
                measures=(ItemCount("requests"), _P95, FIRST_SEEN), by=(Period(),), compare_previous=True,
                description=f"Weighted p95 duration (ms), in the range and in the period before it{suffix}."),
        Summary(name="overview.latency_trend", table="requests", applies=ALL_FILTERS, where=where,
                measures=(ItemCount("requests"), _P95), by=(TimeBin(),), order_by=(("bucket", "asc"),),
                description=f"Weighted p95 duration (ms) per bin{suffix}."),
        Summary(name="overview.service_latency", table="requests", applies=ALL_FILTERS, where=where,
                measures=(ItemCount("requests"), _P95), by=(_SERVICE, Period()), compare_previous=True,
                order_by=(("service", "asc"), ("period", "asc")), limit=1_000,
                description=f"Per service: weighted p95 duration (ms), in the range and in the period before it{suffix}."),
        Summary(name="overview.service_latency_trends", table="requests", applies=ALL_FILTERS, where=where,
                measures=(ItemCount("requests"), _P95), by=(TimeBin(), _SERVICE),
                order_by=(("bucket", "asc"), ("service", "asc")),
                description=f"Per service and bin: weighted p95 duration (ms){suffix}."),
    )


PANELS: Final[dict[str, PanelFactory]] = {
    **{q.name: (lambda q=q: q) for q in (REQUEST_TREND, DEPENDENCY_TREND, SERVICES, SERVICE_TRENDS)},
    **{q.name: (lambda probes=False, i=i: latency_queries(probes)[i]) for i, q in enumerate(latency_queries())},
}


def page_view(probes: bool = False) -> list[Query]:
    """The overview's batch: request totals, request trend, dependency totals, dependency trend,
    then the per-service table's totals and trends, then the latency (`latency_queries`)."""
    return [latency.TOTALS, REQUEST_TREND, dependencies.TOTALS, DEPENDENCY_TREND, SERVICES, SERVICE_TRENDS,
            *latency_queries(probes)]


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
    """One figure per bin of a trend panel, indexed by bin (a failure rate is NaN without calls, a
    p95 in a bin of too few requests to stand on, see `latency.thin_bins`)."""
    values = (thin_bins(frame)[0] if figure == "p95_ms" else frame).set_index("bucket")
    if figure == "failure_rate":
        counts = values[total].astype("float64")
        return values["failed"].astype("float64") / counts.where(counts > 0)
    return values[figure].astype("float64")


def _per_period(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A (service, period) panel as one row per service: `<column>` now and `previous_<column>`."""
    current = frame[frame["period"] == "current"].set_index("service")[columns]
    previous = frame[frame["period"] == "previous"].set_index("service")[columns].add_prefix("previous_")
    return current.join(previous, how="left")


def _sparklines(frame: pd.DataFrame, figure: str, buckets: pd.Index, fill: float | None) -> pd.Series:
    """Per service, its `figure` in every bin of `buckets` (bins without rows: `fill`)."""
    wide = frame.pivot(index="bucket", columns="service", values=figure)
    wide = wide.reindex(buckets)
    if fill is not None:
        wide = wide.fillna(fill)
    return pd.Series({service: [None if pd.isna(v) else float(v) for v in wide[service]] for service in wide.columns},
                     dtype="object")


def service_table(services: pd.DataFrame, trends: pd.DataFrame, service_latency: pd.DataFrame,
                  latency_trends: pd.DataFrame, *, covered: bool) -> pd.DataFrame:
    """One row per service of the range: requests, failure rate and p95 with their change against
    the period before (NaN where it had none or the data does not cover it; a failure rate's change
    in percentage points, a p95's 0 inside the method's resolution) and each one's values per bin.
    Least healthy first: highest failure rate, then slowest p95."""
    table = _per_period(services, ["requests", "failed"]).join(
        _per_period(service_latency, ["p95_ms"]), how="left")
    table["failure_rate"] = table["failed"] / table["requests"].where(table["requests"] > 0)
    table["previous_failure_rate"] = table["previous_failed"] / table["previous_requests"].where(
        table["previous_requests"] > 0)
    nothing = pd.Series(float("nan"), index=table.index)
    table["requests_change"] = [change(now, before) for now, before in zip(
        table["requests"], table["previous_requests"], strict=True)] if covered else nothing
    table["failure_rate_change"] = (table["failure_rate"] - table["previous_failure_rate"]) if covered else nothing
    table["p95_change"] = [change(now, before, PERCENTILE_RESOLUTION) for now, before in zip(
        table["p95_ms"], table["previous_p95_ms"], strict=True)] if covered else nothing
    for column in ("requests_change", "p95_change"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    buckets = pd.Index(sorted(set(trends["bucket"]) | set(latency_trends["bucket"])), name="bucket")
    rates = trends.assign(failure_rate=trends["failed"] / trends["requests"].where(trends["requests"] > 0))
    table["requests_trend"] = _sparklines(trends, "requests", buckets, 0.0)
    table["failure_trend"] = _sparklines(rates, "failure_rate", buckets, None)
    table["p95_trend"] = _sparklines(thin_bins(latency_trends)[0], "p95_ms", buckets, None)
    table = table.reset_index().sort_values(["failure_rate", "p95_ms", "service"], ascending=[False, False, True],
                                            na_position="last", ignore_index=True)
    return table[["service", "requests", "requests_change", "failure_rate", "failure_rate_change", "p95_ms",
                  "p95_change", "requests_trend", "failure_trend", "p95_trend"]]
