"""A small lake and a registry (an admin, a trainer, the lenient test policy) for the search's tests."""

from __future__ import annotations

from pathlib import Path


def small_lake(home: Path, windows: int = 120) -> str:
    """Three simulated batches accepted into a lake under ``home``; returns the dataset version. The
    registry named by the environment gets root (admin) and tina (trainer, password tina-password)."""
    from registry_world import LENIENT

    from flows.ingest.gx_validator import GxValidator
    from ppg_models.data.batch_io import write_batch
    from ppg_models.ingest.intake import process_file
    from ppg_models.ingest.policy import IngestPolicy
    from ppg_models.lake.dataset import record_version
    from ppg_models.lake.store import Lake
    from ppg_models.sim.simulate import simulate_batch
    from registry import policies
    from registry.gates.policy import GatePolicy
    from registry.users import add_user, authenticate

    lake, policy = Lake.create(home / "lake"), IngestPolicy()
    validator = GxValidator(lake.root / "gx", policy)
    for i, source in enumerate(("icu", "wearable", "sleep-lab", "wearable")):
        path = write_batch(simulate_batch(source, 5, i, windows), lake.incoming / f"{source}-{i}.parquet")
        process_file(path, lake, policy, validator)
    version = record_version(lake).version
    add_user("root", "admin", "root-password", None)
    root = authenticate("root", "root-password")
    add_user("tina", "trainer", "tina-password", root)
    policies.activate(GatePolicy.from_dict(LENIENT), root, "tests: a lenient policy for 2-epoch models")
    return version


def tiny_base(epochs: int) -> dict:
    """The training section of a test search: three tasks from the small lake, one thread, few resamples."""
    return {
        "data": {"dataset": "latest"},
        "model": {"tasks": ["hr", "rr", "af"]},
        "optim": {"epochs": epochs, "batch_size": 32, "patience": epochs},
        "threads": 1,
        "bootstrap": 20,
    }
