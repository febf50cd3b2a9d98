"""Dependencies (not built yet)."""

import streamlit as st

st.title("Dependencies")
st.info("This page is not built yet. The request-rate page shows traffic and failures today.",
        icon=":material/construction:")
