"""Demo logs of an Azure ML managed online endpoint: the fraud-scorer service's own endpoint logs.

The endpoint `fraud-scorer` runs two deployments. `blue` is the one App Insights knows (its
instances are fraud-scorer's `cloud_RoleInstance`s); `green` is a new model version rolled out
during the week by traffic shifts:

| from (share of the data's span) | blue | green | what happened |
|---|---|---|---|
| 0      | 100 % | –    | |
| 0.25   | 100 % | 0 %  | green created (Pulled, Created, Started on both its instances) |
| 0.40   | 90 %  | 10 % | first shift |
| 0.55   | 50 %  | 50 % | |
| 0.70   | 20 %  | 80 % | |

Green is slower (its model takes ~1.8x blue's time plus 15 ms, and returns bigger answers with
explanations) and fails more: 3 % of its requests get 424 (the model answered 500: ModelStatusCode
500). On the day at 0.75 of the span, at 14:30 UTC, one green instance is restarted by its liveness probe
(LivenessProbeFailed x3, Killing, BackOff x6 over ten minutes, Pulled, Created, Started,
ReadinessProbeFailed x2): from 90 s before the kill to 13 min after it, half of green's
requests (the crashing instance's) get 502 and the rest take four times as long. At green's busy hours a few requests get 429 (more requests pending
than 2 x max_concurrent_requests_per_instance x instances).

AmlOnlineEndpointTrafficLog: one row a request. The endpoint's requests are fraud-scorer's App
Insights POST /score events: a stored (sampled) row stands for `itemCount` requests; the first of
them is the stored row itself (XRequestId = its operation_Id written as a UUID, the id the
inference server reports), the others get their own ids. Codes follow App Insights' where the
request went to blue: 200 -> 200; 400 and 500 -> 424 with ModelStatusCode 400 / 500 (the model's
own answer); 502, 503 -> the same; 504 -> 408 (the endpoint's request timeout, 5 s). Durations are
cumulative marks from the request's start, as the table reference defines them: RequestDurationMs
(last request byte received) <= ResponseDurationMs (first byte from the model) <= TotalDurationMs
(last byte sent); throttling delays are part of the upload and download.

App Insights' fraud-scorer rows keep naming blue's instances whichever deployment served them
(that generator knows one deployment): the endpoint's logs say which one did.

AmlOnlineEndpointConsoleLog: one line a request printed by score.py (`<request id> scored …`),
the inference server's start-up lines at every container start, and the MemoryError traceback
before the restart. AmlOnlineEndpointEventLog: container starts (blue restarts when App Insights'
fraud-scorer instances do) and green's creation and restart above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ENDPOINT",
    "GREEN_CREATED",
    "GREEN_RESTART",
    "RESTART_INSTANCE",
    "TRAFFIC_SHIFTS",
    "endpoint_logs",
    "green_share",
]

ENDPOINT: Final = "fraud-scorer"
_RESOURCE: Final = ("/SUBSCRIPTIONS/7C2B1E4A-0000-4000-8000-000000000000/RESOURCEGROUPS/ML-SERVING/PROVIDERS/"
                    "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/MLW-CONTOSO-PROD/ONLINEENDPOINTS/FRAUD-SCORER")
_TENANT: Final = "72f988bf-0000-4000-8000-00000000c0de"
_IMAGE: Final = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:20241201.v1"
_CONTAINER: Final = "inference-server"
_WORKSPACE_ID: Final = "3b6f9a2c-5d4e-4f10-9a8b-7c6d5e4f3a2b"
# (share of the span, green's share of traffic from then on)
TRAFFIC_SHIFTS: Final = ((0.40, 0.10), (0.55, 0.50), (0.70, 0.80))
GREEN_CREATED: Final = 0.25
GREEN_RESTART: Final = 0.75  # on that day at 14:30 UTC, a busy hour (or there, when the data ends sooner)
_RESTART_HOUR_US: Final = int(14.5 * 3_600_000_000)
_DAY_US: Final = 86_400_000_000
BLUE: Final = ("fraud-scorer-blue-5c8d9f7b6-2xj9k", "fraud-scorer-blue-5c8d9f7b6-qx2lm")  # App Insights' instances
GREEN: Final = ("fraud-scorer-green-7f6d5c4b3-8hz2w", "fraud-scorer-green-7f6d5c4b3-r4t6y")
RESTART_INSTANCE: Final = GREEN[1]
_BEFORE_KILL_US: Final = 90_000_000
_AFTER_KILL_US: Final = 780_000_000  # crash-looping, then ready 13 min after the kill
_BACKOFF_S: Final = (10, 30, 70, 150, 310, 630)  # Kubernetes doubles the wait between restarts
_TIMEOUT_MS: Final = 5_000
_USER_AGENTS: Final = ("python-requests/2.32.3", "azure-ai-ml/1.21.1 azsdk-python-core/1.32.0 Python/3.11.9",
                       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1")
_REASONS: Final = {200: "OK", 408: "Request Timeout", 424: "Failed Dependency", 429: "Too Many Requests",
                   502: "Bad Gateway", 503: "Service Unavailable"}
_MODEL_REASONS: Final = {0: "", 200: "OK", 400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}


def green_share(fraction: np.ndarray) -> np.ndarray:
    """Green's share of the traffic at `fraction` of the data's span."""
    share = np.zeros(len(fraction))
    for at, value in TRAFFIC_SHIFTS:
        share = np.where(fraction >= at, value, share)
    return share


@dataclass(frozen=True)
class _Span:
    start_us: int
    end_us: int

    def at(self, fraction: float) -> int:
        return self.start_us + int((self.end_us - self.start_us) * fraction)

    def restart(self) -> int:
        """When green's instance is killed."""
        at = self.at(GREEN_RESTART)
        busy = at - at % _DAY_US + _RESTART_HOUR_US
        return busy if self.start_us <= busy < self.end_us - _AFTER_KILL_US else at

    def fraction(self, t_us: np.ndarray) -> np.ndarray:
        return (t_us - self.start_us) / (self.end_us - self.start_us)


