"""The PPG model review dashboard: `ppg dashboard` (or `streamlit run dashboard/app.py`).

Pages: Models (versions and comparison on the gate's evidence), Verdicts, Data, Tuning, Approvals and
Audit. Reads come from the registry and the lake configured by the environment (PPG_HOME,
MLFLOW_TRACKING_URI, PPG_REGISTRY_DB); every action is a registry call that enforces its own rules.
"""

from __future__ import annotations

import streamlit as st

from dashboard import reads, session
from dashboard.views import approvals, audit_log, data, models, tuning, verdicts

PAGES = {
    "Models": models.render,
    "Verdicts": verdicts.render,
    "Data": data.render,
    "Tuning": tuning.render,
    "Approvals": approvals.render,
    "Audit": audit_log.render,
}


def main() -> None:
    st.set_page_config(page_title="PPG model review", layout="wide")
    wanted = st.query_params.get("page", "Models")
    names = list(PAGES)
    with st.sidebar:
        st.title("PPG model review")
        page = st.radio("Page", names, index=names.index(wanted) if wanted in PAGES else 0, key="page")
        st.query_params["page"] = page
        st.divider()
        session.sign_in_box()
        st.divider()
        if st.button("Reload from the registry", help="Reads are cached for a minute; this reads afresh."):
            reads.refresh()
    problem = reads.missing_registry()
    if problem:
        st.error(problem)
        return
    PAGES[page]()


main()
