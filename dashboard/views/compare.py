"""Two to five versions side by side, on the gate's evidence: metrics with intervals and subject counts,
deltas against the champion coloured by the gate's margins, subgroups, agreement plots, training curves,
task affinity and lineage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, fmt, reads
from ppg_models.tasks import get_task

GOOD, WITHIN, BEYOND = "#d8f0d8", "#fbecc7", "#f6d3d3"
HEATMAP_ATTRIBUTES = ("skin_tone", "device")
SECTIONS = ("Metrics", "Subgroups", "Agreement", "Training", "Task affinity", "Lineage")


def _margin(policy, task: str) -> float | None:
    gate = policy.tasks.get(task)
    return gate.non_inferiority.margin if gate and gate.non_inferiority else None


def _delta(task: str, metric: str, value, reference, policy) -> tuple[str, str]:
    """(text, colour) of a version's change against the champion in a primary metric; positive = better."""
    if not (fmt.finite(value) and fmt.finite(reference)):
        return "n/a", ""
    sign = 1.0 if get_task(task).higher_is_better else -1.0
    better = sign * (value - reference)
    margin = _margin(policy, task)
    words = f"{better:+.3g} ({'better' if better >= 0 else 'worse'})"
    if better >= 0:
        return words, GOOD
    if margin is not None and -better <= margin:
        return words + f", within margin {margin:g}", WITHIN
    return words + (f", beyond margin {margin:g}" if margin is not None else ", no margin in policy"), BEYOND


def _af_subjects(frame: pd.DataFrame) -> str:
    y = pd.to_numeric(frame.get("label_af"), errors="coerce")
    by_subject = pd.DataFrame({"s": frame["subject_id"], "y": y}).dropna().groupby("s")["y"].max()
    return f"{int((by_subject == 1).sum())} AF+ / {int((by_subject == 0).sum())} AF− subjects"


def metrics_table(evidences: dict, champion: str | None, policy) -> pd.io.formats.style.Styler:
    tasks = []
    for ev in evidences.values():
        tasks += [t for t in ev.report.tasks if t not in tasks]
    rows, colours = [], []
    for task in tasks:
        spec = get_task(task)
        for metric in spec.metrics:
            primary = metric == spec.primary_metric
            row = {"task": task.upper(), "metric": fmt.metric_label(task, metric) + (" ★" if primary else "")}
            colour = dict.fromkeys(row, "")
            for v, ev in evidences.items():
                result = ev.report.tasks.get(task)
                iv = result.metrics.get(metric) if result else None
                row[f"v{v}"] = fmt.interval(iv.value, iv.low, iv.high) if iv else "n/a"
                evidence_n = f"{result.n_subjects} subjects, {result.n_windows} windows" if result else "none"
                if result and result.n_positive_subjects is not None:
                    evidence_n = (
                        f"{result.n_positive_subjects} AF+ / {result.n_negative_subjects} AF− subjects,"
                        f" {result.n_windows} windows"
                    )
                elif task == "af" and result:  # a report from before subjects were counted per class
                    evidence_n = _af_subjects(ev.frame) + f", {result.n_windows} windows"
                if result and result.insufficient:
                    evidence_n += f"; insufficient for an interval: {result.insufficient}"
                row[f"v{v} evidence"] = evidence_n
                colour[f"v{v}"] = colour[f"v{v} evidence"] = ""
                if champion and v != champion and primary:
                    ref = evidences[champion].report.tasks.get(task)
                    ref_iv = ref.metrics.get(metric) if ref else None
                    text, c = _delta(
                        task, metric, iv.value if iv else None, ref_iv.value if ref_iv else None, policy
                    )
                    row[f"v{v} vs champion"], colour[f"v{v} vs champion"] = text, c
                elif champion and v != champion:
                    row[f"v{v} vs champion"], colour[f"v{v} vs champion"] = "", ""
            rows.append(row)
            colours.append(colour)
    table = pd.DataFrame(rows)
    shades = pd.DataFrame(colours, columns=table.columns).fillna("")
    return table.style.apply(lambda _: shades.map(lambda c: f"background-color: {c}" if c else ""), axis=None)


def _min_subjects(policy, attribute: str, task: str) -> int:
    for sg in policy.subgroups:
        if sg.attribute == attribute and task in sg.tasks:
            return sg.min_subjects
    gate = policy.tasks.get(task)
    return gate.min_subjects if gate else 2


def heatmap_cells(report, attribute: str, policy) -> pd.DataFrame:
    cells = []
    for sg in report.subgroups:
        if sg.attribute != attribute:
            continue
        task, spec = sg.result.task, get_task(sg.result.task)
        iv = sg.result.metrics.get(spec.primary_metric)
        whole = report.tasks[task].metrics.get(spec.primary_metric) if task in report.tasks else None
        need = _min_subjects(policy, attribute, task)
        enough = (
            sg.result.n_subjects >= need
            and not sg.result.insufficient
            and iv is not None
            and fmt.finite(iv.value)
        )
        score = np.nan
        if enough and whole is not None and fmt.finite(whole.value) and whole.value and iv.value:
            score = whole.value / iv.value if spec.higher_is_better else iv.value / whole.value
        n = sg.result.n_subjects
        label = f"{fmt.number(iv.value)} · {n} subj." if enough else f"insufficient · {n} subj."
        cells.append(
            {
                "subgroup": f"{attribute.replace('_', ' ')} {sg.group}",
                "task": f"{task.upper()} {fmt.METRIC_WORDS.get(spec.primary_metric, spec.primary_metric)}",
                "label": label,
                "score": score,
                "sufficient": bool(enough),
                "subjects": sg.result.n_subjects,
                "windows": sg.result.n_windows,
            }
        )
    return pd.DataFrame(cells)


