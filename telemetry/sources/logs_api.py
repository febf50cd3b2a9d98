"""Application Insights telemetry through the Azure Monitor Logs API (`azure-monitor-query` 2.0).

One `run()` is one HTTP request, whatever the number of panels:

- workspace scope (workspace tables `AppRequests`…): `query_batch`, one sub-query per panel, so a
  panel whose sub-query fails shows its own error while the others render;
- resource scope (a classic Application Insights component, tables `requests`…): the Logs API's
  batch takes workspace ids only, so the panels' queries go out as one multi-statement query
  (`q1 ; q2 ; …`, one result table each). Kusto fails such a query as a whole on a semantic
  error, so on a 400 the queries are asked again one by one to pin the error on its panel.

The KQL dialect follows the scope. Retries: azure-core's (500/502/503 and any status with
`Retry-After`), plus a 429 without `Retry-After`, which azure-core does not retry on a POST; the
queries only read, so sending them again is safe. Waiting is bounded in total (`max_retry_wait_s`);
past it the panels say they were throttled and when to try again.
"""

from __future__ import annotations

import os
import copy
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pandas as pd

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.policies import RetryPolicy
from azure.monitor.query import (
    LogsBatchQuery,
    LogsQueryClient,
    LogsQueryError,
    LogsQueryPartialResult,
    LogsQueryResult,
    LogsTable,
)

from telemetry import endpoint_logs
from telemetry.config import DEFAULT_ENDPOINT, LogsApiSettings, cloud_of
from telemetry.errors import BadQueryError, SourceUnavailableError, TelemetryError
from telemetry.filters import Window
from telemetry.kql import render_kql
from telemetry.kusto_types import table_frame
from telemetry.model import Query, RenderContext, result_columns
from telemetry.results import Outcome, QueryResult, typed_frame
from telemetry.kql_literals import datetime_literal
from telemetry.schema import WORKSPACE_TABLES, Schema, workspace_column
from telemetry.sources.local import MAX_ROWS
from telemetry.sources.logs_api_errors import (
    from_azure_error, from_query_error, partial_warning, plain_http_error, scope_name,
)

__all__ = [
    "DEFAULT_READ_TIMEOUT_S",
    "STATEMENT_SEPARATOR",
    "Detection",
    "LogsApiSource",
    "default_credential",
    "detect_services",
    "detection_kql",
]

DEFAULT_READ_TIMEOUT_S: Final = 300.0  # azure-core's default
# Between the statements of a multi-statement query. A string literal never holds a raw line
# break (telemetry.kql_literals escapes it), so this text only ever separates statements.
STATEMENT_SEPARATOR: Final = "\n;\n"
_READ_MARGIN_S: Final = 15.0  # the service's own timeout answer should arrive before we give up
_SERIAL_FALLBACK_WORKERS: Final = 4  # the Logs API runs 5 queries of a user at once
# What a request can fail with: azure-core's errors, and the client's own on a body of the wrong shape.
_REQUEST_FAILURES: Final = (AzureError, ValueError, KeyError, TypeError)


class _QueryRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy, also retrying a 429 that has no `Retry-After`, never a 504, and
    never waiting more than `max_wait_s` in total for one request."""

    def __init__(self, *, max_wait_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_wait_s = max_wait_s

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["waited"] = 0.0
        return settings

    def _wait(self, settings: dict[str, Any], response: Any, failures: int) -> float:
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                return retry_after
        return min(settings["max_backoff"], settings["backoff"] * 2 ** max(failures - 1, 0))

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        status = response.http_response.status_code
        if status == 504:  # the query outran the server timeout: it would again
            return False
        retry = bool(settings["total"]) if status == 429 else super().is_retry(settings, response)
        failures = len(settings["history"]) + 1
        return bool(retry) and settings["waited"] + self._wait(settings, response, failures) <= self.max_wait_s

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        wait = self._wait(settings, response, len(settings["history"]))
        settings["waited"] += wait
        if wait > 0:
            transport.sleep(wait)


class _TenantCredential:
    """Asks every token of `tenant_id` (DefaultAzureCredential takes no tenant of its own)."""

    def __init__(self, inner: TokenCredential, tenant_id: str) -> None:
        self._inner = inner
        self._tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        kwargs.setdefault("tenant_id", self._tenant_id)
        return self._inner.get_token(*scopes, **kwargs)

    def close(self) -> None:
        getattr(self._inner, "close", lambda: None)()


def default_credential(settings: LogsApiSettings) -> TokenCredential:
    """az login, managed identity, service principal or workload identity environment variables."""
    from azure.identity import DefaultAzureCredential  # imported late: it is slow to import

    cloud = cloud_of(settings.endpoint)
    # A sovereign cloud signs in at its own host; AZURE_AUTHORITY_HOST, when set, still decides.
    sign_in: dict[str, str] = {}
    if cloud is not None and cloud.endpoint != DEFAULT_ENDPOINT and not os.environ.get("AZURE_AUTHORITY_HOST"):
        sign_in["authority"] = cloud.authority
    if not settings.tenant_id:
        return DefaultAzureCredential(**sign_in)
    tenant = settings.tenant_id
    inner = DefaultAzureCredential(
        additionally_allowed_tenants=[tenant], shared_cache_tenant_id=tenant, visual_studio_code_tenant_id=tenant,
        workload_identity_tenant_id=tenant, interactive_browser_tenant_id=tenant, **sign_in,
    )
    return _TenantCredential(inner, tenant)


_NO_DATA: Final = LogsQueryResult(tables=[])  # a 204 answer: nothing in the scope for the query yet


@dataclass(frozen=True)
class _Answer:
    """One query's table, or why there is none."""

    table: LogsTable | None = None
    warning: str | None = None
    error: TelemetryError | None = None


