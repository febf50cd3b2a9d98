"""The two yardsticks a page's time is held against, run in the benchmark's own process.

baseline  what a hand-written dashboard does: load the rows of the range (only the columns the
          page needs) from the store into pandas, then compute every panel in pandas: filters as
          boolean masks, groupby sums of itemCount, exact weighted percentiles by sorting.
floor     the least any engine must do: one DuckDB scan per table of the columns the page's
          aggregates (and its listings' filters and orders) read over the range, aggregated
          trivially (a sum per column, so every value is read).

Both compute from the same `page_reads`, so neither reads more than the page does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.columns import TableRead, page_reads
from bench.model_monitoring import MODEL_COLUMNS, pandas_features
from telemetry.derived import READS, REQ_CODE, REQ_DURATION, REQ_FAILED, REQ_ID, ZERO_OPERATION
from telemetry.filters import Window
from telemetry.model import (
    AllOf,
    AnyOf,
    AtLeast,
    Column,
    Contains,
    DistinctCount,
    Earliest,
    Equals,
    Failed,
    Field,
    Has,
    InOperationsOf,
    ItemCount,
    Latest,
    LengthAtLeast,
    Listing,
    LogBucket,
    Measure,
    NotEmpty,
    OneOf,
    Period,
    Predicate,
    Property,
    Query,
    RenderContext,
    SampleValue,
    SeriesSplit,
    Summary,
    TimeBin,
    WeightedMean,
    WeightedPercentile,
    global_predicates,
    split_column,
)
from telemetry.queries.model_monitoring import FeatureDrift
from telemetry.schema import columns
from telemetry.sources.local import MEMORY_LIMIT
from telemetry.store import connect

__all__ = ["floor_scan", "pandas_page"]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)  # the store keeps naive UTC


def _select(read: TableRead, expressions: Sequence[str]) -> tuple[str, list[object]]:
    sql = f"SELECT {', '.join(expressions)} FROM {read.table} WHERE timestamp >= ? AND timestamp < ?"
    return sql, [_naive(read.window.start), _naive(read.window.end)]


def _connect(store: Path) -> duckdb.DuckDBPyConnection:
    """A connection set up as LocalSource's is, without the progress bar DuckDB draws on long loads."""
    con = connect(store)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET enable_progress_bar = false")
    return con


def _touch(table: str, column: str) -> str:
    """The cheapest aggregate that reads every value: DuckDB answers min, max and count from a row
    group's statistics without reading it (a floor of 24 ms for 23M rows), but not a sum."""
    kind = columns(table)[column]
    if kind in ("real", "int", "long"):
        return f'sum("{column}")'
    if kind == "datetime":
        return f'sum(epoch_us("{column}"))'
    return f'sum(hash("{column}"))'  # text, JSON text, bool


def floor_scan(store: Path, queries: Sequence[Query], ctx: RenderContext) -> None:
    """One pass over each table the page reads: the rows of its window, the columns its aggregates
    and its listings' filters and orders read (not the columns a listing shows in its N rows)."""
    con = _connect(store)
    try:
        for read in page_reads(queries, ctx, listed=False).values():
            con.execute(*_select(read, [_touch(read.table, c) for c in sorted(read.columns)])).fetchall()
    finally:
        con.close()


def load_frames(store: Path, queries: Sequence[Query], ctx: RenderContext) -> dict[str, pd.DataFrame]:
    con = _connect(store)
    try:
        # Through Arrow: with pandas 3's Arrow-backed strings this loads text 4-7x faster than .df().
        return {table: _derive(table, con.sql(sql, params=params).to_arrow_table().to_pandas())
                for table, read in page_reads(queries, ctx).items()
                for sql, params in [_select(read, [f'"{c}"' for c in sorted(read.columns)])]}
    finally:
        con.close()


# --- the derived columns in pandas (telemetry.derived), as a hand-written dashboard would ---------

_REPR_REQUEST_ID = re.compile(r"'Request Id': '([^']*)'")
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)\Z")


