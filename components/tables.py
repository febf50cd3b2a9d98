"""Tables with their downloads (CSV and Parquet), for every table the pages show."""

from __future__ import annotations

import io
from typing import Final

import pandas as pd
import streamlit as st


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets, which
# run it when the CSV is opened (OWASP "CSV injection"); telemetry and payload keys are anyone's.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV with text cells (and column names) that would start a formula prefixed by
    an apostrophe, as OWASP recommends; numbers stay numbers (-3 is not a formula)."""
    safe = frame.rename(columns=lambda name: _inert(str(name)))
    for i in range(safe.shape[1]):
        values = safe.iloc[:, i]
        if pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype):
            safe.isetitem(i, values.map(_inert))
    # CRLF rows (RFC 4180): a cell holding a bare \r is then quoted too, not read as a row's end.
    return safe.to_csv(index=False, lineterminator="\r\n").encode()


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# A duration column whose longest value passes this is shown in seconds: 62,000.0 ms reads slowly.
SECONDS_OVER_MS: Final = 10_000


def duration_column(values: pd.Series, label: str) -> tuple[pd.Series, st.column_config.NumberColumn]:
    """A column of milliseconds with its column config: in seconds (2 decimals) when its longest
    value is over 10 s, else in ms (1 decimal); thousands separated either way."""
    if values.max() > SECONDS_OVER_MS:
        return values / 1000, st.column_config.NumberColumn(f"{label} (s)", format="%.2f")
    return values, st.column_config.NumberColumn(f"{label} (ms)", format="%.1f")


def show_table(frame: pd.DataFrame, *, key: str, columns: dict[str, str] | None = None) -> None:
    """The frame as a table (columns renamed for people) with CSV and Parquet downloads; counts
    with thousands separators, shares and rates as percentages."""
    shown = frame[list(columns)].rename(columns=columns) if columns else frame
    config = {
        name: st.column_config.NumberColumn(format="localized")
        for name in shown.columns
        if pd.api.types.is_integer_dtype(shown[name].dtype)
    }
    config.update({
        name: st.column_config.NumberColumn(format="percent")
        for name in shown.columns
        if name.lower() in ("share", "failure rate")
    })
    st.dataframe(shown, hide_index=True, column_config=config, key=f"{key}.table")
    download_buttons(shown, key=key)


def download_buttons(
    frame: pd.DataFrame, *, key: str, formats: tuple[str, ...] = ("CSV", "Parquet"), prefix: str = "",
) -> None:
    """Download buttons for a frame. The files are made only when clicked (a page re-runs on every
    refresh, and writing Parquet for each table each time would cost more than the queries), and a
    click does not re-run the page."""
    makers = {
        "CSV": (lambda: to_csv_bytes(frame), "csv", "text/csv"),
        "Parquet": (lambda: to_parquet_bytes(frame), "parquet", "application/vnd.apache.parquet"),
    }
    with st.container(horizontal=True):  # side by side at their own width, even in a narrow panel
        for name in formats:
            make, suffix, mime = makers[name]
            st.download_button(prefix + name, make, file_name=f"{key}.{suffix}", mime=mime, key=f"{key}.{suffix}",
                               icon=":material/download:", on_click="ignore", width="content")