def _lineage_dot(lin: dict) -> str:
    lines = [
        "digraph lineage {",
        "rankdir=LR;",
        'node [shape=box, style="rounded,filled", fillcolor="#f4f6fa"];',
    ]
    version = f'"version v{lin["version"]}"'
    run = f'"run {lin["run"]["name"]}"'
    dataset = f'"dataset {lin["dataset"]}"'
    for b in lin["batches"]:
        lines.append(f'"{b["file"]}\\n{b["source"]}, {b["windows"]} windows" -> {dataset};')
    lines += [f"{dataset} -> {run};", f"{run} -> {version};"]
    previous = version
    for e in lin["events"]:
        if e["action"] == "register":
            continue
        node = f'"#{e["seq"]} {e["action"]} by {e["actor"]}\\n{e["at"][:19].replace("T", " ")}"'
        lines.append(f"{previous} -> {node};")
        previous = node
    lines.append("}")
    return "\n".join(lines)


def render(versions: list[str], rows: pd.DataFrame, aliases: dict, policy: dict) -> None:
    place = reads.where()
    champion = aliases.get("champion")
    evidences = {}
    for v in versions:
        try:
            evidences[v] = reads.evidence(place, v)
        except Exception as exc:  # an integrity error or a missing artifact is shown, never hidden
            st.error(f"v{v}: its evidence cannot be shown: {exc}")
    if not evidences:
        return
    reference = champion if champion in evidences else None
    for v, ev in evidences.items():
        st.caption(f"**v{v}**{' (champion)' if v == champion else ''}: {ev.description}")
    if champion and reference is None:
        st.caption(f"Add the champion v{champion} to the selection to see deltas against it.")
    window_sets = {frozenset(ev.report.predictions["window_id"]) for ev in evidences.values()}
    if len(window_sets) > 1:
        st.warning(
            "These versions were scored on different evaluation windows (each on its own pinned set), so the"
            " differences are indicative. The gate's paired test against the champion, on identical windows,"
            " is on the Verdicts page."
        )
    gate_policy = policy["policy"]
    view = st.radio("Show", SECTIONS, horizontal=True, key="compare_view", label_visibility="collapsed")
    run_of = dict(zip(rows["version"].astype(str), rows["run_id"], strict=True))
    if view == "Metrics":
        st.dataframe(metrics_table(evidences, reference, gate_policy), hide_index=True, width="stretch")
        st.caption(
            "Value [95% interval, bootstrap over subjects with the gate policy's resamples]."
            " ★ primary metric. Deltas against the champion: green better, amber worse but within the"
            " gate's non-inferiority margin, red beyond it."
        )
    elif view == "Subgroups":
        _subgroups(place, list(evidences), gate_policy)
    elif view == "Agreement":
        _agreement(evidences)
    elif view == "Training":
        _training(place, [v for v in evidences if v in run_of], run_of)
    elif view == "Task affinity":
        for v in evidences:
            matrix = reads.affinity(place, run_of[v]) if v in run_of else None
            if matrix is None:
                st.info(f"v{v}: task affinity was not measured in its run (affinity_every: 0)")
            else:
                st.altair_chart(charts.affinity(matrix, f"v{v}: task affinity (TAG)"))
    else:
        _lineage(place, list(evidences))


def _subgroups(place, versions: list[str], gate_policy) -> None:
    for v in versions:
        report = reads.evidence(place, v, HEATMAP_ATTRIBUTES).report
        for attribute in HEATMAP_ATTRIBUTES:
            cells = heatmap_cells(report, attribute, gate_policy)
            name = attribute.replace("_", " ")
            if cells.empty:
                st.info(f"v{v}: no {name} subgroups in its evidence")
            else:
                st.altair_chart(charts.subgroup_heatmap(cells, f"v{v}: {name} × task"))
    st.caption(
        "Colour: the subgroup's primary metric relative to the whole evaluation set (red worse)."
        " Grey cells have fewer subjects than the gate policy requires (per task and subgroup):"
        " insufficient evidence, not a result."
    )


def _agreement(evidences: dict) -> None:
    frames = {f"v{v}": ev.frame for v, ev in evidences.items()}
    cols = st.columns(2)
    i = 0
    for task in ("hr", "spo2", "rr", "sbp", "dbp"):
        chart = charts.bland_altman(frames, task)
        if chart is not None:
            cols[i % 2].altair_chart(chart)
            i += 1
    chart = charts.roc(frames, "af")
    if chart is not None:
        cols[i % 2].altair_chart(chart)
    else:
        cols[i % 2].info("AF ROC: the evidence holds no AF-positive and AF-negative windows together")


def _training(place, versions: list[str], run_of: dict) -> None:
    parts = [reads.curves(place, run_of[v]).assign(version=f"v{v}") for v in versions]
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=["epoch", "series", "task", "value"])
    shown = False
    for series, title, y in (
        ("val_loss", "Validation loss per task", "loss"),
        ("train_loss", "Training loss per task", "loss"),
        ("weights", "Balancer weights per task", "weight"),
    ):
        chart = charts.curves(frame, series, title, y)
        if chart is not None:
            st.altair_chart(chart)
            shown = True
    if not shown:
        st.info("These runs logged no per-epoch curves.")


def _lineage(place, versions: list[str]) -> None:
    for v in versions:
        lin = reads.lineage(place, v)
        st.markdown(f"**v{v}**: dataset `{lin['dataset']}`, run `{lin['run']['name']}`")
        if lin["dataset_note"]:
            st.warning(lin["dataset_note"])
        st.graphviz_chart(_lineage_dot(lin))
        if lin["events"]:
            st.dataframe(pd.DataFrame(lin["events"]), hide_index=True, width="stretch")
