"""Cached reads for the pages: each call is keyed by where the registry and lake are (so a test or a
second deployment never sees another's data) and kept for ``TTL`` seconds; a decision taken on a page
clears them. Versions are fetched in batches by ``registry.review``; nothing here decides anything."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from ppg_models.lake import history
from ppg_models.lake.store import Lake
from registry import policies, retraining, review, searches, settings
from registry.promotion import decided_aliases

TTL = 60


def where() -> tuple[str, ...]:
    """The cache key of the registry and lake this process reads."""
    return tuple(os.environ.get(k, "") for k in ("PPG_HOME", "MLFLOW_TRACKING_URI", "PPG_REGISTRY_DB"))


def refresh() -> None:
    st.cache_data.clear()


@st.cache_data(ttl=TTL, show_spinner="Reading registered versions…")
def versions(place: tuple[str, ...]):
    return review.version_table()


@st.cache_data(ttl=TTL, show_spinner=False)
def aliases(place: tuple[str, ...]) -> dict[str, str | None]:
    return dict(decided_aliases())


@st.cache_data(ttl=TTL, show_spinner=False)
def pending_requests(place: tuple[str, ...]) -> list[dict[str, Any]]:
    return retraining.pending_requests()


@st.cache_data(ttl=TTL, show_spinner=False)
def policy_in_force(place: tuple[str, ...]) -> dict[str, Any]:
    p = policies.current()
    return {"label": p.label, "version": p.version, "policy": p.policy}


@st.cache_data(ttl=TTL, show_spinner=False)
def policy_label(place: tuple[str, ...], version: int) -> str:
    return policies.get(version).label


@st.cache_data(ttl=TTL, show_spinner="Scoring the gate's evidence…")
def evidence(place: tuple[str, ...], version: str, subgroups: tuple[str, ...] = ()):
    return review.evidence(version, subgroups)


@st.cache_data(ttl=TTL, show_spinner=False)
def verdict(place: tuple[str, ...], version: str):
    return review.verdict(version)


@st.cache_data(ttl=TTL, show_spinner=False)
def curves(place: tuple[str, ...], run_id: str):
    return review.curves(run_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def affinity(place: tuple[str, ...], run_id: str):
    return review.affinity(run_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def lineage(place: tuple[str, ...], version: str):
    return review.lineage(version)


@st.cache_data(ttl=TTL, show_spinner=False)
def audit_log(place: tuple[str, ...]):
    return review.audit_log()


@st.cache_data(ttl=TTL, show_spinner=False)
def lake_tables(place: tuple[str, ...]):
    lake = Lake()
    if not lake.root.is_dir():
        return None
    return {
        "runs": history.ingest_runs(lake),
        "quarantined": history.quarantined(lake),
        "drift": history.drift(lake),
        "batches": history.batches(lake),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def validation(place: tuple[str, ...], batch_id: str):
    lake = Lake()
    path = history.validation_path(lake, batch_id)
    findings, expectations = history.validation_report(lake, batch_id)
    return findings, expectations, (path.read_bytes() if path else None)


@st.cache_data(ttl=TTL, show_spinner=False)
def search_list(place: tuple[str, ...]):
    return searches.list_searches()


@st.cache_data(ttl=TTL, show_spinner=False)
def trials(place: tuple[str, ...], search_id: str):
    return searches.trials(search_id)


def missing_registry() -> str | None:
    return settings.missing_registry()