class LogsApiSource:
    """A `TelemetrySource` over one Logs API scope (see `LogsApiSettings`)."""

    def __init__(
        self,
        settings: LogsApiSettings,
        credential: TokenCredential | None = None,
        *,
        enforce_https: bool = True,
        retry_total: int = 3,
        retry_backoff_s: float = 0.8,
        max_retry_wait_s: float = 20.0,
        read_timeout_s: float | None = None,
        connection_timeout_s: float = 10.0,
    ) -> None:
        if bool(settings.workspace_id) == bool(settings.resource_id):
            raise ValueError("LogsApiSettings needs exactly one of workspace_id and resource_id")
        self.settings = settings
        self.enforce_https = enforce_https
        # read_timeout is raised to the server timeout when that is longer than azure-core's 300 s.
        self.read_timeout_s = read_timeout_s or max(DEFAULT_READ_TIMEOUT_S, settings.server_timeout_s + _READ_MARGIN_S)
        options: dict[str, Any] = {"endpoint": settings.endpoint}
        if settings.audience:
            options["audience"] = settings.audience
        self._client = LogsQueryClient(
            credential or default_credential(settings),
            retry_policy=_QueryRetryPolicy(
                max_wait_s=max_retry_wait_s, retry_total=retry_total, retry_backoff_factor=retry_backoff_s,
                retry_backoff_max=max_retry_wait_s,
            ),
            connection_timeout=connection_timeout_s,
            read_timeout=self.read_timeout_s,
            **options,
        )

    # --- TelemetrySource ------------------------------------------------------------------

    @property
    def label(self) -> str:
        # The sidebar names a classic resource by its component name: the whole id takes five lines.
        if self.settings.resource_id:
            return f"Logs API, Application Insights {self.settings.resource_id.rstrip('/').rsplit('/', 1)[-1]}"
        return f"Logs API, {scope_name(self.settings)}"

    @property
    def kql_schema(self) -> Schema:
        return self.settings.schema_name

    @property
    def cache_key(self) -> str:
        s = self.settings
        return f"logs-api:{s.endpoint}:{s.workspace_id or s.resource_id}"

    def run(self, queries: Sequence[Query], ctx: RenderContext) -> list[Outcome]:
        if not queries:
            return []
        texts = [render_kql(query, ctx, self.kql_schema) for query in queries]
        windows = [ctx.read_window(query) for query in queries]
        started = time.perf_counter()
        try:
            answers = self._ask(texts, windows)
        except _REQUEST_FAILURES as error:
            failure = self._request_error(error)
            answers = [_Answer(error=failure) for _ in texts]
        elapsed = time.perf_counter() - started
        return [self._outcome(q, text, answer, elapsed) for q, text, answer in zip(queries, texts, answers, strict=True)]

    def close(self) -> None:
        self._client.close()

    def detect(self, *, now: datetime | None = None, days: int = 7) -> Detection:
        """Which App Insights tables have rows in the last `days`, and which services report."""
        end = (now or datetime.now(UTC)).astimezone(UTC)
        window = Window(end - timedelta(days=days), end)
        text = detection_kql(self.kql_schema, window)
        # A workspace may also hold an online endpoint's own logs: asked in the same batch.
        texts = [text, *([endpoint_logs.detection_kql(window)] if self.settings.workspace_id else [])]
        try:
            answer, *endpoint_answer = self._ask(texts, [window] * len(texts))
        except _REQUEST_FAILURES as error:
            raise _for_query(self._request_error(error), text) from error
        endpoint_tables = _endpoint_tables(endpoint_answer[0]) if endpoint_answer else ()
        if answer.error is not None:
            if isinstance(answer.error, BadQueryError) and "resolve" in str(answer.error).lower():
                # none of the tables exists here
                return Detection(tables=(), services=(), endpoint_tables=endpoint_tables)
            raise _for_query(answer.error, text)
        return replace(_detection(answer.table), endpoint_tables=endpoint_tables)

    # --- requests -------------------------------------------------------------------------

    def _call_options(self) -> dict[str, Any]:
        return {"enforce_https": self.enforce_https}

    def _request_error(self, error: Exception) -> TelemetryError:
        return from_azure_error(error, self.settings, read_timeout_s=self.read_timeout_s)

    def _ask(self, texts: list[str], windows: list[Window]) -> list[_Answer]:
        if self.enforce_https and not self.settings.endpoint.lower().startswith("https://"):
            return [_Answer(error=plain_http_error(self.settings)) for _ in texts]  # never send a token in clear
        if self.settings.workspace_id:
            return self._ask_batch(texts, windows)
        if len(texts) == 1:
            return [self._ask_resource(texts[0], windows[0])]
        return self._ask_resource_together(texts, windows)

    def _ask_batch(self, texts: list[str], windows: list[Window]) -> list[_Answer]:
        assert self.settings.workspace_id is not None
        batch = [
            LogsBatchQuery(self.settings.workspace_id, text, timespan=(w.start, w.end),
                           server_timeout=self.settings.server_timeout_s)
            for text, w in zip(texts, windows, strict=True)
        ]
        try:
            results = self._client.query_batch(batch, **self._call_options())
        except AttributeError as error:  # the client reads each item's body as a dict
            raise ValueError("a batch item came back without a body") from error
        if len(results) != len(texts):
            raise ValueError(f"the batch answered {len(results)} of {len(texts)} queries")
        return [self._single(result) for result in results]

    def _query_resource(self, text: str, window: Window) -> LogsQueryResult | LogsQueryPartialResult:
        assert self.settings.resource_id is not None
        statuses: list[int] = []
        try:
            return self._client.query_resource(
                self.settings.resource_id, text, timespan=(window.start, window.end),
                server_timeout=self.settings.server_timeout_s,
                raw_response_hook=lambda response: statuses.append(response.http_response.status_code),
                **self._call_options(),
            )
        except ValueError:
            # "204 No Content" is the service's "no data in the scope yet": no body, so no tables.
            if statuses[-1:] == [204]:
                return _NO_DATA
            raise

    def _ask_resource(self, text: str, window: Window) -> _Answer:
        try:
            return self._single(self._query_resource(text, window))
        except _REQUEST_FAILURES as error:
            return _Answer(error=self._request_error(error))

    def _ask_resource_together(self, texts: list[str], windows: list[Window]) -> list[_Answer]:
        span = Window(min(w.start for w in windows), max(w.end for w in windows))
        try:
            result = self._query_resource(STATEMENT_SEPARATOR.join(texts), span)
        except HttpResponseError as error:
            if error.status_code != 400:
                raise
            # A semantic error fails every statement: ask each alone to find whose it is.
            with ThreadPoolExecutor(max_workers=min(_SERIAL_FALLBACK_WORKERS, len(texts))) as pool:
                return list(pool.map(self._ask_resource, texts, windows))
        if result is _NO_DATA:
            return [_Answer() for _ in texts]
        tables, warning = _tables_of(result)
        if len(tables) > len(texts) or (len(tables) < len(texts) and warning is None):
            raise ValueError(f"the multi-statement query answered {len(tables)} tables for {len(texts)} statements")
        # Partial data may stop short: the statements past the last table get no answer.
        cut = SourceUnavailableError(f"No data came back for this panel. {warning}")
        return [_Answer(table=table, warning=warning) for table in tables] + [_Answer(error=cut)] * (len(texts) - len(tables))

    def _single(self, result: LogsQueryResult | LogsQueryPartialResult | LogsQueryError) -> _Answer:
        if isinstance(result, LogsQueryError):
            if str(result.code or "").lower() == "workspacenotplacederror":  # a 204 item: no data there yet
                return _Answer()
            return _Answer(error=from_query_error(result, self.settings))
        tables, warning = _tables_of(result)
        return _Answer(table=tables[0] if tables else None, warning=warning)

    # --- answers to frames ----------------------------------------------------------------

    def _outcome(self, query: Query, text: str, answer: _Answer, elapsed: float) -> Outcome:
        if answer.error is not None:
            return _for_query(answer.error, text)
        try:
            frame, warnings = _frame(query, answer.table)
        except TelemetryError as error:
            return _for_query(error, text)
        except (ValueError, TypeError) as error:  # a value typed_frame cannot read as its column's kind
            return SourceUnavailableError(f"The Logs API's answer to this panel could not be read: {error}.", query=text)
        if answer.warning:
            warnings = (answer.warning, *warnings)
        return QueryResult(
            name=query.name, frame=frame, query_text=text, language="kql", warnings=warnings,
            elapsed_s=elapsed, source=self.label,
        )


