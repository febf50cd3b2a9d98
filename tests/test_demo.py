"""The demo telemetry: deterministic, in the classic schema, and shaped like real ML scoring services."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from telemetry.demo import INCIDENT_SERVICE, SAMPLED_SERVICE, build_demo_store, generate, incident_window
from telemetry.demo.inference_server import INFERENCE_SERVICE
from telemetry.schema import CLASSIC_TABLES, ENDPOINT_TABLES, workspace_schema
from telemetry.store import STORE_TABLES, build_store

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 2
RPD = 2_000


def _tables(**kwargs: object) -> dict[str, pa.Table]:
    batches: dict[str, list[pa.Table]] = {}
    options = {"requests_per_day": RPD, "days": DAYS, "end": END, **kwargs}
    for table, rows in generate(**options):  # type: ignore[arg-type]
        batches.setdefault(table, []).append(rows)
    return {table: pa.concat_tables(rows) for table, rows in batches.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", requests_per_day=RPD, days=DAYS, end=END)


@pytest.fixture(scope="module")
def frames(store: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {table: con.execute(f"SELECT * FROM {table}").df() for table in STORE_TABLES}
    finally:
        con.close()


@pytest.fixture(scope="module")
def classic(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The services written by the classic SDKs (tests/test_inference_server.py has the other one)."""
    return {table: frame[frame["cloud_RoleName"] != INFERENCE_SERVICE] for table, frame in frames.items()}


def _contents(traces: pd.DataFrame) -> pd.Series:
    stdout = traces[traces["message"] == "STDOUT"]
    return stdout["customDimensions"].map(lambda text: json.loads(text)["Contents"])


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_the_same_seed_and_end_give_identical_tables() -> None:
    first, second = _tables(), _tables()
    assert first.keys() == second.keys() == {"requests", "dependencies", "exceptions", "traces", *ENDPOINT_TABLES}
    for table in first:
        assert first[table].equals(second[table]), table


def test_another_seed_gives_other_rows() -> None:
    first, other = _tables(seed=42), _tables(seed=7)
    assert not first["requests"].equals(other["requests"])
    assert first["requests"].column("id").to_pylist()[:10] != other["requests"].column("id").to_pylist()[:10]


def test_every_column_is_a_classic_column_and_the_store_builds(tmp_path: Path) -> None:
    tables = _tables()
    for table, rows in tables.items():
        known = workspace_schema()[table] if table in ENDPOINT_TABLES else CLASSIC_TABLES[table]  # endpoint logs: their own
        assert set(rows.column_names) <= set(known), set(rows.column_names) - set(known)
    path = build_store(tmp_path / "store.duckdb", ((t, rows) for t, rows in tables.items()))
    con = duckdb.connect(str(path), read_only=True)
    try:
        for table, rows in tables.items():
            assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (rows.num_rows,)
    finally:
        con.close()


def test_requests_per_day_counts_stored_request_rows_roughly(frames: dict[str, pd.DataFrame]) -> None:
    assert 0.75 * RPD * DAYS < len(frames["requests"]) < 1.25 * RPD * DAYS


def test_timestamps_lie_inside_the_range_ending_at_end(frames: dict[str, pd.DataFrame]) -> None:
    start, end = pd.Timestamp(END - timedelta(days=DAYS)).tz_localize(None), pd.Timestamp(END).tz_localize(None)
    for table, frame in frames.items():
        assert len(frame) > 0, table
        assert frame["timestamp"].min() >= start, table
        assert frame["timestamp"].max() < end, table


def test_end_defaults_to_now_floored_to_the_minute() -> None:
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = pa.concat_tables([r for t, r in generate(requests_per_day=200, days=1) if t == "requests"])
    after = datetime.now(UTC)
    newest = rows.column("timestamp").to_pandas().max().tz_localize(UTC)
    oldest = rows.column("timestamp").to_pandas().min().tz_localize(UTC)
    assert newest < after
    assert oldest >= before - timedelta(days=1)


def test_there_are_several_services_and_only_the_sampled_one_stands_for_more_than_one_event(
    frames: dict[str, pd.DataFrame],
) -> None:
    requests = frames["requests"]
    assert requests["cloud_RoleName"].nunique() >= 2
    sampled = set(requests.loc[requests["itemCount"] > 1, "cloud_RoleName"])
    assert sampled == {SAMPLED_SERVICE}
    assert (requests.loc[requests["cloud_RoleName"] == SAMPLED_SERVICE, "itemCount"] > 1).all()
    assert set(requests.loc[requests["cloud_RoleName"] != SAMPLED_SERVICE, "itemCount"]) == {1}


