"""Any string becomes exactly one KQL string literal that Kusto decodes back to itself."""

from __future__ import annotations

import random

import pytest

from telemetry.kql_literals import string_literal
from tests.kusto import check_kql

NASTY = [
    "", "plain", 'say "hi"', "it's", "back\\slash", "ends with backslash\\", '\\"', "line1\nline2",
    "crlf\r\nline", "tab\there", "\x00nul", "\x07bell\x0bvt\x0cff", "unicode é 漢字 😀", '"; drop table x; //',
    "' or 1==1", "// not a comment", "@'verbatim'", 'h"hidden"', "```fenced```", "\\u0041 stays",
    '{"json": "va\\"lue", "n": [1, 2]}', "x" * 10_000,
]


def _random_strings(count: int, seed: int = 20261123) -> list[str]:
    rng = random.Random(seed)
    alphabet = ['a', ' ', '\\', '"', "'", '`', '\n', '\r', '\t', '@', 'h', 'u', '0', 'é', '😀', '\x01', '\u2028',
                '\ufeff', '|', ';', '(', ')']
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(count)]


def test_nasty_and_random_strings_round_trip_as_exactly_one_literal() -> None:
    values = NASTY + _random_strings(3000)
    results = check_kql([("classic", f"print x = {string_literal(v)}") for v in values])
    for value, result in zip(values, results, strict=True):
        assert result.ok, str(result)
        assert result.string_literals == [value], (value, result.string_literals)


@pytest.mark.parametrize(
    ("schema", "query", "ok"),
    [
        ("classic", "requests | where durationn > 1", False),
        ("classic", "requests | where duration > 1", True),
        ("workspace", "AppRequests | take 1", True),
        ("classic", "AppRequests | take 1", False),
        ("classic", 'print x = "unknown escape \\q"', False),
    ],
    ids=["misspelt column", "known column", "workspace table on workspace", "workspace table on classic",
         "bad escape"],
)
def test_the_checker_tells_good_kql_from_bad(schema: str, query: str, ok: bool) -> None:
    (result,) = check_kql([(schema, query)])
    assert result.ok is ok, str(result)
