"""The Logs API source, with the real `azure-monitor-query` client against the fake Logs API
answering from the demo store: the same panels give the same frames as the local store, in both
scopes, in one HTTP request per run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from telemetry.cache import CachedSource
from telemetry.config import LogsApiSettings
from telemetry.filters import Filters, TimeRange
from telemetry.model import RenderContext
from telemetry.queries import panel
from telemetry.queries.pages import PAGE_VIEWS, page_queries
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.sources.logs_api import STATEMENT_SEPARATOR, LogsApiSource, detect_services
from tests.fake_logs_api import RESOURCE_ID, WORKSPACE_ID, FakeLogsApi, Fault, StaticCredential, semantic_error, serve
from tests.kusto import assert_valid_kql

SCOPES = ("workspace", "resource")


@pytest.fixture(scope="module")
def fake(demo_store: Path) -> Iterator[FakeLogsApi]:
    with serve(demo_store) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(fake: FakeLogsApi) -> Iterator[None]:
    yield
    fake.clear_faults()


def settings_for(fake: FakeLogsApi, scope: str, **changes: Any) -> LogsApiSettings:
    ids = {"workspace_id": WORKSPACE_ID} if scope == "workspace" else {"resource_id": RESOURCE_ID}
    return LogsApiSettings(endpoint=fake.endpoint, **ids, **changes)


def source_for(fake: FakeLogsApi, scope: str, credential: StaticCredential | None = None, **options: Any) -> LogsApiSource:
    return LogsApiSource(settings_for(fake, scope), credential or StaticCredential(), enforce_https=False, **options)


def day_ending(end: datetime, **filters: Any) -> RenderContext:
    return RenderContext.of(Filters(TimeRange(None, end - timedelta(days=1), end), **filters))


def _in_any_tie_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)


def assert_ordered_as_asked(frame: pd.DataFrame, query: Any) -> None:
    # An order column may be shown under another name (req_duration as duration); only the leading
    # keys the frame shows can be checked: a later key alone says nothing of the order.
    shown = {c.column: c.name for c in getattr(query, "columns", ())}
    keys: list[tuple[str, str]] = []
    for name, direction in query.order_by:
        if shown.get(name, name) not in frame.columns:
            break
        keys.append((shown.get(name, name), direction))
    if keys and not frame.empty:
        names = [name for name, _ in keys]
        ordered = frame.sort_values(names, ascending=[d == "asc" for _, d in keys], kind="stable", ignore_index=True)
        pd.testing.assert_frame_equal(frame[names], ordered[names], obj=f"{query.name} order")


def assert_same_frames(answers: list[Any], local: LocalSource, queries: list[Any], ctx: RenderContext) -> None:
    """Same columns, dtypes and rows; rows tied on the query's order may come in any order (in
    Kusto as in DuckDB), so rows are compared sorted, and the order asked for is checked apart."""
    for query, answer in zip(queries, answers, strict=True):
        assert isinstance(answer, QueryResult), f"{query.name}: {answer}"
        expected = local.run_one(query, ctx).frame
        pd.testing.assert_frame_equal(_in_any_tie_order(answer.frame), _in_any_tie_order(expected), obj=query.name)
        assert_ordered_as_asked(answer.frame, query)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("page", sorted(PAGE_VIEWS))
def test_each_pages_queries_give_the_frames_the_local_store_gives(
    fake: FakeLogsApi, demo_store: Path, demo_end: datetime, scope: str, page: str
) -> None:
    queries, ctx = page_queries(page), day_ending(demo_end)
    answers = source_for(fake, scope).run(queries, ctx)
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)
    assert any(not a.empty for a in answers), "the demo day should have data on every page"


@pytest.mark.parametrize("scope", SCOPES)
def test_filtered_and_split_views_match_the_local_store_too(
    fake: FakeLogsApi, demo_store: Path, demo_end: datetime, scope: str
) -> None:
    ctx = day_ending(demo_end, services=("churn-regressor", "fraud-scorer"), split="operation", grain="1h")
    queries = page_queries("requests")
    fake.learn(queries, ctx)
    answers = source_for(fake, scope).run(queries, ctx)
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)
    series = set(answers[1].frame["series"])
    assert series and series <= set(LocalSource(demo_store).run_one(queries[1], ctx).frame["series"])


@pytest.mark.parametrize("scope", SCOPES)
def test_a_window_without_data_gives_empty_frames_with_the_local_columns_and_dtypes(
    fake: FakeLogsApi, demo_store: Path, demo_end: datetime, scope: str
) -> None:
    ctx = day_ending(demo_end - timedelta(days=60))
    queries = [panel("requests.rate"), panel("requests.operations")]
    answers = source_for(fake, scope).run(queries, ctx)
    assert all(isinstance(a, QueryResult) and a.empty for a in answers)
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)


@pytest.mark.parametrize("scope", SCOPES)
def test_one_http_request_per_run_whatever_the_number_of_panels(
    fake: FakeLogsApi, demo_end: datetime, scope: str
) -> None:
    queries = list({q.name: q for page in PAGE_VIEWS for q in page_queries(page)}.values())
    before = len(fake.requests)
    answers = source_for(fake, scope).run(queries, day_ending(demo_end))
    assert len(fake.requests) == before + 1
    sent = fake.requests[-1]
    assert sent.path == ("/v1/$batch" if scope == "workspace" else f"/v1{RESOURCE_ID}/query")
    assert len(sent.queries) == (len(queries) if scope == "workspace" else 1)
    assert all(isinstance(a, QueryResult) for a in answers) and len(queries) >= 10


@pytest.mark.parametrize(("scope", "table", "other"), [("workspace", "AppRequests", "requests\n"), ("resource", "requests\n", "AppRequests")])
def test_the_kql_dialect_follows_the_scope(fake: FakeLogsApi, demo_end: datetime, scope: str, table: str, other: str) -> None:
    (answer,) = source_for(fake, scope).run([panel("requests.rate")], day_ending(demo_end))
    assert isinstance(answer, QueryResult) and answer.language == "kql"
    sent = fake.requests[-1].queries[0]
    assert sent == answer.query_text and sent.startswith(table) and not sent.startswith(other)


@pytest.mark.parametrize("scope", SCOPES)
def test_each_query_reads_its_own_window_with_the_server_timeout_in_prefer(
    fake: FakeLogsApi, demo_end: datetime, scope: str
) -> None:
    ctx = day_ending(demo_end)
    source = LogsApiSource(settings_for(fake, scope, server_timeout_s=240), StaticCredential(), enforce_https=False)
    source.run([panel("requests.totals"), panel("requests.rate")], ctx)  # totals compares with the day before
    sent = fake.requests[-1]
    day_before = "2026-11-18T12:00:00.000Z/2026-11-20T12:00:00.000Z"
    day = "2026-11-19T12:00:00.000Z/2026-11-20T12:00:00.000Z"
    # A multi-statement query asks for the union of its statements' windows.
    assert sent.timespans == ([day_before, day] if scope == "workspace" else [day_before])
    assert sent.prefers == ["wait=240"] * len(sent.queries)


def test_the_read_timeout_rises_with_a_server_timeout_above_300_s(fake: FakeLogsApi) -> None:
    def read_timeout(server_timeout_s: int) -> float:
        return LogsApiSource(settings_for(fake, "workspace", server_timeout_s=server_timeout_s), StaticCredential()).read_timeout_s

    assert read_timeout(180) == 300
    assert read_timeout(600) > 600


def test_the_token_is_asked_for_the_endpoint_or_the_sovereign_audience(fake: FakeLogsApi, demo_end: datetime) -> None:
    public, gov = StaticCredential(), StaticCredential()
    source_for(fake, "workspace", public).run([panel("requests.totals")], day_ending(demo_end))
    LogsApiSource(settings_for(fake, "workspace", audience="https://api.loganalytics.us"), gov,
                  enforce_https=False).run([panel("requests.totals")], day_ending(demo_end))
    assert set(public.scopes) == {(f"{fake.endpoint}/.default",)}
    assert set(gov.scopes) == {("https://api.loganalytics.us/.default",)}


def test_plain_http_is_refused_unless_the_tests_allow_it(fake: FakeLogsApi, demo_end: datetime) -> None:
    before = len(fake.requests)
    (answer,) = LogsApiSource(settings_for(fake, "workspace"), StaticCredential()).run(
        [panel("requests.totals")], day_ending(demo_end))
    assert not isinstance(answer, QueryResult) and "only sent over HTTPS" in str(answer)
    assert len(fake.requests) == before  # the token never left over plain HTTP


@pytest.mark.parametrize("scope", SCOPES)
def test_a_rerun_with_the_same_filters_within_the_ttl_makes_no_request(
    fake: FakeLogsApi, demo_end: datetime, scope: str
) -> None:
    cached = CachedSource(source_for(fake, scope), ttl_s=600)
    queries, ctx = page_queries("requests"), day_ending(demo_end)
    before = len(fake.requests)
    first = cached.run(queries, ctx)
    again = cached.run(queries, ctx)
    assert len(fake.requests) == before + 1
    assert [a.frame.equals(b.frame) for a, b in zip(first, again, strict=True)] == [True] * len(queries)


def _items_by_service(demo_frames: dict[str, pd.DataFrame], start: datetime, end: datetime) -> pd.Series:
    rows = pd.concat(
        [f[(f["timestamp"] >= start) & (f["timestamp"] < end)] for t, f in demo_frames.items()
         if t in ("requests", "dependencies", "exceptions", "traces")]
    )
    return rows.groupby("cloud_RoleName")["itemCount"].sum().sort_values(ascending=False)


@pytest.mark.parametrize("scope", SCOPES)
def test_detection_lists_the_tables_with_data_and_the_services_most_items_first(
    fake: FakeLogsApi, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, scope: str
) -> None:
    found = detect_services(settings_for(fake, scope), StaticCredential(), now=demo_end, days=3, enforce_https=False)
    assert found.has_app_insights
    assert set(found.tables) == {"requests", "dependencies", "exceptions", "traces"}
    expected = _items_by_service(demo_frames, demo_end - timedelta(days=3), demo_end)
    assert list(found.services) == list(expected.index)


def test_a_workspace_without_app_insights_tables_is_detected_as_such(fake: FakeLogsApi, demo_end: datetime) -> None:
    fake.fail_queries(Fault(400, body=semantic_error(
        "'union' operator: Failed to resolve table expression named 'AppRequests'"), match="union"))
    found = detect_services(settings_for(fake, "workspace"), StaticCredential(), now=demo_end, enforce_https=False)
    assert not found.has_app_insights and found.services == ()


def test_detection_says_what_went_wrong_when_it_cannot_ask(fake: FakeLogsApi, demo_end: datetime) -> None:
    fake.fail_requests(Fault(403))
    with pytest.raises(Exception, match="Log Analytics Reader"):
        detect_services(settings_for(fake, "workspace"), StaticCredential(), now=demo_end, enforce_https=False)


def test_every_kql_sent_parses_in_kusto_against_its_scopes_schema(demo_store: Path, demo_end: datetime) -> None:
    with serve(demo_store) as fresh:
        queries = list({q.name: q for page in PAGE_VIEWS for q in page_queries(page)}.values())
        for scope in SCOPES:
            source_for(fresh, scope).run(queries, day_ending(demo_end))
            source_for(fresh, scope).detect(now=demo_end)
        checks = [("workspace" if r.path == "/v1/$batch" else "classic", q) for r in fresh.requests for q in r.queries]
    assert any(STATEMENT_SEPARATOR in q for _, q in checks)  # the resource scope's multi-statement query
    assert_valid_kql(checks)


class _RecordingAzureCredential:
    """Stands in for azure-identity's DefaultAzureCredential (a boundary: it would sign in for real)."""

    made: list[dict[str, Any]] = []  # constructor arguments, per credential made
    asked: list[dict[str, Any]] = []  # get_token keyword arguments, per token asked

    def __init__(self, **kwargs: Any) -> None:
        self.made.append(kwargs)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.asked.append(kwargs)
        return StaticCredential().get_token(*scopes)


