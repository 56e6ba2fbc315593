"""`ppg demo`'s steps: simulate labeled batches from every source plus one corrupt batch into the lake's
incoming folder; run the ingest flow (Prefect, Great Expectations), which accepts the good batches and
quarantines the corrupt one; score the DSP baselines on the accepted dataset version; then train,
register and gate two models (``registry_stage``). Running it again changes nothing in the lake: the
same files are recognised by their hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Say = Callable[[str], None]


def simulate_incoming(windows: int, seed: int) -> list[str]:
    from ppg_models.data.batch_io import write_batch
    from ppg_models.lake.store import Lake
    from ppg_models.sim.catalog import SOURCES
    from ppg_models.sim.defects import corrupt_batch
    from ppg_models.sim.simulate import simulate_batch, write_simulated

    incoming = Lake.create().incoming
    paths = write_simulated(incoming, len(SOURCES), windows, seed)
    corrupt = corrupt_batch(simulate_batch("icu", seed, len(SOURCES), windows), seed)
    paths.append(write_batch(corrupt, incoming / f"icu-s{seed}-b{len(SOURCES):04d}-site-fault.parquet"))
    return [p.name for p in paths]


def ingest(say: Say) -> dict[str, Any]:
    from flows.prefect_env import configure_prefect, owned_server

    configure_prefect()  # before Prefect is imported
    with owned_server(meanwhile=_import_ingest_flow):
        from flows.ingest.flow import ingest_batches

        summary = ingest_batches()
    for f in summary["files"]:
        say(f"   {f['outcome']:20} {f['file']}: {f['accepted_windows']}/{f['windows']} windows")
        if f["outcome"] == "quarantined":
            for reason in f["reasons"][:4]:
                say(f"      {reason[:160]}")
            say(f"      kept unchanged with reason.json in {f['location']}")
    say(f"   dataset version {summary['dataset_version']}: {summary['lake_windows']} windows")
    say(f"   validation results as Data Docs: {summary['data_docs']}")
    return summary


def _import_ingest_flow() -> None:
    import flows.ingest.flow  # noqa: F401  (Great Expectations: about 3 s, while Prefect starts)


def baselines(dataset_version: str | None):
    """The dataset version ingest recorded, and the DSP baselines scored on its windows."""
    from ppg_models.baselines.report import score_baselines
    from ppg_models.lake.dataset import version_table
    from ppg_models.lake.store import Lake

    dataset, table = version_table(Lake(), dataset_version or "latest")
    scores, _ = score_baselines([table])
    return dataset, scores
