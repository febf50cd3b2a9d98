"""Trace explorer panels: search, the payloads a scoring script logged, and one operation end to end.

Search reads `q` (text), `match` (contains | has), `severity` (minimum level), `op` (operation id)
and `pg` (page) from the URL. Text matches the message, customDimensions as JSON text, or the
printed text in customDimensions.Contents (decoded, so a term after a line break is found).
Every listing fetches one page at most: the Logs API caps an answer at 500,000 rows and 64 MB,
and a browser table has no use for more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

from telemetry.derived import REQ_CODE, REQ_DURATION, REQ_FAILED, REQ_ID
from telemetry.filters import clean_text
from telemetry.markdown_text import plain
from telemetry.model import (
    AllOf,
    AnyOf,
    AtLeast,
    Column,
    Contains,
    Equals,
    Has,
    ItemCount,
    LengthAtLeast,
    Listing,
    PanelFactory,
    Predicate,
    Property,
    SeriesSplit,
    Summary,
    TimeBin,
)
from telemetry.payloads import PROPERTY_LIMIT

__all__ = [
    "MAX_PAGE",
    "PAGE_SIZE",
    "PANELS",
    "PAYLOAD_ROWS",
    "SEVERITIES",
    "TraceSearch",
    "operation_events",
    "operation_queries",
    "payload_listing",
    "response_listing",
    "search_from_params",
    "search_listing",
]

PAGE_SIZE: Final = 50
MAX_PAGE: Final = 1_000
PAYLOAD_ROWS: Final = 5_000
# App Insights severityLevel values and their names.
SEVERITIES: Final = {0: "Verbose", 1: "Information", 2: "Warning", 3: "Error", 4: "Critical"}

Match = Literal["contains", "has"]
CONTENTS: Final = Property("customDimensions", "Contents")
CONTENT: Final = Property("customDimensions", "Content")  # model_data_collection's property
SEARCHED: Final = ("message", "customDimensions", CONTENTS)


@dataclass(frozen=True)
class TraceSearch:
    text: str | None = None
    match: Match = "contains"
    min_severity: int | None = None
    operation_id: str | None = None

    def predicates(self) -> tuple[Predicate, ...]:
        found: list[Predicate] = []
        if self.text:
            test = Has if self.match == "has" else Contains
            found.append(AnyOf(tuple(test(field, self.text) for field in SEARCHED)))
        if self.min_severity is not None:
            found.append(AtLeast("severityLevel", self.min_severity))
        if self.operation_id:
            found.append(Equals(REQ_ID, self.operation_id))
        return tuple(found)


def _first(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return value
    return value[0] if value else ""


def _number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "³", which int() refuses."""
    return text.isascii() and text.isdigit()


def _severity(raw: str, warnings: list[str]) -> int | None:
    text = raw.strip().lower()
    if not text:
        return None
    names = {name.lower(): level for level, name in SEVERITIES.items()}
    if text in names:
        return names[text]
    if _number(text) and int(text) in SEVERITIES:
        return int(text)
    warnings.append(f"Ignored `severity` = {plain(raw[:40])}: use 0–4 or one of {', '.join(SEVERITIES.values())}.")
    return None


def _page(raw: str, warnings: list[str]) -> int:
    text = raw.strip()
    if not text:
        return 1
    if _number(text) and 1 <= int(text) <= MAX_PAGE:
        return int(text)
    warnings.append(f"Ignored `pg` = {plain(raw[:40])}: use a page number from 1 to {MAX_PAGE}.")
    return 1


def search_from_params(params: Mapping[str, str | Sequence[str]]) -> tuple[TraceSearch, int, list[str]]:
    """The search and page a URL asks for, and a warning for each parameter that was ignored."""
    warnings: list[str] = []
    text = clean_text("q", _first(params.get("q", "")), warnings)
    op = clean_text("op", _first(params.get("op", "")), warnings)
    match_raw = _first(params.get("match", "")).strip().lower()
    match: Match = "has" if match_raw == "has" else "contains"
    if match_raw not in ("", "has", "contains"):
        warnings.append(f"Ignored `match` = {plain(match_raw[:40])}: use contains or has.")
    severity = _severity(_first(params.get("severity", "")), warnings)
    page = _page(_first(params.get("pg", "")), warnings)
    return TraceSearch(text, match, severity, op), page, warnings


