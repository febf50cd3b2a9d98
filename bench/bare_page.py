"""The browser baseline: a bare Streamlit page with one Plotly chart and no queries.

    streamlit run bench/bare_page.py

One line of 288 points (a day in 5-minute bins, like a page's default chart), drawn the way the
app draws charts (`st.plotly_chart` of a Plotly figure), so the bench can tell Streamlit's and
Plotly's own cost apart from ours.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="Bare page", layout="wide")
bins = np.arange(288)
figure = go.Figure(go.Scatter(x=bins * 5, y=100 + 20 * np.sin(bins / 288 * 2 * np.pi), mode="lines"))
st.plotly_chart(figure, key="bare.chart")