def _bag(raw: object) -> dict:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text_of(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def _ms(text: str) -> float:
    found = _TIMESPAN.match(text)
    if not found:
        return np.nan
    days, hours, minutes, seconds = found.groups()
    return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60_000 + float(seconds) * 1000


def _derive(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the derived columns whose stored columns were loaded: only rows whose bag names the
    server's result code are parsed (a substring test first, as the SQL does)."""
    wanted = [n for n, reads in READS.get(table, {}).items() if all(c in frame for c in reads)]
    if table == "dependencies" and REQ_DURATION in wanted:
        frame = frame.assign(**{REQ_DURATION: frame["duration"]})
    if REQ_ID not in wanted and table != "requests" or not wanted:
        return frame
    dims = frame["customDimensions"].astype("string").fillna("")
    if table != "requests":
        op = frame["operation_Id"].astype("string").fillna("")
        lost = op.isin(["", ZERO_OPERATION])
        may_name = (frame["message"] == "model_data_collection") if table == "traces" else (table == "exceptions")
        look = lost | (may_name & ~lost)
        ids = op.copy()
        for index, bag, own in zip(op.index[look], map(_bag, dims[look].tolist()), op[look].tolist(), strict=True):
            inner = _REPR_REQUEST_ID.search(_text_of(bag.get("custom_dimensions")))
            named = _text_of(bag.get("Request Id")) or (inner.group(1) if inner else "")
            if own in ("", ZERO_OPERATION):
                ids.at[index] = named
            elif named and named.replace("-", "") != own:  # it names another request (1.4.x)
                ids.at[index] = named
        return frame.assign(**{REQ_ID: ids})
    server = (frame["resultCode"].astype("string") == "0").fillna(False) & (
        dims.str.contains('"resultCode"', regex=False) | dims.str.contains('"http.status_code"', regex=False))
    bags = pd.Series([_bag(raw) for raw in dims[server].tolist()], index=dims.index[server], dtype=object)
    code = bags.map(lambda b: _text_of(b.get("resultCode")) or _text_of(b.get("http.status_code")))
    code = code[code != ""]
    found: dict[str, pd.Series] = {}
    if REQ_CODE in wanted:
        found[REQ_CODE] = frame["resultCode"].astype("string").copy()
        found[REQ_CODE].loc[code.index] = code
    if REQ_FAILED in wanted:
        failed = frame["success"].astype("string") == "False"
        said = bags[code.index].map(lambda b: _text_of(b.get("success")).lower() == "false").astype(bool)
        failed.loc[code.index] = said | code.map(lambda c: c.isdigit() and int(c) >= 400).astype(bool)
        found[REQ_FAILED] = failed.fillna(False).astype(bool)
    if REQ_DURATION in wanted:
        duration = frame["duration"].astype("float64").copy()
        own = bags[code.index].map(lambda b: _ms(_text_of(b.get("duration")))).astype("float64")
        duration.loc[own.dropna().index] = own.dropna()
        found[REQ_DURATION] = duration
    if REQ_ID in wanted:
        ids = frame["operation_Id"].astype("string").copy()
        own_id = bags[code.index].map(lambda b: _text_of(b.get("Request Id")) or _text_of(b.get("ai.operation.id")))
        own_id = own_id[own_id != ""]
        ids.loc[own_id.index] = own_id
        found[REQ_ID] = ids
    return frame.assign(**found)


def pandas_page(store: Path, queries: Sequence[Query], ctx: RenderContext) -> list[pd.DataFrame]:
    frames = load_frames(store, queries, ctx)
    return [_evaluate(query, frames, ctx) for query in queries]


# --- the panels in pandas ------------------------------------------------------------------------


def _in_window(frame: pd.DataFrame, window: Window) -> pd.Series:
    ts = frame["timestamp"]
    return (ts >= _naive(window.start)) & (ts < _naive(window.end))


def _rows(query: Query, frames: dict[str, pd.DataFrame], ctx: RenderContext) -> pd.DataFrame:
    frame = frames[query.table]
    predicates = (*global_predicates(query, ctx.filters), *query.where)
    masks = [_in_window(frame, ctx.read_window(query)), *(_mask(p, frame, frames, ctx) for p in predicates)]
    keep = reduce(lambda a, b: a & b, masks)
    return frame if keep.all() else frame[keep]  # no copy of the text columns when all rows stay


def _evaluate(query: Query, frames: dict[str, pd.DataFrame], ctx: RenderContext) -> pd.DataFrame:
    if isinstance(query, FeatureDrift):
        trace = frames[query.table]
        services = query.reference.service and (*ctx.filters.services, query.reference.service)
        keep = trace["message"].isin(["STDOUT", "model_data_collection"])
        if services or ctx.filters.services:
            keep &= trace["cloud_RoleName"].isin(services or ctx.filters.services)
        return pandas_features(trace[keep][list(MODEL_COLUMNS)], query, ctx)
    rows = _rows(query, frames, ctx)
    if isinstance(query, Listing):
        picked = _top(rows, query.order_by, query.offset + query.limit).iloc[query.offset:]
        return pd.DataFrame({c.name: picked[c.column].to_numpy() for c in query.columns})
    return _summary(query, rows, ctx)


def _top(rows: pd.DataFrame, order_by: Sequence[tuple[str, str]], count: int) -> pd.DataFrame:
    """The first `count` rows in this order: a partial selection when every key goes one way."""
    names = [name for name, _ in order_by]
    directions = {direction for _, direction in order_by}
    if directions == {"desc"}:
        return rows.nlargest(count, names)
    if directions == {"asc"}:
        return rows.nsmallest(count, names)
    # Mixed directions: only rows tied with the first `count` on the first key can make the cut.
    first, direction = order_by[0]
    pick = rows.nlargest if direction == "desc" else rows.nsmallest
    candidates = pick(count, first, keep="all")
    return candidates.sort_values(names, ascending=[d == "asc" for _, d in order_by]).head(count)


def _text(frame: pd.DataFrame, column: Field) -> pd.Series:
    if not isinstance(column, Property):
        return frame[column]
    # dynamic columns are JSON text: parse each row, as a hand-written dashboard would
    return frame[column.column].map(lambda raw: _property(raw, column.key)).astype("string")


def _property(raw: object, key: str) -> str | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    found = value.get(key) if isinstance(value, dict) else None
    return None if found is None else found if isinstance(found, str) else json.dumps(found)


def _mask(pred: Predicate, frame: pd.DataFrame, frames: dict[str, pd.DataFrame], ctx: RenderContext) -> pd.Series:
    match pred:
        case Failed(negate=negate) if REQ_FAILED in frame:  # requests: the server's own outcome
            return ~frame[REQ_FAILED] if negate else frame[REQ_FAILED]
        case Failed(negate=negate):
            return frame["success"] == ("True" if negate else "False")
        case Equals(column=column, value=value):
            return (_text(frame, column) == value).fillna(False)
        case OneOf(column=column, values=values, negate=negate):
            return ~frame[column].isin(values) if negate else frame[column].isin(values)
        case Contains(column=column, text=text):
            return _text(frame, column).str.lower().str.contains(text.lower(), regex=False).fillna(False)
        case Has(column=column, text=text):
            edge = r"(?<![A-Za-z0-9])" if text[:1].isalnum() else ""
            end = r"(?![A-Za-z0-9])" if text[-1:].isalnum() else ""
            pattern = re.compile(edge + re.escape(text) + end, re.IGNORECASE)
            return _text(frame, column).str.contains(pattern).fillna(False)
        case LengthAtLeast(column=column, length=length):
            return _text(frame, column).fillna("").str.len() >= length
        case AtLeast(column=column, value=value):
            return frame[column] >= value
        case NotEmpty(column=column):
            return frame[column].fillna("") != ""
        case AnyOf(predicates=preds):
            return reduce(lambda a, b: a | b, (_mask(p, frame, frames, ctx) for p in preds))
        case AllOf(predicates=preds):
            return reduce(lambda a, b: a & b, (_mask(p, frame, frames, ctx) for p in preds))
        case InOperationsOf(table=table, where=where):
            other = frames[table]
            keep = reduce(lambda a, b: a & b, [_in_window(other, ctx.window), *(_mask(p, other, frames, ctx) for p in where)])
            return frame[REQ_ID].isin(other.loc[keep, REQ_ID].unique())
    raise TypeError(f"unknown predicate {pred!r}")


def _dimension(dim: object, rows: pd.DataFrame, ctx: RenderContext) -> tuple[str, pd.Series]:
    match dim:
        case TimeBin(alias=alias):
            return alias, rows["timestamp"].dt.floor(ctx.grain)
        case Column():
            return dim.name, rows[dim.column]
        case SeriesSplit(alias=alias):
            return alias, rows[split_column(ctx.filters)]
        case Period(alias=alias):
            current = rows["timestamp"] >= _naive(ctx.window.start)
            return alias, pd.Series(np.where(current, "current", "previous"), index=rows.index)
        case LogBucket(column=column, per_decade=per_decade, alias=alias):
            values = np.log10(np.maximum(rows[column].to_numpy(dtype="float64"), LogBucket.SMALLEST))
            return alias, pd.Series(np.floor(values * per_decade).astype("int64"), index=rows.index)
    raise TypeError(f"unknown dimension {dim!r}")


def _summary(query: Summary, rows: pd.DataFrame, ctx: RenderContext) -> pd.DataFrame:
    keyed = pd.DataFrame({name: values for name, values in (_dimension(d, rows, ctx) for d in query.by)},
                         index=rows.index)
    keys = list(keyed.columns)
    ranked = _Ranked(rows, keyed, keys)  # sorted once for every percentile of the query
    parts = [_measure(m, rows, keyed, keys, ctx, ranked) for m in query.measures]
    if keys:
        table = pd.concat(parts, axis=1).reset_index()
    else:
        table = pd.DataFrame({p.name: [p.iloc[0] if len(p) else np.nan] for p in parts})
    if query.order_by:
        names, directions = zip(*query.order_by, strict=True)
        table = table.sort_values(list(names), ascending=[d == "asc" for d in directions])
    return table.head(query.limit) if query.limit is not None else table


def _measure(measure: Measure, rows: pd.DataFrame, keyed: pd.DataFrame, keys: list[str],
             ctx: RenderContext, ranked: _Ranked) -> pd.Series:
    def grouped(values: pd.Series) -> pd.core.groupby.SeriesGroupBy:
        frame = keyed.assign(value_=values) if keys else pd.DataFrame({"g_": 0, "value_": values})
        return frame.groupby(keys or ["g_"], dropna=False, sort=False)["value_"]

    match measure:
        case ItemCount(alias=alias, where=where):
            weights = rows["itemCount"] if where is None else rows["itemCount"].where(
                _mask(where, rows, {}, ctx), 0)
            found = grouped(weights).sum()
        case WeightedMean(alias=alias, column=column):
            found = grouped(rows[column] * rows["itemCount"]).sum() / grouped(rows["itemCount"]).sum()
        case Earliest(alias=alias, column=column):
            found = grouped(rows[column]).min()
        case Latest(alias=alias, column=column):
            found = grouped(rows[column]).max()
        case DistinctCount(alias=alias, column=column, weighted=weighted):
            found = grouped(rows[column]).nunique()
            if weighted:  # each distinct value weighs the group's mean itemCount
                found = np.floor(found * grouped(rows["itemCount"]).mean() + 0.5)
        case SampleValue(alias=alias, column=column):
            found = grouped(rows[column]).first()
        case WeightedPercentile(alias=alias, column=column, percent=percent):
            found = ranked.percentile(column, percent)
        case _:
            raise TypeError(f"unknown measure {measure!r}")
    return found.rename(alias)


class _Ranked:
    """Exact weighted percentiles: each group's rows sorted by value with their running weight;
    a percentile is the first value whose running weight reaches its share of the group's."""

    def __init__(self, rows: pd.DataFrame, keyed: pd.DataFrame, keys: list[str]) -> None:
        self.rows, self.keyed, self.keys = rows, keyed, keys or ["g_"]
        self._sorted: dict[str, pd.DataFrame] = {}

    def _by(self, column: str) -> pd.DataFrame:
        if column not in self._sorted:
            base = self.keyed if self.keyed.columns.size else pd.DataFrame({"g_": 0}, index=self.rows.index)
            frame = base.assign(v_=self.rows[column], w_=self.rows["itemCount"]).sort_values([*self.keys, "v_"])
            weights = frame.groupby(self.keys, dropna=False, sort=False)["w_"]
            self._sorted[column] = frame.assign(cw_=weights.cumsum(), tw_=weights.transform("sum"))
        return self._sorted[column]

    def percentile(self, column: str, percent: float) -> pd.Series:
        frame = self._by(column)
        reached = frame[frame["cw_"] >= frame["tw_"] * (percent / 100)]
        return reached.groupby(self.keys, dropna=False, sort=False)["v_"].first()