_SEARCH_COLUMNS: Final = (
    *(Column(c) for c in ("timestamp", "severityLevel", "message", "customDimensions")), Column(REQ_ID, "operation_Id"),
    *(Column(c) for c in ("operation_Name", "cloud_RoleName", "cloud_RoleInstance", "itemCount")),
)
# Ties on timestamp are broken so that pages never overlap (itemId has no workspace column).
# (on the stored operation_Id: ordering on the request a row names would compute it for every row)
_NEWEST_FIRST: Final = (("timestamp", "desc"), ("operation_Id", "asc"), ("message", "asc"))


def search_listing(search: TraceSearch = TraceSearch(), page: int = 1) -> Listing:
    return Listing(
        name="traces.search",
        table="traces",
        columns=_SEARCH_COLUMNS,
        where=search.predicates(),
        order_by=_NEWEST_FIRST,
        limit=PAGE_SIZE,
        offset=(max(1, min(page, MAX_PAGE)) - 1) * PAGE_SIZE,
        description=f"Traces matching the search, newest first, {PAGE_SIZE} a page.",
    )


def search_histogram(search: TraceSearch = TraceSearch()) -> Summary:
    return Summary(
        name="traces.histogram",
        table="traces",
        measures=(ItemCount("traces"),),
        by=(TimeBin(), Column("severityLevel", "severity")),
        where=search.predicates(),
        order_by=(("bucket", "asc"), ("severity", "asc")),
        description="Matching traces per bin and severity (sum of itemCount).",
    )


# What score.py logged about a call: a JSON print with its input (in Contents, or as the message
# when Azure ML's inference server logged the print), or data collection's rows.
PAYLOAD: Final = AnyOf((
    AllOf((Equals("message", "STDOUT"), Contains(CONTENTS, '"input"'))),
    Equals("message", "model_data_collection"),
    Contains("message", '"input"'),
))
# Properties a payload travels in: print Contents, Content (older data collection), Input and
# Prediction (the inference server's), and its whole repr bag under 1.5.x.
_PAYLOAD_PROPERTIES: Final = (CONTENTS, CONTENT, *(Property("customDimensions", key)
                                                   for key in ("Input", "Prediction", "custom_dimensions")))
AT_PROPERTY_LIMIT: Final = AnyOf(tuple(LengthAtLeast(prop, PROPERTY_LIMIT) for prop in _PAYLOAD_PROPERTIES))


def payload_listing(limit: int = PAYLOAD_ROWS) -> Listing:
    return Listing(
        name="traces.payloads",
        table="traces",
        columns=(Column("timestamp"), Column(REQ_ID, "operation_Id"), Column("cloud_RoleName"), Column("message"),
                 Column("customDimensions")),
        where=(PAYLOAD,),
        order_by=_NEWEST_FIRST,
        limit=limit,
        description=f"The newest {limit:,} payload rows: JSON prints with an input, and model data collection.",
    )


def response_listing(limit: int = PAYLOAD_ROWS) -> Listing:
    """Requests that logged their response (the inference server's `Response Value`), with the
    status and duration the server recorded: the payload view joins its calls to them."""
    return Listing(
        name="traces.responses",
        table="requests",
        columns=(Column("timestamp"), Column(REQ_ID, "operation_Id"), Column("cloud_RoleName"),
                 Column(REQ_CODE, "resultCode"), Column(REQ_DURATION, "duration"), Column("customDimensions")),
        where=(LengthAtLeast(Property("customDimensions", "Response Value"), 1),),
        order_by=(("timestamp", "desc"), (REQ_ID, "asc")),
        limit=limit,
        description=f"The newest {limit:,} requests that logged their response, with their status and duration.",
    )


PAYLOAD_SIZES: Final = Summary(
    name="traces.payload_sizes",
    table="traces",
    measures=(ItemCount("payloads"), ItemCount("at_limit", AT_PROPERTY_LIMIT)),
    by=(TimeBin(), SeriesSplit()),
    where=(PAYLOAD,),
    order_by=(("bucket", "asc"), ("series", "asc")),
    description=(f"Payload rows per bin, and those whose Contents (or Content) reached the "
                 f"{PROPERTY_LIMIT:,}-character property limit: App Insights cut them."),
)


# --- one operation, end to end ----------------------------------------------------------------

