"""Trace rows of scoring calls that each log input keys of their own (plus one every call has)."""

from __future__ import annotations

import json

import pandas as pd


def rows(calls: int, keys: int) -> pd.DataFrame:
    prints = [json.dumps({"Contents": json.dumps({"input": {"shared": i, **{f"k{i}_{j}": j for j in range(keys)}},
                                                  "output": [0.5]})}) for i in range(calls)]
    return pd.DataFrame({"timestamp": pd.date_range("2026-11-20", periods=calls, freq="s", tz="UTC"),
                         "operation_Id": [f"op{i}" for i in range(calls)], "cloud_RoleName": "svc",
                         "message": "STDOUT", "customDimensions": prints})
