"""Tuning: searches, their trials, the Pareto front of per-task errors among feasible trials, the choice."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, reads


def render() -> None:
    place = reads.where()
    st.header("Tuning")
    found = reads.search_list(place)
    if found.empty:
        st.info(
            "No searches recorded yet. A search logs one parent run per search and a child run per trial."
        )
        return
    st.dataframe(found.drop(columns="search"), hide_index=True, width="stretch")
    labels = [f"{r.name} ({r.started}, {r.trials} trials)" for r in found.itertuples()]
    pick = st.selectbox("Search", range(len(labels)), format_func=labels.__getitem__, key="search")
    search = found.iloc[pick]
    trials, objectives = reads.trials(place, search["search"])
    if trials.empty:
        st.info("This search has no trials yet.")
        return
    st.markdown(
        f"**Objectives:** {', '.join(objectives)}. **Constraint:** {search['constraint'] or 'none'}."
        f" **Chosen:** {search['chosen'] or 'not yet'}" + (f" ({search['rule']})." if search["rule"] else ".")
    )
    st.caption(
        f"{int(trials['feasible'].sum())} of {len(trials)} trials feasible;"
        f" {int(trials['pareto'].sum())} on the Pareto front."
    )
    if len(objectives) >= 2:
        cols = st.columns(2)
        x = cols[0].selectbox("x axis", objectives, index=0, key="pareto_x")
        y = cols[1].selectbox("y axis", objectives, index=1, key="pareto_y")
        st.altair_chart(charts.pareto(trials, x, y))
    st.dataframe(trials, hide_index=True, width="stretch")
