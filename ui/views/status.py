"""Status: readiness of each dependency, the last runs of each data source and pipeline, live scores."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.components import api, attempt

st.title("Status")
ready = attempt(api().readiness)
if ready is not None:
    st.subheader("Ready" if ready["ready"] else "Not ready: the store is down")
    st.dataframe(
        pd.DataFrame([{"dependency": name, **state} for name, state in ready["dependencies"].items()]),
        hide_index=True,
    )

st.subheader("Data sources: last runs")
sources = attempt(api().sources)
if sources is not None:
    rows = []
    for source in sources["sources"]:
        success, failure = source["last_success"] or {}, source["last_failure"] or {}
        rows.append(
            {
                "source": source["source"],
                "runs": source["runs"],
                "last run": source["last_run_at"],
                "last success": success.get("finished_at") or success.get("started_at"),
                "rows added": success.get("rows_added"),
                "last failure": failure.get("started_at"),
                "failure": failure.get("error"),
            }
        )
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.info("No ingest run recorded yet.")
    st.subheader("Pipelines: last runs")
    runs = [{"pipeline": p["pipeline"], **run} for p in sources.get("workflows", []) for run in p["runs"]]
    if runs:
        st.dataframe(pd.DataFrame(runs), hide_index=True)
    else:
        st.info("No pipeline run reported yet (the Argo workflows' exit handlers report them).")

st.subheader("Live scores")
hours = st.slider("Finished within the last hours", min_value=1, max_value=72, value=24, key="hours")
scores = attempt(lambda: api().livescores(hours))
if scores is not None:
    if scores["matches"]:
        st.dataframe(pd.DataFrame(scores["matches"]), hide_index=True)
    else:
        st.info(f"No match live or finished in the {hours} hours before {scores['as_of']}.")
