"""The fault matrix (issue 8, part 1) at the query layer: the real client against the fake Logs API.

Each fault gives the affected panels a specific message (what failed, why, what to do) while the
other panels of the batch keep their data, and the next run recovers once the fault clears. Through
the shared cache, the last good answer stays visible, marked stale with its age.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from telemetry.cache import CachedSource
from telemetry.config import LogsApiSettings
from telemetry.errors import (
    AuthError,
    BadQueryError,
    NotFoundError,
    QueryTimeoutError,
    SourceUnavailableError,
    TelemetryError,
    ThrottledError,
)
from telemetry.kql import render_kql
from telemetry.kusto_types import UnknownKustoTypeError
from telemetry.model import Query, RenderContext
from telemetry.queries.pages import page_queries
from telemetry.results import Outcome, QueryResult
from telemetry.sources.local import LocalSource
from telemetry.sources.logs_api import LogsApiSource
from tests.fake_logs_api import FakeLogsApi, Fault, StaticCredential, serve
# The module's running fake (and the autouse fixture clearing its faults) are the source tests'.
from tests.test_logs_api_source import _no_faults_left, assert_same_frames, day_ending, fake, settings_for, source_for  # noqa: F401

FAST = {"retry_backoff_s": 0.05, "max_retry_wait_s": 1.0, "retry_total": 3}


@pytest.fixture
def page(demo_end: datetime) -> tuple[list[Query], RenderContext]:
    return page_queries("requests"), day_ending(demo_end)


def fast_source(fake: FakeLogsApi, scope: str = "workspace", **options: Any) -> LogsApiSource:
    return source_for(fake, scope, **{**FAST, **options})


def assert_recovers(source: LogsApiSource, queries: list[Query], ctx: RenderContext, local: LocalSource) -> None:
    assert_same_frames(source.run(queries, ctx), local, queries, ctx)


def assert_all_failed(answers: list[Outcome], kind: type[TelemetryError], phrase: str, queries: list[str]) -> None:
    for answer, text in zip(answers, queries, strict=True):
        assert isinstance(answer, kind), answer
        assert phrase in str(answer), str(answer)
        assert answer.query == text  # each panel keeps its own query for the expander


# --- one failed sub-query of a batch ------------------------------------------------------------

SUB_QUERY_FAULTS = [
    pytest.param(Fault(401), AuthError, "az login", id="401-expired-token"),
    pytest.param(Fault(403), AuthError, "Log Analytics Reader", id="403-no-reader-role"),
    pytest.param(Fault(404), NotFoundError, "Workspace ID (a GUID)", id="404-wrong-workspace"),
    pytest.param(Fault(400), BadQueryError, "Failed to resolve column or scalar expression named 'Nope'", id="400-semantic-error"),
    pytest.param(Fault(429), ThrottledError, "Try again in about 30 s", id="429"),
    pytest.param(Fault(500), SourceUnavailableError, "on Azure's side", id="500"),
    pytest.param(Fault(503), SourceUnavailableError, "unavailable (503", id="503"),
    pytest.param(Fault(504), QueryTimeoutError, "time limit", id="504-gateway-timeout"),
    pytest.param(Fault(200, delay_s=2.0), QueryTimeoutError, "time limit", id="past-prefer-wait"),
]


@pytest.mark.parametrize(("fault", "kind", "phrase"), SUB_QUERY_FAULTS)
def test_a_failed_sub_query_fails_only_its_panel_and_the_next_run_recovers(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext],
    fault: Fault, kind: type[TelemetryError], phrase: str,
) -> None:
    queries, ctx = page
    source = LogsApiSource(settings_for(fake, "workspace", server_timeout_s=1), StaticCredential(),
                           enforce_https=False, **FAST)
    failing = render_kql(queries[1], ctx, "workspace")
    fake.fail_queries(Fault(**{**fault.__dict__, "match": failing}))
    answers = source.run(queries, ctx)
    assert_all_failed([answers[1]], kind, phrase, [failing])
    local = LocalSource(demo_store)
    assert_same_frames([answers[0], answers[2]], local, [queries[0], queries[2]], ctx)
    assert_recovers(source, queries, ctx, local)


def test_a_semantic_error_in_the_resource_scopes_multi_statement_query_is_pinned_on_its_panel(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    failing = render_kql(queries[2], ctx, "classic")
    fake.fail_queries(Fault(400, match=failing, times=2))  # the whole query, then that statement alone
    before = len(fake.requests)
    answers = fast_source(fake, "resource").run(queries, ctx)
    assert_all_failed([answers[2]], BadQueryError, "Failed to resolve column", [failing])
    assert_same_frames(answers[:2], LocalSource(demo_store), queries[:2], ctx)
    assert len(fake.requests) == before + 1 + len(queries)  # one together, then one each


@pytest.mark.parametrize("scope", ["workspace", "resource"])
def test_a_partial_result_keeps_its_data_with_a_warning(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext], scope: str
) -> None:
    queries, ctx = page
    target = render_kql(queries[0], ctx, "workspace" if scope == "workspace" else "classic")
    fake.fail_queries(Fault(200, partial=True, match=target))
    answers = fast_source(fake, scope).run(queries, ctx)
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)
    warned = [bool(a.warnings) for a in answers]
    # A batch item carries its own error; a multi-statement query's error belongs to all of it.
    assert warned == ([True, False, False] if scope == "workspace" else [True, True, True])
    assert "partial data" in answers[0].warnings[0] and "E_QUERY_RESULT_SET_TOO_LARGE" in answers[0].warnings[0]


def test_partial_data_that_stops_short_leaves_the_last_panels_without_data_and_says_why(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_queries(Fault(200, partial=True, keep_tables=2, match=render_kql(queries[0], ctx, "classic")))
    answers = fast_source(fake, "resource").run(queries, ctx)
    assert_same_frames(answers[:2], LocalSource(demo_store), queries[:2], ctx)
    assert_all_failed([answers[2]], SourceUnavailableError, "No data came back for this panel. The Logs API returned "
                      "partial data", [render_kql(queries[2], ctx, "classic")])


def test_an_unknown_column_type_fails_only_that_panel(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    odd = render_kql(queries[2], ctx, "workspace")
    table = {"name": "PrimaryResult", "columns": [{"name": "operation", "type": "vector"}], "rows": [[[0.5]]]}
    fake.answerers.insert(0, lambda text, window: table if text == odd else None)
    try:
        answers = fast_source(fake).run(queries, ctx)
    finally:
        fake.answerers.pop(0)
    assert_all_failed([answers[2]], UnknownKustoTypeError, "Kusto type 'vector'", [odd])
    assert_same_frames(answers[:2], LocalSource(demo_store), queries[:2], ctx)


# --- the whole request fails --------------------------------------------------------------------

REQUEST_FAULTS = [
    pytest.param(Fault(401), AuthError, "az login", id="401-expired-token"),
    pytest.param(Fault(403), AuthError, "Log Analytics Reader", id="403-no-reader-role"),
    pytest.param(Fault(500, times=None), SourceUnavailableError, "500 ServiceError", id="500-persisting"),
    pytest.param(Fault(503, times=None), SourceUnavailableError, "unavailable (503", id="503-persisting"),
    pytest.param(Fault(200, raw_body=b'{"responses": [{"id": '), SourceUnavailableError, "not a Logs API answer", id="malformed-json"),
    pytest.param(Fault(200, raw_body=b'{"responses": "none"}'), SourceUnavailableError, "not a Logs API answer", id="wrong-shape-json"),
]


@pytest.mark.parametrize("scope", ["workspace", "resource"])
@pytest.mark.parametrize(("fault", "kind", "phrase"), REQUEST_FAULTS)
def test_a_failed_request_fails_every_panel_with_the_reason_and_the_next_run_recovers(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext],
    fault: Fault, kind: type[TelemetryError], phrase: str, scope: str,
) -> None:
    queries, ctx = page
    source = fast_source(fake, scope)
    fake.fail_requests(Fault(**fault.__dict__))
    answers = source.run(queries, ctx)
    schema = "workspace" if scope == "workspace" else "classic"
    assert_all_failed(answers, kind, phrase, [render_kql(q, ctx, schema) for q in queries])
    fake.clear_faults()
    assert_recovers(source, queries, ctx, LocalSource(demo_store))


@pytest.mark.parametrize(("scope", "phrase"), [("workspace", "Workspace ID (a GUID)"), ("resource", "microsoft.insights/components")])
def test_a_wrong_workspace_or_resource_id_says_where_to_find_the_right_one(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext], scope: str, phrase: str
) -> None:
    queries, ctx = page
    wrong = {"workspace_id": "00000000-0000-0000-0000-000000000000"} if scope == "workspace" else {
        "resource_id": "/subscriptions/x/resourceGroups/y/providers/microsoft.insights/components/nope"}
    source = LogsApiSource(LogsApiSettings(endpoint=fake.endpoint, **wrong), StaticCredential(), enforce_https=False)
    answers = source.run(queries, ctx)
    assert all(isinstance(a, NotFoundError) and phrase in str(a) for a in answers), answers


def test_a_token_the_service_refuses_asks_to_sign_in_again(fake: FakeLogsApi, page: tuple[list[Query], RenderContext]) -> None:
    queries, ctx = page
    answers = source_for(fake, "workspace", StaticCredential("expired")).run(queries, ctx)
    assert all(isinstance(a, AuthError) and "az login" in str(a) and "401" in str(a) for a in answers)


def test_no_credential_at_all_says_how_to_sign_in(fake: FakeLogsApi, page: tuple[list[Query], RenderContext]) -> None:
    class NoCredential:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included credentials.")

    queries, ctx = page
    before = len(fake.requests)
    answers = LogsApiSource(settings_for(fake, "workspace"), NoCredential(), enforce_https=False).run(queries, ctx)
    assert all(isinstance(a, AuthError) and "No Azure token" in str(a) and "az login" in str(a) for a in answers)
    assert len(fake.requests) == before


# --- throttling ---------------------------------------------------------------------------------

def test_a_429_with_retry_after_is_retried_after_that_wait_and_succeeds(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(429, retry_after=0.4))
    before, started = len(fake.requests), time.perf_counter()
    answers = fast_source(fake).run(queries, ctx)
    assert time.perf_counter() - started >= 0.4
    assert len(fake.requests) == before + 2
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)


def test_a_429_without_retry_after_is_retried_with_backoff_although_azure_core_would_not(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(429, times=2))
    before = len(fake.requests)
    answers = fast_source(fake).run(queries, ctx)
    assert len(fake.requests) == before + 3
    assert_same_frames(answers, LocalSource(demo_store), queries, ctx)


def test_throttling_that_lasts_gives_up_within_the_bound_and_says_when_to_try_again(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(429, times=None))
    before, started = len(fake.requests), time.perf_counter()
    answers = fast_source(fake).run(queries, ctx)
    elapsed = time.perf_counter() - started
    assert elapsed < FAST["max_retry_wait_s"] + 1.0
    assert len(fake.requests) == before + 1 + FAST["retry_total"]  # 0.05 + 0.1 + 0.2 s of backoff fit
    assert_all_failed(answers, ThrottledError, "Try again in about 30 s (after", [render_kql(q, ctx, "workspace") for q in queries])
    assert all(a.retry_after == 30 for a in answers)


def test_a_retry_after_beyond_the_bound_is_not_waited_for_but_passed_on(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(429, retry_after=120))
    before, started = len(fake.requests), time.perf_counter()
    answers = fast_source(fake).run(queries, ctx)
    assert time.perf_counter() - started < 1.0 and len(fake.requests) == before + 1
    assert all(isinstance(a, ThrottledError) and a.retry_after == 120 and "about 120 s" in str(a) for a in answers)


def test_a_500_is_retried_and_the_second_try_answers(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(500))
    before = len(fake.requests)
    assert_same_frames(fast_source(fake).run(queries, ctx), LocalSource(demo_store), queries, ctx)
    assert len(fake.requests) == before + 2


# --- no answer at all ---------------------------------------------------------------------------

def test_an_answer_slower_than_the_read_timeout_says_so_and_the_next_run_recovers(
    fake: FakeLogsApi, demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    source = fast_source(fake, read_timeout_s=1.0)
    fake.fail_requests(Fault(200, delay_s=3.0))
    before = len(fake.requests)
    answers = source.run(queries, ctx)
    assert_all_failed(answers, QueryTimeoutError, "within 1 s", [render_kql(q, ctx, "workspace") for q in queries])
    assert len(fake.requests) == before + 1  # a read timeout is not retried: the query may still run
    assert_recovers(source, queries, ctx, LocalSource(demo_store))


def test_connection_refused_says_so_and_the_panels_come_back_with_the_service(
    demo_store: Path, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    with serve(demo_store) as own:
        source = fast_source(own)
        own.stop()
        answers = source.run(queries, ctx)
        assert_all_failed(answers, SourceUnavailableError, "Could not connect", [render_kql(q, ctx, "workspace") for q in queries])
        own.start()  # the same port
        assert_recovers(source, queries, ctx, LocalSource(demo_store))


# --- through the shared cache -------------------------------------------------------------------

def test_during_a_fault_the_last_good_answer_stays_visible_marked_stale_with_its_age(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    cached = CachedSource(fast_source(fake), ttl_s=0.05)  # every run below goes to the service
    good = cached.run(queries, ctx)
    time.sleep(0.1)
    fake.fail_requests(Fault(503, times=None))
    stale = cached.run(queries, ctx)
    for before, now in zip(good, stale, strict=True):
        assert isinstance(now, QueryResult) and isinstance(now.stale_because, SourceUnavailableError)
        assert now.frame.equals(before.frame) and now.fetched_at == before.fetched_at
        assert time.time() - now.fetched_at >= 0.1  # the age a panel shows
    fake.clear_faults()
    time.sleep(0.1)
    fresh = cached.run(queries, ctx)
    assert all(isinstance(a, QueryResult) and a.stale_because is None and a.fetched_at > b.fetched_at
               for a, b in zip(fresh, good, strict=True))


def test_errors_are_not_cached_so_a_panel_recovers_within_the_ttl(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    cached = CachedSource(fast_source(fake), ttl_s=600)
    fake.fail_queries(Fault(403, match=render_kql(queries[0], ctx, "workspace")))
    first = cached.run(queries, ctx)
    assert isinstance(first[0], AuthError) and all(isinstance(a, QueryResult) for a in first[1:])
    before = len(fake.requests)
    second = cached.run(queries, ctx)
    assert all(isinstance(a, QueryResult) for a in second)
    assert len(fake.requests) == before + 1 and fake.requests[-1].queries == [render_kql(queries[0], ctx, "workspace")]
