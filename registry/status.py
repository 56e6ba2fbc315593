"""The status of a registered version, and which statuses a gate verdict or a person can lead to.

``registered`` -> ``challenger`` (gates passed, approval pending) | ``rejected-by-gate`` (never
promotable) | ``insufficient-evidence`` (blocked until re-judged) -> ``champion`` -> ``retired`` or
``rolled-back``; a person may set ``rejected`` (never promotable).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REGISTERED = "registered"
    CHALLENGER = "challenger"
    REJECTED_BY_GATE = "rejected-by-gate"
    INSUFFICIENT_EVIDENCE = "insufficient-evidence"
    CHAMPION = "champion"
    RETIRED = "retired"
    ROLLED_BACK = "rolled-back"
    REJECTED = "rejected"


NEVER_PROMOTABLE = frozenset({Status.REJECTED_BY_GATE, Status.REJECTED})
AFTER_GATE = {
    "pass": Status.CHALLENGER,
    "fail": Status.REJECTED_BY_GATE,
    "insufficient": Status.INSUFFICIENT_EVIDENCE,
}
