"""What a scoring script logged, as data: parse it safely, tell cut payloads, flatten to columns.

App Insights keeps at most 8,192 characters of a property, 32,768 of a trace message and 64 KB of
an item, and cuts what is longer: a big JSON payload arrives as text that no longer parses. The
text may also be anything at all (a print of a Python repr, a lone surrogate from bytes that were
not UTF-8, a megabyte of base64, nesting no parser should recurse into), so nothing here raises on
its input: every function answers with a value that says what it found.

    parse_json(text)           -> Parsed(value, status)   status: ok | empty | not_json | truncated
                                                                   | too_deep | too_large
    flatten(value)             -> {"input.data[0][3]": 845.2, "output[0]": 0.73, ...}
    size_guard(text)           -> the App Insights limit a text has reached, if any
    payload_rows(frame, responses) -> one row per logged scoring call: input and output as columns,
                                      joined to its request (status, duration, the response it logged)

Shapes read: prints of run() (`STDOUT` with the text in `Contents`, or, through Azure ML's inference
server, the printed text as the message), `model_data_collection` traces (`Content` with
`Prediction/Input`; or `Input` and `Prediction` as JSON text, flat or inside one Python-repr
property `custom_dimensions`, the input JSON-encoded twice), and a request's `Response Value`.
"""

from __future__ import annotations

import ast
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Literal, TypeAlias

import pandas as pd
from cachetools import LRUCache

from telemetry.filters import GRAINS
from telemetry.results import QueryResult

__all__ = [
    "ITEM_LIMIT",
    "MAX_DEPTH",
    "MAX_PARSE_CHARS",
    "MESSAGE_LIMIT",
    "PROPERTY_LIMIT",
    "Parsed",
    "PayloadTable",
    "clean_text",
    "distribution_grain",
    "flatten",
    "decode_payload",
    "parse_json",
    "properties",
    "payload_rows",
    "payload_table",
    "prediction_columns",
    "prediction_distribution",
    "size_guard",
]

PROPERTY_LIMIT: Final = 8_192
MESSAGE_LIMIT: Final = 32_768
ITEM_LIMIT: Final = 65_536
# A payload beyond every App Insights limit is not one we were sent whole; do not parse it.
MAX_PARSE_CHARS: Final = 4 * ITEM_LIMIT
# Python's json recurses per level and a tree view nests a box per level: deeper is refused.
MAX_DEPTH: Final = 64
MAX_COLUMNS: Final = 300

Status = Literal["ok", "empty", "not_json", "truncated", "too_deep", "too_large"]
Json: TypeAlias = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


@dataclass(frozen=True)
class Parsed:
    status: Status
    value: Json = None
    detail: str = ""  # why it did not parse, for people

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def truncated(self) -> bool:
        return self.status == "truncated"


