"""Reusable Streamlit pieces: the filter sidebar, charts, panel boxes, the source."""
