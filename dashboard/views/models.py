"""Models: every version with status, aliases, trainer, data, balancer and grouping; then 2-5 versions
compared on the gate's evidence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import fmt, reads
from dashboard.views import compare
from ppg_models.tasks import TASKS

MAX_COMPARE = 5


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame(
        {
            "version": "v" + rows["version"].astype(str),
            "alias": rows["alias"],
            "status": rows["status"].map(lambda s: fmt.STATUS_WORDS.get(s, s)),
            "gate": rows["gate"] + rows["policy"].map(lambda p: f" (policy {p})" if p else ""),
            "trained by": rows["trained_by"],
            "approved by": rows["approved_by"],
            "registered": rows["registered_at"].str.replace("T", " ").str.replace("+00:00", " UTC"),
            "dataset": rows["dataset"],
            "balancer": rows["balancer"],
            "grouping": rows["grouping"],
        }
    )
    for t in TASKS:
        parts = zip(rows[t.name], rows[f"{t.name}.low"], rows[f"{t.name}.high"], strict=True)
        shown[fmt.primary_label(t.name)] = [fmt.interval(v, lo, hi) for v, lo, hi in parts]
    return shown


def _default_selection(rows: pd.DataFrame, aliases: dict) -> list[str]:
    picked = [f"v{aliases[a]}" for a in ("champion", "challenger") if aliases.get(a)]
    for v in rows["version"]:
        if len(picked) >= 2:
            break
        if f"v{v}" not in picked:
            picked.append(f"v{v}")
    return picked


def render() -> None:
    place = reads.where()
    rows = reads.versions(place)
    aliases = reads.aliases(place)
    policy = reads.policy_in_force(place)
    st.header("Models")
    if rows.empty:
        st.info("No registered versions yet. `ppg train --config FILE --user TRAINER` registers one.")
        return
    cols = st.columns(4)
    cols[0].metric("Registered versions", len(rows))
    cols[1].metric("Champion", f"v{aliases['champion']}" if aliases.get("champion") else "none")
    cols[2].metric("Challenger", f"v{aliases['challenger']}" if aliases.get("challenger") else "none")
    cols[3].metric("Gate policy in force", f"v{policy['version']}")
    st.caption(
        f"Gate policy in force: {policy['label']}. Metrics in the table are each run's own test report"
        " with 95% intervals; the comparison below uses the gate's evidence."
    )

    with st.expander("Filter", expanded=False):
        statuses = st.multiselect("Status", sorted(rows["status"].unique()), key="filter_status")
        balancers = st.multiselect("Balancer", sorted(rows["balancer"].unique()), key="filter_balancer")
    shown = rows
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if balancers:
        shown = shown[shown["balancer"].isin(balancers)]
    st.dataframe(_table(shown), hide_index=True, width="stretch", height=min(420, 38 + 35 * len(shown)))

    st.subheader("Compare versions")
    options = [f"v{v}" for v in rows["version"]]
    if "compare" not in st.session_state:
        st.session_state["compare"] = _default_selection(rows, aliases)
    chosen = st.multiselect(
        f"Versions to compare (2 to {MAX_COMPARE}; the champion is the reference)",
        options,
        key="compare",
        max_selections=MAX_COMPARE,
    )
    if len(chosen) < 2:
        st.info("Pick at least two versions to compare.")
        return
    versions = [c.removeprefix("v") for c in chosen]
    compare.render(versions, rows, aliases, policy)
