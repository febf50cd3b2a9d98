"""Track-protocol bodies to store rows: parse a body, check each envelope, map it to classic columns.

Pure functions, no I/O: `parse_body` gives the items of a body (a JSON array, or one JSON object a
line as `application/x-json-stream` sends; gzip or plain); `map_item` gives, for one item, the
store row it becomes, a `Skipped` (a kind the store has no table for: accepted and counted) or an
`ItemError` (refused, named by index in the answer, as the real service does).

What App Insights does on the way in is done the same way here, so the store shows what Azure
would keep: property values are cut at 8,192 characters and messages at 32,768 (a cut item carries
the property `_ingest.truncated` naming what was cut); `sampleRate` becomes `itemCount`
(100 / sampleRate); a duration `d.hh:mm:ss.fffffff` becomes milliseconds; the item id is new.
"""

from __future__ import annotations

import bisect
import json
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from telemetry.importer.columns import ITEM_TYPES
from telemetry.kusto_types import _timespan  # the same text form: [d.]hh:mm:ss[.fffffff]
from telemetry.payloads import MESSAGE_LIMIT, PROPERTY_LIMIT

__all__ = [
    "BASE_TABLES",
    "SKIPPED_BASE_TYPES",
    "TRUNCATED_PROPERTY",
    "BodyError",
    "ItemError",
    "Row",
    "Skipped",
    "inflate",
    "map_item",
    "parse_body",
]

# data.baseType -> the store table it goes to
BASE_TABLES: Final = {
    "RequestData": "requests",
    "RemoteDependencyData": "dependencies",
    "ExceptionData": "exceptions",
    "MessageData": "traces",
}
# Accepted (as the service does) but the store keeps no table for them: counted, not stored.
SKIPPED_BASE_TYPES: Final = frozenset({
    "EventData", "MetricData", "MetricsData", "PageViewData", "PageViewPerformanceData", "AvailabilityData",
})
TRUNCATED_PROPERTY: Final = "_ingest.truncated"
MAX_BODY_BYTES: Final = 32 << 20  # decompressed; a bigger body is refused whole (413)

# envelope tag -> classic column (the context tags of the App Insights schema)
_TAGS: Final = {
    "ai.operation.id": "operation_Id",
    "ai.operation.parentId": "operation_ParentId",
    "ai.operation.name": "operation_Name",
    "ai.operation.syntheticSource": "operation_SyntheticSource",
    "ai.cloud.role": "cloud_RoleName",
    "ai.cloud.roleInstance": "cloud_RoleInstance",
    "ai.internal.sdkVersion": "sdkVersion",
    "ai.session.id": "session_Id",
    "ai.user.id": "user_Id",
    "ai.user.authUserId": "user_AuthenticatedId",
    "ai.user.accountId": "user_AccountId",
    "ai.application.ver": "application_Version",
    "ai.device.type": "client_Type",
    "ai.device.model": "client_Model",
    "ai.device.osVersion": "client_OS",
    "ai.location.ip": "client_IP",
    "ai.location.city": "client_City",
    "ai.location.province": "client_StateOrProvince",
    "ai.location.country": "client_CountryOrRegion",
}
_SEVERITIES: Final = {"verbose": 0, "information": 1, "warning": 2, "error": 3, "critical": 4}
# App Insights' performance buckets (the demo's; upper bounds in ms)
_BUCKET_EDGES: Final = (250, 500, 1_000, 3_000, 7_000, 15_000, 30_000, 60_000, 120_000, 300_000)
_BUCKET_LABELS: Final = ("<250ms", "250ms-500ms", "500ms-1sec", "1sec-3sec", "3sec-7sec", "7sec-15sec",
                         "15sec-30sec", "30sec-1min", "1min-2min", "2min-5min", ">=5min")
_FRAME: Final = re.compile(r'File "([^"]*)", line (\d+), in (\S+)')

Row = dict[str, Any]


