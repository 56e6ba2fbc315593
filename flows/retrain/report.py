"""The Markdown artifact of a retraining run: data, decision, search, verdict, and how to approve."""

from __future__ import annotations

from typing import Any


def _approve_how(version: str, flow_run: str) -> list[str]:
    return [
        "## Approve or reject",
        "",
        f"- Command line: `ppg approve {version} --user YOU`"
        f" (or `ppg reject {version} --user YOU --reason ...`).",
        "- Dashboard: the Approvals page (`ppg dashboard`, then `/?page=Approvals`).",
        f"- Prefect: resume flow run `{flow_run}` with the approval form (your registry user and password or",
        "  session token; the registry checks them and the stored input is deleted once read).",
        "",
        "An approver who did not train the version decides; the run waits until then or its timeout.",
    ]


def retrain_report(summary: dict[str, Any], waiting: bool) -> str:
    decision = summary.get("decision") or {}
    lines = ["# Retraining run", ""]
    if "ingest" in summary:
        ingest = summary["ingest"]
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ingest["counts"].items())
        lines += [
            f"**Ingest:** {counts or 'nothing waiting'}; dataset {ingest['dataset_version'] or 'unchanged'}."
        ]
    lines += [
        f"**Champion:** {('v' + summary['champion']) if summary.get('champion') else 'none'}; trained on"
        f" {decision.get('base') or 'n/a'}.",
        f"**Decision:** {'retrain' if decision.get('retrain') else 'no retrain'}:"
        f" {decision.get('reason', '')}"
        f" ({decision.get('new_windows', 0)} new windows in {decision.get('new_batches', 0)} batches; newest"
        f" dataset {decision.get('dataset', 'n/a')}). MLflow run {summary.get('decision_run', '')}.",
    ]
    for d in decision.get("drift", []):
        lines.append(f"- drift: {d['source']}.{d['column']}: {d['observed']} (allowed {d['allowed']})")
    if "search" in summary:
        s = summary["search"]
        chosen = s["chosen"] or {}
        grouping, balancer = chosen.get("param grouping", "none"), chosen.get("param balancer", "")
        lines.append(
            f"**Search:** {s['trials']} trials (MLflow run {s['search_run']}); chosen {grouping} {balancer}."
        )
    if "registered" in summary:
        r = summary["registered"]
        lines += ["", f"## Version {r['version']}: {r['status']}", "", "```", *r["gate"], "```"]
    if "approval" in summary:
        a = summary["approval"]
        lines += ["", f"**Approval:** {a['outcome']} ({a['by']})."]
    if waiting and "registered" in summary:
        lines += ["", *_approve_how(summary["registered"]["version"], summary["flow_run"])]
    if summary.get("state"):
        lines += ["", f"**Ended:** {summary['state']}: {summary['message']}"]
    return "\n".join(lines)
