"""Data: ingest history per run, quarantined files with their reasons, drift per source and each batch's
validation report."""

from __future__ import annotations

import streamlit as st

from dashboard import fmt, reads


def render() -> None:
    place = reads.where()
    st.header("Data")
    tables = reads.lake_tables(place)
    if tables is None:
        st.info("The lake is empty: `ppg ingest` validates incoming batches into it.")
        return
    runs, quarantined, drift, batches = (
        tables[k].copy() for k in ("runs", "quarantined", "drift", "batches")
    )
    for frame, columns in (
        (runs, ("started", "finished")),
        (quarantined, ("quarantined_at",)),
        (drift, ("at",)),
    ):
        for column in columns:
            frame[column] = frame[column].map(fmt.when)
    cols = st.columns(3)
    cols[0].metric("Ingest runs", len(runs))
    cols[1].metric("Quarantined files", len(quarantined))
    cols[2].metric("Drift findings", len(drift))
    st.subheader("Ingest runs")
    st.dataframe(runs, hide_index=True, width="stretch")
    st.subheader("Quarantined files")
    if quarantined.empty:
        st.success("No file is quarantined.")
    else:
        shown = quarantined.assign(reasons=quarantined["reasons"].map(len)).rename(
            columns={"reasons": "reasons (n)"}
        )
        st.dataframe(shown, hide_index=True, width="stretch")
        for row in quarantined.itertuples():
            with st.expander(f"Why {row.file} was quarantined"):
                st.markdown("\n".join(f"- {reason}" for reason in row.reasons))
    st.subheader("Drift per source")
    if drift.empty:
        st.success("No drift found against any source's accepted windows.")
    else:
        for source, part in drift.groupby("source"):
            st.markdown(f"**{source}**: {len(part)} findings")
            st.dataframe(part.drop(columns="source"), hide_index=True, width="stretch")
    st.subheader("Validation reports")
    if batches.empty:
        return
    labels = [f"{r.file} ({r.source}, {r.outcome}, {fmt.when(r.decided_at)})" for r in batches.itertuples()]
    pick = st.selectbox("Batch", range(len(labels)), format_func=labels.__getitem__, key="validation_batch")
    batch = batches.iloc[pick]["batch"]
    findings, expectations, raw = reads.validation(place, batch)
    if findings.empty:
        st.success("Every check passed.")
    else:
        st.dataframe(findings, hide_index=True, width="stretch")
    with st.expander(
        f"Great Expectations: {int(expectations['passed'].sum())} of {len(expectations)} expectations met"
    ):
        st.dataframe(expectations, hide_index=True, width="stretch")
    if raw is not None:
        st.download_button("Download the validation report (JSON)", raw, file_name=f"validation-{batch}.json")
