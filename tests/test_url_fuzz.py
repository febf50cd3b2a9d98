"""Page-level fuzzing: any URL parameters (keys, values, lengths, encodings) open a page that
runs without an exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.navigation import PAGES
from tests.apptest import run_page

KNOWN_KEYS = ["range", "from", "to", "service", "operation", "code", "grain", "split", "panel", "problem",
              "op", "q", "dependency", "severity", "pg", "refresh", "embed", "embed_options"]
NASTY = st.sampled_from(["", " ", "\x00", "%00", "%", "'", '"', "\\", "\n", "\u202e", "😀", "a" * 10_000,
                         "-1", "1e309", "NaN", "9" * 40, "2026-13-45T25:61Z", "../../etc/passwd",
                         "<script>alert(1)</script>", "'; drop table requests; --", "\ud7ff", "\ufffd"])
VALUES = st.one_of(NASTY, st.text(max_size=200))
PARAMS = st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=20)),
                         st.one_of(VALUES, st.lists(VALUES, min_size=1, max_size=3)), max_size=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.sampled_from([path for path, *_ in PAGES]), params=PARAMS)
def test_any_url_parameters_open_a_page_without_an_exception(
    page: str, params: dict[str, str | list[str]], app_env: Path
) -> None:
    at = run_page(page, **params)
    assert not at.exception, (params, [e.value for e in at.exception])
