"""A request's status, outcome, duration and id, and the request a trace or exception belongs to:
one definition, rendered to KQL (classic and workspace) and to DuckDB SQL.

Azure ML's inference server (`azmlinfsrv`) does not fill the standard columns: 1.5.x opens and
closes each request's span after the response, so `duration` is ~0 ms, and both 1.4.x and 1.5.x
leave `resultCode` "0" and `success` true even on a 500. Its own values are properties of the row:
`resultCode` (or `http.status_code`), `success`, `duration` ("00:00:00.002", or "1.02:03:04.005"
past a day) and `Request Id` (or `ai.operation.id`). A row whose resultCode is the server's "0"
and whose properties carry its own result code is read from those properties; every other row
from the standard columns.

Its traces and exceptions carry an all-zero (or empty) `operation_Id`; they name their request
in a `Request Id` property, flat or inside `custom_dimensions`, a Python repr of a dict
("{'Container Id': 'x', 'Request Id': 'f1fe…', …}").

Queries name these columns like stored ones; the renderers compute them per row:

    req_code      requests   the status code the server answered with (text)
    req_failed    requests   the request failed (bool); `model.Failed` on requests reads it
    req_duration  requests   the duration in ms the server measured (dependencies: their own
                             duration, so latency and dependency panels share one histogram)
    req_id        every table: a request's id, or the id of the request a row belongs to (its
                             operation_Id, unless empty or all zeros or, on exceptions and data
                             collection traces, a `Request Id` names another request)
    req_values    requests   whose values these are: "standard" (no server properties), else
                             "server_agrees" or "server_disagrees" (the standard columns say
                             another code or outcome, or a duration off by over 10 % and 1 ms)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Final

__all__ = [
    "DERIVED",
    "READS",
    "REQ_CODE",
    "REQ_DURATION",
    "REQ_FAILED",
    "REQ_ID",
    "REQ_VALUES",
    "ZERO_OPERATION",
    "derived_used",
    "kql_columns",
    "sql_inline",
    "sql_source",
]

REQ_CODE: Final = "req_code"
REQ_FAILED: Final = "req_failed"
REQ_DURATION: Final = "req_duration"
REQ_ID: Final = "req_id"
REQ_VALUES: Final = "req_values"

# table -> derived column -> Kusto type
DERIVED: Final[dict[str, dict[str, str]]] = {
    "requests": {REQ_CODE: "string", REQ_FAILED: "bool", REQ_DURATION: "real", REQ_ID: "string", REQ_VALUES: "string"},
    "dependencies": {REQ_DURATION: "real", REQ_ID: "string"},
    "exceptions": {REQ_ID: "string"},
    "traces": {REQ_ID: "string"},
}

# The stored columns each derived column reads (the benchmarks' floor reads what a page reads).
_LINK_READS: Final[dict[str, tuple[str, ...]]] = {REQ_ID: ("customDimensions", "operation_Id")}
_TRACE_LINK_READS: Final[dict[str, tuple[str, ...]]] = {REQ_ID: ("customDimensions", "operation_Id", "message")}
READS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "requests": {
        REQ_CODE: ("customDimensions", "resultCode"),
        REQ_FAILED: ("customDimensions", "resultCode", "success"),
        REQ_DURATION: ("customDimensions", "resultCode", "duration"),
        REQ_ID: ("customDimensions", "resultCode", "operation_Id"),
        REQ_VALUES: ("customDimensions", "resultCode", "success", "duration"),
    },
    "dependencies": {REQ_DURATION: ("duration",), **_LINK_READS},
    "exceptions": _LINK_READS,
    "traces": _TRACE_LINK_READS,
}

ZERO_OPERATION: Final = "0" * 32
SERVER_RESULT_CODE: Final = "0"  # what the inference server writes in resultCode, whatever it answered
# Rows that may name another request than their operation_Id (1.4.x puts every trace of a process
# in one operation, but its exceptions and data collection name their request), as (KQL, SQL)
# tests: only these rows' bags are read when the operation_Id is set (a search over every print's
# text would cost a traces page several times its scan). A `Request Id` that is the operation_Id
# itself (as a dashed UUID) names no other.
_MAY_NAME_OTHER: Final[dict[str, tuple[str, str]]] = {
    "exceptions": ("true", "contains(customDimensions, 'Request Id')"),
    "traces": ('{message} == "model_data_collection"', "message = 'model_data_collection'"),
}
# The request id inside a Python-repr property bag (1.5.x's `custom_dimensions`).
_REPR_REQUEST_ID: Final = r"'Request Id': '([^']*)'"


def derived_used(query: object, table: str) -> list[str]:
    """The derived columns of `table` a query refers to, in DERIVED's order.

    Walks the query's dataclasses and tuples for column names; `Failed` on requests needs
    req_failed, and a join on the operations of another table (InOperationsOf) needs req_id."""
    from telemetry.model import Failed, InOperationsOf

    found: set[str] = set()
    stack: list[object] = [query]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.add(node)
        elif isinstance(node, Failed):
            found.add(REQ_FAILED)
        elif isinstance(node, InOperationsOf):
            found.add(REQ_ID)  # its own table's columns are rendered by its own renderer
        elif isinstance(node, tuple | list | frozenset):
            stack.extend(node)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))
    if REQ_VALUES in found:  # compares the standard columns with these
        found.update((REQ_CODE, REQ_FAILED, REQ_DURATION))
    return [name for name in DERIVED.get(table, {}) if name in found]


# --- KQL --------------------------------------------------------------------------------------


def kql_columns(table: str, names: list[str], col: Callable[[str], str], failed: str) -> list[str]:
    """The bodies of the extends that compute `names` (`a = …, b = …`; an extend cannot read a column
    it defines itself, so the server's result code comes first, alone), in terms of the dialect's
    column names (`col`) and its standard failure test (`success == "False"` or `Success == false`)."""
    props = col("customDimensions")

    def prop(key: str) -> str:
        return f'tostring({props}["{key}"])'

    server_code = "server_code_"  # the server's own result code; empty on every other row
    server = f"isnotempty({server_code})"
    op = col("operation_Id")
    named = f'coalesce({prop("Request Id")}, extract(@"{_REPR_REQUEST_ID}", 1, {prop("custom_dimensions")}))'
    linked = f'iff(isempty({op}) or {op} == "{ZERO_OPERATION}", {named}, {op})'
    if table in _MAY_NAME_OTHER:
        may_name = _MAY_NAME_OTHER[table][0].format(message=col("message") if table == "traces" else "")
        other = f'isnotempty({named}) and replace_string({named}, "-", "") != {op}'
        linked = (f'iff(isempty({op}) or {op} == "{ZERO_OPERATION}", {named}, '
                  f'iff({"" if may_name == "true" else may_name + " and "}{other}, {named}, {op}))')
    expressions = {
        REQ_CODE: f'coalesce({server_code}, {col("resultCode")})' if table == "requests" else "",
        REQ_FAILED: (f'iff({server}, tolower({prop("success")}) == "false" or toint({server_code}) >= 400, {failed})'),
        REQ_DURATION: (f'iff({server}, coalesce(totimespan({prop("duration")}) / 1ms, {col("duration")}), '
                       f'{col("duration")})') if table == "requests" else col("duration"),
        REQ_ID: (f'iff({server}, coalesce({prop("Request Id")}, {prop("ai.operation.id")}, {op}), {op})'
                 if table == "requests" else linked),
    }
    first = ([f'{server_code} = iff({col("resultCode")} == "{SERVER_RESULT_CODE}", '
              f'coalesce({prop("resultCode")}, {prop("http.status_code")}), "")']
             if table == "requests" and names else [])
    last = [(f'{REQ_VALUES} = iff(isempty({server_code}), "standard", iff({col("resultCode")} != {REQ_CODE} '
             f'or ({failed}) != {REQ_FAILED} or abs({col("duration")} - {REQ_DURATION}) > max_of(1.0, 0.1 * '
             f'{REQ_DURATION}), "server_disagrees", "server_agrees"))')] if REQ_VALUES in names else []
    names = [name for name in names if name != REQ_VALUES]
    return first + [", ".join(f"{name} = {expressions[name]}" for name in names)] + last


# --- DuckDB SQL -------------------------------------------------------------------------------
#
# Reading customDimensions is what costs: parsing a request's bag (~450 characters) takes longer
# than scanning all its other columns. So (1) the rows whose values are plainly their standard
# columns are told apart by cheap columns alone and never read it: requests whose resultCode is
# not the server's "0", traces whose operation_Id is set and that are no data collection row; and
# (2) the other rows parse their bag once, for every property at once (`props_`).

# the properties read, in the order `props_[i]` (1-based) names them
_KEYS: Final = ("resultCode", "http.status_code", "success", "duration", "Request Id", "ai.operation.id",
                "custom_dimensions")


def _p(key: str) -> str:
    return f"nullif(props_[{_KEYS.index(key) + 1}], '')"


# try(): a bag App Insights cut mid-JSON (or any text an import kept) reads as NULL, not an error
_PROPS: Final = "try(json_extract_string(customDimensions, [" + ", ".join(f"'/{k}'" for k in _KEYS) + "])) AS props_"
_SERVER_MS: Final = (
    "epoch(TRY_CAST(regexp_replace(" + _p("duration") + r", '^(\d+)\.(\d+:)', '\1 days \2') AS INTERVAL)) * 1000"
)
_NAMED: Final = ("coalesce(" + _p("Request Id") + ", nullif(regexp_extract(" + _p("custom_dimensions")
                  + ", '" + _REPR_REQUEST_ID.replace("'", "''") + "', 1), ''))")


def _sql_linked(table: str) -> str:
    may_name = _MAY_NAME_OTHER.get(table)
    other = "" if may_name is None else (
        f"WHEN {may_name[1]} AND replace(coalesce({_NAMED}, ''), '-', '') NOT IN ('', operation_Id) THEN {_NAMED} ")
    return (f"CASE WHEN coalesce(operation_Id, '') IN ('', '{ZERO_OPERATION}') THEN coalesce({_NAMED}, '') "
            f"{other}ELSE operation_Id END")


_SQL: Final[dict[str, dict[str, str]]] = {
    "requests": {
        REQ_CODE: "coalesce(server_code_, resultCode)",
        REQ_FAILED: ("CASE WHEN server_code_ IS NOT NULL THEN coalesce(lower(" + _p("success") + ") = 'false', false)"
                     " OR coalesce(TRY_CAST(server_code_ AS INTEGER) >= 400, false) ELSE success = 'False' END"),
        REQ_DURATION: f"CASE WHEN server_code_ IS NOT NULL THEN coalesce({_SERVER_MS}, duration) ELSE duration END",
        REQ_ID: ("CASE WHEN server_code_ IS NOT NULL THEN coalesce(" + _p("Request Id") + ", "
                 + _p("ai.operation.id") + ", operation_Id) ELSE operation_Id END"),
    },
    "dependencies": {REQ_DURATION: "duration", REQ_ID: _sql_linked("dependencies")},
    "exceptions": {REQ_ID: _sql_linked("exceptions")},
    "traces": {REQ_ID: _sql_linked("traces")},
}
_SERVER_CODE: Final = f"coalesce({_p('resultCode')}, {_p('http.status_code')})"
_SQL_VALUES: Final = (
    "CASE WHEN server_code_ IS NULL THEN 'standard' WHEN resultCode IS DISTINCT FROM req_code "
    "OR coalesce(success = 'False', false) <> req_failed OR abs(duration - req_duration) > greatest(1.0, 0.1 * req_duration) "
    "THEN 'server_disagrees' ELSE 'server_agrees' END"
)
_PLAIN: Final[dict[str, str]] = {
    "requests": f"resultCode IS DISTINCT FROM '{SERVER_RESULT_CODE}'",
    "traces": (f"coalesce(operation_Id, '') NOT IN ('', '{ZERO_OPERATION}') "
               "AND message IS DISTINCT FROM 'model_data_collection'"),
}
_PLAIN_VALUES: Final[dict[str, dict[str, str]]] = {
    "requests": {REQ_CODE: "resultCode", REQ_FAILED: "success = 'False'", REQ_DURATION: "duration",
                 REQ_ID: "operation_Id", REQ_VALUES: "'standard'"},
    "traces": {REQ_ID: "operation_Id"},
}


def sql_source(table: str, names: Collection[str]) -> str:
    """The table with the derived columns `names` (see `derived_used`), to select FROM: the table
    itself when there are none. One scan; a row's bag is parsed only when its cheap columns say
    it may hold the values (DuckDB's CASE evaluates a branch for the rows that take it alone), and
    the time window is pushed down to the scan."""
    derived = {name: expr for name, expr in _SQL.get(table, {}).items() if name in names}
    values = table == "requests" and REQ_VALUES in names
    if not derived and not values:
        return table
    columns = ", ".join(f"{expression} AS {name}" for name, expression in derived.items())
    gate = f"NOT ({_PLAIN[table]})" if table in _PLAIN else "true"
    parsed = f"(SELECT *, CASE WHEN {gate} THEN {_PROPS.removesuffix(' AS props_')} END AS props_ FROM {table})"
    if table == "requests":
        inner = f"(SELECT *, {columns} FROM (SELECT *, {_SERVER_CODE} AS server_code_ FROM {parsed}))"
        tail = f", {_SQL_VALUES} AS {REQ_VALUES}" if values else ""
        return f"(SELECT * EXCLUDE (props_, server_code_){tail} FROM {inner}) AS {table}"
    return f"(SELECT * EXCLUDE (props_), {columns} FROM {parsed}) AS {table}"


def sql_inline(table: str, name: str) -> str:
    """A derived column as one expression over the stored columns, for a listing that only shows
    it: DuckDB then computes it for the rows it returns alone, after ordering and limiting."""
    expression = _SQL[table][name].replace("server_code_", f"({_SERVER_CODE})")
    for i, key in enumerate(_KEYS, start=1):
        expression = expression.replace(f"props_[{i}]", f"try(json_extract_string(customDimensions, '/{key}'))")
    if table in _PLAIN:
        return f"CASE WHEN {_PLAIN[table]} THEN {_PLAIN_VALUES[table][name]} ELSE {expression} END"
    return expression
