"""What a validation found, and the accept / drop / quarantine decision that follows from it.

Every check, whether Great Expectations ran it or plain code did, reports ``Finding`` objects: the
check, the column, what was observed and what is allowed, and the windows concerned. ``decide`` turns
them into one ``Decision`` under the policy; it is a pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal

from ppg_models.ingest.policy import IngestPolicy

Scope = Literal["batch", "window"]


class Outcome(StrEnum):
    """What became of one incoming file: the decisions first, then what a run may report instead."""

    ACCEPTED = "accepted"
    ACCEPTED_WITH_DROPS = "accepted_with_drops"  # accepted after leaving out a few bad windows
    QUARANTINED = "quarantined"
    ALREADY_PROCESSED = "already_processed"  # the same bytes were filed before; the incoming name removed
    SKIPPED = "skipped"  # another run holds the file, or it left the directory
    WAITING = "waiting"  # still being written (changed while read, or unreadable and young): next run
    ERROR = "error"  # the task failed after its retries; the file stays where it was


DECISIONS = (Outcome.ACCEPTED, Outcome.ACCEPTED_WITH_DROPS, Outcome.QUARANTINED)


@dataclass(frozen=True)
class Finding:
    """One failed (or, when not blocking, warned) check."""

    check: str  # e.g. "label_in_range", "schema", "duplicate_across_lake", "drift"
    column: str | None
    observed: str  # what the data shows, in words a person can check
    allowed: str  # what the policy or the catalogue allows
    scope: Scope = "batch"  # "window": only the listed windows are bad; "batch": the file is
    window_ids: tuple[str, ...] = ()
    blocking: bool = True  # False: reported as a warning, never decides anything
    engine: str = "plain"  # "great_expectations", "contract" or "plain"

    def describe(self, limit: int = 5) -> str:
        where = f" {self.column!r}" if self.column else ""
        rows = ""
        if self.window_ids:
            shown = ", ".join(self.window_ids[:limit])
            more = f" and {len(self.window_ids) - limit} more" if len(self.window_ids) > limit else ""
            rows = f" in {len(self.window_ids)} windows ({shown}{more})"
        return f"{self.check}{where}: {self.observed}{rows}; allowed: {self.allowed}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (built directly: ``asdict`` deep-copies every window id, ~0.6 s for
        a 100k-window batch)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["window_ids"] = list(self.window_ids)
        out["description"] = self.describe()
        return out


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]  # why a batch was quarantined or windows dropped; empty when clean
    dropped: dict[str, list[str]] = field(default_factory=dict)  # window_id -> checks it failed
    warnings: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.outcome != Outcome.QUARANTINED

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "dropped": {wid: list(checks) for wid, checks in self.dropped.items()},
            "warnings": list(self.warnings),
        }


def _dropped_windows(findings: list[Finding]) -> dict[str, list[str]]:
    dropped: dict[str, list[str]] = {}
    for f in findings:
        for wid in f.window_ids:
            dropped.setdefault(wid, []).append(f"{f.check} {f.column}" if f.column else f.check)
    return dropped


def decide(findings: list[Finding], n_windows: int, policy: IngestPolicy) -> Decision:
    """Accept whole, accept after dropping a few bad windows, or quarantine the batch."""
    warnings = tuple(f.describe() for f in findings if not f.blocking)
    blocking = [f for f in findings if f.blocking]
    if not blocking:
        return Decision(Outcome.ACCEPTED, (), {}, warnings)
    reasons = tuple(f.describe() for f in blocking)
    if any(f.scope == "batch" for f in blocking):
        return Decision(Outcome.QUARANTINED, reasons, {}, warnings)
    dropped = _dropped_windows(blocking)
    share = len(dropped) / max(n_windows, 1)
    if policy.on_bad_windows == "quarantine":
        why = f"{len(dropped)} bad windows and the policy quarantines any batch with bad windows"
        return Decision(Outcome.QUARANTINED, (why, *reasons), {}, warnings)
    allowed = max(policy.max_drop_fraction * n_windows, policy.min_drop_allowance)
    if len(dropped) > allowed:
        why = (
            f"{len(dropped)} of {n_windows} windows ({share:.1%}) fail checks;"
            f" at most {policy.max_drop_fraction:.1%} (or {policy.min_drop_allowance}) may be dropped"
        )
        return Decision(Outcome.QUARANTINED, (why, *reasons), {}, warnings)
    return Decision(Outcome.ACCEPTED_WITH_DROPS, reasons, dropped, warnings)
