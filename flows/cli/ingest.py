"""`ppg ingest` and `ppg lake ...`: run the ingest flow and look at what the lake holds."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.options import JsonOpt
from flows.cli.output import fail, print_json, stdout

STARTED = time.perf_counter()  # when the command line was imported: the start of `ppg ingest`


def ingest_cmd(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Directory of incoming batch files (default: PPG_HOME/lake/incoming)."),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Ingest policy YAML (default: built-in policy).")
    ] = None,
    fail_on_quarantine: Annotated[
        bool, typer.Option(help="Exit with status 3 when any file was quarantined.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Validate incoming batches; accept each into the lake or quarantine it with a reason."""
    from flows.prefect_env import configure_prefect, owned_server, stop_requested

    configure_prefect()  # before Prefect is imported
    from ppg_models.ingest.policy import IngestPolicy, PolicyError

    try:
        rules = IngestPolicy.from_yaml(policy) if policy is not None else None
    except PolicyError as exc:
        raise fail(str(exc), 2) from None
    if directory is not None and not directory.is_dir():
        raise fail(f"{directory}: no such directory", 2)
    try:
        with owned_server(meanwhile=_import_flow) as api:
            from flows.ingest.flow import ingest_batches

            ready = time.perf_counter()
            summary = ingest_batches(directory=directory, policy=rules, show_progress=not json_out)
            summary["timings"] = {
                "prefect_ready_s": round(ready - STARTED, 2),  # imports and server start-up
                "flow_s": round(time.perf_counter() - ready, 2),
                "prefect_api": api,
            }
    except (RuntimeError, OSError) as exc:
        api = os.environ.get("PREFECT_API_URL")
        where = (
            f"the Prefect server at {api} (unset PREFECT_API_URL for the ephemeral one)" if api else "Prefect"
        )
        raise fail(f"the ingest flow could not run on {where}: {exc}") from None
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary)
    stopped = stop_requested()
    if stopped:
        raise fail("stopped by a signal; the files not yet checked stay incoming", stopped)
    counts = summary["counts"]
    if counts.get("error"):
        raise typer.Exit(1)
    if fail_on_quarantine and counts.get("quarantined"):
        raise typer.Exit(3)


def _import_flow() -> None:
    """The flow and Great Expectations (about 3 s of imports), loaded while the Prefect server starts."""
    import flows.ingest.flow  # noqa: F401


def _print_summary(summary: dict) -> None:
    style = {
        "accepted": "green",
        "accepted_with_drops": "yellow",
        "quarantined": "red",
        "error": "red",
        "waiting": "cyan",
    }
    for f in summary["files"]:
        colour = style.get(f["outcome"], "white")
        stdout.print(
            f"[{colour}]{f['outcome']:20}[/{colour}] {f['file']!r}"
            f"  {f['accepted_windows']}/{f['windows']} windows",
            highlight=False,
        )
        for reason in f["reasons"][:5]:
            stdout.print(f"    {reason}", highlight=False, markup=False)
        for warning in f["warnings"][:3]:
            stdout.print(f"    warning: {warning}", highlight=False, markup=False)
        if f["outcome"] == "quarantined":
            stdout.print(f"    kept with reason.json in {f['location']}", highlight=False)
    for path in summary["left_in_place"]:
        stdout.print(
            f"[dim]left in place[/dim]        {escape(path)} (upload in progress, link or directory)"
        )
    stdout.print(summary["summary_line"], highlight=False, markup=False)
    if summary["data_docs"]:
        stdout.print(f"Data Docs: {summary['data_docs']}", highlight=False)


def versions_cmd(json_out: JsonOpt = False) -> None:
    """List the dataset versions the lake has recorded."""
    from ppg_models.lake.dataset import versions
    from ppg_models.lake.store import Lake

    found = versions(Lake())
    if json_out:
        print_json([v.to_dict() for v in found])
        return
    if not found:
        stdout.print("no dataset versions yet: run `ppg ingest`")
    for v in found:
        sources = sorted({b["source"] for b in v.batches})
        stdout.print(
            f"#{v.seq:<4} {v.version}  {v.created_at}  {len(v.batches)} batches  {v.windows} windows"
            f"  {', '.join(sources)}",
            highlight=False,
        )


def quarantine_cmd(json_out: JsonOpt = False) -> None:
    """List quarantined files with their reasons."""
    from ppg_models.lake.store import QUARANTINED, Lake

    lake = Lake()
    records = lake.records(QUARANTINED)
    if json_out:
        print_json(records)
        return
    if not records:
        stdout.print("nothing in quarantine")
    for r in records:
        where = lake.batch_dir(r["batch_id"], QUARANTINED)
        stdout.print(f"[red]{r['batch_id']}[/red] {r['original_name']!r} ({r['decided_at']}) in {where}")
        for reason in r["reasons"]:
            stdout.print(f"    {reason}", highlight=False)
