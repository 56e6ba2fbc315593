"""Distribution drift of a batch's labels and quality features against the accepted windows of its source.

Two statistics per column: the population stability index over ten reference-quantile bins (PSI;
0.1 is a small shift, 0.25 a large one) and the two-sample Kolmogorov-Smirnov test. A column drifts
when both exceed their limits, so that a large batch does not flag a clinically meaningless shift on
the p-value alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ppg_models.data.quality_names import FEATURES
from ppg_models.ingest.findings import Finding
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.tasks import TASK_NAMES

BINS = 10
MIN_VALUES = 30  # fewer values on either side: no verdict for that column


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of ``current`` against ``reference`` (bins: reference quantiles)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    p = np.clip(ref / ref.sum(), 1e-4, None)
    q = np.clip(cur / cur.sum(), 1e-4, None)
    return float(np.sum((q - p) * np.log(q / p)))


def drift_columns(frame: pd.DataFrame) -> list[str]:
    """Labels and quality features (except missing_frac, which is checked per window) in ``frame``."""
    quality = [c for c in frame.columns if any(c.endswith(f"_{f}") for f in FEATURES[1:])]
    return [c for c in (*TASK_NAMES, *quality) if c in frame.columns]


def drift_findings(frame: pd.DataFrame, reference: pd.DataFrame, policy: IngestPolicy) -> list[Finding]:
    """Findings for every column whose distribution moved beyond the policy's limits."""
    limits = policy.drift
    if len(reference) < limits.min_reference_windows:
        return []
    out = []
    for column in drift_columns(frame):
        if column not in reference.columns:
            continue
        cur = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        ref = reference[column].to_numpy(dtype=np.float64, na_value=np.nan)
        cur, ref = cur[np.isfinite(cur)], ref[np.isfinite(ref)]
        if len(cur) < MIN_VALUES or len(ref) < MIN_VALUES:
            continue
        index = psi(ref, cur)
        if index <= limits.psi_limit:  # no drift whatever KS says: its test (the costly part) is skipped
            continue
        p_value = float(stats.ks_2samp(ref, cur).pvalue)
        if p_value < limits.ks_p_value:
            out.append(
                Finding(
                    check="distribution_drift",
                    column=column,
                    observed=(
                        f"PSI {index:.3f}, KS p={p_value:.1e}; median {np.median(cur):.3g}"
                        f" vs {np.median(ref):.3g} in {len(ref)} accepted windows of this source"
                    ),
                    allowed=f"PSI <= {limits.psi_limit} or KS p >= {limits.ks_p_value:g}",
                    blocking=limits.action == "quarantine",
                )
            )
    return out
