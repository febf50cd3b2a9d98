"""Where each classic column of the store comes from in a workspace or classic record.

Workspace names are `telemetry.schema.workspace_column` read backwards, so the import and the
KQL renderer can never disagree on a rename. Columns the store does not keep are never asked for:
they are dropped without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from telemetry.schema import CLASSIC_TABLES, WORKSPACE_TABLES, workspace_column
from telemetry.store import STORE_TABLES

__all__ = ["BY_ITEM_TYPE", "BY_WORKSPACE_NAME", "ITEM_TYPES", "TIME_ALIAS", "Source", "named_sources"]


@dataclass(frozen=True)
class Source:
    names: tuple[str, ...]  # field names (CSV, JSON keys) or JSON paths; the first one present wins
    convert: str = "{}"  # SQL over the text, e.g. ticks to milliseconds


ITEM_TYPES: Final = {"requests": "request", "dependencies": "dependency", "exceptions": "exception", "traces": "trace"}
BY_ITEM_TYPE: Final = {item_type: table for table, item_type in ITEM_TYPES.items()}
BY_WORKSPACE_NAME: Final = {WORKSPACE_TABLES[table]: table for table in STORE_TABLES}
TIME_ALIAS: Final = "time"  # resource-log records (diagnostic settings) name TimeGenerated `time`


def named_sources(dialect: Literal["workspace", "classic"], table: str) -> dict[str, Source]:
    """Classic column -> its field in a workspace or classic record (itemType follows from the table)."""
    sources: dict[str, Source] = {}
    for column in CLASSIC_TABLES[table]:
        if column == "itemType":
            continue
        if dialect == "classic":
            sources[column] = Source((column,))
            continue
        try:
            sources[column] = Source((workspace_column(table, column),))
        except KeyError:
            continue  # a classic column the workspace table lacks
    if dialect == "workspace":
        sources["timestamp"] = Source(("TimeGenerated", TIME_ALIAS))
        sources["itemId"] = Source(("_ItemId",))
    return sources