@dataclass(frozen=True)
class Detection:
    """What a scope holds: App Insights tables (classic names) with rows, and the reporting
    services (cloud_RoleName / AppRoleName), most items first."""

    tables: tuple[str, ...]
    services: tuple[str, ...]
    # Azure ML online endpoint log tables with rows (workspace scope only; see telemetry.endpoint_logs)
    endpoint_tables: tuple[str, ...] = ()

    @property
    def has_app_insights(self) -> bool:
        return bool(self.tables)


DETECTED_TABLES: Final = ("requests", "dependencies", "exceptions", "traces", "customEvents")


def detection_kql(schema: Schema, window: Window) -> str:
    """Items per table and service in `window` (no user values: nothing to escape)."""
    tables = [t if schema == "classic" else WORKSPACE_TABLES[t] for t in DETECTED_TABLES]
    col = (lambda c: c) if schema == "classic" else (lambda c: workspace_column("requests", c))
    time_col = col("timestamp")
    return "\n".join([
        f"union isfuzzy=true withsource=table_ {', '.join(tables)}",
        f"| where {time_col} >= {datetime_literal(window.start)} and {time_col} < {datetime_literal(window.end)}",
        f"| summarize items = sum({col('itemCount')}) by table_, service = {col('cloud_RoleName')}",
        "| order by items desc, table_ asc, service asc",
    ])


