"""Demo telemetry of a service written the way Azure ML's inference server (`azmlinfsrv`) writes it.

`credit-scorer`, a managed online endpoint of two instances, ran azmlinfsrv 1.4.1 (OpenCensus)
for the first half of the range and 1.5.1 (OpenTelemetry) after a redeploy at its midpoint
(`upgrade_time`). Per scoring request (`/score`, ~6 % of `requests_per_day`, diurnal like the rest):

requests    the standard columns say nothing: `resultCode` "0", `success` "True", and under 1.5.1
            `duration` ~0 ms (the span is opened and closed after the response). The server's own
            values are properties: `resultCode`, `success` ("True"/"False"; 1.4.1: JSON booleans),
            `duration` ("00:00:00.085"), `Request Id` (a UUID), `Response Value` (the response
            text; 1.4.1 JSON-encodes it once more), `Container Id`, `Workspace Name`, `Service Name`.
            1.4.1: `id` is the request id and `name`/`operation_Name` are empty; 1.5.1: `/score`.
            Outcomes: 200 (96.5 %, ~85 ms), 400 bad input (2 %, ~4 ms), 500 from run() (1.5 %,
            ~40 ms); every fifth 500 is a 30 s scoring timeout.
traces      all with operation_Id all zeros: `model_data_collection` per 200 (model data collection
            storage is on) with `Input` (the raw body, so JSON-encoded twice) and `Prediction`,
            flat under 1.4.1, inside one Python-repr property `custom_dimensions` under 1.5.1;
            1 % of inputs are batches whose property is cut at 8,192 characters; a print of run()
            ("scoring N applications", no Request Id: nothing links it) per request; and the
            server's "Encountered Exception" error trace per 500 (no Request Id either).
exceptions  one per 500 from run(), all-zero operation_Id, `Request Id` flat (1.4.1) or in the
            repr `custom_dimensions` (1.5.1).

`truth(frames)` is not here on purpose: the tests read the true values back from the properties.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import telemetry.demo as demo

__all__ = ["INFERENCE_SERVICE", "SDK_14", "SDK_15", "chunk", "conform", "upgrade_time"]

INFERENCE_SERVICE: Final = "credit-scorer"
SDK_14: Final = "py3.9.19:oc0.11.4:ext1.1.13"
SDK_15: Final = "py3.10.14:otel1.33.0:ext1.0.0b40"
_SHARE: Final = 0.06  # of requests_per_day
_ZERO: Final = "0" * 32
_INSTANCES: Final = ("credit-scorer-green-7f6d9c8b4-h2mzq", "credit-scorer-green-7f6d9c8b4-w8rtx")
_MODELS: Final = "['credit-gbm:4']"
_OK, _BAD, _ERR = range(3)
_CODES: Final = ("200", "400", "500")
_FAILS: Final = {"ValueError": "could not convert string to float: 'n/a'", "KeyError": "'income'"}
_PROPERTY_LIMIT: Final = 8_192

_SERVICE: Final = demo._Service(
    name=INFERENCE_SERVICE, hosted_on="Azure ML online endpoint (azmlinfsrv)",
    instances=tuple(demo._Instance(name, f"10.0.2.{4 + i}", demo._container(name)) for i, name in enumerate(_INSTANCES)),
    share=_SHARE, sampled=False, compute_ms=85.0, compute_sigma=0.45, error_rates=(0.02, 0.015, 0.0, 0.0, 0.0),
    feature_store=None, sql=False, image_blob=False, data_collection=True, model_name="credit-gbm", model_version="4",
    model_blob="/models/credit/model.pkl", model_seconds=2.0, sdk_version=SDK_15, app_name="credit-endpoint-ai",
    app_id="3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f", ikey="7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928", python="python3.10",
)


def upgrade_time(start: datetime, end: datetime) -> datetime:
    """When the service moved from azmlinfsrv 1.4.1 to 1.5.1: the middle of the range."""
    return start + (end - start) / 2


def _timespan(ms: np.ndarray) -> pa.Array:
    """"HH:MM:SS.fff", as the server's `_calc_duration` writes it (durations here stay under a day)."""
    total = np.floor(ms).astype(np.int64)
    parts = [(total // 3_600_000) % 24, (total // 60_000) % 60, (total // 1000) % 60, total % 1000]
    two = [f"{v:02d}" for v in range(100)]
    return demo._join(demo._take(two, parts[0]), ":", demo._take(two, parts[1]), ":", demo._take(two, parts[2]), ".",
                      demo._take([f"{v:03d}" for v in range(1000)], parts[3]))


def _repr_text(text: pa.Array) -> pa.Array:
    """A str's body inside a Python repr with single quotes (the texts here hold no ' or control characters)."""
    return pc.replace_substring(text, "\\", "\\\\")


def _bag(pairs: list[tuple[str, pa.Array | str]], *, python: bool, raw: frozenset[str] = frozenset()) -> pa.Array:
    """A property bag as JSON ({"k":"v"}) or as a Python dict repr ({'k': 'v'}); the values of the
    `raw` keys go in as they are (booleans, lists)."""
    quote, sep, colon = ("'", ", ", ": ") if python else ('"', ",", ":")
    parts: list[pa.Array | str] = ["{"]
    for i, (key, value) in enumerate(pairs):
        parts += [sep if i else "", f"{quote}{key}{quote}{colon}"]
        if key in raw:
            parts.append(value)
        elif isinstance(value, pa.Array):
            parts += [quote, _repr_text(value) if python else demo._escaped(value), quote]
        else:
            parts += [quote, value, quote]
    parts.append("}")
    return demo._join(*parts)


def chunk(plan: demo._Plan, t0: int, t1: int) -> dict[str, pa.Table]:
    """The service's rows with timestamps in [t0, t1)."""
    rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(t0 // demo._MIN_US, (t1 - t0) // demo._MIN_US, 99)))
    minutes = np.arange(t0, t1, demo._MIN_US, dtype=np.int64)
    counts = rng.poisson(plan.rpd * _SHARE / 1440 * demo._diurnal(minutes))
    n = int(counts.sum())
    ts = np.sort(np.repeat(minutes, counts) + rng.integers(0, demo._MIN_US, n))
    outcome = rng.choice(3, n, p=[0.965, 0.02, 0.015])
    real_ms = np.where(outcome == _OK, demo._lognormal(rng, 85.0, 0.45, n),
                       np.where(outcome == _BAD, demo._lognormal(rng, 4.0, 0.3, n), demo._lognormal(rng, 40.0, 0.5, n)))
    timeout = (outcome == _ERR) & (rng.random(n) < 0.2)
    real_ms = np.where(timeout, 30_000.0 + rng.uniform(0, 40, n), real_ms)
    keep = ts + (real_ms * 1000).astype(np.int64) < plan.end_us  # logged at the response: it must end in range
    ts, outcome, real_ms, timeout = ts[keep], outcome[keep], real_ms[keep], timeout[keep]
    n = len(ts)
    if n == 0:
        return {}
    old = ts < demo._us(upgrade_time(datetime.fromtimestamp(plan.start_us / 1e6, UTC),
                                     datetime.fromtimestamp(plan.end_us / 1e6, UTC)))
    inst = rng.integers(0, len(_INSTANCES), n)
    request_ids = demo._uuids(rng, n)
    logged = ts + (real_ms * 1000).astype(np.int64)  # the server logs the request after the response
    rows = np.arange(n)
    tables = {
        "requests": _requests(plan, rng, ts, logged, outcome, real_ms, timeout, old, inst, request_ids),
        **_children(rng, logged, outcome, timeout, old, inst, request_ids, rows),
    }
    return tables


def _common(kind: str, inst: np.ndarray, old: np.ndarray, rng: np.random.Generator) -> dict[str, pa.Array]:
    cols = demo._common(_SERVICE, kind, inst, np.ones(len(inst), np.int32), rng)
    cols["sdkVersion"] = demo._take([SDK_15, SDK_14], old.astype(np.int32))
    return cols


def _requests(
    plan: demo._Plan, rng: np.random.Generator, ts: np.ndarray, logged: np.ndarray, outcome: np.ndarray,
    real_ms: np.ndarray, timeout: np.ndarray, old: np.ndarray, inst: np.ndarray, request_ids: pa.Array,
) -> pa.Table:
    n = len(ts)
    probability = np.round(rng.beta(2, 5, n), 4)
    body_ok = demo._join('{"approved": ', demo._take(["false", "true"], (probability < 0.5).astype(np.int32)),
                         ', "probability": ', demo._num(probability, 4), "}")
    errors = ['{"message": "Scoring timeout after 30000 ms"}',
              '{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}']
    body_err = demo._take(errors, (~timeout).astype(np.int32))
    body_bad = demo._const('{"message": "Expected a JSON object with a \\"data\\" list"}', n)
    response = pc.if_else(pa.array(outcome == _OK), body_ok, pc.if_else(pa.array(outcome == _BAD), body_bad, body_err))
    # 1.4.1 JSON-encodes the response text once more ('"{\\"approved\\": …}"')
    response = pc.if_else(pa.array(old), demo._join('"', demo._escaped(response), '"'), response)
    failed = outcome != _OK
    start = pa.array(ts.astype("datetime64[us]")).cast(pa.string())
    start = demo._join(pc.replace_substring(start, " ", "T"), "Z")
    urls = [f"http://{i.ip}:31311/score" for i in _SERVICE.instances]
    json_success = demo._take(["true", "false"], failed.astype(np.int32))
    new_success = demo._take(["True", "False"], failed.astype(np.int32))
    dims_parts: list[tuple[str, pa.Array | str]] = [
        ("Container Id", demo._take(list(_INSTANCES), inst)), ("Request Id", request_ids), ("Client Request Id", ""),
        ("Response Value", response), ("name", "/score"), ("url", demo._take(urls, inst)), ("start_time", start),
        ("duration", _timespan(real_ms)), ("resultCode", demo._take(list(_CODES), outcome)),
    ]
    tail: list[tuple[str, pa.Array | str]] = [("http_method", "POST"), ("Workspace Name", demo.WORKSPACE),
                                               ("Service Name", INFERENCE_SERVICE)]
    # the success value: a JSON boolean under 1.4.1, the text "True"/"False" under 1.5.1
    json_old = _bag([*dims_parts, ("success", json_success), *tail], python=False, raw=frozenset({"success"}))
    json_new = _bag([*dims_parts, ("success", new_success), *tail], python=False)
    standard_ms = np.where(old, real_ms + rng.uniform(0.2, 1.5, n), rng.uniform(0.005, 0.08, n))
    names = demo._take(["/score", ""], old.astype(np.int32))
    span_ids = demo._hex_ids(rng, n, 8)
    return pa.table({
        "timestamp": demo._timestamps(np.where(old, ts, logged)),  # 1.5.1's span starts after the response
        "id": pc.if_else(pa.array(old), request_ids, span_ids),
        "name": names,
        "url": demo._take(urls, inst),
        "success": demo._const("True", n),
        "resultCode": demo._const("0", n),
        "duration": pa.array(np.round(standard_ms, 4)),
        "performanceBucket": demo._bucket(standard_ms),
        "customDimensions": pc.if_else(pa.array(old), json_old, json_new),
        "operation_Name": names,
        "operation_Id": demo._hex_ids(rng, n, 16),
        "operation_ParentId": demo._const("", n),
        **_common("request", inst, old, rng),
    })


def _children(
    rng: np.random.Generator, logged: np.ndarray, outcome: np.ndarray, timeout: np.ndarray, old: np.ndarray,
    inst: np.ndarray, request_ids: pa.Array, rows: np.ndarray,
) -> dict[str, pa.Table]:
    containers = demo._take(list(_INSTANCES), inst)
    ok = rows[outcome == _OK]
    # model data collection: the raw body (a str, so json.dumps quotes it again) and the prediction
    size = np.where(rng.random(len(ok)) < 0.01, 400, 1)
    one = demo._join("[", demo._num(rng.uniform(21, 75, len(ok)).round(0), 0), ", ",
                     demo._num(rng.lognormal(10.8, 0.4, len(ok)), 2), ", ", demo._num(rng.uniform(1, 50, len(ok)) * 1000, 0),
                     ", ", demo._take(["12", "24", "36", "60"], rng.integers(0, 4, len(ok))), "]")
    batch = pc.binary_join_element_wise(pc.binary_repeat(demo._join(one, ", "), pa.array(size - 1)), one, "")
    raw_body = demo._join('{"data": [', batch, "]}")
    model_input = demo._join('"', demo._escaped(raw_body), '"')  # json.dumps of the body text
    p = np.round(rng.beta(2, 5, len(ok)), 4)
    prediction = demo._join('{"approved": ', demo._take(["false", "true"], (p < 0.5).astype(np.int32)),
                            ', "probability": ', demo._num(p, 4), "}")
    mdc_pairs: list[tuple[str, pa.Array | str]] = [
        ("Container Id", containers.take(pa.array(ok))), ("Request Id", request_ids.take(pa.array(ok))),
        ("Client Request Id", ""), ("Workspace Name", demo.WORKSPACE), ("Service Name", INFERENCE_SERVICE),
    ]
    ok_old = old[ok]
    flat = _bag([*mdc_pairs, ("Models", _MODELS), ("Input", demo._cut(model_input, _PROPERTY_LIMIT)),
                 ("Prediction", prediction)], python=False)
    as_repr = _bag([*mdc_pairs, ("Models", _MODELS), ("Input", model_input), ("Prediction", prediction)],
                   python=True, raw=frozenset({"Models"}))
    wrapped = demo._join('{"custom_dimensions":"', demo._escaped(demo._cut(as_repr, _PROPERTY_LIMIT)),
                         '","code.filepath":"/azureml-envs/azureml_env/lib/python3.10/site-packages/'
                         'azureml_inference_server_http/server/appinsights_client.py","code.function":"send_model_data_log"}')
    mdc_dims = pc.if_else(pa.array(ok_old), flat, wrapped)
    # run()'s print and the server's error trace: nothing in them names the request
    print_dims = demo._const('{"code.filepath":"/var/azureml-app/score.py","code.function":"run","code.lineno":"31"}',
                             len(rows))
    printed = demo._join("scoring ", demo._num(np.where(outcome == _OK, 1, 0).astype(float), 0), " applications")
    err = rows[outcome == _ERR]
    kinds = rng.integers(0, len(_FAILS), len(err))
    types = demo._take(list(_FAILS), kinds)
    messages = demo._take(list(_FAILS.values()), kinds)
    messages = pc.if_else(pa.array(timeout[err]), demo._const("Scoring timeout after 30000 ms", len(err)), messages)
    types = pc.if_else(pa.array(timeout[err]), demo._const("TimeoutError", len(err)), types)
    traceback = demo._join("Traceback (most recent call last):\n  File \"/var/azureml-app/score.py\", line 33, in run\n"
                           "    X = np.asarray(data, dtype=np.float64)\n", types, ": ", messages)
    error_dims = demo._const('{"code.filepath":"/azureml-envs/azureml_env/lib/python3.10/site-packages/'
                             'azureml_inference_server_http/server/routes.py","code.function":"handle_score"}', len(err))
    traces = [
        _trace(rng, logged[ok] + 1_000, "model_data_collection", 1, mdc_dims, inst[ok], old[ok]),
        _trace(rng, logged - 2_000, None, 1, print_dims, inst, old, message_array=printed),
        _trace(rng, logged[err] + 500, None, 3, error_dims, inst[err], old[err],
               message_array=demo._join("Encountered Exception: ", traceback)),
    ]
    ex_pairs: list[tuple[str, pa.Array | str]] = [
        ("Container Id", containers.take(pa.array(err))), ("Request Id", request_ids.take(pa.array(err))),
        ("Client Request Id", ""),
    ]
    ex_dims = pc.if_else(pa.array(old[err]), _bag(ex_pairs, python=False),
                         demo._join('{"custom_dimensions":"', demo._escaped(_bag(ex_pairs, python=True)), '"}'))
    problem = demo._join(types, " at run")
    details = demo._join('[{"id":"1","outerId":"0","type":"', types, '","message":"', demo._escaped(messages),
                         '","hasFullStack":true,"parsedStack":[{"level":0,"method":"run","assembly":"Unknown",'
                         '"fileName":"/var/azureml-app/score.py","line":33}],"rawStack":"', demo._escaped(traceback), '"}]')
    m = len(err)
    exceptions = pa.table({
        "timestamp": demo._timestamps(logged[err] - 1_000),
        "problemId": problem, "handledAt": demo._const("UserCode", m), "type": types, "message": messages,
        "assembly": demo._const("", m), "method": demo._const("run", m), "outerType": types,
        "outerMessage": messages, "outerAssembly": demo._const("", m), "outerMethod": demo._const("run", m),
        "innermostType": types, "innermostMessage": messages, "innermostAssembly": demo._const("", m),
        "innermostMethod": demo._const("run", m), "severityLevel": pa.array(np.full(m, 3, np.int32)),
        "details": details, "customDimensions": ex_dims,
        "operation_Name": demo._const("", m), "operation_Id": demo._const(_ZERO, m),
        "operation_ParentId": demo._const("", m),
        **_common("exception", inst[err], old[err], rng),
    })
    return {"traces": pa.concat_tables(traces), "exceptions": exceptions}


def _trace(
    rng: np.random.Generator, ts: np.ndarray, message: str | None, severity: int, dims: pa.Array, inst: np.ndarray,
    old: np.ndarray, message_array: pa.Array | None = None,
) -> pa.Table:
    n = len(ts)
    return pa.table({
        "timestamp": demo._timestamps(ts),
        "message": message_array if message_array is not None else demo._const(message or "", n),
        "severityLevel": pa.array(np.full(n, severity, np.int32)),
        "customDimensions": dims,
        "operation_Name": demo._const("", n),
        "operation_Id": demo._const(_ZERO, n),
        "operation_ParentId": demo._const("", n),
        **_common("trace", inst, old, rng),
    })


def conform(rows: pa.Table, like: list[pa.Table]) -> pa.Table:
    """`rows` with each column cast to the type the other services' rows give it (plain text or
    dictionary-encoded), so the chunk's tables concatenate."""
    types = {f.name: f.type for t in like for f in t.schema}
    return pa.table({f.name: rows[f.name].cast(types.get(f.name, f.type)) for f in rows.schema})

