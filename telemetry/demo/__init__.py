"""Deterministic, realistic demo telemetry of ML scoring services, in the classic App Insights tables.

    generate(requests_per_day=20_000, days=7, end=None, seed=42)  -> (table, pyarrow.Table) batches
    build_demo_store(path, ...)                                    -> build_store(path, generate(...))

Data covers [end - days, end); `end` defaults to now (UTC) floored to the minute. The same seed and
end give the same rows. Rows are made a chunk at a time (whole days split into 1, 2, 3, 4, 6, 8, 12
or 24 chunks of at most ~125k requests), vectorized with numpy and pyarrow compute; each chunk and
service draws from its own generator, keyed by (seed, chunk start, chunk length, service).

Services (`cloud_RoleName`), all in workspace "mlw-contoso-prod":

| service          | hosted on                 | instances | scoring rows | itemCount | p50 POST /score |
|------------------|---------------------------|-----------|--------------|-----------|-----------------|
| churn-regressor  | AKS (3 pods)              | 3         | 45 %         | 1         | ~40 ms          |
| image-classifier | ACI (older deployment)    | 1         | 15 %         | 1         | ~180 ms         |
| fraud-scorer     | Azure ML online endpoint  | 2         | 40 %         | 2, 4 or 5 | ~25 ms          |

A fourth service, credit-scorer (~6 % of requests), is written the way Azure ML's inference server
writes: its true status, outcome and duration hidden in the properties (`inference_server.py`).

fraud-scorer is SAMPLED (adaptive sampling): each stored row stands for `itemCount` events, 2 at
night, 4 by day, 5 at the daily peak; its dependencies, traces and exceptions carry their request's
itemCount. `requests_per_day` counts stored request rows (roughly; Poisson noise, weekends at 65 %).

requests: `POST /score` (~92 % of rows, diurnal sine peaking 15:00 UTC, with noise), `GET /`
health probes (~8 %: a regular probe per instance, its interval scaled to the volume: ~5 min at
20k rows/day, ~4.5 s at 1.43M), `GET /swagger.json` (rare). `name` == `operation_Name`,
`operation_ParentId` == `operation_Id` (a root), `success` the string "True"/"False" (False for
resultCode >= 400), resultCode "200", "400", "500", "502", "503" or "504". A scoring request's
duration is its dependency calls plus log-normal model compute with a small heavy tail; 504s last
~60 s (the AKS scoring timeout), 502/503 a few ms and call nothing.

Incident (see `incident_window`): churn-regressor, 90 minutes starting 30 hours before `end`
(for days=1: 12 h 45 min before), ramping in over 10 min and out over 15 min. At its plateau
POST /score latency is ~x5, ~30 % of requests fail (500 with MemoryError / RuntimeError
exceptions, 502, 503, 504), feature-store timeouts rise from 1 % to 8 %, health probes fail 503,
and each pod restarts once (model download + "model initialized" again).

dependencies: at each instance start (data start, a restart most days, the incident) an "Azure blob"
download of the model from mlstore123.blob.core.windows.net (seconds). Per scoring request
(not 502/503): churn and fraud call the feature store (type "HTTP", target
"features.contoso.internal", 1 % timeouts as resultCode "504" after ~2 s, then one retry; both
failing makes the request a 500 with a ReadTimeout exception; 0.3 % "404"); churn then runs a
"SQL" query on "tcp:sql-ml.database.windows.net | featuresdb" (resultCode "0", 0.2 % "1205");
image-classifier fetches the image by URL from contosoimages.blob.core.windows.net ("404" ->
a 500 with an HTTPError). Child rows carry the request's operation_Id and operation_Name, and
operation_ParentId = the request's id. Start-up rows have empty operation fields.

exceptions: one per 400 (bad input, "ValueError: Expected 2D array, got 1D array instead: array=[...]";
handled) and per 500; problemId "<type> at score.run", severityLevel 3, outer/innermost columns
(a ReadTimeout wraps urllib3's ReadTimeoutError), `details` the JSON list App Insights shows
([{"id", "outerId", "type", "message", "hasFullStack", "parsedStack": [frames], "rawStack":
"<the readable Python traceback>"}]). Messages are cut at 32,768 characters as App Insights does:
~5 % of bad inputs carry a huge array, so their messages are exactly 32,768 characters.

traces (all message "STDOUT": what score.py prints, the text in customDimensions.Contents, beside
"Container Id", "Workspace Name", "Service Name"):
  - severity 1 per successful scoring request: the JSON printed by run(), e.g.
    {"input": {"data": [[12, 70.35, 845.2, 2]]}, "output": [0.7312]} (churn),
    {"input": {"image_url": "...", "shape": [224, 224, 3]}, "output": {"label": "cat", "score": 0.91}}
    (image), {"input": {"data": [{"amount": ...}]}, "output": {"fraud_probability": ..., ...}} (fraud).
    0.4 % of churn requests are big batches and 1.5 % of image requests send an inline base64
    image: their Contents are cut at exactly 8,192 characters (App Insights' property limit), so
    they are no longer valid JSON;
  - severity 2 "WARNING: slow feature store ..., retrying" after a feature-store timeout;
  - severity 3 "Traceback (most recent call last): ..." for every request that raised;
  - severity 1 "model initialized HH:MM:SS" at each instance start (no operation).
fraud-scorer drifts (telemetry/demo/drift.py): 20 hours before the end its amounts grow x1.8, a new
country "MX" appears on 30 % of calls, and its fraud probabilities rise after them.
image-classifier, the older deployment, also logs model data collection: per successful request two
traces with message "model_data_collection" and customDimensions {"Content": <JSON of the input
or the prediction, cut at 8,192>, "Model Name": "resnet50-pets", "Model Version": "3",
"Prediction/Input": "input" | "prediction", "Request Id": <the operation_Id as a UUID>, ...}.

Column notes: ids are hex drawn from the generator (`id` 16 hex, `operation_Id` 32 hex, `itemId`
a UUID); timestamps are naive UTC microseconds; columns that would be all null are left out.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from telemetry.demo import endpoints
from telemetry.demo.drift import DRIFT_SERVICE, NEW_COUNTRY, drift_fraud, drift_start_us
from telemetry.store import build_store

__all__ = [
    "INCIDENT_LENGTH",
    "INCIDENT_SERVICE",
    "SAMPLED_SERVICE",
    "SERVICES",
    "build_demo_store",
    "generate",
    "incident_window",
]

WORKSPACE: Final = "mlw-contoso-prod"
INCIDENT_SERVICE: Final = "churn-regressor"
SAMPLED_SERVICE: Final = "fraud-scorer"
INCIDENT_LENGTH: Final = timedelta(minutes=90)
_INCIDENT_BEFORE_END: Final = timedelta(hours=30)
_RAMP_IN_US: Final = 10 * 60_000_000
_RAMP_OUT_US: Final = 15 * 60_000_000

_MIN_US: Final = 60_000_000
_DAY_US: Final = 86_400_000_000
_CHUNK_REQUESTS: Final = 125_000
_SCORING_SHARE: Final = 0.92
_PROBE_SHARE: Final = 0.08
_SWAGGER_PER_DAY: Final = 0.0005  # of requests_per_day, spread over the services
_PROPERTY_LIMIT: Final = 8_192
_MESSAGE_LIMIT: Final = 32_768
_SCORING_TIMEOUT_MS: Final = 60_000.0

_BUCKET_EDGES: Final = np.array([250, 500, 1_000, 3_000, 7_000, 15_000, 30_000, 60_000, 120_000, 300_000], float)
_BUCKET_LABELS: Final = pa.array([
    "<250ms", "250ms-500ms", "500ms-1sec", "1sec-3sec", "3sec-7sec", "7sec-15sec", "15sec-30sec",
    "30sec-1min", "1min-2min", "2min-5min", ">=5min",
])
# result codes, request outcome categories
_CODES: Final = ["200", "400", "500", "502", "503", "504", "404", "0", "1205"]
_CODE_LABELS: Final = pa.array(_CODES)
_CODE_OK: Final = np.array([True, False, False, False, False, False, False, True, False])
C200, C400, C500, C502, C503, C504, C404, C0, C1205 = range(9)
OK, BAD, ERR, E502, E503, E504 = range(6)
_CATEGORY_CODE: Final = np.array([C200, C400, C500, C502, C503, C504])
_OPERATIONS: Final = ["POST /score", "GET /", "GET /swagger.json"]
_OP_PATHS: Final = ["/score", "/", "/swagger.json"]
_OP_LABELS: Final = pa.array(_OPERATIONS)
SCORE, HEALTH, SWAGGER = range(3)


@dataclass(frozen=True)
class _Instance:
    name: str
    ip: str
    container_id: str


@dataclass(frozen=True)
class _Service:
    name: str
    hosted_on: str
    instances: tuple[_Instance, ...]
    share: float  # of scoring rows
    sampled: bool
    compute_ms: float  # median model compute
    compute_sigma: float
    error_rates: tuple[float, float, float, float, float]  # 400, 500, 502, 503, 504
    feature_store: str | None  # feature store path, e.g. "customer"
    sql: bool
    image_blob: bool
    data_collection: bool
    model_name: str
    model_version: str
    model_blob: str
    model_seconds: float  # median model download
    sdk_version: str
    app_name: str
    app_id: str
    ikey: str
    python: str


def _container(name: str) -> str:
    """A Docker-style container id, fixed per instance."""
    return hashlib.sha256(name.encode()).hexdigest()


SERVICES: Final[tuple[_Service, ...]] = (
    _Service(
        name="churn-regressor", hosted_on="AKS",
        instances=(
            _Instance("churn-regressor-7d9f8c6b5-x2k4q", "10.244.1.17", _container("churn-regressor-7d9f8c6b5-x2k4q")),
            _Instance("churn-regressor-7d9f8c6b5-m8n2p", "10.244.2.9", _container("churn-regressor-7d9f8c6b5-m8n2p")),
            _Instance("churn-regressor-7d9f8c6b5-t7wz5", "10.244.0.23", _container("churn-regressor-7d9f8c6b5-t7wz5")),
        ),
        share=0.45, sampled=False, compute_ms=22.0, compute_sigma=0.35,
        error_rates=(0.006, 0.0015, 0.0003, 0.0005, 0.0003),
        feature_store="customer", sql=True, image_blob=False, data_collection=False,
        model_name="churn-regressor", model_version="7", model_blob="/models/churn/model.pkl", model_seconds=3.5,
        sdk_version="py3.8.10:oc0.11.2:ext1.1.9", app_name="mlw-contoso-prod-ai",
        app_id="6f1c2b7e-3d4a-4e5f-9a8b-0c1d2e3f4a5b", ikey="b2e4f6a8-1c3d-4e5f-8a9b-c0d1e2f3a4b5",
        python="python3.8",
    ),
    _Service(
        name="image-classifier", hosted_on="ACI",
        instances=(
            _Instance("SandboxHost-638302617540219617", "10.0.0.4", _container("SandboxHost-638302617540219617")),
        ),
        share=0.15, sampled=False, compute_ms=150.0, compute_sigma=0.30,
        error_rates=(0.003, 0.002, 0.0005, 0.001, 0.0005),
        feature_store=None, sql=False, image_blob=True, data_collection=True,
        model_name="resnet50-pets", model_version="3", model_blob="/models/resnet50/model.onnx", model_seconds=7.0,
        sdk_version="py3.7.12:oc0.7.13:ext1.0.8", app_name="mlw-contoso-prod-ai",
        app_id="6f1c2b7e-3d4a-4e5f-9a8b-0c1d2e3f4a5b", ikey="b2e4f6a8-1c3d-4e5f-8a9b-c0d1e2f3a4b5",
        python="python3.7",
    ),
    _Service(
        name="fraud-scorer", hosted_on="Azure ML online endpoint",
        instances=(
            _Instance("fraud-scorer-blue-5c8d9f7b6-2xj9k", "10.0.1.5", _container("fraud-scorer-blue-5c8d9f7b6-2xj9k")),
            _Instance("fraud-scorer-blue-5c8d9f7b6-qx2lm", "10.0.1.6", _container("fraud-scorer-blue-5c8d9f7b6-qx2lm")),
        ),
        share=0.40, sampled=True, compute_ms=12.0, compute_sigma=0.40,
        error_rates=(0.004, 0.001, 0.0002, 0.0004, 0.0002),
        feature_store="account", sql=False, image_blob=False, data_collection=False,
        model_name="fraud-gbm", model_version="12", model_blob="/models/fraud/model.joblib", model_seconds=2.0,
        sdk_version="azmon-py3.10.14:otel1.24.0:ext1.0.0b23", app_name="fraud-endpoint-ai",
        app_id="0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d", ikey="5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        python="python3.10",
    ),
)
_INCIDENT_RATES: Final = np.array([0.0, 0.16, 0.04, 0.07, 0.03])  # 400, 500, 502, 503, 504 at the plateau
_N_INSTANCES: Final = sum(len(s.instances) for s in SERVICES)
_ENDPOINT_SERVICE: Final = next(i for i, s in enumerate(SERVICES) if s.name == endpoints.ENDPOINT)

_FEATURE_HOST: Final = "features.contoso.internal"
_SQL_TARGET: Final = "tcp:sql-ml.database.windows.net | featuresdb"
_SQL_TEXT: Final = (
    "SELECT tenure, monthly_charges, total_charges, support_calls FROM dbo.customer_features "
    "WHERE customer_id = @customer_id"
)
_MODEL_STORE: Final = "mlstore123.blob.core.windows.net"
_IMAGE_STORE: Final = "contosoimages.blob.core.windows.net"
_LABELS: Final = pa.array(["cat", "dog", "rabbit", "hamster", "parrot", "goldfish"])
_MCC: Final = pa.array(["5411", "5812", "5999", "4111", "5732", "7995", "5541"])
_COUNTRIES: Final = pa.array(["US", "US", "US", "GB", "DE", "FR", "CA", "NL", "BR", "IN"])
_COUNTRIES_AFTER_DRIFT: Final = pa.concat_arrays([_COUNTRIES, pa.array([NEW_COUNTRY])])


# ---------------------------------------------------------------------------------------------
# public API


def incident_window(end: datetime, days: int) -> tuple[datetime, datetime]:
    """The incident's [start, stop) for data ending at `end` over `days` days (UTC datetimes)."""
    end = _utc(end)
    before = min(_INCIDENT_BEFORE_END, timedelta(days=days) / 2 + INCIDENT_LENGTH / 2)
    start = end - before
    return start, start + INCIDENT_LENGTH


