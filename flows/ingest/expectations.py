"""The expectation suite for one batch, built from the task catalogue and the ingest policy.

Label ranges come from ``TaskSpec.valid_range``; ordered pairs (SBP above DBP) from ``ORDERED_LABELS``;
claimed tasks from the policy's source table; quality limits from the policy. Each expectation carries
``meta.check`` (the name reported to people) and ``meta.scope``: "window" failures name windows that
may be dropped, "batch" failures quarantine the file.
"""

from __future__ import annotations

from collections.abc import Iterable

import great_expectations as gx
import great_expectations.expectations as gxe

from ppg_models.ingest.policy import IngestPolicy
from ppg_models.tasks import CHANNELS, ORDERED_LABELS, TASKS


def _meta(check: str, scope: str = "window") -> dict[str, str]:
    return {"check": check, "scope": scope}


def _identity(policy: IngestPolicy) -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="window_id", meta=_meta("window_id_present")),
        gxe.ExpectColumnValuesToBeUnique(column="window_id", meta=_meta("window_id_unique")),
        gxe.ExpectColumnValuesToNotBeNull(column="subject_id", meta=_meta("subject_id_present")),
        gxe.ExpectColumnValuesToBeInSet(
            column="fs", value_set=sorted(policy.sampling_rates), meta=_meta("sampling_rate")
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_s",
            min_value=policy.window_seconds,
            max_value=policy.window_seconds,
            meta=_meta("window_length"),
        ),
    ]


def _labels(claimed: Iterable[str], policy: IngestPolicy) -> list[gxe.Expectation]:
    out: list[gxe.Expectation] = []
    for task in TASKS:
        lo, hi = task.valid_range
        if task.kind == "binary":
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=task.name, value_set=[0, 1], meta=_meta("label_values")
                )
            )
        else:
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=task.name, min_value=lo, max_value=hi, meta=_meta("label_in_range")
                )
            )
    for greater, lesser in ORDERED_LABELS:
        out.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=greater,
                column_B=lesser,
                or_equal=False,
                ignore_row_if="either_value_is_missing",
                meta=_meta("label_order"),
            )
        )
    for name in claimed:
        out.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=name, mostly=policy.min_labeled_fraction, meta=_meta("label_coverage", "batch")
            )
        )
    return out


def _quality(columns: Iterable[str], policy: IngestPolicy) -> list[gxe.Expectation]:
    out: list[gxe.Expectation] = []
    present = set(columns)
    for channel in CHANNELS:
        for feature, limit in policy.quality.items():
            column = f"{channel}_{feature}"
            if column in present:
                out.append(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column, min_value=limit.min, max_value=limit.max, meta=_meta("signal_quality")
                    )
                )
    return out


def build_suite(
    name: str, claimed: Iterable[str], columns: Iterable[str], policy: IngestPolicy
) -> gx.ExpectationSuite:
    """The suite for a batch whose window frame has ``columns`` and whose source claims ``claimed``.

    The expectations go in through the constructor: ``add_expectation`` on a suite whose name is
    already stored writes the whole suite to the store once per expectation (1.3 s for 29 of them,
    paid by every ingest run after the first); the caller stores it once."""
    return gx.ExpectationSuite(
        name=name, expectations=[*_identity(policy), *_labels(claimed, policy), *_quality(columns, policy)]
    )