class BodyError(Exception):
    """The body as a whole cannot be read (not gzip, not UTF-8, not JSON, too big)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ItemError:
    message: str
    status: int = 400


@dataclass(frozen=True)
class Skipped:
    base_type: str


# ---- bodies -------------------------------------------------------------------------------------


def inflate(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """gunzip, refusing past `limit` bytes without inflating the rest (a zip bomb stays small)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise BodyError(f"The body is not valid gzip: {error}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(f"The body is over {limit >> 20} MB uncompressed.", 413)
    return out


def parse_body(body: bytes, *, limit: int = MAX_BODY_BYTES) -> list[Any | ItemError]:
    """The items of a body: each a parsed JSON value, or an ItemError for a line that is not JSON.

    A JSON array is one body of items; anything else is read as newline-delimited JSON. gzip is
    told by its magic bytes (some exporters send it without a Content-Encoding header).
    """
    if body[:2] == b"\x1f\x8b":
        body = inflate(body, limit)
    elif len(body) > limit:
        raise BodyError(f"The body is over {limit >> 20} MB.", 413)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(f"The body is not UTF-8 text: {error.reason} at byte {error.start}.") from None
    stripped = text.strip()
    if not stripped:
        raise BodyError("The body is empty: no telemetry item to accept.")
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise BodyError(f"The body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}.") from None
        if not isinstance(items, list):
            raise BodyError("The body is not a JSON array of telemetry items.")
        return items
    lines = [line for line in stripped.splitlines() if line.strip()]
    parsed: list[Any | ItemError] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as error:
            parsed.append(ItemError(f"Item is not valid JSON: {error.msg} at column {error.colno}."))
    if all(isinstance(item, ItemError) for item in parsed):
        raise BodyError("The body is not JSON: neither a JSON array nor JSON lines.")
    return parsed


# ---- items --------------------------------------------------------------------------------------


class _Refused(Exception):
    pass


def map_item(item: Any, *, allowed_ikeys: frozenset[str] | None = None) -> tuple[str, Row] | Skipped | ItemError:
    """(table, row) for one envelope, or why it is skipped or refused."""
    if isinstance(item, ItemError):
        return item
    if not isinstance(item, dict):
        return ItemError("Item is not a JSON object.")
    try:
        return _map(item, allowed_ikeys)
    except _Refused as refused:
        return ItemError(str(refused))


def _map(item: dict[str, Any], allowed_ikeys: frozenset[str] | None) -> tuple[str, Row] | Skipped:
    ikey = item.get("iKey")
    if not isinstance(ikey, str) or not ikey:
        raise _Refused("Field 'iKey' on type 'Envelope' is required.")
    if allowed_ikeys is not None and ikey.lower() not in allowed_ikeys:
        raise _Refused("Invalid instrumentation key: not one this endpoint accepts.")
    data = item.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("baseType"), str):
        raise _Refused("Field 'data.baseType' on type 'Envelope' is required.")
    base_type = data["baseType"]
    table = BASE_TABLES.get(base_type)
    if table is None:
        if base_type in SKIPPED_BASE_TYPES:
            return Skipped(base_type)
        raise _Refused(f"Unknown data.baseType {base_type[:60]!r}.")
    base = data.get("baseData")
    if not isinstance(base, dict):
        raise _Refused("Field 'data.baseData' on type 'Envelope' is required.")
    cut: list[str] = []
    row: Row = {"timestamp": _time(item.get("time")), "iKey": ikey, "itemId": str(uuid.uuid4()),
                "itemType": ITEM_TYPES[table], "itemCount": _item_count(item.get("sampleRate", 100.0))}
    tags = item.get("tags")
    if isinstance(tags, dict):
        for tag, column in _TAGS.items():
            value = tags.get(tag)
            if value is not None:
                row[column] = _cut(str(value), PROPERTY_LIMIT, f"tag {tag}", cut)
    properties = base.get("properties")
    dims = _properties(properties, cut) if isinstance(properties, dict) else {}
    measurements = base.get("measurements")
    if isinstance(measurements, dict) and measurements:
        row["customMeasurements"] = json.dumps(measurements)
    _BY_TABLE[table](base, row, cut)
    if cut:
        dims[TRUNCATED_PROPERTY] = ", ".join(cut)
    row["customDimensions"] = json.dumps(dims, ensure_ascii=False) if dims else None
    return table, row


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise _Refused("Field 'time' on type 'Envelope' is required.")
    text = value.strip()
    # .NET writes 7 fractional digits; Python reads at most 6
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(f"Field 'time' is not an ISO 8601 date and time: {value[:40]!r}.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _item_count(sample_rate: Any) -> int:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise _Refused(f"Field 'sampleRate' is not a number: {str(sample_rate)[:40]!r}.") from None
    if not 0 < rate <= 100:
        raise _Refused(f"Field 'sampleRate' must be above 0 and at most 100, not {rate:g}.")
    return max(1, round(100 / rate))


def _cut(text: str, limit: int, what: str, cut: list[str]) -> str:
    if len(text) <= limit:
        return text
    cut.append(f"{what} ({len(text):,} characters, kept {limit:,})")
    return text[:limit]


def _properties(properties: dict[str, Any], cut: list[str]) -> dict[str, str]:
    dims: dict[str, str] = {}
    for key, value in properties.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        dims[str(key)] = _cut(text, PROPERTY_LIMIT, f"property {str(key)[:60]}", cut)
    return dims


def _text(base: dict[str, Any], key: str) -> str | None:
    value = base.get(key)
    return None if value is None else str(value)


def _duration_ms(base: dict[str, Any]) -> float:
    value = base.get("duration")
    try:
        span = _timespan(value)
    except ValueError:
        span = None
    if span is None:
        raise _Refused(f"Field 'duration' is not a duration d.hh:mm:ss.fffffff: {str(value)[:40]!r}.")
    return span.total_seconds() * 1000


def _success(base: dict[str, Any]) -> str:
    value = base.get("success", True)
    if isinstance(value, str):
        value = value.strip().lower() != "false"
    return "True" if value else "False"


def _bucket(duration_ms: float) -> str:
    return _BUCKET_LABELS[bisect.bisect_right(_BUCKET_EDGES, duration_ms)]


def _call(base: dict[str, Any], row: Row, cut: list[str], *, code_key: str) -> None:
    duration = _duration_ms(base)
    row.update({
        "id": _text(base, "id"), "name": _cut(_text(base, "name") or "", 1024, "name", cut) or None,
        "duration": duration, "success": _success(base), "resultCode": _text(base, code_key),
        "performanceBucket": _bucket(duration),
    })


def _request(base: dict[str, Any], row: Row, cut: list[str]) -> None:
    _call(base, row, cut, code_key="responseCode")
    row["source"] = _text(base, "source")
    url = _text(base, "url")
    row["url"] = None if url is None else _cut(url, 2048, "url", cut)


def _dependency(base: dict[str, Any], row: Row, cut: list[str]) -> None:
    _call(base, row, cut, code_key="resultCode")
    row["target"] = _text(base, "target")
    row["type"] = _text(base, "type")
    data = _text(base, "data")
    row["data"] = None if data is None else _cut(data, PROPERTY_LIMIT, "data", cut)


def _severity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)  # 1.5.x of the inference server sends "1"
    return _SEVERITIES.get(text.lower())


