"""Verdicts: a version's verdict in force, line by line as the CLI prints it, under which policy."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import fmt, reads


def lines_table(verdict) -> pd.io.formats.style.Styler:
    table = pd.DataFrame(
        [
            {
                "outcome": line.outcome.upper(),
                "task": line.task.upper(),
                "subgroup": line.subgroup,
                "check": "non-inferiority (improvement)" if line.kind == "non_inferiority" else line.kind,
                "metric": fmt.METRIC_WORDS.get(line.metric, line.metric),
                "value [95% interval]": fmt.interval(line.value, line.low, line.high, digits=4),
                "subjects": line.n_subjects,
                "windows": line.n_windows,
                "limit": line.limit,
                "required": "required" if line.required else "advisory",
            }
            for line in verdict.lines
        ]
    )
    colours = {k.upper(): v for k, v in fmt.OUTCOME_COLOURS.items()}
    return table.style.map(lambda o: f"background-color: {colours.get(o, '')}", subset=["outcome"])


def render() -> None:
    place = reads.where()
    rows = reads.versions(place)
    policy = reads.policy_in_force(place)
    st.header("Gate verdicts")
    st.caption(f"Gate policy in force: {policy['label']}")
    if rows.empty:
        st.info("No registered versions yet.")
        return
    options = [f"v{v}" for v in rows["version"]]
    chosen = st.selectbox("Version", options, key="verdict_version")
    version = chosen.removeprefix("v")
    row = rows[rows["version"] == int(version)].iloc[0]
    try:
        verdict = reads.verdict(place, version)
    except Exception as exc:  # a verdict that fails its hash check is shown as such
        st.error(f"v{version}: the stored verdict cannot be trusted: {exc}")
        return
    if verdict is None:
        st.info(f"v{version} has not been judged. `ppg gate {version} --user NAME` judges it.")
        return
    against = f"champion {verdict.champion}" if verdict.champion else "no champion (absolute thresholds only)"
    judged_under = reads.policy_label(place, int(row["policy"].removeprefix("v"))) if row["policy"] else "?"
    head = f"version {version}: gate {verdict.outcome} -> {row['status']} ({judged_under}; against {against})"
    box = {"pass": st.success, "fail": st.error, "insufficient": st.warning}[verdict.outcome]
    box(head)
    if row["policy"] and row["policy"] != f"v{policy['version']}":
        st.warning(
            f"Judged under policy {row['policy']}, but v{policy['version']} is in force now:"
            f" it must be re-judged (`ppg gate {version} --user NAME`) before it can be approved."
        )
    st.dataframe(lines_table(verdict), hide_index=True, width="stretch")
    if verdict.blocking:
        st.markdown(
            "**Blocking:** "
            + "; ".join(f"{b.task.upper()} ({b.subgroup}) {b.metric}" for b in verdict.blocking)
        )
    with st.expander("As the command line prints it"):
        st.code("\n".join([head, *("  " + line.describe() for line in verdict.lines)]), language=None)
