"""The demo's credit-scorer, written the way Azure ML's inference server writes: every page's numbers
for it against an independent pandas reading of the server's own properties, and beside them what
the standard columns alone would show.

The pandas side (tests/server_values.py) parses each row's customDimensions with json (and a
`custom_dimensions` repr with ast.literal_eval), takes `resultCode`, `success`, `duration` and
`Request Id` from there, and links a trace or exception to the request whose `Request Id` it names. Percentile tolerances as in
tests/weighted.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from telemetry.demo.inference_server import INFERENCE_SERVICE, SDK_14, SDK_15
from telemetry.filters import Filters
from telemetry.payloads import payload_rows, properties
from telemetry.queries import panel
from telemetry.queries.checkup import checkups
from telemetry.queries.checkup import page_view as checkup_view
from telemetry.queries.exceptions import GROUPS
from telemetry.queries.failures import CODES, CODES_OVER_TIME, exception_types
from telemetry.queries.latency import DISTRIBUTION, HISTOGRAM, SLOWEST, SLOWEST_LIMIT, TOTALS
from telemetry.queries.overview import REQUEST_TREND
from telemetry.queries.requests import RATE
from telemetry.queries.traces import TraceSearch, operation_queries, payload_listing, response_listing, search_listing
from tests.apptest import run_page, texts, window_params
from tests.server_values import served_links, served_requests
from tests.store_answers import local_answer as _answer
from tests.store_answers import window_filters
from tests.weighted import close_in_log, weighted_percentile

def truth(requests: pd.DataFrame) -> pd.DataFrame:
    """The credit-scorer's stored requests, beside the server's own code, outcome, duration and id."""
    rows = requests[requests["cloud_RoleName"] == INFERENCE_SERVICE]
    served = served_requests(rows)
    return rows.assign(code=served["resultCode"], failed=served["success"] == "False", ms=served["duration"],
                       request_id=served["operation_Id"])


def linked(frame: pd.DataFrame, table: str) -> pd.Series:
    """The request each row names: its operation_Id, else the Request Id in its properties."""
    return served_links(frame, table)["operation_Id"]


@pytest.fixture(scope="module")
def window(demo_end: datetime) -> Filters:
    return window_filters(demo_end - timedelta(days=7), demo_end, services=(INFERENCE_SERVICE,))


@pytest.fixture(scope="module")
def server(demo_raw_frames: dict[str, pd.DataFrame], window: Filters) -> pd.DataFrame:
    rows = truth(demo_raw_frames["requests"])
    span = window.window()
    return rows[(rows["timestamp"] >= span.start) & (rows["timestamp"] < span.end)]


# --- the demo writes what the server writes ---------------------------------------------------


def test_the_standard_columns_say_every_request_succeeded_with_code_0_and_1_5_says_0_ms(
    server: pd.DataFrame,
) -> None:
    assert set(server["resultCode"]) == {"0"} and set(server["success"]) == {"True"}
    assert set(server["sdkVersion"]) == {SDK_14, SDK_15}
    newer = server[server["sdkVersion"] == SDK_15]
    assert (newer["duration"] < 0.1).all() and (newer["ms"] > 1).all()
    assert set(server["code"]) == {"200", "400", "500"} and server["failed"].sum() > 10
    assert (server["failed"] == (server["code"] != "200")).all()


# --- request rate, failure rate, overview -----------------------------------------------------


def test_failed_requests_per_bin_are_the_servers_own_failures(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    ours = _answer(demo_store, RATE, window)
    grain = window.grain_for(window.window())
    expected = server.groupby(server["timestamp"].dt.floor(grain))[["failed", "itemCount"]].sum()
    got = ours.set_index(pd.to_datetime(ours["bucket"], utc=True))
    assert got["failed"].sum() == server["failed"].sum() > 0
    assert (got["failed"].reindex(expected.index, fill_value=0).to_numpy() == expected["failed"].to_numpy()).all()
    assert (got["requests"].reindex(expected.index, fill_value=0).to_numpy() == expected["itemCount"].to_numpy()).all()


def test_the_overview_and_the_totals_count_the_servers_failures(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    totals = _answer(demo_store, panel("requests.totals"), window)
    current = totals[totals["period"] == "current"].iloc[0]
    assert (current["requests"], current["failed"]) == (len(server), server["failed"].sum())
    trend = _answer(demo_store, REQUEST_TREND, window)
    assert trend["failed"].sum() == server["failed"].sum()


def test_result_codes_are_the_codes_the_server_answered_with(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    codes = _answer(demo_store, CODES, window).set_index("code")
    expected = server.groupby("code").agg(requests=("itemCount", "sum"), failed=("failed", "sum"))
    assert codes[["requests", "failed"]].astype(int).sort_index().equals(expected.astype(int).sort_index())
    over_time = _answer(demo_store, CODES_OVER_TIME, window)
    assert over_time.groupby("code")["failed"].sum().to_dict() == expected.loc[expected["failed"] > 0, "failed"].to_dict()


def test_the_result_code_filter_picks_the_servers_500s(
    demo_store: Path, server: pd.DataFrame, demo_end: datetime,
) -> None:
    only_500 = window_filters(demo_end - timedelta(days=7), demo_end, services=(INFERENCE_SERVICE,), result_code="500")
    totals = _answer(demo_store, panel("requests.totals"), only_500)
    current = totals[totals["period"] == "current"].iloc[0]
    assert current["requests"] == current["failed"] == (server["code"] == "500").sum() > 0


# --- latency ----------------------------------------------------------------------------------


def test_percentiles_are_of_the_durations_the_server_measured(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    totals = _answer(demo_store, TOTALS, window)
    current = totals[totals["period"] == "current"].iloc[0]
    for name, percent in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        exact = weighted_percentile(server["ms"], server["itemCount"], percent)
        assert close_in_log(current[name], exact), (name, current[name], exact)


def test_the_distribution_counts_the_servers_durations_per_bucket(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    ours = _answer(demo_store, DISTRIBUTION, window).set_index(HISTOGRAM.alias)["requests"]
    import numpy as np

    buckets = np.floor(np.log10(np.maximum(server["ms"].to_numpy(), 0.001)) * HISTOGRAM.per_decade).astype(int)
    expected = pd.Series(server["itemCount"].to_numpy(), index=buckets).groupby(level=0).sum()
    assert ours.astype(int).to_dict() == expected.astype(int).to_dict()


def test_the_slowest_requests_are_the_scoring_timeouts_with_their_code_and_request_id(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    slowest = _answer(demo_store, SLOWEST, window)
    expected = server.sort_values(["ms", "timestamp"], ascending=False).head(SLOWEST_LIMIT)  # as the panel orders
    assert list(slowest["operation_Id"]) == list(expected["request_id"])
    assert list(slowest["resultCode"]) == list(expected["code"])
    assert slowest["duration"].to_numpy() == pytest.approx(expected["ms"].to_numpy(), abs=1e-6)
    assert (slowest["duration"] >= 30_000).sum() == (server["ms"] >= 30_000).sum() > 0  # the scoring timeouts


# --- exceptions, traces, one request end to end -----------------------------------------------


def test_exceptions_link_to_their_failed_request_by_request_id(
    demo_store: Path, demo_raw_frames: dict[str, pd.DataFrame], server: pd.DataFrame, window: Filters,
) -> None:
    exceptions = demo_raw_frames["exceptions"]
    mine = exceptions[exceptions["cloud_RoleName"] == INFERENCE_SERVICE]
    span = window.window()
    mine = mine[(mine["timestamp"] >= span.start) & (mine["timestamp"] < span.end)]
    ids = linked(mine, "exceptions")
    assert ids.isin(server.loc[server["failed"], "request_id"]).all() and len(ids) > 0
    groups = _answer(demo_store, GROUPS, window)
    current = groups[groups["period"] == "current"]
    assert current["operations"].sum() == ids.nunique()
    joined = _answer(demo_store, exception_types(), window)
    assert joined["exceptions"].sum() == len(mine) and joined["operations"].sum() == ids.nunique()


def test_trace_search_names_the_request_a_collected_payload_belongs_to(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], server: pd.DataFrame, window: Filters,
) -> None:
    listing = _answer(demo_store, search_listing(TraceSearch("model_data_collection")), window)
    assert len(listing) > 0 and listing["operation_Id"].isin(server["request_id"]).all()


def test_one_request_end_to_end_holds_its_request_payload_and_exception(
    demo_store: Path, demo_frames: dict[str, pd.DataFrame], server: pd.DataFrame, window: Filters,
) -> None:
    failed = server[server["code"] == "500"].iloc[-1]
    queries = operation_queries(failed["request_id"])
    frames = {q.table: _answer(demo_store, q, window) for q in queries}
    assert len(frames["requests"]) == 1
    request = frames["requests"].iloc[0]
    assert (request["resultCode"], bool(request["failed"])) == ("500", True)
    assert request["duration"] == pytest.approx(failed["ms"])
    assert len(frames["exceptions"]) == 1
    ok = server[server["code"] == "200"].iloc[-1]
    traces = _answer(demo_store, operation_queries(ok["request_id"])[2], window)
    assert list(traces["message"]) == ["model_data_collection"]


# --- payloads from every shape the server writes ----------------------------------------------

_BODY = json.dumps({"data": [[32, 41804.58, 12914, 60]]})
_PREDICTION = json.dumps({"approved": True, "probability": 0.4022})


def _trace_rows(*rows: tuple[str, str, dict]) -> pd.DataFrame:
    return pd.DataFrame([{"timestamp": pd.Timestamp("2026-11-20 11:00", tz="UTC") + pd.Timedelta(seconds=i),
                          "operation_Id": op, "cloud_RoleName": INFERENCE_SERVICE, "message": message,
                          "customDimensions": json.dumps(dims)} for i, (op, message, dims) in enumerate(rows)])


def test_data_collection_reads_flat_and_repr_properties_with_the_input_encoded_twice() -> None:
    flat = {"Request Id": "r-14", "Input": json.dumps(_BODY), "Prediction": _PREDICTION}
    as_repr = {"custom_dimensions": repr({"Container Id": "c", "Request Id": "r-15", "Models": ["credit-gbm:4"],
                                          "Input": json.dumps(_BODY), "Prediction": _PREDICTION})}
    table = payload_rows(_trace_rows(("r-14", "model_data_collection", flat),
                                     ("r-15", "model_data_collection", as_repr))).frame.set_index("operation_Id")
    for op in ("r-14", "r-15"):
        assert table.at[op, "input.data[0][1]"] == pytest.approx(41804.58)
        assert table.at[op, "output.probability"] == pytest.approx(0.4022) and table.at[op, "status"] == "ok"
        assert table.at[op, "source"] == "data collection"


def test_a_repr_cut_at_the_property_limit_is_flagged_and_still_names_its_request() -> None:
    big = json.dumps({"data": [[1.5, 2, 3, 4]] * 2_000})
    cut = repr({"Container Id": "c", "Request Id": "r-cut", "Input": json.dumps(big), "Prediction": "[1]"})[:8_192]
    table = payload_rows(_trace_rows(("r-cut", "model_data_collection", {"custom_dimensions": cut}))).frame
    assert list(table["status"]) == ["truncated"] and list(table["limit"]) == ["8,192-character property limit"]
    assert properties(json.dumps({"custom_dimensions": cut}))[1]["Request Id"] == "r-cut"


def test_calls_join_their_request_and_take_the_logged_response_when_no_trace_has_an_output() -> None:
    traces = _trace_rows(("r-1", "model_data_collection", {"Input": json.dumps(_BODY)}),
                         ("", '{"input": [[1, 2, 3]], "output": [4.5]}', {"code.function": "run"}))
    requests = pd.DataFrame([
        {"timestamp": pd.Timestamp("2026-11-20 11:00", tz="UTC"), "operation_Id": op, "cloud_RoleName": INFERENCE_SERVICE,
         "resultCode": code, "duration": ms, "customDimensions": json.dumps({"Response Value": response})}
        for op, code, ms, response in (("r-1", "200", 85.0, _PREDICTION),  # 1.5.x: the text as sent
                                       ("r-2", "500", 41.0, json.dumps('{"message": "failed"}')))])  # 1.4.x: encoded again
    table = payload_rows(traces, requests).frame.set_index("source")
    assert table.loc["data collection", "output.probability"] == pytest.approx(0.4022)
    assert (table.loc["data collection", "resultCode"], table.loc["data collection", "duration"]) == ("200", 85.0)
    assert table.loc["response", "output.message"] == "failed" and table.loc["response", "resultCode"] == "500"
    assert table.loc["print", "output[0]"] == pytest.approx(4.5)  # printed through the server's logger


def test_the_payload_view_joins_every_collected_call_of_the_demo_to_its_request(
    demo_store: Path, server: pd.DataFrame, window: Filters,
) -> None:
    table = payload_rows(_answer(demo_store, payload_listing(), window),
                         _answer(demo_store, response_listing(), window)).frame
    collected = table[table["source"] == "data collection"].set_index("operation_Id")
    truth_by_id = server.set_index("request_id")
    assert len(collected) == (server["code"] == "200").sum()
    assert (collected["resultCode"] == truth_by_id.loc[collected.index, "code"]).all()
    assert collected["duration"].to_numpy() == pytest.approx(truth_by_id.loc[collected.index, "ms"].to_numpy())
    readable = collected[collected["status"] == "ok"]
    assert readable["input.data[0][0]"].notna().all() and readable["output.probability"].notna().all()
    assert 0 < (collected["status"] == "truncated").sum() < 0.05 * len(collected)
    failed = table[table["source"] == "response"]
    assert set(failed["resultCode"]) == {"400", "500"}  # no prediction was collected: the response tells why


# --- the check-up -----------------------------------------------------------------------------


def test_the_checkup_names_each_writer_and_the_credit_scorers_problems(demo_store: Path, demo_end: datetime) -> None:
    everyone = window_filters(demo_end - timedelta(days=7), demo_end)
    found = {c.service: c for c in checkups(*(_answer(demo_store, q, everyone) for q in checkup_view()))}
    credit = found[INFERENCE_SERVICE]
    assert [name.split(" (")[0] for name, _ in credit.writers] == [
        "Azure ML inference server 1.5.x", "Azure ML inference server 1.4.x or older"]
    titles = {f.title: f for f in credit.findings}
    assert titles["Standard columns vs the server's own values"].detail.startswith("100.0%")
    assert titles["Traces without a request"].level == "warning"  # run()'s prints name no request
    assert titles["Cut at App Insights' size limits"].level == "warning"
    assert "Sampled" in {f.title for f in found["fraud-scorer"].findings}
    assert "Standard columns vs the server's own values" not in {f.title for f in found["churn-regressor"].findings}
    assert found["churn-regressor"].writers[0][0].startswith("OpenCensus")


def test_a_server_that_logs_no_payloads_is_told_the_variable_that_turns_them_on() -> None:
    requests = pd.DataFrame([{"service": "s", "sdk": SDK_15, "values": "server_disagrees", "requests": 10, "failed": 1,
                              "min_item_count": 1, "max_item_count": 1, "responses": 0, "responses_at_limit": 0}])
    traces = pd.DataFrame([{"service": "s", "traces": 4, "linked": 4, "collected": 0, "printed_json": 0,
                            "at_limit": 0, "message_at_limit": 0}])
    (checkup,) = checkups(requests, traces, pd.DataFrame(columns=["service"]))
    (finding,) = [f for f in checkup.findings if f.title == "Inputs and predictions are not logged"]
    assert "AML_MDC_STORAGE_ENABLED=true" in finding.fix


def test_the_checkup_page_shows_the_findings_with_their_fixes(app_env: Path, demo_end: datetime) -> None:
    at = run_page("pages/checkup.py", **window_params(demo_end - timedelta(days=7), demo_end))
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(texts(at, "markdown") + texts(at, "caption"))
    assert "Azure ML inference server 1.5.x" in shown and "Standard columns vs the server's own values" in shown
    assert "Fix:" in shown and len(at.main.get("plotly_chart")) == 1
