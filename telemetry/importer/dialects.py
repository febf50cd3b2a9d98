"""The three record shapes an export comes in, and what each says about a record's table.

- workspace: Log Analytics tables (AppRequests, …), from a data export, diagnostic settings or
  a Logs query; the table is the record's `Type`;
- classic: Application Insights tables (requests, …) from a Logs query; the table is `itemType`;
- continuous: legacy continuous export; the table is the item's one key beside `context`.

A record without its table name takes the one the file's name or folder gives
(`am-apprequests/…/PT1H.json`, `requests.csv`), if any.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Final, Literal

from telemetry.importer.columns import BY_ITEM_TYPE, BY_WORKSPACE_NAME, ITEM_TYPES, TIME_ALIAS, Source, named_sources
from telemetry.importer.continuous import CONTINUOUS_KEYS, CONTINUOUS_SOURCES
from telemetry.importer.sqltext import literal
from telemetry.schema import WORKSPACE_TABLES
from telemetry.store import STORE_TABLES

__all__ = ["Dialect", "dialect_of", "sources", "table_hint", "table_sql"]

Dialect = Literal["workspace", "classic", "continuous"]

_HINTS: Final = {**{WORKSPACE_TABLES[t].lower(): t for t in STORE_TABLES}, **{t: t for t in STORE_TABLES}}


def sources(dialect: Dialect, table: str) -> dict[str, Source]:
    return CONTINUOUS_SOURCES[table] if dialect == "continuous" else named_sources(dialect, table)


def dialect_of(keys: Collection[str]) -> Dialect | None:
    """The dialect of a record (or a CSV header) with these keys, None when it is none of them."""
    if "context" in keys:
        return "continuous"
    if {"TimeGenerated", TIME_ALIAS, "Type"} & set(keys):
        return "workspace"
    if {"timestamp", "itemType"} & set(keys):
        return "classic"
    return None


def table_hint(name: str) -> str | None:
    """The table a file's name or folder names, if any."""
    for part in reversed(Path(name).parts):
        lowered = part.lower()
        for word, table in _HINTS.items():
            if word in lowered:
                return table
    return None


def table_sql(dialect: Dialect, name_sql: str, hint: str | None) -> tuple[str, str]:
    """(store table, why the record is not imported) as SQL, from the record's own table name."""
    if dialect == "continuous":
        mapping, default, noun = CONTINUOUS_KEYS, None, "items"
    elif dialect == "classic":
        mapping, default, noun = BY_ITEM_TYPE, ITEM_TYPES[hint] if hint else None, "records"
    else:
        mapping, default, noun = BY_WORKSPACE_NAME, WORKSPACE_TABLES[hint] if hint else None, "records"
    cases = " ".join(f"WHEN {literal(name)} THEN {literal(table)}" for name, table in mapping.items())
    given = f"coalesce({name_sql}, {literal(default)})" if default else name_sql
    why = (f"coalesce(left({name_sql}, 40) || ' {noun} are not imported', "
           "'no table name in the record, nor in the file name')")
    return f"CASE {given} {cases} END", why
