"""The vocabulary panels use to say what they measure, independent of any query language.

A query names classic-schema columns; `telemetry.kql` and `telemetry.sql` turn the same query
into KQL for the classic or workspace tables and into DuckDB SQL. Two query shapes exist:

    Summary   aggregate measures grouped by dimensions (time bins, a column, the series split)
    Listing   raw rows, newest first, a page at a time (trace search, sample requests)

Counts are sums of `itemCount`, so sampled telemetry counts the events it stands for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Literal, TypeAlias

from telemetry.derived import DERIVED, REQ_CODE
from telemetry.filters import Filters, Window
from telemetry.schema import columns

__all__ = [
    "ALL_FILTERS",
    "PanelFactory",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "Column",
    "Contains",
    "Dimension",
    "DistinctCount",
    "Earliest",
    "Equals",
    "Failed",
    "Field",
    "Has",
    "InOperationsOf",
    "ItemCount",
    "Latest",
    "LengthAtLeast",
    "Listing",
    "LogBucket",
    "Measure",
    "NotEmpty",
    "OneOf",
    "Period",
    "Predicate",
    "Property",
    "Query",
    "SelfRendered",
    "RenderContext",
    "ResultColumn",
    "SampleValue",
    "SeriesSplit",
    "Summary",
    "TimeBin",
    "WeightedMean",
    "WeightedPercentile",
    "global_predicates",
    "result_columns",
    "split_column",
]

Table = Literal[
    "requests", "dependencies", "exceptions", "traces",
    # Azure ML online endpoints' own logs (workspace-only; see telemetry.endpoint_logs)
    "AmlOnlineEndpointTrafficLog", "AmlOnlineEndpointConsoleLog", "AmlOnlineEndpointEventLog",
]


# --- predicates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Failed:
    """The call failed: classic `success == "False"`, workspace `Success == false`; for requests,
    the inference server's own outcome where it gave one (`telemetry.derived.REQ_FAILED`)."""

    negate: bool = False  # True: the call succeeded


@dataclass(frozen=True)
class Property:
    """One property of a dynamic column, read as text: `Property("customDimensions", "Contents")`.

    KQL reads it as `tostring(customDimensions["Contents"])` (empty when absent). The store keeps
    dynamic columns as JSON text, which App Insights may have cut mid-JSON, so SQL reads NULL for
    text that does not parse instead of failing the whole query.
    """

    column: str
    key: str


# A column by name, or one property of a dynamic column.
Field: TypeAlias = str | Property


@dataclass(frozen=True)
class Equals:
    column: Field
    value: str


@dataclass(frozen=True)
class OneOf:
    column: str
    values: tuple[str, ...]
    negate: bool = False  # True: none of them (an absent value is none of them too)


@dataclass(frozen=True)
class Contains:
    """Case-insensitive substring, as KQL `contains`."""

    column: Field
    text: str


@dataclass(frozen=True)
class Has:
    """`text` occurs as whole terms, case-insensitively, as KQL `has`.

    Kusto splits text into terms, the maximal runs of ASCII letters and digits. So `text` must
    occur where it does not extend a term: when it starts with a letter or digit, the character
    before the match is not one (or the match opens the text), and likewise at its end.
    "North America" has "america" but not "amer"; "_Hello_World_" has "hello"; "HelloWorld" has
    neither "hello" nor "world". `text` must not be empty.
    """

    column: Field
    text: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("Has needs a non-empty text")


@dataclass(frozen=True)
class LengthAtLeast:
    """The value, as text, is at least `length` characters long (absent counts as empty)."""

    column: Field
    length: int


@dataclass(frozen=True)
class AtLeast:
    column: str
    value: float


@dataclass(frozen=True)
class NotEmpty:
    column: str


@dataclass(frozen=True)
class AnyOf:
    predicates: tuple[Predicate, ...]


@dataclass(frozen=True)
class AllOf:
    predicates: tuple[Predicate, ...]


@dataclass(frozen=True)
class InOperationsOf:
    """`operation_Id` is among those of `table`'s rows matching `where` in the same window."""

    table: Table
    where: tuple[Predicate, ...] = ()


Predicate: TypeAlias = (
    Failed | Equals | OneOf | Contains | Has | LengthAtLeast | AtLeast | NotEmpty | AnyOf | AllOf | InOperationsOf
)


