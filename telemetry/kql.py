"""Render a query as KQL, for the classic App Insights tables or the workspace-based ones.

The two schemas differ in table and column names and in `success` (the string "True"/"False"
classic, a bool in the workspace), so those are the only places the dialects part.
"""

from __future__ import annotations

from dataclasses import replace

from telemetry.derived import DERIVED, REQ_FAILED, REQ_ID, derived_used, kql_columns
from telemetry.filters import Window
from telemetry.kql_literals import datetime_literal, string_literal, timespan_literal
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
    SelfRendered,
    SeriesSplit,
    Summary,
    TimeBin,
    WeightedMean,
    WeightedPercentile,
    global_predicates,
    split_column,
)
from telemetry.endpoint_logs import workspace_only
from telemetry.schema import WORKSPACE_TABLES, Schema, columns, is_endpoint_table, workspace_column

__all__ = ["KqlDialect", "render_kql"]


class _Dialect:
    def __init__(self, table: str, schema: Schema, *, bounded: bool = True) -> None:
        self.table = table
        self.schema = schema
        self.bounded = bounded  # False in an alert rule: Azure Monitor sets every table's range

    def source(self) -> str:
        if is_endpoint_table(self.table):
            return workspace_only(self.table, self.schema)
        return self.table if self.schema == "classic" else WORKSPACE_TABLES[self.table]

    def col(self, column: str) -> str:
        if column in DERIVED.get(self.table, {}):
            return column  # computed by `derive`
        return column if self.schema == "classic" else workspace_column(self.table, column)

    def derive(self, query: object) -> list[str]:
        """An extend of the derived columns (telemetry.derived) `query` reads, if any."""
        names = derived_used(query, self.table)
        return [f"| extend {body}" for body in kql_columns(self.table, names, self.col, self.failed(False, standard=True))] \
            if names else []

    def text(self, column: Field) -> str:
        """A column or property as a string, whatever its type (dynamic bags are searched as JSON text)."""
        if isinstance(column, Property):
            return f"tostring({self.col(column.column)}[{string_literal(column.key)}])"
        name = self.col(column)
        return f"tostring({name})" if columns(self.table).get(column) == "dynamic" else name

    def failed(self, negate: bool, standard: bool = False) -> str:
        if self.table == "requests" and not standard:  # the server's own outcome where it gave one
            return f"not({REQ_FAILED})" if negate else REQ_FAILED
        if self.schema == "classic":
            return f'success == "{"True" if negate else "False"}"'
        return f"Success == {'true' if negate else 'false'}"

    def window(self, window: Window) -> str:
        ts = self.col("timestamp")
        return f"{ts} >= {datetime_literal(window.start)} and {ts} < {datetime_literal(window.end)}"

    def predicate(self, pred: Predicate, ctx: RenderContext) -> str:
        match pred:
            case Failed(negate=negate):
                return self.failed(negate)
            case Equals(column=column, value=value):
                return f"{self.text(column)} == {string_literal(value)}"
            case OneOf(column=column, values=values, negate=True):
                return f"{self.text(column)} !in ({', '.join(map(string_literal, values))})"
            case OneOf(column=column, values=values):
                return f"{self.text(column)} in ({', '.join(map(string_literal, values))})"
            case Contains(column=column, text=text):
                return f"{self.text(column)} contains {string_literal(text)}"
            case Has(column=column, text=text):
                return f"{self.text(column)} has {string_literal(text)}"
            case LengthAtLeast(column=column, length=length):
                return f"strlen({self.text(column)}) >= {int(length)}"
            case AtLeast(column=column, value=value):
                return f"{self.col(column)} >= {_number(value)}"
            case NotEmpty(column=column):
                return f"isnotempty({self.col(column)})"
            case AnyOf(predicates=preds):
                return "(" + " or ".join(self.predicate(p, ctx) for p in preds) + ")"
            case AllOf(predicates=preds):
                return "(" + " and ".join(self.predicate(p, ctx) for p in preds) + ")"
            case InOperationsOf(table=table, where=where):
                inner = _Dialect(table, self.schema, bounded=self.bounded)
                lines = [inner.source(), *([f"| where {inner.window(ctx.window)}"] if self.bounded else []),
                         *inner.derive((where, REQ_ID))]
                lines += [f"| where {inner.predicate(p, ctx)}" for p in where]
                lines.append(f"| distinct {REQ_ID}")
                return f"{REQ_ID} in ({' '.join(lines)})"
        raise TypeError(f"unknown predicate {pred!r}")

    def measure(self, measure: Measure, ctx: RenderContext) -> str:
        weight = self.col("itemCount")
        match measure:
            case ItemCount(where=None):
                return f"sum({weight})"
            case ItemCount(where=where) if where is not None:
                return f"sumif({weight}, {self.predicate(where, ctx)})"
            case WeightedPercentile(column=column, percent=percent):
                return f"percentilew({self.col(column)}, {weight}, {_number(percent)})"
            case WeightedMean(column=column):
                # rows without a value do not count: sum() skips them, so must the weights
                return f"sum({self.col(column)} * {weight}) / todouble(sumif({weight}, isnotnull({self.col(column)})))"
            case Earliest(column=column):
                return f"min({self.col(column)})"
            case Latest(column=column):
                return f"max({self.col(column)})"
            case DistinctCount(column=column, weighted=True):
                return f"tolong(round(dcount({self.col(column)}, 4) * avg({weight})))"
            case DistinctCount(column=column):
                return f"dcount({self.col(column)}, 4)"
            case SampleValue(column=column):
                return f"take_any({self.col(column)})"
        raise TypeError(f"unknown measure {measure!r}")


