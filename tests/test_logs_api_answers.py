"""Answers of the Logs API that are not plain tables, as the service really sends them: partial
data with the engine's reason, "no data" (204), batch items with no message, a throttled batch
item, a batch item with no body. Each reaches the panel as a message that is true."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from telemetry.errors import SourceUnavailableError, ThrottledError
from telemetry.kql import render_kql
from telemetry.model import Query, RenderContext
from telemetry.queries.pages import page_queries
from telemetry.results import QueryResult
from tests.fake_logs_api import FakeLogsApi, Fault, error_body
# The module's running fake (and the autouse fixture clearing its faults) are the source tests'.
from tests.test_logs_api_faults import fast_source
from tests.test_logs_api_source import _no_faults_left, day_ending, fake  # noqa: F401


@pytest.fixture
def page(demo_end: datetime) -> tuple[list[Query], RenderContext]:
    return page_queries("latency"), day_ending(demo_end)


def _partial(message: str) -> dict:
    """A PartialError body as the service sends it (the SDK's recorded E_OVERFLOW answer's shape)."""
    body = error_body("PartialError", "There were some errors when processing your query.")
    body["error"]["details"] = [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                                 "innererror": {"code": "-2133196788", "message": message, "severity": 2,
                                                "severityName": "Error"}}]
    return body


OVERFLOW = ("Percentiles aggregator has encountered an overflow exception during evaluation (probably due to large "
            "weight expression). Results may be incorrect or incomplete (E_OVERFLOW; see https://aka.ms/kustoqueryfailures).")
TOO_LARGE = "Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE)."


@pytest.mark.parametrize("scope", ["workspace", "resource"])
def test_partial_data_keeps_the_services_reason_and_gives_advice_for_it(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext], scope: str
) -> None:
    queries, ctx = page
    schema = "workspace" if scope == "workspace" else "classic"
    fake.fail_queries(Fault(200, partial=True, body=_partial(OVERFLOW), match=render_kql(queries[0], ctx, schema)))
    (warning, *_) = fast_source(fake, scope).run(queries, ctx)[0].warnings
    assert "E_OVERFLOW" in warning and "large weight expression" in warning
    assert "itemCount" in warning and "shorter time range" not in warning, "a shorter range does not cure an overflow"
    fake.fail_queries(Fault(200, partial=True, body=_partial(TOO_LARGE), match=render_kql(queries[0], ctx, schema)))
    (warning, *_) = fast_source(fake, scope).run(queries, ctx)[0].warnings
    assert "E_QUERY_RESULT_SET_TOO_LARGE" in warning and "500000" in warning and "shorter time range" in warning


def test_no_data_in_the_workspace_204_is_an_empty_answer_not_a_broken_one(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_requests(Fault(204, raw_body=b""))
    answers = fast_source(fake, "resource").run(queries[:1], ctx)
    assert isinstance(answers[0], QueryResult) and answers[0].empty, answers[0]


def test_a_batch_item_of_a_workspace_with_no_data_is_an_empty_answer(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_queries(Fault(204, body={"error": {"code": "WorkspaceNotPlacedError"}},
                            match=render_kql(queries[1], ctx, "workspace")))
    answers = fast_source(fake, "workspace").run(queries, ctx)
    assert isinstance(answers[1], QueryResult) and answers[1].empty, answers[1]
    assert isinstance(answers[0], QueryResult) and not answers[0].empty


def test_a_batch_item_error_without_a_message_says_no_none(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_queries(Fault(500, body={"error": {"code": "ServiceError"}}, match=render_kql(queries[1], ctx, "workspace")))
    failed = fast_source(fake, "workspace").run(queries, ctx)[1]
    assert isinstance(failed, SourceUnavailableError)
    assert "None" not in str(failed) and "ServiceError" in str(failed)
    assert "after retries" not in str(failed), "a batch item is not retried"


def test_a_throttled_batch_item_does_not_claim_it_was_retried(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_queries(Fault(429, match=render_kql(queries[1], ctx, "workspace")))
    failed = fast_source(fake, "workspace").run(queries, ctx)[1]
    assert isinstance(failed, ThrottledError)
    assert "retrying did not get through" not in str(failed) and "Try again in about 30 s" in str(failed)


def test_a_batch_item_without_a_body_fails_the_panels_with_a_message_not_an_exception(
    fake: FakeLogsApi, page: tuple[list[Query], RenderContext]
) -> None:
    queries, ctx = page
    fake.fail_queries(Fault(500, null_body=True, match=render_kql(queries[1], ctx, "workspace")))
    answers = fast_source(fake, "workspace").run(queries, ctx)
    assert isinstance(answers[1], SourceUnavailableError)
    assert "without a body" in str(answers[1])


