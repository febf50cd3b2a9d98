"""A local Azure Monitor Logs API for tests: the real `azure-monitor-query` client talks to it over
plain HTTP on 127.0.0.1 (`enforce_https=False`), through the same REST contract as the service:

    POST /v1/workspaces/{id}/query     {"query", "timespan", "workspaces"}  -> {"tables": [...]}
    POST /v1{resourceId}/query          the same, for a resource id
    POST /v1/$batch                     {"requests": [{"id", "body", "headers", "workspace", ...}]}
                                        -> {"responses": [{"id", "status", "body"}]} (any order)

It checks the bearer token, reads `Prefer` (wait=N, include-statistics=true), and answers a
query from, in order: the captured-shape files in tests/fixtures/logs_api/ (exact query text),
the demo store (a panel's KQL is known: the fake renders the pages' and panels' queries for the
request's timespan and runs the same query through LocalSource), and the service-detection query.
A query it cannot answer gets the service's 400 SemanticError, and is listed in `unanswered`.

Faults are programmable per request (`fail_requests`) or per sub-query (`fail_queries`, matched
on the query text): any status with the service's error body, `Retry-After`, a slow answer, a
body that is not JSON, a partial result. Stopping the server gives connection refused; `start()`
brings it back on the same port. Every request is recorded with its response size.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import duckdb
import pandas as pd
from azure.core.credentials import AccessToken

from telemetry import endpoint_logs
from telemetry.derived import DERIVED
from telemetry.filters import Filters, TimeRange, Window
from telemetry.kql import render_kql
from telemetry.model import (
    Column,
    Earliest,
    Latest,
    Listing,
    Query,
    RenderContext,
    SampleValue,
    SelfRendered,
    Summary,
    result_columns,
)
from telemetry.queries import PANELS
from telemetry.queries.pages import PAGE_VIEWS, page_queries
from telemetry.schema import WORKSPACE_TABLES, Schema, columns, is_endpoint_table, workspace_column, workspace_schema
from telemetry.sources.local import LocalSource
from telemetry.sources.logs_api import DETECTED_TABLES, STATEMENT_SEPARATOR, detection_kql

FIXTURES: Final = Path(__file__).resolve().parent / "fixtures" / "logs_api"
TOKEN: Final = "fake-logs-api-token"
WORKSPACE_ID: Final = "6f1e2d3c-0000-4000-8000-00000000a1a1"
RESOURCE_ID: Final = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-serving"
    "/providers/microsoft.insights/components/endpoint-monitor-demo"
)

Body = dict[str, Any]


class StaticCredential:
    """A TokenCredential handing out one fixed token; records the scopes it was asked for."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


# --- error bodies, as the service writes them ---------------------------------------------------

def error_body(code: str, message: str, inner: tuple[str, str] | None = None) -> Body:
    error: Body = {"message": message, "code": code, "correlationId": "00000000-0000-4000-8000-fa4e00000000"}
    if inner is not None:
        error["innererror"] = {"code": inner[0], "message": inner[1]}
    return {"error": error}


def semantic_error(detail: str) -> Body:
    body = error_body("BadArgumentError", "The request had some invalid properties", ("SemanticError", "A semantic error occurred."))
    body["error"]["innererror"]["innererror"] = {"code": "SEM0100", "message": detail}
    return body


_STATUS_BODIES: Final[dict[int, Callable[[], Body]]] = {
    400: lambda: semantic_error("'where' operator: Failed to resolve column or scalar expression named 'Nope'"),
    401: lambda: error_body("AuthenticationFailed", "Authentication failed. The provided token has expired."),
    403: lambda: error_body("InsufficientAccessError",
                            "The provided credentials have insufficient access to perform the requested operation"),
    404: lambda: error_body("PathNotFoundError", "The requested path does not exist"),
    429: lambda: error_body("ThrottledError", "Too many requests. Please retry later."),
    500: lambda: error_body("ServiceError", "Something went wrong processing your query on the server."),
    503: lambda: error_body("ServiceUnavailable", "The service is temporarily unavailable."),
    504: lambda: error_body("GatewayTimeout", "Gateway timeout", ("GatewayTimeout", "ADX query timed out")),
}


