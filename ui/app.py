"""Time2Bet's web app: `t2b ui`, or `streamlit run ui/app.py`.

A client of the HTTP functions only (T2B_API_URL, default the local runtime `t2b up`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run ui/app.py` puts ui/ on sys.path, not the folder holding it; the pages import `ui.*`.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

VIEWS = Path(__file__).parent / "views"
PAGES = [
    st.Page(VIEWS / "predict.py", title="Predict", icon=":material/sports_soccer:", default=True),
    st.Page(VIEWS / "fixtures.py", title="Fixtures", icon=":material/calendar_month:"),
    st.Page(VIEWS / "batch.py", title="Async batch", icon=":material/queue:"),
    st.Page(VIEWS / "tables.py", title="Tables", icon=":material/leaderboard:"),
    st.Page(VIEWS / "model.py", title="Model", icon=":material/model_training:"),
    st.Page(VIEWS / "status.py", title="Status", icon=":material/monitor_heart:"),
]

st.set_page_config(page_title="Time2Bet", page_icon=":soccer:", layout="wide")
st.navigation(PAGES).run()
