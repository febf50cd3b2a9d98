"""Tables with their downloads (CSV and Parquet), for every table the pages show."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def show_table(frame: pd.DataFrame, *, key: str, columns: dict[str, str] | None = None) -> None:
    """The frame as a table (columns renamed for people) with CSV and Parquet downloads."""
    shown = frame[list(columns)].rename(columns=columns) if columns else frame
    config = {
        name: st.column_config.NumberColumn(format="percent")
        for name in shown.columns
        if name.lower() in ("share", "failure rate")
    }
    st.dataframe(shown, hide_index=True, column_config=config, key=f"{key}.table")
    left, right, _ = st.columns([1, 1, 4])
    left.download_button(
        "CSV", shown.to_csv(index=False).encode(), file_name=f"{key}.csv", mime="text/csv",
        key=f"{key}.csv", icon=":material/download:",
    )
    right.download_button(
        "Parquet", to_parquet_bytes(shown), file_name=f"{key}.parquet",
        mime="application/vnd.apache.parquet", key=f"{key}.parquet", icon=":material/download:",
    )
