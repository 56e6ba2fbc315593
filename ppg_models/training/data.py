"""Windows in memory for training and evaluation, subject-wise splits, and source-balanced sampling."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ppg_models.data.batch_io import read_batch
from ppg_models.models.inputs import ModelInputs, prepare_inputs
from ppg_models.tasks import TASK_NAMES, unsupported

META_COLUMNS = ("window_id", "subject_id", "source", "device", "skin_tone", "motion")
SPLITS = ("train", "val", "test")
#: the label whose subject means order a stratum in a split: blood pressure, whose bias the gates judge
SPLIT_LEVEL = "sbp"


class SplitError(ValueError):
    """A split that would let one subject's windows into two parts (leakage)."""


@dataclass
class WindowSet:
    x: np.ndarray  # (windows, len(INPUT_CHANNELS), 1250) float32 model inputs
    present: np.ndarray  # (windows, 3) bool
    level: np.ndarray  # (windows, 3) bool: physical DC level per channel
    labels: dict[str, np.ndarray]  # task -> (windows,) float64, NaN = not labeled
    meta: pd.DataFrame  # META_COLUMNS, one row per window

    def __len__(self) -> int:
        return len(self.meta)

    def inputs(self) -> ModelInputs:
        return ModelInputs(self.x, self.present, self.level)

    def subset(self, idx: np.ndarray) -> WindowSet:
        return WindowSet(
            x=self.x[idx],
            present=self.present[idx],
            level=self.level[idx],
            labels={t: v[idx] for t, v in self.labels.items()},
            meta=self.meta.iloc[idx].reset_index(drop=True),
        )


def windows_from_table(table: pa.Table) -> WindowSet:
    """Inputs, labels and meta of a batch table. A label the window's inputs cannot support (SpO2 on an
    AC-coupled window, any task without its channels) is not trained or scored on: it becomes NaN."""
    inputs = prepare_inputs(table)
    labels = {t: table.column(t).to_numpy(zero_copy_only=False).astype(np.float64) for t in TASK_NAMES}
    for task, lost in unsupported(TASK_NAMES, inputs.present, inputs.level).items():
        labels[task][lost] = np.nan
    meta = table.select(list(META_COLUMNS)).to_pandas()
    return WindowSet(x=inputs.x, present=inputs.present, level=inputs.level, labels=labels, meta=meta)


def batch_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Parquet files named directly or found (sorted) in named directories."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(p.glob("*.parquet"))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such batch file or directory")
    if not out:
        raise FileNotFoundError(f"no .parquet batch files in {[str(p) for p in paths]}")
    return out


def load_table(paths: Sequence[str | Path]) -> pa.Table:
    """Read batch files (checked against the contract) into one table."""
    return pa.concat_tables([read_batch(p) for p in batch_paths(paths)])


def load_windows(paths: Sequence[str | Path]) -> WindowSet:
    """Read batch files (checked against the contract) into one WindowSet."""
    return windows_from_table(load_table(paths))


def _unit_hash(seed: int, subject: str) -> float:
    digest = hashlib.sha256(f"{seed}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Test and validation subjects of a stratum of ``n``: by the fractions, but a stratum of two or more
    always gives the test part one (of three or more, the validation part one), and training keeps one."""
    n_test = max(round(n * fractions[2]), 1 if n >= 2 and fractions[2] > 0 else 0)
    n_val = max(round(n * fractions[1]), 1 if n >= 3 and fractions[1] > 0 else 0)
    while n_test + n_val >= n and n_test + n_val > 0:  # training keeps at least one subject
        if n_val >= n_test and n_val > 0:
            n_val -= 1
        else:
            n_test -= 1
    return n_test, n_val


def _spread(n: int, k: int, start: float) -> list[int]:
    """``k`` of positions 0..n-1 evenly spaced from ``start`` (in [0, 1)): systematic sampling."""
    return [min(int((i + start) * n / k), n - 1) for i in range(k)] if k else []


def _stratum_parts(
    members: list[str], fractions: tuple[float, float, float], start: float | None = None
) -> dict[str, str]:
    """Parts for one stratum's subjects. Without ``start``, members come in hash order and the first go
    to test, the next to validation. With ``start`` (a stratum ordered by a label level), test and then
    validation take evenly spaced members from ``start``, so each part spans the level's range."""
    n = len(members)
    n_test, n_val = _counts(n, fractions)
    if start is None:
        parts = ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)
        return dict(zip(members, parts, strict=True))
    out = {members[i]: "test" for i in _spread(n, n_test, start)}
    rest = [m for m in members if m not in out]
    out |= {rest[i]: "val" for i in _spread(len(rest), n_val, start)}
    return out | {m: "train" for m in members if m not in out}