def generate(
    *, requests_per_day: int = 20_000, days: int = 7, end: datetime | None = None, seed: int = 42
) -> Iterator[tuple[str, pa.Table]]:
    """Yield (table, rows) batches of requests, dependencies, exceptions and traces over [end - days, end)."""
    if requests_per_day <= 0 or days <= 0:
        raise ValueError("requests_per_day and days must be positive")
    if end is None:
        end = datetime.now(UTC).replace(second=0, microsecond=0)
    from telemetry.demo import inference_server  # it builds on this module's helpers

    plan = _Plan.make(requests_per_day, days, _utc(end), seed)
    span = _DAY_US // plan.chunks_per_day
    for chunk in range(days * plan.chunks_per_day):
        t0 = plan.start_us + chunk * span
        parts: dict[str, list[pa.Table]] = {t: [] for t in ("requests", "dependencies", "exceptions", "traces")}
        for si, svc in enumerate(SERVICES):
            key = (t0 // _MIN_US, span // _MIN_US, si)
            rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=key))
            for table, rows in _service_chunk(plan, si, svc, t0, t0 + span, rng).items():
                if rows.num_rows:
                    parts[table].append(rows)
        # The fraud-scorer endpoint's own logs (telemetry.demo.endpoints), from its App Insights requests.
        key = (t0 // _MIN_US, span // _MIN_US, len(SERVICES))
        logs = endpoints.endpoint_logs(
            plan.start_us, plan.end_us, t0, t0 + span, pa.concat_tables(parts["requests"], promote_options="default"),
            plan.starts[_ENDPOINT_SERVICE], np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=key)))
        parts.update({table: [rows] for table, rows in logs.items()})
        for table, rows in inference_server.chunk(plan, t0, t0 + span).items():  # the azmlinfsrv service
            if rows.num_rows:
                parts[table].append(inference_server.conform(rows, parts[table]))
        for table, tables in parts.items():
            if tables:
                yield table, pa.concat_tables(tables, promote_options="default")