def clean_text(value: object) -> str:
    """Any value as text that can be shown and encoded: bytes decoded leniently, lone surrogates
    (bytes that were not UTF-8, carried through JSON as \\udcxx escapes) replaced."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", errors="replace").decode("utf-8")


# A whole string literal, or a bracket, or a quote that opens a string never closed.
# Possessive quantifiers: a string left open by a cut must fail in linear time, not backtrack.
_TOKENS: Final = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]|"', re.DOTALL)
_CLOSES: Final = {"]": "[", "}": "{"}


@dataclass(frozen=True)
class _Shape:
    depth: int  # deepest nesting seen (stops counting past the limit)
    open_at_end: bool  # brackets or a string still open when the text ends: it was cut
    mismatched: bool  # a closing bracket that closes nothing: not JSON at all


def _shape(text: str, max_depth: int) -> _Shape:
    """Nesting and balance of JSON-ish text, without parsing it (and without recursion)."""
    stack: list[str] = []
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token == '"':
            return _Shape(len(stack), True, False)
        if token[0] == '"':
            continue
        if token in "[{":
            stack.append(token)
            if len(stack) > max_depth:
                return _Shape(len(stack), False, False)
        elif not stack or stack.pop() != _CLOSES[token]:
            return _Shape(len(stack), False, True)
    return _Shape(0, bool(stack), False)


def parse_json(text: object, *, max_chars: int = MAX_PARSE_CHARS, max_depth: int = MAX_DEPTH) -> Parsed:
    """Parse JSON text that may be cut, huge, deep or not JSON at all; never raises."""
    raw = clean_text(text)
    stripped = raw.strip()
    if not stripped:
        return Parsed("empty")
    if len(raw) > max_chars:
        return Parsed("too_large", detail=f"{len(raw):,} characters, more than the {max_chars:,} parsed")
    # Counting brackets is cheap and bounds the depth; only text that might be too deep is scanned.
    shape = _shape(stripped, max_depth) if stripped.count("[") + stripped.count("{") > max_depth else None
    if shape is not None and shape.depth > max_depth:
        return Parsed("too_deep", detail=f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(stripped, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        shape = shape or _shape(stripped, max_depth)
        if stripped[0] in "[{" and not shape.mismatched and (shape.open_at_end or _ends_early(error, stripped)):
            return Parsed("truncated", detail=_cut_detail(raw))
        return Parsed("not_json", detail=str(error)[:200])
    # "\udcff" escapes decode to lone surrogates, which no UTF-8 writer (the browser link) takes.
    return Parsed("ok", _clean_strings(value) if _SURROGATE_ESCAPE.search(stripped) else value)


_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _clean_strings(value: Json) -> Json:
    """The same value with every string (keys too) made encodable; iterative, any depth."""
    root: list[Json] = [value]
    stack: list[tuple[list[Json] | dict[str, Json], object]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        node = parent[key]  # type: ignore[index, call-overload]
        if isinstance(node, str):
            parent[key] = clean_text(node)  # type: ignore[index, call-overload]
        elif isinstance(node, list):
            stack.extend((node, i) for i in range(len(node)))
        elif isinstance(node, dict):
            cleaned = {clean_text(k): v for k, v in node.items()}
            node.clear()
            node.update(cleaned)
            stack.extend((node, k) for k in node)
    return root[0]


def _no_constant(name: str) -> float:
    # NaN and Infinity are not JSON; Python accepts them, App Insights' tools do not.
    raise ValueError(f"{name} is not JSON")


def _ends_early(error: Exception, text: str) -> bool:
    """The parser ran out of text (rather than meeting a wrong character)."""
    return isinstance(error, json.JSONDecodeError) and error.pos >= len(text)


def _cut_detail(text: str) -> str:
    limit = size_guard(text)
    at = f" at the {limit}" if limit else ""
    return f"cut{at} after {len(text):,} characters: the JSON is incomplete"


def size_guard(text: str, *, kind: Literal["property", "message"] = "property") -> str | None:
    """The App Insights limit `text` has reached ("8,192-character property limit"), if any."""
    limits = {"property": PROPERTY_LIMIT, "message": MESSAGE_LIMIT}
    if len(text) >= ITEM_LIMIT:
        return f"{ITEM_LIMIT // 1024} KB item limit"
    if len(text) >= limits[kind]:
        return f"{limits[kind]:,}-character {kind} limit"
    return None


def decode_payload(text: object) -> Parsed:
    """JSON text that may be JSON-encoded once more (the inference server json.dumps a body it got
    as text, and 1.4.x its response): a string that itself parses as JSON is decoded again."""
    parsed = parse_json(text)
    if parsed.ok and isinstance(parsed.value, str):
        inner = parse_json(parsed.value)
        if inner.ok or inner.truncated:
            return inner
    return parsed


_REPR_REQUEST_ID: Final = re.compile(r"'Request Id': '([^']*)'")


def properties(text: object) -> tuple[Parsed, dict[str, Json]]:
    """A row's customDimensions as a dict, with a `custom_dimensions` Python repr (1.5.x's
    inference server) read with ast.literal_eval, never eval, and merged in; a repr App Insights
    cut keeps what can be read of it (the request id). Returns the bag's own parse too."""
    bag = parse_json(text)
    props: dict[str, Json] = dict(bag.value) if bag.ok and isinstance(bag.value, dict) else {}
    inner = props.get("custom_dimensions")
    if isinstance(inner, str) and len(inner) <= MAX_PARSE_CHARS:
        try:
            value = ast.literal_eval(inner)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            found = _REPR_REQUEST_ID.search(inner)
            props.setdefault("Request Id", found.group(1) if found else None)
            if not isinstance(props.get("Input"), str):
                props["Input"] = inner  # cut: it reads as a payload that no longer parses
        else:
            if isinstance(value, dict):
                props.update({str(k): v if isinstance(v, str | int | float | bool) or v is None else
                              json.dumps(v, default=str) for k, v in value.items()})
    return bag, props


