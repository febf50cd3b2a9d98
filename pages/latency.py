"""Latency (not built yet)."""

import streamlit as st

st.title("Latency")
st.info("This page is not built yet. The request-rate page shows traffic and failures today.",
        icon=":material/construction:")
