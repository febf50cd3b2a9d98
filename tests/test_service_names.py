"""Service names with a comma (or a backslash) can be filtered: a link gives each service its own
parameter and escapes commas inside a name; old links that comma-separate names keep working."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from telemetry.filters import Filters, from_query_params, to_query_params
from tests.apptest import run_page, texts

NAMES = ("scorer, eu-west", "a\\b", "ends with \\", "\\,", "plain")


@pytest.mark.parametrize("name", NAMES)
def test_a_service_name_reads_back_whole_from_its_link(name: str) -> None:
    filters = Filters(services=(name, "other"))
    reread, warnings = from_query_params(to_query_params(filters))
    assert warnings == []
    assert reread.services == (name, "other")


def test_old_links_that_comma_separate_services_still_name_each_one() -> None:
    assert from_query_params({"service": "churn-regressor,fraud-scorer"})[0].services == ("churn-regressor",
                                                                                         "fraud-scorer")
    assert from_query_params({"service": "domain\\svc"})[0].services == ("domain\\svc",)


def test_a_page_filters_on_a_service_whose_name_has_a_comma(app_env: Path) -> None:
    link = to_query_params(Filters(services=("scorer, eu-west",)))
    assert urlencode(link, doseq=True) == "service=scorer%5C%2C+eu-west"
    at = run_page("pages/latency.py", **link)
    assert not at.exception
    assert any("for scorer, eu-west." in text for text in texts(at, "info")), texts(at, "info")
    kept = at.query_params["service"]
    assert (kept if isinstance(kept, list) else [kept]) == ["scorer\\, eu-west"], "the sidebar keeps the name whole"
