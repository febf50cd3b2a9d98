"""The one way a user's value becomes KQL text: a double-quoted string literal.

Kusto's lexer takes `\\`, `\"`, `\n`, `\r`, `\t` as escapes inside "..." and every other
character as itself, so escaping exactly those five makes any string one literal that decodes
back to the same value (checked against Kusto's own parser in tests/test_kql_literals.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["datetime_literal", "string_literal", "timespan_literal"]

_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def string_literal(value: str) -> str:
    return '"' + value.translate(_ESCAPES) + '"'


def datetime_literal(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes in queries must be timezone-aware (UTC)")
    return "datetime(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"


def timespan_literal(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
