"""What a source answers for one query: a typed frame, the query text it ran, warnings.

Both sources hand their raw frame to `typed_frame`, so a panel sees the same dtypes whichever
source answered: datetimes in UTC, counts as Int64 (0 where a group had none), strings as the
pandas string dtype, dynamic values as their JSON text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from telemetry.errors import TelemetryError
from telemetry.model import Query, ResultColumn, result_columns

__all__ = ["Outcome", "QueryResult", "typed_frame"]


@dataclass(frozen=True)
class QueryResult:
    name: str
    frame: pd.DataFrame
    query_text: str
    language: str = "sql"  # of query_text: "sql" (local store) or "kql" (Logs API)
    warnings: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    source: str = ""
    fetched_at: float = field(default_factory=time.time)  # epoch seconds; kept through the cache
    # Set when this is the last good answer, shown because the query just failed.
    stale_because: TelemetryError | None = None

    @property
    def empty(self) -> bool:
        return self.frame.empty


Outcome = QueryResult | TelemetryError


def typed_frame(raw: pd.DataFrame, query: Query) -> pd.DataFrame:
    wanted = result_columns(query)
    missing = [c.name for c in wanted if c.name not in raw.columns]
    if missing:
        raise TelemetryError(f"The answer to {query.name} lacks columns {missing}.")
    return pd.DataFrame({c.name: _typed(raw[c.name], c) for c in wanted}, index=range(len(raw)))


def _typed(values: pd.Series, column: ResultColumn) -> pd.Series:
    values = values.reset_index(drop=True)
    match column.kind:
        case "datetime":
            return pd.to_datetime(values, utc=True, format="ISO8601" if values.dtype == object else None)
        case "count":
            return pd.to_numeric(values, errors="coerce").fillna(0).round().astype("Int64")
        case "int":
            return pd.to_numeric(values, errors="coerce").round().astype("Int64")
        case "real":
            return pd.to_numeric(values, errors="coerce").astype("float64")
        case "bool":
            return values.map(_to_bool, na_action="ignore").astype("boolean")
        case _:
            return values.astype("string")


def _to_bool(value: object) -> bool | None:
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)
