"""Run the expectation suite with Great Expectations and turn its results into lake findings.

One file-backed GX context lives in ``lake/gx``: suites, every batch's validation result (run name =
batch id) and the Data Docs site. GX's own progress bars are switched off; concurrent runs take a lock
around the context so its JSON stores and the docs index are never written by two at once.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationValidationResult

from flows.ingest.expectations import build_suite
from flows.ingest.gx_split import CannotSplitError, file_result, file_summary, stack
from ppg_models.ingest.findings import Finding
from ppg_models.ingest.policy import IngestPolicy
from ppg_models.lake.locks import commit_lock

RESULT_FORMAT = {"result_format": "COMPLETE", "include_unexpected_rows": False}
logging.getLogger("great_expectations").setLevel(logging.WARNING)
LOG = logging.getLogger(__name__)


def _allowed(kwargs: dict[str, Any]) -> str:
    if "value_set" in kwargs:
        return f"one of {list(kwargs['value_set'])}"
    if "column_A" in kwargs:
        return f"{kwargs['column_A']} > {kwargs['column_B']} when both are labeled"
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if "min_value" in kwargs or "max_value" in kwargs:
        if lo is not None and lo == hi:
            return f"exactly {lo:g}"
        if lo is None:
            return f"at most {hi:g}"
        if hi is None:
            return f"at least {lo:g}"
        return f"between {lo:g} and {hi:g}"
    if kwargs.get("mostly", 1.0) < 1.0:
        return f"labeled in at least {kwargs['mostly']:.0%} of windows"
    return "no exceptions"


def _observed(result: dict[str, Any], kwargs: dict[str, Any]) -> str:
    count, total = result.get("unexpected_count", 0), result.get("element_count", 0)
    if kwargs.get("mostly", 1.0) < 1.0:
        return f"labeled in {1 - count / max(total, 1):.0%} of {total} windows"
    examples = ", ".join(_short(v) for v in (result.get("partial_unexpected_list") or [])[:3])
    return f"{count} of {total} values fail (e.g. {examples})"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def to_finding(res: ExpectationValidationResult, frame: pd.DataFrame) -> Finding:
    config = res.expectation_config
    meta, kwargs = config.meta or {}, dict(config.kwargs)
    column = kwargs.get("column") or "/".join(str(kwargs[k]) for k in ("column_A", "column_B") if k in kwargs)
    if res.exception_info and res.exception_info.get("raised_exception"):
        message = res.exception_info.get("exception_message")
        return Finding("validation_error", column, f"{config.type} raised: {message}", "no errors")
    result = res.result or {}
    scope = meta.get("scope", "window")
    ids: tuple[str, ...] = ()
    if scope == "window":
        rows = result.get("unexpected_index_list") or []
        ids = tuple(dict.fromkeys(frame["window_id"].iloc[list(rows)].astype(str)))  # repeats listed once
    return Finding(
        check=meta.get("check", config.type),
        column=column,
        observed=_observed(result, kwargs),
        allowed=_allowed(kwargs),
        scope=scope,
        window_ids=ids,
        engine="great_expectations",
    )


_NO_BARS = {"globally": False, "metric_calculations": False}


def _batch_definition(context):
    """The lake's pandas source, asset and whole-frame batch definition, created on first use only."""
    try:
        source = context.data_sources.get("ppg-lake")
    except (KeyError, ValueError, gx.exceptions.DataContextError):
        source = context.data_sources.add_pandas("ppg-lake")
    try:
        asset = source.get_asset("window-frames")
    except LookupError:
        asset = source.add_dataframe_asset("window-frames")
    try:
        return asset.get_batch_definition("each-batch")
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe("each-batch")


