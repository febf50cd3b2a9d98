"""The trace explorer: search semantics, paging, one operation end to end, payload sizes, against
pandas on the demo rows; hostile URL parameters and stored rows through AppTest."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from telemetry.derived import REQ_ID
from telemetry.filters import Filters, TimeRange
from telemetry.kql import render_kql
from telemetry.model import Equals, Listing, RenderContext
from telemetry.payloads import PROPERTY_LIMIT
from telemetry.queries.traces import (
    PAGE_SIZE,
    PAYLOAD_SIZES,
    TraceSearch,
    operation_events,
    operation_queries,
    payload_listing,
    search_from_params,
    search_histogram,
    search_listing,
)
from telemetry.results import QueryResult
from telemetry.sources.local import LocalSource
from telemetry.sql import render_sql
from telemetry.store import build_store
from tests import hostile_store
from tests.apptest import run_page
from tests.kusto import assert_valid_kql, check_kql

HOSTILE_VALUES = ('op" or 1==1 //', "it's\\", "line\nbreak\ttab", "x | take 1; traces", "ünï 😀", '\\"', "@'a'")


def _filters(end: datetime, days: int = 2, **kwargs: object) -> Filters:
    return Filters(TimeRange(None, end - timedelta(days=days), end), **kwargs)  # type: ignore[arg-type]


def _run(store: Path, queries: list, filters: Filters) -> list[pd.DataFrame]:
    outcomes = LocalSource(store).run(queries, RenderContext.of(filters))
    for outcome in outcomes:
        assert isinstance(outcome, QueryResult), outcome
    return [o.frame for o in outcomes]


def _in_window(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    window = filters.window()
    return frame[(frame["timestamp"] >= window.start) & (frame["timestamp"] < window.end)]


def _contents(dims: str) -> str:
    try:
        value = json.loads(dims)
    except ValueError:
        return ""
    return str(value.get("Contents", "")) if isinstance(value, dict) else ""


def _searched_texts(traces: pd.DataFrame) -> list[pd.Series]:
    return [traces["message"], traces["customDimensions"], traces["customDimensions"].map(_contents)]


def _contains(traces: pd.DataFrame, text: str) -> pd.Series:
    needle = text.lower()
    hits = [texts.str.lower().str.contains(needle, regex=False) for texts in _searched_texts(traces)]
    return hits[0] | hits[1] | hits[2]


def _has_term(traces: pd.DataFrame, term: str) -> pd.Series:
    """Kusto's definition: the text's terms (maximal runs of ASCII letters and digits) include it."""
    assert re.fullmatch(r"[A-Za-z0-9]+", term)
    def has(text: str) -> bool:
        return term.lower() in set(re.findall(r"[a-z0-9]+", text.lower()))
    hits = [texts.map(has) for texts in _searched_texts(traces)]
    return hits[0] | hits[1] | hits[2]


def _newest_first(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["timestamp", "operation_Id", "message"], ascending=[False, True, True], kind="stable")


def _keys(frame: pd.DataFrame) -> list[tuple[object, str, str]]:
    return list(zip(frame["timestamp"], frame["operation_Id"], frame["message"], strict=True))


# --- search semantics -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "match"), [("TIMEOUT", "contains"), ("timeout", "has"), ("cat", "has"),
                                             ("Cat", "contains"), ("valueerror", "has"), ("model init", "contains")])
def test_text_search_matches_pandas_on_message_dimensions_and_printed_text(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, text: str, match: str
) -> None:
    filters = _filters(demo_end)
    search = TraceSearch(text, match)  # type: ignore[arg-type]
    counts, first_page = _run(demo_store, [search_histogram(search), search_listing(search)], filters)
    traces = _in_window(demo_frames["traces"], filters)
    hits = traces[_has_term(traces, text) if match == "has" else _contains(traces, text)]
    assert counts["traces"].sum() == hits["itemCount"].sum() > 0
    assert _keys(first_page) == _keys(_newest_first(hits).head(PAGE_SIZE))


def test_has_finds_whole_terms_where_contains_finds_substrings(
    demo_store: Path, demo_end: datetime
) -> None:
    filters = _filters(demo_end, days=7)
    has, contains = (_run(demo_store, [search_histogram(TraceSearch("error", m))], filters)[0]["traces"].sum()
                     for m in ("has", "contains"))
    # "404 Client Error" has the term; "ValueError" only contains it.
    assert 0 < has < contains


def test_has_follows_kustos_documented_examples(tmp_path: Path, demo_end: datetime) -> None:
    import pyarrow as pa

    texts = {"Hello World": True, "<Hello-World>": True, "*Hello*World*": True, "?Hello%World!": True,
             "_Hello_World_": True, "123Hello-World456": False, "abcHello Worldxyz": False, "HelloWorld": False,
             "North America": False, "HELLO": True}
    rows = pa.table({"timestamp": [demo_end - timedelta(minutes=i + 1) for i in range(len(texts))],
                     "message": list(texts), "itemCount": pa.array([1] * len(texts), pa.int32()),
                     "operation_Id": [f"op{i}" for i in range(len(texts))]})
    store = build_store(tmp_path / "has.duckdb", [("traces", rows)])
    filters = _filters(demo_end, days=1)
    (found,) = _run(store, [search_listing(TraceSearch("hello", "has"))], filters)
    assert set(found["message"]) == {t for t, hit in texts.items() if hit}
    (found,) = _run(store, [search_listing(TraceSearch("hell", "has"))], filters)
    assert found.empty
    (found,) = _run(store, [search_listing(TraceSearch("hello world", "has"))], filters)
    assert set(found["message"]) == {"Hello World"}


@pytest.mark.parametrize("level", [1, 2, 3])
def test_severity_keeps_traces_at_or_above_the_level(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime, level: int
) -> None:
    filters = _filters(demo_end)
    search = TraceSearch(min_severity=level)
    counts, page = _run(demo_store, [search_histogram(search), search_listing(search)], filters)
    traces = _in_window(demo_frames["traces"], filters)
    expected = traces[traces["severityLevel"] >= level]
    assert counts["traces"].sum() == expected["itemCount"].sum()
    assert (page["severityLevel"] >= level).all() and _keys(page) == _keys(_newest_first(expected).head(PAGE_SIZE))


def test_operation_id_search_returns_exactly_that_operations_traces(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end)
    traces = _in_window(demo_frames["traces"], filters)
    op = traces.loc[traces["severityLevel"] == 2, "operation_Id"].iloc[0]  # a retry warning and its outcome
    (page,) = _run(demo_store, [search_listing(TraceSearch(operation_id=op))], filters)
    assert _keys(page) == _keys(_newest_first(traces[traces["operation_Id"] == op]))
    assert len(page) >= 2


# --- paging -----------------------------------------------------------------------------------


def test_page_two_continues_page_one_without_overlap_and_no_page_exceeds_the_page_size(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end)
    search = TraceSearch("churn", "contains")
    pages = _run(demo_store, [search_listing(search, page) for page in (1, 2, 3)], filters)
    assert all(len(page) == PAGE_SIZE for page in pages)
    keys = [key for page in pages for key in _keys(page)]
    assert len(set(keys)) == len(keys)
    traces = _in_window(demo_frames["traces"], filters)
    assert keys == _keys(_newest_first(traces[_contains(traces, "churn")]).head(3 * PAGE_SIZE))


def test_every_listing_asks_for_at_most_its_page(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end))
    for page in (1, 7, 1000):
        listing = search_listing(TraceSearch("x"), page)
        assert listing.limit == PAGE_SIZE and listing.offset == (page - 1) * PAGE_SIZE
        assert f"LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}" in render_sql(listing, ctx).text
        assert f"| take {PAGE_SIZE}" in render_kql(listing, ctx, "classic")
    assert payload_listing().limit == 5_000


# --- one operation end to end -----------------------------------------------------------------


def test_end_to_end_view_holds_exactly_the_rows_with_that_operation_id(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end, days=7, services=("image-classifier",))  # the view ignores the sidebar's services
    exceptions = demo_frames["exceptions"]
    op = exceptions.loc[exceptions["cloud_RoleName"] == "churn-regressor", "operation_Id"].iloc[-1]
    queries = operation_queries(op)
    assert [q.table for q in queries] == ["requests", "dependencies", "traces", "exceptions"]
    assert all(q.where == (Equals(REQ_ID, op),) and not q.applies for q in queries)
    frames = _run(demo_store, queries, filters)
    for query, frame in zip(queries, frames, strict=True):
        rows = _in_window(demo_frames[query.table], filters)
        expected = rows[rows["operation_Id"] == op].sort_values("timestamp")
        assert len(frame) == len(expected) > 0, query.table
        assert list(frame["timestamp"]) == list(expected["timestamp"])
        assert list(frame["itemCount"]) == list(expected["itemCount"])


def test_the_timeline_draws_calls_from_start_for_their_duration_and_logs_as_points(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    deps = demo_frames["dependencies"]
    op = deps.loc[deps["operation_Id"] != "", "operation_Id"].iloc[0]
    queries = operation_queries(op)
    frames = dict(zip([q.table for q in queries], _run(demo_store, queries, _filters(demo_end, days=7)), strict=True))
    events = operation_events(frames)
    assert len(events) == sum(len(f) for f in frames.values())
    spans = events[events["kind"].isin(["requests", "dependencies"])]
    expected = pd.concat([frames["requests"], frames["dependencies"]])
    assert sorted((spans["end"] - spans["start"]).dt.total_seconds() * 1000) == pytest.approx(
        sorted(expected["duration"]))
    points = events[events["kind"].isin(["traces", "exceptions"])]
    assert (points["end"] == points["start"]).all()
    assert list(events["start"]) == sorted(events["start"])


# --- payload sizes ----------------------------------------------------------------------------


def test_payload_sizes_count_item_counts_at_the_property_limit_per_bin_like_pandas(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    filters = _filters(demo_end, days=3, grain="1h")
    (got,) = _run(demo_store, [PAYLOAD_SIZES], filters)
    traces = _in_window(demo_frames["traces"], filters).copy()
    dims = traces["customDimensions"].map(json.loads)
    contents = dims.map(lambda d: d.get("Contents", ""))
    payload = ((traces["message"] == "STDOUT") & contents.str.contains('"input"', regex=False)) | (
        traces["message"] == "model_data_collection") | traces["message"].str.contains('"input"', regex=False)
    # the properties a payload travels in: prints, data collection old (Content) and the inference server's
    longest = dims.map(lambda d: max(len(str(d.get(key, ""))) for key in
                                     ("Contents", "Content", "Input", "Prediction", "custom_dimensions")))
    traces = traces[payload].assign(
        at_limit=traces["itemCount"].where(longest >= PROPERTY_LIMIT, 0),
        bucket=traces["timestamp"].dt.floor("1h"))
    want = traces.groupby(["bucket", "cloud_RoleName"]).agg(payloads=("itemCount", "sum"), at_limit=("at_limit", "sum"))
    got = got.set_index(["bucket", "series"]).sort_index()
    assert list(got["payloads"]) == list(want["payloads"])
    assert list(got["at_limit"]) == list(want["at_limit"])
    assert got["at_limit"].sum() > 0


# --- KQL --------------------------------------------------------------------------------------


def _all_queries(op: str, text: str) -> list:
    return [search_listing(TraceSearch(text, "has", 2, op), 3), search_listing(TraceSearch(text, "contains")),
            search_histogram(TraceSearch(text, "has", None, op)), payload_listing(), PAYLOAD_SIZES,
            *operation_queries(op)]


def test_every_trace_explorer_query_passes_kusto_in_both_schemas(demo_end: datetime) -> None:
    checks = []
    for filters in (_filters(demo_end), _filters(demo_end, services=("churn-regressor",), operation="POST /score")):
        ctx = RenderContext.of(filters)
        for value in HOSTILE_VALUES:
            for query in _all_queries(value, value):
                checks += [(schema, render_kql(query, ctx, schema)) for schema in ("classic", "workspace")]
    assert_valid_kql(checks)


@pytest.mark.parametrize("schema", ["classic", "workspace"])
def test_a_hostile_operation_id_comes_back_from_kustos_parser_as_exactly_one_literal(
    demo_end: datetime, schema: str
) -> None:
    ctx = RenderContext.of(_filters(demo_end))
    queries = [search_listing(TraceSearch(operation_id=op)) for op in HOSTILE_VALUES]
    queries += [q for op in HOSTILE_VALUES for q in operation_queries(op)]
    checks = check_kql([(schema, render_kql(q, ctx, schema)) for q in queries])
    for query, check in zip(queries, checks, strict=True):
        (predicate,) = [p for p in query.where if isinstance(p, Equals)]
        assert check.ok, str(check)
        assert check.string_literals.count(predicate.value) == 1, (predicate.value, check.string_literals)


def test_hostile_search_values_reach_sql_only_as_bound_parameters(demo_end: datetime) -> None:
    ctx = RenderContext.of(_filters(demo_end))
    for value in HOSTILE_VALUES:
        for query in _all_queries(value, value):
            sql = render_sql(query, ctx)
            assert value not in sql.text
            if isinstance(query, Listing) and query.name != "traces.payloads":
                assert value in sql.params


def test_url_parameters_parse_into_a_search_and_bad_ones_are_named() -> None:
    search, page, warnings = search_from_params({"q": " ValueError ", "match": "has", "severity": "warning",
                                                 "op": "abc", "pg": "3"})
    assert (search, page, warnings) == (TraceSearch("ValueError", "has", 2, "abc"), 3, [])
    search, page, warnings = search_from_params({"q": "x" * 1_000_000, "match": "regex", "severity": "loud",
                                                 "op": "a\x00b", "pg": "-1"})
    assert (search, page) == (TraceSearch(), 1)
    assert [w.split("`")[1].split("=")[0] for w in warnings] == ["q", "op", "match", "severity", "pg"]


# --- the page ---------------------------------------------------------------------------------


def _range(end: datetime, days: int = 2) -> dict[str, str]:
    return {"from": (end - timedelta(days=days)).strftime("%Y-%m-%dT%H:%MZ"), "to": end.strftime("%Y-%m-%dT%H:%MZ")}


def _shown_text(at) -> str:  # type: ignore[no-untyped-def]
    parts = [e.value for kind in ("markdown", "caption", "code", "warning", "info", "error", "text")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts).replace("\\", "")  # markdown escapes taken out


def test_search_page_lists_a_page_of_traces_with_printed_json_as_trees(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/traces.py", **_range(demo_end), q="cat", match="has")
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.expander) >= PAGE_SIZE  # one a row (and the query expanders)
    assert len(at.get("json")) >= PAGE_SIZE  # each row's printed JSON (and data collection's) as a tree
    assert "Page 1 · rows 1–50" in _shown_text(at)


def test_an_operation_link_opens_its_end_to_end_timeline(
    app_env: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    deps = demo_frames["dependencies"]
    op = deps.loc[(deps["operation_Id"] != "") & (deps["timestamp"] > demo_end - timedelta(days=1)),
                  "operation_Id"].iloc[0]
    at = run_page("pages/traces.py", **_range(demo_end), op=op)
    assert not at.exception, [e.value for e in at.exception]
    (timeline,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("operation.timeline")]
    (bars,) = [trace for trace in timeline["data"] if trace.get("orientation") == "h"]
    rows = demo_frames["dependencies"]
    assert bars["y"][0] == "1. request POST /score"
    assert len(bars["y"]) == 1 + (rows["operation_Id"] == op).sum()  # the request and each dependency


def test_payload_view_flattens_calls_into_a_downloadable_table(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/traces.py", **_range(demo_end), view="payloads", service="churn-regressor")
    assert not at.exception, [e.value for e in at.exception]
    (table,) = [df.value for df in at.dataframe]
    assert {"input.data[0][0]", "output[0]", "status", "size"} <= set(table.columns)
    assert {b.proto.label for b in at.get("download_button")} >= {"CSV", "Parquet"}
    assert "The newest 5,000 payload rows" in _shown_text(at)


@pytest.mark.parametrize(("params", "said"), [
    ({"q": "x" * 100_000}, ["Ignored `q`"]),  # (Streamlit itself drops a whole query string over 512 KB)
    ({"op": 'abc" | take 1 // \' \\'}, ["No request, dependency, trace or exception with operation_Id"]),
    ({"op": "x" * 100_000, "severity": "loud", "pg": "-3", "match": "regex"},
     ["Ignored `op`", "Ignored `severity` = loud", "Ignored `pg` = -3", "Ignored `match` = regex"]),
    # digits str.isdigit() takes but int() does not
    ({"severity": "\u00b3", "pg": "\u00b2"}, ["Ignored `severity` = \u00b3", "Ignored `pg` = \u00b2"]),
    # a URL's bytes that are not UTF-8 (%FF) reach the page as U+FFFD (the server decodes with
    # replacement); AppTest cannot carry them raw, it URL-encodes what it is given
    ({"q": "\ufffd\ufffd caf%E9 not utf-8", "op": "\ufffd"}, ["No traces matching the search"]),
    ({"q": "[" * 10_000}, ["Ignored `q`"]),
    ({"pg": "999999999999999999999"}, ["Ignored `pg` = 999999999999999999999"]),
])
def test_hostile_url_parameters_give_a_clear_message_and_a_working_page(
    app_env: Path, demo_end: datetime, params: dict[str, str], said: list[str]
) -> None:
    at = run_page("pages/traces.py", **_range(demo_end), **params)
    assert not at.exception, [e.value for e in at.exception]
    shown = _shown_text(at)
    assert all(text in shown for text in said), shown[:2000]
    assert "Traces, newest first" in shown  # the rest of the page works


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory: pytest.TempPathFactory, demo_end: datetime) -> Path:
    return hostile_store.build_hostile_store(tmp_path_factory.mktemp("hostile") / "hostile.duckdb", demo_end)


def _use(monkeypatch: pytest.MonkeyPatch, store: Path) -> None:
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(store))
    monkeypatch.chdir(Path(__file__).resolve().parents[1])


def test_cut_invalid_huge_deep_and_mis_encoded_rows_never_break_the_search_view(
    hostile_env: Path, monkeypatch: pytest.MonkeyPatch, demo_end: datetime
) -> None:
    _use(monkeypatch, hostile_env)
    at = run_page("pages/traces.py", **_range(demo_end, days=1), op=hostile_store.OP)
    assert not at.exception, [e.value for e in at.exception]
    shown = _shown_text(at)
    assert "was cut" in shown  # the cut print and the cut data collection content
    assert "nested deeper than 64 levels" in shown
    assert "more than the 262,144 parsed" in shown
    assert "Showing the first 20,000 of 1,000,000 characters." in shown
    assert "reached the 32,768-character message limit, the 64 KB item limit" in shown  # the 1 MB message
    assert "the 8,192-character limit in Contents" in shown
    assert "stack trace could not be read" in shown
    assert len(at.get("plotly_chart")) >= 1  # the operation's timeline


def test_hostile_rows_never_break_the_payload_view(
    hostile_env: Path, monkeypatch: pytest.MonkeyPatch, demo_end: datetime
) -> None:
    _use(monkeypatch, hostile_env)
    at = run_page("pages/traces.py", **_range(demo_end, days=1), view="payloads", service=hostile_store.SERVICE)
    assert not at.exception, [e.value for e in at.exception]
    (table,) = [df.value for df in at.dataframe]
    assert {"ok", "truncated", "too_deep", "too_large", "not_json"} <= set(table["status"])
    assert table["service"].eq(hostile_store.SERVICE).all()
