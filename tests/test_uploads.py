"""Uploads and the store picker: what the browser sends never names a server path, an upload's
name can be anything, and a killed import leaves no copy of the uploads behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Selectbox

from telemetry.importer import import_exports
from telemetry.importer.uploads import upload_folder
from tests.apptest import run_page, texts
from tests.test_import import FIXTURES, ROOT


@pytest.fixture
def app_with_own_store(demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    demo = tmp_path / "stores" / "demo.duckdb"
    demo.parent.mkdir()
    shutil.copy(demo_store, demo)
    monkeypatch.setenv("ENDPOINT_MONITOR_STORE", str(demo))
    monkeypatch.chdir(ROOT)
    return demo


def test_an_upload_named_past_a_file_names_length_imports_under_its_own_name(app_with_own_store: Path) -> None:
    name = "PT1H-" + "é" * 200 + ".json"  # 410 bytes of UTF-8: no file system takes it as a name
    at = run_page("pages/requests.py")
    at.file_uploader[0].set_value([(name, (FIXTURES / "data_export_PT1H.json").read_bytes(), "application/json")]).run()
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    assert any("Read 1 of 1 file(s)" in s for s in texts(at, "success"))


class _Forged(Selectbox):
    """The store picker as a forged websocket message sends it: any string at all."""

    forged = ""

    @property
    def _widget_state(self) -> WidgetState:
        state = WidgetState()
        state.id = self.id
        state.string_value = self.forged
        return state


def test_a_forged_store_picker_value_is_neither_opened_nor_probed(app_with_own_store: Path, tmp_path: Path) -> None:
    import_exports([FIXTURES / "data_export_PT1H.json"], app_with_own_store.with_name("imported.duckdb"))
    elsewhere = tmp_path / "elsewhere" / "private.duckdb"  # a store outside the allowlist, with data
    elsewhere.parent.mkdir()
    import_exports([FIXTURES / "diagnostic_settings_records.json"], elsewhere)
    at: AppTest = run_page("pages/requests.py")
    picker = at.sidebar.selectbox(key="store.picker")
    picker.__class__ = _Forged
    picker.forged = str(elsewhere)  # type: ignore[attr-defined]
    picker.run()
    assert not at.exception
    assert "from" not in at.query_params, "its time span would have come from opening the forged path"
    assert "Source: **local demo data**" in [c.value for c in at.sidebar.caption]


_KILLED_MID_IMPORT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from telemetry.importer.uploads import upload_folder
with upload_folder(Path(sys.argv[2])) as folder:
    (folder / "upload-0").write_bytes(b"x" * 1000)
    print(folder, flush=True)
    time.sleep(60)
"""


def test_an_import_killed_midway_leaves_no_upload_behind_once_the_next_one_starts(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", _KILLED_MID_IMPORT, str(ROOT), str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (left / "upload-0").exists(), "SIGKILL runs no clean-up"
    with upload_folder(tmp_path) as running, upload_folder(tmp_path) as beside:
        assert not left.exists()
        assert running.exists() and beside.exists(), "a running import's folder is not swept"
    assert list(tmp_path.iterdir()) == []

