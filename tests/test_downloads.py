"""Downloads: a CSV opened in a spreadsheet runs no formula that telemetry wrote; Parquet keeps
every value as it is."""

from __future__ import annotations

import io

import pandas as pd

from components.tables import to_csv_bytes, to_parquet_bytes

HOSTILE = ["=HYPERLINK(\"https://evil.example\",\"open\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
           "\t=1+1", "\r=1+1", "plain text", "a=b", None]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "message": HOSTILE,
        "operation": pd.Series(HOSTILE, dtype="string"),
        "duration": [-3.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        "=input.cmd": ["x"] * len(HOSTILE),  # a payload's JSON path is a column name
    })


def test_csv_cells_that_would_start_a_formula_get_a_leading_apostrophe() -> None:
    read = pd.read_csv(io.BytesIO(to_csv_bytes(_frame())), keep_default_na=False, dtype=str)
    expected = ["'" + v if v and v[0] in "=+-@\t\r" else (v or "") for v in HOSTILE]
    assert list(read["message"]) == expected
    assert list(read["operation"]) == expected
    assert list(read.columns) == ["message", "operation", "duration", "'=input.cmd"]


def test_csv_numbers_stay_numbers_even_when_negative() -> None:
    read = pd.read_csv(io.BytesIO(to_csv_bytes(_frame())))
    assert read["duration"].tolist()[0] == -3.5


def test_parquet_keeps_every_value_as_it_is() -> None:
    frame = _frame()
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(to_parquet_bytes(frame))), frame)
