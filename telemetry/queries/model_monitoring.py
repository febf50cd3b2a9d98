"""Model monitoring's one query: the features of logged inputs and predictions, aggregated where
the data is, for a reference and a current window.

A scoring call's payload is what run() printed (`customDimensions.Contents`, JSON with "input"
and "output") or, for a service that logs model data collection, its "input" and "prediction"
traces (`customDimensions.Content`); a service that has data collection is read from it alone,
so no call counts twice. Features come out of the payload by one rule in both dialects:

    role value   input / output (prediction)
    records      value.data when it is an array, else the value when it is an array, else [value]
    feature      a record's keys (`input.amount`), its positions (`input[2]`), or the role itself
                 for a scalar record (`output`); the 100 with the most values in a service are kept
                 (a payload under 8,192 characters holds at most ~4,000 values, so no call is capped)

Payloads cut at the 8,192-character property limit, and payloads that are not a JSON object or
array, are left out and counted. The answer is one long table whose size depends on the number
of features and bins, never on the number of calls (`part` says what a row holds):

    calls    per status (ok / cut / unparsed), and per time bucket of the current window (every
             bucket, zeros too): stored rows and itemCount
    records  per role: records read (the denominator of a feature's missing rate)
    kind     per feature and JSON kind (number, string, bool, null, nested)
    range    per numeric feature: combined and reference min/max, Sturges' k from the smaller
             side's count, the fine bin count, weighted sums of x and x² per side, and the
             current weight outside the reference's range
    bin      per numeric feature: `counts`, a JSON array of four arrays (stored rows of the reference,
             of the current side, then their itemCount sums), one entry per fine bin up to 256,
             empty bins as 0: a fixed size, however many calls; over time, the same per bucket
             for the outputs and the chosen `features`, 4 fine bins merged into one (64)
    cat      per categorical feature, top 50 categories by weight (+ one "other" row, bin = 1);
             over time, per bucket for the outputs and the chosen `features`
    catset   per categorical feature: distinct categories, those in the reference, and the
             current weight of categories the reference never had
    dropped  per service: features past the 100 kept

The numeric bins are equal-width over the combined min/max of both sides; their number is
Sturges' k (ceil(log2(n) + 1), n the smaller side's count of values) times m, the largest
multiple of 4 with k * m <= 256, so the Sturges bins Azure ML uses are exact merges of m fine
bins, and the over-time bins exact merges of 4. Every count is a sum of itemCount, so sampled telemetry weighs what it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from telemetry.drift import Thresholds
from telemetry.filters import GRAINS, Window, clean_text
from telemetry.kql import KqlDialect
from telemetry.kql_literals import datetime_literal, string_literal, timespan_literal
from telemetry.model import GlobalFilter, OneOf, Predicate, Property, RenderContext, ResultColumn, SelfRendered
from telemetry.payloads import PROPERTY_LIMIT
from telemetry.queries.traces import CONTENT, CONTENTS, PAYLOAD
from telemetry.sql import SqlBuilder

__all__ = [
    "FINE_BINS",
    "MAX_CATEGORIES",
    "MAX_FEATURES",
    "FeatureDrift",
    "MonitoringView",
    "Reference",
    "THRESHOLD_PARAMS",
    "TIME_BINS",
    "reference_params",
    "time_grain",
    "view_from_params",
]

MAX_FEATURES: Final = 100  # features kept per service, most values first
MAX_CATEGORIES: Final = 50  # categories kept per feature, most weight first; the rest is "other"
CATEGORY_CHARS: Final = 100
FINE_BINS: Final = 256
TIME_FINE_BINS: Final = FINE_BINS // 4  # over time, 4 fine bins make one
TIME_BINS: Final = 24
PREDICTION_INPUT: Final = Property("customDimensions", "Prediction/Input")

RefKind = Literal["previous", "window", "service"]


@dataclass(frozen=True)
class Reference:
    """What the current window is compared with.

    previous  the window of twice the current one's length just before it (Azure ML's default)
    window    a chosen absolute window [start, end), which must end by the current one's start
    service   another deployment (cloud_RoleName) over the same window as the current one
    """

    kind: RefKind = "previous"
    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None

    def window(self, current: Window) -> Window:
        if self.kind == "window" and self.start is not None and self.end is not None:
            return Window(self.start, self.end)
        if self.kind == "service":
            return current
        return Window(current.start - 2 * current.length, current.start)

    def label(self, current: Window) -> str:
        if self.kind == "service":
            return f"deployment {self.service} over the same window"
        w = self.window(current)
        fmt = "%Y-%m-%d %H:%M"
        what = "the window before" if self.kind == "previous" else "the chosen window"
        return f"{what}, {w.start:{fmt}} – {w.end:{fmt}} UTC"


_COLUMNS: Final = (
    ("service", "string"), ("part", "string"), ("feature", "string"), ("bucket", "datetime"), ("bin", "int"),
    ("category", "string"), ("n_ref", "count"), ("n_cur", "count"), ("w_ref", "count"), ("w_cur", "count"),
    ("lo", "real"), ("hi", "real"), ("ref_lo", "real"), ("ref_hi", "real"), ("k", "int"), ("fine", "int"),
    ("sx_ref", "real"), ("sxx_ref", "real"), ("sx_cur", "real"), ("sxx_cur", "real"), ("w_out", "count"),
    ("counts", "dynamic"),
)


def time_grain(window: Window, bins: int = TIME_BINS) -> timedelta:
    """The finest whole grain (1m … 1d) that cuts the window into at most `bins` buckets."""
    return next((g for g in GRAINS.values() if window.length / g <= bins), GRAINS["1d"])


@dataclass(frozen=True)
class FeatureDrift(SelfRendered):
    """The features of the services' logged payloads, reference against current (see the module)."""

    reference: Reference = Reference()
    features: tuple[str, ...] = ()  # over time: these and every output, per bucket of the current side
    name: str = "model.features"
    table: Literal["traces"] = "traces"
    applies: frozenset[GlobalFilter] = frozenset()  # the services are read from the filters here
    where: tuple[Predicate, ...] = ()
    # The rows are a bag of parts; their order carries nothing (both dialects sort for a stable
    # answer, but nothing reading it may rely on the order).
    order_by: tuple[tuple[str, Literal["asc", "desc"]], ...] = ()
    description: str = field(default=(
        "Features of the logged inputs and predictions per service: JSON kinds, numeric ranges and "
        "moments, equal-width histograms over the combined range, top categories; reference and current "
        "side by side, sums of itemCount; payloads cut at the property limit counted, not read."))

    def __post_init__(self) -> None:
        if self.reference.kind == "service" and not self.reference.service:
            raise ValueError("a deployment reference needs the other service")

    # --- windows ----------------------------------------------------------------------------

    def read_window(self, ctx: RenderContext) -> Window:
        ref = self.reference.window(ctx.window)
        return Window(min(ref.start, ctx.window.start), max(ref.end, ctx.window.end))

    def grain(self, ctx: RenderContext) -> timedelta:
        return time_grain(ctx.window)

    def grid(self, ctx: RenderContext) -> tuple[datetime, datetime]:
        """The first and last time bucket of the current window (bins counted from midnight, as
        both KQL's bin() and DuckDB's time_bucket() count them for grains that divide a day)."""
        grain = self.grain(ctx)
        day = ctx.window.start.replace(hour=0, minute=0, second=0, microsecond=0)
        first = day + ((ctx.window.start - day) // grain) * grain
        last = first + ((ctx.window.end - first - timedelta(microseconds=1)) // grain) * grain
        return first, last

    def result_columns(self) -> list[ResultColumn]:
        return [ResultColumn(name, kind) for name, kind in _COLUMNS]  # type: ignore[arg-type]

    def _services(self, ctx: RenderContext) -> tuple[str, ...]:
        if self.reference.kind == "service":
            (current,) = ctx.filters.services[:1] or ("",)
            return (current, self.reference.service or "")
        return ctx.filters.services

    # --- KQL --------------------------------------------------------------------------------

    def kql(self, ctx: RenderContext, schema: str) -> str:
        d = KqlDialect("traces", schema)  # type: ignore[arg-type]
        ts, svc, w = d.col("timestamp"), d.col("cloud_RoleName"), d.col("itemCount")
        cur, ref = ctx.window, self.reference.window(ctx.window)
        services = self._services(ctx)

        def within(window: Window) -> str:
            return f"{ts} >= {datetime_literal(window.start)} and {ts} < {datetime_literal(window.end)}"

        if self.reference.kind == "service":
            period = f'iff({svc} == {string_literal(services[0])}, "current", "reference")'
            service = string_literal(services[0])
        else:
            period = f'case({within(cur)}, "current", {within(ref)}, "reference", "")'
            service = svc
        bucket = f'iff(period_ == "current", bin({ts}, {timespan_literal(self.grain(ctx))}), datetime(null))'
        where = [f"| where {d.window(self.read_window(ctx))}"]
        if services:
            where.append(f"| where {d.predicate(OneOf('cloud_RoleName', services), ctx)}")
        where.append(f"| where {d.predicate(PAYLOAD, ctx)}")
        dc = f'{d.col("message")} == "model_data_collection"'
        source = d.text(PREDICTION_INPUT)
        wanted = ", ".join(string_literal(f) for f in self.features) or '""'
        lines = "\n    ".join(where)
        # Over time, every bucket of the window comes back, zeros too: a fixed number of rows.
        first, last = self.grid(ctx)
        axis = (f"on bucket from {datetime_literal(first)} to {datetime_literal(last + self.grain(ctx))} "
                f"step {timespan_literal(self.grain(ctx))}")
        expand = "| mv-expand bucket to typeof(datetime), n_cur to typeof(long), w_cur to typeof(long)"
        series = f"make-series n_cur = sum(n_cur) default = 0, w_cur = sum(w_cur) default = 0 {axis}"
        sides = ('n_ref = sum(n_ref), n_cur = sum(n_cur), w_ref = sum(w_ref), w_cur = sum(w_cur)')
        return f"""let base_ = materialize({d.source()}
    {lines}
    | extend period_ = {period}
    | where period_ != ""
    | extend svc_ = {service}, w_ = {w}
    | extend text_ = iff({dc}, {d.text(CONTENT)}, {d.text(CONTENTS)}),
        source_ = iff({dc}, iff(isempty({source}), "input", {source}), "print")
    | project {ts}, svc_, w_, period_, text_, source_);
let calls_ = materialize(base_
    | lookup kind=leftouter (base_ | summarize dc_ = max(iff(source_ != "print", 1, 0)) by svc_) on svc_
    | where (source_ == "print" and dc_ == 0) or (source_ != "print" and dc_ == 1)
    | extend bucket_ = {bucket}
    | extend doc_ = parse_json(text_)
    | extend status_ = case(strlen(text_) >= {PROPERTY_LIMIT}, "cut",
        gettype(doc_) !in ("dictionary", "array"), "unparsed", "ok"));
let docs_ = union
    (calls_ | where status_ == "ok" and source_ == "print" | project svc_, w_, period_, bucket_, role_ = "input", v_ = doc_["input"]),
    (calls_ | where status_ == "ok" and source_ == "print" | project svc_, w_, period_, bucket_, role_ = "output", v_ = doc_["output"]),
    (calls_ | where status_ == "ok" and source_ != "print"
        | project svc_, w_, period_, bucket_, role_ = iff(source_ == "prediction", "output", "input"), v_ = doc_)
    | where isnotnull(v_) and gettype(v_) != "null";
let recs_ = materialize(docs_
    | extend rows_ = case(gettype(v_["data"]) == "array", v_["data"], gettype(v_) == "array", v_, pack_array(v_))
    | where array_length(rows_) > 0
    | mv-expand rec_ = rows_
    | project svc_, w_, period_, bucket_, role_, rec_);
let typed_ = materialize(recs_
    | extend obj_ = gettype(rec_) == "dictionary", arr_ = gettype(rec_) == "array"
    | extend items_ = case(obj_, rec_, arr_, rec_, pack_array(rec_))
    | where not(obj_ and array_length(bag_keys(rec_)) == 0) and not(arr_ and array_length(rec_) == 0)
    | mv-expand with_itemindex=i_ item_ = items_
    | extend key_ = iff(obj_, tostring(bag_keys(item_)[0]), "")
    | extend feature_ = case(obj_, strcat(role_, ".", key_), arr_, strcat(role_, "[", i_, "]"), role_),
        j_ = iff(obj_, item_[key_], item_)
    | extend t_ = gettype(j_)
    | extend kind_ = case(isnull(j_) or t_ == "null", "null", t_ in ("int", "long", "real", "decimal"), "number",
        t_ == "string", "string", t_ == "bool", "bool", "nested")
    | extend x_ = iff(kind_ == "number", todouble(j_), real(null)),
        cat_ = case(kind_ == "string", substring(tostring(j_), 0, {CATEGORY_CHARS}), kind_ == "bool", tostring(j_), "")
    | extend sel_ = role_ == "output" or feature_ in ({wanted})
    | project svc_, w_, period_, bucket_, sel_, feature_, kind_, x_, cat_);
let kept_ = typed_ | summarize n_ = count() by svc_, feature_
    | order by svc_ asc, n_ desc, feature_ asc
    | extend r_ = row_number(1, prev(svc_) != svc_);
let numbers_ = typed_ | where kind_ == "number" and isfinite(x_);
let range_ = materialize(numbers_
    | summarize lo = min(x_), hi = max(x_), ref_lo = minif(x_, period_ == "reference"),
        ref_hi = maxif(x_, period_ == "reference"), n_ref = countif(period_ == "reference"),
        n_cur = countif(period_ == "current"), w_ref = sumif(w_, period_ == "reference"),
        w_cur = sumif(w_, period_ == "current"), sx_ref = sumif(w_ * x_, period_ == "reference"),
        sxx_ref = sumif(w_ * x_ * x_, period_ == "reference"), sx_cur = sumif(w_ * x_, period_ == "current"),
        sxx_cur = sumif(w_ * x_ * x_, period_ == "current") by svc_, feature_
    | extend k = tolong(ceiling(log2(todouble(max_of(min_of(n_ref, n_cur), 1))) + 1))
    | extend fine = k * max_of(4, {FINE_BINS} / k / 4 * 4));
let cattot_ = materialize(typed_ | where kind_ in ("string", "bool")
    | summarize wr_ = sumif(w_, period_ == "reference"), wc_ = sumif(w_, period_ == "current") by svc_, feature_, cat_
    | extend tot_ = wr_ + wc_
    | order by svc_ asc, feature_ asc, tot_ desc, cat_ asc
    | extend r_ = row_number(1, prev(svc_) != svc_ or prev(feature_) != feature_));
let callsum_ = calls_ | summarize n_ref = countif(period_ == "reference"), n_cur = countif(period_ == "current"),
    w_ref = sumif(w_, period_ == "reference"), w_cur = sumif(w_, period_ == "current")
    by svc_, bucket = bucket_, category = status_;
let catsum_ = typed_ | where kind_ in ("string", "bool")
    | join kind=inner (cattot_ | project svc_, feature_, cat_, r_) on svc_, feature_, cat_
    | extend other_ = r_ > {MAX_CATEGORIES}
    | summarize n_ref = countif(period_ == "reference"), n_cur = countif(period_ == "current"),
        w_ref = sumif(w_, period_ == "reference"), w_cur = sumif(w_, period_ == "current")
        by svc_, feature_, bucket = bucket_, sel_, category = iff(other_, "", cat_), bin = iff(other_, 1, 0);
let out_ = numbers_ | where period_ == "current"
    | join kind=inner (range_ | project svc_, feature_, ref_lo, ref_hi) on svc_, feature_
    | where x_ < ref_lo or x_ > ref_hi
    | summarize w_out = sum(w_) by svc_, feature_;
let numbin_ = numbers_ | join kind=inner (range_ | project svc_, feature_, lo, hi, fine) on svc_, feature_
    | extend bin_ = iff(hi == lo, 0, min_of(tolong(floor((x_ - lo) / (hi - lo) * fine, 1)), fine - 1));
union
    (callsum_ | summarize {sides} by svc_, category | extend part = "calls", feature_ = ""),
    (callsum_ | where isnotnull(bucket) | {series} by svc_, category {expand}
        | extend part = "calls", feature_ = "", n_ref = tolong(0), w_ref = tolong(0)),
    (recs_ | summarize n_ref = countif(period_ == "reference"), n_cur = countif(period_ == "current"),
        w_ref = sumif(w_, period_ == "reference"), w_cur = sumif(w_, period_ == "current")
        by svc_, feature_ = role_ | extend part = "records"),
    (typed_ | summarize n_ref = countif(period_ == "reference"), n_cur = countif(period_ == "current"),
        w_ref = sumif(w_, period_ == "reference"), w_cur = sumif(w_, period_ == "current")
        by svc_, feature_, category = kind_ | extend part = "kind"),
    (range_ | join kind=leftouter out_ on svc_, feature_ | project-away svc_1, feature_1 | extend part = "range"),
    (numbin_ | summarize bn_ref = countif(period_ == "reference"), bn_cur = countif(period_ == "current"),
            bw_ref = sumif(w_, period_ == "reference"), bw_cur = sumif(w_, period_ == "current") by svc_, feature_, bin_
        | make-series sn_ref = sum(bn_ref) default = 0, sn_cur = sum(bn_cur) default = 0,
            sw_ref = sum(bw_ref) default = 0, sw_cur = sum(bw_cur) default = 0
            on bin_ from 0 to {FINE_BINS} step 1 by svc_, feature_
        | project svc_, feature_, counts = pack_array(sn_ref, sn_cur, sw_ref, sw_cur), part = "bin"),
    (numbin_ | where sel_ and isnotnull(bucket_) | extend bin_ = bin_ / 4
        | summarize bn_cur = count(), bw_cur = sum(w_) by svc_, feature_, bucket = bucket_, bin_
        | make-series sn_cur = sum(bn_cur) default = 0, sw_cur = sum(bw_cur) default = 0
            on bin_ from 0 to {TIME_FINE_BINS} step 1 by svc_, feature_, bucket
        | project svc_, feature_, bucket, part = "bin",
            counts = pack_array(repeat(0, {TIME_FINE_BINS}), sn_cur, repeat(0, {TIME_FINE_BINS}), sw_cur)),
    (catsum_ | summarize {sides} by svc_, feature_, category, bin | extend part = "cat"),
    (catsum_ | where isnotnull(bucket) and sel_ | {series} by svc_, feature_, category, bin
        {expand} | extend part = "cat", n_ref = tolong(0), w_ref = tolong(0)),
    (cattot_ | summarize k = count(), n_ref = countif(wr_ > 0), w_out = sumif(wc_, wr_ == 0) by svc_, feature_
        | extend part = "catset")
| join kind=leftouter (kept_ | project svc_, feature_, r_) on svc_, feature_
| where part in ("calls", "records") or r_ <= {MAX_FEATURES}
| union (kept_ | where r_ > {MAX_FEATURES} | summarize k = count() by svc_ | extend part = "dropped", feature_ = "")
| project service = svc_, part, feature = feature_, bucket, bin = tolong(bin), category, n_ref = tolong(n_ref),
    n_cur = tolong(n_cur), w_ref = tolong(w_ref), w_cur = tolong(w_cur), lo = todouble(lo), hi = todouble(hi),
    ref_lo = todouble(ref_lo), ref_hi = todouble(ref_hi), k = tolong(k), fine = tolong(fine),
    sx_ref = todouble(sx_ref), sxx_ref = todouble(sxx_ref), sx_cur = todouble(sx_cur), sxx_cur = todouble(sxx_cur),
    w_out = tolong(w_out), counts
| order by service asc, part asc, feature asc, bucket asc, bin asc, category asc"""

    # --- SQL --------------------------------------------------------------------------------

    def sql(self, ctx: RenderContext) -> tuple[str, list[object]]:
        b = SqlBuilder(ctx)
        cur, ref = ctx.window, self.reference.window(ctx.window)
        services = self._services(ctx)
        dc = "message = 'model_data_collection'"
        # Parameters bind in the order they appear: the text is written front to back.
        if self.reference.kind == "service":
            service = b.bind(services[0])
            period = f"CASE WHEN cloud_RoleName = {b.bind(services[0])} THEN 'current' ELSE 'reference' END"
        else:
            period = (f"CASE WHEN {b.window(cur)} THEN 'current' "
                      f"WHEN {b.window(ref)} THEN 'reference' END")
            service = "cloud_RoleName"
        text = f"CASE WHEN {dc} THEN {b.field(CONTENT)} ELSE {b.field(CONTENTS)} END"
        source = f"CASE WHEN {dc} THEN coalesce(nullif({b.field(PREDICTION_INPUT)}, ''), 'input') ELSE 'print' END"
        conds = [b.window(self.read_window(ctx))]
        if services:
            conds.append(b.predicate(OneOf("cloud_RoleName", services)))
        conds.append(b.predicate(PAYLOAD))
        seconds = int(self.grain(ctx).total_seconds())
        bucket = f"CASE WHEN period_ = 'current' THEN time_bucket(INTERVAL '{seconds} seconds', timestamp) END"
        wanted = ", ".join(b.bind(f) for f in self.features) or "''"
        # Over time, every bucket of the window comes back, zeros too: a fixed number of rows.
        first, last = self.grid(ctx)
        grid = (f", grid_ AS (SELECT unnest(generate_series({b.instant(first)}, {b.instant(last)}, "
                f"INTERVAL '{seconds} seconds')) AS bucket)")

        def dense_over_time(source: str, keys: tuple[str, ...], part: str, where: str = "") -> str:
            on = " AND ".join(f"s.{k} = k.{k}" for k in keys)
            feature = "" if "feature_" in keys else "'' AS feature_, "
            return (f"\n  UNION ALL BY NAME SELECT k.*, '{part}' AS part, {feature}g.bucket, "
                    f"0 AS n_ref, coalesce(s.n_cur, 0) AS n_cur, 0 AS w_ref, coalesce(s.w_cur, 0) AS w_cur "
                    f"FROM (SELECT DISTINCT {', '.join(keys)} FROM {source} WHERE bucket IS NOT NULL{where}) k "
                    f"CROSS JOIN grid_ g LEFT JOIN {source} s ON {on} AND s.bucket = g.bucket")

        calls_series = dense_over_time("callsum_", ("svc_", "category"), "calls")
        cat_series = dense_over_time("catsum_", ("svc_", "feature_", "category", "bin"), "cat", " AND sel_")
        totals = "sum(n_ref) AS n_ref, sum(n_cur) AS n_cur, sum(w_ref) AS w_ref, sum(w_cur) AS w_cur"
        ref_, cur_ = "period_ = 'reference'", "period_ = 'current'"

        def dense(column: str) -> str:  # every fine bin's count, zeros too: the answer's size is fixed
            return f"CAST(list(coalesce(b.{column}, 0) ORDER BY s_.i_) AS VARCHAR)"

        zeros = f"CAST(list_transform(range({TIME_FINE_BINS}), lambda i_: 0) AS VARCHAR)"

        sides = (f"count(*) FILTER ({ref_}) AS n_ref, count(*) FILTER ({cur_}) AS n_cur, "
                 f"coalesce(sum(w_) FILTER ({ref_}), 0) AS w_ref, coalesce(sum(w_) FILTER ({cur_}), 0) AS w_cur")
        kind = ("CASE WHEN f.type IS NULL OR f.type = 'NULL' THEN 'null' "
                "WHEN f.type IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT', 'UHUGEINT') THEN 'number' "
                "WHEN f.type = 'VARCHAR' THEN 'string' WHEN f.type = 'BOOLEAN' THEN 'bool' ELSE 'nested' END")
        sql = f"""WITH base_ AS MATERIALIZED (
  SELECT * FROM (SELECT timestamp, {service} AS svc_, itemCount AS w_, {period} AS period_,
    {text} AS text_, {source} AS source_
  FROM traces WHERE {' AND '.join(conds)}) WHERE period_ IS NOT NULL
), calls_ AS MATERIALIZED (
  SELECT *, {bucket} AS bucket_,
    CASE WHEN coalesce(length(text_), 0) >= {PROPERTY_LIMIT} THEN 'cut'
         WHEN NOT coalesce(CASE WHEN json_valid(text_) THEN json_type(text_) IN ('OBJECT', 'ARRAY') END, false)
           THEN 'unparsed'
         ELSE 'ok' END AS status_
  FROM (SELECT *, max(CASE WHEN source_ <> 'print' THEN 1 ELSE 0 END) OVER (PARTITION BY svc_) AS dc_ FROM base_)
  WHERE (source_ = 'print') = (dc_ = 0)
), docs_ AS (
  SELECT svc_, w_, period_, bucket_, 'input' AS role_, CASE WHEN json_valid(text_) THEN json_extract(text_, '$.input') END AS v_
    FROM calls_ WHERE status_ = 'ok' AND source_ = 'print'
  UNION ALL SELECT svc_, w_, period_, bucket_, 'output', CASE WHEN json_valid(text_) THEN json_extract(text_, '$.output') END
    FROM calls_ WHERE status_ = 'ok' AND source_ = 'print'
  UNION ALL SELECT svc_, w_, period_, bucket_, CASE WHEN source_ = 'prediction' THEN 'output' ELSE 'input' END,
    CASE WHEN json_valid(text_) THEN CAST(text_ AS JSON) END FROM calls_ WHERE status_ = 'ok' AND source_ <> 'print'
), recs_ AS MATERIALIZED (
  -- json_each reads a value once and hands back each element (or property) with its JSON type
  SELECT d.svc_, d.w_, d.period_, d.bucket_, d.role_, r.value AS rec_, r.type AS rtype_
  FROM docs_ d, json_each(CASE
      WHEN json_type(d.v_) = 'OBJECT' AND json_type(d.v_, '$.data') = 'ARRAY' THEN json_extract(d.v_, '$.data')
      WHEN json_type(d.v_) = 'ARRAY' THEN d.v_
      ELSE json_array(d.v_) END) r
  WHERE d.v_ IS NOT NULL AND json_type(d.v_) <> 'NULL'
), typed_ AS MATERIALIZED (
  SELECT *, (role_ = 'output' OR feature_ IN ({wanted})) AS sel_ FROM (SELECT r.svc_, r.w_, r.period_, r.bucket_, r.role_,
    CASE r.rtype_ WHEN 'OBJECT' THEN r.role_ || '.' || f.key WHEN 'ARRAY' THEN r.role_ || '[' || f.key || ']'
      ELSE r.role_ END AS feature_,
    {kind} AS kind_,
    CASE WHEN {kind} = 'number' THEN TRY_CAST(f.value AS DOUBLE) END AS x_,
    CASE WHEN {kind} = 'string' THEN left(json_extract_string(f.value, '$'), {CATEGORY_CHARS})
         WHEN {kind} = 'bool' THEN CAST(f.value AS VARCHAR) ELSE '' END AS cat_
  FROM recs_ r, json_each(CASE WHEN r.rtype_ IN ('OBJECT', 'ARRAY') THEN r.rec_ ELSE json_array(r.rec_) END) f)
), kept_ AS (
  SELECT svc_, feature_, row_number() OVER (PARTITION BY svc_ ORDER BY n_ DESC, feature_ ASC) AS r_
  FROM (SELECT svc_, feature_, count(*) AS n_ FROM typed_ GROUP BY ALL)
), numbers_ AS (
  SELECT * FROM typed_ WHERE kind_ = 'number' AND isfinite(x_)
), range_ AS MATERIALIZED (
  SELECT *, k * greatest(4, {FINE_BINS} // k // 4 * 4) AS fine FROM (
    SELECT svc_, feature_, min(x_) AS lo, max(x_) AS hi, min(x_) FILTER ({ref_}) AS ref_lo,
      max(x_) FILTER ({ref_}) AS ref_hi, {sides},
      sum(w_ * x_) FILTER ({ref_}) AS sx_ref, sum(w_ * x_ * x_) FILTER ({ref_}) AS sxx_ref,
      sum(w_ * x_) FILTER ({cur_}) AS sx_cur, sum(w_ * x_ * x_) FILTER ({cur_}) AS sxx_cur,
      CAST(ceil(log2(CAST(greatest(least(count(*) FILTER ({ref_}), count(*) FILTER ({cur_})), 1) AS DOUBLE)) + 1)
        AS BIGINT) AS k
    FROM numbers_ GROUP BY ALL)
), cattot_ AS MATERIALIZED (
  SELECT *, row_number() OVER (PARTITION BY svc_, feature_ ORDER BY wr_ + wc_ DESC, cat_ ASC) AS r_ FROM (
    SELECT svc_, feature_, cat_, coalesce(sum(w_) FILTER ({ref_}), 0) AS wr_, coalesce(sum(w_) FILTER ({cur_}), 0) AS wc_
    FROM typed_ WHERE kind_ IN ('string', 'bool') GROUP BY ALL)
), numbin_ AS (
  SELECT n.*, CASE WHEN r.hi = r.lo THEN 0
    ELSE least(CAST(floor((n.x_ - r.lo) / (r.hi - r.lo) * r.fine) AS BIGINT), r.fine - 1) END AS bin
  FROM numbers_ n JOIN range_ r ON n.svc_ = r.svc_ AND n.feature_ = r.feature_
), bins_ AS (
  SELECT svc_, feature_, bin, {sides} FROM numbin_ GROUP BY ALL
), binst_ AS (
  SELECT svc_, feature_, bucket_ AS bucket, bin // 4 AS bin, count(*) AS n_cur, sum(w_) AS w_cur
  FROM numbin_ WHERE sel_ AND bucket_ IS NOT NULL GROUP BY ALL
), callsum_ AS (
  SELECT svc_, bucket_ AS bucket, status_ AS category, {sides} FROM calls_ GROUP BY ALL
), catsum_ AS (
  SELECT svc_, feature_, bucket, sel_, category, bin, {sides} FROM (
    SELECT t.*, t.bucket_ AS bucket, CASE WHEN c.r_ > {MAX_CATEGORIES} THEN '' ELSE t.cat_ END AS category,
      CASE WHEN c.r_ > {MAX_CATEGORIES} THEN 1 ELSE 0 END AS bin
    FROM typed_ t JOIN cattot_ c ON t.svc_ = c.svc_ AND t.feature_ = c.feature_ AND t.cat_ = c.cat_
    WHERE t.kind_ IN ('string', 'bool')) GROUP BY ALL
){grid}, out_ AS (
  SELECT n.svc_, n.feature_, sum(n.w_) AS w_out FROM numbers_ n JOIN range_ r ON n.svc_ = r.svc_ AND n.feature_ = r.feature_
  WHERE n.period_ = 'current' AND (n.x_ < r.ref_lo OR n.x_ > r.ref_hi) GROUP BY ALL
), parts_ AS (
  SELECT svc_, 'calls' AS part, '' AS feature_, category, {totals} FROM callsum_ GROUP BY ALL{calls_series}
  UNION ALL BY NAME SELECT svc_, 'records' AS part, role_ AS feature_, {sides} FROM recs_ GROUP BY ALL
  UNION ALL BY NAME SELECT svc_, 'kind' AS part, feature_, kind_ AS category, {sides} FROM typed_ GROUP BY ALL
  UNION ALL BY NAME SELECT r.*, 'range' AS part, o.w_out FROM range_ r
    LEFT JOIN out_ o ON r.svc_ = o.svc_ AND r.feature_ = o.feature_
  UNION ALL BY NAME SELECT k.svc_, 'bin' AS part, k.feature_,
    '[' || {dense('n_ref')} || ', ' || {dense('n_cur')} || ', ' || {dense('w_ref')} || ', ' || {dense('w_cur')} || ']'
      AS counts
  FROM (SELECT DISTINCT svc_, feature_ FROM bins_) k CROSS JOIN range({FINE_BINS}) s_(i_)
  LEFT JOIN bins_ b ON b.svc_ = k.svc_ AND b.feature_ = k.feature_ AND b.bin = s_.i_
  GROUP BY k.svc_, k.feature_
  UNION ALL BY NAME SELECT k.svc_, 'bin' AS part, k.feature_, k.bucket,
    '[' || {zeros} || ', ' || {dense('n_cur')} || ', ' || {zeros} || ', ' || {dense('w_cur')} || ']' AS counts
  FROM (SELECT DISTINCT svc_, feature_, bucket FROM binst_) k CROSS JOIN range({TIME_FINE_BINS}) s_(i_)
  LEFT JOIN binst_ b ON b.svc_ = k.svc_ AND b.feature_ = k.feature_ AND b.bucket = k.bucket AND b.bin = s_.i_
  GROUP BY k.svc_, k.feature_, k.bucket
  UNION ALL BY NAME SELECT svc_, 'cat' AS part, feature_, category, bin, {totals}
    FROM catsum_ GROUP BY svc_, feature_, category, bin{cat_series}
  UNION ALL BY NAME SELECT svc_, 'catset' AS part, feature_, count(*) AS k, count(*) FILTER (wr_ > 0) AS n_ref,
    coalesce(sum(wc_) FILTER (wr_ = 0), 0) AS w_out FROM cattot_ GROUP BY ALL
)
SELECT * FROM (
  SELECT p.* FROM parts_ p LEFT JOIN kept_ k ON p.svc_ = k.svc_ AND p.feature_ = k.feature_
  WHERE p.part IN ('calls', 'records') OR k.r_ <= {MAX_FEATURES}
  UNION ALL BY NAME SELECT svc_, 'dropped' AS part, '' AS feature_, count(*) AS k FROM kept_
  WHERE r_ > {MAX_FEATURES} GROUP BY ALL
)"""
        columns = ", ".join(f'{_SQL_COLUMN.get(name, name)} AS "{name}"' for name, _ in _COLUMNS)
        order = "service ASC, part ASC, feature ASC, bucket ASC NULLS FIRST, bin ASC, category ASC"
        return f"SELECT {columns} FROM ({sql}) ORDER BY {order}", b.params


_SQL_COLUMN: Final = {"service": "svc_", "feature": "feature_"}


# --- the Model page's own URL parameters --------------------------------------------------------

THRESHOLD_PARAMS: Final = {
    "t_wd": "wasserstein", "t_js": "jensen_shannon", "t_psi": "psi", "t_p": "p_value",
    "t_null": "null_rate", "t_type": "type_error_rate", "t_range": "out_of_range_rate",
}


@dataclass(frozen=True)
class MonitoringView:
    """What the Model page shows: its reference, thresholds and chosen feature (all in the URL)."""

    reference: Reference = Reference()
    thresholds: Thresholds = Thresholds()
    feature: str | None = None

    def queries(self) -> list[FeatureDrift]:
        """The page's batch: one query, the features and, over time, the predictions and the chosen feature."""
        return [FeatureDrift(self.reference, features=(self.feature,) if self.feature else ())]


def _one(params: Mapping[str, str | Sequence[str]], name: str) -> str:
    value = params.get(name, "")
    return (value if isinstance(value, str) else (value[0] if value else "")).strip()


def view_from_params(
    params: Mapping[str, str | Sequence[str]], current: Window | None = None, services: Sequence[str] = (),
) -> tuple[MonitoringView, list[str]]:
    """The view a URL asks for, and a warning for each parameter that was ignored. `current` and
    `services` are the sidebar's window and services, which a reference must fit."""
    warnings: list[str] = []
    feature = clean_text("feature", _one(params, "feature"), warnings)
    reference = _reference(params, current, warnings)
    if reference.kind == "service" and (len(services) != 1 or reference.service == services[0]):
        warnings.append("Ignored `ref=deployment`: choose exactly one service, other than the reference deployment.")
        reference = Reference()
    values: dict[str, float] = {}
    for param, name in THRESHOLD_PARAMS.items():
        raw = _one(params, param)
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not (0.0 <= value <= 10.0):  # NaN fails this too
            warnings.append(f"Ignored `{param}={raw[:40]}`: use a number from 0 to 10.")
            continue
        values[name] = value
    return MonitoringView(reference, replace(Thresholds(), **values), feature), warnings


def _reference(params: Mapping[str, str | Sequence[str]], current: Window | None, warnings: list[str]) -> Reference:
    kind = _one(params, "ref").lower()
    if kind in ("", "previous"):
        return Reference()
    if kind == "deployment":
        other = clean_text("ref_service", _one(params, "ref_service"), warnings)
        if other:
            return Reference("service", service=other)
        warnings.append("Ignored `ref=deployment`: name the other deployment with `ref_service`.")
        return Reference()
    if kind == "window":
        try:
            start, end = (_instant(_one(params, p)) for p in ("ref_from", "ref_to"))
        except ValueError:
            warnings.append("Ignored `ref=window`: give `ref_from` and `ref_to` as ISO 8601 UTC times.")
            return Reference()
        if end <= start:
            warnings.append("Ignored `ref=window`: `ref_to` must be after `ref_from`.")
        elif current is not None and end > current.start:
            warnings.append("Ignored `ref=window`: the reference must end by the start of the time range.")
        else:
            return Reference("window", start, end)
        return Reference()
    warnings.append(f"Ignored `ref={kind[:40]}`: use previous, window or deployment.")
    return Reference()


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # ValueError on anything else
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def reference_params(reference: Reference) -> dict[str, str | None]:
    """The URL parameters of a reference (None removes one)."""
    if reference.kind == "service":
        return {"ref": "deployment", "ref_service": reference.service, "ref_from": None, "ref_to": None}
    if reference.kind == "window" and reference.start and reference.end:
        return {"ref": "window", "ref_service": None, "ref_from": reference.start.strftime("%Y-%m-%dT%H:%MZ"),
                "ref_to": reference.end.strftime("%Y-%m-%dT%H:%MZ")}
    return {"ref": None, "ref_service": None, "ref_from": None, "ref_to": None}