OPERATION_LIMIT: Final = 500
# The request's own status, outcome and duration (telemetry.derived), under the standard names.
_AS_SERVER_SAID: Final = {"duration": Column(REQ_DURATION, "duration"), "resultCode": Column(REQ_CODE, "resultCode"),
                          "failed": Column(REQ_FAILED, "failed")}
_OPERATION_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "requests": ("timestamp", "id", "name", "duration", "resultCode", "failed", "url", "operation_ParentId",
                 "cloud_RoleName", "cloud_RoleInstance", "customDimensions", "itemCount"),
    "dependencies": ("timestamp", "id", "type", "target", "name", "data", "duration", "resultCode", "success",
                     "operation_ParentId", "cloud_RoleName", "itemCount"),
    "traces": ("timestamp", "message", "severityLevel", "customDimensions", "operation_ParentId",
               "cloud_RoleName", "itemCount"),
    "exceptions": ("timestamp", "problemId", "type", "outerMessage", "innermostMessage", "details",
                   "operation_ParentId", "cloud_RoleName", "itemCount"),
}


def operation_listing(table: str, op: str) -> Listing:
    return Listing(
        name=f"operation.{table}",
        table=table,  # type: ignore[arg-type]
        columns=tuple(_AS_SERVER_SAID.get(c, Column(c)) if table == "requests" else Column(c)
                      for c in _OPERATION_COLUMNS[table]),
        where=(Equals(REQ_ID, op),),
        applies=frozenset(),  # every part of the operation, whichever service or operation logged it
        order_by=(("timestamp", "asc"),),
        limit=OPERATION_LIMIT,
        description=f"The operation's {table} in the range, in time order (at most {OPERATION_LIMIT}).",
    )


def operation_queries(op: str) -> list[Listing]:
    """Request, dependencies, traces and exceptions of one operation: one batch of four."""
    return [operation_listing(table, op) for table in _OPERATION_COLUMNS]


PANELS: Final[dict[str, PanelFactory]] = {
    "traces.search": search_listing,
    "traces.histogram": search_histogram,
    "traces.payloads": payload_listing,
    "traces.responses": response_listing,
    "traces.payload_sizes": lambda: PAYLOAD_SIZES,
    **{f"operation.{table}": (lambda op, table=table: operation_listing(table, op)) for table in _OPERATION_COLUMNS},
}


def _failed(success: pd.Series) -> pd.Series:
    # classic "True"/"False" text; the workspace's bool arrives as "True"/"False" text too
    return success.astype("string").str.lower().eq("false").fillna(False).astype(bool)


def operation_events(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One operation's rows on one timeline: spans for the request and its dependencies, points
    for traces and exceptions. Columns: kind, label, start, end, failed, detail; in time order."""
    parts: list[pd.DataFrame] = []
    for kind, label_of, detail_of in _EVENT_KINDS:
        frame = frames.get(kind)
        if frame is None or frame.empty:
            continue
        start = frame["timestamp"]
        span = pd.to_timedelta(frame["duration"].astype("float64").fillna(0), unit="ms") if "duration" in frame \
            else pd.to_timedelta(0, unit="ms")
        parts.append(pd.DataFrame({
            "kind": kind,
            "label": label_of(frame).astype("string"),
            "start": start,
            "end": start + span,
            "failed": frame["failed"].fillna(False).astype(bool) if "failed" in frame
            else _failed(frame["success"]) if "success" in frame else kind == "exceptions",
            "detail": detail_of(frame).astype("string"),
        }))
    if not parts:
        return pd.DataFrame(columns=["kind", "label", "start", "end", "failed", "detail"])
    events = pd.concat(parts, ignore_index=True)
    return events.sort_values(["start", "kind"], kind="stable").reset_index(drop=True)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("string").fillna("")


_EVENT_KINDS: Final = (
    ("requests", lambda f: "request " + _text(f, "name"),
     lambda f: "result " + _text(f, "resultCode") + " · " + _text(f, "cloud_RoleName")),
    ("dependencies", lambda f: _text(f, "type") + " " + _text(f, "name"),
     lambda f: "result " + _text(f, "resultCode") + " · " + _text(f, "target")),
    ("traces", lambda f: "trace " + _text(f, "message"),
     lambda f: _text(f, "severityLevel").map(lambda s: SEVERITIES.get(int(s), s) if _number(s) else s)),
    ("exceptions", lambda f: "exception " + _text(f, "type"), lambda f: _text(f, "outerMessage").str.slice(0, 200)),
)
