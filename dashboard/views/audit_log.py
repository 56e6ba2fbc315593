"""Audit: every decision, hash-chained and anchored, with the result of verifying it now."""

from __future__ import annotations

import streamlit as st

from dashboard import reads


def render() -> None:
    place = reads.where()
    st.header("Audit log")
    frame, problems = reads.audit_log(place)
    if problems:
        st.error(f"Verification FAILED: {len(problems)} problem(s). Decisions are refused until an admin"
                 " investigates (`ppg audit verify`).")  # fmt: skip
        for problem in problems:
            st.markdown(f"- {problem}")
    else:
        head = f"entry {frame.iloc[0]['seq']}, hash {frame.iloc[0]['hash']}…" if len(frame) else "empty log"
        st.success(
            f"Verified: the chain, its anchors and MLflow's mirrors agree ({len(frame)} entries;"
            f" head {head})."
        )
    st.dataframe(frame, hide_index=True, width="stretch")