def build_demo_store(
    path: Path | str, *, requests_per_day: int = 20_000, days: int = 7, end: datetime | None = None, seed: int = 42
) -> Path:
    """Build a local store of demo telemetry at `path` (atomically replacing any store there)."""
    return build_store(path, generate(requests_per_day=requests_per_day, days=days, end=end, seed=seed))


# ---------------------------------------------------------------------------------------------
# the plan: everything decided once for the whole range


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class _Plan:
    rpd: int
    seed: int
    start_us: int
    end_us: int
    chunks_per_day: int
    incident: tuple[int, int]
    probe_interval_us: int
    probe_phase_us: dict[tuple[int, int], int]
    starts: dict[int, np.ndarray]  # service -> (k, 2) [instance, t_us] instance starts

    @staticmethod
    def make(rpd: int, days: int, end: datetime, seed: int) -> _Plan:
        seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        end_us = _us(end)
        start_us = end_us - days * _DAY_US
        chunks = next(k for k in (1, 2, 3, 4, 6, 8, 12, 24) if rpd / k <= _CHUNK_REQUESTS or k == 24)
        inc_start, inc_stop = incident_window(end, days)
        interval = max(1_000_000, int(_DAY_US / max(1.0, rpd * _PROBE_SHARE / _N_INSTANCES)))
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(days, end_us // _MIN_US, 1)))
        phases: dict[tuple[int, int], int] = {}
        starts: dict[int, np.ndarray] = {}
        for si, svc in enumerate(SERVICES):
            rows: list[tuple[int, int]] = []
            for ii in range(len(svc.instances)):
                phases[(si, ii)] = int(rng.integers(0, interval))
                rows.append((ii, start_us + int(rng.integers(2_000_000, 40_000_000))))
            for day in range(1, days):  # a restart most days (node upgrade, liveness probe, redeploy)
                if rng.random() < (0.7 if len(svc.instances) > 1 else 0.4):
                    rows.append((int(rng.integers(0, len(svc.instances))),
                                 start_us + day * _DAY_US + int(rng.integers(0, _DAY_US))))
            if svc.name == INCIDENT_SERVICE:  # OOM-killed pods restart during the incident
                for ii in range(len(svc.instances)):
                    rows.append((ii, _us(inc_start) + int(rng.integers(20 * _MIN_US, 70 * _MIN_US))))
            starts[si] = np.array(sorted(rows, key=lambda r: r[1]), dtype=np.int64).reshape(-1, 2)
        return _Plan(rpd, seed, start_us, end_us, chunks, (_us(inc_start), _us(inc_stop)), interval, phases, starts)


def _diurnal(t_us: np.ndarray) -> np.ndarray:
    """Traffic shape: a daily sine peaking 15:00 UTC (0.45 .. 1.55), weekends at 65 %."""
    hours = (t_us % _DAY_US) / 3.6e9
    weekday = (t_us // _DAY_US + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return (1 + 0.55 * np.sin(2 * np.pi * (hours - 9) / 24)) * np.where(weekday >= 5, 0.65, 1.0)


def _item_count(svc: _Service, t_us: np.ndarray) -> np.ndarray:
    if not svc.sampled:
        return np.ones(len(t_us), np.int32)
    f = _diurnal(t_us)
    return np.where(f < 0.7, 2, np.where(f < 1.3, 4, 5)).astype(np.int32)


def _row_weight(svc: _Service, t_us: np.ndarray) -> np.ndarray:
    """Stored rows per unit of time: real traffic over itemCount (adaptive sampling flattens it)."""
    return _diurnal(t_us) / _item_count(svc, t_us)


_WEEK: Final = np.arange(0, 7 * _DAY_US, _MIN_US, dtype=np.int64)
_ROW_NORM: Final = {svc.name: float(_row_weight(svc, _WEEK).mean()) for svc in SERVICES}


def _intensity(plan: _Plan, svc: _Service, t_us: np.ndarray) -> np.ndarray:
    """0 outside the incident, ramping to 1 inside it (incident service only)."""
    if svc.name != INCIDENT_SERVICE:
        return np.zeros(len(t_us))
    start, stop = plan.incident
    up = np.clip((t_us - start) / _RAMP_IN_US, 0.0, 1.0)
    down = np.clip((stop - t_us) / _RAMP_OUT_US, 0.0, 1.0)
    return np.where((t_us >= start) & (t_us < stop), np.minimum(up, down), 0.0)


# ---------------------------------------------------------------------------------------------
# vectorized string helpers


_HEX: Final = np.frombuffer(b"0123456789abcdef", np.uint8)


def _fixed(chars: np.ndarray) -> pa.Array:
    """A (n, width) uint8 array of ASCII as a string array."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32) if n else np.zeros(1, np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def _hex_chars(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    out = np.empty((n, nbytes * 2), np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    return out


def _hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> pa.Array:
    return _fixed(_hex_chars(rng, n, nbytes))


def _as_uuid(hex32: np.ndarray) -> pa.Array:
    out = np.full((len(hex32), 36), ord("-"), np.uint8)
    for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        out[:, dst:dst + width] = hex32[:, src:src + width]
    return _fixed(out)


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    chars = _hex_chars(rng, n, 16)
    chars[:, 12] = ord("4")  # version 4
    chars[:, 16] = _HEX[8 + (chars[:, 16] & 3)]  # variant 10xx
    return _as_uuid(chars)


def _take(labels: pa.Array | list[str], index: np.ndarray) -> pa.Array:
    labels = labels if isinstance(labels, pa.Array) else pa.array(labels, pa.string())
    return labels.take(pa.array(np.asarray(index, dtype=np.int32)))


def _const(value: str, n: int) -> pa.Array:
    return _take([value], np.zeros(n, np.int32))


def _dict(labels: pa.Array | list[str], index: np.ndarray) -> pa.Array:
    """A dictionary-encoded column (low-cardinality text stays small in memory; DuckDB reads it as VARCHAR)."""
    labels = labels if isinstance(labels, pa.Array) else pa.array(labels, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(index, dtype=np.int32)), labels)


def _dconst(value: str, n: int) -> pa.Array:
    return _dict([value], np.zeros(n, np.int32))


def _num(values: np.ndarray, decimals: int) -> pa.Array:
    return pc.cast(pa.array(np.round(values, decimals)), pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _escaped(text: pa.Array) -> pa.Array:
    """The body of a JSON string literal (no control characters besides \\n, \\r, \\t occur)."""
    for raw, esc in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, raw, esc)
    return text


def _cut(text: pa.Array, limit: int = _PROPERTY_LIMIT) -> pa.Array:
    return pc.utf8_slice_codeunits(text, 0, limit)


def _join_lists(items: pa.Array, sizes: np.ndarray, sep: str = ", ") -> pa.Array:
    offsets = np.zeros(len(sizes) + 1, np.int32)
    np.cumsum(sizes, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), items), sep)


def _timestamps(t_us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(t_us, np.int64).astype("datetime64[us]"))


def _bucket(duration_ms: np.ndarray) -> pa.Array:
    return _dict(_BUCKET_LABELS, np.searchsorted(_BUCKET_EDGES, duration_ms, side="right"))


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


# ---------------------------------------------------------------------------------------------
# tables


def _common(
    svc: _Service, kind: str, inst: np.ndarray, item_count: np.ndarray, rng: np.random.Generator
) -> dict[str, pa.Array]:
    n = len(inst)
    return {
        "client_Type": _dconst("PC", n),
        "client_IP": _dconst("0.0.0.0", n),
        "cloud_RoleName": _dconst(svc.name, n),
        "cloud_RoleInstance": _dict([i.name for i in svc.instances], inst),
        "appId": _dconst(svc.app_id, n),
        "appName": _dconst(svc.app_name, n),
        "iKey": _dconst(svc.ikey, n),
        "sdkVersion": _dconst(svc.sdk_version, n),
        "itemId": _uuids(rng, n),
        "itemType": _dconst(kind, n),
        "itemCount": pa.array(np.asarray(item_count, np.int32)),
    }


def _dimensions_tail(svc: _Service) -> list[str]:
    return [
        f'"Container Id":"{i.container_id}","Workspace Name":"{WORKSPACE}","Service Name":"{svc.name}"}}'
        for i in svc.instances
    ]


def _instance_dimensions(svc: _Service, inst: np.ndarray) -> pa.Array:
    return _dict(["{" + tail for tail in _dimensions_tail(svc)], inst)


def _stdout_dimensions(svc: _Service, inst: np.ndarray, contents: pa.Array) -> pa.Array:
    """customDimensions of a print: {"Contents": <text cut at 8,192>, "Container Id": ..., ...}."""
    return _join('{"Contents":"', _escaped(_cut(contents)), '",', _take(_dimensions_tail(svc), inst))


def _service_chunk(
    plan: _Plan, si: int, svc: _Service, t0: int, t1: int, rng: np.random.Generator
) -> dict[str, pa.Table]:
    scoring = _scoring(plan, si, svc, t0, t1, rng)
    other = _probes_and_swagger(plan, si, svc, t0, t1, rng)
    requests = pa.concat_tables([scoring["requests"], other], promote_options="default")
    startup_deps, startup_traces = _startups(plan, si, svc, t0, t1, rng)
    return {
        "requests": requests,
        "dependencies": pa.concat_tables([scoring["dependencies"], startup_deps], promote_options="default"),
        "exceptions": scoring["exceptions"],
        "traces": pa.concat_tables([scoring["traces"], startup_traces], promote_options="default"),
    }


def _request_table(
    svc: _Service, ts: np.ndarray, duration: np.ndarray, code: np.ndarray, op: np.ndarray, inst: np.ndarray,
    item_count: np.ndarray, span_ids: pa.Array, op_ids: pa.Array, rng: np.random.Generator,
) -> pa.Table:
    names = _dict(_OP_LABELS, op)
    urls = _dict([f"http://{i.ip}:5001{path}" for i in svc.instances for path in _OP_PATHS], inst * 3 + op)
    cols = {
        "timestamp": _timestamps(ts),
        "id": span_ids,
        "name": names,
        "url": urls,
        "success": _dict(["False", "True"], _CODE_OK[code].astype(np.int32)),
        "resultCode": _dict(_CODE_LABELS, code),
        "duration": pa.array(np.round(duration, 4)),
        "performanceBucket": _bucket(duration),
        "customDimensions": _instance_dimensions(svc, inst),
        "operation_Name": names,
        "operation_Id": op_ids,
        "operation_ParentId": op_ids,
        **_common(svc, "request", inst, item_count, rng),
    }
    return pa.table(cols)


def _dependency_table(
    svc: _Service, ts: np.ndarray, duration: np.ndarray, code: np.ndarray, kind: tuple[str, str, str],
    data: pa.Array, inst: np.ndarray, item_count: np.ndarray, op_ids: pa.Array, parent_ids: pa.Array,
    op_names: pa.Array, rng: np.random.Generator,
) -> pa.Table:
    n = len(ts)
    dep_type, target, name = kind
    return pa.table({
        "timestamp": _timestamps(ts),
        "id": _hex_ids(rng, n, 8),
        "target": _dconst(target, n),
        "type": _dconst(dep_type, n),
        "name": _dconst(name, n),
        "data": data,
        "success": _dict(["False", "True"], _CODE_OK[code].astype(np.int32)),
        "resultCode": _dict(_CODE_LABELS, code),
        "duration": pa.array(np.round(duration, 4)),
        "performanceBucket": _bucket(duration),
        "operation_Name": op_names,
        "operation_Id": op_ids,
        "operation_ParentId": parent_ids,
        **_common(svc, "dependency", inst, item_count, rng),
    })


def _trace_table(
    svc: _Service, ts: np.ndarray, message: str, severity: np.ndarray | int, dimensions: pa.Array, inst: np.ndarray,
    item_count: np.ndarray, op_ids: pa.Array, parent_ids: pa.Array, op_names: pa.Array, rng: np.random.Generator,
) -> pa.Table:
    n = len(ts)
    return pa.table({
        "timestamp": _timestamps(ts),
        "message": _dconst(message, n),
        "severityLevel": pa.array(np.broadcast_to(np.asarray(severity, np.int32), (n,)).copy()),
        "customDimensions": dimensions,
        "operation_Name": op_names,
        "operation_Id": op_ids,
        "operation_ParentId": parent_ids,
        **_common(svc, "trace", inst, item_count, rng),
    })


# ---------------------------------------------------------------------------------------------
# scoring requests and everything they cause


def _scoring(
    plan: _Plan, si: int, svc: _Service, t0: int, t1: int, rng: np.random.Generator
) -> dict[str, pa.Table]:
    minutes = np.arange(t0, t1, _MIN_US, dtype=np.int64)
    per_minute = plan.rpd * _SCORING_SHARE * svc.share / 1440 / _ROW_NORM[svc.name]
    noise = np.repeat(rng.lognormal(0.0, 0.08, len(minutes) // 10 + 1), 10)[: len(minutes)]
    counts = rng.poisson(per_minute * _row_weight(svc, minutes) * noise)
    n = int(counts.sum())
    ts = np.repeat(minutes, counts) + rng.integers(0, _MIN_US, n)
    ts.sort()
    item_count = np.repeat(_item_count(svc, minutes), counts)
    inst = rng.integers(0, len(svc.instances), n)
    level = _intensity(plan, svc, ts)

    # outcome: OK, BAD (400), ERR (500), E502, E503, E504
    rates = np.asarray(svc.error_rates)[None, :] + level[:, None] * _INCIDENT_RATES[None, :]
    k = (rng.random(n)[:, None] >= np.cumsum(rates, axis=1)).sum(axis=1)
    category = np.where(k < 5, k + 1, OK)
    calls = np.isin(category, (OK, BAD, ERR, E504))
    forced = np.zeros(n, np.int8)  # 1: feature store timed out twice, 2: image not found

    # batch sizes (churn sends batches; a few are huge) and the input kind of the image service
    batch = np.ones(n, np.int64)
    inline_image = np.zeros(n, bool)
    if svc.name == "churn-regressor":
        u = rng.random(n)
        batch = np.where(u < 0.035, rng.integers(2, 51, n), batch)
        batch = np.where(u > 0.996, rng.integers(400, 3_001, n), batch)
    if svc.image_blob:
        inline_image = rng.random(n) < 0.015

    # dependency timeline (ms after the request starts)
    cursor = rng.uniform(0.3, 1.5, n)
    slow = 1 + 0.5 * level
    fs1 = fs2 = sql = img = None
    if svc.feature_store:
        timeout = calls & (rng.random(n) < 0.01 + 0.07 * level)
        dur1 = np.where(timeout, 2_000 + np.abs(rng.normal(0, 15, n)), _lognormal(rng, 9.0, 0.45, n) * slow)
        code1 = np.where(timeout, C504, np.where(rng.random(n) < 0.003, C404, C200))
        fs1 = (cursor.copy(), dur1, code1, calls)
        cursor = np.where(calls, cursor + dur1, cursor)
        retry = timeout
        start2 = cursor + rng.uniform(50, 150, n)
        timeout2 = retry & (rng.random(n) < 0.1 + 0.3 * level)
        dur2 = np.where(timeout2, 2_000 + np.abs(rng.normal(0, 15, n)), _lognormal(rng, 9.0, 0.45, n) * slow)
        fs2 = (start2, dur2, np.where(timeout2, C504, C200), retry)
        cursor = np.where(retry, start2 + dur2, cursor)
        forced[timeout2] = 1
    if svc.sql:
        does = calls & (forced == 0)
        start = cursor + rng.uniform(0.1, 0.5, n)
        dur = _lognormal(rng, 6.0, 0.5, n) * slow
        sql = (start, dur, np.where(rng.random(n) < 0.002, C1205, C0), does)
        cursor = np.where(does, start + dur, cursor)
    if svc.image_blob:
        does = calls & ~inline_image
        dur = _lognormal(rng, 25.0, 0.5, n)
        not_found = does & (rng.random(n) < 0.004)
        img = (cursor.copy(), dur, np.where(not_found, C404, C200), does)
        cursor = np.where(does, cursor + dur, cursor)
        forced[not_found] = 2
    category = np.where((forced > 0) & np.isin(category, (OK, BAD)), ERR, category)

    # model compute, request duration
    compute = _lognormal(rng, svc.compute_ms, svc.compute_sigma, n)
    compute = np.where(rng.random(n) < 0.015, compute * rng.lognormal(1.4, 0.5, n), compute)  # heavy tail
    compute *= (1 + 5 * level) * (1 + 0.002 * (batch - 1))
    compute = np.where(category == BAD, compute * 0.15, compute)
    compute = np.where(category == ERR, compute * rng.uniform(0.3, 1.0, n), compute)
    duration = cursor + compute + rng.uniform(0.2, 1.0, n)
    duration = np.where(category == E504, _SCORING_TIMEOUT_MS + np.abs(rng.normal(0, 25, n)), duration)
    duration = np.where(category == E503, _lognormal(rng, 2.5, 0.4, n), duration)
    duration = np.where(category == E502, _lognormal(rng, 30.0, 0.5, n), duration)

    # ids for all, then drop requests still running at `end` (App Insights logs a request when it ends)
    span_hex = _hex_chars(rng, n, 8)
    trace_hex = _hex_chars(rng, n, 16)
    keep = ts + (duration * 1000).astype(np.int64) < plan.end_us
    if not keep.all():
        sel = np.flatnonzero(keep)
        ts, item_count, inst, level, category, batch, inline_image, duration, forced = (  # type: ignore[assignment]
            a[sel] for a in (ts, item_count, inst, level, category, batch, inline_image, duration, forced))
        span_hex, trace_hex = span_hex[sel], trace_hex[sel]
        fs1, fs2, sql, img = (  # type: ignore[assignment]  # the same arrays, fewer rows
            None if d is None else tuple(a[sel] for a in d) for d in (fs1, fs2, sql, img))
        n = len(sel)
    span_ids, op_ids = _fixed(span_hex), _fixed(trace_hex)
    code = _CATEGORY_CODE[category]
    op = np.zeros(n, np.int64)
    requests = _request_table(svc, ts, duration, code, op, inst, item_count, span_ids, op_ids, rng)
    score_name = _dconst(_OPERATIONS[SCORE], n)

    # dependencies
    deps: list[pa.Table] = []

    def add_dep(spec: tuple[np.ndarray, ...] | None, kind: tuple[str, str, str], data: pa.Array | None) -> None:
        if spec is None:
            return
        start, dur, dcode, mask = spec
        sel = np.flatnonzero(mask)
        deps.append(_dependency_table(
            svc, ts[sel] + (start[sel] * 1000).astype(np.int64), dur[sel], dcode[sel], kind,
            data.take(pa.array(sel)) if data is not None else _const("", len(sel)), inst[sel], item_count[sel],
            op_ids.take(pa.array(sel)), span_ids.take(pa.array(sel)), score_name.take(pa.array(sel)), rng))

    if svc.feature_store:
        path = f"/features/{svc.feature_store}"
        key_prefix = "C-" if svc.feature_store == "customer" else "A-"
        keys = pc.cast(pa.array(rng.integers(100_000, 1_000_000, n)), pa.string())
        url = _join(f"https://{_FEATURE_HOST}{path}?id={key_prefix}", keys)
        add_dep(fs1, ("HTTP", _FEATURE_HOST, f"GET {path}"), url)
        add_dep(fs2, ("HTTP", _FEATURE_HOST, f"GET {path}"), url)
    image_urls = _const("", n)
    if svc.sql:
        add_dep(sql, ("SQL", _SQL_TARGET, "featuresdb"), _const(_SQL_TEXT, n))
    if svc.image_blob:
        image_urls = _join(f"https://{_IMAGE_STORE}/uploads/", _hex_ids(rng, n, 6), ".jpg")
        add_dep(img, ("Azure blob", _IMAGE_STORE, "GET /uploads"), image_urls)

    # traces: prints of successful requests, feature-store warnings, tracebacks, data collection
    traces: list[pa.Table] = []
    ok = np.flatnonzero(category == OK)
    drift_from = drift_start_us(plan.end_us, (plan.end_us - plan.start_us) // _DAY_US)
    printed = _print_contents(svc, rng, batch[ok], inline_image[ok], image_urls.take(pa.array(ok)), ts[ok], drift_from)
    sel_ok = pa.array(ok)

    def trace(sel: np.ndarray, at: np.ndarray, message: str, severity: np.ndarray | int, dims: pa.Array) -> None:
        idx = pa.array(sel)
        traces.append(_trace_table(svc, at, message, severity, dims, inst[sel], item_count[sel],
                                   op_ids.take(idx), span_ids.take(idx), score_name.take(idx), rng))

    at_print = ts[ok] + (duration[ok] * 970).astype(np.int64)
    trace(ok, at_print, "STDOUT", 1, _stdout_dimensions(svc, inst[ok], printed["contents"]))
    if svc.data_collection:
        for j, (which, content) in enumerate((("input", printed["input"]), ("prediction", printed["prediction"]))):
            dims = _join(
                '{"Content":"', _escaped(_cut(content)),
                f'","Model Name":"{svc.model_name}","Model Version":"{svc.model_version}"'
                f',"Prediction/Input":"{which}","Request Id":"',
                _as_uuid(trace_hex[ok]), '",', _take(_dimensions_tail(svc), inst[ok]))
            trace(ok, at_print - 400 + 100 * j, "model_data_collection", 1, dims)
    if fs1 is not None and fs2 is not None:
        warned = np.flatnonzero(fs2[3])
        at_warn = ts[warned] + ((fs1[0][warned] + fs1[1][warned]) * 1000).astype(np.int64) + 1_000
        text = _join("WARNING: slow feature store (", _num(fs1[1][warned] / 1000, 2),
                     f" s) for GET /features/{svc.feature_store}, retrying")
        trace(warned, at_warn, "STDOUT", 2, _stdout_dimensions(svc, inst[warned], text))

    # exceptions (one per 400 and 500) and their traceback prints
    raised = np.flatnonzero(np.isin(category, (BAD, ERR)))
    exceptions = pa.table({})
    if len(raised):
        idx = pa.array(raised)
        kinds = _exception_kinds(svc, rng, category[raised], forced[raised], level[raised])
        at_exc = ts[raised] + (duration[raised] * 900).astype(np.int64)
        ex = _exception_rows(svc, rng, kinds, image_urls.take(idx).to_pylist())
        exceptions = pa.table({
            "timestamp": _timestamps(at_exc),
            **ex["columns"],
            "customDimensions": _instance_dimensions(svc, inst[raised]),
            "operation_Name": score_name.take(idx),
            "operation_Id": op_ids.take(idx),
            "operation_ParentId": span_ids.take(idx),
            **_common(svc, "exception", inst[raised], item_count[raised], rng),
        })
        at_traceback = ts[raised] + (duration[raised] * 950).astype(np.int64)
        trace(raised, at_traceback, "STDOUT", 3, _stdout_dimensions(svc, inst[raised], ex["tracebacks"]))
    return {
        "requests": requests,
        "dependencies": pa.concat_tables(deps, promote_options="default") if deps else pa.table({}),
        "exceptions": exceptions,
        "traces": pa.concat_tables(traces, promote_options="default"),
    }


def _print_contents(
    svc: _Service, rng: np.random.Generator, batch: np.ndarray, inline_image: np.ndarray, image_urls: pa.Array,
    t_us: np.ndarray, drift_from: int,
) -> dict[str, pa.Array]:
    """What run() prints for each successful request (JSON; big ones are cut later)."""
    n = len(batch)
    if svc.name == "churn-regressor":
        rows = np.minimum(batch, 400)  # beyond 400 rows the print is cut at 8,192 anyway
        m = int(rows.sum())
        tenure = rng.integers(1, 73, m).astype(float)
        monthly = rng.uniform(18, 120, m)
        total = tenure * monthly * rng.uniform(0.9, 1.05, m)
        calls = rng.integers(0, 9, m).astype(float)
        logit = -1.2 - 0.04 * tenure + 0.02 * monthly + 0.35 * calls + rng.normal(0, 0.5, m)
        proba = 1 / (1 + np.exp(-logit))
        row_text = _join("[", _num(tenure, 0), ", ", _num(monthly, 2), ", ", _num(total, 1), ", ", _num(calls, 0), "]")
        contents = _join('{"input": {"data": [', _join_lists(row_text, rows), ']}, "output": [',
                         _join_lists(_num(proba, 4), rows), "]}")
        return {"contents": contents}
    if svc.name == "fraud-scorer":
        amount = np.round(rng.lognormal(3.6, 1.1, n), 2)
        present = rng.random(n) < 0.55
        proba = rng.beta(0.6, 18, n)
        merchant = rng.integers(0, len(_MCC), n)
        country = rng.integers(0, len(_COUNTRIES), n)
        if svc.name == DRIFT_SERVICE:  # a new market from mid-week on (telemetry/demo/drift.py)
            amount, country, proba = drift_fraud(t_us, drift_from, amount, country, proba, len(_COUNTRIES))
        record = _join('{"amount": ', _num(amount, 2), ', "merchant_category": "',
                       _take(_MCC, merchant), '", "country": "',
                       _take(_COUNTRIES_AFTER_DRIFT, country), '", "card_present": ',
                       _take(["false", "true"], present.astype(np.int32)), "}")
        decision = _take(["approve", "review", "decline"], np.searchsorted([0.3, 0.8], proba))
        contents = _join('{"input": {"data": [', record, ']}, "output": {"fraud_probability": ', _num(proba, 4),
                         ', "decision": "', decision, '"}}')
        return {"contents": contents}
    # image-classifier: a URL, or (1.5 %) the image inline as base64, 10-60 KB (cut at 8,192 anyway)
    b64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", np.uint8)
    inline = np.flatnonzero(inline_image)
    encoded = _fixed(b64[rng.integers(0, 64, size=(len(inline), _PROPERTY_LIMIT + 64))])
    source = _join('"image_url": "', image_urls, '"')
    if len(inline):
        as_list = source.to_pylist()
        for pos, text in zip(inline, encoded.to_pylist(), strict=True):
            as_list[pos] = f'"image": "/9j/4AAQSkZJRgABAQ{text}'
        source = pa.array(as_list, pa.string())
    label = _take(_LABELS, rng.choice(len(_LABELS), n, p=[0.38, 0.34, 0.1, 0.08, 0.06, 0.04]))
    score = np.clip(rng.beta(8, 1.6, n), 0.2, 0.9999)
    inputs = _join("{", source, ', "shape": [224, 224, 3]}')
    prediction = _join('{"label": "', label, '", "score": ', _num(score, 4), "}")
    return {"contents": _join('{"input": ', inputs, ', "output": ', prediction, "}"),
            "input": inputs, "prediction": prediction}


# ---------------------------------------------------------------------------------------------
# exceptions


@dataclass(frozen=True)
class _Frame:
    path: str  # "score.py" or a site-packages path
    line: int
    method: str
    code: str


@dataclass(frozen=True)
class _Kind:
    type: str
    message: str  # may hold {placeholders} filled per row
    frames: tuple[_Frame, ...]
    inner: tuple[str, str] | None = None  # (type, message) of the wrapped exception


_URLLIB3 = _Frame("urllib3/connectionpool.py", 449, "_make_request", "    six.raise_from(e, None)")
_RUN_PREDICT = _Frame("score.py", 41, "run", "    proba = model.predict_proba(data)")
_KINDS: Final[dict[str, _Kind]] = {
    "expected_2d": _Kind("ValueError", "Expected 2D array, got 1D array instead:\narray={array}.\nReshape your data either "
                         "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
                         "contains a single sample.", (
        _RUN_PREDICT,
        _Frame("sklearn/pipeline.py", 547, "predict_proba", "    Xt = transform.transform(Xt)"),
        _Frame("sklearn/preprocessing/_data.py", 1006, "transform", "    X = self._validate_data("),
        _Frame("sklearn/base.py", 604, "_validate_data", '    out = check_array(X, input_name="X", **check_params)'),
        _Frame("sklearn/utils/validation.py", 940, "check_array", "    raise ValueError("),
    )),
    "nan": _Kind("ValueError", "Input X contains NaN.\nStandardScaler does not accept missing values encoded as NaN "
                 "natively.", (
        _RUN_PREDICT,
        _Frame("sklearn/pipeline.py", 547, "predict_proba", "    Xt = transform.transform(Xt)"),
        _Frame("sklearn/utils/validation.py", 959, "check_array", "    _assert_all_finite("),
        _Frame("sklearn/utils/validation.py", 146, "_assert_all_finite", "    raise ValueError(msg_err)"),
    )),
    "key_tenure": _Kind("KeyError", "'tenure'", (
        _Frame("score.py", 33, "run", '    data = [[record[name] for name in FEATURES] for record in raw["records"]]'),
        _Frame("score.py", 33, "<listcomp>", '    data = [[record[name] for name in FEATURES] for record in raw["records"]]'),
    )),
    "memory": _Kind("MemoryError", "Unable to allocate {gib} GiB for an array with shape ({rows}, 1000) and data type "
                    "float64", (
        _RUN_PREDICT,
        _Frame("sklearn/ensemble/_forest.py", 862, "predict_proba",
               "    all_proba = [np.zeros((X.shape[0], j), dtype=np.float64) for j in np.atleast_1d(self.n_classes_)]"),
        _Frame("sklearn/ensemble/_forest.py", 862, "<listcomp>",
               "    all_proba = [np.zeros((X.shape[0], j), dtype=np.float64) for j in np.atleast_1d(self.n_classes_)]"),
    )),
    "thread": _Kind("RuntimeError", "can't start new thread", (
        _RUN_PREDICT,
        _Frame("sklearn/ensemble/_forest.py", 866, "predict_proba", '    Parallel(n_jobs=n_jobs, verbose=self.verbose, require="sharedmem")('),
        _Frame("joblib/parallel.py", 1863, "__call__", "    self._pool = ThreadPool(n_jobs)"),
        _Frame("threading.py", 935, "start", "    _start_new_thread(self._bootstrap, ())"),
    )),
    "timeout": _Kind("ReadTimeout", "HTTPSConnectionPool(host='features.contoso.internal', port=443): Read timed out. "
                     "(read timeout=2.0)", (
        _Frame("score.py", 27, "run", '    features = fetch_features(record["id"])'),
        _Frame("score.py", 15, "fetch_features", "    resp = session.get(FEATURE_URL, params={\"id\": key}, timeout=2.0)"),
        _Frame("requests/sessions.py", 602, "get", '    return self.request("GET", url, **kwargs)'),
        _Frame("requests/adapters.py", 532, "send", "    raise ReadTimeout(e, request=request)"),
    ), inner=("ReadTimeoutError", "HTTPSConnectionPool(host='features.contoso.internal', port=443): Read timed out. "
              "(read timeout=2.0)")),
    "image_missing": _Kind("ValueError", "Expected an 'image_url' or an 'image' field in the request body", (
        _Frame("score.py", 44, "run", '        raise ValueError("Expected an \'image_url\' or an \'image\' field in the request body")'),
    )),
    "image_404": _Kind("HTTPError", "404 Client Error: The specified blob does not exist. for url: {url}", (
        _Frame("score.py", 47, "run", '    payload = download(data["image_url"])'),
        _Frame("score.py", 21, "download", "    resp.raise_for_status()"),
        _Frame("requests/models.py", 1021, "raise_for_status", "    raise HTTPError(http_error_msg, response=self)"),
    )),
    "image_unreadable": _Kind("UnidentifiedImageError", "cannot identify image file <_io.BytesIO object at {address}>", (
        _Frame("score.py", 52, "run", "    image = Image.open(io.BytesIO(payload))"),
        _Frame("PIL/Image.py", 3283, "open", "    raise UnidentifiedImageError(msg)"),
    )),
    "onnx_dims": _Kind("InvalidArgument", "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: "
                       "input for the following indices\n index: 3 Got: 4 Expected: 3\n Please fix either the inputs or "
                       "the model.", (
        _Frame("score.py", 58, "run", '    scores = session.run(None, {"input": batch})[0]'),
        _Frame("onnxruntime/capi/onnxruntime_inference_collection.py", 220, "run",
               "    return self._sess.run(output_names, input_feed, run_options)"),
    )),
    "key_merchant": _Kind("KeyError", "\"['merchant_category'] not in index\"", (
        _Frame("score.py", 38, "run", "    X = pd.DataFrame.from_records(records)[FEATURES]"),
        _Frame("pandas/core/frame.py", 3767, "__getitem__", '    indexer = self.columns._get_indexer_strict(key, "columns")[1]'),
        _Frame("pandas/core/indexes/base.py", 5877, "_get_indexer_strict", "    self._raise_if_missing(keyarr, indexer, axis_name)"),
        _Frame("pandas/core/indexes/base.py", 5941, "_raise_if_missing", '    raise KeyError(f"{not_found} not in index")'),
    )),
    "float": _Kind("ValueError", "could not convert string to float: 'N/A'", (
        _Frame("score.py", 39, "run", "    X = X.astype(np.float32)"),
        _Frame("pandas/core/generic.py", 6534, "astype", "    new_data = self._mgr.astype(dtype=dtype, copy=copy, errors=errors)"),
        _Frame("pandas/core/dtypes/astype.py", 133, "_astype_nansafe", "    return arr.astype(dtype, copy=True)"),
    )),
}
# per service: the kind of a 400, the kinds of a 500 (with weights), the incident's 500 kinds
_SERVICE_KINDS: Final[dict[str, tuple[str, dict[str, float], dict[str, float]]]] = {
    "churn-regressor": ("expected_2d", {"nan": 0.6, "key_tenure": 0.4}, {"memory": 0.7, "thread": 0.3}),
    "image-classifier": ("image_missing", {"image_unreadable": 0.5, "onnx_dims": 0.5}, {}),
    "fraud-scorer": ("expected_2d", {"key_merchant": 0.5, "float": 0.5}, {}),
}


def _exception_kinds(
    svc: _Service, rng: np.random.Generator, category: np.ndarray, forced: np.ndarray, level: np.ndarray
) -> list[str]:
    bad_kind, errors, incident = _SERVICE_KINDS[svc.name]
    names = list(errors)
    normal = np.array(names)[rng.choice(len(names), len(category), p=list(errors.values()))]
    kinds = np.where(category == BAD, bad_kind, normal).astype(object)
    if incident:
        base_500 = svc.error_rates[1]
        inc_500 = level * _INCIDENT_RATES[1]
        from_incident = (category == ERR) & (rng.random(len(category)) < inc_500 / (base_500 + inc_500))
        inc_names = list(incident)
        picked = np.array(inc_names)[rng.choice(len(inc_names), len(category), p=list(incident.values()))]
        kinds = np.where(from_incident, picked, kinds)
    kinds = np.where(forced == 1, "timeout", np.where(forced == 2, "image_404", kinds))
    return [str(k) for k in kinds]


def _site(svc: _Service, frame: _Frame) -> str:
    if frame.path == "score.py":
        return "/var/azureml-app/score.py"
    if frame.path == "threading.py":
        return f"/opt/miniconda/lib/{svc.python}/threading.py"
    return f"/opt/miniconda/envs/amlenv/lib/{svc.python}/site-packages/{frame.path}"


def _exception_rows(svc: _Service, rng: np.random.Generator, kinds: list[str], image_urls: list[str]) -> dict:
    n = len(kinds)
    huge = rng.random(n) < 0.05
    seeds = rng.integers(0, 2**31, n)
    detail_ids = rng.integers(10**14, 10**15, n)
    cols: dict[str, list] = {name: [] for name in (
        "problemId", "handledAt", "type", "message", "assembly", "method", "outerType", "outerMessage",
        "outerAssembly", "outerMethod", "innermostType", "innermostMessage", "innermostAssembly",
        "innermostMethod", "severityLevel", "details")}
    tracebacks: list[str] = []
    for i, name in enumerate(kinds):
        kind = _KINDS[name]
        message = kind.message
        if "{" in message:
            local = np.random.default_rng(int(seeds[i]))
            values = {}
            if "{array}" in message:
                size = 5_000 if huge[i] else int(local.integers(4, 12))
                values["array"] = _numpy_repr(local.uniform(0, 120, size))
            if "{gib}" in message:
                rows = int(local.integers(150_000, 400_000))
                values.update(rows=str(rows), gib=f"{rows * 1000 * 8 / 2**30:.2f}")
            if "{url}" in message:
                values["url"] = image_urls[i]
            if "{address}" in message:
                values["address"] = f"0x7f{int(local.integers(0, 16**10)):010x}"
            message = message.format(**values)
        message = message[:_MESSAGE_LIMIT]
        frames = kind.frames
        assembly = [f'File "{_site(svc, f)}", line {f.line}, in {f.method}' for f in frames]
        lines = ["Traceback (most recent call last):"]
        for f, where in zip(frames, assembly, strict=True):
            lines += ["  " + where, f.code]
        lines.append(f"{_qualified(kind.type)}: {message}")
        if kind.inner:
            inner_tb = ["Traceback (most recent call last):",
                        f'  File "{_site(svc, _URLLIB3)}", line 449, in _make_request',
                        "    six.raise_from(e, None)", f"urllib3.exceptions.{kind.inner[0]}: {kind.inner[1]}", "",
                        "During handling of the above exception, another exception occurred:", ""]
            lines = inner_tb + lines
        traceback = "\n".join(lines)
        tracebacks.append(traceback)
        parsed = [{"level": lvl, "method": f.method, "assembly": "Unknown", "fileName": _site(svc, f), "line": f.line}
                  for lvl, f in enumerate(reversed(frames))]
        outer_id = str(int(detail_ids[i]))
        details = [{"id": outer_id, "outerId": "0", "type": kind.type, "message": message, "severityLevel": "Error",
                    "hasFullStack": True, "parsedStack": parsed, "rawStack": traceback}]
        inner_type, inner_message = kind.inner or (kind.type, message)
        if kind.inner:
            details.append({"id": str(int(detail_ids[i]) + 1), "outerId": outer_id, "type": inner_type,
                            "message": inner_message, "severityLevel": "Error", "hasFullStack": False,
                            "parsedStack": []})
        method = f"score.{frames[0].method}"
        innermost = frames[-1]
        for key, value in (
            ("problemId", f"{kind.type} at {method}"), ("handledAt", "UserCode"), ("type", kind.type),
            ("message", message), ("assembly", assembly[0]), ("method", method), ("outerType", kind.type),
            ("outerMessage", message), ("outerAssembly", assembly[0]), ("outerMethod", method),
            ("innermostType", inner_type), ("innermostMessage", inner_message),
            ("innermostAssembly", assembly[-1]), ("innermostMethod", innermost.method), ("severityLevel", 3),
            ("details", json.dumps(details, separators=(",", ":"))),
        ):
            cols[key].append(value)
    columns = {
        key: pa.array(values, pa.int32() if key == "severityLevel" else pa.string()) for key, values in cols.items()
    }
    return {"columns": columns, "tracebacks": pa.array(tracebacks, pa.string())}


def _qualified(type_name: str) -> str:
    return {
        "ReadTimeout": "requests.exceptions.ReadTimeout",
        "HTTPError": "requests.exceptions.HTTPError",
        "UnidentifiedImageError": "PIL.UnidentifiedImageError",
        "InvalidArgument": "onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument",
        "MemoryError": "numpy.core._exceptions._ArrayMemoryError",
    }.get(type_name, type_name)


def _numpy_repr(values: np.ndarray) -> str:
    return "[" + " ".join(f"{v:.8g}" for v in values) + "]"


# ---------------------------------------------------------------------------------------------
# health probes, swagger, instance starts


def _probes_and_swagger(
    plan: _Plan, si: int, svc: _Service, t0: int, t1: int, rng: np.random.Generator
) -> pa.Table:
    interval = plan.probe_interval_us
    ts_parts, inst_parts = [], []
    for ii in range(len(svc.instances)):
        first = plan.start_us + plan.probe_phase_us[(si, ii)]
        k0 = max(0, math.ceil((t0 - first) / interval))
        k1 = max(0, math.ceil((t1 - first) / interval))
        ts_parts.append(first + np.arange(k0, k1, dtype=np.int64) * interval)
        inst_parts.append(np.full(k1 - k0, ii))
    probe_ts = np.concatenate(ts_parts)
    probe_inst = np.concatenate(inst_parts)
    n_swagger = rng.poisson(plan.rpd * _SWAGGER_PER_DAY / len(SERVICES) * (t1 - t0) / _DAY_US)
    swagger_ts = t0 + rng.integers(0, t1 - t0, n_swagger)
    ts = np.concatenate([probe_ts + rng.integers(0, 20_000, len(probe_ts)), swagger_ts])
    inst = np.concatenate([probe_inst, rng.integers(0, len(svc.instances), n_swagger)])
    op = np.concatenate([np.full(len(probe_ts), HEALTH), np.full(n_swagger, SWAGGER)])
    n = len(ts)
    duration = np.where(op == HEALTH, _lognormal(rng, 1.2, 0.35, n), _lognormal(rng, 3.5, 0.3, n))
    level = _intensity(plan, svc, ts)
    code = np.where((op == HEALTH) & (rng.random(n) < 0.3 * level), C503, C200)
    duration = np.where(code == C503, duration + rng.uniform(1, 5, n), duration)
    keep = (ts < t1) & (ts + (duration * 1000).astype(np.int64) < plan.end_us)
    order = np.flatnonzero(keep)[np.argsort(ts[keep], kind="stable")]
    ts, inst, op, duration, code = ts[order], inst[order], op[order], duration[order], code[order]
    n = len(ts)
    return _request_table(svc, ts, duration, code, op, inst, _item_count(svc, ts), _hex_ids(rng, n, 8),
                          _hex_ids(rng, n, 16), rng)


def _startups(
    plan: _Plan, si: int, svc: _Service, t0: int, t1: int, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table]:
    starts = plan.starts[si]
    here = starts[(starts[:, 1] >= t0) & (starts[:, 1] < t1)]
    inst, at = here[:, 0], here[:, 1]
    n = len(at)
    download = _lognormal(rng, svc.model_seconds * 1000, 0.3, n)
    done = at + (download * 1000).astype(np.int64) + rng.integers(500_000, 2_000_000, n)
    dep_keep = at < plan.end_us
    trace_keep = done < plan.end_us
    empty, no_name = _const("", n), _dconst("", n)
    ones = np.ones(n, np.int32)
    deps = _dependency_table(
        svc, at, download, np.full(n, C200), ("Azure blob", _MODEL_STORE, f"GET {svc.model_blob}"),
        _const(f"https://{_MODEL_STORE}{svc.model_blob}", n), inst, _item_count(svc, at), empty, empty, no_name, rng)
    clock = _take([f"{h:02d}" for h in range(24)], (done % _DAY_US) // 3_600_000_000)
    clock = _join(clock, ":", _take([f"{m:02d}" for m in range(60)], (done % 3_600_000_000) // _MIN_US), ":",
                  _take([f"{s:02d}" for s in range(60)], (done % _MIN_US) // 1_000_000))
    traces = _trace_table(svc, done, "STDOUT", ones, _stdout_dimensions(svc, inst, _join("model initialized ", clock)),
                          inst, _item_count(svc, done), empty, empty, no_name, rng)
    return deps.filter(pa.array(dep_keep)), traces.filter(pa.array(trace_keep))