@dataclass
class Fault:
    """What goes wrong. `status` 200 with `partial` is a PartialError with the data kept."""

    status: int = 500
    body: Body | None = None  # default: the service's body for the status
    raw_body: bytes | None = None  # sent as is (a body that is not JSON)
    retry_after: float | None = None
    delay_s: float = 0.0  # answer this late (status 200: then answer normally; past Prefer wait=N: 504)
    partial: bool = False
    keep_tables: int | None = None  # partial: only the first tables of a multi-statement answer
    times: int | None = 1  # requests it spoils; None: until cleared
    match: str | None = None  # sub-query faults: the query text contains this
    null_body: bool = False  # sub-query faults: the batch item's body is null

    def error(self) -> Body:
        return self.body if self.body is not None else _STATUS_BODIES.get(self.status, _STATUS_BODIES[500])()


def partial_error() -> Body:
    """The shape the service sends with partial data (see the SDK's recorded E_OVERFLOW answer)."""
    body = error_body("PartialError", "There were some errors when processing your query.")
    body["error"]["details"] = [{
        "code": "EngineError", "message": "Something went wrong processing your query on the server.",
        "innererror": {"code": "-2133196788", "severity": 2, "severityName": "Error",
                       "message": "Query result set has exceeded the internal record count limit 500000 "
                                  "(E_QUERY_RESULT_SET_TOO_LARGE)."},
    }]
    return body


