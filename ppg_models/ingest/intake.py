"""Take one incoming file all the way: claim, inspect, validate, decide, and commit it to the lake.

The expectation engine is passed in (``Validator``), so this module stays free of Great Expectations;
the ingest flow supplies one backed by it. Checks against the lake itself (window ids already accepted,
drift against the source's accepted windows) run here in plain code; the duplicate check and the
commit share one lock, so two runs can never accept the same window twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ppg_models.data.schema import SCHEMA_VERSION
from ppg_models.files import atomic_write_json, sha256_file
from ppg_models.ingest.drift import drift_columns, drift_findings
from ppg_models.ingest.findings import Decision, Finding, Outcome, decide
from ppg_models.ingest.inspect import Inspection, Progress, inspect_file
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.staging import StagedCopy, StoreError
from ppg_models.lake.store import ACCEPTED, QUARANTINED, Lake, batch_id_of, file_stamp, is_safe_name

#: (window frame, tasks the source claims, batch id) -> (findings, engine's raw result for the record)
Validator = Callable[[pd.DataFrame, list[str], str], tuple[list[Finding], dict[str, Any]]]


@dataclass
class BatchOutcome:
    file: str
    outcome: Outcome
    batch_id: str | None = None
    sha256: str | None = None
    source: str | None = None
    windows: int = 0
    accepted_windows: int = 0
    dropped_windows: int = 0
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"outcome": str(self.outcome)}


def policy_hash(policy: IngestPolicy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def duplicate_findings(frame: pd.DataFrame, lake: Lake) -> list[Finding]:
    """Windows whose id is already in an accepted batch (call under the commit lock)."""
    clash = lake.index.clashes(frame["window_id"].astype(str))
    if not clash:
        return []
    batches = sorted(set(clash.values()))
    return [
        Finding(
            check="window_id_in_lake",
            column="window_id",
            observed=f"already accepted in batch {', '.join(batches)}",
            allowed="window ids unique across the lake",
            scope="window",
            window_ids=tuple(sorted(clash)),
        )
    ]


def near_duplicate_findings(frame: pd.DataFrame, lake: Lake, policy: IngestPolicy) -> list[Finding]:
    """Windows of a subject at a start time already seen under another id, in the file or the lake.

    The same recording sent twice under new window ids would double a subject's evidence; the policy
    warns (default) or drops them. Call under the commit lock.
    """
    known = frame[frame["recorded_at"].notna()] if "recorded_at" in frame else frame.iloc[0:0]
    if known.empty:
        return []
    ms = known["recorded_at"].astype("datetime64[ms, UTC]").astype("int64")
    pairs = list(zip(known["subject_id"].astype(str), ms.tolist(), strict=True))
    ids = known["window_id"].astype(str).tolist()
    first: dict[tuple[str, int], str] = {}
    within = [w for w, pair in zip(ids, pairs, strict=True) if first.setdefault(pair, w) != w]
    in_lake = lake.index.same_moment(pairs)
    across = [w for w, pair in zip(ids, pairs, strict=True) if pair in in_lake and in_lake[pair][0] != w]
    out = []
    for where, windows in (("earlier in this file", within), ("in the lake", across)):
        if windows:
            out.append(
                Finding(
                    check="near_duplicate",
                    column="recorded_at",
                    observed=f"same subject and start time as a window {where} under another id",
                    allowed="one window per subject and start time",
                    scope="window",
                    window_ids=tuple(windows),
                    blocking=policy.near_duplicates == "drop",
                )
            )
    return out


EARLIEST_CLOCK = pd.Timestamp("1990-01-01", tz="UTC")  # before pulse oximeters kept recordings
CLOCK_SLACK = pd.Timedelta(days=1)  # time zones and drifting device clocks


def clock_findings(frame: pd.DataFrame, now: pd.Timestamp | None = None) -> list[Finding]:
    """Warnings (never blocking) for recording times that a device clock cannot have meant: after the
    ingest time (plus a day), or before 1990 (a clock never set reads 1970-01-01, the Unix epoch). The
    signal and labels may be fine; the time is not, and near-duplicate checks rely on it."""
    if "recorded_at" not in frame:
        return []
    times = pd.to_datetime(frame["recorded_at"], utc=True)
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    out = []
    for wrong, observed in (
        (times > now + CLOCK_SLACK, f"recording time after the ingest time ({now:%Y-%m-%d %H:%M} UTC)"),
        (times < EARLIEST_CLOCK, "recording time before 1990 (a device clock that was never set?)"),
    ):
        if wrong.any():
            ids = tuple(frame.loc[wrong.to_numpy(), "window_id"].astype(str))
            first = times[wrong].iloc[0]
            out.append(
                Finding(
                    check="recording_time",
                    column="recorded_at",
                    observed=f"{observed}, e.g. {first:%Y-%m-%d %H:%M:%S}",
                    allowed="a time between 1990 and now; kept: the signal and labels may be fine",
                    scope="window",
                    window_ids=ids,
                    blocking=False,
                )
            )
    return out


def _accepted_rows(found: Inspection, decision: Decision) -> int:
    """Rows readers will load: every row whose id is not dropped (a repeated id drops all its rows)."""
    if not decision.accepted or found.frame is None:
        return 0
    return int((~found.frame["window_id"].isin(list(decision.dropped))).sum())


def _record(found: Inspection, decision: Decision, policy: IngestPolicy, run_id: str) -> dict[str, Any]:
    accepted = _accepted_rows(found, decision)
    return {
        "batch_id": batch_id_of(found.sha256),
        "sha256": found.sha256,
        "original_name": found.path.name,
        "size_bytes": found.size,
        "source": found.source,
        "received_at": datetime.fromtimestamp(found.path.stat().st_mtime, UTC).isoformat(timespec="seconds"),
        "decided_at": _now(),
        "outcome": decision.outcome,
        "rows": {
            "total": found.windows,
            "accepted": accepted,
            "dropped": found.windows - accepted if decision.accepted else 0,
        },
        "dropped": decision.dropped,
        "reasons": list(decision.reasons),
        "warnings": list(decision.warnings),
        "policy_sha256": policy_hash(policy),
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
    }


def _writers(found: Inspection, decision: Decision, record: dict[str, Any], engine_result: dict[str, Any]):
    validation = {"findings": [f.to_dict() for f in found.findings], "great_expectations": engine_result}
    writers = {"validation.json": lambda p: atomic_write_json(p, validation)}
    if decision.accepted and found.frame is not None:
        frame = found.frame
        writers["windows.parquet"] = lambda p: frame.to_parquet(p, index=False)
    if not decision.accepted:
        reason = {
            "file": found.path.name,
            "batch_id": record["batch_id"],
            "quarantined_at": record["decided_at"],
            "reasons": list(decision.reasons),
            "kept_as": _stored_name(found.path, decision),
            "next_step": "the original bytes are kept here unchanged; fix the data and send a new file",
        }
        writers["reason.json"] = lambda p: atomic_write_json(p, reason)
    return writers


def _stored_name(path: Path, decision: Decision) -> str:
    if decision.accepted:
        return "batch.parquet"
    return path.name if is_safe_name(path.name) else "original.bin"


def _waiting(path: Path, sha: str | None, why: str) -> BatchOutcome:
    batch_id = batch_id_of(sha) if sha else None
    return BatchOutcome(
        path.name, Outcome.WAITING, batch_id, sha, reasons=[f"{why}; it stays for the next run"]
    )


def _still_uploading(found: Inspection, policy: IngestPolicy) -> bool:
    """Unreadable, and changed so recently that its writer may not be done."""
    unreadable = any(f.check in ("unreadable", "empty") for f in found.findings)
    age = time.time() - found.path.stat().st_mtime
    return unreadable and age < policy.settle_seconds


def _forget(lake: Lake, path: Path, sha: str, stamp: tuple[int, int]) -> list[str]:
    """Remove the incoming name; a permission error is a warning, never a failure of work that was done."""
    try:
        lake.forget_incoming(path, sha, stamp)
    except PermissionError as exc:
        return [
            f"the incoming name could not be removed ({exc.strerror}); the file is filed and later runs"
            " recognise it by its hash"
        ]
    return []


def process_file(
    path: Path,
    lake: Lake,
    policy: IngestPolicy,
    validate: Validator,
    run_id: str = "",
    on_chunk: Progress | None = None,
    inspected: Inspection | None = None,
) -> BatchOutcome:
    """Decide one file and move it into the lake; bad input is quarantined, never raised.

    A file that changes while it is read, or that is unreadable and younger than the policy's
    ``settle_seconds`` (an upload in progress), is left where it is (``waiting``). ``inspected``: this
    file's inspection made earlier in the run (to validate several files together). Its hash is reused
    while the file keeps the size and modification time it had then, and the inspection while the
    bytes hash the same; else the file is read again. Either way the stored copy must match the hash.
    """
    try:
        before = file_stamp(path)
        known = inspected is not None and inspected.path == path and inspected.stamp == before
        sha = inspected.sha256 if known else sha256_file(path)  # the stored copy is checked against it
    except FileNotFoundError:  # another run filed it between our listing and now
        return BatchOutcome(
            path.name, Outcome.SKIPPED, reasons=["the file left the directory before it was read"]
        )
    with lake.claim(sha) as owned:
        if not owned:
            return BatchOutcome(
                path.name, Outcome.SKIPPED, batch_id_of(sha), sha, reasons=["another run holds this file"]
            )
        done = lake.where(sha)
        if done is not None:
            _, directory = done
            return BatchOutcome(
                path.name,
                Outcome.ALREADY_PROCESSED,
                batch_id_of(sha),
                sha,
                location=str(directory),
                warnings=_forget(lake, path, sha, before),
            )
        if not path.exists():
            return BatchOutcome(
                path.name, Outcome.SKIPPED, batch_id_of(sha), sha, reasons=["the file left the directory"]
            )
        staged = lake.stage(path, sha)  # copied into staging while the file is read and validated
        try:
            filed = _decide_and_file(
                path, sha, before, lake, policy, validate, run_id, on_chunk, inspected, staged
            )
        finally:
            staged.discard()  # what a file that waits left in staging; nothing once committed
        if isinstance(filed, BatchOutcome):
            return filed  # the file waits for the next run
        found, decision, record, directory = filed
        warnings = list(decision.warnings) + _forget(lake, path, sha, before)
    return BatchOutcome(
        file=path.name,
        outcome=decision.outcome,
        batch_id=record["batch_id"],
        sha256=sha,
        source=found.source,
        windows=found.windows,
        accepted_windows=record["rows"]["accepted"],
        dropped_windows=record["rows"]["dropped"],
        reasons=list(decision.reasons),
        warnings=warnings,
        location=str(directory),
    )


def _decide_and_file(
    path: Path,
    sha: str,
    before: tuple[int, int],
    lake: Lake,
    policy: IngestPolicy,
    validate: Validator,
    run_id: str,
    on_chunk: Progress | None,
    inspected: Inspection | None,
    staged: StagedCopy,
) -> BatchOutcome | tuple[Inspection, Decision, dict[str, Any], Path]:
    """Inspect, validate and decide the claimed file, then commit it with its staged copy. Returns
    (inspection, decision, record, batch directory), or the outcome of a file that must wait."""
    fresh = inspected is None or inspected.sha256 != sha or inspected.path != path
    found = inspect_file(path, policy, sha, on_chunk) if fresh else inspected
    if file_stamp(path) != before:
        return _waiting(path, sha, "the file changed while it was read (still being written)")
    if _still_uploading(found, policy):
        why = f"unreadable and changed less than {policy.settle_seconds:g} s ago"
        return _waiting(path, sha, why)
    engine_result: dict[str, Any] = {}
    if found.frame is not None and found.source is not None:
        findings, engine_result = validate(found.frame, policy.sources[found.source], batch_id_of(sha))
        found.findings += findings
        columns = drift_columns(found.frame)
        reference = lake.reference(found.source, columns)
        found.findings += drift_findings(found.frame, reference, policy)
    with lake.commit_lock():
        if found.frame is not None:
            found.findings += duplicate_findings(found.frame, lake)
            found.findings += near_duplicate_findings(found.frame, lake, policy)
            found.findings += clock_findings(found.frame)
        decision = decide(found.findings, found.windows, policy)
        record = _record(found, decision, policy, run_id)
        place = ACCEPTED if decision.accepted else QUARANTINED
        writers = _writers(found, decision, record, engine_result)
        try:
            directory = lake.commit(sha, place, _stored_name(path, decision), record, writers, staged)
        except StoreError as exc:
            return _waiting(path, sha, str(exc))
    return found, decision, record, directory
