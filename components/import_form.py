"""Which local store the app reads (the demo, or imported exports), and the "Import exports" form.

Imports go to one store beside the demo store (`imported.duckdb`), never into the demo store
itself: rebuilding the demo would drop them. Any other `*.duckdb` there (say, one written with
`python -m telemetry import --store data/incident.duckdb`) can be picked too.

The pick belongs to the session (st.session_state), not to the URL: a store path in a link would
let a link open any file on the server.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import duckdb
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from components.filters import read_filters, write_url
from telemetry.filters import TimeRange
from telemetry.importer import IMPORT_STORE, ImportFailed, ImportSummary, Progress, import_exports, store_span
from telemetry.ingest.segments import segments_dir
from telemetry.importer.uploads import upload_folder
from telemetry.markdown_text import plain

__all__ = ["LocalStore", "chosen_store", "store_sidebar"]

_CHOSEN = "store.chosen"  # the path this session reads
_PICKER = "store.picker"  # the select box's own state
_SUMMARY = "store.summary"  # the last import's summary, shown until the next one
_UPLOADS = "store.uploads"
_EXPORT_TYPES = ["json", "jsonl", "ndjson", "csv", "gz"]
_MAX_SPAN = timedelta(days=400)  # the longest range the filters take


class LocalStore(NamedTuple):
    path: Path
    label: str


def chosen_store(demo: Path) -> LocalStore:
    """The store this session reads: the one picked in the sidebar, else the demo store."""
    picked = st.session_state.get(_CHOSEN)
    path = Path(picked) if picked and Path(picked) in _stores(demo) else demo
    if segments_dir(path).exists():  # the ingestion endpoint writes it
        return LocalStore(path, f"live telemetry ({path.name})")
    return LocalStore(path, "local demo data" if path == demo else f"imported exports ({path.name})")


def store_sidebar(demo: Path) -> None:
    """The store picker (when there is more than the demo) and the "Import exports" form."""
    stores = _stores(demo)
    current = chosen_store(demo).path
    if len(stores) > 1:
        st.sidebar.selectbox(
            "Store", [str(p) for p in stores], index=stores.index(current), key=_PICKER,
            format_func=lambda p: "Demo data" if Path(p) == demo else Path(p).name,
            on_change=_on_pick, args=(demo,),
        )
    st.sidebar.caption(_coverage(current))
    with st.sidebar.expander("Import exports", icon=":material/upload_file:", expanded=_SUMMARY in st.session_state):
        st.caption(
            "Log Analytics data export or diagnostic-settings files (PT1H.json, gzip or plain), "
            "CSV from a Logs query, or continuous-export blobs. Uploads stop at 200 MB a file; "
            "for more, `python -m telemetry import PATH…` on the server."
        )
        uploads = st.file_uploader("Exported files", type=_EXPORT_TYPES, accept_multiple_files=True, key=_UPLOADS)
        if st.button("Import", icon=":material/download:", disabled=not uploads, width="stretch"):
            _import(list(uploads or []), demo)
        if (summary := st.session_state.get(_SUMMARY)) is not None:
            _show(summary)


def _stores(demo: Path) -> list[Path]:
    """The demo store, then the stores beside it (temporary build files end in .building)."""
    try:
        beside = sorted(p for p in demo.parent.glob("*.duckdb") if p != demo and not p.name.startswith("."))
    except OSError:
        beside = []
    return [demo, *beside]


@st.cache_data(show_spinner=False, max_entries=64)
def _span(path: str, identity: tuple[int, int]) -> tuple[datetime, datetime] | None:
    """The store's first and last time; `identity` (inode, mtime) renews it after an import."""
    del identity
    try:
        return store_span(path)
    except duckdb.Error:
        return None


def _store_span(path: Path) -> tuple[datetime, datetime] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _span(str(path), (stat.st_ino, stat.st_mtime_ns))


def _coverage(path: Path) -> str:
    span = _store_span(path)
    if span is None:
        return "The store is empty or missing."
    return f"Covers {span[0]:%Y-%m-%d %H:%M} to {span[1]:%Y-%m-%d %H:%M} UTC."


def _range(span: tuple[datetime, datetime] | None) -> TimeRange:
    """A fixed range over a store's span (whole minutes, at most 400 days, the latest kept)."""
    if span is None:
        return TimeRange()
    end = span[1].astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = max(span[0].astimezone(UTC).replace(second=0, microsecond=0), end - _MAX_SPAN)
    return TimeRange(None, start, end)


def _open(path: Path, demo: Path, span: tuple[datetime, datetime] | None) -> None:
    """Read `path` from now on, with the time range on its data (the demo: the default range)."""
    st.session_state[_CHOSEN] = str(path)
    write_url(read_filters()[0].with_changes(time=TimeRange() if path == demo else _range(span)))


def _on_pick(demo: Path) -> None:
    # The value comes from the browser: only a store of the list is opened, or even looked at.
    picked = st.session_state[_PICKER]
    path = next((p for p in _stores(demo) if str(p) == picked), None)
    if path is not None:
        _open(path, demo, _store_span(path))


def _import(uploads: list[UploadedFile], demo: Path) -> None:
    target = demo.with_name(IMPORT_STORE.name)
    bar = st.progress(0.0, text="Reading the files …")

    def progress(step: Progress) -> None:
        where = "; writing the store …" if step.phase == "writing" else f" ({plain(step.file)})"
        text = f"{step.records:,} records read{where}"
        bar.progress(step.fraction, text=text)

    with upload_folder() as folder:
        paths = []
        for index, upload in enumerate(uploads):  # by position: the names are the uploader's
            path = folder / f"upload-{index}"
            path.write_bytes(upload.getbuffer())
            paths.append(path)
        try:
            summary = import_exports(paths, target, progress=progress, names=[u.name for u in uploads])
        except ImportFailed as error:
            bar.empty()
            st.error(plain(error), icon=":material/error:")
            return
    st.session_state[_SUMMARY] = summary
    st.session_state.pop(_UPLOADS, None)  # an empty uploader for the next files
    if target.exists():
        st.session_state.pop(_PICKER, None)  # the picker shows the imported store next run
        _open(target, demo, summary.span or _store_span(target))
    st.rerun()


def _show(summary: ImportSummary) -> None:
    box = st.success if summary.rows_added else st.info
    # File names, record types, keys and bad values come from the files: shown as text.
    box("  \n".join(map(plain, [summary.headline(), *summary.details()])), icon=":material/task_alt:")
    if problems := summary.problems():
        st.warning("  \n".join(map(plain, problems)), icon=":material/warning:")
