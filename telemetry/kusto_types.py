"""Kusto column types to pandas dtypes: the one table every Logs API answer goes through.

The values arrive as `azure-monitor-query` 2.0 hands them over, which is not quite the JSON the
service sent: datetimes are already aware `datetime`s (the 7th fractional digit dropped), a real
may be the string "NaN", "Infinity" or "-Infinity", dynamic values are their raw JSON text, and a
timespan or guid went through `str()` — so a null one is the string "None". Hand-edited examples
(and some proxies) quote numbers and booleans, and the classic schema's `success` is the text
"True"/"False"; every converter takes those too. A type missing from the table is an error: a
column read wrongly is worse than a panel that says it cannot read it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import pandas as pd

from telemetry.errors import SourceUnavailableError

__all__ = ["KUSTO_TYPES", "KustoType", "UnknownKustoTypeError", "convert", "json_text", "table_frame"]


class UnknownKustoTypeError(SourceUnavailableError):
    """The service answered with a column type this table does not know."""


# Nulls as the client hands them over: JSON null, and "None" for guid/timespan (str(None)).
_NULL_TEXT: Final = frozenset({"None", ""})
_SPECIAL_REALS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_BOOL_TEXT: Final = {"true": True, "false": False, "1": True, "0": False}
# [-][d.]hh:mm:ss[.fffffff] — Kusto's text form of a timespan.
_TIMESPAN: Final = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")


def _real(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _SPECIAL_REALS.get(value, float(value)) if value.strip() else None
    return float(value)


def _integer(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return int(value)


def _boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none"):
            return None
        if text not in _BOOL_TEXT:
            raise ValueError(f"not a bool: {value!r}")
        return _BOOL_TEXT[text]
    return bool(value)


def _timespan(value: Any) -> timedelta | None:
    if value is None or value in _NULL_TEXT:
        return None
    match = _TIMESPAN.match(str(value).strip())
    if match is None:
        raise ValueError(f"not a Kusto timespan: {value!r}")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    span = timedelta(
        days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds),
        microseconds=int((fraction or "0").ljust(7, "0")[:6]),  # ticks are 100 ns; keep µs
    )
    return -span if sign else span


def _guid(value: Any) -> str | None:
    return None if value is None or value in _NULL_TEXT else str(value)


def _dynamic(value: Any) -> Any:
    """Parsed JSON; text that is not JSON stays text (a property App Insights cut mid-way)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _datetimes(values: Sequence[Any]) -> pd.Series:
    # Aware datetimes from the client; ISO text (7 fractional digits) from raw JSON.
    cleaned = [None if v in (None, "") else v for v in values]
    texts = [v for v in cleaned if isinstance(v, str)]
    series = pd.Series(cleaned, dtype=object)
    if texts:
        series = series.map(lambda v: pd.Timestamp(v) if isinstance(v, str) else v)
    return pd.to_datetime(series, utc=True).astype("datetime64[us, UTC]")


def _mapped(function: Callable[[Any], Any], dtype: str | None) -> Callable[[Sequence[Any]], pd.Series]:
    def convert_all(values: Sequence[Any]) -> pd.Series:
        converted = [function(v) for v in values]
        return pd.Series(converted, dtype=dtype) if dtype else pd.Series(converted, dtype=object)

    return convert_all


def _timespans(values: Sequence[Any]) -> pd.Series:
    return pd.Series([_timespan(v) for v in values], dtype="timedelta64[us]")


def _strings(values: Sequence[Any]) -> pd.Series:
    return pd.Series([None if v is None else str(v) for v in values], dtype="string")


@dataclass(frozen=True)
class KustoType:
    dtype: str  # the pandas dtype a column of this type becomes
    convert: Callable[[Sequence[Any]], pd.Series]


KUSTO_TYPES: Final[dict[str, KustoType]] = {
    "string": KustoType("string", _strings),
    "datetime": KustoType("datetime64[us, UTC]", _datetimes),
    "int": KustoType("Int64", _mapped(_integer, "Int64")),
    "long": KustoType("Int64", _mapped(_integer, "Int64")),
    "real": KustoType("float64", _mapped(_real, "float64")),
    "decimal": KustoType("float64", _mapped(_real, "float64")),  # sent as text; float is enough for charts
    "bool": KustoType("boolean", _mapped(_boolean, "boolean")),
    "timespan": KustoType("timedelta64[us]", _timespans),
    "guid": KustoType("string", _mapped(_guid, "string")),
    "dynamic": KustoType("object", _mapped(_dynamic, None)),
}


def convert(kusto_type: str, values: Sequence[Any], *, column: str = "?") -> pd.Series:
    """One column's values as the pandas dtype its Kusto type maps to."""
    try:
        kind = KUSTO_TYPES[kusto_type.lower()]
    except KeyError:
        raise UnknownKustoTypeError(
            f"Column {column!r} has Kusto type {kusto_type!r}, which Endpoint Monitor cannot read "
            f"(known: {', '.join(KUSTO_TYPES)})."
        ) from None
    try:
        return kind.convert(values)
    except (ValueError, TypeError, OverflowError) as error:
        raise SourceUnavailableError(
            f"Column {column!r} of type {kusto_type!r} holds a value that is not one: {error}."
        ) from error


def json_text(values: Sequence[Any]) -> pd.Series:
    """Dynamic values as JSON text, the form results keep them in (see telemetry.results)."""
    return pd.Series(
        [v if v is None or isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values],
        dtype="string",
    )


def table_frame(
    columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]], *, as_text: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """A typed frame from one answer table. Dynamic columns named in `as_text` stay JSON text."""
    data: dict[str, pd.Series] = {}
    for index, (name, kusto_type) in enumerate(zip(columns, types, strict=True)):
        values = [row[index] for row in rows]
        if name in as_text and kusto_type.lower() == "dynamic":
            data[name] = json_text(values)
        else:
            data[name] = convert(kusto_type, values, column=name)
    return pd.DataFrame(data, index=range(len(rows)))
