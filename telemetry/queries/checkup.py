"""Telemetry check-up: per service, who writes its telemetry and what is wrong with it, each finding
with its fix in one sentence.

Three passes, one per table, grouped by service (requests also by writer and by whose values the
row holds, `telemetry.derived.REQ_VALUES`):

    writer       the SDK in `sdkVersion` ("oc" OpenCensus, "otel" OpenTelemetry…) and whether the
                 rows carry Azure ML inference server's own values (1.4.x writes through
                 OpenCensus, 1.5.x through the OpenTelemetry exporters)
    sampling     itemCount above 1: each stored row stands for that many events
    disagreement requests whose standard columns say another code, outcome or duration than the
                 server recorded: every chart on the standard columns is wrong for them
    links        traces and exceptions that name no request (no operation_Id, no Request Id)
    payloads     inputs and predictions logged (model_data_collection, JSON prints, responses)
    truncation   properties at 8,192 characters and messages at 32,768: App Insights cut them
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

from telemetry.derived import REQ_VALUES
from telemetry.model import (
    AllOf,
    AnyOf,
    Column,
    Contains,
    Earliest,
    Equals,
    Failed,
    InOperationsOf,
    ItemCount,
    Latest,
    LengthAtLeast,
    PanelFactory,
    Property,
    Query,
    Summary,
)
from telemetry.payloads import MESSAGE_LIMIT, PROPERTY_LIMIT

__all__ = ["EXCEPTIONS", "Finding", "PANELS", "REQUESTS", "TRACES", "ServiceCheckup", "checkups", "page_view", "writer_of"]

_SERVICE: Final = Column("cloud_RoleName", "service")
_PROPS: Final = "customDimensions"
_CUT_PROPERTIES: Final = ("Contents", "Content", "Input", "Prediction", "custom_dimensions")

REQUESTS: Final = Summary(
    name="checkup.requests",
    table="requests",
    measures=(ItemCount("requests"), ItemCount("failed", Failed()), Earliest("min_item_count", "itemCount"),
              Latest("max_item_count", "itemCount"),
              ItemCount("responses", LengthAtLeast(Property(_PROPS, "Response Value"), 1)),
              ItemCount("responses_at_limit", LengthAtLeast(Property(_PROPS, "Response Value"), PROPERTY_LIMIT))),
    by=(_SERVICE, Column("sdkVersion", "sdk"), Column(REQ_VALUES, "values")),
    order_by=(("service", "asc"), ("requests", "desc")),
    limit=2_000,
    description="Requests per service, SDK version and whose values the row holds (standard columns only, or the "
                "inference server's own, agreeing or not with the standard columns), with the itemCount range and "
                "logged responses.",
)

# Linked: the request the row names is one of the range's (a process-wide operation_Id is none).
_OF_A_REQUEST: Final = InOperationsOf("requests")
# A JSON print with an input: in Contents (classic), or the message itself (azmlinfsrv's print logger).
_PRINTED_JSON: Final = AnyOf((AllOf((Equals("message", "STDOUT"), Contains(Property(_PROPS, "Contents"), '"input"'))),
                              Contains("message", '"input"')))

TRACES: Final = Summary(
    name="checkup.traces",
    table="traces",
    measures=(ItemCount("traces"), ItemCount("linked", _OF_A_REQUEST),
              ItemCount("collected", Equals("message", "model_data_collection")),
              ItemCount("printed_json", _PRINTED_JSON),
              ItemCount("at_limit", AnyOf(tuple(LengthAtLeast(Property(_PROPS, key), PROPERTY_LIMIT)
                                                for key in _CUT_PROPERTIES))),
              ItemCount("message_at_limit", LengthAtLeast("message", MESSAGE_LIMIT))),
    by=(_SERVICE,),
    order_by=(("service", "asc"),),
    limit=1_000,
    description="Traces per service: those naming a request of the range (by operation_Id, else a Request Id "
                "property), model data "
                "collection rows, JSON prints with an input, and those cut at App Insights' size limits.",
)

EXCEPTIONS: Final = Summary(
    name="checkup.exceptions",
    table="exceptions",
    measures=(ItemCount("exceptions"), ItemCount("linked", _OF_A_REQUEST),
              ItemCount("message_at_limit", LengthAtLeast("outerMessage", MESSAGE_LIMIT))),
    by=(_SERVICE,),
    order_by=(("service", "asc"),),
    limit=1_000,
    description="Exceptions per service: those naming a request of the range, and those whose message was cut at 32,768 characters.",
)

PANELS: Final[dict[str, PanelFactory]] = {q.name: (lambda q=q: q) for q in (REQUESTS, TRACES, EXCEPTIONS)}


def page_view() -> list[Query]:
    return [REQUESTS, TRACES, EXCEPTIONS]


# --- findings ---------------------------------------------------------------------------------

Level = Literal["ok", "info", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    level: Level
    title: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ServiceCheckup:
    service: str
    writers: list[tuple[str, float]]  # writer, share of the service's requests
    findings: list[Finding]


_SDK_VERSION: Final = re.compile(r"(?P<name>[a-z]+)(?P<version>\d[\w.\-]*)")


def _versions(sdk: str) -> dict[str, str]:
    """"py3.10.14:otel1.33.0:ext1.0.0b40" -> {"py": "3.10.14", "otel": "1.33.0", "ext": "1.0.0b40"}."""
    found: dict[str, str] = {}
    for part in sdk.split(":"):
        match = _SDK_VERSION.search(part.split("_")[-1].split("-")[-1])
        if match:
            found.setdefault(match["name"], match["version"])
    return found


def writer_of(sdk: str, server: bool) -> str:
    """Who wrote a row, from its sdkVersion and whether it carries the inference server's own values."""
    versions = _versions(sdk)
    if server and "otel" in versions:
        return f"Azure ML inference server 1.5.x (OpenTelemetry {versions['otel']}, exporter {versions.get('ext', '?')})"
    if server and "oc" in versions:
        return f"Azure ML inference server 1.4.x or older (OpenCensus {versions['oc']})"
    if server:
        return f"Azure ML inference server ({sdk})"
    if "otel" in versions:
        return f"OpenTelemetry with the Azure Monitor exporter or distro (OpenTelemetry {versions['otel']})"
    if "oc" in versions:
        return f"OpenCensus (opencensus-ext-azure {versions.get('ext', '?')})"
    return f"Application Insights SDK ({sdk})" if sdk else "unknown (no sdkVersion)"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _one(service: str, requests: pd.DataFrame, traces: pd.Series | None, exceptions: pd.Series | None) -> ServiceCheckup:
    findings: list[Finding] = []
    total = float(requests["requests"].sum())
    server_rows = requests[requests["values"] != "standard"]
    by_writer = requests.assign(writer=[writer_of(str(s), v != "standard")
                                        for s, v in zip(requests["sdk"].fillna(""), requests["values"], strict=True)])
    writers = by_writer.groupby("writer")["requests"].sum().sort_values(ascending=False)
    shares = [(str(name), float(count) / total if total else 0.0) for name, count in writers.items()]
    if len(shares) > 1:
        findings.append(Finding("info", "Several writers", "Requests came from " + "; ".join(
            f"{name} ({share:.1%})" for name, share in shares) + ": a redeploy or a mixed fleet.",
            "Nothing to do if the older one is gone; otherwise expect each writer's gaps below on its share."))
    disagree = float(requests.loc[requests["values"] == "server_disagrees", "requests"].sum())
    if len(server_rows):
        server_total = float(server_rows["requests"].sum())
        findings.append(Finding(
            "problem" if disagree else "ok", "Standard columns vs the server's own values",
            f"{_share(disagree, server_total)} of the requests the inference server wrote have a resultCode, success or "
            "duration that disagrees with what the server recorded in customDimensions (it writes resultCode \"0\", "
            "success True, and under 1.5.x a duration of ~0 ms). This dashboard reads the server's values; App "
            "Insights' own charts, Workbooks, Grafana and alerts on the requests table do not.",
            "Chart and alert on customDimensions.resultCode, .success and .duration (copy this dashboard's KQL), "
            "until microsoft/azureml-inference-server#111 is fixed."))
    low, high = int(requests["min_item_count"].min()), int(requests["max_item_count"].max())
    if high > 1:
        findings.append(Finding(
            "info", "Sampled", f"Each stored request stands for {low}–{high} requests (itemCount), so "
            f"{100 / high:.0f}–{100 / low:.0f} % of them are kept. Counts and percentiles here weigh itemCount, so they "
            "are right; single requests you look for may not have been kept.",
            "Raise the sampling percentage (or exclude requests from adaptive sampling) if you need every request."))
    else:
        findings.append(Finding("ok", "Not sampled", "Every request is stored (itemCount 1)."))
    for kind, row in (("traces", traces), ("exceptions", exceptions)):
        if row is None or not row[kind]:
            continue
        unlinked = float(row[kind] - row["linked"])
        why = (" The inference server's prints and its own error traces carry neither." if len(server_rows)
               else " Start-up logs (model loading) have no request by nature.")
        if unlinked:
            findings.append(Finding(
                "warning" if unlinked > 0.05 * row[kind] else "info", f"{kind.capitalize()} without a request",
                f"{_share(unlinked, row[kind])} of {kind} name no request of the range (by operation_Id or a "
                f"Request Id property): the end-to-end view cannot show them with their request.{why}",
                "Print the request id (the x-request-id header) with what run() prints, or log through the "
                "azmlinfsrv logger with extra={'custom_dimensions': {'Request Id': …}}." if len(server_rows) else
                "Log inside the request's span (OpenTelemetry) so traces carry its operation_Id."))
        else:
            findings.append(Finding("ok", f"{kind.capitalize()} linked", f"Every one of the {kind} names its request."))
    collected = float(traces["collected"]) if traces is not None else 0.0
    printed = float(traces["printed_json"]) if traces is not None else 0.0
    if collected or printed:
        findings.append(Finding("ok", "Inputs and predictions are logged",
                                f"{collected:,.0f} model data collection rows and {printed:,.0f} JSON prints with "
                                "an input: the Payloads view of the trace explorer tabulates them."))
    elif len(server_rows):
        findings.append(Finding(
            "warning", "Inputs and predictions are not logged",
            "No model_data_collection traces: the inference server sends them only when model data collection "
            "storage is on.",
            "Set AML_MDC_STORAGE_ENABLED=true in the deployment's environment variables (AML_MODEL_DC_STORAGE_ENABLED, "
            "which the docs name, did not turn it on in 1.4.1 or 1.5.1)."))
    else:
        findings.append(Finding(
            "warning", "Inputs and predictions are not logged", "No JSON print with an input and no model data "
            "collection rows.", 'Print one JSON line per call from run(), e.g. {"input": …, "output": …}.'))
    responses = float(requests["responses"].sum())
    if responses:
        findings.append(Finding(
            "info", "Responses are logged", f"{_share(responses, total)} of requests carry their response in "
            "`Response Value` (the inference server logs it by default).",
            "Set APP_INSIGHTS_LOG_RESPONSE_ENABLED=false if responses hold personal data."))
    cut = float(requests["responses_at_limit"].sum()) + (float(traces["at_limit"]) if traces is not None else 0.0)
    cut_messages = sum(float(r["message_at_limit"]) for r in (traces, exceptions) if r is not None)
    if cut or cut_messages:
        findings.append(Finding(
            "warning", "Cut at App Insights' size limits",
            f"{cut:,.0f} payload properties reached {PROPERTY_LIMIT:,} characters and {cut_messages:,.0f} messages "
            f"reached {MESSAGE_LIMIT:,}: App Insights cut them, so their JSON no longer parses.",
            "Log a summary or a sample of big inputs (shape, a few rows) instead of the whole payload."))
    return ServiceCheckup(service, shares, findings)


def checkups(requests: pd.DataFrame, traces: pd.DataFrame, exceptions: pd.DataFrame) -> list[ServiceCheckup]:
    """One check-up per service that reported requests, busiest first."""
    trace_rows = {str(r["service"]): r for _, r in traces.iterrows()}
    exception_rows = {str(r["service"]): r for _, r in exceptions.iterrows()}
    order = requests.groupby("service")["requests"].sum().sort_values(ascending=False)
    return [_one(str(service), requests[requests["service"] == service], trace_rows.get(str(service)),
                 exception_rows.get(str(service))) for service in order.index]