def endpoint_logs(
    start_us: int, end_us: int, t0: int, t1: int, requests: pa.Table, blue_starts: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, pa.Table]:
    """The three endpoint tables for [t0, t1) of data spanning [start_us, end_us).

    `requests`: the chunk's App Insights request rows of every service (fraud-scorer's POST /score
    ones are the endpoint's); `blue_starts`: fraud-scorer's (instance, t_us) container starts."""
    span = _Span(start_us, end_us)
    traffic, console = _traffic(span, requests, rng)
    events, startup_console = _container_events(span, t0, t1, blue_starts)
    return {
        "AmlOnlineEndpointTrafficLog": traffic,
        "AmlOnlineEndpointConsoleLog": pa.concat_tables([console, startup_console]),
        "AmlOnlineEndpointEventLog": events,
    }


# --- traffic ---------------------------------------------------------------------------------


def _uuid_text(hex32: pa.Array) -> pa.Array:
    h = hex32
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(h, 0, 8), pc.utf8_slice_codeunits(h, 8, 12), pc.utf8_slice_codeunits(h, 12, 16),
        pc.utf8_slice_codeunits(h, 16, 20), pc.utf8_slice_codeunits(h, 20, 32), "-")


def _random_uuids(rng: np.random.Generator, n: int) -> pa.Array:
    from telemetry.demo import _uuids  # the demo's vectorized ids (imported late: that module imports this one)

    return _uuids(rng, n)


def _labels(codes: np.ndarray, names: dict[int, str]) -> pa.Array:
    """Each code's name, as a dictionary column (vectorized: millions of rows at the 10M demo)."""
    keys = np.array(sorted(names))
    return pa.DictionaryArray.from_arrays(pa.array(np.searchsorted(keys, codes).astype(np.int32)),
                                          pa.array([names[int(k)] for k in keys], pa.string()))