def test_child_rows_carry_their_requests_item_count(classic: dict[str, pd.DataFrame]) -> None:
    weights = classic["requests"].set_index("operation_Id")["itemCount"]
    for table in ("dependencies", "exceptions", "traces"):
        children = classic[table][classic[table]["operation_Id"] != ""]
        assert (children["itemCount"].to_numpy() == weights.loc[children["operation_Id"]].to_numpy()).all(), table


def test_operations_are_score_health_and_swagger_with_name_equal_to_operation_name(
    classic: dict[str, pd.DataFrame],
) -> None:
    requests = classic["requests"]
    assert (requests["name"] == requests["operation_Name"]).all()
    shares = requests["name"].value_counts(normalize=True)
    assert set(shares.index) == {"POST /score", "GET /", "GET /swagger.json"}
    assert shares["POST /score"] > 0.8
    assert 0.02 < shares["GET /"] < 0.2
    assert (requests["operation_ParentId"] == requests["operation_Id"]).all()
    assert requests["id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert requests["operation_Id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert requests["operation_Id"].is_unique and requests["itemId"].is_unique
    assert (requests["itemType"] == "request").all()


def test_success_is_a_string_that_agrees_with_the_result_code(classic: dict[str, pd.DataFrame]) -> None:
    requests = classic["requests"]
    assert set(requests["success"]) == {"True", "False"}
    assert set(requests["resultCode"]) <= {"200", "400", "500", "502", "503", "504"}
    failed = requests["resultCode"].astype(int) >= 400
    assert ((requests["success"] == "False") == failed).all()
    deps = classic["dependencies"]
    assert set(deps["success"]) == {"True", "False"}
    assert ((deps["success"] == "True") == deps["resultCode"].isin(["200", "0"])).all()


def test_every_child_row_belongs_to_a_request(classic: dict[str, pd.DataFrame]) -> None:
    requests = classic["requests"].set_index("operation_Id")
    for table in ("dependencies", "exceptions", "traces"):
        children = classic[table]
        linked = children[children["operation_Id"] != ""]
        assert len(linked) > 0.9 * len(children), table
        assert linked["operation_Id"].isin(requests.index).all(), table
        parents = requests.loc[linked["operation_Id"]]
        assert (linked["operation_ParentId"].to_numpy() == parents["id"].to_numpy()).all(), table
        assert (linked["operation_Name"].to_numpy() == parents["name"].to_numpy()).all(), table
        assert (linked["cloud_RoleName"].to_numpy() == parents["cloud_RoleName"].to_numpy()).all(), table
    # the rest is what instances do when they start: download the model, print "model initialized"
    startup = classic["dependencies"][classic["dependencies"]["operation_Id"] == ""]
    assert (startup["target"] == "mlstore123.blob.core.windows.net").all()
    assert len(startup) >= 6  # every instance starts once at least


def test_exceptions_are_linked_to_failed_requests(classic: dict[str, pd.DataFrame]) -> None:
    requests = classic["requests"].set_index("operation_Id")
    exceptions = classic["exceptions"]
    assert (requests.loc[exceptions["operation_Id"], "success"] == "False").all()
    assert exceptions["problemId"].str.fullmatch(r"\w+ at score\.run").all()
    assert (exceptions["severityLevel"] == 3).all()
    bad_input = requests.loc[exceptions["operation_Id"], "resultCode"].to_numpy() == "400"
    assert exceptions.loc[bad_input, "outerMessage"].str.startswith("Expected 2D array").any()
    details = json.loads(exceptions["details"].iloc[0])
    assert details[0]["outerId"] == "0" and details[0]["parsedStack"]
    assert details[0]["rawStack"].startswith("Traceback (most recent call last):")
    assert (exceptions["outerMessage"].str.len() <= 32_768).all()


def test_the_incident_window_fails_more_and_is_slower(frames: dict[str, pd.DataFrame]) -> None:
    start, stop = (pd.Timestamp(t).tz_localize(None) for t in incident_window(END, DAYS))
    assert stop - start == pd.Timedelta(minutes=90)
    requests = frames["requests"]
    scoring = requests[(requests["cloud_RoleName"] == INCIDENT_SERVICE) & (requests["name"] == "POST /score")]
    inside = scoring[(scoring["timestamp"] >= start) & (scoring["timestamp"] < stop)]
    outside = scoring[(scoring["timestamp"] < start) | (scoring["timestamp"] >= stop)]
    assert len(inside) > 20
    fail_in, fail_out = (part["success"].eq("False").mean() for part in (inside, outside))
    assert fail_in > 0.15 and fail_in > 5 * fail_out
    ok_in, ok_out = (part[part["success"] == "True"]["duration"].quantile(0.95) for part in (inside, outside))
    assert ok_in > 3 * ok_out
    errors = frames["exceptions"]
    window_errors = errors[(errors["timestamp"] >= start) & (errors["timestamp"] < stop)]
    assert {"MemoryError", "RuntimeError"} & set(window_errors["type"])


def test_prints_become_stdout_traces_whose_contents_are_cut_at_8192_characters(
    frames: dict[str, pd.DataFrame],
) -> None:
    contents = _contents(frames["traces"])
    lengths = contents.str.len()
    assert lengths.max() == 8_192
    cut = contents[lengths == 8_192]
    assert len(cut) >= 3
    assert not cut.map(_parses).any()
    printed_json = contents[(lengths < 8_192) & contents.str.startswith("{")]
    assert printed_json.map(_parses).all()
    assert len(printed_json) > 0.8 * len(contents)
    sample = json.loads(printed_json.iloc[0])
    assert set(sample) == {"input", "output"}


def test_traces_have_info_warning_and_error_levels(frames: dict[str, pd.DataFrame]) -> None:
    traces = frames["traces"]
    levels = traces.groupby("severityLevel")["customDimensions"].first().map(lambda t: json.loads(t)["Contents"])
    assert set(levels.index) == {1, 2, 3}
    assert levels[2].startswith("WARNING: slow feature store")
    assert levels[3].startswith("Traceback (most recent call last):")
    assert _contents(traces).str.startswith("model initialized ").any()


def test_the_older_service_logs_model_data_collection(classic: dict[str, pd.DataFrame]) -> None:
    traces = classic["traces"]
    collected = traces[traces["message"] == "model_data_collection"]
    assert len(collected) > 0
    dims = collected["customDimensions"].map(json.loads)
    assert set(dims.map(lambda d: d["Prediction/Input"])) == {"input", "prediction"}
    first = dims.iloc[0]
    assert {"Content", "Model Name", "Model Version", "Request Id"} <= set(first)
    assert first["Request Id"].replace("-", "") == collected["operation_Id"].iloc[0]
    assert collected["cloud_RoleName"].nunique() == 1


def test_dependencies_are_the_feature_store_sql_and_blob_storage(frames: dict[str, pd.DataFrame]) -> None:
    deps = frames["dependencies"]
    assert {"HTTP", "SQL", "Azure blob"} <= set(deps["type"])
    assert "features.contoso.internal" in set(deps["target"])
    timeouts = deps[(deps["target"] == "features.contoso.internal") & (deps["resultCode"] == "504")]
    assert len(timeouts) > 0 and (timeouts["duration"] >= 2_000).all()
    assert (deps.loc[deps["type"] == "SQL", "data"].str.startswith("SELECT")).all()
    model_downloads = deps[deps["target"] == "mlstore123.blob.core.windows.net"]
    assert (model_downloads["duration"] > 500).all()


def test_durations_are_in_milliseconds_with_app_insights_buckets(frames: dict[str, pd.DataFrame]) -> None:
    requests = frames["requests"]
    scoring = requests[(requests["name"] == "POST /score") & (requests["success"] == "True")]
    medians = scoring.groupby("cloud_RoleName")["duration"].median()
    assert 25 < medians["churn-regressor"] < 70
    assert 120 < medians["image-classifier"] < 300
    fast = requests["duration"] < 250
    assert (requests.loc[fast, "performanceBucket"] == "<250ms").all()
    assert np.isin(requests.loc[~fast, "performanceBucket"],
                   ["250ms-500ms", "500ms-1sec", "1sec-3sec", "3sec-7sec", "7sec-15sec", "15sec-30sec",
                    "30sec-1min", "1min-2min"]).all()
