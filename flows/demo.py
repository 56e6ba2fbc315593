"""`ppg demo`: the platform's main job end to end on the embedded defaults.

Simulate labeled batches from every source, plus one corrupt batch, into the lake's incoming folder;
run the ingest flow (Prefect, Great Expectations), which accepts the good batches and quarantines the
corrupt one; score the DSP baselines on the accepted dataset version; train a multi-task model (hard
sharing, PCGrad with AF protected) on that version and print its test report next to the baselines.
Running it again changes nothing in the lake: the same files are recognised by their hash.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flows.output import fail, print_json, stdout


def _simulate_incoming(windows: int, seed: int) -> list[str]:
    from ppg_models.data.batch_io import write_batch
    from ppg_models.lake.store import Lake
    from ppg_models.sim.catalog import SOURCES
    from ppg_models.sim.defects import corrupt_batch
    from ppg_models.sim.simulate import simulate_batch, write_simulated

    incoming = Lake().incoming
    paths = write_simulated(incoming, len(SOURCES), windows, seed)
    corrupt = corrupt_batch(simulate_batch("icu", seed, len(SOURCES), windows), seed)
    paths.append(write_batch(corrupt, incoming / f"icu-s{seed}-b{len(SOURCES):04d}-site-fault.parquet"))
    return [p.name for p in paths]


def _ingest(say) -> dict[str, Any]:
    from flows.prefect_env import configure_prefect

    configure_prefect()  # before Prefect is imported
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


def demo(
    windows: Annotated[int, typer.Option(min=120, help="Windows per simulated batch.")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs for the multi-task model.")] = 4,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Run the main job end to end on simulated data and print the per-task results."""
    from ppg_models.baselines.report import markdown_table, score_baselines
    from ppg_models.lake.dataset import DatasetError, version_table
    from ppg_models.lake.store import Lake

    say = (lambda *_: None) if json_out else (lambda text: stdout.print(text, highlight=False))
    say("[bold]1. simulate[/bold] one batch per source and one corrupt batch into the lake's incoming folder")
    names = _simulate_incoming(windows, seed)
    say("   " + ", ".join(names))
    say("[bold]2. ingest[/bold] (Prefect flow, Great Expectations): accept, drop bad windows, or quarantine")
    summary = _ingest(say)
    try:
        dataset, table = version_table(Lake(), summary["dataset_version"] or "latest")
    except DatasetError as exc:
        raise fail(str(exc)) from None
    say("[bold]3. DSP baselines[/bold] per task and motion level (MAE, or AUROC for AF; n = windows)")
    scores, _ = score_baselines([table])
    if not json_out:
        stdout.print(markdown_table(scores), highlight=False)
    say("[bold]4. train, register, gate[/bold] two models with different balancers (MLflow registry)")
    from flows.demo_registry import approval_hint, quiet, registry_stage

    stage = registry_stage(dataset.version, epochs, seed, quiet if json_out else say)
    first, second = stage["versions"]
    if json_out:
        print_json(
            {
                "ingest": summary,
                "dataset_version": dataset.version,
                "baselines": [s.to_dict() for s in scores],
                "registry": stage,
                "test": stage["test"][second],
            }
        )
        return
    say(f"[bold]5. compare[/bold] v{first} and v{second} (ppg models compare {first} {second})")
    from flows.registry_commands import models_compare

    models_compare(first, second)
    for line in approval_hint(stage):
        stdout.print(line, highlight=False)