def split_by_subject(
    subjects: Sequence[str],
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    strata: dict[str, str] | None = None,
    levels: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Window indices of train/val/test; every subject lands wholly in one part (stable for a seed).

    Without ``strata`` each subject's part follows its hash. With ``strata`` (subject -> stratum, e.g.
    source and AF status) each stratum's subjects, in hash order, are shared out by the fractions
    (``_stratum_parts``), so a test set holds AF subjects as soon as there are two. With ``levels``
    (subject -> a label level, e.g. mean blood pressure), a stratum whose members all have one is
    ordered by it and sampled systematically from a seeded start: a handful of test subjects then span
    the population's range instead of, by chance, its lowest end, which a bias gate would read as the
    model's bias.
    """
    if abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    subjects = np.asarray(subjects)
    unique = np.unique(subjects)
    u = {s: _unit_hash(seed, s) for s in unique}
    edges = np.cumsum(fractions)
    part_of = {s: SPLITS[min(int(np.searchsorted(edges, u[s], side="right")), 2)] for s in unique}
    if strata is not None:
        groups: dict[str, list[str]] = {}
        for s in unique:
            groups.setdefault(strata.get(s, ""), []).append(s)
        for key, members in groups.items():
            if levels and all(m in levels for m in members):
                start = _unit_hash(seed, f"stratum:{key}")
                ordered = sorted(members, key=lambda m: (levels[m], u[m]))
                part_of.update(_stratum_parts(ordered, fractions, start))
            else:
                part_of.update(_stratum_parts(sorted(members, key=u.get), fractions))
    parts = np.array([part_of[s] for s in subjects])
    return {name: np.flatnonzero(parts == name) for name in SPLITS}


def subject_strata(
    meta: pd.DataFrame, af: np.ndarray, level: np.ndarray | None = None
) -> tuple[dict[str, str], dict[str, float]]:
    """Subject -> "source/AF status" (af, no-af, or unlabeled), with "/level" for subjects that carry
    ``level`` labels, and subject -> their mean level: for ``split_by_subject``. ``meta`` has subject_id
    and source per window, ``af`` the AF label per window and ``level`` (e.g. SBP) a regression label
    per window (NaN: not labeled)."""
    level = np.full(len(meta), np.nan) if level is None else level
    frame = pd.DataFrame({"subject": meta["subject_id"], "source": meta["source"], "af": af, "level": level})
    grouped = frame.groupby("subject", sort=False)
    source = grouped["source"].first()
    positive = grouped["af"].max()  # NaN when the subject has no AF label at all
    levels = grouped["level"].mean().dropna()
    status = np.where(positive.isna(), "unlabeled", np.where(positive > 0, "af", "no-af"))
    strata = {
        s: f"{src}/{st}" + ("/level" if s in levels.index else "")
        for s, src, st in zip(source.index, source, status, strict=True)
    }
    return strata, {s: float(v) for s, v in levels.items()}


def stratified_split(
    table: pa.Table, fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """The training path's split of a batch table's rows: by subject, stratified by source and AF
    status, strata with blood pressure ordered by it (``split_by_subject``)."""
    meta = table.select(["subject_id", "source"]).to_pandas()
    af, level = (table.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("af", SPLIT_LEVEL))
    strata, levels = subject_strata(meta, af, level)
    return split_by_subject(meta["subject_id"].tolist(), fractions, seed, strata, levels)


def check_disjoint(subjects_by_part: dict[str, Sequence[str]]) -> None:
    """Refuse parts that share a subject, naming the subjects and the parts."""
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for part, subjects in subjects_by_part.items():
        for s in sorted(set(subjects)):
            if s in seen and seen[s] != part:
                clashes.append(f"{s} ({seen[s]} and {part})")
            seen.setdefault(s, part)
    if clashes:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise SplitError(f"subjects appear in more than one split part: {shown}; split by subject instead")


def label_scaling(
    labels: dict[str, np.ndarray], tasks: Sequence[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation of each regression task's training labels."""
    from ppg_models.tasks import get_task

    mean, std = {}, {}
    for t in tasks:
        if get_task(t).kind != "regression":
            continue
        v = labels[t][~np.isnan(labels[t])]
        mean[t] = float(v.mean()) if v.size else 0.0
        std[t] = float(v.std()) if v.size > 1 and v.std() > 1e-6 else 1.0
    return mean, std


def epoch_order(
    meta: pd.DataFrame, rng: np.random.Generator, balance_sources: bool, size: int | None = None
) -> np.ndarray:
    """Window order for one epoch of ``size`` windows (default: all of them): permutations, or a
    source-balanced draw."""
    n = len(meta)
    size = n if size is None else size
    if not balance_sources:
        return np.concatenate([rng.permutation(n) for _ in range(-(-size // n))])[:size]
    counts = meta["source"].map(meta["source"].value_counts()).to_numpy(dtype=float)
    p = (1.0 / counts) / (1.0 / counts).sum()
    return rng.choice(n, size=size, replace=True, p=p)
