"""`ppg demo`: the platform's main job end to end on the embedded defaults.

Simulate labeled batches from every source into PPG_HOME, score the DSP baselines, train a multi-task
model (hard sharing, PCGrad with AF protected) and print its test report next to the baselines.
Later stages (ingest, register, gate) join the same command.
"""

from __future__ import annotations

import shutil
from typing import Annotated

import typer

from flows.output import fail, print_json, stdout


def demo(
    windows: Annotated[int, typer.Option(min=120, help="Windows per simulated batch.")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs for the multi-task model.")] = 4,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Run the main job end to end on simulated data and print the per-task results."""
    from ppg_models.baselines.report import markdown_table, score_baselines
    from ppg_models.data.batch_io import read_batch
    from ppg_models.home import home_path
    from ppg_models.sim.catalog import SOURCES
    from ppg_models.sim.simulate import write_simulated
    from ppg_models.tasks import TASK_NAMES
    from ppg_models.training.config import TrainConfig
    from ppg_models.training.run import run_training

    out = home_path("demo", "batches")
    shutil.rmtree(out)
    out.mkdir()
    say = (lambda *_: None) if json_out else stdout.print
    say(f"[bold]1. simulate[/bold] {len(SOURCES)} batches x {windows} windows into {out}")
    paths = write_simulated(out, len(SOURCES), windows, seed)
    tables = [read_batch(p) for p in paths]
    for p, t in zip(paths, tables, strict=True):
        labeled = [c for c in TASK_NAMES if t.column(c).null_count < t.num_rows]
        say(f"   {p.name}: {t.num_rows} windows, labels {', '.join(labeled)}")
    say("[bold]2. DSP baselines[/bold] per task and motion level (MAE, or AUROC for AF; n = windows)")
    scores, _ = score_baselines(tables)
    if not json_out:
        stdout.print(markdown_table(scores), highlight=False)
    say(
        f"[bold]3. train[/bold] a multi-task model ({epochs} epochs, PCGrad, AF protected),"
        " tested on held-out subjects"
    )
    config = TrainConfig.from_dict(
        {
            "data": {"paths": [str(out)]},
            "balancer": {"name": "pcgrad", "protected": "af"},
            "optim": {"epochs": epochs, "batch_size": 32},
            "seed": seed,
            "out_dir": str(home_path("runs", "demo")),
        }
    )
    try:
        run = run_training(config, resume=False)
    except ValueError as exc:
        raise fail(f"training failed: {exc}") from None
    if json_out:
        print_json(
            {
                "batches": [str(p) for p in paths],
                "baselines": [s.to_dict() for s in scores],
                "run_dir": str(run.out_dir),
                "test": {
                    t: {m: iv.value for m, iv in r.metrics.items()} for t, r in run.report.tasks.items()
                },
            }
        )
        return
    stdout.print(run.report.markdown(), highlight=False)
    stdout.print(f"model, report and history in {run.out_dir}")
    stdout.print(f"next: ppg predict {out} --model {run.out_dir / 'model'}")
