"""Names and literals spliced into the import's SQL: from our own mapping and the export's
column names, quoted so that any name stays a name (file values go in as registered tables)."""

from __future__ import annotations

__all__ = ["ident", "literal"]


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
