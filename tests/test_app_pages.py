"""Every page runs through Streamlit's AppTest on the demo store without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.navigation import PAGES
from tests.apptest import run_page as _run

PAGE_FILES = [path for path, *_ in PAGES]


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_renders_without_an_exception(page: str, app_env: Path) -> None:
    at = _run(page, range="7d")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "the page shows its title"


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_survives_garbage_url_parameters(page: str, app_env: Path) -> None:
    at = _run(page, range="forever", grain="7s", split="'; drop", service="x" * 5000, op="\"'`\\", pg="-1")
    assert not at.exception, [e.value for e in at.exception]
    assert any("Ignored" in w.value for w in at.warning), "the page says which parameters it ignored"


def test_a_page_without_a_store_says_how_to_build_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(tmp_path / "missing.duckdb"))
    at = _run("pages/requests.py")
    assert not at.exception
    assert any("python -m telemetry demo" in e.value for e in at.error)


def test_every_panels_details_give_a_link_that_shows_it_alone(app_env: Path) -> None:
    at = _run("pages/requests.py", range="7d", service="churn-regressor")
    links = [c.value for c in at.code if "embed=true" in c.value]
    assert any("panel=requests.rate" in link and "service=churn-regressor" in link for link in links)
    assert any("panel=requests.outcome" in link for link in links)
