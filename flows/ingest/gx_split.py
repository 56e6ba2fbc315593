"""One Great Expectations run over several files, read back as each file's own results.

Great Expectations spends about 0.6 s building its metric graph for every run, whatever the number of
rows, so a folder of small files costs that much per file. Files that share a suite are validated
together instead: their window frames are stacked (window ids prefixed with the file's position, so
uniqueness is still judged within each file) and every expectation's unexpected rows, counts and
percentages are cut back to each file's row range, the values read from the file's own frame.
``mostly`` is judged per file. The result per file is the one a run over that file alone gives
(``tests/unit/test_gx_split.py`` checks it against such runs). An expectation whose result cannot be
cut this way (no complete index list, or it raised: one file's data must not fail its neighbours)
raises ``CannotSplitError``, and the caller validates those files one at a time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.core.expectation_validation_result import ExpectationValidationResult

PARTIAL = 20  # GX's length of partial_unexpected_list
NOT_NULL = "expect_column_values_to_not_be_null"


class CannotSplitError(ValueError):
    """A result that holds no per-row detail to cut by file."""


def stack(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """The frames one under the other with file-prefixed window ids; each file's (start, stop) rows."""
    parts, spans, start = [], [], 0
    for k, frame in enumerate(frames):
        part = frame.reset_index(drop=True)  # a new frame: the caller's keeps its ids
        ids = part["window_id"]
        part["window_id"] = ids.where(ids.isna(), f"{k}/" + ids.astype(str))
        parts.append(part)
        spans.append((start, start + len(part)))
        start += len(part)
    return pd.concat(parts, ignore_index=True), spans


def _missing(frame: pd.DataFrame, kind: str, kwargs: dict[str, Any]) -> int:
    if kind == NOT_NULL:
        return 0
    if "column_A" in kwargs:
        return int((frame[kwargs["column_A"]].isna() | frame[kwargs["column_B"]].isna()).sum())
    return int(frame[kwargs["column"]].isna().sum())


def _counts(values: list[Any]) -> list[dict[str, Any]]:
    try:
        common = Counter(values).most_common(PARTIAL)
    except TypeError:  # unhashable values: GX lists none either
        return []
    return [{"value": v, "count": c} for v, c in common]


def _values(frame: pd.DataFrame, kwargs: dict[str, Any], rows: list[int]) -> list[Any]:
    """The file's unexpected values at ``rows``, as GX lists them (pairs as tuples)."""
    if "column_A" in kwargs:
        a, b = frame[kwargs["column_A"]].to_numpy(), frame[kwargs["column_B"]].to_numpy()
        return list(zip(a[rows], b[rows], strict=True))
    return list(frame[kwargs["column"]].iloc[rows])


def file_result(
    res: ExpectationValidationResult, span: tuple[int, int], frame: pd.DataFrame
) -> ExpectationValidationResult:
    """One file's view of one expectation's result over the stacked frames (the file's rows ``span``).

    The unexpected row index list is complete; GX lists only the first ``MAX_RESULT_RECORDS`` values,
    so the values are read from the file's own frame at its first such rows, as a run on it alone
    would list them (its original window ids included)."""
    config = res.expectation_config
    if res.exception_info and res.exception_info.get("raised_exception"):  # whose rows made it raise?
        message = res.exception_info.get("exception_message")
        raise CannotSplitError(f"{config.type} on {config.kwargs.get('column')} raised: {message}")
    full = res.result or {}
    index = full.get("unexpected_index_list")
    if index is None or len(index) != full.get("unexpected_count"):
        raise CannotSplitError(f"{config.type} on {config.kwargs.get('column')}: no complete index list")
    start, stop = span
    rows = [i - start for i in index if start <= i < stop]
    kwargs = dict(config.kwargs)
    values = _values(frame, kwargs, rows)
    listed = values[:MAX_RESULT_RECORDS]
    n, count = stop - start, len(rows)
    missing = _missing(frame, config.type, kwargs)
    present = n - missing
    share = 100 * count / present if present else None
    computed = {
        "element_count": n,
        "unexpected_count": count,
        "unexpected_percent": share,
        "missing_count": missing,
        "missing_percent": 100 * missing / n if n else None,
        "unexpected_percent_total": 100 * count / n if n else None,
        "unexpected_percent_nonmissing": share,
        "partial_unexpected_list": listed[:PARTIAL],
        "partial_unexpected_counts": _counts(values),
        "partial_unexpected_index_list": rows[:PARTIAL],
        "unexpected_list": listed,
        "unexpected_index_list": rows,
        "unexpected_index_query": f"df.filter(items={rows}, axis=0)",
    }
    mostly = kwargs.get("mostly", 1.0)  # a share of the file's present values, as GX judges it
    success = count == 0 if mostly >= 1.0 else (present == 0 or (present - count) / present >= mostly)
    return ExpectationValidationResult(
        success=success,
        expectation_config=config,
        result={key: computed[key] for key in full if key in computed},
        exception_info=res.exception_info,
    )


def file_summary(results: list[ExpectationValidationResult], group: dict[str, Any]) -> dict[str, Any]:
    """What ``ExpectationSuiteValidationResult.describe_dict`` says of one file, and the run it shared."""
    passed = sum(bool(r.success) for r in results)
    return {
        "success": passed == len(results),
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": passed / len(results) * 100 if results else None,  # GX's own order
        },
        "expectations": [r.describe_dict() for r in results],
        "result_url": None,
        "validated_together": group,
    }