def _trace(base: dict[str, Any], row: Row, cut: list[str]) -> None:
    message = base.get("message")
    if not isinstance(message, str):
        raise _Refused("Field 'message' on type 'MessageData' is required.")
    row["message"] = _cut(message, MESSAGE_LIMIT, "message", cut)
    row["severityLevel"] = _severity(base.get("severityLevel"))


def _frames(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, method) of each frame, outermost call first, from parsedStack or the stack text."""
    parsed = detail.get("parsedStack")
    if isinstance(parsed, list) and parsed:
        # Innermost frame first in the list, whatever the levels say: OpenCensus numbers them from
        # the outermost frame, .NET SDKs from the innermost.
        frames = [f for f in reversed(parsed) if isinstance(f, dict)]
        return [(f'File "{f.get("fileName", "")}", line {f.get("line", 0)}, in {f.get("method", "")}',
                 str(f.get("method", ""))) for f in frames]
    stack = detail.get("stack")
    if not isinstance(stack, str):
        return []
    found = []
    for match in _FRAME.finditer(stack):
        module = match.group(1).rsplit("/", 1)[-1].removesuffix(".py")
        found.append((match.group(0), f"{module}.{match.group(3)}"))
    return found


def _exception(base: dict[str, Any], row: Row, cut: list[str]) -> None:
    details = base.get("exceptions")
    if not isinstance(details, list) or not details or not all(isinstance(d, dict) for d in details):
        raise _Refused("Field 'exceptions' on type 'ExceptionData' must be a list of exception details.")
    kept = []
    for n, detail in enumerate(details):
        message = _cut(str(detail.get("message", "")), MESSAGE_LIMIT, f"exceptions[{n}].message", cut)
        entry = {"id": str(detail.get("id", n)), "outerId": str(detail.get("outerId", 0)),
                 "type": str(detail.get("typeName", "")), "message": message,
                 "hasFullStack": bool(detail.get("hasFullStack", False)),
                 "parsedStack": detail.get("parsedStack") or []}
        if isinstance(detail.get("stack"), str):
            entry["rawStack"] = _cut(detail["stack"], MESSAGE_LIMIT, f"exceptions[{n}].stack", cut)
        kept.append(entry)
    outer, inner = kept[0], kept[-1]
    outer_frames, inner_frames = _frames(details[0]), _frames(details[-1])
    # The failed method is where it was raised: the innermost frame of the traceback.
    where, method = outer_frames[-1] if outer_frames else (None, None)
    inner_where, inner_method = inner_frames[-1] if inner_frames else (None, None)
    row.update({
        "problemId": f"{outer['type']} at {method}" if method else outer["type"],
        "type": outer["type"], "message": outer["message"], "assembly": where, "method": method,
        "outerType": outer["type"], "outerMessage": outer["message"], "outerAssembly": where, "outerMethod": method,
        "innermostType": inner["type"], "innermostMessage": inner["message"],
        "innermostAssembly": inner_where, "innermostMethod": inner_method,
        "severityLevel": _severity(base.get("severityLevel")),
        "details": json.dumps(kept, ensure_ascii=False),
    })


_BY_TABLE: Final = {"requests": _request, "dependencies": _dependency, "exceptions": _exception, "traces": _trace}
