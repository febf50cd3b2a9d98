"""Deployments of an Azure ML managed online endpoint, from the endpoint's own logs: traffic per
deployment, status codes with their reasons, the platform's true latency percentiles and where
the time goes, payload sizes, and the containers' life-cycle events.

AmlOnlineEndpointTrafficLog has one row a request and is not sampled, so a request weighs 1 (the
schema's weight for these tables) and percentiles of TotalDurationMs are true percentiles of the
requests, not the averaged per-minute percentiles the endpoint's metrics give. The local store
answers them from the same log-bucket histogram as every other percentile (within 1 %).

The durations are marks from the request's start (the table reference): RequestDurationMs is
when the last request byte arrived (the upload), ResponseDurationMs when the model's first byte
came back, TotalDurationMs when the last response byte was sent. Means are additive, so the split
of the mean is upload + model (to first byte) + download; throttling delays (request and
response) are the parts of upload and download the endpoint's network throttling added.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from telemetry.endpoint_logs import EVENT_LOG, TRAFFIC_LOG
from telemetry.model import (
    AnyOf,
    AtLeast,
    Column,
    Earliest,
    Equals,
    ItemCount,
    Latest,
    Listing,
    LogBucket,
    PanelFactory,
    Predicate,
    Query,
    SampleValue,
    Summary,
    TimeBin,
    WeightedMean,
    WeightedPercentile,
)

__all__ = [
    "CODE_REASONS",
    "DISTRIBUTION_BUCKET",
    "EVENT_LIMIT",
    "PANELS",
    "TROUBLE_EVENTS",
    "code_table",
    "comparison",
    "default_pair",
    "endpoint_where",
    "events",
    "page_view",
    "stage_table",
]

_DEPLOYMENT: Final = Column("DeploymentName", "deployment")
_REQUESTS: Final = ItemCount("requests")
FAILED: Final = AtLeast("ResponseCode", 400)
_FAILED: Final = ItemCount("failed", FAILED)
DISTRIBUTION_BUCKET: Final = LogBucket("TotalDurationMs", per_decade=10)
EVENT_LIMIT: Final = 500
# Container events that mean trouble (drawn red); the others (Pulled, Created, Started, and Killing
# alone: a planned restart drains the container) are routine.
TROUBLE_EVENTS: Final = frozenset({"BackOff", "LivenessProbeFailed", "ReadinessProbeFailed", "Failed",
                                   "Unhealthy", "OOMKilled"})


def _percentiles(column: str, prefix: str) -> tuple[WeightedPercentile, ...]:
    return tuple(WeightedPercentile(f"{prefix}_p{p}_ms", column, p) for p in (50, 95, 99))


def endpoint_where(endpoint: str | None) -> tuple[Predicate, ...]:
    return (Equals("EndpointName", endpoint),) if endpoint else ()


def _traffic(name: str, endpoint: str | None, **parts: object) -> Summary:
    return Summary(name=name, table=TRAFFIC_LOG, applies=frozenset(), where=endpoint_where(endpoint), **parts)  # type: ignore[arg-type]


def endpoints(endpoint: str | None = None) -> Query:
    """The endpoints and deployments with traffic in the range (for the choosers and the headline)."""
    return Summary(
        name="deployments.endpoints", table=TRAFFIC_LOG, applies=frozenset(),
        measures=(_REQUESTS, Earliest("first_seen"), Latest("last_seen")),
        by=(Column("EndpointName", "endpoint"), _DEPLOYMENT),
        order_by=(("endpoint", "asc"), ("first_seen", "asc")),
        description="Requests per endpoint and deployment, with the first and last request in the range.")


def traffic(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.traffic", endpoint, measures=(_REQUESTS, _FAILED), by=(TimeBin(), _DEPLOYMENT),
        order_by=(("bucket", "asc"), ("deployment", "asc")),
        description="Requests and failed requests (ResponseCode >= 400) per bin and deployment: the traffic split.")


def codes(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.codes", endpoint,
        measures=(_REQUESTS, SampleValue("reason", "ResponseCodeReason"), SampleValue("model_reason", "ModelStatusReason")),
        by=(_DEPLOYMENT, Column("ResponseCode", "code"), Column("ModelStatusCode", "model_code")),
        order_by=(("deployment", "asc"), ("code", "asc"), ("model_code", "asc")),
        description="Requests per deployment, endpoint status code and the model's own status code (ModelStatusCode).")


def latency_over_time(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.latency_over_time", endpoint,
        measures=(_REQUESTS, *_percentiles("TotalDurationMs", "total")),
        by=(TimeBin(), _DEPLOYMENT), order_by=(("bucket", "asc"), ("deployment", "asc")),
        description="p50/p95/p99 of TotalDurationMs per bin and deployment: true percentiles over the requests.")


def latency(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.latency", endpoint,
        measures=(_REQUESTS, _FAILED, *_percentiles("TotalDurationMs", "total"),
                  *(WeightedMean(f"mean_{name}", column) for name, column in _MEANS.items()),
                  ItemCount("throttled", AnyOf((AtLeast("RequestThrottlingDelayMs", 1),
                                                AtLeast("ResponseThrottlingDelayMs", 1))))),
        by=(_DEPLOYMENT,), order_by=(("deployment", "asc"),),
        description="Per deployment: requests, failed, p50/p95/p99 of TotalDurationMs, the mean of each duration "
                    "mark and throttling delay and payload size, and requests delayed by throttling.")


_MEANS: Final = {
    "total_ms": "TotalDurationMs", "first_byte_ms": "ResponseDurationMs", "upload_ms": "RequestDurationMs",
    "request_throttle_ms": "RequestThrottlingDelayMs", "response_throttle_ms": "ResponseThrottlingDelayMs",
    "request_bytes": "RequestPayloadSize", "response_bytes": "ResponsePayloadSize",
}


def first_byte(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.first_byte", endpoint, measures=(_REQUESTS, *_percentiles("ResponseDurationMs", "first_byte")),
        by=(_DEPLOYMENT,), order_by=(("deployment", "asc"),),
        description="Per deployment: p50/p95/p99 of ResponseDurationMs, the time to the model's first byte.")


def upload(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.upload", endpoint, measures=(_REQUESTS, *_percentiles("RequestDurationMs", "upload")),
        by=(_DEPLOYMENT,), order_by=(("deployment", "asc"),),
        description="Per deployment: p50/p95/p99 of RequestDurationMs, the time to receive the request.")


def distribution(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.distribution", endpoint, measures=(_REQUESTS,), by=(_DEPLOYMENT, DISTRIBUTION_BUCKET),
        order_by=(("deployment", "asc"), (DISTRIBUTION_BUCKET.alias, "asc")),
        description="Requests per deployment and TotalDurationMs bucket (10 a decade).")


def payloads(endpoint: str | None = None) -> Query:
    return _traffic(
        "deployments.payloads", endpoint,
        measures=(_REQUESTS, WeightedMean("request_bytes", "RequestPayloadSize"),
                  WeightedMean("response_bytes", "ResponsePayloadSize"),
                  Latest("max_request_bytes", "RequestPayloadSize"),  # Latest is max(): the largest
                  Latest("max_response_bytes", "ResponsePayloadSize")),
        by=(TimeBin(), _DEPLOYMENT), order_by=(("bucket", "asc"), ("deployment", "asc")),
        description="Mean and largest request and response payload (bytes) per bin and deployment.")


def events(endpoint: str | None = None) -> Query:
    # The event log has no endpoint column: an endpoint's instances are its deployments'.
    return Listing(
        name="deployments.events", table=EVENT_LOG, applies=frozenset(),
        columns=tuple(Column(c, a) for c, a in (("timestamp", "timestamp"), ("DeploymentName", "deployment"),
                                               ("InstanceId", "instance"), ("Name", "name"), ("Message", "message"))),
        order_by=(("timestamp", "asc"),), limit=EVENT_LIMIT,
        description=f"Container life-cycle events (the first {EVENT_LIMIT} in the range), oldest first.")


_FACTORIES: Final[tuple[PanelFactory, ...]] = (
    endpoints, traffic, codes, latency_over_time, latency, first_byte, upload, distribution, payloads, events)
PANELS: Final[dict[str, PanelFactory]] = {f().name: f for f in _FACTORIES}


def page_view(endpoint: str | None = None) -> list[Query]:
    """The deployments page's panels, in the order it shows them: one batch."""
    return [factory(endpoint) for factory in _FACTORIES]


