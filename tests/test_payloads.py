"""Payload parsing, cut detection, flattening and size guards, on hand-made text and the demo rows."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.payloads import (
    ITEM_LIMIT,
    MAX_DEPTH,
    MESSAGE_LIMIT,
    PROPERTY_LIMIT,
    clean_text,
    distribution_grain,
    flatten,
    parse_json,
    payload_rows,
    prediction_columns,
    prediction_distribution,
    size_guard,
)
from telemetry.stacks import parse_details

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=12),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                         max_leaves=25)
CONTAINERS = st.one_of(st.lists(DOCUMENTS, min_size=1, max_size=4),
                       st.dictionaries(st.text(max_size=6), DOCUMENTS, min_size=1, max_size=4))


def _encodable(value: object) -> bool:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="strict") is not None


# --- parsing ----------------------------------------------------------------------------------


def test_nested_json_parses_to_the_same_value() -> None:
    document = {"input": {"data": [[12, 70.35, 845.2, 2], [3, 20.1, 60.3, 0]]}, "output": [0.7312, 0.1],
                "meta": {"model": "churn", "flags": [True, None, {"deep": {"er": [1]}}]}}
    parsed = parse_json(json.dumps(document))
    assert parsed.ok and parsed.value == document


@settings(max_examples=150, deadline=None)
@given(document=CONTAINERS, data=st.data())
def test_every_cut_of_a_json_object_or_list_is_flagged_truncated(document: object, data: st.DataObject) -> None:
    text = json.dumps(document)
    cut = data.draw(st.integers(1, len(text) - 1))
    parsed = parse_json(text[:cut])
    assert parsed.status == "truncated", (text[:cut], parsed)
    assert parse_json(text).ok


@pytest.mark.parametrize("text", ['{"a": 1}}', "{]", "hello world", "{'a': 1}", "[1, 2]]", '{"a": NaN}',
                                  '{"a": Infinity}', "Traceback (most recent call last):\n  File"])
def test_malformed_text_is_not_json_rather_than_truncated(text: str) -> None:
    assert parse_json(text).status == "not_json"


def test_ten_thousand_levels_of_nesting_are_refused_without_recursing() -> None:
    started = time.perf_counter()
    for text in ("[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000, "[" * 10_000):
        parsed = parse_json(text)
        assert parsed.status == "too_deep" and str(MAX_DEPTH) in parsed.detail
    assert time.perf_counter() - started < 1.0


def test_nesting_up_to_the_limit_still_parses() -> None:
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH).ok


def test_a_megabyte_string_is_refused_as_too_large_at_once() -> None:
    started = time.perf_counter()
    for text in ('{"input": "' + "A" * 1_000_000 + '"}', "x" * 1_000_000, '{"input": "' + "A" * 1_000_000):
        assert parse_json(text).status == "too_large"
    assert time.perf_counter() - started < 0.5


def test_an_unterminated_megabyte_string_is_scanned_in_linear_time() -> None:
    started = time.perf_counter()
    assert parse_json('{"input": "' + "A\\n" * 400_000, max_chars=10**7).status == "truncated"
    assert time.perf_counter() - started < 1.0


def test_lone_surrogate_escapes_come_back_as_encodable_text() -> None:
    parsed = parse_json('{"\\udcff key": ["\\udcfe", {"x": "ok \\ud83d"}], "fine": "\\ud83d\\ude00"}')
    assert parsed.ok and _encodable(parsed.value)
    assert parsed.value["fine"] == "😀"  # a proper surrogate pair stays the character it encodes


def test_bytes_that_are_not_utf8_are_decoded_with_replacement_characters() -> None:
    assert clean_text(b'{"a": "\xff\xfe caf\xe9"}') == '{"a": "\ufffd\ufffd caf\ufffd"}'
    assert parse_json(b'{"a": "\xff"}').value == {"a": "\ufffd"}


@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), pd.NA])
def test_nothing_logged_is_empty(value: object) -> None:
    assert parse_json(value).status == "empty"


# --- size guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "kind", "expected"),
    [(PROPERTY_LIMIT - 1, "property", None), (PROPERTY_LIMIT, "property", "8,192-character property limit"),
     (PROPERTY_LIMIT, "message", None), (MESSAGE_LIMIT, "message", "32,768-character message limit"),
     (ITEM_LIMIT, "property", "64 KB item limit")],
)
def test_size_guard_names_the_app_insights_limit_a_text_reached(length: int, kind: str, expected: str | None) -> None:
    assert size_guard("x" * length, kind=kind) == expected  # type: ignore[arg-type]


def test_a_cut_at_the_property_limit_says_so() -> None:
    text = json.dumps({"input": {"data": [[1.5] * 5000]}})[:PROPERTY_LIMIT]
    parsed = parse_json(text)
    assert parsed.truncated and "8,192-character property limit" in parsed.detail


# --- flattening -------------------------------------------------------------------------------


def test_flatten_names_columns_by_their_json_path() -> None:
    columns, left_out = flatten({"input": {"data": [[12, 70.35, 845.2, 2]]}, "output": [0.7312]})
    assert columns == {"input.data[0][0]": 12, "input.data[0][1]": 70.35, "input.data[0][2]": 845.2,
                       "input.data[0][3]": 2, "output[0]": 0.7312}
    assert left_out == 0


def test_flatten_quotes_keys_that_are_not_identifiers_and_keeps_empty_containers() -> None:
    columns, _ = flatten({"Prediction/Input": "input", "a b": {"c": []}, "x": {}, "ok_1": True})
    assert columns == {'["Prediction/Input"]': "input", '["a b"].c': "[]", "x": "{}", "ok_1": True}


def test_flatten_caps_the_columns_and_counts_what_it_left_out() -> None:
    columns, left_out = flatten({"input": list(range(1000))}, max_columns=300)
    assert len(columns) == 300 and left_out == 700
    assert list(columns)[:2] == ["input[0]", "input[1]"]


def test_flatten_of_an_empty_document_gives_no_columns() -> None:
    assert flatten({}) == ({}, 0)


# --- payload rows from the demo store ---------------------------------------------------------


def _payload_traces(traces: pd.DataFrame, service: str) -> pd.DataFrame:
    rows = traces[traces["cloud_RoleName"] == service]
    contents = rows["customDimensions"].map(lambda d: json.loads(d).get("Contents", ""))
    keep = ((rows["message"] == "STDOUT") & contents.str.contains('"input"', regex=False)) | (
        rows["message"] == "model_data_collection")
    return rows[keep]


def test_payload_rows_flag_exactly_the_prints_cut_at_the_property_limit(demo_frames: dict[str, pd.DataFrame]) -> None:
    rows = _payload_traces(demo_frames["traces"], "churn-regressor")
    table = payload_rows(rows).frame
    contents = rows["customDimensions"].map(lambda d: json.loads(d)["Contents"])
    cut = contents.map(len) >= PROPERTY_LIMIT
    assert cut.sum() > 0, "the demo data has cut payloads"
    assert len(table) == len(rows)  # one print per call
    assert (table["status"] == "truncated").sum() == cut.sum()
    assert set(table.loc[table["status"] == "truncated", "operation_Id"]) == set(rows.loc[cut, "operation_Id"])
    assert (table.loc[table["status"] == "truncated", "limit"] == "8,192-character property limit").all()


def test_payload_columns_hold_the_printed_input_and_output(demo_frames: dict[str, pd.DataFrame]) -> None:
    rows = _payload_traces(demo_frames["traces"], "churn-regressor")
    table = payload_rows(rows).frame.set_index("operation_Id")
    for row in rows.head(200).itertuples():
        printed = json.loads(json.loads(row.customDimensions)["Contents"]) if len(
            json.loads(row.customDimensions)["Contents"]) < PROPERTY_LIMIT else None
        if printed is None:
            continue
        assert table.at[row.operation_Id, "input.data[0][3]"] == pytest.approx(printed["input"]["data"][0][3])
        assert table.at[row.operation_Id, "output[0]"] == pytest.approx(printed["output"][0])


def test_data_collection_pairs_become_one_call_with_input_and_prediction(demo_frames: dict[str, pd.DataFrame]) -> None:
    traces = demo_frames["traces"]
    collected = traces[(traces["cloud_RoleName"] == "image-classifier") & (traces["message"] == "model_data_collection")]
    table = payload_rows(collected).frame
    assert len(table) == collected["operation_Id"].nunique() > 0
    assert (table["source"] == "data collection").all()
    predictions = collected[collected["customDimensions"].str.contains('"Prediction/Input":"prediction"')]
    expected = {row.operation_Id: json.loads(json.loads(row.customDimensions)["Content"])["label"]
                for row in predictions.itertuples()}
    got = table.set_index("operation_Id")["output.label"].dropna()
    assert got.to_dict() == expected


def test_a_cut_print_takes_the_prediction_from_data_collection(demo_frames: dict[str, pd.DataFrame]) -> None:
    rows = _payload_traces(demo_frames["traces"], "image-classifier")
    table = payload_rows(rows).frame
    cut = table[table["status"] == "truncated"]
    assert len(cut) > 0, "the demo has inline images cut at the limit"
    assert cut["output.label"].notna().all()
    assert len(table) == rows["operation_Id"].nunique()


def test_the_payload_table_writes_to_parquet_whatever_the_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame({
        "timestamp": pd.to_datetime(["2026-11-20T10:00Z", "2026-11-20T10:01Z", "2026-11-20T10:02Z"]),
        "operation_Id": ["a", "b", "c"], "cloud_RoleName": ["s"] * 3, "message": ["STDOUT"] * 3,
        "customDimensions": [json.dumps({"Contents": json.dumps(c)}) for c in (
            {"input": 1, "output": "cat"}, {"input": "text", "output": 0.5}, {"input": [True], "output": None})],
    })
    table = payload_rows(rows).frame
    table.to_parquet(tmp_path / "p.parquet")
    back = pd.read_parquet(tmp_path / "p.parquet")  # newest first: c, b, a

    def values(column: str) -> list[object]:
        return [None if pd.isna(v) else v for v in back[column]]

    assert values("input") == [None, "text", "1"]
    assert values("output") == [None, "0.5", "cat"]
    assert values("input[0]") == [True, None, None]


def test_prediction_percentiles_per_bin_equal_pandas_quantiles(demo_frames: dict[str, pd.DataFrame]) -> None:
    table = payload_rows(_payload_traces(demo_frames["traces"], "churn-regressor")).frame
    assert prediction_columns(table)[0] == "output[*]"
    grain = distribution_grain(table["timestamp"])
    dist = prediction_distribution(table, "output[0]", grain).set_index("bucket")
    assert len(dist) <= 48
    expected = table.groupby(table["timestamp"].dt.floor(grain))["output[0]"].quantile(0.5)
    pd.testing.assert_series_equal(dist["p50"], expected.dropna(), check_names=False, check_freq=False)


def test_categorical_predictions_are_counted_per_class(demo_frames: dict[str, pd.DataFrame]) -> None:
    table = payload_rows(_payload_traces(demo_frames["traces"], "image-classifier")).frame
    dist = prediction_distribution(table, "output.label", distribution_grain(table["timestamp"]))
    assert dist["n"].sum() == table["output.label"].notna().sum()
    assert set(dist["value"]) == set(table["output.label"].dropna())


# --- exception details ------------------------------------------------------------------------


def test_every_demo_exception_stack_reads_with_its_frames(demo_frames: dict[str, pd.DataFrame]) -> None:
    for details in demo_frames["exceptions"]["details"]:
        parsed = parse_details(details)
        assert parsed.ok, parsed
        outer = parsed.parts[0]
        assert outer.frames and outer.frames[0].startswith('File "') and "Traceback" in outer.stack_text


def test_stack_from_parsed_frames_reads_outermost_call_first() -> None:
    details = json.dumps([{"type": "KeyError", "message": "'tenure'", "parsedStack": [
        {"level": 0, "method": "<listcomp>", "fileName": "score.py", "line": 33},
        {"level": 1, "method": "run", "fileName": "score.py", "line": 33}]}])
    (part,) = parse_details(details).parts
    assert part.stack_text.splitlines() == ["Stack (most recent call last):", '  File "score.py", line 33, in run',
                                            '  File "score.py", line 33, in <listcomp>', "KeyError: 'tenure'"]


@pytest.mark.parametrize(
    ("details", "status"),
    [('[{"type": "ValueError", "parsedStack": [{"level": 0, "method": "run"', "truncated"),
     ("[" * 10_000 + "]" * 10_000, "too_deep"), ("x" * 1_000_000, "too_large"), ('"a string"', "not_a_list"),
     ("not json", "not_json"), ("", "empty")],
)
def test_unreadable_details_say_why_and_keep_a_bounded_raw_text(details: str, status: str) -> None:
    parsed = parse_details(details)
    assert parsed.status == status and not parsed.parts
    assert len(parsed.raw) <= 20_000 and parsed.note
