"""HTTP requests and response bytes per page view against the fake Logs API (tests/fake_logs_api.py).

The real `azure-monitor-query` client (our LogsApiSource) talks to the fake over 127.0.0.1; the
fake answers each KQL query from the benchmark store. Both scopes: a workspace (one $batch
request) and a classic resource (one multi-statement query). What must hold: one request per
page view, and answers whose size follows bins × series, not the number of rows in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from bench.data import RANGES, TIMED_PAGES, context
from telemetry.config import LogsApiSettings
from telemetry.queries.pages import page_queries
from telemetry.results import QueryResult
from telemetry.sources.logs_api import LogsApiSource
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID, StaticCredential, serve

__all__ = ["SCOPES", "page_requests"]

SCOPES: Final = ("workspace", "resource")


def _settings(scope: str, endpoint: str) -> LogsApiSettings:
    if scope == "workspace":
        return LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=endpoint)
    return LogsApiSettings(resource_id=RESOURCE_ID, endpoint=endpoint)


def page_requests(store: Path) -> list[dict[str, Any]]:
    rows = []
    with serve(store) as fake:
        for scope in SCOPES:
            source = LogsApiSource(_settings(scope, fake.endpoint), StaticCredential(), enforce_https=False)
            try:
                for page in TIMED_PAGES:
                    for range_name in RANGES:
                        before = len(fake.requests)
                        outcomes = source.run(page_queries(page), context(range_name))
                        sent = fake.requests[before:]
                        rows.append({
                            "page": page, "range": range_name, "scope": scope,
                            "http_requests": len(sent),
                            "response_bytes": sum(r.response_bytes for r in sent),  # gzip, on the wire
                            "json_bytes": sum(r.body_bytes for r in sent),
                            # rows of all answers: bins x series, however many rows the store holds
                            "answer_rows": sum(len(o.frame) for o in outcomes if isinstance(o, QueryResult)),
                            "panels_answered": sum(isinstance(o, QueryResult) for o in outcomes),
                            "panels": len(outcomes),
                        })
            finally:
                source.close()
    return rows