def _traffic(span: _Span, requests: pa.Table, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    mine = requests.filter(pc.and_(pc.equal(requests["cloud_RoleName"], ENDPOINT),
                                   pc.equal(requests["operation_Name"], "POST /score")))
    rows = mine.num_rows
    counts = mine["itemCount"].to_numpy(zero_copy_only=False).astype(np.int64)
    n = int(counts.sum())
    row_of = np.repeat(np.arange(rows), counts)
    first = np.zeros(n, bool)
    first[np.cumsum(counts) - counts] = True
    stored_at = (mine["timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False)
                 if rows else np.zeros(0, np.int64))
    t_us = stored_at[row_of] + np.where(first, 0, rng.integers(-20_000_000, 20_000_000, n))
    t_us = np.clip(t_us, span.start_us, span.end_us - 1)
    ai_code = pc.cast(mine["resultCode"], pa.string()).to_numpy(zero_copy_only=False).astype(object)[row_of] \
        if rows else np.zeros(0, object)
    ai_ms = mine["duration"].to_numpy(zero_copy_only=False)[row_of] if rows else np.zeros(0)
    op_ids = mine["operation_Id"].cast(pa.string()).take(pa.array(row_of)) if rows else pa.array([], pa.string())

    green = rng.random(n) < green_share(span.fraction(t_us))
    model_ms = np.where(first, ai_ms, ai_ms * np.exp(0.25 * rng.standard_normal(n)))
    model_ms = np.where(green, model_ms * 1.8 + 15, model_ms)
    code = np.full(n, 200, np.int64)
    model_code = np.full(n, 200, np.int64)
    for ai, (platform, model) in {"400": (424, 400), "500": (424, 500), "502": (502, 0), "503": (503, 503),
                                  "504": (408, 0)}.items():
        hit = ai_code == ai
        code[hit], model_code[hit] = platform, model
    green_fails = green & (code == 200) & (rng.random(n) < 0.03)
    code[green_fails], model_code[green_fails] = 424, 500
    kill = span.restart()
    restarting = green & (t_us >= kill - _BEFORE_KILL_US) & (t_us < kill + _AFTER_KILL_US)
    down = restarting & (code == 200) & (rng.random(n) < 0.5)  # the instance's half of green's traffic
    code[down], model_code[down] = 502, 0
    model_ms = np.where(restarting, model_ms * 4, model_ms)  # the other instance takes it all, and queues
    hours = (t_us % _DAY_US) / 3.6e9
    busy = green & (span.fraction(t_us) >= TRAFFIC_SHIFTS[-1][0]) & (np.abs(hours - 15) < 2.5)
    pending = busy & (code == 200) & (rng.random(n) < 0.02)
    code[pending], model_code[pending] = 429, 0

    request_size = np.rint(np.exp(rng.normal(np.log(850), 0.25, n))).astype(np.int64)
    batch = rng.random(n) < 0.01
    request_size[batch] *= rng.integers(10, 40, int(batch.sum()))
    response_size = np.where(green, rng.integers(560, 700, n), rng.integers(95, 140, n))
    upload = 1 + request_size / 4_000 + np.abs(rng.normal(0, 0.6, n))
    request_throttle = np.where(rng.random(n) < 0.02, np.exp(rng.normal(np.log(40), 0.5, n)), 0.0)
    response_throttle = np.where(rng.random(n) < 0.01, np.exp(rng.normal(np.log(30), 0.5, n)), 0.0)
    no_model = np.isin(code, (429, 502)) & (model_code == 0)
    model_ms = np.where(no_model, rng.uniform(0.2, 1.5, n), model_ms)
    request_ms = np.rint(upload + request_throttle)
    response_ms = np.rint(request_ms + 1 + model_ms)
    timed_out = code == 408
    response_ms = np.where(timed_out, _TIMEOUT_MS + rng.integers(0, 15, n), response_ms)
    response_size = np.where(np.isin(code, (408, 429, 502, 503)), rng.integers(60, 90, n), response_size)
    total_ms = np.rint(response_ms + response_throttle + 1 + response_size / 20_000)

    request_id = pc.if_else(pa.array(first), _uuid_text(op_ids), _random_uuids(rng, n))
    client_sent = rng.random(n) < 0.6
    client_id = pc.if_else(pa.array(client_sent), _random_uuids(rng, n), pa.scalar("", pa.string()))
    deployment = np.where(green, "green", "blue").astype(object)
    order = np.argsort(t_us, kind="stable")

    def take(values: np.ndarray | pa.Array, kind: pa.DataType | None = None) -> pa.Array:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return values.take(pa.array(order))
        return pa.array(np.asarray(values)[order], kind)

    times = pa.array(t_us[order].astype("datetime64[us]"))
    traffic = pa.table({
        **_standard("AmlOnlineEndpointTrafficLog", n),
        "TimeGenerated": times,
        "OperationName": _repeat("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score", n),
        "DeploymentName": take(deployment, pa.string()),
        "AuthType": _repeat("Key", n),
        "AzureMLWorkspaceId": _repeat(_WORKSPACE_ID, n),
        "AzureMLWorkspaceName": _repeat("mlw-contoso-prod", n),
        "EndpointName": _repeat(ENDPOINT, n),
        "IdentityData": _repeat("", n),
        "Location": _repeat("westeurope", n),
        "Method": _repeat("POST", n),
        "ModelStatusCode": take(model_code.astype(np.int32)),
        "ModelStatusReason": _labels(model_code[order], _MODEL_REASONS),
        "Path": _repeat("/score", n),
        "Protocol": _repeat("HTTP/1.1", n),
        "RequestDurationMs": take(request_ms.astype(np.int32)),
        "RequestPayloadSize": take(request_size.astype(np.int32)),
        "RequestThrottlingDelayMs": take(np.rint(request_throttle).astype(np.int32)),
        "ResponseCode": take(code.astype(np.int32)),
        "ResponseCodeReason": _labels(code[order], _REASONS),
        "ResponseDurationMs": take(response_ms.astype(np.int32)),
        "ResponsePayloadSize": take(response_size.astype(np.int32)),
        "ResponseThrottlingDelayMs": take(np.rint(response_throttle).astype(np.int32)),
        "TotalDurationMs": take(total_ms.astype(np.int32)),
        "UserAgent": take(np.array(_USER_AGENTS, object)[rng.integers(0, 3, n)], pa.string()),
        "XMSClientRequestId": take(client_id),
        "XRequestId": take(request_id),
    })
    # score.py prints one line a request it scored, with the request id it read from the headers.
    scored = (model_code[order] == 200) | (model_code[order] == 500)
    instance = np.where(green, np.array(GREEN, object)[rng.integers(0, 2, n)],
                        np.array(BLUE, object)[rng.integers(0, 2, n)])[order]
    proba = rng.beta(1.2, 30, n)[order]
    line = pc.binary_join_element_wise(
        traffic["XRequestId"],
        pa.array(np.where(model_code[order] == 500, " failed: ValueError: feature 'amount' is NaN",
                          " scored: fraud_probability=").astype(object), pa.string()),
        pa.array(np.where(model_code[order] == 500, "", np.char.mod("%.4f", proba)).astype(object), pa.string()), "")
    keep = pa.array(scored)
    console = _console(times.filter(keep), pa.array(deployment[order], pa.string()).filter(keep),
                       pa.array(instance, pa.string()).filter(keep), line.filter(keep))
    return traffic, console


def _repeat(value: str, n: int) -> pa.Array:
    """A constant column, dictionary-encoded (DuckDB reads it as VARCHAR): cheap at millions of rows."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))


def _standard(table: str, n: int) -> dict[str, pa.Array]:
    return {"TenantId": _repeat(_TENANT, n), "SourceSystem": _repeat("Azure", n),
            "Type": _repeat(table, n), "_ResourceId": _repeat(_RESOURCE, n),
            "_SubscriptionId": _repeat("7c2b1e4a-0000-4000-8000-000000000000", n)}


def _console(times: pa.Array, deployment: pa.Array, instance: pa.Array, message: pa.Array) -> pa.Table:
    n = len(times)
    return pa.table({
        **_standard("AmlOnlineEndpointConsoleLog", n),
        "TimeGenerated": times,
        "OperationName": _repeat("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/console", n),
        "DeploymentName": deployment,
        "ContainerImageName": _repeat(_IMAGE, n),
        "ContainerName": _repeat(_CONTAINER, n),
        "InstanceId": instance,
        "Message": message,
    })


# --- container life cycle --------------------------------------------------------------------

_STARTED: Final = (
    ("Pulled", f'Container image "{_IMAGE}" already present on machine', 0),
    ("Created", f"Created container {_CONTAINER}", 1_200_000),
    ("Started", f"Started container {_CONTAINER}", 1_900_000),
)
_START_LINES: Final = (
    ("Azure ML Inferencing HTTP server v1.5.1", 3_000_000),
    ("Server Settings: Entry Script Name: /var/azureml-app/onlinescoring/score.py", 3_100_000),
    ("Initializing logger", 3_200_000),
    ("Loading model fraud-gbm from /var/azureml-app/azureml-models/fraud-gbm/12/model.joblib", 3_400_000),
    ("Scoring Timer is set to 3600.0 seconds", 5_600_000),
    ("Listening at: http://0.0.0.0:31311 (9)", 5_800_000),
)


def _green_timeline(span: _Span) -> list[tuple[int, str, str, str]]:
    """(t_us, instance, event name, message) of green's creation and restart."""
    rows: list[tuple[int, str, str, str]] = []
    created = span.at(GREEN_CREATED)
    for i, instance in enumerate(GREEN):
        rows += [(created + i * 4_000_000 + dt, instance, name, msg) for name, msg, dt in _STARTED]
    kill = span.restart()
    probe = "HTTP probe failed with statuscode: 502 (GET http://10.0.2.7:31311/)"
    rows += [(kill - 30_000_000 + k * 10_000_000, RESTART_INSTANCE, "LivenessProbeFailed",
              f"Liveness probe failed: {probe}") for k in range(3)]
    rows.append((kill, RESTART_INSTANCE, "Killing",
                 f"Container {_CONTAINER} failed liveness probe, will be restarted"))
    rows += [(kill + seconds * 1_000_000, RESTART_INSTANCE, "BackOff",
              f"Back-off restarting failed container {_CONTAINER} in pod {RESTART_INSTANCE}") for seconds in _BACKOFF_S]
    back = kill + 700_000_000
    rows += [(back + dt, RESTART_INSTANCE, name, msg) for name, msg, dt in _STARTED]
    rows += [(back + 5_000_000 + k * 10_000_000, RESTART_INSTANCE, "ReadinessProbeFailed",
              "Readiness probe failed: Get \"http://10.0.2.7:31311/\": dial tcp 10.0.2.7:31311: connect: "
              "connection refused") for k in range(2)]
    return rows


def _container_events(span: _Span, t0: int, t1: int, blue_starts: np.ndarray) -> tuple[pa.Table, pa.Table]:
    events: list[tuple[int, str, str, str]] = []
    for k, (instance, at) in enumerate(blue_starts.tolist()):
        name = BLUE[int(instance)]
        if k >= len(BLUE):  # a restart after the first start: the node was drained first
            events.append((at - 3_000_000, name, "Killing", f"Stopping container {_CONTAINER}"))
        events += [(at + dt, name, event, msg) for event, msg, dt in _STARTED]
    events += _green_timeline(span)
    starts = [(at, inst) for at, inst, name, _ in events if name == "Started"]
    kill = span.restart()
    lines = [(at + dt, inst, text) for at, inst in starts for text, dt in _START_LINES]
    lines += [(kill - 45_000_000, RESTART_INSTANCE, text) for text in (
        "Traceback (most recent call last):", '  File "/var/azureml-app/onlinescoring/score.py", line 41, in run',
        "    proba = model.predict_proba(data)", "MemoryError: Unable to allocate 1.52 GiB for an array")]
    events = sorted(e for e in events if t0 <= e[0] < t1 and span.start_us <= e[0] < span.end_us)
    lines = sorted(x for x in lines if t0 <= x[0] < t1 and span.start_us <= x[0] < span.end_us)
    n = len(events)
    event_table = pa.table({
        **_standard("AmlOnlineEndpointEventLog", n),
        "TimeGenerated": pa.array(np.array([e[0] for e in events], np.int64).astype("datetime64[us]")),
        "OperationName": _repeat("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/events", n),
        "DeploymentName": pa.array([_deployment(e[1]) for e in events], pa.string()),
        "InstanceId": pa.array([e[1] for e in events], pa.string()),
        "Message": pa.array([e[3] for e in events], pa.string()),
        "Name": pa.array([e[2] for e in events], pa.string()),
    })
    console = _console(pa.array(np.array([x[0] for x in lines], np.int64).astype("datetime64[us]")),
                       pa.array([_deployment(x[1]) for x in lines], pa.string()),
                       pa.array([x[1] for x in lines], pa.string()), pa.array([x[2] for x in lines], pa.string()))
    return event_table, console


def _deployment(instance: str) -> str:
    return "green" if instance in GREEN else "blue"