# --- flattening -------------------------------------------------------------------------------

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
Scalar: TypeAlias = None | bool | int | float | str


def _key_path(prefix: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


def _leaves(value: Json, prefix: str) -> Iterator[tuple[str, Scalar]]:
    """(path, scalar) pairs in document order; empty containers are leaves too ("[]", "{}")."""
    stack: list[tuple[str, Json]] = [(prefix, value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict) and node:
            stack.extend(reversed([(_key_path(path, str(k)), v) for k, v in node.items()]))
        elif isinstance(node, list) and node:
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(node)]))
        elif isinstance(node, dict | list):
            yield path, json.dumps(node)
        else:
            yield path, node


def flatten(value: Json, prefix: str = "", *, max_columns: int = MAX_COLUMNS) -> tuple[dict[str, Scalar], int]:
    """Leaves of a JSON value as {path: scalar}: `input.data[0][3]`, `output[0]`, `output.label`.

    Returns the columns and how many leaves were left out past `max_columns`.
    """
    found: dict[str, Scalar] = {}
    left_out = 0
    if not prefix and isinstance(value, dict | list) and not value:
        return found, left_out  # nothing was logged: no columns, rather than a column "value"
    for path, leaf in _leaves(value, prefix):
        if len(found) < max_columns:
            found[path or "value"] = leaf
        else:
            left_out += 1
    return found, left_out


# --- payload rows -----------------------------------------------------------------------------

PRINT: Final = "STDOUT"
DATA_COLLECTION: Final = "model_data_collection"
_ROW_COLUMNS: Final = ("timestamp", "operation_Id", "service", "source", "size", "limit", "status")
_REQUEST_COLUMNS: Final = ("resultCode", "duration")  # of the call's request, when the page read it


@dataclass
class _Call:
    """One scoring call's pieces: the JSON run() printed, or data collection's input and prediction."""

    timestamp: object
    operation_id: str
    service: str
    printed: Parsed | None = None
    printed_text: str = ""
    collected: dict[str, tuple[Parsed, str]] = field(default_factory=dict)  # "input"/"prediction"/"response"
    request: dict[str, object] = field(default_factory=dict)  # its request's resultCode and duration

    def texts(self) -> list[str]:
        return [self.printed_text, *(text for _, text in self.collected.values())]

    @property
    def source(self) -> str:
        if self.printed is not None:
            return "print"
        return "response" if set(self.collected) == {"response"} else "data collection"

    def parts(self) -> list[Parsed]:
        return [p for p in (self.printed, *(p for p, _ in self.collected.values())) if p is not None]

    def document(self) -> dict[str, Json]:
        """{"input": …, "output": …} from the print when it parsed, else from data collection."""
        doc: dict[str, Json] = {}
        if self.printed is not None and self.printed.ok:
            value = self.printed.value
            doc = dict(value) if isinstance(value, dict) else {"output": value}
        for key, name in (("input", "input"), ("output", "prediction"), ("output", "response")):
            got = self.collected.get(name)
            if key not in doc and got is not None and got[0].ok:
                doc[key] = got[0].value
        return doc


@dataclass(frozen=True)
class PayloadTable:
    frame: pd.DataFrame  # _ROW_COLUMNS, then the flattened input.* and output.* columns
    rows_read: int  # trace rows the table was made from
    columns_left_out: int  # flattened leaves past the column cap, over all calls
    rare_columns: int = 0  # columns past the table's cap: the keys the fewest calls have

    @property
    def truncated_share(self) -> float:
        return float(self.frame["status"].eq("truncated").mean()) if len(self.frame) else 0.0


