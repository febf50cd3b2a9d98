"""The track protocol as the endpoint speaks it: bodies (array, NDJSON, gzip), answers (200, 206
naming each refused item, 400), App Insights' limits and mappings, keys, and what the dashboard
reads while the endpoint writes."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from telemetry.cache import CachedSource
from telemetry.filters import Filters, TimeRange
from telemetry.ingest import IngestServer
from telemetry.ingest.envelopes import MAX_BODY_BYTES, TRUNCATED_PROPERTY
from telemetry.ingest.segments import compact
from telemetry.model import RenderContext
from telemetry.payloads import MESSAGE_LIMIT, PROPERTY_LIMIT, size_guard
from telemetry.queries import panel
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.store import ENDPOINT_STORE_TABLES
from tests.apptest import run_page
from tests.real_clients import captured_envelopes, store_file_ids, stored_rows
from tests.track_envelopes import IKEY, envelope, post, request, trace


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[IngestServer]:
    server = IngestServer(tmp_path / "live.duckdb", capture_dir=tmp_path / "capture",
                          compact_in_background=False).start()
    yield server
    server.stop()


def _ids(store: Path) -> list[str]:
    return sorted(r[0] for r in stored_rows(store, "SELECT id FROM requests"))


@pytest.mark.parametrize(("ndjson", "gzipped"), [(False, False), (False, True), (True, False), (True, True)],
                         ids=["JSON array", "gzip JSON array", "NDJSON", "gzip NDJSON"])
def test_every_body_form_is_accepted_whole_and_stored(endpoint: IngestServer, ndjson: bool, gzipped: bool) -> None:
    items = [request(f"r{i}") for i in range(5)] + [trace("model initialized")]
    status, _, answer = post(endpoint.url, items, ndjson=ndjson, gzipped=gzipped)
    assert (status, answer) == (200, {"itemsReceived": 6, "itemsAccepted": 6, "errors": []})
    assert _ids(endpoint.store) == [f"r{i}" for i in range(5)]
    assert stored_rows(endpoint.store, "SELECT message FROM traces") == [("model initialized",)]


def test_the_v2_path_is_the_same_endpoint(endpoint: IngestServer) -> None:
    status, _, answer = post(endpoint.url, [request("old-sdk")], path="v2/track")
    assert status == 200 and answer["itemsAccepted"] == 1
    assert _ids(endpoint.store) == ["old-sdk"]


def test_a_malformed_item_among_good_ones_is_refused_by_index_and_the_others_are_stored(endpoint: IngestServer) -> None:
    no_time = request("r-no-time")
    del no_time["time"]
    body = "\n".join([json.dumps(request("r0")), '{"ver": 1, "name": "broken', json.dumps(request("r2")),
                      json.dumps(no_time), json.dumps(request("r4", duration="soon"))]).encode()
    status, _, answer = post(endpoint.url, body)
    assert status == 206
    assert answer["itemsReceived"] == 5 and answer["itemsAccepted"] == 2
    assert [(e["index"], e["statusCode"]) for e in answer["errors"]] == [(1, 400), (3, 400), (4, 400)]
    assert "not valid JSON" in answer["errors"][0]["message"]
    assert "'time'" in answer["errors"][1]["message"] and "'duration'" in answer["errors"][2]["message"]
    assert _ids(endpoint.store) == ["r0", "r2"]


@pytest.mark.parametrize("body", [b"hello, not telemetry", b'[{"ver": 1,', b"", gzip.compress(b"{{{")],
                         ids=["text", "cut JSON array", "empty", "gzip of garbage"])
def test_a_body_that_is_not_json_is_refused_whole_with_400(endpoint: IngestServer, body: bytes) -> None:
    status, _, answer = post(endpoint.url, body)
    assert status == 400
    assert answer["itemsAccepted"] == 0 and answer["errors"][0]["statusCode"] == 400
    assert stored_rows(endpoint.store, "SELECT count(*) FROM requests") == [(0,)]
    assert not list((endpoint.store.parent / "capture").glob("*.body"))


def test_a_gzip_body_that_inflates_past_the_limit_is_refused_without_inflating_it(endpoint: IngestServer) -> None:
    bomb = gzip.compress(b"[" + b" " * (MAX_BODY_BYTES + 1) + b"]")
    status, _, answer = post(endpoint.url, bomb)
    assert status == 413 and "uncompressed" in answer["errors"][0]["message"]


def test_a_huge_item_is_cut_to_app_insights_limits_and_flagged(endpoint: IngestServer) -> None:
    payload = json.dumps({"data": [[0.25] * 3000]})  # 18,012 characters
    items = [trace("x" * 40_000, properties={"Input": payload, "small": "kept"}), request("r-big",
             properties={"Response Value": "y" * 9_000})]
    status, _, answer = post(endpoint.url, items)
    assert (status, answer["itemsAccepted"]) == (200, 2)
    ((message, dims),) = stored_rows(endpoint.store, "SELECT message, customDimensions FROM traces")
    assert len(message) == MESSAGE_LIMIT and size_guard(message, kind="message")
    properties = json.loads(dims)
    assert properties["Input"] == payload[:PROPERTY_LIMIT] and size_guard(properties["Input"])
    assert properties["small"] == "kept"
    assert properties[TRUNCATED_PROPERTY] == (
        "property Input (18,012 characters, kept 8,192), message (40,000 characters, kept 32,768)")
    ((request_dims,),) = stored_rows(endpoint.store, "SELECT customDimensions FROM requests")
    assert "property Response Value (9,000 characters" in json.loads(request_dims)[TRUNCATED_PROPERTY]


def test_envelope_fields_become_the_classic_columns(endpoint: IngestServer) -> None:
    items = [
        request("r-sampled", duration="1.02:03:04.5", code="503", success=False, sample_rate=25.0,
                tags={"ai.operation.id": "op-1", "ai.operation.parentId": "parent-1", "ai.operation.name": "POST /score",
                      "ai.cloud.role": "churn-scorer", "ai.cloud.roleInstance": "vm-7"},
                properties={"model": "churn:3", "rows": 12}, time="2026-11-20T10:12:53.2081234-07:00"),
        trace("scored", severity="3", sample_rate=33.333333333333336),
        envelope("RemoteDependencyData", {"id": "d1", "name": "GET /features", "duration": "00:00:00.250",
                                          "resultCode": "200", "success": True, "type": "HTTP",
                                          "target": "features.internal", "data": "http://features.internal/f"}),
    ]
    assert post(endpoint.url, items)[0] == 200
    ((timestamp, duration, bucket, success, code, count, op, parent, name, role, instance, sdk, ikey, dims, kind),) = stored_rows(
        endpoint.store, "SELECT timestamp, duration, performanceBucket, success, resultCode, itemCount, operation_Id, "
        "operation_ParentId, operation_Name, cloud_RoleName, cloud_RoleInstance, sdkVersion, iKey, customDimensions, "
        "itemType FROM requests")
    assert timestamp == datetime(2026, 11, 20, 17, 12, 53, 208123)  # UTC, 7th digit dropped
    assert duration == ((24 + 2) * 3600 + 3 * 60 + 4.5) * 1000
    assert (bucket, success, code, count) == (">=5min", "False", "503", 4)
    assert (op, parent, name, role, instance, ikey, kind) == (
        "op-1", "parent-1", "POST /score", "churn-scorer", "vm-7", IKEY, "request")
    assert sdk == "ulm_py3.11.7:otel1.33.0:ext1.0.0b40"
    assert json.loads(dims) == {"model": "churn:3", "rows": "12"}  # properties are text, as App Insights keeps them
    assert stored_rows(endpoint.store, "SELECT severityLevel, itemCount FROM traces") == [(3, 3)]
    assert stored_rows(endpoint.store, "SELECT target, type, duration, success FROM dependencies") == [
        ("features.internal", "HTTP", 250.0, "True")]


def test_exceptions_keep_their_type_failed_method_and_stack(endpoint: IngestServer) -> None:
    stack = ('Traceback (most recent call last):\n  File "/app/score.py", line 36, in run\n'
             '    raise ValueError("feature 3 is out of range")\nValueError: feature 3 is out of range\n')
    item = envelope("ExceptionData", {"severityLevel": 3, "properties": {"Request Id": "abc"}, "exceptions": [
        {"typeName": "ValueError", "message": "feature 3 is out of range", "hasFullStack": True, "stack": stack}]})
    assert post(endpoint.url, [item])[0] == 200
    ((problem, kind, method, message, severity, details),) = stored_rows(
        endpoint.store, "SELECT problemId, type, method, message, severityLevel, details FROM exceptions")
    assert (problem, kind, method, severity) == ("ValueError at score.run", "ValueError", "score.run", 3)
    assert message == "feature 3 is out of range"
    assert json.loads(details)[0]["rawStack"] == stack


def test_event_and_metric_items_are_accepted_and_counted_as_skipped(endpoint: IngestServer) -> None:
    items = [envelope("EventData", {"name": "myname", "properties": {"one": "-1-"}}),
             envelope("MetricData", {"metrics": [{"name": "_OTELRESOURCE_", "value": 0.0}]}), request("r1")]
    status, _, answer = post(endpoint.url, items)
    assert (status, answer["itemsAccepted"]) == (200, 3)
    assert endpoint.stats.skipped == {"EventData": 1, "MetricData": 1}
    assert _ids(endpoint.store) == ["r1"]


def test_only_the_configured_instrumentation_keys_are_accepted(tmp_path: Path) -> None:
    other = "00000000-1111-2222-3333-444444444444"
    server = IngestServer(tmp_path / "live.duckdb", allowed_ikeys=frozenset({IKEY.upper()}),
                          compact_in_background=False).start()
    try:
        status, _, answer = post(server.url, [request("mine"), request("theirs", ikey=other)])
        assert status == 206 and [e["index"] for e in answer["errors"]] == [1]
        assert "instrumentation key" in answer["errors"][0]["message"]
        status, _, answer = post(server.url, [request("theirs", ikey=other)])
        assert status == 400 and answer["itemsAccepted"] == 0
        assert _ids(server.store) == ["mine"]
    finally:
        server.stop()


def test_captured_bodies_are_the_accepted_bodies_as_sent(endpoint: IngestServer) -> None:
    post(endpoint.url, [request("a")], ndjson=True, gzipped=True)
    post(endpoint.url, b"not json")
    post(endpoint.url, [request("b"), request("c")])
    assert [e["data"]["baseData"]["id"] for e in captured_envelopes(endpoint.store.parent / "capture")] == ["a", "b", "c"]


def _requests_now(source: CachedSource) -> int:
    now = datetime.now(UTC)
    ctx = RenderContext.of(Filters(TimeRange(None, now - timedelta(hours=1), now + timedelta(minutes=1))))
    (outcome,) = source.run([panel("services")], ctx)
    assert isinstance(outcome, QueryResult), outcome
    return len(outcome.frame)


def test_the_dashboard_reads_new_rows_at_once_while_the_endpoint_writes(endpoint: IngestServer) -> None:
    source = CachedSource(LocalSource(endpoint.store))  # the app's 60 s answer cache in front
    assert _requests_now(source) == 0
    post(endpoint.url, [request("r1", tags={"ai.cloud.role": "svc-a"})])
    assert _requests_now(source) == 1  # a new segment is a new cache key: no 60 s wait
    compact(endpoint.store)
    post(endpoint.url, [request("r2", tags={"ai.cloud.role": "svc-b"})])
    assert _requests_now(source) == 2
    assert _ids(endpoint.store) == ["r1", "r2"]  # merged or pending, never counted twice


def test_merging_segments_keeps_every_row_once_and_readers_see_the_same(endpoint: IngestServer) -> None:
    for n in range(3):
        post(endpoint.url, [request(f"r{n}")])
    before = _ids(endpoint.store)
    assert compact(endpoint.store) == 3
    assert compact(endpoint.store) == 0  # nothing left to merge
    assert _ids(endpoint.store) == before == ["r0", "r1", "r2"]
    assert store_file_ids(endpoint.store) == {"r0", "r1", "r2"}  # the store file alone holds them now


def test_a_page_run_again_shows_the_requests_that_arrived_since(
    endpoint: IngestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(endpoint.store))
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    post(endpoint.url, [request(f"a{n}") for n in range(3)])
    at = run_page("pages/overview.py", range="30m")
    assert {m.label: m.value for m in at.metric}["Requests"] == "3"
    post(endpoint.url, [request(f"b{n}", success=False, code="500") for n in range(2)])
    at.run()  # what auto refresh does: the same session, the same shared answer cache
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Requests"], shown["Failure rate"]) == ("5", "40.00%")


def test_a_store_with_pending_segments_still_shows_every_other_table_it_holds(endpoint: IngestServer) -> None:
    post(endpoint.url, [request("r1")])
    for table in ENDPOINT_STORE_TABLES:  # Azure ML endpoints' own logs, kept under their own names
        assert stored_rows(endpoint.store, f'SELECT count(*) FROM "{table}"') == [(0,)]


def test_sessions_keep_reading_without_an_error_while_segments_arrive_and_merge(endpoint: IngestServer) -> None:
    source = LocalSource(endpoint.store)  # one source shared by every session, as the app shares it
    now = datetime.now(UTC)
    ctx = RenderContext.of(Filters(TimeRange(None, now - timedelta(hours=1), now + timedelta(minutes=1))))
    failures: list[object] = []
    seen: list[int] = []
    writing = threading.Event()
    writing.set()

    def session() -> None:
        while writing.is_set():
            (outcome,) = source.run([panel("requests.operations")], ctx)
            if isinstance(outcome, QueryResult):
                seen.append(int(outcome.frame["requests"].sum()))
            else:
                failures.append(outcome)

    sessions = [threading.Thread(target=session) for _ in range(4)]
    for thread in sessions:
        thread.start()
    try:
        for n in range(30):
            post(endpoint.url, [request(f"r{n}-{i}") for i in range(10)])
            if n % 10 == 9:
                compact(endpoint.store)  # the store file is replaced under the readers
    finally:
        writing.clear()
        for thread in sessions:
            thread.join()
    assert not failures
    assert seen and max(seen) <= 300
    (final,) = source.run([panel("requests.operations")], ctx)
    assert isinstance(final, QueryResult) and int(final.frame["requests"].sum()) == 300
