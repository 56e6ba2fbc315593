"""The Prefect flow ``ingest-batches``: every waiting file ends accepted or quarantined, once.

Small files are first read and validated together, a group at a time (``together``: one Great
Expectations run per group instead of one per file). Then one task per file (retried on transient
errors) files it; its body is one call into ``ppg_models.ingest``. A file whose task still fails after
its retries stays where it was and is reported as an error. At the end the
flow renders the Data Docs, records the dataset version and publishes a table and a Markdown artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context

from flows.ingest.gx_validator import GxValidator
from flows.ingest.progress import RunProgress
from flows.ingest.report import markdown_report, summary_line, summary_rows
from flows.ingest.together import Prevalidated, groups, prevalidate
from flows.prefect_env import stop_requested
from ppg_models.data.batch_io import row_count
from ppg_models.ingest.findings import Outcome
from ppg_models.ingest.intake import BatchOutcome, process_file
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.dataset import record_version
from ppg_models.lake.store import Lake

RETRIES = 2


@task(name="validate-together", retries=RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def validate_together(paths: list[Path], policy: IngestPolicy, validator: GxValidator) -> Prevalidated:
    return prevalidate(paths, policy, validator)


@task(name="ingest-batch", retries=RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def ingest_batch(
    path: Path, lake: Lake, policy: IngestPolicy, validator: Prevalidated, run_id: str, progress: RunProgress
) -> BatchOutcome:
    found = validator.inspection(path)  # taken once: a retry reads the file again
    return process_file(path, lake, policy, validator, run_id, on_chunk=progress.chunk, inspected=found)


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run (tests of the body)
        return ""


@flow(name="ingest-batches", validate_parameters=True)
def ingest_batches(
    directory: Path | None = None, policy: IngestPolicy | None = None, show_progress: bool = False
) -> dict[str, Any]:
    """Validate every file waiting in ``directory`` (default: lake/incoming) and file it in the lake.

    ``policy`` is the typed ingest policy (the Prefect UI renders it as a form); None: the defaults.
    ``show_progress`` prints progress on stderr (a bar on a terminal, a line per file otherwise).
    """
    logger = get_run_logger()
    lake = Lake.create()
    policy = policy or IngestPolicy()
    source_dir = Path(directory) if directory else lake.incoming
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{source_dir}: no such directory")
    lake.clean_staging()
    with lake.commit_lock():
        lake.reconcile()
    validator = GxValidator(lake.root / "gx", policy)
    run_id = _run_id()
    outcomes: list[BatchOutcome] = []
    pending = lake.pending(source_dir)
    windows = {path: row_count(path) for path in pending}
    with RunProgress(len(pending), show_progress) as progress:
        for group in groups(pending, windows):
            if stop_requested():  # SIGTERM: stop between files; what is left stays incoming
                break
            if len(group) > 1:
                count = sum(windows[p] for p in group)
                progress.stage(f"reading and validating {len(group)} files ({count:,} windows) together")
            together = _prevalidated(group, policy, validator)
            for path in group:
                if stop_requested():
                    break
                progress.start_file(path.name, windows[path])
                outcome = _file(path, lake, policy, together, run_id, progress)
                logger.info("%s: %s", path.name, outcome.outcome)
                progress.end_file(
                    f"{outcome.outcome}: {path.name} ({outcome.accepted_windows}/{outcome.windows})"
                )
                outcomes.append(outcome)
    left = [str(p) for p in lake.others(source_dir)]
    docs = validator.build_docs()
    with lake.commit_lock():
        version = record_version(lake)  # one dataset version per run, when anything changed
    summary = {
        "run_id": run_id,
        "directory": str(source_dir),
        "files": [o.to_dict() for o in outcomes],
        "left_in_place": left,
        "counts": _counts(outcomes),
        "dataset_version": version.version if version else None,
        "dataset_seq": version.seq if version else None,
        "lake_windows": version.windows if version else 0,
        "data_docs": str(docs) if docs else None,
    }
    summary["summary_line"] = summary_line(summary)
    logger.info(summary["summary_line"])
    table = create_table_artifact(
        summary_rows(outcomes), key="ingest-summary", description="Outcome per file"
    )
    report = markdown_report(summary, outcomes)
    markdown = create_markdown_artifact(report, key="ingest-report", description="Ingest run")
    summary["artifacts"] = {"ingest-summary": str(table), "ingest-report": str(markdown)}
    return summary


def _prevalidated(group: list[Path], policy: IngestPolicy, validator: GxValidator) -> Prevalidated:
    """The group read and validated in one run; when that keeps failing, each file is done alone."""
    if len(group) < 2:  # a large file, or the last one: validated as it is filed
        return Prevalidated(validator)
    state = validate_together.with_options(task_run_name=f"validate {len(group)} file(s) together")(
        group, policy, validator, return_state=True
    )
    return state.result() if state.is_completed() else Prevalidated(validator)


def _file(
    path: Path, lake: Lake, policy: IngestPolicy, validator: Prevalidated, run_id: str, progress: RunProgress
) -> BatchOutcome:
    state = ingest_batch.with_options(task_run_name=f"ingest {path.name[:60]}")(
        path, lake, policy, validator, run_id, progress, return_state=True
    )
    if state.is_completed():
        return state.result()
    return BatchOutcome(
        path.name, Outcome.ERROR, reasons=[f"failed after {RETRIES} retries: {state.message}"]
    )


def _counts(outcomes: list[BatchOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[str(o.outcome)] = counts.get(str(o.outcome), 0) + 1
    counts["accepted_windows"] = sum(o.accepted_windows for o in outcomes)
    counts["dropped_windows"] = sum(o.dropped_windows for o in outcomes)
    return counts
