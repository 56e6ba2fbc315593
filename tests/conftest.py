"""Shared fixtures: a private PPG_HOME per test, tiny simulated batches, and PostgreSQL handling.

Tests marked ``postgres`` skip when the server is unreachable, unless PPG_REQUIRE_POSTGRES=1 (as in CI),
in which case they fail: the production configuration must really be exercised there.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

# Two test workers (and the servers they start) share the machine's cores: every PyTorch process keeps
# to one thread (OMP_NUM_THREADS before torch is imported; PPG_MAX_THREADS caps a training config's
# ``threads``, in this process and the commands and servers it starts). Two threads train 2.1x slower
# than one while the other core is busy (benchmarks/results/threads_under_load.md).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PPG_MAX_THREADS", "1")
# Ray starts its workers (search trials) at nice 15; beside the other test worker's CPU-bound tests a trial
# got 4 % of a core here and a 3-trial resume ran past its 600 s limit. Tests share the machine fairly.
os.environ.setdefault("RAY_worker_niceness", "0")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline: no telemetry attempts
# one migrated Prefect database template for the whole run (flows/prefect_template.py), not ~/.cache
os.environ.setdefault("PPG_CACHE_DIR", tempfile.mkdtemp(prefix="ppg-test-cache-"))
POSTGRES_ADMIN_URL = os.environ.get("PPG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module", autouse=True)
def _environment_restored_after_each_module() -> Iterator[None]:
    """Commands called in-process set defaults in ``os.environ`` (``configure_prefect``: PREFECT_HOME
    and more), as a real process may; they must not reach the next module's tests (a PREFECT_HOME left
    here put two Prefect servers on one SQLite database)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def ppg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ppg_home"
    monkeypatch.setenv("PPG_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def small_backbone() -> dict:
    """Backbone parameters small enough (8-16 channels) for every unit test to train in seconds."""
    return {"widths": [8, 8, 16, 16], "stem_width": 8}


@pytest.fixture
def small_model(small_backbone):
    """A factory of tiny multi-task models: ``small_model(groups, backbone=..., **spec_fields)``."""
    import torch

    from ppg_models.models.multitask import MultiTaskModel
    from ppg_models.models.spec import ModelSpec
    from ppg_models.tasks import TASK_NAMES

    def make(groups=None, backbone: str = "resnet1d", seed: int = 0, **spec):
        torch.manual_seed(seed)
        groups = groups if groups is not None else [list(TASK_NAMES)]
        return MultiTaskModel(
            ModelSpec(groups=groups, backbone=backbone, backbone_params=small_backbone, **spec)
        )

    return make


@pytest.fixture(scope="session")
def icu_batch() -> pa.Table:
    from ppg_models.sim.simulate import simulate_batch

    return simulate_batch("icu", seed=11, batch_index=0, n_windows=300)


@pytest.fixture(scope="session")
def wearable_batch() -> pa.Table:
    from ppg_models.sim.simulate import simulate_batch

    return simulate_batch("wearable", seed=11, batch_index=1, n_windows=400)


def _postgres_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # any failure means the server is not usable
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {exc}"
    return None


def _browser_problem() -> str | None:
    from chromium import chromium_path

    if chromium_path() is None:
        return "Chromium is not installed (make test installs Debian's chromium with apt-get)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def _cluster_problem() -> str | None:
    import sys

    ray = Path(sys.executable).with_name("ray")
    return None if ray.is_file() else f"the ray command is not installed ({ray})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests of the production configuration fail instead of skipping when CI requires it:
    PPG_REQUIRE_POSTGRES=1 for the ``postgres`` marker, PPG_REQUIRE_BROWSER=1 for ``browser``,
    PPG_REQUIRE_CLUSTER=1 for ``cluster`` (a two-node Ray cluster started on loopback)."""
    for marker, find, required in (
        ("postgres", _postgres_problem, "PPG_REQUIRE_POSTGRES"),
        ("browser", _browser_problem, "PPG_REQUIRE_BROWSER"),
        ("cluster", _cluster_problem, "PPG_REQUIRE_CLUSTER"),
    ):
        if item.get_closest_marker(marker) is None:
            continue
        problem = find()
        if problem is None:
            continue
        if os.environ.get(required) == "1":
            pytest.fail(f"{problem} ({required}=1)")
        pytest.skip(problem)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg

    name = f"ppg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