def detect_services(settings: LogsApiSettings, credential: TokenCredential | None = None, *,
                    now: datetime | None = None, days: int = 7, **options: Any) -> Detection:
    """`LogsApiSource(settings, credential, **options).detect(...)`, for the sidebar's connect form.
    Raises the `TelemetryError` that says what went wrong (no access, wrong id, …)."""
    source = LogsApiSource(settings, credential, **options)
    try:
        return source.detect(now=now, days=days)
    finally:
        source.close()


def _detection(table: LogsTable | None) -> Detection:
    if table is None:
        return Detection(tables=(), services=())
    frame = table_frame(table.columns, table.columns_types, [list(row) for row in table.rows])
    classic = {workspace: name for name, workspace in WORKSPACE_TABLES.items()}
    if not {"table_", "service", "items"} <= set(frame.columns):
        raise SourceUnavailableError(f"The service-detection answer lacks columns: it has {list(frame.columns)}.")
    frame = frame[frame["items"].fillna(0) > 0]
    tables = dict.fromkeys(classic.get(t, t) for t in frame["table_"].dropna())
    totals = frame.dropna(subset=["service"]).groupby("service", sort=False)["items"].sum()
    services = totals[totals.index != ""].sort_values(ascending=False, kind="stable").index
    return Detection(tables=tuple(tables), services=tuple(str(s) for s in services))


def _endpoint_tables(answer: _Answer) -> tuple[str, ...]:
    """The endpoint log tables with rows; none when the workspace has none of them (Kusto's
    "failed to resolve" for the union) or the answer cannot be read: the check is a hint."""
    if answer.table is None or answer.error is not None:
        return ()
    frame = table_frame(answer.table.columns, answer.table.columns_types, [list(row) for row in answer.table.rows])
    if not {"table_", "rows"} <= set(frame.columns):
        return ()
    return tuple(str(t) for t in frame.loc[frame["rows"].fillna(0) > 0, "table_"])


def _tables_of(result: LogsQueryResult | LogsQueryPartialResult) -> tuple[list[LogsTable], str | None]:
    if isinstance(result, LogsQueryPartialResult):
        return list(result.partial_data or []), partial_warning(result.partial_error)
    return list(result.tables or []), None


def _frame(query: Query, table: LogsTable | None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    wanted = result_columns(query)
    if table is None:  # an empty answer (204, or a body without tables): no rows
        raw = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in wanted})
        return typed_frame(raw, query), ()
    json_columns = frozenset(c.name for c in wanted if c.kind == "dynamic")
    rows = [list(row) for row in table.rows]
    warnings: tuple[str, ...] = ()
    if len(rows) > MAX_ROWS:
        rows = rows[:MAX_ROWS]
        warnings = (f"Showing the first {MAX_ROWS:,} rows; narrow the filters to see the rest.",)
    raw = table_frame(table.columns, table.columns_types, rows, as_text=json_columns)
    return typed_frame(raw, query), warnings


def _for_query(error: TelemetryError, text: str) -> TelemetryError:
    """The error, carrying this panel's query (request-wide failures are shared by every panel)."""
    own = copy.copy(error)
    own.query = text
    return own
