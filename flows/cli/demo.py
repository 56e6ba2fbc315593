"""`ppg demo`: the platform's main job end to end on the embedded defaults (steps in ``flows/demo``)."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.options import JsonOpt
from flows.cli.output import fail, print_json, stdout


def demo(
    windows: Annotated[int, typer.Option(min=120, help="Windows per simulated batch.")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs for the multi-task model.")] = 4,
    seed: Annotated[int, typer.Option(min=0, help="Simulation seed.")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Run the main job end to end on simulated data and print the per-task results."""
    from flows.demo.job import baselines, ingest, simulate_incoming
    from flows.demo.registry_stage import approval_hint, registry_stage
    from ppg_models.baselines.report import markdown_table
    from ppg_models.lake.dataset import DatasetError
    from registry.overview import compare, comparison_lines

    def say(text: str) -> None:  # step headers carry Rich markup; data lines are printed as they are
        if not json_out:
            stdout.print(text, highlight=False, markup=text.startswith("[bold]"))

    say("[bold]1. simulate[/bold] one batch per source and one corrupt batch into the lake's incoming folder")
    say("   " + ", ".join(simulate_incoming(windows, seed)))
    say("[bold]2. ingest[/bold] (Prefect flow, Great Expectations): accept, drop bad windows, or quarantine")
    summary = ingest(say)
    try:
        dataset, scores = baselines(summary["dataset_version"])
    except DatasetError as exc:
        raise fail(str(exc)) from None
    say("[bold]3. DSP baselines[/bold] per task and motion level (MAE, or AUROC for AF; n = windows)")
    say(markdown_table(scores))
    say("[bold]4. train, register, gate[/bold] two models with different balancers (MLflow registry)")
    stage = registry_stage(dataset.version, epochs, seed, say)
    if json_out:
        print_json(
            {
                "ingest": summary,
                "dataset_version": dataset.version,
                "baselines": [s.to_dict() for s in scores],
                "registry": stage,
                "test": stage["test"][stage["versions"][1]] if "versions" in stage else None,
            }
        )
        return
    if "skipped" in stage:
        return
    first, second = stage["versions"]
    say(f"[bold]5. compare[/bold] v{first} and v{second} (ppg models compare {first} {second})")
    for line in comparison_lines(compare(first, second)):
        stdout.print(line, highlight=False, markup=False)
    for line in approval_hint(stage):
        stdout.print(line, highlight=False)
