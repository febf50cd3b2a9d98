"""The demo rows as Azure ML's inference server meant them, computed in pandas on its own: the
independent reference every page's numbers are checked against.

A request row whose resultCode is "0" and that carries the server's own `resultCode` property
(its standard columns say "0", success True and, under 1.5.x, ~0 ms) takes its code, outcome, duration and `Request Id` from its
properties; a trace or exception with an empty or all-zero operation_Id takes the `Request Id` it
names, flat or inside a `custom_dimensions` Python repr (read with ast.literal_eval, never eval;
a repr App Insights cut at 8,192 characters still names the id near its start).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Final

import pandas as pd

__all__ = ["ZERO_OPERATION", "as_served", "properties", "served_requests", "served_links"]

ZERO_OPERATION: Final = "0" * 32
_REQUEST_ID: Final = re.compile(r"'Request Id': '([^']*)'")


def properties(raw: object) -> dict:
    """A row's customDimensions as a dict, a repr `custom_dimensions` merged in; {} when unreadable."""
    try:
        bag = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    if not isinstance(bag, dict):
        return {}
    inner = bag.get("custom_dimensions")
    if isinstance(inner, str):
        try:
            parsed = ast.literal_eval(inner)
            bag = {**bag, **(parsed if isinstance(parsed, dict) else {})}
        except (ValueError, SyntaxError):
            found = _REQUEST_ID.search(inner)
            bag = {**bag, **({"Request Id": found.group(1)} if found else {})}
    return bag


def _ms(text: str) -> float:
    days, _, clock = text.rpartition(".") if text.count(".") > 1 else ("", "", text)
    hours, minutes, seconds = clock.split(":")
    return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60_000 + float(seconds) * 1000


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def served_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """Requests with resultCode, success ("True"/"False"), duration and operation_Id as the server recorded them."""
    bags = requests["customDimensions"].map(properties)
    code = bags.map(lambda b: _text(b.get("resultCode")) or _text(b.get("http.status_code")))
    server = (code != "") & (requests["resultCode"] == "0")  # the server writes "0", whatever it answered
    if not server.any():
        return requests
    rows = requests.copy()
    mine = bags[server]
    failed = mine.map(lambda b: _text(b.get("success")).lower() == "false") | code[server].map(lambda c: int(c) >= 400)
    rows.loc[server, "resultCode"] = code[server]
    rows.loc[server, "success"] = failed.map({True: "False", False: "True"})
    rows.loc[server, "duration"] = mine.map(lambda b: _ms(b["duration"]) if b.get("duration") else None).astype(float)
    rows.loc[server, "operation_Id"] = mine.map(lambda b: b.get("Request Id") or b.get("ai.operation.id"))
    return rows


def served_links(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Traces or exceptions with operation_Id the request they name (empty when they name none):
    a `Request Id` property names it where the operation_Id is empty or all zeros, or where an
    exception or a data collection trace names another request than its operation (1.4.x logs a
    whole process under one operation_Id)."""
    rows = frame.copy()
    for index, row in frame.iterrows():
        own = row["operation_Id"] or ""
        named = _text(properties(row["customDimensions"]).get("Request Id"))
        if own in ("", ZERO_OPERATION):
            rows.at[index, "operation_Id"] = named
        elif (table == "exceptions" or row["message"] == "model_data_collection") and named \
                and named.replace("-", "") != own:
            rows.at[index, "operation_Id"] = named
    return rows


def as_served(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    served = dict(frames)
    served["requests"] = served_requests(frames["requests"])
    for table in ("exceptions", "traces"):
        served[table] = served_links(frames[table], table)
    return served