@pytest.mark.parametrize(("endpoint", "authority"), [
    ("https://api.loganalytics.us", "https://login.microsoftonline.us"),
    ("https://api.loganalytics.azure.cn", "https://login.chinacloudapi.cn"),
])
def test_a_sovereign_cloud_signs_in_at_its_own_authority_unless_the_environment_names_one(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, authority: str,
) -> None:
    import azure.identity

    from telemetry.sources.logs_api import default_credential

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _RecordingAzureCredential)
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    _RecordingAzureCredential.made.clear()
    default_credential(LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=endpoint))
    default_credential(LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=endpoint, tenant_id="contoso.onmicrosoft.com"))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.example.test")
    default_credential(LogsApiSettings(workspace_id=WORKSPACE_ID, endpoint=endpoint))
    assert [made.get("authority") for made in _RecordingAzureCredential.made] == [authority, authority, None]


def test_the_default_credential_asks_for_tokens_of_the_configured_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    from telemetry.sources.logs_api import default_credential

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _RecordingAzureCredential)
    _RecordingAzureCredential.made.clear()
    _RecordingAzureCredential.asked.clear()
    plain = default_credential(LogsApiSettings(workspace_id=WORKSPACE_ID))
    tenanted = default_credential(LogsApiSettings(workspace_id=WORKSPACE_ID, tenant_id="contoso.onmicrosoft.com"))
    tenanted.get_token("https://api.loganalytics.io/.default")
    assert isinstance(plain, _RecordingAzureCredential) and _RecordingAzureCredential.made[0] == {}
    assert _RecordingAzureCredential.made[1]["additionally_allowed_tenants"] == ["contoso.onmicrosoft.com"]
    assert _RecordingAzureCredential.asked == [{"tenant_id": "contoso.onmicrosoft.com"}]