def _calls(frame: pd.DataFrame) -> list[_Call]:
    """A call per JSON print; data collection's input and prediction join their operation's print,
    or make a call of their own when the operation printed nothing."""
    prints: list[_Call] = []
    collected: dict[str, _Call] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        dims, props = properties(row.customDimensions)
        op, service = clean_text(row.operation_Id), clean_text(row.cloud_RoleName)
        message = clean_text(row.message)
        if message == DATA_COLLECTION:
            call = collected.setdefault(op or f"row {i}", _Call(row.timestamp, op, service))
            if "Content" in props:  # one row per side, named by Prediction/Input
                text = clean_text(props.get("Content"))
                call.collected[clean_text(props.get("Prediction/Input")) or "input"] = (decode_payload(text), text)
            for side, key in (("input", "Input"), ("prediction", "Prediction")):  # both sides in one row
                if key in props:
                    text = clean_text(props.get(key))
                    call.collected[side] = (decode_payload(text), text)
        elif message != PRINT and message.lstrip().startswith(("{", "[")):  # printed through azmlinfsrv's logger
            prints.append(_Call(row.timestamp, op, service, parse_json(message), message))
        elif dims.ok:
            text = clean_text(props.get("Contents"))
            prints.append(_Call(row.timestamp, op, service, parse_json(text), text))
        else:  # the bag itself is unreadable (cut, huge, deep): that is the call's status
            prints.append(_Call(row.timestamp, op, service, dims, clean_text(row.customDimensions)))
    printed_ops = {call.operation_id: call for call in reversed(prints) if call.operation_id}
    calls = list(prints)
    for key, call in collected.items():
        if key in printed_ops:
            printed_ops[key].collected.update(call.collected)
        else:
            calls.append(call)
    return calls


def _status(parts: list[Parsed]) -> str:
    for status in ("truncated", "too_large", "too_deep", "not_json"):
        if any(p.status == status for p in parts):
            return status
    return "ok" if parts else "empty"


def _responses(frame: pd.DataFrame | None) -> dict[str, tuple[dict[str, object], _Call]]:
    """Per request id: the request's status and duration, and the response it logged as a call."""
    found: dict[str, tuple[dict[str, object], _Call]] = {}
    if frame is None:
        return found
    for row in frame.itertuples(index=False):
        op = clean_text(row.operation_Id)
        call = _Call(row.timestamp, op, clean_text(row.cloud_RoleName))
        _, props = properties(row.customDimensions)
        if props.get("Response Value") not in (None, ""):
            text = clean_text(props.get("Response Value"))
            call.collected["response"] = (decode_payload(text), text)
        found[op] = ({"resultCode": clean_text(row.resultCode), "duration": float(row.duration)}, call)
    return found


def payload_rows(frame: pd.DataFrame, responses: pd.DataFrame | None = None, *,
                 max_columns: int = MAX_COLUMNS) -> PayloadTable:
    """One row per scoring call from trace rows (timestamp, operation_Id, cloud_RoleName, message,
    customDimensions): prints of run() and data collection's input/prediction pairs, newest first.

    `responses`, request rows (timestamp, operation_Id, cloud_RoleName, resultCode, duration,
    customDimensions), join each call to its request by id: its status and duration, and the
    response it logged as the output where the traces have none; a request whose response no
    trace matched is a call of its own.

    At most `max_columns` leaves a call, and `max_columns` columns in all: the ones the most calls
    have. Calls that each log their own keys would otherwise make a column per key (2,000 calls
    of 10 distinct keys: 20,000 columns, gigabytes)."""
    rows: list[dict[str, object]] = []
    leaves: list[dict[str, Scalar]] = []
    left_out = 0
    requests = _responses(responses)
    calls = _calls(frame)
    for call in calls:
        request = requests.pop(call.operation_id, None) if call.operation_id else None
        if request is not None:
            call.collected.update({k: v for k, v in request[1].collected.items() if k not in call.collected})
            call.request = request[0]
    for info, call in requests.values():
        if call.collected:
            call.request = info
            calls.append(call)
    for call in calls:
        texts = call.texts()
        biggest = max(texts, key=len)
        rows.append({
            "timestamp": call.timestamp, "operation_Id": call.operation_id, "service": call.service,
            "source": call.source,
            "size": len(biggest), "limit": size_guard(biggest) or "", "status": _status(call.parts()),
            **call.request,
        })
        columns, dropped = flatten(call.document(), max_columns=max_columns)
        left_out += dropped
        leaves.append(columns)
    seen = Counter(name for columns in leaves for name in columns)
    kept = {name for name, _ in seen.most_common(max_columns)}  # ties: the first met
    records = [{**row, **{k: v for k, v in columns.items() if k in kept}}
               for row, columns in zip(rows, leaves, strict=True)]
    table = pd.DataFrame.from_records(records, columns=None if records else list(_ROW_COLUMNS))
    table = _typed_columns(table)
    if len(table):
        table = table.sort_values("timestamp", ascending=False, kind="stable").reset_index(drop=True)
    return PayloadTable(table, len(frame), left_out, len(seen) - len(kept))