class GxValidator:
    """A ``Validator`` for ``ppg_models.ingest.intake.process_file`` backed by a file GX context."""

    def __init__(self, root: Path, policy: IngestPolicy) -> None:
        self.root, self.policy = root, policy
        root.mkdir(parents=True, exist_ok=True)
        with self._lock():  # another run may be creating the same context right now
            self.context = gx.get_context(mode="file", project_root_dir=str(root))
            if self.context.variables.progress_bars != _NO_BARS:
                self.context.variables.progress_bars = _NO_BARS
                self.context.variables.save()
            self.batch_definition = _batch_definition(self.context)
        self._suites: dict[str, gx.ExpectationSuite] = {}
        self._definitions: dict[str, gx.ValidationDefinition] = {}
        self._runs: set[str] = set()  # run names validated by this object, for the docs to render

    def _lock(self):
        return commit_lock(self.root / "gx.lock")

    def _definition(self, claimed: list[str], columns: list[str]) -> gx.ValidationDefinition:
        """The stored validation definition for this suite, saved once per process."""
        suite = self._suite(claimed, columns)
        if suite.name not in self._definitions:
            self._definitions[suite.name] = self.context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite.name, data=self.batch_definition, suite=suite)
            )
        return self._definitions[suite.name]

    def _suite(self, claimed: list[str], columns: list[str]) -> gx.ExpectationSuite:
        key = hashlib.sha256(repr((claimed, columns, self.policy.model_dump_json())).encode()).hexdigest()[
            :12
        ]
        if key not in self._suites:
            suite = build_suite(f"ppg-batch-{key}", claimed, columns, self.policy)
            self._suites[key] = self.context.suites.add_or_update(suite)
        return self._suites[key]

    def __call__(
        self, frame: pd.DataFrame, claimed: list[str], batch_id: str
    ) -> tuple[list[Finding], dict[str, Any]]:
        frame = frame.reset_index(drop=True)
        result = self._run(frame, list(claimed), batch_id)
        findings = [to_finding(r, frame) for r in result.results if not r.success]
        return findings, result.describe_dict()

    def _run(self, frame: pd.DataFrame, claimed: list[str], run_name: str):
        """One stored GX run of the suite for these claimed tasks and columns over ``frame``."""
        with self._lock():
            definition = self._definition(claimed, list(frame.columns))
            result = definition.run(
                batch_parameters={"dataframe": frame},
                result_format=RESULT_FORMAT,
                run_id=gx.RunIdentifier(run_name=run_name),
            )
            self._runs.add(run_name)
        return result

    def validate_many(
        self, items: list[tuple[pd.DataFrame, list[str], str]]
    ) -> dict[str, tuple[list[Finding], dict[str, Any]]]:
        """``(frame, claimed, batch_id)`` of several files -> each batch id's findings and result, the
        files that share a suite (and column types) validated in one run (``gx_split``)."""
        alike: dict[tuple, list[tuple[pd.DataFrame, str]]] = {}
        for frame, claimed, batch_id in items:
            key = (tuple(claimed), tuple(frame.columns), tuple(map(str, frame.dtypes)))
            alike.setdefault(key, []).append((frame.reset_index(drop=True), batch_id))
        out: dict[str, tuple[list[Finding], dict[str, Any]]] = {}
        for (claimed, _, _), members in alike.items():
            if len(members) == 1:
                frame, batch_id = members[0]
                out[batch_id] = self(frame, list(claimed), batch_id)
            else:
                out.update(self._together(members, list(claimed)))
        return out

    def _together(
        self, members: list[tuple[pd.DataFrame, str]], claimed: list[str]
    ) -> dict[str, tuple[list[Finding], dict[str, Any]]]:
        stacked, spans = stack([frame for frame, _ in members])
        run_name = f"together-{members[0][1]}-{len(members)}"
        result = self._run(stacked, claimed, run_name)
        batches = [batch_id for _, batch_id in members]
        out = {}
        try:
            for (frame, batch_id), span in zip(members, spans, strict=True):
                mine = [file_result(r, span, frame) for r in result.results]
                group = {"run_name": run_name, "batches": batches, "rows": list(span)}
                out[batch_id] = (
                    [to_finding(r, frame) for r in mine if not r.success],
                    file_summary(mine, group),
                )
        except CannotSplitError as exc:
            LOG.warning("%s: the files of %s are validated one at a time", exc, run_name)
            return {batch_id: self(frame, claimed, batch_id) for frame, batch_id in members}
        return out

    def build_docs(self) -> Path | None:
        """Render this object's validation results as Data Docs HTML, and the index of every stored
        result; returns the index page. Pages of earlier runs are kept, not rendered again: a full
        rebuild grows with the lake's history (6.4 s at 120 stored results, 0.4 s at one)."""
        with self._lock():
            keys = [
                k
                for k in self.context.validation_results_store.list_keys()
                if k.run_id.run_name in self._runs
            ]
            urls = self.context.build_data_docs(resource_identifiers=keys) if keys else self._index()
        for url in urls.values():
            return Path(url.removeprefix("file://"))
        return None

    def _index(self) -> dict[str, str]:
        """Nothing validated: the index as it is, built only where there is none yet."""
        urls = self.context.build_data_docs(dry_run=True)
        if all(Path(url.removeprefix("file://")).is_file() for url in urls.values()):
            return urls
        return self.context.build_data_docs()