# For self-rendered queries: the same table, column and predicate spelling in both schemas.
KqlDialect = _Dialect


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _assign(alias: str, expression: str) -> str:
    return expression if alias == expression else f"{alias} = {expression}"


def _order(order_by: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {direction}" for name, direction in order_by)


def render_kql(query: Query, ctx: RenderContext, schema: Schema, *, bounded: bool = True) -> str:
    """KQL text for `query` under `ctx`; user values appear only as escaped string literals.

    `bounded=False` leaves out the time window, for an alert rule: Azure Monitor sets its range.
    """
    if isinstance(query, SelfRendered):
        return query.kql(ctx, schema)
    d = _Dialect(query.table, schema, bounded=bounded)
    lines = [d.source(), *([f"| where {d.window(ctx.read_window(query))}"] if bounded else [])]
    lines += d.derive((query, global_predicates(query, ctx.filters)))
    within = replace(ctx, window=ctx.read_window(query))  # InOperationsOf looks in the window the query reads
    lines += [f"| where {d.predicate(p, within)}" for p in global_predicates(query, ctx.filters) + query.where]
    if isinstance(query, Listing):
        lines += _listing_tail(query, d)
    else:
        lines += _summary_tail(query, d, ctx)
    return "\n".join(lines)


def _summary_tail(query: Summary, d: _Dialect, ctx: RenderContext) -> list[str]:
    lines: list[str] = []
    dims: list[str] = []
    for dim in query.by:
        match dim:
            case TimeBin(alias=alias):
                dims.append(f"{alias} = bin({d.col('timestamp')}, {timespan_literal(ctx.grain)})")
            case Column():
                dims.append(_assign(dim.name, d.col(dim.column)))
            case SeriesSplit(alias=alias):
                dims.append(f"{alias} = {d.col(split_column(ctx.filters))}")
            case LogBucket(column=column, per_decade=per_decade, alias=alias):
                value = f"max_of({d.col(column)}, {_number(LogBucket.SMALLEST)})"
                dims.append(f"{alias} = tolong(floor(log10({value}) * {per_decade}, 1))")
            case Period(alias=alias):
                start = datetime_literal(ctx.window.start)
                lines.append(f'| extend {alias} = iff({d.col("timestamp")} >= {start}, "current", "previous")')
                dims.append(alias)
    measures = ", ".join(f"{m.alias} = {d.measure(m, ctx)}" for m in query.measures)
    lines.append(f"| summarize {measures}" + (f" by {', '.join(dims)}" if dims else ""))
    if query.order_by:
        lines.append(f"| order by {_order(query.order_by)}")
    if query.limit is not None:
        lines.append(f"| take {query.limit}")
    return lines


def _listing_tail(query: Listing, d: _Dialect) -> list[str]:
    # Order on the physical columns, then project to the logical names every dialect shares.
    order = _order(tuple((d.col(name), direction) for name, direction in query.order_by))
    lines = [f"| order by {order}"]
    if query.offset:
        lines += ["| extend row_number_ = row_number()", f"| where row_number_ > {query.offset}"]
    lines.append(f"| take {query.limit}")
    lines.append("| project " + ", ".join(_assign(col.name, d.col(col.column)) for col in query.columns))
    return lines