_TABLES: Final[LRUCache[tuple[object, ...], PayloadTable]] = LRUCache(maxsize=8)
_TABLES_LOCK: Final = threading.Lock()


def payload_table(result: QueryResult, responses: QueryResult | None = None) -> PayloadTable:
    """`payload_rows` of a payload listing's answer (joined to a response listing's, when given),
    worked out once per answer (a page re-runs on every click, and the shared cache hands back the
    same answer for 60 s)."""
    key: tuple[object, ...] = (result.name, result.source, result.query_text, result.fetched_at)
    if responses is not None:
        key += (responses.query_text, responses.fetched_at)
    with _TABLES_LOCK:
        if (found := _TABLES.get(key)) is not None:
            return found
    table = payload_rows(result.frame, responses.frame if responses is not None else None)
    with _TABLES_LOCK:
        _TABLES[key] = table
    return table


def _typed_columns(table: pd.DataFrame) -> pd.DataFrame:
    """One dtype a column, so the table writes to Parquet: numbers, booleans, else text."""
    typed: dict[str, pd.Series] = {}
    for name in table.columns:
        values = table[name]
        if name == "timestamp":
            typed[name] = pd.to_datetime(values, utc=True)
        elif name == "size":
            typed[name] = values.astype("int64")
        else:
            typed[name] = _one_dtype(values)
    return pd.DataFrame(typed, index=table.index)


def _one_dtype(values: pd.Series) -> pd.Series:
    # Most flattened columns are sparse (row 40 of a batch): look at the values present only.
    present = values.dropna()
    kinds = set(map(type, present))
    if present.empty:
        return pd.Series(pd.NA, index=values.index, dtype="string")
    if kinds <= {bool}:
        return values.astype("boolean")
    if kinds <= {int, float}:
        return pd.to_numeric(values, errors="coerce").astype("float64")
    text = present.map(lambda v: v if isinstance(v, str) else json.dumps(v))
    return text.reindex(values.index).astype("string")


# --- predictions ------------------------------------------------------------------------------

ALL_OUTPUTS: Final = "output[*]"
_LIST_ITEM: Final = re.compile(r"output\[\d+\]\Z")


def prediction_columns(frame: pd.DataFrame) -> list[str]:
    """Output columns worth a distribution: numeric or categorical, "output[*]" for list outputs."""
    outputs = [c for c in frame.columns if c == "output" or c.startswith(("output.", "output["))]
    items = [c for c in outputs if _LIST_ITEM.match(c)]
    return ([ALL_OUTPUTS] if len(items) > 1 else []) + outputs


def distribution_grain(timestamps: pd.Series, max_bins: int = 48) -> timedelta:
    """The finest dashboard grain that puts the calls in at most `max_bins` bins: a bounded page
    of calls spread over many small bins would give percentiles of a handful of values."""
    span = timestamps.max() - timestamps.min() if len(timestamps) else pd.Timedelta(0)
    return next((g for g in GRAINS.values() if span / g <= max_bins), GRAINS["1d"])


def prediction_distribution(frame: pd.DataFrame, column: str, grain: timedelta) -> pd.DataFrame:
    """Per time bin: p10/p50/p90 and count of a numeric output, or the count of each class.

    Columns: bucket, then p10, p50, p90, n (numeric) or value, n (categorical).
    """
    names = [c for c in frame.columns if _LIST_ITEM.match(c)] if column == ALL_OUTPUTS else [column]
    long = frame[["timestamp", *names]].melt(id_vars=["timestamp"], value_name="value").dropna(subset=["value"])
    long["bucket"] = long["timestamp"].dt.floor(grain)
    if pd.api.types.is_numeric_dtype(long["value"]):
        grouped = long.groupby("bucket")["value"]
        result = pd.DataFrame({
            "p10": grouped.quantile(0.1), "p50": grouped.quantile(0.5), "p90": grouped.quantile(0.9),
            "n": grouped.size(),
        })
        return result.reset_index()
    return long.groupby(["bucket", "value"]).size().rename("n").reset_index()
