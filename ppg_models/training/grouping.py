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

    Unmeasured pairs (NaN) count as 0: no evidence that grouping them helps or hurts.
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
