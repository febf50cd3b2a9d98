"""The sidebar says which store the app reads, switches between the demo and imported exports,
and imports uploaded exports, with a summary that names the files it could not read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.navigation import PAGES
from telemetry.importer import import_exports
from tests.apptest import run_page, texts
from tests.test_import import FIXTURES, ROOT, _workspace_json


@pytest.fixture
def app_with_own_store(demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app on a copy of the demo store, so its imports land in this test's folder."""
    demo = tmp_path / "demo.duckdb"
    shutil.copy(demo_store, demo)
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(demo))
    monkeypatch.chdir(ROOT)
    return demo


def _caption_texts(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def _page_title(page: str) -> str:
    return next(title for path, title, _icon, _url in PAGES if path == page)


def test_uploaded_exports_import_and_the_page_shows_their_requests_and_names_a_bad_file(
    app_with_own_store: Path,
) -> None:
    at = run_page("pages/requests.py")
    good, bad = FIXTURES / "diagnostic_settings_PT1H.json.gz", FIXTURES / "no_time_column.csv"
    at.file_uploader[0].set_value([(good.name, good.read_bytes(), "application/gzip"),
                                   (bad.name, bad.read_bytes(), "text/csv")]).run()
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    requests = _workspace_json(good).query("table == 'requests'")
    assert any(f"requests: {len(requests):,} rows added" in s for s in texts(at, "success"))
    assert any(f"Could not import {bad.name}: no time column" in w for w in texts(at, "warning"))
    assert "Source: **imported exports (imported.duckdb)**" in _caption_texts(at)
    assert at.query_params["from"] == "2026-11-18T10:00:00Z"  # the range moves to the imported data
    shown = {m.label: m.value for m in at.metric}
    assert shown["Requests"] == f"{requests['itemCount'].sum():,}"


@pytest.mark.parametrize("page", [PAGES[0][0], "pages/requests.py"])  # the landing page, and another
def test_the_sidebar_switches_between_the_demo_and_an_imported_store(page: str, app_with_own_store: Path) -> None:
    imported = app_with_own_store.with_name("imported.duckdb")
    import_exports([FIXTURES / "data_export_PT1H.json"], imported)
    at = run_page(page)
    assert "Source: **local demo data**" in _caption_texts(at)
    at.sidebar.selectbox(key="store.picker").select(str(imported)).run()
    assert not at.exception
    assert "Source: **imported exports (imported.duckdb)**" in _caption_texts(at)
    assert "Covers 2026-11-18 10:00 to 2026-11-18 11:58 UTC." in _caption_texts(at)
    assert at.main.title[0].value == _page_title(page)  # still the same page, drawn under app.py's sidebar
    requests = _workspace_json(FIXTURES / "data_export_PT1H.json").query("table == 'requests'")
    assert {m.label: m.value for m in at.metric}["Requests"] == f"{requests['itemCount'].sum():,}"
    at.sidebar.selectbox(key="store.picker").select(str(app_with_own_store)).run()
    assert "Source: **local demo data**" in _caption_texts(at)
    assert "from" not in at.query_params