def _server_timeout(prefer: str | None) -> float:
    for part in (prefer or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "wait" and value:
            return float(value)
    return 180.0  # the service's default


# --- serialising frames in the Logs API shape ---------------------------------------------------

_KIND_TYPES: Final = {"count": "long", "real": "real", "datetime": "datetime", "string": "string", "int": "long",
                      "bool": "bool", "dynamic": "dynamic"}


def _source_column(query: Query, name: str) -> str | None:
    """The table column a result column is read from, when it is one (not an aggregate)."""
    if isinstance(query, SelfRendered):
        return None  # it names its result columns' kinds itself
    if isinstance(query, Listing):
        return next(c.column for c in query.columns if c.name == name)
    for dim in query.by:
        if isinstance(dim, Column) and dim.name == name:
            return dim.column
    for measure in query.measures:
        if measure.alias == name and isinstance(measure, Earliest | Latest | SampleValue):
            return measure.column
    return None


def kusto_type(query: Query, name: str, kind: str, schema: str) -> str:
    """The type Kusto gives a result column: the table column's, in the scope's schema, else the aggregate's."""
    column = _source_column(query, name)
    if column is None:
        return _KIND_TYPES[kind]
    if column in DERIVED.get(query.table, {}):
        return DERIVED[query.table][column]
    if schema == "classic":
        return columns(query.table)[column]
    return workspace_schema()[WORKSPACE_TABLES.get(query.table, query.table)][workspace_column(query.table, column)]


def kusto_datetime(moment: pd.Timestamp | datetime) -> str:
    ticks = f"{moment.microsecond:06d}0".rstrip("0")  # Kusto writes up to 7 digits, no trailing zeros
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (f".{ticks}" if ticks else "") + "Z"


def _missing(value: Any) -> bool:
    # A NaN from the store is SQL's NULL (an aggregate over no rows): Kusto sends null there too.
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def kusto_value(value: Any, kusto_type: str) -> Any:
    if _missing(value):
        return None
    if kusto_type == "datetime":
        return kusto_datetime(value)
    if kusto_type == "real":
        number = float(value)
        return number if math.isfinite(number) else ("Infinity" if number > 0 else "-Infinity")
    if kusto_type in ("long", "int"):
        return int(value)
    if kusto_type == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return str(value)  # string, and dynamic: Kusto sends a dynamic value as its JSON text


def table_json(frame: pd.DataFrame, types: Sequence[str]) -> Body:
    rows = [[kusto_value(v, t) for v, t in zip(row, types, strict=True)]
            for row in frame.astype(object).itertuples(index=False)]
    return {"name": "PrimaryResult",
            "columns": [{"name": n, "type": t} for n, t in zip(frame.columns, types, strict=True)], "rows": rows}


# --- answering queries ---------------------------------------------------------------------------

Answerer = Callable[[str, Window | None], Body | None]  # (query text, timespan) -> a table, or None


def parse_timespan(text: str | None, now: datetime | None = None) -> Window | None:
    """The body's ISO 8601 interval: "start/end", "start/PT…S" or a duration ending now."""
    if not text:
        return None
    if "/" not in text:
        end = now or datetime.now(UTC)
        return Window(end - _duration(text), end)
    first, second = text.split("/", 1)
    start = _instant(first)
    return Window(start, start + _duration(second) if second.startswith("P") else _instant(second))


def _instant(text: str) -> datetime:
    return pd.Timestamp(text).to_pydatetime().astimezone(UTC)


def _duration(text: str) -> timedelta:
    return pd.Timedelta(text).to_pytimedelta()


class FixtureAnswers:
    """Captured-shape answers: tests/fixtures/logs_api/*.json with "query" and "body"."""

    def __init__(self, directory: Path = FIXTURES) -> None:
        self.bodies = {}
        for path in sorted(directory.glob("*.json")):
            found = json.loads(path.read_text())
            self.bodies[found["query"]] = found["body"]

    def __call__(self, text: str, window: Window | None) -> Body | None:
        body = self.bodies.get(text)
        return body["tables"][0] if body and body.get("tables") else None


def known_queries() -> list[Query]:
    """Every page's default queries and every panel that takes no parameters."""
    found: list[Query] = [q for page in PAGE_VIEWS for q in page_queries(page)]
    for factory in PANELS.values():
        try:
            found.append(factory())
        except TypeError:  # the panel needs parameters (a chosen group, a search text)
            continue
    return found


def schemas_of(query: Query) -> tuple[Schema, ...]:
    """The KQL schemas a query's table exists in (online endpoint logs: workspaces only)."""
    return ("workspace",) if is_endpoint_table(query.table) else ("classic", "workspace")


class StoreAnswers:
    """A panel's KQL answered from a DuckDB store, by rendering known queries for the timespan."""

    def __init__(self, store: Path, filters: Iterable[Filters] = (Filters(),)) -> None:
        self.source = LocalSource(store)
        self.filters = list(filters)
        self.extra: list[Query] = []
        self.learned: dict[str, tuple[Query, RenderContext, str]] = {}
        self._by_window: dict[Window, dict[str, tuple[Query, RenderContext, str]]] = {}
        self._lock = threading.Lock()

    def learn(self, queries: Sequence[Query], ctx: RenderContext) -> None:
        """Make these exact (query, context) pairs answerable, in both schemas."""
        for query in queries:
            for schema in schemas_of(query):
                self.learned[render_kql(query, ctx, schema)] = (query, ctx, schema)

    def _catalogue(self, window: Window) -> dict[str, tuple[Query, RenderContext, str]]:
        with self._lock:
            if window not in self._by_window:
                found: dict[str, tuple[Query, RenderContext, str]] = {}
                half = Window(window.start + window.length / 2, window.end)  # compare_previous reads 2 windows
                third = Window(window.start + window.length * 2 / 3, window.end)  # model drift's reference: 2x
                for view in (window, half, third):
                    for filters in self.filters:
                        filters = replace(filters, time=TimeRange(None, view.start, view.end))
                        ctx = RenderContext(view, filters.grain_for(view), filters)
                        for query in known_queries() + self.extra:
                            for schema in schemas_of(query):
                                found.setdefault(render_kql(query, ctx, schema), (query, ctx, schema))
                self._by_window[window] = found
            return self._by_window[window]

    def __call__(self, text: str, window: Window | None) -> Body | None:
        known = self.learned.get(text) or (self._catalogue(window).get(text) if window else None)
        if known is None:
            return None
        query, ctx, schema = known
        frame = self.source.run_one(query, ctx).frame
        types = [kusto_type(query, c.name, c.kind, schema) for c in result_columns(query)]
        return table_json(frame, types)


class DetectionAnswers:
    """The service-detection query (items per table and service), from a DuckDB store."""

    def __init__(self, store: Path) -> None:
        self.store = store

    def __call__(self, text: str, window: Window | None) -> Body | None:
        if window is None:
            return None
        if text == endpoint_logs.detection_kql(window):
            return self._endpoint_tables(window)
        schemas: tuple[Schema, ...] = ("classic", "workspace")
        schema = next((s for s in schemas if detection_kql(s, window) == text), None)
        if schema is None:
            return None
        sql = " UNION ALL ".join(
            f"SELECT '{t if schema == 'classic' else WORKSPACE_TABLES[t]}' AS table_, cloud_RoleName AS service, "
            f"sum(itemCount) AS items FROM {t} WHERE timestamp >= ? AND timestamp < ? GROUP BY ALL"
            for t in DETECTED_TABLES if t != "customEvents"  # the store keeps no custom events
        )
        params = [window.start, window.end] * (len(DETECTED_TABLES) - 1)
        with duckdb.connect(str(self.store), read_only=True) as con:
            frame = con.execute(f"SELECT * FROM ({sql}) ORDER BY items DESC, table_, service", params).df()
        return table_json(frame, ["string", "string", "long"])

    def _endpoint_tables(self, window: Window) -> Body:
        """Rows per online endpoint log table (the store keeps them under their own names)."""
        sql = " UNION ALL ".join(
            f"SELECT '{t}' AS table_, count(*) AS rows FROM \"{t}\" WHERE TimeGenerated >= ? AND TimeGenerated < ?"
            for t in endpoint_logs.ENDPOINT_LOG_TABLES)
        params = [window.start, window.end] * len(endpoint_logs.ENDPOINT_LOG_TABLES)
        with duckdb.connect(str(self.store), read_only=True) as con:
            frame = con.execute(f"SELECT * FROM ({sql}) WHERE rows > 0 ORDER BY table_", params).df()
        return table_json(frame, ["string", "long"])


# --- the server ----------------------------------------------------------------------------------

@dataclass
class Recorded:
    path: str
    prefer: str | None
    queries: list[str]  # one per batch item; a multi-statement query is one text
    timespans: list[str | None]
    prefers: list[str | None]  # per batch item (its own headers), else the request's
    status: int = 0
    response_bytes: int = 0  # on the wire (gzip when the client accepts it, as the service does)
    body_bytes: int = 0  # the JSON before compression


@dataclass
class FakeLogsApi:
    workspaces: set[str] = field(default_factory=lambda: {WORKSPACE_ID})
    resources: set[str] = field(default_factory=lambda: {RESOURCE_ID.lower()})
    token: str = TOKEN
    answerers: list[Answerer] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.requests: list[Recorded] = []
        self.unanswered: list[str] = []
        self.request_faults: list[Fault] = []
        self.query_faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLogsApi:
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-logs-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: the next request meets connection refused."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # faults
    def fail_requests(self, *faults: Fault) -> None:
        with self._lock:
            self.request_faults.extend(faults)

    def fail_queries(self, *faults: Fault) -> None:
        with self._lock:
            self.query_faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self.request_faults.clear()
            self.query_faults.clear()

    def _take(self, faults: list[Fault], text: str | None = None) -> Fault | None:
        with self._lock:
            for fault in faults:
                if fault.match is None or (text is not None and fault.match in text):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            faults.remove(fault)
                    return fault
        return None

    # answering
    def answer(self, body: Body, prefer: str | None) -> tuple[int, Body | None]:
        """One query body -> (status, response body), statements of a multi-statement query together."""
        text = str(body.get("query") or "")
        fault = self._take(self.query_faults, text)
        if fault is not None and fault.delay_s:
            wait = _server_timeout(prefer)
            self._stopping.wait(min(fault.delay_s, wait))
            if fault.delay_s > wait:  # the service stops the query at Prefer: wait=N
                return 504, _STATUS_BODIES[504]()
        if fault is not None and fault.null_body:
            return fault.status, None
        if fault is not None and fault.status != 200:
            return fault.status, fault.error()
        window = parse_timespan(body.get("timespan"))
        tables = []
        for statement in text.split(STATEMENT_SEPARATOR):
            table = next((t for a in self.answerers if (t := a(statement, window)) is not None), None)
            if table is None:
                with self._lock:
                    self.unanswered.append(statement)
                return 400, semantic_error(f"fake Logs API: no answer known for the query {statement[:80]!r}")
            tables.append(table)
        answer: Body = {"tables": tables}
        if prefer and "include-statistics=true" in prefer:
            answer["statistics"] = {"query": {"executionTime": 0.01, "resourceUsage": {}}}
        if fault is not None and fault.partial:  # data plus an error
            answer["error"] = (fault.body or partial_error())["error"]
            answer["tables"] = tables[: fault.keep_tables]
        return 200, answer

    def batch(self, body: Body) -> Body:
        responses = []
        for item in body.get("requests", []):
            prefer = (item.get("headers") or {}).get("Prefer")
            if item.get("workspace") not in self.workspaces:
                status, answer = 404, _STATUS_BODIES[404]()
            else:
                status, answer = self.answer(item.get("body") or {}, prefer)
            responses.append({"id": item.get("id"), "status": status, "body": answer})
        return {"responses": list(reversed(responses))}  # any order: the client matches ids

    def learn(self, queries: Sequence[Query], ctx: RenderContext) -> None:
        """Let the store answer these queries under `ctx` (filters the catalogue does not try)."""
        for answerer in self.answerers:
            if isinstance(answerer, StoreAnswers):
                answerer.learn(queries, ctx)

    def queries_sent(self) -> list[str]:
        return [q for r in self.requests for q in r.queries]


def _handler(fake: FakeLogsApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            prefer = self.headers.get("Prefer")
            items = ([(r.get("body") or {}, (r.get("headers") or {}).get("Prefer")) for r in body.get("requests", [])]
                     if self.path == "/v1/$batch" else [(body, prefer)])
            record = Recorded(self.path, prefer, [str(b.get("query")) for b, _ in items],
                              [b.get("timespan") for b, _ in items], [p for _, p in items])
            with fake._lock:
                fake.requests.append(record)
            status, answer, headers, raw_answer = self._route(body)
            self._send(record, status, answer, headers, raw_answer)

        def _route(self, body: Body) -> tuple[int, Body | None, dict[str, str], bytes | None]:
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                return 401, error_body("AuthenticationFailed", "Authentication failed. The token is missing or invalid."), {}, None
            fault = fake._take(fake.request_faults)
            if fault is not None and fault.delay_s:
                fake._stopping.wait(fault.delay_s)
            if fault is not None and (fault.status != 200 or fault.raw_body is not None):
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                if fault.raw_body is not None:
                    return fault.status, None, headers, fault.raw_body
                return fault.status, fault.error(), headers, None
            if self.path == "/v1/$batch":
                return 200, fake.batch(body), {}, None
            scope = self.path.removeprefix("/v1").removesuffix("/query")
            if scope.startswith("/workspaces/"):
                if scope.removeprefix("/workspaces/") not in fake.workspaces:
                    return 404, _STATUS_BODIES[404](), {}, None
            elif scope.lower() not in fake.resources:
                return 404, error_body("ItemNotFoundError", "The requested item was not found",
                                       ("FailedToResolveResourceError", f"Unable to resolve resource: {scope}")), {}, None
            status, answer = fake.answer(body, self.headers.get("Prefer"))
            return status, answer, {}, None

        def _send(self, record: Recorded, status: int, answer: Body | None, headers: dict[str, str],
                  raw: bytes | None) -> None:
            payload = raw if raw is not None else json.dumps(answer).encode()
            record.status, record.body_bytes = status, len(payload)
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                payload = gzip.compress(payload, compresslevel=5)
                headers = {**headers, "Content-Encoding": "gzip"}
            record.response_bytes = len(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")  # a stopped fake refuses at once
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                pass
            self.close_connection = True

    return Handler


@contextmanager
def serve(store: Path | None = None, **options: Any) -> Iterator[FakeLogsApi]:
    """A running fake answering from the fixtures and, given a store, from it."""
    answerers: list[Answerer] = [FixtureAnswers()]
    if store is not None:
        answerers += [StoreAnswers(store), DetectionAnswers(store)]
    fake = FakeLogsApi(answerers=answerers, **options).start()
    try:
        yield fake
    finally:
        fake.stop()
