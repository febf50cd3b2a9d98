"""What a page reads: per table, the columns its queries touch and the time window they cover.

The floor and the pandas baseline read exactly this, so neither reads more than the page does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from telemetry.derived import READS, REQ_FAILED, REQ_ID
from telemetry.filters import Window
from telemetry.model import (
    AllOf,
    AnyOf,
    Column,
    Dimension,
    InOperationsOf,
    ItemCount,
    Listing,
    LogBucket,
    Measure,
    Predicate,
    Property,
    Query,
    RenderContext,
    SelfRendered,
    SeriesSplit,
    WeightedMean,
    WeightedPercentile,
    global_predicates,
    split_column,
)

__all__ = ["TableRead", "page_reads"]


@dataclass
class TableRead:
    """One table's part of a page: the columns read and the span of the windows read."""

    table: str
    window: Window
    columns: set[str] = field(default_factory=lambda: {"timestamp"})

    def widen(self, window: Window) -> None:
        self.window = Window(min(self.window.start, window.start), max(self.window.end, window.end))


def page_reads(queries: Sequence[Query], ctx: RenderContext, *, listed: bool = True) -> dict[str, TableRead]:
    """`listed=False`: a listing's shown columns left out (the floor's reads). A top-N listing must
    read what it filters and orders by in every row of its range, but what it shows only in its
    N rows: hashing its text columns over the whole range made the floor 2-3x what a page must read."""
    reads: dict[str, TableRead] = {}

    def read(table: str, window: Window, columns: Iterable[str]) -> None:
        entry = reads.setdefault(table, TableRead(table, window))
        entry.widen(window)
        for column in columns:  # a derived column reads the stored ones it is computed from
            entry.columns.update(READS.get(table, {}).get(column, (column,)))

    for query in queries:
        if isinstance(query, SelfRendered):  # the Model page: payload traces, parsed whole
            from bench.model_monitoring import MODEL_COLUMNS

            read(query.table, ctx.read_window(query), MODEL_COLUMNS)
            continue
        predicates = (*global_predicates(query, ctx.filters), *query.where)
        read(query.table, ctx.read_window(query), _query_columns(query, ctx, predicates, listed))
        for inner in _sub_selects(predicates):  # an IN (SELECT … FROM other table)
            read(inner.table, ctx.window, {REQ_ID, *_predicate_columns(inner.where, inner.table)})
    return reads


def _query_columns(query: Query, ctx: RenderContext, predicates: Sequence[Predicate], listed: bool) -> set[str]:
    found = set(_predicate_columns(predicates, query.table))
    if isinstance(query, Listing):
        if listed:
            found.update(c.column for c in query.columns)
        found.update(name for name, _ in query.order_by)  # listings order by their own columns
        return found
    found.update(_dimension_column(d, ctx) for d in query.by)
    for measure in query.measures:
        found.update(_measure_columns(measure, query.table))
    return found


def _dimension_column(dim: Dimension, ctx: RenderContext) -> str:
    if isinstance(dim, Column):
        return dim.column
    if isinstance(dim, SeriesSplit):
        return split_column(ctx.filters)
    if isinstance(dim, LogBucket):
        return dim.column
    return "timestamp"  # TimeBin, Period


def _measure_columns(measure: Measure, table: str) -> set[str]:
    if isinstance(measure, ItemCount):
        return {"itemCount", *(_predicate_columns([measure.where], table) if measure.where else ())}
    if isinstance(measure, WeightedPercentile | WeightedMean):
        return {measure.column, "itemCount"}
    return {measure.column}


def _predicate_columns(predicates: Iterable[Predicate], table: str) -> Iterable[str]:
    for pred in predicates:
        if isinstance(pred, AnyOf | AllOf):
            yield from _predicate_columns(pred.predicates, table)
        elif isinstance(pred, InOperationsOf):
            yield REQ_ID
        elif hasattr(pred, "column"):
            column = pred.column
            yield column.column if isinstance(column, Property) else column
        else:  # Failed: on requests, the server's own outcome
            yield REQ_FAILED if table == "requests" else "success"


def _sub_selects(predicates: Iterable[Predicate]) -> Iterable[InOperationsOf]:
    for pred in predicates:
        if isinstance(pred, AnyOf | AllOf):
            yield from _sub_selects(pred.predicates)
        elif isinstance(pred, InOperationsOf):
            yield pred
