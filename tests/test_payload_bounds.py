"""The payload view stays bounded when every call logs keys of its own: the table keeps the
columns most calls have, counts the rest, and is worked out once per answer."""

from __future__ import annotations

from telemetry.payloads import MAX_COLUMNS, payload_rows, payload_table
from telemetry.results import QueryResult
from tests.memory_cap import run_capped
from tests.payload_keys import rows

def test_calls_with_keys_of_their_own_keep_the_busiest_columns_and_count_the_rest() -> None:
    table = payload_rows(rows(300, 10))
    assert len(table.frame) == 300
    flattened = [c for c in table.frame.columns if c.startswith(("input", "output"))]
    assert len(flattened) == MAX_COLUMNS
    assert {"input.shared", "output[0]"} <= set(flattened), "the keys every call has are kept"
    assert table.rare_columns == 2 + 300 * 10 - MAX_COLUMNS


def test_five_thousand_calls_of_forty_keys_each_stay_within_a_capped_memory() -> None:
    """200,000 distinct keys: a column each took gigabytes and was killed."""
    answer = run_capped(
        """
from telemetry.payloads import payload_rows
from tests.payload_keys import rows
payload_rows(rows(50, 40))
""",
        """
table = payload_rows(rows(5_000, 40))
answer = {"rows": len(table.frame), "columns": table.frame.shape[1], "rare": table.rare_columns}
""", headroom=512 << 20)
    assert answer["rows"] == 5_000
    assert answer["columns"] <= MAX_COLUMNS + 7
    assert answer["rare"] == 2 + 5_000 * 40 - MAX_COLUMNS


def test_the_table_is_worked_out_once_per_answer() -> None:
    frame = rows(20, 3)
    result = QueryResult("traces.payloads", frame, "SELECT 1")
    assert payload_table(result) is payload_table(result)
    again = QueryResult("traces.payloads", frame.head(5), "SELECT 1", fetched_at=result.fetched_at + 60)
    assert len(payload_table(again).frame) == 5, "a newer answer gets its own table"
