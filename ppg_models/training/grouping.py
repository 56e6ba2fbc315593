"""Propose task groupings from an affinity matrix (TAG's selection, over partitions of the tasks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def partitions(tasks: Sequence[str], k: int | None = None) -> Iterator[list[list[str]]]:
    """Every partition of ``tasks`` into groups (exactly ``k`` groups when given), in a stable order."""
    tasks = list(tasks)
    if not tasks:
        if k in (None, 0):
            yield []
        return
    first, rest = tasks[0], tasks[1:]
    for smaller in partitions(rest):
        for i in range(len(smaller)):  # put `first` into an existing group
            candidate = [*smaller[:i], [first, *smaller[i]], *smaller[i + 1 :]]
            if k is None or len(candidate) == k:
                yield candidate
        if k is None or len(smaller) + 1 == k:
            yield [[first], *smaller]


def grouping_score(groups: Sequence[Sequence[str]], affinity: np.ndarray, tasks: Sequence[str]) -> float:
    """Sum over tasks of the mean affinity they receive from the other members of their group.

    Unmeasured pairs (NaN) count as 0 here; ``rank_known_partitions`` sets partitions with such pairs
    aside instead of scoring them.
    """
    index = {t: i for i, t in enumerate(tasks)}
    z = np.nan_to_num(affinity, nan=0.0)
    score = 0.0
    for group in groups:
        for j in group:
            others = [index[i] for i in group if i != j]
            if others:
                score += float(np.mean(z[others, index[j]]))
    return score


def propose_groupings(
    affinity: np.ndarray, tasks: Sequence[str], n_groups: int, top: int = 5
) -> list[tuple[list[list[str]], float]]:
    """The ``top`` partitions into ``n_groups`` groups with the highest grouping score."""
    if not 1 <= n_groups <= len(tasks):
        raise ValueError(f"n_groups must be between 1 and {len(tasks)}, got {n_groups}")
    scored = [(p, grouping_score(p, affinity, tasks)) for p in partitions(tasks, n_groups)]
    scored.sort(key=lambda item: -item[1])
    return scored[:top]


def co_labeled(labels: dict[str, np.ndarray], tasks: Sequence[str]) -> np.ndarray:
    """(tasks, tasks) number of windows labeled for both tasks (sources label different tasks)."""
    have = np.stack([~np.isnan(labels[t]) for t in tasks]).astype(np.int64)  # (tasks, windows)
    return have @ have.T


def trusted_affinity(affinity: np.ndarray, pair_windows: np.ndarray, minimum: int) -> np.ndarray:
    """The affinity where at least ``minimum`` windows carry both labels; NaN (unknown, not zero)
    elsewhere."""
    trusted = affinity.astype(float).copy()
    trusted[pair_windows < minimum] = np.nan
    return trusted


def rank_known_partitions(
    affinity: np.ndarray, tasks: Sequence[str], top: int
) -> tuple[list[tuple[list[list[str]], float]], int]:
    """The ``top`` partitions (between all-shared and all-singletons) with the highest grouping score,
    among those whose groups hold only pairs of known affinity; and how many were set aside because
    they would group a pair whose affinity is unknown (their score would be a guess)."""
    index = {t: i for i, t in enumerate(tasks)}
    ranked, unknown = [], 0
    for partition in partitions(tasks):
        if len(partition) in (1, len(tasks)):
            continue
        pairs = [(index[a], index[b]) for g in partition for a in g for b in g if a != b]
        if any(np.isnan(affinity[i, j]) for i, j in pairs):
            unknown += 1
            continue
        ranked.append((partition, grouping_score(partition, affinity, tasks)))
    ranked.sort(key=lambda item: -item[1])
    return ranked[:top], unknown