# --- dimensions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBin:
    """The row's time floored to the filters' grain."""

    alias: str = "bucket"


@dataclass(frozen=True)
class Column:
    column: str
    alias: str | None = None

    @property
    def name(self) -> str:
        return self.alias or self.column


@dataclass(frozen=True)
class SeriesSplit:
    """The service or the operation, whichever the user split the charts by."""

    alias: str = "series"


@dataclass(frozen=True)
class Period:
    """"current" or "previous": only in a Summary with `compare_previous`."""

    alias: str = "period"


@dataclass(frozen=True)
class LogBucket:
    """A duration's log bucket: the integer k with 10**(k/per_decade) <= duration < 10**((k+1)/per_decade).

    For duration histograms: `per_decade` buckets between each power of ten, so 1, 10, 100 ms
    are edges. KQL (`floor(log10(x) * n, 1)`) and SQL (`floor(log10(x) * n)`) compute the same
    k, so both dialects cut the same bars; durations under 0.001 ms (zero) count in 0.001's bucket.
    `edges(k)` gives a bucket's (low, high) in ms, for numbers or arrays of k.
    """

    column: str = "duration"
    per_decade: int = 10
    alias: str = "duration_bucket"

    SMALLEST: ClassVar[float] = 0.001

    def __post_init__(self) -> None:
        if self.per_decade < 1:
            raise ValueError("LogBucket needs at least one bucket per decade")

    def edges(self, k: Any) -> tuple[Any, Any]:
        return 10.0 ** (k / self.per_decade), 10.0 ** ((k + 1) / self.per_decade)


Dimension: TypeAlias = TimeBin | Column | SeriesSplit | Period | LogBucket


# --- measures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemCount:
    """Sum of itemCount over the rows (matching `where`, when given)."""

    alias: str
    where: Predicate | None = None


@dataclass(frozen=True)
class WeightedPercentile:
    """The `percent`-th percentile of `column`, each row weighted by its itemCount."""

    alias: str
    column: str
    percent: float


@dataclass(frozen=True)
class WeightedMean:
    alias: str
    column: str


@dataclass(frozen=True)
class Earliest:
    alias: str
    column: str = "timestamp"


@dataclass(frozen=True)
class Latest:
    alias: str
    column: str = "timestamp"


@dataclass(frozen=True)
class DistinctCount:
    """Distinct values of `column`; `weighted`: each weighs the group's mean itemCount, so a count
    of operations is on the same footing as sums of itemCount (App Insights samples a whole
    operation at one rate: its rows share one itemCount)."""

    alias: str
    column: str
    weighted: bool = False


@dataclass(frozen=True)
class SampleValue:
    """Any one value of `column` in the group (KQL take_any)."""

    alias: str
    column: str


Measure: TypeAlias = (
    ItemCount | WeightedPercentile | WeightedMean | Earliest | Latest | DistinctCount | SampleValue
)


# --- queries ----------------------------------------------------------------------------------

GlobalFilter = Literal["service", "operation", "result_code"]
ALL_FILTERS: Final[frozenset[GlobalFilter]] = frozenset({"service", "operation", "result_code"})


@dataclass(frozen=True)
class Summary:
    name: str
    table: Table
    measures: tuple[Measure, ...]
    by: tuple[Dimension, ...] = ()
    where: tuple[Predicate, ...] = ()
    # Which sidebar filters narrow this query (result codes mean little outside requests).
    applies: frozenset[GlobalFilter] = frozenset({"service", "operation"})
    compare_previous: bool = False  # also read the window before, tagged by a Period dimension
    order_by: tuple[tuple[str, Literal["asc", "desc"]], ...] = ()
    limit: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Listing:
    name: str
    table: Table
    columns: tuple[Column, ...]
    where: tuple[Predicate, ...] = ()
    applies: frozenset[GlobalFilter] = frozenset({"service", "operation"})
    order_by: tuple[tuple[str, Literal["asc", "desc"]], ...] = (("timestamp", "desc"),)
    limit: int = 100
    offset: int = 0
    description: str = ""