# --- frames to what the page shows -------------------------------------------------------------

# Why an endpoint answers a code (how-to-troubleshoot-online-endpoints).
CODE_REASONS: Final[dict[int, str]] = {
    200: "OK",
    401: "Unauthorized: the key or token is missing or wrong",
    404: "Not found: wrong endpoint URL or deployment name",
    408: "Timeout: the model took longer than request_timeout_ms (default 5 s)",
    424: "The model's container answered an error: its own code is ModelStatusCode",
    429: "Rate limited, or more requests pending than 2 × max_concurrent_requests_per_instance × instances",
    500: "The endpoint's own error",
    502: "Bad gateway: the container could not be reached (crashed, restarting, or not ready)",
    503: "Service unavailable: the deployment cannot take more (scale out) or is updating",
}


def code_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The codes panel with each code's share of its deployment's requests and its explanation
    (the model's own code named for a 424)."""
    totals = frame.groupby("deployment")["requests"].transform("sum").astype("float64")
    table = frame.assign(share=frame["requests"].astype("float64") / totals)
    explain = table["code"].map(lambda c: CODE_REASONS.get(int(c), "") if pd.notna(c) else "")
    model = table["model_code"].astype("Int64").astype("string").fillna("")
    reason = table["model_reason"].fillna("")
    own = " (" + model + (" " + reason).where(reason != "", "") + ")"
    table["explanation"] = explain.where(table["code"] != 424, explain + own)
    return table.sort_values(["deployment", "requests"], ascending=[True, False], ignore_index=True)


def stage_table(latency_frame: pd.DataFrame) -> pd.DataFrame:
    """Where the mean request's time goes, per deployment: upload, model (to first byte), download
    (upload + model + download = the mean TotalDurationMs), with the throttling part of each transfer."""
    f = latency_frame
    return pd.DataFrame({
        "deployment": f["deployment"],
        "upload_ms": f["mean_upload_ms"],
        "model_ms": f["mean_first_byte_ms"] - f["mean_upload_ms"],
        "download_ms": f["mean_total_ms"] - f["mean_first_byte_ms"],
        "throttle_ms": f["mean_request_throttle_ms"] + f["mean_response_throttle_ms"],
        "throttled_share": f["throttled"].astype("float64") / f["requests"].astype("float64"),
    })


def default_pair(endpoints_frame: pd.DataFrame, endpoint: str | None) -> tuple[str | None, str | None]:
    """The comparison a page opens with: the newest deployment against the busiest other one."""
    frame = endpoints_frame if not endpoint else endpoints_frame[endpoints_frame["endpoint"] == endpoint]
    per = frame.groupby("deployment").agg(requests=("requests", "sum"), first_seen=("first_seen", "min"))
    if per.empty:
        return None, None
    newest = str(per["first_seen"].idxmax())
    others = per.drop(index=newest)
    return newest, (str(others["requests"].idxmax()) if len(others) else None)


_COMPARED: Final = (
    ("requests", "Requests", False), ("failure_rate", "Failure rate", True),
    ("total_p50_ms", "p50 total (ms)", True), ("total_p95_ms", "p95 total (ms)", True),
    ("total_p99_ms", "p99 total (ms)", True), ("first_byte_p95_ms", "p95 to the model's first byte (ms)", True),
    ("upload_p95_ms", "p95 upload (ms)", True), ("mean_request_bytes", "Mean request (bytes)", False),
    ("mean_response_bytes", "Mean response (bytes)", False),
)


def comparison(latency_frame: pd.DataFrame, first_byte_frame: pd.DataFrame, upload_frame: pd.DataFrame,
               deployment: str, against: str) -> pd.DataFrame:
    """One row a measure: its value for `deployment` and for `against`, and the change from
    `against` to `deployment` (NaN where either lacks it); `worse` says whether that change is for
    the worse (higher is worse for failures and times)."""
    merged = latency_frame.merge(first_byte_frame.drop(columns="requests"), on="deployment", how="left") \
        .merge(upload_frame.drop(columns="requests"), on="deployment", how="left")
    merged = merged.assign(failure_rate=merged["failed"].astype("float64") / merged["requests"].astype("float64"))
    rows = merged.set_index("deployment")

    def value(name: str, which: str) -> float:
        return float(rows.at[which, name]) if which in rows.index and pd.notna(rows.at[which, name]) else np.nan

    table = pd.DataFrame([
        {"measure": label, deployment: value(name, deployment), against: value(name, against), "name": name,
         "higher_is_worse": worse}
        for name, label, worse in _COMPARED
    ]) if deployment != against else pd.DataFrame()
    if table.empty:
        return table
    table["change"] = table[deployment] / table[against] - 1
    table["worse"] = np.where(table["higher_is_worse"], table["change"] > 0.05, False)
    return table
