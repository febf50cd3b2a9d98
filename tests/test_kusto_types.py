"""Kusto column types become pandas dtypes through one table, from what `azure-monitor-query` 2.0
hands over: the answers here go through the real client from the fake Logs API, so its own
conversions (aware datetimes, "None" for a null guid or timespan) are part of what is tested."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from azure.monitor.query import LogsQueryClient, LogsTable

from telemetry.errors import SourceUnavailableError
from telemetry.kusto_types import KUSTO_TYPES, UnknownKustoTypeError, convert, table_frame
from tests.fake_logs_api import FIXTURES, WORKSPACE_ID, FakeLogsApi, StaticCredential, serve


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLogsApi]:
    with serve() as running:
        yield running


def _through_client(fake: FakeLogsApi, fixture: str) -> LogsTable:
    query = json.loads((FIXTURES / fixture).read_text())["query"]
    client = LogsQueryClient(StaticCredential(), endpoint=fake.endpoint)
    result = client.query_workspace(WORKSPACE_ID, query, timespan=None, enforce_https=False)
    return result.tables[0]


@pytest.fixture(scope="module")
def every_type(fake: FakeLogsApi) -> pd.DataFrame:
    table = _through_client(fake, "every_type.json")
    return table_frame(table.columns, table.columns_types, [list(r) for r in table.rows]).set_index("name")


def test_each_kusto_type_has_its_own_pandas_dtype(every_type: pd.DataFrame) -> None:
    dtypes = {name: str(dtype) for name, dtype in every_type.dtypes.items()}
    assert dtypes == {
        "ok": "boolean", "at": "datetime64[us, UTC]", "n": "Int64", "big": "Int64", "x": "float64",
        "bag": "object", "id": "string", "took": "timedelta64[us]", "price": "float64",
    }
    assert {t: KUSTO_TYPES[t].dtype for t in ("bool", "datetime", "int", "long", "real", "guid", "timespan")} == {
        "bool": "boolean", "datetime": "datetime64[us, UTC]", "int": "Int64", "long": "Int64", "real": "float64",
        "guid": "string", "timespan": "timedelta64[us]",
    }


def test_values_survive_the_client_and_the_table(every_type: pd.DataFrame) -> None:
    assert every_type["ok"].tolist() == [True, pd.NA, False, True, False]
    row = every_type.loc["values"]
    # The client drops the 7th fractional digit; the rest is kept, in UTC.
    assert row["at"] == pd.Timestamp(datetime(2026, 11, 20, 11, 59, 59, 123456, tzinfo=UTC))
    assert row["n"] == 7 and row["big"] == 9007199254740993  # past 2**53: no float on the way
    assert row["x"] == 0.25 and row["price"] == 1.5
    assert row["bag"] == {"model": "churn-regressor", "version": 2}
    assert row["id"] == "5b1c2d3e-4f50-4a6b-9c7d-8e9f0a1b2c3d"
    assert row["took"] == pd.Timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=567)


def test_nulls_stay_null_including_the_guid_and_timespan_the_client_turns_into_none(every_type: pd.DataFrame) -> None:
    nulls = every_type.loc["nulls"]
    assert nulls.isna().all(), nulls[~nulls.isna()]
    assert pd.isna(every_type.loc["-infinity", "id"])  # a null guid between non-null ones
    assert not (every_type["id"].astype(object) == "None").any()


def test_nan_and_infinities_arrive_as_strings_and_become_floats(every_type: pd.DataFrame) -> None:
    assert math.isnan(every_type.loc["nan", "x"])
    assert every_type.loc["infinity", "x"] == math.inf
    assert every_type.loc["-infinity", "x"] == -math.inf
    assert pd.isna(every_type.loc["nulls", "x"])


def test_extremes_of_int_long_datetime_and_timespan(every_type: pd.DataFrame) -> None:
    assert every_type.loc["-infinity", "n"] == 2**31 - 1
    assert every_type.loc["-infinity", "big"] == -(2**63)
    assert every_type.loc["-infinity", "at"] == pd.Timestamp("2026-11-19T23:59:59.999999Z")
    assert every_type.loc["nan", "took"] == pd.Timedelta(seconds=-1)
    assert every_type.loc["-infinity", "took"] == pd.Timedelta(days=14)


def test_dynamic_values_are_parsed_json(every_type: pd.DataFrame) -> None:
    assert every_type.loc["nan", "bag"] == [1, "two", None]
    assert every_type.loc["infinity", "bag"] == {} and every_type.loc["-infinity", "bag"] == []


def test_quoted_numbers_and_the_classic_true_false_text(fake: FakeLogsApi) -> None:
    table = _through_client(fake, "quoted_values.json")
    frame = table_frame(table.columns, table.columns_types, [list(r) for r in table.rows])
    assert frame["success"].tolist() == ["True", "False", "True"]  # a classic string column stays text
    assert frame["requests"].dtype == "Int64" and frame["requests"].tolist() == [1204, 17, 388]
    assert frame["mean_ms"].iloc[0] == 41.5 and math.isnan(frame["mean_ms"].iloc[2])
    assert frame["failed_any"].dtype == "boolean" and frame["failed_any"].tolist() == [False, True, False]


def test_a_dynamic_column_can_stay_json_text_for_results() -> None:
    frame = table_frame(["bag"], ["dynamic"], [['{"a": 1}'], [None], [{"b": 2}]], as_text=frozenset({"bag"}))
    assert frame["bag"].dtype == "string"
    assert frame["bag"].tolist()[0] == '{"a": 1}' and pd.isna(frame["bag"].iloc[1])
    assert json.loads(frame["bag"].iloc[2]) == {"b": 2}


def test_text_cut_mid_json_stays_text_in_a_dynamic_column() -> None:
    assert convert("dynamic", ['{"Contents": "[1, 2, 3'])[0] == '{"Contents": "[1, 2, 3'


@pytest.mark.parametrize(
    ("kusto_type", "text", "expected"),
    [
        ("timespan", "00:00:00.0000001", timedelta(0)),  # one tick is below a microsecond
        ("timespan", "00:01:30.25", timedelta(seconds=90.25)),
        ("timespan", "-1.00:00:00", timedelta(days=-1)),
        ("bool", "TRUE", True),
        ("bool", "0", False),
        ("int", "-12", -12),
        ("real", "-Infinity", -math.inf),
    ],
)
def test_text_forms_the_service_uses(kusto_type: str, text: str, expected: object) -> None:
    assert convert(kusto_type, [text])[0] == expected


def test_type_names_are_case_insensitive() -> None:
    assert convert("DateTime", ["2026-11-20T00:00:00Z"]).dtype == "datetime64[us, UTC]"


def test_an_unknown_type_is_an_error_naming_the_column() -> None:
    with pytest.raises(UnknownKustoTypeError, match=r"'embedding'.*'vector'"):
        table_frame(["embedding"], ["vector"], [[[0.1, 0.2]]])


@pytest.mark.parametrize(("kusto_type", "bad"), [("timespan", "soon"), ("bool", "maybe"), ("int", "7.5x")])
def test_a_value_that_is_not_of_its_type_is_an_error(kusto_type: str, bad: str) -> None:
    with pytest.raises(SourceUnavailableError, match="holds a value that is not one"):
        convert(kusto_type, [bad], column="c")