class SelfRendered:
    """A query the two shapes above cannot say (features read out of logged JSON payloads): it
    renders its own KQL and SQL and names its own result columns. It must stay a frozen,
    hashable dataclass like the others (answers are cached by query). Values it puts in KQL go
    through `telemetry.kql_literals`, in SQL only as bound parameters."""

    name: str
    table: Table
    description: str
    applies: frozenset[GlobalFilter]  # sidebar filters applied the usual way (a self-rendered query may apply its own)
    where: tuple[Predicate, ...]

    def kql(self, ctx: RenderContext, schema: str) -> str:
        raise NotImplementedError

    def sql(self, ctx: RenderContext) -> tuple[str, list[object]]:
        raise NotImplementedError

    def result_columns(self) -> list[ResultColumn]:
        raise NotImplementedError

    def read_window(self, ctx: RenderContext) -> Window:
        return ctx.window


Query: TypeAlias = Summary | Listing | SelfRendered
# A panel's query from its own parameters (a chosen dependency, a search text, a page).
PanelFactory: TypeAlias = Callable[..., Query]


ResultKind = Literal["datetime", "string", "count", "real", "int", "dynamic", "bool"]


@dataclass(frozen=True)
class ResultColumn:
    name: str
    kind: ResultKind


@dataclass(frozen=True)
class RenderContext:
    """What a query is rendered for: the resolved window, its grain and the sidebar filters."""

    window: Window
    grain: timedelta
    filters: Filters

    @classmethod
    def of(cls, filters: Filters, now: datetime | None = None) -> RenderContext:
        window = filters.window(now)
        return cls(window, filters.grain_for(window), filters)

    def read_window(self, query: Query) -> Window:
        """The window a query reads: the previous period too when it compares against it."""
        if isinstance(query, SelfRendered):
            return query.read_window(self)
        if isinstance(query, Summary) and query.compare_previous:
            return Window(self.window.previous().start, self.window.end)
        return self.window


def global_predicates(query: Query, filters: Filters) -> tuple[Predicate, ...]:
    """The sidebar filters as predicates, for the ones this query lets narrow it."""
    found: list[Predicate] = []
    if "service" in query.applies and filters.services:
        found.append(OneOf("cloud_RoleName", filters.services))
    if "operation" in query.applies and filters.operation:
        named = Equals("operation_Name", filters.operation)
        # A dependency, exception or trace may lack operation_Name (exports, the inference
        # server): its request's operation_Id places it in the operation too.
        linked = query.table in ("dependencies", "exceptions", "traces")
        found.append(AnyOf((named, InOperationsOf("requests", (named,)))) if linked else named)
    if "result_code" in query.applies and filters.result_code:
        found.append(Equals(REQ_CODE, filters.result_code))  # the code the server answered with
    return tuple(found)


def split_column(filters: Filters) -> str:
    return "cloud_RoleName" if filters.split == "service" else "operation_Name"


_KIND_OF_TYPE: dict[str, ResultKind] = {
    "datetime": "datetime",
    "string": "string",
    "dynamic": "dynamic",
    "real": "real",
    "int": "int",
    "long": "int",
    "bool": "bool",
}


def result_columns(query: Query) -> list[ResultColumn]:
    """The columns a query answers with, in order, the same in every dialect."""
    if isinstance(query, SelfRendered):
        return query.result_columns()
    types = {**columns(query.table), **DERIVED.get(query.table, {})}
    if isinstance(query, Listing):
        return [ResultColumn(col.name, _KIND_OF_TYPE[types[col.column]]) for col in query.columns]
    found: list[ResultColumn] = []
    for dim in query.by:
        if isinstance(dim, TimeBin):
            found.append(ResultColumn(dim.alias, "datetime"))
        elif isinstance(dim, Column):
            found.append(ResultColumn(dim.name, _KIND_OF_TYPE[types[dim.column]]))
        elif isinstance(dim, LogBucket):
            found.append(ResultColumn(dim.alias, "int"))
        else:
            found.append(ResultColumn(dim.alias, "string"))
    for measure in query.measures:
        if isinstance(measure, ItemCount | DistinctCount):
            found.append(ResultColumn(measure.alias, "count"))
        elif isinstance(measure, WeightedPercentile | WeightedMean):
            found.append(ResultColumn(measure.alias, "real"))
        else:
            found.append(ResultColumn(measure.alias, _KIND_OF_TYPE[types[measure.column]]))
    return found
